//! A closed or full stderr never changes the JVM's exit code.
//!
//! Every message the agent can print is provoked once with a readable
//! stderr (the test sees the message, so the path really ran) and then
//! with stderr a closed pipe, `/dev/full` and a closed descriptor; the JVM
//! must end with the same exit code each time. Load-time errors end the
//! JVM with HotSpot's own code 1; everything later leaves the program's own
//! code (7 here) untouched.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use metascope_attach::load_agent;

const TORTURE: &str = "com.acme.torture.Torture";
/// The program's own exit code (`Torture on-stdin 7`).
const OWN_CODE: i32 = 7;
const LOAD_FAILED: i32 = 1;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stderr {
    Captured,
    ClosedPipe,
    Full,
    Closed,
}

const EVERY_STDERR: [Stderr; 4] = [
    Stderr::Captured,
    Stderr::ClosedPipe,
    Stderr::Full,
    Stderr::Closed,
];

/// What the test does with the running JVM.
#[derive(Clone, Copy)]
enum Steps {
    /// The agent refuses to load: the JVM never gets to `ready`.
    LoadFails,
    /// One batch of definitions, then the end of stdin.
    Define,
    /// Removes the dump directory, then one batch.
    DefineWithoutDumpDir,
    /// Attach-time messages: census failure, already recording, stopped,
    /// not recording.
    AttachCycle,
}

struct Scenario {
    name: &'static str,
    /// Agent options given `dir`, a scratch directory; `None` = no agent
    /// at start (attached later).
    options: fn(&Path) -> Option<String>,
    /// A second copy of the agent library on the command line.
    second_copy: bool,
    steps: Steps,
    /// Substrings of the agent's lines a readable stderr must show.
    messages: &'static [&'static str],
    code: i32,
}

fn rec(dir: &Path) -> String {
    dir.join("rec.jsonl").display().to_string()
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "malformed option",
        options: |_| Some("depth=deep".into()),
        second_copy: false,
        steps: Steps::LoadFails,
        messages: &["depth=deep is not a number"],
        code: LOAD_FAILED,
    },
    Scenario {
        name: "unwritable recording",
        options: |_| Some("out=/nonexistent-dir/x.jsonl".into()),
        second_copy: false,
        steps: Steps::LoadFails,
        messages: &["cannot write the recording to /nonexistent-dir/x.jsonl"],
        code: LOAD_FAILED,
    },
    Scenario {
        name: "bad live socket",
        options: |dir| Some(format!("out={},socket=/nonexistent-dir/s", rec(dir))),
        second_copy: false,
        steps: Steps::LoadFails,
        messages: &["cannot create the live socket"],
        code: LOAD_FAILED,
    },
    Scenario {
        name: "two copies of the library",
        options: |dir| Some(format!("out={}", rec(dir))),
        second_copy: true,
        steps: Steps::LoadFails,
        messages: &["another copy of the agent library is already loaded"],
        code: LOAD_FAILED,
    },
    Scenario {
        name: "full disk",
        options: |_| Some("out=/dev/full".into()),
        second_copy: false,
        steps: Steps::Define,
        messages: &["cannot write the recording to /dev/full"],
        code: OWN_CODE,
    },
    Scenario {
        name: "panic in ClassLoad",
        options: |dir| Some(format!("out={},fault=panic-in-class-load", rec(dir))),
        second_copy: false,
        steps: Steps::Define,
        messages: &["internal error in ClassLoad", "capture disabled"],
        code: OWN_CODE,
    },
    Scenario {
        name: "panic on the writer thread",
        options: |dir| Some(format!("out={},fault=panic-in-writer", rec(dir))),
        second_copy: false,
        steps: Steps::Define,
        messages: &["internal error in writer thread"],
        code: OWN_CODE,
    },
    Scenario {
        name: "a writer that never finishes",
        options: |dir| Some(format!("out={},fault=hang-writer", rec(dir))),
        second_copy: false,
        steps: Steps::Define,
        messages: &["the writer did not finish in time"],
        code: OWN_CODE,
    },
    Scenario {
        name: "no code sources",
        options: |dir| Some(format!("out={},fault=no-code-source", rec(dir))),
        second_copy: false,
        steps: Steps::Define,
        messages: &["cannot read code sources"],
        code: OWN_CODE,
    },
    Scenario {
        name: "no writer thread",
        options: |dir| Some(format!("out={},fault=no-writer-thread", rec(dir))),
        second_copy: false,
        steps: Steps::Define,
        messages: &["cannot start the writer thread"],
        code: OWN_CODE,
    },
    Scenario {
        name: "class files that cannot be dumped",
        options: |dir| {
            Some(format!(
                "out={},dump={}",
                rec(dir),
                dir.join("dump").display()
            ))
        },
        second_copy: false,
        steps: Steps::DefineWithoutDumpDir,
        messages: &["cannot dump com.acme.torture.Gen_0_0"],
        code: OWN_CODE,
    },
    Scenario {
        name: "attach, census failure, already recording, stop, not recording",
        options: |_| None,
        second_copy: false,
        steps: Steps::AttachCycle,
        messages: &[
            "cannot list the loaded classes (injected fault)",
            "already recording to",
            "recording stopped",
            "not recording; nothing to stop",
        ],
        code: OWN_CODE,
    },
];

fn spawn(scenario: &Scenario, dir: &Path, stderr: Stderr) -> Child {
    let java = java(17).expect("the JDK on PATH is required");
    let mut jvm_args: Vec<String> = Vec::new();
    if let Some(options) = (scenario.options)(dir) {
        jvm_args.push(format!("-agentpath:{}={options}", agent_lib().display()));
    }
    if scenario.second_copy {
        let copy = dir.join("libmetascope_agent_copy.so");
        std::fs::copy(agent_lib(), &copy).unwrap();
        jvm_args.push(format!("-agentpath:{}", copy.display()));
    }
    jvm_args.extend(
        [
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            TORTURE,
            "on-stdin",
            &OWN_CODE.to_string(),
            "20",
        ]
        .map(String::from),
    );
    let mut command = if stderr == Stderr::Closed {
        let mut sh = Command::new("sh");
        sh.args(["-c", "exec \"$0\" \"$@\" 2>&-"]).arg(&java);
        sh
    } else {
        Command::new(&java)
    };
    command
        .args(&jvm_args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    match stderr {
        Stderr::Captured => {
            command.stderr(Stdio::piped());
        }
        Stderr::ClosedPipe => {
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            command.stderr(writer);
        }
        Stderr::Full => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            command.stderr(full);
        }
        Stderr::Closed => {}
    }
    command.spawn().unwrap()
}

/// Runs one scenario with one kind of stderr; returns the exit code and
/// what a captured stderr said.
fn run(scenario: &Scenario, stderr: Stderr) -> (i32, String) {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    std::fs::create_dir(dir.join("dump")).unwrap();
    let mut child = spawn(scenario, dir, stderr);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    let mut next_line = |line: &mut String| {
        line.clear();
        stdout.read_line(line).unwrap();
    };
    if !matches!(scenario.steps, Steps::LoadFails) {
        next_line(&mut line);
        assert!(line.contains("ready"), "{}: {line}", scenario.name);
    }
    match scenario.steps {
        Steps::LoadFails => {}
        Steps::Define | Steps::DefineWithoutDumpDir => {
            if matches!(scenario.steps, Steps::DefineWithoutDumpDir) {
                std::fs::remove_dir(dir.join("dump")).unwrap();
            }
            writeln!(stdin, "go").unwrap();
            next_line(&mut line);
            assert!(line.contains("defined 20"), "{}: {line}", scenario.name);
        }
        Steps::AttachCycle => {
            let pid = child.id();
            let timeout = Duration::from_secs(20);
            let out = format!("out={},fault=census-error", rec(dir));
            load_agent(pid, &agent_lib(), &out, timeout).unwrap();
            load_agent(
                pid,
                &agent_lib(),
                &format!("out={}", dir.join("second.jsonl").display()),
                timeout,
            )
            .unwrap();
            writeln!(stdin, "go").unwrap();
            next_line(&mut line);
            assert!(line.contains("defined 20"), "{}: {line}", scenario.name);
            load_agent(pid, &agent_lib(), "stop", timeout).unwrap();
            load_agent(pid, &agent_lib(), "stop", timeout).unwrap();
        }
    }
    drop(stdin);
    let mut captured = String::new();
    if let Some(mut err) = child.stderr.take() {
        std::io::Read::read_to_string(&mut err, &mut captured).unwrap();
    }
    let status = child.wait().unwrap();
    let code = status
        .code()
        .unwrap_or_else(|| panic!("{} with {stderr:?}: killed by {status}", scenario.name));
    (code, captured)
}

fn recording_summary(path: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|r| r["type"] == "summary")
}

#[test]
fn every_agent_message_leaves_the_exit_code_alone_whatever_stderr_is() {
    std::thread::scope(|scope| {
        for scenario in SCENARIOS {
            scope.spawn(move || {
                for stderr in EVERY_STDERR {
                    let (code, said) = run(scenario, stderr);
                    assert_eq!(
                        code, scenario.code,
                        "{} with stderr {stderr:?}: exit code\n{said}",
                        scenario.name
                    );
                    if stderr == Stderr::Captured {
                        for message in scenario.messages {
                            assert!(
                                said.lines()
                                    .any(|l| l.starts_with("metascope: ") && l.contains(message)),
                                "{}: no `{message}` line in\n{said}",
                                scenario.name
                            );
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn a_dump_that_fails_for_one_class_keeps_recording_and_counts_it() {
    let scenario = SCENARIOS
        .iter()
        .find(|s| matches!(s.steps, Steps::DefineWithoutDumpDir))
        .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let dir: PathBuf = scratch.path().to_path_buf();
    std::fs::create_dir(dir.join("dump")).unwrap();
    let mut child = spawn(scenario, &dir, Stderr::Captured);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    std::fs::remove_dir(dir.join("dump")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "go").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(OWN_CODE));
    let err = stderr(&out);
    let dump_lines = err.lines().filter(|l| l.contains("cannot dump")).count();
    assert_eq!(dump_lines, 1, "one line, not one per class: {err}");
    let summary = recording_summary(&dir.join("rec.jsonl")).expect("a summary");
    assert_eq!(summary["classes_not_dumped"], 20, "{summary}");
    assert!(summary["captured"].as_u64().unwrap() >= 20, "{summary}");
}
