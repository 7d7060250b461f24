//! Build-then-start: `create` opens storage and can fail; `start` spawns the background work.

use std::sync::Arc;

use mesh_runtime::Shutdown;
use mesh_runtime::leader::Leadership;
use mesh_runtime::role::{BuildContext, Exposure, Role, ServiceRegistry};
use notify::{EventKind, RecursiveMode, Watcher};
use proto::pb::indexer_service_server::IndexerServiceServer;
use tokio_util::task::TaskTracker;

use super::config::IndexerConfig;
use super::error::IndexerError;
use super::grpc::IndexerGrpc;
use super::inbox::Ingestor;
use super::tracker::FileTracker;

pub struct IndexerRole {
    ingestor: Arc<Ingestor>,
    leadership: Leadership,
    shutdown: Shutdown,
    tasks: TaskTracker,
}

impl IndexerRole {
    /// Opens the file tracker (the database) and the archive; the inbox and quarantine default to
    /// folders of the node's data dir.
    pub async fn create(mut config: IndexerConfig, context: &BuildContext) -> Result<IndexerRole, IndexerError> {
        config.inbox_dir.get_or_insert_with(|| context.data_dir().join("inbox"));
        config.quarantine_dir.get_or_insert_with(|| context.data_dir().join("quarantine"));
        let leadership = context.leadership("indexer").await?;
        let tracker = Arc::new(
            FileTracker::open(context.database().await?)
                .await?
                .with_leadership(leadership.clone())
                .with_max_page_size(config.max_page_size),
        );
        let archive = context.archive().await?;
        let (archive_dir, archive) = (archive.directory.clone(), archive.store.clone());
        let latest_event = tracker.subscribe_latest();
        mesh_runtime::metrics::collect_with(move || {
            let seq = *latest_event.borrow() as f64;
            async move {
                vec![mesh_runtime::metrics::Gauge {
                    name: "imap_sdc_event_log_seq",
                    help: "Sequence number of the newest event in the indexer's log (events appended so far)",
                    labels: Vec::new(),
                    value: seq,
                }]
            }
        });
        Ok(IndexerRole {
            ingestor: Arc::new(Ingestor { tracker, archive, archive_dir, config }),
            leadership,
            shutdown: context.shutdown(),
            tasks: context.tasks(),
        })
    }
}

impl Role for IndexerRole {
    fn register(&self, registry: &mut ServiceRegistry) {
        let grpc =
            IndexerGrpc { ingestor: self.ingestor.clone(), shutdown: self.shutdown.clone(), tasks: self.tasks.clone() };
        registry.add_grpc(Exposure::Internal, IndexerServiceServer::new(grpc));
    }

    /// Spawns the archive rescan and the inbox watcher once this replica leads (a standby serves
    /// reads only); both stop at shutdown, a scan under way first finishing.
    fn start(&self, tasks: &TaskTracker) {
        let ingestor = self.ingestor.clone();
        let shutdown = self.shutdown.clone();
        let leadership = self.leadership.clone();
        tasks.spawn(async move {
            if !leadership.wait_until_leader(&shutdown).await {
                return;
            }
            match ingestor.tracker.catch_up().await {
                Ok(seq) => tracing::info!(seq, "leading the indexer from this event on"),
                Err(error) => tracing::error!(%error, "reading the newest event failed"),
            }
            let (wake_sender, mut wake) = tokio::sync::mpsc::channel::<()>(16);
            // Held so `wake.recv()` waits instead of returning at once when there is no watcher.
            let _keep_wake_open = wake_sender.clone();
            let _watcher = match start_watcher(&ingestor.config, wake_sender) {
                Ok(watcher) => watcher,
                Err(error) => {
                    tracing::warn!(%error, "inbox watcher unavailable, relying on periodic rescans");
                    None
                }
            };
            let rescan_every = ingestor.config.rescan_interval;
            // Listing the whole archive is costly (an S3 bucket of millions of objects), so it runs
            // on its own, slower clock rather than on every inbox wake-up.
            let archive_rescan_every = ingestor.config.archive_rescan_interval;
            let mut next_archive_scan = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= next_archive_scan {
                    match ingestor.scan_archive().await {
                        Ok(0) => {}
                        Ok(count) => tracing::info!(count, "archive rescan indexed untracked objects"),
                        Err(error) => tracing::error!(%error, "archive rescan failed"),
                    }
                    next_archive_scan = tokio::time::Instant::now() + archive_rescan_every;
                }
                let mut next_scan =
                    rescan_every.min(next_archive_scan.saturating_duration_since(tokio::time::Instant::now()));
                match ingestor.drain_inbox().await {
                    Ok((_, Some(settling))) => next_scan = next_scan.min(settling),
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, "inbox scan failed"),
                }
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = wake.recv() => {}
                    _ = tokio::time::sleep(next_scan) => {}
                }
            }
        });
    }
}

/// Wakes the scan loop when a file is completely written into (or renamed into) the inbox.
fn start_watcher(
    config: &IndexerConfig,
    wake: tokio::sync::mpsc::Sender<()>,
) -> Result<Option<notify::RecommendedWatcher>, IndexerError> {
    let (Some(inbox), true) = (&config.inbox_dir, config.watch) else { return Ok(None) };
    std::fs::create_dir_all(inbox).map_err(|source| IndexerError::Io { path: inbox.display().to_string(), source })?;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        // A plain create may still be half written; wait for close-after-write or a rename.
        let complete = matches!(
            event.kind,
            EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Write))
                | EventKind::Modify(notify::event::ModifyKind::Name(_))
        );
        if complete {
            let _ = wake.try_send(());
        }
    })?;
    watcher.watch(inbox, RecursiveMode::NonRecursive)?;
    Ok(Some(watcher))
}
