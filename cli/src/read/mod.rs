//! Readers: a source of records, whatever the format, turned into the
//! records of the event stream ([`metascope_events::Record`]), one at a
//! time. The bottom of the pipeline: it knows the input's damage, nothing
//! about call sites.
//!
//! ```text
//!  source (JSON Lines file, a followed spool, a JFR recording, records already typed) --Item--> analyze
//! ```
//!
//! A [`Source`] feeds [`Item`]s to a [`Sink`] (the analysis): a `class`
//! record borrowed from its input
//! (the hot path: most of a recording is `class` lines, read without
//! allocating), or any record owned. What was wrong with the input
//! (corrupt lines, a cut-off end) is kept in its [`Damage`], which the
//! analysis turns into the report's warnings. [`jsonl::JsonLines`] reads
//! the agent's recording (a file, or a live spool being written);
//! [`jfr::Jfr`] a Java Flight Recorder recording, its records turned into
//! the event stream's by [`from_jfr`]; [`records::Records`] takes records
//! that are already typed (an in-memory list). [`open`] tells the formats
//! apart by their first bytes.

pub mod from_jfr;
pub mod jfr;
pub mod jsonl;
pub mod lines;
pub mod progress;
pub mod records;

use std::fs::File;
use std::io::BufReader;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{anyhow, bail, Result};
use indicatif::ProgressBarIter;
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
    /// A JFR recording has bytes that do not decode (not a cut): what
    /// came before them was read.
    pub jfr_corrupt: Option<JfrDamage>,
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
    /// A JFR recording ends inside a chunk (the JVM was killed, or the
    /// file was copied while written): what the JVM had flushed before
    /// `read_to` was read.
    InJfrChunk(JfrDamage),
}

/// Where a JFR recording stops making sense (see [`metascope_jfr::Damage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JfrDamage {
    /// 0-based chunk.
    pub chunk: u32,
    /// Byte offset where reading stopped.
    pub read_to: u64,
    pub file_len: u64,
    /// Events of the chunk that were there but could not be decoded.
    pub lost_events: u64,
    /// What is wrong there, e.g. "the file ends inside an event".
    pub reason: &'static str,
}

impl From<&metascope_jfr::Damage> for JfrDamage {
    fn from(d: &metascope_jfr::Damage) -> JfrDamage {
        JfrDamage {
            chunk: d.chunk,
            read_to: d.offset,
            file_len: d.file_len,
            lost_events: d.lost_events,
            reason: d.reason,
        }
    }
}

/// The formats [`open`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The agent's JSON Lines (docs/events.md).
    JsonLines,
    /// A Java Flight Recorder recording.
    Jfr,
}

/// The magic number every JFR chunk starts with.
pub const JFR_MAGIC: &[u8; 4] = b"FLR\0";

/// The format of the file's content (its first bytes, whatever its name).
pub fn format_of(file: &File) -> Format {
    let mut head = [0u8; 4];
    match file.read_exact_at(&mut head, 0) {
        Ok(()) if &head == JFR_MAGIC => Format::Jfr,
        _ => Format::JsonLines,
    }
}

/// A recording file opened for reading, in whichever format it is.
pub enum Recording {
    JsonLines(Box<jsonl::JsonLines<BufReader<ProgressBarIter<File>>>>),
    Jfr(Box<jfr::Jfr>),
}

/// Opens the recording at `path`, telling JSON Lines from JFR by content,
/// with a progress bar on a terminal for a big file.
pub fn open(path: &Path) -> Result<Recording> {
    let file = open_file(path)?;
    Ok(match format_of(&file) {
        Format::Jfr => Recording::Jfr(Box::new(jfr::Jfr::new(file, path)?)),
        Format::JsonLines => {
            Recording::JsonLines(Box::new(jsonl::JsonLines::from_file(file, path)))
        }
    })
}

/// Opens a recording file, with the messages every format shares.
fn open_file(path: &Path) -> Result<File> {
    let file = File::open(path).map_err(|e| {
        anyhow!(
            "cannot open recording {}: {e}; check the path (`metascope run` prints where it wrote the recording)",
            path.display()
        )
    })?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        bail!(
            "{} is a directory, not a recording; pass the file named by the agent's out= option \
             (or a .jfr file)",
            path.display()
        );
    }
    Ok(file)
}

impl Source for Recording {
    fn read<K: Sink + ?Sized>(&mut self, sink: &mut K) -> Result<()> {
        match self {
            Recording::JsonLines(r) => r.read(sink),
            Recording::Jfr(r) => r.read(sink),
        }
    }

    fn damage(&self) -> &Damage {
        match self {
            Recording::JsonLines(r) => r.damage(),
            Recording::Jfr(r) => r.damage(),
        }
    }
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
