//! The gRPC face of the starter; `tonic::Status` appears only here, in `dispatch.rs` (the stream
//! protocol) and in `error.rs`.

use std::sync::Arc;

use proto::ids::{JobId, WorkerId};
use proto::pb::starter_service_server::StarterService;
use proto::pb::{
    CompleteJobRequest, CompleteJobResponse, FailJobRequest, FailJobResponse, GetCampaignRequest, GetCampaignResponse,
    GetJobRequest, GetJobResponse, GetQueuesRequest, GetQueuesResponse, InstrumentQueue, ListDeadEvaluationsRequest,
    ListDeadEvaluationsResponse, ListJobsRequest, ListJobsResponse, StartReprocessingRequest,
    StartReprocessingResponse, WorkRequest, WorkResponse,
};
use proto::time::now_millis;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::campaigns::{CampaignPlan, check_span, plan_campaign, validate_request};
use super::job_row::state_counter;
use super::jobs::{Completion, JobFilter};
use super::role::StarterShared;

pub struct StarterGrpc {
    pub shared: Arc<StarterShared>,
}

#[tonic::async_trait]
impl StarterService for StarterGrpc {
    type WorkStream = ReceiverStream<Result<WorkResponse, Status>>;

    /// A standby leases nothing: UNAVAILABLE sends the processor on to reconnect (to the leader).
    async fn work(&self, request: Request<Streaming<WorkRequest>>) -> Result<Response<Self::WorkStream>, Status> {
        let leadership = self.shared.store.leadership();
        if !leadership.is_leader() {
            let not_leader = mesh_runtime::RuntimeError::NotLeader { name: leadership.name().to_string() };
            return Err(super::error::StarterError::from(not_leader).into());
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(16);
        self.shared.trigger.tasks.spawn(super::dispatch::serve_worker(
            self.shared.store.clone(),
            self.shared.trigger.job_available.clone(),
            request.into_inner(),
            sender,
            self.shared.trigger.shutdown.clone(),
        ));
        Ok(Response::new(ReceiverStream::new(receiver)))
    }

    #[tracing::instrument(skip_all, name = "starter.complete_job", fields(job = %request.get_ref().job_id, succeeded = request.get_ref().succeeded))]
    async fn complete_job(
        &self,
        request: Request<CompleteJobRequest>,
    ) -> Result<Response<CompleteJobResponse>, Status> {
        let request = request.into_inner();
        let completion = Completion {
            succeeded: request.succeeded,
            retryable: request.retryable,
            error: request.error,
            log: request.log,
            outputs: request.outputs,
            not_started: request.not_started,
        };
        let (job, worker) = (JobId::from(request.job_id), WorkerId::from(request.worker_id));
        let state = self.shared.store.complete(&job, &worker, &completion, now_millis()).await?;
        tracing::info!(%state, "job completed");
        // A finished job frees a slot of its instrument; a requeued one may run elsewhere.
        self.shared.trigger.job_available.notify_waiters();
        Ok(Response::new(CompleteJobResponse { state: state.into() }))
    }

    #[tracing::instrument(skip_all, name = "starter.fail_job", fields(job = %request.get_ref().job_id, operator = %request.get_ref().operator))]
    async fn fail_job(&self, request: Request<FailJobRequest>) -> Result<Response<FailJobResponse>, Status> {
        let request = request.into_inner();
        let job = JobId::from(request.job_id);
        let state = self.shared.store.fail(&job, &request.reason, &request.operator, now_millis()).await?;
        tracing::info!(reason = %request.reason, "job failed by an operator");
        // A running job's slot is free again.
        self.shared.trigger.job_available.notify_waiters();
        Ok(Response::new(FailJobResponse { state: state.into() }))
    }

    #[tracing::instrument(skip_all, name = "starter.list_jobs")]
    async fn list_jobs(&self, request: Request<ListJobsRequest>) -> Result<Response<ListJobsResponse>, Status> {
        let request = request.into_inner();
        let filter = JobFilter {
            state: request.state(),
            instrument: request.instrument,
            campaign_id: request.campaign_id,
            output_file: request.output_file,
            input_file: request.input_file,
            limit: request.limit,
            page_token: request.page_token,
        };
        let page = self.shared.store.list_page(&filter).await?;
        Ok(Response::new(ListJobsResponse { jobs: page.jobs, next_page_token: page.next_page_token }))
    }

    #[tracing::instrument(skip_all, name = "starter.get_job")]
    async fn get_job(&self, request: Request<GetJobRequest>) -> Result<Response<GetJobResponse>, Status> {
        let job = self.shared.store.get(&JobId::from(request.into_inner().id)).await?;
        Ok(Response::new(GetJobResponse { job: Some(job) }))
    }

    #[tracing::instrument(skip_all, name = "starter.start_reprocessing")]
    async fn start_reprocessing(
        &self,
        request: Request<StartReprocessingRequest>,
    ) -> Result<Response<StartReprocessingResponse>, Status> {
        let request = request.into_inner();
        // Refuse a bad request before asking depsvc anything.
        let (start, end) = validate_request(&request)?;
        check_span(start, end, self.shared.config.max_campaign_days.get())?;
        let plan = CampaignPlan { id: uuid::Uuid::now_v7().to_string(), request, origin: "request".into() };
        let response = plan_campaign(self.shared.clone(), plan).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, name = "starter.get_queues")]
    async fn get_queues(&self, _request: Request<GetQueuesRequest>) -> Result<Response<GetQueuesResponse>, Status> {
        let mut queues: Vec<InstrumentQueue> = Vec::new();
        for (instrument, state, count) in self.shared.store.counts().await? {
            if queues.last().map(|queue| queue.instrument != instrument).unwrap_or(true) {
                queues.push(InstrumentQueue { instrument: instrument.clone(), ..Default::default() });
            }
            let queue = queues.last_mut().expect("just pushed");
            let counters =
                [&mut queue.queued, &mut queue.running, &mut queue.succeeded, &mut queue.failed, &mut queue.dead];
            if let Some(counter) = state_counter(state, counters) {
                *counter = count;
            }
        }
        for (instrument, count) in self.shared.store.dead_evaluation_counts().await? {
            match queues.binary_search_by(|queue| queue.instrument.cmp(&instrument)) {
                Ok(found) => queues[found].dead_evaluations = count,
                Err(at) => {
                    queues.insert(at, InstrumentQueue { instrument, dead_evaluations: count, ..Default::default() })
                }
            }
        }
        for (instrument, waiting) in self.shared.trigger.waiting_by_instrument() {
            match queues.binary_search_by(|queue| queue.instrument.cmp(&instrument)) {
                Ok(found) => queues[found].waiting = waiting,
                Err(at) => queues.insert(at, InstrumentQueue { instrument, waiting, ..Default::default() }),
            }
        }
        Ok(Response::new(GetQueuesResponse { queues }))
    }

    #[tracing::instrument(skip_all, name = "starter.list_dead_evaluations")]
    async fn list_dead_evaluations(
        &self,
        request: Request<ListDeadEvaluationsRequest>,
    ) -> Result<Response<ListDeadEvaluationsResponse>, Status> {
        let request = request.into_inner();
        let page = self.shared.store.dead_evaluations(&request.instrument, request.limit, &request.page_token).await?;
        Ok(Response::new(ListDeadEvaluationsResponse {
            evaluations: page.evaluations,
            next_page_token: page.next_page_token,
        }))
    }

    #[tracing::instrument(skip_all, name = "starter.get_campaign")]
    async fn get_campaign(
        &self,
        request: Request<GetCampaignRequest>,
    ) -> Result<Response<GetCampaignResponse>, Status> {
        let campaign = self.shared.store.campaign_progress(&request.into_inner().id).await?;
        Ok(Response::new(GetCampaignResponse { campaign: Some(campaign) }))
    }
}
