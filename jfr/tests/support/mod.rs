//! Recording real JFR files with the harness programs on each JDK, and
//! reading them back with the JDK's own `jfr` tool.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::Command;

use metascope_harness::{Program, HARNESS_JAR_PATH};

pub const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// docs/metascope.jfc, the settings file users get.
pub fn metascope_jfc() -> PathBuf {
    Path::new(WORKSPACE).join("docs/metascope.jfc")
}

/// The `java` of a major version (17 is the one on PATH, the others come
/// from scripts/install-jdks.sh); `None` with SKIPPED printed when it is not
/// installed, a failure in CI.
pub fn java(major: u32) -> Option<PathBuf> {
    let out = Command::new(format!("{WORKSPACE}/scripts/java-for.sh"))
        .arg(major.to_string())
        .output()
        .expect("run scripts/java-for.sh");
    if out.status.success() {
        return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    eprintln!(
        "SKIPPED: JDK {major} is not installed ({}); scripts/test installs it",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "JDK {major} is missing in CI: .ci/run must install it (scripts/test does)"
    );
    None
}

/// The `jfr` tool next to a `java` (every JDK 11-25 runtime here has one).
pub fn jfr_tool(java: &Path) -> PathBuf {
    let tool = java.with_file_name("jfr");
    assert!(tool.exists(), "no jfr tool next to {}", java.display());
    tool
}

/// Runs `program` with `args` (its defaults when empty) on `java` under
/// `-XX:StartFlightRecording` with `settings` (e.g. the path of
/// metascope.jfc, or `default`) and returns the recording.
pub fn record(
    java: &Path,
    program: &Program,
    args: &[&str],
    settings: &str,
    extra_jvm: &[&str],
    dir: &Path,
) -> PathBuf {
    let file = dir.join(format!("{}.jfr", program.name));
    let start = format!(
        "-XX:StartFlightRecording:filename={},settings={settings}",
        file.display()
    );
    let args = if args.is_empty() { program.args } else { args };
    let out = Command::new(java)
        .arg(&start)
        .args(extra_jvm)
        .args(program.jvm_args)
        .args(["-cp", HARNESS_JAR_PATH, program.main_class])
        .args(args)
        .output()
        .expect("start java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&program.done_line()),
        "{} failed on {}: {stdout}\n{}",
        program.name,
        java.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(file.exists(), "no recording at {}", file.display());
    file
}

/// `jfr print --json --stack-depth 64 --events EVENTS FILE`, parsed: the
/// events as the JDK's own parser reads them.
pub fn jfr_print(jfr: &Path, file: &Path, events: &str) -> Vec<serde_json::Value> {
    let out = Command::new(jfr)
        .args(["print", "--json", "--stack-depth", "64", "--events", events])
        .arg(file)
        .output()
        .expect("run jfr print");
    assert!(
        out.status.success(),
        "jfr print failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("jfr print --json output is JSON");
    match doc["recording"]["events"].take() {
        serde_json::Value::Array(events) => events,
        other => panic!("no events array in jfr print output: {other}"),
    }
}
