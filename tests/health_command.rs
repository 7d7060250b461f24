//! `imap-sdc health`, the container healthcheck: exit 0 while the node (or one of its role
//! services) serves, 1 with the reason when a service is not served or nothing listens.

mod support;

use std::process::{Command, Output};

use support::{TempDir, start_node};

fn health(address: &str, service: Option<&str>) -> Output {
    let mut command = Command::new(support::binary());
    command.args(["health", "--listen", address]);
    if let Some(service) = service {
        command.args(["--service", service]);
    }
    command.output().expect("run imap-sdc health")
}

#[test]
fn health_answers_for_the_node_and_its_roles_and_fails_when_nothing_listens() {
    let home = TempDir::new("health");
    let data_dir = home.path().join("data");
    let node = start_node(
        &["--roles", "depsvc", "--listen", "127.0.0.1:0", "--data-dir", data_dir.to_str().unwrap()],
        &[],
        &home.path().join("node.log"),
    );
    let address = node.url.trim_start_matches("http://").to_string();

    let whole = health(&address, None);
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    assert_eq!(String::from_utf8_lossy(&whole.stdout).trim(), format!("{address}: serving"));
    let served = health(&address, Some("imap.sdc.v1.DependencyService"));
    assert!(served.status.success(), "{}", String::from_utf8_lossy(&served.stderr));

    let not_run_here = health(&address, Some("imap.sdc.v1.IndexerService"));
    let reason = String::from_utf8_lossy(&not_run_here.stderr);
    assert_eq!(not_run_here.status.code(), Some(1), "{reason}");
    assert!(reason.contains("imap.sdc.v1.IndexerService at") && reason.contains("not found"), "{reason}");

    drop(node);
    let stopped = health(&address, None);
    let reason = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(1), "{reason}");
    assert!(reason.contains("unreachable"), "{reason}");
}
