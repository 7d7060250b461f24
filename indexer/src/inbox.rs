//! Getting objects into the tracker: explicit announcements, the inbox (with quarantine) and a
//! rescan of the whole archive that catches anything written while nobody was listening.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use imap_filename::{ImapFileName, parse_archive_key};
use mesh_runtime::archive::NewObject;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::trace::current_traceparent;
use tracing::Instrument;

use super::archive_link;
use super::config::IndexerConfig;
use super::error::IndexerError;
use super::tracker::{Appended, FileTracker, IndexOutcome, NewFile, Provenance};

/// Inbox files moved into the archive together and tracked in one transaction.
const INBOX_BATCH: usize = 1000;

/// Archive reads and writes in flight at once while preparing a batch.
const ARCHIVE_CALLS_AT_ONCE: usize = 32;

/// Everything that turns an archive object or an inbox file into a tracked file.
pub struct Ingestor {
    pub tracker: Arc<FileTracker>,
    pub archive: Arc<dyn ObjectStore>,
    /// Set when the archive is a local directory: inbox files are then hard-linked in.
    pub archive_dir: Option<PathBuf>,
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

    /// The first stage of ingesting a batch of inbox files: moves them into the archive (durably),
    /// or quarantines each bad one with the reason. Returns what to track; a file that failed is
    /// logged and left in the inbox for the next scan.
    async fn archive_inbox_files(&self, paths: &[PathBuf]) -> Vec<(PathBuf, NewFile)> {
        let span = tracing::info_span!("indexer.ingest", files = paths.len());
        async {
            let mut named = Vec::with_capacity(paths.len());
            for path in paths {
                match self.accept_inbox_name(path).await {
                    Ok(Some(name)) => named.push((path.clone(), name)),
                    Ok(None) => {}
                    Err(error) => {
                        tracing::error!(file = %path.display(), %error, "inbox file not ingested, will retry on next scan")
                    }
                }
            }
            let (archived, to_copy) = match &self.archive_dir {
                Some(root) => match self.link_into_archive(root, named).await {
                    Ok(linked) => linked,
                    Err(error) => {
                        tracing::error!(files = paths.len(), %error, "inbox files not ingested, will retry on next scan");
                        return Vec::new();
                    }
                },
                None => (Vec::new(), named),
            };
            if to_copy.is_empty() {
                return archived;
            }
            let started = Instant::now();
            let copied = futures_util::stream::iter(to_copy)
                .map(|(path, name)| async move {
                    match self.copy_into_archive(&path, name).await {
                        Ok(file) => file.map(|file| (path, file)),
                        Err(error) => {
                            tracing::error!(file = %path.display(), %error, "inbox file not ingested, will retry on next scan");
                            None
                        }
                    }
                })
                .buffered(ARCHIVE_CALLS_AT_ONCE)
                .filter_map(std::future::ready)
                .collect::<Vec<_>>()
                .await;
            observe_stage("copy", started);
            archived.into_iter().chain(copied).collect()
        }
        .instrument(span)
        .await
    }

    /// The second stage: tracks a batch now in the archive (one transaction) and returns the
    /// inbox files to remove, now that they are indexed. On failure it returns none: the files
    /// stay for the next scan, which finds them already in the archive.
    async fn track_inbox_files(&self, archived: Vec<(PathBuf, NewFile)>) -> Vec<PathBuf> {
        if archived.is_empty() {
            return Vec::new();
        }
        let count = archived.len();
        let (paths, files): (Vec<PathBuf>, Vec<NewFile>) = archived.into_iter().unzip();
        let started = Instant::now();
        let appended = match self.tracker.append_batch(&files).await {
            Ok(appended) => appended,
            Err(error) => {
                tracing::error!(files = count, %error, "inbox files not ingested, will retry on next scan");
                return Vec::new();
            }
        };
        observe_stage("track", started);
        log_appended(&appended);
        paths
    }

    /// The third stage: removes a tracked batch's files from the inbox.
    async fn remove_inbox_files(&self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        let count = paths.len();
        let started = Instant::now();
        let removed = tokio::task::spawn_blocking(move || {
            paths.iter().try_for_each(|path| std::fs::remove_file(path).map_err(|source| io_error(path, source)))
        })
        .await
        .map_err(|_| IndexerError::BlockingTaskLost)
        .and_then(|removed| removed);
        observe_stage("remove", started);
        if let Err(error) = removed {
            tracing::error!(files = count, %error, "indexed inbox files not removed, the next scan finds them indexed");
        }
    }

    /// The mission name of an inbox file, or `None` when it is not an arrival (a hidden
    /// temporary) or was refused (then it is quarantined with the reason).
    async fn accept_inbox_name(&self, path: &Path) -> Result<Option<ImapFileName>, IndexerError> {
        let Some(basename) = path.file_name().and_then(|name| name.to_str()) else {
            self.quarantine(path, "file name is not valid utf-8").await?;
            return Ok(None);
        };
        if basename.starts_with('.') {
            // Editors and copy tools write hidden temporaries; they are not arrivals.
            return Ok(None);
        }
        match ImapFileName::parse(basename).and_then(|name| {
            imap_filename::refuse_upload_at_last_version(&name)?;
            Ok(name)
        }) {
            Ok(name) => Ok(Some(name)),
            Err(error) => {
                self.quarantine(path, &error.to_string()).await?;
                Ok(None)
            }
        }
    }

    /// Hard-links inbox files into the archive directory and makes the batch durable. Returns
    /// what to index, and the files that must be copied instead (another disk); a file already
    /// there with other bytes is quarantined.
    async fn link_into_archive(
        &self,
        root: &Path,
        named: Vec<(PathBuf, ImapFileName)>,
    ) -> Result<(Vec<(PathBuf, NewFile)>, Vec<(PathBuf, ImapFileName)>), IndexerError> {
        let sources: Vec<(PathBuf, String)> =
            named.iter().map(|(path, name)| (path.clone(), name.archive_path())).collect();
        let root = root.to_path_buf();
        let (linked, synced) = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let (outcomes, folders) = archive_link::link_batch(&root, &sources);
            observe_stage("link", started);
            let new_links: Vec<PathBuf> = outcomes
                .iter()
                .filter_map(|outcome| match outcome {
                    Ok(archive_link::Linked::New(target)) => Some(target.clone()),
                    _ => None,
                })
                .collect();
            let started = Instant::now();
            let synced = archive_link::sync_batch(&root, &new_links, &folders);
            observe_stage("sync", started);
            let sized: Vec<(std::io::Result<archive_link::Linked>, u64)> = outcomes
                .into_iter()
                .map(|outcome| {
                    let size = match &outcome {
                        Ok(archive_link::Linked::New(target) | archive_link::Linked::AlreadyThere(target)) => {
                            std::fs::metadata(target).map(|meta| meta.len()).unwrap_or_default()
                        }
                        _ => 0,
                    };
                    (outcome, size)
                })
                .collect();
            (sized, synced)
        })
        .await
        .map_err(|_| IndexerError::BlockingTaskLost)?;
        synced.map_err(|source| io_error(&self.archive_dir.clone().unwrap_or_default(), source))?;
        let (mut archived, mut to_copy) = (Vec::with_capacity(named.len()), Vec::new());
        for ((path, name), (outcome, size_bytes)) in named.into_iter().zip(linked) {
            match outcome {
                Ok(archive_link::Linked::New(_) | archive_link::Linked::AlreadyThere(_)) => {
                    archived.push((path, arrived_file(name, size_bytes)));
                }
                Ok(archive_link::Linked::Different) => {
                    let reason = IndexerError::Conflict { key: name.archive_path() }.to_string();
                    self.quarantine(&path, &reason).await?;
                }
                Ok(archive_link::Linked::NotLinkable) => to_copy.push((path, name)),
                Err(source) => {
                    let error = io_error(&path, source);
                    tracing::error!(file = %path.display(), %error, "inbox file not ingested, will retry on next scan");
                }
            }
        }
        Ok((archived, to_copy))
    }

    /// Copies one inbox file into the archive (create-only) and says what to index, or
    /// quarantines it (a different file under that key) and says nothing.
    async fn copy_into_archive(&self, path: &Path, name: ImapFileName) -> Result<Option<NewFile>, IndexerError> {
        let key = name.archive_path();
        let bytes = tokio::fs::read(path).await.map_err(|source| io_error(path, source))?;
        let size_bytes = bytes.len() as u64;
        let object_path = ObjectPath::from(key.as_str());
        if mesh_runtime::archive::put_new(self.archive.as_ref(), &object_path, bytes).await? == NewObject::Different {
            let reason = IndexerError::Conflict { key: key.clone() }.to_string();
            self.quarantine(path, &reason).await?;
            return Ok(None);
        }
        Ok(Some(arrived_file(name, size_bytes)))
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
        self.drain_inbox_in_batches(INBOX_BATCH).await
    }

    /// [`drain_inbox`](Self::drain_inbox) in batches of `batch_size`, pipelined: while one batch is
    /// removed from the inbox, the next is tracked (one transaction) and the one after it moved
    /// into the archive. Batches are tracked in inbox order, each only after the one before has
    /// committed, and a batch's files leave the inbox only once it has.
    pub(crate) async fn drain_inbox_in_batches(
        &self,
        batch_size: usize,
    ) -> Result<(usize, Option<Duration>), IndexerError> {
        let Some(inbox) = self.config.inbox_dir.clone() else { return Ok((0, None)) };
        let settle = self.config.settle_time;
        let started = Instant::now();
        // One blocking scan rather than a blocking call per entry: the inbox may hold thousands.
        let (settled, look_again) = tokio::task::spawn_blocking(move || settled_inbox_files(&inbox, settle))
            .await
            .map_err(|_| IndexerError::BlockingTaskLost)??;
        observe_stage("scan", started);
        let (mut archived, mut tracked) = (Vec::new(), Vec::new());
        for batch in settled.chunks(batch_size.max(1)) {
            let (to_track, to_remove) = (std::mem::take(&mut archived), std::mem::take(&mut tracked));
            (archived, tracked, ()) = futures_util::future::join3(
                self.archive_inbox_files(batch),
                self.track_inbox_files(to_track),
                self.remove_inbox_files(to_remove),
            )
            .await;
        }
        let to_remove = std::mem::take(&mut tracked);
        (tracked, ()) =
            futures_util::future::join(self.track_inbox_files(archived), self.remove_inbox_files(to_remove)).await;
        self.remove_inbox_files(tracked).await;
        Ok((settled.len(), look_again))
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

/// What to index for an inbox file now in the archive, in a trace of its own.
fn arrived_file(name: ImapFileName, size_bytes: u64) -> NewFile {
    let span = tracing::info_span!("indexer.ingest_file", file = %name.file_name());
    let traceparent = proto::trace::traceparent_of(&span);
    NewFile { name, size_bytes, provenance: Provenance::default(), traceparent }
}

/// The inbox's files that have not changed for `settle`, and when to look again for the others.
fn settled_inbox_files(inbox: &Path, settle: Duration) -> Result<(Vec<PathBuf>, Option<Duration>), IndexerError> {
    std::fs::create_dir_all(inbox).map_err(|source| io_error(inbox, source))?;
    let mut settled = Vec::new();
    let mut look_again: Option<Duration> = None;
    for entry in std::fs::read_dir(inbox).map_err(|source| io_error(inbox, source))? {
        let entry = entry.map_err(|source| io_error(inbox, source))?;
        // The entry's type comes with the directory listing (no stat per file).
        if !entry.file_type().is_ok_and(|file_type| file_type.is_file()) {
            continue;
        }
        if !settle.is_zero() {
            let Ok(metadata) = entry.metadata() else { continue };
            let unchanged_for =
                metadata.modified().ok().and_then(|modified| modified.elapsed().ok()).unwrap_or_default();
            if unchanged_for < settle {
                let wait = settle - unchanged_for;
                look_again = Some(look_again.map_or(wait, |current| current.min(wait)));
                continue;
            }
        }
        settled.push(entry.path());
    }
    Ok((settled, look_again))
}

/// Records how long one stage of moving inbox files in took.
fn observe_stage(stage: &'static str, started: Instant) {
    mesh_runtime::metrics::observe(
        "imap_sdc_inbox_stage_seconds",
        "Time of each stage of moving a batch of inbox files in: scan, link, sync, copy, track, remove",
        &[("stage", stage)],
        started.elapsed().as_secs_f64(),
    );
}

fn log_appended(appended: &[Appended]) {
    for (file_name, seq) in appended.iter().filter_map(|file| Some((&file.file_name, file.new_event_seq?))) {
        tracing::info!(file = %file_name, seq, "file indexed");
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
