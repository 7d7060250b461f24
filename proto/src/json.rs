//! REST JSON of the contract messages: `serialize_with` helpers the generated types use (see
//! `build.rs`), so the gateway's status API shows enums as their lowercase text and instants as
//! RFC 3339 text with milliseconds, an empty string where an instant is unset.

use prost_types::Timestamp;
use serde::Serializer;

use crate::pb::{FileKind, JobState, Relationship};

/// `2026-11-26T06:19:45.123Z`, or `""` when unset.
pub fn timestamp<S: Serializer>(value: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(timestamp) => serializer.serialize_str(&crate::time::rfc3339(timestamp)),
        None => serializer.serialize_str(""),
    }
}

pub fn file_kind<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(FileKind::text_of(*value))
}

pub fn job_state<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(JobState::text_of(*value))
}

pub fn relationship<S: Serializer>(value: &i32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(Relationship::text_of(*value))
}
