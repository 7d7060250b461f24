//! The role contract at the node: a role is built only from what it asks the build context for (a
//! depsvc node opens neither the database nor the archive, a processor node no database), every
//! role is built before anything listens (a role that cannot be built stops the node first), and a
//! node that was asked to stop exits within its drain bound. A node's roles run a chain whether they
//! call each other inside the process or through the internal listener.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use imap_sdc::config::Config;
use mesh_runtime::ShutdownSignal;
use proto::clients::DependencyClient;
use proto::clients::IndexerClient;
use proto::pb::{GetGraphRequest, QueryFilesRequest};
use support::TempDir;

/// Runs a node with `config` until `check` has looked at it, then stops it and waits for it to
/// exit, within the drain bound.
async fn run_node<F, Fut>(config: Config, check: F)
where
    F: FnOnce(String, std::path::PathBuf) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (listeners, _, internal_url) = support::bind_listeners().await;
    let cert_dir = imap_sdc::node::prepare_certificates(&config).unwrap();
    let drain_bound = config.mesh.drain_timeout;
    let (stop, shutdown) = ShutdownSignal::new();
    let node =
        tokio::spawn(async move { imap_sdc::node::run(config, listeners, async move { shutdown.wait().await }).await });
    check(internal_url, cert_dir).await;
    stop.trigger();
    let exited = tokio::time::timeout(drain_bound + Duration::from_secs(5), node).await;
    exited.expect("the node exits within its drain bound").unwrap().expect("the node ran cleanly");
}

fn config(home: &TempDir, roles: &str) -> Config {
    let mut config = Config { roles: roles.parse().unwrap(), data_dir: home.path().join("data"), ..Default::default() };
    config.mesh.drain_timeout = Duration::from_secs(5);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_depsvc_node_opens_neither_database_nor_archive() {
    let home = TempDir::new("node-depsvc");
    let config = config(&home, "depsvc");
    let data_dir = config.data_dir.clone();
    run_node(config, |url, cert_dir| async move {
        let mut depsvc = DependencyClient::new(support::operator_channel(&cert_dir, &url));
        let graph = depsvc.get_graph(GetGraphRequest {}).await.expect("depsvc answers").into_inner();
        assert!(!graph.products.is_empty());
    })
    .await;
    assert!(!data_dir.join("imap-sdc.sqlite").exists(), "no database was opened");
    assert!(!data_dir.join("archive").exists(), "no archive was opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_node_opens_the_archive_but_no_database() {
    let home = TempDir::new("node-processor");
    let config = config(&home, "processor");
    let data_dir = config.data_dir.clone();
    run_node(config, |_, _| async {}).await;
    assert!(data_dir.join("archive").is_dir(), "the archive was opened");
    assert!(!data_dir.join("imap-sdc.sqlite").exists(), "no database was opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_that_cannot_be_built_stops_the_node_before_it_listens() {
    let home = TempDir::new("node-unbuildable");
    let mut config = config(&home, "indexer,starter");
    config.starter.schedules =
        vec![starter::ScheduleConfig { name: "broken".into(), cron: "61 * * * *".into(), ..Default::default() }];
    let (listeners, _, _) = support::bind_listeners().await;
    let waited_for_shutdown = Arc::new(AtomicBool::new(false));
    let waited = waited_for_shutdown.clone();
    let shutdown_request = async move {
        waited.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await
    };
    let error =
        imap_sdc::node::run(config, listeners, shutdown_request).await.expect_err("the starter cannot be built");
    let message = format!("{error:#}");
    assert!(message.contains("building the starter") && message.contains("broken"), "{message}");
    assert!(!waited_for_shutdown.load(Ordering::SeqCst), "the node never got as far as serving");
}

/// A level-0 file becomes l1a and l1b on an all-roles node, its roles calling each other as set.
async fn chain_runs(in_process_calls: bool) {
    let home = TempDir::new(if in_process_calls { "node-in-process" } else { "node-listener" });
    let mut config = config(&home, "all");
    config.mesh.in_process_calls = in_process_calls;
    config.depsvc.graph_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chain_graph.toml").into());
    config.processor.xtce_dir = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce").into());
    let inbox = config.data_dir.join("inbox");
    run_node(config, |url, cert_dir| async move {
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("imap_swe_l0_raw_20240925_v001.pkts"), support::synthetic_level0(8)).unwrap();
        let indexer = IndexerClient::new(support::operator_channel(&cert_dir, &url));
        support::wait_for("the l1b product", Duration::from_secs(90), || {
            let mut indexer = indexer.clone();
            async move {
                let files = indexer.query_files(QueryFilesRequest::default()).await.ok()?.into_inner().files;
                let made_by_jobs = files.iter().filter(|file| !file.produced_by_job.is_empty()).count();
                (files.iter().any(|file| file.data_level == "l1b") && made_by_jobs == 2).then_some(())
            }
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_of_one_node_run_a_chain_calling_each_other_in_process() {
    chain_runs(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_of_one_node_run_a_chain_through_the_internal_listener() {
    chain_runs(false).await;
}
