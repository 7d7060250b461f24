//! The indexer role: every archive object passes through here. It validates the name against the
//! mission grammar, records the file in the file tracker, appends one `FileIndexed` event to a
//! durable log and streams that log to consumers from their own cursor. Files dropped into the
//! inbox are moved into the archive (or into quarantine with the reason, never dropped). After a
//! total loss, [`recover_from_archive`] rebuilds the tracker from the archive alone.
#![forbid(unsafe_code)]

mod archive_link;
mod config;
mod error;
mod grpc;
mod inbox;
mod reader;
mod recover;
mod role;
mod tracker;

pub use config::IndexerConfig;
pub use error::IndexerError;
pub use recover::{RecoveredFile, Recovery, recover_from_archive};
pub use role::IndexerRole;
pub use tracker::{Appended, FileTracker, IndexOutcome, NewFile, Provenance};

/// Migrations of the indexer's tables (numbered 1000-1999).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}

#[cfg(test)]
mod grpc_tests;
#[cfg(test)]
mod inbox_tests;
#[cfg(test)]
mod leader_tests;
#[cfg(test)]
mod tracker_tests;
