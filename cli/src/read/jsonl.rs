//! The agent's recording: JSON Lines (docs/events.md), from a file, any
//! buffered input, or a live spool that is still being written.
//!
//! Damage the stream may plausibly have (a JVM killed mid-write, a corrupt
//! line, a lost beginning) is kept in the [`Damage`] and the rest is read;
//! only input that is not a recording at all is an error: a missing file,
//! a directory, no events, binary data, a first line that is no metascope
//! record, a schema newer than this reader.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressBarIter};
use metascope_events::{parse_class, parse_record, Record, SCHEMA_VERSION};

use super::lines::{read_line, LineRead, MAX_LINE};
use super::progress::progress_bar;
use super::{CutOff, Damage, Item, LineProblem, Sink, Source};

/// A JSON Lines recording being read.
pub struct JsonLines<R> {
    input: R,
    /// The input's name in messages.
    shown: String,
    buf: Vec<u8>,
    /// Lines read (complete ones, when following).
    line_no: u64,
    /// Bytes read, for I/O error messages.
    offset: u64,
    state: State,
    damage: Damage,
    /// The input is still being written: a last line without newline is
    /// not cut off, its end has not arrived yet.
    follow: Option<Follow>,
    progress: ProgressBar,
}

enum State {
    /// Before the first non-blank line; `blank` bytes of blank lines so far.
    Start {
        blank: u64,
    },
    Reading,
    /// The end of a file, or a cut-off line: nothing more to read.
    Ended,
    /// The input is not a recording: this error, whenever asked again.
    Failed(String),
}

/// What a followed input carries over between reads.
#[derive(Default)]
struct Follow {
    /// The start of a line whose end has not arrived yet.
    carry: Vec<u8>,
    /// Skipping the rest of an over-long line: its bytes so far.
    skipping: Option<u64>,
}

impl JsonLines<BufReader<ProgressBarIter<File>>> {
    /// Reads the recording in `file`, opened from `path`.
    pub fn from_file(file: File, path: &Path) -> Self {
        let size = file.metadata().map_or(0, |m| m.len());
        let progress = progress_bar(size, std::io::stderr().is_terminal());
        let input = BufReader::with_capacity(1 << 16, progress.wrap_read(file));
        let mut lines = JsonLines::new(input, path);
        lines.progress = progress;
        lines
    }
}

impl<R: BufRead> JsonLines<R> {
    /// Reads a whole recording from `input`; `shown` names it in messages.
    pub fn new(input: R, shown: &Path) -> Self {
        JsonLines {
            input,
            shown: shown.display().to_string(),
            buf: Vec::with_capacity(4096),
            line_no: 0,
            offset: 0,
            state: State::Start { blank: 0 },
            damage: Damage::default(),
            follow: None,
            progress: ProgressBar::hidden(),
        }
    }

    /// Follows a recording that is still being written (a live spool, the
    /// file of a running JVM): each [`Source::read`] feeds the complete
    /// lines that arrived since the last one.
    pub fn follow(input: R, shown: &Path) -> Self {
        JsonLines {
            follow: Some(Follow::default()),
            ..JsonLines::new(input, shown)
        }
    }

    /// Reads the first non-blank line: a header this reader can read, or
    /// (the start of the file lost) another metascope record. `false`
    /// when it has not arrived yet (following).
    fn start<K: Sink + ?Sized>(&mut self, sink: &mut K) -> Result<bool> {
        loop {
            let State::Start { blank } = &mut self.state else {
                return Ok(true);
            };
            let blank_so_far = *blank;
            let Some(l) = self.next_line(false)? else {
                if self.follow.is_some() {
                    return Ok(false);
                }
                return self.fail(format!(
                    "{} has no events: was the JVM started with the agent \
                     (-agentpath:.../libmetascope_agent.so, or `metascope run -- java ...`)?",
                    self.shown
                ));
            };
            if l.too_long {
                // Not skipped: it is not a recording, and there may be
                // gigabytes of it.
                return self.fail(format!(
                    "{} is not a metascope recording: line {} is over {} MiB long \
                     (binary data?); pass the file named by the agent's out= option",
                    self.shown,
                    self.line_no,
                    MAX_LINE >> 20,
                ));
            }
            if self.buf.trim_ascii().is_empty() {
                let blank = blank_so_far + l.len;
                if blank > MAX_LINE as u64 {
                    return self.fail(format!(
                        "{} is not a metascope recording: its first {} MiB are blank lines",
                        self.shown,
                        MAX_LINE >> 20
                    ));
                }
                self.state = State::Start { blank };
                continue;
            }
            let first = first_record(&self.buf, self.line_no, &self.shown);
            match first {
                Ok(record) => {
                    self.state = State::Reading;
                    sink.item(Item::Record(record), self.line_no);
                    return Ok(true);
                }
                Err(e) => return self.fail(format!("{e:#}")),
            }
        }
    }

    /// The first record was read (a followed input may not have it yet).
    pub fn started(&self) -> bool {
        !matches!(self.state, State::Start { .. })
    }

    fn fail<T>(&mut self, message: String) -> Result<T> {
        self.state = State::Failed(message.clone());
        Err(anyhow!(message))
    }

    /// The next line into `buf`: `None` at the end of the input, or, when
    /// following, at a line whose end has not arrived yet. An over-long
    /// line is skipped to its end when `skip_long` (its `len` counts what
    /// was skipped).
    fn next_line(&mut self, skip_long: bool) -> Result<Option<LineRead>> {
        let read =
            read_line(&mut self.input, &mut self.buf, MAX_LINE, skip_long).with_context(|| {
                format!(
                    "cannot read {} after line {} (byte {})",
                    self.shown, self.line_no, self.offset
                )
            })?;
        let Some(mut l) = read else {
            return Ok(None);
        };
        if let Some(follow) = &mut self.follow {
            l = follow.complete(&mut self.buf, l);
            if !l.newline {
                return Ok(None);
            }
        }
        self.line_no += 1;
        self.offset += l.len;
        Ok(Some(l))
    }

    fn end(&mut self) {
        self.state = State::Ended;
        self.progress.finish_and_clear();
    }
}

impl Follow {
    /// Joins a piece of a line to what came before it: the whole line once
    /// its newline arrived (`newline: true`, in `buf`), else `newline:
    /// false` with the piece kept (nothing is complete yet).
    fn complete(&mut self, buf: &mut Vec<u8>, l: LineRead) -> LineRead {
        if let Some(skipped) = &mut self.skipping {
            // The rest of an over-long line.
            *skipped += l.len;
            if !l.newline {
                return LineRead {
                    newline: false,
                    ..l
                };
            }
            let len = *skipped;
            self.skipping = None;
            buf.clear();
            return LineRead {
                len,
                newline: true,
                too_long: true,
            };
        }
        if !l.newline {
            if l.too_long || self.carry.len() as u64 + l.len > MAX_LINE as u64 {
                self.skipping = Some(self.carry.len() as u64 + l.len);
                self.carry = Vec::new();
                buf.clear();
            } else {
                self.carry.extend_from_slice(buf);
            }
            return LineRead {
                newline: false,
                ..l
            };
        }
        if self.carry.is_empty() {
            return l;
        }
        let len = self.carry.len() as u64 + l.len;
        let too_long = l.too_long || len > MAX_LINE as u64 + 1;
        if too_long {
            buf.clear();
        } else {
            self.carry.extend_from_slice(buf);
            std::mem::swap(&mut self.carry, buf);
        }
        self.carry.clear();
        LineRead {
            len,
            newline: true,
            too_long,
        }
    }
}

impl<R: BufRead> Source for JsonLines<R> {
    fn read<K: Sink + ?Sized>(&mut self, sink: &mut K) -> Result<()> {
        match &self.state {
            State::Ended => return Ok(()),
            State::Failed(message) => bail!("{message}"),
            State::Start { .. } => {
                if !self.start(sink)? {
                    return Ok(());
                }
            }
            State::Reading => {}
        }
        while let Some(l) = self.next_line(true)? {
            let line = self.line_no;
            if l.too_long {
                if !l.newline {
                    // Counted as corrupt too, not listed: the cut-off says it.
                    self.damage.corrupt_lines += 1;
                    self.damage.too_long_lines += 1;
                    self.damage.cut_off = Some(CutOff::InLongLine { line, bytes: l.len });
                    self.end();
                    return Ok(());
                }
                self.damage
                    .skip(LineProblem::TooLong { line, bytes: l.len });
                continue;
            }
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            // Most lines: a class record read in place.
            if let Some(class) = parse_class(text) {
                sink.item(Item::Class(class), line);
                continue;
            }
            match parse_record(text) {
                Ok(record) => sink.item(Item::Record(record), line),
                Err(_) if !l.newline => {
                    // Only the very last line lacks a newline: the writer
                    // was stopped mid-record.
                    self.damage.cut_off = Some(CutOff::MidLine { line });
                    self.end();
                    return Ok(());
                }
                Err(e) => self.damage.skip(LineProblem::Invalid {
                    line,
                    error: e.to_string(),
                }),
            }
        }
        if self.follow.is_none() {
            self.end();
        }
        Ok(())
    }

    fn damage(&self) -> &Damage {
        &self.damage
    }
}

/// The first non-blank line: a header this reader can read, or (the start
/// of the file lost) another metascope record, which is read as such.
fn first_record(line: &[u8], line_no: u64, shown: &str) -> Result<Record> {
    let not_a_recording = || {
        let text = line.trim_ascii();
        let binary = std::str::from_utf8(text)
            .map_or(true, |t| t.chars().any(|c| c.is_control() && c != '\t'));
        let begins = if binary {
            "is binary data, not text".to_string()
        } else {
            let start: String = String::from_utf8_lossy(text).chars().take(80).collect();
            format!("begins: {start:?}")
        };
        anyhow!(
            "{shown} does not start with a metascope header, so it is not a metascope recording \
             (line {line_no} {begins}); pass the file named by the agent's out= option"
        )
    };
    let value: serde_json::Value =
        serde_json::from_slice(line.trim_ascii()).map_err(|_| not_a_recording())?;
    if value.get("type").and_then(|t| t.as_str()) != Some("header") {
        // A metascope record without the header before it: the start of
        // the file was lost (copied with `tail`, a rotated log...). Any
        // record type the events crate knows counts; a type it does not
        // know, or a known one that does not parse, is not a recording.
        return match serde_json::from_value::<Record>(value) {
            Ok(Record::Unknown | Record::Header(_)) | Err(_) => Err(not_a_recording()),
            Ok(r) => Ok(r),
        };
    }
    // The schema first: a newer header may look like anything.
    let schema = value.get("schema").and_then(|s| s.as_u64());
    match schema {
        Some(s) if s > u64::from(SCHEMA_VERSION) => bail!(
            "{shown} was recorded by a newer agent (schema {s}); this metascope reads schema \
             {SCHEMA_VERSION}: upgrade metascope"
        ),
        Some(s) if s == u64::from(SCHEMA_VERSION) => {}
        other => bail!(
            "{shown} has an unsupported schema ({}); this metascope reads schema {SCHEMA_VERSION}",
            other.map_or("missing".to_string(), |s| s.to_string())
        ),
    }
    match serde_json::from_value::<Record>(value) {
        Ok(header @ Record::Header(_)) => Ok(header),
        Ok(_) => Err(not_a_recording()),
        Err(e) => bail!(
            "{shown}: the header on line {line_no} is malformed ({e}); was the agent that wrote it \
             built from this source tree?"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::progress::PROGRESS_MIN_BYTES;
    use crate::read::records::Records;

    /// Everything a source fed, as (position, what).
    #[derive(Default)]
    struct Collect(Vec<(u64, String)>);

    impl Sink for Collect {
        fn item(&mut self, item: Item<'_>, position: u64) {
            let what = match item {
                Item::Class(c) => format!("class {}", c.seq),
                Item::Record(Record::Class(c)) => format!("class {} (owned)", c.seq),
                Item::Record(r) => format!("{r:?}").split('(').next().unwrap().to_string(),
            };
            self.0.push((position, what));
        }
    }

    const HEADER: &str = r#"{"type":"header","schema":1,"agent_version":"0.1.0","pid":1,"java_version":"17","java_vm_name":"VM","start_wall_ms":1,"options":{"out":"x","depth":64,"mode":"dynamic","include":[],"queue":16}}"#;
    const CLASS: &str = r#"{"type":"class","seq":1,"name":"A","kind":"proxy","loader":{"id":1,"type":"L"},"hidden":false,"thread":"main","t_ns":1,"wall_ms":2,"event":"load","stack":0}"#;

    #[test]
    fn feeds_records_with_their_lines_and_class_lines_borrowed() {
        // The second class has an escape: serde reads it, owned.
        let escaped = CLASS
            .replace("\"seq\":1", "\"seq\":2")
            .replace("\"A\"", "\"\\u0041\"");
        let text = format!("{HEADER}\n\n{CLASS}\n{escaped}\n");
        let mut source = JsonLines::new(text.as_bytes(), Path::new("r.jsonl"));
        let mut seen = Collect::default();
        source.read(&mut seen).unwrap();
        assert_eq!(
            seen.0,
            [
                (1, "Header".to_string()),
                (3, "class 1".to_string()),
                (4, "class 2 (owned)".to_string()),
            ]
        );
        assert_eq!(source.damage(), &Damage::default());
    }

    /// A spool that grows while it is followed: lines are fed once, when
    /// whole, however the bytes arrive.
    #[test]
    fn a_followed_input_feeds_each_line_once_its_end_arrived() {
        let text = format!("{HEADER}\n{CLASS}\n{}\n", CLASS.replace(":1,", ":2,"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.jsonl");
        let mut writer = File::create(&path).unwrap();
        let mut source = JsonLines::follow(
            BufReader::new(File::open(&path).unwrap()),
            Path::new("spool"),
        );
        let mut seen = Collect::default();
        let mut fed = Vec::new();
        for piece in text.as_bytes().chunks(37) {
            std::io::Write::write_all(&mut writer, piece).unwrap();
            source.read(&mut seen).unwrap();
            fed.push(seen.0.len());
        }
        assert_eq!(seen.0.len(), 3, "{:?}", seen.0);
        assert_eq!(seen.0[2], (3, "class 2".to_string()));
        // Nothing before the header's newline, nothing twice.
        assert_eq!(fed[0], 0);
        assert!(fed.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(source.damage(), &Damage::default(), "not cut off");
    }

    #[test]
    fn a_followed_over_long_line_is_skipped_once_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.jsonl");
        let mut writer = File::create(&path).unwrap();
        let mut source = JsonLines::follow(
            BufReader::new(File::open(&path).unwrap()),
            Path::new("spool"),
        );
        let mut seen = Collect::default();
        let mut write = |bytes: &[u8], source: &mut JsonLines<_>| {
            std::io::Write::write_all(&mut writer, bytes).unwrap();
            source.read(&mut seen).unwrap();
        };
        write(format!("{HEADER}\n").as_bytes(), &mut source);
        let long = vec![b'x'; MAX_LINE / 2 + 1];
        write(&long, &mut source);
        write(&long, &mut source);
        write(&long, &mut source);
        assert_eq!(source.damage().corrupt_lines, 0, "not over until its end");
        write(format!("\n{CLASS}\n").as_bytes(), &mut source);
        let bytes = 3 * long.len() as u64 + 1;
        assert_eq!(
            source.damage().listed,
            [LineProblem::TooLong { line: 2, bytes }]
        );
        assert_eq!(seen.0.last().unwrap(), &(3, "class 1".to_string()));
    }

    #[test]
    fn a_followed_input_waits_for_its_header_and_a_bad_one_stays_an_error() {
        let mut source = JsonLines::follow(&b""[..], Path::new("spool"));
        let mut seen = Collect::default();
        source.read(&mut seen).unwrap();
        assert!(seen.0.is_empty());
        let mut source = JsonLines::follow(&b"hello\n"[..], Path::new("spool"));
        for _ in 0..2 {
            let e = source.read(&mut seen).unwrap_err().to_string();
            assert!(e.contains("not a metascope recording"), "{e}");
        }
    }

    #[test]
    fn records_already_typed_feed_the_same_sink() {
        let records: Vec<Record> = format!("{HEADER}\n{CLASS}\n")
            .lines()
            .map(|l| parse_record(l.as_bytes()).unwrap())
            .collect();
        let mut seen = Collect::default();
        Records::new(records).read(&mut seen).unwrap();
        assert_eq!(
            seen.0,
            [
                (1, "Header".to_string()),
                (2, "class 1 (owned)".to_string())
            ]
        );
    }

    #[test]
    fn the_progress_bar_is_only_for_big_files_on_a_terminal() {
        assert!(progress_bar(10, true).is_hidden());
        assert!(progress_bar(PROGRESS_MIN_BYTES, true).is_hidden());
        assert!(progress_bar(PROGRESS_MIN_BYTES * 10, false).is_hidden());
        // Reading through the hidden bar changes nothing.
        let text = format!("{HEADER}\n{CLASS}\n");
        let input = BufReader::new(progress_bar(0, false).wrap_read(text.as_bytes()));
        let mut seen = Collect::default();
        JsonLines::new(input, Path::new("x.jsonl"))
            .read(&mut seen)
            .unwrap();
        assert_eq!(seen.0.len(), 2);
    }
}
