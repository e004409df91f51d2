//! The writer thread: turns what capture queued into JSON lines.
//!
//! It runs on a JVMTI agent thread, off every application thread, one per
//! session: it takes the session's outputs, writes the header (and the
//! attach-time census), then each queued class with its stack resolved
//! and interned ([`crate::frames`]), GC boundaries, unloads and
//! OutOfMemoryErrors, and at the end the summary. It returns when its
//! session finishes.

use std::collections::HashMap as StdHashMap;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use metascope_events::{
    ClassDefined, ClassKind, ClassUnloaded, GcBoundary, Header, LoaderRef, LoaderUnloaded, Record,
    ResourceExhausted, Summary,
};

use crate::capture::{CapturedClass, Counters, Message, OutOfResource};
use crate::census::Census;
use crate::clock::{wall_ms, Clock};
use crate::dump::Dump;
use crate::ffi::{Jni, Jvmti, RawFrame};
use crate::frames::{JvmtiResolver, MethodResolver, StackTable};
use crate::live::LiveSocket;
use crate::messages;
use crate::options::Fault;
use crate::session::Session;

/// Longest a written record may sit in the buffer: what a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// The writer's maps: keys are its own data (no untrusted input to
/// defend against).
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

/// Flush after this many bytes; the output buffer is larger, so it never
/// writes a partial line on its own.
const FLUSH_BYTES: usize = 64 * 1024;
/// Past this many live captured classes, new ones are not tracked for unloading.
const MAX_LIVE: usize = 2_000_000;
/// Distinct accessor targets kept interned.
const MAX_TARGETS: usize = 1_000_000;

/// The writer thread of `session`: runs until the session finishes.
pub fn run(jvmti: Jvmti, jni: Jni<'_>, session: Arc<Session>) {
    let Some(parts) = session.take_writer_parts() else {
        return;
    };
    let capture = &session.capture;
    Writer::new(
        parts.out,
        session.out_path().display().to_string(),
        JvmtiResolver { jvmti, jni },
        &capture.counters,
        &capture.clock,
    )
    .with_dump(parts.dump.map(Dump::new))
    .with_census(parts.census)
    .with_live(parts.live)
    .with_fault(capture.fault)
    .run(&parts.header, session.queue(), || {
        session.disabled_reason().map(str::to_string)
    });
}

/// What the writer remembers of a live captured class, to describe its
/// unload. Bounded by the classes alive at once (and by [`MAX_LIVE`]).
#[derive(Debug)]
struct LiveClass {
    seq: u64,
    kind: ClassKind,
    loader_id: u64,
    loader_type: Arc<str>,
    stack: u64,
    target: Option<Arc<str>>,
    fingerprint: Option<u64>,
}

/// Fingerprints travel as 16 hex digits (JSON numbers lose precision
/// past 2^53 in many tools).
fn fingerprint_hex(f: u64) -> String {
    format!("{f:016x}")
}

pub struct Writer<'a, W: Write, R: MethodResolver> {
    out: W,
    stacks: StackTable<R>,
    counters: &'a Counters,
    clock: &'a Clock,
    seq: u64,
    failed: bool,
    last_flush: Instant,
    /// Bytes written since the last flush. We flush whole lines only, so
    /// the file always ends at a record boundary.
    unflushed: usize,
    out_name: String,
    live_classes: HashMap<i64, LiveClass>,
    targets: HashMap<String, Arc<str>>,
    dump: Option<Dump>,
    census: Option<Census>,
    live: Option<LiveSocket>,
    fault: Option<Fault>,
}

impl<'a, W: Write, R: MethodResolver> Writer<'a, W, R> {
    pub fn new(
        out: W,
        out_name: String,
        resolver: R,
        counters: &'a Counters,
        clock: &'a Clock,
    ) -> Self {
        Writer {
            out,
            stacks: StackTable::new(resolver),
            counters,
            clock,
            seq: 0,
            failed: false,
            last_flush: Instant::now(),
            unflushed: 0,
            out_name,
            live_classes: HashMap::default(),
            targets: HashMap::default(),
            dump: None,
            census: None,
            live: None,
            fault: None,
        }
    }

    /// A failure to inject (`fault=`, tests only).
    pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
        self.fault = fault;
        self
    }

    /// Also stream every line to a live socket (`socket=PATH`).
    pub fn with_live(mut self, live: Option<LiveSocket>) -> Self {
        self.live = live;
        self
    }

    /// Writes the attach-time census right after the header.
    pub fn with_census(mut self, census: Option<Census>) -> Self {
        self.census = census;
        self
    }

    /// Also writes the bytes of captured classes (`dump=DIR`).
    pub fn with_dump(mut self, dump: Option<Dump>) -> Self {
        self.dump = dump;
        self
    }

    /// Writes the header, then records until `Finish` (or until every
    /// sender is gone), then the summary; `disabled` says why capture
    /// stopped early, if it did.
    pub fn run(
        mut self,
        header: &Header,
        queue: &Receiver<Message>,
        disabled: impl Fn() -> Option<String>,
    ) {
        self.write(&Record::Header(header.clone()));
        if let Some(census) = self.census.take() {
            self.write(&Record::Census(census.into_record()));
        }
        self.flush();
        loop {
            match queue.recv_timeout(FLUSH_INTERVAL) {
                Ok(Message::Finish { reason, done }) => {
                    // Late callbacks may still have queued records.
                    while let Ok(message) = queue.try_recv() {
                        if !matches!(message, Message::Finish { .. }) {
                            self.handle(message);
                        }
                    }
                    self.finish(reason, disabled());
                    let _ = done.send(());
                    return;
                }
                Ok(message) => {
                    self.handle(message);
                    if self.last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.flush();
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.flush(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish("queue_closed", disabled());
                    return;
                }
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Class(class) => self.write_class(*class),
            Message::ResourceExhausted(oom) => {
                let OutOfResource {
                    description,
                    flags,
                    thread,
                    t_ns,
                    wall_ms,
                    written,
                } = *oom;
                self.write(&Record::ResourceExhausted(ResourceExhausted {
                    description,
                    flags: flags.into_iter().map(str::to_string).collect(),
                    thread: thread.to_string(),
                    t_ns,
                    wall_ms,
                    after_seq: self.seq,
                }));
                // The JVM may be about to die: persist what we have.
                self.flush();
                let _ = written.send(());
            }
            Message::ClassFreed { tag, t_ns } => {
                if let Some(class) = self.live_classes.remove(&tag) {
                    self.write(&Record::ClassUnload(ClassUnloaded {
                        seq: class.seq,
                        kind: class.kind,
                        loader: LoaderRef {
                            id: class.loader_id,
                            type_name: class.loader_type.to_string(),
                        },
                        stack: class.stack,
                        target: class.target.map(|t| t.to_string()),
                        fingerprint: class.fingerprint.map(fingerprint_hex),
                        t_ns,
                    }));
                }
            }
            Message::LoaderFreed {
                id,
                type_name,
                t_ns,
            } => {
                self.write(&Record::LoaderUnload(LoaderUnloaded {
                    loader: LoaderRef {
                        id,
                        type_name: type_name.to_string(),
                    },
                    t_ns,
                }));
            }
            Message::Gc { start, t_ns } => {
                let boundary = GcBoundary { t_ns };
                self.write(&if start {
                    Record::GcStart(boundary)
                } else {
                    Record::GcFinish(boundary)
                });
            }
            Message::Finish { .. } => {}
        }
    }

    fn finish(&mut self, reason: &str, disabled: Option<String>) {
        let c = self.counters;
        let summary = Summary {
            classes_loaded: c.classes_loaded.load(Ordering::Relaxed),
            seen: c.seen.load(Ordering::Relaxed),
            captured: c.captured.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            stack_errors: c.stack_errors.load(Ordering::Relaxed),
            events_dropped: c.events_dropped.load(Ordering::Relaxed),
            t_ns: self.clock.elapsed_ns(),
            end_wall_ms: wall_ms(),
            reason: reason.to_string(),
            capture_disabled: disabled,
            classes_not_dumped: self.dump.as_ref().map_or(0, |d| d.failed),
        };
        self.write(&Record::Summary(summary));
        self.flush();
    }

    pub fn write_class(&mut self, class: CapturedClass) {
        match self.fault {
            Some(Fault::PanicInWriter) => {
                panic!("injected fault (fault=panic-in-writer)")
            }
            Some(Fault::StallWriter) => {
                // Until the queue overflows once (bounded: 20 s).
                let deadline = Instant::now() + Duration::from_secs(20);
                while self.counters.dropped.load(Ordering::Relaxed) == 0
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(1));
                }
                self.fault = None;
            }
            Some(Fault::HangWriter) => {
                std::thread::sleep(Duration::from_secs(60));
                self.fault = None;
            }
            _ => {}
        }
        if self.failed {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let stack = self.stack_id(class.frames);
        self.seq += 1;
        if let (Some(dump), Some(bytes)) = (&mut self.dump, &class.bytes) {
            dump.write(&class.name, self.seq, bytes);
        }
        let target = class.target.map(|t| self.intern_target(t));
        if self.live_classes.len() < MAX_LIVE {
            self.live_classes.insert(
                class.tag,
                LiveClass {
                    seq: self.seq,
                    kind: class.kind,
                    loader_id: class.loader_id,
                    loader_type: class.loader_type.clone(),
                    stack,
                    target: target.clone(),
                    fingerprint: class.fingerprint,
                },
            );
        }
        let record = Record::Class(ClassDefined {
            seq: self.seq,
            name: class.name,
            kind: class.kind,
            loader: LoaderRef {
                id: class.loader_id,
                type_name: class.loader_type.to_string(),
            },
            hidden: class.hidden,
            thread: class.thread.to_string(),
            t_ns: class.t_ns,
            wall_ms: class.wall_ms,
            event: class.trigger,
            stack,
            target: target.map(|t| t.to_string()),
            fingerprint: class.fingerprint.map(fingerprint_hex),
        });
        if self.write(&record) {
            self.counters.captured.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn intern_target(&mut self, target: String) -> Arc<str> {
        if let Some(t) = self.targets.get(&target) {
            return t.clone();
        }
        if self.targets.len() >= MAX_TARGETS {
            self.targets.clear();
        }
        let t: Arc<str> = Arc::from(target.as_str());
        self.targets.insert(target, t.clone());
        t
    }

    fn stack_id(&mut self, frames: Box<[RawFrame]>) -> u64 {
        let (id, record) = self.stacks.intern(frames);
        if let Some(record) = record {
            self.write(&Record::Stack(record));
        }
        id
    }

    /// Writes one line; after the first I/O error, says so once and stops
    /// writing (the JVM carries on).
    fn write(&mut self, record: &Record) -> bool {
        if self.failed {
            return false;
        }
        let mut line = serde_json::to_vec(record).unwrap_or_default();
        line.push(b'\n');
        self.unflushed += line.len();
        if let Some(live) = &mut self.live {
            let context = matches!(
                record,
                Record::Header(_) | Record::Stack(_) | Record::Census(_)
            );
            live.line(&line, context);
        }
        let result = self.out.write_all(&line);
        let ok = self.check(result);
        if ok && self.unflushed >= FLUSH_BYTES {
            self.flush();
        }
        ok && !self.failed
    }

    fn flush(&mut self) {
        self.last_flush = Instant::now();
        self.unflushed = 0;
        if let Some(live) = &mut self.live {
            live.pump();
        }
        if !self.failed {
            let result = self.out.flush();
            self.check(result);
        }
    }

    fn check(&mut self, result: io::Result<()>) -> bool {
        match result {
            Ok(()) => true,
            Err(e) => {
                self.failed = true;
                messages::say(&format!(
                    "cannot write the recording to {}: {e}; recording stopped, the JVM continues",
                    self.out_name
                ));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::tests::{frames, FakeResolver};
    use metascope_events::{ClassEvent, NO_STACK};

    fn class(frames: Vec<RawFrame>) -> CapturedClass {
        CapturedClass {
            name: "jdk.internal.reflect.GeneratedMethodAccessor1".into(),
            kind: ClassKind::ReflectionAccessor,
            loader_id: 3,
            loader_type: Arc::from("jdk.internal.reflect.DelegatingClassLoader"),
            hidden: false,
            thread: Arc::from("main"),
            t_ns: 1,
            wall_ms: 2,
            trigger: ClassEvent::Load,
            frames: frames.into_boxed_slice(),
            tag: 1,
            target: None,
            fingerprint: None,
            bytes: None,
        }
    }

    fn header() -> Header {
        Header {
            schema: metascope_events::SCHEMA_VERSION,
            agent_version: "test".into(),
            pid: 1,
            java_version: "17".into(),
            java_vm_name: "vm".into(),
            start_wall_ms: 0,
            options: metascope_events::AgentOptions {
                out: "x".into(),
                depth: 64,
                mode: metascope_events::CaptureMode::Dynamic,
                include: vec![],
                queue: 4,
            },
            attached: false,
        }
    }

    #[test]
    fn stacks_are_written_once_and_lines_resolved() {
        let counters = Counters::default();
        let clock = Clock::start();
        let (tx, rx) = crossbeam_channel::bounded(8);
        let mut out = Vec::new();
        for frames in [frames(6), frames(6), frames(9), vec![]] {
            tx.send(Message::Class(Box::new(class(frames)))).unwrap();
        }
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        tx.send(Message::Finish {
            reason: "vm_death",
            done: done_tx,
        })
        .unwrap();
        Writer::new(&mut out, "x".into(), FakeResolver, &counters, &clock).run(
            &header(),
            &rx,
            || None,
        );
        done_rx.try_recv().unwrap();
        let records: Vec<Record> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let kinds: Vec<&str> = records
            .iter()
            .map(|r| match r {
                Record::Header(_) => "header",
                Record::Stack(_) => "stack",
                Record::Class(_) => "class",
                Record::Summary(_) => "summary",
                Record::ResourceExhausted(_) => "resource_exhausted",
                Record::Unknown => "unknown",
                _ => "other",
            })
            .collect();
        assert_eq!(
            kinds,
            ["header", "stack", "class", "class", "stack", "class", "class", "summary"]
        );
        let Record::Stack(first) = &records[1] else {
            unreachable!()
        };
        assert_eq!(first.frames[0].class, "<unresolved>");
        assert_eq!(first.frames[1].class, "com.acme.BeanCopier");
        assert_eq!(first.frames[1].line, Some(11));
        let Record::Stack(second) = &records[4] else {
            unreachable!()
        };
        assert_eq!(second.frames[1].line, Some(14));
        let Record::Class(last) = &records[6] else {
            unreachable!()
        };
        assert_eq!((last.seq, last.stack), (4, NO_STACK));
        let Record::Summary(summary) = &records[7] else {
            unreachable!()
        };
        assert_eq!(summary.captured, 4);
        assert_eq!(summary.reason, "vm_death");
    }

    struct FailingSink;
    impl Write for FailingSink {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A disk that fills up after some records were written.
    struct FillingSink {
        room: usize,
        written: Vec<u8>,
    }
    impl Write for FillingSink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written.len() + buf.len() > self.room {
                return Err(io::Error::new(
                    io::ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_disk_filling_mid_run_stops_writing_and_counts_the_rest() {
        let counters = Counters::default();
        let clock = Clock::start();
        let sink = FillingSink {
            room: 2_000,
            written: Vec::new(),
        };
        let mut writer = Writer::new(sink, "x".into(), FakeResolver, &counters, &clock);
        for _ in 0..20 {
            writer.write_class(class(frames(1)));
        }
        let captured = counters.captured.load(Ordering::Relaxed);
        assert!(captured > 0 && captured < 20, "some fit: {captured}");
        assert_eq!(captured + counters.dropped.load(Ordering::Relaxed), 20);
        assert!(writer.failed, "writing stopped after the first error");
        let text = String::from_utf8(writer.out.written.clone()).unwrap();
        assert!(
            text.lines()
                .all(|l| serde_json::from_str::<Record>(l).is_ok()),
            "whole lines only"
        );
    }

    #[test]
    fn a_full_disk_counts_drops_instead_of_failing() {
        let counters = Counters::default();
        let clock = Clock::start();
        let mut writer = Writer::new(FailingSink, "x".into(), FakeResolver, &counters, &clock);
        writer.write_class(class(frames(1)));
        writer.write_class(class(frames(1)));
        assert_eq!(counters.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(counters.captured.load(Ordering::Relaxed), 0);
    }
}
