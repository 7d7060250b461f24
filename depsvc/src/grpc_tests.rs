//! depsvc's gRPC face against a fake indexer that answers in small pages.

use std::num::NonZeroUsize;
use std::sync::Arc;

use mesh_runtime::fakes::{FakeIndexer, serve_on_free_port};
use proto::clients::{IndexerClient, lazy_channel};
use proto::pb;
use proto::pb::dependency_service_server::DependencyService;
use proto::pb::indexer_service_server::IndexerServiceServer;
use tonic::Request;

use super::DepsvcGrpc;
use crate::graph::Graph;

/// swe level 2 from level 1B science and a calibration table whose new versions re-run it.
fn graph() -> Graph {
    let text = "(l2, sci):\n  partition: daily\n  inputs:\n    - source: swe\n      data_type: l1b\n      \
                descriptor: sci\n    - source: swe\n      data_type: ancillary\n      descriptor: calibration\n";
    Graph::from_mission_yaml(&[("imap_swe_dependencies.yaml", text)]).expect("test yaml parses")
}

fn l1b(day: &str) -> pb::FileRecord {
    pb::FileRecord {
        file_name: format!("imap_swe_l1b_sci_{day}_v001.cdf"),
        kind: pb::FileKind::Science.into(),
        instrument: "swe".into(),
        data_level: "l1b".into(),
        descriptor: "sci".into(),
        start_date: day.into(),
        version: "v001".into(),
        ..Default::default()
    }
}

/// The days of the swe L2 runs a new calibration table valid 2025-01-01..10 starts, asked of an
/// indexer holding L1B science of `days` that answers two files a page, and the file queries
/// depsvc asked it.
async fn runs_of_a_new_table(days: &[&str], without_batches: bool) -> (Vec<String>, Vec<&'static str>) {
    let indexer = FakeIndexer {
        archive: days.iter().map(|day| l1b(day)).collect(),
        page_size: NonZeroUsize::new(2),
        without_batches,
        ..Default::default()
    };
    let queries_asked = indexer.queries_asked.clone();
    let address =
        serve_on_free_port(tonic::transport::Server::builder().add_service(IndexerServiceServer::new(indexer))).await;
    let depsvc =
        DepsvcGrpc { graph: Arc::new(graph()), indexer: IndexerClient::new(lazy_channel(&address).expect("address")) };
    let table = pb::FileRecord {
        file_name: "imap_swe_calibration_20250101_20250110_v002.csv".into(),
        kind: pb::FileKind::Ancillary.into(),
        instrument: "swe".into(),
        descriptor: "calibration".into(),
        start_date: "20250101".into(),
        end_date: "20250110".into(),
        version: "v002".into(),
        ..Default::default()
    };
    let runs = depsvc
        .downstream(Request::new(pb::DownstreamRequest { file: Some(table) }))
        .await
        .expect("downstream answers")
        .into_inner()
        .runs;
    let run_days = runs
        .iter()
        .map(|run| {
            let product = run.product.clone().unwrap_or_default();
            assert_eq!((product.instrument.as_str(), product.data_level.as_str()), ("swe", "l2"), "{run:?}");
            run.time.clone().unwrap_or_default().date
        })
        .collect();
    let asked = queries_asked.lock().expect("queries asked").clone();
    (run_days, asked)
}

#[tokio::test]
async fn a_new_table_re_runs_every_day_with_science_however_many_pages_they_fill() {
    let days = ["20250102", "20250103", "20250105", "20250107", "20250109"];
    let (run_days, asked) = runs_of_a_new_table(&days, false).await;
    assert_eq!(run_days, days, "one run per day with science, none beyond the first page lost");
    // The first page comes in the batch; the two more pages the science fills, one query each.
    assert_eq!(asked, ["BatchQueryFiles", "QueryFiles", "QueryFiles"]);
}

#[tokio::test]
async fn an_indexer_that_cannot_batch_is_asked_one_query_at_a_time() {
    let days = ["20250102", "20250103", "20250105", "20250107", "20250109"];
    let (run_days, asked) = runs_of_a_new_table(&days, true).await;
    assert_eq!(run_days, days);
    assert_eq!(asked, ["QueryFiles", "QueryFiles", "QueryFiles"]);
}
