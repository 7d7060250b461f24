//! The walking skeleton, end to end through the real binary: a level-0 file ingested from the
//! command line is indexed, streamed to the starter, resolved by depsvc, run by the processor
//! as L1A, whose output is indexed and triggers L1B. Every service's spans land in one trace,
//! collected by an in-process OTLP receiver.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use proto::pb::QueryFilesRequest;
use support::{TempDir, start_node, wait_for};

/// (trace id hex, span name) pairs received.
type Received = Arc<Mutex<Vec<(String, String)>>>;

struct Collector(Received);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            for scope_spans in resource_spans.scope_spans {
                for span in scope_spans.spans {
                    let trace_id: String = span.trace_id.iter().map(|byte| format!("{byte:02x}")).collect();
                    received.push((trace_id, span.name));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

async fn start_collector() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let received: Received = Arc::default();
    let service = TraceServiceServer::new(Collector(received.clone()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (format!("http://{address}"), received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level0_file_flows_to_l1b_in_one_trace() {
    let home = TempDir::new("pipeline");
    let data_dir = home.path().join("data");
    let graph = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chain_graph.toml");
    let (collector_url, received) = start_collector().await;
    let data_dir_text = data_dir.display().to_string();
    let export_quickly = [("OTEL_BSP_SCHEDULE_DELAY", "100")];
    let test_packet_definitions =
        [("IMAP_SDC_PROCESSOR__XTCE_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce"))];
    let node = start_node(
        &[
            "--roles",
            "all",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &data_dir_text,
            "--graph",
            graph,
            "--otlp-endpoint",
            &collector_url,
        ],
        &[export_quickly[0], test_packet_definitions[0]],
        &home.path().join("node.log"),
    );

    let level0 = home.path().join("imap_swe_l0_raw_20240924_v001.pkts");
    std::fs::write(&level0, support::synthetic_level0(20)).unwrap();
    let ingest = std::process::Command::new(support::binary())
        .args([
            "ingest",
            level0.to_str().unwrap(),
            "--server",
            &node.internal_url,
            "--data-dir",
            &data_dir_text,
            "--otlp-endpoint",
            &collector_url,
        ])
        .envs(export_quickly)
        .output()
        .unwrap();
    assert!(ingest.status.success(), "ingest failed: {}", String::from_utf8_lossy(&ingest.stderr));

    let indexer =
        proto::clients::IndexerClient::new(support::operator_channel(&data_dir.join("certs"), &node.internal_url));
    let files = wait_for("the l1b product", Duration::from_secs(90), || {
        let mut indexer = indexer.clone();
        async move {
            let files = indexer
                .query_files(QueryFilesRequest { instrument: "swe".into(), ..Default::default() })
                .await
                .ok()?
                .into_inner()
                .files;
            files.iter().any(|file| file.data_level == "l1b").then_some(files)
        }
    })
    .await;
    let by_level: BTreeMap<&str, Vec<&str>> = files.iter().fold(BTreeMap::new(), |mut levels, file| {
        levels.entry(file.data_level.as_str()).or_default().push(file.file_name.as_str());
        levels
    });
    assert_eq!(by_level["l0"], ["imap_swe_l0_raw_20240924_v001.pkts"]);
    assert_eq!(by_level["l1a"], ["imap_swe_l1a_sci_20240924_v001.0001.cdf"]);
    assert_eq!(by_level["l1b"], ["imap_swe_l1b_sci_20240924_v001.0001.cdf"]);
    // Provenance: the l1b file names its exact parent and the job that made it.
    let level1b = files.iter().find(|file| file.data_level == "l1b").unwrap();
    assert_eq!(level1b.parent_files, ["imap_swe_l1a_sci_20240924_v001.0001.cdf"]);
    assert!(!level1b.produced_by_job.is_empty());

    // Exactly one job per product, both succeeded (outputs are indexed just before the
    // processor reports completion, so wait for the report).
    let starter =
        proto::clients::StarterClient::new(support::operator_channel(&data_dir.join("certs"), &node.internal_url));
    let jobs = wait_for("both jobs to be reported", Duration::from_secs(30), || {
        let mut starter = starter.clone();
        async move {
            let jobs = starter.list_jobs(proto::pb::ListJobsRequest::default()).await.ok()?.into_inner().jobs;
            jobs.iter().all(|job| job.state() == proto::pb::JobState::Succeeded).then_some(jobs)
        }
    })
    .await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");

    // One trace from the ingest command through every service to the l1b job.
    let expected: BTreeSet<&str> = [
        "ingest",
        "indexer.index_file",
        "starter.on_file_indexed",
        "depsvc.downstream",
        "starter.evaluate",
        "depsvc.resolve",
        "indexer.query_files",
        "processor.run_job",
        "processor.science",
        "starter.complete_job",
    ]
    .into();
    let (trace_id, names) = wait_for("spans of every service in one trace", Duration::from_secs(30), || {
        let received = received.clone();
        let expected = expected.clone();
        async move {
            let received = received.lock().unwrap();
            let ingest_trace = received.iter().find(|(_, name)| name == "ingest")?.0.clone();
            let names: Vec<String> =
                received.iter().filter(|(trace, _)| *trace == ingest_trace).map(|(_, name)| name.clone()).collect();
            let run_jobs = names.iter().filter(|name| *name == "processor.run_job").count();
            let all_present = expected.iter().all(|span| names.iter().any(|name| name == span));
            (all_present && run_jobs == 2).then_some((ingest_trace, names))
        }
    })
    .await;
    assert_eq!(trace_id.len(), 32);
    assert_eq!(names.iter().filter(|name| *name == "processor.run_job").count(), 2, "both levels ran in the trace");
    drop(node);
}
