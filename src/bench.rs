//! `imap-sdc bench mesh`: the whole mesh in this process on a temporary data dir, fed level-0
//! files through its inbox (all at once, or at a steady rate), timed from the database's own
//! timestamps, summarised as one JSON line.
//!
//! Every file is the same level-0 bytes under a distinct day name, so each makes its own chain of
//! jobs. Times are wall-clock milliseconds: a file's arrival is when it was renamed into the inbox;
//! indexing, job creation, dispatch (first lease) and the end are the `indexed_files` and `jobs`
//! columns. A job's overhead is its lease-to-end time minus the science time its log reports.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use imap_filename::Date;
use mesh_runtime::ShutdownSignal;
use proto::time::now_millis;
use sqlx::{AnyPool, Row};

use crate::config::{Config, Flag};

pub mod state;

/// The mission's SWAPI level-0 file, used when it is present (else a small synthetic one).
const MISSION_L0: &str = "l0/imap_swapi_l0_raw_20240924_v001.pkts";

/// How long nothing may change before the chain counts as finished.
const QUIET: Duration = Duration::from_millis(1500);

#[derive(Parser, Debug)]
#[command(name = "imap-sdc bench mesh", about = "Run the mesh in this process and time the event path")]
pub struct MeshBenchArgs {
    /// Drop this many files into the inbox at once.
    #[arg(long, conflicts_with = "trickle")]
    burst: Option<u32>,
    /// Drop files at this rate (files per second) for `--seconds`.
    #[arg(long, requires = "seconds")]
    trickle: Option<f64>,
    #[arg(long)]
    seconds: Option<f64>,
    /// A PostgreSQL server (`postgres://...`): the bench creates a fresh database there and drops
    /// it afterwards. SQLite in the temporary data dir when unset.
    #[arg(long)]
    database_url: Option<String>,
    /// Level-0 bytes to feed; `$IMAP_SHARED_DIR/data/l0/…swapi…` or `/work/shared/data/…` when
    /// present, else synthetic packets.
    #[arg(long)]
    l0: Option<PathBuf>,
    /// Stop once every file is indexed (`indexed`), or once the jobs they cause have run (`jobs`).
    #[arg(long, default_value = "jobs", value_parser = ["indexed", "jobs"])]
    until: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800.0)]
    timeout: f64,
    /// Also drop this many files at the start whose jobs run their science `--busy-factor` times,
    /// to time the others while every CPU is busy with science. Every job can then be leased at
    /// once (processor slots and instrument concurrency are lifted), so leasing measures the event
    /// path, not a queue; the busy files are left out of every number but `busy_jobs`.
    #[arg(long, default_value_t = 0)]
    busy: u32,
    /// How many times each busy file's jobs run their science.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    busy_factor: u32,
}

/// The busy files' days start here, in years the timed files' days (from 2010) never reach.
const FIRST_BUSY_DAY: &str = "20600101";

/// Jobs and slots allowed at once when busy files run: more than a bench ever makes.
const UNLIMITED: &str = "100000";

/// Whether `imap-sdc bench ARGS` names one of the benches here (`mesh`, `state`).
pub fn is_json_bench(args: &[String]) -> bool {
    matches!(args.first().map(String::as_str), Some("mesh" | "state"))
}

/// Runs `imap-sdc bench mesh|state ARGS` and returns its JSON line.
pub async fn run_json_bench(args: &[String]) -> anyhow::Result<String> {
    match args.split_first() {
        Some((bench, rest)) if bench == "state" => state::state(rest).await,
        Some((bench, rest)) if bench == "mesh" => mesh(rest).await,
        _ => bail!("expected `bench mesh ...` or `bench state ...`"),
    }
}

/// Runs `imap-sdc bench mesh ARGS` (the words after `mesh`) and returns the JSON line.
pub async fn mesh(args: &[String]) -> anyhow::Result<String> {
    let args =
        MeshBenchArgs::try_parse_from(std::iter::once("imap-sdc bench mesh".to_string()).chain(args.iter().cloned()))
            .map_err(|error| anyhow::anyhow!("{error}"))?;
    let files = match (args.burst, args.trickle, args.seconds) {
        (Some(count), None, _) => count,
        (None, Some(rate), Some(seconds)) if rate > 0.0 && seconds > 0.0 => (rate * seconds).round() as u32,
        _ => bail!("give --burst N, or --trickle RATE --seconds S"),
    };
    let work_dir = std::env::temp_dir().join(format!("imap-sdc-bench-{}-{}", std::process::id(), now_millis()));
    let database = BenchDatabase::create(args.database_url.as_deref(), &work_dir).await?;
    let outcome = run(&args, files, &work_dir, &database.url).await;
    database.drop().await;
    let _ = std::fs::remove_dir_all(&work_dir);
    outcome
}

async fn run(args: &MeshBenchArgs, files: u32, work_dir: &Path, database_url: &str) -> anyhow::Result<String> {
    let (level0, level0_source) = level0_bytes(args.l0.as_deref())?;
    // Files are renamed in whole, so none needs to settle.
    let settle = Flag::new("settle", "indexer.settle_time", "0s");
    let mut config = if args.busy > 0 {
        let slots = Flag::new("busy", "processor.slots", UNLIMITED);
        let concurrency = Flag::new("busy", "starter.default_instrument_concurrency", UNLIMITED);
        node_config(work_dir, database_url, "all", [settle, slots, concurrency])?
    } else {
        node_config(work_dir, database_url, "all", [settle])?
    };
    let first_busy_day = Date::parse_yyyymmdd(FIRST_BUSY_DAY).map_err(|error| anyhow::anyhow!("{error}"))?;
    if args.busy > 0 {
        config.processor.busy_science =
            Some(processor::science::bench::BusyScience { from: first_busy_day, times: args.busy_factor });
    }
    let inbox = config.data_dir.join("inbox");
    let staging = work_dir.join("staging");
    std::fs::create_dir_all(&inbox)?;
    std::fs::create_dir_all(&staging)?;
    let first_day = Date::parse_yyyymmdd("20100101").map_err(|error| anyhow::anyhow!("{error}"))?;
    let mut names = Vec::with_capacity(files as usize);
    for index in 0..files {
        let day = first_day.add_days(index as i32);
        let name = format!("imap_swapi_l0_raw_{}_v001.pkts", day.yyyymmdd());
        std::fs::write(staging.join(&name), &level0)?;
        names.push(name);
    }
    let mut busy_names = Vec::with_capacity(args.busy as usize);
    for index in 0..args.busy {
        let name = format!("imap_swapi_l0_raw_{}_v001.pkts", first_busy_day.add_days(index as i32).yyyymmdd());
        std::fs::write(staging.join(&name), &level0)?;
        busy_names.push(name);
    }

    // Arrivals are whole files another system already wrote: their bytes reach the disk before
    // the clock starts, so the first batch's sync does not time the staging's writeback.
    #[cfg(target_os = "linux")]
    rustix::fs::syncfs(std::fs::File::open(&staging)?)?;

    let listeners = crate::node::Listeners::bind(&config).await?;
    let (stop_node, node_stop) = ShutdownSignal::new();
    let node = tokio::spawn(crate::node::run_quietly(config, listeners, async move { node_stop.wait().await }));
    let pool = mesh_runtime::store::connect(database_url).await?;
    wait_for_tables(&pool, &node).await?;

    for name in &busy_names {
        std::fs::rename(staging.join(name), inbox.join(name))?;
    }
    let started = now_millis();
    let mut arrivals: HashMap<String, i64> = HashMap::with_capacity(names.len());
    let interval = args.trickle.map(|rate| Duration::from_secs_f64(1.0 / rate));
    let mut ticker = interval.map(tokio::time::interval);
    for name in &names {
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        arrivals.insert(name.clone(), now_millis());
        std::fs::rename(staging.join(name), inbox.join(name))?;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(args.timeout);
    wait_until_done(&pool, files + args.busy, args.until == "jobs", deadline).await?;
    let summary = summarise(&pool, &arrivals, started, args, files, &level0_source).await?;
    pool.close().await;
    stop_node.trigger();
    node.await?.context("mesh node")?;
    Ok(summary)
}

/// The config of a benchmark's node: `roles` on any free port, its data under `work_dir/data`, on
/// `database_url`, with `extra` flags; the environment's config file is ignored.
fn node_config<const N: usize>(
    work_dir: &Path,
    database_url: &str,
    roles: &str,
    extra: [Flag; N],
) -> anyhow::Result<Config> {
    let mut environment: HashMap<String, String> = std::env::vars().collect();
    environment.remove("IMAP_SDC_CONFIG");
    let mut flags = vec![
        Flag::new("roles", "roles", roles),
        Flag::new("listen", "listen", "127.0.0.1:0"),
        Flag::new("data-dir", "data_dir", work_dir.join("data").display().to_string()),
        Flag::new("database-url", "database_url", database_url),
    ];
    flags.extend(extra);
    let mut config = Config::load(None, &environment, &flags).map_err(|error| anyhow::anyhow!("{error:?}"))?;
    // The project graph: its SWAPI chain (five jobs per level-0 file, all built-in science) is
    // what earlier measurements counted, so the numbers stay comparable.
    config.depsvc.builtin_graph = depsvc::BuiltinGraph::Project;
    Ok(config)
}

/// The level-0 bytes and where they came from.
fn level0_bytes(explicit: Option<&Path>) -> anyhow::Result<(Vec<u8>, String)> {
    let shared = std::env::var_os("IMAP_SHARED_DIR")
        .map(|dir| PathBuf::from(dir).join("data"))
        .unwrap_or_else(|| PathBuf::from("/work/shared/data"));
    let path = explicit.map(Path::to_path_buf).unwrap_or_else(|| shared.join(MISSION_L0));
    match std::fs::read(&path) {
        Ok(bytes) => Ok((bytes, path.display().to_string())),
        Err(error) if explicit.is_some() => Err(error).with_context(|| format!("reading {}", path.display())),
        Err(_) => Ok((synthetic_level0(64), "synthetic".to_string())),
    }
}

/// CCSDS packets of APID 1, each with a 4-byte MET and a 2-byte counter.
fn synthetic_level0(count: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    for index in 0..count {
        bytes.extend_from_slice(&0x0801u16.to_be_bytes());
        bytes.extend_from_slice(&(0xC000 | index).to_be_bytes());
        bytes.extend_from_slice(&5u16.to_be_bytes());
        bytes.extend_from_slice(&(480_000_000u32 + u32::from(index)).to_be_bytes());
        bytes.extend_from_slice(&(index * 3).to_be_bytes());
    }
    bytes
}

/// Waits until the node has migrated its tables (it listens only after building every role).
async fn wait_for_tables(pool: &AnyPool, node: &tokio::task::JoinHandle<anyhow::Result<()>>) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if node.is_finished() {
            bail!("the mesh node stopped while starting");
        }
        let ready = sqlx::query("SELECT COUNT(*) FROM consumer_cursors").fetch_one(pool).await.is_ok()
            && sqlx::query("SELECT COUNT(*) FROM file_events").fetch_one(pool).await.is_ok();
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the mesh node did not create its tables within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every fed file indexed and, when waiting for jobs, every event consumed, no job queued or
/// running, and nothing changed for [`QUIET`].
async fn wait_until_done(
    pool: &AnyPool,
    files: u32,
    jobs_too: bool,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    let mut last_state = None;
    let mut unchanged_since = tokio::time::Instant::now();
    loop {
        let level0: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM indexed_files WHERE data_level = 'l0'").fetch_one(pool).await?;
        let done = if !jobs_too {
            level0 >= i64::from(files)
        } else {
            let latest: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM file_events").fetch_one(pool).await?;
            let consumed: i64 =
                sqlx::query_scalar("SELECT COALESCE(MIN(seq), 0) FROM consumer_cursors").fetch_one(pool).await?;
            let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')")
                .fetch_one(pool)
                .await?;
            let jobs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs").fetch_one(pool).await?;
            let state = (latest, jobs);
            if last_state != Some(state) {
                last_state = Some(state);
                unchanged_since = tokio::time::Instant::now();
            }
            level0 >= i64::from(files) && consumed >= latest && open == 0 && unchanged_since.elapsed() >= QUIET
        };
        if done {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("not done before the timeout ({level0} of {files} files indexed)");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn summarise(
    pool: &AnyPool,
    arrivals: &HashMap<String, i64>,
    started: i64,
    args: &MeshBenchArgs,
    files: u32,
    level0_source: &str,
) -> anyhow::Result<String> {
    // Only the timed files: busy ones are in no arrival.
    let rows = sqlx::query("SELECT file_name, start_date, ingested_at FROM indexed_files WHERE data_level = 'l0'")
        .fetch_all(pool)
        .await?;
    let mut arrival_by_day: HashMap<String, i64> = HashMap::new();
    let mut to_indexed = Vec::new();
    let mut last_indexed = started;
    for row in &rows {
        let name: String = row.try_get("file_name")?;
        let indexed_at: i64 = row.try_get("ingested_at")?;
        if let Some(&arrival) = arrivals.get(&name) {
            arrival_by_day.insert(row.try_get("start_date")?, arrival);
            to_indexed.push((indexed_at - arrival) as f64);
            last_indexed = last_indexed.max(indexed_at);
        }
    }
    let indexing_seconds = ((last_indexed - started) as f64 / 1000.0).max(0.001);

    let jobs = sqlx::query("SELECT start_date, state, created_at, started_at, finished_at, log FROM jobs")
        .fetch_all(pool)
        .await?;
    // Per arrival: the first job of its day created, the first leased, the last finished.
    let mut chains: HashMap<String, (i64, i64, i64)> = HashMap::new();
    let (mut created_to_dispatched, mut overhead, mut science) = (Vec::new(), Vec::new(), Vec::new());
    // Overhead less the wait for a science thread: what the job path itself costs when jobs are
    // leased faster than the CPUs can run them (busy runs lift the processor's slots).
    let mut overhead_unqueued = Vec::new();
    let mut timing_parts: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let (mut first_created, mut last_finished) = (i64::MAX, 0);
    let mut states: HashMap<String, u64> = HashMap::new();
    let mut busy_jobs = 0;
    for job in &jobs {
        let day: String = job.try_get("start_date")?;
        if args.busy > 0 && day.get(..4) >= FIRST_BUSY_DAY.get(..4) {
            busy_jobs += 1;
            continue;
        }
        let state: String = job.try_get("state")?;
        let (created, leased, finished): (i64, i64, i64) =
            (job.try_get("created_at")?, job.try_get("started_at")?, job.try_get("finished_at")?);
        *states.entry(state).or_default() += 1;
        first_created = first_created.min(created);
        last_finished = last_finished.max(finished);
        if leased > 0 {
            created_to_dispatched.push((leased - created) as f64);
        }
        let log: String = job.try_get("log")?;
        if let (Some(science_ms), true) = (timing_field(&log, "science"), leased > 0 && finished > 0) {
            science.push(science_ms);
            let job_overhead = (finished - leased) as f64 - science_ms;
            overhead.push(job_overhead);
            let mut accounted = 0.0;
            for field in JOB_TIMING_FIELDS {
                let value = timing_field(&log, field).unwrap_or_default();
                accounted += value;
                if field == "queued" {
                    overhead_unqueued.push(job_overhead - value);
                }
                timing_parts.entry(field).or_default().push(value);
            }
            // Lease to the job's end, less the parts its log reports: the lease's delivery, the
            // completion report's round trip and commit.
            timing_parts.entry("unreported").or_default().push((finished - leased) as f64 - accounted);
        }
        let chain = chains.entry(day).or_insert((i64::MAX, i64::MAX, 0));
        chain.0 = chain.0.min(created);
        if leased > 0 {
            chain.1 = chain.1.min(leased);
        }
        chain.2 = chain.2.max(finished);
    }
    let (mut to_created, mut to_dispatched, mut to_finished) = (Vec::new(), Vec::new(), Vec::new());
    for (day, (created, leased, finished)) in &chains {
        let Some(&arrival) = arrival_by_day.get(day) else { continue };
        to_created.push((created - arrival) as f64);
        if *leased != i64::MAX {
            to_dispatched.push((leased - arrival) as f64);
        }
        if *finished > 0 {
            to_finished.push((finished - arrival) as f64);
        }
    }
    let job_seconds = ((last_finished - first_created) as f64 / 1000.0).max(0.001);
    let backend = match mesh_runtime::store::Backend::of_url(args.database_url.as_deref().unwrap_or("sqlite:")) {
        Some(mesh_runtime::store::Backend::Postgres) => "postgres",
        _ => "sqlite",
    };
    let feed = match args.trickle {
        Some(rate) => serde_json::json!({"trickle_per_second": rate, "seconds": args.seconds}),
        None => serde_json::json!({"burst": files}),
    };
    let summary = serde_json::json!({
        "bench": "mesh",
        "database": backend,
        "feed": feed,
        "files": files,
        "level0": level0_source,
        "cpus": std::thread::available_parallelism().map(|count| count.get()).unwrap_or(1),
        "async_threads": tokio::runtime::Handle::current().metrics().num_workers(),
        "indexed_files_per_second": round(to_indexed.len() as f64 / indexing_seconds),
        "arrival_to_indexed_ms": percentiles(&mut to_indexed),
        "arrival_to_first_job_created_ms": percentiles(&mut to_created),
        "arrival_to_first_job_dispatched_ms": percentiles(&mut to_dispatched),
        "arrival_to_chain_finished_ms": percentiles(&mut to_finished),
        "job_created_to_dispatched_ms": percentiles(&mut created_to_dispatched),
        "jobs": jobs.len() - busy_jobs,
        "job_states": states,
        "jobs_per_second": if jobs.len() == busy_jobs { 0.0 } else { round((jobs.len() - busy_jobs) as f64 / job_seconds) },
        "busy": (args.busy > 0).then(|| serde_json::json!({"files": args.busy, "factor": args.busy_factor, "jobs": busy_jobs})),
        "job_science_ms": percentiles(&mut science),
        "job_overhead_ms": percentiles(&mut overhead),
        "job_overhead_unqueued_ms": percentiles(&mut overhead_unqueued),
        "job_parts_p50_ms": part_percentile(&mut timing_parts, "p50"),
        "job_parts_p99_ms": part_percentile(&mut timing_parts, "p99"),
        "inbox_stages": mesh_runtime::metrics::histogram_totals("imap_sdc_inbox_stage_seconds")
            .into_iter()
            .map(|(stage, (batches, seconds))| (stage, serde_json::json!({"batches": batches, "total_ms": round(seconds * 1000.0)})))
            .collect::<serde_json::Map<_, _>>(),
        "peak_rss_mb": peak_rss_mb(),
    });
    Ok(summary.to_string())
}

/// One percentile (`p50`, `p99`) of each part of the jobs' overhead, by part.
fn part_percentile(parts: &mut BTreeMap<&str, Vec<f64>>, rank: &str) -> serde_json::Map<String, serde_json::Value> {
    parts.iter_mut().map(|(part, values)| (part.to_string(), percentiles(values)[rank].clone())).collect()
}

/// The parts of a job's `timing` line (see the processor's worker).
const JOB_TIMING_FIELDS: [&str; 7] = ["read_inputs", "queued", "science", "check", "provenance", "write", "index"];

/// `name=12.3ms` from a job log's `timing` line.
fn timing_field(log: &str, name: &str) -> Option<f64> {
    let line = log.lines().find(|line| line.starts_with("timing "))?;
    line.split_whitespace()
        .filter_map(|field| field.split_once('='))
        .find(|(key, _)| *key == name)
        .and_then(|(_, value)| value.trim_end_matches("ms").parse().ok())
}

fn percentiles(values: &mut [f64]) -> serde_json::Value {
    if values.is_empty() {
        return serde_json::Value::Null;
    }
    values.sort_by(f64::total_cmp);
    let at = |fraction: f64| values[((values.len() - 1) as f64 * fraction).round() as usize];
    serde_json::json!({"p50": round(at(0.5)), "p99": round(at(0.99)), "max": round(at(1.0)), "n": values.len()})
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// The process's peak resident set (VmHWM), where the system reports it.
fn peak_rss_mb() -> Option<f64> {
    proc_status_mb("VmHWM:")
}

/// A memory field of `/proc/self/status` (`VmHWM:`, `VmRSS:`) in megabytes.
fn proc_status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    let kilobytes: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(round(kilobytes / 1024.0))
}

/// The bench's own database: a file in the data dir, or a fresh database on a PostgreSQL server.
struct BenchDatabase {
    url: String,
    /// The server and the database to drop afterwards, for PostgreSQL.
    created: Option<(String, String)>,
}

impl BenchDatabase {
    async fn create(server_url: Option<&str>, work_dir: &Path) -> anyhow::Result<BenchDatabase> {
        let Some(server_url) = server_url else {
            std::fs::create_dir_all(work_dir)?;
            let url = format!("sqlite://{}?mode=rwc", work_dir.join("bench.sqlite").display());
            return Ok(BenchDatabase { url, created: None });
        };
        if mesh_runtime::store::Backend::of_url(server_url) != Some(mesh_runtime::store::Backend::Postgres) {
            bail!("--database-url must be a postgres:// URL (SQLite is the default)");
        }
        let name = format!("imap_sdc_bench_{}_{}", std::process::id(), now_millis());
        let admin = mesh_runtime::store::connect(server_url).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await?;
        admin.close().await;
        let (base, _) = server_url.rsplit_once('/').context("the database URL has no path")?;
        Ok(BenchDatabase { url: format!("{base}/{name}"), created: Some((server_url.to_string(), name)) })
    }

    async fn drop(self) {
        let Some((server_url, name)) = self.created else { return };
        if let Ok(admin) = mesh_runtime::store::connect(&server_url).await {
            let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&admin).await {
                eprintln!("imap-sdc bench: could not drop {name}: {error}");
            }
            admin.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_fields_are_read_from_the_timing_line_of_a_job_log() {
        let log = "wrote a.cdf\ntiming read_inputs=0.4ms science=12.5ms write=1.0ms index=3.2ms\nnote";
        assert_eq!(timing_field(log, "science"), Some(12.5));
        assert_eq!(timing_field(log, "index"), Some(3.2));
        assert_eq!(timing_field(log, "encode"), None);
        assert_eq!(timing_field("wrote a.cdf", "science"), None);
    }

    #[test]
    fn percentiles_pick_ranks_of_the_sorted_values() {
        let mut values: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let summary = percentiles(&mut values);
        assert_eq!(summary["p50"], 51.0);
        assert_eq!(summary["p99"], 99.0);
        assert_eq!(summary["max"], 100.0);
        assert_eq!(percentiles(&mut []), serde_json::Value::Null);
    }
}
