//! The binary makes products on its defaults alone, whatever its working directory (issue 13,
//! part 7; issue 9): a node started in a fresh, empty folder, with no configuration, runs the
//! mission's graph, puts the two time kernels it ships into its inbox, decodes a SWAPI L0 file
//! with its built-in definition into the mission's `l1a hk` and `l1 sci` products (kernels
//! among their parents), and shows L2 science waiting for its ancillary tables. The real SWAPI
//! file is used when the build found the mission's data; otherwise SWAPI science and
//! housekeeping packets built by the processor's fixtures.

mod gateway_common;
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gateway_common::{files_made_by_jobs_as, get_json_as, real_level0_dir, wait_for};

const REAL_SWAPI: &str = "imap_swapi_l0_raw_20240924_v001.pkts";

/// The real SWAPI L0 file, when the build script found the mission's data (`cfg(has_mission_data)`).
fn real_swapi_level0() -> Option<PathBuf> {
    real_level0_dir().map(|l0| l0.join(REAL_SWAPI)).filter(|file| file.is_file())
}

/// The L0 file to ingest (name and bytes) and its day.
fn swapi_level0() -> (String, Vec<u8>, &'static str) {
    if let Some(real) = real_swapi_level0() {
        return (REAL_SWAPI.to_string(), std::fs::read(real).expect("reads the real file"), "20240924");
    }
    println!("no real level-0 data beside this checkout: ingesting synthetic SWAPI packets");
    // Two hours of science and housekeeping packets, one a minute, on the fixtures' day (2025-01-01).
    use processor::science::fixture::{met_of_job_day, swapi_housekeeping_packet, swapi_science_packet};
    let packets = (0..120u16).flat_map(|counter| {
        let met = met_of_job_day() + 60 * u32::from(counter);
        [swapi_science_packet(counter, met), swapi_housekeeping_packet(counter, met)].concat()
    });
    ("imap_swapi_l0_raw_20250101_v001.pkts".to_string(), packets.collect(), "20250101")
}

/// Removes every `IMAP_SDC_*` variable (a config file, settings such as `processor.xtce_dir`): the
/// node runs on its defaults alone.
fn without_configuration(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("IMAP_SDC_") {
            command.env_remove(name);
        }
    }
}

#[test]
fn a_node_started_in_an_empty_folder_makes_the_mission_graphs_swapi_l1_on_its_defaults() {
    let home = tempfile::tempdir().expect("temp dir");
    let log = home.path().join("node.log");
    let mut serve = Command::new(support::binary());
    serve
        .current_dir(home.path())
        .args(["serve", "--roles", "all", "--listen", "127.0.0.1:0", "--data-dir", "d"])
        .stderr(std::fs::File::create(&log).expect("log file"));
    without_configuration(&mut serve);
    let (child, url, internal_url) = support::spawn_until_listening_on_both(serve, &log);
    let node = support::Node { child, url, internal_url };

    let (name, bytes, day) = swapi_level0();
    std::fs::write(home.path().join(&name), bytes).expect("writes the l0 file");
    let mut ingest = Command::new(support::binary());
    ingest.current_dir(home.path()).args(["ingest", &name, "--server", &node.internal_url, "--data-dir", "d"]);
    without_configuration(&mut ingest);
    let ingest = ingest.output().expect("runs ingest");
    assert!(ingest.status.success(), "ingest failed: {}", String::from_utf8_lossy(&ingest.stderr));

    // On its defaults the status API wants a key with the read scope.
    let mut keys = Command::new(support::binary());
    keys.current_dir(home.path()).args(["keys", "--data-dir", "d", "create", "--name", "watcher", "--scope", "read"]);
    without_configuration(&mut keys);
    let created = keys.output().expect("runs keys create");
    assert!(created.status.success(), "keys create failed: {}", String::from_utf8_lossy(&created.stderr));
    let created = String::from_utf8_lossy(&created.stdout).to_string();
    let reader =
        created.lines().find_map(|line| line.strip_prefix("secret")).expect("a secret line").trim().to_string();
    let address = node.url.trim_start_matches("http://").to_string();
    let as_reader = [("x-api-key", reader.as_str())];
    let made = || files_made_by_jobs_as(&address, "instrument=swapi", &as_reader);
    let level_and_descriptor = |file: &serde_json::Value| -> Option<(String, String)> {
        let mut parts = file["file_name"].as_str()?.split('_').skip(2);
        Some((parts.next()?.to_string(), parts.next()?.to_string()))
    };
    let expected: BTreeSet<(String, String)> = [("l1a", "hk"), ("l1", "sci")]
        .iter()
        .map(|(level, descriptor)| (level.to_string(), descriptor.to_string()))
        .collect();
    let describe =
        || format!("made so far: {:?}; node log:\n{}", made(), std::fs::read_to_string(&log).unwrap_or_default());
    let products = wait_for(
        "the mission graph's swapi l1a hk and l1 sci",
        Duration::from_secs(120),
        || {
            Some(made()).filter(|files| {
                expected.iter().all(|key| files.iter().any(|file| level_and_descriptor(file).as_ref() == Some(key)))
            })
        },
        describe,
    );
    let kinds: BTreeSet<(String, String)> = products.iter().filter_map(level_and_descriptor).collect();
    assert_eq!(kinds, expected, "exactly what the built-in science makes of the mission graph's SWAPI jobs");
    for product in &products {
        let parents: Vec<&str> =
            product["parent_files"].as_array().expect("parents").iter().filter_map(|parent| parent.as_str()).collect();
        assert!(
            parents.contains(&"naif0012.tls")
                && parents.contains(&"imap_sclk_0000.tsc")
                && parents.contains(&name.as_str()),
            "{}: the shipped kernels and the level-0 file are its parents: {parents:?}",
            product["file_name"]
        );
    }

    // L2 science needs two ancillary tables nobody gave: it waits, and says for what.
    let waiting = wait_for(
        "swapi l2 sci to wait for its ancillary tables",
        Duration::from_secs(30),
        || {
            let queues = get_json_as(&address, "/api/queues", &as_reader);
            let swapi = queues.as_array()?.iter().find(|queue| queue["instrument"] == "swapi")?.clone();
            let prefix = format!("swapi l2 sci {day}");
            swapi["waiting"]
                .as_array()?
                .iter()
                .filter_map(|run| run.as_str())
                .find(|run| run.starts_with(&prefix))
                .map(str::to_string)
        },
        || format!("queues: {}", get_json_as(&address, "/api/queues", &as_reader)),
    );
    assert!(waiting.contains("ancillary swapi esa-unit-conversion"), "{waiting}");

    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("built-in swapi.xml"), "the definition came from the binary:\n{log_text}");
    assert!(log_text.contains("default kernel put into the inbox"), "the kernels' arrival is logged:\n{log_text}");
    drop(node);
}
