//! A permanent refusal never blocks an instrument's queue: a running starter role reads two
//! indexer events, each triggering two products of the same instrument; depsvc refuses one product
//! permanently (INVALID_ARGUMENT) and fails the other once transiently (UNAVAILABLE). The refused
//! evaluations are dead-lettered with their reason, the other product's jobs are made anyway (the
//! transient failure retried, not dead-lettered), and the cursor moves past both events. Runs on
//! SQLite and on PostgreSQL (ignored, with the reason, when the build saw no DATABASE_URL).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mesh_runtime::ShutdownSignal;
use mesh_runtime::archive::{ArchiveLocation, S3Config};
use mesh_runtime::config::MeshConfig;
use mesh_runtime::role::{BuildContext, NodeResources, Role};
use proto::clients::{ClientSettings, MeshClients, PeerAddresses};
use proto::pb::dependency_service_server::{DependencyService, DependencyServiceServer};
use proto::pb::indexer_service_server::{IndexerService, IndexerServiceServer};
use proto::pb::*;
use sqlx::AnyPool;
use starter::{JobFilter, JobStore, StarterConfig, StarterRole};
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

mesh_runtime::on_both_backends!(a_permanently_refused_evaluation_is_dead_lettered_and_the_queue_moves_on);

const DATES: [&str; 2] = ["20250101", "20250102"];

fn product(descriptor: &str) -> ProductKey {
    ProductKey { instrument: "mag".into(), data_level: "l1a".into(), descriptor: descriptor.into() }
}

include!("common/level0.rs");

fn level0(date: &str) -> FileRecord {
    level0_file("mag", date)
}

/// Every level-0 file triggers `mag l1a good` and `mag l1a refused`. The refused product is
/// refused permanently; the good one is ready, after one transient failure.
#[derive(Default)]
struct RefusingDepsvc {
    failed_once: AtomicBool,
}

#[tonic::async_trait]
impl DependencyService for RefusingDepsvc {
    async fn downstream(&self, request: Request<DownstreamRequest>) -> Result<Response<DownstreamResponse>, Status> {
        let date = request.into_inner().file.unwrap_or_default().start_date;
        let run = |descriptor| ProductRun {
            product: Some(product(descriptor)),
            time: Some(ProductTime { date: date.clone(), repointing: None }),
        };
        Ok(Response::new(DownstreamResponse { runs: vec![run("refused"), run("good")] }))
    }

    async fn resolve(&self, request: Request<ResolveRequest>) -> Result<Response<ResolveResponse>, Status> {
        let request = request.into_inner();
        if request.product.as_ref().is_some_and(|product| product.descriptor == "refused") {
            return Err(Status::invalid_argument("mag l1a refused has no algorithm in this graph"));
        }
        if !self.failed_once.swap(true, Ordering::SeqCst) {
            return Err(Status::unavailable("depsvc restarting"));
        }
        let date = request.time.unwrap_or_default().date;
        let input = ResolvedInput {
            source_type: SourceType::Science.into(),
            source: "mag l0 raw".into(),
            relationship: Relationship::Hard.into(),
            files: vec![level0(&date)],
        };
        Ok(Response::new(ResolveResponse { ready: true, inputs: vec![input], missing: Vec::new() }))
    }

    async fn get_graph(&self, _: Request<GetGraphRequest>) -> Result<Response<GetGraphResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<SubscribeEventsResponse, Status>> + Send>>;

/// An indexer whose log holds one level-0 file per date; the archive holds nothing else.
struct TwoEventIndexer;

#[tonic::async_trait]
impl IndexerService for TwoEventIndexer {
    type SubscribeEventsStream = EventStream;

    async fn subscribe_events(
        &self,
        request: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        let after = request.into_inner().after_seq;
        let events: Vec<Result<SubscribeEventsResponse, Status>> = DATES
            .iter()
            .zip(1u64..)
            .filter(|(_, seq)| *seq > after)
            .map(|(date, seq)| {
                Ok(SubscribeEventsResponse {
                    event: Some(FileEvent { seq, file: Some(level0(date)), traceparent: String::new() }),
                })
            })
            .collect();
        // The stream stays open after the log's end, as the real one does.
        let stream = tokio_stream::StreamExt::chain(tokio_stream::iter(events), tokio_stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }

    async fn query_files(&self, _: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
        Ok(Response::new(QueryFilesResponse { files: Vec::new(), ..Default::default() }))
    }

    async fn batch_query_files(
        &self,
        _: Request<BatchQueryFilesRequest>,
    ) -> Result<Response<BatchQueryFilesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn index_file(&self, _: Request<IndexFileRequest>) -> Result<Response<IndexFileResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn index_files(&self, _: Request<IndexFilesRequest>) -> Result<Response<IndexFilesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn get_file(&self, _: Request<GetFileRequest>) -> Result<Response<GetFileResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn list_quarantine(
        &self,
        _: Request<ListQuarantineRequest>,
    ) -> Result<Response<ListQuarantineResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }

    async fn release_files(&self, _: Request<ReleaseFilesRequest>) -> Result<Response<ReleaseFilesResponse>, Status> {
        Err(Status::unimplemented("not needed"))
    }
}

/// Polls `condition` until it holds, or panics after a generous deadline.
async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_permanently_refused_evaluation_is_dead_lettered_and_the_queue_moves_on(pool: AnyPool) {
    let router = tonic::transport::Server::builder()
        .add_service(DependencyServiceServer::new(RefusingDepsvc::default()))
        .add_service(IndexerServiceServer::new(TwoEventIndexer));
    let peers_url = mesh_runtime::fakes::serve_on_free_port(router).await;
    let peers = PeerAddresses {
        indexer: peers_url.clone(),
        depsvc: peers_url.clone(),
        starter: peers_url.clone(),
        processor: peers_url.clone(),
        gateway: peers_url,
    };
    // Only the stream's retries are under test here, not the client stack's own resends.
    let settings = ClientSettings {
        retry: proto::retry::RetryPolicy {
            max_attempts: Some(std::num::NonZeroU32::MIN),
            ..ClientSettings::default().retry
        },
        ..ClientSettings::default()
    };
    let unused = std::env::temp_dir().join("imap-sdc-starter-test-unused");
    let resources = NodeResources {
        data_dir: unused.clone(),
        database_url: "sqlite://unused".into(),
        archive_location: ArchiveLocation::Directory(unused),
        s3: S3Config::default(),
        clients: MeshClients::connect_lazy(&peers, &settings).unwrap(),
        mesh: MeshConfig::default(),
    };
    let (stop, shutdown) = ShutdownSignal::new();
    let tasks = TaskTracker::new();
    let context = BuildContext::new(resources, shutdown, tasks.clone()).with_database(pool);
    let role = StarterRole::create(StarterConfig::default(), &context).await.expect("starter builds");
    assert_eq!(context.opened(), (true, false), "the starter opens the database, never the archive");
    let store: Arc<JobStore> = role.store();
    role.start(&tasks);

    wait_until("both events handled", || {
        let store = store.clone();
        async move { store.read_cursor("starter").await.unwrap() == 2 }
    })
    .await;

    let jobs = store.list(&JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    let mut made: Vec<(String, String)> =
        jobs.iter().map(|job| (job.product.clone().unwrap().descriptor, job.time.clone().unwrap().date)).collect();
    made.sort();
    assert_eq!(
        made,
        [("good".to_string(), DATES[0].to_string()), ("good".to_string(), DATES[1].to_string())],
        "the good product flowed on both days, past the refused one queued before it"
    );

    let dead = store.dead_evaluations("mag", 0, "").await.unwrap().evaluations;
    assert_eq!(dead.len(), 2, "one refusal per day, the transient failure is not among them: {dead:?}");
    for evaluation in &dead {
        assert_eq!(evaluation.product, Some(product("refused")));
        assert_eq!(evaluation.step, "resolve");
        assert_eq!(evaluation.code, "invalid_argument");
        assert_eq!(evaluation.message, "mag l1a refused has no algorithm in this graph");
        assert!(evaluation.recorded_at.is_some());
    }
    let mut seqs: Vec<u64> = dead.iter().map(|evaluation| evaluation.event_seq).collect();
    seqs.sort();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(store.dead_evaluation_counts().await.unwrap(), [("mag".to_string(), 2)]);

    stop.trigger();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(30), tasks.wait()).await.expect("every task of the role ends at shutdown");
}
