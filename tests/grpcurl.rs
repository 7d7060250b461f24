//! Operations with grpcurl 1.8 (which speaks only reflection v1alpha): `list` shows exactly the
//! services a node serves, and health answers per service.

mod support;

use std::process::Command;

/// grpcurl's output; fails the test when grpcurl does.
fn grpcurl(arguments: &[&str]) -> String {
    let output = Command::new("grpcurl").args(arguments).output().expect("runs grpcurl");
    assert!(output.status.success(), "grpcurl {arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
#[cfg_attr(not(has_grpcurl), ignore = "needs grpcurl on PATH (.ci/run shows how CI gets it)")]
fn grpcurl_lists_every_service_of_an_all_roles_node_and_only_those_of_a_split_one() {
    let home = support::TempDir::new("grpcurl");
    let data_dir = home.path().join("all").display().to_string();
    let node =
        support::start_node(&["--listen", "127.0.0.1:0", "--data-dir", &data_dir], &[], &home.path().join("all.log"));
    let address = node.url.trim_start_matches("http://").to_string();
    let listed = grpcurl(&["-plaintext", &address, "list"]);
    for service in [
        "grpc.health.v1.Health",
        "imap.sdc.v1.DependencyService",
        "imap.sdc.v1.IndexerService",
        "imap.sdc.v1.ProcessorService",
        "imap.sdc.v1.StarterService",
    ] {
        assert!(listed.lines().any(|line| line == service), "{service} missing from:\n{listed}");
    }
    let health = grpcurl(&[
        "-plaintext",
        "-d",
        r#"{"service":"imap.sdc.v1.IndexerService"}"#,
        &address,
        "grpc.health.v1.Health/Check",
    ]);
    assert!(health.contains("SERVING"), "{health}");
    let queues = grpcurl(&["-plaintext", "-d", "{}", &address, "imap.sdc.v1.StarterService/GetQueues"]);
    assert!(queues.trim_start().starts_with('{'), "not a GetQueuesResponse: {queues}");

    let data_dir = home.path().join("split").display().to_string();
    let depsvc_only = support::start_node(
        &[
            "--roles",
            "depsvc",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &data_dir,
            "--peer",
            &format!("indexer={}", node.url),
        ],
        &[],
        &home.path().join("split.log"),
    );
    let listed = grpcurl(&["-plaintext", depsvc_only.url.trim_start_matches("http://"), "list"]);
    assert!(listed.contains("imap.sdc.v1.DependencyService"), "{listed}");
    assert!(
        !listed.contains("imap.sdc.v1.IndexerService"),
        "a depsvc-only node must not advertise the indexer:\n{listed}"
    );
}
