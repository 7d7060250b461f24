//! `imap-sdc bench`: decoder throughput on packet files.

/// Runs the benchmark described by command-line arguments and returns its report.
pub fn run_cli(_args: &[String]) -> Result<String, String> {
    Err("bench not wired yet".into())
}
