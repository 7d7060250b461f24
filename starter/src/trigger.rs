//! Deciding what runs: read the indexer's log from the durable cursor, ask depsvc what each file
//! makes runnable, and evaluate each candidate on its instrument's queue (serialized per
//! instrument, parallel across instruments). Incomplete inputs mean "wait": a later arrival
//! triggers the same check again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proto::clients::{DependencyClient, IndexerClient};
use proto::pb::{DownstreamRequest, FileEvent, ProductRun, ResolveRequest, SubscribeEventsRequest};
use proto::store::now_millis;
use proto::telemetry::{adopt_parent, current_traceparent};
use proto::Shutdown;
use tokio::sync::{Notify, mpsc};
use tracing::Instrument;

use super::cursor::CursorTracker;
use super::jobs::{JobStore, NewJob};

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
    pub consumer: String,
    pub job_available: Arc<Notify>,
    pub cursor: Mutex<CursorTracker>,
    pub queues: Mutex<HashMap<String, mpsc::UnboundedSender<Candidate>>>,
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

    async fn run_instrument_queue(self: Arc<Self>, instrument: String, mut receiver: mpsc::UnboundedReceiver<Candidate>) {
        loop {
            let candidate = tokio::select! {
                candidate = receiver.recv() => match candidate { Some(candidate) => candidate, None => return },
                _ = self.shutdown.wait() => return,
            };
            let span = tracing::info_span!("starter.evaluate", %instrument, product = %describe_run(&candidate.run));
            adopt_parent(&span, &candidate.traceparent);
            self.evaluate(&candidate).instrument(span).await;
            if let Some(seq) = candidate.seq {
                self.finish_event(seq).await;
            }
        }
    }

    /// Resolves one candidate and creates its job when every required input is present.
    async fn evaluate(&self, candidate: &Candidate) -> Option<String> {
        let request = ResolveRequest { product: candidate.run.product.clone(), time: candidate.run.time.clone() };
        let resolution = retry_transient("resolve", &self.shutdown, || {
            let mut depsvc = self.depsvc.clone();
            let request = request.clone();
            async move { depsvc.resolve(request).await.map(|response| response.into_inner()) }
        })
        .await?;
        if !resolution.ready {
            let missing: Vec<String> = resolution.missing.iter().map(|input| format!("{}: {}", input.source, input.reason)).collect();
            tracing::info!(missing = ?missing, "inputs incomplete, waiting for more files");
            return None;
        }
        let new_job = NewJob {
            product: candidate.run.product.clone().unwrap_or_default(),
            time: candidate.run.time.clone().unwrap_or_default(),
            inputs: resolution.inputs,
            campaign_id: candidate.campaign_id.clone(),
            traceparent: current_traceparent(),
        };
        // A database hiccup must not drop the event (the cursor moves past it once evaluated),
        // so creation is retried until it succeeds or the starter stops.
        let mut delay = Duration::from_millis(100);
        loop {
            match self.store.create(&new_job, now_millis()).await {
                Ok(Some(id)) => {
                    tracing::info!(job = %id, "job queued");
                    self.job_available.notify_waiters();
                    return Some(id);
                }
                Ok(None) => {
                    tracing::debug!("identical job already exists");
                    return None;
                }
                Err(error) => tracing::warn!(%error, "job not created yet, retrying"),
            }
            if self.pause(delay).await {
                return None;
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
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
                    Ok(Some(event)) => self.handle_event(event).await,
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

    async fn handle_event(self: &Arc<Self>, event: FileEvent) {
        let Some(file) = event.file else { return };
        let span = tracing::info_span!("starter.on_file_indexed", file = %file.file_name, seq = event.seq);
        adopt_parent(&span, &event.traceparent);
        async {
            let request = DownstreamRequest { file: Some(file.clone()) };
            let runs = retry_transient("downstream", &self.shutdown, || {
                let mut depsvc = self.depsvc.clone();
                let request = request.clone();
                async move { depsvc.downstream(request).await.map(|response| response.into_inner().runs) }
            })
            .await
            .unwrap_or_default();
            let campaign_id = if file.produced_by_job.is_empty() {
                String::new()
            } else {
                self.store.campaign_of(&file.produced_by_job).await.unwrap_or_default()
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
                self.enqueue(Candidate { seq: Some(event.seq), run, campaign_id: campaign_id.clone(), traceparent: traceparent.clone() });
            }
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
pub async fn retry_transient<T, F, Fut>(what: &str, shutdown: &Shutdown, mut call: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, tonic::Status>>,
{
    let mut delay = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(value) => return Some(value),
            Err(status) if is_transient(&status) => {
                tracing::warn!(call = what, error = %status.message(), "peer unavailable, retrying");
            }
            Err(status) => {
                tracing::error!(call = what, error = %status.message(), code = ?status.code(), "peer refused request");
                return None;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.wait() => return None,
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
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

pub fn describe_run(run: &ProductRun) -> String {
    let product = run.product.clone().unwrap_or_default();
    let time = run.time.clone().unwrap_or_default();
    let repointing = time.repointing.map(|number| format!("-repoint{number:05}")).unwrap_or_default();
    format!("{} {} {} {}{}", product.instrument, product.data_level, product.descriptor, time.date, repointing)
}
