//! The agent's life: start (option parsing, output file, capabilities),
//! VMInit (header, writer thread, class events on), VMDeath (events off,
//! drain, summary), and the "disable capture" switch used after a panic.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use metascope_events::{Header, SCHEMA_VERSION};
use parking_lot::Mutex;

use crate::classify::Classifier;
use crate::ffi::{CodeSourceFields, Event, Jni, Jvmti, MethodId, MethodInfo};
use crate::loaders::LoaderTable;
use crate::options::AgentOptions;
use crate::output::{self, RecordingFile};
use crate::writer::{Message, MethodResolver, Writer};

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

/// Monotonic time since the recording started, plus wall-clock helpers.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }
    pub fn elapsed_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    pub fn wall_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

pub struct Agent {
    pub jvmti: Jvmti,
    pub options: AgentOptions,
    pub classifier: Classifier,
    pub counters: Counters,
    pub clock: Clock,
    pub loaders: LoaderTable,
    pub code_source: OnceLock<CodeSourceFields>,
    queue: Sender<Message>,
    writer_queue: Receiver<Message>,
    /// Taken by the writer thread when it starts.
    output: Mutex<Option<(File, PathBuf)>>,
    header: OnceLock<Header>,
    capturing: AtomicBool,
    /// Callbacks between `enter` and the end of their work; VMDeath waits
    /// for them so no selected class is enqueued after the summary.
    in_flight: AtomicUsize,
    writer_started: AtomicBool,
    finished: AtomicBool,
    next_class_tag: AtomicI64,
    /// Fault injection for the end-to-end tests (METASCOPE_FAULT).
    pub fault: Option<Fault>,
}

/// Faults the end-to-end tests inject to prove the JVM survives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Panic inside the first ClassLoad callback.
    PanicInClassLoad,
}

impl Fault {
    fn from_env() -> Option<Fault> {
        match std::env::var("METASCOPE_FAULT").ok()?.as_str() {
            "panic-in-class-load" => Some(Fault::PanicInClassLoad),
            _ => None,
        }
    }
}

static AGENT: OnceLock<Agent> = OnceLock::new();

/// The agent, if classes are being captured right now.
pub fn disabled_reason() -> Option<String> {
    DISABLED.get().cloned()
}

pub fn capturing_agent() -> Option<&'static Agent> {
    AGENT.get().filter(|a| a.capturing.load(Ordering::Acquire))
}

/// A callback at work while capture is on; see [`enter`].
pub struct InFlight(&'static Agent);

impl std::ops::Deref for InFlight {
    type Target = Agent;
    fn deref(&self) -> &Agent {
        self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Entry for callbacks that enqueue: `None` once capture is off. The
/// counter and the flag are SeqCst so that VMDeath, after switching the
/// flag off, sees every callback that got past this check.
pub fn enter() -> Option<InFlight> {
    let agent = AGENT.get()?;
    agent.in_flight.fetch_add(1, Ordering::SeqCst);
    let guard = InFlight(agent);
    agent.capturing.load(Ordering::SeqCst).then_some(guard)
}

/// Why capture stopped early, for the summary.
static DISABLED: OnceLock<String> = OnceLock::new();

/// Stops capturing for good, with one line on stderr.
pub fn disable(reason: &str) {
    if let Some(agent) = AGENT.get() {
        if !agent.capturing.swap(false, Ordering::AcqRel) {
            return;
        }
    }
    let _ = DISABLED.set(reason.to_string());
    eprintln!("metascope: {reason}; capture disabled, the JVM continues");
}

/// Parses options, opens the output and lets `install` add capabilities
/// and callbacks. Nothing is installed when this returns an error, so the
/// JVM may unload the library.
pub fn start(
    options_text: &str,
    install: impl FnOnce() -> Result<Jvmti, String>,
) -> Result<(), String> {
    if AGENT.get().is_some() {
        return Ok(()); // loaded twice: the first instance keeps recording
    }
    let options = AgentOptions::parse(options_text).map_err(|e| e.to_string())?;
    let (file, path) = output::open(options.out.as_deref(), Path::new("."), std::process::id())?;
    if let Some(dir) = &options.dump {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "metascope: cannot create the dump directory {}: {e} (choose a writable directory with dump=DIR)",
                dir.display()
            )
        })?;
    }
    let jvmti = install()?;
    let (queue, writer_queue) = crossbeam_channel::bounded(options.queue as usize);
    let agent = Agent {
        jvmti,
        classifier: Classifier::new(options.mode, &options.include),
        options,
        counters: Counters::default(),
        clock: Clock::start(),
        loaders: LoaderTable::default(),
        code_source: OnceLock::new(),
        queue,
        writer_queue,
        output: Mutex::new(Some((file, path))),
        header: OnceLock::new(),
        capturing: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        writer_started: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        next_class_tag: AtomicI64::new(1),
        fault: Fault::from_env(),
    };
    let agent = AGENT.get_or_init(|| agent);
    for event in [Event::VmInit, Event::VmDeath] {
        jvmti
            .set_event(true, event)
            .map_err(|e| format!("metascope: cannot enable {event:?}: {e}"))?;
    }
    let _ = agent;
    Ok(())
}

/// VMInit: the JVM can now run Java code and report stacks.
pub fn on_vm_init(jvmti: Jvmti, jni: Jni<'_>) {
    let Some(agent) = AGENT.get() else { return };
    match jni.code_source_fields() {
        Ok(fields) => {
            let _ = agent.code_source.set(fields);
        }
        // Without them we only lose the generic "no code source" rule.
        Err(e) => eprintln!("metascope: cannot read code sources ({e}); classes from unknown generators may be missed"),
    }
    // java.version is set by Java code, so JVMTI's VM properties lack it.
    let property = |name: &str| {
        jni.java_system_property(name)
            .or_else(|| jvmti.system_property(name))
            .unwrap_or_default()
    };
    let options = &agent.options;
    let out = agent
        .output
        .lock()
        .as_ref()
        .map(|(_, p)| p.display().to_string())
        .unwrap_or_default();
    let _ = agent.header.set(Header {
        schema: SCHEMA_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        java_version: property("java.version"),
        java_vm_name: property("java.vm.name"),
        start_wall_ms: Clock::wall_ms(),
        options: metascope_events::AgentOptions {
            out,
            depth: options.depth,
            mode: options.mode,
            include: options.include.clone(),
            queue: options.queue,
        },
    });
    if let Err(e) = jvmti.start_agent_thread(jni, "metascope-writer", writer_thread) {
        eprintln!("metascope: cannot start the writer thread ({e}); nothing will be recorded");
        return;
    }
    agent.writer_started.store(true, Ordering::Release);
    agent.capturing.store(true, Ordering::Release);
    for event in [
        Event::ClassFileLoadHook,
        Event::ClassLoad,
        Event::ClassPrepare,
        Event::ResourceExhausted,
        Event::GarbageCollectionStart,
        Event::GarbageCollectionFinish,
        Event::ObjectFree,
    ] {
        if let Err(e) = jvmti.set_event(true, event) {
            disable(&format!("cannot enable {event:?}: {e}"));
            return;
        }
    }
}

/// JVMTI-backed method resolution for the writer.
struct JvmtiResolver<'a> {
    jvmti: Jvmti,
    jni: Jni<'a>,
}

impl MethodResolver for JvmtiResolver<'_> {
    fn resolve(&mut self, method: MethodId) -> Option<MethodInfo> {
        self.jvmti.method_info(self.jni, method).ok()
    }
}

fn writer_thread(jvmti: Jvmti, jni: Jni<'_>) {
    let Some(agent) = AGENT.get() else { return };
    let (Some((file, path)), Some(header)) = (agent.output.lock().take(), agent.header.get())
    else {
        return;
    };
    let out = RecordingFile::new(file, path.clone());
    let writer = Writer::new(
        out,
        path.display().to_string(),
        JvmtiResolver { jvmti, jni },
        &agent.counters,
        &agent.clock,
    );
    writer
        .with_dump(agent.options.dump.clone())
        .run(header, &agent.writer_queue);
}

/// VMDeath: stop capturing, let the writer drain the queue and write the
/// summary. Bounded waits: a stuck writer must not hang JVM exit.
pub fn on_vm_death() {
    stop("vm_death");
}

/// Process exit without VMDeath (`-XX:+ExitOnOutOfMemoryError`, a native
/// `exit()`): the same orderly stop, so the summary is still written.
pub fn on_process_exit() {
    stop("process_exit");
}

fn stop(reason: &'static str) {
    let Some(agent) = AGENT.get() else { return };
    agent.capturing.store(false, Ordering::SeqCst);
    for event in [
        Event::ClassLoad,
        Event::ClassPrepare,
        Event::ClassFileLoadHook,
        Event::ResourceExhausted,
        Event::GarbageCollectionStart,
        Event::GarbageCollectionFinish,
        Event::ObjectFree,
    ] {
        let _ = agent.jvmti.set_event(false, event);
    }
    // Callbacks never block, so this is short; bounded all the same.
    let deadline = Instant::now() + Duration::from_secs(2);
    while agent.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    finish(agent, reason);
}

fn finish(agent: &Agent, reason: &'static str) {
    if !agent.writer_started.load(Ordering::Acquire) || agent.finished.swap(true, Ordering::AcqRel)
    {
        return;
    }
    let (done, done_rx) = crossbeam_channel::bounded(1);
    let sent = agent
        .queue
        .send_timeout(Message::Finish { reason, done }, Duration::from_secs(2));
    if sent.is_err() || done_rx.recv_timeout(Duration::from_secs(10)).is_err() {
        eprintln!(
            "metascope: the writer did not finish in time; the recording may lack its summary"
        );
    }
}

/// Agent_OnUnload: nothing left to do when VMDeath ran; the periodic
/// flush already bounds what an abrupt exit loses.
pub fn on_unload() {}

impl Agent {
    /// Hands a captured class to the writer without ever blocking.
    pub fn enqueue(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The same for GC boundaries and unloads, counted apart from classes.
    pub fn enqueue_event(&self, message: Message) {
        if self.queue.try_send(message).is_err() {
            self.counters.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fresh non-zero tag for a captured class (marks it as seen).
    pub fn next_class_tag(&self) -> i64 {
        self.next_class_tag.fetch_add(1, Ordering::Relaxed)
    }
}
