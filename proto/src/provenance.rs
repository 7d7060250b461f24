//! The provenance record a processor writes into the archive beside each product it makes, so that
//! the archive alone is enough to rebuild the mesh's state after a total loss: which job made the
//! file, for which product and time, at which version, from which inputs.
//!
//! Records live under their own top-level folder (`provenance/<archive key>.json`), outside the
//! `imap/` tree that the indexer tracks and clients query, and are plain JSON so that people and
//! other tools can read them.

use serde::{Deserialize, Serialize};

use crate::pb::{ProductKey, ProductTime, Relationship, ResolvedInput, SourceType};

/// The archive folder that holds every provenance record.
pub const FOLDER: &str = "provenance";

/// The record's format, written into every record so that a later format can still read it.
pub const FORMAT_VERSION: u32 = 1;

/// Where the record of the product stored at `archive_key` lives.
pub fn record_key(archive_key: &str) -> String {
    format!("{FOLDER}/{archive_key}.json")
}

/// Who made one product, and from what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductProvenance {
    pub format: u32,
    /// The product file this record describes.
    pub file_name: String,
    pub job_id: String,
    /// The job's product: for a multi-output job (`swapi l1 all`) not the file's own descriptor.
    pub instrument: String,
    pub data_level: String,
    pub descriptor: String,
    pub start_date: String,
    pub repointing: Option<u32>,
    pub version: String,
    pub campaign_id: String,
    pub inputs: Vec<InputProvenance>,
}

/// One input of the job: its source and the names of the files chosen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputProvenance {
    pub source: String,
    /// Lowercase enum text (`science`, `spice`, ...), as in the database and REST JSON.
    pub source_type: String,
    pub relationship: String,
    pub files: Vec<String>,
}

/// A record that cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("provenance record is not valid JSON of the expected shape: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("provenance record has format {found}; this build reads format {FORMAT_VERSION}")]
    UnknownFormat { found: u32 },
    #[error("provenance record has an unknown {0}")]
    UnknownText(#[from] crate::enums::UnknownText),
}

impl ProductProvenance {
    /// The record of `file_name`, made by the job `job_id` for `product` at `time` from `inputs`.
    pub fn new(
        file_name: &str,
        job_id: &str,
        product: &ProductKey,
        time: &ProductTime,
        version: &str,
        campaign_id: &str,
        inputs: &[ResolvedInput],
    ) -> ProductProvenance {
        ProductProvenance {
            format: FORMAT_VERSION,
            file_name: file_name.to_string(),
            job_id: job_id.to_string(),
            instrument: product.instrument.clone(),
            data_level: product.data_level.clone(),
            descriptor: product.descriptor.clone(),
            start_date: time.date.clone(),
            repointing: time.repointing,
            version: version.to_string(),
            campaign_id: campaign_id.to_string(),
            inputs: inputs
                .iter()
                .map(|input| InputProvenance {
                    source: input.source.clone(),
                    source_type: SourceType::text_of(input.source_type).to_string(),
                    relationship: Relationship::text_of(input.relationship).to_string(),
                    files: input.files.iter().map(|file| file.file_name.clone()).collect(),
                })
                .collect(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a provenance record always serializes")
    }

    pub fn from_json(bytes: &[u8]) -> Result<ProductProvenance, ProvenanceError> {
        let record: ProductProvenance = serde_json::from_slice(bytes)?;
        if record.format != FORMAT_VERSION {
            return Err(ProvenanceError::UnknownFormat { found: record.format });
        }
        for input in &record.inputs {
            if !input.source_type.is_empty() {
                SourceType::from_text(&input.source_type)?;
            }
            if !input.relationship.is_empty() {
                Relationship::from_text(&input.relationship)?;
            }
        }
        Ok(record)
    }

    /// Every input file's name, in input order: the product's parents.
    pub fn parent_files(&self) -> Vec<String> {
        self.inputs.iter().flat_map(|input| input.files.iter().cloned()).collect()
    }

    pub fn product(&self) -> ProductKey {
        ProductKey {
            instrument: self.instrument.clone(),
            data_level: self.data_level.clone(),
            descriptor: self.descriptor.clone(),
        }
    }

    pub fn time(&self) -> ProductTime {
        ProductTime { date: self.start_date.clone(), repointing: self.repointing }
    }

    /// The job's inputs again, each file given by `record_of` (the rebuilt file tracker); a file
    /// it does not know is named only.
    pub fn resolved_inputs(
        &self,
        mut record_of: impl FnMut(&str) -> Option<crate::pb::FileRecord>,
    ) -> Vec<ResolvedInput> {
        self.inputs
            .iter()
            .map(|input| ResolvedInput {
                source_type: SourceType::from_text(&input.source_type).map_or(0, i32::from),
                source: input.source.clone(),
                relationship: Relationship::from_text(&input.relationship).map_or(0, i32::from),
                files: input
                    .files
                    .iter()
                    .map(|name| {
                        record_of(name)
                            .unwrap_or_else(|| crate::pb::FileRecord { file_name: name.clone(), ..Default::default() })
                    })
                    .collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::FileRecord;

    fn record() -> ProductProvenance {
        let inputs = vec![ResolvedInput {
            source_type: SourceType::Science.into(),
            source: "swapi l0 raw".into(),
            relationship: Relationship::Hard.into(),
            files: vec![FileRecord { file_name: "imap_swapi_l0_raw_20240924_v001.pkts".into(), ..Default::default() }],
        }];
        let product = ProductKey { instrument: "swapi".into(), data_level: "l1".into(), descriptor: "all".into() };
        let time = ProductTime { date: "20240924".into(), repointing: None };
        ProductProvenance::new("imap_swapi_l1_sci_20240924_v001.cdf", "job-1", &product, &time, "v001", "", &inputs)
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let written = record();
        let read = ProductProvenance::from_json(&written.to_json()).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.parent_files(), ["imap_swapi_l0_raw_20240924_v001.pkts"]);
        let inputs = read.resolved_inputs(|_| None);
        assert_eq!(inputs[0].source_type, i32::from(SourceType::Science));
        assert_eq!(inputs[0].relationship, i32::from(Relationship::Hard));
        assert_eq!(read.product().descriptor, "all");
    }

    #[test]
    fn records_live_outside_the_tracked_tree() {
        assert_eq!(
            record_key("imap/swapi/l1/2024/09/imap_swapi_l1_sci_20240924_v001.cdf"),
            "provenance/imap/swapi/l1/2024/09/imap_swapi_l1_sci_20240924_v001.cdf.json"
        );
    }

    #[test]
    fn unreadable_records_say_why() {
        let error = ProductProvenance::from_json(b"{\"format\": 1}").unwrap_err();
        assert!(error.to_string().contains("not valid JSON of the expected shape"), "{error}");
        let mut later = record();
        later.format = 2;
        let error = ProductProvenance::from_json(&serde_json::to_vec(&later).unwrap()).unwrap_err();
        assert!(error.to_string().contains("format 2"), "{error}");
        let mut odd = record();
        odd.inputs[0].source_type = "telepathy".into();
        let error = ProductProvenance::from_json(&odd.to_json()).unwrap_err();
        assert!(error.to_string().contains("telepathy"), "{error}");
    }
}
