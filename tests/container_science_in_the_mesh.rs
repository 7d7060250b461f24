//! A mission program in a container image, run by the mesh as the real centre runs its batch
//! jobs: an image built here on the locally made Debian base, holding a shell script that plays
//! `imap_cli` (tests/fixtures/container_science), is the `container` of a
//! `[[processor.mission_program]]` rule; a level-0 file dropped into the inbox of `serve --roles
//! all` becomes one job that runs in that image with no network, its input mounted read-only in
//! the archive layout, and its product is indexed with provenance. Then the same executor with
//! limits: a container past its memory or CPU-time limit fails naming the limit.
//!
//! Ignored by default because it needs a docker daemon and root (debootstrap makes the base
//! image): `.ci/mesh-containers.sh` runs it with `--ignored`.

mod containers;
mod support;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

use containers::Scope;
use processor::ProcessorConfig;
use processor::science::fixture::{input, job};
use processor::science::{ProductOutput, Registry, ScienceError};
use proto::pb::{FileKind, FileRecord, JobState, ListJobsRequest, QueryFilesRequest};
use support::{TempDir, start_node, synthetic_level0, wait_for};

const LEVEL0: &str = "imap_swe_l0_raw_20240920_v001.pkts";

/// One product, so the level-0 file makes exactly one job.
const GRAPH: &str = r#"
[[product]]
instrument = "swe"
level = "l1a"
descriptor = "all"
input = [{ science = "swe l0 raw" }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
async fn a_level0_file_becomes_a_product_made_in_a_container_image() {
    let started = Instant::now();
    let scope = Scope::new();
    let image = scope
        .build_image("science", Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/container_science")));
    let image_ready = started.elapsed();

    let home = TempDir::new("container-science");
    let graph = home.path().join("graph.toml");
    std::fs::write(&graph, GRAPH).unwrap();
    let config = home.path().join("science.toml");
    std::fs::write(
        &config,
        format!(
            "[depsvc]\ngraph_file = {graph:?}\n\n[[processor.mission_program]]\ninstrument = \"swe\"\nlevel = \"l1a\"\n\
             timeout = \"2m\"\nlimits = {{ memory = \"256MiB\", cpus = 1 }}\ncontainer = {{ image = {image:?} }}\n"
        ),
    )
    .unwrap();
    let data_dir = home.path().join("data");
    let work_dir = home.path().join("work");
    let node = start_node(
        &["--roles", "all", "--listen", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap()],
        &[
            ("IMAP_SDC_CONFIG", config.to_str().unwrap()),
            ("IMAP_SDC_PROCESSOR__WORK_DIR", work_dir.to_str().unwrap()),
            // Files are renamed into the inbox whole.
            ("IMAP_SDC_INDEXER__SETTLE_TIME", "0s"),
        ],
        &home.path().join("node.log"),
    );
    let certs = data_dir.join("certs");
    let indexer = proto::clients::IndexerClient::new(support::operator_channel(&certs, &node.internal_url));
    let starter = proto::clients::StarterClient::new(support::operator_channel(&certs, &node.internal_url));

    let level0 = synthetic_level0(12);
    let (staging, inbox) = (home.path().join("staging"), data_dir.join("inbox"));
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(staging.join(LEVEL0), &level0).unwrap();
    std::fs::rename(staging.join(LEVEL0), inbox.join(LEVEL0)).unwrap();
    let dropped = started.elapsed();

    let product = wait_for("the product made in the container", Duration::from_secs(60), || {
        let mut indexer = indexer.clone();
        async move {
            let request = QueryFilesRequest { kind: FileKind::Science.into(), ..Default::default() };
            let files = indexer.query_files(request).await.ok()?.into_inner().files;
            files.into_iter().find(|file: &FileRecord| file.data_level == "l1a")
        }
    })
    .await;
    let made = started.elapsed();
    let job = wait_for("the job to be reported", Duration::from_secs(30), || {
        let mut starter = starter.clone();
        async move {
            let jobs = starter.list_jobs(ListJobsRequest::default()).await.ok()?.into_inner().jobs;
            jobs.into_iter().find(|job| job.state() == JobState::Succeeded)
        }
    })
    .await;

    // Provenance: made by the job, from the level-0 file.
    assert!(product.file_name.starts_with("imap_swe_l1a_all_20240920_v"), "{}", product.file_name);
    assert_eq!(product.produced_by_job, job.id);
    assert_eq!(product.parent_files, [LEVEL0]);
    assert!(job.log.contains(&format!("imap_cli in {image} said")), "{}", job.log);
    assert!(job.log.contains("imap_cli stand-in wrote"), "{}", job.log);

    // What the program saw inside: only loopback, its input read-only, the processor's user.
    let bytes = std::fs::read(data_dir.join("archive").join(&product.archive_key)).expect("the product is archived");
    let (header, body) = bytes.split_at(bytes.len() - level0.len());
    assert_eq!(body, level0, "the product carries the mounted input's bytes");
    let header = String::from_utf8_lossy(header);
    // The processor's user: the owner of what this test wrote.
    let uid = std::fs::metadata(&graph).unwrap().uid();
    assert_eq!(
        header,
        format!("made in a container by uid {uid}\nnetwork: lo \ninput {LEVEL0}: read-only\n"),
        "the container's view"
    );
    assert_eq!(std::fs::read_dir(&work_dir).map_or(0, |entries| entries.count()), 0, "the run's folder is removed");
    eprintln!(
        "container science: image ready in {image_ready:?}, level-0 dropped at {dropped:?}, product indexed at {made:?}"
    );
    drop(node);
}

/// Runs `swe <level> all` through the registry of `config` (TOML of `[processor]`) on one input.
fn run_job(config: &str, level: &str) -> Result<Vec<ProductOutput>, ScienceError> {
    let config: ProcessorConfig = toml::from_str(config).expect("config parses");
    let registry = Registry::from_config(&config).expect("registry");
    let (context, _) = job("swe", level, "all");
    let algorithm = registry.select(&context.product).expect("a rule");
    assert_eq!(algorithm.name(), "container");
    algorithm.run(&context, &[input("imap_swe_l0_raw_20250101_v001.pkts", synthetic_level0(4))])
}

#[test]
#[ignore = "needs docker and root (debootstrap): .ci/mesh-containers.sh runs it with --ignored"]
fn a_container_past_its_memory_or_cpu_time_limit_fails_naming_it() {
    let scope = Scope::new();
    let image = scope
        .build_image("limits", Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/container_science")));
    let home = TempDir::new("container-limits");
    let config = format!(
        r#"
        work_dir = {work:?}
        [[mission_program]]
        instrument = "swe"
        level = "l1a"
        command = ["sh", "-c", "echo allocating; dd if=/dev/zero of=/dev/null bs=256M count=1"]
        limits = {{ memory = "64MiB" }}
        container = {{ image = {image:?} }}
        [[mission_program]]
        instrument = "swe"
        level = "l1b"
        command = ["sh", "-c", "echo spinning; while :; do :; done"]
        limits = {{ cpu_time = "1s" }}
        container = {{ image = {image:?} }}
        [[mission_program]]
        instrument = "swe"
        level = "l1c"
        command = ["sh", "-c", "sleep 60"]
        timeout = "1s"
        container = {{ image = {image:?} }}
        "#,
        work = home.path().join("work"),
    );
    let started = Instant::now();
    let greedy = run_job(&config, "l1a").err().expect("killed at its memory limit");
    let greedy_took = started.elapsed();
    assert!(greedy.to_string().contains("memory limit 64MiB exceeded (exit code 137)"), "{greedy}");
    assert!(greedy.program_log().is_some_and(|log| log.contains("allocating")), "{greedy:?}");
    let spinning = run_job(&config, "l1b").err().expect("killed at its cpu time limit");
    assert!(spinning.to_string().contains("cpu time limit 1s exceeded (exit code 152)"), "{spinning}");
    let spinning_took = started.elapsed() - greedy_took;

    // Past its timeout the container itself is removed, not just the docker CLI.
    let sleeper = run_job(&config, "l1c").err().expect("timed out");
    assert!(sleeper.to_string().contains("timed out after 1s; its container imap-sdc-job-"), "{sleeper}");
    let left = containers::docker(&["ps", "--all", "--quiet", "--filter", "label=org.imap-sdc.product=swe l1c all"]);
    assert_eq!(left.as_deref(), Ok(""), "the timed-out job's container is gone");
    eprintln!("container limits: memory run ended in {greedy_took:?}, cpu run in {spinning_took:?}");
}
