//! The writer thread: turns captured classes into JSON lines.
//!
//! It runs on a JVMTI agent thread, off every application thread. It
//! resolves jmethodIDs to frames (cached per method), writes each distinct
//! stack once (`stack` records) and refers to it from `class` records.

use std::collections::HashMap as StdHashMap;
use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use metascope_events::{
    ClassDefined, ClassEvent, ClassKind, ClassUnloaded, Frame, GcBoundary, Header, LoaderRef,
    LoaderUnloaded, Record, ResourceExhausted, StackTrace, Summary, NO_STACK,
};

use crate::classify::{binary_name, internal_name_from_signature};
use crate::ffi::{MethodId, MethodInfo, RawFrame};
use crate::files::Dir;
use crate::lifecycle::{Clock, Counters};
use crate::messages;
use crate::options::Fault;

/// Longest a written record may sit in the buffer: what a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// The writer's maps: keys are its own data (no untrusted input to
/// defend against), and a 64-frame stack is hashed for every class.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

/// Flush after this many bytes; the output buffer is larger, so it never
/// writes a partial line on its own.
const FLUSH_BYTES: usize = 64 * 1024;
/// Bounds on the writer's caches, in bytes of what they hold (a stack of
/// depth 2048 weighs 32 KiB, one of depth 8 only 128 bytes); past them a
/// cache starts over (stacks are then written again under new ids), so
/// memory stays bounded whatever `depth=` says.
const MAX_STACK_BYTES: usize = 32 << 20;
const MAX_METHOD_BYTES: usize = 32 << 20;
/// Past this many live captured classes, new ones are not tracked for unloading.
const MAX_LIVE: usize = 2_000_000;
/// Distinct accessor targets kept interned.
const MAX_TARGETS: usize = 1_000_000;
/// Class files written with `dump=DIR` at most.
const MAX_DUMPED: u64 = 100_000;

/// A class the application thread captured, before its stack is resolved.
#[derive(Debug)]
pub struct CapturedClass {
    pub name: String,
    pub kind: ClassKind,
    pub loader_id: u64,
    pub loader_type: Arc<str>,
    pub hidden: bool,
    pub thread: Arc<str>,
    pub t_ns: u64,
    pub wall_ms: u64,
    pub trigger: ClassEvent,
    pub frames: Box<[RawFrame]>,
    /// The JVMTI tag set on the class object: ObjectFree reports it back.
    pub tag: i64,
    pub target: Option<String>,
    pub fingerprint: Option<u64>,
    /// Class bytes, only with `dump=DIR`.
    pub bytes: Option<Box<[u8]>>,
}

/// An OutOfMemoryError being thrown (JVMTI ResourceExhausted).
#[derive(Debug)]
pub struct OutOfResource {
    pub description: String,
    pub flags: Vec<String>,
    pub thread: Arc<str>,
    pub t_ns: u64,
    pub wall_ms: u64,
    /// Acknowledged once the record is on disk.
    pub written: Sender<()>,
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

#[derive(Debug)]
pub enum Message {
    /// Boxed: queue slots are allocated up front, so messages stay small.
    Class(Box<CapturedClass>),
    /// An OutOfMemoryError is being thrown: write it and flush at once,
    /// then acknowledge (the JVM may exit right after, e.g. with
    /// -XX:+ExitOnOutOfMemoryError).
    ResourceExhausted(Box<OutOfResource>),
    /// A tagged class object was freed: the class was unloaded.
    ClassFreed { tag: i64, t_ns: u64 },
    /// A tagged class loader was freed.
    LoaderFreed {
        id: u64,
        type_name: Arc<str>,
        t_ns: u64,
    },
    /// GarbageCollectionStart (`start`) or GarbageCollectionFinish.
    Gc { start: bool, t_ns: u64 },
    /// Write everything queued, then the summary, then acknowledge.
    Finish {
        reason: &'static str,
        done: Sender<()>,
    },
}

/// Fingerprints travel as 16 hex digits (JSON numbers lose precision
/// past 2^53 in many tools).
fn fingerprint_hex(f: u64) -> String {
    format!("{f:016x}")
}

impl Dump {
    /// Writes one class file, `DIR/<binary name>.class` (mode 0600, never
    /// through a link, never over an existing file: a repeated name gets
    /// `-<seq>`). A name that cannot be written is counted and skipped;
    /// only a full disk stops dumping.
    fn write(&mut self, name: &str, seq: u64, bytes: &[u8]) {
        if self.stopped {
            return;
        }
        if self.written >= MAX_DUMPED {
            messages::say(&format!(
                "dump= reached {MAX_DUMPED} class files; no more are written"
            ));
            self.stopped = true;
            return;
        }
        let base = dump_file_name(name);
        let mut result = self.dir.create_new(&format!("{base}.class"), 0o600);
        if matches!(&result, Err(e) if e.kind() == io::ErrorKind::AlreadyExists) {
            // Names repeat across loaders (Groovy's Script1...): keep each.
            result = self.dir.create_new(&format!("{base}-{seq}.class"), 0o600);
        }
        match result.and_then(|mut file| file.write_all(bytes)) {
            Ok(()) => self.written += 1,
            Err(e) => {
                self.failed += 1;
                let full = matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT));
                if self.failed == 1 || full {
                    messages::say(&format!(
                        "cannot dump {name} to {}: {}{}",
                        self.dir.path().display(),
                        crate::files::describe_open_error(&e),
                        if full {
                            "; dumping stopped"
                        } else {
                            "; skipped (the summary counts the class files not written)"
                        }
                    ));
                }
                self.stopped = full;
            }
        }
    }
}

/// A file name for a class: its binary name with anything a file name
/// cannot hold (`/`, NUL, a leading `.`) replaced, and long names cut
/// with a hash of the whole so they stay distinct and under NAME_MAX.
fn dump_file_name(name: &str) -> String {
    const MAX: usize = 200;
    let mut clean: String = name
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    if clean.starts_with('.') || clean.is_empty() {
        clean.insert(0, '_');
    }
    if clean.len() <= MAX {
        return clean;
    }
    let mut cut = MAX;
    while !clean.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = crate::classfile::fnv64(name.as_bytes());
    format!("{}~{hash:016x}", &clean[..cut])
}

/// Resolves jmethodIDs; the FFI layer implements it with JVMTI.
pub trait MethodResolver {
    fn resolve(&mut self, method: MethodId) -> Option<MethodInfo>;
}

struct ResolvedMethod {
    class: String,
    name: String,
    descriptor: String,
    file: Option<String>,
    lines: Vec<(i64, u32)>,
}

impl ResolvedMethod {
    /// Bytes this entry holds, for the cache bound.
    fn weight(&self) -> usize {
        self.class.len()
            + self.name.len()
            + self.descriptor.len()
            + self.file.as_ref().map_or(0, String::len)
            + self.lines.len() * std::mem::size_of::<(i64, u32)>()
    }

    fn line_at(&self, location: i64) -> Option<u32> {
        if location < 0 {
            return None;
        }
        let i = self.lines.partition_point(|&(start, _)| start <= location);
        i.checked_sub(1).map(|i| self.lines[i].1)
    }
}

pub struct Writer<'a, W: Write, R: MethodResolver> {
    out: W,
    resolver: R,
    counters: &'a Counters,
    clock: &'a Clock,
    methods: HashMap<MethodId, Option<ResolvedMethod>>,
    /// Bytes held by `methods` (strings and line tables), for its bound.
    method_bytes: usize,
    stacks: HashMap<Box<[RawFrame]>, u64>,
    /// Bytes held by `stacks`, for its bound.
    stack_bytes: usize,
    next_stack: u64,
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
    census: Option<crate::census::Census>,
    live: Option<crate::live::LiveSocket>,
    fault: Option<Fault>,
    disabled: Option<&'a OnceLock<String>>,
}

/// `dump=DIR`: class files for javap.
struct Dump {
    dir: Dir,
    written: u64,
    /// Class files that could not be written.
    failed: u64,
    stopped: bool,
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
            resolver,
            counters,
            clock,
            methods: HashMap::default(),
            method_bytes: 0,
            stacks: HashMap::default(),
            stack_bytes: 0,
            next_stack: 1,
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
            disabled: None,
        }
    }

    /// A failure to inject (`fault=`, tests only).
    pub fn with_fault(mut self, fault: Option<Fault>) -> Self {
        self.fault = fault;
        self
    }

    /// Where the session keeps why capture stopped early, for the summary.
    pub fn with_disabled(mut self, disabled: &'a OnceLock<String>) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// Also stream every line to a live socket (`socket=PATH`).
    pub fn with_live(mut self, live: Option<crate::live::LiveSocket>) -> Self {
        self.live = live;
        self
    }

    /// Also write the bytes of captured classes to `dir` (`dump=DIR`).
    /// Write the attach-time census right after the header.
    pub fn with_census(mut self, census: Option<crate::census::Census>) -> Self {
        self.census = census;
        self
    }

    pub fn with_dump(mut self, dir: Option<Dir>) -> Self {
        self.dump = dir.map(|dir| Dump {
            dir,
            written: 0,
            failed: 0,
            stopped: false,
        });
        self
    }

    /// Writes the header, then records until `Finish` (or until every
    /// sender is gone), then the summary.
    pub fn run(mut self, header: &Header, queue: &Receiver<Message>) {
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
                    self.finish(reason);
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
                    self.finish("queue_closed");
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
                    flags,
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

    fn finish(&mut self, reason: &str) {
        let c = self.counters;
        let summary = Summary {
            classes_loaded: c.classes_loaded.load(Ordering::Relaxed),
            seen: c.seen.load(Ordering::Relaxed),
            captured: c.captured.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            stack_errors: c.stack_errors.load(Ordering::Relaxed),
            events_dropped: c.events_dropped.load(Ordering::Relaxed),
            t_ns: self.clock.elapsed_ns(),
            end_wall_ms: Clock::wall_ms(),
            reason: reason.to_string(),
            capture_disabled: self.disabled.and_then(|d| d.get().cloned()),
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
        if frames.is_empty() {
            return NO_STACK;
        }
        if let Some(&id) = self.stacks.get(&frames) {
            return id;
        }
        let weight = frames.len() * std::mem::size_of::<RawFrame>() + 64;
        if self.stack_bytes + weight > MAX_STACK_BYTES {
            self.stacks.clear();
            self.stack_bytes = 0;
        }
        self.stack_bytes += weight;
        let id = self.next_stack;
        self.next_stack += 1;
        let resolved: Vec<Frame> = frames.iter().map(|f| self.frame(f)).collect();
        self.write(&Record::Stack(StackTrace {
            id,
            frames: resolved,
        }));
        self.stacks.insert(frames, id);
        id
    }

    fn frame(&mut self, raw: &RawFrame) -> Frame {
        if !self.methods.contains_key(&raw.method) {
            let resolved =
                self.resolver
                    .resolve(raw.method)
                    .map(|info: MethodInfo| ResolvedMethod {
                        class: internal_name_from_signature(&info.class_signature)
                            .map(binary_name)
                            .unwrap_or(info.class_signature),
                        name: info.name,
                        descriptor: info.descriptor,
                        file: info.source_file,
                        lines: info.lines,
                    });
            let weight = resolved.as_ref().map_or(0, ResolvedMethod::weight) + 64;
            if self.method_bytes + weight > MAX_METHOD_BYTES {
                self.methods.clear();
                self.method_bytes = 0;
            }
            self.method_bytes += weight;
            self.methods.insert(raw.method, resolved);
        }
        let method = self.methods.get(&raw.method).and_then(Option::as_ref);
        match method {
            Some(m) => Frame {
                class: m.class.clone(),
                method: m.name.clone(),
                sig: m.descriptor.clone(),
                line: m.line_at(raw.location),
                file: m.file.clone(),
                // JVMTI reports location -1 for native frames.
                native: raw.location < 0,
            },
            // The method's class was unloaded before we could resolve it.
            None => Frame {
                class: "<unresolved>".into(),
                method: "<unresolved>".into(),
                sig: String::new(),
                line: None,
                file: None,
                native: false,
            },
        }
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
    use crate::ffi::MethodId;

    struct FakeResolver;
    impl MethodResolver for FakeResolver {
        fn resolve(&mut self, method: MethodId) -> Option<MethodInfo> {
            match method {
                m if m == MethodId::for_test(1) => Some(MethodInfo {
                    class_signature: "Lcom/acme/BeanCopier;".into(),
                    name: "copy".into(),
                    descriptor: "(Ljava/lang/Object;)V".into(),
                    source_file: Some("BeanCopier.java".into()),
                    lines: vec![(0, 10), (5, 11), (9, 14)],
                }),
                _ => None,
            }
        }
    }

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

    fn frames(location: i64) -> Vec<RawFrame> {
        vec![
            RawFrame {
                method: MethodId::for_test(2),
                location: -1,
            },
            RawFrame {
                method: MethodId::for_test(1),
                location,
            },
        ]
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
        Writer::new(&mut out, "x".into(), FakeResolver, &counters, &clock).run(&header(), &rx);
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
