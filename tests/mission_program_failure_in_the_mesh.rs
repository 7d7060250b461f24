//! A mission program that raises, inside the mesh: a stand-in `imap_cli` (a shell script, so no
//! Python is needed) writes half a product, prints a Python traceback and exits 1. The job fails
//! with the traceback's tail in its error and the program's words in its log, is retried per the
//! starter's policy (kept small here), then is dead; nothing it half-wrote is indexed or archived,
//! and its working folder is gone.

mod support;

use std::path::Path;
use std::time::Duration;

use proto::pb::{FileKind, JobState, ListJobsRequest, QueryFilesRequest};
use support::{TempDir, start_node, wait_for};

const LEVEL0: &str = "imap_swapi_l0_raw_20240924_v001.pkts";
const KERNELS: [&str; 2] = ["naif0012.tls", "imap_sclk_0000.tsc"];
const MAX_ATTEMPTS: u32 = 2;
const EXCEPTION: &str = "ValueError: Tried to read beyond the end of the packet data";

/// Counts its runs in `attempts`, writes half of the L1A file the job would make, then fails
/// the way a Python program does.
fn raising_program(attempts: &Path) -> String {
    format!(
        r#"#!/bin/sh
echo run >> '{attempts}'
version=""
while [ $# -gt 0 ]; do
    if [ "$1" = "--version" ]; then version="$2"; fi
    shift
done
folder="$IMAP_DATA_DIR/imap/swapi/l1a/2024/09"
mkdir -p "$folder"
printf 'half a CDF' > "$folder/imap_swapi_l1a_hk_20240924_$version.cdf"
echo "Processing SWAPI l1 hk"
echo 'Traceback (most recent call last):' >&2
echo '  File "imap_processing/cli.py", line 576, in process' >&2
echo '{EXCEPTION}' >&2
exit 1
"#,
        attempts = attempts.display()
    )
}

fn config(program: &Path) -> String {
    format!(
        r#"
[depsvc]
builtin_graph = "mission-yaml"

[starter]
max_attempts = {MAX_ATTEMPTS}
retry_backoff = "100ms"

[[processor.mission_program]]
instrument = "swapi"
level = "l1"
command = ["sh", "{program}"]
timeout = "1m"
"#,
        program = program.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raising_mission_program_is_retried_then_dead_and_nothing_it_wrote_is_indexed() {
    let home = TempDir::new("mission-raises");
    let attempts = home.path().join("attempts");
    let program = home.path().join("imap_cli");
    std::fs::write(&program, raising_program(&attempts)).unwrap();
    let config_file = home.path().join("config.toml");
    std::fs::write(&config_file, config(&program)).unwrap();
    let data_dir = home.path().join("data");
    let work_dir = home.path().join("work");
    let node = start_node(
        &["--roles", "all", "--listen", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap()],
        &[
            ("IMAP_SDC_CONFIG", config_file.to_str().unwrap()),
            ("IMAP_SDC_PROCESSOR__WORK_DIR", work_dir.to_str().unwrap()),
            ("IMAP_SDC_INDEXER__SETTLE_TIME", "0s"),
        ],
        &home.path().join("node.log"),
    );
    let certs = data_dir.join("certs");
    let staging = home.path().join("staging");
    let inbox = data_dir.join("inbox");
    std::fs::create_dir_all(&staging).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    let drop_in = |name: &str, bytes: &[u8]| {
        std::fs::write(staging.join(name), bytes).unwrap();
        std::fs::rename(staging.join(name), inbox.join(name)).unwrap();
    };
    // The program never reads them: any bytes under the mission's names do.
    for kernel in KERNELS {
        drop_in(kernel, kernel.as_bytes());
    }
    let indexer = proto::clients::IndexerClient::new(support::operator_channel(&certs, &node.internal_url));
    wait_for("the kernels to be indexed", Duration::from_secs(30), || {
        let mut indexer = indexer.clone();
        async move {
            let request = QueryFilesRequest { kind: FileKind::Spice.into(), ..Default::default() };
            let kernels = indexer.query_files(request).await.ok()?.into_inner().files;
            (kernels.len() == KERNELS.len()).then_some(())
        }
    })
    .await;
    drop_in(LEVEL0, &support::synthetic_level0(4));

    let starter = proto::clients::StarterClient::new(support::operator_channel(&certs, &node.internal_url));
    let job = wait_for("the housekeeping job to be dead", Duration::from_secs(60), || {
        let mut starter = starter.clone();
        async move {
            let jobs = starter.list_jobs(ListJobsRequest::default()).await.ok()?.into_inner().jobs;
            jobs.into_iter().find(|job| job.state() == JobState::Dead)
        }
    })
    .await;
    assert_eq!(job.product.clone().unwrap_or_default().to_string(), "swapi l1 hk");
    assert_eq!(job.attempts, MAX_ATTEMPTS, "retried per the policy, then dead");
    assert_eq!(std::fs::read_to_string(&attempts).unwrap().lines().count(), MAX_ATTEMPTS as usize);
    assert!(job.error.contains("Traceback (most recent call last):"), "{}", job.error);
    assert!(job.error.trim_end().ends_with(EXCEPTION), "the traceback's tail ends the error: {}", job.error);
    assert!(job.log.contains("Processing SWAPI l1 hk") && job.log.contains(EXCEPTION), "{}", job.log);

    // Nothing it half-wrote was indexed or archived, and its working folders are gone.
    let request = QueryFilesRequest { kind: FileKind::Science.into(), ..Default::default() };
    let science = indexer.clone().query_files(request).await.unwrap().into_inner().files;
    let names: Vec<&str> = science.iter().map(|file| file.file_name.as_str()).collect();
    assert_eq!(names, [LEVEL0]);
    assert!(!data_dir.join("archive/imap/swapi/l1a").exists(), "no L1A file in the archive");
    let left = std::fs::read_dir(&work_dir).map_or(0, |entries| entries.count());
    assert_eq!(left, 0, "no working folder is left");
    drop(node);
}
