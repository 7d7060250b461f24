//! The mission's own science program run in its own conventions (`imap_cli` of the PyPI package
//! `imap-processing`): the job's inputs laid out as the mission archive under a private
//! `IMAP_DATA_DIR`, the dependency JSON in the mission's shape, and
//! `--instrument --data-level --descriptor --start-date|--repointing --version`. Its products are
//! collected from that tree at every level the job makes (an `l1 hk` job writes `l1a` and `l1b`
//! files). The program runs in its own process group with an environment cleared to an
//! allow-list and the rule's limits ([`super::limits`]); the whole group is killed on timeout or
//! cancellation. A failed run keeps the tail of its output and its Python traceback, and nothing
//! it wrote is returned. [`super::container`] runs the same conventions in a container image.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use imap_filename::{FileKind, ImapFileName, Version};

use crate::config::MissionProgramConfig;

use super::external::{list_files, program_environment};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError, limits};

/// How often a running program is checked for exit, timeout and cancellation.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Bytes of the program's output kept for the job's log.
const LOG_TAIL_BYTES: usize = 6000;
/// Bytes of a Python traceback kept in the job's error.
const TRACEBACK_BYTES: usize = 3000;
/// Folder of the run's working folder that the program sees as `IMAP_DATA_DIR`.
pub const DATA_DIR: &str = "data";
/// The program's stdout and stderr, interleaved as written.
pub const LOG_FILE: &str = "program.log";

pub struct MissionProgram {
    config: MissionProgramConfig,
    /// Where each run's temporary working folder is made.
    work_root: PathBuf,
}

impl MissionProgram {
    pub fn new(config: MissionProgramConfig, work_root: PathBuf) -> Self {
        MissionProgram { config, work_root }
    }

    fn program(&self) -> String {
        self.config.command.first().cloned().unwrap_or_default()
    }

    fn failure(&self, reason: String, log: &Path) -> ScienceError {
        program_failure(self.program(), reason, log)
    }
}

/// A failed run of `program`, with the tail of its `log` and its Python traceback.
pub(super) fn program_failure(program: String, reason: String, log: &Path) -> ScienceError {
    let text = read_lossy(log);
    ScienceError::MissionProgram {
        program,
        reason,
        traceback: python_traceback(&text),
        log_tail: tail(&text, LOG_TAIL_BYTES).to_string(),
    }
}

impl Algorithm for MissionProgram {
    fn name(&self) -> &str {
        "mission-program"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        if self.config.command.is_empty() {
            return Err(ScienceError::Failed("the mission program has an empty command".into()));
        }
        // Removed when the run ends, whatever happened: nothing half-written survives it.
        let work = super::external::job_work_dir(&self.work_root, context)?;
        let data_dir = work.path().join(DATA_DIR);
        let input_keys = lay_out_archive(&data_dir, inputs)?;
        let log = work.path().join(LOG_FILE);
        let arguments = self.arguments(context, inputs);
        let status = self.run_program(context, work.path(), &data_dir, &arguments, &log)?;
        if !status.success() {
            let reason = limits::exit_reason(status, &log_tail(&log), &self.config.limits);
            return Err(self.failure(reason, &log));
        }
        let outputs = collected_outputs(context, &data_dir, &input_keys, &self.program(), &log)?;
        tracing::info!(program = %self.program(), outputs = outputs.len(), "mission program finished");
        Ok(outputs)
    }
}

/// The products a successful run left in `data_dir`, the first noting the program's last words.
pub(super) fn collected_outputs(
    context: &JobContext,
    data_dir: &Path,
    input_keys: &BTreeSet<PathBuf>,
    program: &str,
    log: &Path,
) -> Result<Vec<ProductOutput>, ScienceError> {
    let mut outputs = collect_outputs(context, data_dir, input_keys)
        .map_err(|reason| program_failure(program.to_string(), reason, log))?;
    if let Some(first) = outputs.first_mut() {
        first.notes.push(format!("{program} said, last: {}", last_line(&read_lossy(log))));
    }
    Ok(outputs)
}

/// How a supervised run ended.
pub(super) enum RunEnd {
    Exited(ExitStatus),
    TimedOut,
    Cancelled,
}

/// Waits for `child` to exit; when the job is cancelled or `timeout` passes first, or waiting
/// fails, `stop` ends it.
pub(super) fn supervise(
    child: &mut Child,
    context: &JobContext,
    timeout: Duration,
    mut stop: impl FnMut(&mut Child),
) -> std::io::Result<RunEnd> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(RunEnd::Exited(status)),
            Ok(None) => {}
            Err(error) => {
                stop(child);
                return Err(error);
            }
        }
        if context.check_cancelled().is_err() {
            stop(child);
            return Ok(RunEnd::Cancelled);
        }
        if Instant::now() >= deadline {
            stop(child);
            return Ok(RunEnd::TimedOut);
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

impl MissionProgram {
    /// The configured command, then the mission's arguments for this job.
    fn arguments(&self, context: &JobContext, inputs: &[InputFile]) -> Vec<String> {
        let mut arguments = self.config.command.clone();
        arguments.extend(mission_arguments(context, inputs));
        arguments
    }

    fn run_program(
        &self,
        context: &JobContext,
        work: &Path,
        data_dir: &Path,
        arguments: &[String],
        log: &Path,
    ) -> Result<ExitStatus, ScienceError> {
        let (stdout, stderr) = log_outputs(log)?;
        let mut command = limits::command(arguments, &self.config.limits);
        command
            .current_dir(work)
            .env_clear()
            // The same allow-list as any external program (no database URL or cloud credentials
            // reach team code); home and temporary files stay inside the run's folder.
            .envs(program_environment(std::env::vars_os(), &self.config.pass_env))
            .env("HOME", work)
            .env("TMPDIR", work)
            .env("IMAP_DATA_DIR", data_dir)
            .envs(&self.config.env)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            // Its own process group, so every process it starts is killed with it.
            .process_group(0);
        let mut child = limits::spawn(&mut command, &self.config.limits)
            .map_err(|error| self.failure(format!("cannot start: {error}"), log))?;
        match supervise(&mut child, context, self.config.timeout, kill_group) {
            Ok(RunEnd::Exited(status)) => {
                // Whatever it left running in the background ends with it.
                kill_group(&mut child);
                Ok(status)
            }
            Ok(RunEnd::Cancelled) => Err(ScienceError::Cancelled),
            Ok(RunEnd::TimedOut) => {
                let limit = mesh_runtime::config::duration::format(self.config.timeout);
                Err(self.failure(format!("timed out after {limit}; its process group was killed"), log))
            }
            Err(error) => Err(self.failure(format!("cannot wait: {error}"), log)),
        }
    }
}

/// The program's stdout and stderr: both the log file, interleaved as written.
pub(super) fn log_outputs(log: &Path) -> Result<(std::fs::File, std::fs::File), ScienceError> {
    let log_file = std::fs::File::create(log)
        .map_err(|error| ScienceError::Failed(format!("cannot create {LOG_FILE}: {error}")))?;
    let log_copy =
        log_file.try_clone().map_err(|error| ScienceError::Failed(format!("cannot share {LOG_FILE}: {error}")))?;
    Ok((log_file, log_copy))
}

/// The mission's arguments for a job: `--instrument … --version`, `--repointing` for a
/// repointing's job, and the dependency JSON with the version block.
pub(super) fn mission_arguments(context: &JobContext, inputs: &[InputFile]) -> Vec<String> {
    let product = &context.product;
    let mut arguments: Vec<String> = [
        ("--instrument", product.instrument.clone()),
        ("--data-level", product.data_level.clone()),
        ("--descriptor", product.descriptor.clone()),
        ("--start-date", context.date.yyyymmdd()),
        ("--version", context.version.clone()),
    ]
    .into_iter()
    .flat_map(|(flag, value)| [flag.to_string(), value])
    .collect();
    if let Some(repointing) = context.repointing {
        arguments.extend(["--repointing".to_string(), format!("repoint{repointing:05}")]);
    }
    let mut dependency = dependency_json(inputs);
    // `vMMM.mmmm` versions travel in the mission's version block; `--version` stays the
    // fallback for descriptors the block does not name.
    if let Ok(Version { major: Some(major), minor }) = context.version.parse::<Version>() {
        dependency["version"] = serde_json::json!({
            product.descriptor.clone(): {"major_version": major, "minor_version": minor},
        });
    }
    arguments.extend(["--dependency".to_string(), dependency.to_string()]);
    arguments
}

/// Kills the program's whole process group and reaps the program.
pub(super) fn kill_group(child: &mut Child) {
    // The program leads its group: the group's id is its pid.
    if let Some(group) = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw) {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Writes each input at its archive key under `data_dir` (the mission's layout, e.g.
/// `imap/swapi/l0/2024/09/…`, `imap/spice/lsk/…`); returns the keys.
pub(super) fn lay_out_archive(data_dir: &Path, inputs: &[InputFile]) -> Result<BTreeSet<PathBuf>, ScienceError> {
    let mut keys = BTreeSet::new();
    for input in inputs {
        let key = PathBuf::from(&input.record.archive_key);
        let plain = key.components().all(|component| matches!(component, Component::Normal(_)));
        if !plain || key.file_name().is_none_or(|name| name != input.record.file_name.as_str()) {
            return Err(ScienceError::BadInput {
                file: input.record.file_name.clone(),
                reason: format!("archive key {} is not a plain relative path ending in the name", key.display()),
            });
        }
        let path = data_dir.join(&key);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().unwrap_or(data_dir))?;
            std::fs::write(&path, &input.bytes)
        };
        write().map_err(|error| ScienceError::Failed(format!("cannot stage {}: {error}", key.display())))?;
        keys.insert(key);
    }
    Ok(keys)
}

/// The mission's dependency JSON: one entry per science or ancillary source (type, instrument,
/// level, descriptor), which `imap_cli` checks, and all kernels in one `spice` entry.
pub fn dependency_json(inputs: &[InputFile]) -> serde_json::Value {
    let mut groups: BTreeMap<(&str, &str, &str, &str), Vec<&str>> = BTreeMap::new();
    for input in inputs {
        let record = &input.record;
        let key = match record.kind() {
            proto::pb::FileKind::Spice => ("spice", "", "", ""),
            proto::pb::FileKind::Ancillary => ("ancillary", record.instrument.as_str(), "", record.descriptor.as_str()),
            _ => ("science", record.instrument.as_str(), record.data_level.as_str(), record.descriptor.as_str()),
        };
        groups.entry(key).or_default().push(&record.file_name);
    }
    let dependency: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|((input_type, ..), files)| serde_json::json!({"type": input_type, "files": files}))
        .collect();
    serde_json::json!({ "dependency": dependency })
}

/// Every file the program added to the tree, each a science file of the job's instrument, date
/// and version at the job's level or a sublevel of it (`l1` → `l1a`, `l1b`).
fn collect_outputs(
    context: &JobContext,
    data_dir: &Path,
    input_keys: &BTreeSet<PathBuf>,
) -> Result<Vec<ProductOutput>, String> {
    let mut files = Vec::new();
    list_files(data_dir, &mut files).map_err(|error| format!("cannot list {DATA_DIR}: {error}"))?;
    files.sort();
    let product = &context.product;
    let mut outputs = Vec::new();
    for path in files {
        let key = path.strip_prefix(data_dir).unwrap_or(&path);
        if input_keys.contains(key) {
            continue;
        }
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let parsed = ImapFileName::parse(&name).map_err(|error| format!("wrote {name}, an invalid name: {error}"))?;
        let level = parsed.data_level().unwrap_or_default();
        let belongs = parsed.kind() == FileKind::Science
            && parsed.instrument() == Some(product.instrument.as_str())
            && level.starts_with(product.data_level.as_str())
            && parsed.start_date() == Some(context.date)
            && parsed.version_text().as_deref() == Some(context.version.as_str());
        if !belongs {
            return Err(format!(
                "wrote {name}, which is not a {} {} science file of {} {}",
                product.instrument,
                product.data_level,
                context.date.yyyymmdd(),
                context.version
            ));
        }
        let bytes = std::fs::read(&path).map_err(|error| format!("cannot read {name}: {error}"))?;
        outputs.push(ProductOutput {
            data_level: Some(level.to_string()),
            descriptor: parsed.descriptor().unwrap_or_default().to_string(),
            extension: parsed.extension().to_string(),
            bytes,
            notes: Vec::new(),
        });
    }
    if outputs.is_empty() {
        return Err("exited successfully but wrote no product".into());
    }
    Ok(outputs)
}

pub(super) fn read_lossy(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// The last `bytes` of `text`, cut at a character boundary.
fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].trim()
}

/// The last Python traceback in the output, from its header to the end (the exception line).
pub fn python_traceback(text: &str) -> String {
    text.rfind("Traceback (most recent call last):")
        .map(|start| tail(&text[start..], TRACEBACK_BYTES).to_string())
        .unwrap_or_default()
}

/// The end of a run's log, as a failure's reason reads it.
pub(super) fn log_tail(log: &Path) -> String {
    tail(&read_lossy(log), LOG_TAIL_BYTES).to_string()
}

fn last_line(text: &str) -> &str {
    text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("").trim()
}
