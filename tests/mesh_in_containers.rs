//! The mesh in containers, from images made here on a locally built Debian base. First as
//! separate hosts: every role in its own container (processors and gateways replicated) on a
//! private network, PostgreSQL and an S3 store (moto) in containers; the unmodified
//! `imap-data-access` client on this host uploads level-0 files through the gateways' published
//! ports; every product appears once, every job succeeds on its first attempt, downloads are the
//! archive's bytes. Then `deploy/compose.yaml`, run as deploy/README.md says.
//!
//! Both are ignored by default because they need a docker daemon and root (debootstrap makes the
//! base image): `.ci/mesh-containers.sh` installs and starts docker and runs them with `--ignored`,
//! where a missing docker is a failure, not a skip.

mod containers;
mod gateway_common;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use containers::{BUCKET, Mesh, MeshSpec, PREFIX, Scope};
use gateway_common::{client, files_made_by_jobs_as, get_json_as, http, text, wait_for};
use imap_sdc::role::Role;
use support::{TempDir, synthetic_level0};

/// Level-0 uploads, one a day from this date on; the project graph (`builtin_graph = "project"`)
/// makes L1A, L1B and L2 of each with the built-in science.
const UPLOADS: u32 = 6;
const FIRST_DAY: u32 = 20240920;
const LEVELS: [&str; 3] = ["l1a", "l1b", "l2"];

#[test]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
fn the_mission_client_drives_a_mesh_of_role_containers() {
    let started = Instant::now();
    let (scope, image) = prepare();
    let images_ready = started.elapsed();

    let spec = MeshSpec::default()
        .replicas(Role::Processor, 2)
        .replicas(Role::Gateway, 2)
        .setting("IMAP_SDC_DEPSVC__BUILTIN_GRAPH", "project");
    let mesh = Mesh::start(&scope, &image, &spec);
    let mesh_ready = started.elapsed();
    let gateway = mesh.replicas(Role::Gateway)[0].clone();
    let uploader = create_key(&mesh, &gateway, "instrument-team", "upload");
    let reader = create_key(&mesh, &gateway, "scientist", "read");

    // Uploads alternate between the gateways; each file has its own bytes.
    let home = TempDir::new("containers");
    let (uploads, downloads) = (home.path().join("uploads"), home.path().join("downloads"));
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::create_dir_all(&downloads).unwrap();
    let mut originals = BTreeMap::new();
    for day in 0..UPLOADS {
        let date = (FIRST_DAY + day).to_string();
        let name = format!("imap_swe_l0_raw_{date}_v001.0001.pkts");
        let bytes = synthetic_level0(20 + day as u16);
        std::fs::write(uploads.join(&name), &bytes).unwrap();
        let url = &mesh.gateway_urls[day as usize % mesh.gateway_urls.len()];
        let uploaded =
            client(url, &downloads, Some(&uploader), &["upload", &uploads.join(&name).display().to_string()]);
        assert!(uploaded.status.success(), "upload {name} through {url}: {}", text(&uploaded));
        originals.insert(date, (name, bytes));
    }
    let uploaded = started.elapsed();

    // Every day gets exactly its three products, each made by a job, and every job has finished (a
    // product is indexed just before its job is reported done).
    let address = mesh.gateway_urls[1 % mesh.gateway_urls.len()].trim_start_matches("http://").to_string();
    // The status API needs a key with the read scope (status_access = "keys", the default).
    let expected = products_of(originals.keys());
    let (products, jobs) = wait_for_every_product(&mesh, &address, &reader, &expected, Duration::from_secs(240));
    let processed = started.elapsed();
    assert_once_each(&products, &jobs, &expected);
    // Nothing failed here, so every job succeeded on its first attempt.
    for job in &jobs {
        assert_eq!(job["attempts"].as_i64(), Some(1), "{job}");
    }

    let (status, _) =
        http(&address, "GET", &format!("/download/{}", products[0]["archive_key"].as_str().unwrap()), &[]);
    assert_eq!(status, 302, "downloads are redirects to the bucket");
    assert_downloads_are_byte_exact(&mesh, home.path(), &reader, &products, &originals);
    println!(
        "mesh in containers ({} containers): images ready {:.0} s, mesh healthy +{:.0} s, {UPLOADS} uploads +{:.0} s, \
         {} products +{:.0} s, checks +{:.0} s, total {:.0} s",
        mesh.roles.values().flatten().count() + 2,
        images_ready.as_secs_f64(),
        (mesh_ready - images_ready).as_secs_f64(),
        (uploaded - mesh_ready).as_secs_f64(),
        products.len(),
        (processed - uploaded).as_secs_f64(),
        (started.elapsed() - processed).as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}

/// Level-0 uploads of the failover run, one a day from [`FIRST_DAY`] on, in four batches: one per
/// fault.
const FAILOVER_UPLOADS: u32 = 50;
/// The leader lease of the failover run: short, so takeovers take seconds.
const LEADER_LEASE: Duration = Duration::from_secs(2);
/// A job's lease in the failover run: a lost processor's jobs run again after this.
const JOB_LEASE: Duration = Duration::from_secs(4);

/// No single point of failure, host by host: indexer ×2, starter ×2, depsvc ×2, processor ×3,
/// gateway ×2, each its own container, every caller given each replicated role's replicas. While
/// the client uploads 50 level-0 files through the gateways, the test partitions a processor from
/// the mesh for longer than a job's lease (the jobs leased to it run again elsewhere, and its late
/// completion is refused), SIGKILLs another processor, then kills the leading indexer and the
/// leading starter (takeover measured: kill → the standby holds the lease). End state: every product once,
/// one job per product and day, all succeeded, the event log gap-free, downloads byte-exact.
#[test]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
fn the_mesh_survives_losing_any_host() {
    let started = Instant::now();
    let (scope, image) = prepare();
    let images_ready = started.elapsed();
    let seconds = |duration: Duration| format!("{}ms", duration.as_millis());
    let spec = MeshSpec::default()
        .replicas(Role::Indexer, 2)
        .replicas(Role::Starter, 2)
        .replicas(Role::Depsvc, 2)
        .replicas(Role::Processor, 3)
        .replicas(Role::Gateway, 2)
        .setting("IMAP_SDC_MESH__LEADER_LEASE", &seconds(LEADER_LEASE))
        .setting("IMAP_SDC_STARTER__LEASE", &seconds(JOB_LEASE))
        .setting("IMAP_SDC_STARTER__MAX_ATTEMPTS", "10")
        .setting("IMAP_SDC_STARTER__RETRY_BACKOFF", "1s")
        .setting("IMAP_SDC_PROCESSOR__HEARTBEAT_INTERVAL", "1s")
        .setting("IMAP_SDC_DEPSVC__BUILTIN_GRAPH", "project")
        // A partitioned processor's connections must outlive the partition (its assignments then
        // arrive late, and so does its report): no keepalive gives up on them meanwhile.
        .setting("IMAP_SDC_MESH__CLIENT__KEEPALIVE_TIMEOUT", "60s")
        .setting("IMAP_SDC_MESH__SERVER__KEEPALIVE_TIMEOUT", "60s");
    let mesh = Mesh::start(&scope, &image, &spec);
    let mesh_ready = started.elapsed();
    let gateway = mesh.replicas(Role::Gateway)[0].clone();
    let uploader = create_key(&mesh, &gateway, "instrument-team", "upload");
    let reader = create_key(&mesh, &gateway, "scientist", "read");
    let address = mesh.gateway_urls[1].trim_start_matches("http://").to_string();
    let jobs = |query: &str| swe_jobs(&address, &reader, query);

    let home = TempDir::new("failover");
    let (uploads, client_home) = (home.path().join("uploads"), home.path().join("downloads"));
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::create_dir_all(&client_home).unwrap();
    let first_day = imap_filename::Date::parse_yyyymmdd(&FIRST_DAY.to_string()).unwrap();
    let mut originals = BTreeMap::new();
    for day in 0..FAILOVER_UPLOADS {
        let date = first_day.add_days(day as i32).yyyymmdd();
        let name = format!("imap_swe_l0_raw_{date}_v001.0001.pkts");
        let bytes = synthetic_level0(10 + day as u16);
        std::fs::write(uploads.join(&name), &bytes).unwrap();
        originals.insert(date, (name, bytes));
    }
    let paths: Vec<String> = originals.values().map(|(name, _)| uploads.join(name).display().to_string()).collect();
    let batches: Vec<Vec<&str>> =
        paths.chunks(paths.len().div_ceil(4)).map(|batch| batch.iter().map(String::as_str).collect()).collect();
    let gateway_urls = mesh.gateway_urls.clone();
    let upload = |batch: usize| {
        let url = &gateway_urls[batch % gateway_urls.len()];
        with_client_library("upload", url, &client_home, Some(&uploader), &batches[batch]);
    };
    let describe = || mesh.describe();

    // 1. A processor is cut off from the mesh while the first batch's jobs are leased to it; it
    //    comes back once they have been leased again elsewhere, and reports them late. (First,
    //    while no container has stopped: it must come back with its address, which docker could
    //    otherwise hand a stopped container's, or its connections would not resume.)
    let partitioned = mesh.replicas(Role::Processor)[1].clone();
    let partitioned_worker = "processor-2";
    // The starters log each lease ("job leased worker=W job=J"); the jobs are read back from there
    // because a lease may come and go between two polls of the status API.
    let leased_to_partitioned = || -> BTreeSet<String> {
        let marker = format!("job leased worker={partitioned_worker} job=");
        mesh.replicas(Role::Starter)
            .iter()
            .flat_map(|starter| {
                let logs = mesh.all_logs(starter);
                let leased: Vec<String> = logs
                    .lines()
                    .filter_map(|line| Some(line.split_once(&marker)?.1.split_whitespace().next()?.to_string()))
                    .collect();
                leased
            })
            .collect()
    };
    let leased_before = leased_to_partitioned();
    mesh.disconnect(&partitioned);
    let partitioned_at = Instant::now();
    upload(0);
    let stranded: BTreeSet<String> = wait_for(
        "jobs leased to the partitioned processor to be leased again elsewhere",
        Duration::from_secs(120),
        || {
            let stranded: BTreeSet<String> = leased_to_partitioned().difference(&leased_before).cloned().collect();
            let all = jobs("")?;
            let still_stranded = all.iter().any(|job| {
                stranded.contains(job["id"].as_str().unwrap_or_default())
                    && job["state"] == "running"
                    && job["lease_owner"] == partitioned_worker
            });
            (!stranded.is_empty() && !still_stranded && partitioned_at.elapsed() > JOB_LEASE).then_some(stranded)
        },
        describe,
    );
    let partition = partitioned_at.elapsed();
    mesh.reconnect(&partitioned);
    let late_job = wait_for(
        "the partitioned processor's late completion to be refused",
        Duration::from_secs(90),
        || {
            let logs: String = mesh.replicas(Role::Starter).iter().map(|starter| mesh.all_logs(starter)).collect();
            logs.lines()
                .filter(|line| line.contains("late completion refused") && line.contains(partitioned_worker))
                .find_map(|line| stranded.iter().find(|id| line.contains(id.as_str())).cloned())
        },
        describe,
    );

    // 2. Another processor's host dies once the mesh is busy with the second batch.
    let jobs_before = jobs("").map_or(0, |jobs| jobs.len());
    upload(1);
    wait_for(
        "jobs of the second batch",
        Duration::from_secs(120),
        || jobs("").filter(|jobs| jobs.len() > jobs_before),
        describe,
    );
    mesh.kill(&mesh.replicas(Role::Processor)[0]);
    let after_processor_kill = started.elapsed();

    // 3. The leading indexer's host dies while the third batch arrives.
    let indexer_takeover = kill_the_leader(&mesh, Role::Indexer, || upload(2));
    // 4. The leading starter's host dies while the last batch arrives.
    let starter_takeover = kill_the_leader(&mesh, Role::Starter, || upload(3));
    let all_uploaded = started.elapsed();

    let expected = products_of(originals.keys());
    let (products, jobs) = wait_for_every_product(&mesh, &address, &reader, &expected, Duration::from_secs(300));
    let processed = started.elapsed();

    assert_once_each(&products, &jobs, &expected);
    // The jobs stranded by the partition ran exactly once more, and not on the partitioned host.
    for job in jobs.iter().filter(|job| stranded.contains(job["id"].as_str().unwrap_or_default())) {
        assert_eq!(job["attempts"].as_i64(), Some(2), "a stranded job re-runs exactly once: {job}");
    }
    // The event log: one event per file, uploads and products, numbered 1..N without a gap.
    let files = originals.len() + expected.len();
    let seqs: Vec<usize> =
        mesh.sql("SELECT seq FROM file_events ORDER BY seq").lines().map(|seq| seq.trim().parse().unwrap()).collect();
    assert_eq!(seqs, (1..=files).collect::<Vec<_>>(), "the event log has a gap or a repeat");
    let rows = mesh.sql("SELECT count(*), count(DISTINCT file_name) FROM indexed_files");
    assert_eq!(rows, format!("{files}|{files}"), "every file indexed once");
    assert_downloads_are_byte_exact(&mesh, home.path(), &reader, &products, &originals);

    let rerun = jobs.iter().filter(|job| job["attempts"].as_i64() > Some(1)).count();
    println!(
        "mesh survives losing hosts ({} containers, leader lease {LEADER_LEASE:?}, job lease {JOB_LEASE:?}): \
         images ready {:.0} s, mesh healthy +{:.0} s; processor partitioned for {:.1} s ({} stranded jobs, \
         late completion refused for job {late_job}); processor killed at {:.0} s; indexer takeover {:.2} s, starter takeover {:.2} s \
         (kill → the standby holds the lease); {FAILOVER_UPLOADS} uploads done at {:.0} s, {} products, {} jobs \
         ({rerun} run again) by {:.0} s; total {:.0} s",
        mesh.roles.values().flatten().count() + 2,
        images_ready.as_secs_f64(),
        (mesh_ready - images_ready).as_secs_f64(),
        partition.as_secs_f64(),
        stranded.len(),
        after_processor_kill.as_secs_f64(),
        indexer_takeover.as_secs_f64(),
        starter_takeover.as_secs_f64(),
        all_uploaded.as_secs_f64(),
        products.len(),
        jobs.len(),
        processed.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}

/// SIGKILLs the container holding `role`'s leader lease and runs `meanwhile` (on a thread of its
/// own, so the takeover is timed while it runs): how long after the kill another replica held the
/// lease.
fn kill_the_leader(mesh: &Mesh, role: Role, meanwhile: impl FnOnce() + Send) -> Duration {
    // The holder is `hostname/pid/random`; each container's hostname is its `role-replica` name.
    let holder = || {
        let holder = mesh.sql(&format!("SELECT holder FROM leader_leases WHERE name = '{role}'"));
        let host = holder.split('/').next().unwrap_or_default().to_string();
        let replica: usize = host.strip_prefix(&format!("{role}-"))?.parse().ok()?;
        mesh.replicas(role).get(replica.checked_sub(1)?).cloned()
    };
    let leader = wait_for(&format!("a {role} leader"), Duration::from_secs(60), holder, || mesh.describe());
    // Timed from before the kill: `docker kill` returns only once the container has stopped.
    let killed_at = Instant::now();
    mesh.kill(&leader);
    std::thread::scope(|threads| {
        let during = threads.spawn(meanwhile);
        let takeover = wait_for(
            &format!("a standby {role} to take over"),
            Duration::from_secs(60),
            || holder().filter(|holder| *holder != leader).map(|_| killed_at.elapsed()),
            || mesh.describe(),
        );
        during.join().expect("what ran during the takeover");
        takeover
    })
}

/// What both container tests need: docker, the client, and the images (this run's runtime image
/// is removed with the scope).
fn prepare() -> (Scope, String) {
    if let Some(reason) = containers::docker_unavailable() {
        panic!("docker is not usable here ({reason}); .ci/mesh-containers.sh installs and starts it");
    }
    // Ignored tests run on request (--ignored), so a missing client fails them instead.
    if !cfg!(has_imap_data_access) {
        panic!(
            "the build found no python3 with imap-data-access here (put the venv of .ci/python-venv.sh first on PATH)"
        );
    }
    let scope = Scope::new();
    let image = scope.prepare_images();
    (scope, image)
}

/// `deploy/compose.yaml`, as deploy/README.md tells people to run it (processors scaled to two):
/// a level-0 file uploaded with the client becomes L1B, and its download is the archive's file.
#[test]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
fn the_compose_file_runs_the_mesh_on_one_machine() {
    let started = Instant::now();
    let (scope, image) = prepare();
    let compose = scope.compose(&image);
    compose.up(&["--scale", "processor=2"]);
    let url = format!("http://{}", compose.published("gateway", 8480));
    let address = url.trim_start_matches("http://").to_string();
    let secret = |scope: &str| {
        let created =
            compose.run(&["exec", "-T", "gateway", "imap-sdc", "keys", "create", "--name", scope, "--scope", scope]);
        let created = created.unwrap_or_else(|message| panic!("{message}"));
        created.lines().find_map(|line| line.strip_prefix("secret")).map(|secret| secret.trim().to_string()).unwrap()
    };

    let reader = secret("read");
    let as_reader = [("x-api-key", reader.as_str())];
    let home = TempDir::new("compose");
    let name = "imap_swe_l0_raw_20240930_v001.0001.pkts";
    std::fs::write(home.path().join(name), synthetic_level0(12)).unwrap();
    let uploaded =
        client(&url, home.path(), Some(&secret("upload")), &["upload", &home.path().join(name).display().to_string()]);
    assert!(uploaded.status.success(), "{}", text(&uploaded));
    let product = wait_for(
        "the upload's l1b product",
        Duration::from_secs(120),
        || {
            files_made_by_jobs_as(&address, "kind=science&instrument=swe", &as_reader)
                .into_iter()
                .find(|file| file["data_level"] == "l1b")
        },
        || {
            format!(
                "jobs: {}\n{}",
                get_json_as(&address, "/api/jobs", &as_reader),
                compose.run(&["logs", "--tail", "20"]).unwrap_or_else(|error| error)
            )
        },
    );
    let (product_name, key) = (product["file_name"].as_str().unwrap(), product["archive_key"].as_str().unwrap());
    let fetched = client(&url, home.path(), Some(&reader), &["download", product_name]);
    assert!(fetched.status.success(), "{}", text(&fetched));
    let in_archive = compose.run(&["exec", "-T", "indexer", "sha256sum", &format!("/archive/{key}")]).unwrap();
    let downloaded = Command::new("sha256sum").arg(home.path().join(key)).output().unwrap();
    let digest = |text: &str| text.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(digest(&String::from_utf8_lossy(&downloaded.stdout)), digest(&in_archive), "{key} downloaded");
    println!("compose mesh: {product_name} made and downloaded, {:.0} s", started.elapsed().as_secs_f64());
}

/// The two runtime images (built from source, or from a binary built outside) must not drift:
/// everything after their `FROM ${BASE}` is the same but where the binary comes from.
#[test]
fn both_runtime_dockerfiles_make_the_same_image() {
    let runtime_stage = |path: &str| -> Vec<String> {
        let text = std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let stage = text.split("FROM ${BASE}\n").nth(1).unwrap_or_else(|| panic!("{path}: no FROM ${{BASE}} stage"));
        stage
            .lines()
            .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
            .map(|line| if line.starts_with("COPY ") { "COPY <binary>".to_string() } else { line.to_string() })
            .collect()
    };
    let from_source = runtime_stage("deploy/Dockerfile");
    assert!(
        from_source.iter().any(|line| line.starts_with("HEALTHCHECK"))
            && from_source.contains(&"USER 10001:10001".into())
    );
    assert_eq!(from_source, runtime_stage("deploy/images/runtime.Dockerfile"));
}

/// Downloads every product (with the reader's key, through the first gateway) and every upload
/// (anonymously, through the second) with the client: products must be the bucket's bytes (read
/// with boto3, an independent S3 client), uploads the client's own.
fn assert_downloads_are_byte_exact(
    mesh: &Mesh,
    home: &Path,
    reader: &str,
    products: &[serde_json::Value],
    originals: &BTreeMap<String, (String, Vec<u8>)>,
) {
    let downloads = home.join("downloads");
    let address = mesh.gateway_urls[1 % mesh.gateway_urls.len()].trim_start_matches("http://");
    let names: Vec<&str> = products.iter().map(|product| product["file_name"].as_str().unwrap()).collect();
    with_client_library("download", &mesh.gateway_urls[0], &downloads, Some(reader), &names);
    let names: Vec<&str> = originals.values().map(|(name, _)| name.as_str()).collect();
    with_client_library("download", &mesh.gateway_urls[1 % mesh.gateway_urls.len()], &downloads, None, &names);
    let mut keys: Vec<String> =
        products.iter().map(|product| product["archive_key"].as_str().unwrap().into()).collect();
    let as_reader = [("x-api-key", reader)];
    let upload_keys: Vec<String> = names
        .iter()
        .map(|name| {
            get_json_as(address, &format!("/api/files/{name}"), &as_reader)["archive_key"].as_str().unwrap().into()
        })
        .collect();
    keys.extend(upload_keys.iter().cloned());
    let bucket = home.join("bucket");
    copy_from_bucket(&mesh.s3_url, &keys, &bucket);
    for key in &keys {
        let downloaded = std::fs::read(downloads.join(key)).unwrap();
        assert_eq!(
            downloaded,
            std::fs::read(bucket.join(key)).unwrap(),
            "{key}: downloaded bytes differ from the bucket's"
        );
    }
    for ((name, bytes), key) in originals.values().zip(&upload_keys) {
        assert_eq!(&std::fs::read(downloads.join(key)).unwrap(), bytes, "{name} is not the uploaded file");
    }
}

/// Calls `imap_data_access.<function>` (`upload` a path, `download` a name) for each argument
/// with the unmodified client library, in one process (the CLI would import it once per file).
fn with_client_library(function: &str, url: &str, data_dir: &Path, api_key: Option<&str>, arguments: &[&str]) {
    let mut command = Command::new("python3");
    command
        .args([
            "-c",
            &format!(
                "import sys, imap_data_access\nfor argument in sys.argv[1:]:\n    imap_data_access.{function}(argument)"
            ),
        ])
        .args(arguments)
        .env("IMAP_DATA_ACCESS_URL", url)
        .env("IMAP_DATA_DIR", data_dir)
        .env_remove("IMAP_API_KEY")
        .env_remove("IMAP_ACCESS_TOKEN");
    if let Some(key) = api_key {
        command.env("IMAP_API_KEY", key);
    }
    let output = command.output().expect("run python3");
    assert!(output.status.success(), "{function} {arguments:?} through {url}: {}", text(&output));
}

/// `imap-sdc keys create` inside a gateway container (its database settings are there).
fn create_key(mesh: &Mesh, gateway: &str, name: &str, scope: &str) -> String {
    let output = mesh
        .exec(gateway, &["imap-sdc", "keys", "create", "--name", name, "--scope", scope])
        .unwrap_or_else(|message| panic!("{message}"));
    output
        .lines()
        .find_map(|line| line.strip_prefix("secret"))
        .map(|secret| secret.trim().to_string())
        .expect("a secret")
}

/// Every product once, and exactly one job per product and day, each succeeded.
fn assert_once_each(products: &[serde_json::Value], jobs: &[serde_json::Value], expected: &BTreeSet<(String, String)>) {
    assert_eq!(products.len(), expected.len(), "one file per product and day: {products:?}");
    let runs: BTreeSet<(String, String)> = jobs
        .iter()
        .map(|job| {
            assert_eq!(job["state"].as_str(), Some("succeeded"), "{job}");
            (job["date"].as_str().unwrap().replace('-', ""), job["data_level"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!((jobs.len(), &runs), (expected.len(), expected), "jobs: {jobs:?}");
}

/// (YYYYMMDD, level) of every product the project graph makes of these days' uploads.
fn products_of<'a>(days: impl Iterator<Item = &'a String>) -> BTreeSet<(String, String)> {
    days.flat_map(|date| LEVELS.map(|level| (date.clone(), level.to_string()))).collect()
}

/// The status API's SWE jobs (`query` adds to the query string, e.g. `&state=running`), or
/// `None` while it answers otherwise (a peer failing over).
fn swe_jobs(address: &str, reader: &str, query: &str) -> Option<Vec<serde_json::Value>> {
    let target = format!("/api/jobs?instrument=swe&limit=1000{query}");
    let (status, body) = http(address, "GET", &target, &[("x-api-key", reader)]);
    (status == 200).then_some(())?;
    serde_json::from_slice::<serde_json::Value>(&body).ok()?.as_array().cloned()
}

/// Waits until each (day, level) of `expected` has a product made by a job and every job has
/// finished (a product is indexed just before its job is reported done): the products and jobs.
fn wait_for_every_product(
    mesh: &Mesh,
    address: &str,
    reader: &str,
    expected: &BTreeSet<(String, String)>,
    timeout: Duration,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let as_reader = [("x-api-key", reader)];
    wait_for(
        "every level of every upload, all jobs finished",
        timeout,
        || {
            let made = files_made_by_jobs_as(address, "kind=science&instrument=swe&limit=1000", &as_reader);
            let found: BTreeSet<(String, String)> = made.iter().map(product_day_and_level).collect();
            let jobs = swe_jobs(address, reader, "")?;
            let finished = jobs.iter().all(|job| matches!(job["state"].as_str(), Some("succeeded" | "dead")));
            (&found == expected && finished).then_some((made, jobs))
        },
        || format!("jobs: {:?}\n{}", swe_jobs(address, reader, ""), mesh.describe()),
    )
}

/// (YYYYMMDD, level) of a product row of the status API.
fn product_day_and_level(file: &serde_json::Value) -> (String, String) {
    let name = file["file_name"].as_str().unwrap_or_default();
    let date = name.split('_').nth(4).unwrap_or_default().to_string();
    (date, file["data_level"].as_str().unwrap_or_default().to_string())
}

/// Copies objects of the mesh's bucket to `directory/<key>` with boto3 on this host.
fn copy_from_bucket(s3_url: &str, keys: &[String], directory: &std::path::Path) {
    let script = format!(
        "import os, sys, boto3\n\
         s3 = boto3.client('s3', endpoint_url='{s3_url}', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n\
         for key in sys.argv[2:]:\n    \
             path = os.path.join(sys.argv[1], key)\n    \
             os.makedirs(os.path.dirname(path), exist_ok=True)\n    \
             s3.download_file('{BUCKET}', '{PREFIX}/' + key, path)"
    );
    let output = Command::new("python3").args(["-c", &script]).arg(directory).args(keys).output().unwrap();
    assert!(output.status.success(), "boto3: {}", String::from_utf8_lossy(&output.stderr));
}
