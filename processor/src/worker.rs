//! The processor's connection to the starter and the life of one job: fetch inputs, run the
//! science on the CPU pool, write outputs atomically, index them with provenance, report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imap_filename::Date;
use imap_filename::{ScienceFamily, ScienceFileName, ScienceNameInputs, Version};
use mesh_runtime::Shutdown;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use proto::clients::{IndexerClient, StarterClient};
use proto::ids::{JobId, WorkerId};
use proto::pb::{
    CompleteJobRequest, GetFileRequest, Heartbeat, IndexFileRequest, Job, WorkRequest, WorkerHello, work_request,
};
use proto::trace::adopt_parent;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tracing::Instrument;

use super::error::ProcessorError;
use super::science::{InputFile, JobContext, Registry};

/// A running job's cancel switch.
pub struct RunningJob {
    pub cancelled: Arc<AtomicBool>,
    pub cancel_signal: Arc<Notify>,
}

/// State shared by the worker loop, the job tasks and the gRPC handlers.
pub struct WorkerShared {
    pub worker_id: WorkerId,
    pub slots: u32,
    pub heartbeat: Duration,
    pub registry: Registry,
    pub pool: rayon::ThreadPool,
    pub archive: Arc<dyn ObjectStore>,
    pub indexer: IndexerClient,
    pub starter: StarterClient,
    pub running: Mutex<HashMap<JobId, RunningJob>>,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    /// Where credits for freed slots go: the current work stream, replaced on reconnect.
    pub outbound: Mutex<Option<mpsc::Sender<WorkRequest>>>,
}

impl WorkerShared {
    fn running_ids(&self) -> Vec<JobId> {
        self.running.lock().expect("running lock").keys().cloned().collect()
    }

    /// Frees a finished job's slot. Removing it from `running` and sending the credit happen under
    /// the outbound lock, the same lock a reconnect holds while it counts free slots for its hello,
    /// so a slot is counted exactly once: either in the hello or as a credit.
    fn release_slot(&self, job_id: &JobId) {
        let outbound = self.outbound.lock().expect("outbound lock");
        self.running.lock().expect("running lock").remove(job_id);
        if let Some(sender) = outbound.as_ref() {
            let _ = sender.try_send(WorkRequest { message: Some(work_request::Message::Credit(1)) });
        }
    }

    fn send(&self, message: work_request::Message) {
        if let Some(sender) = self.outbound.lock().expect("outbound lock").as_ref() {
            let _ = sender.try_send(WorkRequest { message: Some(message) });
        }
    }
}

/// Stays connected to the starter until shutdown, reconnecting after any failure.
pub async fn run(shared: Arc<WorkerShared>, shutdown: Shutdown) {
    let mut delay = Duration::from_millis(100);
    loop {
        let (sender, receiver) = mpsc::channel(64);
        {
            let mut outbound = shared.outbound.lock().expect("outbound lock");
            let free_slots = shared.slots.saturating_sub(shared.running_ids().len() as u32);
            let hello = WorkerHello { worker_id: shared.worker_id.to_string(), slots: free_slots };
            let _ = sender.try_send(WorkRequest { message: Some(work_request::Message::Hello(hello)) });
            *outbound = Some(sender);
        }
        match shared.starter.clone().work(ReceiverStream::new(receiver)).await {
            Ok(response) => {
                delay = Duration::from_millis(100);
                tracing::info!(worker = %shared.worker_id, "connected to starter");
                let mut assignments = response.into_inner();
                let mut heartbeat = tokio::time::interval(shared.heartbeat);
                loop {
                    tokio::select! {
                        message = assignments.message() => match message {
                            Ok(Some(assignment)) => {
                                if let Some(job) = assignment.job {
                                    tokio::spawn(execute(shared.clone(), job));
                                }
                            }
                            Ok(None) => break,
                            Err(status) => {
                                tracing::warn!(error = %status.message(), "work stream broke");
                                break;
                            }
                        },
                        _ = heartbeat.tick() => {
                            let job_ids: Vec<String> = shared.running_ids().into_iter().map(String::from).collect();
                            if !job_ids.is_empty() {
                                shared.send(work_request::Message::Heartbeat(Heartbeat { job_ids }));
                            }
                        }
                        _ = shutdown.wait() => return,
                    }
                }
            }
            Err(status) => tracing::warn!(error = %status.message(), "starter unavailable, retrying"),
        }
        *shared.outbound.lock().expect("outbound lock") = None;
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => return,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn execute(shared: Arc<WorkerShared>, job: Job) {
    let job_id = job.job_id();
    let product = job.product.clone().unwrap_or_default();
    let span = tracing::info_span!(
        "processor.run_job",
        job = %job_id,
        product = %product,
    );
    adopt_parent(&span, &job.traceparent);
    async {
        let cancelled = Arc::new(AtomicBool::new(false));
        let cancel_signal = Arc::new(Notify::new());
        shared
            .running
            .lock()
            .expect("running lock")
            .insert(job_id.clone(), RunningJob { cancelled: cancelled.clone(), cancel_signal: cancel_signal.clone() });
        let outcome = tokio::select! {
            outcome = run_job(&shared, &job, cancelled.clone()) => outcome,
            _ = cancel_signal.notified() => Err(ProcessorError::Cancelled),
        };
        let report = match &outcome {
            Ok(result) => {
                shared.succeeded.fetch_add(1, Ordering::Relaxed);
                tracing::info!(outputs = result.outputs.len(), notes = result.notes.len(), "job succeeded");
                let mut log = format!("wrote {}", result.outputs.join(", "));
                for note in &result.notes {
                    log.push('\n');
                    log.push_str(note);
                }
                CompleteJobRequest {
                    job_id: job_id.to_string(),
                    worker_id: shared.worker_id.to_string(),
                    succeeded: true,
                    outputs: result.outputs.clone(),
                    log,
                    ..Default::default()
                }
            }
            Err(error) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "job failed");
                CompleteJobRequest {
                    job_id: job_id.to_string(),
                    worker_id: shared.worker_id.to_string(),
                    succeeded: false,
                    retryable: error.is_retryable(),
                    error: error.to_string(),
                    ..Default::default()
                }
            }
        };
        // The job stays in `running` (and heartbeated) until its end has been reported.
        report_completion(&shared, report).await;
        shared.release_slot(&job_id);
    }
    .instrument(span)
    .await
}

/// The starter must hear about the end of a job; if it cannot, the lease expires and the job
/// runs again (outputs are idempotent), so a few retries are enough.
async fn report_completion(shared: &WorkerShared, report: CompleteJobRequest) {
    let mut delay = Duration::from_millis(200);
    for _ in 0..8 {
        match shared.starter.clone().complete_job(report.clone()).await {
            Ok(_) => return,
            Err(status) => tracing::warn!(error = %status.message(), "completion not delivered, retrying"),
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    tracing::error!(job = %report.job_id, "completion never delivered; the lease will expire");
}

/// What a finished job wrote, and what its science noticed along the way (e.g. corrupt packets).
struct JobResult {
    outputs: Vec<String>,
    notes: Vec<String>,
}

async fn run_job(shared: &WorkerShared, job: &Job, cancelled: Arc<AtomicBool>) -> Result<JobResult, ProcessorError> {
    let product = job.product.clone().unwrap_or_default();
    let time = job.time.clone().unwrap_or_default();
    let date = Date::parse_yyyymmdd(&time.date)
        .map_err(|error| super::science::ScienceError::Failed(format!("job has a bad date: {error}")))?;
    let algorithm = shared.registry.select(&product).ok_or_else(|| ProcessorError::NoAlgorithm(product.to_string()))?;

    let mut inputs = Vec::new();
    for record in job.inputs.iter().flat_map(|input| input.files.iter()) {
        let bytes = shared.archive.get(&ObjectPath::from(record.archive_key.as_str())).await?.bytes().await?;
        inputs.push(InputFile { record: record.clone(), bytes: bytes.to_vec() });
    }
    let parent_files: Vec<String> = inputs.iter().map(|input| input.record.file_name.clone()).collect();

    let context = JobContext::new(job.job_id(), product.clone(), date, time.repointing, job.version.clone(), cancelled);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let science_span = tracing::info_span!("processor.science", algorithm = algorithm.name());
    shared.pool.spawn(move || {
        let _entered = science_span.enter();
        let _ = sender.send(algorithm.run(&context, &inputs));
    });
    let products = receiver.await.map_err(|_| ProcessorError::PoolTaskLost)??;

    let mut written = Vec::new();
    let mut notes = Vec::new();
    for output in products {
        let version: Version = job.version.parse()?;
        let name = ScienceFileName::generate(&ScienceNameInputs {
            family: ScienceFamily::Science,
            instrument: &product.instrument,
            data_level: &product.data_level,
            descriptor: &output.descriptor,
            start_date: date,
            version,
            extension: &output.extension,
            repointing: time.repointing,
            cr: None,
        })?;
        let key = name.archive_path();
        refuse_foreign_output(shared, &name.file_name(), &job.job_id()).await?;
        // A put is atomic (a temporary file renamed locally; an S3 object appears whole): no
        // half-written file is ever visible.
        shared.archive.put(&ObjectPath::from(key.as_str()), output.bytes.into()).await?;
        let request =
            IndexFileRequest { archive_key: key, produced_by_job: job.id.clone(), parent_files: parent_files.clone() };
        with_indexer_retries(|| {
            let mut indexer = shared.indexer.clone();
            let request = request.clone();
            async move { indexer.index_file(request).await }
        })
        .await?;
        written.push(name.file_name());
        notes.extend(output.notes);
    }
    Ok(JobResult { outputs: written, notes })
}

/// An output name already tracked as another job's file is never overwritten. One tracked as this
/// job's own, or with no producer yet (an earlier attempt of this job that crashed before indexing
/// was found by the archive rescan), is replaced. Job versions start above every version already
/// tracked, so a team's uploaded file cannot carry this job's name unless it arrived mid-job.
async fn refuse_foreign_output(shared: &WorkerShared, file_name: &str, job_id: &JobId) -> Result<(), ProcessorError> {
    let lookup = with_indexer_retries(|| {
        let mut indexer = shared.indexer.clone();
        let request = GetFileRequest { file_name: file_name.to_string() };
        async move { indexer.get_file(request).await }
    })
    .await;
    match lookup.map(|response| response.file.unwrap_or_default()) {
        Ok(existing) if !existing.produced_by_job.is_empty() && existing.produced_by_job != job_id.as_str() => {
            Err(ProcessorError::OutputTaken { file: file_name.to_string(), owner: existing.produced_by_job })
        }
        Ok(_) => Ok(()),
        Err(ProcessorError::Peer(status)) if status.code() == tonic::Code::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Indexer calls ride out a short indexer restart instead of failing (and soon dead-lettering)
/// a job whose outputs are already written.
async fn with_indexer_retries<T, F, Fut>(mut call: F) -> Result<T, ProcessorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let mut delay = Duration::from_millis(100);
    let mut attempts = 0;
    loop {
        match call().await {
            Ok(response) => return Ok(response.into_inner()),
            Err(status) if is_transient(&status) && attempts < 12 => {
                tracing::warn!(error = %status.message(), "indexer unavailable, retrying");
            }
            Err(status) => return Err(status.into()),
        }
        attempts += 1;
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
    )
}
