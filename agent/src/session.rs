//! A recording's life, as a state machine that needs no JVM to be tested.
//!
//! The [`Recorder`] exists once per JVM (created by the first successful
//! load) and holds what outlives recordings: loader ids, the class-tag
//! counter, the switch for the capture events. Each recording is a
//! [`Session`]: created when the agent is loaded or attached (its files
//! are opened then, so a bad option fails the load), begun at VMInit or
//! right away when attached, and finished at VM death, process exit or an
//! attach with `stop`. A finished session is no longer current; it is
//! freed when the last callback or writer holding it lets go, so a JVM can
//! be recorded again and again without growing.
//!
//! ```text
//!  Created --begin--> Capturing --disable--> Disabled
//!     |                   |                     |
//!     +-------------------+------stop-----------+--> Finished
//! ```
//!
//! What a session needs from the JVM comes through two traits, so the
//! agent's top module supplies JVMTI and the tests supply fakes:
//! [`CaptureEvents`] switches the class events on and off, and [`Jvm`]
//! answers the questions asked when a session begins.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use crossbeam_channel::Receiver;
use metascope_events::status::{process_start_ticks, RecordingStatus};
use metascope_events::{Header, SCHEMA_VERSION};
use parking_lot::Mutex;

use crate::capture::{Capture, JvmIds, Message};
use crate::census::Census;
use crate::clock::wall_ms;
use crate::ffi::CodeSourceFields;
use crate::files::{self, Dir, FileIdentity};
use crate::live::LiveSocket;
use crate::loaders::LoaderTable;
use crate::options::{AgentOptions, Command, Fault};
use crate::output::{self, RecordingFile};
use crate::sources::CodeSources;

/// How long stopping waits for callbacks already inside the agent.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(2);
/// How long stopping waits for room in a full queue to ask for the summary.
const FINISH_SEND_WAIT: Duration = Duration::from_secs(2);
/// How long stopping waits for the writer to drain and write the summary:
/// a stuck writer must not hang the JVM's exit.
const FINISH_WAIT: Duration = Duration::from_secs(5);

/// Switches the events of a running recording on or off (all of them:
/// between recordings a JVM pays nothing).
pub trait CaptureEvents: Send + Sync {
    fn switch(&self, on: bool) -> Result<(), String>;
}

/// What beginning a session asks of the JVM, on the thread that begins it
/// (VMInit, or the Attach Listener).
pub trait Jvm {
    /// A Java system property (`java.version` is set by Java code).
    fn java_property(&self, name: &str) -> String;
    /// The field ids to read code sources with.
    fn code_source_fields(&self) -> Result<CodeSourceFields, String>;
    /// The classes loaded before an attach.
    fn census(&self, loaders: &LoaderTable, capture: &Capture) -> Census;
    /// Starts the session's writer thread.
    fn start_writer(&self, session: Arc<Session>) -> Result<(), String>;
}

/// What a command did, for the agent to say.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new recording runs (or will at VMInit).
    Started { out: PathBuf },
    /// One runs already; nothing changed.
    AlreadyRecording { out: PathBuf },
    /// The running recording was finished; the JVM runs on.
    Stopped {
        out: PathBuf,
        /// The writer did not acknowledge the summary in time.
        writer_late: bool,
    },
    /// `stop` without a running recording.
    NotRecording,
}

/// Why a session could not begin completely, for the agent to say; the
/// session then records what it can (or nothing, for `NoWriter`).
#[derive(Debug, PartialEq, Eq)]
pub enum BeginProblem {
    NoCodeSource(String),
    NoWriter(String),
    NoStatusFile(String),
    Events(String),
}

/// Installed once per JVM.
pub struct Recorder {
    pub loaders: LoaderTable,
    /// Code sources seen in this JVM and the class names they hold.
    pub sources: Arc<CodeSources>,
    code_source: OnceLock<CodeSourceFields>,
    next_class_tag: AtomicI64,
    /// The current recording (begun, or waiting for VMInit).
    current: ArcSwapOption<Session>,
    /// Callbacks between `enter` and the end of their work; stopping waits
    /// for them so no selected class is enqueued after the summary.
    in_flight: AtomicUsize,
    /// Serialises starting and stopping sessions.
    control: Mutex<()>,
    events: Box<dyn CaptureEvents>,
    /// Where status files go: [`STATUS_DIR`] (a test's own directory in
    /// unit tests).
    status_dir: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum State {
    Created = 0,
    Capturing = 1,
    Disabled = 2,
    Finished = 3,
}

/// One recording: from -agentpath start (or an attach) to VM death (or a stop).
pub struct Session {
    pub options: AgentOptions,
    /// What the callbacks use: classifier, counters, clock, queue.
    pub capture: Capture,
    /// Started by dynamic attach rather than at JVM start.
    pub attached: bool,
    state: AtomicU8,
    queue_rx: Receiver<Message>,
    out_path: PathBuf,
    socket_path: Option<PathBuf>,
    /// Handed to the writer thread when it starts.
    writer_parts: Mutex<Option<WriterParts>>,
    status_file: Mutex<Option<StatusFile>>,
    /// Why capture stopped early, for the summary.
    disabled: OnceLock<String>,
}

/// What the writer of a session takes over: its outputs and first records.
pub struct WriterParts {
    pub out: RecordingFile,
    pub live: Option<LiveSocket>,
    pub dump: Option<Dir>,
    pub header: Header,
    pub census: Option<Census>,
}

/// A callback at work on the current session; see [`Recorder::enter`].
pub struct Active<'r> {
    recorder: &'r Recorder,
    /// Held through arc-swap's guard rather than cloned: a callback then
    /// takes no count on the session's shared reference counter (two
    /// contended atomic operations fewer per callback, four per class).
    /// A session stopped meanwhile stays alive until the guard drops.
    session: arc_swap::Guard<Option<Arc<Session>>>,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.recorder.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Active<'_> {
    pub fn session(&self) -> &Session {
        self.session
            .as_deref()
            .expect("enter hands out only a capturing session")
    }

    /// The JVM-wide identities capture needs.
    pub fn ids(&self) -> JvmIds<'_> {
        self.recorder.ids()
    }
}

impl Recorder {
    pub fn new(events: Box<dyn CaptureEvents>) -> Recorder {
        Recorder {
            loaders: LoaderTable::default(),
            sources: Arc::default(),
            code_source: OnceLock::new(),
            next_class_tag: AtomicI64::new(1),
            current: ArcSwapOption::empty(),
            in_flight: AtomicUsize::new(0),
            control: Mutex::new(()),
            events,
            status_dir: PathBuf::from(STATUS_DIR),
        }
    }

    /// The same, keeping status files in `dir` (for tests).
    pub fn with_status_dir(mut self, dir: &Path) -> Recorder {
        self.status_dir = dir.to_path_buf();
        self
    }

    pub fn ids(&self) -> JvmIds<'_> {
        JvmIds {
            loaders: &self.loaders,
            sources: &self.sources,
            code_source: self.code_source.get(),
            next_class_tag: &self.next_class_tag,
        }
    }

    /// The first session of a JVM started with -agentpath: current at
    /// once (so VMInit finds it), begun at VMInit.
    pub fn set_pending(&self, session: Arc<Session>) {
        self.current.store(Some(session));
    }

    /// VMInit: begins the session set by [`Recorder::set_pending`].
    pub fn begin_pending(&self, jvm: &dyn Jvm) -> Vec<BeginProblem> {
        let _guard = self.control.lock();
        match self.current.load_full() {
            Some(session) if session.state() == State::Created => self.begin(session, jvm),
            _ => Vec::new(),
        }
    }

    /// The first session of a JVM attached to: begins at once.
    pub fn begin_now(&self, session: Arc<Session>, jvm: &dyn Jvm) -> Vec<BeginProblem> {
        let _guard = self.control.lock();
        self.begin(session, jvm)
    }

    /// A later load of the library (an attach): record, report, or stop.
    pub fn command(
        &self,
        command: Command,
        attached: bool,
        jvm: &dyn Jvm,
    ) -> Result<(Outcome, Vec<BeginProblem>), String> {
        let _guard = self.control.lock();
        let running = self
            .current
            .load_full()
            .filter(|s| s.state() != State::Finished);
        Ok(match (command, running) {
            (Command::Stop, Some(session)) => {
                let writer_late = !self.stop(&session, "stopped");
                (
                    Outcome::Stopped {
                        out: session.out_path.clone(),
                        writer_late,
                    },
                    Vec::new(),
                )
            }
            (Command::Stop, None) => (Outcome::NotRecording, Vec::new()),
            (Command::Record(_), Some(session)) => (
                Outcome::AlreadyRecording {
                    out: session.out_path.clone(),
                },
                Vec::new(),
            ),
            (Command::Record(options), None) => {
                let session = Session::open(*options, attached)?;
                let out = session.out_path.clone();
                let problems = self.begin(session, jvm);
                (Outcome::Started { out }, problems)
            }
        })
    }

    /// Begins `session`: header, census (attach only), writer thread,
    /// status file, then the capture events.
    fn begin(&self, session: Arc<Session>, jvm: &dyn Jvm) -> Vec<BeginProblem> {
        let mut problems = Vec::new();
        if self.code_source.get().is_none() {
            let fields = match session.options.fault {
                Some(Fault::NoCodeSource) => Err("injected fault".to_string()),
                _ => jvm.code_source_fields(),
            };
            match fields {
                Ok(fields) => {
                    let _ = self.code_source.set(fields);
                }
                Err(e) => problems.push(BeginProblem::NoCodeSource(e)),
            }
        }
        let census = session
            .attached
            .then(|| jvm.census(&self.loaders, &session.capture));
        if let Some(parts) = session.writer_parts.lock().as_mut() {
            parts.header = session.header(jvm);
            parts.census = census;
        }
        self.current.store(Some(session.clone()));
        let started = match session.options.fault {
            Some(Fault::NoWriterThread) => Err("injected fault".to_string()),
            _ => jvm.start_writer(session.clone()),
        };
        if let Err(e) = started {
            problems.push(BeginProblem::NoWriter(e));
            session.set_state(State::Finished);
            self.current.store(None);
            return problems;
        }
        match StatusFile::write(&session, &self.status_dir) {
            Ok(status) => *session.status_file.lock() = Some(status),
            Err(e) => problems.push(BeginProblem::NoStatusFile(e)),
        }
        session.set_state(State::Capturing);
        if let Err(e) = self.events.switch(true) {
            self.disable(&format!("cannot enable the class events: {e}"));
            problems.push(BeginProblem::Events(e));
        }
        problems
    }

    /// Entry for callbacks: `None` unless a session is capturing. The
    /// counter and the state are SeqCst so that stopping, after switching
    /// the state, sees every callback that got past this check.
    pub fn enter(&self) -> Option<Active<'_>> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let session = self.current.load();
        if session
            .as_deref()
            .is_some_and(|s| s.state() == State::Capturing)
        {
            Some(Active {
                recorder: self,
                session,
            })
        } else {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            None
        }
    }

    /// Stops capturing for the current session (a panic or JVMTI failure
    /// inside the agent); the session's summary will say why. False if it
    /// was not capturing (the reason is then not recorded again).
    pub fn disable(&self, reason: &str) -> bool {
        let Some(session) = self.current.load_full() else {
            return false;
        };
        let switched = session
            .state
            .compare_exchange(
                State::Capturing as u8,
                State::Disabled as u8,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        if switched {
            let _ = session.disabled.set(reason.to_string());
        }
        switched
    }

    /// VM death or process exit: finishes the current session, if any.
    /// False if its writer did not acknowledge the summary in time.
    pub fn stop_current(&self, reason: &'static str) -> bool {
        match self.current.load_full() {
            Some(session) => self.stop(&session, reason),
            None => true,
        }
    }

    /// Ends `session`: events off, in-flight callbacks awaited, the writer
    /// drains the queue and writes the summary. The session then stops
    /// being current and is freed once the writer lets go. False if the
    /// writer did not acknowledge in time.
    fn stop(&self, session: &Arc<Session>, reason: &'static str) -> bool {
        let previous = session.state.swap(State::Finished as u8, Ordering::SeqCst);
        if previous == State::Finished as u8 {
            return true;
        }
        let _ = self.events.switch(false);
        // Callbacks never block, so this is short; bounded all the same.
        let deadline = Instant::now() + IN_FLIGHT_WAIT;
        while self.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        if let Some(status) = session.status_file.lock().take() {
            status.remove();
        }
        let mut acknowledged = true;
        if previous != State::Created as u8 {
            let (done, done_rx) = crossbeam_channel::bounded(1);
            acknowledged = session.capture.finish(reason, done, FINISH_SEND_WAIT)
                && done_rx.recv_timeout(FINISH_WAIT).is_ok();
        }
        let current = self.current.load();
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, session)) {
            self.current.store(None);
        }
        acknowledged
    }
}

impl Session {
    /// Creates a session and opens its outputs (recording file, live
    /// socket, dump directory): a bad option or path fails here, before
    /// anything is installed.
    pub fn open(options: AgentOptions, attached: bool) -> Result<Arc<Session>, String> {
        let out = output::open(options.out.as_deref(), Path::new("."), std::process::id())?;
        let out_path = out.path().to_path_buf();
        let dump = match &options.dump {
            Some(dir) => Some(open_dump_dir(dir)?),
            None => None,
        };
        let live = match &options.socket {
            Some(path) => Some(LiveSocket::bind(path)?),
            None => None,
        };
        let socket_path = live.as_ref().map(|l| l.path().to_path_buf());
        let (capture, queue_rx) = Capture::new(&options);
        Ok(Arc::new(Session {
            capture,
            attached,
            state: AtomicU8::new(State::Created as u8),
            queue_rx,
            out_path,
            socket_path,
            writer_parts: Mutex::new(Some(WriterParts {
                out,
                live,
                dump,
                header: placeholder_header(),
                census: None,
            })),
            status_file: Mutex::new(None),
            disabled: OnceLock::new(),
            options,
        }))
    }

    fn state(&self) -> State {
        match self.state.load(Ordering::SeqCst) {
            0 => State::Created,
            1 => State::Capturing,
            2 => State::Disabled,
            _ => State::Finished,
        }
    }

    fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::SeqCst);
    }

    /// The recording's path, as the JVM sees it.
    pub fn out_path(&self) -> &Path {
        &self.out_path
    }

    /// The writer's share, taken once by the writer thread.
    pub fn take_writer_parts(&self) -> Option<WriterParts> {
        self.writer_parts.lock().take()
    }

    /// What the writer reads from.
    pub fn queue(&self) -> &Receiver<Message> {
        &self.queue_rx
    }

    /// Why capture stopped early, if it did.
    pub fn disabled_reason(&self) -> Option<&str> {
        self.disabled.get().map(String::as_str)
    }

    fn header(&self, jvm: &dyn Jvm) -> Header {
        let options = &self.options;
        Header {
            schema: SCHEMA_VERSION,
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            java_version: jvm.java_property("java.version"),
            java_vm_name: jvm.java_property("java.vm.name"),
            start_wall_ms: wall_ms(),
            options: metascope_events::AgentOptions {
                out: self.out_path.display().to_string(),
                depth: options.depth,
                mode: options.mode,
                include: options.include.clone(),
                queue: options.queue,
            },
            attached: self.attached,
            java_command: Some(jvm.java_property("sun.java.command")).filter(|c| !c.is_empty()),
            converted_from: None,
        }
    }
}

/// Replaced by the real header when the session begins.
fn placeholder_header() -> Header {
    Header {
        schema: SCHEMA_VERSION,
        agent_version: String::new(),
        pid: 0,
        java_version: String::new(),
        java_vm_name: String::new(),
        start_wall_ms: 0,
        options: metascope_events::AgentOptions {
            out: String::new(),
            depth: 0,
            mode: metascope_events::CaptureMode::Dynamic,
            include: Vec::new(),
            queue: 0,
        },
        attached: false,
        java_command: None,
        converted_from: None,
    }
}

/// `dump=DIR`: created 0700 if missing; an existing directory must be
/// safe to create files in (see [`Dir::open_checked`]).
fn open_dump_dir(dir: &Path) -> Result<Dir, String> {
    use std::os::unix::fs::DirBuilderExt;
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

/// The directory of the status file: always /tmp, where the CLI looks
/// (like HotSpot's own attach files, whatever $TMPDIR says).
pub const STATUS_DIR: &str = "/tmp";

/// `/tmp/.metascope_pid<pid>` (0600, this JVM's user) while a recording
/// runs: its path, live socket, start time and library, so `metascope
/// attach` / `top` can say "already recording" and find them. Created only
/// as a new file: a leftover of ours (an earlier JVM with this pid) is
/// removed first, anything another user planted is left in place and no
/// status file is written (the CLI then refuses the planted one by its
/// owner).
struct StatusFile {
    dir: Dir,
    name: String,
    identity: FileIdentity,
}

impl StatusFile {
    fn write(session: &Session, dir: &Path) -> Result<StatusFile, String> {
        use std::io::Write;
        let dir = Dir::open(dir).map_err(|e| e.to_string())?;
        let name = RecordingStatus::file_name(std::process::id());
        dir.remove_if_own(&name);
        let mut file = dir.create_new(&name, 0o600).map_err(|e| {
            format!(
                "cannot create the status file {} ({}); `metascope attach` will not see this recording",
                dir.join(&name).display(),
                files::describe_open_error(&e)
            )
        })?;
        let identity = files::identity_of_file(&file).ok_or("cannot stat the status file")?;
        let status = RecordingStatus {
            out: session.out_path.clone(),
            socket: session.socket_path.clone(),
            started: std::fs::read_to_string("/proc/self/stat")
                .ok()
                .and_then(|stat| process_start_ticks(&stat)),
            agent: crate::ffi::own_library_path(),
        };
        let created = StatusFile {
            dir,
            name,
            identity,
        };
        if let Err(e) = file.write_all(status.to_text().as_bytes()) {
            created.remove();
            return Err(format!("cannot write the status file: {e}"));
        }
        Ok(created)
    }

    fn remove(&self) {
        self.dir.remove_if_same(&self.name, self.identity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Records the event switches; never fails.
    #[derive(Default)]
    struct Switch(Arc<AtomicBool>);
    impl CaptureEvents for Switch {
        fn switch(&self, on: bool) -> Result<(), String> {
            self.0.store(on, Ordering::SeqCst);
            Ok(())
        }
    }

    /// A JVM without a writer thread: the test plays the writer.
    struct FakeJvm {
        writers: Mutex<Vec<Arc<Session>>>,
    }
    impl Jvm for FakeJvm {
        fn java_property(&self, name: &str) -> String {
            format!("fake {name}")
        }
        fn code_source_fields(&self) -> Result<CodeSourceFields, String> {
            Err("no JVM in unit tests".into())
        }
        fn census(&self, _: &LoaderTable, _: &Capture) -> Census {
            Census::default()
        }
        fn start_writer(&self, session: Arc<Session>) -> Result<(), String> {
            self.writers.lock().push(session);
            Ok(())
        }
    }

    fn fake_jvm() -> FakeJvm {
        FakeJvm {
            writers: Mutex::new(Vec::new()),
        }
    }

    /// Plays a writer that acknowledges the finish request.
    fn acknowledge_finish(session: Arc<Session>) -> std::thread::JoinHandle<&'static str> {
        std::thread::spawn(move || loop {
            if let Ok(Message::Finish(request)) = session.queue().recv() {
                let _ = request.done.send(());
                return request.reason;
            }
        })
    }

    fn record_options(dir: &Path, name: &str) -> Command {
        Command::parse(&format!("out={}", dir.join(name).display())).unwrap()
    }

    #[test]
    fn an_attach_records_reports_stops_and_records_again() {
        let dir = tempfile::tempdir().unwrap();
        let on = Arc::new(AtomicBool::new(false));
        let recorder = Recorder::new(Box::new(Switch(on.clone()))).with_status_dir(dir.path());
        let jvm = fake_jvm();
        assert!(recorder.enter().is_none(), "nothing records yet");

        let (outcome, problems) = recorder
            .command(record_options(dir.path(), "a.jsonl"), true, &jvm)
            .unwrap();
        assert!(matches!(outcome, Outcome::Started { ref out } if out.ends_with("a.jsonl")));
        assert_eq!(
            problems,
            [BeginProblem::NoCodeSource("no JVM in unit tests".into())]
        );
        assert!(on.load(Ordering::SeqCst), "class events on");
        let first = jvm.writers.lock()[0].clone();
        assert_eq!(
            first.take_writer_parts().unwrap().header.java_version,
            "fake java.version"
        );
        assert!(recorder.enter().is_some(), "callbacks see the session");

        let (outcome, _) = recorder
            .command(record_options(dir.path(), "b.jsonl"), true, &jvm)
            .unwrap();
        assert!(
            matches!(outcome, Outcome::AlreadyRecording { ref out } if out.ends_with("a.jsonl"))
        );
        assert!(
            !dir.path().join("b.jsonl").exists(),
            "a refused recording creates no file"
        );

        let writer = acknowledge_finish(first.clone());
        let (outcome, _) = recorder.command(Command::Stop, true, &jvm).unwrap();
        assert!(matches!(
            outcome,
            Outcome::Stopped {
                writer_late: false,
                ..
            }
        ));
        assert_eq!(writer.join().unwrap(), "stopped");
        assert!(!on.load(Ordering::SeqCst), "class events off");
        assert!(recorder.enter().is_none());

        let (outcome, _) = recorder.command(Command::Stop, true, &jvm).unwrap();
        assert_eq!(outcome, Outcome::NotRecording);

        let (outcome, _) = recorder
            .command(record_options(dir.path(), "c.jsonl"), true, &jvm)
            .unwrap();
        assert!(matches!(outcome, Outcome::Started { .. }));
    }

    #[test]
    fn a_finished_session_is_freed_once_the_writer_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(Box::<Switch>::default()).with_status_dir(dir.path());
        let jvm = fake_jvm();
        recorder
            .command(record_options(dir.path(), "a.jsonl"), true, &jvm)
            .unwrap();
        let session = jvm.writers.lock().pop().unwrap();
        let weak = Arc::downgrade(&session);
        let writer = acknowledge_finish(session);
        let active = recorder.enter().expect("capturing");
        recorder
            .command(Command::Stop, true, &jvm)
            .unwrap_or_else(|e| panic!("{e}"));
        writer.join().unwrap();
        assert!(weak.upgrade().is_some(), "a callback still holds it");
        drop(active);
        assert!(
            weak.upgrade().is_none(),
            "freed: nothing holds a finished session"
        );
    }

    #[test]
    fn disabling_keeps_the_first_reason_and_stops_callbacks() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(Box::<Switch>::default()).with_status_dir(dir.path());
        let jvm = fake_jvm();
        recorder
            .command(record_options(dir.path(), "a.jsonl"), true, &jvm)
            .unwrap();
        assert!(recorder.disable("GetStackTrace failed"));
        assert!(!recorder.disable("a later problem"));
        assert!(recorder.enter().is_none());
        let session = jvm.writers.lock()[0].clone();
        assert_eq!(session.disabled_reason(), Some("GetStackTrace failed"));
        let writer = acknowledge_finish(session);
        assert!(recorder.stop_current("vm_death"));
        assert_eq!(writer.join().unwrap(), "vm_death");
    }

    #[test]
    fn a_session_started_at_jvm_start_begins_at_vm_init() {
        let dir = tempfile::tempdir().unwrap();
        let on = Arc::new(AtomicBool::new(false));
        let recorder = Recorder::new(Box::new(Switch(on.clone()))).with_status_dir(dir.path());
        let Command::Record(options) = record_options(dir.path(), "a.jsonl") else {
            unreachable!()
        };
        recorder.set_pending(Session::open(*options, false).unwrap());
        assert!(recorder.enter().is_none(), "nothing before VMInit");
        let jvm = fake_jvm();
        recorder.begin_pending(&jvm);
        assert!(on.load(Ordering::SeqCst));
        assert!(recorder.enter().is_some());
        assert!(recorder.begin_pending(&jvm).is_empty(), "begins once");
        assert_eq!(jvm.writers.lock().len(), 1);
    }

    #[test]
    fn a_writer_that_does_not_answer_is_reported_late_not_waited_for_ever() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Recorder::new(Box::<Switch>::default()).with_status_dir(dir.path());
        let jvm = fake_jvm();
        let Command::Record(mut options) = record_options(dir.path(), "a.jsonl") else {
            unreachable!()
        };
        options.queue = 1;
        recorder.set_pending(Session::open(*options, false).unwrap());
        recorder.begin_pending(&jvm);
        // Fill the one-slot queue so the finish request cannot be sent.
        let session = jvm.writers.lock()[0].clone();
        let (done, _done_rx) = crossbeam_channel::bounded(1);
        assert!(session.capture.finish("filler", done, Duration::ZERO));
        assert!(!recorder.stop_current("vm_death"), "reported late");
    }
}
