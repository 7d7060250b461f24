//! The file tracker and the event log, on SQLite or PostgreSQL through portable SQL.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write;
use std::sync::LazyLock;

use imap_filename::{ImapFileName, Version};
use mesh_runtime::leader::Leadership;
use mesh_runtime::store::{Backend, PlannerStatistics};
use proto::pb::{
    FileEvent, FileKind, FileRecord, QuarantinedFile, QueryFilesRequest, ReleaseFilesRequest, ReleaseFilesResponse,
};
use proto::time::{now_millis, rfc3339_millis, timestamp};
use sqlx::{AnyPool, Row};
use tokio::sync::{Mutex, watch};

use super::error::IndexerError;
use super::reader::{Reader, page_limit, record_at};

pub(crate) const FILE_COLUMNS: &str = "file_name, archive_key, kind, instrument, data_level, descriptor, start_date, end_date, \
     repointing, cr, version, extension, size_bytes, ingested_at, produced_by_job, parent_files, released, released_at, \
     release_manifest";

/// The files a release covers: science and quicklook files of one instrument starting in a range.
const RELEASE_SCOPE: &str =
    "kind IN ('science', 'quicklook') AND instrument = $1 AND start_date >= $2 AND start_date <= $3";

/// Files marked released per statement, to stay well under every backend's parameter limit.
const RELEASE_BATCH: usize = 500;

/// Each column of a new `indexed_files` row, in the order of [`InsertedFile::bind`], with the
/// type PostgreSQL reads it as from JSON ([`INSERT_FILES_FROM_JSON`]).
const INSERTED_COLUMNS: [(&str, &str); 19] = [
    ("file_name", "TEXT"),
    ("archive_key", "TEXT"),
    ("kind", "TEXT"),
    ("instrument", "TEXT"),
    ("data_level", "TEXT"),
    ("descriptor", "TEXT"),
    ("start_date", "TEXT"),
    ("end_date", "TEXT"),
    ("repointing", "BIGINT"),
    ("cr", "BIGINT"),
    ("version", "TEXT"),
    ("version_major", "BIGINT"),
    ("version_minor", "BIGINT"),
    ("extension", "TEXT"),
    ("size_bytes", "BIGINT"),
    ("ingested_at", "BIGINT"),
    ("ingestion_date", "TEXT"),
    ("produced_by_job", "TEXT"),
    ("parent_files", "TEXT"),
];

/// The names of [`INSERTED_COLUMNS`], comma-separated.
static INSERTED_COLUMN_NAMES: LazyLock<String> = LazyLock::new(|| INSERTED_COLUMNS.map(|(name, _)| name).join(", "));

/// PostgreSQL's form of a batch's file insert: the rows go as one JSON array the server unpacks,
/// one parameter instead of 19 a row. Every batch size is then the same statement, prepared once
/// per connection, and the server neither parses nor plans a thousand-row VALUES list.
static INSERT_FILES_FROM_JSON: LazyLock<String> = LazyLock::new(|| {
    let names = INSERTED_COLUMN_NAMES.as_str();
    let typed = INSERTED_COLUMNS.map(|(name, kind)| format!("{name} {kind}")).join(", ");
    format!(
        "INSERT INTO indexed_files ({names}) SELECT {names} FROM jsonb_to_recordset($1::jsonb) AS row({typed}) \
         ON CONFLICT (file_name) DO NOTHING RETURNING file_name"
    )
});

/// PostgreSQL's form of a batch's event append, as [`INSERT_FILES_FROM_JSON`].
const INSERT_EVENTS_FROM_JSON: &str = "INSERT INTO file_events (seq, file_name, traceparent, recorded_at) \
     SELECT seq, file_name, traceparent, recorded_at FROM jsonb_to_recordset($1::jsonb) \
     AS row(seq BIGINT, file_name TEXT, traceparent TEXT, recorded_at BIGINT)";

/// Rows per multi-row statement: 19 columns × 400 rows stays well under SQLite's 32,766 and
/// PostgreSQL's 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 400;

/// Rows per statement of a batch write on SQLite: an inbox batch of 1,000 in one INSERT per table
/// (one round trip each); 19 columns × 1,000 rows stays under SQLite's 32,766 parameters. (On
/// PostgreSQL the inserts take one JSON array whatever the batch's size; this bounds only the
/// names of already known files whose events a batch reads back, under its 65,535.)
const WRITE_ROWS_PER_STATEMENT: usize = 1000;

/// Quarantined files per page unless the caller asks otherwise.
const DEFAULT_QUARANTINE_PAGE: u32 = 100;

/// The most rows a page holds unless configured (`indexer.max_page_size`).
pub const DEFAULT_MAX_PAGE_SIZE: u32 = 1000;

/// One page of a file query, and where the next begins.
#[derive(Debug, Clone, Default)]
pub struct FilePage {
    pub files: Vec<FileRecord>,
    /// Empty when no more files match.
    pub next_page_token: String,
}

/// One page of quarantined files, newest first, and where the next begins.
#[derive(Debug, Clone, Default)]
pub struct QuarantinePage {
    pub files: Vec<QuarantinedFile>,
    /// Empty when no more follow.
    pub next_page_token: String,
}

/// One file to record: its parsed name, its size, who made it, and the trace it arrived in.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: ImapFileName,
    pub size_bytes: u64,
    pub provenance: Provenance,
    pub traceparent: String,
}

/// What indexing one object did.
#[derive(Debug, Clone)]
pub struct IndexOutcome {
    pub file: FileRecord,
    pub newly_indexed: bool,
    pub event_seq: u64,
}

/// The indexer's storage. One writer lock per process keeps event sequence numbers gap-free
/// and in commit order, which is what lets consumers read "everything after my cursor"; across
/// replicas, only the leader writes and every write transaction is fenced by its lease token.
pub struct FileTracker {
    pool: AnyPool,
    /// Which engine `pool` is: batch statements are written in its own placeholders.
    backend: Backend,
    /// PostgreSQL's planner statistics of the log and the files, refreshed as they grow.
    statistics: PlannerStatistics,
    /// The hot reads (file queries, the event log) on a pool of their own.
    reader: Reader,
    append_lock: Mutex<()>,
    /// Batches of index calls waiting for `append_lock`: whoever takes it next writes them all.
    waiting: Mutex<Vec<WaitingBatch>>,
    latest_seq: watch::Sender<u64>,
    leadership: Leadership,
    /// The most rows one page of a query or list holds, whatever the caller asks for.
    max_page_size: u32,
}

/// What appending a batch did to one distinct name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub file_name: String,
    /// The event appended for it; `None` when the tracker knew the file already.
    pub new_event_seq: Option<u64>,
}

/// Whether a batch write reads the latest event of the names the tracker already knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KnownEvents {
    Read,
    Skip,
}

/// What the one write transaction of a batch did.
struct Written {
    /// Each distinct name of the batch once, in batch order.
    unique_names: Vec<String>,
    /// The names new to the tracker.
    inserted: HashSet<String>,
    /// The event of each name inserted, and of each known name when [`KnownEvents::Read`].
    event_seqs: HashMap<String, i64>,
    /// The `ingested_at` of the names inserted, in milliseconds.
    written_at: i64,
}

impl Written {
    /// What a write that held `files` among others did to them: as if they had been written
    /// alone, which holds when no other batch written with them named any of their files.
    fn share_of(&self, files: &[NewFile]) -> Written {
        let unique_names: Vec<String> = first_places(files).into_iter().map(|(name, _)| name).collect();
        Written {
            inserted: unique_names.iter().filter(|name| self.inserted.contains(*name)).cloned().collect(),
            event_seqs: unique_names
                .iter()
                .filter_map(|name| self.event_seqs.get(name).map(|seq| (name.clone(), *seq)))
                .collect(),
            unique_names,
            written_at: self.written_at,
        }
    }
}

/// One index call's batch waiting to be written, and where its result goes.
struct WaitingBatch {
    files: Vec<NewFile>,
    done: tokio::sync::oneshot::Sender<Result<Written, IndexerError>>,
}

/// The most files one group commit writes: an inbox batch's worth.
const GROUP_COMMIT_FILES: usize = 1000;

/// Provenance a producer attaches to a file it made.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    pub produced_by_job: String,
    pub parent_files: Vec<String>,
}

impl FileTracker {
    pub async fn open(pool: AnyPool) -> Result<FileTracker, IndexerError> {
        mesh_runtime::store::migrate(&pool, super::migrator()).await?;
        let latest: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM file_events").fetch_one(&pool).await?;
        let (latest_seq, _) = watch::channel(latest as u64);
        // Numbered placeholders, PostgreSQL's, are understood by both engines.
        let backend = Backend::of_pool(&pool).unwrap_or(Backend::Postgres);
        let reader = Reader::open(&pool)?;
        // Every event names one file, so the log's length stands for both tables' sizes.
        let statistics = PlannerStatistics::new(&pool, &["file_events", "indexed_files"], latest as u64);
        Ok(FileTracker {
            backend,
            statistics,
            pool,
            reader,
            append_lock: Mutex::new(()),
            waiting: Mutex::new(Vec::new()),
            latest_seq,
            leadership: Leadership::sole("indexer"),
            max_page_size: DEFAULT_MAX_PAGE_SIZE,
        })
    }

    /// Writes only while `leadership` leads, each write transaction fenced by its token.
    pub fn with_leadership(self, leadership: Leadership) -> FileTracker {
        FileTracker { leadership, ..self }
    }

    /// Pages of queries and lists hold at most `max_page_size` rows.
    pub fn with_max_page_size(self, max_page_size: std::num::NonZeroU32) -> FileTracker {
        FileTracker { max_page_size: max_page_size.get(), ..self }
    }

    /// Reads the newest event again: a standby that takes over follows what the old leader wrote.
    pub async fn catch_up(&self) -> Result<u64, IndexerError> {
        let latest: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM file_events").fetch_one(&self.pool).await?;
        self.latest_seq.send_if_modified(|seq| {
            let newer = (latest as u64) > *seq;
            *seq = (*seq).max(latest as u64);
            newer
        });
        Ok(latest as u64)
    }

    /// A write transaction of the leader: refused (UNAVAILABLE) on a standby or a deposed leader.
    async fn begin_write(&self) -> Result<mesh_runtime::store::WriteTransaction, IndexerError> {
        let mut transaction = mesh_runtime::store::begin_write(&self.pool).await?;
        self.leadership.fence(&mut transaction).await?;
        Ok(transaction)
    }

    /// Follows the newest event sequence number, for streaming consumers.
    pub fn subscribe_latest(&self) -> watch::Receiver<u64> {
        self.latest_seq.subscribe()
    }

    /// Records `key` (already validated and present in the archive) and appends its event.
    /// Re-announcing a known file changes nothing, except that a producer may fill in
    /// provenance that an earlier archive scan could not know.
    pub async fn index(
        &self,
        name: &ImapFileName,
        size_bytes: u64,
        provenance: &Provenance,
        traceparent: &str,
    ) -> Result<IndexOutcome, IndexerError> {
        let file = NewFile {
            name: name.clone(),
            size_bytes,
            provenance: provenance.clone(),
            traceparent: traceparent.to_string(),
        };
        let mut outcomes = self.index_batch(std::slice::from_ref(&file)).await?;
        outcomes.pop().ok_or_else(|| IndexerError::UnknownFile(name.file_name()))
    }

    /// Records a batch of files in one transaction (a group commit), exactly as [`index`](Self::index)
    /// would one after the other: each file new to the tracker gets one event, in batch order,
    /// with consecutive sequence numbers. Outcomes come back in batch order; a name repeated in
    /// the batch is new at most at its first place.
    pub async fn index_batch(&self, files: &[NewFile]) -> Result<Vec<IndexOutcome>, IndexerError> {
        let written = self.write_grouped(files).await?;
        self.statistics.refresh_if_due(&self.pool).await;
        if written.unique_names.is_empty() {
            return Ok(Vec::new());
        }
        // What was inserted is known without reading it back; only files known before are read.
        let known: Vec<String> =
            written.unique_names.iter().filter(|name| !written.inserted.contains(*name)).cloned().collect();
        let mut records = if known.is_empty() { HashMap::new() } else { self.get_many(&known).await? };
        for (file_name, file) in first_places(files) {
            if written.inserted.contains(&file_name) {
                let record = NewRow::of(file).into_record(file_name.clone(), file, written.written_at);
                records.insert(file_name, record);
            }
        }
        let mut reported_new: HashSet<String> = HashSet::new();
        let mut outcomes = Vec::with_capacity(files.len());
        for file_name in files.iter().map(|file| file.name.file_name()) {
            let Some(record) = records.get(&file_name).cloned() else {
                return Err(IndexerError::UnknownFile(file_name));
            };
            let event_seq = written.event_seqs.get(&file_name).copied().unwrap_or(0) as u64;
            let newly_indexed = written.inserted.contains(&file_name) && reported_new.insert(file_name);
            outcomes.push(IndexOutcome { file: record, newly_indexed, event_seq });
        }
        Ok(outcomes)
    }

    /// [`index_batch`](Self::index_batch) for a writer that needs no records back (the inbox):
    /// each distinct name once, in batch order, with the event it got if it was new. The events of
    /// names already known are not read.
    pub async fn append_batch(&self, files: &[NewFile]) -> Result<Vec<Appended>, IndexerError> {
        let Written { unique_names, inserted, event_seqs, .. } = self.write_batch(files, KnownEvents::Skip).await?;
        self.statistics.refresh_if_due(&self.pool).await;
        Ok(unique_names
            .into_iter()
            .map(|file_name| {
                let new_event_seq =
                    inserted.contains(&file_name).then(|| event_seqs.get(&file_name).copied().unwrap_or(0) as u64);
                Appended { file_name, new_event_seq }
            })
            .collect())
    }

    /// [`write_batch`](Self::write_batch) with the index calls that wait meanwhile: concurrent calls
    /// (processors reporting outputs, gateway uploads) queue their batches, and whoever takes the
    /// writer lock next writes every queued batch in one transaction (a group commit), each caller
    /// answered as if written alone. Batches naming a file of an earlier one in the queue go into
    /// the next transaction, so who made a file new and whose provenance fills it in stay as in
    /// order, one after the other.
    async fn write_grouped(&self, files: &[NewFile]) -> Result<Written, IndexerError> {
        let (done, mut result) = tokio::sync::oneshot::channel();
        self.waiting.lock().await.push(WaitingBatch { files: files.to_vec(), done });
        let _writer = self.append_lock.lock().await;
        match result.try_recv() {
            Ok(written) => return written,
            // The writer that took this batch went away (its caller gave up) before answering:
            // written or not, writing it again is harmless.
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                return self.write_locked(files, KnownEvents::Read).await;
            }
            // Still queued: this caller writes it, and what queued with it.
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
        }
        let waiting = std::mem::take(&mut *self.waiting.lock().await);
        for group in disjoint_groups(waiting) {
            self.write_group(group).await;
        }
        match result.try_recv() {
            Ok(written) => written,
            // Every batch written is answered, its own among them; were it not, writing it again
            // is harmless.
            Err(_) => self.write_locked(files, KnownEvents::Read).await,
        }
    }

    /// Writes `group` (batches naming distinct files) in one transaction and answers each; when that
    /// fails, each batch on its own, so every caller hears its own outcome.
    async fn write_group(&self, group: Vec<WaitingBatch>) {
        if group.len() > 1 {
            let files: Vec<NewFile> = group.iter().flat_map(|batch| batch.files.iter().cloned()).collect();
            if let Ok(written) = self.write_locked(&files, KnownEvents::Read).await {
                for batch in group {
                    let _ = batch.done.send(Ok(written.share_of(&batch.files)));
                }
                return;
            }
        }
        for batch in group {
            let _ = batch.done.send(self.write_locked(&batch.files, KnownEvents::Read).await);
        }
    }

    /// The one write transaction of a batch, for each distinct name at its first place: the rows
    /// new to the tracker, their events in batch order, provenance filled in for known files.
    async fn write_batch(&self, files: &[NewFile], known_events: KnownEvents) -> Result<Written, IndexerError> {
        let _writer = self.append_lock.lock().await;
        self.write_locked(files, known_events).await
    }

    /// [`write_batch`](Self::write_batch) by the holder of `append_lock`.
    async fn write_locked(&self, files: &[NewFile], known_events: KnownEvents) -> Result<Written, IndexerError> {
        let unique = first_places(files);
        let now = now_millis();
        let mut written = Written {
            unique_names: Vec::new(),
            inserted: HashSet::with_capacity(unique.len()),
            event_seqs: HashMap::with_capacity(unique.len()),
            written_at: now,
        };
        if unique.is_empty() {
            return Ok(written);
        }
        let ingestion_date = rfc3339_millis(now)[..10].replace('-', "");
        // Fenced first (PostgreSQL); on SQLite the first statement writes, so the transaction holds
        // the write lock before it reads the newest sequence number.
        let mut transaction = self.begin_write().await?;
        let inserted_rows =
            unique.iter().map(|(file_name, file)| NewRow::of(file).inserted(file_name, file, now, &ingestion_date));
        match self.backend {
            Backend::Postgres => {
                let rows = serde_json::to_string(&inserted_rows.collect::<Vec<_>>())?;
                let inserted: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(INSERT_FILES_FROM_JSON.as_str()))
                    .bind(rows)
                    .fetch_all(&mut *transaction)
                    .await?;
                written.inserted.extend(inserted);
            }
            Backend::Sqlite => {
                let rows: Vec<InsertedFile> = inserted_rows.collect();
                for chunk in rows.chunks(WRITE_ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "INSERT INTO indexed_files ({}) VALUES {} ON CONFLICT (file_name) DO NOTHING RETURNING file_name",
                        INSERTED_COLUMN_NAMES.as_str(),
                        value_rows(self.backend, chunk.len(), INSERTED_COLUMNS.len())
                    );
                    let insert =
                        chunk.iter().fold(sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)), |insert, row| {
                            row.bind(insert)
                        });
                    written.inserted.extend(insert.fetch_all(&mut *transaction).await?);
                }
            }
        }

        let (newly, known): (Vec<_>, Vec<_>) =
            unique.iter().partition(|(name, _)| written.inserted.contains(name.as_str()));
        let mut next_seq: i64 = if newly.is_empty() {
            0
        } else {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) + 1 FROM file_events").fetch_one(&mut *transaction).await?
        };
        let events: Vec<AppendedEvent> = newly
            .iter()
            .zip(next_seq..)
            .map(|((file_name, file), seq)| AppendedEvent {
                seq,
                file_name,
                traceparent: &file.traceparent,
                recorded_at: now,
            })
            .collect();
        next_seq += events.len() as i64;
        written.event_seqs.extend(events.iter().map(|event| (event.file_name.clone(), event.seq)));
        match self.backend {
            Backend::Postgres if !events.is_empty() => {
                let events = serde_json::to_string(&events)?;
                sqlx::query(INSERT_EVENTS_FROM_JSON).bind(events).execute(&mut *transaction).await?;
            }
            Backend::Postgres => {}
            Backend::Sqlite => {
                for chunk in events.chunks(WRITE_ROWS_PER_STATEMENT) {
                    let sql = format!(
                        "INSERT INTO file_events (seq, file_name, traceparent, recorded_at) VALUES {}",
                        value_rows(self.backend, chunk.len(), 4)
                    );
                    let append = chunk.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |append, event| {
                        append
                            .bind(event.seq)
                            .bind(event.file_name.as_str())
                            .bind(event.traceparent)
                            .bind(event.recorded_at)
                    });
                    append.execute(&mut *transaction).await?;
                }
            }
        }

        for (file_name, file) in known.iter().filter(|(_, file)| !file.provenance.produced_by_job.is_empty()) {
            sqlx::query(
                "UPDATE indexed_files SET produced_by_job = $1, parent_files = $2 \
                 WHERE file_name = $3 AND produced_by_job = ''",
            )
            .bind(file.provenance.produced_by_job.clone())
            .bind(parents_column(&file.provenance))
            .bind(file_name.clone())
            .execute(&mut *transaction)
            .await?;
        }
        if known_events == KnownEvents::Read {
            for chunk in known.chunks(WRITE_ROWS_PER_STATEMENT) {
                let sql = format!(
                    "SELECT file_name, MAX(seq) AS seq FROM file_events WHERE file_name IN {} GROUP BY file_name",
                    value_rows(self.backend, 1, chunk.len())
                );
                let mut latest = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (name, _) in chunk {
                    latest = latest.bind(name.clone());
                }
                for row in latest.fetch_all(&mut *transaction).await? {
                    written.event_seqs.insert(row.try_get("file_name")?, row.try_get("seq")?);
                }
            }
        }
        transaction.commit().await?;
        if !newly.is_empty() {
            self.latest_seq.send_replace((next_seq - 1) as u64);
            self.statistics.grew_to((next_seq - 1) as u64);
        }
        for (_, file) in &newly {
            let labels = [
                ("kind", kind_column(file.name.kind().into())),
                ("instrument", file.name.instrument().unwrap_or_default()),
            ];
            mesh_runtime::metrics::count(
                "imap_sdc_files_indexed_total",
                "Files newly indexed (each appends one event to the log), by kind and instrument",
                &labels,
                1.0,
            );
        }
        written.unique_names = unique.into_iter().map(|(file_name, _)| file_name).collect();
        Ok(written)
    }

    /// The records of `names` that are tracked, by name.
    async fn get_many(&self, names: &[String]) -> Result<HashMap<String, FileRecord>, IndexerError> {
        let mut records = HashMap::with_capacity(names.len());
        for chunk in names.chunks(ROWS_PER_STATEMENT) {
            let sql =
                format!("SELECT {FILE_COLUMNS} FROM indexed_files WHERE file_name IN ({})", placeholders(chunk.len()));
            let mut select = sqlx::query(sqlx::AssertSqlSafe(sql));
            for name in chunk {
                select = select.bind(name.clone());
            }
            for row in select.fetch_all(&self.pool).await? {
                let record = record_from_row(&row)?;
                records.insert(record.file_name.clone(), record);
            }
        }
        Ok(records)
    }

    pub async fn get(&self, file_name: &str) -> Result<Option<FileRecord>, IndexerError> {
        let row =
            sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {FILE_COLUMNS} FROM indexed_files WHERE file_name = $1")))
                .bind(file_name.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| record_from_row(&row)).transpose()
    }

    pub async fn contains_key(&self, archive_key: &str) -> Result<bool, IndexerError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM indexed_files WHERE archive_key = $1")
            .bind(archive_key.to_string())
            .fetch_one(&self.pool)
            .await?;
        Ok(count > 0)
    }

    /// Events with `seq > after`, oldest first, at most `limit`.
    pub async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<FileEvent>, IndexerError> {
        self.reader.events_after(after, limit).await
    }

    /// One page of the files matching `request`: filters and the page bound in SQL (keyset on the
    /// order's columns, from the request's `page_token`), so a page costs the same however many
    /// files match.
    pub async fn query(&self, request: &QueryFilesRequest) -> Result<FilePage, IndexerError> {
        self.reader.query(request, self.max_page_size).await
    }

    /// The first page of each of `requests`, in order, as [`query`](Self::query) would answer
    /// each, read with one statement. At most 64 queries.
    pub async fn query_batch(&self, requests: &[QueryFilesRequest]) -> Result<Vec<FilePage>, IndexerError> {
        self.reader.query_batch(requests, self.max_page_size).await
    }

    /// Applies a data release in one transaction: every file of the scope except the withheld ones
    /// is marked released (a file keeps the time and manifest of the first release that covered
    /// it, so applying a release again changes nothing). Withheld files are left as they are. A
    /// withheld name outside the scope is reported back and nothing is changed.
    pub async fn release(&self, request: &ReleaseFilesRequest) -> Result<ReleaseFilesResponse, IndexerError> {
        let invalid = |message: String| Err(IndexerError::InvalidRelease(message));
        if request.instrument.is_empty() || request.manifest_key.is_empty() {
            return invalid("a release needs an instrument and a manifest key".into());
        }
        let date = |text: &str| {
            imap_filename::Date::parse_yyyymmdd(text)
                .map_err(|error| IndexerError::InvalidRelease(format!("date {text:?}: {error}")))
        };
        if date(&request.start_date)? > date(&request.end_date)? {
            return invalid(format!("start date {} is after end date {}", request.start_date, request.end_date));
        }
        let withheld: BTreeSet<&str> = request.withheld_files.iter().map(String::as_str).collect();
        let _writer = self.append_lock.lock().await;
        let mut transaction = self.begin_write().await?;
        // On SQLite a transaction that reads and then writes fails (busy snapshot) if any other
        // writer commits in between; a first statement that writes (changing nothing) takes the
        // write lock up front instead, waiting its turn. Harmless on PostgreSQL.
        sqlx::query("UPDATE indexed_files SET released = released WHERE 1 = 0").execute(&mut *transaction).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT file_name, released FROM indexed_files WHERE {RELEASE_SCOPE}"
        )))
        .bind(request.instrument.clone())
        .bind(request.start_date.clone())
        .bind(request.end_date.clone())
        .fetch_all(&mut *transaction)
        .await?;
        let mut in_scope: BTreeMap<String, bool> = BTreeMap::new();
        for row in &rows {
            in_scope.insert(row.try_get("file_name")?, row.try_get::<i64, _>("released")? == 1);
        }
        let unmatched_withheld: Vec<String> =
            withheld.iter().filter(|name| !in_scope.contains_key(**name)).map(|name| name.to_string()).collect();
        if !unmatched_withheld.is_empty() {
            return Ok(ReleaseFilesResponse { unmatched_withheld, ..Default::default() });
        }
        let releasing: Vec<&String> = in_scope.keys().filter(|name| !withheld.contains(name.as_str())).collect();
        let not_yet_released: Vec<&String> =
            releasing.iter().copied().filter(|name| !in_scope[name.as_str()]).collect();
        let now = now_millis();
        let mut newly_released: u64 = 0;
        for batch in not_yet_released.chunks(RELEASE_BATCH) {
            let placeholders: Vec<String> = (0..batch.len()).map(|index| format!("${}", index + 3)).collect();
            let sql = format!(
                "UPDATE indexed_files SET released = 1, released_at = $1, release_manifest = $2 \
                 WHERE released = 0 AND file_name IN ({})",
                placeholders.join(", ")
            );
            let mut update = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now).bind(request.manifest_key.clone());
            for name in batch {
                update = update.bind(name.to_string());
            }
            newly_released += update.execute(&mut *transaction).await?.rows_affected();
        }
        transaction.commit().await?;
        Ok(ReleaseFilesResponse {
            released: releasing.len() as u32,
            newly_released: newly_released as u32,
            withheld: withheld.len() as u32,
            unmatched_withheld: Vec::new(),
        })
    }

    pub async fn record_quarantine(
        &self,
        original_key: &str,
        quarantine_key: &str,
        reason: &str,
    ) -> Result<(), IndexerError> {
        let mut transaction = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO quarantined_files (id, original_key, quarantine_key, reason, recorded_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(original_key.to_string())
        .bind(quarantine_key.to_string())
        .bind(reason.to_string())
        .bind(now_millis())
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// A page of quarantined files, newest first (keyset on the time-ordered id), from
    /// `page_token` on: 100 unless `limit` says otherwise, at most the page maximum.
    pub async fn quarantined(&self, limit: u32, page_token: &str) -> Result<QuarantinePage, IndexerError> {
        let limit = page_limit(limit, DEFAULT_QUARANTINE_PAGE, self.max_page_size);
        let rows = sqlx::query(
            "SELECT id, original_key, quarantine_key, reason, recorded_at FROM quarantined_files \
             WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(page_token.to_string())
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut page = QuarantinePage::default();
        for row in rows.iter().take(limit as usize) {
            page.files.push(QuarantinedFile {
                original_key: row.try_get("original_key")?,
                quarantine_key: row.try_get("quarantine_key")?,
                reason: row.try_get("reason")?,
                recorded_at: Some(timestamp(row.try_get("recorded_at")?)),
            });
        }
        if rows.len() > limit as usize {
            page.next_page_token = rows[limit as usize - 1].try_get("id")?;
        }
        Ok(page)
    }
}

/// The columns of a new file's `indexed_files` row that its name gives.
struct NewRow {
    archive_key: String,
    kind: FileKind,
    instrument: String,
    data_level: String,
    descriptor: String,
    start_date: String,
    end_date: String,
    repointing: Option<u32>,
    cr: Option<u32>,
    version: String,
    extension: String,
}

impl NewRow {
    fn of(file: &NewFile) -> NewRow {
        let name = &file.name;
        NewRow {
            archive_key: name.archive_path(),
            kind: name.kind().into(),
            instrument: name.instrument().unwrap_or_default().to_string(),
            data_level: name.data_level().unwrap_or_default().to_string(),
            descriptor: stored_descriptor(name),
            start_date: name.start_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
            end_date: name.end_date().map(|date| date.yyyymmdd()).unwrap_or_default(),
            repointing: name.repointing(),
            cr: name.carrington_rotation(),
            version: name.version_text().unwrap_or_default(),
            extension: name.extension().to_string(),
        }
    }

    /// Every column of the row inserted for `file` at `ingested_at` (on `ingestion_date`).
    fn inserted<'a>(
        self,
        file_name: &'a str,
        file: &'a NewFile,
        ingested_at: i64,
        ingestion_date: &'a str,
    ) -> InsertedFile<'a> {
        let (version_major, version_minor) = version_sort_key(&self.version);
        InsertedFile {
            file_name,
            archive_key: self.archive_key,
            kind: kind_column(self.kind),
            instrument: self.instrument,
            data_level: self.data_level,
            descriptor: self.descriptor,
            start_date: self.start_date,
            end_date: self.end_date,
            repointing: self.repointing.map(i64::from),
            cr: self.cr.map(i64::from),
            version: self.version,
            version_major,
            version_minor,
            extension: self.extension,
            size_bytes: file.size_bytes as i64,
            ingested_at,
            ingestion_date,
            produced_by_job: &file.provenance.produced_by_job,
            parent_files: parents_column(&file.provenance),
        }
    }

    /// The record of `file` as the row inserted at `ingested_at` reads back: not released yet.
    fn into_record(self, file_name: String, file: &NewFile, ingested_at: i64) -> FileRecord {
        FileRecord {
            file_name,
            archive_key: self.archive_key,
            kind: self.kind.into(),
            instrument: self.instrument,
            data_level: self.data_level,
            descriptor: self.descriptor,
            start_date: self.start_date,
            end_date: self.end_date,
            repointing: self.repointing,
            cr: self.cr,
            version: self.version,
            extension: self.extension,
            size_bytes: file.size_bytes,
            ingestion_time: Some(timestamp(ingested_at)),
            produced_by_job: file.provenance.produced_by_job.clone(),
            parent_files: file.provenance.parent_files.clone(),
            released: false,
            released_at: None,
            release_manifest: String::new(),
        }
    }
}

/// A new `indexed_files` row: bound column by column into SQLite's VALUES, or sent as an
/// element of a JSON array to PostgreSQL ([`INSERT_FILES_FROM_JSON`]).
#[derive(serde::Serialize)]
struct InsertedFile<'a> {
    file_name: &'a str,
    archive_key: String,
    kind: &'static str,
    instrument: String,
    data_level: String,
    descriptor: String,
    start_date: String,
    end_date: String,
    repointing: Option<i64>,
    cr: Option<i64>,
    version: String,
    version_major: i64,
    version_minor: i64,
    extension: String,
    size_bytes: i64,
    ingested_at: i64,
    ingestion_date: &'a str,
    produced_by_job: &'a str,
    parent_files: String,
}

impl InsertedFile<'_> {
    /// Binds the row's columns in the order of [`INSERTED_COLUMNS`].
    fn bind<'q>(
        &'q self,
        insert: sqlx::query::QueryScalar<'q, sqlx::Any, String, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryScalar<'q, sqlx::Any, String, sqlx::any::AnyArguments> {
        insert
            .bind(self.file_name)
            .bind(self.archive_key.as_str())
            .bind(self.kind)
            .bind(self.instrument.as_str())
            .bind(self.data_level.as_str())
            .bind(self.descriptor.as_str())
            .bind(self.start_date.as_str())
            .bind(self.end_date.as_str())
            .bind(self.repointing)
            .bind(self.cr)
            .bind(self.version.as_str())
            .bind(self.version_major)
            .bind(self.version_minor)
            .bind(self.extension.as_str())
            .bind(self.size_bytes)
            .bind(self.ingested_at)
            .bind(self.ingestion_date)
            .bind(self.produced_by_job)
            .bind(self.parent_files.as_str())
    }
}

/// A new `file_events` row, bound as [`InsertedFile`] is.
#[derive(serde::Serialize)]
struct AppendedEvent<'a> {
    seq: i64,
    file_name: &'a String,
    traceparent: &'a str,
    recorded_at: i64,
}

/// Each distinct name of `files` once, at its first place, with the file there.
fn first_places(files: &[NewFile]) -> Vec<(String, &NewFile)> {
    let mut seen: HashSet<String> = HashSet::with_capacity(files.len());
    files
        .iter()
        .filter_map(|file| {
            let file_name = file.name.file_name();
            seen.insert(file_name.clone()).then_some((file_name, file))
        })
        .collect()
}

/// `waiting` in order, cut into groups of batches that name distinct files, each of at most
/// [`GROUP_COMMIT_FILES`] files (a larger batch alone).
fn disjoint_groups(waiting: Vec<WaitingBatch>) -> Vec<Vec<WaitingBatch>> {
    let mut groups: Vec<Vec<WaitingBatch>> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut files_in_group = 0;
    for batch in waiting {
        let batch_names: HashSet<String> = batch.files.iter().map(|file| file.name.file_name()).collect();
        let fits = files_in_group + batch.files.len() <= GROUP_COMMIT_FILES && names.is_disjoint(&batch_names);
        if groups.is_empty() || !fits {
            groups.push(Vec::new());
            names.clear();
            files_in_group = 0;
        }
        names.extend(batch_names);
        files_in_group += batch.files.len();
        groups.last_mut().expect("a group was just opened").push(batch);
    }
    groups
}

fn parents_column(provenance: &Provenance) -> String {
    serde_json::to_string(&provenance.parent_files).unwrap_or_else(|_| "[]".into())
}

/// `rows` parenthesised rows of `columns` placeholders each, for a multi-row statement: numbered
/// (`$1`, `$2`, …) on PostgreSQL, plain `?` on SQLite, where each numbered placeholder bound costs
/// a search through the statement's parameter names (a batch of thousands binds in quadratic time).
fn value_rows(backend: Backend, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * (columns * 7 + 4));
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${}", row * columns + column + 1);
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// `$1, $2, …, $count`.
fn placeholders(count: usize) -> String {
    (1..=count).map(|place| format!("${place}")).collect::<Vec<_>>().join(", ")
}

/// Versions sort by (major, minor) with "no major" first, so store major = -1 for those.
fn version_sort_key(version_text: &str) -> (i64, i64) {
    match version_text.parse::<Version>() {
        Ok(version) => (version.major.map(i64::from).unwrap_or(-1), i64::from(version.minor)),
        Err(_) => (-1, version_text.trim_start_matches('v').parse().unwrap_or(0)),
    }
}

/// The text a `kind` column holds; empty for `Unspecified` (which is never stored).
fn kind_column(kind: FileKind) -> &'static str {
    kind.text()
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<FileRecord, IndexerError> {
    record_at(row, 0)
}

/// The descriptor column: a kernel's type for SPICE files (`leapseconds`, `spacecraft_clock`…),
/// which is how the dependency graph names kernel inputs.
fn stored_descriptor(name: &ImapFileName) -> String {
    match name {
        ImapFileName::Spice(kernel) => kernel.kernel_type.as_str().to_string(),
        _ => name.descriptor().unwrap_or_default().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use imap_filename::ImapFileName;

    use super::{INSERTED_COLUMNS, NewFile, NewRow, Provenance};

    /// PostgreSQL reads each column from the JSON key of its name, so the row's keys must be the
    /// columns' names, each once.
    #[test]
    fn a_new_row_as_json_has_one_key_per_inserted_column() {
        let file = NewFile {
            name: ImapFileName::parse("imap_hi_l1a_45sensor-de_20240924-repoint00042_v001.cdf").unwrap(),
            size_bytes: 7,
            provenance: Provenance::default(),
            traceparent: String::new(),
        };
        let row = NewRow::of(&file).inserted("a.cdf", &file, 1, "20240924");
        let json = serde_json::to_value(&row).unwrap();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        let mut columns: Vec<&str> = INSERTED_COLUMNS.iter().map(|(name, _)| *name).collect();
        keys.sort_unstable();
        columns.sort_unstable();
        assert_eq!(keys, columns);
    }
}
