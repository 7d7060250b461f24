//! Resource limits of a science program run as a process of the node (a container gets its limits
//! from docker, see [`super::container`]). The limits must hold from the program's first
//! instruction, and setting them between fork and exec needs `pre_exec`, which is unsafe (this
//! crate forbids unsafe code). So a limited program starts behind a one-line shell gate
//! (`read` a line from stdin, then `exec` the program): the processor sets the gate's limits
//! (`prlimit`: RLIMIT_AS for memory, RLIMIT_CPU for CPU time; `setpriority` for nice), then
//! opens it. Limits survive `exec` and are inherited by every process the program starts.
//!
//! RLIMIT_AS makes allocations past the limit fail (Python raises `MemoryError`); RLIMIT_CPU
//! sends SIGXCPU at the limit and SIGKILL [`CPU_GRACE_SECONDS`] later. A failed run's reason
//! names the limit it met ([`exit_reason`]).

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};

use rustix::process::{Pid, Resource, Rlimit, Signal};

use crate::config::ResourceLimits;

/// Seconds of CPU time past `cpu_time` (spent after SIGXCPU, which a program may catch to save
/// its work) before the kernel kills the program.
pub const CPU_GRACE_SECONDS: u64 = 2;
/// The gate: waits for the processor's line on stdin, then becomes the program (`$@`).
const GATE_SCRIPT: &str = "read -r opened && exec \"$@\"";
/// `$0` of the gate, which shell error messages start with.
const GATE_NAME: &str = "imap-sdc-limits";
/// What programs print when an allocation fails (Python, C, C++, coreutils, Rust, Fortran).
/// Lowercase, as the log is compared lowercased.
const OUT_OF_MEMORY_WORDS: [&str; 6] =
    ["memoryerror", "cannot allocate memory", "memory exhausted", "out of memory", "bad_alloc", "memory allocation of"];

/// Whether any limit applies to a process (`cpus` is a container's).
fn limits_process(limits: &ResourceLimits) -> bool {
    limits.memory.is_some() || limits.cpu_time.is_some() || limits.nice.is_some()
}

/// The command that runs `arguments`: the program itself, or, when `limits` apply to it, the
/// program behind the gate that [`spawn`] opens once the limits are set.
pub fn command(arguments: &[String], limits: &ResourceLimits) -> Command {
    if !limits_process(limits) {
        let mut command = Command::new(&arguments[0]);
        command.args(&arguments[1..]);
        return command;
    }
    let mut command = Command::new("/bin/sh");
    command.args(["-c", GATE_SCRIPT, GATE_NAME]).args(arguments);
    command
}

/// Starts a command made by [`command`] with the same `limits`, which hold before the program
/// runs. The program's stdin is then at its end, as if it were null.
pub fn spawn(command: &mut Command, limits: &ResourceLimits) -> std::io::Result<Child> {
    if !limits_process(limits) {
        return command.spawn();
    }
    command.stdin(Stdio::piped());
    let mut child = command.spawn()?;
    let opened = apply(child.id(), limits).and_then(|()| {
        let mut gate = child.stdin.take().ok_or_else(|| std::io::Error::other("the gate has no stdin"))?;
        gate.write_all(b"go\n")
    });
    if let Err(error) = opened {
        // The gate never ran the program: ending the shell ends the run.
        let _ = child.kill();
        let _ = child.wait();
        return Err(std::io::Error::new(error.kind(), format!("cannot apply the limits: {error}")));
    }
    Ok(child)
}

fn apply(process: u32, limits: &ResourceLimits) -> std::io::Result<()> {
    let pid = i32::try_from(process).ok().and_then(Pid::from_raw).ok_or_else(|| std::io::Error::other("bad pid"))?;
    if let Some(memory) = limits.memory {
        let bytes = Some(memory.bytes());
        rustix::process::prlimit(Some(pid), Resource::As, Rlimit { current: bytes, maximum: bytes })?;
    }
    if let Some(cpu_time) = limits.cpu_time {
        let seconds = cpu_seconds(cpu_time);
        let limit = Rlimit { current: Some(seconds), maximum: Some(seconds + CPU_GRACE_SECONDS) };
        rustix::process::prlimit(Some(pid), Resource::Cpu, limit)?;
    }
    if let Some(nice) = limits.nice {
        rustix::process::setpriority_process(Some(pid), nice)?;
    }
    Ok(())
}

/// The kernel counts CPU time in whole seconds; a fraction rounds up, never to no time at all.
pub fn cpu_seconds(cpu_time: std::time::Duration) -> u64 {
    cpu_time.as_secs_f64().ceil().max(1.0) as u64
}

/// Why a process run ended badly: the limit it met when one explains the ending, then how it
/// ended. `log` is the end of what it printed.
pub fn exit_reason(status: ExitStatus, log: &str, limits: &ResourceLimits) -> String {
    match limit_met(status.signal(), log, limits, false) {
        Some(limit) => format!("{limit} (exited with {status})"),
        None => format!("exited with {status}"),
    }
}

/// The limit a run met, if one explains how it ended: killed by `signal`, or saying that memory
/// ran out. `memory_kills` is true where exceeding the memory limit kills (a container's cgroup).
pub fn limit_met(signal: Option<i32>, log: &str, limits: &ResourceLimits, memory_kills: bool) -> Option<String> {
    let killed_by = |wanted: Signal| signal == Some(wanted.as_raw());
    if let Some(cpu_time) = limits.cpu_time
        && (killed_by(Signal::XCPU) || (killed_by(Signal::KILL) && !memory_kills))
    {
        return Some(format!("cpu time limit {} exceeded", mesh_runtime::config::duration::format(cpu_time)));
    }
    let memory = limits.memory?;
    let log = log.to_lowercase();
    let out_of_memory = OUT_OF_MEMORY_WORDS.iter().any(|words| log.contains(words));
    (out_of_memory || (memory_kills && killed_by(Signal::KILL))).then(|| format!("memory limit {memory} exceeded"))
}
