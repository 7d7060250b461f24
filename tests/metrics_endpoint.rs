//! `GET /metrics` on a node's listener: scraped before and after a level-0 file flows to L1B, the
//! numbers move with the work (files indexed, events, jobs by state, run, wait and
//! arrival-to-dispatch histograms, gRPC requests by method and code, slots, leadership).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use imap_sdc::config::Config;
use mesh_runtime::ShutdownSignal;
use proto::pb::QueryFilesRequest;
use support::{TempDir, wait_for};

/// `name{labels}` → value, from the text exposition format.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample is a series and a value");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

/// The sum of every series of `name` whose labels contain each of `having`.
fn total(samples: &BTreeMap<String, f64>, name: &str, having: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            series.split('{').next() == Some(name) && having.iter().all(|label| series.contains(label))
        })
        .map(|(_, value)| value)
        .sum()
}

async fn scrape(address: &str) -> BTreeMap<String, f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address.trim_start_matches("http://")).await.unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{response}");
    let (_, body) = response.split_once("\r\n\r\n").expect("a body");
    samples(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_the_work() {
    let home = TempDir::new("metrics");
    let (listeners, address, internal_url) = support::bind_listeners().await;
    let mut config = Config { data_dir: home.path().to_path_buf(), ..Default::default() };
    config.depsvc.graph_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chain_graph.toml").into());
    config.processor.slots = std::num::NonZeroU32::new(2);
    config.processor.xtce_dir = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce").into());
    let (stop, shutdown) = ShutdownSignal::new();
    let node = tokio::spawn(imap_sdc::node::run(config, listeners, async move { shutdown.wait().await }));

    let before = wait_for("the first scrape", Duration::from_secs(30), || {
        let address = address.clone();
        async move {
            let samples = scrape(&address).await;
            (total(&samples, "imap_sdc_processor_slots", &[]) > 0.0).then_some(samples)
        }
    })
    .await;
    assert_eq!(total(&before, "imap_sdc_files_indexed_total", &[]), 0.0);
    assert_eq!(total(&before, "imap_sdc_jobs", &[]), 0.0);
    assert_eq!(total(&before, "imap_sdc_processor_slots", &[]), 2.0);
    assert_eq!(total(&before, "imap_sdc_leader", &["role=\"indexer\""]), 1.0, "SQLite: the only node leads");
    assert_eq!(total(&before, "imap_sdc_leader", &["role=\"starter\""]), 1.0);

    let inbox = home.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("imap_swe_l0_raw_20240925_v001.pkts"), support::synthetic_level0(8)).unwrap();
    let indexer =
        proto::clients::IndexerClient::new(support::operator_channel(&home.path().join("certs"), &internal_url));
    wait_for("the l1b product", Duration::from_secs(90), || {
        let mut indexer = indexer.clone();
        async move {
            let files = indexer.query_files(QueryFilesRequest::default()).await.ok()?.into_inner().files;
            files.iter().any(|file| file.data_level == "l1b").then_some(())
        }
    })
    .await;
    // The l1b job's completion is reported just after its output is indexed, and the processor
    // frees the job's slot once the starter has acknowledged it.
    let after = wait_for("both jobs counted as succeeded and their slots free", Duration::from_secs(30), || {
        let address = address.clone();
        async move {
            let samples = scrape(&address).await;
            let succeeded = total(&samples, "imap_sdc_jobs", &["state=\"succeeded\""]) == 2.0;
            let slots_free = total(&samples, "imap_sdc_processor_slots_in_use", &[]) == 0.0;
            (succeeded && slots_free).then_some(samples)
        }
    })
    .await;

    assert_eq!(total(&after, "imap_sdc_files_indexed_total", &[]), 3.0, "l0, l1a, l1b");
    assert_eq!(total(&after, "imap_sdc_files_indexed_total", &["kind=\"science\"", "instrument=\"swe\""]), 3.0);
    assert_eq!(total(&after, "imap_sdc_event_log_seq", &[]), 3.0);
    assert_eq!(total(&after, "imap_sdc_jobs", &["instrument=\"swe\"", "state=\"succeeded\""]), 2.0);
    assert_eq!(after.get("imap_sdc_queue_depth{instrument=\"swe\"}"), Some(&0.0), "nothing waits");
    assert_eq!(total(&after, "imap_sdc_job_run_seconds_count", &["state=\"succeeded\""]), 2.0);
    assert_eq!(total(&after, "imap_sdc_job_wait_seconds_count", &["instrument=\"swe\""]), 2.0);
    assert_eq!(total(&after, "imap_sdc_arrival_to_dispatch_seconds_count", &["instrument=\"swe\""]), 2.0);
    assert_eq!(
        total(&after, "imap_sdc_arrival_to_dispatch_seconds_bucket", &["le=\"+Inf\""]),
        2.0,
        "histogram buckets are exposed"
    );
    assert_eq!(total(&after, "imap_sdc_processor_slots_in_use", &[]), 0.0, "both jobs are done");
    let completions = ["method=\"/imap.sdc.v1.StarterService/CompleteJob\"", "code=\"Ok\""];
    assert_eq!(total(&after, "imap_sdc_grpc_server_requests_total", &completions), 2.0);
    // One IndexFiles per job, for all of its outputs.
    let indexed = ["method=\"/imap.sdc.v1.IndexerService/IndexFiles\"", "code=\"Ok\""];
    assert_eq!(
        total(&after, "imap_sdc_grpc_server_requests_total", &indexed),
        2.0,
        "the processor indexes its outputs"
    );
    assert!(total(&after, "imap_sdc_grpc_server_duration_seconds_count", &indexed) >= 2.0);

    dashboard_uses_only_exported_metrics(&after);
    stop.trigger();
    node.await.unwrap().unwrap();
}

/// Every `imap_sdc_*` series the Grafana dashboard queries is one a node exports.
fn dashboard_uses_only_exported_metrics(scraped: &BTreeMap<String, f64>) {
    let dashboard =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/grafana/imap-sdc-dashboard.json"))
            .expect("the dashboard");
    let dashboard: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let exported: std::collections::BTreeSet<&str> =
        scraped.keys().map(|series| series.split('{').next().unwrap_or(series)).collect();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expression = target["expr"].as_str().expect("an expression");
            for (start, _) in expression.match_indices("imap_sdc_") {
                let name: String = expression[start..]
                    .chars()
                    .take_while(|character| character.is_ascii_alphanumeric() || *character == '_')
                    .collect();
                queried.push(name);
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for name in queried {
        assert!(exported.contains(name.as_str()), "the dashboard queries {name}, which no node exports: {exported:?}");
    }
}
