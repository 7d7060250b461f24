//! No single point of failure, on one machine: two indexers and two starters share a PostgreSQL
//! database (one of each leads, the other stands by), and every caller is given both replicas'
//! addresses (`--peer indexer=URL1,URL2`). While level-0 files arrive, the leading indexer and
//! then the leading starter are SIGKILLed and never come back: the standbys take over (the
//! takeover is measured and printed), the processor's work stream finds the new starter, and an
//! operator's clients given both addresses keep answering. End state: every file indexed once,
//! one job per product and day, all succeeded, the event log gap-free (`seq` 1..N).

mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use proto::clients::{IndexerClient, StarterClient};
use proto::pb::{JobState, ListJobsRequest, QueryFilesRequest};
use sqlx::AnyPool;
use support::{TempDir, binary, operator_channel, spawn_until_listening_on_both};

const DAYS: u32 = 18;
const LEADER_LEASE: &str = "1s";
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// One `imap-sdc serve` process of the run.
struct Replica {
    name: String,
    child: RefCell<Child>,
    /// The internal listener, where peers call it.
    url: String,
    log: PathBuf,
}

impl Replica {
    fn start(name: &str, role: &str, args: &[String], working_dir: &Path) -> Replica {
        let log = working_dir.join(format!("{name}.log"));
        let mut command = Command::new(binary());
        command
            .arg("--config")
            .arg(working_dir.join("mesh.toml"))
            .args(["serve", "--roles", role, "--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(working_dir)
            .stderr(std::fs::File::create(&log).expect("create the replica's log"));
        let (child, _, url) = spawn_until_listening_on_both(command, &log);
        Replica { name: name.to_string(), child: RefCell::new(child), url, log }
    }

    fn pid(&self) -> u32 {
        self.child.borrow().id()
    }

    /// SIGKILL: a host dying.
    fn kill(&self) {
        let mut child = self.child.borrow_mut();
        child.kill().expect("sigkill");
        child.wait().expect("reap");
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let child = self.child.get_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(has_database_url), ignore = "needs DATABASE_URL (a PostgreSQL server to make test databases on)")]
async fn the_standbys_take_over_and_callers_follow_them() {
    let started = Instant::now();
    let home = TempDir::new("failover");
    let working_dir = prepare_working_dir(home.path());
    let database_url = mesh_runtime::store::testing::fresh_postgres_url().await;
    let database = mesh_runtime::store::connect(&database_url).await.unwrap();
    let flag = |name: &str, value: &str| vec![format!("--{name}"), value.to_string()];
    let archive = home.path().join("archive").display().to_string();
    // The indexers share one inbox (only the leader drains it), as replicas share a volume.
    let inbox_home = home.path().join("indexer").display().to_string();
    let stored = [flag("archive-dir", &archive), flag("database-url", &database_url)].concat();

    let indexer_args = [stored.clone(), flag("data-dir", &inbox_home)].concat();
    let indexers: Vec<Replica> = ["indexer-1", "indexer-2"]
        .into_iter()
        .map(|name| Replica::start(name, "indexer", &indexer_args, &working_dir))
        .collect();
    let indexer_peer = format!("indexer={},{}", indexers[0].url, indexers[1].url);
    let depsvc_args = flag("peer", &indexer_peer);
    let depsvc = Replica::start("depsvc", "depsvc", &depsvc_args, &working_dir);
    let starter_args =
        [stored.clone(), flag("peer", &indexer_peer), flag("peer", &format!("depsvc={}", depsvc.url))].concat();
    let starters: Vec<Replica> = ["starter-1", "starter-2"]
        .into_iter()
        .map(|name| {
            let data_dir = home.path().join(name).display().to_string();
            Replica::start(name, "starter", &[starter_args.clone(), flag("data-dir", &data_dir)].concat(), &working_dir)
        })
        .collect();
    let starter_peer = format!("starter={},{}", starters[0].url, starters[1].url);
    let processor_args = [
        flag("archive-dir", &archive),
        flag("data-dir", &home.path().join("processor").display().to_string()),
        flag("peer", &indexer_peer),
        flag("peer", &starter_peer),
    ]
    .concat();
    let processor = Replica::start("processor", "processor", &processor_args, &working_dir);

    // The operator's clients are given both replicas too.
    let cert_dir = working_dir.join("certs");
    let addresses = |replicas: &[Replica]| format!("{},{}", replicas[0].url, replicas[1].url);
    let indexer = &IndexerClient::new(operator_channel(&cert_dir, &addresses(&indexers)));
    let starter = &StarterClient::new(operator_channel(&cert_dir, &addresses(&starters)));

    let dates: Vec<String> = (0..DAYS)
        .map(|day| imap_filename::Date::from_ymd(2026, 2, 1).unwrap().add_days(day as i32).yyyymmdd())
        .collect();
    let level0_names: Vec<String> = dates.iter().map(|date| format!("imap_swe_l0_raw_{date}_v001.pkts")).collect();
    let batches: Vec<&[String]> = level0_names.chunks(DAYS as usize / 3).collect();
    let inbox = home.path().join("indexer/inbox");
    let staging = home.path().join("staging");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    let arrive = |batch: &[String]| {
        for name in batch {
            // Written aside, then renamed in: the indexer never sees half a file.
            std::fs::write(staging.join(name), support::synthetic_level0(6)).unwrap();
            std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
        }
    };
    let everyone = || -> Vec<&Replica> { indexers.iter().chain(&starters).chain([&depsvc, &processor]).collect() };

    // The first batch, then the leading indexer dies once the mesh is busy with it.
    arrive(batches[0]);
    let jobs_seen = wait_or_report("jobs for the first batch", &everyone(), || async move {
        job_count(starter).await.filter(|count| *count > 0)
    })
    .await;
    let indexer_takeover = kill_the_leader(&database, "indexer", &indexers).await;
    arrive(batches[1]);

    // The second batch, then the leading starter dies while processing goes on.
    wait_or_report("jobs for the second batch", &everyone(), || async move {
        job_count(starter).await.filter(|count| *count > jobs_seen)
    })
    .await;
    let starter_takeover = kill_the_leader(&database, "starter", &starters).await;
    arrive(batches[2]);

    let expected_files = 3 * DAYS as usize;
    let expected_jobs = 2 * DAYS as usize;
    let (files, jobs) = wait_or_report("the mesh to settle", &everyone(), || async move {
        let request = QueryFilesRequest { instrument: "swe".into(), ..Default::default() };
        let files = indexer.clone().query_files(request).await.ok()?.into_inner().files;
        let request = ListJobsRequest { limit: 10_000, ..Default::default() };
        let jobs = starter.clone().list_jobs(request).await.ok()?.into_inner().jobs;
        let settled = jobs.iter().all(|job| !matches!(job.state(), JobState::Queued | JobState::Running));
        (files.len() >= expected_files && jobs.len() >= expected_jobs && settled).then_some((files, jobs))
    })
    .await;

    // Every level-0 file and every product exactly once.
    let names: Vec<&str> = files.iter().map(|file| file.file_name.as_str()).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    let mut expected: BTreeSet<String> = level0_names.iter().cloned().collect();
    for date in &dates {
        for level in ["l1a", "l1b"] {
            expected.insert(format!("imap_swe_{level}_sci_{date}_v001.0001.cdf"));
        }
    }
    assert_eq!(names.len(), unique.len(), "a file indexed twice: {names:?}");
    assert_eq!(unique, expected.iter().map(String::as_str).collect(), "files");
    // One job per product and day, every one succeeded.
    let runs: BTreeSet<(String, String)> = jobs
        .iter()
        .map(|job| (job.product.clone().unwrap_or_default().to_string(), job.time.clone().unwrap_or_default().date))
        .collect();
    assert_eq!((runs.len(), jobs.len()), (expected_jobs, expected_jobs), "one job per product and day");
    let unfinished: Vec<String> =
        jobs.iter().filter(|job| job.state() != JobState::Succeeded).map(|job| format!("{job:?}")).collect();
    assert!(unfinished.is_empty(), "jobs not succeeded: {unfinished:?}");
    // The event log: one event per file, numbered 1..N without a gap, across both takeovers.
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM file_events ORDER BY seq").fetch_all(&database).await.unwrap();
    assert_eq!(seqs, (1..=expected.len() as i64).collect::<Vec<_>>(), "the event log has a gap or a repeat");

    let run_again = jobs.iter().filter(|job| job.attempts > 1).count();
    println!(
        "failover on one machine (lease {LEADER_LEASE}): indexer takeover {:.2} s, starter takeover {:.2} s \
         (SIGKILL to the standby leading); {} files, {} jobs ({run_again} run again), {:.1} s in all",
        indexer_takeover.as_secs_f64(),
        starter_takeover.as_secs_f64(),
        files.len(),
        jobs.len(),
        started.elapsed().as_secs_f64(),
    );
    database.close().await;
}

/// SIGKILLs whichever of `replicas` holds the `role` lease and waits until the other one holds
/// it: how long that took.
async fn kill_the_leader(database: &AnyPool, role: &str, replicas: &[Replica]) -> Duration {
    let leader = wait_or_report(&format!("a {role} leader"), &replicas.iter().collect::<Vec<_>>(), || async move {
        let pid = lease_holder_pid(database, role).await?;
        replicas.iter().position(|replica| replica.pid() == pid)
    })
    .await;
    let killed_at = Instant::now();
    replicas[leader].kill();
    let standby_pid = replicas[1 - leader].pid();
    wait_or_report(&format!("the standby {role} to lead"), &replicas.iter().collect::<Vec<_>>(), || async move {
        (lease_holder_pid(database, role).await? == standby_pid).then_some(())
    })
    .await;
    let takeover = killed_at.elapsed();
    eprintln!(
        "killed {} (leading {role}); the standby led {:.2} s later",
        replicas[leader].name,
        takeover.as_secs_f64()
    );
    takeover
}

/// The process id in the lease row's holder (`host/pid/random`).
async fn lease_holder_pid(database: &AnyPool, role: &str) -> Option<u32> {
    let holder: String = sqlx::query_scalar("SELECT holder FROM leader_leases WHERE name = $1")
        .bind(role)
        .fetch_optional(database)
        .await
        .ok()??;
    holder.split('/').nth(1)?.parse().ok()
}

async fn job_count(starter: &StarterClient) -> Option<usize> {
    let request = ListJobsRequest { limit: 10_000, ..Default::default() };
    Some(starter.clone().list_jobs(request).await.ok()?.into_inner().jobs.len())
}

/// Polls `condition` every 50 ms; after [`SETTLE_TIMEOUT`] panics with the replicas' last log lines.
async fn wait_or_report<T, F, Fut>(what: &str, replicas: &[&Replica], condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let last_log_lines = || {
        let mut logs = String::new();
        for replica in replicas {
            let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            logs.push_str(&format!(
                "==== {}\n{}\n",
                replica.name,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ));
        }
        logs
    };
    support::wait_for_or_report(what, SETTLE_TIMEOUT, last_log_lines, condition).await
}

/// The processes' working directory: one CA for all, short leases (the job's and the leaders')
/// so a takeover and a re-run take seconds, the test SWE packet definition.
fn prepare_working_dir(home: &Path) -> PathBuf {
    let working_dir = home.join("work");
    std::fs::create_dir_all(&working_dir).unwrap();
    let made = Command::new(binary()).args(["certs", "init", "--dir"]).arg(working_dir.join("certs")).output().unwrap();
    assert!(made.status.success(), "certs init: {}", String::from_utf8_lossy(&made.stderr));
    let xtce_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xtce");
    // Every role reads the graph: the processor makes the two-level graph's products with the
    // built-in science because it is not the mission's.
    let graph = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/graph/two-level.toml");
    let config = format!(
        "[depsvc]\ngraph_file = {graph:?}\n\n\
         [mesh]\ncert_dir = \"certs\"\nleader_lease = \"{LEADER_LEASE}\"\n\n\
         [starter]\nlease = \"3s\"\nmax_attempts = 20\nretry_backoff = \"1s\"\n\n\
         [processor]\nheartbeat_interval = \"1s\"\nslots = 2\nxtce_dir = {:?}\n",
        xtce_dir.display().to_string()
    );
    std::fs::write(working_dir.join("mesh.toml"), config).unwrap();
    working_dir
}
