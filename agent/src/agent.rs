//! The top of the agent: the one start path for `-agentpath` and dynamic
//! attach alike ([`Metascope`]), and the handlers that route each JVMTI
//! event to capture for the current session. This is where the JVM-backed
//! pieces meet the JVM-free ones: [`JvmHost`] answers the session's
//! questions with JVMTI/JNI, [`JvmtiEvents`] switches the capture events,
//! and the writer thread is started here.

use std::sync::{Arc, OnceLock};

use crate::capture;
use crate::census::{self, Census};
use crate::ffi::{
    AgentEvents, AgentStart, CodeSourceFields, Event, HookedClass, Jni, Jvmti, LocalRef, Phase, Vm,
};
use crate::loaders::LoaderTable;
use crate::messages;
use crate::options::Command;
use crate::session::{BeginProblem, CaptureEvents, Jvm, Outcome, Recorder, Session};
use crate::writer;

/// The JVM-wide recorder, created by the first successful load.
static RECORDER: OnceLock<Recorder> = OnceLock::new();
/// The JVMTI environment the agent installed with. Every GetEnv creates a
/// new environment (with its own capabilities and tags), so later loads
/// must use this one rather than ask again.
static JVMTI: OnceLock<Jvmti> = OnceLock::new();

/// The agent, as `ffi::export_agent!` exports it.
pub struct Metascope;

impl AgentStart for Metascope {
    /// Parses the command, then either commands the installed recorder (a
    /// later attach) or opens the first session's outputs, installs the
    /// callbacks and begins (attach) or waits for VMInit (`-agentpath`).
    /// Every failure happens before anything is installed.
    fn load(vm: Vm, options: &str, phase: Phase) -> Result<(), String> {
        let command = Command::parse(options).map_err(|e| e.to_string())?;
        let attached = phase == Phase::Live;
        if let (Some(recorder), Some(&jvmti)) = (RECORDER.get(), JVMTI.get()) {
            let jni = vm
                .current_jni()
                .ok_or("metascope: no JNI environment on the attach thread")?;
            let (outcome, problems) =
                recorder.command(command, attached, &JvmHost { jvmti, jni })?;
            say_outcome(&outcome);
            say_problems(&problems);
            return Ok(());
        }
        let Command::Record(options) = command else {
            return Err(
                "metascope: `stop` needs a running recording; the agent is not loaded in this JVM"
                    .into(),
            );
        };
        let session = Session::open(*options, attached)?;
        let jvmti = vm.jvmti().ok_or(
            "metascope: this JVM offers no JVMTI 1.2 environment; the agent is not loaded",
        )?;
        jvmti
            .install(&EVENTS)
            .map_err(|e| format!("metascope: {e}"))?;
        let jvmti = *JVMTI.get_or_init(|| jvmti);
        let recorder = RECORDER.get_or_init(|| Recorder::new(Box::new(JvmtiEvents(jvmti))));
        match phase {
            Phase::OnLoad => {
                // The session begins at VMInit, when stacks and threads exist.
                recorder.set_pending(session);
                for event in [Event::VmInit, Event::VmDeath] {
                    jvmti
                        .set_event(true, event)
                        .map_err(|e| format!("metascope: cannot enable {event:?}: {e}"))?;
                }
            }
            Phase::Live => {
                let _ = jvmti.set_event(true, Event::VmDeath);
                let jni = vm
                    .current_jni()
                    .ok_or("metascope: no JNI environment on the attach thread")?;
                say_problems(&recorder.begin_now(session, &JvmHost { jvmti, jni }));
            }
        }
        Ok(())
    }

    fn installed() -> bool {
        RECORDER.get().is_some()
    }

    fn process_exit() {
        if let Some(recorder) = RECORDER.get() {
            stop(recorder, "process_exit");
        }
    }
}

fn stop(recorder: &Recorder, reason: &'static str) {
    if !recorder.stop_current(reason) {
        messages::say("the writer did not finish in time; the recording may lack its summary");
    }
}

fn say_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Started { .. } => {}
        Outcome::AlreadyRecording { out } => messages::say(&format!(
            "already recording to {}; stop it first (metascope attach PID --stop)",
            out.display()
        )),
        Outcome::Stopped { out, writer_late } => {
            if *writer_late {
                messages::say(
                    "the writer did not finish in time; the recording may lack its summary",
                );
            }
            messages::say(&format!("recording stopped: {}", out.display()));
        }
        Outcome::NotRecording => messages::say("not recording; nothing to stop"),
    }
}

fn say_problems(problems: &[BeginProblem]) {
    for problem in problems {
        messages::say(&match problem {
            BeginProblem::NoCodeSource(e) => format!(
                "cannot read code sources ({e}); classes from unknown generators may be missed"
            ),
            BeginProblem::NoWriter(e) => {
                format!("cannot start the writer thread ({e}); nothing will be recorded")
            }
            BeginProblem::NoStatusFile(e) => e.clone(),
            BeginProblem::Events(e) => {
                format!("cannot enable the class events ({e}); capture disabled, the JVM continues")
            }
        });
    }
}

/// The session's questions, answered on the thread that begins it.
struct JvmHost<'a> {
    jvmti: Jvmti,
    jni: Jni<'a>,
}

impl Jvm for JvmHost<'_> {
    fn java_property(&self, name: &str) -> String {
        // java.version is set by Java code, so JVMTI's VM properties lack it.
        self.jni
            .java_system_property(name)
            .or_else(|| self.jvmti.system_property(name))
            .unwrap_or_default()
    }

    fn code_source_fields(&self) -> Result<CodeSourceFields, String> {
        self.jni.code_source_fields()
    }

    fn census(&self, loaders: &LoaderTable, capture: &capture::Capture) -> Census {
        census::take(self.jvmti, self.jni, loaders, capture)
    }

    fn start_writer(&self, session: Arc<Session>) -> Result<(), String> {
        let recorder = RECORDER.get().ok_or("the recorder is not installed")?;
        let sources = recorder.sources.clone();
        let fields = recorder.ids().code_source.copied();
        let loaders = &recorder.loaders;
        self.jvmti.start_agent_thread(
            self.jni,
            "metascope-writer",
            Box::new(move |jvmti, jni| writer::run(jvmti, jni, session, sources, loaders, fields)),
        )
    }
}

/// The events of a running recording.
struct JvmtiEvents(Jvmti);

const CAPTURE_EVENTS: [Event; 6] = [
    Event::ClassFileLoadHook,
    Event::ClassLoad,
    Event::ResourceExhausted,
    Event::GarbageCollectionStart,
    Event::GarbageCollectionFinish,
    Event::ObjectFree,
];

impl CaptureEvents for JvmtiEvents {
    fn switch(&self, on: bool) -> Result<(), String> {
        let mut first_error = None;
        for event in CAPTURE_EVENTS {
            if let Err(e) = self.0.set_event(on, event) {
                first_error.get_or_insert(format!("{event:?}: {e}"));
                if on {
                    break;
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Routes JVMTI events to capture for the current session.
struct Handlers;
static EVENTS: Handlers = Handlers;

impl Handlers {
    fn disable(&self, reason: &str) {
        if let Some(recorder) = RECORDER.get() {
            if recorder.disable(reason) {
                messages::say(&format!("{reason}; capture disabled, the JVM continues"));
            }
        }
    }
}

impl AgentEvents for Handlers {
    fn vm_init(&self, jvmti: Jvmti, jni: Jni<'_>) {
        if let Some(recorder) = RECORDER.get() {
            say_problems(&recorder.begin_pending(&JvmHost { jvmti, jni }));
        }
    }

    fn vm_death(&self) {
        if let Some(recorder) = RECORDER.get() {
            stop(recorder, "vm_death");
        }
    }

    fn class_file(&self, jvmti: Jvmti, jni: Jni<'_>, class: HookedClass<'_>) {
        let Some(active) = RECORDER.get().and_then(Recorder::enter) else {
            return;
        };
        capture::on_class_file(&active.session().capture, active.ids(), jvmti, jni, class);
    }

    fn class_load(&self, jvmti: Jvmti, jni: Jni<'_>, class: LocalRef<'_>) {
        let Some(active) = RECORDER.get().and_then(Recorder::enter) else {
            return;
        };
        let result = capture::on_class(&active.session().capture, active.ids(), jvmti, jni, class);
        drop(active);
        if let Err(e) = result {
            self.disable(&e.to_string());
        }
    }

    fn gc(&self, start: bool) {
        if let Some(active) = RECORDER.get().and_then(Recorder::enter) {
            capture::on_gc(&active.session().capture, start);
        }
    }

    fn object_free(&self, tag: i64) {
        if let Some(active) = RECORDER.get().and_then(Recorder::enter) {
            capture::on_object_free(&active.session().capture, active.ids(), tag);
        }
    }

    fn resource_exhausted(&self, jvmti: Jvmti, description: String, flags: Vec<&'static str>) {
        if let Some(active) = RECORDER.get().and_then(Recorder::enter) {
            capture::on_resource_exhausted(&active.session().capture, jvmti, description, flags);
        }
    }

    fn internal_error(&self, what: &str, message: &str) {
        self.disable(&format!("internal error in {what}: {message}"));
    }
}
