//! The starter role (the batch starter): it reads the indexer's event log from its own durable
//! cursor, asks depsvc what each new file makes runnable, creates exactly one job per
//! (product, time, exact inputs) and leases queued jobs to connected processors over a stream.
//! Trigger evaluation is serialized per instrument and parallel across instruments.
#![forbid(unsafe_code)]

mod campaigns;
mod config;
pub mod cron;
mod cursor;
mod dead_letters;
mod dispatch;
mod error;
mod grpc;
mod job_row;
mod jobs;
mod restore;
mod role;
mod schedule;
mod trigger;
#[cfg(test)]
mod trigger_tests;

pub use campaigns::{CampaignPlan, UnfinishedCampaign};
pub use config::{ScheduleConfig, StarterConfig};
pub use dead_letters::{DeadEvaluationPage, Refusal};
pub use error::StarterError;
pub use jobs::{Completion, JobFilter, JobPage, JobStore, NewJob, SCAN_BUDGET, input_hash};
pub use restore::RestoredJob;
pub use role::StarterRole;
pub use schedule::{Schedule, due_firings, schedules_from_config};

/// Migrations of the starter's tables (numbered 3000-3999).
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
#[cfg(test)]
mod leader_tests;
