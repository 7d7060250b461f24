//! The starter role (the batch starter): it reads the indexer's event log from its own durable
//! cursor, asks depsvc what each new file makes runnable, creates exactly one job per
//! (product, time, exact inputs) and leases queued jobs to connected processors over a stream.
//! Trigger evaluation is serialized per instrument and parallel across instruments.
#![forbid(unsafe_code)]

mod config;
mod cursor;
mod dispatch;
mod error;
mod grpc;
mod jobs;
mod role;
mod trigger;

pub use config::StarterConfig;
pub use error::StarterError;
pub use jobs::{JobStore, NewJob};
pub use role::StarterRole;

/// Migrations of the starter's tables (numbered 3000-3999).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
