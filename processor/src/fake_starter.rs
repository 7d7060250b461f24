//! A starter for processor tests: leases given jobs on the work stream and records what the
//! processor tells it.

use std::sync::Arc;

use mesh_runtime::ShutdownSignal;
use mesh_runtime::role::Role;
use proto::clients::{IndexerClient, StarterClient, lazy_channel};
use proto::pb::starter_service_server::StarterService;
use proto::pb::*;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};

use crate::ProcessorConfig;
use crate::role::ProcessorRole;
use crate::science::Registry;
use crate::worker::WorkerShared;

/// A processor running `registry` on `archive`, its starter and indexer at `address`, started on
/// `tasks`; trigger the returned signal to stop it.
pub(crate) fn start_processor(
    config: &ProcessorConfig,
    registry: Registry,
    archive: Arc<dyn object_store::ObjectStore>,
    address: &str,
    tasks: &TaskTracker,
) -> (Arc<ProcessorRole>, ShutdownSignal) {
    start_processor_on(config, registry, archive, None, address, tasks)
}

/// [`start_processor`] on an archive that is the local directory `archive_dir` (when set).
pub(crate) fn start_processor_on(
    config: &ProcessorConfig,
    registry: Registry,
    archive: Arc<dyn object_store::ObjectStore>,
    archive_dir: Option<std::path::PathBuf>,
    address: &str,
    tasks: &TaskTracker,
) -> (Arc<ProcessorRole>, ShutdownSignal) {
    let shared = WorkerShared::new(
        config,
        registry,
        archive,
        archive_dir,
        IndexerClient::new(lazy_channel(address).unwrap()),
        StarterClient::new(lazy_channel(address).unwrap()),
        tasks.clone(),
    )
    .unwrap();
    let (stop, shutdown) = ShutdownSignal::new();
    let role = Arc::new(ProcessorRole { shared: Arc::new(shared), shutdown });
    role.start(tasks);
    (role, stop)
}

/// What the fake starter saw, in order.
#[derive(Debug)]
pub(crate) enum Seen {
    Draining,
    Completion(CompleteJobRequest),
}

/// Leases `on_hello` when a processor says hello and `on_draining` right after the processor says
/// it drains (as a starter that had not read that message yet would).
pub(crate) struct FakeStarter {
    pub(crate) on_hello: Vec<Job>,
    pub(crate) on_draining: Vec<Job>,
    pub(crate) seen: mpsc::UnboundedSender<Seen>,
}

pub(crate) fn job(id: &str) -> Job {
    Job {
        id: id.into(),
        product: Some(ProductKey { instrument: "mag".into(), data_level: "l1a".into(), descriptor: "x".into() }),
        time: Some(ProductTime { date: "20250101".into(), repointing: None }),
        version: "v001.0001".into(),
        ..Default::default()
    }
}

#[tonic::async_trait]
impl StarterService for FakeStarter {
    type WorkStream = ReceiverStream<Result<WorkResponse, Status>>;

    async fn work(&self, request: Request<Streaming<WorkRequest>>) -> Result<Response<Self::WorkStream>, Status> {
        let (sender, receiver) = mpsc::channel(4);
        let (on_hello, on_draining, seen) = (self.on_hello.clone(), self.on_draining.clone(), self.seen.clone());
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                match message.message {
                    Some(work_request::Message::Hello(_)) => {
                        for job in &on_hello {
                            let _ = sender.send(Ok(WorkResponse { job: Some(job.clone()) })).await;
                        }
                    }
                    Some(work_request::Message::Draining(_)) => {
                        let _ = seen.send(Seen::Draining);
                        for job in &on_draining {
                            let _ = sender.send(Ok(WorkResponse { job: Some(job.clone()) })).await;
                        }
                    }
                    _ => {}
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    async fn complete_job(
        &self,
        request: Request<CompleteJobRequest>,
    ) -> Result<Response<CompleteJobResponse>, Status> {
        let _ = self.seen.send(Seen::Completion(request.into_inner()));
        Ok(Response::new(CompleteJobResponse::default()))
    }

    async fn fail_job(&self, _: Request<FailJobRequest>) -> Result<Response<FailJobResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn list_jobs(&self, _: Request<ListJobsRequest>) -> Result<Response<ListJobsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_job(&self, _: Request<GetJobRequest>) -> Result<Response<GetJobResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn start_reprocessing(
        &self,
        _: Request<StartReprocessingRequest>,
    ) -> Result<Response<StartReprocessingResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_queues(&self, _: Request<GetQueuesRequest>) -> Result<Response<GetQueuesResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn get_campaign(&self, _: Request<GetCampaignRequest>) -> Result<Response<GetCampaignResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }

    async fn list_dead_evaluations(
        &self,
        _: Request<ListDeadEvaluationsRequest>,
    ) -> Result<Response<ListDeadEvaluationsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
}

pub(crate) async fn next_completion(seen: &mut mpsc::UnboundedReceiver<Seen>) -> CompleteJobRequest {
    loop {
        match seen.recv().await.expect("the fake starter is alive") {
            Seen::Completion(report) => return report,
            Seen::Draining => {}
        }
    }
}
