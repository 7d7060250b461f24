//! The binary decodes level-0 files whatever its working directory (issue 13, part 7): a node
//! started in a fresh, empty folder, with no packet-definition folder configured, decodes a
//! SWAPI L0 file with its built-in definition, and the built-in mission graph carries the
//! products on through L2 and L3a to L3b. The real SWAPI file is used when the build found the
//! mission's data; otherwise SWAPI science packets built by the processor's fixtures.

mod gateway_common;
mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use gateway_common::{files_made_by_jobs_as, real_level0_dir, wait_for};

const REAL_SWAPI: &str = "imap_swapi_l0_raw_20240924_v001.pkts";

/// The real SWAPI L0 file, when the build script found the mission's data (`cfg(has_mission_data)`).
fn real_swapi_level0() -> Option<PathBuf> {
    real_level0_dir().map(|l0| l0.join(REAL_SWAPI)).filter(|file| file.is_file())
}

/// The L0 file to ingest (name and bytes) and the L1 descriptors its packets give.
fn swapi_level0() -> (String, Vec<u8>, &'static [&'static str]) {
    if let Some(real) = real_swapi_level0() {
        return (REAL_SWAPI.to_string(), std::fs::read(real).expect("reads the real file"), &["aut", "hk", "sci"]);
    }
    println!("no real level-0 data beside this checkout: ingesting synthetic SWAPI science packets");
    // Two hours of packets, one a minute, on the fixtures' day (2025-01-01).
    use processor::science::fixture::{met_of_job_day, swapi_science_packet};
    let packets =
        (0..120u16).flat_map(|counter| swapi_science_packet(counter, met_of_job_day() + 60 * u32::from(counter)));
    ("imap_swapi_l0_raw_20250101_v001.pkts".to_string(), packets.collect(), &["sci"])
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
fn a_node_started_in_an_empty_folder_turns_swapi_level0_into_l3b() {
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

    let (name, bytes, l1_descriptors) = swapi_level0();
    std::fs::write(home.path().join(&name), bytes).expect("writes the l0 file");
    let mut ingest = Command::new(support::binary());
    ingest.current_dir(home.path()).args(["ingest", &name, "--server", &node.internal_url, "--data-dir", "d"]);
    without_configuration(&mut ingest);
    let ingest = ingest.output().expect("runs ingest");
    assert!(ingest.status.success(), "ingest failed: {}", String::from_utf8_lossy(&ingest.stderr));

    let mut expected: BTreeSet<(String, String)> =
        l1_descriptors.iter().map(|descriptor| ("l1".to_string(), descriptor.to_string())).collect();
    for (level, descriptor) in [("l2", "sci"), ("l3a", "proton-sw"), ("l3a", "alpha-sw"), ("l3b", "combined")] {
        expected.insert((level.to_string(), descriptor.to_string()));
    }
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
    let products = || -> BTreeSet<(String, String)> {
        files_made_by_jobs_as(&address, "instrument=swapi", &[("x-api-key", &reader)])
            .iter()
            .filter_map(|file| {
                let name = file["file_name"].as_str()?;
                let mut parts = name.split('_').skip(2);
                Some((parts.next()?.to_string(), parts.next()?.to_string()))
            })
            .collect()
    };
    let made = wait_for(
        "swapi products from l1 to l3b",
        Duration::from_secs(120),
        || Some(products()).filter(|made| expected.is_subset(made)),
        || format!("made so far: {:?}; node log:\n{}", products(), std::fs::read_to_string(&log).unwrap_or_default()),
    );
    assert_eq!(made, expected, "exactly the products of the mission graph");
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(log_text.contains("built-in swapi.xml"), "the definition came from the binary:\n{log_text}");
    drop(node);
}
