//! Build-then-start for the starter: a bad schedule fails before anything listens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_runtime::Shutdown;
use proto::clients::{DependencyClient, IndexerClient};
use proto::pb::starter_service_server::StarterServiceServer;
use proto::time::now_millis;
use sqlx::AnyPool;
use tokio::sync::Notify;

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
    pub async fn create(
        config: StarterConfig,
        pool: AnyPool,
        indexer: IndexerClient,
        depsvc: DependencyClient,
        shutdown: Shutdown,
    ) -> Result<StarterRole, StarterError> {
        let schedules = schedules_from_config(&config.schedules)?;
        let store = Arc::new(JobStore::open(pool, config.clone()).await?);
        let start = store.read_cursor(&config.consumer).await?;
        let trigger = Arc::new(TriggerContext {
            store: store.clone(),
            depsvc,
            indexer: indexer.clone(),
            consumer: config.consumer.clone(),
            job_available: Arc::new(Notify::new()),
            cursor: Mutex::new(CursorTracker::new(start)),
            queues: Mutex::new(HashMap::new()),
            campaign_outstanding: Mutex::new(HashMap::new()),
            shutdown,
        });
        Ok(StarterRole { shared: Arc::new(StarterShared { store, trigger, config }), indexer, schedules })
    }

    pub fn store(&self) -> Arc<JobStore> {
        self.shared.store.clone()
    }

    pub fn grpc_service(&self) -> StarterServiceServer<StarterGrpc> {
        StarterServiceServer::new(StarterGrpc { shared: self.shared.clone() })
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024)
    }

    /// Spawns the event consumer, the schedule runner and the lease reaper.
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        let shared = self.shared;
        let consumer = tokio::spawn(shared.trigger.clone().consume_events(self.indexer));
        tokio::spawn(resume_campaigns(shared.trigger.clone()));
        let scheduler = tokio::spawn(run_schedules(shared.clone(), self.schedules));
        let reaper_shared = shared.clone();
        tokio::spawn(async move {
            let period = Duration::from_millis((reaper_shared.config.lease_seconds * 1000 / 4).max(250));
            let shutdown = reaper_shared.trigger.shutdown.clone();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {}
                    _ = shutdown.wait() => break,
                }
                match reaper_shared.store.expire_leases(now_millis()).await {
                    Ok(0) => {}
                    Ok(count) => {
                        tracing::warn!(count, "leases expired, jobs requeued or dead-lettered");
                        reaper_shared.trigger.job_available.notify_waiters();
                    }
                    Err(error) => tracing::error!(%error, "lease expiry failed"),
                }
            }
            let _ = consumer.await;
            let _ = scheduler.await;
        })
    }
}
