//! What the indexer needs to know, owned by the indexer.

use std::path::PathBuf;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexerConfig {
    /// Files dropped here are validated, moved into the archive and indexed.
    pub inbox_dir: Option<PathBuf>,
    /// Refused inbox files are moved here, next to a `.reason.txt` saying why.
    pub quarantine_dir: Option<PathBuf>,
    /// Seconds between rescans of the inbox (a safety net for missed watcher events).
    pub rescan_seconds: u64,
    /// Seconds between listings of the whole archive, which index objects whose producer never
    /// did (written while the indexer was down, or by tools outside the mesh).
    pub archive_rescan_seconds: u64,
    /// Watch the inbox with inotify as well as rescanning.
    pub watch: bool,
    /// An inbox file is taken only once it has not changed for this long, so a file still being
    /// copied in is never half ingested. Writers that rename complete files in may set 0.
    pub settle_millis: u64,
    /// The rescan leaves archive objects younger than this to their producer, which indexes them
    /// itself with provenance; the rescan is for objects whose producer never did.
    pub rescan_min_age_seconds: u64,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        IndexerConfig {
            inbox_dir: None,
            quarantine_dir: None,
            rescan_seconds: 30,
            archive_rescan_seconds: 300,
            watch: true,
            settle_millis: 1000,
            rescan_min_age_seconds: 60,
        }
    }
}
