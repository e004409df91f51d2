//! `metascope run`: a JVM under the agent, then the report (shared with
//! `demo`).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::launch;
use super::report::write_report;
use crate::cli::{Format, ReportOptions, RunArgs};
use crate::escape;

/// Returns the JVM's exit code.
pub fn run(args: RunArgs) -> Result<i32> {
    let output = args.output.clone().unwrap_or_else(launch::default_output);
    run_java_and_report(
        args.java,
        &output,
        args.agent.as_deref(),
        args.agent_opts.as_deref(),
        &args.report,
    )
}

/// Starts `java_argv` under the agent writing to `output`, waits, reports.
/// Returns the JVM's exit code.
pub fn run_java_and_report(
    java_argv: Vec<OsString>,
    output: &Path,
    agent: Option<&Path>,
    agent_opts: Option<&str>,
    report: &ReportOptions,
) -> Result<i32> {
    let agent = launch::find_agent(agent)?;
    let output: PathBuf = std::path::absolute(output)
        .with_context(|| format!("cannot resolve the output path {}", output.display()))?;
    let option = launch::agentpath_option(&agent, &output, agent_opts)?;
    // A stale file from an earlier run must not be reported as this one.
    if output.exists() {
        std::fs::remove_file(&output)
            .with_context(|| format!("cannot replace the existing {}", output.display()))?;
    }
    let command = launch::java_command(&java_argv, option)?;

    let shown = escape::text(&output.display().to_string()).into_owned();
    eprintln!("metascope: recording to {shown}");
    let exit = launch::run_jvm(command)?;

    if !launch::recording_written(&output) {
        eprintln!(
            "metascope: no recording in {shown}: the JVM exited with code {} before the agent started \
             (if a `metascope:` line above rejects an option, fix --agent-opts)",
            exit.code
        );
        return Ok(exit.code);
    }
    eprintln!("metascope: recording in {shown}");
    let _ = std::io::stdout().flush();
    if matches!(report.format, Format::Text | Format::Json) {
        println!();
    }
    write_report(&output, report, None)?;
    Ok(exit.code)
}
