//! Build-then-start for the starter, and reprocessing campaigns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::clients::{DependencyClient, IndexerClient};
use proto::date::Date;
use proto::pb::starter_server::StarterServer;
use proto::pb::{GetGraphRequest, ProductKey, ProductRun, ProductTime, ReprocessRequest, ReprocessResponse};
use proto::store::now_millis;
use proto::Shutdown;
use sqlx::AnyPool;
use tokio::sync::Notify;

use super::config::StarterConfig;
use super::cursor::CursorTracker;
use super::error::StarterError;
use super::grpc::StarterGrpc;
use super::jobs::JobStore;
use super::trigger::{Candidate, TriggerContext};

/// State shared by the gRPC handlers and the background tasks.
pub struct StarterShared {
    pub store: Arc<JobStore>,
    pub trigger: Arc<TriggerContext>,
    pub config: StarterConfig,
}

pub struct StarterRole {
    shared: Arc<StarterShared>,
    indexer: IndexerClient,
}

impl StarterRole {
    pub async fn create(
        config: StarterConfig,
        pool: AnyPool,
        indexer: IndexerClient,
        depsvc: DependencyClient,
        shutdown: Shutdown,
    ) -> Result<StarterRole, StarterError> {
        let store = Arc::new(JobStore::open(pool, config.clone()).await?);
        let start = store.read_cursor(&config.consumer).await?;
        let trigger = Arc::new(TriggerContext {
            store: store.clone(),
            depsvc,
            consumer: config.consumer.clone(),
            job_available: Arc::new(Notify::new()),
            cursor: Mutex::new(CursorTracker::new(start)),
            queues: Mutex::new(HashMap::new()),
            shutdown,
        });
        Ok(StarterRole { shared: Arc::new(StarterShared { store, trigger, config }), indexer })
    }

    pub fn store(&self) -> Arc<JobStore> {
        self.shared.store.clone()
    }

    pub fn grpc_service(&self) -> StarterServer<StarterGrpc> {
        StarterServer::new(StarterGrpc { shared: self.shared.clone() })
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024)
    }

    /// Spawns the event consumer and the lease reaper.
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        let shared = self.shared;
        let consumer = tokio::spawn(shared.trigger.clone().consume_events(self.indexer));
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
        })
    }
}

/// Plans a campaign: the kickoff products (those fed by level 0) or the one named node, for
/// every day of the range. The jobs' outputs then trigger the rest of the graph in dependency
/// order, each new version carrying the campaign along.
pub async fn plan_campaign(
    shared: Arc<StarterShared>,
    request: ReprocessRequest,
    start: Date,
    end: Date,
) -> Result<ReprocessResponse, StarterError> {
    let graph = shared.trigger.depsvc.clone().get_graph(GetGraphRequest {}).await?.into_inner();
    let targets: Vec<ProductKey> = graph
        .products
        .iter()
        .filter(|product| request.instrument.is_empty() || product.instrument == request.instrument)
        .filter(|product| request.descriptor.is_empty() || product.descriptor == request.descriptor)
        .filter(|product| {
            if request.data_level.is_empty() {
                graph.edges.iter().any(|edge| {
                    edge.product.as_ref() == Some(*product) && edge.input.split_whitespace().nth(1) == Some("l0")
                })
            } else {
                product.data_level == request.data_level
            }
        })
        .cloned()
        .collect();
    if targets.is_empty() {
        return Err(StarterError::InvalidRequest("no product in the graph matches the campaign filters".into()));
    }
    let campaign_id = uuid::Uuid::now_v7().to_string();
    let days = (end.days_since_epoch() - start.days_since_epoch() + 1) as u32;
    let planned_runs = days * targets.len() as u32;
    shared.store.record_campaign(&campaign_id, &request, planned_runs, now_millis()).await?;
    tracing::info!(campaign = %campaign_id, planned_runs, "reprocessing campaign planned");
    let traceparent = proto::telemetry::current_traceparent();
    for offset in 0..days {
        let date = start.add_days(offset as i32).yyyymmdd();
        for product in &targets {
            let run = ProductRun { product: Some(product.clone()), time: Some(ProductTime { date: date.clone(), repointing: None }) };
            shared.trigger.enqueue(Candidate { seq: None, run, campaign_id: campaign_id.clone(), traceparent: traceparent.clone() });
        }
    }
    Ok(ReprocessResponse { campaign_id, planned_runs, jobs_created: 0 })
}
