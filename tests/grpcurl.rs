//! Operations with grpcurl 1.8 (which speaks only reflection v1alpha): the public listener offers
//! no reflection and no mesh service; the internal one lists exactly the services a node serves,
//! to an operator's certificate only; health answers per service.

mod support;

use std::path::Path;
use std::process::{Command, Output};

fn run_grpcurl(arguments: &[&str]) -> Output {
    Command::new("grpcurl").args(arguments).output().expect("runs grpcurl")
}

/// grpcurl's output; fails the test when grpcurl does.
fn grpcurl(arguments: &[&str]) -> String {
    let output = run_grpcurl(arguments);
    assert!(output.status.success(), "grpcurl {arguments:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// grpcurl's flags for the internal listener as `caller` (mesh CA, the caller's certificate,
/// the mesh's server name), or with no client certificate when `caller` is `None`.
fn tls_flags(cert_dir: &Path, caller: Option<&str>) -> Vec<String> {
    let file = |name: String| cert_dir.join(name).display().to_string();
    let mut flags = vec!["-cacert".into(), file("ca.pem".into()), "-servername".into(), "imap-sdc-mesh".into()];
    if let Some(caller) = caller {
        flags.extend(["-cert".into(), file(format!("{caller}.pem")), "-key".into(), file(format!("{caller}.key"))]);
    }
    flags
}

fn with<'a>(flags: &'a [String], rest: &[&'a str]) -> Vec<&'a str> {
    flags.iter().map(String::as_str).chain(rest.iter().copied()).collect()
}

#[test]
#[cfg_attr(not(has_grpcurl), ignore = "needs grpcurl on PATH (.ci/run shows how CI gets it)")]
fn grpcurl_lists_every_service_of_an_all_roles_node_and_only_those_of_a_split_one() {
    let home = support::TempDir::new("grpcurl");
    let data_dir = home.path().join("all");
    let data_dir_text = data_dir.display().to_string();
    let node = support::start_node(
        &["--listen", "127.0.0.1:0", "--data-dir", &data_dir_text],
        &[],
        &home.path().join("all.log"),
    );
    let public = node.url.trim_start_matches("http://").to_string();
    let internal = node.internal_url.trim_start_matches("https://").to_string();
    let cert_dir = data_dir.join("certs");
    let operator = tls_flags(&cert_dir, Some("operator"));

    let listed = grpcurl(&with(&operator, &[&internal, "list"]));
    for service in [
        "grpc.health.v1.Health",
        "imap.sdc.v1.DependencyService",
        "imap.sdc.v1.IndexerService",
        "imap.sdc.v1.ProcessorService",
        "imap.sdc.v1.StarterService",
    ] {
        assert!(listed.lines().any(|line| line == service), "{service} missing from:\n{listed}");
    }
    let queues = grpcurl(&with(&operator, &["-d", "{}", &internal, "imap.sdc.v1.StarterService/GetQueues"]));
    assert!(queues.trim_start().starts_with('{'), "not a GetQueuesResponse: {queues}");

    // Without a client certificate the internal listener refuses, reflection included.
    let anonymous = run_grpcurl(&with(&tls_flags(&cert_dir, None), &[&internal, "list"]));
    assert!(!anonymous.status.success(), "reflection answered a caller without a certificate");
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("Unauthenticated"), "{anonymous:?}");

    // The public listener has no reflection, and the mesh services are not there at all.
    assert!(!run_grpcurl(&["-plaintext", &public, "list"]).status.success(), "the public listener offers reflection");
    let contracts = concat!(env!("CARGO_MANIFEST_DIR"), "/proto/proto");
    let query = run_grpcurl(&[
        "-plaintext",
        "-import-path",
        contracts,
        "-proto",
        "imap/sdc/v1/indexer.proto",
        "-d",
        "{}",
        &public,
        "imap.sdc.v1.IndexerService/QueryFiles",
    ]);
    let refused = String::from_utf8_lossy(&query.stderr);
    assert!(
        !query.status.success() && refused.contains("Unimplemented"),
        "QueryFiles on the public listener: {query:?}"
    );
    // Health answers per service (`imap-sdc health` asks the public listener, tests/health_command.rs).
    let health = grpcurl(&with(
        &operator,
        &["-d", r#"{"service":"imap.sdc.v1.IndexerService"}"#, &internal, "grpc.health.v1.Health/Check"],
    ));
    assert!(health.contains("SERVING"), "{health}");

    let split_dir = home.path().join("split").display().to_string();
    let cert_dir_text = cert_dir.display().to_string();
    let depsvc_only = support::start_node(
        &[
            "--roles",
            "depsvc",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &split_dir,
            "--peer",
            &format!("indexer={}", node.internal_url),
        ],
        &[("IMAP_SDC_MESH__CERT_DIR", &cert_dir_text)],
        &home.path().join("split.log"),
    );
    let listed = grpcurl(&with(&operator, &[depsvc_only.internal_url.trim_start_matches("https://"), "list"]));
    assert!(listed.contains("imap.sdc.v1.DependencyService"), "{listed}");
    assert!(
        !listed.contains("imap.sdc.v1.IndexerService"),
        "a depsvc-only node must not advertise the indexer:\n{listed}"
    );
}
