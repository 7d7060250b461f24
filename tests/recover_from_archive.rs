//! Recovery from total loss (issue 12, part 6): with only the archive left, `imap-sdc recover`
//! rebuilds the file tracker and the finished jobs, from the provenance record each product
//! carries beside it. The recovered files, versions and provenance equal the originals; the node
//! then makes nothing twice, and new arrivals flow as before.

mod gateway_common;
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use gateway_common::{Node, files_made_by_jobs, get_json, wait_for};
use serde_json::Value;

/// An hour of SWAPI science packets, one a minute, on the fixtures' day plus `day_offset` days.
fn swapi_level0(day_offset: u32) -> (String, Vec<u8>) {
    use processor::science::fixture::{met_of_job_day, swapi_science_packet};
    let start = met_of_job_day() + 86_400 * day_offset;
    let packets = (0..60u16).flat_map(|counter| swapi_science_packet(counter, start + 60 * u32::from(counter)));
    (format!("imap_swapi_l0_raw_202501{:02}_v001.pkts", 1 + day_offset), packets.collect())
}

/// Drops the day's L0 file into the node's inbox (written beside it, then moved in whole).
fn ingest(node: &Node, home: &std::path::Path, day_offset: u32) {
    let (name, bytes) = swapi_level0(day_offset);
    let file = home.join(&name);
    std::fs::write(&file, bytes).unwrap();
    let inbox = node.data_dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::rename(&file, inbox.join(&name)).unwrap();
}

/// The products of one day, once the chain has made all five (l1 sci, l2 sci, l3a ×2, l3b).
fn products_of_day(node: &Node, day: &str) -> Vec<Value> {
    let address = node.address();
    let query = format!("instrument=swapi&start_date={day}&end_date={day}");
    wait_for(
        &format!("the swapi chain for {day}"),
        Duration::from_secs(120),
        || Some(files_made_by_jobs(&address, &query)).filter(|files| files.len() >= 5),
        || format!("node log:\n{}", std::fs::read_to_string(&node.log).unwrap_or_default()),
    )
}

/// Waits until the day's five jobs have all succeeded (a job succeeds just after its outputs are
/// indexed).
fn wait_for_jobs_of_day(node: &Node, day: &str) {
    wait_for(
        &format!("the five swapi jobs of {day} to succeed"),
        Duration::from_secs(60),
        || Some(()).filter(|_| succeeded_jobs(node).values().filter(|job| job["date"] == day).count() >= 5),
        || format!("node log:\n{}", std::fs::read_to_string(&node.log).unwrap_or_default()),
    );
}

/// What must survive a loss: each tracked file's identity and provenance (not when it was indexed).
fn tracked_files(node: &Node) -> BTreeMap<String, Value> {
    let files = get_json(&node.address(), "/api/files?instrument=swapi&limit=1000");
    files
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            let kept = ["archive_key", "kind", "version", "size_bytes", "produced_by_job", "parent_files", "released"]
                .map(|field| (field.to_string(), file[field].clone()));
            (file["file_name"].as_str().unwrap().to_string(), Value::Object(kept.into_iter().collect()))
        })
        .collect()
}

/// Each succeeded job's product, version and outputs, by id.
fn succeeded_jobs(node: &Node) -> BTreeMap<String, Value> {
    let jobs = get_json(&node.address(), "/api/jobs?instrument=swapi&state=succeeded&limit=1000");
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|job| {
            let kept = ["product", "date", "repointing", "version", "inputs", "outputs"]
                .map(|field| (field.to_string(), job[field].clone()));
            (job["id"].as_str().unwrap().to_string(), Value::Object(kept.into_iter().collect()))
        })
        .collect()
}

fn recover(node_data_dir: &std::path::Path) -> String {
    let output = Command::new(support::binary()).args(["recover", "--data-dir"]).arg(node_data_dir).output().unwrap();
    assert!(output.status.success(), "recover: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_archive_alone_rebuilds_files_provenance_and_jobs() {
    let home = tempfile::tempdir().unwrap();
    let node = Node::start(home.path(), "all");
    ingest(&node, home.path(), 0);
    products_of_day(&node, "20250101");
    wait_for_jobs_of_day(&node, "20250101");
    let files_before = tracked_files(&node);
    let jobs_before = succeeded_jobs(&node);
    assert!(files_before.values().any(|file| file["produced_by_job"] != ""), "{files_before:?}");
    let data_dir = node.data_dir.clone();
    drop(node);

    // Total loss of the database: only the archive is left.
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("imap-sdc.sqlite") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let summary = recover(&data_dir);
    assert!(summary.contains(&format!("recovered {} files", files_before.len())), "{summary}");
    assert!(summary.contains(&format!("restored {} jobs", jobs_before.len())), "{summary}");
    // A second run finds everything in place.
    let again = recover(&data_dir);
    assert!(again.contains("(0 new to the tracker") && again.contains("restored 0 jobs"), "{again}");

    let node = Node::start(home.path(), "all");
    assert_eq!(tracked_files(&node), files_before, "files, versions and provenance as before the loss");
    assert_eq!(succeeded_jobs(&node), jobs_before, "the jobs that made them, as before the loss");

    // New arrivals flow; by the time the next day's chain is done the starter has replayed every
    // recovered event (one instrument's events are evaluated in order) and made nothing twice.
    ingest(&node, home.path(), 1);
    products_of_day(&node, "20250102");
    wait_for_jobs_of_day(&node, "20250102");
    let day_one = |files: &BTreeMap<String, Value>| -> Vec<String> {
        files.keys().filter(|name| name.contains("_20250101_")).cloned().collect()
    };
    assert_eq!(day_one(&tracked_files(&node)), day_one(&files_before), "no product of the first day made again");
    let jobs_after = succeeded_jobs(&node);
    let first_day_jobs = jobs_after.values().filter(|job| job["date"] == "20250101").count();
    assert_eq!(first_day_jobs, jobs_before.len(), "no job of the first day run again");
}
