//! `metascope`: finds the line of your code that keeps defining classes
//! when Metaspace grows.
#![deny(unsafe_code)]

mod attach_cmd;
mod callsite;
mod check;
mod cli;
mod demo;
mod diagnosis;
mod escape;
mod fast_hash;
mod flame;
mod format;
mod grouping;
mod html_report;
mod launch;
mod lines;
mod live_view;
mod output;
mod recording;
#[cfg(test)]
mod recording_fuzz;
mod report;
mod stacks;
mod sys;
mod text_report;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::cli::{Cli, Command, Format, ReportOptions, RunArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(args) => {
            output::write_report(&args.file, &args.options, args.output.as_deref()).map(|()| 0)
        }
        Command::Check(args) => Ok(check::run(&args)),
        Command::Run(args) => run(args),
        Command::Demo(args) => demo::run(args),
        Command::Attach(args) => attach_cmd::run(args),
        Command::Top(args) => live_view::top(args),
        Command::Live(args) => live_view::live(args),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            // Errors quote paths and lines of the input: never raw.
            eprintln!("metascope: error: {}", escape::text(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Reads the recording and prints the report to stdout.
/// Every format goes through `output::write_report`.
pub fn print_report(file: &Path, options: &ReportOptions) -> Result<()> {
    output::write_report(file, options, None)
}

/// `metascope run`: the JVM under the agent, then the report. Returns the
/// JVM's exit code.
fn run(args: RunArgs) -> Result<i32> {
    let output = args.output.clone().unwrap_or_else(launch::default_output);
    run_java_and_report(
        args.java,
        &output,
        args.agent.as_deref(),
        args.agent_opts.as_deref(),
        &args.report,
    )
}

/// Shared by `run` and `demo`: start `java_argv` under the agent writing to
/// `output`, wait, report. Returns the JVM's exit code.
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

    eprintln!(
        "metascope: recording to {}",
        escape::text(&output.display().to_string())
    );
    let exit = launch::run_jvm(command)?;

    if !launch::recording_written(&output) {
        eprintln!(
            "metascope: no recording in {}: the JVM exited with code {} before the agent started \
             (if a `metascope:` line above rejects an option, fix --agent-opts)",
            escape::text(&output.display().to_string()),
            exit.code
        );
        return Ok(exit.code);
    }
    eprintln!(
        "metascope: recording in {}",
        escape::text(&output.display().to_string())
    );
    let _ = std::io::stdout().flush();
    if matches!(report.format, Format::Text | Format::Json) {
        println!();
    }
    print_report(&output, report)?;
    Ok(exit.code)
}
