//! Trigger evaluations a peer refused permanently: a durable record of what was refused and why,
//! so the instrument's queue can move on without anything being dropped silently.

use proto::error::ErrorCode;
use proto::pb::{DeadEvaluation, ProductKey, ProductTime};
use proto::time::{now_millis, timestamp};
use sqlx::Row;

use super::error::StarterError;
use super::job_row::product_run_of;
use super::jobs::JobStore;

/// A refusal about to be recorded.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub product: ProductKey,
    pub time: ProductTime,
    /// The triggering event; 0 for a campaign's planned run.
    pub event_seq: u64,
    pub campaign_id: String,
    /// Which step was refused (`resolve`, `create job`, ...).
    pub step: &'static str,
    pub code: ErrorCode,
    pub message: String,
}

/// One page of dead-lettered evaluations, newest first, and where the next begins.
#[derive(Debug, Clone, Default)]
pub struct DeadEvaluationPage {
    pub evaluations: Vec<DeadEvaluation>,
    /// Empty when no more follow.
    pub next_page_token: String,
}

impl JobStore {
    /// Records a refusal; recording the same one again (a replayed event) changes nothing.
    pub async fn dead_letter_evaluation(&self, refusal: &Refusal) -> Result<(), StarterError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO dead_evaluations (id, instrument, data_level, descriptor, start_date, repointing, event_seq, \
             campaign_id, step, code, message, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (event_seq, campaign_id, instrument, data_level, descriptor, start_date, repointing, step) DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(refusal.product.instrument.clone())
        .bind(refusal.product.data_level.clone())
        .bind(refusal.product.descriptor.clone())
        .bind(refusal.time.date.clone())
        .bind(refusal.time.repointing.map(i64::from).unwrap_or(-1))
        .bind(refusal.event_seq as i64)
        .bind(refusal.campaign_id.clone())
        .bind(refusal.step.to_string())
        .bind(refusal.code.text().to_string())
        .bind(refusal.message.clone())
        .bind(now_millis())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// A page of dead-lettered evaluations, newest first (keyset on recording time and id), from
    /// `page_token` on; of one instrument when `instrument` is not empty. 100 unless `limit` says
    /// otherwise, at most the store's `max_page_size`.
    pub async fn dead_evaluations(
        &self,
        instrument: &str,
        limit: u32,
        page_token: &str,
    ) -> Result<DeadEvaluationPage, StarterError> {
        let limit = if limit == 0 { 100 } else { limit }.min(self.max_page_size());
        let (before_time, before_id) = match page_token {
            "" => (i64::MAX, String::new()),
            token => token
                .split_once(':')
                .and_then(|(time, id)| Some((time.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| {
                    StarterError::InvalidRequest(format!("page token {token:?} is not one a page ended at"))
                })?,
        };
        let rows = sqlx::query(
            "SELECT id, instrument, data_level, descriptor, start_date, repointing, event_seq, campaign_id, step, code, \
             message, recorded_at FROM dead_evaluations WHERE ($1 = '' OR instrument = $1) \
             AND (recorded_at < $2 OR (recorded_at = $2 AND ($3 = '' OR id < $3))) \
             ORDER BY recorded_at DESC, id DESC LIMIT $4",
        )
        .bind(instrument.to_string())
        .bind(before_time)
        .bind(before_id)
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut page = DeadEvaluationPage::default();
        for row in rows.iter().take(limit as usize) {
            let (product, time) = product_run_of(row)?;
            page.evaluations.push(DeadEvaluation {
                id: row.try_get("id")?,
                product: Some(product),
                time: Some(time),
                event_seq: row.try_get::<i64, _>("event_seq")? as u64,
                campaign_id: row.try_get("campaign_id")?,
                step: row.try_get("step")?,
                code: row.try_get("code")?,
                message: row.try_get("message")?,
                recorded_at: Some(timestamp(row.try_get("recorded_at")?)),
            });
        }
        // One row past the page says another page follows.
        if rows.len() > limit as usize
            && let Some(last) = page.evaluations.last()
        {
            let recorded_at = last.recorded_at.as_ref().map(proto::time::millis_of).unwrap_or_default();
            page.next_page_token = format!("{recorded_at}:{}", last.id);
        }
        Ok(page)
    }

    /// (instrument, count) of dead-lettered evaluations, for the queue overview.
    pub async fn dead_evaluation_counts(&self) -> Result<Vec<(String, u32)>, StarterError> {
        let rows =
            sqlx::query("SELECT instrument, COUNT(*) FROM dead_evaluations GROUP BY instrument ORDER BY instrument")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get::<i64, _>(1)? as u32))).collect()
    }
}
