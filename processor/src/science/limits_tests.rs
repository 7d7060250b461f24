//! Memory, CPU-time and priority limits of science programs run as processes, with shell
//! scripts that allocate too much, spin, or report their niceness; and the limits' config.

use std::time::{Duration, Instant};

use mesh_runtime::config::Problems;
use mesh_runtime::config::byte_size::ByteSize;
use tempfile::TempDir;

use super::external::ExternalScience;
use super::fixture::{input, job, temp_dir};
use super::limits::limit_met;
use super::mission_program::MissionProgram;
use super::{Algorithm, InputFile, ProductOutput, ScienceError};
use crate::config::{ExternalScienceConfig, MissionProgramConfig, ProcessorConfig, ResourceLimits};

const SMALL_MEMORY: ByteSize = ByteSize(64 << 20);
/// What a successful `swapi l1 hk` run writes.
const WRITE_PRODUCT: &str = r#"
    mkdir -p "$IMAP_DATA_DIR/imap/swapi/l1a/2025/01"
    echo made > "$IMAP_DATA_DIR/imap/swapi/l1a/2025/01/imap_swapi_l1a_hk_20250101_v001.cdf"
"#;

fn inputs() -> Vec<InputFile> {
    vec![input("imap_swapi_l0_raw_20250101_v001.pkts", b"telemetry".to_vec())]
}

/// Runs `script` (sh) as the mission program of a `swapi l1 hk` job with `limits`; `$RECORD` is
/// a folder the script may leave evidence in.
fn run_limited(folder: &TempDir, script: &str, limits: ResourceLimits) -> Result<Vec<ProductOutput>, ScienceError> {
    let script_path = folder.path().join("imap_cli.sh");
    std::fs::write(&script_path, script).expect("writes script");
    let record = folder.path().join("record");
    std::fs::create_dir_all(&record).expect("record folder");
    let config = MissionProgramConfig {
        command: vec!["sh".into(), script_path.display().to_string()],
        env: [("RECORD".to_string(), record.display().to_string())].into(),
        limits,
        ..swapi_level1()
    };
    let (context, _) = job("swapi", "l1", "hk");
    MissionProgram::new(config, folder.path().join("work")).run(&context, &inputs())
}

/// A `swapi l1` rule with the defaults.
fn swapi_level1() -> MissionProgramConfig {
    toml::from_str("instrument = \"swapi\"\nlevel = \"l1\"").expect("rule parses")
}

fn memory_limit() -> ResourceLimits {
    ResourceLimits { memory: Some(SMALL_MEMORY), ..ResourceLimits::default() }
}

#[test]
fn a_program_past_its_memory_limit_fails_saying_so_and_one_within_it_runs() {
    let folder = temp_dir("limits-memory");
    // dd allocates its block before copying: 256 MiB is past the limit, 4 MiB within it.
    let greedy = "dd if=/dev/zero of=/dev/null bs=256M count=1";
    let error = run_limited(&folder, greedy, memory_limit()).err().expect("allocation past the limit fails");
    let ScienceError::MissionProgram { reason, log_tail, .. } = &error else {
        panic!("expected a mission program failure, got {error}");
    };
    assert!(reason.starts_with("memory limit 64MiB exceeded (exited with exit status: 1)"), "{reason}");
    assert!(log_tail.contains("memory exhausted"), "the program's own words are kept: {log_tail}");

    let modest = format!("dd if=/dev/zero of=/dev/null bs=4M count=1 2>/dev/null\n{WRITE_PRODUCT}");
    let outputs = run_limited(&folder, &modest, memory_limit()).expect("within the limit it runs");
    assert_eq!(outputs.len(), 1);
}

#[test]
fn a_program_past_its_cpu_time_is_killed_saying_so() {
    let folder = temp_dir("limits-cpu");
    let limits = ResourceLimits { cpu_time: Some(Duration::from_secs(1)), ..ResourceLimits::default() };
    let started = Instant::now();
    let error = run_limited(&folder, "echo spinning\nwhile :; do :; done", limits).err().expect("killed");
    let ScienceError::MissionProgram { reason, log_tail, .. } = &error else {
        panic!("expected a mission program failure, got {error}");
    };
    assert!(reason.starts_with("cpu time limit 1s exceeded"), "{reason}");
    assert!(reason.contains("SIGXCPU"), "{reason}");
    assert!(log_tail.contains("spinning"), "{log_tail}");
    // Well before the 60 s timeout: the kernel stopped it, not the processor.
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[test]
fn nice_lowers_the_priority_of_the_program_and_what_it_starts() {
    let folder = temp_dir("limits-nice");
    let limits = ResourceLimits { nice: Some(10), ..ResourceLimits::default() };
    let script = format!("nice > \"$RECORD/niceness\"\n{WRITE_PRODUCT}");
    run_limited(&folder, &script, limits).expect("runs");
    let niceness = std::fs::read_to_string(folder.path().join("record/niceness")).expect("recorded");
    assert_eq!(niceness.trim(), "10");
}

#[test]
fn a_limited_program_that_cannot_be_found_fails_with_the_shells_words() {
    let folder = temp_dir("limits-missing");
    let config = MissionProgramConfig {
        command: vec!["/nonexistent/imap_cli".into()],
        limits: memory_limit(),
        ..swapi_level1()
    };
    let (context, _) = job("swapi", "l1", "hk");
    let error = MissionProgram::new(config, folder.path().join("work")).run(&context, &inputs()).err().expect("fails");
    let ScienceError::MissionProgram { reason, log_tail, .. } = &error else {
        panic!("expected a mission program failure, got {error}");
    };
    assert!(reason.contains("exit status: 127"), "{reason}");
    assert!(log_tail.contains("/nonexistent/imap_cli"), "{log_tail}");
}

#[test]
fn external_commands_get_the_same_limits() {
    let folder = temp_dir("limits-external");
    let config = ExternalScienceConfig {
        instrument: "swapi".into(),
        level: "l3a".into(),
        descriptor: "*".into(),
        command: vec!["sh".into(), "-c".into(), "dd if=/dev/zero of=/dev/null bs=256M count=1".into()],
        timeout: Duration::from_secs(60),
        pass_env: Vec::new(),
        limits: memory_limit(),
    };
    let (context, _) = job("swapi", "l3a", "proton-sw");
    let error = ExternalScience::new(config, folder.path().join("work")).run(&context, &inputs()).err().expect("fails");
    assert!(error.to_string().contains("memory limit 64MiB exceeded"), "{error}");
}

#[test]
fn the_limit_met_is_named_only_when_it_explains_the_ending() {
    let (xcpu, kill) = (Some(24), Some(9));
    let cpu = ResourceLimits { cpu_time: Some(Duration::from_secs(90)), ..ResourceLimits::default() };
    assert_eq!(limit_met(xcpu, "", &cpu, false).as_deref(), Some("cpu time limit 90s exceeded"));
    assert_eq!(limit_met(kill, "", &cpu, false).as_deref(), Some("cpu time limit 90s exceeded"));
    assert_eq!(limit_met(None, "MemoryError", &cpu, false), None, "no memory limit was set");
    let memory = memory_limit();
    assert_eq!(
        limit_met(None, "  raise MemoryError()", &memory, false).as_deref(),
        Some("memory limit 64MiB exceeded")
    );
    assert_eq!(limit_met(None, "ValueError: bad packet", &memory, false), None);
    assert_eq!(limit_met(kill, "", &memory, false), None, "a process is not killed for its address space");
    assert_eq!(limit_met(kill, "", &memory, true).as_deref(), Some("memory limit 64MiB exceeded"), "a container is");
}

/// The problems `validate` finds in a processor config written as TOML.
pub(super) fn problems_of(config_text: &str) -> Vec<String> {
    let config: ProcessorConfig = toml::from_str(config_text).expect("config parses");
    let mut problems = Problems::default();
    config.validate(&mut problems);
    problems.into_vec()
}

#[test]
fn limits_are_read_as_people_write_them_and_written_back() {
    let config: ProcessorConfig = toml::from_str(
        r#"
        [[mission_program]]
        instrument = "swapi"
        level = "l1"
        limits = { memory = "4GiB", cpu_time = "1h", nice = 10 }
        [[external]]
        instrument = "mag"
        level = "l2"
        command = ["mag-science"]
        limits = { memory = "512MiB" }
        "#,
    )
    .expect("config parses");
    let limits = &config.mission_program[0].limits;
    assert_eq!(limits.memory, Some(ByteSize(4 << 30)));
    assert_eq!(limits.cpu_time, Some(Duration::from_secs(3600)));
    assert_eq!(limits.nice, Some(10));
    assert_eq!(config.external[0].limits.memory, Some(ByteSize(512 << 20)));
    let text = toml::to_string(&config).expect("serialises");
    assert!(text.contains("memory = \"4GiB\"") && text.contains("cpu_time = \"1h\""), "{text}");
    let again: ProcessorConfig = toml::from_str(&text).expect("reads back");
    assert_eq!(again.mission_program[0].limits, *limits);

    let unknown = toml::from_str::<ProcessorConfig>(
        "[[mission_program]]\ninstrument = \"swapi\"\nlevel = \"l1\"\nlimits = { ram = \"4GiB\" }\n",
    );
    assert!(unknown.is_err_and(|error| error.to_string().contains("unknown field `ram`")));
    let unitless = toml::from_str::<ProcessorConfig>(
        "[[mission_program]]\ninstrument = \"swapi\"\nlevel = \"l1\"\nlimits = { memory = \"4G\" }\n",
    );
    assert!(unitless.is_err_and(|error| error.to_string().contains("invalid size \"4G\"")));
}

#[test]
fn limits_a_process_cannot_have_are_refused_with_the_reason() {
    let problems = problems_of(
        r#"
        [[mission_program]]
        instrument = "swapi"
        level = "l1"
        limits = { memory = "1MiB", cpu_time = "200ms", cpus = 2, nice = 25 }
        "#,
    );
    let expected = [
        "processor.mission_program[0].limits.memory: 1MiB is too little to start a program; give at least 8MiB",
        "processor.mission_program[0].limits.cpu_time: must be at least 1s (the kernel counts CPU time in whole seconds)",
        "processor.mission_program[0].limits.cpus: needs a container (docker --cpus); hold a process back with nice and cpu_time",
        "processor.mission_program[0].limits.nice: 25 is not a niceness from 0 (normal) to 19 (lowest priority)",
    ];
    assert_eq!(problems, expected);
}
