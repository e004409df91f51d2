//! Shared steps of the end-to-end sessions: find (or build) the real
//! `metascope` binary and agent, find a JDK, run a JVM under the agent, and
//! read the CLI's JSON report.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const WORKSPACE: &str = env!("CARGO_MANIFEST_DIR");

/// target/<profile>/, where cargo puts both the CLI and the agent.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent() // deps/
        .and_then(Path::parent)
        .expect("target/<profile>/deps layout")
        .to_path_buf()
}

/// The CLI binary, built on first use so `cargo test` alone works.
pub fn metascope_bin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = profile_dir();
        let (cli, agent) = (dir.join("metascope"), dir.join("libmetascope_agent.so"));
        if !cli.exists() || !agent.exists() {
            let mut build = Command::new(env!("CARGO"));
            build.current_dir(WORKSPACE).args([
                "build",
                "-p",
                "metascope-cli",
                "-p",
                "metascope-agent",
            ]);
            if dir.file_name().is_some_and(|n| n == "release") {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build");
            assert!(status.success(), "building the CLI and the agent failed");
        }
        cli
    })
}

pub fn agent_lib() -> PathBuf {
    metascope_bin();
    profile_dir().join("libmetascope_agent.so")
}

pub fn metascope() -> Command {
    Command::new(metascope_bin())
}

/// The `java` of a major version: 17 is the one on PATH, others come
/// from scripts/install-jdks.sh. `None` (with the reason printed) when
/// the runtime is not installed.
pub fn java(major: u32) -> Option<PathBuf> {
    let out = Command::new(format!("{WORKSPACE}/scripts/java-for.sh"))
        .arg(major.to_string())
        .output()
        .expect("run scripts/java-for.sh");
    if out.status.success() {
        Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    } else {
        skip(&format!(
            "JDK {major} is not installed ({}); scripts/test installs it",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
        None
    }
}

/// In CI a missing runtime is an error, not a skip.
pub fn require_in_ci(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing in CI: .ci/run must install it (scripts/test does)");
    }
}

/// Polls `condition` every 20 ms until it holds; panics naming `what` if
/// it still does not after `limit`. For conditions that become true on
/// their own (a file appears, a process exits): never sleep-then-assert.
pub fn wait_until(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "waited {limit:?} in vain for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// This test process runs as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A user's session in a scratch directory.
pub struct Session {
    pub dir: tempfile::TempDir,
}

impl Session {
    pub fn new() -> Session {
        Session {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `metascope run -o FILE [--agent-opts OPTS] -- JAVA ARGS...`; returns
    /// the CLI's output and the recording's path.
    pub fn run(
        &self,
        java: &Path,
        agent_opts: Option<&str>,
        java_args: &[&str],
    ) -> (Output, PathBuf) {
        let recording = self.path("recording.jsonl");
        let mut cmd = metascope();
        cmd.current_dir(self.dir.path())
            .arg("run")
            .arg("-o")
            .arg(&recording);
        if let Some(opts) = agent_opts {
            cmd.args(["--agent-opts", opts]);
        }
        cmd.arg("--").arg(java).args(java_args);
        let out = cmd.output().expect("run metascope run");
        (out, recording)
    }

    /// `metascope report FILE --format json [extra...]`, parsed.
    pub fn json_report(&self, recording: &Path, extra: &[&str]) -> Value {
        let out = metascope()
            .arg("report")
            .arg(recording)
            .args(["--format", "json", "--top", "0"])
            .args(extra)
            .output()
            .expect("run metascope report");
        assert!(out.status.success(), "report failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("report is not JSON ({e}): {}", stdout(&out)))
    }
}

/// Runs a harness program under `metascope run` and returns its JSON report.
pub fn record_harness(
    java: &Path,
    program: &metascope_harness::Program,
    extra_jvm: &[&str],
    agent_opts: Option<&str>,
) -> (Session, Output, Value) {
    let session = Session::new();
    let mut args: Vec<&str> = extra_jvm.to_vec();
    args.extend_from_slice(program.jvm_args);
    let classpath = program.classpath();
    args.extend_from_slice(&["-cp", &classpath, program.main_class]);
    args.extend_from_slice(program.args);
    let (out, recording) = session.run(java, agent_opts, &args);
    assert!(
        out.status.success(),
        "{} under metascope failed: {}\n{}",
        program.name,
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&program.done_line()),
        "the program did not finish: {}",
        stdout(&out)
    );
    let report = session.json_report(&recording, &[]);
    (session, out, report)
}

pub fn call_sites(report: &Value) -> &Vec<Value> {
    report["call_sites"].as_array().expect("call_sites array")
}

pub fn classes(site: &Value) -> u64 {
    site["classes"].as_u64().expect("classes count")
}

/// The totals must reconcile: captured + dropped = seen.
pub fn assert_reconciles(report: &Value) {
    let summary = &report["recording"]["summary"];
    assert!(summary.is_object(), "no summary: {report}");
    let (seen, captured, dropped) = (
        summary["seen"].as_u64().unwrap(),
        summary["captured"].as_u64().unwrap(),
        summary["dropped"].as_u64().unwrap(),
    );
    assert_eq!(
        captured + dropped,
        seen,
        "summary does not reconcile: {summary}"
    );
    assert_eq!(
        report["recording"]["totals"]["captured"].as_u64().unwrap(),
        captured,
        "class records in the file differ from the summary"
    );
}

/// The call site whose application frame is `class.method`, if any.
pub fn site_at<'a>(report: &'a Value, class: &str, method: &str) -> Vec<&'a Value> {
    call_sites(report)
        .iter()
        .filter(|s| {
            s["application_frame"]["class"] == class && s["application_frame"]["method"] == method
        })
        .collect()
}

/// A test that cannot run here says so; in CI that is a failure.
pub fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
    require_in_ci(why);
}

/// Class records in a recording so far (whole lines the agent flushed)
/// whose line contains `needle` ("" for all).
pub fn class_records(recording: &Path, needle: &str) -> usize {
    std::fs::read_to_string(recording)
        .map(|text| {
            text.lines()
                .filter(|l| l.starts_with(r#"{"type":"class","#) && l.contains(needle))
                .count()
        })
        .unwrap_or(0)
}

/// Waits until the agent has flushed at least `n` class records whose line
/// contains `needle` ("" for any) to `recording` (it flushes at least every
/// 200 ms).
pub fn wait_for_class_records(recording: &Path, needle: &str, n: usize) {
    wait_until(
        std::time::Duration::from_secs(30),
        &format!(
            "{n} class records with {needle:?} in {}",
            recording.display()
        ),
        || class_records(recording, needle) >= n,
    );
}

/// Line numbers of the lines in a harness source that contain `needle`,
/// so the expectations follow the source rather than being typed in.
pub fn source_lines(file: &str, needle: &str) -> Vec<u64> {
    let path = format!(
        "{}/src/com/acme/demo/{file}",
        metascope_harness::HARNESS_SOURCE_DIR
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let lines: Vec<u64> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle) && !l.trim_start().starts_with('*'))
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert!(!lines.is_empty(), "{needle} not found in {file}");
    lines
}
