//! `metascope`: finds the line of your code that keeps defining classes
//! when Metaspace grows.
//!
//! One straight line, each module importing only those below it:
//!
//! ```text
//!  main        dispatches the subcommand
//!    |
//!  cli         every option, parsed in one place (clap)
//!  commands    report, check, convert, run, demo, attach, top/live: read, render, print
//!    |
//!  render      text, json, html, flame (folded/svg), check, live; only they write English
//!    |
//!  report      the Report: what the analysis found, data only, the renderers' one input
//!    |
//!  analyze     consumers fed record by record: call sites, stacks, regeneration,
//!    |         timeline, loaders, OOMs, warnings; verdicts as data
//!  read        sources -> records: JSON Lines (a file, a followed spool), JFR, typed records
//! ```
//!
//! Leaves used across the stack: the event schema and its class view
//! (crate `metascope-events`), [`format`] (numbers, durations, dates),
//! [`escape`] (names from a recording made safe to show), [`fast_hash`]
//! (the hot path's maps) and [`sys`] (signal handlers: the only
//! `unsafe`). ARCHITECTURE.md walks one class record through them.
#![deny(unsafe_code)]

mod analyze;
mod cli;
mod commands;
mod escape;
mod fast_hash;
#[cfg(test)]
mod fixtures;
mod format;
#[cfg(test)]
mod fuzz;
mod read;
mod render;
mod report;
mod sys;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::{attach, check, convert, demo, live, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report(args) => {
            commands::report::write_report(&args.file, &args.options, args.output.as_deref())
                .map(|()| 0)
        }
        Command::Check(args) => Ok(check::run(&args)),
        Command::Convert(args) => convert::run(&args).map(|()| 0),
        Command::Run(args) => run::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Attach(args) => attach::run(args),
        Command::Top(args) => live::top(args),
        Command::Live(args) => live::live(args),
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
