//! The container executor without docker: the `docker run` line it builds, how it reads docker's
//! exit codes, and whole runs against a stand-in `docker` script that records its calls.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Duration;

use tempfile::TempDir;

use super::container::{ContainerProgram, ContainerRun, container_exit_reason};
use super::fixture::{input, job, temp_dir};
use super::limits_tests::problems_of;
use super::mission_program::mission_arguments;
use super::{Algorithm, InputFile, ProductOutput, Registry, ScienceError};
use crate::config::{MissionProgramConfig, ProcessorConfig, ResourceLimits};

const L0: &str = "imap_swapi_l0_raw_20250101_v001.pkts";
const L0_KEY: &str = "imap/swapi/l0/2025/01/imap_swapi_l0_raw_20250101_v001.pkts";
const LSK_KEY: &str = "imap/spice/lsk/naif0012.tls";

fn inputs() -> Vec<InputFile> {
    vec![input(L0, b"telemetry".to_vec()), input("naif0012.tls", b"leapseconds".to_vec())]
}

fn rule(text: &str) -> MissionProgramConfig {
    toml::from_str(&format!("instrument = \"swapi\"\nlevel = \"l1\"\n{text}")).expect("rule parses")
}

fn program(rule: MissionProgramConfig, work_root: &Path) -> ContainerProgram {
    let container = rule.container.clone().expect("a container rule");
    ContainerProgram::new(rule, container, work_root.to_path_buf())
}

fn input_keys() -> BTreeSet<PathBuf> {
    [L0_KEY, LSK_KEY].into_iter().map(PathBuf::from).collect()
}

fn run_spec(input_keys: &BTreeSet<PathBuf>) -> ContainerRun<'_> {
    ContainerRun {
        name: "imap-sdc-job-job-1-x1",
        data_dir: Path::new("/srv/work/run/data"),
        input_keys,
        user: (1000, 1001),
    }
}

#[test]
fn docker_run_isolates_the_job_mounts_its_inputs_read_only_and_passes_the_mission_arguments() {
    let rule = rule(
        r#"
        pass_env = ["TEAM_TOKEN"]
        env = { MPLCONFIGDIR = "/tmp/matplotlib" }
        limits = { memory = "4GiB", cpu_time = "1h", cpus = 1.5 }
        container = { image = "imap-swapi-science:1.0.40" }
        "#,
    );
    let (context, _) = job("swapi", "l1", "hk");
    let keys = input_keys();
    let arguments =
        program(rule, Path::new("/srv/work")).docker_arguments(&context, &inputs(), &run_spec(&keys)).unwrap();

    let image = arguments.iter().position(|argument| argument == "imap-swapi-science:1.0.40").expect("the image");
    let l0_mount = format!("type=bind,source=/srv/work/run/data/{L0_KEY},target=/imap-data/{L0_KEY},readonly");
    let expected_options = [
        "run",
        "--rm",
        "--init",
        "--pull",
        "never",
        "--name",
        "imap-sdc-job-job-1-x1",
        "--label",
        "org.imap-sdc.job=job-1",
        "--label",
        "org.imap-sdc.product=swapi l1 hk",
        "--network",
        "none",
        "--user",
        "1000:1001",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--workdir",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--mount",
        "type=bind,source=/srv/work/run/data,target=/imap-data",
        "--mount",
        "type=bind,source=/srv/work/run/data/imap/spice/lsk/naif0012.tls,target=/imap-data/imap/spice/lsk/naif0012.tls,readonly",
        "--mount",
        l0_mount.as_str(),
        "--env",
        "IMAP_DATA_DIR=/imap-data",
        "--env",
        "HOME=/tmp",
        "--env",
        "TMPDIR=/tmp",
        "--env",
        "MPLCONFIGDIR=/tmp/matplotlib",
        "--env",
        "TEAM_TOKEN",
        "--memory",
        "4294967296",
        "--memory-swap",
        "4294967296",
        "--cpus",
        "1.5",
        "--ulimit",
        "cpu=3600:3602",
    ];
    assert_eq!(arguments[..image], expected_options);
    // After the image: the rule's command (imap_cli by default), then exactly what the mission
    // program is given as a process (its own tests check those).
    let mission = &arguments[image + 1..];
    assert_eq!(mission[0], "imap_cli");
    assert_eq!(mission[1..], mission_arguments(&context, &inputs()));
}

#[test]
fn a_configured_network_is_joined_and_an_empty_command_runs_the_entry_point() {
    let rule = rule("command = []\ncontainer = { image = \"team/science\", network = \"science-net\" }");
    let (context, _) = job("swapi", "l1", "hk");
    let keys = input_keys();
    let arguments = program(rule, Path::new("/srv")).docker_arguments(&context, &inputs(), &run_spec(&keys)).unwrap();
    let network = arguments.iter().position(|argument| argument == "--network").expect("--network");
    assert_eq!(arguments[network + 1], "science-net");
    let image = arguments.iter().position(|argument| argument == "team/science").expect("the image");
    assert_eq!(arguments[image + 1], "--instrument", "the image's entry point gets the mission's arguments");
    assert!(!arguments.iter().any(|argument| argument.starts_with("--memory") || argument == "--cpus"), "no limits");
}

#[test]
fn a_work_folder_docker_cannot_mount_is_a_clear_error() {
    let rule = rule("container = { image = \"team/science\" }");
    let (context, _) = job("swapi", "l1", "hk");
    let keys = input_keys();
    for data_dir in ["relative/data", "/srv/a,b/data"] {
        let run = ContainerRun { data_dir: Path::new(data_dir), ..run_spec(&keys) };
        let error = program(rule.clone(), Path::new("/srv")).docker_arguments(&context, &inputs(), &run).unwrap_err();
        assert!(error.to_string().contains("absolute UTF-8 path without commas (processor.work_dir)"), "{error}");
    }
}

#[test]
fn docker_exit_codes_become_reasons() {
    let limits = ResourceLimits {
        memory: Some(mesh_runtime::config::byte_size::ByteSize(64 << 20)),
        cpu_time: Some(Duration::from_secs(5)),
        ..ResourceLimits::default()
    };
    let unlimited = ResourceLimits::default();
    let cases = [
        (Some(137), "", &limits, "memory limit 64MiB exceeded (exit code 137)"),
        (Some(152), "", &limits, "cpu time limit 5s exceeded (exit code 152)"),
        (Some(1), "MemoryError", &limits, "memory limit 64MiB exceeded (exit code 1)"),
        (Some(137), "", &unlimited, "killed by signal 9 (exit code 137)"),
        (Some(125), "Unable to find image", &unlimited, "docker could not run the container (exit code 125)"),
        (Some(126), "", &unlimited, "the image's command cannot be run (exit code 126)"),
        (Some(127), "", &unlimited, "the image has no such command (exit code 127)"),
        (Some(2), "ValueError", &limits, "exited with code 2"),
        (None, "", &unlimited, "the docker CLI was killed"),
    ];
    for (code, log, limits, reason) in cases {
        assert_eq!(container_exit_reason(code, log, limits), reason, "{code:?} {log}");
    }
}

/// A stand-in `docker` that records each call's arguments in `record/<command>.args` (its
/// environment in `record/<command>.env`), and for
/// `run` finds the mounted data folder (`$data`) and then does `behaviour`.
fn fake_docker(folder: &TempDir, behaviour: &str) -> PathBuf {
    let record = folder.path().join("record");
    std::fs::create_dir_all(&record).expect("record folder");
    let script = format!(
        r#"#!/bin/sh
printf '%s\n' "$@" > "{record}/$1.args"
env > "{record}/$1.env"
[ "$1" = run ] || exit 0
data= previous=
for argument in "$@"; do
    if [ "$previous" = --mount ]; then
        case "$argument" in
            *,target=/imap-data) data=${{argument#type=bind,source=}}; data=${{data%,target=/imap-data}} ;;
        esac
    fi
    previous=$argument
done
{behaviour}
"#,
        record = record.display()
    );
    let path = folder.path().join("docker");
    std::fs::write(&path, script).expect("writes the stand-in");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("executable");
    path
}

fn recorded_call(folder: &TempDir, command: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(folder.path().join("record").join(format!("{command}.args"))).unwrap_or_default();
    text.lines().map(String::from).collect()
}

/// Runs a `swapi l1 hk` job through the stand-in docker doing `behaviour`.
fn run_with_fake_docker(
    folder: &TempDir,
    behaviour: &str,
    extra: &str,
    cancel_first: bool,
) -> Result<Vec<ProductOutput>, ScienceError> {
    let docker = fake_docker(folder, behaviour);
    let rule = rule(&format!(
        "timeout = \"500ms\"\ncontainer = {{ image = \"team/science\", docker = \"{}\" }}\n{extra}",
        docker.display()
    ));
    let (context, cancelled) = job("swapi", "l1", "hk");
    cancelled.store(cancel_first, Ordering::Relaxed);
    program(rule, &folder.path().join("work")).run(&context, &inputs())
}

fn work_folders_left(folder: &TempDir) -> usize {
    std::fs::read_dir(folder.path().join("work")).map_or(0, |entries| entries.count())
}

#[test]
fn a_container_run_yields_what_it_wrote_in_the_data_folder_and_leaves_nothing_behind() {
    let folder = temp_dir("container-ok");
    let behaviour = r#"
        mkdir -p "$data/imap/swapi/l1b/2025/01"
        cat "$data/imap/swapi/l0/2025/01/imap_swapi_l0_raw_20250101_v001.pkts" > "$data/imap/swapi/l1b/2025/01/imap_swapi_l1b_hk_20250101_v001.cdf"
        echo "container done"
    "#;
    let passed = "pass_env = [\"CARGO_MANIFEST_DIR\"]";
    let outputs = run_with_fake_docker(&folder, behaviour, passed, false).expect("the run succeeds");
    assert_eq!(outputs.len(), 1);
    assert_eq!((outputs[0].data_level.as_deref(), outputs[0].descriptor.as_str()), (Some("l1b"), "hk"));
    assert_eq!(outputs[0].bytes, b"telemetry", "the container read its mounted input");
    assert!(outputs[0].notes.iter().any(|note| note.contains("container done")), "{:?}", outputs[0].notes);
    let run = recorded_call(&folder, "run");
    let name = &run[run.iter().position(|argument| argument == "--name").expect("named") + 1];
    assert!(name.starts_with("imap-sdc-job-job-1-"), "{name}");
    assert!(recorded_call(&folder, "rm").is_empty(), "a container that exits is removed by --rm");
    // A passed variable travels by name; its value only in the docker CLI's environment.
    let value = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it for tests");
    assert!(run.windows(2).any(|pair| pair == ["--env", "CARGO_MANIFEST_DIR"]), "{run:?}");
    assert!(!run.iter().any(|argument| argument.contains(&value)), "{run:?}");
    let cli_environment = std::fs::read_to_string(folder.path().join("record/run.env")).expect("recorded");
    assert!(cli_environment.lines().any(|line| line == format!("CARGO_MANIFEST_DIR={value}")), "{cli_environment}");
    assert_eq!(work_folders_left(&folder), 0, "the run's folder is removed");
}

#[test]
fn a_timed_out_or_cancelled_run_removes_its_container_by_name() {
    for cancel_first in [false, true] {
        let folder = temp_dir("container-stop");
        let error =
            run_with_fake_docker(&folder, "echo started\nexec sleep 60", "", cancel_first).err().expect("stopped");
        let removal = recorded_call(&folder, "rm");
        assert_eq!(removal[..2], ["rm", "--force"]);
        let name = removal[2].clone();
        assert!(name.starts_with("imap-sdc-job-job-1-"), "{name}");
        if cancel_first {
            // Cancelled at once, perhaps before the CLI got far enough to record its call.
            assert!(matches!(error, ScienceError::Cancelled), "{error}");
        } else {
            let run = recorded_call(&folder, "run");
            assert_eq!(run[run.iter().position(|argument| argument == "--name").expect("named") + 1], name);
            assert!(error.to_string().contains(&format!("timed out after 500ms; its container {name} was removed")));
            assert!(error.program_log().is_some_and(|log| log.contains("started")), "{error:?}");
        }
        assert_eq!(work_folders_left(&folder), 0);
    }
}

#[test]
fn a_container_killed_at_its_memory_limit_fails_saying_so() {
    let folder = temp_dir("container-oom");
    let error = run_with_fake_docker(&folder, "echo allocating\nexit 137", "limits = { memory = \"64MiB\" }", false)
        .err()
        .expect("killed");
    let ScienceError::MissionProgram { reason, log_tail, .. } = &error else {
        panic!("expected a mission program failure, got {error}");
    };
    assert_eq!(reason, "memory limit 64MiB exceeded (exit code 137)");
    assert_eq!(log_tail, "allocating");
    let run = recorded_call(&folder, "run");
    assert!(run.windows(2).any(|pair| pair == ["--memory", "67108864"]), "{run:?}");
}

#[test]
fn a_container_rule_chooses_the_container_executor_and_bad_ones_are_refused() {
    let config: ProcessorConfig = toml::from_str(
        r#"
        [[mission_program]]
        instrument = "swapi"
        level = "l1"
        container = { image = "imap-swapi-science:1.0.40" }
        [[mission_program]]
        instrument = "mag"
        level = "l1*"
        "#,
    )
    .expect("config parses");
    let registry = Registry::from_config(&config).expect("registry");
    let chosen = |instrument: &str, level: &str| {
        let product =
            proto::pb::ProductKey { instrument: instrument.into(), data_level: level.into(), descriptor: "x".into() };
        registry.select(&product).map(|algorithm| algorithm.name().to_string()).unwrap_or_default()
    };
    assert_eq!((chosen("swapi", "l1"), chosen("mag", "l1b")), ("container".to_string(), "mission-program".to_string()));

    let problems = problems_of(
        r#"
        [[mission_program]]
        instrument = "swapi"
        level = "l1"
        command = []
        limits = { nice = 5 }
        container = { image = "--privileged", network = "", docker = " " }
        "#,
    );
    assert_eq!(
        problems,
        [
            "processor.mission_program[0].limits.nice: applies to processes; give a container its share with cpus",
            "processor.mission_program[0].container.image: \"--privileged\" is not an image name (e.g. \"imap-swapi-science:1.0.40\")",
            "processor.mission_program[0].container.network: \"\" is not a docker network name (leave it unset for none)",
            "processor.mission_program[0].container.docker: must name the docker program",
        ]
    );
    let unknown = toml::from_str::<ProcessorConfig>(
        "[[mission_program]]\ninstrument = \"swapi\"\nlevel = \"l1\"\ncontainer = { image = \"x\", volumes = [] }\n",
    );
    assert!(unknown.is_err_and(|error| error.to_string().contains("unknown field `volumes`")));
}
