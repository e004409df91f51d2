//! What is wrong with a recording, as data: the input's damage (from the
//! reader), what the recording says about itself (drops, capture
//! disabled, no summary) and what the analysis had to leave out. Most
//! important first; the renderers word them.

use serde::Serialize;

use metascope_events::ConvertedFrom;

use super::facts::Facts;
use crate::read::{CutOff, Damage, JfrDamage, LineProblem, PROBLEMS_LISTED};

/// One thing wrong with the recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// The file does not start with the agent's header: its beginning is
    /// missing; the rest is read as the current schema.
    NoHeader,
    /// The agent's queue was full: every count is a lower bound.
    ClassesDropped { classes: u64 },
    /// The agent stopped capturing early: later classes are missing.
    CaptureDisabled { reason: String },
    /// Cut off: the last line is incomplete.
    CutOffMidLine { line: u64 },
    /// Cut off: the last line is incomplete and over the line limit (e.g.
    /// NUL bytes a crash left at the end).
    CutOffInLongLine { line: u64, bytes: u64 },
    /// Cut off: a JFR recording ends inside chunk `chunk` (killed, or
    /// copied while written); what was flushed before `read_to` was read,
    /// `lost_events` of the chunk's events were there but not decodable.
    CutOffInJfrChunk {
        chunk: u32,
        read_to: u64,
        file_len: u64,
        lost_events: u64,
    },
    /// A JFR recording has bytes that do not decode at `offset`: what came
    /// before was read.
    JfrDamaged {
        chunk: u32,
        offset: u64,
        file_len: u64,
        lost_events: u64,
        reason: String,
    },
    /// Cut off: no summary at the end (killed, halted, crashed or still
    /// running).
    NoSummary,
    /// The recording was converted from Java Flight Recorder's: no class
    /// bytes and no code sources, so no accessor targets, fingerprints or
    /// `runtime_defined` (docs/jfr.md).
    FromJfr,
    /// The JVM exited without VMDeath and no OutOfMemoryError was recorded:
    /// with -XX:+ExitOnOutOfMemoryError that is one.
    ExitWithoutShutdown,
    /// Classes recorded without a stack.
    StackErrors { classes: u64 },
    /// A line that is not a valid record, skipped.
    InvalidLine { line: u64, error: String },
    /// A line over the line limit, skipped.
    LongLineSkipped { line: u64, bytes: u64 },
    /// More lines were skipped than listed one by one.
    CorruptLines { lines: u64, too_long: u64 },
    /// Classes naming stacks never written, counted as not captured.
    UnknownStacks {
        classes: u64,
        first_line: u64,
        stack_id: u64,
    },
    /// Headers after the first record (two recordings in one file?).
    ExtraHeaders { records: u64 },
    /// Census records after the first.
    ExtraCensuses { records: u64 },
    /// Records after the summary: included, not in the summary's totals.
    RecordsAfterSummary { records: u64 },
    /// `resource_exhausted` records counted, not listed.
    ResourceExhaustedOmitted { records: u64 },
    /// Stacks past the stack memory cap kept only their call sites.
    StacksSummarised {
        stacks: u64,
        of: u64,
        stack_memory_mib: u64,
        /// Classes defined on them (drawn per call site in flame graphs).
        classes: u64,
    },
    /// Stacks with frames from jars, read before the application's code
    /// source was known, attributed by package names (as recordings
    /// without code sources are).
    AttributedByNames {
        stacks: u64,
        /// The main class `java_command` names, whose frames were awaited.
        main_class: Option<String>,
    },
}

/// What the analysis left out, for the warnings.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeftOut<'a> {
    /// `resource_exhausted` records kept, and those only counted.
    pub exhausted_kept: usize,
    pub exhausted_omitted: u64,
    /// Distinct stacks, and those summarised.
    pub stacks: u64,
    pub stacks_summarised: u64,
    pub stack_memory: u64,
    /// Classes defined on summarised stacks.
    pub summarised_classes: u64,
    /// Stacks attributed by names for want of the application's code
    /// source, and the main class whose frames would have named it.
    pub stacks_by_names: u64,
    pub main_class: Option<&'a str>,
}

/// The warnings, most important first: a missing header, then a cut-off,
/// then what makes every count a lower bound.
pub fn collect(facts: &Facts, damage: &Damage, left_out: &LeftOut<'_>) -> Vec<Warning> {
    let mut w: Vec<Warning> = damage
        .listed
        .iter()
        .map(|p| match p {
            LineProblem::Invalid { line, error } => Warning::InvalidLine {
                line: *line,
                error: error.clone(),
            },
            LineProblem::TooLong { line, bytes } => Warning::LongLineSkipped {
                line: *line,
                bytes: *bytes,
            },
        })
        .collect();
    if let Some(summary) = &facts.summary {
        // The loudest first: every count below is a lower bound.
        if let Some(reason) = &summary.capture_disabled {
            w.insert(
                0,
                Warning::CaptureDisabled {
                    reason: reason.clone(),
                },
            );
        }
        if summary.dropped > 0 {
            let at = usize::from(summary.capture_disabled.is_some());
            w.insert(
                at,
                Warning::ClassesDropped {
                    classes: summary.dropped,
                },
            );
        }
        if summary.reason == "process_exit" && left_out.exhausted_kept == 0 {
            w.push(Warning::ExitWithoutShutdown);
        }
        if summary.stack_errors > 0 {
            w.push(Warning::StackErrors {
                classes: summary.stack_errors,
            });
        }
    }
    w.extend(left_over(facts, damage, left_out));
    // A cut-off recording is the first thing to know (after a missing
    // header): every total is what was written before the cut.
    let cut_off = match damage.cut_off {
        Some(CutOff::MidLine { line }) => Some(Warning::CutOffMidLine { line }),
        Some(CutOff::InLongLine { line, bytes }) => Some(Warning::CutOffInLongLine { line, bytes }),
        Some(CutOff::InJfrChunk(d)) => Some(Warning::CutOffInJfrChunk {
            chunk: d.chunk,
            read_to: d.read_to,
            file_len: d.file_len,
            lost_events: d.lost_events,
        }),
        // A damaged JFR recording says so below instead.
        None if facts.summary.is_none() && damage.jfr_corrupt.is_none() => Some(Warning::NoSummary),
        None => None,
    };
    w.splice(0..0, cut_off);
    if let Some(d) = &damage.jfr_corrupt {
        w.insert(0, jfr_damaged(d));
    }
    if facts.header.is_none() {
        w.insert(0, Warning::NoHeader);
    }
    let from_jfr = facts
        .header
        .as_ref()
        .is_some_and(|h| h.converted_from == Some(ConvertedFrom::Jfr));
    if from_jfr {
        // What the report cannot say, after what is wrong with the file.
        w.push(Warning::FromJfr);
    }
    w
}

fn jfr_damaged(d: &JfrDamage) -> Warning {
    Warning::JfrDamaged {
        chunk: d.chunk,
        offset: d.read_to,
        file_len: d.file_len,
        lost_events: d.lost_events,
        reason: d.reason.to_string(),
    }
}

/// Records the analysis counted rather than used.
fn left_over(facts: &Facts, damage: &Damage, left_out: &LeftOut<'_>) -> Vec<Warning> {
    let mut w = Vec::new();
    if damage.corrupt_lines > PROBLEMS_LISTED as u64 {
        w.push(Warning::CorruptLines {
            lines: damage.corrupt_lines,
            too_long: damage.too_long_lines,
        });
    }
    if let Some(u) = facts.unknown_stack {
        w.push(Warning::UnknownStacks {
            classes: u.classes,
            first_line: u.first_line,
            stack_id: u.stack_id,
        });
    }
    if facts.extra_headers > 0 {
        w.push(Warning::ExtraHeaders {
            records: facts.extra_headers,
        });
    }
    if facts.extra_censuses > 0 {
        w.push(Warning::ExtraCensuses {
            records: facts.extra_censuses,
        });
    }
    if facts.after_summary > 0 {
        w.push(Warning::RecordsAfterSummary {
            records: facts.after_summary,
        });
    }
    if left_out.exhausted_omitted > 0 {
        w.push(Warning::ResourceExhaustedOmitted {
            records: left_out.exhausted_omitted,
        });
    }
    if left_out.stacks_summarised > 0 {
        w.push(Warning::StacksSummarised {
            stacks: left_out.stacks_summarised,
            of: left_out.stacks,
            stack_memory_mib: left_out.stack_memory >> 20,
            classes: left_out.summarised_classes,
        });
    }
    if left_out.stacks_by_names > 0 {
        w.push(Warning::AttributedByNames {
            stacks: left_out.stacks_by_names,
            main_class: left_out.main_class.map(str::to_string),
        });
    }
    w
}
