//! How a job is stored: inputs as hex of length-delimited protobuf messages, times as
//! milliseconds (0 while unset), the state as its lowercase text, outputs as a JSON list; and back
//! into the wire `Job`.

use prost::Message;
use proto::pb::{Job, JobState, ProductKey, ProductTime, ResolvedInput};
use proto::time::timestamp_if_set;
use sqlx::Row;

use super::error::StarterError;

pub const JOB_COLUMNS: &str = "id, instrument, data_level, descriptor, start_date, repointing, input_hash, campaign_id, \
     version, inputs, state, attempts, lease_owner, created_at, started_at, finished_at, error, log, outputs, traceparent";

/// Picks the counter of `state` among the five `[queued, running, succeeded, failed, dead]`.
pub fn state_counter(state: JobState, [queued, running, succeeded, failed, dead]: [&mut u32; 5]) -> Option<&mut u32> {
    match state {
        JobState::Queued => Some(queued),
        JobState::Running => Some(running),
        JobState::Succeeded => Some(succeeded),
        JobState::Failed => Some(failed),
        JobState::Dead => Some(dead),
        JobState::Unspecified => None,
    }
}

/// The state a `state` column holds; text that names no state is refused, never guessed.
pub fn stored_state(text: &str) -> Result<JobState, StarterError> {
    JobState::from_text(text).map_err(StarterError::CorruptState)
}

/// The text a `state` column holds.
pub fn state_column(state: JobState) -> &'static str {
    state.text()
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

/// The product and time a row is about, from its `instrument`, `data_level`, `descriptor`,
/// `start_date` and `repointing` (-1 for none) columns.
pub fn product_run_of(row: &sqlx::any::AnyRow) -> Result<(ProductKey, ProductTime), StarterError> {
    let repointing: i64 = row.try_get("repointing")?;
    let product = ProductKey {
        instrument: row.try_get("instrument")?,
        data_level: row.try_get("data_level")?,
        descriptor: row.try_get("descriptor")?,
    };
    let time =
        ProductTime { date: row.try_get("start_date")?, repointing: (repointing >= 0).then_some(repointing as u32) };
    Ok((product, time))
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
    let (product, time) = product_run_of(row)?;
    let millis = |column: &str| -> Result<Option<prost_types::Timestamp>, StarterError> {
        Ok(timestamp_if_set(row.try_get(column)?))
    };
    Ok(Job {
        id: id.clone(),
        product: Some(product),
        time: Some(time),
        version: row.try_get("version")?,
        inputs,
        state: stored_state(&row.try_get::<String, _>("state")?)? as i32,
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
