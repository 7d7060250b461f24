//! Reprocessing campaigns: planned over a date range (the whole mission included), progress
//! counted from the jobs that carry the campaign id, and started by a request or a schedule.

use std::sync::Arc;

use proto::date::Date;
use proto::pb::{CampaignProgress, GetGraphRequest, ProductKey, ProductRun, ProductTime, ReprocessRequest, ReprocessResponse};
use proto::store::{now_millis, rfc3339_millis};
use sqlx::Row;

use super::error::StarterError;
use super::job_row::state_counter;
use super::jobs::JobStore;
use super::role::StarterShared;
use super::trigger::Candidate;

/// A campaign about to be planned.
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub id: String,
    pub request: ReprocessRequest,
    /// "request" or "schedule <name>".
    pub origin: String,
}

impl JobStore {
    /// Records a campaign; false when one with this id exists (a schedule fired twice).
    pub async fn record_campaign(&self, plan: &CampaignPlan, planned_runs: u32, now: i64) -> Result<bool, StarterError> {
        let request = &plan.request;
        let inserted = sqlx::query(
            "INSERT INTO campaigns (id, start_date, end_date, instrument, data_level, descriptor, planned_runs, created_at, origin) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING",
        )
        .bind(plan.id.clone())
        .bind(request.start_date.clone())
        .bind(request.end_date.clone())
        .bind(request.instrument.clone())
        .bind(request.data_level.clone())
        .bind(request.descriptor.clone())
        .bind(i64::from(planned_runs))
        .bind(now)
        .bind(plan.origin.clone())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    /// The campaign a job belongs to, so the jobs its outputs trigger belong to it too.
    pub async fn campaign_of(&self, job_id: &str) -> Result<String, StarterError> {
        let campaign: Option<String> = sqlx::query_scalar("SELECT campaign_id FROM jobs WHERE id = $1")
            .bind(job_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(campaign.unwrap_or_default())
    }

    /// The campaign's plan and its jobs counted by state.
    pub async fn campaign_progress(&self, id: &str) -> Result<CampaignProgress, StarterError> {
        let row = sqlx::query(
            "SELECT id, start_date, end_date, instrument, data_level, descriptor, planned_runs, created_at, origin \
             FROM campaigns WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StarterError::UnknownCampaign(id.to_string()))?;
        let mut progress = CampaignProgress {
            id: row.try_get("id")?,
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            instrument: row.try_get("instrument")?,
            data_level: row.try_get("data_level")?,
            descriptor: row.try_get("descriptor")?,
            planned_runs: row.try_get::<i64, _>("planned_runs")? as u32,
            created_at: rfc3339_millis(row.try_get("created_at")?),
            origin: row.try_get("origin")?,
            ..Default::default()
        };
        let counts = sqlx::query("SELECT state, COUNT(*) FROM jobs WHERE campaign_id = $1 GROUP BY state")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        for count in &counts {
            let state: String = count.try_get(0)?;
            let jobs = count.try_get::<i64, _>(1)? as u32;
            let counters = [&mut progress.queued, &mut progress.running, &mut progress.succeeded, &mut progress.failed, &mut progress.dead];
            if let Some(counter) = state_counter(&state, counters) {
                *counter = jobs;
            }
        }
        Ok(progress)
    }
}

/// Checks a reprocessing request and returns its date range.
pub fn validate_request(request: &ReprocessRequest) -> Result<(Date, Date), StarterError> {
    let start = Date::parse_yyyymmdd(&request.start_date).map_err(|error| StarterError::InvalidRequest(error.to_string()))?;
    let end = Date::parse_yyyymmdd(&request.end_date).map_err(|error| StarterError::InvalidRequest(error.to_string()))?;
    if end < start {
        return Err(StarterError::InvalidRequest(format!("end_date {end} is before start_date {start}")));
    }
    if !request.descriptor.is_empty() && request.instrument.is_empty() && request.data_level.is_empty() {
        return Err(StarterError::InvalidRequest("descriptor requires instrument or data_level".into()));
    }
    Ok((start, end))
}

/// Plans a campaign: the kickoff products (those fed by level 0) or the products the filters
/// name, for every day of the range. The jobs' outputs then trigger the rest of the graph in
/// dependency order, each new version carrying the campaign along. Cadence products (monthly,
/// per rotation) resolve on their canonical date only, so planning every day makes one job each.
pub async fn plan_campaign(shared: Arc<StarterShared>, plan: CampaignPlan) -> Result<ReprocessResponse, StarterError> {
    let (start, end) = validate_request(&plan.request)?;
    let request = &plan.request;
    let graph = shared.trigger.depsvc.clone().get_graph(GetGraphRequest {}).await?.into_inner();
    let targets: Vec<ProductKey> = graph
        .products
        .iter()
        .filter(|product| request.instrument.is_empty() || product.instrument == request.instrument)
        .filter(|product| request.descriptor.is_empty() || product.descriptor == request.descriptor)
        .filter(|product| {
            if request.data_level.is_empty() {
                graph.edges.iter().any(|edge| {
                    edge.product.as_ref() == Some(*product) && edge.input.split_whitespace().nth(1) == Some("l0")
                })
            } else {
                product.data_level == request.data_level
            }
        })
        .cloned()
        .collect();
    if targets.is_empty() {
        return Err(StarterError::InvalidRequest("no product in the graph matches the campaign filters".into()));
    }
    let days = (end.days_since_epoch() - start.days_since_epoch() + 1) as u32;
    let planned_runs = days * targets.len() as u32;
    if !shared.store.record_campaign(&plan, planned_runs, now_millis()).await? {
        tracing::info!(campaign = %plan.id, "campaign already planned, not planned again");
        return Ok(ReprocessResponse { campaign_id: plan.id, planned_runs: 0, jobs_created: 0 });
    }
    tracing::info!(campaign = %plan.id, origin = %plan.origin, planned_runs, "reprocessing campaign planned");
    let traceparent = proto::telemetry::current_traceparent();
    for offset in 0..days {
        let date = start.add_days(offset as i32).yyyymmdd();
        for product in &targets {
            let run = ProductRun { product: Some(product.clone()), time: Some(ProductTime { date: date.clone(), repointing: None }) };
            shared.trigger.enqueue(Candidate { seq: None, run, campaign_id: plan.id.clone(), traceparent: traceparent.clone() });
        }
    }
    Ok(ReprocessResponse { campaign_id: plan.id, planned_runs, jobs_created: 0 })
}
