//! What runs on the application thread for each class: classify, dedupe,
//! capture the stack, hand a record to the writer. No I/O, no blocking.

use std::cell::RefCell;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use metascope_events::{ClassEvent, ClassKind};

use crate::classfile;
use crate::classify::{
    binary_name, internal_name_from_signature, is_hidden_name, ClassFacts, LoaderFacts,
};
use crate::ffi::{Jni, Jvmti, LocalRef, RawFrame};
use crate::lifecycle::{self, Clock};
use crate::options::Fault;
use crate::writer::{CapturedClass, Message, OutOfResource};

/// How long a thread throwing OutOfMemoryError waits for its record to be
/// on disk.
const OOM_WRITE_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    Load,
    Prepare,
}

/// What ClassFileLoadHook tells about a class about to be defined.
pub struct HookedClass<'a> {
    pub name: Option<&'a str>,
    pub bytes: &'a [u8],
    /// Never the bootstrap loader: the FFI layer skips those.
    pub loader: Option<LocalRef<'a>>,
    pub protection_domain: Option<LocalRef<'a>>,
}

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
pub fn on_class_file(jvmti: Jvmti, jni: Jni<'_>, class: HookedClass<'_>) {
    let Some(active) = lifecycle::enter() else {
        return;
    };
    let Some(fields) = active.agent.code_source.get() else {
        return;
    };
    let Some(name) = class
        .name
        .or_else(|| classfile::this_class_name(class.bytes))
    else {
        return;
    };
    let Ok(loader) = active.agent.loaders.identify(jvmti, jni, class.loader) else {
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
    let Some(kind) = active.session.classifier.classify(&facts) else {
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
    let bytes = active
        .session
        .options
        .dump
        .as_ref()
        .map(|_| class.bytes.into());
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
pub fn on_class(jvmti: Jvmti, jni: Jni<'_>, class: LocalRef<'_>, trigger: Trigger) {
    let Some(active) = lifecycle::enter() else {
        return;
    };
    let fail =
        |what: &str, e: crate::ffi::JvmtiError| lifecycle::disable(&format!("{what} failed: {e}"));
    // ClassPrepare matters only for hidden classes (it comes before their
    // ClassLoad); every other class was handled at ClassLoad. Telling them
    // apart costs one cheap call instead of a signature.
    if trigger == Trigger::Prepare && jvmti.is_modifiable_class(class).unwrap_or(false) {
        return;
    }
    let signature = match jvmti.class_signature(class) {
        Ok(s) => s,
        Err(e) => return fail("GetClassSignature", e),
    };
    let Some(internal_name) = internal_name_from_signature(signature.as_str()) else {
        return; // arrays and primitives
    };
    let hidden = is_hidden_name(internal_name);
    if trigger == Trigger::Prepare && !hidden {
        return; // ClassLoad already handled it
    }
    if trigger == Trigger::Load {
        active
            .session
            .counters
            .classes_loaded
            .fetch_add(1, Ordering::Relaxed);
        if active.session.options.fault == Some(Fault::PanicInClassLoad) {
            panic!("injected fault (fault=panic-in-class-load)");
        }
    }
    // Non-bootstrap classes with bytes were classified in the hook, which
    // saw their loader and code source; the rest (bootstrap and hidden
    // classes) go by name. Ordinary classes stop here, after one JVMTI call.
    let hooked = THREAD
        .with(|t| t.borrow_mut().pending.take(name_hash(internal_name)))
        .unwrap_or_default();
    let by_name = || {
        active.session.classifier.classify(&ClassFacts {
            internal_name,
            loader: LoaderFacts::default(),
            runtime_defined: false,
        })
    };
    let Some(kind) = hooked.kind.or_else(by_name) else {
        return;
    };
    let (loader_id, loader_type) = match hooked.loader {
        Some(known) => known,
        None => match jvmti
            .class_loader(class)
            .and_then(|loader| active.agent.loaders.identify(jvmti, jni, loader))
        {
            Ok(l) => (l.id, l.kind.name.clone()),
            Err(e) => return fail("identifying the class loader", e),
        },
    };
    // The hook's pending entry is taken by the class's first ClassLoad
    // only, so hooked classes need no duplicate check; classes classified
    // by name may see ClassLoad again (once per initiating loader).
    if hooked.kind.is_none() {
        match jvmti.tag(class) {
            Ok(0) => {}
            Ok(_) => return, // recorded already
            Err(e) => return fail("GetTag", e),
        }
    }
    let tag = active.next_class_tag();
    if let Err(e) = jvmti.set_tag(class, tag) {
        return fail("SetTag", e);
    }
    active.session.counters.seen.fetch_add(1, Ordering::Relaxed);

    let (thread, frames) = THREAD.with(|t| {
        let mut t = t.borrow_mut();
        if t.name.is_none() {
            t.name = Some(Arc::from(jvmti.current_thread_name().unwrap_or_default()));
        }
        let ThreadState { name, frames, .. } = &mut *t;
        if jvmti
            .current_stack(frames, active.session.options.depth)
            .is_err()
        {
            active
                .session
                .counters
                .stack_errors
                .fetch_add(1, Ordering::Relaxed);
        }
        (
            name.clone().unwrap_or_else(|| Arc::from("")),
            frames.as_slice().into(),
        )
    });
    active.enqueue(Message::Class(Box::new(CapturedClass {
        name: binary_name(internal_name),
        kind,
        loader_id,
        loader_type,
        hidden,
        thread,
        t_ns: active.session.clock.elapsed_ns(),
        wall_ms: Clock::wall_ms(),
        trigger: match trigger {
            Trigger::Load => ClassEvent::Load,
            Trigger::Prepare => ClassEvent::Prepare,
        },
        frames,
        tag,
        target: hooked.target,
        fingerprint: hooked.fingerprint,
        bytes: hooked.bytes,
    })));
}

/// ResourceExhausted (e.g. OutOfMemoryError: Metaspace): the moment the
/// recording exists for. Queued like a class; the writer flushes at once.
pub fn on_resource_exhausted(jvmti: Jvmti, description: String, flags: Vec<String>) {
    let Some(active) = lifecycle::enter() else {
        return;
    };
    let thread = THREAD.with(|t| {
        let mut t = t.borrow_mut();
        t.name
            .get_or_insert_with(|| Arc::from(jvmti.current_thread_name().unwrap_or_default()))
            .clone()
    });
    let (written, written_rx) = crossbeam_channel::bounded(1);
    active.enqueue(Message::ResourceExhausted(Box::new(OutOfResource {
        description,
        flags,
        thread,
        t_ns: active.session.clock.elapsed_ns(),
        wall_ms: Clock::wall_ms(),
        written,
    })));
    // The one place an application thread waits for the writer: this
    // thread is throwing OutOfMemoryError and the JVM may exit right after
    // (-XX:+ExitOnOutOfMemoryError), taking the recording's answer with it.
    // Bounded, and only once per OOM.
    let _ = written_rx.recv_timeout(OOM_WRITE_WAIT);
}

/// GarbageCollectionStart / Finish, inside the GC pause: queue only.
pub fn on_gc(start: bool) {
    let Some(active) = lifecycle::enter() else {
        return;
    };
    active.enqueue_event(Message::Gc {
        start,
        t_ns: active.session.clock.elapsed_ns(),
    });
}

/// ObjectFree: a tagged class object (the class was unloaded) or a tagged
/// class loader was freed. Queue only (JVMTI allows nothing else here).
pub fn on_object_free(tag: i64) {
    let Some(active) = lifecycle::enter() else {
        return;
    };
    let t_ns = active.session.clock.elapsed_ns();
    let message = match active.agent.loaders.by_tag(tag) {
        Some(loader) => Message::LoaderFreed {
            id: loader.id,
            type_name: loader.kind.name.clone(),
            t_ns,
        },
        None => Message::ClassFreed { tag, t_ns },
    };
    active.enqueue_event(message);
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
