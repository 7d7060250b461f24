//! Nothing lost, nothing twice: the mesh runs as one process per role (indexer, depsvc, starter,
//! processor) sharing one database, and while 30 level-0 files arrive each role is killed with
//! SIGKILL in turn and restarted on its port. The final state must be complete and exact: every
//! file indexed once, one job per (product, date), every L1A and L1B output present once, no
//! job left queued or running, no second version. Runs on SQLite, and on PostgreSQL (ignored, with
//! the reason, when the build saw no DATABASE_URL).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use proto::clients::{IndexerClient, StarterClient};
use proto::pb::{Job, JobState, ListJobsRequest, QueryFilesRequest};
use support::{TempDir, binary, operator_channel, spawn_until_listening_on_both};

const DAYS: u32 = 30;
const BATCH: usize = 3;
/// The roles, in start order (each calls only roles started before it).
const ROLES: [&str; 4] = ["indexer", "depsvc", "starter", "processor"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_each_role_during_ingest_loses_nothing_and_duplicates_nothing_sqlite() {
    let home = TempDir::new("kill-sqlite");
    let url = format!("sqlite://{}?mode=rwc", home.path().join("mesh.sqlite").display());
    kill_each_role_during_ingest(&home, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
async fn killing_each_role_during_ingest_loses_nothing_and_duplicates_nothing_postgres() {
    let admin_url = std::env::var("DATABASE_URL").expect("DATABASE_URL is set (ignored when the build did not see it)");
    let home = TempDir::new("kill-postgres");
    let (url, name) = fresh_postgres_database(&admin_url).await;
    kill_each_role_during_ingest(&home, &url).await;
    drop_postgres_database(&admin_url, &name).await;
}

/// One role's process, restartable on the port it first got.
struct RoleProcess {
    role: &'static str,
    args: Vec<String>,
    working_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    /// The internal listener, where peers call this role.
    url: String,
    restarts: u32,
}

impl RoleProcess {
    fn start(role: &'static str, args: Vec<String>, working_dir: &Path, home: &Path) -> RoleProcess {
        let mut process = RoleProcess {
            role,
            args,
            working_dir: working_dir.to_path_buf(),
            log: home.join(format!("{role}.log")),
            child: None,
            url: String::new(),
            restarts: 0,
        };
        process.spawn("127.0.0.1:0", "127.0.0.1:0");
        process
    }

    fn spawn(&mut self, listen: &str, internal_listen: &str) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("open role log");
        let mut command = Command::new(binary());
        command
            .arg("--config")
            .arg(self.working_dir.join("mesh.toml"))
            .args(["serve", "--roles", self.role, "--listen", listen, "--internal-listen", internal_listen])
            .args(&self.args)
            .current_dir(&self.working_dir)
            .stderr(log);
        let (child, _, internal_url) = spawn_until_listening_on_both(command, &self.log);
        self.child = Some(child);
        self.url = internal_url;
    }

    /// SIGKILL, then start again on the same port so peers reconnect to the same address.
    fn kill_and_restart(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("sigkill");
        child.wait().expect("reap");
        let port = self.url.rsplit(':').next().expect("url has a port").to_string();
        self.spawn("127.0.0.1:0", &format!("127.0.0.1:{port}"));
        self.restarts += 1;
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn kill_each_role_during_ingest(home: &TempDir, database_url: &str) {
    let started = Instant::now();
    let working_dir = prepare_working_dir(home.path());
    let archive = home.path().join("archive").display().to_string();
    let data_dir = |role: &str| home.path().join(role).display().to_string();
    let common =
        |role: &str| vec!["--data-dir".to_string(), data_dir(role), "--archive-dir".to_string(), archive.clone()];

    let mut processes: Vec<RoleProcess> = Vec::new();
    let mut indexer_args = common("indexer");
    indexer_args.extend(["--database-url".to_string(), database_url.to_string()]);
    processes.push(RoleProcess::start("indexer", indexer_args, &working_dir, home.path()));
    let indexer_url = processes[0].url.clone();
    let mut depsvc_args = common("depsvc");
    depsvc_args.extend(["--peer".to_string(), format!("indexer={indexer_url}")]);
    processes.push(RoleProcess::start("depsvc", depsvc_args, &working_dir, home.path()));
    let depsvc_url = processes[1].url.clone();
    let mut starter_args = common("starter");
    starter_args.extend([
        "--database-url".to_string(),
        database_url.to_string(),
        "--peer".to_string(),
        format!("indexer={indexer_url}"),
        "--peer".to_string(),
        format!("depsvc={depsvc_url}"),
    ]);
    processes.push(RoleProcess::start("starter", starter_args, &working_dir, home.path()));
    let starter_url = processes[2].url.clone();
    let mut processor_args = common("processor");
    processor_args.extend([
        "--peer".to_string(),
        format!("indexer={indexer_url}"),
        "--peer".to_string(),
        format!("starter={starter_url}"),
    ]);
    processes.push(RoleProcess::start("processor", processor_args, &working_dir, home.path()));

    let cert_dir = working_dir.join("certs");
    let indexer = IndexerClient::new(operator_channel(&cert_dir, &indexer_url));
    let starter = StarterClient::new(operator_channel(&cert_dir, &starter_url));
    let dates: Vec<String> = (0..DAYS)
        .map(|day| imap_filename::Date::from_ymd(2026, 1, 1).unwrap().add_days(day as i32).yyyymmdd())
        .collect();
    let level0_names: Vec<String> = dates.iter().map(|date| format!("imap_swe_l0_raw_{date}_v001.pkts")).collect();

    // Files arrive in batches; after each batch, once the mesh is visibly busy with it, one
    // role (indexer, depsvc, starter, processor, indexer, ...) is killed and restarted.
    let inbox = home.path().join("indexer/inbox");
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    for (round, batch) in level0_names.chunks(BATCH).enumerate() {
        let jobs_before = job_count(&starter).await;
        for name in batch {
            // Written aside, then renamed in: the indexer never sees half a file.
            std::fs::write(staging.join(name), support::synthetic_level0(6)).unwrap();
            std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
        }
        let victim = round % ROLES.len();
        wait_or_report("the mesh to start on the new batch", &processes, || {
            let starter = starter.clone();
            async move { (job_count(&starter).await.unwrap_or(0) > jobs_before.unwrap_or(0)).then_some(()) }
        })
        .await
        .expect("the mesh took up the new batch");
        if ROLES[victim] == "processor" {
            // Best effort: kill it while it holds a lease, so the lease has to expire.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while jobs_in_state(&starter, JobState::Running).await == 0 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
        }
        processes[victim].kill_and_restart();
        eprintln!(
            "round {round}: killed and restarted {} after {:.1} s",
            ROLES[victim],
            started.elapsed().as_secs_f64()
        );
    }
    // And all of them at once, while the last batch is still in flight.
    for process in processes.iter_mut() {
        process.kill_and_restart();
    }
    eprintln!("killed and restarted every role at once after {:.1} s", started.elapsed().as_secs_f64());

    let expected_jobs = 2 * DAYS as usize;
    let expected_files = 3 * DAYS as usize;
    let observed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (files, jobs) = wait_or_report("the mesh to settle", &processes, || {
        let (mut indexer, mut starter, observed) = (indexer.clone(), starter.clone(), observed.clone());
        let level0_names = level0_names.clone();
        async move {
            let files = indexer
                .query_files(QueryFilesRequest { instrument: "swe".into(), ..Default::default() })
                .await
                .ok()?
                .into_inner()
                .files;
            let jobs = starter
                .list_jobs(ListJobsRequest { limit: 10_000, ..Default::default() })
                .await
                .ok()?
                .into_inner()
                .jobs;
            let settled = jobs.iter().all(|job| !matches!(job.state(), JobState::Queued | JobState::Running));
            *observed.lock().unwrap() = describe_state(&files, &jobs, &level0_names);
            (files.len() >= expected_files && jobs.len() >= expected_jobs && settled).then_some((files, jobs))
        }
    })
    .await
    .unwrap_or_else(|| panic!("the mesh never settled; last seen: {}", observed.lock().unwrap()));
    let settle_log = |what: &str| format!("{what}; logs in {}", home.path().display());

    // Every level-0 file indexed exactly once.
    let mut names_by_level: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in &files {
        names_by_level.entry(file.data_level.clone()).or_default().push(file.file_name.clone());
    }
    let mut level0_indexed = names_by_level.get("l0").cloned().unwrap_or_default();
    level0_indexed.sort();
    assert_eq!(level0_indexed, level0_names, "{}", settle_log("level 0"));
    // Every expected output present exactly once, at the first version.
    for level in ["l1a", "l1b"] {
        let mut outputs = names_by_level.get(level).cloned().unwrap_or_default();
        outputs.sort();
        let expected: Vec<String> =
            dates.iter().map(|date| format!("imap_swe_{level}_sci_{date}_v001.0001.cdf")).collect();
        assert_eq!(outputs, expected, "{}", settle_log(level));
    }
    // Exactly one job per (product, date), all succeeded, none left queued or running.
    let mut jobs_per_run: BTreeMap<(String, String), Vec<&Job>> = BTreeMap::new();
    for job in &jobs {
        let run = (job.product.clone().unwrap_or_default().to_string(), job.time.clone().unwrap_or_default().date);
        jobs_per_run.entry(run).or_default().push(job);
    }
    let duplicated: Vec<_> = jobs_per_run.iter().filter(|(_, jobs)| jobs.len() > 1).map(|(run, _)| run).collect();
    assert!(duplicated.is_empty(), "duplicate jobs for {duplicated:?}");
    assert_eq!(jobs.len(), expected_jobs, "{}", settle_log("job count"));
    let unfinished: Vec<String> = jobs
        .iter()
        .filter(|job| job.state() != JobState::Succeeded)
        .map(|job| format!("{} {}: {}", job.id, job.state(), job.error))
        .collect();
    assert!(unfinished.is_empty(), "jobs not succeeded: {unfinished:?}");
    assert!(jobs.iter().all(|job| job.version == "v001.0001"), "a job got a second version");
    // Provenance survived the kills: each output names the job that made it.
    for file in files.iter().filter(|file| file.data_level != "l0") {
        let made_by = jobs.iter().find(|job| job.outputs.contains(&file.file_name));
        assert!(made_by.is_some(), "no job lists {} among its outputs", file.file_name);
    }

    let restarts: u32 = processes.iter().map(|process| process.restarts).sum();
    assert_eq!(restarts as usize, level0_names.len().div_ceil(BATCH) + ROLES.len());
    let handed_out_again = jobs.iter().filter(|job| job.attempts > 1).count();
    eprintln!(
        "settled after {:.1} s with {restarts} kills: {} files, {} jobs ({handed_out_again} run more than once)",
        started.elapsed().as_secs_f64(),
        files.len(),
        jobs.len()
    );
}

/// Polls `condition` every 50 ms; after two minutes, shows what each role logged and gives up.
async fn wait_or_report<T, F, Fut>(what: &str, processes: &[RoleProcess], mut condition: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(value) = condition().await {
            return Some(value);
        }
        if Instant::now() > deadline {
            for process in processes {
                let log = std::fs::read_to_string(&process.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("==== {} (restarted {} times), last lines:", process.role, process.restarts);
                tail.iter().rev().for_each(|line| eprintln!("{line}"));
            }
            // Keep the logs: the test's home is removed when the panic unwinds.
            let kept = tempfile::Builder::new().prefix("imap-sdc-kill-logs-").tempdir().unwrap().keep();
            for process in processes {
                let _ = std::fs::copy(&process.log, kept.join(format!("{}.log", process.role)));
            }
            eprintln!("timed out waiting for {what}; logs kept in {}", kept.display());
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the mesh holds: files per level, jobs per state, and any missing level-0 file.
fn describe_state(files: &[proto::pb::FileRecord], jobs: &[Job], level0_names: &[String]) -> String {
    let mut levels: BTreeMap<&str, usize> = BTreeMap::new();
    files.iter().for_each(|file| *levels.entry(file.data_level.as_str()).or_default() += 1);
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    jobs.iter().for_each(|job| *states.entry(job.state().text()).or_default() += 1);
    let missing: Vec<&String> =
        level0_names.iter().filter(|name| !files.iter().any(|file| &file.file_name == *name)).collect();
    let dates_without_l1a: Vec<&String> = level0_names
        .iter()
        .filter(|name| {
            !jobs
                .iter()
                .any(|job| job.inputs.iter().any(|input| input.files.iter().any(|file| &file.file_name == *name)))
        })
        .collect();

    let stuck: Vec<String> = jobs
        .iter()
        .filter(|job| job.state() != JobState::Succeeded)
        .map(|job| {
            format!(
                "{} {:?} {} attempts={} owner={} error={}",
                job.id,
                job.time,
                job.state(),
                job.attempts,
                job.lease_owner,
                job.error
            )
        })
        .collect();
    format!(
        "files per level {levels:?}, jobs per state {states:?}, level 0 missing {missing:?}, level 0 read by no job {dates_without_l1a:?}, unfinished jobs {stuck:?}"
    )
}

async fn jobs_in_state(starter: &StarterClient, state: JobState) -> usize {
    let request = ListJobsRequest { state: state.into(), limit: 10_000, ..Default::default() };
    starter.clone().list_jobs(request).await.map(|response| response.into_inner().jobs.len()).unwrap_or(0)
}

async fn job_count(starter: &StarterClient) -> Option<usize> {
    let request = ListJobsRequest { limit: 10_000, ..Default::default() };
    Some(starter.clone().list_jobs(request).await.ok()?.into_inner().jobs.len())
}

/// The processes' working directory: the shared config (short leases, fast retries, so a
/// killed processor's jobs come back within seconds, the test SWE packet definition, and the
/// two-level graph, which every role reads: the processor makes its levels with the built-in
/// science because the graph is not the mission's).
fn prepare_working_dir(home: &Path) -> PathBuf {
    let working_dir = home.join("work");
    std::fs::create_dir_all(&working_dir).unwrap();
    let xtce_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xtce");
    let graph = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/graph/two-level.toml");
    let config = format!(
        "[depsvc]\ngraph_file = {graph:?}\n\n\
         [starter]\nlease = \"3s\"\nmax_attempts = 20\nretry_backoff = \"1s\"\n\n\
         [processor]\nheartbeat_interval = \"1s\"\nslots = 2\nxtce_dir = {:?}\n",
        xtce_dir.display().to_string()
    );
    std::fs::write(working_dir.join("mesh.toml"), config).unwrap();
    // Every role's node trusts one CA, made as an operator would for a cluster; the config names
    // the folder (relative to the working directory).
    let made = Command::new(binary())
        .args(["certs", "init", "--dir"])
        .arg(working_dir.join("certs"))
        .output()
        .expect("run certs init");
    assert!(made.status.success(), "certs init: {}", String::from_utf8_lossy(&made.stderr));
    std::fs::write(
        working_dir.join("mesh.toml"),
        format!(
            "{}
[mesh]
cert_dir = \"certs\"
",
            std::fs::read_to_string(working_dir.join("mesh.toml")).unwrap()
        ),
    )
    .unwrap();
    working_dir
}

/// A new, empty PostgreSQL database for this run: its URL and name.
async fn fresh_postgres_database(admin_url: &str) -> (String, String) {
    let admin = mesh_runtime::store::connect(admin_url).await.expect("connect to DATABASE_URL");
    let name = format!("imap_sdc_kill_{}", uuid_like());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.expect("create database");
    admin.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("database url has a path");
    (format!("{base}/{name}"), name)
}

/// Removes the run's database once every process using it is gone (best effort).
async fn drop_postgres_database(admin_url: &str, name: &str) {
    let Ok(admin) = mesh_runtime::store::connect(admin_url).await else { return };
    let _ =
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&admin).await;
    admin.close().await;
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}_{nanos}", std::process::id())
}
