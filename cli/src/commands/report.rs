//! `metascope report` (and the report that ends `run`, `demo` and
//! `attach`): the whole pipeline, read -> analyse -> report -> render, and
//! the result written to stdout or a file.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::analyze::attribution::Ownership;
use crate::analyze::{Analysis, Options, SiteOrder};
use crate::cli::{Format, ReportOptions, Sort};
use crate::read::jsonl::JsonLines;
use crate::read::{self, Damage, Source};
use crate::render::{flame, html, json, text};
use crate::report::{self, Contents, FlameGraphParts, Report};

/// How `options` ask for the recording to be analysed: `libraries` and
/// `app` as `--library` and `--app` give them.
pub fn analysis_options(
    libraries: &[String],
    app: &[String],
    all_kinds: bool,
    stack_memory_mib: u64,
) -> Options {
    Options {
        ownership: Ownership::new(libraries, app),
        all_kinds,
        stack_memory: stack_memory_mib.saturating_mul(1 << 20),
        order: SiteOrder::Classes,
    }
}

/// Reads a whole recording into an analysis.
pub fn analyse(mut source: impl Source, options: Options) -> Result<(Analysis, Damage)> {
    let mut analysis = Analysis::new(options);
    source.read(&mut analysis)?;
    Ok((analysis, source.damage().clone()))
}

/// The report of the recording `file` (every call site with `top` 0).
pub fn report_of(
    file: &Path,
    options: Options,
    top: usize,
    flame_graph: FlameGraphParts,
) -> Result<Report> {
    let (analysis, damage) = analyse(read::open(file)?, options)?;
    let shown = file.display().to_string();
    let contents = Contents {
        file: &shown,
        top,
        flame_graph,
    };
    Ok(report::build(&analysis.finish(&damage), &contents))
}

/// Reads the recording at `file` and writes the report to `output`, or to
/// stdout when `None`.
pub fn write_report(file: &Path, options: &ReportOptions, output: Option<&Path>) -> Result<()> {
    let to_terminal = check_destination(options, output)?;
    let report = report_of(
        file,
        report_analysis(options),
        options.top,
        needs_flame_graph(options.format),
    )?;
    render_and_write(&report, options.format, output, to_terminal)
}

/// Writes the report of a recording that is already open (a file of a JVM,
/// opened as its user by `metascope attach`) to stdout; `shown` names it
/// in the report and in messages.
pub fn write_report_from(input: File, shown: &Path, options: &ReportOptions) -> Result<()> {
    let to_terminal = check_destination(options, None)?;
    let input = BufReader::with_capacity(1 << 16, input);
    let (analysis, damage) = analyse(JsonLines::new(input, shown), report_analysis(options))?;
    let file = shown.display().to_string();
    let contents = Contents {
        file: &file,
        top: options.top,
        flame_graph: needs_flame_graph(options.format),
    };
    let report = report::build(&analysis.finish(&damage), &contents);
    render_and_write(&report, options.format, None, to_terminal)
}

fn report_analysis(options: &ReportOptions) -> Options {
    Options {
        order: match options.sort {
            Sort::Classes => SiteOrder::Classes,
            Sort::Bytes => SiteOrder::Bytes,
        },
        ..analysis_options(
            &options.libraries,
            &options.app,
            options.all_kinds,
            options.stack_memory,
        )
    }
}

/// What of the flame graph `format` draws.
fn needs_flame_graph(format: Format) -> FlameGraphParts {
    match format {
        Format::Text | Format::Json => FlameGraphParts::None,
        Format::Folded => FlameGraphParts::Stacks,
        Format::Svg | Format::Html => FlameGraphParts::StacksAndFrames,
    }
}

/// Whether the report goes to a terminal; markup formats never do.
fn check_destination(options: &ReportOptions, output: Option<&Path>) -> Result<bool> {
    let to_terminal = output.is_none() && std::io::stdout().is_terminal();
    if to_terminal && matches!(options.format, Format::Svg | Format::Html) {
        // Pages of markup on a terminal help nobody.
        bail!(
            "--format {} writes a file: add -o FILE (`metascope report`) or redirect stdout, \
             e.g. > report.{}",
            format_name(options.format),
            format_name(options.format)
        );
    }
    Ok(to_terminal)
}

fn render_and_write(
    report: &Report,
    format: Format,
    output: Option<&Path>,
    to_terminal: bool,
) -> Result<()> {
    let text = match format {
        Format::Text => text::render(report, to_terminal),
        Format::Json => json::render(report),
        Format::Folded => flame::render_folded(report),
        Format::Svg => flame::render_svg(report)?,
        Format::Html => html::render(report)?,
    };
    match output {
        Some(path) => std::fs::write(path, text.as_bytes())
            .with_context(|| format!("cannot write the report to {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                // `metascope report x | head` is fine.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("cannot write the report to stdout"),
            }
        }
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Text => "text",
        Format::Json => "json",
        Format::Folded => "folded",
        Format::Svg => "svg",
        Format::Html => "html",
    }
}
