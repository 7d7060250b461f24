//! The mission program's conventions, with shell scripts playing `imap_cli`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::external::ALLOWED_ENVIRONMENT;
use super::fixture::{input, job, temp_dir};
use super::mission_program::{MissionProgram, dependency_json, python_traceback};
use super::{Algorithm, InputFile, ProductOutput, ScienceError};
use crate::config::MissionProgramConfig;

const L0: &str = "imap_swapi_l0_raw_20250101_v001.pkts";
const HK: &str = "imap_swapi_l1a_hk_20250101_v001.cdf";

fn inputs() -> Vec<InputFile> {
    vec![
        input(L0, b"telemetry".to_vec()),
        input("naif0012.tls", b"leapseconds".to_vec()),
        input("imap_sclk_0000.tsc", b"clock".to_vec()),
    ]
}

/// Runs `script` (sh) as the mission program of a `swapi l1 hk` job; `$RECORD` is a folder the
/// script may leave evidence in.
fn run_script(
    folder: &TempDir,
    script: &str,
    timeout: Duration,
    cancel_first: bool,
) -> Result<Vec<ProductOutput>, ScienceError> {
    let script_path = folder.path().join("imap_cli.sh");
    std::fs::write(&script_path, script).expect("writes script");
    let record = folder.path().join("record");
    std::fs::create_dir_all(&record).expect("record folder");
    let config = MissionProgramConfig {
        instrument: "swapi".into(),
        level: "l1".into(),
        descriptor: "*".into(),
        command: vec!["sh".into(), script_path.display().to_string()],
        timeout,
        pass_env: Vec::new(),
        env: [("RECORD".to_string(), record.display().to_string())].into(),
        limits: Default::default(),
        container: None,
    };
    let program = MissionProgram::new(config, folder.path().join("work"));
    let (context, cancelled) = job("swapi", "l1", "hk");
    cancelled.store(cancel_first, Ordering::Relaxed);
    program.run(&context, &inputs())
}

fn work_folders_left(folder: &TempDir) -> usize {
    std::fs::read_dir(folder.path().join("work")).map_or(0, |entries| entries.count())
}

fn recorded(folder: &TempDir, name: &str) -> String {
    std::fs::read_to_string(folder.path().join("record").join(name)).unwrap_or_default()
}

#[test]
fn dependency_json_has_one_entry_per_source_and_one_for_all_kernels() {
    let mut files = inputs();
    files.push(input(HK, b"hk".to_vec()));
    files.push(input("imap_swapi_esa-unit-conversion_20250101_v001.csv", b"table".to_vec()));
    assert_eq!(
        dependency_json(&files),
        serde_json::json!({"dependency": [
            {"type": "ancillary", "files": ["imap_swapi_esa-unit-conversion_20250101_v001.csv"]},
            {"type": "science", "files": [L0]},
            {"type": "science", "files": [HK]},
            {"type": "spice", "files": ["naif0012.tls", "imap_sclk_0000.tsc"]},
        ]})
    );
}

#[test]
fn program_sees_the_archive_layout_the_mission_arguments_and_only_allowed_variables() {
    let folder = temp_dir("mission-ok");
    let script = r#"
        set -e
        printf '%s\n' "$@" > "$RECORD/arguments"
        env > "$RECORD/environment"
        test "$(cat "$IMAP_DATA_DIR/imap/swapi/l0/2025/01/imap_swapi_l0_raw_20250101_v001.pkts")" = telemetry
        test -f "$IMAP_DATA_DIR/imap/spice/lsk/naif0012.tls"
        test -f "$IMAP_DATA_DIR/imap/spice/sclk/imap_sclk_0000.tsc"
        for level in l1a l1b; do
            mkdir -p "$IMAP_DATA_DIR/imap/swapi/$level/2025/01"
            echo "$level" > "$IMAP_DATA_DIR/imap/swapi/$level/2025/01/imap_swapi_${level}_hk_20250101_v001.cdf"
        done
        echo "Processing complete"
    "#;
    let outputs = run_script(&folder, script, Duration::from_secs(30), false).expect("program succeeds");

    let made: Vec<(Option<&str>, &str, &[u8])> = outputs
        .iter()
        .map(|output| (output.data_level.as_deref(), output.descriptor.as_str(), output.bytes.as_slice()))
        .collect();
    assert_eq!(made, [(Some("l1a"), "hk", &b"l1a\n"[..]), (Some("l1b"), "hk", &b"l1b\n"[..])]);
    assert!(outputs[0].notes.iter().any(|note| note.contains("Processing complete")), "{:?}", outputs[0].notes);

    let arguments: Vec<String> = recorded(&folder, "arguments").lines().map(String::from).collect();
    let flags: Vec<&str> = arguments.iter().map(String::as_str).take(10).collect();
    assert_eq!(
        flags,
        [
            "--instrument",
            "swapi",
            "--data-level",
            "l1",
            "--descriptor",
            "hk",
            "--start-date",
            "20250101",
            "--version",
            "v001"
        ]
    );
    assert_eq!(arguments[10], "--dependency");
    let dependency: serde_json::Value = serde_json::from_str(&arguments[11]).expect("dependency is json");
    assert_eq!(dependency, dependency_json(&inputs()));

    let environment = recorded(&folder, "environment");
    let names: Vec<&str> = environment.lines().filter_map(|line| line.split_once('=')).map(|(name, _)| name).collect();
    // What sh adds by itself, and what the executor sets.
    let expected_extra = ["PWD", "SHLVL", "_", "OLDPWD", "HOME", "TMPDIR", "IMAP_DATA_DIR", "RECORD"];
    let unexpected: Vec<&&str> =
        names.iter().filter(|name| !ALLOWED_ENVIRONMENT.contains(name) && !expected_extra.contains(name)).collect();
    assert!(unexpected.is_empty(), "variables leaked into the program: {unexpected:?}");
    assert!(std::env::var("CARGO_MANIFEST_DIR").is_ok() && !names.contains(&"CARGO_MANIFEST_DIR"));
    assert_eq!(work_folders_left(&folder), 0, "the working folder is removed");
}

#[test]
fn a_program_that_raises_fails_with_its_traceback_and_returns_nothing_it_wrote() {
    let folder = temp_dir("mission-raises");
    let script = r#"
        mkdir -p "$IMAP_DATA_DIR/imap/swapi/l1a/2025/01"
        echo half > "$IMAP_DATA_DIR/imap/swapi/l1a/2025/01/imap_swapi_l1a_hk_20250101_v001.cdf"
        echo "Processing SWAPI l1"
        echo 'Traceback (most recent call last):' >&2
        echo '  File "cli.py", line 576, in process' >&2
        echo 'ValueError: Tried to read beyond the end of the packet data' >&2
        exit 1
    "#;
    let error = run_script(&folder, script, Duration::from_secs(30), false).err().expect("program raised");
    let ScienceError::MissionProgram { reason, traceback, log_tail, .. } = &error else {
        panic!("expected a mission program failure, got {error}");
    };
    assert!(reason.contains("exit status: 1"), "{reason}");
    assert!(traceback.starts_with("Traceback") && traceback.ends_with("end of the packet data"), "{traceback}");
    assert!(log_tail.contains("Processing SWAPI l1"), "{log_tail}");
    assert!(error.to_string().contains("ValueError"), "the job's error names the exception: {error}");
    assert_eq!(error.program_log(), Some(log_tail.as_str()));
    assert_eq!(work_folders_left(&folder), 0, "nothing half-written is left");
}

#[test]
fn a_product_of_another_instrument_fails_the_job() {
    let folder = temp_dir("mission-foreign");
    let script = r#"
        mkdir -p "$IMAP_DATA_DIR/imap/mag/l1a/2025/01"
        echo x > "$IMAP_DATA_DIR/imap/mag/l1a/2025/01/imap_mag_l1a_norm-mago_20250101_v001.cdf"
    "#;
    let error = run_script(&folder, script, Duration::from_secs(30), false).err().expect("foreign output");
    assert!(error.to_string().contains("imap_mag_l1a_norm-mago_20250101_v001.cdf"), "{error}");
}

#[test]
fn a_program_that_writes_nothing_fails() {
    let folder = temp_dir("mission-nothing");
    let error = run_script(&folder, "exit 0", Duration::from_secs(30), false).err().expect("no product");
    assert!(error.to_string().contains("wrote no product"), "{error}");
}

/// Whether a process is gone (or a zombie waiting for its new parent to reap it).
fn process_ended(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => true,
    }
}

fn wait_until(deadline: Duration, condition: impl Fn() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let folder = temp_dir("mission-timeout");
    let script = r#"
        sleep 60 &
        echo $! > "$RECORD/grandchild"
        echo started
        sleep 60
    "#;
    let started = Instant::now();
    let error = run_script(&folder, script, Duration::from_millis(500), false).err().expect("times out");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(error.to_string().contains("timed out after 500ms"), "{error}");
    assert!(error.program_log().is_some_and(|log| log.contains("started")), "{error:?}");
    let grandchild = recorded(&folder, "grandchild").trim().to_string();
    assert!(!grandchild.is_empty(), "the script recorded its background process");
    assert!(
        wait_until(Duration::from_secs(10), || process_ended(&grandchild)),
        "background sleep {grandchild} still runs"
    );
}

#[test]
fn a_cancelled_job_stops_the_program() {
    let folder = temp_dir("mission-cancel");
    let error = run_script(&folder, "sleep 60", Duration::from_secs(60), true).err().expect("cancelled");
    assert!(matches!(error, ScienceError::Cancelled), "{error}");
    assert_eq!(work_folders_left(&folder), 0);
}

#[test]
fn traceback_is_the_last_one_to_the_end() {
    let text = "noise\nTraceback (most recent call last):\n  old\nKeyError: 1\nmore\nTraceback (most recent call last):\n  File x\nValueError: y\n";
    assert_eq!(python_traceback(text), "Traceback (most recent call last):\n  File x\nValueError: y");
    assert_eq!(python_traceback("all fine"), "");
}

#[test]
fn mission_programs_win_over_external_programs_and_builtin_rules_win_over_both() {
    let config: crate::config::ProcessorConfig = toml::from_str(
        r#"
        [[mission_program]]
        instrument = "swapi"
        level = "*"
        [[external]]
        instrument = "swapi"
        level = "l2"
        command = ["true"]
        [[builtin]]
        instrument = "swapi"
        level = "l1a"
        "#,
    )
    .expect("config parses");
    let registry = super::Registry::from_config(&config).expect("registry");
    let chosen = |level: &str, descriptor: &str| {
        let product = proto::pb::ProductKey {
            instrument: "swapi".into(),
            data_level: level.into(),
            descriptor: descriptor.into(),
        };
        registry.select(&product).map(|algorithm| algorithm.name().to_string()).unwrap_or_default()
    };
    assert_eq!(chosen("l1", "hk"), "mission-program");
    assert_eq!(chosen("l2", "sci"), "mission-program");
    assert_eq!(chosen("l1a", "sci"), "built-in");
    let mag = proto::pb::ProductKey { instrument: "mag".into(), data_level: "l1a".into(), descriptor: "all".into() };
    assert_eq!(registry.select(&mag).map(|algorithm| algorithm.name().to_string()).as_deref(), Some("xtce-decode-l1a"));
}

#[test]
fn a_failed_mission_program_is_retried_and_its_output_goes_to_the_job_log() {
    let failure = ScienceError::MissionProgram {
        program: "imap_cli".into(),
        reason: "exited with exit status: 1".into(),
        traceback: "Traceback (most recent call last):\nValueError: x".into(),
        log_tail: "Processing SWAPI l1".into(),
    };
    let error = crate::error::ProcessorError::Science(failure);
    assert!(error.is_retryable(), "retried per the starter's policy, then dead");
    assert_eq!(error.program_log(), Some("Processing SWAPI l1"));
    let bad_input = crate::error::ProcessorError::Science(ScienceError::Failed("bad packet".into()));
    assert!(!bad_input.is_retryable() && bad_input.program_log().is_none());
}
