//! The same code path split five ways: every role runs as its own node (in this process, on its
//! own listener, with its own database where it has one) and reaches the others only through
//! their peer addresses. A level-0 file still flows to L1B.

mod support;

use std::time::Duration;

use imap_sdc::config::Config;
use imap_sdc::role::Role;
use mesh_runtime::ShutdownSignal;
use proto::pb::QueryFilesRequest;
use support::{TempDir, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_role_per_node_still_moves_a_file_to_l1b() {
    let home = TempDir::new("split");
    let archive = home.path().join("archive");
    // One CA for the whole mesh, as `imap-sdc certs init` makes for a cluster.
    let cert_dir = home.path().join("certs");
    mesh_runtime::tls::init(&cert_dir, &mesh_runtime::authz::Caller::ALL, &[]).unwrap();
    let mut listeners = Vec::new();
    let mut urls = Vec::new();
    for role in Role::ALL {
        let (node_listeners, public_url, internal_url) = support::bind_listeners().await;
        listeners.push(node_listeners);
        // The gateway's own service is public; every other role is called on its internal listener.
        urls.push(if role == Role::Gateway { public_url } else { internal_url });
    }
    let url_of = |role: Role| urls[Role::ALL.iter().position(|candidate| *candidate == role).unwrap()].clone();

    let (stop, shutdown) = ShutdownSignal::new();
    let mut nodes = Vec::new();
    for (role, listener) in Role::ALL.into_iter().zip(listeners) {
        let mut config = Config {
            roles: role.to_string().parse().unwrap(),
            data_dir: home.path().join(role.as_str()),
            ..Default::default()
        };
        // Roles share the archive (an object store) but never a database.
        config.archive_dir = Some(archive.clone());
        config.mesh.cert_dir = Some(cert_dir.clone());
        config.depsvc.graph_file = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chain_graph.toml").into());
        config.processor.slots = std::num::NonZeroU32::new(2);
        config.processor.xtce_dir = Some(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce").into());
        config.peers.indexer = Some(url_of(Role::Indexer));
        config.peers.depsvc = Some(url_of(Role::Depsvc));
        config.peers.starter = Some(url_of(Role::Starter));
        config.peers.processor = Some(url_of(Role::Processor));
        config.peers.gateway = Some(url_of(Role::Gateway));
        let shutdown = shutdown.clone();
        nodes.push(tokio::spawn(async move {
            imap_sdc::node::run(config, listener, async move { shutdown.wait().await }).await
        }));
    }

    let inbox = home.path().join("indexer/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("imap_swe_l0_raw_20240925_v001.pkts"), support::synthetic_level0(8)).unwrap();

    let indexer = proto::clients::IndexerClient::new(support::operator_channel(&cert_dir, &url_of(Role::Indexer)));
    let files = wait_for("the l1b product from the split mesh", Duration::from_secs(90), || {
        let mut indexer = indexer.clone();
        async move {
            let files = indexer.query_files(QueryFilesRequest::default()).await.ok()?.into_inner().files;
            files.iter().any(|file| file.data_level == "l1b").then_some(files)
        }
    })
    .await;
    let names: Vec<&str> = files.iter().map(|file| file.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "imap_swe_l0_raw_20240925_v001.pkts",
            "imap_swe_l1a_sci_20240925_v001.0001.cdf",
            "imap_swe_l1b_sci_20240925_v001.0001.cdf",
        ]
    );
    // The starter's own database holds the jobs; the indexer's holds none.
    assert!(home.path().join("starter/imap-sdc.sqlite").exists());
    stop.trigger();
    for node in nodes {
        node.await.unwrap().unwrap();
    }
}
