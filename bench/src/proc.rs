//! Runs one child process and measures it: wall time from spawn to reap, and
//! the child's peak resident set size from `wait4`'s rusage (`ru_maxrss`,
//! KiB on Linux), which covers that child only.

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
    cmd.stdin(Stdio::null())
        .stdout(sink(stdout)?)
        .stderr(sink(stderr)?);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let reaped = crate::sys::wait4(child.id());
    let wall = start.elapsed();
    // The child is reaped; dropping `Child` neither waits nor kills.
    drop(child);
    let reaped = reaped.context("wait4 failed")?;
    if !reaped.success {
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
        bail!(
            "{cmd:?} failed (wait status {:#x}):\n{detail}",
            reaped.status
        );
    }
    Ok(Measured {
        wall,
        maxrss_kib: reaped.maxrss_kib,
        cpu: reaped.cpu,
    })
}
