//! Handing jobs to processors: each connected processor announces free slots (credits) and gets
//! one leased job per credit as soon as one is runnable.

use std::sync::Arc;
use std::time::Duration;

use mesh_runtime::Shutdown;
use proto::ids::{JobId, WorkerId};
use proto::pb::{WorkRequest, WorkResponse, work_request};
use proto::time::now_millis;
use tokio::sync::{Notify, mpsc};
use tonic::{Status, Streaming};

use super::jobs::JobStore;

/// How often an idle worker stream re-checks for jobs whose backoff ended or whose
/// instrument got a free slot, in case a wake-up was missed.
const IDLE_RECHECK: Duration = Duration::from_secs(1);

pub async fn serve_worker(
    store: Arc<JobStore>,
    job_available: Arc<Notify>,
    mut inbound: Streaming<WorkRequest>,
    outbound: mpsc::Sender<Result<WorkResponse, Status>>,
    shutdown: Shutdown,
) {
    let hello = match inbound.message().await {
        Ok(Some(WorkRequest { message: Some(work_request::Message::Hello(hello)) })) => hello,
        _ => {
            let _ =
                outbound.send(Err(Status::invalid_argument("the first message on a work stream must be hello"))).await;
            return;
        }
    };
    let worker = WorkerId::from(hello.worker_id);
    let mut credits = hello.slots;
    // A draining worker gets no more jobs; its heartbeats still count.
    let mut draining = false;
    tracing::info!(%worker, slots = credits, "processor connected");
    loop {
        let job_signal = job_available.notified();
        tokio::pin!(job_signal);
        job_signal.as_mut().enable();
        while credits > 0 && !draining {
            match store.claim(&worker, now_millis()).await {
                Ok(Some(job)) => {
                    tracing::info!(%worker, job = %job.id, "job leased");
                    if outbound.send(Ok(WorkResponse { job: Some(job) })).await.is_err() {
                        // The lease expires and the job is handed out again.
                        return;
                    }
                    credits -= 1;
                }
                Ok(None) => break,
                Err(error) => {
                    tracing::error!(%error, "claim failed");
                    break;
                }
            }
        }
        tokio::select! {
            message = inbound.message() => match message {
                Ok(Some(WorkRequest { message: Some(work_request::Message::Credit(more)) })) => credits += more,
                Ok(Some(WorkRequest { message: Some(work_request::Message::Draining(_)) })) => {
                    tracing::info!(%worker, "processor draining, leasing it nothing more");
                    draining = true;
                }
                Ok(Some(WorkRequest { message: Some(work_request::Message::Heartbeat(heartbeat)) })) => {
                    let job_ids: Vec<JobId> = heartbeat.job_ids.into_iter().map(JobId::from).collect();
                    if let Err(error) = store.heartbeat(&worker, &job_ids, now_millis()).await {
                        tracing::error!(%error, "heartbeat not recorded");
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    tracing::info!(%worker, "processor disconnected");
                    return;
                }
            },
            _ = &mut job_signal => {}
            _ = tokio::time::sleep(IDLE_RECHECK) => {}
            _ = shutdown.wait() => return,
        }
    }
}
