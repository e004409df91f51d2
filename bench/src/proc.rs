//! Runs one child process and measures it: wall time from spawn to reap, and
//! the child's peak resident set size from `wait4`'s rusage (`ru_maxrss`,
//! KiB on Linux) and its CPU time.
//!
//! Linux starts a new program's `ru_maxrss` at the peak RSS of the process
//! that spawned it (exec keeps the old address space's high-water mark), so
//! a child of the benchmark, which holds tens of MiB after writing the
//! streams, would never report less than that. Each child is therefore
//! started by a fresh, small copy of this binary ([`MEASURE_ARG`]), which
//! times and reaps it and hands the figures back in a file.

use std::ffi::OsString;
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// Peak RSS of the child, KiB.
    pub maxrss_kib: u64,
    /// User + system CPU time of the child.
    pub cpu: Duration,
}

/// Spawns `cmd` with stdout and stderr sent to `stdout`/`stderr` files (or
/// discarded when `None`), waits for it with `wait4` and fails unless it
/// exited 0.
pub fn run(cmd: &mut Command, stdout: Option<&Path>, stderr: Option<&Path>) -> Result<Measured> {
    let sink = |p: Option<&Path>| -> Result<Stdio> {
        Ok(match p {
            Some(p) => {
                Stdio::from(File::create(p).with_context(|| format!("create {}", p.display()))?)
            }
            None => Stdio::null(),
        })
    };
    let figures = tempfile::NamedTempFile::new()?;
    let mut starter = Command::new(std::env::current_exe()?);
    starter
        .arg(MEASURE_ARG)
        .arg(figures.path())
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => starter.env(key, value),
            None => starter.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        starter.current_dir(dir);
    }
    starter
        .stdin(Stdio::null())
        .stdout(sink(stdout)?)
        .stderr(sink(stderr)?);
    let status = starter
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let text = std::fs::read_to_string(figures.path())?;
    let mut numbers = text.split_whitespace().map(str::parse::<u64>);
    let mut next = || -> Result<u64> {
        numbers
            .next()
            .context("the measuring process wrote no figures")?
            .context("the measuring process wrote a malformed figure")
    };
    let (success, wait_status, wall_ns, maxrss_kib, cpu_ns) =
        (next()?, next()?, next()?, next()?, next()?);
    if !status.success() || success != 1 {
        let detail = stderr
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| {
                s.chars()
                    .rev()
                    .take(2000)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>()
            })
            .unwrap_or_default();
        bail!("{cmd:?} failed (wait status {wait_status:#x}):\n{detail}");
    }
    Ok(Measured {
        wall: Duration::from_nanos(wall_ns),
        maxrss_kib,
        cpu: Duration::from_nanos(cpu_ns),
    })
}

/// The argument under which this binary starts one command for [`run`]:
/// `MEASURE_ARG FIGURES PROGRAM ARGS...`.
pub const MEASURE_ARG: &str = "--measure-child";

/// The measuring process: starts `PROGRAM ARGS...` with this process's
/// stdio, environment and directory, reaps it with `wait4` and writes
/// "success wait-status wall-ns maxrss-KiB cpu-ns" to `FIGURES`.
pub fn measure_child(args: &[OsString]) -> Result<()> {
    let [figures, program, rest @ ..] = args else {
        bail!("usage: {MEASURE_ARG} FIGURES PROGRAM [ARGS...]");
    };
    let start = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("cannot start {program:?}"))?;
    let reaped = crate::sys::wait4(child.id());
    let wall = start.elapsed();
    // The child is reaped; dropping `Child` neither waits nor kills.
    drop(child);
    let reaped = reaped.context("wait4 failed")?;
    std::fs::write(
        figures,
        format!(
            "{} {} {} {} {}",
            u8::from(reaped.success),
            reaped.status as u32,
            wall.as_nanos(),
            reaped.maxrss_kib,
            reaped.cpu.as_nanos()
        ),
    )?;
    Ok(())
}
