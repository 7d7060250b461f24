//! The pipeline page in a real browser: headless Chromium loads it from a running node that has
//! processed an upload, and the screenshot and rendered DOM show queues, what waits for inputs,
//! jobs, files and the graph.
//! Ignored, with the reason, where Chromium is not installed.

mod gateway_common;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use gateway_common::{Node, get_json, http, wait_for};
use support::{TempDir, synthetic_level0};

const NAME: &str = "imap_swe_l0_raw_20240924_v001.0001.pkts";

fn chromium(profile: &Path, args: &[&str], url: &str) -> std::process::Output {
    Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .args(["--hide-scrollbars", "--window-size=1280,900", "--virtual-time-budget=8000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium")
}

/// Uploads a level-0 file through the presigned flow and waits until the pipeline made products.
fn feed_pipeline(node: &Node) {
    let key = node.create_key("page-test", "upload");
    let address = node.address();
    let (status, body) = http(&address, "GET", &format!("/upload/{NAME}"), &[("x-api-key", &key)]);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let url: String = serde_json::from_slice(&body).unwrap();
    let target = url.split_once(&address).unwrap().1;
    let bytes = synthetic_level0(40);
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    use std::io::{Read, Write};
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&bytes).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    assert_eq!(gateway_common::parse_response(&response).0, 200);
    wait_for(
        "the swe l1a job to succeed",
        Duration::from_secs(120),
        || {
            let jobs = get_json(&address, "/api/jobs");
            jobs.as_array()
                .unwrap()
                .iter()
                .any(|job| job["product"] == "swe l1a sci" && job["state"] == "succeeded")
                .then_some(())
        },
        || get_json(&address, "/api/jobs").to_string(),
    );
}

#[test]
#[cfg_attr(not(has_chromium), ignore = "needs chromium on PATH (apt-get install chromium)")]
fn the_pipeline_page_renders_in_headless_chromium() {
    let home = TempDir::new("page");
    let node = Node::start(home.path(), "all");
    feed_pipeline(&node);
    // SWE L3 needs MAG and SWAPI products this node never gets: once SWE L2 exists, L3 waits.
    let waiting = wait_for(
        "swe l3 to wait for its other instruments' inputs",
        Duration::from_secs(120),
        || {
            let queues = get_json(&node.address(), "/api/queues");
            queues.as_array().unwrap().iter().find(|queue| queue["instrument"] == "swe").and_then(|queue| {
                queue["waiting"]
                    .as_array()?
                    .iter()
                    .filter_map(|entry| entry.as_str())
                    .find_map(|entry| entry.contains("mag l1d norm-dsrf").then(|| entry.to_string()))
            })
        },
        || get_json(&node.address(), "/api/queues").to_string(),
    );
    let (waiting_run, waits_for) = waiting.split_once(": ").unwrap();

    let page = format!("{}/", node.url);
    let dom = chromium(&home.path().join("profile-dom"), &["--dump-dom"], &page);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom_text.contains("IMAP science data pipeline"),
        "chromium ({}) gave no page: {dom_text}\n{}",
        dom.status,
        String::from_utf8_lossy(&dom.stderr)
    );
    assert!(dom_text.contains(NAME), "recent files missing: {dom_text}");
    assert!(dom_text.contains("swe l1a sci") && dom_text.contains("succeeded"), "recent jobs missing: {dom_text}");
    // The graph opens on the instrument that ran last, its products coloured as succeeded.
    assert!(
        dom_text.contains("Waiting for inputs") && dom_text.contains(waiting_run) && dom_text.contains(waits_for),
        "waiting run {waiting:?} missing: {dom_text}"
    );
    assert!(dom_text.contains("<svg") && dom_text.contains("swe l1a sci succeeded"), "graph missing: {dom_text}");

    let screenshot = home.path().join("page.png");
    let shot = chromium(&home.path().join("profile-shot"), &[&format!("--screenshot={}", screenshot.display())], &page);
    assert!(screenshot.exists(), "no screenshot: {}", String::from_utf8_lossy(&shot.stderr));
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 900));
    // A blank 1280x900 page compresses to a few KiB; tables, text and the graph make it far larger.
    assert!(png.len() > 40_000, "screenshot looks blank: {} bytes", png.len());
    if let Ok(keep) = std::env::var("GATEWAY_SCREENSHOT") {
        std::fs::copy(&screenshot, keep).unwrap();
    }
    println!("screenshot: {} bytes", png.len());
}
