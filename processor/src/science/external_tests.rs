//! External science run as a command: scripts written by the tests play the team's program.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::external::{ExternalScience, input_list_json, program_environment};
use tempfile::TempDir;

use super::fixture::{input, job, temp_dir};
use super::{Algorithm, InputFile, ProductOutput, ScienceError};
use crate::config::ExternalScienceConfig;

fn inputs() -> Vec<InputFile> {
    vec![
        input("imap_swapi_l2_sci_20250101_v001.cdf", b"l2 bytes".to_vec()),
        input("imap_mag_l1d_norm-dsrf_20250101_v002.cdf", b"mag bytes".to_vec()),
    ]
}

/// Runs `script` (sh) as the external program of a `swapi l3a proton-sw` job.
fn run_script(
    folder: &TempDir,
    script: &str,
    timeout: Duration,
    cancel_first: bool,
) -> Result<Vec<ProductOutput>, ScienceError> {
    let script_path = folder.path().join("science.sh");
    std::fs::write(&script_path, script).expect("writes script");
    let config = ExternalScienceConfig {
        instrument: "swapi".into(),
        level: "l3a".into(),
        descriptor: "*".into(),
        command: vec!["sh".into(), script_path.display().to_string(), "{input_list}".into(), "{date}".into()],
        timeout,
        pass_env: Vec::new(),
        limits: Default::default(),
    };
    let algorithm = ExternalScience::new(config, folder.path().join("work"));
    let (context, cancelled) = job("swapi", "l3a", "proton-sw");
    cancelled.store(cancel_first, Ordering::Relaxed);
    algorithm.run(&context, &inputs())
}

fn work_folders_left(folder: &TempDir) -> usize {
    std::fs::read_dir(folder.path().join("work")).map_or(0, |entries| entries.count())
}

#[test]
fn input_list_has_the_mission_format() {
    let (context, _) = job("swapi", "l3a", "proton-sw");
    let list = input_list_json(&context, &inputs());
    assert_eq!(
        list,
        serde_json::json!({
            "dependency": [
                {"type": "science", "files": ["imap_mag_l1d_norm-dsrf_20250101_v002.cdf"]},
                {"type": "science", "files": ["imap_swapi_l2_sci_20250101_v001.cdf"]},
            ],
            "version": {"proton-sw": {"major_version": 1, "minor_version": 1}},
        })
    );
}

#[test]
fn program_outputs_with_valid_names_become_products() {
    let folder = temp_dir("external-ok");
    let script = r#"
        set -e
        test -f imap_swapi_l2_sci_20250101_v001.cdf
        grep -q '"type":"science"' "$1"
        test "$2" = 20250101
        mkdir -p "$IMAP_SDC_OUTPUT_DIR/imap/swapi/l3a"
        cat imap_swapi_l2_sci_20250101_v001.cdf > "$IMAP_SDC_OUTPUT_DIR/imap/swapi/l3a/imap_swapi_l3a_proton-sw_20250101_v001.cdf"
        echo done
    "#;
    let outputs = run_script(&folder, script, Duration::from_secs(30), false).expect("program succeeds");
    assert_eq!(outputs.len(), 1);
    assert_eq!((outputs[0].descriptor.as_str(), outputs[0].extension.as_str()), ("proton-sw", "cdf"));
    assert_eq!(outputs[0].bytes, b"l2 bytes");
    assert_eq!(work_folders_left(&folder), 0, "the working folder is removed");
}

fn failure_message(result: Result<Vec<ProductOutput>, ScienceError>) -> String {
    match result {
        Err(error @ ScienceError::External { .. }) => error.to_string(),
        Err(other) => panic!("expected an external failure, got {other}"),
        Ok(_) => panic!("expected an external failure"),
    }
}

#[test]
fn badly_named_outputs_fail_the_job_with_the_name() {
    let folder = temp_dir("external-bad-name");
    let message = failure_message(run_script(
        &folder,
        "echo x > \"$IMAP_SDC_OUTPUT_DIR/result.cdf\"",
        Duration::from_secs(30),
        false,
    ));
    assert!(message.contains("result.cdf") && message.contains("invalid name"), "{message}");

    let other_level = "echo x > \"$IMAP_SDC_OUTPUT_DIR/imap_swapi_l2_sci_20250101_v001.cdf\"";
    let message = failure_message(run_script(&folder, other_level, Duration::from_secs(30), false));
    assert!(message.contains("not a science file of swapi l3a for 20250101"), "{message}");

    let message = failure_message(run_script(&folder, "echo nothing", Duration::from_secs(30), false));
    assert!(message.contains("wrote no output file"), "{message}");
}

#[test]
fn a_failing_program_is_reported_with_its_output() {
    let folder = temp_dir("external-fail");
    let message = failure_message(run_script(
        &folder,
        "echo working; echo 'no calibration table' >&2; exit 3",
        Duration::from_secs(30),
        false,
    ));
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains("stdout: working") && message.contains("stderr: no calibration table"), "{message}");
}

#[test]
fn a_program_past_its_timeout_is_killed() {
    let folder = temp_dir("external-timeout");
    let started = std::time::Instant::now();
    let message = failure_message(run_script(&folder, "echo started; exec sleep 30", Duration::from_secs(1), false));
    assert!(message.contains("timed out after 1s"), "{message}");
    assert!(started.elapsed().as_secs() < 10, "killed well before the program would end");
}

#[test]
fn a_cancelled_job_kills_its_program() {
    let folder = temp_dir("external-cancel");
    let started = std::time::Instant::now();
    let result = run_script(&folder, "exec sleep 30", Duration::from_secs(60), true);
    assert!(matches!(result, Err(ScienceError::Cancelled)));
    assert!(started.elapsed().as_secs() < 10);
    assert!(!Path::new(&folder.path().join("work")).read_dir().is_ok_and(|mut entries| entries.next().is_some()));
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let folder = temp_dir("external-missing");
    let config = ExternalScienceConfig {
        instrument: "swapi".into(),
        level: "l3a".into(),
        descriptor: "*".into(),
        command: vec!["/nonexistent/science-program".into()],
        timeout: Duration::from_secs(5),
        pass_env: Vec::new(),
        limits: Default::default(),
    };
    let (context, _) = job("swapi", "l3a", "proton-sw");
    let error =
        ExternalScience::new(config, folder.path().to_path_buf()).run(&context, &inputs()).err().expect("fails");
    assert!(
        error.to_string().contains("/nonexistent/science-program") && error.to_string().contains("cannot start"),
        "{error}"
    );
}

#[test]
fn program_environment_keeps_only_the_allow_list_and_what_the_config_passes() {
    let parent = [
        ("PATH", "/usr/bin"),
        ("HOME", "/home/sdc"),
        ("TZ", "UTC"),
        ("DATABASE_URL", "postgres://sdc:secret@db/sdc"),
        ("AWS_SECRET_ACCESS_KEY", "hunter2"),
        ("IMAP_SDC_DATABASE_URL", "postgres://sdc:secret@db/sdc"),
        ("IMAP_DATA_ACCESS_URL", "https://api.example.org"),
    ]
    .map(|(name, value)| (name.into(), value.into()));
    let names = |pass_env: &[String]| -> Vec<String> {
        program_environment(parent.clone(), pass_env)
            .into_iter()
            .map(|(name, _)| name.to_string_lossy().into())
            .collect()
    };
    assert_eq!(names(&[]), ["PATH", "HOME", "TZ"]);
    assert_eq!(names(&["IMAP_DATA_ACCESS_URL".into()]), ["PATH", "HOME", "TZ", "IMAP_DATA_ACCESS_URL"]);
}

#[test]
fn a_program_sees_none_of_the_nodes_other_variables() {
    // Cargo runs tests with CARGO_* set: a variable of the node the program must not see.
    assert!(std::env::var_os("CARGO_PKG_NAME").is_some(), "cargo sets CARGO_PKG_NAME for tests");
    let folder = temp_dir("external-environment");
    let seen = folder.path().join("environment.txt");
    let script = format!("env > '{}'\nexit 3\n", seen.display());
    let _ = run_script(&folder, &script, Duration::from_secs(10), false);
    let environment = std::fs::read_to_string(&seen).expect("the program wrote its environment");
    let names: Vec<&str> = environment.lines().filter_map(|line| line.split_once('=').map(|(name, _)| name)).collect();
    assert!(names.contains(&"PATH") && names.contains(&"IMAP_SDC_INPUT_LIST"), "{names:?}");
    assert!(!names.iter().any(|name| name.starts_with("CARGO")), "{names:?}");
    let unexpected: Vec<&&str> = names
        .iter()
        .filter(|name| !super::external::ALLOWED_ENVIRONMENT.contains(name) && !name.starts_with("IMAP_SDC_"))
        .filter(|name| !["PWD", "SHLVL", "_", "OLDPWD"].contains(name)) // set by sh itself
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}
