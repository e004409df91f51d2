//! Reads an event stream (JSON Lines written by the agent) and aggregates it
//! into call sites on the way, one line at a time.
//!
//! Damage the stream may plausibly have (a JVM killed mid-write, a corrupt
//! line, records from a newer agent) becomes warnings in the report; only
//! input that is not a recording at all is an error.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use metascope_events::{
    Census, ClassKind, Header, Record, ResourceExhausted, Summary, NO_STACK, SCHEMA_VERSION,
};

use crate::callsite::Libraries;
use metascope_events::{parse_class, ClassView};

use crate::diagnosis::{Diagnosis, Tracker};
use crate::fast_hash::{fast_map, FastMap};
use crate::grouping::{CallSiteStats, CallSiteTable};
use crate::lines::{read_line, LineRead, MAX_LINE};
use crate::stacks::{StackStore, DEFAULT_STACK_MEMORY_MIB};

/// Corrupt lines named one by one in the warnings; the rest are counted.
const CORRUPT_LINES_LISTED: usize = 5;
/// `resource_exhausted` records kept (a JVM that keeps catching
/// OutOfMemoryError can throw thousands); the rest are counted.
pub const EXHAUSTED_KEPT: usize = 100;

/// How to read: which frames are libraries, which kinds to keep, how much
/// of the stacks.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub libraries: Libraries,
    /// Keep `ordinary` classes (captured only in the agent's `mode=all`).
    pub all_kinds: bool,
    /// Bytes the frames of distinct stacks may take (see [`StackStore`]);
    /// past it stacks are summarised to their call site.
    pub stack_memory: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            libraries: Libraries::default(),
            all_kinds: false,
            stack_memory: DEFAULT_STACK_MEMORY_MIB << 20,
        }
    }
}

/// A recording, read and aggregated.
#[derive(Debug)]
pub struct Recording {
    pub path: PathBuf,
    /// `None` when the file starts with other metascope records: its
    /// beginning was lost (the rest is still reported, with a warning).
    pub header: Option<Header>,
    pub summary: Option<Summary>,
    /// The classes already loaded when the agent attached (the `census`
    /// record after the header of an attached recording).
    pub census: Option<Census>,
    /// Call sites, biggest first.
    pub call_sites: Vec<CallSiteStats>,
    /// Distinct stacks: their call sites, and the frames of those kept
    /// within [`ReadOptions::stack_memory`] (sample stacks, flame graph).
    pub stacks: StackStore,
    /// Classes grouped into call sites, per stack id of a stack whose
    /// frames are kept ([`NO_STACK`] for classes whose stack was not
    /// captured or never written): the flame graph's weights, bounded by
    /// distinct stacks.
    pub stack_classes: FastMap<u64, u64>,
    /// Classes defined on summarised stacks (frames not kept), per call
    /// site (index into `call_sites`), most first: the flame graph draws
    /// them per call site.
    pub summarised_classes: Vec<(usize, u64)>,
    /// Class records read from the file.
    pub class_records: u64,
    /// Class records left out of the call sites because of their kind.
    pub hidden_ordinary: u64,
    pub corrupt_lines: u64,
    pub unknown_records: u64,
    /// The last line was incomplete: the recording was cut off mid-write.
    pub truncated: bool,
    /// Largest `t_ns` seen, the recording length when there is no summary.
    pub last_t_ns: u64,
    /// ResourceExhausted records (OutOfMemoryError: Metaspace and others),
    /// the first [`EXHAUSTED_KEPT`], in stream order.
    pub resource_exhausted: Vec<Exhaustion>,
    /// ResourceExhausted records past [`EXHAUSTED_KEPT`], counted only.
    pub resource_exhausted_omitted: u64,
    pub warnings: Vec<String>,
    /// Regeneration, unloading, GCs and the loader census, per call site
    /// in `call_sites` order.
    pub diagnosis: Diagnosis,
}

/// What ran out, from a ResourceExhausted record's flags and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `OutOfMemoryError: Metaspace`: class metadata, what metascope is for.
    Metaspace,
    /// `OutOfMemoryError: Compressed class space`: also class metadata.
    CompressedClassSpace,
    /// `Java heap space` and other heap exhaustion.
    JavaHeap,
    /// `unable to create native thread`.
    Threads,
    Other,
}

impl Resource {
    pub fn of(r: &ResourceExhausted) -> Resource {
        let has = |flag: &str| r.flags.iter().any(|f| f == flag);
        let description = r.description.to_ascii_lowercase();
        if has("java_heap") {
            Resource::JavaHeap
        } else if has("threads") {
            Resource::Threads
        } else if description.contains("metaspace") {
            Resource::Metaspace
        } else if description.contains("compressed class space") {
            Resource::CompressedClassSpace
        } else {
            Resource::Other
        }
    }

    /// Class definitions fill this resource, so a call site can be blamed.
    pub fn is_class_metadata(self) -> bool {
        matches!(self, Resource::Metaspace | Resource::CompressedClassSpace)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Metaspace => "metaspace",
            Resource::CompressedClassSpace => "compressed_class_space",
            Resource::JavaHeap => "java_heap",
            Resource::Threads => "threads",
            Resource::Other => "other",
        }
    }
}

/// One ResourceExhausted record, with the call site that filled the
/// resource when it is class metadata.
#[derive(Debug, Clone)]
pub struct Exhaustion {
    pub event: ResourceExhausted,
    pub resource: Resource,
    /// Class records read with `seq <= after_seq` (every kind).
    pub captured_before: u64,
    /// Only for class metadata, and only when a class was captured before.
    pub filled_by: Option<FilledBy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilledBy {
    /// Index into [`Recording::call_sites`] (rank - 1).
    pub site: usize,
    /// Classes that call site defined before the error (`seq <= after_seq`).
    pub classes_before: u64,
}

/// A line as read: a class record borrowed from the line (the hot path),
/// or any record parsed by serde.
enum Parsed<'a> {
    Class(ClassView<'a>),
    Record(Record),
}

/// What is processed: every class record as a [`ClassView`].
enum Item<'a> {
    Class(ClassView<'a>),
    Other(Record),
}

/// Per call site classes with `seq <= after_seq` of one ResourceExhausted
/// record: the counts when it was read, plus later classes with a lower
/// `seq` (the agent writes in `seq` order, so normally none). One per
/// distinct `after_seq`, at most [`EXHAUSTED_KEPT`]: bounded memory.
struct Snapshot {
    after_seq: u64,
    /// Class records read when the snapshot was taken.
    at_records: u64,
    per_site: Vec<u64>,
    captured_before: u64,
}

impl Recording {
    /// Reads and aggregates the recording at `path`.
    pub fn read(path: &Path, options: &ReadOptions) -> Result<Recording> {
        let file = File::open(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot open recording {}: {e}; check the path (`metascope run` prints where it wrote the recording)",
                path.display()
            )
        })?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            bail!(
                "{} is a directory, not a recording; pass the file named by the agent's out= option",
                path.display()
            );
        }
        let size = file.metadata().map_or(0, |m| m.len());
        let progress = progress_bar(size, std::io::stderr().is_terminal());
        let input = BufReader::with_capacity(1 << 16, progress.wrap_read(file));
        let read = Self::from_reader(path, input, options);
        progress.finish_and_clear();
        read
    }

    /// Reads from any buffered source; `path` is only used in messages.
    pub fn from_reader(
        path: &Path,
        mut input: impl BufRead,
        options: &ReadOptions,
    ) -> Result<Recording> {
        let shown = path.display().to_string();
        let mut buf = Vec::with_capacity(4096);
        let mut line_no = 0u64;
        let mut offset = 0u64;
        let mut next =
            |buf: &mut Vec<u8>, line_no: &mut u64, skip_long: bool| -> Result<Option<LineRead>> {
                let line = read_line(&mut input, buf, MAX_LINE, skip_long).with_context(|| {
                    format!("cannot read {shown} after line {line_no} (byte {offset})")
                })?;
                if let Some(l) = line {
                    *line_no += 1;
                    offset += l.len;
                }
                Ok(line)
            };

        // The header: the first non-blank line.
        let mut blank = 0u64;
        let (header, first) = loop {
            // Not skipping an over-long first line: it is not a recording
            // and there may be gigabytes of it.
            let Some(l) = next(&mut buf, &mut line_no, false)? else {
                bail!(
                    "{shown} has no events: was the JVM started with the agent \
                     (-agentpath:.../libmetascope_agent.so, or `metascope run -- java ...`)?"
                );
            };
            if l.too_long {
                bail!(
                    "{shown} is not a metascope recording: line {line_no} is over {} MiB long \
                     (binary data?); pass the file named by the agent's out= option",
                    MAX_LINE >> 20,
                );
            }
            if !buf.trim_ascii().is_empty() {
                break first_record(&buf, line_no, &shown)?;
            }
            if blank_bytes(&mut blank, l.len) > MAX_LINE as u64 {
                bail!(
                    "{shown} is not a metascope recording: its first {} MiB are blank lines",
                    MAX_LINE >> 20
                );
            }
        };

        let mut recording = Recording {
            path: path.to_path_buf(),
            header,
            summary: None,
            census: None,
            call_sites: Vec::new(),
            stacks: StackStore::new(options.stack_memory),
            stack_classes: fast_map(),
            summarised_classes: Vec::new(),
            class_records: 0,
            hidden_ordinary: 0,
            corrupt_lines: 0,
            unknown_records: 0,
            truncated: false,
            last_t_ns: 0,
            resource_exhausted: Vec::new(),
            resource_exhausted_omitted: 0,
            warnings: Vec::new(),
            diagnosis: Diagnosis::default(),
        };
        let mut table = CallSiteTable::default();
        let mut tracker = Tracker::default();
        let mut unknown_stack: Option<(u64, u64)> = None; // (first line, id)
        let mut unknown_stack_classes = 0u64;
        // Classes on summarised stacks per call site, by table index.
        let mut summarised_site_classes: Vec<u64> = Vec::new();
        let mut extra_headers = 0u64;
        let mut extra_censuses = 0u64;
        let mut after_summary = 0u64;
        let mut too_long_lines = 0u64;
        let mut snapshots: Vec<Snapshot> = Vec::new();
        // Highest `after_seq` of any snapshot: a class at or below it that
        // arrives late still counts as "before" (normally never).
        let mut snapshot_max_seq = 0u64;
        // Index into `snapshots` for each kept record with class metadata.
        let mut exhaustion_snapshot: Vec<Option<usize>> = Vec::new();

        // The first record, when it was not a header, is processed below
        // like any other; a header's line is done.
        let mut pending = first;
        loop {
            let parsed = match pending.take() {
                Some(r) => Parsed::Record(r),
                None => {
                    let Some(l) = next(&mut buf, &mut line_no, true)? else {
                        break;
                    };
                    if l.too_long {
                        recording.corrupt_lines += 1;
                        too_long_lines += 1;
                        if !l.newline {
                            recording.truncated = true;
                            recording.warnings.push(format!(
                                "recording cut off: the last line ({line_no}) is incomplete and over {} MiB long \
                                 ({} bytes without a newline: the file's end is damaged, e.g. NUL bytes after a crash); \
                                 the report covers everything before it",
                                MAX_LINE >> 20,
                                thousands(l.len)
                            ));
                            break;
                        }
                        if recording.corrupt_lines as usize <= CORRUPT_LINES_LISTED {
                            recording.warnings.push(format!(
                                "line {line_no} is over {} MiB long ({} bytes) and was skipped as corrupt",
                                MAX_LINE >> 20,
                                thousands(l.len)
                            ));
                        }
                        continue;
                    }
                    let text = buf.trim_ascii();
                    if text.is_empty() {
                        continue;
                    }
                    // Most lines: a class record read in place.
                    if let Some(c) = parse_class(text) {
                        Parsed::Class(c)
                    } else {
                        match metascope_events::parse_record(text) {
                            Ok(r) => Parsed::Record(r),
                            Err(_) if !l.newline => {
                                // Only the very last line lacks a newline: the
                                // writer was stopped mid-record.
                                recording.truncated = true;
                                recording.warnings.push(format!(
                                "recording cut off: the last line ({line_no}) is incomplete (the JVM was killed, \
                                 halted or crashed mid-write); the report covers everything before it"
                            ));
                                break;
                            }
                            Err(e) => {
                                recording.corrupt_lines += 1;
                                if recording.corrupt_lines as usize <= CORRUPT_LINES_LISTED {
                                    recording.warnings.push(format!(
                                        "line {line_no} is not a valid record and was skipped: {e}"
                                    ));
                                }
                                continue;
                            }
                        }
                    }
                }
            };
            let owned_class;
            let item = match parsed {
                Parsed::Class(c) => Item::Class(c),
                Parsed::Record(Record::Class(c)) => {
                    owned_class = c;
                    Item::Class(ClassView::from(&owned_class))
                }
                Parsed::Record(r) => Item::Other(r),
            };
            if recording.summary.is_some() && !matches!(item, Item::Other(Record::Unknown)) {
                after_summary += 1;
            }
            let record = match item {
                Item::Other(r) => r,
                Item::Class(c) => {
                    recording.class_records += 1;
                    recording.last_t_ns = recording.last_t_ns.max(c.t_ns);
                    let late = c.seq <= snapshot_max_seq;
                    if late {
                        for snap in &mut snapshots {
                            if c.seq <= snap.after_seq {
                                snap.captured_before += 1;
                            }
                        }
                    }
                    if c.kind == ClassKind::Ordinary && !options.all_kinds {
                        recording.hidden_ordinary += 1;
                        continue;
                    }
                    let stack = if c.stack == NO_STACK {
                        None
                    } else {
                        let stack = recording.stacks.get(c.stack);
                        if stack.is_none() {
                            unknown_stack_classes += 1;
                            unknown_stack.get_or_insert((line_no, c.stack));
                        }
                        stack
                    };
                    let site = table.add(c, stack);
                    match stack {
                        Some(s) if s.is_summarised() => {
                            if summarised_site_classes.len() <= site {
                                summarised_site_classes.resize(site + 1, 0);
                            }
                            summarised_site_classes[site] += 1;
                        }
                        Some(_) => *recording.stack_classes.entry(c.stack).or_default() += 1,
                        None => *recording.stack_classes.entry(NO_STACK).or_default() += 1,
                    }
                    tracker.class(site, c);
                    if late {
                        for snap in &mut snapshots {
                            if c.seq <= snap.after_seq {
                                if snap.per_site.len() <= site {
                                    snap.per_site.resize(site + 1, 0);
                                }
                                snap.per_site[site] += 1;
                            }
                        }
                    }
                    continue;
                }
            };
            match record {
                Record::Header(_) => extra_headers += 1,
                Record::Stack(s) => {
                    if s.id != NO_STACK {
                        recording.stacks.insert(s, &options.libraries);
                    }
                }
                // Read as `Item::Class` above.
                Record::Class(_) => {}
                Record::Summary(s) => {
                    recording.last_t_ns = recording.last_t_ns.max(s.t_ns);
                    recording.summary = Some(s);
                }
                Record::ResourceExhausted(r) => {
                    recording.last_t_ns = recording.last_t_ns.max(r.t_ns);
                    if recording.resource_exhausted.len() >= EXHAUSTED_KEPT {
                        recording.resource_exhausted_omitted += 1;
                        continue;
                    }
                    let resource = Resource::of(&r);
                    let snapshot = resource.is_class_metadata().then(|| {
                        let reuse = snapshots.last().is_some_and(|s| {
                            s.after_seq == r.after_seq && s.at_records == recording.class_records
                        });
                        if !reuse {
                            // The agent writes classes in `seq` order, so
                            // those read so far are the ones before it.
                            let none_before = r.after_seq == 0;
                            snapshots.push(Snapshot {
                                after_seq: r.after_seq,
                                at_records: recording.class_records,
                                per_site: if none_before {
                                    Vec::new()
                                } else {
                                    table.site_classes()
                                },
                                captured_before: recording.class_records.min(r.after_seq),
                            });
                            snapshot_max_seq = snapshot_max_seq.max(r.after_seq);
                        }
                        snapshots.len() - 1
                    });
                    exhaustion_snapshot.push(snapshot);
                    recording.resource_exhausted.push(Exhaustion {
                        captured_before: 0,
                        event: r,
                        resource,
                        filled_by: None,
                    });
                }
                Record::Census(c) => {
                    recording.last_t_ns = recording.last_t_ns.max(c.t_ns);
                    // The agent writes one, right after the header.
                    if recording.census.is_none() {
                        recording.census = Some(c);
                    } else {
                        extra_censuses += 1;
                    }
                }
                Record::ClassUnload(u) => {
                    recording.last_t_ns = recording.last_t_ns.max(u.t_ns);
                    if u.kind == ClassKind::Ordinary && !options.all_kinds {
                        continue;
                    }
                    let stack = recording.stacks.get(u.stack);
                    let site = table.find(u.stack, &u.loader.type_name, stack);
                    tracker.class_unload(site, &u);
                }
                Record::LoaderUnload(l) => {
                    recording.last_t_ns = recording.last_t_ns.max(l.t_ns);
                    tracker.loader_unload(&l);
                }
                Record::GcStart(g) => {
                    recording.last_t_ns = recording.last_t_ns.max(g.t_ns);
                    tracker.gc_start(g.t_ns);
                }
                Record::GcFinish(g) => recording.last_t_ns = recording.last_t_ns.max(g.t_ns),
                Record::Unknown => recording.unknown_records += 1,
            }
        }

        let w = &mut recording.warnings;
        if recording.header.is_none() {
            w.insert(
                0,
                "the recording has no header: its beginning is missing (the file does not start with the agent's \
                 first line); the rest is reported as schema 1, without JVM details"
                    .to_string(),
            );
        }
        if let Some(s) = &recording.summary {
            // The loudest warning first: every count below is a lower bound.
            if s.dropped > 0 {
                w.insert(
                    0,
                    format!(
                        "{} classes were dropped because the agent's queue was full; totals are lower bounds \
                         (raise the agent's queue= option)",
                        s.dropped
                    ),
                );
            }
            if s.reason == "process_exit" && recording.resource_exhausted.is_empty() {
                w.push(
                    "the JVM exited without the usual shutdown (VMDeath); with -XX:+ExitOnOutOfMemoryError \
                     this is an OutOfMemoryError the JVM reports only on its stderr \
                     (\"Terminating due to java.lang.OutOfMemoryError: ...\"): the biggest call site is the likely cause"
                        .to_string(),
                );
            }
            if let Some(reason) = &s.capture_disabled {
                w.insert(
                    0,
                    format!(
                        "the agent stopped capturing early ({reason}); classes defined after that are missing"
                    ),
                );
            }
            if s.stack_errors > 0 {
                w.push(format!(
                    "{} classes were recorded without a stack (the agent could not capture it)",
                    s.stack_errors
                ));
            }
        }
        if recording.corrupt_lines as usize > CORRUPT_LINES_LISTED {
            w.push(format!(
                "{} lines in total were not valid records and were skipped{}",
                recording.corrupt_lines,
                if too_long_lines > 0 {
                    format!(
                        " ({too_long_lines} of them over {} MiB long)",
                        MAX_LINE >> 20
                    )
                } else {
                    String::new()
                }
            ));
        }
        if let Some((line, id)) = unknown_stack {
            w.push(format!(
                "{unknown_stack_classes} class records refer to stacks that were never written \
                 (first at line {line}, stack id {id}); they are reported as \"stack not captured\""
            ));
        }
        if extra_headers > 0 {
            w.push(format!(
                "{extra_headers} more header records after line 1 were ignored \
                 (were two recordings written to one file? give each JVM its own out= file)"
            ));
        }
        if extra_censuses > 0 {
            w.push(format!(
                "{extra_censuses} more census records after the first were ignored"
            ));
        }
        if after_summary > 0 {
            w.push(format!(
                "{after_summary} records follow the summary; they are included, but the summary's totals do not count them"
            ));
        }
        if recording.resource_exhausted_omitted > 0 {
            w.push(format!(
                "{} more resource_exhausted records (OutOfMemoryError thrown again) were counted, not listed",
                recording.resource_exhausted_omitted
            ));
        }
        let summarised = recording.stacks.summarised();
        if summarised > 0 {
            w.push(format!(
                "{} of {} distinct stacks were summarised to their call site, their frames not kept: \
                 the frames kept reached the stack memory cap ({} MiB); every class still counts at its call site, \
                 but a call site first seen on a summarised stack has no sample stack, and the flame graph draws \
                 the {} classes defined on them per call site, under \"{}\" \
                 (`metascope report --stack-memory MIB` keeps more)",
                thousands(summarised),
                thousands(recording.stacks.len() as u64),
                thousands(options.stack_memory >> 20),
                thousands(summarised_site_classes.iter().sum()),
                crate::stacks::SUMMARISED_FRAME,
            ));
        }
        if recording.summary.is_none() && !recording.truncated {
            // A cut-off recording is the first thing to know: every total
            // is what was written before the cut.
            let at = w
                .iter()
                .position(|w| !w.starts_with("the recording has no header"))
                .unwrap_or(w.len());
            w.insert(
                at,
                "recording cut off: there is no summary at the end (the JVM was killed, halted or crashed, \
                 or is still running); the report covers everything written before that"
                    .to_string(),
            );
        }
        if recording.truncated {
            // Move the cut-off warning (pushed while reading) to the front.
            if let Some(i) = w.iter().position(|w| w.starts_with("recording cut off")) {
                let cut = w.remove(i);
                let at = usize::from(recording.header.is_none());
                w.insert(at.min(w.len()), cut);
            }
        }

        let (sites, index_to_sorted) = table.into_sorted_with_index();
        recording.call_sites = sites;
        recording.summarised_classes = summarised_site_classes
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(i, &n)| (index_to_sorted[i], n))
            .collect();
        recording
            .summarised_classes
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        recording.diagnosis = tracker.finish(&index_to_sorted, recording.duration_ns());
        for (e, snap) in recording
            .resource_exhausted
            .iter_mut()
            .zip(exhaustion_snapshot)
        {
            let Some(snap) = snap.map(|i| &snapshots[i]) else {
                continue;
            };
            e.captured_before = snap.captured_before;
            // Most classes before the error; ties go to the better-ranked site.
            e.filled_by = snap
                .per_site
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(i, &n)| FilledBy {
                    site: index_to_sorted[i],
                    classes_before: n,
                })
                .max_by(|a, b| {
                    a.classes_before
                        .cmp(&b.classes_before)
                        .then(b.site.cmp(&a.site))
                });
        }
        Ok(recording)
    }

    /// Reads a whole in-memory stream (tests, small inputs).
    #[cfg(test)]
    pub fn from_str(text: &str, options: &ReadOptions) -> Result<Recording> {
        Self::from_reader(Path::new("test.jsonl"), text.as_bytes(), options)
    }

    /// Recording length in nanoseconds: the summary's, else the last event's.
    pub fn duration_ns(&self) -> u64 {
        self.summary
            .as_ref()
            .map_or(self.last_t_ns, |s| s.t_ns.max(self.last_t_ns))
    }

    /// The agent was attached to a running JVM rather than loaded at its
    /// start (the header says so, or a census was written).
    pub fn attached(&self) -> bool {
        self.header.as_ref().is_some_and(|h| h.attached) || self.census.is_some()
    }

    /// Classes that made it into call sites.
    pub fn attributed_classes(&self) -> u64 {
        self.call_sites.iter().map(|s| s.classes).sum()
    }
}

/// Files this large get a progress bar (bytes read) on a terminal.
pub const PROGRESS_MIN_BYTES: u64 = 50 * 1_000_000;

/// A progress bar of bytes read, on stderr; hidden unless stderr is a
/// terminal and the file is over [`PROGRESS_MIN_BYTES`].
fn progress_bar(size: u64, terminal: bool) -> ProgressBar {
    if !terminal || size <= PROGRESS_MIN_BYTES {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(
        "metascope: reading {bar:40} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta} left)",
    )
    .expect("a valid progress template");
    ProgressBar::new(size).with_style(style)
}

fn blank_bytes(total: &mut u64, more: u64) -> u64 {
    *total += more;
    *total
}

/// `1234567` -> `1,234,567`.
fn thousands(n: u64) -> String {
    crate::format::thousands(n)
}

/// The first non-blank line: a header this CLI can read, or (the start of
/// the file lost) another metascope record, which is processed as such.
fn first_record(
    line: &[u8],
    line_no: u64,
    shown: &str,
) -> Result<(Option<Header>, Option<Record>)> {
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
        anyhow::anyhow!(
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
            Ok(r) => Ok((None, Some(r))),
        };
    }
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
        Ok(Record::Header(h)) => Ok((Some(h), None)),
        Ok(_) => Err(not_a_recording()),
        Err(e) => bail!("{shown}: the header on line {line_no} is malformed ({e}); was the agent that wrote it built from this source tree?"),
    }
}

/// Helpers to write fixture streams by hand in tests.
#[cfg(test)]
pub(crate) mod fixtures {
    use metascope_events::*;

    use crate::callsite::tests::{frame, spring_copy_properties_stack};

    pub(crate) fn line(r: &Record) -> String {
        serde_json::to_string(r).unwrap() + "\n"
    }

    pub(crate) fn header() -> Record {
        Record::Header(Header {
            schema: SCHEMA_VERSION,
            agent_version: "0.1.0".into(),
            pid: 4242,
            java_version: "17.0.9".into(),
            java_vm_name: "OpenJDK 64-Bit Server VM".into(),
            start_wall_ms: 1_763_900_000_000,
            options: AgentOptions {
                out: "/tmp/rec.jsonl".into(),
                depth: 64,
                mode: CaptureMode::Dynamic,
                include: vec![],
                queue: 65536,
            },
            attached: false,
        })
    }

    pub(crate) fn class(seq: u64, kind: ClassKind, loader: (u64, &str), stack: u64) -> Record {
        Record::Class(ClassDefined {
            seq,
            name: match kind {
                ClassKind::Proxy => format!("jdk.proxy2.$Proxy{seq}"),
                ClassKind::Lambda => format!("com.acme.Main$$Lambda/0x00000008010{seq:05x}"),
                _ => format!("jdk.internal.reflect.GeneratedMethodAccessor{seq}"),
            },
            kind,
            loader: LoaderRef {
                id: loader.0,
                type_name: loader.1.into(),
            },
            hidden: false,
            thread: "main".into(),
            t_ns: seq * 250_000_000,
            wall_ms: 1_763_900_000_000 + seq * 250,
            event: ClassEvent::Load,
            stack,
            target: None,
            fingerprint: None,
        })
    }

    pub(crate) fn summary(captured: u64, dropped: u64) -> Record {
        Record::Summary(Summary {
            classes_loaded: 2417,
            seen: captured + dropped,
            captured,
            dropped,
            stack_errors: 0,
            events_dropped: 0,
            t_ns: 3_000_000_000,
            end_wall_ms: 1_763_900_003_000,
            reason: "vm_death".into(),
            capture_disabled: None,
            classes_not_dumped: 0,
        })
    }

    pub(crate) fn exhausted(description: &str, flags: &[&str], after_seq: u64) -> String {
        line(&Record::ResourceExhausted(ResourceExhausted {
            description: description.into(),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            thread: "main".into(),
            t_ns: 2_030_000_000,
            wall_ms: 1_763_900_002_030,
            after_seq,
        }))
    }

    pub(crate) const DELEGATING: &str = "jdk.internal.reflect.DelegatingClassLoader";

    /// A small realistic stream: Spring copyProperties inflating accessors,
    /// one proxy, one class without a stack.
    pub(crate) fn bean_copier_stream(with_summary: bool, dropped: u64) -> String {
        let mut s = line(&header());
        s += &line(&Record::Stack(StackTrace {
            id: 1,
            frames: spring_copy_properties_stack(),
        }));
        for seq in 1..=3 {
            s += &line(&class(
                seq,
                ClassKind::ReflectionAccessor,
                (100 + seq, DELEGATING),
                1,
            ));
        }
        s += &line(&Record::Stack(StackTrace {
            id: 2,
            frames: vec![
                frame("java.lang.reflect.Proxy", "newProxyInstance", 1037),
                frame("com.acme.audit.AuditingFactory", "wrap", 23),
            ],
        }));
        s += &line(&class(
            4,
            ClassKind::Proxy,
            (7, "jdk.internal.loader.ClassLoaders$AppClassLoader"),
            2,
        ));
        s += &line(&class(5, ClassKind::Lambda, (0, "bootstrap"), NO_STACK));
        if with_summary {
            s += &line(&summary(5, dropped));
        }
        s
    }

    /// The stream of an attach: the header says so and a census of the
    /// classes already loaded follows, `generated_groups` groups of
    /// generated classes (the first 200 reflection accessors in 200
    /// loaders, then 2 classes each) and two of ordinary ones; then
    /// [`bean_copier_stream`]'s records.
    pub(crate) fn attached_stream(generated_groups: u64) -> String {
        let Record::Header(mut h) = header() else {
            unreachable!()
        };
        h.attached = true;
        let mut groups = vec![
            CensusGroup {
                kind: ClassKind::Ordinary,
                loader_type: "bootstrap".into(),
                classes: 2_000,
                loaders: 1,
            },
            CensusGroup {
                kind: ClassKind::ReflectionAccessor,
                loader_type: DELEGATING.into(),
                classes: 200,
                loaders: 200,
            },
            CensusGroup {
                kind: ClassKind::Ordinary,
                loader_type: "jdk.internal.loader.ClassLoaders$AppClassLoader".into(),
                classes: 290,
                loaders: 1,
            },
        ];
        for i in 1..generated_groups {
            groups.push(CensusGroup {
                kind: ClassKind::Proxy,
                loader_type: format!("com.acme.tenant.Loader{i}"),
                classes: 2,
                loaders: 1,
            });
        }
        let classes = groups.iter().map(|g| g.classes).sum();
        let mut s = line(&Record::Header(h));
        s += &line(&Record::Census(Census {
            t_ns: 3_100_000,
            classes,
            groups,
        }));
        s + bean_copier_stream(true, 0)
            .split_inclusive('\n')
            .skip(1)
            .collect::<String>()
            .as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use metascope_events::ClassKind;

    fn read(text: &str) -> Result<Recording> {
        Recording::from_str(text, &ReadOptions::default())
    }

    fn err(text: &str) -> String {
        format!("{:#}", read(text).unwrap_err())
    }

    #[test]
    fn reads_a_complete_stream() {
        let r = read(&bean_copier_stream(true, 0)).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert!(!r.truncated);
        assert_eq!(r.class_records, 5);
        assert_eq!(r.summary.as_ref().unwrap().reason, "vm_death");
        assert_eq!(r.call_sites.len(), 3);
        assert_eq!(r.call_sites[0].classes, 3);
        assert_eq!(r.duration_ns(), 3_000_000_000);
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let e = Recording::read(Path::new("/nonexistent/rec.jsonl"), &ReadOptions::default())
            .unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("cannot open recording /nonexistent/rec.jsonl"),
            "{msg}"
        );
    }

    #[test]
    fn empty_stream_asks_whether_the_agent_ran() {
        for text in ["", "\n\n  \n"] {
            let msg = err(text);
            assert!(
                msg.contains("no events: was the JVM started with the agent"),
                "{msg}"
            );
        }
    }

    #[test]
    fn first_record_must_be_a_metascope_record() {
        assert!(err("hello world\n").contains("not a metascope recording"));
        assert!(err("{\"type\":\"gc_start\"}\n").contains("does not start with a metascope header"));
        assert!(err("[1,2]\n").contains("(line 1 begins: \"[1,2]\")"));
    }

    #[test]
    fn missing_header_reports_the_rest_with_a_warning() {
        let stream = bean_copier_stream(true, 0);
        let without_header: String = stream.lines().skip(1).map(|l| format!("{l}\n")).collect();
        let r = read(&without_header).unwrap();
        assert!(r.header.is_none());
        assert!(
            r.warnings[0].starts_with("the recording has no header: its beginning is missing"),
            "{:?}",
            r.warnings
        );
        assert_eq!(r.warnings.len(), 1);
        assert_eq!((r.class_records, r.call_sites.len()), (5, 3));
        // Starting at a class record (its stack lost with the head): the
        // class is still counted, as "stack not captured".
        let from_class: String = stream.lines().skip(2).map(|l| format!("{l}\n")).collect();
        let r = read(&from_class).unwrap();
        assert_eq!(r.class_records, 5);
        assert!(r.warnings.iter().any(|w| w.contains("never written")));
    }

    /// A file cut at its start may begin with any record the agent writes,
    /// a GC boundary or an unload included: it is reported, not refused.
    #[test]
    fn a_file_cut_before_a_gc_record_is_read_as_headless() {
        let stream = bean_copier_stream(true, 0);
        for first in [
            r#"{"type":"gc_start","t_ns":5}"#,
            r#"{"type":"gc_finish","t_ns":6}"#,
            r#"{"type":"loader_unload","loader":{"id":1,"type":"L"},"t_ns":7}"#,
            r#"{"type":"class_unload","seq":1,"kind":"proxy","loader":{"id":1,"type":"L"},"stack":0,"t_ns":8}"#,
        ] {
            let headless: String = std::iter::once(format!("{first}\n"))
                .chain(stream.lines().skip(1).map(|l| format!("{l}\n")))
                .collect();
            let r = read(&headless).unwrap();
            assert!(r.header.is_none(), "{first}");
            assert_eq!((r.class_records, r.call_sites.len()), (5, 3), "{first}");
            assert!(
                r.warnings[0].starts_with("the recording has no header"),
                "{first}: {:?}",
                r.warnings
            );
        }
        // A record type no metascope writes is still not a recording.
        assert!(err("{\"type\":\"jit_compile\",\"t_ns\":5}\n")
            .contains("does not start with a metascope header"));
    }

    #[test]
    fn newer_schema_says_upgrade_metascope() {
        // Whatever else the newer header holds.
        for header in [
            "{\"type\":\"header\",\"schema\":2,\"something\":\"new\"}\n",
            "{\"type\":\"header\",\"schema\":7,\"pid\":\"not a number\"}\nbinary \u{0}\n",
        ] {
            let msg = err(header);
            let n = if header.contains(":2,") { 2 } else { 7 };
            assert!(
                msg.contains(&format!(
                    "recorded by a newer agent (schema {n}); this metascope reads schema 1: upgrade metascope"
                )),
                "{msg}"
            );
        }
        let msg = err("{\"type\":\"header\",\"schema\":0}\n");
        assert!(msg.contains("unsupported schema (0)"), "{msg}");
        let msg = err("{\"type\":\"header\"}\n");
        assert!(msg.contains("unsupported schema (missing)"), "{msg}");
    }

    #[test]
    fn corrupt_middle_line_is_skipped_with_its_line_number() {
        let mut lines: Vec<String> = bean_copier_stream(true, 0)
            .lines()
            .map(String::from)
            .collect();
        lines.insert(3, "{\"type\":\"class\",\"seq\":".into()); // line 4
        let text = lines.join("\n") + "\n";
        let r = read(&text).unwrap();
        assert_eq!(r.corrupt_lines, 1);
        assert!(!r.truncated);
        assert!(
            r.warnings[0].starts_with("line 4 is not a valid record"),
            "{:?}",
            r.warnings
        );
        assert_eq!(r.class_records, 5);
    }

    #[test]
    fn many_corrupt_lines_are_counted_not_listed() {
        let mut text = bean_copier_stream(false, 0);
        for _ in 0..8 {
            text += "garbage\n";
        }
        let r = read(&text).unwrap();
        assert_eq!(r.corrupt_lines, 8);
        let listed = r
            .warnings
            .iter()
            .filter(|w| w.contains("is not a valid record"))
            .count();
        assert_eq!(listed, CORRUPT_LINES_LISTED);
        assert!(r.warnings.iter().any(|w| w.contains("8 lines in total")));
    }

    #[test]
    fn truncated_last_line_keeps_everything_before_it() {
        let mut text = bean_copier_stream(false, 0);
        text += "{\"type\":\"class\",\"seq\":6,\"name\":\"jdk.internal.refl";
        let r = read(&text).unwrap();
        assert!(r.truncated);
        assert_eq!(r.class_records, 5);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.starts_with("recording cut off")),
            "{:?}",
            r.warnings
        );
        // Cut off explains the missing summary; no second warning about it.
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn missing_summary_is_a_warning_not_an_error() {
        let r = read(&bean_copier_stream(false, 0)).unwrap();
        assert!(r.summary.is_none());
        assert!(r.warnings[0].starts_with(
            "recording cut off: there is no summary at the end (the JVM was killed, halted or crashed"
        ));
        assert_eq!(r.attributed_classes(), 5);
        assert_eq!(r.duration_ns(), 5 * 250_000_000);
    }

    #[test]
    fn past_the_stack_memory_cap_stacks_are_summarised_and_every_class_still_counted() {
        let text = bean_copier_stream(true, 0);
        let full = read(&text).unwrap();
        // Room for no frames at all: both stacks are summarised.
        let capped = Recording::from_str(
            &text,
            &ReadOptions {
                stack_memory: 0,
                ..ReadOptions::default()
            },
        )
        .unwrap();
        assert_eq!((capped.stacks.len(), capped.stacks.summarised()), (2, 2));
        let sites = |r: &Recording| -> Vec<(String, u64)> {
            r.call_sites
                .iter()
                .map(|s| (s.key.display(), s.classes))
                .collect()
        };
        assert_eq!(sites(&capped), sites(&full));
        assert_eq!(
            capped.warnings,
            vec![
                "2 of 2 distinct stacks were summarised to their call site, their frames not kept: \
                 the frames kept reached the stack memory cap (0 MiB); every class still counts at its call site, \
                 but a call site first seen on a summarised stack has no sample stack, and the flame graph draws \
                 the 4 classes defined on them per call site, under \"(stacks summarised)\" \
                 (`metascope report --stack-memory MIB` keeps more)"
            ]
        );
        // The flame graph's weights: per call site for the summarised
        // stacks, per stack id only for the class without one.
        assert_eq!(capped.summarised_classes, vec![(0, 3), (1, 1)]);
        assert_eq!(capped.stack_classes.len(), 1);
        assert_eq!(capped.stack_classes[&NO_STACK], 1);
        assert!(full.warnings.is_empty() && full.summarised_classes.is_empty());
    }

    #[test]
    fn unknown_stack_id_counts_as_not_captured_and_warns_once() {
        let mut text = bean_copier_stream(false, 0);
        text += &line(&class(6, ClassKind::Proxy, (7, "x.Loader"), 77));
        text += &line(&class(7, ClassKind::Proxy, (7, "x.Loader"), 78));
        let r = read(&text).unwrap();
        let w: Vec<_> = r
            .warnings
            .iter()
            .filter(|w| w.contains("never written"))
            .collect();
        assert_eq!(w.len(), 1);
        assert!(
            w[0].starts_with("2 class records") && w[0].contains("stack id 77"),
            "{w:?}"
        );
        let not_captured = r
            .call_sites
            .iter()
            .find(|s| s.key.attribution() == "stack_not_captured")
            .unwrap();
        assert_eq!(not_captured.classes, 3);
    }

    #[test]
    fn unknown_record_types_are_skipped() {
        let mut lines: Vec<String> = bean_copier_stream(true, 0)
            .lines()
            .map(String::from)
            .collect();
        lines.insert(
            2,
            r#"{"type":"jit_compile","t_ns":5,"method":"a.B.c"}"#.into(),
        );
        let r = read(&(lines.join("\n") + "\n")).unwrap();
        assert_eq!(r.unknown_records, 1);
        assert!(r.warnings.is_empty());
        assert_eq!(r.class_records, 5);
    }

    #[test]
    fn the_census_of_an_attach_is_kept_and_the_recording_is_attached() {
        let r = read(&attached_stream(3)).unwrap();
        assert!(r.attached());
        let census = r.census.as_ref().unwrap();
        assert_eq!((census.classes, census.groups.len()), (2_494, 5));
        assert_eq!(census.groups[1].kind, ClassKind::ReflectionAccessor);
        // The census is not a class record: call sites are as without it.
        assert_eq!((r.class_records, r.attributed_classes()), (5, 5));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);

        // A second census is ignored, with a warning.
        let census_line = attached_stream(3).lines().nth(1).unwrap().to_string();
        let mut lines: Vec<String> = attached_stream(3).lines().map(String::from).collect();
        lines.insert(4, census_line);
        let r = read(&(lines.join("\n") + "\n")).unwrap();
        assert_eq!(r.census.unwrap().classes, 2_494);
        assert_eq!(
            r.warnings,
            vec!["1 more census records after the first were ignored"]
        );

        // Started with the JVM: no census, not attached.
        let r = read(&bean_copier_stream(true, 0)).unwrap();
        assert!(!r.attached() && r.census.is_none());
        // The header lost: a census still says it was an attach.
        let headless: String = attached_stream(3).split_inclusive('\n').skip(1).collect();
        let r = read(&headless).unwrap();
        assert!(r.header.is_none() && r.attached());
    }

    #[test]
    fn ordinary_classes_are_hidden_unless_all_kinds() {
        let mut text = bean_copier_stream(false, 0);
        text += &line(&class(6, ClassKind::Ordinary, (7, "x.Loader"), NO_STACK));
        let r = read(&text).unwrap();
        assert_eq!((r.hidden_ordinary, r.attributed_classes()), (1, 5));
        let all = ReadOptions {
            all_kinds: true,
            ..ReadOptions::default()
        };
        let r = Recording::from_str(&text, &all).unwrap();
        assert_eq!((r.hidden_ordinary, r.attributed_classes()), (0, 6));
    }

    // --- Bad input: never a panic, a clear message, partial results. ---

    fn read_bytes(bytes: &[u8]) -> Result<Recording> {
        Recording::from_reader(Path::new("test.jsonl"), bytes, &ReadOptions::default())
    }

    #[test]
    fn binary_garbage_is_not_a_recording() {
        let mut garbage: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        garbage.splice(0..0, [0xff, 0xfe, 0, 0]);
        for bytes in [
            &garbage[..],
            &[0u8; 4096][..],
            b"\xc3\x28\xa0\xa1\n",
            b"\0\n{}\n",
        ] {
            let msg = format!("{:#}", read_bytes(bytes).unwrap_err());
            assert!(
                msg.contains("not a metascope recording (line 1 is binary data, not text)"),
                "{msg}"
            );
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
    }

    #[test]
    fn garbage_after_a_valid_start_is_skipped_and_the_rest_reported() {
        let stream = bean_copier_stream(true, 0);
        let mut bytes = Vec::new();
        for (i, l) in stream.lines().enumerate() {
            bytes.extend_from_slice(l.as_bytes());
            bytes.push(b'\n');
            if i == 2 {
                bytes.extend_from_slice(b"\0\0\0\0\n\xff\xfe{\"type\":\"class\"\xc3\x28}\n");
                // Invalid UTF-8 inside an otherwise valid record.
                bytes.extend_from_slice(
                    &line(&class(99, ClassKind::Proxy, (7, "x.L"), 0))
                        .replace("$Proxy99", "$Proxy\u{fffd}")
                        .replace('\u{fffd}', "\u{1}")
                        .into_bytes()
                        .iter()
                        .map(|&b| if b == 1 { 0xc0 } else { b })
                        .collect::<Vec<u8>>(),
                );
            }
        }
        let r = read_bytes(&bytes).unwrap();
        assert_eq!(r.corrupt_lines, 3, "{:?}", r.warnings);
        assert_eq!(r.class_records, 5);
        assert!(r.summary.is_some());
        assert!(
            r.warnings.iter().all(|w| w.starts_with("line ")),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn nul_bytes_at_the_end_read_as_cut_off() {
        // What a crash can leave: the file extended, the data never written.
        let mut bytes = bean_copier_stream(false, 0).into_bytes();
        bytes.extend_from_slice(&[0u8; 8192]);
        let r = read_bytes(&bytes).unwrap();
        assert!(r.truncated);
        assert_eq!(r.class_records, 5);
        assert!(r.warnings[0].starts_with("recording cut off: the last line (9) is incomplete"));
    }

    #[test]
    fn an_over_long_line_in_the_middle_is_skipped_with_a_warning() {
        let stream = bean_copier_stream(true, 0);
        let mut lines: Vec<String> = stream.lines().map(String::from).collect();
        let long = format!(
            "{{\"type\":\"class\",\"name\":\"{}\"}}",
            "x".repeat(MAX_LINE + 10)
        );
        lines.insert(3, long);
        let r = read(&(lines.join("\n") + "\n")).unwrap();
        assert_eq!((r.corrupt_lines, r.class_records), (1, 5));
        assert!(r.summary.is_some() && !r.truncated);
        assert!(
            r.warnings[0]
                .starts_with("line 4 is over 16 MiB long (16,777,253 bytes) and was skipped"),
            "{:?}",
            r.warnings
        );
    }

    /// A file of `header` followed by `zeros` NUL bytes, sparse on disk.
    fn sparse_file(dir: &Path, header: &str, zeros: u64) -> PathBuf {
        let path = dir.join("rec.jsonl");
        let mut f = File::create(&path).unwrap();
        std::io::Write::write_all(&mut f, header.as_bytes()).unwrap();
        f.set_len(header.len() as u64 + zeros).unwrap();
        path
    }

    fn header_line() -> String {
        line(&header())
    }

    #[test]
    fn one_enormous_line_is_an_error_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = sparse_file(dir.path(), "", 2 << 30);
        let started = std::time::Instant::now();
        let e = Recording::read(&path, &ReadOptions::default()).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("is not a metascope recording: line 1 is over 16 MiB long (binary data?)"),
            "{msg}"
        );
        // Only the first 16 MiB are looked at.
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    #[test]
    fn sixty_four_mib_without_a_newline_after_the_header_is_a_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = sparse_file(dir.path(), &header_line(), 64 << 20);
        let r = Recording::read(&path, &ReadOptions::default()).unwrap();
        assert!(r.truncated && r.summary.is_none());
        assert_eq!(r.class_records, 0);
        assert_eq!(
            r.warnings,
            vec![
                "recording cut off: the last line (2) is incomplete and over 16 MiB long \
                 (67,108,864 bytes without a newline: the file's end is damaged, e.g. NUL bytes after a crash); \
                 the report covers everything before it"
            ]
        );
    }

    #[test]
    #[ignore = "reads 2 GiB of a sparse file (no disk) end to end: 2-6 s, mostly kernel time \
                copying zero pages; the default 64 MiB test covers the same path"]
    fn two_gib_of_nul_bytes_after_the_header_is_a_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = sparse_file(dir.path(), &header_line(), 2 << 30);
        let r = Recording::read(&path, &ReadOptions::default()).unwrap();
        assert!(r.truncated);
        assert!(
            r.warnings[0].contains("(2,147,483,648 bytes without a newline"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn leading_blank_lines_are_bounded() {
        let msg = format!("{:#}", read_bytes(&vec![b'\n'; MAX_LINE + 2]).unwrap_err());
        assert!(msg.contains("its first 16 MiB are blank lines"), "{msg}");
    }

    #[test]
    fn the_progress_bar_is_only_for_big_files_on_a_terminal() {
        assert!(progress_bar(10, true).is_hidden());
        assert!(progress_bar(PROGRESS_MIN_BYTES, true).is_hidden());
        assert!(progress_bar(PROGRESS_MIN_BYTES * 10, false).is_hidden());
        // Reading through the hidden bar changes nothing.
        let r = Recording::from_reader(
            Path::new("x.jsonl"),
            BufReader::new(
                progress_bar(0, false).wrap_read(bean_copier_stream(true, 0).as_bytes()),
            ),
            &ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(r.class_records, 5);
    }

    #[test]
    fn a_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let msg = format!(
            "{:#}",
            Recording::read(dir.path(), &ReadOptions::default()).unwrap_err()
        );
        assert!(msg.contains("is a directory, not a recording"), "{msg}");
    }

    // --- OutOfMemoryError records. ---

    #[test]
    fn metaspace_oom_blames_the_call_site_with_most_classes_before_it() {
        // Site 1 (Spring) has 3 classes before the OOM, site 2 (proxy) 1;
        // after it, the proxy site defines 5 more and ends up ranked first.
        let mut text = bean_copier_stream(false, 0);
        text += &exhausted("Metaspace", &["oom_error"], 5);
        for seq in 6..=10 {
            text += &line(&class(seq, ClassKind::Proxy, (7, "x.L"), 2));
        }
        text += &line(&summary(10, 0));
        let r = read(&text).unwrap();
        assert_eq!(r.resource_exhausted.len(), 1);
        let e = &r.resource_exhausted[0];
        assert_eq!(e.resource, Resource::Metaspace);
        assert_eq!(e.captured_before, 5);
        let f = e.filled_by.unwrap();
        assert_eq!(f.classes_before, 3);
        assert_eq!(f.site, 1, "ranked second overall");
        assert_eq!(
            r.call_sites[f.site].key.display(),
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
    }

    #[test]
    fn heap_and_thread_ooms_are_not_blamed_on_a_call_site() {
        let mut text = bean_copier_stream(false, 0);
        text += &exhausted("Java heap space", &["oom_error", "java_heap"], 5);
        text += &exhausted(
            "unable to create native thread",
            &["oom_error", "threads"],
            5,
        );
        text += &exhausted("Compressed class space", &["oom_error"], 5);
        text += &exhausted("Metaspace", &["oom_error"], 0);
        let r = read(&text).unwrap();
        let got: Vec<_> = r
            .resource_exhausted
            .iter()
            .map(|e| (e.resource, e.filled_by.map(|f| f.classes_before)))
            .collect();
        assert_eq!(
            got,
            vec![
                (Resource::JavaHeap, None),
                (Resource::Threads, None),
                (Resource::CompressedClassSpace, Some(3)),
                // No class before it: nothing to blame.
                (Resource::Metaspace, None),
            ]
        );
    }

    #[test]
    fn classes_written_late_with_a_lower_seq_still_count_before_the_oom() {
        let mut text = bean_copier_stream(false, 0);
        text += &exhausted("Metaspace", &["oom_error"], 8);
        for seq in 6..=9 {
            text += &line(&class(seq, ClassKind::Proxy, (7, "x.L"), 2));
        }
        let r = read(&text).unwrap();
        let e = &r.resource_exhausted[0];
        assert_eq!(e.captured_before, 8);
        assert_eq!(
            e.filled_by.unwrap().classes_before,
            4,
            "proxy: seq 4, 6, 7, 8"
        );
    }

    #[test]
    fn repeated_ooms_are_capped_and_counted() {
        let mut text = bean_copier_stream(false, 0);
        for _ in 0..EXHAUSTED_KEPT + 7 {
            text += &exhausted("Metaspace", &["oom_error"], 5);
        }
        let r = read(&text).unwrap();
        assert_eq!(r.resource_exhausted.len(), EXHAUSTED_KEPT);
        assert_eq!(r.resource_exhausted_omitted, 7);
        assert!(r.resource_exhausted.iter().all(|e| e.filled_by.is_some()));
        assert!(r
            .warnings
            .iter()
            .any(|w| w.starts_with("7 more resource_exhausted records")));
    }

    #[test]
    fn an_oom_then_a_halt_is_reported_as_cut_off_with_the_oom() {
        let mut text = bean_copier_stream(false, 0);
        text += &exhausted("Metaspace", &["oom_error"], 5);
        text += "{\"type\":\"class\",\"seq\":6,\"na";
        let r = read(&text).unwrap();
        assert!(r.truncated && r.summary.is_none());
        assert_eq!(r.resource_exhausted[0].filled_by.unwrap().classes_before, 3);
        assert!(r.warnings[0].starts_with("recording cut off: the last line (10) is incomplete"));
    }
}
