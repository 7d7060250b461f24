//! Getting objects into the tracker: explicit announcements, the inbox (with quarantine) and a
//! rescan of the whole archive that catches anything written while nobody was listening.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::Duration;

use futures_util::StreamExt;
use imap_filename::{ImapFileName, parse_archive_key};
use mesh_runtime::archive::NewObject;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::trace::current_traceparent;
use tracing::Instrument;

use super::config::IndexerConfig;
use super::error::IndexerError;
use super::tracker::{FileTracker, IndexOutcome, NewFile, Provenance};

/// Inbox files taken into one transaction.
const INBOX_BATCH: usize = 1000;

/// Archive reads and writes in flight at once while preparing a batch.
const ARCHIVE_CALLS_AT_ONCE: usize = 16;

/// Everything that turns an archive object or an inbox file into a tracked file.
pub struct Ingestor {
    pub tracker: Arc<FileTracker>,
    pub archive: Arc<dyn ObjectStore>,
    pub config: IndexerConfig,
}

impl Ingestor {
    /// Indexes an object that is already in the archive at `key`.
    pub async fn index_key(&self, key: &str, provenance: &Provenance) -> Result<IndexOutcome, IndexerError> {
        let mut outcomes = self.index_keys(&[(key.to_string(), provenance.clone())]).await?;
        outcomes.pop().ok_or_else(|| IndexerError::ObjectNotFound { key: key.to_string() })
    }

    /// Indexes objects already in the archive in one transaction, outcomes in request order. One
    /// bad key (a name outside the grammar, no such object) refuses the whole batch.
    pub async fn index_keys(&self, keys: &[(String, Provenance)]) -> Result<Vec<IndexOutcome>, IndexerError> {
        let traceparent = current_traceparent();
        let mut files = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(ARCHIVE_CALLS_AT_ONCE) {
            let described = chunk.iter().map(|(key, provenance)| self.describe_key(key, provenance, &traceparent));
            files.extend(futures_util::future::try_join_all(described).await?);
        }
        let outcomes = self.tracker.index_batch(&files).await?;
        log_new(&outcomes);
        Ok(outcomes)
    }

    /// What to record for an archive object: its parsed name and its size in the archive.
    async fn describe_key(
        &self,
        key: &str,
        provenance: &Provenance,
        traceparent: &str,
    ) -> Result<NewFile, IndexerError> {
        let name = parse_archive_key(key)?;
        if provenance.produced_by_job.is_empty() {
            imap_filename::refuse_upload_at_last_version(&name)?;
        }
        let meta = match self.archive.head(&ObjectPath::from(key)).await {
            Ok(meta) => meta,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(IndexerError::ObjectNotFound { key: key.to_string() });
            }
            Err(error) => return Err(error.into()),
        };
        Ok(NewFile {
            name,
            size_bytes: meta.size,
            provenance: provenance.clone(),
            traceparent: traceparent.to_string(),
        })
    }

    /// Moves inbox files into the archive and indexes them together, or quarantines each bad one
    /// with the reason. A file is removed from the inbox only once it is in the archive and tracked.
    pub async fn ingest_inbox_files(&self, paths: &[PathBuf]) -> Result<(), IndexerError> {
        let span = tracing::info_span!("indexer.ingest", files = paths.len());
        async {
            let mut arrived = Vec::with_capacity(paths.len());
            for chunk in paths.chunks(ARCHIVE_CALLS_AT_ONCE) {
                arrived
                    .extend(futures_util::future::join_all(chunk.iter().map(|path| self.archive_or_log(path))).await);
            }
            let (paths, files): (Vec<PathBuf>, Vec<NewFile>) = arrived.into_iter().flatten().unzip();
            let outcomes = self.tracker.index_batch(&files).await?;
            log_new(&outcomes);
            for path in paths {
                tokio::fs::remove_file(&path).await.map_err(|source| io_error(&path, source))?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// [`archive_inbox_file`](Self::archive_inbox_file), a failure logged (the file stays for the next scan).
    async fn archive_or_log(&self, path: &Path) -> Option<(PathBuf, NewFile)> {
        match self.archive_inbox_file(path).await {
            Ok(file) => file.map(|file| (path.to_path_buf(), file)),
            Err(error) => {
                tracing::error!(file = %path.display(), %error, "inbox file not ingested, will retry on next scan");
                None
            }
        }
    }

    /// Copies one inbox file into the archive (create-only) and says what to index, or
    /// quarantines it and says nothing.
    async fn archive_inbox_file(&self, path: &Path) -> Result<Option<NewFile>, IndexerError> {
        let Some(basename) = path.file_name().and_then(|name| name.to_str()).map(str::to_string) else {
            self.quarantine(path, "file name is not valid utf-8").await?;
            return Ok(None);
        };
        if basename.starts_with('.') {
            // Editors and copy tools write hidden temporaries; they are not arrivals.
            return Ok(None);
        }
        let name = match ImapFileName::parse(&basename).and_then(|name| {
            imap_filename::refuse_upload_at_last_version(&name)?;
            Ok(name)
        }) {
            Ok(name) => name,
            Err(error) => {
                self.quarantine(path, &error.to_string()).await?;
                return Ok(None);
            }
        };
        let key = name.archive_path();
        let bytes = tokio::fs::read(path).await.map_err(|source| io_error(path, source))?;
        let size_bytes = bytes.len() as u64;
        let object_path = ObjectPath::from(key.as_str());
        if mesh_runtime::archive::put_new(self.archive.as_ref(), &object_path, bytes).await? == NewObject::Different {
            let reason = IndexerError::Conflict { key: key.clone() }.to_string();
            self.quarantine(path, &reason).await?;
            return Ok(None);
        }
        let span = tracing::info_span!("indexer.ingest_file", file = %basename);
        let traceparent = proto::trace::traceparent_of(&span);
        Ok(Some(NewFile { name, size_bytes, provenance: Provenance::default(), traceparent }))
    }

    async fn quarantine(&self, path: &Path, reason: &str) -> Result<(), IndexerError> {
        let quarantine_dir = self.quarantine_dir();
        tokio::fs::create_dir_all(&quarantine_dir).await.map_err(|source| io_error(&quarantine_dir, source))?;
        let basename = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let target = quarantine_dir.join(format!("{}-{basename}", proto::time::now_millis()));
        tokio::fs::rename(path, &target).await.map_err(|source| io_error(path, source))?;
        let reason_file = PathBuf::from(format!("{}.reason.txt", target.display()));
        tokio::fs::write(&reason_file, format!("{reason}\n")).await.map_err(|source| io_error(&reason_file, source))?;
        self.tracker.record_quarantine(&path.display().to_string(), &target.display().to_string(), reason).await?;
        tracing::warn!(file = %basename, reason, quarantined_as = %target.display(), "file refused");
        Ok(())
    }

    fn quarantine_dir(&self) -> PathBuf {
        self.config
            .quarantine_dir
            .clone()
            .unwrap_or_else(|| self.config.inbox_dir.clone().unwrap_or_default().with_file_name("quarantine"))
    }

    /// Processes every settled file in the inbox; one bad file does not stop the others.
    /// Returns how many were handled and, when some are still settling, when to look again.
    pub async fn drain_inbox(&self) -> Result<(usize, Option<Duration>), IndexerError> {
        let Some(inbox) = &self.config.inbox_dir else { return Ok((0, None)) };
        tokio::fs::create_dir_all(inbox).await.map_err(|source| io_error(inbox, source))?;
        let mut entries = tokio::fs::read_dir(inbox).await.map_err(|source| io_error(inbox, source))?;
        let settle = self.config.settle_time;
        let mut handled = 0;
        let mut settled = Vec::new();
        let mut look_again: Option<Duration> = None;
        while let Some(entry) = entries.next_entry().await.map_err(|source| io_error(inbox, source))? {
            let path = entry.path();
            let Ok(metadata) = entry.metadata().await else { continue };
            if !metadata.is_file() {
                continue;
            }
            let unchanged_for =
                metadata.modified().ok().and_then(|modified| modified.elapsed().ok()).unwrap_or_default();
            if unchanged_for < settle {
                let wait = settle - unchanged_for;
                look_again = Some(look_again.map_or(wait, |current| current.min(wait)));
                continue;
            }
            settled.push(path);
            if settled.len() == INBOX_BATCH {
                handled += self.ingest_settled(std::mem::take(&mut settled)).await;
            }
        }
        handled += self.ingest_settled(settled).await;
        Ok((handled, look_again))
    }

    /// Ingests one batch of settled inbox files; a failure is logged and the files stay for the
    /// next scan. Returns how many were handled.
    async fn ingest_settled(&self, paths: Vec<PathBuf>) -> usize {
        if paths.is_empty() {
            return 0;
        }
        if let Err(error) = self.ingest_inbox_files(&paths).await {
            tracing::error!(files = paths.len(), %error, "inbox files not ingested, will retry on next scan");
        }
        paths.len()
    }

    /// Indexes every archive object the tracker does not know yet (e.g. written during a crash).
    /// A bad entry is logged and skipped so it cannot hide the objects listed after it.
    pub async fn scan_archive(&self) -> Result<usize, IndexerError> {
        let mut listing = self.archive.list(Some(&ObjectPath::from("imap")));
        let mut newly_indexed = 0;
        while let Some(item) = listing.next().await {
            let meta = match item {
                Ok(meta) => meta,
                Err(error) => {
                    tracing::warn!(%error, "archive entry unreadable, skipped");
                    continue;
                }
            };
            let key = meta.location.to_string();
            let age_millis = proto::time::now_millis() - meta.last_modified.timestamp_millis();
            if age_millis < self.config.rescan_min_age.as_millis() as i64 {
                continue;
            }
            if self.tracker.contains_key(&key).await? {
                continue;
            }
            // A product a processor stored but never announced (it died in between) still has
            // the provenance record it wrote first.
            let provenance = match self.tracker_provenance(&key).await {
                Ok((provenance, _)) => provenance,
                Err(error) => {
                    tracing::warn!(key, %error, "provenance record unreadable, will retry on next scan");
                    continue;
                }
            };
            match self.index_key(&key, &provenance).await {
                Ok(outcome) if outcome.newly_indexed => newly_indexed += 1,
                Ok(_) => {}
                Err(IndexerError::InvalidName(error)) => {
                    tracing::warn!(key, %error, "archive object with an invalid name left untracked")
                }
                Err(error @ IndexerError::Database(_)) => return Err(error),
                Err(error) => tracing::warn!(key, %error, "archive object not indexed, will retry on next scan"),
            }
        }
        Ok(newly_indexed)
    }
}

fn log_new(outcomes: &[IndexOutcome]) {
    for outcome in outcomes.iter().filter(|outcome| outcome.newly_indexed) {
        tracing::info!(file = %outcome.file.file_name, seq = outcome.event_seq, "file indexed");
    }
}

fn io_error(path: &Path, source: std::io::Error) -> IndexerError {
    IndexerError::Io { path: path.display().to_string(), source }
}
