//! One way to open the database every role uses: SQLite (embedded default) or PostgreSQL, through
//! sqlx's `Any` driver so the same portable SQL and migrations serve both; and, for a role's hot
//! reads, a pool through the engine's own driver ([`connect_native`]).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use proto::error::ErrorCode;
use sqlx::migrate::Migrator;
use sqlx::pool::{PoolConnection, PoolConnectionMetadata, PoolOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{AnyConnection, AnyPool, Connection, Database, Executor, PgPool, SqlitePool};

use crate::error::RuntimeError;

/// Which engine a URL points at; a few statements differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The engine `pool` was opened on.
    pub fn of_pool(pool: &AnyPool) -> Option<Backend> {
        Backend::of_url(pool.connect_options().database_url.as_str())
    }
}

/// A write transaction that, on SQLite, holds this process's turn to write to the file.
///
/// SQLite lets one connection write at a time; a connection that finds the file locked sleeps
/// in steps of 1 to 100 ms before it asks again (its busy handler), so writers of one node that
/// collide wait milliseconds for a lock freed in microseconds: about 1.5 such sleeps a job were
/// measured in a saturated node. Taking turns in the process first, in arrival order, leaves the
/// busy handler to writers of other processes. PostgreSQL writers need no turn.
pub struct WriteTransaction {
    transaction: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTransaction {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.transaction.commit().await
    }
}

impl Deref for WriteTransaction {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.transaction
    }
}

impl DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.transaction
    }
}

/// Begins a write transaction on `pool`, after this process's earlier SQLite writers to the same
/// file (see [`WriteTransaction`]). Dropped without a commit, it rolls back and passes the turn on.
pub async fn begin_write(pool: &AnyPool) -> Result<WriteTransaction, sqlx::Error> {
    let turn = sqlite_write_turn(pool).await;
    let transaction = pool.begin().await?;
    Ok(WriteTransaction { transaction, _turn: turn })
}

/// This process's turn to write to `pool`'s file, once the earlier writers are done; `None` when
/// `pool` is not SQLite, whose writers need no turn.
async fn sqlite_write_turn(pool: &AnyPool) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    let options = pool.connect_options();
    let url = options.database_url.as_str();
    match Backend::of_url(url) {
        Some(Backend::Sqlite) => Some(sqlite_write_turns(url).lock_owned().await),
        _ => None,
    }
}

/// A write that is a single statement. On SQLite it runs outside a transaction, which SQLite makes
/// atomic on its own: every statement is a hand-off to the connection's own thread and back, and
/// BEGIN and COMMIT were two of such a write's three. Elsewhere it is a [`WriteTransaction`], which
/// a leader fences first. Either way it holds this process's turn to write to a SQLite file.
/// Use it only for one statement: a second one would be committed apart from the first.
pub enum OneStatementWrite {
    Alone { connection: PoolConnection<sqlx::Any>, _turn: tokio::sync::OwnedMutexGuard<()> },
    Transaction(WriteTransaction),
}

impl OneStatementWrite {
    /// Commits the transaction, if the write needed one. Call it only once the statement
    /// succeeded: it tells the pool that the connection's use ended cleanly.
    pub async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            OneStatementWrite::Alone { mut connection, .. } => {
                connection.finished_cleanly();
                Ok(())
            }
            OneStatementWrite::Transaction(transaction) => transaction.commit().await,
        }
    }
}

impl Deref for OneStatementWrite {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            OneStatementWrite::Alone { connection, .. } => connection,
            OneStatementWrite::Transaction(transaction) => transaction,
        }
    }
}

impl DerefMut for OneStatementWrite {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            OneStatementWrite::Alone { connection, .. } => connection,
            OneStatementWrite::Transaction(transaction) => transaction,
        }
    }
}

/// Opens a [`OneStatementWrite`] on `pool`.
pub async fn begin_one_statement_write(pool: &AnyPool) -> Result<OneStatementWrite, sqlx::Error> {
    Ok(match sqlite_write_turn(pool).await {
        Some(turn) => OneStatementWrite::Alone { connection: pool.acquire().await?, _turn: turn },
        None => OneStatementWrite::Transaction(WriteTransaction { transaction: pool.begin().await?, _turn: None }),
    })
}

/// One queue of writers per SQLite database this process opened.
fn sqlite_write_turns(url: &str) -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: OnceLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut turns = TURNS.get_or_init(Mutex::default).lock().expect("write turns lock");
    // Every write transaction asks: the name is copied only the first time.
    if let Some(turn) = turns.get(url) {
        return turn.clone();
    }
    turns.entry(url.to_string()).or_default().clone()
}

/// A pooled connection idle at least this long is pinged before it is handed out (and replaced if
/// the database hung up on it); one in steady use is handed out as it is, without a round trip.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(5);

/// A released connection whose use ended cleanly is pinged (and closed if the database hung up on
/// it) only when its last test is this old; sqlx pings at every release, a round trip to the
/// connection's thread (SQLite) or to the server (PostgreSQL) per query. A failed, cancelled or
/// unfinished use is tested at release (`vendor/README.md`). A connection that broke between a
/// clean use and its release goes back untested for at most this long, and its next user gets a
/// transient error.
pub const TEST_ON_RELEASE_EVERY: Duration = Duration::from_secs(1);

/// How long SQLite waits for another connection's write lock before answering BUSY.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a pool; SQLite gets WAL and a busy timeout so several roles can share one file.
pub async fn connect(url: &str) -> Result<AnyPool, RuntimeError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url).ok_or_else(|| RuntimeError::UnsupportedDatabaseUrl(url.to_string()))?;
    let max_connections = match backend {
        Backend::Sqlite => 4,
        Backend::Postgres => 10,
    };
    pool_options(max_connections)
        .after_connect(move |connection: &mut AnyConnection, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    connection.execute("PRAGMA journal_mode = WAL").await?;
                    connection.execute("PRAGMA busy_timeout = 10000").await?;
                    connection.execute("PRAGMA synchronous = NORMAL").await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(RuntimeError::DatabaseConnect)
}

/// A pool through the engine's own driver rather than `Any`: rows are read as the driver decodes
/// them, with no conversion to `Any` values, for a role's hot, read-only queries.
#[derive(Debug, Clone)]
pub enum NativePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl NativePool {
    pub async fn close(&self) {
        match self {
            NativePool::Sqlite(pool) => pool.close().await,
            NativePool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens a [`NativePool`] of at most `max_connections` on `url`, connecting lazily (a pool nobody
/// reads from holds no connection). SQLite connections use WAL like [`connect`]'s, so they read
/// while another connection writes.
pub fn connect_native(url: &str, max_connections: u32) -> Result<NativePool, RuntimeError> {
    let backend = Backend::of_url(url).ok_or_else(|| RuntimeError::UnsupportedDatabaseUrl(url.to_string()))?;
    Ok(match backend {
        Backend::Sqlite => {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(RuntimeError::DatabaseConnect)?
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .synchronous(SqliteSynchronous::Normal);
            NativePool::Sqlite(pool_options(max_connections).connect_lazy_with(options))
        }
        Backend::Postgres => {
            let options = PgConnectOptions::from_str(url).map_err(RuntimeError::DatabaseConnect)?;
            NativePool::Postgres(pool_options(max_connections).connect_lazy_with(options))
        }
    })
}

/// The options every pool shares: a connection is checked with a ping when handed out only after
/// it sat idle ([`PING_WHEN_IDLE_FOR`]), and when given back only after its last check has aged
/// ([`TEST_ON_RELEASE_EVERY`]), instead of sqlx's default of a ping at both, which costs each query
/// two round trips of their own.
fn pool_options<DB: Database>(max_connections: u32) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .test_on_release_every(TEST_ON_RELEASE_EVERY)
        .before_acquire(|connection: &mut DB::Connection, metadata: PoolConnectionMetadata| {
            Box::pin(async move {
                if needs_ping(metadata.idle_for) {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Whether a connection leaving the idle queue is pinged first.
fn needs_ping(idle_for: Duration) -> bool {
    idle_for >= PING_WHEN_IDLE_FOR
}

/// Applies one role's migrations. Roles may share a database, so each role numbers its own
/// migrations in its own range and ignores the others' rows in `_sqlx_migrations`.
pub async fn migrate(pool: &AnyPool, mut migrator: Migrator) -> Result<(), RuntimeError> {
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.map_err(RuntimeError::Migrate)
}

/// Keeps PostgreSQL's planner statistics of growing tables current: an `ANALYZE` of them each
/// time they have doubled since the last one, from [`FIRST_ANALYZE_ROWS`] rows on, at most one
/// per [`ANALYZE_SPACING`] (a doubling within it waits for its end).
///
/// Autovacuum analyzes a table at most once a minute and only after a tenth of it changed; until
/// then the planner knows nothing of a young table and scans it in whole. In a fresh database fed
/// 100 files/s (`imap-sdc bench mesh`), every read of the event log hash-joined both tables,
/// and the PostgreSQL node served 152 jobs/s instead of 326. Doubling keeps the cost to a few
/// `ANALYZE`s over a mission (each samples a bounded number of rows). SQLite's planner prefers
/// an index without statistics, so nothing is done there.
///
/// A writer reports the size it reached ([`grew_to`](Self::grew_to), cheap, under its locks);
/// the `ANALYZE` runs later in the caller's own call ([`refresh_if_due`](Self::refresh_if_due)),
/// once it holds no lock, so no other writer waits for it.
pub struct PlannerStatistics {
    /// `ANALYZE (SKIP_LOCKED) <tables>`, or `None` on SQLite.
    analyze: Option<String>,
    /// The size at which the next `ANALYZE` falls due.
    next_at: std::sync::atomic::AtomicU64,
    /// An `ANALYZE` fell due and has not been run yet.
    due: std::sync::atomic::AtomicBool,
    /// When the last `ANALYZE` was handed out.
    last_handed_out: Mutex<Option<std::time::Instant>>,
}

/// The first `ANALYZE` of a table [`PlannerStatistics`] keeps.
pub const FIRST_ANALYZE_ROWS: u64 = 1000;

/// The least time between two `ANALYZE`s of one [`PlannerStatistics`]. A 10,000-file burst
/// doubles the log four times in about a second; an `ANALYZE` at each cost it about 8% of its
/// rate (PostgreSQL bursts of 9,058 and 8,787 files/s against 10,050 and 9,461 with none), while
/// the first one is what the planner needed (it scales the row counts it saw to the table's
/// current size). A doubling held back is analyzed by the first write after the spacing; if none
/// comes, autovacuum's own round (once a minute, after a tenth of a table changed) analyzes it.
pub const ANALYZE_SPACING: Duration = Duration::from_secs(10);

impl PlannerStatistics {
    /// For `tables` of `pool`'s database, which hold `rows` now.
    pub fn new(pool: &AnyPool, tables: &[&str], rows: u64) -> PlannerStatistics {
        let postgres = Backend::of_pool(pool) == Some(Backend::Postgres);
        PlannerStatistics {
            // A table locked by a vacuum is skipped rather than waited for: the next doubling comes.
            analyze: postgres.then(|| format!("ANALYZE (SKIP_LOCKED) {}", tables.join(", "))),
            next_at: std::sync::atomic::AtomicU64::new(rows.saturating_mul(2).max(FIRST_ANALYZE_ROWS)),
            due: std::sync::atomic::AtomicBool::new(false),
            last_handed_out: Mutex::new(None),
        }
    }

    /// The tables have grown to `rows` (or a count that grows with them, like the last sequence
    /// number): an `ANALYZE` falls due once per doubling, whoever reports it.
    pub fn grew_to(&self, rows: u64) {
        use std::sync::atomic::Ordering;
        if self.analyze.is_none() {
            return;
        }
        let crossed = self.next_at.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next_at| {
            (rows >= next_at).then(|| rows.saturating_mul(2))
        });
        if crossed.is_ok() {
            self.due.store(true, Ordering::Relaxed);
        }
    }

    /// The statement to run when an `ANALYZE` is due, handed out once.
    pub fn take_due(&self) -> Option<&str> {
        self.take_due_at(std::time::Instant::now())
    }

    /// [`take_due`](Self::take_due) at `now`: nothing while the last one handed out is less than
    /// [`ANALYZE_SPACING`] old, and what fell due meanwhile stays due.
    pub fn take_due_at(&self, now: std::time::Instant) -> Option<&str> {
        use std::sync::atomic::Ordering;
        let analyze = self.analyze.as_deref()?;
        if !self.due.load(Ordering::Relaxed) {
            return None;
        }
        let mut last_handed_out = self.last_handed_out.lock().expect("planner statistics lock");
        if last_handed_out.is_some_and(|at| now.saturating_duration_since(at) < ANALYZE_SPACING) {
            return None;
        }
        if !self.due.swap(false, Ordering::Relaxed) {
            return None;
        }
        *last_handed_out = Some(now);
        Some(analyze)
    }

    /// Runs a due `ANALYZE`. A failed one only leaves the planner its older statistics, so it is
    /// logged, not returned: the caller's write has committed already.
    pub async fn refresh_if_due(&self, pool: &AnyPool) {
        let Some(analyze) = self.take_due() else { return };
        if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(analyze)).execute(pool).await {
            tracing::warn!(%error, statement = %analyze, "refreshing the planner's statistics failed");
        }
    }
}

/// PostgreSQL's estimate of the rows of `table` (from its last `ANALYZE` or vacuum; 0 when it
/// has none). 0 on SQLite, which keeps no estimate without `ANALYZE`.
pub async fn estimated_rows(pool: &AnyPool, table: &str) -> Result<u64, sqlx::Error> {
    if Backend::of_pool(pool) != Some(Backend::Postgres) {
        return Ok(0);
    }
    let estimate: Option<i64> =
        sqlx::query_scalar("SELECT GREATEST(reltuples, 0)::BIGINT FROM pg_class WHERE oid = to_regclass($1)")
            .bind(table.to_string())
            .fetch_optional(pool)
            .await?
            .flatten();
    Ok(estimate.unwrap_or(0) as u64)
}

/// Where a database error sits in the mesh's error table: trouble reaching the database or a
/// concurrent transaction that lost (pool timeout, I/O, busy, serialization failure, deadlock) is
/// transient; a refused statement (a constraint) or unreadable data is not.
pub fn error_code(error: &sqlx::Error) -> ErrorCode {
    use sqlx::error::ErrorKind;
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            ErrorCode::Unavailable
        }
        sqlx::Error::WorkerCrashed | sqlx::Error::Protocol(_) => ErrorCode::Unavailable,
        sqlx::Error::RowNotFound => ErrorCode::NotFound,
        sqlx::Error::Database(database) => match database.kind() {
            ErrorKind::UniqueViolation => ErrorCode::AlreadyExists,
            ErrorKind::ForeignKeyViolation | ErrorKind::NotNullViolation | ErrorKind::CheckViolation => {
                ErrorCode::FailedPrecondition
            }
            _ => database_code(database.code().as_deref()),
        },
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) | sqlx::Error::TypeNotFound { .. } => {
            ErrorCode::DataLoss
        }
        _ => ErrorCode::Internal,
    }
}

/// By the engine's own code: a PostgreSQL SQLSTATE or a SQLite (extended) result code.
fn database_code(code: Option<&str>) -> ErrorCode {
    let Some(code) = code else { return ErrorCode::Internal };
    // A SQLSTATE always has five characters; SQLite's codes have at most four digits.
    if code.len() < 5
        && let Ok(sqlite) = code.parse::<u32>()
    {
        // The primary result code is the low byte: BUSY, LOCKED, FULL, IOERR, CANTOPEN, PROTOCOL.
        return match sqlite & 0xff {
            5 | 6 => ErrorCode::Aborted,
            10 | 13 | 14 | 15 => ErrorCode::Unavailable,
            19 => ErrorCode::FailedPrecondition,
            11 | 26 => ErrorCode::DataLoss,
            _ => ErrorCode::Internal,
        };
    }
    match &code[..code.len().min(2)] {
        // Serialization failure, deadlock.
        "40" => ErrorCode::Aborted,
        // Connection exceptions, insufficient resources, operator intervention (shutdown, restart).
        "08" | "53" | "57" | "58" => ErrorCode::Unavailable,
        "23" => ErrorCode::FailedPrecondition,
        "22" => ErrorCode::InvalidArgument,
        _ => ErrorCode::Internal,
    }
}

/// Test support: a fresh, empty database per test on either backend.
#[cfg(any(test, feature = "test-util"))]
pub mod testing {
    use proto::time::now_millis;

    use super::*;

    /// A new SQLite file in a fresh temporary directory (kept alive by the returned guard).
    pub async fn fresh_sqlite() -> (AnyPool, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("create temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.sqlite").display());
        (connect(&url).await.expect("open sqlite"), dir)
    }

    /// A new PostgreSQL database named after a UUID, on the server `DATABASE_URL` names. Tests
    /// that call it are ignored without that variable (`cfg(has_database_url)`, set by the build
    /// script of the crate holding them; see [`on_both_backends`](crate::on_both_backends)).
    pub async fn fresh_postgres() -> AnyPool {
        connect(&fresh_postgres_url().await).await.expect("connect to test database")
    }

    /// Like [`fresh_postgres`], the new database's URL instead (for processes a test starts).
    pub async fn fresh_postgres_url() -> String {
        let admin_url = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL is set (a PostgreSQL test is ignored when the build did not see it)");
        let admin = connect(&admin_url).await.expect("connect to DATABASE_URL");
        drop_stale_test_databases(&admin).await;
        let name = format!("imap_sdc_test_{}_{}", now_millis(), uuid::Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let (base, _) = admin_url.rsplit_once('/').expect("database url has a path");
        format!("{base}/{name}")
    }

    /// Test databases are named after their creation time; ones older than an hour belong to
    /// finished runs and are dropped so they do not pile up on a long-lived server.
    async fn drop_stale_test_databases(admin: &AnyPool) {
        const HOUR_MILLIS: i64 = 3_600_000;
        let names: Vec<String> =
            sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'imap_sdc_test_%'")
                .fetch_all(admin)
                .await
                .unwrap_or_default();
        for name in names {
            let created = name
                .trim_start_matches("imap_sdc_test_")
                .split('_')
                .next()
                .and_then(|millis| millis.parse::<i64>().ok());
            if created.is_none_or(|created| now_millis() - created > HOUR_MILLIS) {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(admin)
                    .await;
            }
        }
    }
}

/// Declares the tests `<name>::sqlite` and `<name>::postgres` for each `async fn <name>(AnyPool)`
/// named, each on a fresh database. The PostgreSQL one is ignored, with the reason, where the build
/// saw no `DATABASE_URL`: the calling crate's build script probes it with
/// `test_requirements::probe(&[Requirement::DatabaseUrl])`, which sets `cfg(has_database_url)`.
#[cfg(any(test, feature = "test-util"))]
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let (pool, _dir) = $crate::store::testing::fresh_sqlite().await;
                super::$name(pool).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
            async fn postgres() {
                super::$name($crate::store::testing::fresh_postgres().await).await;
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_backends() {
        assert_eq!(Backend::of_url("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("mysql://u@h/db"), None);
    }

    #[test]
    fn database_trouble_is_transient_and_refusals_are_not() {
        assert!(error_code(&sqlx::Error::PoolTimedOut).is_transient());
        assert!(error_code(&sqlx::Error::PoolClosed).is_transient());
        assert!(error_code(&sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())).is_transient());
        assert_eq!(error_code(&sqlx::Error::RowNotFound), ErrorCode::NotFound);
        // PostgreSQL: serialization failure and deadlock; admin shutdown; a check constraint.
        assert_eq!(database_code(Some("40001")), ErrorCode::Aborted);
        assert_eq!(database_code(Some("40P01")), ErrorCode::Aborted);
        assert_eq!(database_code(Some("57P01")), ErrorCode::Unavailable);
        assert_eq!(database_code(Some("23514")), ErrorCode::FailedPrecondition);
        // SQLite: BUSY, BUSY_SNAPSHOT, LOCKED are transient; CONSTRAINT_CHECK and CORRUPT are not.
        assert!(database_code(Some("5")).is_transient());
        assert!(database_code(Some("517")).is_transient());
        assert!(database_code(Some("6")).is_transient());
        assert_eq!(database_code(Some("275")), ErrorCode::FailedPrecondition);
        assert_eq!(database_code(Some("11")), ErrorCode::DataLoss);
    }

    /// A pool on a new SQLite file, its URL, and the folder holding it.
    async fn scratch_sqlite() -> (AnyPool, String, tempfile::TempDir) {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", directory.path().join("scratch.sqlite").display());
        (connect(&url).await.unwrap(), url, directory)
    }

    #[test]
    fn only_a_connection_left_idle_is_pinged_before_use() {
        assert!(!needs_ping(Duration::ZERO));
        assert!(!needs_ping(Duration::from_millis(4_999)));
        assert!(needs_ping(PING_WHEN_IDLE_FOR));
        assert!(needs_ping(Duration::from_secs(600)));
    }

    #[tokio::test]
    async fn a_native_pool_reads_what_the_shared_pool_wrote() {
        let (pool, url, _directory) = scratch_sqlite().await;
        sqlx::query("CREATE TABLE numbers (n BIGINT)").execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO numbers (n) VALUES (7)").execute(&pool).await.unwrap();
        let NativePool::Sqlite(native) = connect_native(&url, 2).unwrap() else { panic!("a sqlite url") };
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&native).await.unwrap();
        assert_eq!(journal, "wal");
        let n: i64 = sqlx::query_scalar("SELECT n FROM numbers").fetch_one(&native).await.unwrap();
        assert_eq!(n, 7);
        assert!(matches!(connect_native("mysql://u@h/db", 2), Err(RuntimeError::UnsupportedDatabaseUrl(_))));
        native.close().await;
        pool.close().await;
    }

    #[tokio::test]
    async fn a_real_constraint_violation_is_permanent() {
        let (pool, _url, _directory) = scratch_sqlite().await;
        sqlx::query("CREATE TABLE once (id TEXT PRIMARY KEY)").execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO once (id) VALUES ('a')").execute(&pool).await.unwrap();
        let twice = sqlx::query("INSERT INTO once (id) VALUES ('a')").execute(&pool).await.unwrap_err();
        assert_eq!(error_code(&twice), ErrorCode::AlreadyExists);
        assert!(!error_code(&twice).is_transient());
        pool.close().await;
    }

    /// A pool of one connection on a fresh PostgreSQL database whose release test is an hour
    /// apart, so that only a use that did not end cleanly gets one.
    async fn postgres_pool_tested_hourly() -> AnyPool {
        sqlx::any::install_default_drivers();
        pool_options::<sqlx::Any>(1)
            .test_on_release_every(Duration::from_secs(3600))
            .connect(&testing::fresh_postgres_url().await)
            .await
            .unwrap()
    }

    /// A connection whose use failed is tested at its release: one the server ended fails one
    /// caller and is then closed, not handed to the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
    async fn a_connection_the_server_ended_fails_one_caller_and_is_then_replaced() {
        let pool = postgres_pool_tested_hourly().await;
        let backend_pid = "SELECT pg_backend_pid()";
        let first: i32 = sqlx::query_scalar(backend_pid).fetch_one(&pool).await.unwrap();
        every_connection_released(&pool).await;
        let again: i32 = sqlx::query_scalar(backend_pid).fetch_one(&pool).await.unwrap();
        assert_eq!(first, again, "the pooled connection is reused");
        every_connection_released(&pool).await;

        let admin = connect(&std::env::var("DATABASE_URL").unwrap()).await.unwrap();
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend(CAST($1 AS INTEGER), 10000)")
            .bind(i64::from(first))
            .fetch_one(&admin)
            .await
            .unwrap();
        assert!(ended, "the server ended connection {first} within 10 s");
        admin.close().await;

        let failed = sqlx::query_scalar::<_, i32>(backend_pid).fetch_one(&pool).await.unwrap_err();
        assert!(error_code(&failed).is_transient(), "{failed}");
        every_connection_released(&pool).await;
        assert_eq!(pool.size(), 0, "the failed connection was closed, not put back");
        let replaced: i32 = sqlx::query_scalar(backend_pid).fetch_one(&pool).await.unwrap();
        assert_ne!(replaced, first);
        pool.close().await;
    }

    /// A query given up while the server runs it leaves its replies unread; the connection is
    /// tested at release, so the next caller gets its own answer, not the abandoned query's error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
    async fn a_query_given_up_leaves_nothing_for_the_next_caller() {
        let pool = postgres_pool_tested_hourly().await;
        let abandoned = "DO $$ BEGIN PERFORM pg_sleep(0.5); RAISE EXCEPTION 'the abandoned query failed'; END $$";
        // The server sleeps half a second before it fails: the caller gives up long before that.
        let given_up = tokio::time::timeout(Duration::from_millis(50), sqlx::query(abandoned).execute(&pool)).await;
        assert!(given_up.is_err(), "the query was given up while it ran");
        let answer: i32 = sqlx::query_scalar("SELECT 42").fetch_one(&pool).await.unwrap();
        assert_eq!(answer, 42);
        pool.close().await;
    }

    /// Waits until every connection of `pool` is idle or closed: a release runs on a task of its own.
    async fn every_connection_released(pool: &AnyPool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.num_idle() < pool.size() as usize {
            assert!(std::time::Instant::now() < deadline, "a connection was never released");
            tokio::task::yield_now().await;
        }
    }

    crate::on_both_backends!(
        a_write_transaction_dropped_while_it_begins_leaves_no_transaction_open,
        a_one_statement_write_commits_its_statement_and_takes_the_sqlite_turn,
        planner_statistics_are_refreshed_once_per_doubling_on_postgres,
    );

    /// On PostgreSQL an `ANALYZE` falls due at [`FIRST_ANALYZE_ROWS`] and then at each doubling,
    /// counted from the size the tables had when the keeper was made, and is handed out once
    /// however many writers report the size at once, and not within [`ANALYZE_SPACING`] of the
    /// last; the statement analyzes the tables, and the row estimate follows. SQLite never gets one.
    async fn planner_statistics_are_refreshed_once_per_doubling_on_postgres(pool: AnyPool) {
        let postgres = Backend::of_pool(&pool) == Some(Backend::Postgres);
        sqlx::query("CREATE TABLE growing (n BIGINT)").execute(&pool).await.unwrap();
        sqlx::query("CREATE TABLE beside (n BIGINT)").execute(&pool).await.unwrap();
        let statistics = PlannerStatistics::new(&pool, &["growing", "beside"], 0);
        let start = std::time::Instant::now();
        // Reports further apart than the spacing.
        let due: Vec<bool> = [999, 1000, 1000, 1999, 2500, 4999, 5000]
            .into_iter()
            .enumerate()
            .map(|(report, rows)| {
                statistics.grew_to(rows);
                statistics.take_due_at(start + ANALYZE_SPACING * report as u32).is_some()
            })
            .collect();
        if !postgres {
            assert!(due.iter().all(|due| !due), "{due:?}");
            assert_eq!(estimated_rows(&pool, "growing").await.unwrap(), 0);
            return;
        }
        assert_eq!(due, [false, true, false, false, true, false, true]);

        // A doubling within the spacing waits for its end, then comes once.
        let bursting = PlannerStatistics::new(&pool, &["growing"], 0);
        bursting.grew_to(1000);
        assert!(bursting.take_due_at(start).is_some(), "the first is not held back");
        bursting.grew_to(2000);
        bursting.grew_to(4000);
        assert_eq!(bursting.take_due_at(start + ANALYZE_SPACING / 2), None);
        assert!(bursting.take_due_at(start + ANALYZE_SPACING).is_some(), "both doublings, one ANALYZE");
        assert_eq!(bursting.take_due_at(start + ANALYZE_SPACING * 3), None, "nothing fell due since");

        let restarted = PlannerStatistics::new(&pool, &["growing"], 5000);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| restarted.grew_to(10_000));
            }
        });
        assert_eq!(restarted.take_due(), Some("ANALYZE (SKIP_LOCKED) growing"));
        assert_eq!(restarted.take_due(), None, "eight reports of one doubling make one ANALYZE");

        sqlx::query("INSERT INTO growing SELECT n FROM generate_series(1, 3000) AS n").execute(&pool).await.unwrap();
        // A keeper with nothing handed out yet (the ones above did so at instants to come).
        let refreshing = PlannerStatistics::new(&pool, &["growing", "beside"], 5000);
        refreshing.grew_to(10_000);
        refreshing.refresh_if_due(&pool).await;
        let analyzed: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_user_tables WHERE relname IN ('growing', 'beside') AND last_analyze IS NOT NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(analyzed, 2);
        assert_eq!(estimated_rows(&pool, "growing").await.unwrap(), 3000);
        pool.close().await;
    }

    /// A write transaction whose caller goes away while BEGIN is on its way (a cancelled RPC, a
    /// shutdown) must leave its connection outside any transaction. sqlx 0.9.0 did not on
    /// PostgreSQL (launchbadge/sqlx#4393): the pool handed out a connection still inside that
    /// transaction, so the next statements on it, a lease takeover among them, looked done but
    /// never committed and held their row locks. Each round drops a `begin_write` part-way, then
    /// writes a row without a transaction; another pool must see every row.
    async fn a_write_transaction_dropped_while_it_begins_leaves_no_transaction_open(pool: AnyPool) {
        use std::future::Future;
        use std::task::{Context, Poll};
        const ROUNDS: i64 = 120;
        sqlx::query("CREATE TABLE rounds (n BIGINT)").execute(&pool).await.unwrap();
        let waker = futures_util::task::noop_waker();
        let mut context = Context::from_waker(&waker);
        for round in 0..ROUNDS {
            {
                let mut begin = std::pin::pin!(begin_write(&pool));
                // Dropped at the end of this block, a few microseconds further into BEGIN each round.
                for _ in 0..2 {
                    if let Poll::Ready(transaction) = begin.as_mut().poll(&mut context) {
                        drop(transaction);
                        break;
                    }
                    let spin = std::time::Instant::now();
                    while spin.elapsed() < Duration::from_micros(round as u64 % 40) {
                        std::hint::spin_loop();
                    }
                }
            }
            sqlx::query("INSERT INTO rounds (n) VALUES ($1)").bind(round).execute(&pool).await.unwrap();
        }
        let other = connect(pool.connect_options().database_url.as_str()).await.unwrap();
        let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rounds").fetch_one(&other).await.unwrap();
        assert_eq!(seen, ROUNDS, "rows written after a dropped BEGIN stayed in a transaction nobody commits");
        other.close().await;
        pool.close().await;
    }

    /// On SQLite a one-statement write runs outside a transaction but still in this process's turn:
    /// another writer waits for it. On PostgreSQL it is a transaction, committed by `finish`. Either
    /// way its connection goes back to the pool outside any transaction, and what it wrote is seen.
    async fn a_one_statement_write_commits_its_statement_and_takes_the_sqlite_turn(pool: AnyPool) {
        use futures_util::FutureExt;
        let sqlite = Backend::of_pool(&pool) == Some(Backend::Sqlite);
        sqlx::query("CREATE TABLE numbers (n BIGINT)").execute(&pool).await.unwrap();
        let mut write = begin_one_statement_write(&pool).await.unwrap();
        assert_eq!(matches!(write, OneStatementWrite::Alone { .. }), sqlite);
        sqlx::query("INSERT INTO numbers (n) VALUES (1)").execute(&mut *write).await.unwrap();
        let mut next_writer = Box::pin(begin_write(&pool));
        if sqlite {
            assert!((&mut next_writer).now_or_never().is_none(), "the next SQLite writer waits for its turn");
        }
        write.finish().await.unwrap();
        let mut next_writer = next_writer.await.unwrap();
        sqlx::query("INSERT INTO numbers (n) VALUES (2)").execute(&mut *next_writer).await.unwrap();
        next_writer.commit().await.unwrap();
        // No connection was left inside a transaction: every later write is committed too.
        for n in 10..14 {
            let mut write = begin_one_statement_write(&pool).await.unwrap();
            sqlx::query("INSERT INTO numbers (n) VALUES ($1)").bind(n).execute(&mut *write).await.unwrap();
            write.finish().await.unwrap();
        }
        let other = connect(pool.connect_options().database_url.as_str()).await.unwrap();
        let total: i64 =
            sqlx::query_scalar("SELECT CAST(SUM(n) AS BIGINT) FROM numbers").fetch_one(&other).await.unwrap();
        assert_eq!(total, 1 + 2 + 10 + 11 + 12 + 13, "every write is committed and seen by another pool");
        other.close().await;
        pool.close().await;
    }

    #[tokio::test]
    async fn sqlite_writers_of_one_process_take_turns_and_a_rollback_passes_the_turn_on() {
        use futures_util::FutureExt;
        let (pool, url, _directory) = scratch_sqlite().await;
        sqlx::query("CREATE TABLE numbers (n BIGINT)").execute(&pool).await.unwrap();
        let mut first = begin_write(&pool).await.unwrap();
        sqlx::query("INSERT INTO numbers (n) VALUES (1)").execute(&mut *first).await.unwrap();
        // A second pool on the same file shares the turn.
        let other_pool = connect(&url).await.unwrap();
        let mut second = Box::pin(begin_write(&other_pool));
        assert!((&mut second).now_or_never().is_none(), "the second writer waits for the first");
        first.commit().await.unwrap();
        let mut second = second.await.unwrap();
        sqlx::query("INSERT INTO numbers (n) VALUES (2)").execute(&mut *second).await.unwrap();
        drop(second);
        let mut third = begin_write(&pool).await.expect("a dropped writer rolled back and passed the turn on");
        let total: i64 = sqlx::query_scalar("SELECT SUM(n) FROM numbers").fetch_one(&mut *third).await.unwrap();
        assert_eq!(total, 1, "the dropped writer's row was rolled back");
        third.commit().await.unwrap();
        other_pool.close().await;
        pool.close().await;
    }
}
