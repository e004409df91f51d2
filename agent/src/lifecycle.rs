//! The agent's life. [`Agent`] is installed once per JVM (JVMTI env,
//! callbacks, loader ids); each recording is a [`Session`]: started at
//! VMInit (`-agentpath`) or by an attach, ended at VMDeath, process exit or
//! an attach with `stop` (events off, in-flight callbacks awaited, queue
//! drained, summary written), after which the JVM pays nothing and a later
//! attach can start a new one. Also the "disable capture" switch used
//! after a panic.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwapOption;
use crossbeam_channel::{Receiver, Sender};
use metascope_events::status::{process_start_ticks, RecordingStatus};
use metascope_events::{Header, SCHEMA_VERSION};
use parking_lot::Mutex;

use crate::census::Census;
use crate::classify::Classifier;
use crate::ffi::{CodeSourceFields, Event, Jni, Jvmti, MethodId, MethodInfo};
use crate::files::{self, Dir, FileIdentity};
use crate::loaders::LoaderTable;
use crate::messages;
use crate::options::{AgentOptions, Fault};
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

/// Installed once per JVM: the JVMTI environment, callbacks and loader ids
/// outlive any one recording.
pub struct Agent {
    pub jvmti: Jvmti,
    pub loaders: LoaderTable,
    pub code_source: OnceLock<CodeSourceFields>,
    /// The current recording. A session is freed when it has ended and the
    /// last callback or writer holding it lets go (reference counted).
    session: ArcSwapOption<Session>,
    /// Callbacks between `enter` and the end of their work; stopping waits
    /// for them so no selected class is enqueued after the summary.
    in_flight: AtomicUsize,
    next_class_tag: AtomicI64,
    /// Serialises starting and stopping sessions.
    control: Mutex<()>,
}

/// One recording: from -agentpath start (or an attach) to VM death (or a stop).
pub struct Session {
    pub options: AgentOptions,
    pub classifier: Classifier,
    pub counters: Counters,
    pub clock: Clock,
    /// Started by dynamic attach rather than at JVM start.
    pub attached: bool,
    queue: Sender<Message>,
    queue_rx: Receiver<Message>,
    /// Taken by the writer thread when the session begins.
    output: Mutex<Option<RecordingFile>>,
    out_path: PathBuf,
    header: OnceLock<Header>,
    /// Pre-existing classes counted at attach, written after the header.
    census: Mutex<Option<Census>>,
    capturing: AtomicBool,
    finished: AtomicBool,
    /// This session's writer thread was started. One per session: it
    /// returns when its session ends, so no agent thread sits in native
    /// code when the JVM exits (HotSpot would wait 300 ms for it).
    writer_started: AtomicBool,
    /// `/tmp/.metascope_pid<pid>`: tells `metascope attach` a recording runs.
    status_file: Mutex<Option<StatusFile>>,
    /// `socket=PATH`, bound at start (so a bad path fails the load) and
    /// handed to the writer.
    live: Mutex<Option<crate::live::LiveSocket>>,
    socket_path: Option<PathBuf>,
    /// `dump=DIR`, opened and checked at start, handed to the writer.
    dump_dir: Mutex<Option<Dir>>,
    /// Why capture stopped early in this session, for its summary.
    disabled: OnceLock<String>,
}

/// The status file this session created, removed when it ends.
struct StatusFile {
    dir: Dir,
    name: String,
    identity: FileIdentity,
}

static AGENT: OnceLock<Agent> = OnceLock::new();

impl Session {
    /// Why capture stopped early, if it did.
    pub fn disabled_reason(&self) -> Option<String> {
        self.disabled.get().cloned()
    }
}

/// The agent is installed in this JVM (by this copy of the library).
pub fn installed() -> bool {
    AGENT.get().is_some()
}

fn current_session(agent: &Agent) -> Option<Arc<Session>> {
    agent.session.load_full()
}

/// A callback at work on the current session; see [`enter`].
pub struct Active {
    pub agent: &'static Agent,
    pub session: Arc<Session>,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.agent.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Entry for callbacks: `None` unless a session is capturing. The counter
/// and the flag are SeqCst so that stopping, after switching the flag off,
/// sees every callback that got past this check.
pub fn enter() -> Option<Active> {
    let agent = AGENT.get()?;
    agent.in_flight.fetch_add(1, Ordering::SeqCst);
    match current_session(agent) {
        Some(session) if session.capturing.load(Ordering::SeqCst) => {
            Some(Active { agent, session })
        }
        _ => {
            agent.in_flight.fetch_sub(1, Ordering::SeqCst);
            None
        }
    }
}

/// Stops capturing for the current session, with one line on stderr.
pub fn disable(reason: &str) {
    if let Some(session) = AGENT.get().and_then(current_session) {
        if !session.capturing.swap(false, Ordering::AcqRel) {
            return;
        }
        let _ = session.disabled.set(reason.to_string());
    }
    messages::say(&format!("{reason}; capture disabled, the JVM continues"));
}

/// When the agent starts: at JVM start (`-agentpath`, before VMInit) or
/// in a running JVM (dynamic attach, live phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    OnLoad,
    Live,
}

/// The one start path for `Agent_OnLoad` and `Agent_OnAttach`.
///
/// Parses options and opens the output before `install` adds capabilities
/// and callbacks, so an error leaves nothing installed and the JVM may
/// unload the library. Loading the library again (a second attach) finds
/// the agent installed: it starts a new recording if none runs, reports the
/// running one otherwise, or stops it (`stop`).
pub fn start(
    options_text: &str,
    phase: Phase,
    install: impl FnOnce() -> Result<Jvmti, String>,
    live_jni: impl FnOnce() -> Option<Jni<'static>>,
    spawn_writer: SpawnWriter,
) -> Result<(), String> {
    let command = Command::parse(options_text).map_err(|e| e.to_string())?;
    if let Some(agent) = AGENT.get() {
        let _guard = agent.control.lock();
        return match (command, current_session(agent)) {
            (Command::Stop, Some(session)) if !session.finished.load(Ordering::Acquire) => {
                stop_session(agent, &session, "stopped");
                messages::say(&format!(
                    "recording stopped: {}",
                    session.out_path.display()
                ));
                Ok(())
            }
            (Command::Stop, _) => {
                messages::say("not recording; nothing to stop");
                Ok(())
            }
            (Command::Record(_), Some(session)) if !session.finished.load(Ordering::Acquire) => {
                messages::say(&format!(
                    "already recording to {}; stop it first (metascope attach PID --stop)",
                    session.out_path.display()
                ));
                Ok(())
            }
            (Command::Record(options), _) => {
                let jni = live_jni().ok_or("metascope: no JNI environment on the attach thread")?;
                let session = new_session(*options, phase == Phase::Live)?;
                begin_session(agent, session, jni, spawn_writer);
                Ok(())
            }
        };
    }
    let Command::Record(options) = command else {
        return Err(
            "metascope: `stop` needs a running recording; the agent is not loaded in this JVM"
                .into(),
        );
    };
    let session = new_session(*options, phase == Phase::Live)?;
    let jvmti = install()?;
    let agent = AGENT.get_or_init(|| Agent {
        jvmti,
        loaders: LoaderTable::default(),
        code_source: OnceLock::new(),
        session: ArcSwapOption::empty(),
        in_flight: AtomicUsize::new(0),
        next_class_tag: AtomicI64::new(1),
        control: Mutex::new(()),
    });
    match phase {
        Phase::OnLoad => {
            // The session begins at VMInit, when stacks and threads exist.
            agent.session.store(Some(session));
            *PENDING_WRITER.lock() = Some(spawn_writer);
            for event in [Event::VmInit, Event::VmDeath] {
                jvmti
                    .set_event(true, event)
                    .map_err(|e| format!("metascope: cannot enable {event:?}: {e}"))?;
            }
        }
        Phase::Live => {
            let _ = jvmti.set_event(true, Event::VmDeath);
            let jni = live_jni().ok_or("metascope: no JNI environment on the attach thread")?;
            let _guard = agent.control.lock();
            begin_session(agent, session, jni, spawn_writer);
        }
    }
    Ok(())
}

/// Starts the writer thread of a session (the FFI layer's agent thread).
pub type SpawnWriter = fn(Jvmti, Jni<'_>, Arc<Session>) -> Result<(), String>;
/// The writer spawner of a session started at JVM start, used at VMInit.
static PENDING_WRITER: Mutex<Option<SpawnWriter>> = Mutex::new(None);

/// What the option string asks for.
enum Command {
    Record(Box<AgentOptions>),
    /// `stop`: end the running recording, keep the JVM running.
    Stop,
}

impl Command {
    fn parse(text: &str) -> Result<Command, crate::options::OptionError> {
        if text.trim() == "stop" {
            return Ok(Command::Stop);
        }
        AgentOptions::parse(text).map(|o| Command::Record(Box::new(o)))
    }
}

fn new_session(options: AgentOptions, attached: bool) -> Result<Arc<Session>, String> {
    let out = output::open(options.out.as_deref(), Path::new("."), std::process::id())?;
    let out_path = out.path().to_path_buf();
    let dump_dir = match &options.dump {
        Some(dir) => Some(open_dump_dir(dir)?),
        None => None,
    };
    let live = match &options.socket {
        Some(path) => Some(crate::live::LiveSocket::bind(path)?),
        None => None,
    };
    let socket_path = live.as_ref().map(|l| l.path().to_path_buf());
    let (queue, queue_rx) = crossbeam_channel::bounded(options.queue as usize);
    Ok(Arc::new(Session {
        live: Mutex::new(live),
        socket_path,
        classifier: Classifier::new(options.mode, &options.include),
        options,
        counters: Counters::default(),
        clock: Clock::start(),
        attached,
        queue,
        queue_rx,
        output: Mutex::new(Some(out)),
        out_path,
        header: OnceLock::new(),
        census: Mutex::new(None),
        capturing: AtomicBool::new(false),
        finished: AtomicBool::new(false),
        writer_started: AtomicBool::new(false),
        status_file: Mutex::new(None),
        dump_dir: Mutex::new(dump_dir),
        disabled: OnceLock::new(),
    }))
}

/// `dump=DIR`: created 0700 if missing; an existing directory must be
/// safe to create files in (see [`Dir::open_checked`]).
fn open_dump_dir(dir: &Path) -> Result<Dir, String> {
    let fail = |why: String| {
        format!(
            "metascope: cannot dump class files to {}: {why} (choose a directory of this JVM's user with dump=DIR)",
            dir.display()
        )
    };
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(e.to_string())),
    }
    Dir::open_checked(dir).map_err(fail)
}

/// VMInit: the JVM can now run Java code and report stacks.
pub fn on_vm_init(jni: Jni<'_>) {
    let Some(agent) = AGENT.get() else { return };
    let _guard = agent.control.lock();
    let spawn = PENDING_WRITER.lock().take();
    if let (Some(session), Some(spawn)) = (current_session(agent), spawn) {
        begin_session(agent, session, jni, spawn);
    }
}

/// Starts `session`: header, writer thread, census of the classes already
/// loaded (attach only), then class events on.
fn begin_session(
    agent: &'static Agent,
    session: Arc<Session>,
    jni: Jni<'_>,
    spawn_writer: SpawnWriter,
) {
    let jvmti = agent.jvmti;
    if agent.code_source.get().is_none() {
        let fields = match session.options.fault {
            Some(Fault::NoCodeSource) => Err("injected fault".to_string()),
            _ => jni.code_source_fields(),
        };
        match fields {
            Ok(fields) => {
                let _ = agent.code_source.set(fields);
            }
            // Without them we only lose the generic "no code source" rule.
            Err(e) => messages::say(&format!(
                "cannot read code sources ({e}); classes from unknown generators may be missed"
            )),
        }
    }
    // java.version is set by Java code, so JVMTI's VM properties lack it.
    let property = |name: &str| {
        jni.java_system_property(name)
            .or_else(|| jvmti.system_property(name))
            .unwrap_or_default()
    };
    let options = &session.options;
    let _ = session.header.set(Header {
        schema: SCHEMA_VERSION,
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        java_version: property("java.version"),
        java_vm_name: property("java.vm.name"),
        start_wall_ms: Clock::wall_ms(),
        options: metascope_events::AgentOptions {
            out: session.out_path.display().to_string(),
            depth: options.depth,
            mode: options.mode,
            include: options.include.clone(),
            queue: options.queue,
        },
        attached: session.attached,
    });
    if session.attached {
        *session.census.lock() = Some(crate::census::take(agent, &session, jni));
    }
    agent.session.store(Some(session.clone()));
    let spawned = match session.options.fault {
        Some(Fault::NoWriterThread) => Err("injected fault".to_string()),
        _ => spawn_writer(jvmti, jni, session.clone()),
    };
    if let Err(e) = spawned {
        messages::say(&format!(
            "cannot start the writer thread ({e}); nothing will be recorded"
        ));
        agent.session.store(None);
        return;
    }
    session.writer_started.store(true, Ordering::Release);
    *session.status_file.lock() = write_status_file(&session);
    session.capturing.store(true, Ordering::SeqCst);
    for event in CAPTURE_EVENTS {
        if let Err(e) = jvmti.set_event(true, event) {
            disable(&format!("cannot enable {event:?}: {e}"));
            return;
        }
    }
}

/// The events of a running recording; all off between recordings, so a
/// JVM that was recorded once pays nothing afterwards.
const CAPTURE_EVENTS: [Event; 7] = [
    Event::ClassFileLoadHook,
    Event::ClassLoad,
    Event::ClassPrepare,
    Event::ResourceExhausted,
    Event::GarbageCollectionStart,
    Event::GarbageCollectionFinish,
    Event::ObjectFree,
];

/// The directory of the status file: always /tmp, where the CLI looks
/// (like HotSpot's own attach files, whatever $TMPDIR says).
pub const STATUS_DIR: &str = "/tmp";

/// `/tmp/.metascope_pid<pid>` (0600, this JVM's user) holds the
/// recording's path, live socket, start time and library while it runs, so
/// `metascope attach` / `top` can say "already recording" and find them.
/// Created only as a new file: a leftover of ours (an earlier JVM with
/// this pid) is removed first, anything another user planted is left in
/// place and no status file is written (the CLI then refuses the planted
/// one by its owner).
fn write_status_file(session: &Session) -> Option<StatusFile> {
    use std::io::Write;
    let dir = Dir::open(Path::new(STATUS_DIR)).ok()?;
    let name = RecordingStatus::file_name(std::process::id());
    dir.remove_if_own(&name);
    let mut file = match dir.create_new(&name, 0o600) {
        Ok(file) => file,
        Err(e) => {
            messages::say(&format!(
                "cannot create the status file {} ({}); `metascope attach` will not see this recording",
                dir.join(&name).display(),
                files::describe_open_error(&e)
            ));
            return None;
        }
    };
    let identity = files::identity_of_file(&file)?;
    let status = RecordingStatus {
        out: session.out_path.clone(),
        socket: session.socket_path.clone(),
        started: std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| process_start_ticks(&stat)),
        agent: crate::ffi::own_library_path(),
    };
    let written = file.write_all(status.to_text().as_bytes());
    let created = StatusFile {
        dir,
        name,
        identity,
    };
    if written.is_err() {
        created.remove();
        return None;
    }
    Some(created)
}

impl StatusFile {
    fn remove(&self) {
        self.dir.remove_if_same(&self.name, self.identity);
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

/// The writer agent thread of `session`; returns when the session ends
/// (it is a daemon: it never keeps the JVM from exiting).
pub fn writer_thread(jvmti: Jvmti, jni: Jni<'_>, session: Arc<Session>) {
    let (Some(out), Some(header)) = (session.output.lock().take(), session.header.get()) else {
        return;
    };
    let census = session.census.lock().take();
    let dump = session.dump_dir.lock().take();
    Writer::new(
        out,
        session.out_path.display().to_string(),
        JvmtiResolver { jvmti, jni },
        &session.counters,
        &session.clock,
    )
    .with_dump(dump)
    .with_census(census)
    .with_live(session.live.lock().take())
    .with_fault(session.options.fault)
    .with_disabled(&session.disabled)
    .run(header, &session.queue_rx);
}

/// VMDeath: stop capturing, let the writer drain the queue and write the
/// summary. Bounded waits: a stuck writer must not hang JVM exit.
pub fn on_vm_death() {
    stop_current("vm_death");
}

/// Process exit without VMDeath (`-XX:+ExitOnOutOfMemoryError`, a native
/// `exit()`): the same orderly stop, so the summary is still written.
pub fn on_process_exit() {
    stop_current("process_exit");
}

fn stop_current(reason: &'static str) {
    let Some(agent) = AGENT.get() else { return };
    if let Some(session) = current_session(agent) {
        stop_session(agent, &session, reason);
    }
}

/// Ends `session`: events off, in-flight callbacks awaited, the writer
/// drains the queue and writes the summary. The session is then no longer
/// current, so its queue and buffers are freed once the writer lets go.
fn stop_session(agent: &Agent, session: &Arc<Session>, reason: &'static str) {
    if session.finished.swap(true, Ordering::AcqRel) {
        return;
    }
    session.capturing.store(false, Ordering::SeqCst);
    for event in CAPTURE_EVENTS {
        let _ = agent.jvmti.set_event(false, event);
    }
    // Callbacks never block, so this is short; bounded all the same.
    let deadline = Instant::now() + Duration::from_secs(2);
    while agent.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    if let Some(status) = session.status_file.lock().take() {
        status.remove();
    }
    if session.writer_started.load(Ordering::Acquire) {
        let (done, done_rx) = crossbeam_channel::bounded(1);
        let sent = session
            .queue
            .send_timeout(Message::Finish { reason, done }, Duration::from_secs(2));
        if sent.is_err() || done_rx.recv_timeout(Duration::from_secs(5)).is_err() {
            messages::say("the writer did not finish in time; the recording may lack its summary");
        }
    }
    // Only now: a callback that entered before the stop may still hold
    // the session, but none will find it current again.
    let current = agent.session.load();
    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, session)) {
        agent.session.store(None);
    }
}

/// Agent_OnUnload: nothing left to do when VMDeath ran; the periodic
/// flush already bounds what an abrupt exit loses.
pub fn on_unload() {}

impl Active {
    /// Hands a captured class to the writer without ever blocking.
    pub fn enqueue(&self, message: Message) {
        if self.session.queue.try_send(message).is_err() {
            self.session
                .counters
                .dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The same for GC boundaries and unloads, counted apart from classes.
    pub fn enqueue_event(&self, message: Message) {
        if self.session.queue.try_send(message).is_err() {
            self.session
                .counters
                .events_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A fresh non-zero tag for a captured class (marks it as seen).
    pub fn next_class_tag(&self) -> i64 {
        self.agent.next_class_tag.fetch_add(1, Ordering::Relaxed)
    }
}
