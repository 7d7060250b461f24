//! Build-then-start for the starter: a bad schedule fails before anything listens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mesh_runtime::role::{BuildContext, Exposure, Role, ServiceRegistry};
use proto::clients::IndexerClient;
use proto::pb::starter_service_server::StarterServiceServer;
use proto::time::now_millis;
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

use super::campaigns::resume_campaigns;
use super::config::StarterConfig;
use super::cursor::CursorTracker;
use super::error::StarterError;
use super::grpc::StarterGrpc;
use super::jobs::JobStore;
use super::schedule::{Schedule, run_schedules, schedules_from_config};
use super::trigger::TriggerContext;

/// State shared by the gRPC handlers and the background tasks.
pub struct StarterShared {
    pub store: Arc<JobStore>,
    pub trigger: Arc<TriggerContext>,
    pub config: StarterConfig,
}

pub struct StarterRole {
    shared: Arc<StarterShared>,
    indexer: IndexerClient,
    schedules: Vec<Schedule>,
}

impl StarterRole {
    /// Opens the job store (the database); depsvc and the indexer are reached through the
    /// context's clients. Needs no archive.
    pub async fn create(config: StarterConfig, context: &BuildContext) -> Result<StarterRole, StarterError> {
        let schedules = schedules_from_config(&config.schedules)?;
        let leadership = context.leadership("starter").await?;
        let store =
            Arc::new(JobStore::open(context.database().await?, config.clone()).await?.with_leadership(leadership));
        let counted = store.clone();
        mesh_runtime::metrics::collect_with(move || {
            let store = counted.clone();
            async move { store.job_gauges().await }
        });
        let start = store.read_cursor(&config.consumer).await?;
        let clients = context.clients();
        let trigger = Arc::new(TriggerContext {
            store: store.clone(),
            depsvc: clients.depsvc.clone(),
            indexer: clients.indexer.clone(),
            consumer: config.consumer.clone(),
            job_available: Arc::new(Notify::new()),
            cursor: Mutex::new(CursorTracker::new(start)),
            cursor_writes: Arc::default(),
            queues: Mutex::new(HashMap::new()),
            queue_room: Arc::new(tokio::sync::Semaphore::new(super::trigger::QUEUED_CANDIDATES_MAX)),
            campaign_outstanding: Mutex::new(HashMap::new()),
            waiting: Mutex::default(),
            shutdown: context.shutdown(),
            tasks: context.tasks(),
        });
        Ok(StarterRole {
            shared: Arc::new(StarterShared { store, trigger, config }),
            indexer: clients.indexer.clone(),
            schedules,
        })
    }

    pub fn store(&self) -> Arc<JobStore> {
        self.shared.store.clone()
    }
}

impl Role for StarterRole {
    fn register(&self, registry: &mut ServiceRegistry) {
        registry.add_grpc(Exposure::Internal, StarterServiceServer::new(StarterGrpc { shared: self.shared.clone() }));
    }

    /// Once this replica leads (a standby serves reads only), spawns the event consumer, campaign
    /// re-planning, the schedule runner and the lease reaper. At shutdown each stops taking new
    /// work: the work streams end (no more leases), the queues finish the evaluation in hand.
    fn start(&self, tasks: &TaskTracker) {
        let shared = self.shared.clone();
        let indexer = self.indexer.clone();
        let schedules = self.schedules.clone();
        let tasks = tasks.clone();
        tasks.clone().spawn(async move {
            let leadership = shared.store.leadership().clone();
            if !leadership.wait_until_leader(&shared.trigger.shutdown).await {
                return;
            }
            // A standby read the cursor when it was built; the old leader has moved it since. (An
            // older cursor would only replay events, which creates no job twice.)
            match shared.store.read_cursor(&shared.config.consumer).await {
                Ok(start) => {
                    tracing::info!(cursor = start, "leading the starter from this event on");
                    *shared.trigger.cursor.lock().expect("cursor lock") = CursorTracker::new(start);
                }
                Err(error) => tracing::warn!(%error, "re-reading the cursor failed; replaying from the older one"),
            }
            tasks.spawn(shared.trigger.clone().consume_events(indexer));
            tasks.spawn(resume_campaigns(shared.clone()));
            tasks.spawn(run_schedules(shared.clone(), schedules));
            tasks.spawn(reap_expired_leases(shared));
        });
    }
}

/// Puts the jobs of processors that stopped heartbeating back in the queue, until shutdown.
async fn reap_expired_leases(shared: Arc<StarterShared>) {
    let period = (shared.config.lease / 4).max(std::time::Duration::from_millis(250));
    let shutdown = shared.trigger.shutdown.clone();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.wait() => return,
        }
        match shared.store.expire_leases(now_millis()).await {
            Ok(0) => {}
            Ok(count) => {
                tracing::warn!(count, "leases expired, jobs requeued or dead-lettered");
                shared.trigger.job_available.notify_waiters();
            }
            Err(error) => tracing::error!(%error, "lease expiry failed"),
        }
    }
}
