//! Reprocessing campaigns: planned over a date range (the whole mission included) a chunk of days
//! at a time with the progress recorded, progress counted from the jobs that carry the campaign
//! id, and started by a request or a schedule.

use std::sync::Arc;

use imap_filename::Date;
use proto::ids::JobId;
use proto::pb::{
    CampaignProgress, GetGraphRequest, ProductKey, ProductRun, ProductTime, StartReprocessingRequest,
    StartReprocessingResponse,
};
use proto::retry::Outcome;
use proto::time::{now_millis, timestamp};
use sqlx::Row;

use super::error::StarterError;
use super::job_row::{state_counter, stored_state};
use super::jobs::JobStore;
use super::role::StarterShared;
use super::trigger::{Candidate, EVALUATION_RETRY, TriggerContext};

/// A campaign about to be planned.
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub id: String,
    pub request: StartReprocessingRequest,
    /// "request" or "schedule <name>".
    pub origin: String,
}

/// A campaign whose planning a restart interrupted.
#[derive(Debug, Clone)]
pub struct UnfinishedCampaign {
    pub plan: CampaignPlan,
    /// The last day whose runs were all evaluated; `None` before the first chunk was.
    pub planned_through: Option<Date>,
}

impl JobStore {
    /// Records a campaign; false when one with this id exists (a schedule fired twice).
    pub async fn record_campaign(
        &self,
        plan: &CampaignPlan,
        planned_runs: u32,
        now: i64,
    ) -> Result<bool, StarterError> {
        let request = &plan.request;
        let mut transaction = self.begin_write().await?;
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
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        Ok(inserted == 1)
    }

    /// Records that every run the campaign planned has been evaluated.
    pub async fn finish_campaign_planning(&self, id: &str, now: i64) -> Result<(), StarterError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("UPDATE campaigns SET planning_done = $1 WHERE id = $2 AND planning_done = 0")
            .bind(now.max(1))
            .bind(id.to_string())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Records that every run of the campaign's days up to `through` (YYYYMMDD) was evaluated.
    pub async fn record_campaign_progress(&self, id: &str, through: &str) -> Result<(), StarterError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query("UPDATE campaigns SET planned_through = $1 WHERE id = $2 AND planning_done = 0")
            .bind(through.to_string())
            .bind(id.to_string())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Campaigns whose planned runs were not all evaluated (the starter stopped mid-campaign),
    /// oldest first, with how far their planning got.
    pub async fn unfinished_campaigns(&self) -> Result<Vec<UnfinishedCampaign>, StarterError> {
        let rows = sqlx::query(
            "SELECT id, start_date, end_date, instrument, data_level, descriptor, origin, planned_through \
             FROM campaigns WHERE planning_done = 0 ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let through: String = row.try_get("planned_through")?;
                let planned_through = match through.as_str() {
                    "" => None,
                    day => Some(Date::parse_yyyymmdd(day).map_err(|error| {
                        StarterError::InvalidRequest(format!("stored campaign progress {day:?}: {error}"))
                    })?),
                };
                Ok(UnfinishedCampaign { plan: plan_from_row(row)?, planned_through })
            })
            .collect()
    }

    /// The campaign a job belongs to, so the jobs its outputs trigger belong to it too.
    pub async fn campaign_of(&self, job_id: &JobId) -> Result<String, StarterError> {
        let campaign: Option<String> = sqlx::query_scalar("SELECT campaign_id FROM jobs WHERE id = $1")
            .bind(job_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(campaign.unwrap_or_default())
    }

    /// The campaign's plan and its jobs counted by state.
    pub async fn campaign_progress(&self, id: &str) -> Result<CampaignProgress, StarterError> {
        let row = sqlx::query(
            "SELECT id, start_date, end_date, instrument, data_level, descriptor, planned_runs, created_at, origin, \
             planned_through FROM campaigns WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StarterError::UnknownCampaign(id.to_string()))?;
        let CampaignPlan { id: _, request, origin } = plan_from_row(&row)?;
        let StartReprocessingRequest { start_date, end_date, instrument, data_level, descriptor } = request;
        let mut progress = CampaignProgress {
            id: id.to_string(),
            start_date,
            end_date,
            instrument,
            data_level,
            descriptor,
            planned_runs: row.try_get::<i64, _>("planned_runs")? as u32,
            created_at: Some(timestamp(row.try_get("created_at")?)),
            origin,
            planned_through: row.try_get("planned_through")?,
            ..Default::default()
        };
        let counts = sqlx::query("SELECT state, COUNT(*) FROM jobs WHERE campaign_id = $1 GROUP BY state")
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        for count in &counts {
            let state = stored_state(&count.try_get::<String, _>(0)?)?;
            let jobs = count.try_get::<i64, _>(1)? as u32;
            let counters = [
                &mut progress.queued,
                &mut progress.running,
                &mut progress.succeeded,
                &mut progress.failed,
                &mut progress.dead,
            ];
            if let Some(counter) = state_counter(state, counters) {
                *counter = jobs;
            }
        }
        Ok(progress)
    }
}

/// A campaign's plan as stored.
fn plan_from_row(row: &sqlx::any::AnyRow) -> Result<CampaignPlan, StarterError> {
    Ok(CampaignPlan {
        id: row.try_get("id")?,
        request: StartReprocessingRequest {
            start_date: row.try_get("start_date")?,
            end_date: row.try_get("end_date")?,
            instrument: row.try_get("instrument")?,
            data_level: row.try_get("data_level")?,
            descriptor: row.try_get("descriptor")?,
        },
        origin: row.try_get("origin")?,
    })
}

/// Checks a reprocessing request and returns its date range.
pub fn validate_request(request: &StartReprocessingRequest) -> Result<(Date, Date), StarterError> {
    let start =
        Date::parse_yyyymmdd(&request.start_date).map_err(|error| StarterError::InvalidRequest(error.to_string()))?;
    let end =
        Date::parse_yyyymmdd(&request.end_date).map_err(|error| StarterError::InvalidRequest(error.to_string()))?;
    if end < start {
        return Err(StarterError::InvalidRequest(format!("end_date {end} is before start_date {start}")));
    }
    if !request.descriptor.is_empty() && request.instrument.is_empty() && request.data_level.is_empty() {
        return Err(StarterError::InvalidRequest("descriptor requires instrument or data_level".into()));
    }
    Ok((start, end))
}

/// Refuses a range longer than `max_days`: a campaign's work grows with its days.
pub fn check_span(start: Date, end: Date, max_days: u32) -> Result<(), StarterError> {
    let days = days_between(start, end);
    if days > i64::from(max_days) {
        return Err(StarterError::InvalidRequest(format!(
            "the range {start} to {end} spans {days} days, more than starter.max_campaign_days ({max_days}): \
             reprocess it in parts"
        )));
    }
    Ok(())
}

/// Days from `start` to `end`, both included.
fn days_between(start: Date, end: Date) -> i64 {
    i64::from(end.days_since_epoch()) - i64::from(start.days_since_epoch()) + 1
}

/// Plans a campaign: the kickoff products (those fed by level 0) or the products the filters
/// name, for every day of the range. The jobs' outputs then trigger the rest of the graph in
/// dependency order, each new version carrying the campaign along. Cadence products (monthly,
/// per rotation) resolve on their canonical date only, so planning every day makes one job each.
/// The runs are handed to the queues a chunk of days at a time by a task of their own
/// ([`drive_campaign`]); this answers once the campaign is recorded.
pub async fn plan_campaign(
    shared: Arc<StarterShared>,
    plan: CampaignPlan,
) -> Result<StartReprocessingResponse, StarterError> {
    let (start, end) = validate_request(&plan.request)?;
    let targets = campaign_targets(&shared.trigger, &plan.request).await?;
    let planned_runs = u32::try_from(days_between(start, end) * targets.len() as i64).unwrap_or(u32::MAX);
    if !shared.store.record_campaign(&plan, planned_runs, now_millis()).await? {
        // Unless its planning finished, the starter goes on with it on start.
        tracing::info!(campaign = %plan.id, "campaign already planned, not planned again");
        return Ok(StartReprocessingResponse { campaign_id: plan.id, planned_runs: 0, jobs_created: 0 });
    }
    tracing::info!(campaign = %plan.id, origin = %plan.origin, planned_runs, "reprocessing campaign planned");
    let drive = CampaignDrive {
        id: plan.id.clone(),
        targets,
        first_day: start,
        last_day: end,
        chunk_days: shared.config.campaign_chunk_days.get(),
        traceparent: proto::trace::current_traceparent(),
    };
    shared.trigger.tasks.spawn(drive_campaign(shared.trigger.clone(), drive));
    Ok(StartReprocessingResponse { campaign_id: plan.id, planned_runs, jobs_created: 0 })
}

/// Goes on, at start, with every campaign whose planning had not finished when the starter
/// stopped, one after another: from the day after its last completed chunk, so only the chunk in
/// flight is evaluated again (job deduplication makes that harmless).
pub async fn resume_campaigns(shared: Arc<StarterShared>) {
    let trigger = shared.trigger.clone();
    let Outcome::Done(unfinished) =
        EVALUATION_RETRY.run("unfinished campaigns", &trigger.shutdown, || trigger.store.unfinished_campaigns()).await
    else {
        return;
    };
    for UnfinishedCampaign { plan, planned_through } in unfinished {
        let targets = EVALUATION_RETRY
            .run("re-plan campaign", &trigger.shutdown, || campaign_targets(&trigger, &plan.request))
            .await;
        let range = validate_request(&plan.request);
        let (targets, (start, end)) = match (targets, range) {
            (Outcome::Done(targets), Ok(range)) => (targets, range),
            (Outcome::Stopped, _) => return,
            (Outcome::Refused(error) | Outcome::Exhausted(error), _) | (_, Err(error)) => {
                tracing::error!(campaign = %plan.id, %error, "campaign can no longer be planned; left as it is");
                if let Err(error) = trigger.store.finish_campaign_planning(&plan.id, now_millis()).await {
                    tracing::error!(campaign = %plan.id, %error, "campaign not marked planned");
                }
                continue;
            }
        };
        let first_day = match planned_through {
            Some(day) if day >= end => end,
            Some(day) => day.add_days(1),
            None => start,
        };
        tracing::info!(campaign = %plan.id, from = %first_day, "campaign interrupted by a restart, planning goes on");
        let drive = CampaignDrive {
            id: plan.id,
            targets,
            first_day,
            last_day: end,
            chunk_days: shared.config.campaign_chunk_days.get(),
            traceparent: proto::trace::current_traceparent(),
        };
        if !drive_campaign(trigger.clone(), drive).await {
            return;
        }
    }
}

/// What is left to plan of one campaign.
#[derive(Debug, Clone)]
pub struct CampaignDrive {
    pub id: String,
    pub targets: Vec<ProductKey>,
    pub first_day: Date,
    pub last_day: Date,
    pub chunk_days: u32,
    pub traceparent: String,
}

/// Hands the campaign's runs to the instrument queues a chunk of days at a time (the queues are
/// bounded, so this waits while they are full), waits until every run of the chunk has been
/// evaluated, records the chunk's last day, and goes on with the next; after the last chunk the
/// campaign's planning is done. Memory holds one chunk at most, and a restart goes on from the
/// recorded day. False when shutdown came first.
pub async fn drive_campaign(trigger: Arc<TriggerContext>, drive: CampaignDrive) -> bool {
    let mut first = drive.first_day;
    loop {
        let remaining_days = days_between(first, drive.last_day) - 1;
        let last = first.add_days(remaining_days.min(i64::from(drive.chunk_days) - 1) as i32);
        let days = days_between(first, last) as usize;
        let Some(chunk_evaluated) = trigger.start_campaign_chunk(&drive.id, days * drive.targets.len()) else {
            break;
        };
        for offset in 0..days {
            let date = first.add_days(offset as i32).yyyymmdd();
            for product in &drive.targets {
                let run = ProductRun {
                    product: Some(product.clone()),
                    time: Some(ProductTime { date: date.clone(), repointing: None }),
                };
                let candidate =
                    Candidate { seq: None, run, campaign_id: drive.id.clone(), traceparent: drive.traceparent.clone() };
                if !trigger.enqueue(candidate).await {
                    return false;
                }
            }
        }
        tokio::select! {
            biased;
            _ = trigger.shutdown.wait() => return false,
            evaluated = chunk_evaluated => if evaluated.is_err() { return false },
        }
        let through = last.yyyymmdd();
        let recorded = EVALUATION_RETRY
            .run("record campaign progress", &trigger.shutdown, || {
                trigger.store.record_campaign_progress(&drive.id, &through)
            })
            .await;
        match recorded {
            Outcome::Done(()) => tracing::info!(campaign = %drive.id, through = %through, "campaign chunk evaluated"),
            Outcome::Stopped => return false,
            Outcome::Refused(error) | Outcome::Exhausted(error) => {
                // Harmless: a restart evaluates this chunk again, which creates nothing twice.
                tracing::error!(campaign = %drive.id, %error, "campaign progress not recorded")
            }
        }
        if last >= drive.last_day {
            break;
        }
        first = last.add_days(1);
    }
    let finished = EVALUATION_RETRY
        .run("finish campaign planning", &trigger.shutdown, || {
            trigger.store.finish_campaign_planning(&drive.id, now_millis())
        })
        .await;
    match finished {
        Outcome::Done(()) => tracing::info!(campaign = %drive.id, "every planned run of the campaign evaluated"),
        Outcome::Stopped => return false,
        Outcome::Refused(error) | Outcome::Exhausted(error) => {
            tracing::error!(%error, campaign = %drive.id, "campaign not marked planned; its last chunk is evaluated again on restart")
        }
    }
    true
}

/// The products a campaign plans every day of its range: the kickoff products (those fed by
/// level 0) or those the filters name.
pub async fn campaign_targets(
    trigger: &TriggerContext,
    request: &StartReprocessingRequest,
) -> Result<Vec<ProductKey>, StarterError> {
    validate_request(request)?;
    let graph = trigger.depsvc.clone().get_graph(GetGraphRequest {}).await?.into_inner();
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
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_longer_than_the_configured_span_is_refused_with_the_limit() {
        let request = |start: &str, end: &str| StartReprocessingRequest {
            start_date: start.into(),
            end_date: end.into(),
            ..Default::default()
        };
        let (start, end) = validate_request(&request("00010101", "99991231")).unwrap();
        let refusal = check_span(start, end, 3660).unwrap_err().to_string();
        assert!(refusal.contains("3652059 days") && refusal.contains("max_campaign_days (3660)"), "{refusal}");
        let (start, end) = validate_request(&request("20250101", "20251231")).unwrap();
        assert!(check_span(start, end, 365).is_ok());
        assert!(check_span(start, end, 364).is_err());
    }
}
