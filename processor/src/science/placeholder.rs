//! PLACEHOLDER science, named as such: it proves the pipeline moves real files level by level
//! before the real algorithms exist. It reads every input, counts CCSDS packets per APID for
//! level-0 inputs, and writes a JSON summary of what it saw.

use std::collections::BTreeMap;

use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError};

pub struct PlaceholderSummary;

impl Algorithm for PlaceholderSummary {
    fn name(&self) -> &str {
        "placeholder-summary"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let mut described_inputs = Vec::new();
        for input in inputs {
            context.check_cancelled()?;
            let packets_per_apid = if input.record.data_level == "l0" { count_ccsds_packets(&input.bytes) } else { BTreeMap::new() };
            described_inputs.push(serde_json::json!({
                "file": input.record.file_name,
                "bytes": input.bytes.len(),
                "packets_per_apid": packets_per_apid,
            }));
        }
        // An `all` job makes the real descriptors; the placeholder makes one called `sci`.
        let descriptor = if context.product.descriptor == "all" { "sci".to_string() } else { context.product.descriptor.clone() };
        let summary = serde_json::json!({
            "algorithm": "placeholder-summary (not science)",
            "product": format!("{} {} {}", context.product.instrument, context.product.data_level, descriptor),
            "date": context.date.yyyymmdd(),
            "version": context.version,
            "inputs": described_inputs,
        });
        Ok(vec![ProductOutput {
            descriptor,
            extension: "cdf".into(),
            bytes: serde_json::to_vec_pretty(&summary).map_err(|error| ScienceError::Failed(error.to_string()))?,
        }])
    }
}

/// Walks CCSDS primary headers (6 bytes; length field = data length - 1).
fn count_ccsds_packets(bytes: &[u8]) -> BTreeMap<u16, u64> {
    let mut counts = BTreeMap::new();
    let mut offset = 0;
    while offset + 6 <= bytes.len() {
        let apid = u16::from_be_bytes([bytes[offset], bytes[offset + 1]]) & 0x07ff;
        let data_length = u16::from_be_bytes([bytes[offset + 4], bytes[offset + 5]]) as usize + 1;
        *counts.entry(apid).or_insert(0) += 1;
        offset += 6 + data_length;
    }
    counts
}
