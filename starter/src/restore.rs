//! Putting back the jobs that made the archive's products, after the database was lost: each
//! provenance record names its job, product, time, version and exact inputs, so the job comes
//! back as the succeeded job it was. Replaying the event log then finds these jobs already there
//! (same product, time and inputs) and makes nothing twice; whatever was still running at the loss
//! has no product yet and is simply triggered again.

use imap_filename::Version;
use proto::ids::JobId;
use proto::pb::{ProductKey, ProductTime, ResolvedInput};

use super::error::StarterError;
use super::job_row::encode_inputs;
use super::jobs::{JobStore, input_hash};

/// A finished job as the archive remembers it.
#[derive(Debug, Clone)]
pub struct RestoredJob {
    pub id: JobId,
    pub product: ProductKey,
    pub time: ProductTime,
    pub version: String,
    pub campaign_id: String,
    pub inputs: Vec<ResolvedInput>,
    pub outputs: Vec<String>,
}

impl JobStore {
    /// Records `job` as succeeded unless the table already has it (or another job holds its
    /// product, time and version); returns whether it was added.
    pub async fn restore_succeeded(&self, job: &RestoredJob, now: i64) -> Result<bool, StarterError> {
        let version: Version = job.version.parse().map_err(|_| {
            StarterError::InvalidRequest(format!("restored job {} has a bad version {:?}", job.id, job.version))
        })?;
        let outputs = serde_json::to_string(&job.outputs).unwrap_or_else(|_| "[]".into());
        let inserted = sqlx::query(
            "INSERT INTO jobs (id, instrument, data_level, descriptor, start_date, repointing, input_hash, campaign_id, \
             version, version_major, version_minor, inputs, state, attempts, lease_owner, lease_expires_at, not_before, \
             created_at, started_at, finished_at, error, log, outputs, traceparent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'succeeded', 1, '', 0, 0, $13, $13, $13, '', $14, \
             $15, '') ON CONFLICT DO NOTHING",
        )
        .bind(job.id.to_string())
        .bind(job.product.instrument.clone())
        .bind(job.product.data_level.clone())
        .bind(job.product.descriptor.clone())
        .bind(job.time.date.clone())
        .bind(job.time.repointing.map(i64::from).unwrap_or(-1))
        .bind(input_hash(&job.inputs))
        .bind(job.campaign_id.clone())
        .bind(version.to_string())
        .bind(i64::from(version.major.unwrap_or(0)))
        .bind(i64::from(version.minor))
        .bind(encode_inputs(&job.inputs))
        .bind(now)
        .bind("restored from the archive's provenance records after the database was lost".to_string())
        .bind(outputs)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }
}
