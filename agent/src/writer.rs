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

use crossbeam_channel::{Receiver, TryRecvError};
use metascope_events::encode::{self, ClassLine, ClassUnloadLine};
use metascope_events::{
    AgentCost, ClassKind, CodeSource, Header, Record, ResourceExhausted, SnapshotReason, Summary,
};

use crate::capture::{Capture, CapturedClass, Counters, FinishRequest, Message, OutOfResource};
use crate::census::Census;
use crate::classfile;
use crate::clock::wall_ms;
use crate::dump::Dump;
use crate::ffi::{CodeSourceFields, DiagnosticCommands, Jni, Jvmti, RawFrame};
use crate::frames::{JvmtiResolver, MethodResolver, StackTable};
use crate::live::LiveSocket;
use crate::loaders::LoaderTable;
use crate::messages;
use crate::metaspace::{self, GrowthTrigger, LiveEntry, MetaspaceSource, SnapshotRequest};
use crate::options::{Fault, MetaspaceWatch};
use crate::session::Session;
use crate::sources::{CodeSources, Verdict};

/// Longest a written record may sit in the buffer: what a crash can lose.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// The writer's sleep when its queue is empty: shorter while classes keep
/// coming, doubling while none do (an idle JVM wakes it 125 times a
/// second). Not shorter: each wake-up on a busy 2-core host preempts an
/// application thread (500 µs doubled the JVM's context switches in the
/// benchmark's workload (b)), and the default queue holds seconds of the
/// fastest generator.
const POLL_MIN: Duration = Duration::from_millis(4);
const POLL_MAX: Duration = Duration::from_millis(8);
/// The writer's maps: keys are its own data (no untrusted input to
/// defend against).
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;
type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

/// Flush after this many bytes; the output buffer is larger, so it never
/// writes a partial line on its own.
const FLUSH_BYTES: usize = 64 * 1024;
/// Past this many live captured classes, new ones are not tracked for unloading.
const MAX_LIVE: usize = 2_000_000;
/// Distinct accessor targets kept interned.
const MAX_TARGETS: usize = 1_000_000;
/// How often the JVM's Metaspace totals are read.
const METASPACE_INTERVAL: Duration = Duration::from_millis(200);

/// The writer thread of `session`: runs until the session finishes.
/// `sources` are the JVM's code sources (whose class names it reads, and
/// which frames refer to); `loaders` its tagged loaders; `fields` find a
/// frame class's code source.
pub fn run(
    jvmti: Jvmti,
    jni: Jni<'_>,
    session: Arc<Session>,
    sources: Arc<CodeSources>,
    loaders: &LoaderTable,
    fields: Option<CodeSourceFields>,
) {
    let Some(parts) = session.take_writer_parts() else {
        return;
    };
    let capture = &session.capture;
    let resolver = JvmtiResolver {
        jvmti,
        jni,
        fields,
        sources: &sources,
    };
    let watch = capture.metaspace;
    let metaspace = (watch != MetaspaceWatch::Off)
        .then(|| JvmMetaspace::open(jvmti, jni))
        .flatten();
    Writer::new(
        parts.out,
        session.out_path().display().to_string(),
        resolver,
        capture,
        &sources,
        loaders,
    )
    .with_dump(parts.dump.map(Dump::new))
    .with_census(parts.census)
    .with_live(parts.live)
    .with_fault(capture.fault)
    .with_metaspace(
        metaspace.map(|m| Box::new(m) as Box<dyn MetaspaceSource>),
        watch == MetaspaceWatch::Snapshots,
    )
    .run(&parts.header, session.queue(), || {
        session.disabled_reason().map(str::to_string)
    });
}

/// The JVM's Metaspace figures, asked of the JVM itself.
struct JvmMetaspace<'a> {
    jni: Jni<'a>,
    commands: DiagnosticCommands,
}

impl<'a> JvmMetaspace<'a> {
    fn open(jvmti: Jvmti, jni: Jni<'a>) -> Option<JvmMetaspace<'a>> {
        let dir = jvmti.system_property("sun.boot.library.path")?;
        // The first directory is the JDK's own lib.
        let dir = std::path::PathBuf::from(dir.split(':').next()?);
        let loaded = trusted_library(&dir.join("libmanagement_ext.so"))
            .and_then(|()| DiagnosticCommands::load(jni, &dir));
        match loaded {
            Ok(commands) => Some(JvmMetaspace { jni, commands }),
            Err(e) => {
                messages::say(&format!(
                    "Metaspace figures unavailable ({e}); classes are still recorded"
                ));
                None
            }
        }
    }
}

impl MetaspaceSource for JvmMetaspace<'_> {
    fn run(&mut self, command: &str, on_text: &mut dyn FnMut(&str)) -> Result<(), String> {
        self.jni.diagnostic_command(self.commands, command, on_text)
    }

    fn heap_headroom(&mut self) -> Option<u64> {
        self.jni.heap_headroom()
    }
}

/// A library the agent may load into the JVM: it and its directory belong
/// to root or to the JVM's own user and nobody else may write them (so no
/// other user can have planted or swapped it).
fn trusted_library(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let euid = nix::unistd::geteuid().as_raw();
    let dir = path.parent().unwrap_or(path);
    for p in [dir, path] {
        let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if (m.uid() != 0 && m.uid() != euid) || m.mode() & 0o022 != 0 {
            return Err(format!(
                "{} may be written by another user (owner {}, mode {:o}); not loaded",
                p.display(),
                m.uid(),
                m.mode() & 0o7777
            ));
        }
    }
    Ok(())
}

/// The writer's watch on Metaspace: totals every [`METASPACE_INTERVAL`]
/// (written when they change) and per-loader snapshots.
struct MetaspaceState<'a> {
    source: Box<dyn MetaspaceSource + 'a>,
    next_sample: Instant,
    /// (used, committed) last written.
    last: Option<(u64, u64)>,
    growth: Option<GrowthTrigger>,
    snapshots: u64,
    /// `metaspace=snapshots`: per-loader listings as well as totals.
    snapshots_wanted: bool,
    /// When the last OutOfMemoryError snapshot was taken: a JVM throwing
    /// one after another gets one per [`OOM_SNAPSHOT_INTERVAL`].
    last_oom: Option<Instant>,
}

const OOM_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(10);

/// What the writer remembers of a live captured class, to describe its
/// unload. Bounded by the classes alive at once (and by [`MAX_LIVE`]).
#[derive(Debug)]
struct LiveClass {
    /// [`metaspace::class_key`] of its name: finds it in the JVM's listing.
    key: u64,
    /// Its class file's size (0 when the hook did not see it).
    size: u32,
    seq: u64,
    kind: ClassKind,
    loader_id: u64,
    loader_type: Arc<str>,
    stack: u64,
    target: Option<Arc<str>>,
    fingerprint: Option<u64>,
}

impl LiveClass {
    fn unloaded(&self, t_ns: u64) -> ClassUnloadLine<'_> {
        ClassUnloadLine {
            seq: self.seq,
            kind: self.kind,
            loader_id: self.loader_id,
            loader_type: &self.loader_type,
            stack: self.stack,
            target: self.target.as_deref(),
            fingerprint: self.fingerprint,
            t_ns,
        }
    }
}

/// CPU time (user + system) the calling thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| (t.tv_sec() as u64) * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

pub struct Writer<'a, W: Write, R: MethodResolver> {
    out: W,
    stacks: StackTable<R>,
    capture: &'a Capture,
    counters: &'a Counters,
    sources: &'a CodeSources,
    /// Names a freed loader's type from its tag.
    loaders: &'a LoaderTable,
    seq: u64,
    failed: bool,
    last_flush: Instant,
    /// Bytes written since the last flush. We flush whole lines only, so
    /// the file always ends at a record boundary.
    unflushed: usize,
    out_name: String,
    /// Live hidden classes by tag: each unloads on its own.
    live_hidden: HashMap<i64, LiveClass>,
    /// Live other classes by loader id: they unload with their loader.
    live_by_loader: HashMap<u64, smallvec::SmallVec<[LiveClass; 1]>>,
    live_count: usize,
    /// The line being written (reused: no allocation per record).
    line: Vec<u8>,
    /// Code sources already written to this recording.
    sources_written: std::collections::HashSet<u32>,
    targets: HashSet<Arc<str>>,
    /// Reused for formatting a target before it is looked up.
    scratch: String,
    /// Reused for the constant pool of each class decoded.
    pool_buffer: classfile::PoolBuffer,
    dump: Option<Dump>,
    census: Option<Census>,
    live: Option<LiveSocket>,
    fault: Option<Fault>,
    metaspace: Option<MetaspaceState<'a>>,
}

impl<'a, W: Write, R: MethodResolver> Writer<'a, W, R> {
    pub fn new(
        out: W,
        out_name: String,
        resolver: R,
        capture: &'a Capture,
        sources: &'a CodeSources,
        loaders: &'a LoaderTable,
    ) -> Self {
        Writer {
            out,
            stacks: StackTable::new(resolver),
            capture,
            counters: &capture.counters,
            sources,
            loaders,
            seq: 0,
            failed: false,
            last_flush: Instant::now(),
            unflushed: 0,
            out_name,
            live_hidden: HashMap::default(),
            live_by_loader: HashMap::default(),
            live_count: 0,
            sources_written: std::collections::HashSet::new(),
            line: Vec::with_capacity(1024),
            targets: HashSet::default(),
            scratch: String::new(),
            pool_buffer: classfile::PoolBuffer::default(),
            dump: None,
            census: None,
            live: None,
            fault: None,
            metaspace: None,
        }
    }

    /// Also records the JVM's Metaspace figures from `source`: totals, and
    /// per-loader snapshots if `snapshots`.
    pub fn with_metaspace(
        mut self,
        source: Option<Box<dyn MetaspaceSource + 'a>>,
        snapshots: bool,
    ) -> Self {
        self.metaspace = source.map(|source| MetaspaceState {
            source,
            snapshots_wanted: snapshots,
            next_sample: Instant::now(),
            last: None,
            growth: None,
            snapshots: 0,
            last_oom: None,
        });
        self
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
        let committed = self.sample_metaspace();
        if let Some(mut census) = self.census.take() {
            // What was there before us, in bytes: one listing, whose
            // lines follow the census.
            let attach = committed.and_then(|c| self.metaspace_snapshot(SnapshotReason::Attach, c));
            if let Some(snapshot) = &attach {
                census.set_bytes(&snapshot.types);
            }
            self.write(&Record::Census(census.into_record()));
            if let Some(snapshot) = attach {
                self.write_snapshot(snapshot);
            }
        }
        self.flush();
        // The writer polls instead of parking in recv: parked, it is woken
        // (a context switch) for each class; polling, it drains a batch per
        // wake-up, and senders never have a receiver to wake.
        let mut idle = POLL_MIN;
        loop {
            match queue.try_recv() {
                Ok(Message::Finish(request)) => {
                    let FinishRequest { reason, done } = *request;
                    // Late callbacks may still have queued records.
                    while let Ok(message) = queue.try_recv() {
                        if !matches!(message, Message::Finish(_)) {
                            self.handle(message);
                        }
                    }
                    if reason != "process_exit" {
                        // The JVM still answers (a stop or VMDeath).
                        if let Some(committed) = self.sample_metaspace() {
                            if let Some(snapshot) =
                                self.metaspace_snapshot(SnapshotReason::End, committed)
                            {
                                self.write_snapshot(snapshot);
                            }
                        }
                    }
                    self.finish(reason, disabled());
                    let _ = done.send(());
                    return;
                }
                Ok(message) => {
                    self.handle(message);
                    idle = POLL_MIN;
                    if self.last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.watch_metaspace();
                        self.flush();
                    }
                }
                Err(TryRecvError::Empty) => {
                    if self.last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.watch_metaspace();
                        self.flush();
                    }
                    self.capture.idle(idle);
                    idle = (idle * 2).min(POLL_MAX);
                }
                Err(TryRecvError::Disconnected) => {
                    self.finish("queue_closed", disabled());
                    return;
                }
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Class(class) => {
                self.write_class(&class);
                self.capture.recycle(class);
            }
            Message::ResourceExhausted(oom) => {
                let OutOfResource {
                    description,
                    flags,
                    thread,
                    t_ns,
                    wall_ms,
                    written,
                } = *oom;
                let metaspace = is_metaspace_exhausted(&description)
                    && self.metaspace.as_mut().is_some_and(|m| {
                        let due = m
                            .last_oom
                            .is_none_or(|t| t.elapsed() >= OOM_SNAPSHOT_INTERVAL);
                        if due {
                            m.last_oom = Some(Instant::now());
                        }
                        due
                    });
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
                if metaspace {
                    // Who held the bytes when they ran out (the throwing
                    // thread waits for this, bounded).
                    if let Some(committed) = self.sample_metaspace() {
                        if let Some(snapshot) =
                            self.metaspace_snapshot(SnapshotReason::OutOfMemory, committed)
                        {
                            self.write_snapshot(snapshot);
                        }
                    }
                    self.flush();
                }
                let _ = written.send(());
            }
            Message::ClassFreed { tag, t_ns } => {
                if let Some(class) = self.live_hidden.remove(&tag) {
                    self.live_count -= 1;
                    self.line.clear();
                    encode::class_unload_line(&mut self.line, &class.unloaded(t_ns));
                    self.emit(false);
                }
            }
            Message::LoaderFreed { tag, t_ns } => {
                let Some(loader) = self.loaders.by_tag(tag) else {
                    return;
                };
                let id = loader.id;
                // A loader is freed in the GC that unloads its classes.
                for class in self.live_by_loader.remove(&id).unwrap_or_default() {
                    self.live_count -= 1;
                    self.line.clear();
                    encode::class_unload_line(&mut self.line, &class.unloaded(t_ns));
                    self.emit(false);
                }
                self.line.clear();
                encode::loader_unload_line(&mut self.line, id, &loader.kind.name, t_ns);
                self.emit(false);
            }
            Message::Gc { start, t_ns } => {
                self.line.clear();
                encode::gc_line(&mut self.line, start, t_ns);
                self.emit(false);
            }
            Message::ReadCodeSource(id) => self.sources.read_index(id),
            Message::Finish(_) => {}
        }
    }

    fn finish(&mut self, reason: &str, disabled: Option<String>) {
        let (c, totals) = (self.counters, self.capture.totals());
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let summary = Summary {
            classes_loaded: totals.classes_loaded,
            seen: totals.seen + get(&c.confirmed),
            captured: get(&c.captured),
            dropped: totals.dropped + get(&c.write_failed),
            stack_errors: totals.stack_errors,
            events_dropped: totals.events_dropped,
            t_ns: self.capture.clock.elapsed_ns(),
            end_wall_ms: wall_ms(),
            reason: reason.to_string(),
            capture_disabled: disabled,
            classes_not_dumped: self.dump.as_ref().map_or(0, |d| d.failed),
            cost: Some(AgentCost {
                callback_ns: totals.callback_ns(),
                callbacks: totals.callbacks,
                writer_cpu_ns: thread_cpu_ns(),
            }),
        };
        self.write(&Record::Summary(summary));
        self.flush();
    }

    pub fn write_class(&mut self, class: &CapturedClass) {
        self.inject_fault();
        if let Some(source) = class.provisional {
            // Captured before its code source was read: read it now.
            let internal = class.name.replace('.', "/");
            if self.sources.verdict_reading(source, &internal) == Verdict::Present {
                self.counters
                    .checked_ordinary
                    .fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.counters.confirmed.fetch_add(1, Ordering::Relaxed);
        }
        if self.failed {
            self.counters.write_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let stack = self.stack_id(&class.frames);
        self.seq += 1;
        let bytes = &class.bytes;
        let (target, fingerprint) = match class.kind {
            _ if bytes.is_empty() => (None, None),
            ClassKind::Ordinary | ClassKind::Included => (None, None),
            ClassKind::ReflectionAccessor => (
                classfile::accessor_target_in(bytes, &mut self.pool_buffer)
                    .map(|t| self.intern_target(t)),
                None,
            ),
            _ => (
                None,
                classfile::fingerprint_in(bytes, &mut self.pool_buffer),
            ),
        };
        if let Some(dump) = &mut self.dump {
            if !bytes.is_empty() {
                dump.write(&class.name, self.seq, bytes);
            }
        }
        self.track_live(class, stack, target.clone(), fingerprint);
        self.line.clear();
        encode::class_line(
            &mut self.line,
            &ClassLine {
                seq: self.seq,
                name: &class.name,
                kind: class.kind,
                loader_id: class.loader_id,
                loader_type: &class.loader_type,
                hidden: class.hidden,
                thread: &class.thread,
                t_ns: class.t_ns,
                wall_ms: class.wall_ms,
                event: class.trigger,
                stack,
                target: target.as_deref(),
                fingerprint,
            },
        );
        if self.emit(false) {
            self.counters.captured.fetch_add(1, Ordering::Relaxed);
        } else {
            self.counters.write_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A failure injected by `fault=` (tests only).
    fn inject_fault(&mut self) {
        match self.fault {
            Some(Fault::PanicInWriter) => {
                panic!("injected fault (fault=panic-in-writer)")
            }
            Some(Fault::StallWriter) => {
                // Until the queue overflows once (bounded: 20 s).
                let deadline = Instant::now() + Duration::from_secs(20);
                while self.capture.totals().dropped == 0 && Instant::now() < deadline {
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
    }

    /// Remembers a captured class until it unloads (bounded by [`MAX_LIVE`]).
    fn track_live(
        &mut self,
        class: &CapturedClass,
        stack: u64,
        target: Option<Arc<str>>,
        fingerprint: Option<u64>,
    ) {
        if self.live_count < MAX_LIVE {
            let live = LiveClass {
                key: metaspace::class_key(&class.name),
                size: u32::try_from(class.bytes.len()).unwrap_or(u32::MAX),
                seq: self.seq,
                kind: class.kind,
                loader_id: class.loader_id,
                loader_type: class.loader_type.clone(),
                stack,
                target: target.clone(),
                fingerprint,
            };
            self.live_count += 1;
            if class.tag != 0 {
                self.live_hidden.insert(class.tag, live);
            } else if class.loader_id != metascope_events::BOOTSTRAP_LOADER_ID {
                self.live_by_loader
                    .entry(class.loader_id)
                    .or_default()
                    .push(live);
            } else {
                self.live_count -= 1; // the bootstrap loader never unloads
            }
        }
    }

    /// Reads the totals when due; a new growth snapshot when Metaspace
    /// grew enough since the last.
    fn watch_metaspace(&mut self) {
        let due = self
            .metaspace
            .as_ref()
            .is_some_and(|m| Instant::now() >= m.next_sample);
        if !due {
            return;
        }
        let Some(committed) = self.sample_metaspace() else {
            return;
        };
        let t_ns = self.capture.clock.elapsed_ns();
        let Some(watch) = &mut self.metaspace else {
            return;
        };
        match watch.growth {
            None => watch.growth = Some(GrowthTrigger::new(committed, t_ns)),
            Some(growth) if growth.due(committed, t_ns) && watch.snapshots_wanted => {
                // A growth snapshot over its pause budget is not taken
                // (nor recorded: it would be asked again and again).
                if let Some(snapshot) = self
                    .metaspace_snapshot(SnapshotReason::Growth, committed)
                    .filter(|s| s.header.skipped.is_none())
                {
                    self.write_snapshot(snapshot);
                }
            }
            Some(_) => {}
        }
    }

    /// Reads the totals now and writes them if they changed; returns the
    /// committed bytes.
    fn sample_metaspace(&mut self) -> Option<u64> {
        let watch = self.metaspace.as_mut()?;
        watch.next_sample = Instant::now() + METASPACE_INTERVAL;
        let t_ns = self.capture.clock.elapsed_ns();
        let sample = metaspace::sample(watch.source.as_mut())
            .ok()?
            .sample(t_ns)?;
        let figures = (sample.used, sample.committed);
        if watch.last != Some(figures) {
            watch.last = Some(figures);
            self.write(&Record::Metaspace(sample));
        }
        Some(figures.1)
    }

    /// Lists every loader and joins it with the live captured classes.
    fn metaspace_snapshot(
        &mut self,
        reason: SnapshotReason,
        committed: u64,
    ) -> Option<metaspace::Snapshot> {
        if !self.metaspace.as_ref()?.snapshots_wanted {
            return None;
        }
        let live = self.live_entries();
        let clock = &self.capture.clock;
        let watch = self.metaspace.as_mut()?;
        watch.snapshots += 1;
        let t_ns = clock.elapsed_ns();
        watch.growth = Some(GrowthTrigger::new(committed, t_ns));
        let request = SnapshotRequest {
            id: watch.snapshots,
            reason,
            t_ns,
            committed,
        };
        Some(metaspace::snapshot(
            watch.source.as_mut(),
            request,
            live,
            || clock.elapsed_ns() / 1_000_000,
        ))
    }

    fn write_snapshot(&mut self, snapshot: metaspace::Snapshot) {
        self.write(&Record::MetaspaceSnapshot(snapshot.header));
        for line in snapshot.stacks {
            self.write(&Record::StackMetaspace(line));
        }
        for line in snapshot.types {
            self.write(&Record::LoaderTypeMetaspace(line));
        }
    }

    fn live_entries(&self) -> Vec<LiveEntry> {
        let entry = |c: &LiveClass| LiveEntry {
            key: c.key,
            stack: c.stack,
            kind: c.kind,
            loader_type: c.loader_type.clone(),
            size: c.size,
        };
        let mut live = Vec::with_capacity(self.live_count);
        live.extend(self.live_hidden.values().map(entry));
        live.extend(self.live_by_loader.values().flatten().map(entry));
        live
    }

    fn intern_target(&mut self, target: classfile::AccessorTarget<'_>) -> Arc<str> {
        use std::fmt::Write as _;
        self.scratch.clear();
        let _ = write!(self.scratch, "{target}");
        if let Some(t) = self.targets.get(self.scratch.as_str()) {
            return t.clone();
        }
        if self.targets.len() >= MAX_TARGETS {
            self.targets.clear();
        }
        let t: Arc<str> = Arc::from(self.scratch.as_str());
        self.targets.insert(t.clone());
        t
    }

    fn stack_id(&mut self, frames: &[RawFrame]) -> u64 {
        let (id, record) = self.stacks.intern(frames);
        if let Some(record) = record {
            // Each code source the stack names is written once, before it.
            for source in record.frames.iter().filter_map(|f| f.source) {
                if self.sources_written.insert(source) {
                    let location = self
                        .sources
                        .get(source)
                        .map(|s| s.location.to_string())
                        .unwrap_or_default();
                    self.write(&Record::CodeSource(CodeSource {
                        id: source,
                        location,
                    }));
                }
            }
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
        self.line.clear();
        if serde_json::to_writer(&mut self.line, record).is_err() {
            return false;
        }
        self.line.push(b'\n');
        let context = matches!(
            record,
            Record::Header(_) | Record::Stack(_) | Record::Census(_) | Record::CodeSource(_)
        );
        self.emit(context)
    }

    /// Writes the line in `self.line` (ending with a newline); `context`
    /// lines are also replayed to late live clients. After the first I/O
    /// error, says so once and stops writing (the JVM carries on).
    fn emit(&mut self, context: bool) -> bool {
        if self.failed {
            return false;
        }
        self.unflushed += self.line.len();
        if let Some(live) = &mut self.live {
            live.line(&self.line, context);
        }
        let result = self.out.write_all(&self.line);
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

/// An OutOfMemoryError for Metaspace or the compressed class space.
fn is_metaspace_exhausted(description: &str) -> bool {
    let d = description.to_ascii_lowercase();
    d.contains("metaspace") || d.contains("class space")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::tests::{frames, FakeResolver};

    #[test]
    fn a_library_others_may_write_is_not_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libmanagement_ext.so");
        std::fs::write(&lib, b"").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(trusted_library(&lib), Ok(()));
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(trusted_library(&lib).unwrap_err().contains("another user"));
        std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            trusted_library(&lib).is_err(),
            "a directory others may write"
        );
    }
    use crate::options::AgentOptions;
    use metascope_events::{ClassEvent, NO_STACK};

    /// A recording's capture side, for a writer without a JVM.
    fn capture() -> Capture {
        Capture::new(&AgentOptions::default()).0
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
            frames,
            tag: 1,
            bytes: Vec::new(),
            provisional: None,
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
            java_command: None,
            converted_from: None,
        }
    }

    #[test]
    fn stacks_are_written_once_and_lines_resolved() {
        let capture = capture();
        let sources = CodeSources::default();
        let loaders = LoaderTable::default();
        let (tx, rx) = crossbeam_channel::bounded(8);
        let mut out = Vec::new();
        for frames in [frames(6), frames(6), frames(9), vec![]] {
            tx.send(Message::Class(Box::new(class(frames)))).unwrap();
        }
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        tx.send(Message::Finish(Box::new(FinishRequest {
            reason: "vm_death",
            done: done_tx,
        })))
        .unwrap();
        Writer::new(
            &mut out,
            "x".into(),
            FakeResolver,
            &capture,
            &sources,
            &loaders,
        )
        .run(&header(), &rx, || None);
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
                Record::CodeSource(_) => "code_source",
                Record::Class(_) => "class",
                Record::Summary(_) => "summary",
                Record::ResourceExhausted(_) => "resource_exhausted",
                Record::Unknown => "unknown",
                _ => "other",
            })
            .collect();
        // The code source a frame names is written once, before its stack.
        assert_eq!(
            kinds,
            [
                "header",
                "code_source",
                "stack",
                "class",
                "class",
                "stack",
                "class",
                "class",
                "summary"
            ]
        );
        let Record::Stack(first) = &records[2] else {
            unreachable!()
        };
        assert_eq!(first.frames[0].class, "<unresolved>");
        assert_eq!(first.frames[1].class, "com.acme.BeanCopier");
        assert_eq!(first.frames[1].line, Some(11));
        assert_eq!(first.frames[1].source, Some(0));
        let Record::Stack(second) = &records[5] else {
            unreachable!()
        };
        assert_eq!(second.frames[1].line, Some(14));
        let Record::Class(last) = &records[7] else {
            unreachable!()
        };
        assert_eq!((last.seq, last.stack), (4, NO_STACK));
        let Record::Summary(summary) = &records[8] else {
            unreachable!()
        };
        assert_eq!(summary.captured, 4);
        assert_eq!(summary.reason, "vm_death");
        assert!(summary.cost.is_some(), "the agent reports its own cost");
    }

    /// A JVM whose Metaspace holds one accessor in its own loader, and
    /// whose OutOfMemoryError and end listings are the same.
    struct OneAccessorJvm {
        commands: Vec<String>,
    }

    impl MetaspaceSource for OneAccessorJvm {
        fn run(&mut self, command: &str, on_text: &mut dyn FnMut(&str)) -> Result<(), String> {
            self.commands.push(command.to_string());
            let basic = "Usage:\n       Both:  9000 bytes used.\n\nVirtual space:\n             Both:  1000000 bytes reserved, 12000 bytes (  1%) committed.\n\nMaxMetaspaceSize: 32768 bytes\n";
            let listing = "Usage per loader:\n\n   1: CLD 0x1: instance of jdk.internal.reflect.DelegatingClassLoader\n      Loaded classes:\n         1:    jdk.internal.reflect.GeneratedMethodAccessor1\n      -total-: 1 class\n       Both:    1 chunk,   4096 bytes capacity, 4096 bytes (100%) committed,  3000 bytes ( 73%) used\n\n   2: CLD 0x2: \"<bootstrap>\"\n      Loaded classes:\n         1:    java.lang.Object\n      -total-: 1 class\n       Both:    1 chunk,   8192 bytes capacity, 7904 bytes (100%) committed,  6000 bytes ( 73%) used\nTotal Usage - 2 loaders, 2 classes:\n       Both:    2 chunks, 12288 bytes capacity, 12000 bytes committed, 9000 bytes used\n\nVirtual space:\n             Both:  1000000 bytes reserved, 12000 bytes (  1%) committed.\n";
            on_text(if command == metaspace::BASIC_COMMAND {
                basic
            } else {
                listing
            });
            Ok(())
        }
        fn heap_headroom(&mut self) -> Option<u64> {
            Some(1 << 30)
        }
    }

    #[test]
    fn metaspace_totals_follow_the_header_and_an_oom_snapshot_names_the_accessors_bytes() {
        let capture = capture();
        let sources = CodeSources::default();
        let loaders = LoaderTable::default();
        let (tx, rx) = crossbeam_channel::bounded(8);
        tx.send(Message::Class(Box::new(CapturedClass {
            tag: 0,
            ..class(frames(6))
        })))
        .unwrap();
        let (written, written_rx) = crossbeam_channel::bounded(1);
        tx.send(Message::ResourceExhausted(Box::new(OutOfResource {
            description: "Metaspace".into(),
            flags: vec!["oom_error"],
            thread: Arc::from("main"),
            t_ns: 5,
            wall_ms: 6,
            written,
        })))
        .unwrap();
        let (done, _done_rx) = crossbeam_channel::bounded(1);
        tx.send(Message::Finish(Box::new(FinishRequest {
            reason: "process_exit",
            done,
        })))
        .unwrap();
        let mut out = Vec::new();
        let jvm = OneAccessorJvm { commands: vec![] };
        Writer::new(
            &mut out,
            "x".into(),
            FakeResolver,
            &capture,
            &sources,
            &loaders,
        )
        .with_metaspace(Some(Box::new(jvm)), true)
        .run(&header(), &rx, || None);
        written_rx.try_recv().unwrap();
        let records: Vec<Record> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let Record::Metaspace(first) = &records[1] else {
            panic!("{:?}", records[1])
        };
        assert_eq!(
            (first.used, first.committed, first.max),
            (9000, 12000, Some(32768))
        );
        let snapshots: Vec<_> = records
            .iter()
            .filter_map(|r| match r {
                Record::MetaspaceSnapshot(s) => Some(s),
                _ => None,
            })
            .collect();
        // One at the OutOfMemoryError; none at a process exit (the JVM may
        // no longer answer).
        assert_eq!(snapshots.len(), 1);
        assert_eq!(snapshots[0].reason, SnapshotReason::OutOfMemory);
        let stack = records
            .iter()
            .find_map(|r| match r {
                Record::StackMetaspace(s) => Some(s),
                _ => None,
            })
            .unwrap();
        assert_eq!(stack.kind, ClassKind::ReflectionAccessor);
        assert_eq!((stack.used, stack.exclusive_committed), (3000, 4096));
        let boot = records
            .iter()
            .find_map(|r| match r {
                Record::LoaderTypeMetaspace(t) => Some(t),
                _ => None,
            })
            .unwrap();
        assert_eq!((boot.loader_type.as_str(), boot.used), ("bootstrap", 6000));
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
        let capture = capture();
        let sources = CodeSources::default();
        let loaders = LoaderTable::default();
        let sink = FillingSink {
            room: 2_000,
            written: Vec::new(),
        };
        let mut writer = Writer::new(sink, "x".into(), FakeResolver, &capture, &sources, &loaders);
        for _ in 0..20 {
            writer.write_class(&class(frames(1)));
        }
        let counters = &capture.counters;
        let captured = counters.captured.load(Ordering::Relaxed);
        assert!(captured > 0 && captured < 20, "some fit: {captured}");
        assert_eq!(captured + counters.write_failed.load(Ordering::Relaxed), 20);
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
        let capture = capture();
        let sources = CodeSources::default();
        let loaders = LoaderTable::default();
        let mut writer = Writer::new(
            FailingSink,
            "x".into(),
            FakeResolver,
            &capture,
            &sources,
            &loaders,
        );
        writer.write_class(&class(frames(1)));
        writer.write_class(&class(frames(1)));
        assert_eq!(capture.counters.write_failed.load(Ordering::Relaxed), 2);
        assert_eq!(capture.counters.captured.load(Ordering::Relaxed), 0);
    }

    /// A class captured before its code source was read: kept only if
    /// the code source does not hold it.
    #[test]
    fn provisional_classes_are_kept_only_if_their_code_source_lacks_them() {
        let capture = capture();
        let sources = CodeSources::default();
        let loaders = LoaderTable::default();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("com/acme")).unwrap();
        std::fs::write(dir.path().join("com/acme/Real.class"), b"x").unwrap();
        let id = sources
            .intern(&format!("file:{}/", dir.path().display()))
            .unwrap();
        let mut out = Vec::new();
        let mut writer = Writer::new(
            &mut out,
            "x".into(),
            FakeResolver,
            &capture,
            &sources,
            &loaders,
        );
        for name in ["com.acme.Real", "com.acme.Real$$Generated1"] {
            let mut c = class(frames(1));
            c.name = name.into();
            c.kind = ClassKind::RuntimeDefined;
            c.provisional = Some(id);
            writer.write_class(&c);
        }
        drop(writer);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("com.acme.Real$$Generated1"), "{text}");
        assert!(!text.contains("\"com.acme.Real\""), "{text}");
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        assert_eq!(get(&capture.counters.checked_ordinary), 1);
        assert_eq!(get(&capture.counters.confirmed), 1);
    }
}
