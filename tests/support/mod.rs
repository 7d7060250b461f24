//! Shared helpers of the end-to-end tests: run the real binary, wait for conditions.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `imap-sdc` child process, killed on drop.
pub struct Node {
    pub child: Child,
    /// The public listener (`http://`): REST, the Gateway service, health.
    pub url: String,
    /// The internal listener (`https://`, mutual TLS): the mesh services.
    pub internal_url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_imap-sdc"))
}

/// Starts `imap-sdc serve ARGS` and waits for its "listening on" line.
pub fn start_node(args: &[&str], environment: &[(&str, &str)], log_file: &Path) -> Node {
    let log = std::fs::File::create(log_file).expect("create log file");
    let mut command = Command::new(binary());
    command.arg("serve").args(args).stderr(log);
    for (name, value) in environment {
        command.env(name, value);
    }
    let (child, url, internal_url) = spawn_until_listening_on_both(command, log_file);
    Node { child, url, internal_url }
}

/// Spawns a prepared `imap-sdc` command and returns it with the URL from its "listening on"
/// line, panicking with the log's contents if it exits before listening.
pub fn spawn_until_listening(command: Command, log_file: &Path) -> (Child, String) {
    let (child, url, _) = spawn_until_listening_on_both(command, log_file);
    (child, url)
}

/// Like [`spawn_until_listening`], with the internal listener's URL too.
pub fn spawn_until_listening_on_both(mut command: Command, log_file: &Path) -> (Child, String, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().expect("spawn imap-sdc");
    let mut lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
    let mut internal_url = String::new();
    let url = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("imap-sdc internal listening on ") {
                    internal_url = url.trim().to_string();
                }
                if let Some(url) = line.strip_prefix("imap-sdc listening on ") {
                    break url.trim().to_string();
                }
            }
            _ => {
                let _ = child.kill();
                panic!(
                    "imap-sdc exited before listening; log:\n{}",
                    std::fs::read_to_string(log_file).unwrap_or_default()
                );
            }
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url, internal_url)
}

/// Both listeners of an in-process node on free ports, with their URLs (public, internal).
pub async fn bind_listeners() -> (imap_sdc::node::Listeners, String, String) {
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let internal = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = imap_sdc::node::reachable_url(&public, "http").unwrap();
    let internal_url = imap_sdc::node::reachable_url(&internal, "https").unwrap();
    (imap_sdc::node::Listeners { public, internal }, public_url, internal_url)
}

/// A channel to a node's internal listener presenting `caller`'s certificate from `cert_dir`
/// (a laptop node makes them in `<data_dir>/certs`).
pub fn channel_as(
    caller: mesh_runtime::authz::Caller,
    cert_dir: &Path,
    internal_url: &str,
) -> proto::clients::MeshChannel {
    let identity = mesh_runtime::tls::MeshIdentity::load(cert_dir, caller).expect("the node made its certificates");
    let settings = proto::clients::ClientSettings::default();
    proto::clients::mesh_channel_with_tls(internal_url, &settings, Some(&identity.client_tls())).unwrap()
}

/// A channel to a node's internal listener as an operator.
pub fn operator_channel(cert_dir: &Path, internal_url: &str) -> proto::clients::MeshChannel {
    channel_as(mesh_runtime::authz::Caller::Operator, cert_dir, internal_url)
}

/// Polls `condition` every 50 ms until it returns `Some`, or panics after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    wait_for_or_report(what, timeout, String::new, condition).await
}

/// [`wait_for`], whose panic after `timeout` also carries what `report` says then (e.g. the
/// processes' last log lines).
pub async fn wait_for_or_report<T, F, Fut>(
    what: &str,
    timeout: Duration,
    report: impl FnOnce() -> String,
    mut condition: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}\n{}", report());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A temporary directory named after its test (easy to find while it runs), removed on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let prefix = format!("imap-sdc-{label}-");
        TempDir(tempfile::Builder::new().prefix(&prefix).tempdir().expect("create temp dir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A small but valid CCSDS level-0 file: `count` packets of APID 1, each with a 4-byte MET
/// (SHCOARSE) and a 2-byte counter.
pub fn synthetic_level0(count: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    for index in 0..count {
        let apid: u16 = 1;
        bytes.extend_from_slice(&(0x0800 | apid).to_be_bytes()); // version 0, type 0, secondary header flag 1
        bytes.extend_from_slice(&(0xC000 | index).to_be_bytes()); // unsegmented, sequence count
        bytes.extend_from_slice(&5u16.to_be_bytes()); // 6 data bytes - 1
        bytes.extend_from_slice(&(480_000_000u32 + u32::from(index)).to_be_bytes());
        bytes.extend_from_slice(&(index * 3).to_be_bytes());
    }
    bytes
}
