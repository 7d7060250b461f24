//! The status API for people and tools (JSON): files with provenance, jobs with inputs, outputs, logs
//! and timings, per-instrument queues, dead-lettered trigger evaluations, the product graph,
//! quarantined files, processor status. The
//! JSON is the contract messages' own serde form (enums and instants as text, see `proto::json`);
//! only a job adds derived fields, through [`JobView`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use http::HeaderMap;
use prost_types::Timestamp;
use proto::pb::{
    CampaignProgress, DeadEvaluation, FailJobRequest, FileKind, FileRecord, GetCampaignRequest, GetFileRequest,
    GetGraphRequest, GetGraphResponse, GetJobRequest, GetQueuesRequest, GetStatusRequest, InstrumentQueue, Job,
    JobState, ListDeadEvaluationsRequest, ListJobsRequest, ListQuarantineRequest, ProcessorStatus, QuarantinedFile,
    QueryFilesRequest, Relationship,
};
use proto::time::millis_of;

use super::auth::Caller;
use super::catalog::query_date;
use super::config::StatusAccess;
use super::error::GatewayError;
use super::key_store::Scope;
use super::release::sees_released_only;
use super::state::GatewayState;

type AppState = State<Arc<GatewayState>>;
type Params = Query<HashMap<String, String>>;

/// With no filter at all, `/api/files` looks at this many days of arrivals.
const RECENT_DAYS: i32 = 7;
const DEFAULT_LIMIT: u32 = 100;
/// The largest page the status API asks a peer for.
const MAX_LIMIT: u32 = 10_000;
/// Response header naming where the next page of a list (`/api/jobs`, `/api/files`,
/// `/api/quarantine`, `/api/dead-evaluations`) begins (`?page_token=`).
const NEXT_PAGE_TOKEN: &str = "x-next-page-token";
/// Lines of a job's log shown in lists; the job itself shows all of it.
const LOG_TAIL_LINES: usize = 5;

/// What a caller of the status API sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Everything,
    /// Files no release has made public stay unseen: not listed, not named as provenance, and the
    /// routes that name files of any kind (jobs, quarantine, dead evaluations, the processor) refused.
    ReleasedOnly,
}

impl Viewer {
    /// Who may use the status API: with `status_access = "keys"` a key with the `read` scope
    /// (`operator` and `admin` imply it); what they see follows `anonymous_access`.
    pub fn of(state: &GatewayState, caller: &Caller) -> Result<Viewer, GatewayError> {
        if state.config.status_access == StatusAccess::Keys {
            caller.require(Scope::Read, "use the status API")?;
        }
        Ok(if sees_released_only(state.config.anonymous_access, caller) {
            Viewer::ReleasedOnly
        } else {
            Viewer::Everything
        })
    }

    /// Refuses a released-only viewer a route that names unreleased files.
    fn require_everything(self, what: &str) -> Result<(), GatewayError> {
        match self {
            Viewer::Everything => Ok(()),
            Viewer::ReleasedOnly => Err(GatewayError::Forbidden(format!(
                "{what} name files no release has made public: an api key with the operator scope is needed"
            ))),
        }
    }

    /// A file as this viewer may see it; `None` when it may not see it at all.
    fn file(self, mut record: FileRecord) -> Option<FileRecord> {
        if self == Viewer::ReleasedOnly {
            if !record.released {
                return None;
            }
            // Provenance names inputs, which are rarely released themselves.
            record.parent_files.clear();
            record.produced_by_job.clear();
        }
        Some(record)
    }
}

/// `GET /` and `GET /ui`: the live page (its data comes from the status API).
pub async fn page(State(state): AppState, caller: Caller) -> Result<axum::response::Html<&'static str>, GatewayError> {
    Viewer::of(&state, &caller)?;
    Ok(axum::response::Html(super::routes::PAGE))
}

/// `GET /api/files`: files, newest arrivals first, a page at a time (the next page is announced
/// in the `x-next-page-token` header, as for `/api/jobs`).
pub async fn files(
    State(state): AppState,
    caller: Caller,
    Query(params): Params,
) -> Result<(HeaderMap, Json<Vec<FileRecord>>), GatewayError> {
    let viewer = Viewer::of(&state, &caller)?;
    let given = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mut filter = QueryFilesRequest {
        kind: enum_param(&params, "kind", FileKind::from_text)?.into(),
        instrument: given("instrument"),
        data_level: given("data_level"),
        descriptor: given("descriptor"),
        start_date_min: query_date(params.get("start_date").map(String::as_str), "start_date")?,
        start_date_max: query_date(params.get("end_date").map(String::as_str), "end_date")?,
        ..Default::default()
    };
    if filter == QueryFilesRequest::default() {
        let today = imap_filename::Date::parse_yyyymmdd(
            &proto::time::rfc3339_millis(proto::time::now_millis())[..10].replace('-', ""),
        )
        .map_err(|error| GatewayError::InvalidRequest(error.to_string()))?;
        filter.ingestion_date_min = today.add_days(-RECENT_DAYS).yyyymmdd();
    }
    filter.released_only = viewer == Viewer::ReleasedOnly;
    filter.newest_first = true;
    filter.limit = limit(&params)?;
    filter.page_token = given("page_token");
    let page = state
        .clients
        .indexer
        .clone()
        .query_files(filter)
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner();
    let files = page.files.into_iter().filter_map(|record| viewer.file(record)).collect();
    Ok((next_page_header(&page.next_page_token, "indexer")?, Json(files)))
}

/// `GET /api/files/{file_name}`: one file and its provenance.
pub async fn file(
    State(state): AppState,
    caller: Caller,
    Path(file_name): Path<String>,
) -> Result<Json<FileRecord>, GatewayError> {
    let viewer = Viewer::of(&state, &caller)?;
    let not_found = || GatewayError::NotFound(format!("file not found: {file_name}"));
    let record = state
        .clients
        .indexer
        .clone()
        .get_file(GetFileRequest { file_name: file_name.clone() })
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner()
        .file
        .unwrap_or_default();
    // An unreleased file is answered exactly as a missing one.
    viewer.file(record).map(Json).ok_or_else(not_found)
}

/// `GET /api/jobs`: recent jobs, optionally by state and instrument.
/// The next page is announced in the `x-next-page-token` header (absent on the last page); the
/// body stays a list.
pub async fn jobs(
    State(state): AppState,
    caller: Caller,
    Query(params): Params,
) -> Result<(HeaderMap, Json<Vec<JobView>>), GatewayError> {
    Viewer::of(&state, &caller)?.require_everything("jobs")?;
    let request = ListJobsRequest {
        state: enum_param(&params, "state", JobState::from_text)?.into(),
        instrument: params.get("instrument").cloned().unwrap_or_default(),
        limit: limit(&params)?,
        campaign_id: params.get("campaign_id").cloned().unwrap_or_default(),
        output_file: params.get("output_file").cloned().unwrap_or_default(),
        input_file: params.get("input_file").cloned().unwrap_or_default(),
        page_token: params.get("page_token").cloned().unwrap_or_default(),
    };
    let page =
        state.clients.starter.clone().list_jobs(request).await.map_err(GatewayError::upstream("starter"))?.into_inner();
    let headers = next_page_header(&page.next_page_token, "starter")?;
    Ok((headers, Json(page.jobs.iter().map(|job| JobView::of(job, LogShown::Tail)).collect())))
}

/// `GET /api/jobs/{id}`: one job with its full log.
pub async fn job(
    State(state): AppState,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<JobView>, GatewayError> {
    Viewer::of(&state, &caller)?.require_everything("jobs")?;
    let job =
        state.clients.starter.clone().get_job(GetJobRequest { id }).await.map_err(GatewayError::upstream("starter"))?;
    Ok(Json(JobView::of(&job.into_inner().job.unwrap_or_default(), LogShown::All)))
}

/// `POST /api/jobs/{id}/fail?reason=`: an operator fails a queued or running job; the starter
/// records the key's name and id in the job's log.
pub async fn fail_job(
    State(state): AppState,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Params,
) -> Result<Json<serde_json::Value>, GatewayError> {
    let key = caller.require(Scope::Operator, "fail a job")?;
    let operator = format!("{} (api key {})", key.name, key.id);
    let reason = params.get("reason").map(|reason| reason.trim().to_string()).unwrap_or_default();
    let request = FailJobRequest { job_id: id.clone(), reason, operator: operator.clone() };
    let failed =
        state.clients.starter.clone().fail_job(request).await.map_err(GatewayError::upstream("starter"))?.into_inner();
    tracing::info!(job = %id, %operator, "job failed by an operator");
    Ok(Json(serde_json::json!({"job_id": id, "state": failed.state().text(), "failed_by": operator})))
}

/// `GET /api/campaigns/{id}`: a reprocessing campaign's jobs by state (the id `reprocess` answered).
pub async fn campaign(
    State(state): AppState,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CampaignProgress>, GatewayError> {
    Viewer::of(&state, &caller)?;
    let progress = state
        .clients
        .starter
        .clone()
        .get_campaign(GetCampaignRequest { id })
        .await
        .map_err(GatewayError::upstream("starter"))?
        .into_inner()
        .campaign
        .unwrap_or_default();
    Ok(Json(progress))
}

/// `GET /api/queues`: queued, running and finished jobs per instrument.
pub async fn queues(State(state): AppState, caller: Caller) -> Result<Json<Vec<InstrumentQueue>>, GatewayError> {
    Viewer::of(&state, &caller)?;
    let queues = state
        .clients
        .starter
        .clone()
        .get_queues(GetQueuesRequest {})
        .await
        .map_err(GatewayError::upstream("starter"))?
        .into_inner()
        .queues;
    Ok(Json(queues))
}

/// `GET /api/dead-evaluations`: trigger evaluations a peer refused permanently, newest first, with
/// the reason; optionally of one instrument. Paged like `/api/jobs`.
pub async fn dead_evaluations(
    State(state): AppState,
    caller: Caller,
    Query(params): Params,
) -> Result<(HeaderMap, Json<Vec<DeadEvaluation>>), GatewayError> {
    Viewer::of(&state, &caller)?.require_everything("dead evaluations")?;
    let request = ListDeadEvaluationsRequest {
        instrument: params.get("instrument").cloned().unwrap_or_default(),
        limit: limit(&params)?,
        page_token: params.get("page_token").cloned().unwrap_or_default(),
    };
    let page = state
        .clients
        .starter
        .clone()
        .list_dead_evaluations(request)
        .await
        .map_err(GatewayError::upstream("starter"))?
        .into_inner();
    Ok((next_page_header(&page.next_page_token, "starter")?, Json(page.evaluations)))
}

/// `GET /api/graph`: products, edges and the Graphviz text.
pub async fn graph(State(state): AppState, caller: Caller) -> Result<Json<GetGraphResponse>, GatewayError> {
    Viewer::of(&state, &caller)?;
    let graph =
        state.clients.depsvc.clone().get_graph(GetGraphRequest {}).await.map_err(GatewayError::upstream("depsvc"))?;
    Ok(Json(graph.into_inner()))
}

/// `GET /api/quarantine`: files refused by the indexer and why, newest first. Paged like `/api/jobs`.
pub async fn quarantine(
    State(state): AppState,
    caller: Caller,
    Query(params): Params,
) -> Result<(HeaderMap, Json<Vec<QuarantinedFile>>), GatewayError> {
    Viewer::of(&state, &caller)?.require_everything("quarantined files")?;
    let request = ListQuarantineRequest {
        limit: limit(&params)?,
        page_token: params.get("page_token").cloned().unwrap_or_default(),
    };
    let page = state
        .clients
        .indexer
        .clone()
        .list_quarantine(request)
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner();
    Ok((next_page_header(&page.next_page_token, "indexer")?, Json(page.files)))
}

/// `GET /api/processor`: the processor this gateway's mesh points at.
pub async fn processor(State(state): AppState, caller: Caller) -> Result<Json<ProcessorStatus>, GatewayError> {
    Viewer::of(&state, &caller)?.require_everything("the processor's running jobs")?;
    let status = state
        .clients
        .processor
        .clone()
        .get_status(GetStatusRequest {})
        .await
        .map_err(GatewayError::upstream("processor"))?
        .into_inner()
        .status
        .unwrap_or_default();
    Ok(Json(status))
}

/// The `x-next-page-token` header announcing where the next page begins (`?page_token=`); none on
/// the last page.
fn next_page_header(token: &str, peer: &str) -> Result<HeaderMap, GatewayError> {
    let mut headers = HeaderMap::new();
    if !token.is_empty() {
        let token = http::HeaderValue::from_str(token)
            .map_err(|_| GatewayError::InvalidRequest(format!("the {peer} answered an unusable page token")))?;
        headers.insert(NEXT_PAGE_TOKEN, token);
    }
    Ok(headers)
}

/// `limit`, at most [`MAX_LIMIT`] (a larger one is cut down to it, as the peers' page maxima do).
fn limit(params: &HashMap<String, String>) -> Result<u32, GatewayError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<u64>()
            .map(|limit| limit.min(u64::from(MAX_LIMIT)) as u32)
            .map_err(|_| GatewayError::InvalidRequest(format!("limit {text:?}: expected a number"))),
    }
}

/// An enum filter given as its lowercase text; absent or empty means "any" (the default value).
fn enum_param<E: Default>(
    params: &HashMap<String, String>,
    name: &str,
    parse: impl Fn(&str) -> Result<E, proto::enums::UnknownText>,
) -> Result<E, GatewayError> {
    match params.get(name).map(String::as_str) {
        None | Some("") => Ok(E::default()),
        Some(text) => parse(text).map_err(|error| GatewayError::InvalidRequest(format!("{name}: {error}"))),
    }
}

/// How much of a job's log a view carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogShown {
    /// The last few lines, for lists.
    Tail,
    All,
}

/// A job for people: what it makes, from which inputs, how it went and how long it took.
#[derive(Debug, serde::Serialize)]
pub struct JobView {
    pub id: String,
    /// The product's name, e.g. `swapi l1 sci`.
    pub product: String,
    pub instrument: String,
    pub data_level: String,
    pub descriptor: String,
    pub date: String,
    pub repointing: Option<u32>,
    pub version: String,
    pub state: JobState,
    pub attempts: u32,
    pub inputs: Vec<JobInputView>,
    pub outputs: Vec<String>,
    pub error: String,
    pub log: String,
    #[serde(serialize_with = "proto::json::timestamp")]
    pub created_at: Option<Timestamp>,
    #[serde(serialize_with = "proto::json::timestamp")]
    pub started_at: Option<Timestamp>,
    #[serde(serialize_with = "proto::json::timestamp")]
    pub finished_at: Option<Timestamp>,
    /// From creation to the first lease; null until then.
    pub wait_seconds: Option<f64>,
    /// From the lease to the end; null until the job ends.
    pub run_seconds: Option<f64>,
    pub campaign_id: String,
    pub lease_owner: String,
}

/// One input of a job: where its files came from and which files they were.
#[derive(Debug, serde::Serialize)]
pub struct JobInputView {
    pub source: String,
    pub relationship: Relationship,
    pub files: Vec<String>,
}

impl JobView {
    pub fn of(job: &Job, log_shown: LogShown) -> JobView {
        let product = job.product.clone().unwrap_or_default();
        let time = job.time.clone().unwrap_or_default();
        let inputs = job
            .inputs
            .iter()
            .map(|input| JobInputView {
                source: input.source.clone(),
                relationship: input.relationship(),
                files: input.files.iter().map(|file| file.file_name.clone()).collect(),
            })
            .collect();
        let seconds_between = |from: &Option<Timestamp>, to: &Option<Timestamp>| match (from, to) {
            (Some(from), Some(to)) => Some((millis_of(to) - millis_of(from)) as f64 / 1000.0),
            _ => None,
        };
        let log = match log_shown {
            LogShown::All => job.log.clone(),
            LogShown::Tail => {
                let lines: Vec<&str> = job.log.lines().collect();
                lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
            }
        };
        JobView {
            id: job.id.clone(),
            product: product.to_string(),
            instrument: product.instrument,
            data_level: product.data_level,
            descriptor: product.descriptor,
            date: time.date,
            repointing: time.repointing,
            version: job.version.clone(),
            state: job.state(),
            attempts: job.attempts,
            inputs,
            outputs: job.outputs.clone(),
            error: job.error.clone(),
            log,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            wait_seconds: seconds_between(&job.created_at, &job.started_at),
            run_seconds: seconds_between(&job.started_at, &job.finished_at),
            campaign_id: job.campaign_id.clone(),
            lease_owner: job.lease_owner.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_timings_come_from_its_timestamps() {
        // 2026-11-26T06:00:00.000Z
        let created = 1_795_672_800_000;
        let job = Job {
            id: "j1".into(),
            state: JobState::Succeeded.into(),
            created_at: Some(proto::time::timestamp(created)),
            started_at: Some(proto::time::timestamp(created + 1_500)),
            finished_at: Some(proto::time::timestamp(created + 4_000)),
            log: "a\nb\nc\nd\ne\nf\ng".into(),
            ..Default::default()
        };
        let summary = serde_json::to_value(JobView::of(&job, LogShown::Tail)).unwrap();
        assert_eq!(summary["wait_seconds"], 1.5);
        assert_eq!(summary["run_seconds"], 2.5);
        assert_eq!(summary["log"], "c\nd\ne\nf\ng");
        assert_eq!(serde_json::to_value(JobView::of(&job, LogShown::All)).unwrap()["log"], job.log);
        assert_eq!(summary["created_at"], "2026-11-26T06:00:00.000Z");
        assert_eq!(summary["started_at"], "2026-11-26T06:00:01.500Z");
        assert_eq!(summary["state"], "succeeded");
        let queued = Job { state: JobState::Queued.into(), ..job.clone() };
        let queued =
            serde_json::to_value(JobView::of(&Job { started_at: None, finished_at: None, ..queued }, LogShown::Tail))
                .unwrap();
        assert_eq!(
            (&queued["started_at"], &queued["wait_seconds"]),
            (&serde_json::json!(""), &serde_json::Value::Null)
        );
    }
}
