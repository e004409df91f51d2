//! Attaching to a running JVM: the agent loads in the live phase, writes a
//! census of what was already there, records from then on, is harmless to
//! load twice, stops on request and can record again later.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use metascope_attach::{load_agent, AttachError};

/// A JVM defining one class every 20 ms, already running when we attach.
fn live_jvm(java: &Path, extra: &[&str]) -> Child {
    let mut child = Command::new(java)
        .args(extra)
        .args([
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            "com.acme.torture.Torture",
            "trickle",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("ready"), "{line}");
    child
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

fn attach_session(major: u32) {
    let Some(java) = java(major) else {
        require_in_ci(&format!("JDK {major}"));
        return;
    };
    let session = Session::new();
    let jvm = Killed(live_jvm(&java, &[]));
    let pid = jvm.0.id();
    let agent = agent_lib();
    let first = session.path("first.jsonl");
    load_agent(pid, &agent, &format!("out={}", first.display()), TIMEOUT)
        .unwrap_or_else(|e| panic!("attach to JDK {major}: {e}"));
    wait_for_class_records(&first, "com.acme.torture.Gen_", 20);
    // A second attach while recording: harmless, no second recording.
    let second = session.path("second.jsonl");
    load_agent(pid, &agent, &format!("out={}", second.display()), TIMEOUT).unwrap();
    assert!(
        !second.exists(),
        "attaching twice must not start a second recording"
    );
    load_agent(pid, &agent, "stop", TIMEOUT).unwrap();

    let report = session.json_report(&first, &[]);
    assert_eq!(
        report["recording"]["complete"], true,
        "stop writes the summary"
    );
    assert_eq!(report["recording"]["summary"]["reason"], "stopped");
    assert_reconciles(&report);
    assert_eq!(report["recording"]["header"]["attached"], true);
    let top = &call_sites(&report)[0];
    assert_eq!(
        top["application_frame"]["class"], "com.acme.torture.Torture",
        "{top}"
    );
    assert_eq!(top["application_frame"]["method"], "generate");
    assert!(
        classes(top) >= 20,
        "about 50 a second for ~2 s: {}",
        classes(top)
    );
    let census = std::fs::read_to_string(&first)
        .unwrap()
        .lines()
        .find(|l| l.starts_with(r#"{"type":"census""#))
        .map(String::from)
        .expect("a census of the classes loaded before the attach");
    let census: serde_json::Value = serde_json::from_str(&census).unwrap();
    assert!(census["classes"].as_u64().unwrap() > 400, "{census}");

    // Later: a new recording in the same JVM.
    let third = session.path("third.jsonl");
    load_agent(pid, &agent, &format!("out={}", third.display()), TIMEOUT).unwrap();
    wait_for_class_records(&third, "com.acme.torture.Gen_", 5);
    load_agent(pid, &agent, "stop", TIMEOUT).unwrap();
    let report = session.json_report(&third, &[]);
    assert_eq!(report["recording"]["summary"]["reason"], "stopped");
    assert_reconciles(&report);
    assert_eq!(
        call_sites(&report)[0]["application_frame"]["method"],
        "generate"
    );
}

#[test]
fn attach_record_stop_and_record_again_on_jdk17() {
    attach_session(17);
}

#[test]
fn attach_on_jdk11() {
    attach_session(11);
}

#[test]
fn attach_on_jdk21() {
    attach_session(21);
}

#[test]
fn attach_on_jdk25() {
    attach_session(25);
}

#[test]
fn a_process_that_is_not_a_jvm_is_refused() {
    let sleeper = Killed(Command::new("sleep").arg("30").spawn().unwrap());
    let e = load_agent(sleeper.0.id(), &agent_lib(), "", TIMEOUT).unwrap_err();
    assert!(matches!(e, AttachError::NotAJvm { .. }), "{e}");
}

#[test]
fn dynamic_loading_disabled_is_explained() {
    let Some(java) = java(21) else {
        require_in_ci("JDK 21");
        return;
    };
    let jvm = Killed(live_jvm(&java, &["-XX:-EnableDynamicAgentLoading"]));
    let e = load_agent(jvm.0.id(), &agent_lib(), "", TIMEOUT).unwrap_err();
    assert!(
        matches!(e, AttachError::DynamicLoadingDisabled { .. }),
        "{e}"
    );
    assert!(
        e.to_string().contains("-XX:+EnableDynamicAgentLoading"),
        "{e}"
    );
}

#[test]
fn a_jvm_without_attach_listener_times_out_clearly() {
    let java = java(17).unwrap();
    let jvm = Killed(live_jvm(&java, &["-XX:+DisableAttachMechanism"]));
    let e = load_agent(jvm.0.id(), &agent_lib(), "", Duration::from_secs(2)).unwrap_err();
    assert!(matches!(e, AttachError::ListenerTimeout { .. }), "{e}");
}

/// The same as a user would type it: `metascope attach PID --duration`.
#[test]
fn metascope_attach_with_a_duration_reports_the_call_site() {
    let java = java(17).unwrap();
    let session = Session::new();
    let jvm = Killed(live_jvm(&java, &[]));
    let out = session.path("attached.jsonl");
    let cli = metascope()
        .args([
            "attach",
            &jvm.0.id().to_string(),
            "--duration",
            "2s",
            "--format",
            "json",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(cli.status.success(), "{}", stderr(&cli));
    let report: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(
        report["call_sites"][0]["application_frame"]["method"], "generate",
        "{report}"
    );
    assert!(stderr(&cli).contains("the JVM keeps running"));
    // The JVM is still alive and can be attached again.
    assert!(Path::new(&format!("/proc/{}", jvm.0.id())).exists());
    let again = metascope()
        .args([
            "attach",
            &jvm.0.id().to_string(),
            "--duration",
            "1s",
            "--format",
            "json",
            "-o",
        ])
        .arg(session.path("again.jsonl"))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
}

#[test]
fn metascope_top_shows_the_call_site_within_seconds() {
    let java = java(17).unwrap();
    let jvm = Killed(live_jvm(&java, &[]));
    let started = std::time::Instant::now();
    let top = metascope()
        .args([
            "top",
            &jvm.0.id().to_string(),
            "--iterations",
            "3",
            "--plain",
        ])
        .output()
        .unwrap();
    assert!(top.status.success(), "{}", stderr(&top));
    let text = stdout(&top);
    assert!(text.contains("com.acme.torture.Torture.generate"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(
        stderr(&top).contains("recording stopped"),
        "top stops what it started"
    );
}

#[test]
fn attach_errors_are_clear() {
    let no_such = metascope().args(["attach", "999999999"]).output().unwrap();
    assert!(!no_such.status.success());
    assert!(
        stderr(&no_such).contains("no process with pid 999999999"),
        "{}",
        stderr(&no_such)
    );

    let sleeper = Killed(Command::new("sleep").arg("30").spawn().unwrap());
    let not_jvm = metascope()
        .args(["attach", &sleeper.0.id().to_string()])
        .output()
        .unwrap();
    assert!(!not_jvm.status.success());
    assert!(
        stderr(&not_jvm).contains("is not a HotSpot JVM"),
        "{}",
        stderr(&not_jvm)
    );

    let stop_nothing = metascope()
        .args(["attach", &sleeper.0.id().to_string(), "--stop"])
        .output()
        .unwrap();
    assert!(!stop_nothing.status.success());
    assert!(stderr(&stop_nothing).contains("no metascope recording running"));
}

/// A JVM of another user: only that user (or root) may attach.
#[test]
fn a_jvm_of_another_user_is_refused_clearly() {
    // SAFETY-free check of our own uid through /proc.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let root = status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    if !root || Command::new("setpriv").arg("--version").output().is_err() {
        skip("needs root and setpriv to run the attacher as another user");
        return;
    }
    let java = java(17).unwrap();
    let jvm = Killed(live_jvm(&java, &[]));
    // The other user must be able to run our binaries: a clean clone may
    // live in a private (0700) directory.
    use std::os::unix::fs::PermissionsExt;
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (cli, agent) = (
        shared.path().join("metascope"),
        shared.path().join("libmetascope_agent.so"),
    );
    std::fs::copy(metascope_bin(), &cli).unwrap();
    std::fs::copy(agent_lib(), &agent).unwrap();
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&cli)
        .args(["attach", &jvm.0.id().to_string(), "--agent"])
        .arg(&agent)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("runs as uid 0, you are uid 65534"), "{err}");
    assert!(err.contains("run metascope as that user"), "{err}");
}

/// `socket=PATH` at start, then `metascope live PATH` from another terminal.
#[test]
fn metascope_live_follows_a_socket() {
    let java = java(17).unwrap();
    let session = Session::new();
    let socket = session.path("live.sock");
    let out = session.path("rec.jsonl");
    let jvm = Killed(live_jvm(
        &java,
        &[&format!(
            "-agentpath:{}=out={},socket={}",
            agent_lib().display(),
            out.display(),
            socket.display()
        )],
    ));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only the JVM's user may read the stream");
    let live = metascope()
        .arg("live")
        .arg(&socket)
        .args(["--iterations", "3", "--plain"])
        .output()
        .unwrap();
    assert!(live.status.success(), "{}", stderr(&live));
    assert!(
        stdout(&live).contains("com.acme.torture.Torture.generate"),
        "{}",
        stdout(&live)
    );
    drop(jvm);
}

/// `metascope attach PID --duration` names the same call site as recording
/// the same program from its start.
fn attach_matches_a_from_start_run(major: u32) {
    let Some(java) = java(major) else {
        require_in_ci(&format!("JDK {major}"));
        return;
    };
    let session = Session::new();
    let (out, from_start) = session.run(
        &java,
        None,
        &[
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            "com.acme.torture.Torture",
            "trickle",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let from_start = session.json_report(&from_start, &[]);
    let jvm = Killed(live_jvm(&java, &[]));
    let attached = metascope()
        .args([
            "attach",
            &jvm.0.id().to_string(),
            "--duration",
            "2s",
            "--format",
            "json",
            "-o",
        ])
        .arg(session.path("attached.jsonl"))
        .output()
        .unwrap();
    assert!(
        attached.status.success(),
        "JDK {major}: {}",
        stderr(&attached)
    );
    let attached: serde_json::Value = serde_json::from_slice(&attached.stdout).unwrap();
    let top = |r: &serde_json::Value| r["call_sites"][0]["application_frame"]["display"].clone();
    assert_eq!(top(&attached), top(&from_start), "JDK {major}");
    assert!(top(&attached)
        .as_str()
        .unwrap()
        .contains("Torture.generate"));
    assert_eq!(attached["recording"]["header"]["attached"], true);
}

#[test]
fn attach_matches_from_start_on_jdk11() {
    attach_matches_a_from_start_run(11);
}

#[test]
fn attach_matches_from_start_on_jdk17() {
    attach_matches_a_from_start_run(17);
}

#[test]
fn attach_matches_from_start_on_jdk21() {
    attach_matches_a_from_start_run(21);
}

#[test]
fn attach_matches_from_start_on_jdk25() {
    attach_matches_a_from_start_run(25);
}

/// Record until stopped: `attach PID -o FILE`, later `attach PID --stop`.
#[test]
fn metascope_attach_then_stop_prints_the_report() {
    let java = java(17).unwrap();
    let session = Session::new();
    let jvm = Killed(live_jvm(&java, &[]));
    let pid = jvm.0.id().to_string();
    let out = session.path("until-stopped.jsonl");
    let start = metascope()
        .args(["attach", &pid, "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(start.status.success(), "{}", stderr(&start));
    assert!(
        stderr(&start).contains(&format!("metascope attach {pid} --stop")),
        "{}",
        stderr(&start)
    );
    // A second attach while recording says so instead of recording twice.
    let again = metascope().args(["attach", &pid]).output().unwrap();
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already being recorded"),
        "{}",
        stderr(&again)
    );
    wait_for_class_records(&out, "com.acme.torture.Gen_", 5);
    let stop = metascope()
        .args(["attach", &pid, "--stop", "--format", "json"])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", stderr(&stop));
    let report: serde_json::Value = serde_json::from_slice(&stop.stdout).unwrap();
    assert_eq!(report["recording"]["summary"]["reason"], "stopped");
    assert_eq!(
        report["call_sites"][0]["application_frame"]["method"],
        "generate"
    );
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the JVM keeps running"
    );
}

/// A JVM started with `-agentpath` from another copy of the library:
/// `metascope attach --stop` stops it through that copy.
#[test]
fn stop_a_recording_started_with_agentpath_from_another_copy() {
    let java = java(17).unwrap();
    let session = Session::new();
    let copy = session.path("elsewhere/libmetascope_agent.so");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(agent_lib(), &copy).unwrap();
    let out = session.path("from-start.jsonl");
    let jvm = Killed(live_jvm(
        &java,
        &[&format!(
            "-agentpath:{}=out={}",
            copy.display(),
            out.display()
        )],
    ));
    wait_for_class_records(&out, "com.acme.torture.Gen_", 5);
    let stop = metascope()
        .args([
            "attach",
            &jvm.0.id().to_string(),
            "--stop",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(stop.status.success(), "{}", stderr(&stop));
    let report: serde_json::Value = serde_json::from_slice(&stop.stdout).unwrap();
    assert_eq!(report["recording"]["summary"]["reason"], "stopped");
    assert_eq!(report["recording"]["header"]["attached"], false);
    assert_eq!(
        report["call_sites"][0]["application_frame"]["method"],
        "generate"
    );
}
