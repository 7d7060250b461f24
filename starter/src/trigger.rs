//! Deciding what runs: read the indexer's log from the durable cursor, ask depsvc what each file
//! makes runnable, and evaluate each candidate on its instrument's queue (serialized per
//! instrument, parallel across instruments). Incomplete inputs mean "wait": a later arrival
//! triggers the same check again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imap_filename::Version;
use mesh_runtime::Shutdown;
use proto::clients::{DependencyClient, IndexerClient};
use proto::ids::JobId;
use proto::pb::{
    DownstreamRequest, FileEvent, FileKind, FileRecord, ProductRun, QueryFilesRequest, ResolveRequest,
    SubscribeEventsRequest, SubscribeEventsResponse,
};
use proto::time::now_millis;
use proto::trace::{adopt_parent, current_traceparent};
use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

use super::cursor::CursorTracker;
use super::error::StarterError;
use super::jobs::{JobStore, NewJob};

/// How a call that is retried while its failure is transient ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// It answered.
    Done(T),
    /// The peer refused permanently: logged and skipped, so one bad candidate cannot block the
    /// log forever.
    Refused,
    /// Shutdown came first: nothing may be recorded as handled (cursor, campaign planning), so
    /// the work is replayed after restart.
    Aborted,
}

/// One candidate product run to evaluate, and the event it came from.
#[derive(Debug)]
pub struct Candidate {
    pub seq: Option<u64>,
    pub run: ProductRun,
    pub campaign_id: String,
    pub traceparent: String,
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
    pub queues: Mutex<HashMap<String, mpsc::UnboundedSender<Candidate>>>,
    /// Planned runs of each campaign not evaluated yet; at zero the campaign's planning is done.
    pub campaign_outstanding: Mutex<HashMap<String, usize>>,
    pub shutdown: Shutdown,
}

impl TriggerContext {
    /// Hands a candidate to its instrument's queue, starting the queue on first use.
    pub fn enqueue(self: &Arc<Self>, candidate: Candidate) {
        let instrument = candidate.run.product.as_ref().map(|product| product.instrument.clone()).unwrap_or_default();
        let mut queues = self.queues.lock().expect("queue map lock");
        let sender = queues.entry(instrument.clone()).or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(self.clone().run_instrument_queue(instrument, receiver));
            sender
        });
        let _ = sender.send(candidate);
    }

    async fn run_instrument_queue(
        self: Arc<Self>,
        instrument: String,
        mut receiver: mpsc::UnboundedReceiver<Candidate>,
    ) {
        loop {
            let candidate = tokio::select! {
                candidate = receiver.recv() => match candidate { Some(candidate) => candidate, None => return },
                _ = self.shutdown.wait() => return,
            };
            let span = tracing::info_span!("starter.evaluate", %instrument, product = %candidate.run);
            adopt_parent(&span, &candidate.traceparent);
            if !self.process(&candidate).instrument(span).await {
                return;
            }
        }
    }

    /// Hands a campaign's planned runs to the instrument queues, counting them so the campaign
    /// is marked planned once the last one has been evaluated.
    pub fn enqueue_campaign(self: &Arc<Self>, campaign_id: &str, runs: Vec<ProductRun>, traceparent: &str) {
        if runs.is_empty() {
            return;
        }
        *self.campaign_outstanding.lock().expect("campaign map lock").entry(campaign_id.to_string()).or_default() +=
            runs.len();
        for run in runs {
            self.enqueue(Candidate {
                seq: None,
                run,
                campaign_id: campaign_id.to_string(),
                traceparent: traceparent.to_string(),
            });
        }
    }

    /// Evaluates one candidate and records it as handled; false when shutdown cut the
    /// evaluation off, in which case nothing is recorded and the work is replayed after restart.
    pub(crate) async fn process(&self, candidate: &Candidate) -> bool {
        if self.evaluate(candidate).await == Outcome::Aborted {
            tracing::info!("evaluation cut off by shutdown; it is replayed after restart");
            return false;
        }
        if let Some(seq) = candidate.seq {
            self.finish_event(seq).await;
        } else if !candidate.campaign_id.is_empty() {
            self.campaign_run_finished(&candidate.campaign_id).await;
        }
        true
    }

    /// One planned run of the campaign was evaluated; after the last one, its planning is done.
    pub(crate) async fn campaign_run_finished(&self, campaign_id: &str) {
        let last = {
            let mut outstanding = self.campaign_outstanding.lock().expect("campaign map lock");
            match outstanding.get_mut(campaign_id) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    outstanding.remove(campaign_id);
                    true
                }
                None => false,
            }
        };
        if last {
            match self.store.finish_campaign_planning(campaign_id, now_millis()).await {
                Ok(()) => tracing::info!(campaign = %campaign_id, "every planned run of the campaign evaluated"),
                Err(error) => {
                    tracing::error!(%error, campaign = %campaign_id, "campaign not marked planned; it is re-planned harmlessly on restart")
                }
            }
        }
    }

    /// Resolves one candidate and creates its job when every required input is present:
    /// `Done(Some(id))` for a new job, `Done(None)` when inputs are missing or the job exists.
    async fn evaluate(&self, candidate: &Candidate) -> Outcome<Option<JobId>> {
        let request = ResolveRequest { product: candidate.run.product.clone(), time: candidate.run.time.clone() };
        let resolution = retry_transient("resolve", &self.shutdown, || {
            let mut depsvc = self.depsvc.clone();
            let request = request.clone();
            async move { depsvc.resolve(request).await.map(|response| response.into_inner()) }
        })
        .await;
        let resolution = match resolution {
            Outcome::Done(resolution) => resolution,
            Outcome::Refused => return Outcome::Refused,
            Outcome::Aborted => return Outcome::Aborted,
        };
        if !resolution.ready {
            let missing: Vec<String> =
                resolution.missing.iter().map(|input| format!("{}: {}", input.source, input.reason)).collect();
            tracing::info!(missing = ?missing, "inputs incomplete, waiting for more files");
            return Outcome::Done(None);
        }
        let floor = match self.archive_floor(&candidate.run).await {
            Outcome::Done(floor) => floor,
            // Logged by the retry; the jobs table alone then decides the version.
            Outcome::Refused => None,
            Outcome::Aborted => return Outcome::Aborted,
        };
        let new_job = NewJob {
            product: candidate.run.product.clone().unwrap_or_default(),
            time: candidate.run.time.clone().unwrap_or_default(),
            inputs: resolution.inputs,
            campaign_id: candidate.campaign_id.clone(),
            traceparent: current_traceparent(),
        };
        // A database hiccup must not drop the event (the cursor moves past it once evaluated),
        // so creation is retried until it succeeds or the starter stops.
        let created =
            retry_store("create job", &self.shutdown, || self.store.create(&new_job, floor, now_millis())).await;
        match &created {
            Outcome::Done(Some(id)) => {
                tracing::info!(job = %id, "job queued");
                self.job_available.notify_waiters();
            }
            Outcome::Done(None) => tracing::debug!("identical job already exists"),
            Outcome::Refused | Outcome::Aborted => {}
        }
        created
    }

    /// The highest version the archive holds of the run's product (a team may have uploaded
    /// its own): the new job's version must exceed it.
    async fn archive_floor(&self, run: &ProductRun) -> Outcome<Option<Version>> {
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
        retry_transient("query archive versions", &self.shutdown, || {
            let mut indexer = self.indexer.clone();
            let request = request.clone();
            let (product, time) = (product.clone(), time.clone());
            async move {
                let files = indexer.query_files(request).await?.into_inner().files;
                Ok(highest_version(&files, &product, &time))
            }
        })
        .await
    }

    /// The campaign a job-produced file carries along; database errors are retried.
    pub(crate) async fn campaign_of_file(&self, file: &FileRecord) -> Outcome<String> {
        if file.produced_by_job.is_empty() {
            return Outcome::Done(String::new());
        }
        let producer = JobId::from(file.produced_by_job.clone());
        retry_store("campaign of job", &self.shutdown, || self.store.campaign_of(&producer)).await
    }

    async fn finish_event(&self, seq: u64) {
        let committable = {
            let mut cursor = self.cursor.lock().expect("cursor lock");
            cursor.finished(seq);
            cursor.committable()
        };
        self.commit(committable).await;
    }

    async fn commit(&self, seq: u64) {
        if let Err(error) = self.store.write_cursor(&self.consumer, seq).await {
            tracing::error!(%error, seq, "cursor not saved; events will be replayed harmlessly");
        }
    }

    /// Reads the indexer's log forever, reconnecting after errors, until shutdown.
    pub async fn consume_events(self: Arc<Self>, indexer: IndexerClient) {
        loop {
            let after_seq = self.cursor.lock().expect("cursor lock").highest_dispatched();
            let request = SubscribeEventsRequest { consumer: self.consumer.clone(), after_seq };
            let mut stream = match indexer.clone().subscribe_events(request).await {
                Ok(response) => response.into_inner(),
                Err(status) => {
                    tracing::warn!(error = %status.message(), "event stream unavailable, retrying");
                    if self.pause(Duration::from_millis(500)).await {
                        return;
                    }
                    continue;
                }
            };
            loop {
                let message = tokio::select! {
                    message = stream.message() => message,
                    _ = self.shutdown.wait() => return,
                };
                match message {
                    Ok(Some(SubscribeEventsResponse { event: Some(event) })) => {
                        if !self.handle_event(event).await {
                            // Nothing after an unhandled event may be dispatched: the cursor
                            // would move past it.
                            return;
                        }
                    }
                    Ok(Some(SubscribeEventsResponse { event: None })) => {}
                    Ok(None) => break,
                    Err(status) => {
                        tracing::warn!(error = %status.message(), "event stream broke, reconnecting");
                        break;
                    }
                }
            }
            if self.pause(Duration::from_millis(200)).await {
                return;
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
            let runs = retry_transient("downstream", &self.shutdown, || {
                let mut depsvc = self.depsvc.clone();
                let request = request.clone();
                async move { depsvc.downstream(request).await.map(|response| response.into_inner().runs) }
            })
            .await;
            let runs = match runs {
                Outcome::Done(runs) => runs,
                // Permanently refused: nothing to run for this file.
                Outcome::Refused => Vec::new(),
                Outcome::Aborted => {
                    tracing::info!("event not handled before shutdown; it is replayed after restart");
                    return false;
                }
            };
            let campaign_id = match self.campaign_of_file(&file).await {
                Outcome::Done(campaign_id) => campaign_id,
                Outcome::Refused | Outcome::Aborted => {
                    tracing::info!("event not handled before shutdown; it is replayed after restart");
                    return false;
                }
            };
            tracing::info!(candidates = runs.len(), "evaluating downstream products");
            let no_work = {
                let mut cursor = self.cursor.lock().expect("cursor lock");
                cursor.dispatched(event.seq, runs.len());
                runs.is_empty().then(|| cursor.committable())
            };
            if let Some(committable) = no_work {
                self.commit(committable).await;
            }
            let traceparent = current_traceparent();
            for run in runs {
                self.enqueue(Candidate {
                    seq: Some(event.seq),
                    run,
                    campaign_id: campaign_id.clone(),
                    traceparent: traceparent.clone(),
                });
            }
            true
        }
        .instrument(span)
        .await
    }

    /// Waits, unless shutdown comes first; returns true on shutdown.
    async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => false,
            _ = self.shutdown.wait() => true,
        }
    }
}

/// Retries a peer call while the failure is transient (peer down, restarting — a call cut off by
/// a dying peer may surface as Cancelled — or overloaded). A permanent
/// refusal is logged and skipped so one bad candidate cannot block the log forever.
pub async fn retry_transient<T, F, Fut>(what: &str, shutdown: &Shutdown, mut call: F) -> Outcome<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(value) => return Outcome::Done(value),
            Err(status) if is_transient(&status) => {
                tracing::warn!(call = what, error = %status.message(), "peer unavailable, retrying");
            }
            Err(status) => {
                tracing::error!(call = what, error = %status.message(), code = ?status.code(), "peer refused request");
                return Outcome::Refused;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => return Outcome::Aborted,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Retries a database call until it succeeds or shutdown comes (never `Refused`): a database
/// hiccup must not turn into "nothing to do".
pub async fn retry_store<T, F, Fut>(what: &str, shutdown: &Shutdown, mut call: F) -> Outcome<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StarterError>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(value) => return Outcome::Done(value),
            Err(error) => tracing::warn!(call = what, %error, "database unavailable, retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => return Outcome::Aborted,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
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

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::Unknown
            | tonic::Code::Cancelled
            | tonic::Code::DeadlineExceeded
            | tonic::Code::ResourceExhausted
            | tonic::Code::Aborted
            | tonic::Code::Internal
    )
}
