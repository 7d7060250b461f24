//! External science: a mission team's own program run as a command, the way the real centre
//! runs each team's container. It gets the job's input list in the mission's format
//! (`{"dependency":[{"type":"science","files":[...]}],"version":{...}}`) in a temporary
//! working folder where the inputs are staged, and writes its products to an output folder.
//! Products must carry valid mission names for the job's instrument, level and date; a bad
//! name, a non-zero exit, a timeout or a cancellation fails the job with the program's output.
//! The rule's `limits` hold from the program's start ([`super::limits`]).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use imap_filename::{FileKind, ImapFileName, Version};

use crate::config::ExternalScienceConfig;

use super::mission_program::{RunEnd, supervise};
use super::{Algorithm, InputFile, JobContext, ProductOutput, ScienceError, limits};

/// Bytes of stdout/stderr kept in error messages.
const OUTPUT_TAIL_BYTES: usize = 4000;
pub const INPUT_LIST_FILE: &str = "input_list.json";
pub const OUTPUT_DIR: &str = "output";

/// Variables a program sees from the node's environment: enough to find programs, write temporary
/// files and format text and times. Nothing else is passed on (no database URL, no `AWS_*`
/// credentials, no node configuration) unless the program's `pass_env` names it.
pub const ALLOWED_ENVIRONMENT: &[&str] = &["PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR"];

/// The environment of an external program, from the node's (`parent`): the allow-listed variables
/// and those named in `pass_env`, nothing else. Executors start from an empty environment
/// (`Command::env_clear`) and add these, then the job's own `IMAP_*` settings.
pub fn program_environment(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    pass_env: &[String],
) -> Vec<(OsString, OsString)> {
    parent
        .into_iter()
        .filter(|(name, _)| {
            let name = name.to_string_lossy();
            ALLOWED_ENVIRONMENT.contains(&name.as_ref()) || pass_env.iter().any(|passed| *passed == name)
        })
        .collect()
}

pub struct ExternalScience {
    config: ExternalScienceConfig,
    /// Where each run's temporary working folder is made.
    work_root: PathBuf,
}

impl ExternalScience {
    pub fn new(config: ExternalScienceConfig, work_root: PathBuf) -> Self {
        ExternalScience { config, work_root }
    }

    fn program(&self) -> String {
        self.config.command.first().cloned().unwrap_or_default()
    }

    fn failure(&self, reason: String, work: &Path) -> ScienceError {
        ScienceError::External {
            program: self.program(),
            reason,
            stdout: tail(&work.join("stdout.txt")),
            stderr: tail(&work.join("stderr.txt")),
        }
    }
}

/// A private folder for one job's run under `work_root`, removed when dropped, so nothing a run
/// half-wrote survives it.
pub(super) fn job_work_dir(
    work_root: &std::path::Path,
    context: &JobContext,
) -> Result<tempfile::TempDir, ScienceError> {
    let io_error = |what: &str, error: std::io::Error| ScienceError::Failed(format!("cannot {what}: {error}"));
    std::fs::create_dir_all(work_root).map_err(|error| io_error("create the work folder", error))?;
    tempfile::Builder::new()
        .prefix(&format!("imap-sdc-{}-", context.job_id))
        .tempdir_in(work_root)
        .map_err(|error| io_error("create a working folder", error))
}

impl Algorithm for ExternalScience {
    fn name(&self) -> &str {
        "external-command"
    }

    fn run(&self, context: &JobContext, inputs: &[InputFile]) -> Result<Vec<ProductOutput>, ScienceError> {
        if self.config.command.is_empty() {
            return Err(ScienceError::Failed("external science has an empty command".into()));
        }
        let io_error = |what: &str, error: std::io::Error| ScienceError::Failed(format!("cannot {what}: {error}"));
        let work = job_work_dir(&self.work_root, context)?;
        let work_path = work.path();
        let output_dir = work_path.join(OUTPUT_DIR);
        std::fs::create_dir_all(&output_dir).map_err(|error| io_error("create the output folder", error))?;
        for input in inputs {
            let name = &input.record.file_name;
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(ScienceError::BadInput { file: name.clone(), reason: "not a bare file name".into() });
            }
            std::fs::write(work_path.join(name), &input.bytes).map_err(|error| io_error("stage an input", error))?;
        }
        let input_list = input_list_json(context, inputs);
        let input_list_path = work_path.join(INPUT_LIST_FILE);
        std::fs::write(&input_list_path, input_list.to_string())
            .map_err(|error| io_error("write the input list", error))?;

        let status = self.run_command(context, work_path, &input_list_path, &output_dir)?;
        if !status.success() {
            let stderr = tail(&work_path.join("stderr.txt"));
            let reason = limits::exit_reason(status, &stderr, &self.config.limits);
            return Err(self.failure(reason, work_path));
        }
        let outputs = collect_outputs(context, &output_dir).map_err(|reason| self.failure(reason, work_path))?;
        tracing::info!(program = %self.program(), outputs = outputs.len(), "external science finished");
        Ok(outputs)
    }
}

impl ExternalScience {
    fn run_command(
        &self,
        context: &JobContext,
        work: &Path,
        input_list: &Path,
        output_dir: &Path,
    ) -> Result<std::process::ExitStatus, ScienceError> {
        let product = &context.product;
        let replacements = [
            ("{input_list}", input_list.display().to_string()),
            ("{output_dir}", output_dir.display().to_string()),
            ("{instrument}", product.instrument.clone()),
            ("{level}", product.data_level.clone()),
            ("{descriptor}", product.descriptor.clone()),
            ("{date}", context.date.yyyymmdd()),
            ("{version}", context.version.clone()),
        ];
        let arguments: Vec<String> = self
            .config
            .command
            .iter()
            .map(|argument| replacements.iter().fold(argument.clone(), |text, (key, value)| text.replace(key, value)))
            .collect();
        let open = |name: &str| {
            std::fs::File::create(work.join(name))
                .map_err(|error| ScienceError::Failed(format!("cannot create {name}: {error}")))
        };
        let mut command = limits::command(&arguments, &self.config.limits);
        command
            .current_dir(work)
            .env_clear()
            .envs(program_environment(std::env::vars_os(), &self.config.pass_env))
            .env("IMAP_SDC_INPUT_LIST", input_list)
            .env("IMAP_SDC_OUTPUT_DIR", output_dir)
            .stdin(Stdio::null())
            .stdout(open("stdout.txt")?)
            .stderr(open("stderr.txt")?);
        let mut child = limits::spawn(&mut command, &self.config.limits)
            .map_err(|error| self.failure(format!("cannot start: {error}"), work))?;
        match supervise(&mut child, context, self.config.timeout, kill_program) {
            Ok(RunEnd::Exited(status)) => Ok(status),
            Ok(RunEnd::Cancelled) => Err(ScienceError::Cancelled),
            Ok(RunEnd::TimedOut) => Err(self.failure(
                format!(
                    "timed out after {} and was killed",
                    mesh_runtime::config::duration::format(self.config.timeout)
                ),
                work,
            )),
            Err(error) => Err(self.failure(format!("cannot wait: {error}"), work)),
        }
    }
}

/// Kills the program (processes it started itself are its to end) and reaps it.
fn kill_program(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The mission's processing input list: one entry per (type, source), then the version of
/// the product the job makes.
pub fn input_list_json(context: &JobContext, inputs: &[InputFile]) -> serde_json::Value {
    let mut groups: BTreeMap<(String, String, String, String), Vec<String>> = BTreeMap::new();
    for input in inputs {
        let record = &input.record;
        let input_type = match proto::pb::FileKind::text_of(record.kind) {
            "" => "science".to_string(),
            kind => kind.to_string(),
        };
        let key = (input_type, record.instrument.clone(), record.data_level.clone(), record.descriptor.clone());
        groups.entry(key).or_default().push(record.file_name.clone());
    }
    let dependency: Vec<serde_json::Value> = groups
        .into_iter()
        .map(|((input_type, ..), files)| serde_json::json!({"type": input_type, "files": files}))
        .collect();
    let version: Option<Version> = context.version.parse().ok();
    let (major, minor) = version.map_or((1, 1), |version| (version.major.unwrap_or(1), version.minor));
    serde_json::json!({
        "dependency": dependency,
        "version": {context.product.descriptor.clone(): {"major_version": major, "minor_version": minor}},
    })
}

/// Every file the program wrote (searched recursively), each checked against the grammar
/// and the job.
fn collect_outputs(context: &JobContext, output_dir: &Path) -> Result<Vec<ProductOutput>, String> {
    let mut files = Vec::new();
    list_files(output_dir, &mut files).map_err(|error| format!("cannot list the output folder: {error}"))?;
    files.sort();
    if files.is_empty() {
        return Err("wrote no output file".into());
    }
    let product = &context.product;
    let mut outputs = Vec::new();
    for path in files {
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let parsed =
            ImapFileName::parse(&name).map_err(|error| format!("output {name} has an invalid name: {error}"))?;
        let expected = (Some(product.instrument.as_str()), Some(product.data_level.as_str()), Some(context.date));
        let found = (parsed.instrument(), parsed.data_level(), parsed.start_date());
        if parsed.kind() != FileKind::Science || found != expected {
            return Err(format!(
                "output {name} is not a science file of {} {} for {}",
                product.instrument,
                product.data_level,
                context.date.yyyymmdd()
            ));
        }
        let bytes = std::fs::read(&path).map_err(|error| format!("cannot read output {name}: {error}"))?;
        outputs.push(ProductOutput {
            data_level: None,
            descriptor: parsed.descriptor().unwrap_or_default().to_string(),
            extension: parsed.extension().to_string(),
            bytes,
            notes: vec![format!("made by {name}")],
        });
    }
    Ok(outputs)
}

/// Every file below `folder`, at any depth.
pub(super) fn list_files(folder: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            list_files(&entry.path(), files)?;
        } else if file_type.is_file() {
            files.push(entry.path());
        }
    }
    Ok(())
}

/// The end of a captured output file, for error messages.
fn tail(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = bytes.len().saturating_sub(OUTPUT_TAIL_BYTES);
    String::from_utf8_lossy(&bytes[start..]).trim().to_string()
}
