//! What the starter needs to know, owned by the starter.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use mesh_runtime::config::{Problems, duration};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StarterConfig {
    /// Name of this consumer's cursor in the indexer's event log.
    pub consumer: String,
    /// A leased job whose processor sends no heartbeat for this long goes back to the queue.
    #[serde(with = "duration")]
    pub lease: Duration,
    /// Attempts before a transiently failing job is dead-lettered.
    pub max_attempts: NonZeroU32,
    /// First retry delay of a failed job; doubles with each attempt.
    #[serde(with = "duration")]
    pub retry_backoff: Duration,
    /// Running jobs allowed per instrument unless overridden below.
    pub default_instrument_concurrency: NonZeroU32,
    pub instrument_concurrency: BTreeMap<String, NonZeroU32>,
    /// Scheduled runs (`[[starter.schedules]]`), e.g. monthly maps.
    pub schedules: Vec<ScheduleConfig>,
    /// The longest reprocessing range StartReprocessing accepts, in days; a longer one is refused,
    /// to be asked for in parts.
    pub max_campaign_days: NonZeroU32,
    /// A campaign's runs are handed to the queues this many days at a time; the next chunk follows
    /// once every run of this one is evaluated, and a restart goes on from the last whole chunk.
    pub campaign_chunk_days: NonZeroU32,
    /// The most jobs one ListJobs page holds, whatever limit is asked for.
    pub max_page_size: NonZeroU32,
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
            lease: Duration::from_secs(120),
            max_attempts: NonZeroU32::new(3).expect("not zero"),
            retry_backoff: Duration::from_secs(10),
            default_instrument_concurrency: NonZeroU32::new(8).expect("not zero"),
            instrument_concurrency: BTreeMap::new(),
            schedules: Vec::new(),
            // Ten years: the whole mission so far, with room.
            max_campaign_days: NonZeroU32::new(3660).expect("not zero"),
            // A month: a day's runs of every kickoff product, thirty times over, in memory at most.
            campaign_chunk_days: NonZeroU32::new(31).expect("not zero"),
            max_page_size: NonZeroU32::new(1000).expect("not zero"),
        }
    }
}

impl StarterConfig {
    /// What the types cannot say: a lease long enough to heartbeat, valid schedules and names.
    pub fn validate(&self, problems: &mut Problems) {
        problems.check(self.lease >= Duration::from_secs(1), "starter.lease", || "must be at least 1s".into());
        problems.check(!self.consumer.is_empty(), "starter.consumer", || "must not be empty".into());
        for instrument in self.instrument_concurrency.keys() {
            problems.check(
                !instrument.is_empty()
                    && instrument.chars().all(|character| character.is_ascii_alphanumeric() || character == '-'),
                &format!("starter.instrument_concurrency.{instrument}"),
                || "an instrument name is letters, digits and dashes".into(),
            );
        }
        for schedule in &self.schedules {
            if let Err(error) = super::schedule::Schedule::from_config(schedule) {
                problems.push(format!("starter.schedules: {error}"));
            }
        }
    }
}
