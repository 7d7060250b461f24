//! Deciding what runs: read the indexer's log from the durable cursor, ask depsvc what each file
//! makes runnable, and evaluate each candidate on its instrument's queue (serialized per
//! instrument, parallel across instruments). Incomplete inputs mean "wait": a later arrival
//! triggers the same check again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use imap_filename::Version;
use mesh_runtime::Shutdown;
use proto::clients::{DependencyClient, IndexerClient, matching_files};
use proto::error::HasErrorCode;
use proto::ids::JobId;
use proto::pb::{
    DownstreamRequest, FileEvent, FileKind, FileRecord, ProductKey, ProductRun, ProductTime, QueryFilesRequest,
    ResolveRequest, SubscribeEventsRequest, SubscribeEventsResponse,
};
use proto::retry::{Outcome, RetryPolicy};
use proto::time::now_millis;
use proto::trace::{adopt_parent, current_traceparent};
use tokio::sync::{Notify, mpsc};
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::cursor::{CursorTracker, CursorTurn, CursorWriter, CursorWrites};
use super::dead_letters::Refusal;
use super::jobs::{JobStore, NewJob};

/// Every call an evaluation makes (depsvc, the indexer, the database) is retried while it fails
/// transiently, until shutdown: a peer restarting or a database hiccup must not turn into "nothing
/// to do". A permanent refusal ends the evaluation, which is then dead-lettered.
pub const EVALUATION_RETRY: RetryPolicy =
    RetryPolicy::until_stopped(Duration::from_millis(100), Duration::from_secs(5));

/// The event stream is opened again whatever ended it, until shutdown.
const STREAM_RECONNECT: RetryPolicy =
    RetryPolicy::until_stopped(Duration::from_millis(200), Duration::from_secs(5)).retrying_every_error();

/// How the evaluation of one candidate ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// A new job was queued.
    Created(JobId),
    /// Inputs are incomplete (a later arrival triggers the check again) or the job exists.
    NothingToDo,
    /// A peer refused it permanently: recorded with the reason, and the queue moves on.
    DeadLettered,
    /// Shutdown came first: nothing may be recorded as handled (cursor, campaign planning), so the
    /// work is replayed after restart.
    Stopped,
}

/// One candidate product run to evaluate, and the event it came from.
#[derive(Debug)]
pub struct Candidate {
    pub seq: Option<u64>,
    pub run: ProductRun,
    pub campaign_id: String,
    pub traceparent: String,
}

/// Candidates all instrument queues together hold before those handing over more (the event
/// consumer, a campaign's driver) wait: memory stays bounded whatever arrives, and one instrument
/// with a long queue (a kernel feeds tens of thousands of runs) holds the others up only once the
/// whole room is taken.
pub const QUEUED_CANDIDATES_MAX: usize = 100_000;

/// A candidate waiting on its instrument's queue, holding its place in the queues' shared room
/// until it has been evaluated.
#[derive(Debug)]
pub struct Queued {
    pub candidate: Candidate,
    _room: tokio::sync::OwnedSemaphorePermit,
}

/// The runs of a campaign chunk not evaluated yet; the driver hears when the last one is.
#[derive(Debug)]
pub struct ChunkInFlight {
    pub remaining: usize,
    pub evaluated: tokio::sync::oneshot::Sender<()>,
}

/// Shared by the event consumer, the instrument queues and reprocessing campaigns.
pub struct TriggerContext {
    pub store: Arc<JobStore>,
    pub depsvc: DependencyClient,
    /// The event stream, and the archive's versions a new job's version must exceed.
    pub indexer: IndexerClient,
    pub consumer: String,
    pub job_available: Arc<Notify>,
    pub cursor: Mutex<CursorTracker>,
    /// The cursor values asked to be saved, and whether a writer is in charge.
    pub cursor_writes: Arc<Mutex<CursorWrites>>,
    /// Each instrument's queue; together they hold at most `queue_room`'s permits.
    pub queues: Mutex<HashMap<String, mpsc::UnboundedSender<Queued>>>,
    /// Room for queued candidates, shared by every instrument ([`QUEUED_CANDIDATES_MAX`]).
    pub queue_room: Arc<tokio::sync::Semaphore>,
    /// The chunk of each campaign being evaluated: its runs not evaluated yet.
    pub campaign_outstanding: Mutex<HashMap<String, ChunkInFlight>>,
    /// Runs whose last evaluation found inputs missing: (instrument, run) -> what is missing.
    pub waiting: Mutex<BTreeMap<(String, String), String>>,
    pub shutdown: Shutdown,
    /// The instrument queues run here, so the node waits for them at shutdown.
    pub tasks: TaskTracker,
}

impl TriggerContext {
    /// Hands a candidate to its instrument's queue, starting the queue on first use, once the
    /// queues have room for it; false when the queue has stopped (shutdown).
    pub async fn enqueue(self: &Arc<Self>, candidate: Candidate) -> bool {
        let Ok(room) = self.queue_room.clone().acquire_owned().await else { return false };
        let instrument = candidate.run.product.as_ref().map(|product| product.instrument.clone()).unwrap_or_default();
        let mut queues = self.queues.lock().expect("queue map lock");
        let sender = queues.entry(instrument.clone()).or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            self.tasks.spawn(self.clone().run_instrument_queue(instrument, receiver));
            sender
        });
        sender.send(Queued { candidate, _room: room }).is_ok()
    }

    async fn run_instrument_queue(self: Arc<Self>, instrument: String, mut receiver: mpsc::UnboundedReceiver<Queued>) {
        loop {
            // At shutdown the queue takes nothing more; what it has is replayed after restart.
            let queued = tokio::select! {
                biased;
                _ = self.shutdown.wait() => return,
                queued = receiver.recv() => match queued { Some(queued) => queued, None => return },
            };
            let candidate = &queued.candidate;
            let span = tracing::info_span!("starter.evaluate", %instrument, product = %candidate.run);
            adopt_parent(&span, &candidate.traceparent);
            // The candidate keeps its room in the queues until it has been evaluated.
            if !self.process(candidate).instrument(span).await {
                return;
            }
        }
    }

    /// Counts the runs of a campaign's next chunk, before the first of them is handed out; the
    /// receiver hears when the last has been evaluated. `None` for an empty chunk.
    pub fn start_campaign_chunk(&self, campaign_id: &str, runs: usize) -> Option<tokio::sync::oneshot::Receiver<()>> {
        if runs == 0 {
            return None;
        }
        let (evaluated, receiver) = tokio::sync::oneshot::channel();
        let chunk = ChunkInFlight { remaining: runs, evaluated };
        self.campaign_outstanding.lock().expect("campaign map lock").insert(campaign_id.to_string(), chunk);
        Some(receiver)
    }

    /// Evaluates one candidate and records it as handled; false when shutdown cut the
    /// evaluation off, in which case nothing is recorded and the work is replayed after restart.
    pub(crate) async fn process(&self, candidate: &Candidate) -> bool {
        if self.evaluate(candidate).await == Evaluation::Stopped {
            tracing::info!("evaluation cut off by shutdown; it is replayed after restart");
            return false;
        }
        if let Some(seq) = candidate.seq {
            self.finish_event(seq).await;
        } else if !candidate.campaign_id.is_empty() {
            self.campaign_run_finished(&candidate.campaign_id);
        }
        true
    }

    /// One planned run of the campaign was evaluated; after the chunk's last one, its driver is told.
    pub(crate) fn campaign_run_finished(&self, campaign_id: &str) {
        let mut outstanding = self.campaign_outstanding.lock().expect("campaign map lock");
        let Some(chunk) = outstanding.get_mut(campaign_id) else { return };
        chunk.remaining = chunk.remaining.saturating_sub(1);
        if chunk.remaining == 0
            && let Some(chunk) = outstanding.remove(campaign_id)
        {
            // The driver may have stopped (shutdown); then nobody needs to hear.
            let _ = chunk.evaluated.send(());
        }
    }

    /// Resolves one candidate and creates its job when every required input is present. A step a
    /// peer refuses permanently dead-letters the candidate with the reason.
    async fn evaluate(&self, candidate: &Candidate) -> Evaluation {
        let request = ResolveRequest { product: candidate.run.product.clone(), time: candidate.run.time.clone() };
        let resolve = EVALUATION_RETRY.run("resolve", &self.shutdown, || {
            let mut depsvc = self.depsvc.clone();
            let request = request.clone();
            async move { depsvc.resolve(request).await.map(|response| response.into_inner()) }
        });
        // The archive's versions are asked alongside, not after: one round trip less between an
        // arrival and its job (a run that turns out to wait just discards the answer).
        let (resolution, floor) = tokio::join!(resolve, self.archive_floor(&candidate.run));
        let resolution = match resolution {
            Outcome::Done(resolution) => resolution,
            Outcome::Refused(error) | Outcome::Exhausted(error) => {
                return self.dead_letter(self.refusal(candidate, "resolve", &error)).await;
            }
            Outcome::Stopped => return Evaluation::Stopped,
        };
        let instrument = candidate.run.product.as_ref().map(|product| product.instrument.clone()).unwrap_or_default();
        let waiting_key = (instrument, candidate.run.to_string());
        if !resolution.ready {
            let missing: Vec<String> =
                resolution.missing.iter().map(|input| format!("{}: {}", input.source, input.reason)).collect();
            tracing::info!(missing = ?missing, "inputs incomplete, waiting for more files");
            self.waiting.lock().expect("waiting lock").insert(waiting_key, missing.join("; "));
            return Evaluation::NothingToDo;
        }
        self.waiting.lock().expect("waiting lock").remove(&waiting_key);
        let floor = match floor {
            Outcome::Done(floor) => floor,
            Outcome::Refused(error) | Outcome::Exhausted(error) => {
                return self.dead_letter(self.refusal(candidate, "query archive versions", &error)).await;
            }
            Outcome::Stopped => return Evaluation::Stopped,
        };
        let new_job = NewJob {
            product: candidate.run.product.clone().unwrap_or_default(),
            time: candidate.run.time.clone().unwrap_or_default(),
            inputs: resolution.inputs,
            campaign_id: candidate.campaign_id.clone(),
            traceparent: current_traceparent(),
        };
        // A database hiccup must not drop the event (the cursor moves past it once evaluated).
        let created = EVALUATION_RETRY
            .run("create job", &self.shutdown, || self.store.create(&new_job, floor, now_millis()))
            .await;
        match created {
            Outcome::Done(Some(id)) => {
                tracing::info!(job = %id, "job queued");
                self.job_available.notify_waiters();
                Evaluation::Created(id)
            }
            Outcome::Done(None) => {
                tracing::debug!("identical job already exists");
                Evaluation::NothingToDo
            }
            Outcome::Refused(error) | Outcome::Exhausted(error) => {
                self.dead_letter(self.refusal(candidate, "create job", &error)).await
            }
            Outcome::Stopped => Evaluation::Stopped,
        }
    }

    fn refusal(&self, candidate: &Candidate, step: &'static str, error: &impl HasErrorCode) -> Refusal {
        Refusal {
            product: candidate.run.product.clone().unwrap_or_default(),
            time: candidate.run.time.clone().unwrap_or_default(),
            event_seq: candidate.seq.unwrap_or(0),
            campaign_id: candidate.campaign_id.clone(),
            step,
            code: error.error_code(),
            message: error.public_message(),
        }
    }

    /// Records a permanent refusal so the queue can move on without losing it.
    async fn dead_letter(&self, refusal: Refusal) -> Evaluation {
        tracing::error!(step = refusal.step, code = %refusal.code, message = %refusal.message, "evaluation refused permanently; dead-lettered, the queue moves on");
        let recorded = EVALUATION_RETRY
            .run("dead-letter evaluation", &self.shutdown, || self.store.dead_letter_evaluation(&refusal))
            .await;
        match recorded {
            Outcome::Done(()) => Evaluation::DeadLettered,
            Outcome::Stopped => Evaluation::Stopped,
            Outcome::Refused(error) | Outcome::Exhausted(error) => {
                // Only the log keeps it now; holding the queue would not bring the record back.
                tracing::error!(%error, step = refusal.step, message = %refusal.message, "dead letter could not be recorded");
                Evaluation::DeadLettered
            }
        }
    }

    /// The highest version the archive holds of the run's product (a team may have uploaded
    /// its own): the new job's version must exceed it.
    async fn archive_floor(&self, run: &ProductRun) -> Outcome<Option<Version>, tonic::Status> {
        let product = run.product.clone().unwrap_or_default();
        let time = run.time.clone().unwrap_or_default();
        let request = QueryFilesRequest {
            kind: FileKind::Science.into(),
            instrument: product.instrument.clone(),
            data_level: product.data_level.clone(),
            descriptor: product.descriptor.clone(),
            start_date_min: time.date.clone(),
            start_date_max: time.date.clone(),
            repointing: time.repointing,
            ..Default::default()
        };
        EVALUATION_RETRY
            .run("query archive versions", &self.shutdown, || {
                let request = request.clone();
                let (product, time) = (product.clone(), time.clone());
                async move {
                    let files = matching_files(&self.indexer, request, usize::MAX).await?.files;
                    Ok(highest_version(&files, &product, &time))
                }
            })
            .await
    }

    /// The campaign a job-produced file carries along; database errors are retried.
    pub(crate) async fn campaign_of_file(&self, file: &FileRecord) -> Outcome<String, super::error::StarterError> {
        if file.produced_by_job.is_empty() {
            return Outcome::Done(String::new());
        }
        let producer = JobId::from(file.produced_by_job.clone());
        EVALUATION_RETRY.run("campaign of job", &self.shutdown, || self.store.campaign_of(&producer)).await
    }

    async fn finish_event(&self, seq: u64) {
        let committable = {
            let mut cursor = self.cursor.lock().expect("cursor lock");
            cursor.finished(seq);
            cursor.committable()
        };
        self.commit(committable).await;
    }

    /// Saves `seq` as the durable cursor. One writer at a time saves the newest value asked
    /// meanwhile, a value not above the saved one (an event's other runs finishing) costs nothing,
    /// and writes begin at least [`CURSOR_WRITE_SPACING`] apart: a value asked sooner is saved by a
    /// task of its own when the spacing has passed, or at once when shutdown begins.
    pub(crate) async fn commit(&self, seq: u64) {
        let spacing = cursor_write_spacing(&self.shutdown);
        let turn = self.cursor_writes.lock().expect("cursor writes lock").ask(seq, Instant::now(), spacing);
        let wait = match turn {
            CursorTurn::Done => return,
            CursorTurn::Now => {
                match write_cursor_values(&self.store, &self.consumer, &self.cursor_writes, spacing).await {
                    Some(wait) => wait,
                    None => return,
                }
            }
            CursorTurn::After(wait) => wait,
        };
        let (store, consumer) = (self.store.clone(), self.consumer.clone());
        let (writes, shutdown) = (self.cursor_writes.clone(), self.shutdown.clone());
        self.tasks.spawn(async move {
            let mut wait = wait;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.wait() => {}
                }
                let spacing = cursor_write_spacing(&shutdown);
                match write_cursor_values(&store, &consumer, &writes, spacing).await {
                    Some(next) => wait = next,
                    None => return,
                }
            }
        });
    }

    /// Reads the indexer's log forever, reconnecting after errors, until shutdown.
    pub async fn consume_events(self: Arc<Self>, indexer: IndexerClient) {
        let mut reconnect = STREAM_RECONNECT.backoff();
        loop {
            let after_seq = self.cursor.lock().expect("cursor lock").highest_dispatched();
            let request = SubscribeEventsRequest { consumer: self.consumer.clone(), after_seq };
            match indexer.clone().subscribe_events(request).await {
                Ok(response) => {
                    reconnect.reset();
                    if !self.read_events(response.into_inner()).await {
                        return;
                    }
                }
                Err(status) => tracing::warn!(error = %status.message(), "event stream unavailable, retrying"),
            }
            if !reconnect.wait(&self.shutdown).await {
                return;
            }
        }
    }

    /// Handles the events of one stream until it ends (true: reconnect) or shutdown, or an event
    /// was left unhandled (false).
    async fn read_events(self: &Arc<Self>, mut stream: tonic::Streaming<SubscribeEventsResponse>) -> bool {
        loop {
            let message = tokio::select! {
                biased;
                _ = self.shutdown.wait() => return false,
                message = stream.message() => message,
            };
            match message {
                Ok(Some(SubscribeEventsResponse { event: Some(event) })) => {
                    if !self.handle_event(event).await {
                        // Nothing after an unhandled event may be dispatched: the cursor would move
                        // past it.
                        return false;
                    }
                }
                Ok(Some(SubscribeEventsResponse { event: None })) => {}
                Ok(None) => return true,
                Err(status) => {
                    tracing::warn!(error = %status.message(), "event stream broke, reconnecting");
                    return true;
                }
            }
        }
    }

    /// Dispatches the event's candidates; false when shutdown cut it off before that, in which
    /// case nothing is recorded and it is replayed after restart.
    pub(crate) async fn handle_event(self: &Arc<Self>, event: FileEvent) -> bool {
        let Some(file) = event.file else { return true };
        let span = tracing::info_span!("starter.on_file_indexed", file = %file.file_name, seq = event.seq);
        adopt_parent(&span, &event.traceparent);
        async {
            let request = DownstreamRequest { file: Some(file.clone()) };
            let downstream = EVALUATION_RETRY.run("downstream", &self.shutdown, || {
                let mut depsvc = self.depsvc.clone();
                let request = request.clone();
                async move { depsvc.downstream(request).await.map(|response| response.into_inner().runs) }
            });
            // A step refused permanently leaves nothing to evaluate for this file: the refusal is
            // recorded and the log moves on.
            let runs = match downstream.await {
                Outcome::Done(runs) => runs,
                Outcome::Refused(error) | Outcome::Exhausted(error) => {
                    if !self.dead_letter_event(event.seq, &file, &error).await {
                        return false;
                    }
                    Vec::new()
                }
                Outcome::Stopped => return Self::replayed_after_restart(),
            };
            tracing::info!(candidates = runs.len(), "evaluating downstream products");
            if runs.is_empty() {
                return self.commit_without_work(event.seq).await;
            }
            // Only runs carry the campaign on, and most job outputs (the last level's) start none:
            // asked after Downstream, the lookup's database read is spared for those.
            let campaign_id = match self.campaign_of_file(&file).await {
                Outcome::Done(campaign_id) => campaign_id,
                Outcome::Refused(error) | Outcome::Exhausted(error) => {
                    if !self.dead_letter_event(event.seq, &file, &error).await {
                        return false;
                    }
                    return self.commit_without_work(event.seq).await;
                }
                Outcome::Stopped => return Self::replayed_after_restart(),
            };
            self.cursor.lock().expect("cursor lock").dispatched(event.seq, runs.len());
            let traceparent = current_traceparent();
            for run in runs {
                let candidate = Candidate {
                    seq: Some(event.seq),
                    run,
                    campaign_id: campaign_id.clone(),
                    traceparent: traceparent.clone(),
                };
                // A queue stops only at shutdown; the event, not finished, is replayed after restart.
                if !self.enqueue(candidate).await {
                    return Self::replayed_after_restart();
                }
            }
            true
        }
        .instrument(span)
        .await
    }

    /// Dead-letters a step about a whole file (what it triggers, which campaign it belongs to);
    /// false when shutdown came first.
    async fn dead_letter_event(&self, seq: u64, file: &FileRecord, error: &impl HasErrorCode) -> bool {
        let refusal = Refusal {
            product: ProductKey::default(),
            time: ProductTime::default(),
            event_seq: seq,
            campaign_id: String::new(),
            step: "downstream",
            code: error.error_code(),
            message: format!("{}: {}", file.file_name, error.public_message()),
        };
        self.dead_letter(refusal).await != Evaluation::Stopped
    }

    /// An event with nothing to evaluate is done once dispatched.
    async fn commit_without_work(&self, seq: u64) -> bool {
        let committable = {
            let mut cursor = self.cursor.lock().expect("cursor lock");
            cursor.dispatched(seq, 0);
            cursor.committable()
        };
        self.commit(committable).await;
        true
    }

    fn replayed_after_restart() -> bool {
        tracing::info!("event not handled before shutdown; it is replayed after restart");
        false
    }
}

/// The highest version among the archive's files of exactly this product and time.
pub fn highest_version(
    files: &[FileRecord],
    product: &proto::pb::ProductKey,
    time: &proto::pb::ProductTime,
) -> Option<Version> {
    files
        .iter()
        .filter(|file| {
            file.instrument == product.instrument
                && file.data_level == product.data_level
                && file.descriptor == product.descriptor
                && file.start_date == time.date
                && file.repointing == time.repointing
        })
        .filter_map(|file| file.version.parse::<Version>().ok())
        .max()
}

impl TriggerContext {
    /// The runs waiting for inputs, per instrument: `"<run>: <what is missing>"`.
    pub fn waiting_by_instrument(&self) -> BTreeMap<String, Vec<String>> {
        let mut by_instrument: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ((instrument, run), missing) in self.waiting.lock().expect("waiting lock").iter() {
            by_instrument.entry(instrument.clone()).or_default().push(format!("{run}: {missing}"));
        }
        by_instrument
    }
}

/// The least time between the starts of two cursor writes while no shutdown is under way.
const CURSOR_WRITE_SPACING: Duration = Duration::from_millis(50);

/// Writes are spaced apart until shutdown begins; then each is saved at once.
fn cursor_write_spacing(shutdown: &Shutdown) -> Duration {
    if shutdown.is_triggered() { Duration::ZERO } else { CURSOR_WRITE_SPACING }
}

/// Saves cursor values as the writer in charge: the newest asked, and again while newer ones come
/// and the spacing allows. Returns how long to wait before the next write when it must wait (the
/// role stays taken for whoever writes it), `None` when nothing is left.
async fn write_cursor_values(
    store: &JobStore,
    consumer: &str,
    writes: &Mutex<CursorWrites>,
    spacing: Duration,
) -> Option<Duration> {
    let mut writer = CursorWriter::new(writes);
    while let Some(seq) = writer.next(Instant::now()) {
        if let Err(error) = store.write_cursor(consumer, seq).await {
            tracing::error!(%error, seq, "cursor not saved; events will be replayed harmlessly");
        }
        writer.saved(seq);
        match writer.after_write(Instant::now(), spacing) {
            CursorTurn::Done => return None,
            CursorTurn::Now => {}
            CursorTurn::After(wait) => return Some(wait),
        }
    }
    None
}
