//! A panic in science (a library bug met on one crafted input) fails that job with the panic's
//! message, not retried, and the same processor goes on to run the next job; a panic in a loose
//! task on the science pool is logged and the pool keeps working.

use std::sync::Arc;
use std::time::Duration;

use mesh_runtime::ShutdownSignal;
use mesh_runtime::role::Role;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::pb::starter_service_server::StarterServiceServer;
use proto::pb::{FileRecord, Job, ResolvedInput};
use rayon::prelude::*;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use crate::ProcessorConfig;
use crate::fake_starter::{FakeStarter, job, next_completion, start_processor};
use crate::role::ProcessorRole;
use crate::science::{Algorithm, InputFile, JobContext, ProductOutput, Registry, ScienceError};

/// Stands for a decoder with a bug: an input starting with `CRAFTED` makes it index out of
/// bounds on a pool thread other than the job's own.
struct DecoderWithABug;

impl Algorithm for DecoderWithABug {
    fn name(&self) -> &str {
        "decoder-with-a-bug"
    }

    fn run(&self, _: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        inputs.par_iter().for_each(|input| {
            if input.bytes.starts_with(b"CRAFTED") {
                let lengths: Vec<usize> = Vec::new();
                let claimed = usize::from(input.bytes[7]);
                let _ = lengths[claimed];
            }
        });
        Ok(Vec::new())
    }
}

fn job_reading(id: &str, archive_key: &str) -> Job {
    let file = FileRecord { file_name: format!("{id}.pkts"), archive_key: archive_key.into(), ..Default::default() };
    Job { inputs: vec![ResolvedInput { files: vec![file], ..Default::default() }], ..job(id) }
}

async fn processor(
    jobs: Vec<Job>,
    archive: Arc<dyn ObjectStore>,
) -> (Arc<ProcessorRole>, mpsc::UnboundedReceiver<crate::fake_starter::Seen>, ShutdownSignal, TaskTracker) {
    let (seen_sender, seen) = mpsc::unbounded_channel();
    let starter = FakeStarter { on_hello: jobs, on_draining: Vec::new(), seen: seen_sender };
    let router = tonic::transport::Server::builder().add_service(StarterServiceServer::new(starter));
    let address = mesh_runtime::fakes::serve_on_free_port(router).await;
    let mut registry = Registry::default();
    registry.register("*", "*", "*", Arc::new(DecoderWithABug));
    let config = ProcessorConfig { slots: std::num::NonZeroU32::new(1), ..ProcessorConfig::default() };
    let tasks = TaskTracker::new();
    let (role, stop) = start_processor(&config, registry, archive, &address, &tasks);
    (role, seen, stop, tasks)
}

#[tokio::test]
async fn a_panicking_science_step_fails_its_job_with_the_message_and_the_next_job_runs() {
    let archive: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    archive.put(&ObjectPath::from("in/crafted"), b"CRAFTED\x05".to_vec().into()).await.unwrap();
    archive.put(&ObjectPath::from("in/fine"), b"ordinary packets".to_vec().into()).await.unwrap();
    let jobs = vec![job_reading("job-crafted", "in/crafted"), job_reading("job-fine", "in/fine")];
    let (role, mut seen, stop, tasks) = processor(jobs, archive).await;

    let deadline = Duration::from_secs(30);
    let mut reports = Vec::new();
    for _ in 0..2 {
        reports.push(tokio::time::timeout(deadline, next_completion(&mut seen)).await.expect("both jobs reported"));
    }
    reports.sort_by(|left, right| left.job_id.cmp(&right.job_id));
    let [crafted, fine] = &reports[..] else { unreachable!("two reports") };
    assert_eq!(crafted.job_id, "job-crafted");
    assert!(!crafted.succeeded && !crafted.retryable, "{crafted:?}");
    assert!(crafted.error.contains("science decoder-with-a-bug panicked"), "{}", crafted.error);
    assert!(crafted.error.contains("index out of bounds: the len is 0 but the index is 5"), "{}", crafted.error);
    assert_eq!(fine.job_id, "job-fine");
    assert!(fine.succeeded, "the same processor still runs science: {fine:?}");
    assert_eq!(role.shared.failed.load(std::sync::atomic::Ordering::SeqCst), 1);

    stop.trigger();
    role.drain(tokio::time::Instant::now() + deadline).await;
    tasks.close();
    tasks.wait().await;
}

#[tokio::test]
async fn a_loose_panic_on_the_science_pool_is_logged_and_the_pool_keeps_working() {
    let archive: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let (role, _seen, stop, tasks) = processor(Vec::new(), archive).await;
    let (done, finished) = tokio::sync::oneshot::channel();
    role.shared.pool.spawn(|| panic!("a loose task met a bug"));
    role.shared.pool.spawn(move || {
        let _ = done.send((0..4u32).into_par_iter().sum::<u32>());
    });
    assert_eq!(finished.await.expect("the pool still runs tasks"), 6);
    stop.trigger();
    role.drain(tokio::time::Instant::now() + Duration::from_secs(5)).await;
    tasks.close();
    tasks.wait().await;
}
