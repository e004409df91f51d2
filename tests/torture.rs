//! Bounded torture sessions: many threads, tiny queues, broken outputs,
//! every way a JVM ends, and the moment of OutOfMemoryError: Metaspace.
//! (Longer versions: scripts/torture.)

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const TORTURE: &str = "com.acme.torture.Torture";

fn java17() -> std::path::PathBuf {
    java(17).expect("the JDK on PATH is required")
}

/// `java -agentpath:...=OPTS -cp harness.jar Torture ARGS` (no CLI in between,
/// so the test can signal the JVM itself).
fn torture_jvm(agent_opts: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(java17());
    cmd.arg(format!("-agentpath:{}={agent_opts}", agent_lib().display()))
        .args(["-cp", metascope_harness::HARNESS_JAR_PATH, TORTURE])
        .args(args);
    cmd
}

fn metascope_lines(stderr_text: &str, needle: &str) -> usize {
    stderr_text
        .lines()
        .filter(|l| l.starts_with("metascope:") && l.contains(needle))
        .count()
}

fn site_by_method<'a>(report: &'a serde_json::Value, method: &str) -> &'a serde_json::Value {
    call_sites(report)
        .iter()
        .find(|s| s["application_frame"]["method"] == method)
        .unwrap_or_else(|| panic!("no call site in {method}: {report}"))
}

/// 5 s in the suite; scripts/torture runs the long version (30 s).
fn torture_seconds() -> String {
    std::env::var("METASCOPE_TORTURE_SECONDS").unwrap_or_else(|_| "5".into())
}

#[test]
fn sixty_four_threads_through_fresh_loaders_match_xlog() {
    let session = Session::new();
    let seconds = torture_seconds();
    let xlog = session.path("class-load.log");
    let (out, recording) = session.run(
        &java17(),
        None,
        &[
            &format!("-Xlog:class+load:file={}", xlog.display()),
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            TORTURE,
            "define",
            "64",
            &seconds,
        ],
    );
    assert!(
        out.status.success(),
        "exit code unchanged: {}",
        stderr(&out)
    );
    let report = session.json_report(&recording, &[]);
    assert_reconciles(&report);
    let logged = std::fs::read_to_string(&xlog)
        .unwrap()
        .lines()
        .filter(|l| l.contains("com.acme.torture.Gen_"))
        .count() as u64;
    let site = site_by_method(&report, "generate");
    assert_eq!(site["application_frame"]["class"], TORTURE);
    assert!(logged > 1000, "the torture ran: {logged}");
    assert_eq!(
        classes(site),
        logged,
        "captured = what -Xlog:class+load shows"
    );
    // One loader per class (the CLI stops counting instances at a cap).
    let loaders = &site["loaders"][0];
    if loaders["instances_capped"] == true {
        assert!(
            loaders["instances"].as_u64().unwrap() >= 10_000,
            "{loaders}"
        );
    } else {
        assert_eq!(loaders["instances"].as_u64(), Some(logged), "{loaders}");
    }
}

/// Each thread remembers the protection domain, loader and loader class
/// it met last as JNI weak references; a thread that ends leaves them for
/// the next thread to delete. Waves of threads that share one loader and
/// then end exercise both, under the JVM's own JNI checker.
#[test]
fn threads_that_come_and_go_in_waves_are_all_counted_under_the_jni_checker() {
    let session = Session::new();
    let (out, recording) = session.run(
        &java17(),
        None,
        &[
            "-Xcheck:jni",
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            TORTURE,
            "waves",
            "16",
            "4",
            "20",
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "exit code unchanged: {err}");
    assert!(
        !err.contains("in native method"),
        "the JNI checker found nothing to say: {err}"
    );
    let report = session.json_report(&recording, &[]);
    assert_reconciles(&report);
    let site = call_sites(&report)
        .iter()
        .find(|s| {
            s["application_frame"]["method"] == "defineInWave"
                && s["kinds"].to_string().contains("runtime_defined")
        })
        .unwrap_or_else(|| panic!("no runtime_defined call site in defineInWave: {report}"));
    assert_eq!(classes(site), 4 * 16 * 20, "every class of every wave");
    let loaders = &site["loaders"][0];
    assert_eq!(
        loaders["instances"].as_u64(),
        Some(4),
        "one loader per wave, known again by every thread that met it: {loaders}"
    );
    assert_eq!(site["threads"].as_array().map(Vec::len), Some(4 * 16));
}

#[test]
fn a_tiny_queue_under_64_threads_drops_counts_and_reports() {
    let session = Session::new();
    let (out, recording) = session.run(
        &java17(),
        // The writer waits until the queue overflowed once: drops are certain.
        Some("queue=16,fault=stall-writer"),
        &[
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            TORTURE,
            "define",
            "64",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = session.json_report(&recording, &[]);
    assert_reconciles(&report);
    let dropped = report["recording"]["summary"]["dropped"].as_u64().unwrap();
    assert!(dropped > 0, "a 16-slot queue under 64 threads drops");
    let warnings = report["recording"]["warnings"].as_array().unwrap();
    assert!(
        warnings.contains(&serde_json::json!({"warning": "classes_dropped", "classes": dropped})),
        "{warnings:?}"
    );
}

#[test]
fn system_exit_from_another_thread_while_defining() {
    let session = Session::new();
    let (out, recording) = session.run(
        &java17(),
        None,
        &[
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            TORTURE,
            "exit-while-defining",
            "16",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "the JVM's own exit code: {}",
        stderr(&out)
    );
    let report = session.json_report(&recording, &[]);
    assert_eq!(
        report["recording"]["complete"], true,
        "VMDeath wrote the summary"
    );
    assert_reconciles(&report);
    assert!(classes(site_by_method(&report, "generate")) > 100);
}

#[test]
fn runtime_halt_keeps_what_was_written() {
    let session = Session::new();
    let (out, recording) = session.run(
        &java17(),
        None,
        &[
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            TORTURE,
            "halt",
            "8",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let report = session.json_report(&recording, &[]);
    if report["recording"]["complete"] == true {
        assert_reconciles(&report);
    }
    assert!(
        classes(site_by_method(&report, "generate")) > 100,
        "{report}"
    );
}

#[test]
fn an_uncaught_exception_ends_with_a_summary() {
    let session = Session::new();
    let (out, recording) = session.run(
        &java17(),
        None,
        &["-cp", metascope_harness::HARNESS_JAR_PATH, TORTURE, "throw"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("uncaught on purpose"));
    let report = session.json_report(&recording, &[]);
    assert_reconciles(&report);
    assert_eq!(classes(site_by_method(&report, "generate")), 20);
}

/// Starts `define-then-wait N`, waits for its "defined" line, then sends `signal`.
fn signal_after_definitions(signal: i32, recording: &Path) -> std::process::ExitStatus {
    let mut child = torture_jvm(
        &format!("out={}", recording.display()),
        &["define-then-wait", "500"],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("defined 500"), "{line}");
    // The 500 records are on disk once the agent's periodic flush ran.
    wait_for_class_records(recording, "com.acme.torture.Gen_", 500);
    // SAFETY-free: plain kill(2) on our own child.
    assert_eq!(unsafe_kill(child.id(), signal), 0);
    child.wait().unwrap()
}

fn unsafe_kill(pid: u32, signal: i32) -> i32 {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .map(|s| if s.success() { 0 } else { 1 })
        .unwrap_or(1)
}

#[test]
fn sigterm_runs_the_normal_shutdown() {
    let session = Session::new();
    let recording = session.path("term.jsonl");
    let status = signal_after_definitions(15, &recording);
    assert_eq!(status.code(), Some(143), "JVM exit code for SIGTERM");
    let report = session.json_report(&recording, &[]);
    assert_eq!(report["recording"]["complete"], true);
    assert_reconciles(&report);
    assert_eq!(classes(site_by_method(&report, "generate")), 500);
}

#[test]
fn sigkill_loses_at_most_the_last_flush_interval() {
    let session = Session::new();
    let recording = session.path("kill.jsonl");
    let status = signal_after_definitions(9, &recording);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    let report = session.json_report(&recording, &[]);
    assert_eq!(
        report["recording"]["complete"], false,
        "no summary after SIGKILL"
    );
    let warnings = report["recording"]["warnings"].as_array().unwrap();
    assert!(
        warnings.contains(&serde_json::json!({"warning": "no_summary"})),
        "the CLI says it was cut off: {warnings:?}"
    );
    // All 500 were defined more than one flush interval before the kill.
    assert_eq!(classes(site_by_method(&report, "generate")), 500);
    // And the text report says so too.
    let text = metascope().arg("report").arg(&recording).output().unwrap();
    assert!(text.status.success());
    assert!(stdout(&text).contains("no summary"), "{}", stdout(&text));
}

#[test]
fn a_full_disk_is_reported_once_and_the_jvm_runs_on() {
    let out = torture_jvm("out=/dev/full", &["define", "4", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("torture: defined"));
    let err = stderr(&out);
    assert_eq!(
        metascope_lines(&err, "cannot write the recording to /dev/full"),
        1,
        "{err}"
    );
    assert!(
        err.contains("recording stopped, the JVM continues"),
        "{err}"
    );
}

#[test]
fn a_deleted_output_directory_is_reported_once() {
    let session = Session::new();
    let dir = session.path("out");
    std::fs::create_dir(&dir).unwrap();
    let child = torture_jvm(
        &format!("out={}", dir.join("rec.jsonl").display()),
        &["define", "4", "2"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_until(Duration::from_secs(10), "the recording to start", || {
        std::fs::metadata(dir.join("rec.jsonl")).is_ok_and(|m| m.len() > 0)
    });
    std::fs::remove_dir_all(&dir).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(metascope_lines(&err, "deleted or replaced"), 1, "{err}");
}

/// Recordings hold the application's stacks and class names: only the
/// JVM's user may read them, whatever the umask (it used to be 0666 less
/// the umask, i.e. 0644 for most users: issue 9).
#[test]
fn the_recording_is_private_whatever_the_umask() {
    let session = Session::new();
    for umask in ["000", "022", "077"] {
        let recording = session.path(&format!("umask-{umask}.jsonl"));
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "umask {umask}; exec '{}' '-agentpath:{}=out={}' -version",
                java17().display(),
                agent_lib().display(),
                recording.display()
            ))
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let mode = std::fs::metadata(&recording).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "umask {umask}");
    }
}

#[test]
fn out_of_metaspace_names_the_call_site_that_filled_it() {
    let session = Session::new();
    let program = &metascope_harness::DYNAMIC_LOADER;
    let (out, recording) = session.run(
        &java17(),
        None,
        &[
            "-XX:MaxMetaspaceSize=64m",
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            program.main_class,
            "100000000",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the JVM died of the OOM: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("OutOfMemoryError: Metaspace"));
    let report = session.json_report(&recording, &[]);
    let oom = &report["recording"]["resource_exhausted"][0];
    assert_eq!(oom["description"], "Metaspace", "{}", report["recording"]);
    let filled_by = &oom["filled_by"];
    assert!(
        filled_by["display"]
            .as_str()
            .unwrap()
            .contains("com.acme.demo.JsonWriter.writerFor(JsonWriter.java:"),
        "{filled_by}"
    );
    assert!(
        filled_by["classes_before"].as_u64().unwrap() > 10_000,
        "{filled_by}"
    );
    let text = metascope().arg("report").arg(&recording).output().unwrap();
    let text = stdout(&text);
    assert!(text.contains("ran out of Metaspace"), "{text}");
}

#[test]
fn exit_on_out_of_memory_error_still_ends_with_a_summary() {
    let session = Session::new();
    let (out, recording) = session.run(
        &java17(),
        None,
        &[
            "-XX:+ExitOnOutOfMemoryError",
            "-XX:MaxMetaspaceSize=64m",
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            metascope_harness::DYNAMIC_LOADER.main_class,
            "100000000",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report = session.json_report(&recording, &[]);
    // HotSpot exits before posting ResourceExhausted here; the agent's exit
    // handler still drains the queue and writes the summary.
    assert_eq!(report["recording"]["summary"]["reason"], "process_exit");
    assert_reconciles(&report);
    assert_eq!(
        call_sites(&report)[0]["application_frame"]["method"],
        "writerFor"
    );
    let warnings = report["recording"]["warnings"].as_array().unwrap();
    assert!(
        warnings.contains(&serde_json::json!({"warning": "exit_without_shutdown"})),
        "{warnings:?}"
    );
    // And the text report names the flag.
    let text = metascope().arg("report").arg(&recording).output().unwrap();
    assert!(text.status.success());
    assert!(
        stdout(&text).contains("ExitOnOutOfMemoryError"),
        "{}",
        stdout(&text)
    );
}
