//! The Python that runs the cdflib cross-checks: `$CDFLIB_PYTHON` when set, else `python3` on
//! the PATH. Shared with the processor's check of a real product (included there by path).

use std::ffi::OsString;
use std::process::Command;

/// The interpreter to run cdflib with.
pub fn python() -> OsString {
    std::env::var_os("CDFLIB_PYTHON").unwrap_or_else(|| OsString::from("python3"))
}

/// Why `python` cannot run the checks, or `None` when it imports cdflib.
pub fn cdflib_missing(python: &OsString) -> Option<String> {
    let needs = format!(
        "needs {} with cdflib (pip install cdflib==1.3.16, or CDFLIB_PYTHON=<a python that has it>)",
        python.to_string_lossy()
    );
    match Command::new(python).args(["-c", "import cdflib"]).output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!("{needs}: {}", String::from_utf8_lossy(&output.stderr).trim())),
        Err(error) => Some(format!("{needs}: {error}")),
    }
}
