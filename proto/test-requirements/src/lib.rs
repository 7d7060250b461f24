//! What some tests need from the machine they run on (a PostgreSQL server, a tool, a Python
//! package, the mission's data), found by the build script of the crate that holds them, so that a
//! test whose need is missing is reported *ignored, with the reason*, never as passed.
//!
//! The crate lists its needs in its `build.rs` (this crate is its build-dependency):
//!
//! ```no_run
//! use test_requirements::Requirement::{DatabaseUrl, Grpcurl};
//!
//! test_requirements::probe(&[DatabaseUrl, Grpcurl]);
//! ```
//!
//! and each such test names its need, with the reason:
//!
//! ```text
//! #[test]
//! #[cfg_attr(not(has_grpcurl), ignore = "needs grpcurl on PATH (.ci/run installs it)")]
//! fn grpcurl_lists_every_service() {}
//! ```
//!
//! A probe sets `cfg(has_<thing>)` when it finds its thing and declares that name to `check-cfg`
//! either way. Only the probed names are declared, so a test naming one its crate does not probe is
//! an `unexpected_cfgs` warning (an error under `clippy -D warnings`), not a test ignored forever.
//!
//! Probes are quick: a look along `PATH`, a Python `find_spec` (which finds a package without
//! importing it), a folder check. Cargo re-runs them when what they looked at changes:
//! - the variables they read (`DATABASE_URL`, `PATH`, `IMAP_SHARED_DIR`, `CDFLIB_PYTHON`,
//!   `TEST_REQUIREMENTS_STRICT`), through `rerun-if-env-changed`;
//! - a tool, package or folder they found: its path is watched (`rerun-if-changed`), so removing or
//!   replacing it re-runs the probe;
//! - a tool they did not find: every folder on `PATH` is watched, and for a Python package the
//!   interpreter's site-packages folders, which change when something is installed there.
//!
//! Not found is deliberately *not* watched through a path that does not exist: Cargo (checked with
//! 1.95) then re-runs the script and also recompiles the crate on every build, which for the root
//! package would mean relinking the binary and every end-to-end test on each `cargo test` of a
//! machine without, say, grpcurl.
//!
//! `TEST_REQUIREMENTS_STRICT=1` turns anything missing into a build error that names it and how to
//! get it. It is meant for CI, so that nothing CI is meant to test can quietly become ignored.
//!
//! Tests that need a docker daemon and root are not probed: they are plain `#[ignore = "..."]` and
//! run by `.ci/mesh-containers.sh` with `--ignored`.
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One thing a test may need, and the `cfg` its probe sets when the thing is here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// `has_database_url`: `DATABASE_URL` is set (the PostgreSQL server the storage tests make
    /// their databases on).
    DatabaseUrl,
    /// `has_mission_data`: the mission's files, `$IMAP_SHARED_DIR/data` or else `shared/data` in a
    /// folder above the crate; the folder is given to the tests as `env!("MISSION_DATA_DIR")`.
    MissionData,
    /// `has_grpcurl`: `grpcurl` on `PATH`.
    Grpcurl,
    /// `has_chromium`: `chromium` on `PATH`.
    Chromium,
    /// `has_graphviz`: Graphviz `dot` on `PATH`.
    Graphviz,
    /// `has_imap_cli`: the mission's `imap_cli` entry point (imap-processing) on `PATH`; the
    /// package itself is too heavy to import for a probe.
    ImapCli,
    /// `has_imap_data_access`: `python3` on `PATH` has the mission's client, imap-data-access.
    ImapDataAccess,
    /// `has_moto`: `python3` on `PATH` has moto's S3 server (moto, flask, flask_cors) and boto3.
    Moto,
    /// `has_cdflib`: the Python of [`cdflib_python`] has cdflib.
    Cdflib,
}

impl Requirement {
    /// The `cfg` name set when the requirement is met.
    pub fn cfg(self) -> &'static str {
        match self {
            Requirement::DatabaseUrl => "has_database_url",
            Requirement::MissionData => "has_mission_data",
            Requirement::Grpcurl => "has_grpcurl",
            Requirement::Chromium => "has_chromium",
            Requirement::Graphviz => "has_graphviz",
            Requirement::ImapCli => "has_imap_cli",
            Requirement::ImapDataAccess => "has_imap_data_access",
            Requirement::Moto => "has_moto",
            Requirement::Cdflib => "has_cdflib",
        }
    }

    /// How to provide it (said when a strict build finds it missing).
    pub fn how_to_provide(self) -> &'static str {
        match self {
            Requirement::DatabaseUrl => {
                "export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (.ci/run starts one)"
            }
            Requirement::MissionData => {
                "put the mission's data in shared/data beside the checkout, or set IMAP_SHARED_DIR"
            }
            Requirement::Grpcurl => "install grpcurl 1.8 on PATH (.ci/run shows how)",
            Requirement::Chromium => "apt-get install chromium",
            Requirement::Graphviz => "apt-get install graphviz",
            Requirement::ImapCli | Requirement::ImapDataAccess | Requirement::Moto => {
                "put the venv of .ci/python-venv.sh first on PATH"
            }
            Requirement::Cdflib => {
                "pip install cdflib==1.3.16, put the venv of .ci/python-venv.sh first on PATH, or set CDFLIB_PYTHON"
            }
        }
    }
}

/// The Python the cdflib checks run: `$CDFLIB_PYTHON` when set, else `python3` on `PATH`. The
/// probe for [`Requirement::Cdflib`] asks the same one.
pub fn cdflib_python() -> OsString {
    std::env::var_os("CDFLIB_PYTHON").unwrap_or_else(|| OsString::from("python3"))
}

/// Probes each requirement and prints the build-script directives: `check-cfg` for every one,
/// the `cfg` of each one found, and what Cargo should watch to probe again.
///
/// With `TEST_REQUIREMENTS_STRICT` set (not empty, not `0`) a missing requirement ends the build
/// script with an error that names it and how to provide it.
pub fn probe(requirements: &[Requirement]) {
    let mut directives = Directives::default();
    directives.watch_env("TEST_REQUIREMENTS_STRICT");
    let mut missing = Vec::new();
    for &requirement in requirements {
        directives.push(format!("cargo::rustc-check-cfg=cfg({})", requirement.cfg()));
        match find(requirement, &mut directives) {
            Ok(()) => directives.push(format!("cargo::rustc-cfg={}", requirement.cfg())),
            Err(why) => missing.push(format!("{}: {why}; {}", requirement.cfg(), requirement.how_to_provide())),
        }
    }
    for line in &directives.lines {
        println!("{line}");
    }
    let strict = std::env::var_os("TEST_REQUIREMENTS_STRICT").is_some_and(|value| !value.is_empty() && value != "0");
    if strict && !missing.is_empty() {
        eprintln!("TEST_REQUIREMENTS_STRICT is set and tests here would be ignored:\n  {}", missing.join("\n  "));
        std::process::exit(1);
    }
}

/// Build-script output lines, each printed once.
#[derive(Default)]
struct Directives {
    lines: Vec<String>,
}

impl Directives {
    fn push(&mut self, line: String) {
        if !self.lines.contains(&line) {
            self.lines.push(line);
        }
    }

    fn watch_env(&mut self, variable: &str) {
        self.push(format!("cargo::rerun-if-env-changed={variable}"));
    }

    fn watch_path(&mut self, path: &Path) {
        self.push(format!("cargo::rerun-if-changed={}", path.display()));
    }
}

/// Looks for one requirement; says why it is missing.
fn find(requirement: Requirement, directives: &mut Directives) -> Result<(), String> {
    match requirement {
        Requirement::DatabaseUrl => {
            directives.watch_env("DATABASE_URL");
            match std::env::var_os("DATABASE_URL") {
                Some(url) if !url.is_empty() => Ok(()),
                _ => Err("DATABASE_URL is not set".to_string()),
            }
        }
        Requirement::MissionData => mission_data(directives),
        Requirement::Grpcurl => tool("grpcurl", directives).map(drop),
        Requirement::Chromium => tool("chromium", directives).map(drop),
        Requirement::Graphviz => tool("dot", directives).map(drop),
        Requirement::ImapCli => tool("imap_cli", directives).map(drop),
        Requirement::ImapDataAccess => python_packages(&python3(directives)?, &["imap_data_access"], directives),
        Requirement::Moto => {
            python_packages(&python3(directives)?, &["moto", "flask", "flask_cors", "boto3"], directives)
        }
        Requirement::Cdflib => {
            directives.watch_env("CDFLIB_PYTHON");
            let python = cdflib_python();
            // A path is taken as it is; a bare name is looked up on PATH, as running it would.
            let python = if Path::new(&python).components().count() > 1 {
                let python = PathBuf::from(python);
                if !python.is_file() {
                    return Err(format!("CDFLIB_PYTHON {} does not exist", python.display()));
                }
                directives.watch_path(&python);
                python
            } else {
                tool(&python.to_string_lossy(), directives)?
            };
            python_packages(&python, &["cdflib"], directives)
        }
    }
}

/// The folders on `PATH` (absolute ones that exist), in order.
fn path_folders() -> Vec<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut folders: Vec<PathBuf> = Vec::new();
    for folder in std::env::split_paths(&path) {
        if folder.is_absolute() && folder.is_dir() && !folders.contains(&folder) {
            folders.push(folder);
        }
    }
    folders
}

/// An executable `name` on `PATH`; when there is none every `PATH` folder is watched, so that
/// installing it re-runs the probe.
fn tool(name: &str, directives: &mut Directives) -> Result<PathBuf, String> {
    directives.watch_env("PATH");
    let folders = path_folders();
    match folders.iter().map(|folder| folder.join(name)).find(|candidate| is_executable(candidate)) {
        Some(found) => {
            directives.watch_path(&found);
            Ok(found)
        }
        None => {
            for folder in &folders {
                directives.watch_path(folder);
            }
            Err(format!("no {name} on PATH"))
        }
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

fn python3(directives: &mut Directives) -> Result<PathBuf, String> {
    tool("python3", directives)
}

/// Asks `python` where each module is, without importing it. Found modules are watched; when one
/// is missing the interpreter's site-packages folders are, since installing it changes them.
fn python_packages(python: &Path, modules: &[&str], directives: &mut Directives) -> Result<(), String> {
    const SCRIPT: &str = "import importlib.util, site, sys
for name in sys.argv[1:]:
    spec = importlib.util.find_spec(name)
    if spec is None:
        print('missing', name, '', sep='\\t')
    else:
        where = spec.origin if spec.has_location else next(iter(spec.submodule_search_locations or []), '')
        print('found', name, where or '', sep='\\t')
user_site = getattr(site, 'getusersitepackages', lambda: '')()
for folder in getattr(site, 'getsitepackages', lambda: [])() + [user_site]:
    print('site', '', folder, sep='\\t')
";
    let output = Command::new(python)
        .args(["-c", SCRIPT])
        .args(modules)
        .output()
        .map_err(|error| format!("cannot run {}: {error}", python.display()))?;
    if !output.status.success() {
        return Err(format!("{} failed: {}", python.display(), String::from_utf8_lossy(&output.stderr).trim()));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut missing = Vec::new();
    let mut found = Vec::new();
    let mut site_folders = Vec::new();
    for line in stdout.lines() {
        let mut fields = line.splitn(3, '\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("missing"), Some(name), Some(_)) => missing.push(name.to_string()),
            (Some("found"), Some(_), Some("")) => {}
            (Some("found"), Some(_), Some(location)) => found.push(PathBuf::from(location)),
            (Some("site"), Some(_), Some(folder)) => site_folders.push(PathBuf::from(folder)),
            _ => return Err(format!("unexpected output of {}: {line}", python.display())),
        }
    }
    if missing.is_empty() {
        for location in &found {
            directives.watch_path(location);
        }
        return Ok(());
    }
    for folder in site_folders.iter().filter(|folder| folder.is_dir()) {
        directives.watch_path(folder);
    }
    Err(format!("{} has no {}", python.display(), missing.join(", ")))
}

/// The mission's data folder: `$IMAP_SHARED_DIR/data`, else `shared/data` in a folder above the
/// crate (a worktree finds the checkout's neighbour too). Its path goes to the tests.
fn mission_data(directives: &mut Directives) -> Result<(), String> {
    directives.watch_env("IMAP_SHARED_DIR");
    let data = match std::env::var_os("IMAP_SHARED_DIR") {
        Some(shared) => {
            let data = PathBuf::from(shared).join("data");
            if !data.is_dir() {
                // Said at every build: someone meant to point at the data and missed.
                directives
                    .push(format!("cargo::warning=IMAP_SHARED_DIR is set but {} is not a folder", data.display()));
                return Err(format!("{} is not a folder", data.display()));
            }
            data
        }
        None => {
            let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
            manifest_dir
                .ancestors()
                .map(|folder| folder.join("shared/data"))
                .find(|data| data.is_dir())
                .ok_or(format!("no shared/data above {} and IMAP_SHARED_DIR is not set", manifest_dir.display()))?
        }
    };
    let data = data.canonicalize().map_err(|error| format!("{}: {error}", data.display()))?;
    directives.watch_path(&data);
    directives.push(format!("cargo::rustc-env=MISSION_DATA_DIR={}", data.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cfg_is_has_something_and_distinct() {
        use Requirement::*;
        let all = [DatabaseUrl, MissionData, Grpcurl, Chromium, Graphviz, ImapCli, ImapDataAccess, Moto, Cdflib];
        let names: std::collections::BTreeSet<&str> = all.iter().map(|requirement| requirement.cfg()).collect();
        assert_eq!(names.len(), all.len());
        assert!(names.iter().all(|name| name.starts_with("has_")));
    }

    #[test]
    fn a_tool_found_is_watched_and_a_missing_one_watches_the_path_folders() {
        let mut directives = Directives::default();
        let shell = tool("sh", &mut directives).expect("sh is on PATH");
        assert!(directives.lines.contains(&format!("cargo::rerun-if-changed={}", shell.display())));
        let mut directives = Directives::default();
        let missing = tool("no-such-tool-imap-sdc", &mut directives).expect_err("not on PATH");
        assert_eq!(missing, "no no-such-tool-imap-sdc on PATH");
        let watched: Vec<&String> =
            directives.lines.iter().filter(|line| line.starts_with("cargo::rerun-if-changed=")).collect();
        assert_eq!(watched.len(), path_folders().len());
        assert!(directives.lines.contains(&"cargo::rerun-if-env-changed=PATH".to_string()));
    }

    #[test]
    fn directives_are_printed_once() {
        let mut directives = Directives::default();
        directives.watch_env("PATH");
        directives.watch_env("PATH");
        assert_eq!(directives.lines, ["cargo::rerun-if-env-changed=PATH"]);
    }
}
