//! A synthetic recording of distinct stacks, streamed to a file, and the
//! peak RSS of the `metascope report` that reads it: shared by
//! stack_memory.rs (128 MiB, always run) and stack_memory_gib.rs (1 GiB).
//!
//! Each of those test binaries runs one `metascope` child at a time and
//! nothing else, so `getrusage(RUSAGE_CHILDREN)` is that child's peak.
#![allow(dead_code)] // each test binary uses its own subset

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::Value;

/// The documented bound (docs/report.md, "Memory and scale"): a report
/// takes at most this much besides the stack memory cap...
const BASE_MIB: f64 = 32.0;
/// ...and this much per distinct stack past the cap (its id and call
/// sites, here with a caller of its own)...
const PER_STACK_BYTES: f64 = 512.0;
/// ...and the flame graph drawn from the kept frames this much more, in
/// caps: the folded text, or the SVG (`svg`, `html`).
const FOLDED_CAPS: f64 = 0.5;
const SVG_CAPS: f64 = 1.5;

/// Distinct call sites the stacks go through (the application frame and
/// its library entry are the only frames stacks share).
const SITES: u64 = 40;
/// Frames per stack.
const DEPTH: usize = 64;
/// Index of the application frame: library frames inside it, callers
/// outside.
const APP_AT: usize = 24;

/// A recording being written line by line.
struct Lines {
    out: BufWriter<File>,
    written: u64,
}

impl Lines {
    fn push(&mut self, line: &str) {
        self.out.write_all(line.as_bytes()).unwrap();
        self.out.write_all(b"\n").unwrap();
        self.written += line.len() as u64 + 1;
    }
}

/// One frame of a stack: the define point, library frames unique to the
/// stack, the library entry and application frame of its call site, then
/// callers unique to the stack.
fn frame(stack: u64, site: u64, f: usize) -> String {
    match f {
        0 => r#"{"class":"java.lang.ClassLoader","method":"defineClass1","sig":"()V","native":true}"#.to_string(),
        f if f < APP_AT - 1 => format!(
            r#"{{"class":"org.springframework.gen.s{stack}.Step{f}","method":"apply{f}","sig":"(Ljava/lang/Object;)Ljava/lang/Object;","line":{f},"file":"Step{f}.java"}}"#
        ),
        f if f == APP_AT - 1 => r#"{"class":"org.springframework.beans.BeanUtils","method":"copyProperties","sig":"(Ljava/lang/Object;Ljava/lang/Object;)V","line":627,"file":"BeanUtils.java"}"#.to_string(),
        f if f == APP_AT => format!(
            r#"{{"class":"com.acme.app.Service{site}","method":"handle","sig":"()V","line":{},"file":"Service{site}.java"}}"#,
            100 + site
        ),
        f => format!(
            r#"{{"class":"com.acme.app.callers.c{stack}.Caller{f}","method":"run{f}","sig":"()V","line":{f},"file":"Caller{f}.java"}}"#
        ),
    }
}

/// What [`write_distinct_stacks`] wrote.
pub struct Written {
    pub bytes: u64,
    pub stacks: u64,
    pub classes: u64,
    /// Classes per call site (`site` = stack id % [`SITES`]).
    pub per_site: Vec<u64>,
}

/// Writes a recording of at least `bytes` bytes: stacks of [`DEPTH`]
/// frames, their class names unique to the stack, each followed by the
/// class defined with it; every 8th stack is also followed by a class on
/// an earlier stack (kept or summarised alike).
pub fn write_distinct_stacks(path: &Path, bytes: u64) -> Written {
    let mut lines = Lines {
        out: BufWriter::with_capacity(1 << 20, File::create(path).unwrap()),
        written: 0,
    };
    lines.push(
        r#"{"type":"header","schema":1,"agent_version":"0.1.0","pid":4242,"java_version":"17.0.9","java_vm_name":"OpenJDK 64-Bit Server VM","start_wall_ms":1763900000000,"options":{"out":"/tmp/distinct.jsonl","depth":64,"mode":"dynamic","include":[],"queue":65536},"attached":false}"#,
    );
    let mut per_site = vec![0u64; SITES as usize];
    let (mut stack, mut seq) = (0u64, 0u64);
    let mut class = |on: u64, lines: &mut Lines| {
        seq += 1;
        per_site[(on % SITES) as usize] += 1;
        lines.push(&format!(
            r#"{{"type":"class","seq":{seq},"name":"jdk.internal.reflect.GeneratedMethodAccessor{seq}","kind":"reflection_accessor","loader":{{"id":{seq},"type":"jdk.internal.reflect.DelegatingClassLoader"}},"hidden":false,"thread":"main","t_ns":{},"wall_ms":{},"event":"load","stack":{on}}}"#,
            seq * 1_000,
            1_763_900_000_000u64 + seq / 1_000
        ));
        seq
    };
    let mut classes = 0;
    while lines.written < bytes {
        stack += 1;
        let site = stack % SITES;
        let frames: Vec<String> = (0..DEPTH).map(|f| frame(stack, site, f)).collect();
        lines.push(&format!(
            r#"{{"type":"stack","id":{stack},"frames":[{}]}}"#,
            frames.join(",")
        ));
        classes = class(stack, &mut lines);
        if stack % 8 == 0 {
            classes = class(stack / 2, &mut lines);
        }
    }
    lines.push(&format!(
        r#"{{"type":"summary","classes_loaded":{classes},"seen":{classes},"captured":{classes},"dropped":0,"stack_errors":0,"events_dropped":0,"t_ns":{},"end_wall_ms":1763900100000,"reason":"vm_death"}}"#,
        classes * 1_000 + 1
    ));
    lines.out.flush().unwrap();
    Written {
        bytes: lines.written,
        stacks: stack,
        classes,
        per_site,
    }
}

/// Peak RSS in KiB of the children this process has waited for (the
/// largest of them).
fn children_max_rss_kib() -> u64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    usage.max_rss() as u64
}

/// Which `metascope` reads the file: the one this test binary was built
/// with, or a release build (the 1 GiB test: minutes in a debug build).
#[derive(Clone, Copy)]
pub enum Build {
    ThisOne,
    Release,
}

impl Build {
    fn binary(self) -> std::path::PathBuf {
        match self {
            Build::ThisOne => env!("CARGO_BIN_EXE_metascope").into(),
            Build::Release => {
                // Built by scripts/test before the tests run: building it
                // here would make cargo's compilers children of this test
                // and spoil the children's peak RSS it measures.
                let debug: &Path = env!("CARGO_BIN_EXE_metascope").as_ref();
                let release = debug
                    .parent()
                    .and_then(Path::parent)
                    .expect("target/<profile>/metascope")
                    .join("release/metascope");
                let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
                // Stale if any source of the CLI changed after it was built.
                let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
                let newest_source = ["cli/src", "events/src", "cli/Cargo.toml", "Cargo.lock"]
                    .iter()
                    .flat_map(|p| files_under(&workspace.join(p)))
                    .filter_map(|p| modified(&p))
                    .max();
                let fresh =
                    matches!((modified(&release), newest_source), (Some(r), Some(s)) if r >= s);
                assert!(
                    fresh,
                    "{} is missing or older than the CLI's sources: run \
                     `cargo build --release -p metascope-cli` first (scripts/test does)",
                    release.display()
                );
                release
            }
        }
    }
}

/// Every file under `path` (or `path` itself).
fn files_under(path: &Path) -> Vec<std::path::PathBuf> {
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .flat_map(|e| files_under(&e.path()))
            .collect(),
        Err(_) => vec![path.to_path_buf()],
    }
}

/// Runs `metascope report FILE --top 0 ARGS` and returns its stdout.
fn report(binary: &Path, file: &Path, args: &[&str]) -> String {
    let out = Command::new(binary)
        .arg("report")
        .arg(file)
        .args(["--top", "0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run metascope report");
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The default of `--stack-memory` (`DEFAULT_STACK_MEMORY_MIB`).
pub const DEFAULT_CAP_MIB: u64 = 64;

/// Writes `bytes` of distinct stacks, reports them as JSON and as folded
/// stacks with `--stack-memory cap_mib` (the default when `None`), and
/// checks the call sites, the flame graph's totals and the peak RSS
/// against the documented bound.
pub fn report_within_the_cap(bytes: u64, cap_mib: Option<u64>, build: Build) {
    let binary = build.binary();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("distinct.jsonl");
    let started = Instant::now();
    let w = write_distinct_stacks(&path, bytes);
    eprintln!(
        "wrote {} MiB: {} stacks of {DEPTH} frames, {} classes, in {:.1} s",
        w.bytes >> 20,
        w.stacks,
        w.classes,
        started.elapsed().as_secs_f64()
    );

    let cap = cap_mib.map(|c| c.to_string());
    let option: Vec<&str> = match &cap {
        Some(c) => vec!["--stack-memory", c],
        None => vec![],
    };
    let cap_mib = cap_mib.unwrap_or(DEFAULT_CAP_MIB);
    let started = Instant::now();
    let json: Value = serde_json::from_str(&report(
        &binary,
        &path,
        &[&["--format", "json"][..], &option].concat(),
    ))
    .expect("the report is JSON");
    let took = started.elapsed().as_secs_f64();
    // The largest child so far: this one.
    let report_rss = children_max_rss_kib() as f64 / 1024.0;

    // Every class at its call site, each site with its sample stack (the
    // sites all appear among the first stacks, whose frames are kept).
    let sites = json["call_sites"].as_array().unwrap();
    assert_eq!(sites.len(), SITES as usize);
    for site in sites {
        let display = site["display"].as_str().unwrap();
        let n: u64 = display
            .strip_prefix("com.acme.app.Service")
            .and_then(|rest| rest.split('.').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("an unexpected call site: {display}"));
        assert_eq!(
            display,
            format!(
                "com.acme.app.Service{n}.handle(Service{n}.java:{})",
                100 + n
            )
        );
        assert_eq!(site["classes"], w.per_site[n as usize], "{display}");
        assert_eq!(
            site["library_entry"]["display"],
            "org.springframework.beans.BeanUtils.copyProperties"
        );
        assert_eq!(site["sample_stack"].as_array().unwrap().len(), DEPTH);
        assert_eq!(site["sample_stack_summarised"], false);
    }
    assert_eq!(json["recording"]["totals"]["attributed"], w.classes);
    let warnings = json["recording"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // "N of M distinct stacks were summarised to their call site, their
    // frames not kept: the frames kept reached the stack memory cap ..."
    let warning = &warnings[0];
    assert_eq!(warning["warning"], "stacks_summarised", "{warning}");
    let summarised = warning["stacks"].as_u64().unwrap();
    assert!(
        summarised > w.stacks / 2
            && warning["of"] == w.stacks
            && warning["stack_memory_mib"] == cap_mib,
        "{warning}"
    );

    // The flame graph: every class, the summarised ones per call site.
    let folded = report(
        &binary,
        &path,
        &[&["--format", "folded"][..], &option].concat(),
    );
    let mut total = 0;
    let mut per_site_lines = 0;
    for line in folded.lines() {
        let (stack, n) = line.rsplit_once(' ').unwrap();
        total += n.parse::<u64>().unwrap();
        if stack.starts_with("(stacks summarised);") {
            let frames: Vec<&str> = stack.split(';').collect();
            assert_eq!(frames.len(), 3, "{stack}");
            assert!(frames[1].starts_with("com.acme.app.Service"), "{stack}");
            assert_eq!(
                frames[2],
                "org.springframework.beans.BeanUtils.copyProperties"
            );
            per_site_lines += 1;
        } else {
            assert_eq!(stack.split(';').count(), DEPTH, "{stack}");
        }
    }
    assert_eq!(total, w.classes);
    assert_eq!(per_site_lines, SITES);

    // Children's peaks are known as a running maximum: each bound
    // below is above the one before, so each run is held to its own.
    let folded_rss = children_max_rss_kib() as f64 / 1024.0;
    let svg = report(
        &binary,
        &path,
        &[&["--format", "svg"][..], &option].concat(),
    );
    assert!(svg.contains("(stacks summarised)") && svg.trim_end().ends_with("</svg>"));
    let svg_rss = children_max_rss_kib() as f64 / 1024.0;

    let cap = cap_mib as f64;
    let bound = BASE_MIB + cap + summarised as f64 * PER_STACK_BYTES / (1 << 20) as f64;
    eprintln!(
        "stack memory {cap_mib} MiB, {summarised} of {} stacks summarised; peak RSS: \
         report {report_rss:.0} MiB (bound {bound:.0}, JSON in {took:.1} s), \
         folded {folded_rss:.0} MiB (bound {:.0}), svg {svg_rss:.0} MiB (bound {:.0})",
        w.stacks,
        bound + FOLDED_CAPS * cap,
        bound + SVG_CAPS * cap,
    );
    for (what, rss, bound) in [
        ("report", report_rss, bound),
        ("folded", folded_rss, bound + FOLDED_CAPS * cap),
        ("svg", svg_rss, bound + SVG_CAPS * cap),
    ] {
        assert!(
            rss <= bound,
            "{what}: peak RSS {rss:.0} MiB is over the documented {bound:.0} MiB"
        );
    }
}
