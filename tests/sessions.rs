//! Recording sessions come and go in one JVM without leaving memory
//! behind: a stopped session frees its queue, caches and buffers.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use common::*;
use metascope_attach::load_agent;

/// A JVM with a fixed, pre-touched heap (so heap growth cannot pass for a
/// leak) that defines classes when told to.
struct Service {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Service {
    fn start() -> Service {
        let mut child = Command::new(java(17).expect("the JDK on PATH"))
            .args([
                "-Xms64m",
                "-Xmx64m",
                "-XX:+AlwaysPreTouch",
                "-Xss512k",
                "-cp",
                metascope_harness::HARNESS_JAR_PATH,
                "com.acme.torture.Torture",
                "on-stdin",
                "0",
                "5",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert!(line.contains("ready"), "{line}");
        Service {
            child,
            stdin,
            stdout,
        }
    }

    /// Defines a batch of classes and waits until they are defined.
    fn define(&mut self) {
        writeln!(self.stdin, "go").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(line.contains("defined"), "{line}");
    }

    /// A thread named `metascope-writer` (comm shows 15 bytes of it).
    fn has_writer_thread(&self) -> bool {
        let tasks = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(tasks)
            .map(|entries| {
                entries.flatten().any(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|comm| comm.starts_with("metascope-writ"))
                })
            })
            .unwrap_or(false)
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// One recording: attach with `options`, define a batch, stop.
    fn record_once(&mut self, dir: &std::path::Path, n: usize, options: &str) {
        let timeout = Duration::from_secs(20);
        let out = dir.join(format!("cycle-{n}.jsonl"));
        let pid = self.child.id();
        load_agent(
            pid,
            &agent_lib(),
            &format!("out={},{options}", out.display()),
            timeout,
        )
        .unwrap_or_else(|e| panic!("cycle {n}: {e}"));
        self.define();
        load_agent(pid, &agent_lib(), "stop", timeout).unwrap_or_else(|e| panic!("cycle {n}: {e}"));
        // The session is freed when its writer thread lets go of it, just
        // after acknowledging the summary: wait for the thread to end.
        wait_until(timeout, "the writer thread to end", || {
            !self.has_writer_thread()
        });
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.contains("\"type\":\"summary\""),
            "cycle {n} ended with a summary"
        );
        std::fs::remove_file(&out).unwrap();
    }

    fn finish(mut self) {
        drop(self.stdin);
        assert!(self.child.wait().unwrap().success());
    }
}

/// Grows the JVM's RSS by at most `limit_mib` over `cycles` sessions,
/// measured from after the first few (class loading and JIT warm-up of the
/// attach path itself are not a session's memory).
fn assert_cycles_free_their_memory(options: &str, cycles: usize, limit_mib: u64) {
    let scratch = tempfile::tempdir().unwrap();
    let mut service = Service::start();
    for n in 0..5 {
        service.record_once(scratch.path(), n, options);
    }
    let before = service.rss_kib();
    for n in 5..5 + cycles {
        service.record_once(scratch.path(), n, options);
    }
    let after = service.rss_kib();
    let grown_kib = after.saturating_sub(before);
    eprintln!(
        "{cycles} attach/stop cycles with `{options}`: RSS {before} KiB -> {after} KiB (+{} MiB)",
        grown_kib / 1024
    );
    assert!(
        grown_kib < limit_mib * 1024,
        "{cycles} cycles grew RSS by {grown_kib} KiB (limit {limit_mib} MiB)"
    );
    service.finish();
}

#[test]
fn a_hundred_attach_stop_cycles_grow_rss_by_less_than_10_mib() {
    assert_cycles_free_their_memory("depth=64", 100, 10);
}

/// A queue of a million records (about 48 MiB of slots) leaked 47 MiB per
/// cycle before sessions were freed.
#[test]
fn big_queues_are_given_back_when_a_session_stops() {
    assert_cycles_free_their_memory("queue=1000000", 20, 10);
}

/// `stop` works through any copy of the library: a copy that is not the
/// one recording hands the command to the one that is (the JVM was started
/// with -agentpath from one path, the operator's metascope has another).
#[test]
fn any_copy_of_the_library_can_stop_the_recording() {
    let scratch = tempfile::tempdir().unwrap();
    let first = scratch.path().join("first/libmetascope_agent.so");
    let second = scratch.path().join("second/libmetascope_agent.so");
    for copy in [&first, &second] {
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(agent_lib(), copy).unwrap();
    }
    let out = scratch.path().join("rec.jsonl");
    let mut child = Command::new(java(17).expect("the JDK on PATH"))
        .arg(format!(
            "-agentpath:{}=out={}",
            first.display(),
            out.display()
        ))
        .args([
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            "com.acme.torture.Torture",
            "on-stdin",
            "0",
            "5",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    load_agent(child.id(), &second, "stop", Duration::from_secs(20)).unwrap();
    // Agent_OnAttach returns once the writer has written the summary.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"reason\":\"stopped\""), "{text}");
    drop(child.stdin.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let err = stderr(&output);
    assert!(err.contains("metascope: recording stopped"), "{err}");
    assert!(!err.contains("another copy"), "{err}");
}
