//! The processor's connection to the starter and the life of one job: fetch inputs, run the
//! science on the CPU pool, write outputs atomically, index them with provenance, report.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
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
    CompleteJobRequest, Heartbeat, IndexFileRequest, IndexFilesRequest, Job, WorkRequest, WorkResponse, WorkerDraining,
    WorkerHello, work_request,
};
use proto::retry::{NeverStop, Outcome, RetryPolicy};
use proto::trace::adopt_parent;
use tokio::sync::{Notify, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::error::ProcessorError;
use super::outputs::Output;
use super::science::{InputFile, JobContext, Registry};

/// The work stream to the starter is opened again whatever ended it, until shutdown.
const STREAM_RECONNECT: RetryPolicy =
    RetryPolicy::until_stopped(Duration::from_millis(100), Duration::from_secs(5)).retrying_every_error();

/// A job's end must reach the starter; when it never does, the lease expires and the job runs
/// again (outputs are idempotent), so a bounded number of attempts is enough. Shutdown does not
/// stop it: reporting is the in-flight work a drain waits for.
const REPORT_RETRY: RetryPolicy =
    RetryPolicy::attempts(NonZeroU32::new(8).expect("not zero"), Duration::from_millis(200), Duration::from_secs(5));

/// Indexer calls ride out a short indexer restart instead of failing (and soon dead-lettering) a
/// job whose outputs are already written.
const INDEXER_RETRY: RetryPolicy =
    RetryPolicy::attempts(NonZeroU32::new(13).expect("not zero"), Duration::from_millis(100), Duration::from_secs(5));

/// A running job's switches: an operator's cancel, and the cut-off at the end of a drain.
pub struct RunningJob {
    pub cancelled: Arc<AtomicBool>,
    pub cancel_signal: Arc<Notify>,
    pub cut_off_signal: Arc<Notify>,
}

/// State shared by the worker loop, the job tasks and the gRPC handlers.
pub struct WorkerShared {
    pub worker_id: WorkerId,
    pub slots: u32,
    pub heartbeat: Duration,
    pub registry: Registry,
    pub pool: rayon::ThreadPool,
    pub archive: Arc<dyn ObjectStore>,
    /// The archive's folder when it is a local directory: outputs are then written straight to
    /// it, in one sync round per job (see [`crate::outputs`]).
    pub archive_dir: Option<PathBuf>,
    pub indexer: IndexerClient,
    pub starter: StarterClient,
    pub running: Mutex<HashMap<JobId, RunningJob>>,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    /// Where credits for freed slots go: the current work stream, replaced on reconnect.
    pub outbound: Mutex<Option<mpsc::Sender<WorkRequest>>>,
    /// Set at shutdown: freed slots are not offered again, jobs still arriving are given back.
    pub draining: AtomicBool,
    /// Woken whenever a job ends, so a drain can wait for the last one.
    pub job_ended: Notify,
    /// Jobs run here, so the node waits for them at shutdown.
    pub tasks: TaskTracker,
}

impl WorkerShared {
    fn running_ids(&self) -> Vec<JobId> {
        self.running.lock().expect("running lock").keys().cloned().collect()
    }

    pub fn running_count(&self) -> usize {
        self.running.lock().expect("running lock").len()
    }

    /// Frees a finished job's slot. Removing it from `running` and sending the credit happen under
    /// the outbound lock, the same lock a reconnect holds while it counts free slots for its hello,
    /// so a slot is counted exactly once: either in the hello or as a credit. A draining worker
    /// offers no slot again.
    fn release_slot(&self, job_id: &JobId) {
        {
            let outbound = self.outbound.lock().expect("outbound lock");
            self.running.lock().expect("running lock").remove(job_id);
            if let Some(sender) = outbound.as_ref()
                && !self.draining.load(Ordering::SeqCst)
            {
                let _ = sender.try_send(WorkRequest { message: Some(work_request::Message::Credit(1)) });
            }
        }
        self.job_ended.notify_waiters();
    }

    fn send(&self, message: work_request::Message) {
        if let Some(sender) = self.outbound.lock().expect("outbound lock").as_ref() {
            let _ = sender.try_send(WorkRequest { message: Some(message) });
        }
    }

    /// Resolves once no job runs here.
    pub async fn wait_for_running_jobs(&self) {
        loop {
            let job_ended = self.job_ended.notified();
            if self.running_count() == 0 {
                return;
            }
            job_ended.await;
        }
    }

    /// Cuts off every job still running: each ends at once and is reported as cut off.
    pub fn cut_off_running_jobs(&self) {
        for job in self.running.lock().expect("running lock").values() {
            // Signalled before the science can see the flag, so the job's task finds the cut-off
            // whenever it wakes.
            job.cut_off_signal.notify_one();
            job.cancelled.store(true, Ordering::Release);
        }
    }
}

/// Stays connected to the starter until shutdown, reconnecting after any failure. At shutdown it
/// tells the starter to lease it nothing more and keeps heartbeating the jobs it still runs until
/// the last one has ended.
pub async fn run(shared: Arc<WorkerShared>, shutdown: Shutdown) {
    let mut reconnect = STREAM_RECONNECT.backoff();
    loop {
        let (sender, receiver) = mpsc::channel(64);
        {
            let mut outbound = shared.outbound.lock().expect("outbound lock");
            let free_slots = shared.slots.saturating_sub(shared.running_ids().len() as u32);
            let hello = WorkerHello { worker_id: shared.worker_id.to_string(), slots: free_slots };
            let _ = sender.try_send(WorkRequest { message: Some(work_request::Message::Hello(hello)) });
            *outbound = Some(sender);
        }
        let ended = match shared.starter.clone().work(ReceiverStream::new(receiver)).await {
            Ok(response) => {
                reconnect.reset();
                tracing::info!(worker = %shared.worker_id, "connected to starter");
                serve_assignments(&shared, response.into_inner(), &shutdown).await
            }
            Err(status) => {
                tracing::warn!(error = %status.message(), "starter unavailable, retrying");
                StreamEnd::Broken
            }
        };
        *shared.outbound.lock().expect("outbound lock") = None;
        if ended == StreamEnd::Drained || !reconnect.wait(&shutdown).await {
            // Jobs still running report over their own calls; the drain waits for them.
            return;
        }
    }
}

/// Why a work stream was left.
#[derive(Debug, PartialEq, Eq)]
enum StreamEnd {
    /// It broke or the starter closed it: connect again.
    Broken,
    /// Shutdown: the last running job has ended, or the starter closed the stream meanwhile.
    Drained,
}

async fn serve_assignments(
    shared: &Arc<WorkerShared>,
    mut assignments: tonic::Streaming<WorkResponse>,
    shutdown: &Shutdown,
) -> StreamEnd {
    let mut heartbeat = tokio::time::interval(shared.heartbeat);
    loop {
        let draining = shared.draining.load(Ordering::SeqCst);
        if draining && shared.running_count() == 0 {
            return StreamEnd::Drained;
        }
        let job_ended = shared.job_ended.notified();
        tokio::select! {
            biased;
            _ = shutdown.wait(), if !draining => {
                shared.draining.store(true, Ordering::SeqCst);
                shared.send(work_request::Message::Draining(WorkerDraining {}));
                tracing::info!(running = shared.running_count(), "draining: no new jobs, finishing the running ones");
            }
            message = assignments.message() => match message {
                Ok(Some(WorkResponse { job: Some(job) })) if draining => {
                    // Leased before the starter heard that this worker drains.
                    shared.tasks.spawn(give_back(shared.clone(), job));
                }
                Ok(Some(WorkResponse { job: Some(job) })) => {
                    shared.tasks.spawn(execute(shared.clone(), job));
                }
                Ok(Some(WorkResponse { job: None })) => {}
                Ok(None) | Err(_) if draining => return StreamEnd::Drained,
                Ok(None) => return StreamEnd::Broken,
                Err(status) => {
                    tracing::warn!(error = %status.message(), "work stream broke");
                    return StreamEnd::Broken;
                }
            },
            _ = heartbeat.tick() => {
                let job_ids: Vec<String> = shared.running_ids().into_iter().map(String::from).collect();
                if !job_ids.is_empty() {
                    shared.send(work_request::Message::Heartbeat(Heartbeat { job_ids }));
                }
            }
            _ = job_ended => {}
        }
    }
}

/// Hands a job that arrived while draining back to the starter unstarted: queued again at once,
/// the attempt not counted.
async fn give_back(shared: Arc<WorkerShared>, job: Job) {
    tracing::info!(job = %job.job_id(), "draining: job given back unstarted");
    let report = CompleteJobRequest {
        job_id: job.id.clone(),
        worker_id: shared.worker_id.to_string(),
        not_started: true,
        error: "processor shutting down".into(),
        ..Default::default()
    };
    report_completion(&shared, report).await;
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
        let cut_off_signal = Arc::new(Notify::new());
        let switches = RunningJob {
            cancelled: cancelled.clone(),
            cancel_signal: cancel_signal.clone(),
            cut_off_signal: cut_off_signal.clone(),
        };
        shared.running.lock().expect("running lock").insert(job_id.clone(), switches);
        // A cut-off comes first: its science stops on the same flag as a cancelled job's and may
        // end first, and the job must be reported retryable, not as cancelled by an operator.
        let outcome = tokio::select! {
            biased;
            _ = cut_off_signal.notified() => Err(ProcessorError::CutOffByShutdown),
            outcome = run_job(&shared, &job, cancelled.clone()) => outcome,
            _ = cancel_signal.notified() => Err(ProcessorError::Cancelled),
        };
        let report = match &outcome {
            Ok(result) => {
                shared.succeeded.fetch_add(1, Ordering::Relaxed);
                tracing::info!(outputs = result.outputs.len(), notes = result.notes.len(), "job succeeded");
                let mut log = format!("wrote {}\n{}", result.outputs.join(", "), result.timing.log_line());
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
                    log: error.program_log().unwrap_or_default().to_string(),
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

/// Tells the starter how a job ended, within [`REPORT_RETRY`]; when it never hears, the lease
/// expires and the job runs again.
async fn report_completion(shared: &WorkerShared, report: CompleteJobRequest) {
    let delivered = REPORT_RETRY
        .run("complete job", &NeverStop, || {
            let mut starter = shared.starter.clone();
            let report = report.clone();
            async move { starter.complete_job(report).await }
        })
        .await;
    match delivered {
        Outcome::Done(_) => {}
        Outcome::Refused(status) => {
            tracing::error!(job = %report.job_id, error = %status.message(), "starter refused the completion")
        }
        Outcome::Exhausted(_) | Outcome::Stopped => {
            tracing::error!(job = %report.job_id, "completion never delivered; the lease will expire")
        }
    }
}

/// What a finished job wrote, and what its science noticed along the way (e.g. corrupt packets).
struct JobResult {
    outputs: Vec<String>,
    notes: Vec<String>,
    timing: JobTiming,
}

async fn run_job(shared: &WorkerShared, job: &Job, cancelled: Arc<AtomicBool>) -> Result<JobResult, ProcessorError> {
    let product = job.product.clone().unwrap_or_default();
    let time = job.time.clone().unwrap_or_default();
    let date = Date::parse_yyyymmdd(&time.date)
        .map_err(|error| super::science::ScienceError::Failed(format!("job has a bad date: {error}")))?;
    let algorithm = shared.registry.select(&product).ok_or_else(|| ProcessorError::NoAlgorithm(product.to_string()))?;

    let mut timing = JobTiming::default();
    let mut clock = std::time::Instant::now();
    let mut inputs = Vec::new();
    for record in job.inputs.iter().flat_map(|input| input.files.iter()) {
        let bytes = shared.archive.get(&ObjectPath::from(record.archive_key.as_str())).await?.bytes().await?;
        inputs.push(InputFile { record: record.clone(), bytes: bytes.to_vec() });
    }
    let parent_files: Vec<String> = inputs.iter().map(|input| input.record.file_name.clone()).collect();

    let context = JobContext::new(job.job_id(), product.clone(), date, time.repointing, job.version.clone(), cancelled);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let science_span = tracing::info_span!("processor.science", algorithm = algorithm.name());
    timing.read_inputs = clock.elapsed();
    clock = std::time::Instant::now();
    shared.pool.spawn(move || {
        let _entered = science_span.enter();
        let started = std::time::Instant::now();
        let products = super::science::run_catching_panics(&*algorithm, &context, &inputs);
        let _ = sender.send((products, started.elapsed()));
    });
    let (products, science) = receiver.await.map_err(|_| ProcessorError::PoolTaskLost)?;
    let products = products?;
    // Time spent waiting for a pool thread is queueing, not science.
    timing.queued = clock.elapsed().saturating_sub(science);
    timing.science = science;

    let version: Version = job.version.parse()?;
    let mut outputs = Vec::with_capacity(products.len());
    let mut notes = Vec::new();
    for mut output in products {
        let name = ScienceFileName::generate(&ScienceNameInputs {
            family: ScienceFamily::Science,
            instrument: &product.instrument,
            data_level: output.data_level.as_deref().unwrap_or(&product.data_level),
            descriptor: &output.descriptor,
            start_date: date,
            version,
            extension: &output.extension,
            repointing: time.repointing,
            cr: None,
        })?;
        notes.append(&mut output.notes);
        outputs.push(Output { file_name: name.file_name(), key: name.archive_path(), bytes: output.bytes });
    }
    let file_names: Vec<String> = outputs.iter().map(|output| output.file_name.clone()).collect();
    let keys: Vec<String> = outputs.iter().map(|output| output.key.clone()).collect();
    crate::outputs::store(shared, job, outputs, &mut timing).await?;

    clock = std::time::Instant::now();
    let request = IndexFilesRequest {
        files: keys
            .into_iter()
            .map(|archive_key| IndexFileRequest {
                archive_key,
                produced_by_job: job.id.clone(),
                parent_files: parent_files.clone(),
            })
            .collect(),
    };
    if !request.files.is_empty() {
        let indexed = with_indexer_retries(|| {
            let mut indexer = shared.indexer.clone();
            let request = request.clone();
            async move { indexer.index_files(request).await }
        })
        .await?;
        crate::outputs::refuse_taken(job, &indexed.results)?;
    }
    timing.index = clock.elapsed();
    Ok(JobResult { outputs: file_names, notes, timing })
}

/// Where a job's time went, reported as the `timing` line of its log.
#[derive(Debug, Default)]
pub(crate) struct JobTiming {
    pub read_inputs: Duration,
    /// Waiting for a thread of the CPU pool.
    pub queued: Duration,
    /// The algorithm, decoding and encoding included.
    pub science: Duration,
    /// Whether each output's name is taken (a look in a local archive, else the indexer's).
    pub check: Duration,
    /// Making the outputs' provenance records (and storing them, in an object store).
    pub provenance: Duration,
    /// Storing the outputs (with their records, in a local archive).
    pub write: Duration,
    /// Indexing the outputs (one round trip for all).
    pub index: Duration,
}

impl JobTiming {
    fn log_line(&self) -> String {
        let ms = |duration: Duration| format!("{:.1}ms", duration.as_secs_f64() * 1000.0);
        format!(
            "timing read_inputs={} queued={} science={} check={} provenance={} write={} index={}",
            ms(self.read_inputs),
            ms(self.queued),
            ms(self.science),
            ms(self.check),
            ms(self.provenance),
            ms(self.write),
            ms(self.index)
        )
    }
}

/// An indexer call within [`INDEXER_RETRY`]; a permanent refusal comes back at once.
pub(crate) async fn with_indexer_retries<T, F, Fut>(call: F) -> Result<T, ProcessorError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    match INDEXER_RETRY.run("indexer", &NeverStop, call).await.into_result() {
        Ok(response) => Ok(response.into_inner()),
        Err(Some(status)) => Err(status.into()),
        // Only a stop signal ends retries without an error, and NeverStop gives none.
        Err(None) => Err(ProcessorError::Cancelled),
    }
}
