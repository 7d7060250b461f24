//! How a job is stored: inputs as hex of length-delimited protobuf messages, times as
//! milliseconds, outputs as a JSON list; and back into the wire `Job`.

use prost::Message;
use proto::pb::{Job, ProductKey, ProductTime, ResolvedInput};
use proto::time::rfc3339_millis;
use sqlx::Row;

use super::error::StarterError;

pub const JOB_COLUMNS: &str = "id, instrument, data_level, descriptor, start_date, repointing, input_hash, campaign_id, \
     version, inputs, state, attempts, lease_owner, created_at, started_at, finished_at, error, log, outputs, traceparent";

/// Picks the counter of `state` among the five `[queued, running, succeeded, failed, dead]`.
pub fn state_counter<'a>(
    state: &str,
    [queued, running, succeeded, failed, dead]: [&'a mut u32; 5],
) -> Option<&'a mut u32> {
    match state {
        "queued" => Some(queued),
        "running" => Some(running),
        "succeeded" => Some(succeeded),
        "failed" => Some(failed),
        "dead" => Some(dead),
        _ => None,
    }
}

pub fn encode_inputs(inputs: &[ResolvedInput]) -> String {
    let mut encoded = Vec::new();
    for input in inputs {
        input.encode_length_delimited(&mut encoded).expect("vec grows");
    }
    hex(&encoded)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|index| text.get(index..index + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

pub fn job_from_row(row: &sqlx::any::AnyRow) -> Result<Job, StarterError> {
    let id: String = row.try_get("id")?;
    let corrupt = |reason: &str| StarterError::CorruptJob { id: id.clone(), reason: reason.to_string() };
    let encoded = unhex(&row.try_get::<String, _>("inputs")?).ok_or_else(|| corrupt("inputs are not hex"))?;
    let mut buffer = encoded.as_slice();
    let mut inputs = Vec::new();
    while !buffer.is_empty() {
        inputs.push(ResolvedInput::decode_length_delimited(&mut buffer).map_err(|error| corrupt(&error.to_string()))?);
    }
    let outputs: String = row.try_get("outputs")?;
    let repointing: i64 = row.try_get("repointing")?;
    let millis = |column: &str| -> Result<String, StarterError> {
        let value: i64 = row.try_get(column)?;
        Ok(if value == 0 { String::new() } else { rfc3339_millis(value) })
    };
    Ok(Job {
        id: id.clone(),
        product: Some(ProductKey {
            instrument: row.try_get("instrument")?,
            data_level: row.try_get("data_level")?,
            descriptor: row.try_get("descriptor")?,
        }),
        time: Some(ProductTime {
            date: row.try_get("start_date")?,
            repointing: (repointing >= 0).then_some(repointing as u32),
        }),
        version: row.try_get("version")?,
        inputs,
        state: row.try_get("state")?,
        attempts: row.try_get::<i64, _>("attempts")? as u32,
        traceparent: row.try_get("traceparent")?,
        created_at: millis("created_at")?,
        started_at: millis("started_at")?,
        finished_at: millis("finished_at")?,
        error: row.try_get("error")?,
        log: row.try_get("log")?,
        outputs: serde_json::from_str(&outputs).unwrap_or_default(),
        lease_owner: row.try_get("lease_owner")?,
        campaign_id: row.try_get("campaign_id")?,
        input_hash: row.try_get("input_hash")?,
    })
}
