//! The status API for people and tools (JSON): files with provenance, jobs with inputs, outputs, logs
//! and timings, per-instrument queues, the product graph, quarantined files, processor status.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use proto::pb::{
    FileRecord, GetCampaignRequest, GetFileRequest, GetGraphRequest, GetJobRequest, GetQueuesRequest, GetStatusRequest,
    Job, ListJobsRequest, ListQuarantineRequest, QueryFilesRequest,
};
use serde_json::{Value, json};

use super::catalog::query_date;
use super::error::GatewayError;
use super::state::GatewayState;

type AppState = State<Arc<GatewayState>>;
type Params = Query<HashMap<String, String>>;

/// With no filter at all, `/api/files` looks at this many days of arrivals.
const RECENT_DAYS: i32 = 7;
const DEFAULT_LIMIT: usize = 100;

/// `GET /api/files`: files, newest arrivals first.
pub async fn files(State(state): AppState, Query(params): Params) -> Result<Json<Value>, GatewayError> {
    let given = |name: &str| params.get(name).cloned().unwrap_or_default();
    let mut filter = QueryFilesRequest {
        kind: given("kind"),
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
    let mut records = state
        .clients
        .indexer
        .clone()
        .query_files(filter)
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner()
        .files;
    records.sort_by(|left, right| {
        right.ingestion_time.cmp(&left.ingestion_time).then(left.file_name.cmp(&right.file_name))
    });
    records.truncate(limit(&params)?);
    Ok(Json(Value::Array(records.iter().map(file_json).collect())))
}

/// `GET /api/files/{file_name}`: one file and its provenance.
pub async fn file(State(state): AppState, Path(file_name): Path<String>) -> Result<Json<Value>, GatewayError> {
    let record = state
        .clients
        .indexer
        .clone()
        .get_file(GetFileRequest { file_name })
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner()
        .file
        .unwrap_or_default();
    Ok(Json(file_json(&record)))
}

/// `GET /api/jobs`: recent jobs, optionally by state and instrument.
pub async fn jobs(State(state): AppState, Query(params): Params) -> Result<Json<Value>, GatewayError> {
    let request = ListJobsRequest {
        state: params.get("state").cloned().unwrap_or_default(),
        instrument: params.get("instrument").cloned().unwrap_or_default(),
        limit: limit(&params)? as u32,
        campaign_id: params.get("campaign_id").cloned().unwrap_or_default(),
        output_file: params.get("output_file").cloned().unwrap_or_default(),
        input_file: params.get("input_file").cloned().unwrap_or_default(),
    };
    let jobs = state
        .clients
        .starter
        .clone()
        .list_jobs(request)
        .await
        .map_err(GatewayError::upstream("starter"))?
        .into_inner()
        .jobs;
    Ok(Json(Value::Array(jobs.iter().map(|job| job_json(job, false)).collect())))
}

/// `GET /api/jobs/{id}`: one job with its full log.
pub async fn job(State(state): AppState, Path(id): Path<String>) -> Result<Json<Value>, GatewayError> {
    let job =
        state.clients.starter.clone().get_job(GetJobRequest { id }).await.map_err(GatewayError::upstream("starter"))?;
    Ok(Json(job_json(&job.into_inner().job.unwrap_or_default(), true)))
}

/// `GET /api/campaigns/{id}`: a reprocessing campaign's jobs by state (the id `reprocess` answered).
pub async fn campaign(State(state): AppState, Path(id): Path<String>) -> Result<Json<Value>, GatewayError> {
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
    Ok(Json(json!({
        "id": progress.id, "origin": progress.origin, "created_at": progress.created_at,
        "start_date": progress.start_date, "end_date": progress.end_date, "instrument": progress.instrument,
        "data_level": progress.data_level, "descriptor": progress.descriptor, "planned_runs": progress.planned_runs,
        "queued": progress.queued, "running": progress.running, "succeeded": progress.succeeded,
        "failed": progress.failed, "dead": progress.dead,
    })))
}

/// `GET /api/queues`: queued, running and finished jobs per instrument.
pub async fn queues(State(state): AppState) -> Result<Json<Value>, GatewayError> {
    let queues = state
        .clients
        .starter
        .clone()
        .get_queues(GetQueuesRequest {})
        .await
        .map_err(GatewayError::upstream("starter"))?;
    Ok(Json(Value::Array(
        queues
            .get_ref()
            .queues
            .iter()
            .map(|queue| {
                json!({"instrument": queue.instrument, "queued": queue.queued, "running": queue.running,
                       "succeeded": queue.succeeded, "failed": queue.failed, "dead": queue.dead})
            })
            .collect(),
    )))
}

/// `GET /api/graph`: products, edges and the Graphviz text.
pub async fn graph(State(state): AppState) -> Result<Json<Value>, GatewayError> {
    let graph =
        state.clients.depsvc.clone().get_graph(GetGraphRequest {}).await.map_err(GatewayError::upstream("depsvc"))?;
    let graph = graph.get_ref();
    let product = |key: &proto::pb::ProductKey| json!({"instrument": key.instrument, "data_level": key.data_level, "descriptor": key.descriptor});
    Ok(Json(json!({
        "products": graph.products.iter().map(product).collect::<Vec<_>>(),
        "edges": graph.edges.iter().map(|edge| json!({
            "product": edge.product.as_ref().map(product),
            "input": edge.input,
            "relationship": edge.relationship,
            "window": edge.window,
        })).collect::<Vec<_>>(),
        "dot": graph.dot,
    })))
}

/// `GET /api/quarantine`: files refused by the indexer and why.
pub async fn quarantine(State(state): AppState, Query(params): Params) -> Result<Json<Value>, GatewayError> {
    let request = ListQuarantineRequest { limit: limit(&params)? as u32 };
    let files = state
        .clients
        .indexer
        .clone()
        .list_quarantine(request)
        .await
        .map_err(GatewayError::upstream("indexer"))?
        .into_inner()
        .files;
    Ok(Json(Value::Array(
        files
            .iter()
            .map(|file| json!({"original_key": file.original_key, "quarantine_key": file.quarantine_key, "reason": file.reason, "recorded_at": file.recorded_at}))
            .collect(),
    )))
}

/// `GET /api/processor`: the processor this gateway's mesh points at.
pub async fn processor(State(state): AppState) -> Result<Json<Value>, GatewayError> {
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
    Ok(Json(json!({
        "worker_id": status.worker_id, "slots": status.slots, "running_jobs": status.running_jobs,
        "jobs_succeeded": status.jobs_succeeded, "jobs_failed": status.jobs_failed, "algorithms": status.algorithms,
    })))
}

fn limit(params: &HashMap<String, String>) -> Result<usize, GatewayError> {
    match params.get("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => {
            text.parse().map_err(|_| GatewayError::InvalidRequest(format!("limit {text:?}: expected a number")))
        }
    }
}

pub fn file_json(record: &FileRecord) -> Value {
    json!({
        "file_name": record.file_name, "archive_key": record.archive_key, "kind": record.kind,
        "instrument": record.instrument, "data_level": record.data_level, "descriptor": record.descriptor,
        "start_date": record.start_date, "end_date": record.end_date, "repointing": record.repointing, "cr": record.cr,
        "version": record.version, "extension": record.extension, "size_bytes": record.size_bytes,
        "ingestion_time": record.ingestion_time, "produced_by_job": record.produced_by_job,
        "parent_files": record.parent_files, "released": record.released, "released_at": record.released_at,
        "release_manifest": record.release_manifest,
    })
}

/// A job for people: what it makes, from which inputs, how it went and how long it took.
pub fn job_json(job: &Job, with_log: bool) -> Value {
    let product = job.product.clone().unwrap_or_default();
    let time = job.time.clone().unwrap_or_default();
    let inputs: Vec<Value> = job
        .inputs
        .iter()
        .map(|input| {
            json!({"source": input.source, "relationship": input.relationship,
                            "files": input.files.iter().map(|file| file.file_name.clone()).collect::<Vec<_>>()})
        })
        .collect();
    let seconds_between = |from: &str, to: &str| match (rfc3339_millis(from), rfc3339_millis(to)) {
        (Some(from), Some(to)) => Some((to - from) as f64 / 1000.0),
        _ => None,
    };
    let log = if with_log {
        job.log.clone()
    } else {
        job.log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    };
    json!({
        "id": job.id,
        "product": format!("{} {} {}", product.instrument, product.data_level, product.descriptor),
        "instrument": product.instrument, "data_level": product.data_level, "descriptor": product.descriptor,
        "date": time.date, "repointing": time.repointing, "version": job.version, "state": job.state,
        "attempts": job.attempts, "inputs": inputs, "outputs": job.outputs, "error": job.error, "log": log,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "wait_seconds": seconds_between(&job.created_at, &job.started_at),
        "run_seconds": seconds_between(&job.started_at, &job.finished_at),
        "campaign_id": job.campaign_id, "lease_owner": job.lease_owner,
    })
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fff]Z`.
fn rfc3339_millis(text: &str) -> Option<i64> {
    let date = imap_filename::Date::parse_yyyymmdd(&text.get(0..10)?.replace('-', "")).ok()?;
    let field = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let seconds = field(11..13)? * 3600 + field(14..16)? * 60 + field(17..19)?;
    let millis = text
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.get(0..3))
        .and_then(|digits| digits.parse::<i64>().ok())
        .unwrap_or(0);
    Some((i64::from(date.days_since_epoch()) * 86_400 + seconds) * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_timings_come_from_its_timestamps() {
        let job = Job {
            id: "j1".into(),
            state: "succeeded".into(),
            created_at: "2026-11-26T06:00:00.000Z".into(),
            started_at: "2026-11-26T06:00:01.500Z".into(),
            finished_at: "2026-11-26T06:00:04.000Z".into(),
            log: "a\nb\nc\nd\ne\nf\ng".into(),
            ..Default::default()
        };
        let summary = job_json(&job, false);
        assert_eq!(summary["wait_seconds"], 1.5);
        assert_eq!(summary["run_seconds"], 2.5);
        assert_eq!(summary["log"], "c\nd\ne\nf\ng");
        assert_eq!(job_json(&job, true)["log"], job.log);
        assert_eq!(rfc3339_millis("1970-01-02T00:00:01Z"), Some(86_401_000));
    }
}
