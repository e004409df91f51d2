//! Reads an event stream (JSON Lines written by the agent) and aggregates it
//! into call sites on the way, one line at a time.
//!
//! Damage the stream may plausibly have (a JVM killed mid-write, a corrupt
//! line, records from a newer agent) becomes warnings in the report; only
//! input that is not a recording at all is an error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use metascope_events::{ClassKind, Frame, Header, Record, Summary, NO_STACK, SCHEMA_VERSION};

use crate::callsite::Libraries;
use crate::grouping::{CallSiteStats, CallSiteTable};

/// Corrupt lines named one by one in the warnings; the rest are counted.
const CORRUPT_LINES_LISTED: usize = 5;

/// How to read: which frames are libraries, which kinds to keep.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub libraries: Libraries,
    /// Keep `ordinary` classes (captured only in the agent's `mode=all`).
    pub all_kinds: bool,
}

/// A recording, read and aggregated.
#[derive(Debug)]
pub struct Recording {
    pub path: PathBuf,
    pub header: Header,
    pub summary: Option<Summary>,
    /// Call sites, biggest first.
    pub call_sites: Vec<CallSiteStats>,
    /// Distinct stacks, for sample stacks.
    pub stacks: HashMap<u64, Vec<Frame>>,
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
    /// ResourceExhausted records (OutOfMemoryError: Metaspace and others).
    pub resource_exhausted: Vec<metascope_events::ResourceExhausted>,
    pub warnings: Vec<String>,
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
        Self::from_reader(path, BufReader::with_capacity(1 << 16, file), options)
    }

    /// Reads from any buffered source; `path` is only used in messages.
    pub fn from_reader(
        path: &Path,
        mut input: impl BufRead,
        options: &ReadOptions,
    ) -> Result<Recording> {
        let shown = path.display();
        let mut buf = Vec::with_capacity(4096);
        let mut line_no = 0u64;

        // The header: the first non-blank line.
        let header = loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("cannot read {shown}"))?;
            if n == 0 {
                bail!(
                    "{shown} has no events: was the JVM started with the agent \
                     (-agentpath:.../libmetascope_agent.so, or `metascope run -- java ...`)?"
                );
            }
            line_no += 1;
            if !buf.trim_ascii().is_empty() {
                break parse_header(&buf, &shown.to_string())?;
            }
        };

        let mut recording = Recording {
            path: path.to_path_buf(),
            header,
            summary: None,
            call_sites: Vec::new(),
            stacks: HashMap::new(),
            class_records: 0,
            hidden_ordinary: 0,
            corrupt_lines: 0,
            unknown_records: 0,
            truncated: false,
            last_t_ns: 0,
            resource_exhausted: Vec::new(),
            warnings: Vec::new(),
        };
        let mut table = CallSiteTable::default();
        let mut unknown_stack: Option<(u64, u64)> = None; // (first line, id)
        let mut unknown_stack_classes = 0u64;
        let mut extra_headers = 0u64;
        let mut after_summary = 0u64;

        loop {
            buf.clear();
            let n = input
                .read_until(b'\n', &mut buf)
                .with_context(|| format!("cannot read {shown} after line {line_no}"))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            let complete = buf.last() == Some(&b'\n');
            let text = buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            let record = match serde_json::from_slice::<Record>(text) {
                Ok(r) => r,
                Err(_) if !complete => {
                    // Only the very last line lacks a newline: the writer
                    // was stopped mid-record.
                    recording.truncated = true;
                    recording.warnings.push(format!(
                        "recording cut off: the last line ({line_no}) is incomplete; \
                         results cover everything before it"
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
            };
            if recording.summary.is_some() && !matches!(record, Record::Unknown) {
                after_summary += 1;
            }
            match record {
                Record::Header(_) => extra_headers += 1,
                Record::Stack(s) => {
                    if s.id != NO_STACK {
                        recording.stacks.insert(s.id, s.frames);
                    }
                }
                Record::Class(c) => {
                    recording.class_records += 1;
                    recording.last_t_ns = recording.last_t_ns.max(c.t_ns);
                    if c.kind == ClassKind::Ordinary && !options.all_kinds {
                        recording.hidden_ordinary += 1;
                        continue;
                    }
                    let frames = if c.stack == NO_STACK {
                        None
                    } else {
                        let frames = recording.stacks.get(&c.stack);
                        if frames.is_none() {
                            unknown_stack_classes += 1;
                            unknown_stack.get_or_insert((line_no, c.stack));
                        }
                        frames
                    };
                    table.add(&c, frames.map(Vec::as_slice), &options.libraries);
                }
                Record::Summary(s) => {
                    recording.last_t_ns = recording.last_t_ns.max(s.t_ns);
                    recording.summary = Some(s);
                }
                Record::ResourceExhausted(r) => {
                    recording.last_t_ns = recording.last_t_ns.max(r.t_ns);
                    recording.resource_exhausted.push(r);
                }
                Record::Unknown => recording.unknown_records += 1,
            }
        }

        let w = &mut recording.warnings;
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
                "{} lines in total were not valid records and were skipped",
                recording.corrupt_lines
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
        if after_summary > 0 {
            w.push(format!(
                "{after_summary} records follow the summary; they are included, but the summary's totals do not count them"
            ));
        }
        if recording.summary.is_none() && !recording.truncated {
            w.push(
                "the recording has no summary: the JVM was killed or is still running; \
                 results cover what was written"
                    .to_string(),
            );
        }
        recording.call_sites = table.into_sorted();
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

    /// Classes that made it into call sites.
    pub fn attributed_classes(&self) -> u64 {
        self.call_sites.iter().map(|s| s.classes).sum()
    }
}

/// The first line must be a header this CLI can read. The schema number is
/// checked on the raw JSON first, so a newer header whose layout changed
/// still gets the "upgrade" message rather than a parse error.
fn parse_header(line: &[u8], shown: &str) -> Result<Header> {
    let not_a_recording = || {
        let start: String = String::from_utf8_lossy(line.trim_ascii())
            .chars()
            .take(80)
            .collect();
        anyhow::anyhow!(
            "{shown} does not start with a metascope header, so it is not a metascope recording \
             (line 1 begins: {start:?}); pass the file named by the agent's out= option"
        )
    };
    let value: serde_json::Value =
        serde_json::from_slice(line.trim_ascii()).map_err(|_| not_a_recording())?;
    if value.get("type").and_then(|t| t.as_str()) != Some("header") {
        return Err(not_a_recording());
    }
    let schema = value.get("schema").and_then(|s| s.as_u64());
    match schema {
        Some(s) if s > u64::from(SCHEMA_VERSION) => bail!(
            "{shown} was recorded by a newer agent (schema {s}), this metascope reads schema \
             {SCHEMA_VERSION}: upgrade the CLI"
        ),
        Some(s) if s == u64::from(SCHEMA_VERSION) => {}
        other => bail!(
            "{shown} has an unsupported schema ({}); this metascope reads schema {SCHEMA_VERSION}",
            other.map_or("missing".to_string(), |s| s.to_string())
        ),
    }
    match serde_json::from_value::<Record>(value) {
        Ok(Record::Header(h)) => Ok(h),
        Ok(_) => Err(not_a_recording()),
        Err(e) => bail!("{shown}: the header on line 1 is malformed ({e}); was the agent that wrote it built from this source tree?"),
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
        })
    }

    pub(crate) fn summary(captured: u64, dropped: u64) -> Record {
        Record::Summary(Summary {
            classes_loaded: 2417,
            seen: captured + dropped,
            captured,
            dropped,
            stack_errors: 0,
            t_ns: 3_000_000_000,
            end_wall_ms: 1_763_900_003_000,
            reason: "vm_death".into(),
            capture_disabled: None,
        })
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
    fn first_record_must_be_a_header() {
        let stream = bean_copier_stream(true, 0);
        let without_header: String = stream.lines().skip(1).map(|l| format!("{l}\n")).collect();
        assert!(err(&without_header).contains("does not start with a metascope header"));
        assert!(err("hello world\n").contains("not a metascope recording"));
    }

    #[test]
    fn newer_schema_says_upgrade_the_cli() {
        let msg = err("{\"type\":\"header\",\"schema\":2,\"something\":\"new\"}\n");
        assert!(
            msg.contains("recorded by a newer agent (schema 2), this metascope reads schema 1: upgrade the CLI"),
            "{msg}"
        );
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
        assert!(r.warnings[0]
            .starts_with("the recording has no summary: the JVM was killed or is still running"));
        assert_eq!(r.attributed_classes(), 5);
        assert_eq!(r.duration_ns(), 5 * 250_000_000);
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
            r#"{"type":"gc_start","t_ns":5,"cause":"Metadata GC Threshold"}"#.into(),
        );
        let r = read(&(lines.join("\n") + "\n")).unwrap();
        assert_eq!(r.unknown_records, 1);
        assert!(r.warnings.is_empty());
        assert_eq!(r.class_records, 5);
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
}
