//! What the starter needs to know, owned by the starter.

use std::collections::BTreeMap;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StarterConfig {
    /// Name of this consumer's cursor in the indexer's event log.
    pub consumer: String,
    /// A leased job whose processor sends no heartbeat for this long goes back to the queue.
    pub lease_seconds: u64,
    /// Attempts before a transiently failing job is dead-lettered.
    pub max_attempts: u32,
    /// First retry delay; doubles with each attempt.
    pub retry_backoff_seconds: u64,
    /// Running jobs allowed per instrument unless overridden below.
    pub default_instrument_concurrency: u32,
    pub instrument_concurrency: BTreeMap<String, u32>,
    /// Scheduled runs (`[[starter.schedules]]`), e.g. monthly maps.
    pub schedules: Vec<ScheduleConfig>,
}

/// One scheduled run: when it fires (cron, UTC), which products, and over which days.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Names the schedule in campaign ids and logs (letters, digits, dashes).
    pub name: String,
    /// Five-field cron expression, e.g. `0 3 1 * *` (03:00 UTC on the 1st of every month).
    pub cron: String,
    /// `instrument level descriptor`, `*` for any, e.g. `mag l2 *` or `* l3 *`.
    pub products: String,
    /// First and last day of the planned range, relative to the firing day (e.g. -31 and -1).
    pub start_days: i32,
    pub end_days: i32,
}

impl Default for StarterConfig {
    fn default() -> Self {
        StarterConfig {
            consumer: "starter".into(),
            lease_seconds: 120,
            max_attempts: 3,
            retry_backoff_seconds: 10,
            default_instrument_concurrency: 8,
            instrument_concurrency: BTreeMap::new(),
            schedules: Vec::new(),
        }
    }
}
