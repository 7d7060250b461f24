//! Draining a processor against an in-process fake starter: asked to shut down while a job runs,
//! it tells the starter to lease it nothing more, gives back unstarted a job leased in the
//! meantime, lets the running job finish and reports it, and all its tasks end; a job that would
//! outlive the drain is cut off before the deadline and reported as retryable.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mesh_runtime::ShutdownSignal;
use mesh_runtime::role::Role;
use proto::clients::{IndexerClient, StarterClient, lazy_channel};
use proto::pb::starter_service_server::{StarterService, StarterServiceServer};
use proto::pb::*;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status, Streaming};

use crate::ProcessorConfig;
use crate::role::ProcessorRole;
use crate::science::{Algorithm, InputFile, JobContext, ProductOutput, Registry, ScienceError};
use crate::worker::WorkerShared;

/// What the fake starter saw, in order.
#[derive(Debug)]
enum Seen {
    Draining,
    Completion(CompleteJobRequest),
}

/// Leases `job-a` when a processor says hello and, if `late_job`, `job-b` right after the
/// processor says it drains (as a starter that had not read that message yet would).
struct FakeStarter {
    late_job: bool,
    seen: mpsc::UnboundedSender<Seen>,
}

fn job(id: &str) -> Job {
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
        let (late_job, seen) = (self.late_job, self.seen.clone());
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                match message.message {
                    Some(work_request::Message::Hello(_)) => {
                        let _ = sender.send(Ok(WorkResponse { job: Some(job("job-a")) })).await;
                    }
                    Some(work_request::Message::Draining(_)) => {
                        let _ = seen.send(Seen::Draining);
                        if late_job {
                            let _ = sender.send(Ok(WorkResponse { job: Some(job("job-b")) })).await;
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

/// Science that announces each job it starts and runs until released (or cut off), making nothing.
struct HeldScience {
    started: mpsc::UnboundedSender<String>,
    released: Arc<AtomicBool>,
}

impl Algorithm for HeldScience {
    fn name(&self) -> &str {
        "held"
    }

    fn run(&self, context: &JobContext, _: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        let _ = self.started.send(context.job_id.to_string());
        while !self.released.load(Ordering::SeqCst) {
            context.check_cancelled()?;
            std::thread::park_timeout(Duration::from_millis(5));
        }
        Ok(Vec::new())
    }
}

struct Setup {
    role: Arc<ProcessorRole>,
    tasks: TaskTracker,
    stop: ShutdownSignal,
    seen: mpsc::UnboundedReceiver<Seen>,
    started: mpsc::UnboundedReceiver<String>,
    released: Arc<AtomicBool>,
}

async fn processor_with_one_running_job(late_job: bool) -> Setup {
    let (seen_sender, seen) = mpsc::unbounded_channel();
    let router = tonic::transport::Server::builder()
        .add_service(StarterServiceServer::new(FakeStarter { late_job, seen: seen_sender }));
    let address = mesh_runtime::fakes::serve_on_free_port(router).await;
    let (started_sender, mut started) = mpsc::unbounded_channel();
    let released = Arc::new(AtomicBool::new(false));
    let mut registry = Registry::default();
    registry.register("*", "*", "*", Arc::new(HeldScience { started: started_sender, released: released.clone() }));
    let config = ProcessorConfig {
        slots: std::num::NonZeroU32::new(2),
        heartbeat_interval: Duration::from_millis(50),
        ..ProcessorConfig::default()
    };
    let archive = Arc::new(object_store::memory::InMemory::new());
    let tasks = TaskTracker::new();
    let shared = WorkerShared::new(
        &config,
        registry,
        archive,
        IndexerClient::new(lazy_channel(&address).unwrap()),
        StarterClient::new(lazy_channel(&address).unwrap()),
        tasks.clone(),
    )
    .unwrap();
    let (stop, shutdown) = ShutdownSignal::new();
    let role = Arc::new(ProcessorRole { shared: Arc::new(shared), shutdown });
    role.start(&tasks);
    assert_eq!(started.recv().await.as_deref(), Some("job-a"), "the leased job runs");
    Setup { role, tasks, stop, seen, started, released }
}

async fn next_completion(seen: &mut mpsc::UnboundedReceiver<Seen>) -> CompleteJobRequest {
    loop {
        match seen.recv().await.expect("the fake starter is alive") {
            Seen::Completion(report) => return report,
            Seen::Draining => {}
        }
    }
}

#[tokio::test]
async fn shutdown_finishes_and_reports_the_running_job_and_takes_no_new_one() {
    let mut setup = processor_with_one_running_job(true).await;
    setup.stop.trigger();
    let deadline = Instant::now() + Duration::from_secs(30);
    let role = setup.role.clone();
    let drain = tokio::spawn(async move { role.drain(deadline).await });

    assert!(matches!(setup.seen.recv().await, Some(Seen::Draining)), "the starter is told first");
    let given_back = next_completion(&mut setup.seen).await;
    assert_eq!(given_back.job_id, "job-b");
    assert!(given_back.not_started && !given_back.succeeded, "{given_back:?}");

    setup.released.store(true, Ordering::SeqCst);
    let finished = next_completion(&mut setup.seen).await;
    assert_eq!(finished.job_id, "job-a");
    assert!(finished.succeeded && !finished.not_started, "{finished:?}");

    drain.await.unwrap();
    setup.tasks.close();
    tokio::time::timeout_at(deadline, setup.tasks.wait()).await.expect("every task ends within the drain bound");
    assert!(setup.started.try_recv().is_err(), "the job leased while draining never ran");
    assert_eq!(setup.role.shared.running_count(), 0);
}

#[tokio::test]
async fn a_job_outliving_the_drain_is_cut_off_and_reported_retryable_before_the_deadline() {
    let mut setup = processor_with_one_running_job(false).await;
    setup.stop.trigger();
    let deadline = Instant::now() + Duration::from_secs(1);
    setup.role.drain(deadline).await;
    let cut_off = next_completion(&mut setup.seen).await;
    assert_eq!(cut_off.job_id, "job-a");
    assert!(!cut_off.succeeded && cut_off.retryable, "{cut_off:?}");
    assert!(cut_off.error.contains("cut off"), "{}", cut_off.error);
    setup.tasks.close();
    tokio::time::timeout_at(deadline, setup.tasks.wait()).await.expect("every task ends within the drain bound");
    setup.released.store(true, Ordering::SeqCst);
}
