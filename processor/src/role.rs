//! Build-then-start for the processor.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_runtime::Shutdown;
use object_store::ObjectStore;
use proto::clients::{IndexerClient, StarterClient};
use proto::pb::processor_service_server::ProcessorServiceServer;

use super::config::ProcessorConfig;
use super::error::ProcessorError;
use super::grpc::ProcessorGrpc;
use super::science::Registry;
use super::worker::WorkerShared;

pub struct ProcessorRole {
    shared: Arc<WorkerShared>,
}

impl ProcessorRole {
    pub fn create(
        config: ProcessorConfig,
        archive: Arc<dyn ObjectStore>,
        indexer: IndexerClient,
        starter: StarterClient,
    ) -> Result<ProcessorRole, ProcessorError> {
        let registry = Registry::from_config(&config)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.effective_cpu_threads())
            .thread_name(|index| format!("science-{index}"))
            .build()?;
        let worker_id =
            config.worker_id.clone().unwrap_or_else(|| format!("processor-{}", uuid::Uuid::now_v7().simple()));
        Ok(ProcessorRole {
            shared: Arc::new(WorkerShared {
                worker_id: worker_id.into(),
                slots: config.effective_slots(),
                heartbeat: Duration::from_secs(config.heartbeat_seconds.max(1)),
                registry,
                pool,
                archive,
                indexer,
                starter,
                running: Mutex::new(HashMap::new()),
                succeeded: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                outbound: Mutex::new(None),
            }),
        })
    }

    pub fn grpc_service(&self) -> ProcessorServiceServer<ProcessorGrpc> {
        ProcessorServiceServer::new(ProcessorGrpc { shared: self.shared.clone() })
    }

    pub fn start(self, shutdown: Shutdown) -> tokio::task::JoinHandle<()> {
        tokio::spawn(super::worker::run(self.shared, shutdown))
    }
}
