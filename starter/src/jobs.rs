//! The job table: creation that can never duplicate, leasing, heartbeats, completion, retries
//! with backoff, dead letters and lease expiry. Every method takes `now` (milliseconds) so tests
//! control the clock instead of sleeping.

use imap_filename::Version;
use mesh_runtime::leader::Leadership;
use mesh_runtime::metrics;
use mesh_runtime::store::{Backend, OneStatementWrite, PlannerStatistics};
use proto::ids::{JobId, WorkerId};
use proto::pb::{Job, JobState, ProductKey, ProductTime, ResolvedInput};
use proto::time::millis_of;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

use super::config::StarterConfig;
use super::error::StarterError;
use super::job_row::{JOB_COLUMNS, encode_inputs, hex, job_from_row, state_column, stored_state};

/// Whether the file filters of `filter` hold for `job` (the SQL narrowed it down already).
fn filter_matches(filter: &JobFilter, job: &Job) -> bool {
    let output_matches = filter.output_file.is_empty() || job.outputs.contains(&filter.output_file);
    let input_matches = filter.input_file.is_empty()
        || job.inputs.iter().flat_map(|input| input.files.iter()).any(|file| file.file_name == filter.input_file);
    output_matches && input_matches
}

/// A job the trigger logic wants to exist.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub product: ProductKey,
    pub time: ProductTime,
    pub inputs: Vec<ResolvedInput>,
    pub campaign_id: String,
    pub traceparent: String,
}

pub struct JobStore {
    pub(crate) pool: AnyPool,
    /// Only the leader writes; each write transaction is fenced by its lease token.
    leadership: Leadership,
    config: StarterConfig,
    claim: ClaimStatements,
    /// Claims run one at a time: two concurrent claims could each see a free slot of the same
    /// instrument (PostgreSQL reads committed data) and together exceed its limit.
    claim_lock: tokio::sync::Mutex<()>,
    /// Extends the leases of `$3`, a JSON array of job ids, that worker `$2` holds to `$1`.
    heartbeat: String,
    /// PostgreSQL's planner statistics of the jobs, refreshed as jobs are created.
    statistics: PlannerStatistics,
    /// The jobs table's size: PostgreSQL's estimate at start, plus the jobs created since.
    jobs_estimate: std::sync::atomic::AtomicU64,
}

/// Which jobs to list; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// `Unspecified` matches every state.
    pub state: JobState,
    pub instrument: String,
    pub campaign_id: String,
    /// Provenance: the job that wrote this file.
    pub output_file: String,
    /// The jobs that read this file.
    pub input_file: String,
    /// 0 means 100; capped at the store's `max_page_size`.
    pub limit: u32,
    /// The id the previous page ended at (jobs older than it follow); empty for the newest.
    pub page_token: String,
}

impl JobFilter {
    fn effective_limit(&self, max_page_size: u32) -> u32 {
        if self.limit == 0 { 100.min(max_page_size) } else { self.limit.min(max_page_size) }
    }
}

/// One page of jobs, newest first, and where the next begins.
#[derive(Debug, Clone, Default)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Empty when no more jobs match.
    pub next_page_token: String,
}

/// Rows read per query while a file filter (confirmed on the decoded job) pages through the table.
const SCAN_BATCH: u32 = 500;
/// Rows one page looks at, at most, before it answers with what it found and where it stopped.
pub const SCAN_BUDGET: u32 = 10_000;

/// How a processor says a job ended.
#[derive(Debug, Clone)]
pub struct Completion {
    pub succeeded: bool,
    pub retryable: bool,
    pub error: String,
    pub log: String,
    pub outputs: Vec<String>,
    /// The processor gives the job back without having run it (it is shutting down).
    pub not_started: bool,
}

impl JobStore {
    pub async fn open(pool: AnyPool, config: StarterConfig) -> Result<JobStore, StarterError> {
        mesh_runtime::store::migrate(&pool, super::migrator()).await?;
        let claim = claim_statements(&config)?;
        let leadership = Leadership::sole("starter");
        let jobs = mesh_runtime::store::estimated_rows(&pool, "jobs").await?;
        let statistics = PlannerStatistics::new(&pool, &["jobs"], jobs);
        // PostgreSQL plans `IN (SELECT ...)` for the function's guess of 100 rows and, with
        // thousands, joins them against every running job (2.8 s for 5,000); an array looks each
        // id up in the primary key.
        let listed = match Backend::of_pool(&pool) {
            Some(Backend::Postgres) => "id = ANY(ARRAY(SELECT jsonb_array_elements_text($3::jsonb)))",
            _ => "id IN (SELECT value FROM json_each($3))",
        };
        let heartbeat =
            format!("UPDATE jobs SET lease_expires_at = $1 WHERE lease_owner = $2 AND state = 'running' AND {listed}");
        Ok(JobStore {
            pool,
            leadership,
            config,
            claim,
            claim_lock: tokio::sync::Mutex::new(()),
            heartbeat,
            statistics,
            jobs_estimate: std::sync::atomic::AtomicU64::new(jobs),
        })
    }

    /// Writes only while `leadership` leads.
    pub fn with_leadership(self, leadership: Leadership) -> JobStore {
        JobStore { leadership, ..self }
    }

    pub fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// The most rows one page of a list holds, whatever the caller asks for.
    pub(crate) fn max_page_size(&self) -> u32 {
        self.config.max_page_size.get()
    }

    /// A write transaction of the leader: refused (UNAVAILABLE) on a standby or a deposed leader.
    pub(crate) async fn begin_write(&self) -> Result<mesh_runtime::store::WriteTransaction, StarterError> {
        let mut transaction = mesh_runtime::store::begin_write(&self.pool).await?;
        self.leadership.fence(&mut transaction).await?;
        Ok(transaction)
    }

    /// A write of one statement by the leader, refused as [`begin_write`](Self::begin_write)
    /// refuses; on SQLite without a transaction around it (see [`OneStatementWrite`]).
    pub(crate) async fn begin_one_statement_write(&self) -> Result<OneStatementWrite, StarterError> {
        let mut write = mesh_runtime::store::begin_one_statement_write(&self.pool).await?;
        self.leadership.fence(&mut write).await?;
        Ok(write)
    }

    /// Creates the job unless the same (product, time, inputs, campaign) already has one.
    /// Returns the job id when a new job was created. The new job's version exceeds every
    /// version of the product the table holds and `floor` (the highest version the archive
    /// already has, computed by the caller), so a team's own upload is never overwritten.
    pub async fn create(&self, job: &NewJob, floor: Option<Version>, now: i64) -> Result<Option<JobId>, StarterError> {
        let input_hash = input_hash(&job.inputs);
        let repointing = job.time.repointing.map(i64::from).unwrap_or(-1);
        let inputs_hex = encode_inputs(&job.inputs);
        // Versions come from the table itself; a concurrent creator that takes the same version
        // hits the second unique key and we try the next one.
        for _ in 0..16 {
            let Some(mut version) = self.next_version_unless_exists(job, &input_hash, repointing).await? else {
                return Ok(None);
            };
            if let Some(floor) = floor.filter(|floor| *floor >= version) {
                version = floor
                    .next_minor()
                    .filter(|next| next.major.is_some())
                    .ok_or_else(|| StarterError::NoVersionLeft(floor.to_string()))?;
            }
            let id = JobId::from(uuid::Uuid::now_v7().to_string());
            let mut write = self.begin_one_statement_write().await?;
            let result = sqlx::query(
                "INSERT INTO jobs (id, instrument, data_level, descriptor, start_date, repointing, input_hash, campaign_id, \
                 version, version_major, version_minor, inputs, state, attempts, lease_owner, lease_expires_at, not_before, \
                 created_at, started_at, finished_at, error, log, outputs, traceparent) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'queued', 0, '', 0, 0, $13, 0, 0, '', '', '[]', $14)",
            )
            .bind(id.to_string())
            .bind(job.product.instrument.clone())
            .bind(job.product.data_level.clone())
            .bind(job.product.descriptor.clone())
            .bind(job.time.date.clone())
            .bind(repointing)
            .bind(input_hash.clone())
            .bind(job.campaign_id.clone())
            .bind(version.to_string())
            .bind(i64::from(version.major.unwrap_or(0)))
            .bind(i64::from(version.minor))
            .bind(inputs_hex.clone())
            .bind(now)
            .bind(job.traceparent.clone())
            .execute(&mut *write)
            .await;
            match result {
                Ok(_) => {
                    write.finish().await?;
                    let jobs = self.jobs_estimate.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    self.statistics.grew_to(jobs);
                    self.statistics.refresh_if_due(&self.pool).await;
                    return Ok(Some(id));
                }
                Err(sqlx::Error::Database(error)) if error.is_unique_violation() => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(StarterError::VersionContention)
    }

    /// The version a new job of `job`'s product and time gets, or `None` when a job of the same
    /// inputs and campaign exists: one round trip for both questions.
    async fn next_version_unless_exists(
        &self,
        job: &NewJob,
        input_hash: &str,
        repointing: i64,
    ) -> Result<Option<Version>, StarterError> {
        const SAME_PRODUCT: &str =
            "instrument = $1 AND data_level = $2 AND descriptor = $3 AND start_date = $4 AND repointing = $5";
        let latest = |column: &str| {
            format!(
                "(SELECT {column} FROM jobs WHERE {SAME_PRODUCT} ORDER BY version_major DESC, version_minor DESC LIMIT 1)"
            )
        };
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM jobs WHERE {SAME_PRODUCT} AND input_hash = $6 AND campaign_id = $7), {}, {}",
            latest("version_major"),
            latest("version_minor")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job.product.instrument.clone())
            .bind(job.product.data_level.clone())
            .bind(job.product.descriptor.clone())
            .bind(job.time.date.clone())
            .bind(repointing)
            .bind(input_hash.to_string())
            .bind(job.campaign_id.clone())
            .fetch_one(&self.pool)
            .await?;
        if row.try_get::<i64, _>(0)? > 0 {
            return Ok(None);
        }
        let (Some(major), Some(minor)) = (row.try_get::<Option<i64>, _>(1)?, row.try_get::<Option<i64>, _>(2)?) else {
            return Ok(Some(Version::first()));
        };
        let latest = Version { major: Some(major as u16), minor: minor as u16 };
        latest.next_minor().map(Some).ok_or_else(|| StarterError::NoVersionLeft(latest.to_string()))
    }

    /// Leases the oldest runnable job to `worker`, respecting per-instrument limits.
    pub async fn claim(&self, worker: &WorkerId, now: i64) -> Result<Option<Job>, StarterError> {
        let lease_expires_at = now + self.config.lease.as_millis() as i64;
        let _one_claim_at_a_time = self.claim_lock.lock().await;
        for _ in 0..8 {
            let mut write = self.begin_one_statement_write().await?;
            // On SQLite the claim runs outside a transaction and its UPDATE takes the write lock
            // before it reads, on the newest data, so nobody commits between its pick and its
            // write: leasing nothing means nothing was runnable. Jobs made runnable later come
            // with a notify to the dispatcher.
            let nothing_leased_is_final = matches!(write, OneStatementWrite::Alone { .. });
            let claimed = sqlx::query(sqlx::AssertSqlSafe(self.claim.claim.as_str()))
                .bind(worker.to_string())
                .bind(lease_expires_at)
                .bind(now)
                .fetch_optional(&mut *write)
                .await?;
            write.finish().await?;
            match claimed {
                Some(row) => {
                    let job = job_from_row(&row)?;
                    record_dispatch(&job, now);
                    return Ok(Some(job));
                }
                None if nothing_leased_is_final => return Ok(None),
                None => {
                    // Nothing claimed: either nothing is runnable (queued jobs in backoff or over
                    // their instrument's limit count as not) or, on PostgreSQL, a concurrent write
                    // changed the row the claim picked.
                    let runnable: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(self.claim.any_runnable.as_str()))
                        .bind(now)
                        .fetch_one(&self.pool)
                        .await?;
                    if runnable == 0 {
                        return Ok(None);
                    }
                }
            }
        }
        Ok(None)
    }

    /// Extends the leases of jobs `worker` still runs, in one statement whatever their number:
    /// the ids go as one JSON array, so a processor holding thousands of leases keeps the write
    /// lock for milliseconds, not for a round trip per job.
    pub async fn heartbeat(&self, worker: &WorkerId, job_ids: &[JobId], now: i64) -> Result<(), StarterError> {
        let lease_expires_at = now + self.config.lease.as_millis() as i64;
        let ids = serde_json::to_string(&job_ids.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|error| StarterError::InvalidRequest(format!("job ids: {error}")))?;
        let mut write = self.begin_one_statement_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(self.heartbeat.as_str()))
            .bind(lease_expires_at)
            .bind(worker.to_string())
            .bind(ids)
            .execute(&mut *write)
            .await?;
        write.finish().await?;
        Ok(())
    }

    /// Records the end of a running job; returns its new state. Only the lease holder's report
    /// counts; a report without a worker is refused (operators use [`JobStore::fail`]).
    pub async fn complete(
        &self,
        id: &JobId,
        worker: &WorkerId,
        completion: &Completion,
        now: i64,
    ) -> Result<JobState, StarterError> {
        if worker.is_empty() {
            return Err(StarterError::InvalidRequest(
                "CompleteJob needs the worker_id the job was leased to; operators fail a job with FailJob".into(),
            ));
        }
        // The lease holder's success needs nothing from the job's row, so it is recorded without
        // reading the row first. When that changes nothing (no such job, no longer running, or not
        // this worker's lease any more) the job is read and answered as any other report. A standby
        // answers from the job's row, as before, rather than refusing to write.
        let success = JobEnd { state: JobState::Succeeded, finished_at: now, not_before: 0 };
        if completion.succeeded
            && !completion.not_started
            && self.leadership.is_leader()
            && self.record_end(id, worker.as_str(), &success, completion, now).await?
        {
            return Ok(JobState::Succeeded);
        }
        let job = self.get(id).await?;
        self.complete_as_read(job, worker, completion, now).await
    }

    /// Records how a running job ended while `lease_owner` still holds its lease, in one statement,
    /// and observes its run time; false when it changed nothing.
    async fn record_end(
        &self,
        id: &JobId,
        lease_owner: &str,
        end: &JobEnd,
        completion: &Completion,
        now: i64,
    ) -> Result<bool, StarterError> {
        let outputs = serde_json::to_string(&completion.outputs).unwrap_or_else(|_| "[]".into());
        let mut write = self.begin_one_statement_write().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = $1, error = $2, log = $3, outputs = $4, finished_at = $5, not_before = $6, \
             lease_owner = '', lease_expires_at = 0 WHERE id = $7 AND state = 'running' AND lease_owner = $8 \
             RETURNING instrument, started_at",
        )
        .bind(state_column(end.state))
        .bind(completion.error.clone())
        .bind(truncate_log(&completion.log))
        .bind(outputs)
        .bind(end.finished_at)
        .bind(end.not_before)
        .bind(id.to_string())
        .bind(lease_owner.to_string())
        .fetch_optional(&mut *write)
        .await?;
        write.finish().await?;
        let Some(row) = updated else { return Ok(false) };
        let instrument: String = row.try_get("instrument")?;
        let started_at = Some(row.try_get::<i64, _>("started_at")?).filter(|millis| *millis != 0).unwrap_or(now);
        observe_run(&instrument, end.state, started_at, now);
        Ok(true)
    }

    /// An operator fails a queued or running job for `reason`: it is not retried, and a line of its
    /// log says who did it. Returns the new state; a finished job is refused as it is.
    pub async fn fail(&self, id: &JobId, reason: &str, operator: &str, now: i64) -> Result<JobState, StarterError> {
        if operator.trim().is_empty() {
            return Err(StarterError::InvalidRequest("FailJob needs the operator who asks".into()));
        }
        let reason = if reason.trim().is_empty() { "no reason given" } else { reason.trim() };
        let line = format!("\n[{}] failed by operator {}: {reason}", proto::time::rfc3339_millis(now), operator.trim());
        let mut transaction = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'failed', error = $1, log = log || $2, finished_at = $3, not_before = 0, \
             lease_owner = '', lease_expires_at = 0 WHERE id = $4 AND state IN ('queued', 'running')",
        )
        .bind(format!("failed by operator {}: {reason}", operator.trim()))
        .bind(line)
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        if updated == 1 {
            return Ok(JobState::Failed);
        }
        let state = self.get(id).await?.state();
        Err(StarterError::JobFinished { id: id.clone(), state: state.to_string() })
    }

    /// `complete` given the job as it was read: the UPDATE only applies while the job is still
    /// running under the same lease; when it changed nothing (the lease expired and the job was
    /// requeued in between), the state as it is now is reported, not the one computed here.
    pub(crate) async fn complete_as_read(
        &self,
        job: Job,
        worker: &WorkerId,
        completion: &Completion,
        now: i64,
    ) -> Result<JobState, StarterError> {
        let id = job.job_id();
        if job.state() != JobState::Running || job.lease_owner != worker.as_str() {
            // A late report (the lease expired and the job was requeued or leased to another
            // processor) changes nothing.
            tracing::warn!(
                job = %id, %worker, state = %job.state(), lease_owner = %job.lease_owner,
                "late completion refused: this worker no longer holds the job's lease"
            );
            return Ok(job.state());
        }
        if completion.not_started {
            return self.give_back(job, now).await;
        }
        let new_state = if completion.succeeded {
            JobState::Succeeded
        } else if !completion.retryable {
            JobState::Failed
        } else if job.attempts >= self.config.max_attempts.get() {
            JobState::Dead
        } else {
            JobState::Queued
        };
        let backoff = self.config.retry_backoff.as_millis() as i64 * (1_i64 << job.attempts.saturating_sub(1).min(16));
        let not_before = if new_state == JobState::Queued { now + backoff } else { 0 };
        let finished_at = if new_state == JobState::Queued { 0 } else { now };
        let end = JobEnd { state: new_state, finished_at, not_before };
        if !self.record_end(&id, &job.lease_owner, &end, completion, now).await? {
            return Ok(self.get(&id).await?.state());
        }
        Ok(new_state)
    }

    /// A job its processor gave back unstarted (it was shutting down) is queued again at once, and
    /// the attempt its lease counted is taken back.
    async fn give_back(&self, job: Job, now: i64) -> Result<JobState, StarterError> {
        let mut transaction = self.begin_write().await?;
        let updated = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = attempts - 1, lease_owner = '', lease_expires_at = 0, \
             not_before = $1, error = $2 WHERE id = $3 AND state = 'running' AND lease_owner = $4",
        )
        .bind(now)
        .bind(format!("given back unstarted by {} (shutting down)", job.lease_owner))
        .bind(job.id.clone())
        .bind(job.lease_owner.clone())
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        if updated != 1 {
            return Ok(self.get(&job.job_id()).await?.state());
        }
        Ok(JobState::Queued)
    }

    /// Puts jobs whose processor stopped heartbeating back in the queue (or dead-letters them).
    pub async fn expire_leases(&self, now: i64) -> Result<u64, StarterError> {
        let mut transaction = self.begin_write().await?;
        let dead = sqlx::query(
            "UPDATE jobs SET state = 'dead', finished_at = $1, lease_owner = '', \
             error = 'lease expired on the last allowed attempt (processor lost)' \
             WHERE state = 'running' AND lease_expires_at < $1 AND attempts >= $2",
        )
        .bind(now)
        .bind(i64::from(self.config.max_attempts.get()))
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        let requeued = sqlx::query(
            "UPDATE jobs SET state = 'queued', lease_owner = '', lease_expires_at = 0, \
             error = 'lease expired (processor lost), requeued' WHERE state = 'running' AND lease_expires_at < $1",
        )
        .bind(now)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        transaction.commit().await?;
        Ok(dead + requeued)
    }

    pub async fn get(&self, id: &JobId) -> Result<Job, StarterError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StarterError::UnknownJob(id.clone()))?;
        job_from_row(&row)
    }

    /// Jobs matching every non-empty field of `filter`, newest first (one page).
    pub async fn list(&self, filter: &JobFilter) -> Result<Vec<Job>, StarterError> {
        Ok(self.list_page(filter).await?.jobs)
    }

    /// A page of the jobs matching `filter`, newest first, from its `page_token` on (keyset on the
    /// time-ordered id). State, instrument and campaign filter in SQL; the file filters can only be
    /// confirmed on the decoded job, so rows are read in batches of [`SCAN_BATCH`], at most
    /// [`SCAN_BUDGET`] a page: memory stays bounded however large the table, and a page that ran
    /// out of budget says where to go on.
    pub async fn list_page(&self, filter: &JobFilter) -> Result<JobPage, StarterError> {
        let limit = filter.effective_limit(self.config.max_page_size.get());
        let confirms = !filter.output_file.is_empty() || !filter.input_file.is_empty();
        let batch = if confirms { SCAN_BATCH } else { limit };
        let mut page = JobPage::default();
        let mut after = filter.page_token.clone();
        let mut scanned = 0u32;
        loop {
            // File names go through LIKE on the stored outputs (portable across both backends);
            // `_` is a LIKE wildcard, so matches are confirmed exactly below.
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 = '' OR state = $1) AND ($2 = '' OR instrument = $2) \
                 AND ($3 = '' OR campaign_id = $3) AND ($4 = '' OR outputs LIKE $5) AND ($6 = '' OR id < $6) \
                 ORDER BY id DESC LIMIT $7"
            )))
            .bind(state_column(filter.state))
            .bind(filter.instrument.clone())
            .bind(filter.campaign_id.clone())
            .bind(filter.output_file.clone())
            .bind(format!("%\"{}\"%", filter.output_file))
            .bind(after.clone())
            .bind(i64::from(batch))
            .fetch_all(&self.pool)
            .await?;
            // Fewer rows than asked for: the table has no more.
            let table_exhausted = rows.len() < batch as usize;
            let mut looked_at = 0;
            for row in &rows {
                let job = job_from_row(row)?;
                looked_at += 1;
                after = job.id.clone();
                if filter_matches(filter, &job) {
                    page.jobs.push(job);
                }
                if page.jobs.len() >= limit as usize {
                    break;
                }
            }
            scanned += looked_at;
            let no_more = table_exhausted && looked_at == rows.len() as u32;
            if no_more || page.jobs.len() >= limit as usize || scanned >= SCAN_BUDGET {
                page.next_page_token = if no_more { String::new() } else { after };
                return Ok(page);
            }
        }
    }

    /// Jobs by instrument and state, and queue depth (queued jobs) by instrument, for `/metrics`;
    /// nothing when the database cannot be read.
    pub async fn job_gauges(&self) -> Vec<metrics::Gauge> {
        let counts = match self.counts().await {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(%error, "job counts for metrics unavailable");
                return Vec::new();
            }
        };
        let mut gauges = Vec::new();
        // Every instrument with jobs has a depth, 0 when nothing waits.
        let mut queued: std::collections::BTreeMap<String, u32> = Default::default();
        for (instrument, state, count) in counts {
            let depth = queued.entry(instrument.clone()).or_default();
            if state == JobState::Queued {
                *depth += count;
            }
            gauges.push(metrics::Gauge {
                name: "imap_sdc_jobs",
                help: "Jobs by instrument and state",
                labels: vec![("instrument", instrument), ("state", state.text().to_string())],
                value: f64::from(count),
            });
        }
        gauges.extend(queued.into_iter().map(|(instrument, depth)| metrics::Gauge {
            name: "imap_sdc_queue_depth",
            help: "Jobs queued and not yet leased, by instrument",
            labels: vec![("instrument", instrument)],
            value: f64::from(depth),
        }));
        gauges
    }

    /// (instrument, state, count) for every instrument with jobs.
    pub async fn counts(&self) -> Result<Vec<(String, JobState, u32)>, StarterError> {
        let rows =
            sqlx::query("SELECT instrument, state, COUNT(*) FROM jobs GROUP BY instrument, state ORDER BY instrument")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                let state = stored_state(&row.try_get::<String, _>(1)?)?;
                Ok((row.try_get(0)?, state, row.try_get::<i64, _>(2)? as u32))
            })
            .collect()
    }

    pub async fn read_cursor(&self, consumer: &str) -> Result<u64, StarterError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM consumer_cursors WHERE consumer = $1")
            .bind(consumer.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0) as u64)
    }

    pub async fn write_cursor(&self, consumer: &str, seq: u64) -> Result<(), StarterError> {
        let mut write = self.begin_one_statement_write().await?;
        sqlx::query(
            "INSERT INTO consumer_cursors (consumer, seq) VALUES ($1, $2) \
             ON CONFLICT (consumer) DO UPDATE SET seq = excluded.seq WHERE consumer_cursors.seq < excluded.seq",
        )
        .bind(consumer.to_string())
        .bind(seq as i64)
        .execute(&mut *write)
        .await?;
        write.finish().await?;
        Ok(())
    }
}

/// A job leased at `now`: how long it waited in the queue, and how long after its newest input
/// arrived (the arrival-to-dispatch latency an operator watches).
fn record_dispatch(job: &Job, now: i64) {
    let instrument = [("instrument", instrument_of(job))];
    let created_at = job.created_at.as_ref().map_or(now, millis_of);
    metrics::observe(
        "imap_sdc_job_wait_seconds",
        "Time from a job's creation to its lease, by instrument",
        &instrument,
        seconds_between(created_at, now),
    );
    let newest_input = job
        .inputs
        .iter()
        .flat_map(|input| input.files.iter())
        .filter_map(|file| file.ingestion_time.as_ref().map(millis_of))
        .max();
    if let Some(arrived) = newest_input {
        metrics::observe(
            "imap_sdc_arrival_to_dispatch_seconds",
            "Time from the arrival of a job's newest input to the job's lease, by instrument",
            &instrument,
            seconds_between(arrived, now),
        );
    }
}

/// How a running job ends: its new state, and the times that state sets (milliseconds; 0 unset).
struct JobEnd {
    state: JobState,
    finished_at: i64,
    not_before: i64,
}

/// A finished run's length, from its lease (`started_at`, milliseconds) to `now`.
fn observe_run(instrument: &str, state: JobState, started_at: i64, now: i64) {
    metrics::observe(
        "imap_sdc_job_run_seconds",
        "Time from a job's lease to its completion, by instrument and outcome",
        &[("instrument", instrument), ("state", state.text())],
        seconds_between(started_at, now),
    );
}

fn instrument_of(job: &Job) -> &str {
    job.product.as_ref().map_or("", |product| product.instrument.as_str())
}

fn seconds_between(earlier_millis: i64, later_millis: i64) -> f64 {
    (later_millis - earlier_millis).max(0) as f64 / 1000.0
}

/// The claim's two statements, with the per-instrument running limits written in (names are
/// validated).
fn claim_statements(config: &StarterConfig) -> Result<ClaimStatements, StarterError> {
    if config.instrument_concurrency.is_empty() {
        return Ok(ClaimStatements::with_limit(&config.default_instrument_concurrency.to_string()));
    }
    let mut limit = String::from("CASE j.instrument");
    for (instrument, concurrency) in &config.instrument_concurrency {
        if !instrument.chars().all(|character| character.is_ascii_alphanumeric() || character == '-') {
            return Err(StarterError::InvalidRequest(format!(
                "invalid instrument name {instrument:?} in concurrency limits"
            )));
        }
        limit.push_str(&format!(" WHEN '{instrument}' THEN {concurrency}"));
    }
    limit.push_str(&format!(" ELSE {} END", config.default_instrument_concurrency));
    Ok(ClaimStatements::with_limit(&limit))
}

/// How a claim leases the oldest runnable job, and how it tells a lost race from nothing runnable.
struct ClaimStatements {
    /// Leases the oldest runnable job: `$1` the worker, `$2` the lease's end, `$3` now.
    claim: String,
    /// 1 when some job is runnable at `$1` (now), else 0: it stops at the first one found.
    any_runnable: String,
}

impl ClaimStatements {
    fn with_limit(limit: &str) -> ClaimStatements {
        // Queued, out of backoff, and its instrument under its running limit.
        let runnable = |now: &str| {
            format!(
                "FROM jobs j WHERE j.state = 'queued' AND j.not_before <= {now} \
                 AND (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.instrument = j.instrument) < ({limit})"
            )
        };
        ClaimStatements {
            claim: format!(
                "UPDATE jobs SET state = 'running', lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, \
                 started_at = $3, error = '' \
                 WHERE state = 'queued' AND id = (SELECT j.id {} ORDER BY j.created_at, j.id LIMIT 1) \
                 RETURNING {JOB_COLUMNS}",
                runnable("$3")
            ),
            any_runnable: format!("SELECT COUNT(*) FROM (SELECT 1 {} LIMIT 1) AS runnable", runnable("$1")),
        }
    }
}

/// The identity of an exact input set: the sorted file names of every input.
pub fn input_hash(inputs: &[ResolvedInput]) -> String {
    let mut names: Vec<&str> =
        inputs.iter().flat_map(|input| input.files.iter().map(|file| file.file_name.as_str())).collect();
    names.sort_unstable();
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// Logs are kept for people, bounded so one chatty program cannot bloat the table.
fn truncate_log(log: &str) -> String {
    const MAX_LOG: usize = 64 * 1024;
    if log.len() <= MAX_LOG {
        return log.to_string();
    }
    let mut start = log.len() - MAX_LOG;
    while !log.is_char_boundary(start) {
        start += 1;
    }
    format!("[... {} bytes cut ...]\n{}", start, &log[start..])
}
