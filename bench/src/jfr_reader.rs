//! Workload (e): the JFR reader against the JSON Lines reader on an
//! equivalent recording. One JVM runs `DynamicLoaderDemo` (every class
//! distinct, defined by one generator loader) under the agent (`mode=all`)
//! and under `-XX:StartFlightRecording` with docs/metascope.jfc at once, so
//! both files hold the same class definitions with the same stacks; then
//! `metascope report FILE --format json` times each. The figure is class
//! events per second of wall time, from the number of classes each report
//! counted; the target is a ratio JFR / JSON Lines of at least 1.
//!
//! The pair of recordings is made once and cached under
//! target/bench-cache/ (keyed by class count and the benchmark's version).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::proc;

/// Classes the recorded JVM defines.
pub const CLASSES: u64 = 100_000;

/// The two recordings of one run.
pub struct Pair {
    pub jsonl: PathBuf,
    pub jfr: PathBuf,
}

/// Records the pair (cached) with `java`, `agent` and the harness jar.
pub fn recordings(cache: &Path, java: &Path, agent: &Path, harness_jar: &Path) -> Result<Pair> {
    let dir = cache.join(format!("jfr-reader-{CLASSES}-v1"));
    let pair = Pair {
        jsonl: dir.join("dynamic-loader.jsonl"),
        jfr: dir.join("dynamic-loader.jfr"),
    };
    if pair.jsonl.is_file() && pair.jfr.is_file() {
        return Ok(pair);
    }
    eprintln!(
        "bench: recording {CLASSES} classes with the agent and JFR at once into {}",
        dir.display()
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let jfc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metascope.jfc");
    let status = Command::new(java)
        .arg(format!(
            "-XX:StartFlightRecording:filename={},settings={}",
            pair.jfr.display(),
            jfc.display()
        ))
        .arg(format!(
            "-agentpath:{}=out={},mode=all",
            agent.display(),
            pair.jsonl.display()
        ))
        .arg("-cp")
        .arg(harness_jar)
        .arg("com.acme.demo.DynamicLoaderDemo")
        .arg(CLASSES.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .context("start java")?;
    if !status.success() || !pair.jfr.is_file() || !pair.jsonl.is_file() {
        let _ = std::fs::remove_dir_all(&dir);
        bail!("recording the JFR reader workload failed ({status})");
    }
    Ok(pair)
}

/// One timed `metascope report FILE --format json`: (wall s, CPU s, peak
/// RSS MiB, classes the report counted).
pub fn report(cli: &Path, file: &Path) -> Result<(f64, f64, f64, u64)> {
    let out_file = tempfile::NamedTempFile::new()?;
    let mut cmd = Command::new(cli);
    cmd.arg("report").arg(file).args(["--format", "json"]);
    let m = proc::run(&mut cmd, Some(out_file.path()), None)?;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out_file.path())?)
        .with_context(|| format!("report of {} is not JSON", file.display()))?;
    let classes = report["recording"]["totals"]["captured"]
        .as_u64()
        .context("the report counts no classes")?;
    Ok((
        m.wall.as_secs_f64(),
        m.cpu.as_secs_f64(),
        m.maxrss_kib as f64 / 1024.0,
        classes,
    ))
}
