//! What runs on the application thread for each class: classify, dedupe,
//! capture the stack, hand a record to the writer. No I/O, no blocking.
//!
//! Capture knows nothing of sessions: the session owns a [`Capture`] (its
//! classifier, counters, clock and queue) and the JVM-wide identities live
//! in [`JvmIds`]; both are passed in. A JVMTI failure is returned as a
//! [`CaptureError`] for the caller to stop capturing.

use std::cell::RefCell;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use metascope_events::{ClassEvent, ClassKind};

use crate::classfile;
use crate::classify::{
    binary_name, internal_name_from_signature, is_hidden_name, ClassFacts, Classifier, LoaderFacts,
};
use crate::clock::{wall_ms, Clock};
use crate::ffi::{
    ClassTrigger, CodeSourceFields, HookedClass, Jni, Jvmti, JvmtiError, LocalRef, RawFrame,
};
use crate::loaders::LoaderTable;
use crate::options::{AgentOptions, Fault};

/// Totals for the summary record. Reconciles as captured + dropped = seen.
#[derive(Default, Debug)]
pub struct Counters {
    pub classes_loaded: AtomicU64,
    pub seen: AtomicU64,
    pub captured: AtomicU64,
    pub dropped: AtomicU64,
    pub stack_errors: AtomicU64,
    /// GC boundaries and unloads lost to a full queue.
    pub events_dropped: AtomicU64,
}

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
    pub flags: Vec<&'static str>,
    pub thread: Arc<str>,
    pub t_ns: u64,
    pub wall_ms: u64,
    /// Acknowledged once the record is on disk.
    pub written: Sender<()>,
}

/// What application threads (and the stopping thread) send the writer.
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

/// Everything the callbacks of one recording need: owned by its session.
pub struct Capture {
    pub classifier: Classifier,
    pub depth: u32,
    /// Keep class bytes for the writer (`dump=DIR`).
    pub keep_bytes: bool,
    pub fault: Option<Fault>,
    pub counters: Counters,
    pub clock: Clock,
    queue: Sender<Message>,
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
            counters: Counters::default(),
            clock: Clock::start(),
            queue,
        };
        (capture, queue_rx)
    }

    /// Hands a captured class to the writer without ever blocking.
    fn enqueue(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The same for GC boundaries and unloads, counted apart from classes.
    fn enqueue_event(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Asks the writer to drain, write the summary and acknowledge on
    /// `done`. Waits at most `wait` for room in the queue (only the
    /// stopping thread calls this, never an application thread).
    pub fn finish(&self, reason: &'static str, done: Sender<()>, wait: Duration) -> bool {
        self.queue
            .send_timeout(Message::Finish { reason, done }, wait)
            .is_ok()
    }
}

/// JVM-wide identities the callbacks share across recordings: loader ids,
/// the code-source field ids, and the counter that tags captured classes.
#[derive(Clone, Copy)]
pub struct JvmIds<'a> {
    pub loaders: &'a LoaderTable,
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

/// What ClassFileLoadHook learned about a class it saw, waiting for the
/// ClassLoad of the same class on the same thread.
#[derive(Debug, Default, PartialEq)]
struct HookFacts {
    /// The classifier's answer, which needed the loader and code source
    /// that only the hook sees cheaply.
    kind: Option<ClassKind>,
    /// The defining loader's id and type, so ClassLoad need not look again.
    loader: Option<(u64, Arc<str>)>,
    target: Option<String>,
    fingerprint: Option<u64>,
    /// The class bytes, only when `dump=DIR` is on.
    bytes: Option<Box<[u8]>>,
}

/// Classes between ClassFileLoadHook and ClassLoad on this thread, keyed by
/// a hash of the name. Both events for one class come on the defining
/// thread with at most a few nested definitions (superclasses) between, so
/// a small ring suffices; stale entries (a definition that failed) fall out.
#[derive(Default)]
struct PendingDefinitions {
    entries: [(u64, Option<HookFacts>); 8],
    next: usize,
}

impl PendingDefinitions {
    fn push(&mut self, name_hash: u64, facts: HookFacts) {
        let slot = self.next % self.entries.len();
        self.entries[slot] = (name_hash, Some(facts));
        self.next += 1;
    }
    fn take(&mut self, name_hash: u64) -> Option<HookFacts> {
        self.entries
            .iter_mut()
            .find(|(h, facts)| *h == name_hash && facts.is_some())
            .and_then(|(_, facts)| facts.take())
    }
}

#[derive(Default)]
struct ThreadState {
    pending: PendingDefinitions,
    /// JVMTI thread names are fetched once per thread.
    name: Option<Arc<str>>,
    frames: Vec<RawFrame>,
}

thread_local! {
    static THREAD: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

fn name_hash(internal_name: &str) -> u64 {
    // Deterministic (no random seed) and never 0, the ring's empty marker.
    BuildHasherDefault::<DefaultHasher>::default().hash_one(internal_name) | 1
}

/// ClassFileLoadHook (non-bootstrap loaders only). The only event with the
/// class bytes: decide here whether the class will be captured, and if so
/// decode what an accessor invokes or fingerprint the generated code. For
/// ordinary classes this is a tag lookup, two field reads and the
/// name checks of the classifier; only candidates are parsed.
pub fn on_class_file(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: HookedClass<'_>,
) {
    let Some(fields) = ids.code_source else {
        return;
    };
    let Some(name) = class
        .name
        .or_else(|| classfile::this_class_name(class.bytes))
    else {
        return;
    };
    let Ok(loader) = ids.loaders.identify(jvmti, jni, class.loader) else {
        return; // ClassLoad will report the error if it persists
    };
    let runtime_defined = jni.lacks_code_location(class.protection_domain, *fields);
    let facts = ClassFacts {
        internal_name: name,
        loader: LoaderFacts {
            bootstrap: loader.bootstrap,
            dynamic: loader.kind.dynamic,
        },
        runtime_defined,
    };
    let Some(kind) = capture.classifier.classify(&facts) else {
        return;
    };
    let (target, fingerprint) = match kind {
        ClassKind::ReflectionAccessor => (
            classfile::accessor_target(class.bytes).map(|t| t.to_string()),
            None,
        ),
        ClassKind::Ordinary | ClassKind::Included => (None, None),
        _ => (None, classfile::fingerprint(class.bytes)),
    };
    let bytes = capture.keep_bytes.then(|| class.bytes.into());
    let hash = name_hash(name);
    THREAD.with(|t| {
        t.borrow_mut().pending.push(
            hash,
            HookFacts {
                kind: Some(kind),
                loader: Some((loader.id, loader.kind.name.clone())),
                target,
                fingerprint,
                bytes,
            },
        )
    });
}

/// ClassLoad and ClassPrepare. Hidden classes get ClassPrepare first, so
/// both events lead here; a tag on the class object makes sure each class
/// is recorded once (ClassLoad also repeats per initiating loader).
pub fn on_class(
    capture: &Capture,
    ids: JvmIds<'_>,
    jvmti: Jvmti,
    jni: Jni<'_>,
    class: LocalRef<'_>,
    trigger: ClassTrigger,
) -> Result<(), CaptureError> {
    let fail = |what: &'static str| move |error| CaptureError { what, error };
    // ClassPrepare matters only for hidden classes (it comes before their
    // ClassLoad); every other class was handled at ClassLoad. Telling them
    // apart costs one cheap call instead of a signature.
    if trigger == ClassTrigger::Prepare && jvmti.is_modifiable_class(class).unwrap_or(false) {
        return Ok(());
    }
    let signature = jvmti
        .class_signature(class)
        .map_err(fail("GetClassSignature"))?;
    let Some(internal_name) = internal_name_from_signature(signature.as_str()) else {
        return Ok(()); // arrays and primitives
    };
    let hidden = is_hidden_name(internal_name);
    if trigger == ClassTrigger::Prepare && !hidden {
        return Ok(()); // ClassLoad already handled it
    }
    if trigger == ClassTrigger::Load {
        capture
            .counters
            .classes_loaded
            .fetch_add(1, Ordering::Relaxed);
        if capture.fault == Some(Fault::PanicInClassLoad) {
            panic!("injected fault (fault=panic-in-class-load)");
        }
    }
    // Non-bootstrap classes with bytes were classified in the hook, which
    // saw their loader and code source; the rest (bootstrap and hidden
    // classes) go by name. Ordinary classes stop here, after one JVMTI call.
    let hooked = THREAD
        .with(|t| t.borrow_mut().pending.take(name_hash(internal_name)))
        .unwrap_or_default();
    let Some(kind) = hooked
        .kind
        .or_else(|| classify_by_name(capture, internal_name))
    else {
        return Ok(());
    };
    let (loader_id, loader_type) = match hooked.loader {
        Some(known) => known,
        None => {
            let loader = jvmti
                .class_loader(class)
                .and_then(|loader| ids.loaders.identify(jvmti, jni, loader))
                .map_err(fail("identifying the class loader"))?;
            (loader.id, loader.kind.name.clone())
        }
    };
    // The hook's pending entry is taken by the class's first ClassLoad
    // only, so hooked classes need no duplicate check; classes classified
    // by name may see ClassLoad again (once per initiating loader).
    if hooked.kind.is_none() && jvmti.tag(class).map_err(fail("GetTag"))? != 0 {
        return Ok(()); // recorded already
    }
    let tag = ids.next_class_tag.fetch_add(1, Ordering::Relaxed);
    jvmti.set_tag(class, tag).map_err(fail("SetTag"))?;
    capture.counters.seen.fetch_add(1, Ordering::Relaxed);
    let (thread, frames) = thread_and_stack(capture, jvmti);
    capture.enqueue(Message::Class(Box::new(CapturedClass {
        name: binary_name(internal_name),
        kind,
        loader_id,
        loader_type,
        hidden,
        thread,
        t_ns: capture.clock.elapsed_ns(),
        wall_ms: wall_ms(),
        trigger: match trigger {
            ClassTrigger::Load => ClassEvent::Load,
            ClassTrigger::Prepare => ClassEvent::Prepare,
        },
        frames,
        tag,
        target: hooked.target,
        fingerprint: hooked.fingerprint,
        bytes: hooked.bytes,
    })));
    Ok(())
}

/// Bootstrap and hidden classes (no hook facts): the name decides.
fn classify_by_name(capture: &Capture, internal_name: &str) -> Option<ClassKind> {
    capture.classifier.classify(&ClassFacts {
        internal_name,
        loader: LoaderFacts::default(),
        runtime_defined: false,
    })
}

/// The current thread's name (fetched once per thread) and stack.
fn thread_and_stack(capture: &Capture, jvmti: Jvmti) -> (Arc<str>, Box<[RawFrame]>) {
    THREAD.with(|t| {
        let mut t = t.borrow_mut();
        let ThreadState { name, frames, .. } = &mut *t;
        let name = name
            .get_or_insert_with(|| Arc::from(jvmti.current_thread_name().unwrap_or_default()))
            .clone();
        if jvmti.current_stack(frames, capture.depth).is_err() {
            capture
                .counters
                .stack_errors
                .fetch_add(1, Ordering::Relaxed);
        }
        (name, frames.as_slice().into())
    })
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
    capture.enqueue(Message::ResourceExhausted(Box::new(OutOfResource {
        description,
        flags,
        thread,
        t_ns: capture.clock.elapsed_ns(),
        wall_ms: wall_ms(),
        written,
    })));
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

/// ObjectFree: a tagged class object (the class was unloaded) or a tagged
/// class loader was freed. Queue only (JVMTI allows nothing else here).
pub fn on_object_free(capture: &Capture, ids: JvmIds<'_>, tag: i64) {
    let t_ns = capture.clock.elapsed_ns();
    let message = match ids.loaders.by_tag(tag) {
        Some(loader) => Message::LoaderFreed {
            id: loader.id,
            type_name: loader.kind.name.clone(),
            t_ns,
        },
        None => Message::ClassFreed { tag, t_ns },
    };
    capture.enqueue_event(message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_definitions_find_recent_names_and_forget_old_ones() {
        let facts = |generated: bool| HookFacts {
            kind: generated.then_some(ClassKind::RuntimeDefined),
            ..HookFacts::default()
        };
        let mut pending = PendingDefinitions::default();
        pending.push(name_hash("a/Gen1"), facts(true));
        pending.push(name_hash("a/Gen2"), facts(false));
        assert_eq!(pending.take(name_hash("a/Gen2")), Some(facts(false)));
        assert_eq!(pending.take(name_hash("a/Gen2")), None, "taken once");
        assert_eq!(pending.take(name_hash("a/Gen1")), Some(facts(true)));
        for i in 0..20 {
            pending.push(name_hash(&format!("x/{i}")), facts(true));
        }
        assert_eq!(
            pending.take(name_hash("x/0")),
            None,
            "bounded: the oldest fall out"
        );
        assert!(pending.take(name_hash("x/19")).is_some());
    }
}
