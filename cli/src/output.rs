//! Reads a recording and writes its report in any format, to stdout or a
//! file (`report -o FILE`).

use std::fs::File;
use std::io::{BufReader, IsTerminal, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::callsite::Libraries;
use crate::cli::{Format, ReportOptions};
use crate::recording::{ReadOptions, Recording};
use crate::{flame, html_report, report, text_report};

/// Reads the recording at `file` and writes the report to `output`, or to
/// stdout when `None`.
pub fn write_report(file: &Path, options: &ReportOptions, output: Option<&Path>) -> Result<()> {
    let to_terminal = check_destination(options, output)?;
    let recording = Recording::read(file, &read_options(options))?;
    render_and_write(&recording, options, output, to_terminal)
}

/// Writes the report of a recording that is already open (a file of a JVM,
/// opened as its user by `metascope attach`) to stdout; `shown` names it
/// in the report and in messages.
pub fn write_report_from(input: File, shown: &Path, options: &ReportOptions) -> Result<()> {
    let to_terminal = check_destination(options, None)?;
    let input = BufReader::with_capacity(1 << 16, input);
    let recording = Recording::from_reader(shown, input, &read_options(options))?;
    render_and_write(&recording, options, None, to_terminal)
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

fn read_options(options: &ReportOptions) -> ReadOptions {
    ReadOptions {
        libraries: Libraries::with_extra(&options.libraries),
        all_kinds: options.all_kinds,
        stack_memory: options.stack_memory.saturating_mul(1 << 20),
    }
}

fn render_and_write(
    recording: &Recording,
    options: &ReportOptions,
    output: Option<&Path>,
    to_terminal: bool,
) -> Result<()> {
    let libraries = Libraries::with_extra(&options.libraries);
    let report = report::build(recording, options.top, &libraries);
    let text = match options.format {
        Format::Text => text_report::render(&report, to_terminal),
        Format::Json => report::to_json(&report),
        Format::Folded => flame::render_folded(recording, &libraries),
        Format::Svg => flame::render_svg(recording, &report, &libraries)?,
        Format::Html => html_report::render(recording, &report, &libraries)?,
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
