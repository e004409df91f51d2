//! What runs on the application thread for each class: classify, dedupe,
//! capture the stack, hand a record to the writer. No I/O, no blocking.
//!
//! Capture knows nothing of sessions: the session owns a [`Capture`] (its
//! classifier, counters, clock and queue) and the JVM-wide identities live
//! in [`JvmIds`]; both are passed in. A JVMTI failure is returned as a
//! [`CaptureError`] for the caller to stop capturing.

use std::cell::RefCell;
use std::sync::atomic::{fence, AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use metascope_events::{ClassEvent, ClassKind};

use crate::classfile;
use crate::classify::{
    binary_name_into, internal_name_from_signature, is_hidden_name, ClassFacts, Classifier,
    LoaderFacts,
};
use crate::clock::{wall_ms, Clock};
use crate::ffi::{
    CodeLocation, CodeSourceFields, HookedClass, Jni, Jvmti, JvmtiError, LocalRef, RawFrame,
};
use crate::last_seen::{self, Role};
use crate::loaders::LoaderTable;
use crate::options::{AgentOptions, Fault, MetaspaceWatch};
use crate::sources::{self, CodeSources, Verdict};
use crate::tally::{self, CallbackTimer, Tallies, ThreadTally, Totals};

/// What the writer counts (it alone writes these); everything counted on
/// application threads is in their [`Tallies`].
#[derive(Default, Debug)]
pub struct Counters {
    /// Class records written.
    pub captured: AtomicU64,
    /// Records the writer could not write (the output failed).
    pub write_failed: AtomicU64,
    /// Provisional classes the writer found generated (they count as seen).
    pub confirmed: AtomicU64,
    /// Provisional classes the writer found ordinary after all.
    pub checked_ordinary: AtomicU64,
}

/// A class the application thread captured, before its stack is resolved.
///
/// The writer hands each one back when written ([`Capture::recycle`]), so
/// its buffers (name, frames, bytes) and the box itself are reused: once
/// the pool is warm, capturing a class allocates nothing, and no memory
/// allocated on one thread is freed on another.
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
    pub frames: Vec<RawFrame>,
    /// The JVMTI tag of a hidden class (ObjectFree reports it back); 0 for
    /// the others, which unload with their loader.
    pub tag: i64,
    /// The class file (accessor targets and fingerprints are decoded from
    /// it on the writer thread; `dump=DIR` writes it); empty when not kept.
    pub bytes: Vec<u8>,
    /// Captured before its code source's class names were read: the writer
    /// reads them and keeps the record only if the class is not there.
    pub provisional: Option<u32>,
}

impl Default for CapturedClass {
    fn default() -> Self {
        CapturedClass {
            name: String::new(),
            kind: ClassKind::Ordinary,
            loader_id: 0,
            loader_type: Arc::default(),
            hidden: false,
            thread: Arc::default(),
            t_ns: 0,
            wall_ms: 0,
            trigger: ClassEvent::Load,
            frames: Vec::new(),
            tag: 0,
            bytes: Vec::new(),
            provisional: None,
        }
    }
}

impl CapturedClass {
    /// Back to the default, keeping the buffers (up to their caps) and the
    /// two names, which every capture sets. Spelled out field by field so
    /// that a new field cannot be forgotten here: a stale value would be
    /// reported for the next class.
    fn clear(&mut self) {
        let CapturedClass {
            name,
            kind,
            loader_id,
            loader_type: _,
            hidden,
            thread: _,
            t_ns,
            wall_ms,
            trigger,
            frames,
            tag,
            bytes,
            provisional,
        } = self;
        name.clear();
        frames.clear();
        bytes.clear();
        if bytes.capacity() > SPARE_BYTES {
            *bytes = Vec::new();
        }
        if frames.capacity() > SPARE_FRAMES {
            *frames = Vec::new();
        }
        *kind = ClassKind::Ordinary;
        *loader_id = 0;
        *hidden = false;
        *t_ns = 0;
        *wall_ms = 0;
        *trigger = ClassEvent::Load;
        *tag = 0;
        *provisional = None;
    }
}

/// Captured classes kept for reuse at most (see [`CapturedClass`]): more
/// than the writer drains per wake-up at tens of thousands of classes a
/// second.
const SPARE_CLASSES: usize = 256;
/// A spare keeps buffers up to these capacities (a huge class file or
/// stack is not held on to): at most about 2.5 MB for the pool.
const SPARE_BYTES: usize = 8 * 1024;
const SPARE_FRAMES: usize = 128;

/// An OutOfMemoryError being thrown (JVMTI ResourceExhausted).
#[derive(Debug)]
pub struct OutOfResource {
    pub description: String,
    pub flags: Vec<&'static str>,
    pub thread: Arc<str>,
    pub t_ns: u64,
    pub wall_ms: u64,
    /// Acknowledged once the record is on disk.
    pub written: Sender<()>,
}

/// What application threads (and the stopping thread) send the writer.
#[derive(Debug)]
///
/// 24 bytes: the queue's slots are allocated up front (65,536 by default),
/// so anything larger than two words travels boxed.
pub enum Message {
    /// Boxed: queue slots are allocated up front, so messages stay small.
    Class(Box<CapturedClass>),
    /// An OutOfMemoryError is being thrown: write it and flush at once,
    /// then acknowledge (the JVM may exit right after, e.g. with
    /// -XX:+ExitOnOutOfMemoryError).
    ResourceExhausted(Box<OutOfResource>),
    /// A tagged hidden class was freed: it was unloaded.
    ClassFreed { tag: i64, t_ns: u64 },
    /// A tagged class loader was freed: its classes were unloaded. The
    /// tag names its type and instance ([`LoaderTable::by_tag`]).
    LoaderFreed { tag: i64, t_ns: u64 },
    /// GarbageCollectionStart (`start`) or GarbageCollectionFinish.
    Gc { start: bool, t_ns: u64 },
    /// A code source was seen for the first time: read its class names
    /// (files: the writer's work, never an application thread's).
    ReadCodeSource(u32),
    /// Write everything queued, then the summary, then acknowledge.
    Finish(Box<FinishRequest>),
}

/// See [`Message::Finish`].
#[derive(Debug)]
pub struct FinishRequest {
    pub reason: &'static str,
    pub done: Sender<()>,
}

/// Everything the callbacks of one recording need: owned by its session.
pub struct Capture {
    pub classifier: Classifier,
    pub depth: u32,
    /// Keep class bytes for the writer (`dump=DIR`).
    pub keep_bytes: bool,
    pub fault: Option<Fault>,
    /// What the writer asks the JVM about Metaspace (`metaspace=`).
    pub metaspace: MetaspaceWatch,
    /// Counted by application threads, each in its own tally.
    pub tallies: Tallies,
    /// Counted by the writer.
    pub counters: Counters,
    pub clock: Clock,
    queue: Sender<Message>,
    /// Written classes, back from the writer for reuse.
    spares: (Sender<Box<CapturedClass>>, Receiver<Box<CapturedClass>>),
    /// Wakes the writer from its idle wait at once: only for messages
    /// someone waits on (a finish, an OutOfMemoryError). Classes never
    /// wake it (it drains them in batches; see the writer's loop).
    wake: WriterWake,
}

/// The writer's idle wait, and the call that ends it. The writer parks its
/// thread: a channel's receive spins and yields (`sched_yield`) before it
/// sleeps, which cost the writer 2-3 ms of CPU over a half-second start-up
/// on a busy host (perf, `LoadClasses`).
#[derive(Default)]
struct WriterWake {
    writer: OnceLock<Thread>,
    /// A wake-up not consumed yet: one that comes before the writer's
    /// first wait is not lost.
    pending: AtomicBool,
}

impl WriterWake {
    fn wait(&self, idle: Duration) {
        self.writer.get_or_init(std::thread::current);
        // The writer publishes its thread before it reads `pending`; a
        // waker sets `pending` before it reads the thread: with the
        // fences, at least one of them sees the other's write.
        fence(Ordering::SeqCst);
        if !self.pending.swap(false, Ordering::SeqCst) {
            std::thread::park_timeout(idle);
            self.pending.store(false, Ordering::SeqCst);
        }
    }

    fn wake(&self) {
        self.pending.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if let Some(writer) = self.writer.get() {
            writer.unpark();
        }
    }
}

impl Capture {
    /// The capture side of a recording and the receiving end of its queue
    /// (for the writer).
    pub fn new(options: &AgentOptions) -> (Capture, Receiver<Message>) {
        let (queue, queue_rx) = crossbeam_channel::bounded(options.queue as usize);
        let capture = Capture {
            classifier: Classifier::new(options.mode, &options.include),
            depth: options.depth,
            keep_bytes: options.dump.is_some(),
            fault: options.fault,
            metaspace: options.metaspace,
            tallies: Tallies::default(),
            counters: Counters::default(),
            clock: Clock::start(),
            queue,
            spares: crossbeam_channel::bounded(SPARE_CLASSES),
            wake: WriterWake::default(),
        };
        (capture, queue_rx)
    }

    /// Hands a captured class to the writer without ever blocking; a full
    /// queue drops it (counted: as seen and dropped, or for a provisional
    /// class, whose verdict is unknown, as seen and dropped too).
    fn enqueue(&self, tally: &ThreadTally, counted_as_seen: bool, message: Message) {
        if self.queue.try_send(message).is_err() {
            if !counted_as_seen {
                tally::add(&tally.seen, 1);
            }
            tally::add(&tally.dropped, 1);
        }
    }

    /// A class to fill: a written one back from the writer, or a new one.
    fn blank_class(&self) -> Box<CapturedClass> {
        self.spares.1.try_recv().unwrap_or_default()
    }

    /// A written class, for reuse by the next capture (never blocks: past
    /// [`SPARE_CLASSES`] it is freed).
    pub fn recycle(&self, mut class: Box<CapturedClass>) {
        class.clear();
        let _ = self.spares.0.try_send(class);
    }

    /// The same for GC boundaries, unloads and requests to the writer,
    /// counted apart from classes.
    fn enqueue_event(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.tallies.with(|t| tally::add(&t.events_dropped, 1));
        }
    }

    /// The writer's idle wait: `idle` at most, less when a message that
    /// someone waits on was queued.
    pub fn idle(&self, idle: Duration) {
        self.wake.wait(idle);
    }

    /// Ends the writer's idle wait, or the next one if it is not waiting.
    fn wake_writer(&self) {
        self.wake.wake();
    }

    /// Everything counted so far, on every thread.
    pub fn totals(&self) -> Totals {
        self.tallies.totals()
    }

    /// Asks the writer to drain, write the summary and acknowledge on
    /// `done`. Waits at most `wait` for room in the queue (only the
    /// stopping thread calls this, never an application thread).
    pub fn finish(&self, reason: &'static str, done: Sender<()>, wait: Duration) -> bool {
        let sent = self
            .queue
            .send_timeout(
                Message::Finish(Box::new(FinishRequest { reason, done })),
                wait,
            )
            .is_ok();
        // The JVM's exit waits for the acknowledgement: without this, for
        // the rest of the writer's idle sleep (4-8 ms, most of the agent's
        // fixed cost on a short run).
        self.wake_writer();
        sent
    }
}

/// JVM-wide identities the callbacks share across recordings: loader ids,
/// code sources, the code-source field ids, and the counter that tags
/// hidden classes.
#[derive(Clone, Copy)]
pub struct JvmIds<'a> {
    pub loaders: &'a LoaderTable,
    pub sources: &'a CodeSources,
    pub code_source: Option<&'a CodeSourceFields>,
    pub next_class_tag: &'a AtomicI64,
}

/// A JVMTI call failed in a way that makes further capture unreliable.
#[derive(Debug)]
pub struct CaptureError {
    pub what: &'static str,
    pub error: JvmtiError,
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.what, self.error)
    }
}

/// How long a thread throwing OutOfMemoryError waits for its record to be
/// on disk.
const OOM_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Tags of protection domains (negative: loaders and hidden classes have
/// positive tags): the code source id, or "no location".
const DOMAIN_WITHOUT_LOCATION: i64 = -1;

fn domain_tag(source: u32) -> i64 {
    -2 - i64::from(source)
}

fn domain_source(tag: i64) -> Option<u32> {
    (-2 - i64::from(u32::MAX)..=-2)
        .contains(&tag)
        .then(|| (-2 - tag) as u32)
}

/// Classes between ClassFileLoadHook and ClassLoad on this thread, keyed by
/// a hash of the name: what the hook filled in (kind, loader, bytes,
/// provisional), waiting for ClassLoad to add the stack. Both events for one class come on the defining
/// thread with at most a few nested definitions (superclasses) between, so
/// a small ring suffices; stale entries (a definition that failed) fall out.
#[derive(Default)]
struct PendingDefinitions {
    entries: [(u64, Option<Box<CapturedClass>>); 8],
    next: usize,
    /// Entries holding facts: zero for almost every ClassLoad, which then
    /// needs no JVMTI call at all.
    live: usize,
}

impl PendingDefinitions {
    fn push(&mut self, name_hash: u64, facts: Box<CapturedClass>) {
        let slot = self.next % self.entries.len();
        if self.entries[slot].1.is_none() {
            self.live += 1;
        }
        self.entries[slot] = (name_hash, Some(facts));
        self.next += 1;
    }

    fn take(&mut self, name_hash: u64) -> Option<Box<CapturedClass>> {
        let facts = self
            .entries
            .iter_mut()
            .find(|(h, facts)| *h == name_hash && facts.is_some())
            .and_then(|(_, facts)| facts.take());
        if facts.is_some() {
            self.live -= 1;
        }
        facts
    }

    fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[derive(Default)]
struct ThreadState {
    pending: PendingDefinitions,
    /// JVMTI thread names are fetched once per thread.
    name: Option<Arc<str>>,
}

thread_local! {
    static THREAD: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

fn name_hash(internal_name: &str) -> u64 {
    // The code sources' hash (foldhash; SipHash took ~50 ns a name, twice
    // per captured class), never 0: the ring's empty marker.
    sources::name_hash(internal_name) | 1
}

/// What the hook decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Ordinary,
    Capture(ClassKind),
    /// Its code source was not read yet: captured, the writer decides.
    Provisional(u32),
}

/// ClassFileLoadHook: the only event with the class's loader, protection
/// domain and bytes, so the place to decide whether it is generated. The
/// questions go from cheap to dear and stop at the first answer: its name
/// (a generator's pattern, an `include=` pattern), its protection domain
/// (none, or one without a location: bytes from nowhere), and whether its
/// code source holds a class file of its name (the domain's tag, which
/// `last_seen` usually has, and a hash lookup). An ordinary class from a
/// jar costs one JNI call here and one JVMTI call in ClassLoad.
pub fn on_class_file(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: HookedClass<'_>,
) {
    capture.tallies.with(|tally| {
        let mut timer = CallbackTimer::start(tally);
        let Some(name) = class
            .name
            .or_else(|| classfile::this_class_name(class.bytes))
        else {
            return timer.finish(tally);
        };
        let decision = decide(capture, ids, jvmti, jni, &class, name);
        if decision != Decision::Ordinary {
            timer.capturing(tally);
            hold_for_class_load(capture, ids, jvmti, jni, &class, name, decision);
        }
        timer.finish(tally);
    })
}

fn decide(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: &HookedClass<'_>,
    name: &str,
) -> Decision {
    if let Some(kind) = capture.classifier.by_name(name) {
        return Decision::Capture(kind);
    }
    let all = || {
        if capture.classifier.captures_all() {
            Decision::Capture(ClassKind::Ordinary)
        } else {
            Decision::Ordinary
        }
    };
    if class.loader.is_none() {
        return all(); // the JDK's own classes: only names tell
    }
    match code_source(ids, jvmti, jni, class.protection_domain) {
        Some(DOMAIN_WITHOUT_LOCATION) => Decision::Capture(ClassKind::RuntimeDefined),
        Some(tag) => match domain_source(tag).map(|id| (id, ids.sources.verdict(id, name))) {
            Some((_, Verdict::Present)) => all(),
            Some((_, Verdict::Absent)) => Decision::Capture(ClassKind::RuntimeDefined),
            Some((id, Verdict::Unknown { indexed: false })) => {
                capture.enqueue_event(Message::ReadCodeSource(id));
                Decision::Provisional(id)
            }
            // A location nobody can read: known generator loaders only.
            _ => Decision::Capture(ClassKind::DynamicLoader),
        },
        None => Decision::Capture(ClassKind::DynamicLoader),
    }
}

/// The tag of a class's protection domain, tagging it the first time it
/// is seen (its location read and numbered as a code source).
fn code_source(
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    domain: Option<LocalRef<'_>>,
) -> Option<i64> {
    let Some(domain) = domain else {
        return Some(DOMAIN_WITHOUT_LOCATION);
    };
    match last_seen::tag(Role::ProtectionDomain, jni, domain, || jvmti.tag(domain)) {
        Ok(0) => {}
        Ok(tag) => return Some(tag),
        Err(_) => return None,
    }
    let tag = match jni.code_location(domain, *ids.code_source?) {
        CodeLocation::None => DOMAIN_WITHOUT_LOCATION,
        CodeLocation::Url(location) => domain_tag(ids.sources.intern(&location)?),
    };
    jvmti.set_tag(domain, tag).ok()?;
    Some(tag)
}

/// A class the hook captures: its loader is identified now (the hook has
/// it for free) and its bytes kept for the writer.
fn hold_for_class_load(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: &HookedClass<'_>,
    name: &str,
    decision: Decision,
) {
    let Ok(loader) = ids.loaders.identify(jvmti, jni, class.loader) else {
        return; // not capturable without a loader; ClassLoad finds no facts
    };
    let (mut kind, provisional) = match decision {
        Decision::Capture(kind) => (kind, None),
        Decision::Provisional(source) => (ClassKind::RuntimeDefined, Some(source)),
        Decision::Ordinary => return,
    };
    if kind == ClassKind::DynamicLoader && !loader.kind.dynamic {
        return; // an unreadable location and no generator's loader: ordinary
    }
    if kind == ClassKind::RuntimeDefined && loader.kind.dynamic {
        kind = ClassKind::DynamicLoader; // a known generator's loader: say so
    }
    let wants_bytes =
        capture.keep_bytes || !matches!(kind, ClassKind::Ordinary | ClassKind::Included);
    let mut facts = capture.blank_class();
    facts.kind = kind;
    facts.loader_id = loader.id;
    facts.loader_type = loader.kind.name.clone();
    if wants_bytes {
        facts.bytes.extend_from_slice(class.bytes);
    }
    facts.provisional = provisional;
    THREAD.with(|t| t.borrow_mut().pending.push(name_hash(name), facts));
}

/// ClassLoad, the one per-class event besides the hook. A class the hook
/// decided leaves its facts in this thread's ring: ClassLoad picks them up
/// by name, and when the ring is empty (an ordinary class) it makes a
/// single cheap JVMTI call. That call tells hidden (and VM-anonymous)
/// classes, which have no hook, from every other class: they are captured
/// here, by name, and tagged so their unloading is recognised. (ClassPrepare
/// would also see them, first, but enabling it costs every class one more
/// event delivery.)
pub fn on_class(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: LocalRef<'_>,
) -> Result<(), CaptureError> {
    capture.tallies.with(|tally| {
        let mut timer = CallbackTimer::start(tally);
        let result = on_class_load(capture, ids, jvmti, jni, class, tally, &mut timer);
        timer.finish(tally);
        result
    })
}

fn on_class_load(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: LocalRef<'_>,
    tally: &ThreadTally,
    timer: &mut CallbackTimer,
) -> Result<(), CaptureError> {
    let fail = |what: &'static str| move |error| CaptureError { what, error };
    tally::add(&tally.classes_loaded, 1);
    if capture.fault == Some(Fault::PanicInClassLoad) {
        panic!("injected fault (fault=panic-in-class-load)");
    }
    let mut signature = None;
    if !THREAD.with(|t| t.borrow().pending.is_empty()) {
        let held = signature.insert(
            jvmti
                .class_signature(class)
                .map_err(fail("GetClassSignature"))?,
        );
        let Some(internal_name) = internal_name_from_signature(held.as_str()) else {
            return Ok(());
        };
        if let Some(class) = THREAD.with(|t| t.borrow_mut().pending.take(name_hash(internal_name)))
        {
            timer.capturing(tally);
            capture_hooked(capture, jvmti, internal_name, class, tally);
            return Ok(());
        }
        // Not the hook's class: a hidden class defined in between, or a
        // repeated ClassLoad of a class defined earlier.
    }
    if jvmti.is_modifiable_class(class).unwrap_or(true) {
        return Ok(());
    }
    let signature = match signature {
        Some(held) => held,
        None => jvmti
            .class_signature(class)
            .map_err(fail("GetClassSignature"))?,
    };
    let Some(internal_name) = internal_name_from_signature(signature.as_str()) else {
        return Ok(()); // arrays and primitives
    };
    let Some(kind) = classify_by_name(capture, internal_name) else {
        return Ok(());
    };
    if jvmti.tag(class).map_err(fail("GetTag"))? != 0 {
        return Ok(()); // recorded already
    }
    timer.capturing(tally);
    let loader = jvmti
        .class_loader(class)
        .and_then(|loader| ids.loaders.identify(jvmti, jni, loader))
        .map_err(fail("identifying the class loader"))?;
    // Hidden classes unload one by one (each has its own class-loader
    // data), so each is tagged: ObjectFree reports its unloading.
    let tag = ids.next_class_tag.fetch_add(1, Ordering::Relaxed);
    jvmti.set_tag(class, tag).map_err(fail("SetTag"))?;
    tally::add(&tally.seen, 1);
    let mut captured = capture.blank_class();
    captured.kind = kind;
    captured.loader_id = loader.id;
    captured.loader_type = loader.kind.name.clone();
    captured.hidden = is_hidden_name(internal_name);
    captured.tag = tag;
    complete(capture, jvmti, internal_name, &mut captured, tally);
    capture.enqueue(tally, true, Message::Class(captured));
    Ok(())
}

/// A class the hook captured: its stack now, everything else from the hook.
fn capture_hooked(
    capture: &Capture,
    jvmti: Jvmti,
    internal_name: &str,
    mut class: Box<CapturedClass>,
    tally: &ThreadTally,
) {
    let confirmed = class.provisional.is_none();
    tally::add(&tally.seen, u64::from(confirmed));
    complete(capture, jvmti, internal_name, &mut class, tally);
    capture.enqueue(tally, confirmed, Message::Class(class));
}

/// Classes without a hook (hidden ones): the name decides.
fn classify_by_name(capture: &Capture, internal_name: &str) -> Option<ClassKind> {
    capture.classifier.classify(&ClassFacts {
        internal_name,
        loader: LoaderFacts::default(),
        runtime_defined: false,
    })
}

/// What ClassLoad adds to a captured class: its name, the time, the
/// current thread's name (fetched once per thread) and stack.
fn complete(
    capture: &Capture,
    jvmti: Jvmti,
    internal_name: &str,
    class: &mut CapturedClass,
    tally: &ThreadTally,
) {
    binary_name_into(internal_name, &mut class.name);
    class.trigger = ClassEvent::Load;
    class.thread = THREAD.with(|t| {
        t.borrow_mut()
            .name
            .get_or_insert_with(|| Arc::from(jvmti.current_thread_name().unwrap_or_default()))
            .clone()
    });
    if jvmti
        .current_stack(&mut class.frames, capture.depth)
        .is_err()
    {
        tally::add(&tally.stack_errors, 1);
    }
    class.t_ns = capture.clock.elapsed_ns();
    class.wall_ms = capture.clock.wall_ms_at(class.t_ns);
}

/// ResourceExhausted (e.g. OutOfMemoryError: Metaspace): the moment the
/// recording exists for. Queued like a class; the writer flushes at once.
pub fn on_resource_exhausted(
    capture: &Capture,
    jvmti: Jvmti,
    description: String,
    flags: Vec<&'static str>,
) {
    let thread = THREAD.with(|t| {
        let mut t = t.borrow_mut();
        t.name
            .get_or_insert_with(|| Arc::from(jvmti.current_thread_name().unwrap_or_default()))
            .clone()
    });
    let (written, written_rx) = crossbeam_channel::bounded(1);
    capture.enqueue_event(Message::ResourceExhausted(Box::new(OutOfResource {
        description,
        flags,
        thread,
        t_ns: capture.clock.elapsed_ns(),
        wall_ms: wall_ms(),
        written,
    })));
    capture.wake_writer();
    // The one place an application thread waits for the writer: this
    // thread is throwing OutOfMemoryError and the JVM may exit right after
    // (-XX:+ExitOnOutOfMemoryError), taking the recording's answer with it.
    // Bounded, and only once per OOM.
    let _ = written_rx.recv_timeout(OOM_WRITE_WAIT);
}

/// GarbageCollectionStart / Finish, inside the GC pause: queue only.
pub fn on_gc(capture: &Capture, start: bool) {
    capture.enqueue_event(Message::Gc {
        start,
        t_ns: capture.clock.elapsed_ns(),
    });
}

/// ObjectFree: a tagged class loader or hidden class was freed (a class
/// unloads with its loader, so the loader's freeing stands for all its
/// classes); freed protection domains are of no interest. Queue only
/// (JVMTI allows nothing else here).
pub fn on_object_free(capture: &Capture, ids: JvmIds<'_>, tag: i64) {
    if tag < 0 {
        return;
    }
    let t_ns = capture.clock.elapsed_ns();
    let message = match ids.loaders.by_tag(tag) {
        Some(_) => Message::LoaderFreed { tag, t_ns },
        None => Message::ClassFreed { tag, t_ns },
    };
    capture.enqueue_event(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queued_message_is_three_words() {
        // The default queue allocates 65,536 slots of it up front.
        assert_eq!(std::mem::size_of::<Message>(), 24);
    }

    #[test]
    fn pending_definitions_find_recent_names_and_forget_old_ones() {
        let facts = |generated: bool| {
            Box::new(CapturedClass {
                kind: if generated {
                    ClassKind::RuntimeDefined
                } else {
                    ClassKind::Included
                },
                loader_id: 1,
                ..CapturedClass::default()
            })
        };
        let kind = |class: Option<Box<CapturedClass>>| class.map(|c| c.kind);
        let mut pending = PendingDefinitions::default();
        pending.push(name_hash("a/Gen1"), facts(true));
        pending.push(name_hash("a/Gen2"), facts(false));
        assert_eq!(
            kind(pending.take(name_hash("a/Gen2"))),
            Some(ClassKind::Included)
        );
        assert!(pending.take(name_hash("a/Gen2")).is_none(), "taken once");
        assert_eq!(
            kind(pending.take(name_hash("a/Gen1"))),
            Some(ClassKind::RuntimeDefined)
        );
        for i in 0..20 {
            pending.push(name_hash(&format!("x/{i}")), facts(true));
        }
        assert!(
            pending.take(name_hash("x/0")).is_none(),
            "bounded: the oldest fall out"
        );
        assert!(pending.take(name_hash("x/19")).is_some());
        assert!(!pending.is_empty());
        for i in 12..19 {
            pending.take(name_hash(&format!("x/{i}")));
        }
        assert!(pending.is_empty(), "every live entry taken");
    }

    /// A finish queued before the writer's first idle wait must not be
    /// waited out: the wake-up is kept for that wait.
    #[test]
    fn a_wake_before_the_writer_waits_is_kept_for_its_wait() {
        let (capture, _queue) = Capture::new(&AgentOptions::default());
        capture.wake_writer();
        let started = std::time::Instant::now();
        capture.idle(Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    /// The JVM's exit waits for the writer's acknowledgement: a finish
    /// must end the writer's idle wait, not the wait's timeout.
    #[test]
    fn a_finish_wakes_the_idle_writer() {
        let (capture, queue) = Capture::new(&AgentOptions::default());
        let capture = Arc::new(capture);
        let writer = {
            let capture = capture.clone();
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                capture.idle(Duration::from_secs(60));
                started.elapsed()
            })
        };
        let (done, _done_rx) = crossbeam_channel::bounded(1);
        assert!(capture.finish("stop", done, Duration::from_secs(1)));
        let waited = writer.join().unwrap();
        assert!(waited < Duration::from_secs(30), "woken after {waited:?}");
        assert!(matches!(
            queue.try_recv(),
            Ok(Message::Finish(f)) if f.reason == "stop"
        ));
    }

    #[test]
    fn written_classes_come_back_blank_and_the_pool_is_bounded() {
        let (capture, _queue) = Capture::new(&AgentOptions::default());
        let mut written = capture.blank_class();
        written.name.push_str("a.Gen1");
        written.bytes.extend_from_slice(&[0xCA; 100]);
        written.frames.reserve(64);
        written.provisional = Some(3);
        written.tag = 9;
        written.hidden = true;
        written.kind = ClassKind::LambdaForm;
        written.loader_id = 7;
        written.t_ns = 5;
        written.wall_ms = 6;
        capture.recycle(written);
        let reused = capture.blank_class();
        assert!(reused.name.is_empty() && reused.bytes.is_empty() && reused.frames.is_empty());
        let fresh = CapturedClass::default();
        assert_eq!(
            (reused.provisional, reused.tag, reused.hidden, reused.kind),
            (fresh.provisional, fresh.tag, fresh.hidden, fresh.kind),
            "nothing of the last class is left"
        );
        assert_eq!(
            (reused.loader_id, reused.t_ns, reused.wall_ms),
            (fresh.loader_id, fresh.t_ns, fresh.wall_ms)
        );
        assert!(reused.bytes.capacity() >= 100, "its buffers are kept");
        assert!(reused.frames.capacity() >= 64);

        let mut huge = capture.blank_class();
        huge.bytes.resize(SPARE_BYTES + 1, 0);
        capture.recycle(huge);
        assert_eq!(
            capture.blank_class().bytes.capacity(),
            0,
            "a huge class file is not held"
        );

        for _ in 0..SPARE_CLASSES + 10 {
            capture.recycle(Box::default());
        }
        assert_eq!(capture.spares.1.len(), SPARE_CLASSES, "the rest are freed");
    }

    #[test]
    fn domain_tags_are_negative_and_round_trip() {
        assert_eq!(domain_source(DOMAIN_WITHOUT_LOCATION), None);
        for id in [0u32, 1, 65_535] {
            assert!(domain_tag(id) < DOMAIN_WITHOUT_LOCATION);
            assert_eq!(domain_source(domain_tag(id)), Some(id));
        }
    }
}
