//! Helpers of the gateway's end-to-end tests: a node in its own working directory, API keys made
//! with the real `imap-sdc keys` command (the test crate also declares `mod support`), the real `imap-data-access` CLI, and raw HTTP requests.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::binary;

/// `imap-sdc serve --roles ROLES` in `home` (its data in `home/data`, the test SWE packet
/// definition of `tests/fixtures/xtce` beside the built-in ones), killed on drop.
pub struct Node {
    pub child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

impl Node {
    pub fn start(home: &Path, roles: &str) -> Node {
        Node::start_with_env(home, roles, &[])
    }

    /// As [`Node::start`], with extra environment variables, e.g. `IMAP_SDC_GATEWAY__*` settings.
    /// The status API is open (`status_access = open`) unless they say otherwise: these tests
    /// watch the pipeline through it; the gateway's own tests check the keys it needs. The graph
    /// is the project's (`builtin_graph = "project"`): these tests count the products the
    /// built-in science makes of an upload at every level, which the mission's graph leaves to
    /// the instrument teams' programs.
    pub fn start_with_env(home: &Path, roles: &str, environment: &[(&str, &str)]) -> Node {
        let data_dir = home.join("data");
        let log = home.join("node.log");
        let mut child = Command::new(binary())
            .current_dir(home)
            .args(["serve", "--roles", roles, "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .env("IMAP_SDC_PROCESSOR__XTCE_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xtce"))
            .env("IMAP_SDC_GATEWAY__STATUS_ACCESS", "open")
            .env("IMAP_SDC_DEPSVC__BUILTIN_GRAPH", "project")
            .envs(environment.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn imap-sdc");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("imap-sdc listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => panic!("imap-sdc exited before listening: {}", std::fs::read_to_string(&log).unwrap_or_default()),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Node { child, url, data_dir, log }
    }

    /// `imap-sdc keys create`; returns the secret.
    pub fn create_key(&self, name: &str, scope: &str) -> String {
        let output = Command::new(binary())
            .args(["keys", "--data-dir"])
            .arg(&self.data_dir)
            .args(["create", "--name", name, "--scope", scope])
            .output()
            .unwrap();
        assert!(output.status.success(), "keys create failed: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("secret"))
            .map(|secret| secret.trim().to_string())
            .expect("a secret line")
    }

    pub fn address(&self) -> String {
        self.url.trim_start_matches("http://").to_string()
    }

    pub fn archive_file(&self, key: &str) -> PathBuf {
        self.data_dir.join("archive").join(key)
    }

    /// Peak resident memory of the node so far (VmHWM), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the unmodified `imap-data-access` CLI against `url`, with `api_key` (or anonymously).
pub fn client(url: &str, data_dir: &Path, api_key: Option<&str>, args: &[&str]) -> Output {
    let credentials: Vec<(&str, &str)> = api_key.map(|key| ("IMAP_API_KEY", key)).into_iter().collect();
    client_with(url, data_dir, &credentials, args)
}

/// The CLI with explicit credential variables, e.g. `IMAP_ACCESS_TOKEN` for the `/authorized` routes.
pub fn client_with(url: &str, data_dir: &Path, credentials: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new("python3")
        .args(["-m", "imap_data_access.cli"])
        .args(args)
        .env("IMAP_DATA_ACCESS_URL", url)
        .env("IMAP_DATA_DIR", data_dir)
        .env_remove("IMAP_API_KEY")
        .env_remove("IMAP_ACCESS_TOKEN")
        .envs(credentials.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run python3 -m imap_data_access.cli")
}

pub fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// One raw HTTP/1.1 request, sent exactly as written (no client-side path normalisation).
pub fn http(address: &str, method: &str, target: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    parse_response(&response)
}

/// Status and de-chunked body of a complete HTTP/1.1 response.
pub fn parse_response(response: &[u8]) -> (u16, Vec<u8>) {
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").expect("http header end");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).expect("http status");
    let mut body = response[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    while let Some(line_end) = body.windows(2).position(|window| window == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..line_end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        plain.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
        body = &body[line_end + 2 + size + 2..];
    }
    plain
}

/// The status API's science files made by jobs (not uploaded), for a `/api/files` query string.
pub fn files_made_by_jobs(address: &str, query: &str) -> Vec<serde_json::Value> {
    files_made_by_jobs_as(address, query, &[])
}

/// As [`files_made_by_jobs`], with headers (`x-api-key`, where the status API needs a key).
pub fn files_made_by_jobs_as(address: &str, query: &str, headers: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let files = get_json_as(address, &format!("/api/files?{query}"), headers);
    files
        .as_array()
        .unwrap()
        .iter()
        .filter(|file| !file["produced_by_job"].as_str().unwrap_or_default().is_empty())
        .cloned()
        .collect()
}

pub fn get_json(address: &str, target: &str) -> serde_json::Value {
    get_json_as(address, target, &[])
}

/// As [`get_json`], with headers (`x-api-key`).
pub fn get_json_as(address: &str, target: &str, headers: &[(&str, &str)]) -> serde_json::Value {
    let (status, body) = http(address, "GET", target, headers);
    assert_eq!(status, 200, "GET {target}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// Polls `condition` every 100 ms until it returns `Some`, or panics with `describe()` after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut condition: impl FnMut() -> Option<T>,
    describe: impl Fn() -> String,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", describe());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The mission's level-0 files, when the build script found the mission's data
/// (`cfg(has_mission_data)`: `$IMAP_SHARED_DIR/data`, else `shared/data` above the checkout).
pub fn real_level0_dir() -> Option<PathBuf> {
    option_env!("MISSION_DATA_DIR").map(|data| Path::new(data).join("l0"))
}
