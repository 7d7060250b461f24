//! Outputs are written create-only: a file that appeared under an output's key while the job ran
//! (an upload not yet indexed) is never replaced and the job fails saying so; the same bytes
//! already there are a repeated attempt and succeed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh_runtime::fakes::FakeIndexer;
use mesh_runtime::role::Role;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::pb::indexer_service_server::IndexerServiceServer;
use proto::pb::starter_service_server::StarterServiceServer;
use proto::pb::{Job, ProductTime};
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::ProcessorConfig;
use crate::fake_starter::{FakeStarter, job, next_completion, start_processor};
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
