//! Build-then-start for the processor, and its drain: at shutdown it takes no new job, lets the
//! running ones finish and report, and cuts off (and reports) whatever would outlive the drain.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_runtime::Shutdown;
use mesh_runtime::role::{BoxFuture, BuildContext, Exposure, Role, ServiceRegistry};
use proto::pb::processor_service_server::ProcessorServiceServer;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::config::ProcessorConfig;
use super::error::ProcessorError;
use super::grpc::ProcessorGrpc;
use super::science::Registry;
use super::worker::WorkerShared;

/// How long before the node's drain deadline unfinished jobs are cut off, so their reports still
/// reach the starter in time (at most a fifth of the drain).
const REPORT_TIME: Duration = Duration::from_secs(3);

pub struct ProcessorRole {
    pub(crate) shared: Arc<WorkerShared>,
    pub(crate) shutdown: Shutdown,
}

impl ProcessorRole {
    /// Builds the science registry and the CPU pool and opens the archive. Needs no database.
    pub async fn create(config: ProcessorConfig, context: &BuildContext) -> Result<ProcessorRole, ProcessorError> {
        let registry = Registry::from_config(&config)?;
        let archive = context.archive().await?;
        let clients = context.clients();
        let shared = WorkerShared::new(
            &config,
            registry,
            archive.store.clone(),
            archive.directory.clone(),
            clients.indexer.clone(),
            clients.starter.clone(),
            context.tasks(),
        )?;
        let shared = Arc::new(shared);
        let counted = shared.clone();
        mesh_runtime::metrics::collect_with(move || {
            let (in_use, slots) = (counted.running_count() as f64, f64::from(counted.slots));
            let worker = counted.worker_id.to_string();
            async move {
                let gauge = |name, help, value| mesh_runtime::metrics::Gauge {
                    name,
                    help,
                    labels: vec![("worker", worker.clone())],
                    value,
                };
                vec![
                    gauge("imap_sdc_processor_slots_in_use", "Jobs this processor is running", in_use),
                    gauge("imap_sdc_processor_slots", "Jobs this processor may run at once", slots),
                ]
            }
        });
        Ok(ProcessorRole { shared, shutdown: context.shutdown() })
    }
}

impl WorkerShared {
    pub(crate) fn new(
        config: &ProcessorConfig,
        registry: Registry,
        archive: Arc<dyn object_store::ObjectStore>,
        archive_dir: Option<std::path::PathBuf>,
        indexer: proto::clients::IndexerClient,
        starter: proto::clients::StarterClient,
        tasks: TaskTracker,
    ) -> Result<WorkerShared, ProcessorError> {
        let pool = super::pool::science_pool(config)?;
        let worker_id =
            config.worker_id.clone().unwrap_or_else(|| format!("processor-{}", uuid::Uuid::now_v7().simple()));
        Ok(WorkerShared {
            worker_id: worker_id.into(),
            slots: config.effective_slots(),
            heartbeat: config.heartbeat_interval,
            registry,
            pool,
            archive,
            archive_dir,
            indexer,
            starter,
            running: Mutex::new(HashMap::new()),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            outbound: Mutex::new(None),
            draining: AtomicBool::new(false),
            job_ended: Notify::new(),
            tasks,
        })
    }
}

impl Role for ProcessorRole {
    fn register(&self, registry: &mut ServiceRegistry) {
        registry
            .add_grpc(Exposure::Internal, ProcessorServiceServer::new(ProcessorGrpc { shared: self.shared.clone() }));
    }

    fn start(&self, tasks: &TaskTracker) {
        tasks.spawn(super::worker::run(self.shared.clone(), self.shutdown.clone()));
    }

    /// Running jobs finish and report on their own; whatever still runs shortly before `deadline`
    /// is cut off and reported as such (retryable), so the starter need not wait for its lease.
    fn drain(&self, deadline: Instant) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let now = Instant::now();
            let cut_off_at = deadline - REPORT_TIME.min(deadline.saturating_duration_since(now) / 5);
            let finished = tokio::time::timeout_at(cut_off_at, self.shared.wait_for_running_jobs()).await;
            if finished.is_err() {
                tracing::warn!(
                    running = self.shared.running_count(),
                    "drain deadline near: cutting off the running jobs"
                );
                self.shared.cut_off_running_jobs();
            }
        })
    }
}
