//! The tracker's hot reads on a small pool of their own, through the engine's own driver: the file
//! queries behind depsvc's resolutions and the event log that consumers replay. Reading beside
//! the shared pool keeps them from queueing behind writes for a connection; on SQLite, in WAL,
//! a reader sees the last commit while the writer carries on. Columns are read by position.

use futures_util::TryStreamExt;
use mesh_runtime::store::NativePool;
use proto::pb::{FileEvent, FileKind, FileRecord, QueryFilesRequest};
use proto::time::timestamp;
use sqlx::{AnyPool, ColumnIndex, Decode, Row, Type};

use super::error::IndexerError;
use super::tracker::{FILE_COLUMNS, FilePage};

/// Connections of the read pool, opened as reads need them: a replaying consumer and a few
/// concurrent queries. Each SQLite connection is a thread and a page cache of its own.
const READ_CONNECTIONS: u32 = 4;

/// The tracker's read side.
pub(crate) struct Reader {
    pool: NativePool,
    /// The event log from a cursor, oldest first: `$1` the cursor; the limit is appended.
    events_sql: String,
}

impl Reader {
    /// A read pool on the database `shared` opened.
    pub(crate) fn open(shared: &AnyPool) -> Result<Reader, IndexerError> {
        let url = shared.connect_options().database_url.to_string();
        let file_columns: Vec<String> = FILE_COLUMNS.split(", ").map(|column| format!("f.{column}")).collect();
        let events_sql = format!(
            "SELECT e.seq, e.traceparent, {} FROM file_events e JOIN indexed_files f ON f.file_name = e.file_name \
             WHERE e.seq > $1 ORDER BY e.seq",
            file_columns.join(", ")
        );
        Ok(Reader { pool: mesh_runtime::store::connect_native(&url, READ_CONNECTIONS)?, events_sql })
    }

    /// Events with `seq > after`, oldest first, at most `limit`.
    pub(crate) async fn events_after(&self, after: u64, limit: u32) -> Result<Vec<FileEvent>, IndexerError> {
        let arguments = [Argument::Integer(after as i64)];
        // The limit is written into the statement, not bound: SQLite plans with a bound LIMIT's
        // value, so rebinding it made SQLite prepare the statement again at every run (1,343
        // times in 10 s of a trickle bench). A consumer asks with the same limit each time, so
        // this stays one cached statement.
        let sql = format!("{} LIMIT {limit}", self.events_sql);
        let mut events = Vec::with_capacity(limit as usize);
        macro_rules! read {
            ($pool:expr) => {{
                let mut rows = bound(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())), &arguments).fetch($pool);
                while let Some(row) = rows.try_next().await? {
                    events.push(FileEvent {
                        seq: row.try_get::<i64, _>(0)? as u64,
                        traceparent: row.try_get(1)?,
                        file: Some(record_at(&row, 2)?),
                    });
                }
            }};
        }
        match &self.pool {
            NativePool::Sqlite(pool) => read!(pool),
            NativePool::Postgres(pool) => read!(pool),
        }
        Ok(events)
    }

    /// One page of the files matching `request`, at most `max_page_size`: filters and the page
    /// bound in SQL (keyset on the order's columns, from the request's `page_token`), so a page
    /// costs the same however many files match.
    pub(crate) async fn query(
        &self,
        request: &QueryFilesRequest,
        max_page_size: u32,
    ) -> Result<FilePage, IndexerError> {
        let limit = page_limit(request.limit, max_page_size, max_page_size);
        let mut arguments = Vec::new();
        let sql = query_sql(request, limit, &mut arguments)?;
        let mut files = Vec::new();
        macro_rules! read {
            ($pool:expr) => {{
                let mut rows = bound(sqlx::query(sqlx::AssertSqlSafe(sql)), &arguments).fetch($pool);
                while let Some(row) = rows.try_next().await? {
                    files.push(record_at(&row, 0)?);
                }
            }};
        }
        match &self.pool {
            NativePool::Sqlite(pool) => read!(pool),
            NativePool::Postgres(pool) => read!(pool),
        }
        Ok(page_of(files, limit, request.newest_first))
    }

    /// The first page of each of `requests`, in order, read with one statement: each query's
    /// page as [`query`](Self::query) bounds it, the pages joined with `UNION ALL` and told apart
    /// by a leading query number (a single query is read as [`query`](Self::query) reads it). A
    /// resolution asks for every input source at once, and each statement on SQLite is a hand-off
    /// to the connection's thread and back.
    pub(crate) async fn query_batch(
        &self,
        requests: &[QueryFilesRequest],
        max_page_size: u32,
    ) -> Result<Vec<FilePage>, IndexerError> {
        if requests.len() > MAX_BATCH_QUERIES {
            return Err(IndexerError::InvalidQuery(format!(
                "{} queries in one batch; at most {MAX_BATCH_QUERIES}",
                requests.len()
            )));
        }
        match requests {
            [] => return Ok(Vec::new()),
            [request] => return Ok(vec![self.query(request, max_page_size).await?]),
            _ => {}
        }
        let mut arguments = Vec::new();
        let mut branches = Vec::with_capacity(requests.len());
        let limit_of = |request: &QueryFilesRequest| page_limit(request.limit, max_page_size, max_page_size);
        for (number, request) in requests.iter().enumerate() {
            let page_sql = query_sql(request, limit_of(request), &mut arguments)?;
            // A compound statement keeps no branch's order, so the whole is ordered again: by query,
            // then by each page's own order (newest first sorts on the negated arrival), names in
            // the database's own collation, which the next page's keyset follows. BIGINT: a bare
            // literal is four bytes on PostgreSQL, eight on SQLite.
            let arrival_key = if request.newest_first { "-ingested_at" } else { "0" };
            branches.push(format!(
                "SELECT CAST({number} AS BIGINT) AS query_number, {arrival_key} AS arrival_key, page.* \
                 FROM ({page_sql}) AS page"
            ));
        }
        let mut files: Vec<Vec<FileRecord>> = vec![Vec::new(); requests.len()];
        let sql = format!("{} ORDER BY query_number, arrival_key, file_name", branches.join(" UNION ALL "));
        macro_rules! read {
            ($pool:expr) => {{
                let mut rows = bound(sqlx::query(sqlx::AssertSqlSafe(sql)), &arguments).fetch($pool);
                while let Some(row) = rows.try_next().await? {
                    // The number is one of the branches' own literals.
                    let number = row.try_get::<i64, _>(0)? as usize;
                    files[number].push(record_at(&row, 2)?);
                }
            }};
        }
        match &self.pool {
            NativePool::Sqlite(pool) => read!(pool),
            NativePool::Postgres(pool) => read!(pool),
        }
        Ok(files
            .into_iter()
            .zip(requests)
            .map(|(files, request)| page_of(files, limit_of(request), request.newest_first))
            .collect())
    }
}

/// Queries one [`Reader::query_batch`] takes: a mission job names about a dozen input sources.
pub(crate) const MAX_BATCH_QUERIES: usize = 64;

/// When `file` was indexed, in milliseconds.
fn arrival_millis(file: &FileRecord) -> i64 {
    file.ingestion_time.as_ref().map(proto::time::millis_of).unwrap_or_default()
}

/// The page `files` make when read `limit` and one more: the row past the limit says another page
/// follows, which begins after the last file kept.
fn page_of(mut files: Vec<FileRecord>, limit: u32, newest_first: bool) -> FilePage {
    let mut page = FilePage::default();
    if files.len() > limit as usize {
        files.truncate(limit as usize);
        let last = files.last().expect("a page holds at least one file");
        page.next_page_token =
            if newest_first { format!("{}:{}", arrival_millis(last), last.file_name) } else { last.file_name.clone() };
    }
    page.files = files;
    page
}

/// A query argument, bound in order.
enum Argument {
    Text(String),
    Integer(i64),
}

/// `query` with `arguments` bound in order.
fn bound<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    arguments: &[Argument],
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + Type<DB>,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
{
    for argument in arguments {
        query = match argument {
            Argument::Text(text) => query.bind(text.clone()),
            Argument::Integer(integer) => query.bind(*integer),
        };
    }
    query
}

/// The statement of one page of a file query, one row past the page (which says whether another
/// page follows); its arguments are appended to `arguments`, numbered after those already there.
fn query_sql(request: &QueryFilesRequest, limit: u32, arguments: &mut Vec<Argument>) -> Result<String, IndexerError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut push = |condition: &dyn Fn(usize) -> String, argument: Argument, conditions: &mut Vec<String>| {
        arguments.push(argument);
        conditions.push(condition(arguments.len()));
    };
    let kind = FileKind::try_from(request.kind)
        .map_err(|_| IndexerError::InvalidQuery(format!("unknown file kind {}", request.kind)))?;
    let equal_columns = [
        ("kind", kind.text()),
        ("instrument", request.instrument.as_str()),
        ("data_level", request.data_level.as_str()),
        ("descriptor", request.descriptor.as_str()),
        ("version", request.version.as_str()),
        ("extension", request.extension.as_str()),
        ("file_name", request.file_name.as_str()),
    ];
    for (column, value) in equal_columns {
        if !value.is_empty() {
            push(&|place: usize| format!("{column} = ${place}"), Argument::Text(value.to_string()), &mut conditions);
        }
    }
    if request.released_only {
        conditions.push("released = 1".to_string());
    }
    // An empty end date means "that one day" for dated science-like files and "still valid" for
    // ancillary files and kernels.
    const END_DATE: &str = "(CASE WHEN end_date <> '' THEN end_date \
         WHEN kind IN ('science', 'quicklook', 'dependency') THEN start_date ELSE '99991231' END)";
    // Science and quicklook names carry one date, so their coverage ends where it starts:
    // bounding `start_date` instead lets the series index answer in a few rows rather than
    // scanning every earlier file of the series.
    let end_date = if matches!(kind, FileKind::Science | FileKind::Quicklook) { "start_date" } else { END_DATE };
    let date_bounds = [
        ("start_date", ">=", &request.start_date_min),
        ("start_date", "<=", &request.start_date_max),
        (end_date, ">=", &request.end_date_min),
        (end_date, "<=", &request.end_date_max),
        ("ingestion_date", ">=", &request.ingestion_date_min),
        ("ingestion_date", "<=", &request.ingestion_date_max),
    ];
    for (expression, operator, value) in date_bounds {
        if value.is_empty() {
            continue;
        }
        imap_filename::Date::parse_yyyymmdd(value).map_err(|error| IndexerError::InvalidQuery(error.to_string()))?;
        let condition = |place: usize| format!("{expression} {operator} ${place}");
        push(&condition, Argument::Text(value.to_string()), &mut conditions);
    }
    let repointing_bounds = [("=", request.repointing), (">=", request.repointing_min), ("<=", request.repointing_max)];
    for (operator, value) in repointing_bounds {
        if let Some(value) = value {
            let condition = |place: usize| format!("repointing {operator} ${place}");
            push(&condition, Argument::Integer(i64::from(value)), &mut conditions);
        }
    }
    match PageToken::parse(&request.page_token, request.newest_first)? {
        None => {}
        Some(PageToken::FileName(name)) => {
            push(&|place: usize| format!("file_name > ${place}"), Argument::Text(name), &mut conditions);
        }
        Some(PageToken::Arrival { ingested_at, file_name }) => {
            arguments.push(Argument::Integer(ingested_at));
            arguments.push(Argument::Text(file_name));
            let (time, name) = (arguments.len() - 1, arguments.len());
            conditions.push(format!("(ingested_at < ${time} OR (ingested_at = ${time} AND file_name > ${name}))"));
        }
    }
    let mut sql = format!("SELECT {FILE_COLUMNS} FROM indexed_files");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(if request.newest_first { " ORDER BY ingested_at DESC, file_name" } else { " ORDER BY file_name" });
    sql.push_str(&format!(" LIMIT {}", u64::from(limit) + 1));
    Ok(sql)
}

/// Where the previous page of a file query ended, in the order it was read.
enum PageToken {
    /// By file name: the last name.
    FileName(String),
    /// Newest first: the last file's ingestion time (milliseconds) and name.
    Arrival { ingested_at: i64, file_name: String },
}

impl PageToken {
    fn parse(token: &str, newest_first: bool) -> Result<Option<PageToken>, IndexerError> {
        if token.is_empty() {
            return Ok(None);
        }
        if !newest_first {
            return Ok(Some(PageToken::FileName(token.to_string())));
        }
        let unusable =
            || IndexerError::InvalidQuery(format!("page token {token:?} is not one a newest-first page ended at"));
        let (ingested_at, file_name) = token.split_once(':').ok_or_else(unusable)?;
        let ingested_at = ingested_at.parse().map_err(|_| unusable())?;
        Ok(Some(PageToken::Arrival { ingested_at, file_name: file_name.to_string() }))
    }
}

/// The rows a page holds: `default` when none is asked for, never more than `maximum`.
pub(crate) fn page_limit(asked: u32, default: u32, maximum: u32) -> u32 {
    if asked == 0 { default.min(maximum) } else { asked.min(maximum) }
}

/// The record whose [`FILE_COLUMNS`] start at column `first` of `row`, on any driver.
pub(crate) fn record_at<'r, R>(row: &'r R, first: usize) -> Result<FileRecord, IndexerError>
where
    R: Row,
    usize: ColumnIndex<R>,
    &'r str: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let column = |offset: usize| first + offset;
    let kind: &str = row.try_get(column(2))?;
    let parents: &str = row.try_get(column(15))?;
    Ok(FileRecord {
        file_name: row.try_get(column(0))?,
        archive_key: row.try_get(column(1))?,
        kind: FileKind::from_text(kind).map_err(IndexerError::CorruptKind)?.into(),
        instrument: row.try_get(column(3))?,
        data_level: row.try_get(column(4))?,
        descriptor: row.try_get(column(5))?,
        start_date: row.try_get(column(6))?,
        end_date: row.try_get(column(7))?,
        repointing: row.try_get::<Option<i64>, _>(column(8))?.map(|value| value as u32),
        cr: row.try_get::<Option<i64>, _>(column(9))?.map(|value| value as u32),
        version: row.try_get(column(10))?,
        extension: row.try_get(column(11))?,
        size_bytes: row.try_get::<i64, _>(column(12))? as u64,
        ingestion_time: Some(timestamp(row.try_get(column(13))?)),
        produced_by_job: row.try_get(column(14))?,
        parent_files: serde_json::from_str(parents).unwrap_or_default(),
        // INTEGER: four bytes on PostgreSQL.
        released: row.try_get::<i32, _>(column(16))? == 1,
        released_at: row.try_get::<Option<i64>, _>(column(17))?.map(timestamp),
        release_manifest: row.try_get(column(18))?,
    })
}
