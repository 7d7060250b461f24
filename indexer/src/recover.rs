//! Rebuilding the file tracker from the archive alone, after the database is lost: every object
//! under `imap/` is indexed again (parents before children, so the rebuilt event log reads in the
//! order the files could have been made), each with the provenance record the processor stored
//! beside it (`provenance/<key>.json`). Files nobody in the mesh made (uploads, kernels) have no
//! record and come back with no provenance, as they were.

use std::sync::Arc;

use futures_util::StreamExt;
use imap_filename::parse_archive_key;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::pb::FileRecord;
use proto::provenance::ProductProvenance;
use sqlx::AnyPool;

use super::config::IndexerConfig;
use super::error::IndexerError;
use super::inbox::Ingestor;
use super::tracker::{FileTracker, Provenance};

/// One archive object back in the tracker.
#[derive(Debug, Clone)]
pub struct RecoveredFile {
    pub file: FileRecord,
    /// The record the processor stored beside the product, when there is one.
    pub provenance: Option<ProductProvenance>,
    /// False when the tracker already knew the file (recovering twice changes nothing).
    pub newly_indexed: bool,
}

/// What a recovery found.
#[derive(Debug, Default)]
pub struct Recovery {
    pub files: Vec<RecoveredFile>,
    /// Archive objects left untracked, each with the reason (e.g. a name outside the grammar).
    pub skipped: Vec<(String, String)>,
}

/// Indexes every object of the archive into the tracker in `pool`, with its provenance.
pub async fn recover_from_archive(
    pool: AnyPool,
    archive: Arc<dyn ObjectStore>,
    config: IndexerConfig,
) -> Result<Recovery, IndexerError> {
    let tracker = Arc::new(FileTracker::open(pool).await?);
    Ingestor { tracker, archive, archive_dir: None, config }.recover().await
}

impl Ingestor {
    /// The provenance the processor stored beside `key`; none when there is no record (the file
    /// was not made by a job) or the record cannot be read (logged: the file itself still counts).
    pub async fn provenance_of(&self, key: &str) -> Result<Option<ProductProvenance>, IndexerError> {
        let record_key = proto::provenance::record_key(key);
        let bytes = match self.archive.get(&ObjectPath::from(record_key.as_str())).await {
            Ok(found) => found.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        match ProductProvenance::from_json(&bytes) {
            Ok(record) if key.ends_with(&format!("/{}", record.file_name)) => Ok(Some(record)),
            Ok(record) => {
                tracing::warn!(key, record_names = record.file_name, "provenance record names another file, ignored");
                Ok(None)
            }
            Err(error) => {
                tracing::warn!(key, %error, "provenance record unreadable, ignored");
                Ok(None)
            }
        }
    }

    /// What the tracker records as `key`'s provenance.
    pub async fn tracker_provenance(&self, key: &str) -> Result<(Provenance, Option<ProductProvenance>), IndexerError> {
        let record = self.provenance_of(key).await?;
        let provenance = record
            .as_ref()
            .map(|record| Provenance { produced_by_job: record.job_id.clone(), parent_files: record.parent_files() })
            .unwrap_or_default();
        Ok((provenance, record))
    }

    async fn recover(&self) -> Result<Recovery, IndexerError> {
        let mut recovery = Recovery::default();
        let mut keys = Vec::new();
        let mut listing = self.archive.list(Some(&ObjectPath::from("imap")));
        while let Some(item) = listing.next().await {
            let key = item?.location.to_string();
            match parse_archive_key(&key) {
                Ok(name) => keys.push((recovery_order(&name), key)),
                Err(error) => recovery.skipped.push((key, error.to_string())),
            }
        }
        keys.sort();
        for (_, key) in keys {
            let (provenance, record) = self.tracker_provenance(&key).await?;
            match self.index_key(&key, &provenance).await {
                Ok(outcome) => recovery.files.push(RecoveredFile {
                    file: outcome.file,
                    provenance: record,
                    newly_indexed: outcome.newly_indexed,
                }),
                Err(error @ (IndexerError::Database(_) | IndexerError::Archive(_))) => return Err(error),
                Err(error) => recovery.skipped.push((key, error.to_string())),
            }
        }
        Ok(recovery)
    }
}

/// Kernels and ancillary files first, then science by level (`l0` < `l1` < `l1a` < ... < `l3b`),
/// then by day: the order in which files can have been made.
fn recovery_order(name: &imap_filename::ImapFileName) -> (bool, String, String, String) {
    (
        name.data_level().is_some(),
        name.data_level().unwrap_or_default().to_string(),
        name.start_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
        name.file_name().to_string(),
    )
}
