//! What runs on the application thread for each class: classify, dedupe,
//! capture the stack, hand a record to the writer. No I/O, no blocking.

use std::cell::RefCell;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use metascope_events::ClassEvent;

use crate::classfile;
use crate::classify::{
    binary_name, internal_name_from_signature, is_hidden_name, ClassFacts, LoaderFacts,
};
use crate::ffi::{Jni, Jvmti, LocalRef, RawFrame};
use crate::lifecycle::{self, Clock};
use crate::writer::{CapturedClass, Message};

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
    pub protection_domain: Option<LocalRef<'a>>,
}

/// Names (hashed) of classes this thread is defining from bytes without a
/// code-source location, between ClassFileLoadHook and ClassLoad. Both
/// events for one class come on the defining thread, with at most a few
/// nested definitions (superclasses) in between, so a small ring suffices.
#[derive(Default)]
struct RuntimeDefinedRing {
    names: [u64; 8],
    next: usize,
}

impl RuntimeDefinedRing {
    fn push(&mut self, name_hash: u64) {
        self.names[self.next % self.names.len()] = name_hash;
        self.next += 1;
    }
    fn take(&mut self, name_hash: u64) -> bool {
        match self.names.iter().position(|&h| h == name_hash && h != 0) {
            Some(i) => {
                self.names[i] = 0;
                true
            }
            None => false,
        }
    }
}

#[derive(Default)]
struct ThreadState {
    runtime_defined: RuntimeDefinedRing,
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

/// ClassFileLoadHook (non-bootstrap loaders only): remember classes whose
/// bytes were not read from a jar or directory.
pub fn on_class_file(jni: Jni<'_>, class: HookedClass<'_>) {
    let Some(agent) = lifecycle::capturing_agent() else {
        return;
    };
    let Some(fields) = agent.code_source.get() else {
        return;
    };
    if !jni.lacks_code_location(class.protection_domain, *fields) {
        return;
    }
    let Some(name) = class
        .name
        .or_else(|| classfile::this_class_name(class.bytes))
    else {
        return;
    };
    let hash = name_hash(name);
    THREAD.with(|t| t.borrow_mut().runtime_defined.push(hash));
}

/// ClassLoad and ClassPrepare. Hidden classes get ClassPrepare first, so
/// both events lead here; a tag on the class object makes sure each class
/// is recorded once (ClassLoad also repeats per initiating loader).
pub fn on_class(jvmti: Jvmti, jni: Jni<'_>, class: LocalRef<'_>, trigger: Trigger) {
    let Some(agent) = lifecycle::enter() else {
        return;
    };
    let fail =
        |what: &str, e: crate::ffi::JvmtiError| lifecycle::disable(&format!("{what} failed: {e}"));
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
        agent
            .counters
            .classes_loaded
            .fetch_add(1, Ordering::Relaxed);
        if agent.fault == Some(lifecycle::Fault::PanicInClassLoad) {
            panic!("injected fault (METASCOPE_FAULT=panic-in-class-load)");
        }
    }
    let loader = match jvmti
        .class_loader(class)
        .and_then(|loader| agent.loaders.identify(jvmti, jni, loader))
    {
        Ok(l) => l,
        Err(e) => return fail("identifying the class loader", e),
    };
    let runtime_defined = !loader.bootstrap
        && THREAD.with(|t| {
            t.borrow_mut()
                .runtime_defined
                .take(name_hash(internal_name))
        });
    let facts = ClassFacts {
        internal_name,
        loader: LoaderFacts {
            bootstrap: loader.bootstrap,
            dynamic: loader.kind.dynamic,
        },
        runtime_defined,
    };
    let Some(kind) = agent.classifier.classify(&facts) else {
        return;
    };
    match jvmti.tag(class) {
        Ok(0) => {}
        Ok(_) => return, // recorded already
        Err(e) => return fail("GetTag", e),
    }
    if let Err(e) = jvmti.set_tag(class, agent.next_class_tag()) {
        return fail("SetTag", e);
    }
    agent.counters.seen.fetch_add(1, Ordering::Relaxed);

    let (thread, frames) = THREAD.with(|t| {
        let mut t = t.borrow_mut();
        if t.name.is_none() {
            t.name = Some(Arc::from(jvmti.current_thread_name().unwrap_or_default()));
        }
        let ThreadState { name, frames, .. } = &mut *t;
        if jvmti.current_stack(frames, agent.options.depth).is_err() {
            agent.counters.stack_errors.fetch_add(1, Ordering::Relaxed);
        }
        (
            name.clone().unwrap_or_else(|| Arc::from("")),
            frames.as_slice().into(),
        )
    });
    agent.enqueue(Message::Class(CapturedClass {
        name: binary_name(internal_name),
        kind,
        loader_id: loader.id,
        loader_type: loader.kind.name.clone(),
        hidden,
        thread,
        t_ns: agent.clock.elapsed_ns(),
        wall_ms: Clock::wall_ms(),
        trigger: match trigger {
            Trigger::Load => ClassEvent::Load,
            Trigger::Prepare => ClassEvent::Prepare,
        },
        frames,
    }));
}

/// ResourceExhausted (e.g. OutOfMemoryError: Metaspace): the moment the
/// recording exists for. Queued like a class; the writer flushes at once.
pub fn on_resource_exhausted(jvmti: Jvmti, description: String, flags: Vec<String>) {
    let Some(agent) = lifecycle::enter() else {
        return;
    };
    let thread = THREAD.with(|t| {
        let mut t = t.borrow_mut();
        t.name
            .get_or_insert_with(|| Arc::from(jvmti.current_thread_name().unwrap_or_default()))
            .clone()
    });
    let (written, written_rx) = crossbeam_channel::bounded(1);
    agent.enqueue(Message::ResourceExhausted {
        description,
        flags,
        thread,
        t_ns: agent.clock.elapsed_ns(),
        wall_ms: Clock::wall_ms(),
        written,
    });
    // The one place an application thread waits for the writer: this
    // thread is throwing OutOfMemoryError and the JVM may exit right after
    // (-XX:+ExitOnOutOfMemoryError), taking the recording's answer with it.
    // Bounded, and only once per OOM.
    let _ = written_rx.recv_timeout(OOM_WRITE_WAIT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_finds_recent_names_and_forgets_old_ones() {
        let mut ring = RuntimeDefinedRing::default();
        ring.push(name_hash("a/Gen1"));
        ring.push(name_hash("a/Gen2"));
        assert!(ring.take(name_hash("a/Gen2")));
        assert!(!ring.take(name_hash("a/Gen2")), "taken once");
        assert!(ring.take(name_hash("a/Gen1")));
        for i in 0..20 {
            ring.push(name_hash(&format!("x/{i}")));
        }
        assert!(!ring.take(name_hash("x/0")), "bounded: the oldest fall out");
        assert!(ring.take(name_hash("x/19")));
    }
}
