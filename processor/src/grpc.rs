//! The gRPC face of the processor; `tonic::Status` appears only here and in `error.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use proto::ids::JobId;
use proto::pb::processor_service_server::ProcessorService;
use proto::pb::{CancelJobRequest, CancelJobResponse, GetStatusRequest, GetStatusResponse, ProcessorStatus};
use tonic::{Request, Response, Status};

use super::error::ProcessorError;
use super::worker::WorkerShared;

pub struct ProcessorGrpc {
    pub shared: Arc<WorkerShared>,
}

#[tonic::async_trait]
impl ProcessorService for ProcessorGrpc {
    #[tracing::instrument(skip_all, name = "processor.get_status")]
    async fn get_status(&self, _request: Request<GetStatusRequest>) -> Result<Response<GetStatusResponse>, Status> {
        let running_jobs = self.shared.running.lock().expect("running lock").keys().map(JobId::to_string).collect();
        let status = ProcessorStatus {
            worker_id: self.shared.worker_id.to_string(),
            slots: self.shared.slots,
            running_jobs,
            jobs_succeeded: self.shared.succeeded.load(Ordering::Relaxed),
            jobs_failed: self.shared.failed.load(Ordering::Relaxed),
            algorithms: self.shared.registry.names(),
        };
        Ok(Response::new(GetStatusResponse { status: Some(status) }))
    }

    #[tracing::instrument(skip_all, name = "processor.cancel_job", fields(job = %request.get_ref().job_id))]
    async fn cancel_job(&self, request: Request<CancelJobRequest>) -> Result<Response<CancelJobResponse>, Status> {
        let job_id = JobId::from(request.into_inner().job_id);
        let running = self.shared.running.lock().expect("running lock");
        let job = running.get(&job_id).ok_or_else(|| ProcessorError::UnknownJob(job_id.clone()))?;
        job.cancelled.store(true, Ordering::Relaxed);
        job.cancel_signal.notify_one();
        tracing::info!("job cancelled");
        Ok(Response::new(CancelJobResponse { cancelled: true }))
    }
}
