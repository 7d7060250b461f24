//! Between the wire's file records and the graph's view of files and inputs.

use imap_filename::Date;
use imap_filename::Version;
use proto::pb;

use super::error::DepsvcError;
use super::graph::{self, FileKind, InputQuery, InputSource, ProductKey, ProductTime, QueryRange, Relationship};

pub fn product_key(key: &pb::ProductKey) -> ProductKey {
    ProductKey::new(&key.instrument, &key.data_level, &key.descriptor)
}

pub fn product_key_to_wire(key: &ProductKey) -> pb::ProductKey {
    pb::ProductKey {
        instrument: key.instrument.clone(),
        data_level: key.data_level.clone(),
        descriptor: key.descriptor.clone(),
    }
}

pub fn product_time(time: &pb::ProductTime) -> Result<ProductTime, DepsvcError> {
    let date = Date::parse_yyyymmdd(&time.date).map_err(|error| DepsvcError::InvalidRequest(error.to_string()))?;
    Ok(ProductTime { date, repointing: time.repointing })
}

pub fn product_time_to_wire(time: &ProductTime) -> pb::ProductTime {
    pb::ProductTime { date: time.date.yyyymmdd(), repointing: time.repointing }
}

/// The graph's view of a tracked file; `None` for kinds the graph never uses (quicklooks...).
pub fn file_record(file: &pb::FileRecord) -> Option<graph::FileRecord> {
    let start_date = match Date::parse_yyyymmdd(&file.start_date) {
        Ok(date) => date,
        // Kernels named without dates (leapseconds, the clock) are valid for all time: from
        // 1970, before any mission data.
        Err(_) if file.kind() == pb::FileKind::Spice && file.start_date.is_empty() => Date::from_days_since_epoch(0),
        Err(_) => return None,
    };
    let end_date = Date::parse_yyyymmdd(&file.end_date).ok();
    let version = match file.version.parse::<Version>() {
        Ok(version) => (version.major, version.minor),
        Err(_) => (None, file.version.trim_start_matches('v').parse().unwrap_or(0)),
    };
    let (kind, instrument, data_level, descriptor) = match file.kind() {
        pb::FileKind::Science => {
            (FileKind::Science, file.instrument.clone(), file.data_level.clone(), file.descriptor.clone())
        }
        pb::FileKind::Ancillary => {
            (FileKind::Ancillary, file.instrument.clone(), "ancillary".into(), file.descriptor.clone())
        }
        pb::FileKind::Spice if file.descriptor == "spin" => {
            (FileKind::Spin, "spin".into(), "spin".into(), "spin".into())
        }
        pb::FileKind::Spice if file.descriptor == "repoint" => {
            (FileKind::Repoint, "repoint".into(), "repoint".into(), "repoint".into())
        }
        pb::FileKind::Spice => (FileKind::Spice, "spice".into(), "spice".into(), file.descriptor.clone()),
        _ => return None,
    };
    Some(graph::FileRecord {
        file_name: file.file_name.clone(),
        kind,
        instrument,
        data_level,
        descriptor,
        start_date,
        end_date,
        repointing: file.repointing,
        version,
    })
}

/// The indexer queries that find a graph query's candidates (several for multi-type SPICE).
pub fn file_queries(query: &InputQuery) -> Vec<pb::QueryFilesRequest> {
    let mut base = pb::QueryFilesRequest::default();
    match &query.range {
        QueryRange::Dates(range) => {
            // Overlap of the file's coverage with the range.
            base.start_date_max = range.last.yyyymmdd();
            base.end_date_min = range.first.yyyymmdd();
        }
        QueryRange::Repointings(range) => {
            base.repointing_min = Some(range.first);
            base.repointing_max = Some(range.last);
        }
    }
    match &query.source {
        InputSource::Science(key) => vec![pb::QueryFilesRequest {
            kind: pb::FileKind::Science.into(),
            instrument: key.instrument.clone(),
            data_level: key.data_level.clone(),
            descriptor: key.descriptor.clone(),
            ..base
        }],
        InputSource::Ancillary { instrument, descriptor } => vec![pb::QueryFilesRequest {
            kind: pb::FileKind::Ancillary.into(),
            instrument: instrument.clone(),
            descriptor: descriptor.clone(),
            ..base
        }],
        InputSource::Spice { kernel_types, .. } => kernel_types
            .iter()
            .map(|kernel_type| pb::QueryFilesRequest {
                kind: pb::FileKind::Spice.into(),
                descriptor: kernel_type.clone(),
                ..base.clone()
            })
            .collect(),
        InputSource::Spin => {
            vec![pb::QueryFilesRequest { kind: pb::FileKind::Spice.into(), descriptor: "spin".into(), ..base }]
        }
        InputSource::Repoint => {
            vec![pb::QueryFilesRequest { kind: pb::FileKind::Spice.into(), descriptor: "repoint".into(), ..base }]
        }
    }
}

/// Where an input's files come from, as the mission's input list names them.
pub fn source_type(source: &InputSource) -> pb::SourceType {
    match source {
        InputSource::Science(_) => pb::SourceType::Science,
        InputSource::Ancillary { .. } => pb::SourceType::Ancillary,
        InputSource::Spice { .. } => pb::SourceType::Spice,
        InputSource::Spin => pb::SourceType::Spin,
        InputSource::Repoint => pb::SourceType::Repoint,
    }
}

pub fn relationship_to_wire(relationship: Relationship) -> pb::Relationship {
    match relationship {
        Relationship::Hard => pb::Relationship::Hard,
        Relationship::HardNoTrigger => pb::Relationship::HardNoTrigger,
        Relationship::SoftTrigger => pb::Relationship::SoftTrigger,
        Relationship::SoftNoTrigger => pb::Relationship::SoftNoTrigger,
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
