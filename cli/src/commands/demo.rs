//! `metascope demo`: the bundled bean-copier reproduction under the agent.

use std::ffi::OsString;

use anyhow::{Context, Result};
use metascope_harness::{COPIER, HARNESS_JAR, LEGACY_REFLECTION_ARG};

use super::launch::java_executable;
use super::run::run_java_and_report;
use crate::cli::DemoArgs;

/// Runs the copier program under the agent and prints its report. Returns
/// the JVM's exit code.
pub fn run(args: DemoArgs) -> Result<i32> {
    let dir = tempfile::Builder::new()
        .prefix("metascope-demo-")
        .tempdir()
        .context("cannot create a temporary directory for the demo")?;
    let jar = dir.path().join("metascope-harness.jar");
    std::fs::write(&jar, HARNESS_JAR).with_context(|| format!("cannot write {}", jar.display()))?;
    let output = args
        .keep
        .clone()
        .unwrap_or_else(|| dir.path().join("copier.jsonl"));

    let mut argv: Vec<OsString> = vec![java_executable()];
    argv.extend(COPIER.jvm_args.iter().map(OsString::from));
    // Brings GeneratedMethodAccessor classes back on JDK 18-21 (ignored
    // elsewhere), so the demo shows inflation on those JDKs too.
    argv.push(LEGACY_REFLECTION_ARG.into());
    argv.push("-cp".into());
    argv.push(jar.into_os_string());
    argv.push(COPIER.main_class.into());
    argv.extend(COPIER.args.iter().map(OsString::from));

    eprintln!(
        "metascope demo: running the bean-copier reproduction \
         (JDK reflection inflation under soft-reference pressure)..."
    );
    run_java_and_report(argv, &output, args.agent.as_deref(), None, &args.report)
}
