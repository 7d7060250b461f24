//! A mission program run in a team's container image, as the real centre runs its batch jobs:
//! the conventions of [`super::mission_program`] (inputs in the archive layout under
//! `IMAP_DATA_DIR`, the mission's arguments and dependency JSON, products collected at every
//! sublevel) with `docker run --rm`. The container has no network unless the rule names one,
//! never pulls (the image must be on the node), runs as the processor's user with a read-only
//! root, no capabilities and a private `/tmp`, and gets the rule's limits from docker (`--memory`
//! with no swap beyond it, `--cpus`, `--ulimit cpu`). `IMAP_DATA_DIR` is the run's folder mounted
//! read-write, with each input mounted read-only over it; `env` is set in the container and
//! `pass_env` passed by name, so no secret shows in a process listing. Each run has a name and job
//! label, so a cancel or timeout removes its container (`docker rm --force`), not just the CLI.
//!
//! The folder must be one the docker daemon sees at the same path (`processor.work_dir` on the
//! host, or a volume shared at the same path when the processor itself runs in a container).

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::config::{ContainerConfig, MissionProgramConfig, ResourceLimits};

use super::external::{job_work_dir, program_environment};
use super::limits::{CPU_GRACE_SECONDS, cpu_seconds, limit_met};
use super::mission_program::{
    DATA_DIR, LOG_FILE, RunEnd, collected_outputs, kill_group, lay_out_archive, log_outputs, log_tail,
    mission_arguments, program_failure, supervise,
};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError};

/// Where the run's data folder is mounted, and so `IMAP_DATA_DIR` inside the container.
pub const CONTAINER_DATA_DIR: &str = "/imap-data";
/// Label every job container carries: the job's id (`docker ps --filter label=…` finds them).
pub const JOB_LABEL: &str = "org.imap-sdc.job";
/// Label naming the product the container makes.
pub const PRODUCT_LABEL: &str = "org.imap-sdc.product";
/// Variables the docker CLI itself may need to reach its daemon (never passed into the container).
const DOCKER_CLIENT_ENVIRONMENT: [&str; 6] =
    ["DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "XDG_RUNTIME_DIR"];
/// `docker run`'s own exit codes, before the program ran.
const DOCKER_FAILED: i32 = 125;
const COMMAND_NOT_RUNNABLE: i32 = 126;
const COMMAND_NOT_FOUND: i32 = 127;

pub struct ContainerProgram {
    config: MissionProgramConfig,
    container: ContainerConfig,
    /// Where each run's temporary working folder is made.
    work_root: PathBuf,
}

/// What one run's `docker run` needs beyond the rule.
pub struct ContainerRun<'a> {
    /// The container's name, unique per run.
    pub name: &'a str,
    /// The run's data folder on the host, absolute; mounted as `IMAP_DATA_DIR`.
    pub data_dir: &'a Path,
    /// The inputs' archive keys under `data_dir`, mounted read-only.
    pub input_keys: &'a BTreeSet<PathBuf>,
    /// User and group the container runs as, so what it writes is the processor's to read and remove.
    pub user: (u32, u32),
}

impl ContainerProgram {
    pub fn new(config: MissionProgramConfig, container: ContainerConfig, work_root: PathBuf) -> Self {
        ContainerProgram { config, container, work_root }
    }

    fn program(&self) -> String {
        format!("{} in {}", self.config.command.first().map_or("the entry point", String::as_str), self.container.image)
    }

    /// The arguments of `docker` that run this job: `run` with the rule's isolation, mounts,
    /// environment and limits, the image, its command, then the mission's arguments.
    pub fn docker_arguments(
        &self,
        context: &JobContext,
        inputs: &[InputFile],
        run: &ContainerRun<'_>,
    ) -> Result<Vec<String>, ScienceError> {
        let data_dir = mount_source(run.data_dir)?;
        let product = &context.product;
        let job_label = format!("{JOB_LABEL}={}", context.job_id);
        let product_label =
            format!("{PRODUCT_LABEL}={} {} {}", product.instrument, product.data_level, product.descriptor);
        let user = format!("{}:{}", run.user.0, run.user.1);
        let data_mount = format!("type=bind,source={data_dir},target={CONTAINER_DATA_DIR}");
        let mut arguments: Vec<String> = [
            "run",
            "--rm",
            // A small init as PID 1: the program then gets signals' default actions (SIGXCPU
            // ends it; PID 1 would ignore it) and its orphans are reaped.
            "--init",
            "--pull",
            "never",
            "--name",
            run.name,
            "--label",
            job_label.as_str(),
            "--label",
            product_label.as_str(),
            "--network",
            self.container.network.as_deref().unwrap_or("none"),
            "--user",
            user.as_str(),
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
            data_mount.as_str(),
        ]
        .map(String::from)
        .into();
        for key in run.input_keys {
            let key = key.display();
            arguments.extend([
                "--mount".to_string(),
                format!("type=bind,source={data_dir}/{key},target={CONTAINER_DATA_DIR}/{key},readonly"),
            ]);
        }
        let environment = [
            ("IMAP_DATA_DIR".to_string(), CONTAINER_DATA_DIR.to_string()),
            ("HOME".to_string(), "/tmp".to_string()),
            ("TMPDIR".to_string(), "/tmp".to_string()),
        ];
        let configured = self.config.env.iter().map(|(name, value)| (name.clone(), value.clone()));
        for (name, value) in environment.into_iter().chain(configured) {
            arguments.extend(["--env".to_string(), format!("{name}={value}")]);
        }
        // By name only: docker copies the value from its own environment, so a secret passed
        // on never shows in a process listing.
        for name in &self.config.pass_env {
            arguments.extend(["--env".to_string(), name.clone()]);
        }
        arguments.extend(limit_arguments(&self.config.limits));
        arguments.push(self.container.image.clone());
        arguments.extend(self.config.command.iter().cloned());
        arguments.extend(mission_arguments(context, inputs));
        Ok(arguments)
    }

    /// Ends a run early: the CLI first (so it starts nothing more), then the container itself.
    fn remove(&self, name: &str, cli: &mut Child) {
        kill_group(cli);
        let removed = Command::new(&self.container.docker)
            .args(["rm", "--force", name])
            .env_clear()
            .envs(docker_client_environment(&[]))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !removed.is_ok_and(|status| status.success()) {
            tracing::warn!(container = name, "could not remove a stopped job's container");
        }
    }

    fn run_container(
        &self,
        context: &JobContext,
        work: &Path,
        arguments: &[String],
        name: &str,
        log: &Path,
    ) -> Result<ExitStatus, ScienceError> {
        let (stdout, stderr) = log_outputs(log)?;
        let mut command = Command::new(&self.container.docker);
        command
            .args(arguments)
            .current_dir(work)
            .env_clear()
            .envs(docker_client_environment(&self.config.pass_env))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        let failure = |reason: String| program_failure(self.program(), reason, log);
        let mut cli =
            command.spawn().map_err(|error| failure(format!("cannot start {}: {error}", self.container.docker)))?;
        match supervise(&mut cli, context, self.config.timeout, |cli| self.remove(name, cli)) {
            Ok(RunEnd::Exited(status)) => Ok(status),
            Ok(RunEnd::Cancelled) => Err(ScienceError::Cancelled),
            Ok(RunEnd::TimedOut) => {
                let limit = mesh_runtime::config::duration::format(self.config.timeout);
                Err(failure(format!("timed out after {limit}; its container {name} was removed")))
            }
            Err(error) => Err(failure(format!("cannot wait for docker: {error}"))),
        }
    }
}

impl Algorithm for ContainerProgram {
    fn name(&self) -> &str {
        "container"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        // Removed when the run ends, whatever happened: nothing half-written survives it.
        let work = job_work_dir(&self.work_root, context)?;
        let data_dir = work.path().join(DATA_DIR);
        let input_keys = lay_out_archive(&data_dir, inputs)?;
        let io_error = |what: &str, error: std::io::Error| ScienceError::Failed(format!("cannot {what}: {error}"));
        std::fs::create_dir_all(&data_dir).map_err(|error| io_error("create the data folder", error))?;
        let data_dir = std::fs::canonicalize(&data_dir).map_err(|error| io_error("resolve the data folder", error))?;
        let log = work.path().join(LOG_FILE);
        let name = container_name(context, work.path());
        let user = (rustix::process::getuid().as_raw(), rustix::process::getgid().as_raw());
        let run = ContainerRun { name: &name, data_dir: &data_dir, input_keys: &input_keys, user };
        let arguments = self.docker_arguments(context, inputs, &run)?;
        let status = self.run_container(context, work.path(), &arguments, &name, &log)?;
        if !status.success() {
            let reason = container_exit_reason(status.code(), &log_tail(&log), &self.config.limits);
            return Err(program_failure(self.program(), reason, &log));
        }
        let outputs = collected_outputs(context, &data_dir, &input_keys, &self.program(), &log)?;
        tracing::info!(image = %self.container.image, container = %name, outputs = outputs.len(), "container finished");
        Ok(outputs)
    }
}

/// The docker arguments of a rule's limits.
fn limit_arguments(limits: &ResourceLimits) -> Vec<String> {
    let mut arguments = Vec::new();
    if let Some(memory) = limits.memory {
        // The same for swap: no swapping past the limit.
        let bytes = memory.bytes().to_string();
        arguments.extend(["--memory".to_string(), bytes.clone(), "--memory-swap".to_string(), bytes]);
    }
    if let Some(cpus) = limits.cpus {
        arguments.extend(["--cpus".to_string(), cpus.to_string()]);
    }
    if let Some(cpu_time) = limits.cpu_time {
        let seconds = cpu_seconds(cpu_time);
        arguments.extend(["--ulimit".to_string(), format!("cpu={seconds}:{}", seconds + CPU_GRACE_SECONDS)]);
    }
    arguments
}

/// A bind mount's source as `--mount` reads it: absolute, and without the commas that separate
/// its fields.
fn mount_source(path: &Path) -> Result<String, ScienceError> {
    let text = path.to_str().filter(|text| path.is_absolute() && !text.contains(','));
    text.map(String::from).ok_or_else(|| {
        ScienceError::Failed(format!(
            "the work folder {} cannot be mounted in a container: it must be an absolute UTF-8 path without commas (processor.work_dir)",
            path.display()
        ))
    })
}

/// `imap-sdc-job-<job id>-<the run folder's random part>`, in the characters docker allows.
fn container_name(context: &JobContext, work: &Path) -> String {
    let run = work.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let run = run.rsplit('-').next().unwrap_or_default();
    format!("imap-sdc-job-{}-{run}", context.job_id)
        .chars()
        .map(|character| if character.is_ascii_alphanumeric() || "_.-".contains(character) { character } else { '-' })
        .collect()
}

/// The docker CLI's environment: the allow-list, what reaches the daemon, and the variables
/// passed on into the container.
fn docker_client_environment(pass_env: &[String]) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    let names: Vec<String> =
        DOCKER_CLIENT_ENVIRONMENT.iter().map(|name| name.to_string()).chain(pass_env.iter().cloned()).collect();
    program_environment(std::env::vars_os(), &names)
}

/// Why a container run ended badly, from `docker run`'s exit code (its own 125–127, or 128 plus
/// the signal that ended the program) and the end of its log.
pub fn container_exit_reason(code: Option<i32>, log: &str, limits: &ResourceLimits) -> String {
    let Some(code) = code else {
        return "the docker CLI was killed".to_string();
    };
    let signal = (code > 128).then_some(code - 128);
    if let Some(limit) = limit_met(signal, log, limits, true) {
        return format!("{limit} (exit code {code})");
    }
    match (code, signal) {
        (DOCKER_FAILED, _) => "docker could not run the container (exit code 125)".to_string(),
        (COMMAND_NOT_RUNNABLE, _) => "the image's command cannot be run (exit code 126)".to_string(),
        (COMMAND_NOT_FOUND, _) => "the image has no such command (exit code 127)".to_string(),
        (_, Some(signal)) => format!("killed by signal {signal} (exit code {code})"),
        _ => format!("exited with code {code}"),
    }
}
