//! Outputs are written create-only: a file that appeared under an output's key while the job ran
//! (an upload not yet indexed) is never replaced and the job fails saying so; the same bytes
//! already there are a repeated attempt and succeed. In a local archive directory the same holds
//! through the one-sync-round writer, and a name the indexer reports as another job's fails the job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_runtime::fakes::FakeIndexer;
use mesh_runtime::role::Role;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::pb::indexer_service_server::{IndexerService, IndexerServiceServer};
use proto::pb::starter_service_server::StarterServiceServer;
use proto::pb::*;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use crate::ProcessorConfig;
use crate::fake_starter::{FakeStarter, job, next_completion, start_processor, start_processor_on};
use crate::science::{Algorithm, InputFile, JobContext, ProductOutput, Registry, ScienceError};

const MADE: &[u8] = b"the job's product";

/// Makes one `x` product with the same bytes every time.
struct OneProduct;

impl Algorithm for OneProduct {
    fn name(&self) -> &str {
        "one-product"
    }

    fn run(&self, _: &JobContext, _: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        Ok(vec![ProductOutput {
            descriptor: "x".into(),
            data_level: None,
            extension: "cdf".into(),
            bytes: MADE.to_vec(),
            notes: Vec::new(),
        }])
    }
}

fn job_on(id: &str, date: &str) -> Job {
    Job { time: Some(ProductTime { date: date.into(), repointing: None }), ..job(id) }
}

fn key_on(date: &str) -> ObjectPath {
    ObjectPath::from(format!("imap/mag/l1a/{}/{}/imap_mag_l1a_x_{date}_v001.0001.cdf", &date[..4], &date[4..6]))
}

#[tokio::test]
async fn an_output_key_taken_meanwhile_fails_the_job_and_keeps_the_file_while_the_same_bytes_succeed() {
    let archive: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    archive.put(&key_on("20250101"), b"an upload that arrived mid-job".to_vec().into()).await.unwrap();
    archive.put(&key_on("20250102"), MADE.to_vec().into()).await.unwrap();

    let (seen_sender, mut seen) = mpsc::unbounded_channel();
    let jobs = vec![job_on("job-clash", "20250101"), job_on("job-repeat", "20250102")];
    let indexed = Arc::new(Mutex::new(Vec::new()));
    let router = tonic::transport::Server::builder()
        .add_service(StarterServiceServer::new(FakeStarter {
            on_hello: jobs,
            on_draining: Vec::new(),
            seen: seen_sender,
        }))
        .add_service(IndexerServiceServer::new(FakeIndexer { indexed: indexed.clone(), ..Default::default() }));
    let address = mesh_runtime::fakes::serve_on_free_port(router).await;
    let mut registry = Registry::default();
    registry.register("*", "*", "*", Arc::new(OneProduct));
    let config = ProcessorConfig { slots: std::num::NonZeroU32::new(1), ..ProcessorConfig::default() };
    let tasks = TaskTracker::new();
    let (role, stop) = start_processor(&config, registry, archive.clone(), &address, &tasks);

    let deadline = Duration::from_secs(30);
    let clash = tokio::time::timeout(deadline, next_completion(&mut seen)).await.expect("first job reported");
    assert_eq!(clash.job_id, "job-clash");
    assert!(!clash.succeeded && !clash.retryable, "{clash:?}");
    assert!(
        clash.error.contains("appeared in the archive with other content") && clash.error.contains("not overwritten"),
        "{}",
        clash.error
    );
    let kept = archive.get(&key_on("20250101")).await.unwrap().bytes().await.unwrap();
    assert_eq!(kept.as_ref(), b"an upload that arrived mid-job");

    let repeat = tokio::time::timeout(deadline, next_completion(&mut seen)).await.expect("second job reported");
    assert_eq!(repeat.job_id, "job-repeat");
    assert!(repeat.succeeded, "{repeat:?}");
    assert_eq!(*indexed.lock().unwrap(), [key_on("20250102").to_string()], "only the job's own file is indexed");

    stop.trigger();
    role.drain(tokio::time::Instant::now() + deadline).await;
    tasks.close();
    tasks.wait().await;
}

/// The fake indexer, except that it reports every file it indexes as `owner`'s product, as the
/// real one does for a name another job indexed first.
struct OwnedElsewhere {
    inner: FakeIndexer,
    owner: &'static str,
}

impl OwnedElsewhere {
    /// What the indexer answers for `archive_key`: tracked as `owner`'s product.
    fn record_of(&self, archive_key: &str) -> IndexFileResponse {
        let file_name = archive_key.rsplit('/').next().unwrap_or_default().to_string();
        let produced_by_job = self.owner.to_string();
        let record =
            FileRecord { file_name, archive_key: archive_key.to_string(), produced_by_job, ..Default::default() };
        IndexFileResponse { file: Some(record), ..Default::default() }
    }
}

#[tonic::async_trait]
impl IndexerService for OwnedElsewhere {
    type SubscribeEventsStream = <FakeIndexer as IndexerService>::SubscribeEventsStream;

    async fn index_file(&self, request: Request<IndexFileRequest>) -> Result<Response<IndexFileResponse>, Status> {
        self.inner.index_file(request).await
    }

    async fn index_files(&self, request: Request<IndexFilesRequest>) -> Result<Response<IndexFilesResponse>, Status> {
        let results = request.into_inner().files.iter().map(|file| self.record_of(&file.archive_key)).collect();
        Ok(Response::new(IndexFilesResponse { results }))
    }

    async fn subscribe_events(
        &self,
        request: Request<SubscribeEventsRequest>,
    ) -> Result<Response<Self::SubscribeEventsStream>, Status> {
        self.inner.subscribe_events(request).await
    }

    async fn query_files(&self, request: Request<QueryFilesRequest>) -> Result<Response<QueryFilesResponse>, Status> {
        self.inner.query_files(request).await
    }

    async fn batch_query_files(
        &self,
        request: Request<BatchQueryFilesRequest>,
    ) -> Result<Response<BatchQueryFilesResponse>, Status> {
        self.inner.batch_query_files(request).await
    }

    async fn get_file(&self, request: Request<GetFileRequest>) -> Result<Response<GetFileResponse>, Status> {
        self.inner.get_file(request).await
    }

    async fn list_quarantine(
        &self,
        request: Request<ListQuarantineRequest>,
    ) -> Result<Response<ListQuarantineResponse>, Status> {
        self.inner.list_quarantine(request).await
    }

    async fn release_files(
        &self,
        request: Request<ReleaseFilesRequest>,
    ) -> Result<Response<ReleaseFilesResponse>, Status> {
        self.inner.release_files(request).await
    }
}

/// Runs `jobs` on a processor whose archive is the local directory `root`, with `indexer`;
/// returns the reports in order.
async fn run_on_directory<I: IndexerService>(
    root: &std::path::Path,
    jobs: Vec<Job>,
    indexer: I,
) -> Vec<CompleteJobRequest> {
    let store = object_store::local::LocalFileSystem::new_with_prefix(root).unwrap().with_fsync(true);
    let archive: Arc<dyn ObjectStore> = Arc::new(store);
    let count = jobs.len();
    let (seen_sender, mut seen) = mpsc::unbounded_channel();
    let router = tonic::transport::Server::builder()
        .add_service(StarterServiceServer::new(FakeStarter {
            on_hello: jobs,
            on_draining: Vec::new(),
            seen: seen_sender,
        }))
        .add_service(IndexerServiceServer::new(indexer));
    let address = mesh_runtime::fakes::serve_on_free_port(router).await;
    let mut registry = Registry::default();
    registry.register("*", "*", "*", Arc::new(OneProduct));
    let config = ProcessorConfig { slots: std::num::NonZeroU32::new(1), ..ProcessorConfig::default() };
    let tasks = TaskTracker::new();
    let (role, stop) = start_processor_on(&config, registry, archive, Some(root.to_path_buf()), &address, &tasks);
    let deadline = Duration::from_secs(30);
    let mut reports = Vec::new();
    for _ in 0..count {
        reports.push(tokio::time::timeout(deadline, next_completion(&mut seen)).await.expect("job reported"));
    }
    stop.trigger();
    role.drain(tokio::time::Instant::now() + deadline).await;
    tasks.close();
    tasks.wait().await;
    reports
}

#[tokio::test]
async fn in_a_local_archive_a_clash_keeps_the_file_indexes_nothing_and_a_repeat_succeeds() {
    let root = tempfile::tempdir().unwrap();
    let path_of = |date: &str| root.path().join(key_on(date).as_ref());
    for (date, bytes) in [("20250101", &b"an upload that arrived mid-job"[..]), ("20250102", MADE)] {
        std::fs::create_dir_all(path_of(date).parent().unwrap()).unwrap();
        std::fs::write(path_of(date), bytes).unwrap();
    }
    let indexed = Arc::new(Mutex::new(Vec::new()));
    let indexer = FakeIndexer { indexed: indexed.clone(), ..Default::default() };
    let jobs = vec![job_on("job-clash", "20250101"), job_on("job-repeat", "20250102"), job_on("job-new", "20250103")];
    let mut reports = run_on_directory(root.path(), jobs, indexer).await;
    reports.sort_by(|one, other| one.job_id.cmp(&other.job_id));
    let [clash, new, repeat] = &reports[..] else { panic!("three reports: {reports:?}") };

    assert!(!clash.succeeded && !clash.retryable, "{clash:?}");
    assert!(clash.error.contains("appeared in the archive with other content"), "{}", clash.error);
    assert_eq!(std::fs::read(path_of("20250101")).unwrap(), b"an upload that arrived mid-job");
    assert!(repeat.succeeded && new.succeeded, "{reports:?}");
    assert_eq!(std::fs::read(path_of("20250103")).unwrap(), MADE);
    let mut indexed = indexed.lock().unwrap().clone();
    indexed.sort();
    assert_eq!(indexed, [key_on("20250102").to_string(), key_on("20250103").to_string()], "only written files");
    let record = |date: &str| root.path().join(proto::provenance::record_key(key_on(date).as_ref()));
    assert!(!record("20250101").exists(), "the clashing file gets no record of this job");
    let provenance = proto::provenance::ProductProvenance::from_json(&std::fs::read(record("20250103")).unwrap());
    assert_eq!(provenance.unwrap().job_id, "job-new");
    let leftovers: Vec<_> = std::fs::read_dir(path_of("20250103").parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.contains('#'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[tokio::test]
async fn in_a_local_archive_a_name_the_indexer_reports_as_another_jobs_fails_the_job_as_taken() {
    let root = tempfile::tempdir().unwrap();
    let indexer = OwnedElsewhere { inner: FakeIndexer::default(), owner: "job-first" };
    let reports = run_on_directory(root.path(), vec![job_on("job-second", "20250104")], indexer).await;
    let report = &reports[0];
    assert!(!report.succeeded && !report.retryable, "{report:?}");
    assert!(report.error.contains("another producer's file") && report.error.contains("job-first"), "{}", report.error);
}
