//! What the indexer needs to know, owned by the indexer.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use mesh_runtime::config::{Problems, duration};

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexerConfig {
    /// Files dropped here are validated, moved into the archive and indexed.
    pub inbox_dir: Option<PathBuf>,
    /// Refused inbox files are moved here, next to a `.reason.txt` saying why.
    pub quarantine_dir: Option<PathBuf>,
    /// Time between rescans of the inbox (a safety net for missed watcher events).
    #[serde(with = "duration")]
    pub rescan_interval: Duration,
    /// Time between listings of the whole archive, which index objects whose producer never did
    /// (written while the indexer was down, or by tools outside the mesh).
    #[serde(with = "duration")]
    pub archive_rescan_interval: Duration,
    /// Watch the inbox with inotify as well as rescanning.
    pub watch: bool,
    /// An inbox file is taken only once it has not changed for this long, so a file still being
    /// copied in is never half ingested. Writers that rename complete files in may set `0s`.
    #[serde(with = "duration")]
    pub settle_time: Duration,
    /// The rescan leaves archive objects younger than this to their producer, which indexes them
    /// itself with provenance; the rescan is for objects whose producer never did.
    #[serde(with = "duration")]
    pub rescan_min_age: Duration,
    /// The most rows one page of QueryFiles or ListQuarantine holds, whatever limit is asked for
    /// (callers that need more follow the page token).
    pub max_page_size: NonZeroU32,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        IndexerConfig {
            inbox_dir: None,
            quarantine_dir: None,
            rescan_interval: Duration::from_secs(30),
            archive_rescan_interval: Duration::from_secs(300),
            watch: true,
            settle_time: Duration::from_secs(1),
            rescan_min_age: Duration::from_secs(60),
            max_page_size: NonZeroU32::new(super::tracker::DEFAULT_MAX_PAGE_SIZE).expect("not zero"),
        }
    }
}

impl IndexerConfig {
    pub fn validate(&self, problems: &mut Problems) {
        for (key, interval) in [
            ("indexer.rescan_interval", self.rescan_interval),
            ("indexer.archive_rescan_interval", self.archive_rescan_interval),
        ] {
            problems.check(!interval.is_zero(), key, || "must be longer than 0s".into());
        }
    }
}
