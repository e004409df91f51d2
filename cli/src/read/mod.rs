//! Readers: a source of records, whatever the format, turned into the
//! records of the event stream ([`metascope_events::Record`]), one at a
//! time. The bottom of the pipeline: it knows the input's damage, nothing
//! about call sites.
//!
//! ```text
//!  source (JSON Lines file, a followed spool, records already typed) --Item--> analyze
//! ```
//!
//! A [`Source`] feeds [`Item`]s to a [`Sink`] (the analysis): a `class`
//! record borrowed from its input
//! (the hot path: most of a recording is `class` lines, read without
//! allocating), or any record owned. What was wrong with the input
//! (corrupt lines, a cut-off end) is kept in its [`Damage`], which the
//! analysis turns into the report's warnings. [`jsonl::JsonLines`] reads
//! the agent's recording (a file, or a live spool being written);
//! [`records::Records`] takes records that are already typed (an
//! in-memory list, or another format's reader converted record by
//! record, e.g. a JFR recording).

pub mod jsonl;
pub mod lines;
pub mod records;

use anyhow::Result;
use metascope_events::{ClassView, Record};

/// One record as a source yields it.
#[derive(Debug)]
pub enum Item<'a> {
    /// A `class` record, borrowed from the source's buffer.
    Class(ClassView<'a>),
    /// Any record (a `class` record too, when the source has it owned).
    Record(Record),
}

/// What a [`Source`] feeds: the analysis, one record at a time.
pub trait Sink {
    /// One record; `position` is where it came from (its line, for JSON
    /// Lines), for warnings that point into the input.
    fn item(&mut self, item: Item<'_>, position: u64);
}

/// A recording being read.
///
/// Sources push records into a [`Sink`] rather than return them: a
/// borrowed `class` record lives only until the source reads its next
/// line, which a push keeps within one loop.
pub trait Source {
    /// Feeds every record available now to `sink`, in order, and returns
    /// at the end of the input (for a followed input: of what has arrived
    /// so far; call again for more). An error means the input could not be
    /// read at all (not a recording, an I/O error); what was read before
    /// it was fed.
    fn read<K: Sink + ?Sized>(&mut self, sink: &mut K) -> Result<()>;

    /// What was wrong with the input so far.
    fn damage(&self) -> &Damage;
}

/// Problems listed one by one in [`Damage::listed`]; the rest are counted.
pub const PROBLEMS_LISTED: usize = 5;

/// What was wrong with the input, as found while reading it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    /// The first [`PROBLEMS_LISTED`] skipped lines, in input order.
    pub listed: Vec<LineProblem>,
    /// Lines skipped: not a valid record, or over the line limit.
    pub corrupt_lines: u64,
    /// Of those, lines over the line limit ([`lines::MAX_LINE`]).
    pub too_long_lines: u64,
    /// The input ended in the middle of a record: everything before it
    /// was read.
    pub cut_off: Option<CutOff>,
}

/// A line that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    /// Not a valid record; `error` is the JSON parser's message.
    Invalid { line: u64, error: String },
    /// Over the line limit; `bytes` long.
    TooLong { line: u64, bytes: u64 },
}

/// How the input ended mid-record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutOff {
    /// The last line has no newline and is not a complete record.
    MidLine { line: u64 },
    /// The last line has no newline and is over the line limit (e.g. NUL
    /// bytes a crash left at the file's end).
    InLongLine { line: u64, bytes: u64 },
}

impl Damage {
    fn skip(&mut self, problem: LineProblem) {
        self.corrupt_lines += 1;
        if matches!(problem, LineProblem::TooLong { .. }) {
            self.too_long_lines += 1;
        }
        if self.listed.len() < PROBLEMS_LISTED {
            self.listed.push(problem);
        }
    }
}
