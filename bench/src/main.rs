//! `scripts/bench`: overhead of the metascope agent and CLI against no agent,
//! JFR, -Xlog:class+load and a minimal C JVMTI agent (the floor of the
//! technique). Method, workloads and a full run: docs/performance.md.
#![deny(unsafe_code)]
// `is_multiple_of` is newer than the workspace's rust-version (1.85).
#![allow(unknown_lints, clippy::manual_is_multiple_of)]

mod classgen;
mod jfr_reader;
mod proc;
mod stream;
mod sys;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::Parser;
use comfy_table::{presets, Cell, CellAlignment, ContentArrangement, Table};

/// Benchmark the metascope agent and CLI (see docs/performance.md).
#[derive(Parser, Debug)]
#[command(name = "scripts/bench")]
struct Args {
    /// Short smoke run: 2 runs, 10,000 generated classes, a 2 s steady loop,
    /// no 10M-event stream.
    #[arg(long)]
    quick: bool,
    /// Timed runs per workload and variant (the start-up probe and the JFR
    /// reader run four times as many, the loading workloads three times).
    /// Default 5 (2 with --quick).
    #[arg(long)]
    runs: Option<usize>,
    /// Also write the results as Markdown to FILE.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Do not run `cargo build --release -p metascope-agent -p metascope-cli` first.
    #[arg(long)]
    skip_build: bool,
    /// Run only these workloads (comma-separated:
    /// startup,load,load-minimal,generate,steady,cli,jfr-reader).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Leave out the diagnostic variants (C floor with an empty
    /// ClassFileLoadHook, C ClassLoad without stack, metascope depth=0).
    #[arg(long)]
    no_diag: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Variant {
    None,
    Metascope,
    MetascopeAll,
    JfrClasses,
    JfrDefault,
    Xlog,
    Floor,
    /// C agent: ClassLoad + GetClassSignature per class, the floor for
    /// knowing which classes load at all.
    FloorSignature,
    DiagFloorCflh,
    DiagFloorNoStack,
    DiagMetascopeDepth0,
    /// No agent at start; after warm-up metascope is attached, records
    /// briefly and is stopped, then throughput is measured.
    AttachedThenStopped,
}

const MAIN_VARIANTS: [Variant; 8] = [
    Variant::None,
    Variant::Metascope,
    Variant::MetascopeAll,
    Variant::JfrClasses,
    Variant::JfrDefault,
    Variant::Xlog,
    Variant::Floor,
    Variant::FloorSignature,
];
const DIAG_VARIANTS: [Variant; 3] = [
    Variant::DiagFloorNoStack,
    Variant::DiagFloorCflh,
    Variant::DiagMetascopeDepth0,
];

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::None => "no agent",
            Variant::Metascope => "metascope (mode=dynamic)",
            Variant::MetascopeAll => "metascope mode=all",
            Variant::JfrClasses => "JFR default + class events",
            Variant::JfrDefault => "JFR default",
            Variant::Xlog => "-Xlog:class+load",
            Variant::Floor => "C floor (GetStackTrace 64)",
            Variant::FloorSignature => "C ClassLoad + GetClassSignature",
            Variant::DiagFloorNoStack => "diag: C ClassLoad, no stack",
            Variant::DiagFloorCflh => "diag: C floor + empty CFLH",
            Variant::DiagMetascopeDepth0 => "diag: metascope depth=0",
            Variant::AttachedThenStopped => "metascope attached, then stopped",
        }
    }

    /// JVM options for this variant; its output goes into `tmp`.
    fn jvm_args(self, ctx: &Ctx, tmp: &Path) -> Vec<String> {
        let agent = ctx.agent.display();
        let floor = ctx.floor.display();
        let rec = tmp.join("recording.jsonl");
        let rec = rec.display();
        let jfr = |extra: &str| {
            vec![format!(
                "-XX:StartFlightRecording:settings=default{extra},filename={},dumponexit=true",
                tmp.join("recording.jfr").display()
            )]
        };
        match self {
            Variant::None => vec![],
            Variant::Metascope => vec![format!("-agentpath:{agent}=out={rec}")],
            Variant::MetascopeAll => vec![format!("-agentpath:{agent}=out={rec},mode=all")],
            Variant::DiagMetascopeDepth0 => vec![format!("-agentpath:{agent}=out={rec},depth=0")],
            // JDK 17 takes event-setting overrides on the command line
            // (`+event#setting=value`), so no custom .jfc is needed.
            Variant::JfrClasses => jfr(
                ",+jdk.ClassLoad#enabled=true,+jdk.ClassLoad#stackTrace=true,+jdk.ClassLoad#threshold=0 ms\
                 ,+jdk.ClassDefine#enabled=true,+jdk.ClassDefine#stackTrace=true",
            ),
            Variant::JfrDefault => jfr(""),
            Variant::Xlog => vec![format!("-Xlog:class+load:file={}", tmp.join("class-load.log").display())],
            Variant::Floor => vec![format!("-agentpath:{floor}")],
            Variant::FloorSignature => vec![format!("-agentpath:{floor}=sig")],
            Variant::DiagFloorCflh => vec![format!("-agentpath:{floor}=cflh")],
            Variant::DiagFloorNoStack => vec![format!("-agentpath:{floor}=nostack")],
            // SteadyService waits after warm-up until the gate file exists.
            Variant::AttachedThenStopped => {
                vec![format!("-Dbench.gate={}", tmp.join("gate").display())]
            }
        }
    }

    fn is_metascope(self) -> bool {
        matches!(
            self,
            Variant::Metascope | Variant::MetascopeAll | Variant::DiagMetascopeDepth0
        )
    }
}

struct Ctx {
    cache: PathBuf,
    java: PathBuf,
    agent: PathBuf,
    cli: PathBuf,
    floor: PathBuf,
    harness_jar: PathBuf,
    ordinary_jar: PathBuf,
    minimal_jar: PathBuf,
}

/// One JVM or CLI run's numbers.
#[derive(Clone, Debug, Default)]
struct Sample {
    wall_s: f64,
    /// User + system CPU time of the child (all its threads).
    cpu_s: f64,
    rss_mib: f64,
    /// Workload-reported metric (ops/s for the steady loop).
    metric: Option<f64>,
    /// CPU time of the workload's own threads, as they report it (agent
    /// callbacks run on them; the JIT, GC and the agent's writer do not).
    workload_cpu_s: Option<f64>,
    /// metascope's own summary, for its variants.
    agent: Option<AgentFigures>,
}

/// What metascope's summary record said about a run.
#[derive(Clone, Copy, Debug, Default)]
struct AgentFigures {
    dropped: u64,
    /// Self-reported: time in callbacks on application threads.
    callback_s: f64,
    /// Self-reported: the writer thread's CPU time.
    writer_cpu_s: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Workload {
    Startup,
    Load,
    LoadMinimal,
    Generate,
    Steady,
    Cli,
    JfrReader,
}

impl Workload {
    fn key(self) -> &'static str {
        match self {
            Workload::Startup => "startup",
            Workload::Load => "load",
            Workload::LoadMinimal => "load-minimal",
            Workload::Generate => "generate",
            Workload::Steady => "steady",
            Workload::Cli => "cli",
            Workload::JfrReader => "jfr-reader",
        }
    }
}

struct Params {
    runs: usize,
    load_classes: u32,
    gen_threads: u32,
    gen_per_thread: u32,
    steady_warmup_s: f64,
    steady_s: f64,
    streams: Vec<u64>,
}

impl Params {
    fn generated(&self) -> u64 {
        2 * u64::from(self.gen_threads) * u64::from(self.gen_per_thread)
    }

    /// Runs of the loading workloads (a) and (a'): three times as many.
    /// Their target is 2% of a 0.6 s run, and medians of 5 moved by 9
    /// points between two full runs 15 minutes apart (docs/performance.md).
    fn load_runs(&self) -> usize {
        self.runs * 3
    }
}

/// Results keyed by (workload, row label).
#[derive(Default)]
struct Results {
    rows: BTreeMap<(Workload, usize), Row>,
    notes: Vec<String>,
}

struct Row {
    workload: String,
    variant: String,
    samples: Vec<Sample>,
    /// Primary metric per sample (seconds, or ops/s, or events/s).
    unit: &'static str,
    higher_is_better: bool,
    baseline: Option<f64>,
    derived: String,
}

impl Row {
    fn primary(&self) -> Vec<f64> {
        self.samples
            .iter()
            .map(|s| s.metric.unwrap_or(s.wall_s))
            .collect()
    }
    fn median(&self) -> f64 {
        median(&self.primary())
    }
    fn best(&self) -> f64 {
        let v = self.primary();
        if self.higher_is_better {
            v.iter().cloned().fold(f64::MIN, f64::max)
        } else {
            v.iter().cloned().fold(f64::MAX, f64::min)
        }
    }
    fn cpu_median(&self) -> f64 {
        median(&self.samples.iter().map(|s| s.cpu_s).collect::<Vec<_>>())
    }
    fn rss_median(&self) -> f64 {
        median(&self.samples.iter().map(|s| s.rss_mib).collect::<Vec<_>>())
    }
    /// Median of metascope's self-reported cost (callbacks + writer CPU).
    fn self_reported_median(&self) -> Option<f64> {
        let v: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.agent.map(|a| a.callback_s + a.writer_cpu_s))
            .collect();
        (!v.is_empty()).then(|| median(&v))
    }
    /// Median CPU time of the workload's own threads, if every run said.
    fn workload_cpu_median(&self) -> Option<f64> {
        let v: Option<Vec<f64>> = self.samples.iter().map(|s| s.workload_cpu_s).collect();
        v.filter(|v| !v.is_empty()).map(|v| median(&v))
    }
    /// Median of one of metascope's self-reported figures.
    fn agent_median(&self, figure: fn(&AgentFigures) -> f64) -> Option<f64> {
        let v: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.agent.as_ref().map(figure))
            .collect();
        (!v.is_empty()).then(|| median(&v))
    }
    fn max_dropped(&self) -> Option<u64> {
        self.samples
            .iter()
            .filter_map(|s| s.agent.map(|a| a.dropped))
            .max()
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == proc::MEASURE_ARG) {
        if let Err(e) = proc::measure_child(&args[2..]) {
            eprintln!("bench: measuring a child: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("bench: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let params = Params {
        runs: args.runs.unwrap_or(if args.quick { 2 } else { 5 }).max(1),
        load_classes: 20_000,
        gen_threads: 4,
        gen_per_thread: if args.quick { 1_250 } else { 6_250 },
        steady_warmup_s: if args.quick { 1.0 } else { 2.0 },
        steady_s: if args.quick { 2.0 } else { 8.0 },
        streams: if args.quick {
            vec![1_000_000]
        } else {
            vec![1_000_000, 10_000_000]
        },
    };
    let wanted = |w: Workload| args.only.is_empty() || args.only.iter().any(|o| o == w.key());
    let ctx = prepare(&args, &params)?;
    let mut variants: Vec<Variant> = MAIN_VARIANTS.to_vec();
    if !args.no_diag {
        variants.extend(DIAG_VARIANTS);
    }
    let mut results = Results::default();
    let env = environment(&ctx);
    eprintln!("{env}");

    if wanted(Workload::Startup) {
        let runs = params.runs * 4;
        bench_jvm(
            &ctx,
            &mut results,
            Workload::Startup,
            "start-up (trivial main)",
            &variants,
            runs,
            true,
            |_| {
                vec![
                    "-cp".into(),
                    ctx.harness_jar.display().to_string(),
                    "com.acme.bench.Trivial".into(),
                ]
            },
            false,
        )?;
    }
    if wanted(Workload::Load) {
        let cp = format!(
            "{}:{}",
            ctx.harness_jar.display(),
            ctx.ordinary_jar.display()
        );
        let n = params.load_classes;
        bench_jvm(
            &ctx,
            &mut results,
            Workload::Load,
            &format!("(a) load {} classes", thousands(n as u64)),
            &variants,
            params.load_runs(),
            false,
            |_| {
                vec![
                    "-cp".into(),
                    cp.clone(),
                    "com.acme.bench.LoadClasses".into(),
                    n.to_string(),
                    classgen::PREFIX.into(),
                ]
            },
            false,
        )?;
    }
    if wanted(Workload::LoadMinimal) {
        let cp = format!(
            "{}:{}",
            ctx.harness_jar.display(),
            ctx.minimal_jar.display()
        );
        let n = params.load_classes;
        bench_jvm(
            &ctx,
            &mut results,
            Workload::LoadMinimal,
            &format!(
                "(a') load {} minimal classes, not initialised",
                thousands(n as u64)
            ),
            &variants,
            params.load_runs(),
            false,
            |_| {
                vec![
                    "-cp".into(),
                    cp.clone(),
                    "com.acme.bench.LoadClasses".into(),
                    n.to_string(),
                    classgen::PREFIX.into(),
                    "noinit".into(),
                ]
            },
            false,
        )?;
    }
    if wanted(Workload::Generate) {
        let title = format!(
            "(b) generate {} classes, {} threads",
            thousands(params.generated()),
            params.gen_threads
        );
        bench_jvm(
            &ctx,
            &mut results,
            Workload::Generate,
            &title,
            &variants,
            params.runs,
            false,
            |_| {
                vec![
                    "-Dsun.reflect.noInflation=true".into(),
                    "-cp".into(),
                    ctx.harness_jar.display().to_string(),
                    "com.acme.bench.GenerateClasses".into(),
                    params.gen_threads.to_string(),
                    params.gen_per_thread.to_string(),
                ]
            },
            false,
        )?;
        per_class_costs(&mut results, params.generated());
    }
    if wanted(Workload::Steady) {
        let title = format!("(c) steady loop, {} s", params.steady_s);
        let mut variants = MAIN_VARIANTS.to_vec();
        variants.push(Variant::AttachedThenStopped);
        bench_jvm(
            &ctx,
            &mut results,
            Workload::Steady,
            &title,
            &variants,
            params.runs,
            false,
            |_| {
                vec![
                    "-cp".into(),
                    ctx.harness_jar.display().to_string(),
                    "com.acme.bench.SteadyService".into(),
                    params.steady_warmup_s.to_string(),
                    params.steady_s.to_string(),
                ]
            },
            true,
        )?;
    }
    if wanted(Workload::Cli) {
        bench_cli(&ctx, &mut results, &params)?;
    }
    if wanted(Workload::JfrReader) {
        bench_jfr_reader(&ctx, &mut results, &params)?;
    }

    let (table, md_table) = render_table(&results);
    let targets = evaluate_targets(&results, &params);
    println!("{table}");
    for n in &results.notes {
        println!("note: {n}");
    }
    println!("\nTargets:");
    for t in &targets {
        println!("  {t}");
    }
    if let Some(path) = &args.markdown {
        let mut md = String::new();
        writeln!(md, "```text\n{env}\n```\n")?;
        writeln!(md, "{md_table}\n")?;
        for n in &results.notes {
            writeln!(md, "- note: {n}")?;
        }
        writeln!(md, "\nTargets:\n")?;
        for t in &targets {
            writeln!(md, "- {t}")?;
        }
        std::fs::write(path, md).with_context(|| format!("write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn prepare(args: &Args, params: &Params) -> Result<Ctx> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"));
    let cache = target.join("bench-cache");
    std::fs::create_dir_all(&cache)?;
    if !args.skip_build {
        eprintln!("bench: cargo build --release -p metascope-agent -p metascope-cli");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--quiet",
                "-p",
                "metascope-agent",
                "-p",
                "metascope-cli",
            ])
            .status()?;
        if !status.success() {
            bail!("cargo build failed");
        }
    }
    let agent = target.join("release/libmetascope_agent.so");
    let cli = target.join("release/metascope");
    for p in [&agent, &cli] {
        if !p.is_file() {
            bail!("{} is missing: build with cargo build --release -p metascope-agent -p metascope-cli", p.display());
        }
    }
    let java = which("java").context("java not on PATH")?;
    let java_home = std::fs::canonicalize(&java)?
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .context("cannot find JAVA_HOME from java")?;
    let floor = cache.join("libfloor_agent.so");
    let floor_src = root.join("bench/floor_agent.c");
    let stale = match (std::fs::metadata(&floor), std::fs::metadata(&floor_src)) {
        (Ok(so), Ok(src)) => so.modified()? < src.modified()?,
        _ => true,
    };
    if stale {
        let out = Command::new("cc")
            .args(["-O2", "-Wall", "-shared", "-fPIC"])
            .arg(format!("-I{}", java_home.join("include").display()))
            .arg(format!("-I{}", java_home.join("include/linux").display()))
            .arg(&floor_src)
            .arg("-o")
            .arg(&floor)
            .output()
            .context("cannot run cc")?;
        if !out.status.success() {
            bail!(
                "cc failed building the floor agent:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let jar_tool = java_home.join("bin/jar");
    let ordinary_jar = classgen::ordinary_jar(&cache, params.load_classes, &jar_tool)?;
    let minimal_jar = classgen::minimal_jar(&cache, params.load_classes, &jar_tool)?;
    Ok(Ctx {
        cache,
        java,
        agent,
        cli,
        floor,
        harness_jar: PathBuf::from(metascope_harness::HARNESS_JAR_PATH),
        ordinary_jar,
        minimal_jar,
    })
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn environment(ctx: &Ctx) -> String {
    let java = Command::new(&ctx.java)
        .arg("-version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .nth(1)
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "machine: {cores} cores ({cpu}), {mem_gib:.0} GiB, Linux {}\njava: {java}",
        kernel.trim()
    )
}

/// Runs `variants` round-robin: for each run index every variant once, the
/// order rotated by one per run index so no variant always goes first.
#[allow(clippy::too_many_arguments)]
fn bench_jvm(
    ctx: &Ctx,
    results: &mut Results,
    workload: Workload,
    title: &str,
    variants: &[Variant],
    runs: usize,
    warm_every_variant: bool,
    program: impl Fn(Variant) -> Vec<String>,
    reports_ops: bool,
) -> Result<()> {
    // Untimed warm-up (page cache, CDS archive, the .so files).
    let warm: Vec<Variant> = if warm_every_variant {
        variants.to_vec()
    } else {
        vec![Variant::None]
    };
    for &v in &warm {
        run_jvm(ctx, v, &program(v), reports_ops)?;
    }
    let mut samples: BTreeMap<Variant, Vec<Sample>> = BTreeMap::new();
    for r in 0..runs {
        for i in 0..variants.len() {
            let v = variants[(i + r) % variants.len()];
            eprint!("\rbench: {title}: run {}/{runs} {:<32}", r + 1, v.label());
            let (sample, summary) = run_jvm(ctx, v, &program(v), reports_ops)?;
            if r == 0 && v.is_metascope() {
                if let Some(s) = summary {
                    results.notes.push(format!("{title}, {}: {s}", v.label()));
                }
            }
            samples.entry(v).or_default().push(sample);
        }
    }
    eprintln!();
    let baseline_row = Row {
        workload: String::new(),
        variant: String::new(),
        samples: samples.get(&Variant::None).cloned().unwrap_or_default(),
        unit: "",
        higher_is_better: reports_ops,
        baseline: None,
        derived: String::new(),
    };
    let base = baseline_row.median();
    for (i, v) in variants.iter().enumerate() {
        let s = samples.remove(v).unwrap_or_default();
        results.rows.insert(
            (workload, i),
            Row {
                workload: title.to_string(),
                variant: v.label().to_string(),
                samples: s,
                unit: if reports_ops { "ops/s" } else { "s" },
                higher_is_better: reports_ops,
                baseline: Some(base),
                derived: String::new(),
            },
        );
    }
    // Start-up: fixed cost in ms per variant.
    if matches!(
        workload,
        Workload::Startup | Workload::Load | Workload::LoadMinimal
    ) {
        for row in results
            .rows
            .range_mut((workload, 0)..(workload, usize::MAX))
            .map(|(_, r)| r)
        {
            if row.variant != Variant::None.label() {
                let best_base = baseline_row.best();
                row.derived = format!(
                    "{:+.1} ms (best {:+.1} ms)",
                    (row.median() - base) * 1000.0,
                    (row.best() - best_base) * 1000.0
                );
            }
        }
    }
    Ok(())
}

/// One JVM run in a fresh temp dir (deleted afterwards). Returns the sample
/// and, for metascope, a one-line digest of its summary record.
fn run_jvm(
    ctx: &Ctx,
    v: Variant,
    program: &[String],
    reports_ops: bool,
) -> Result<(Sample, Option<String>)> {
    let tmp = tempfile::Builder::new()
        .prefix("metascope-bench-")
        .tempdir()?;
    let mut cmd = Command::new(&ctx.java);
    cmd.args(v.jvm_args(ctx, tmp.path()))
        .args(program)
        .current_dir(tmp.path());
    let out = tmp.path().join("stdout.txt");
    let err = tmp.path().join("stderr.txt");
    let attacher = (v == Variant::AttachedThenStopped).then(|| {
        let (out, dir, agent) = (out.clone(), tmp.path().to_path_buf(), ctx.agent.clone());
        std::thread::spawn(move || attach_then_stop(&out, &dir, &agent))
    });
    let m = proc::run(&mut cmd, Some(&out), Some(&err))
        .with_context(|| format!("variant {}", v.label()))?;
    if let Some(attacher) = attacher {
        attacher
            .join()
            .map_err(|_| anyhow::anyhow!("the attacher thread panicked"))??;
    }
    let text = std::fs::read_to_string(&out)?;
    let workload_cpu_s = text
        .lines()
        .find_map(|l| l.strip_prefix("bench: workload_thread_cpu_ns="))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map(|ns| ns / 1e9);
    let metric = if reports_ops {
        let ops = text
            .lines()
            .find_map(|l| l.strip_prefix("bench: ops_per_sec="))
            .context("steady loop printed no ops_per_sec")?
            .trim()
            .parse::<f64>()?;
        Some(ops)
    } else {
        None
    };
    let (summary, agent) = if v.is_metascope() {
        let path = tmp.path().join("recording.jsonl");
        (metascope_summary(&path), agent_figures(&path))
    } else {
        (None, None)
    };
    Ok((
        Sample {
            wall_s: m.wall.as_secs_f64(),
            cpu_s: m.cpu.as_secs_f64(),
            rss_mib: m.maxrss_kib as f64 / 1024.0,
            metric,
            workload_cpu_s,
            agent,
        },
        summary,
    ))
}

/// For "attached, then stopped": waits for the JVM's "warm" line, attaches
/// metascope, records for half a second, stops it, then opens the gate.
fn attach_then_stop(stdout: &Path, dir: &Path, agent: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let pid = loop {
        let text = std::fs::read_to_string(stdout).unwrap_or_default();
        if let Some(pid) = text
            .lines()
            .find_map(|l| l.strip_prefix("bench: warm pid="))
            .and_then(|p| p.trim().parse::<u32>().ok())
        {
            break pid;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the steady service never got warm"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let timeout = std::time::Duration::from_secs(10);
    let rec = dir.join("attached.jsonl");
    metascope_attach::load_agent(pid, agent, &format!("out={}", rec.display()), timeout)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::thread::sleep(std::time::Duration::from_millis(500));
    metascope_attach::load_agent(pid, agent, "stop", timeout)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    std::fs::write(dir.join("gate"), b"")?;
    Ok(())
}

fn metascope_summary(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let last = text.lines().last()?;
    let v: serde_json::Value = serde_json::from_str(last).ok()?;
    if v["type"] != "summary" {
        return Some(format!(
            "recording has no summary ({} lines)",
            text.lines().count()
        ));
    }
    Some(format!(
        "loaded {} seen {} captured {} dropped {} stack_errors {} ({:.1} MiB written); self-reported: callbacks {:.1} ms ({} calls), writer {:.1} ms CPU",
        v["classes_loaded"],
        v["seen"],
        v["captured"],
        v["dropped"],
        v["stack_errors"],
        text.len() as f64 / 1048576.0,
        v["cost"]["callback_ns"].as_f64().unwrap_or(0.0) / 1e6,
        v["cost"]["callbacks"],
        v["cost"]["writer_cpu_ns"].as_f64().unwrap_or(0.0) / 1e6,
    ))
}

/// The numbers of metascope's summary record.
fn agent_figures(path: &Path) -> Option<AgentFigures> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    (v["type"] == "summary").then(|| AgentFigures {
        dropped: v["dropped"].as_u64().unwrap_or(0),
        callback_s: v["cost"]["callback_ns"].as_f64().unwrap_or(0.0) / 1e9,
        writer_cpu_s: v["cost"]["writer_cpu_ns"].as_f64().unwrap_or(0.0) / 1e9,
    })
}

/// Workload (b): per-class cost = (median(variant) - median(no agent)) / N,
/// and RSS overhead.
fn per_class_costs(results: &mut Results, n: u64) {
    let rows: Vec<&mut Row> = results
        .rows
        .range_mut((Workload::Generate, 0)..(Workload::Generate, usize::MAX))
        .map(|(_, r)| r)
        .collect();
    let base_rss = rows
        .iter()
        .find(|r| r.variant == Variant::None.label())
        .map(|r| r.rss_median())
        .unwrap_or(0.0);
    let base_cpu = rows
        .iter()
        .find(|r| r.variant == Variant::None.label())
        .map(|r| r.cpu_median())
        .unwrap_or(0.0);
    for row in rows {
        if row.variant == Variant::None.label() {
            continue;
        }
        let base = row.baseline.unwrap_or(f64::NAN);
        let us = (row.median() - base) / n as f64 * 1e6;
        let cpu_us = (row.cpu_median() - base_cpu) / n as f64 * 1e6;
        row.derived = format!(
            "{us:.2} µs/class (CPU {cpu_us:.2} µs), RSS {:+.0} MiB",
            row.rss_median() - base_rss
        );
    }
}

fn bench_cli(ctx: &Ctx, results: &mut Results, params: &Params) -> Result<()> {
    let files: Vec<(u64, PathBuf)> = params
        .streams
        .iter()
        .map(|&n| Ok((n, stream::synthetic_stream(&ctx.cache, n)?)))
        .collect::<Result<_>>()?;
    let run = |path: &Path| -> Result<proc::Measured> {
        let mut cmd = Command::new(&ctx.cli);
        cmd.arg("report").arg(path).args(["--format", "json"]);
        proc::run(&mut cmd, None, None)
    };
    for (_, f) in &files {
        run(f)?; // warm the page cache
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); files.len()];
    for r in 0..params.runs {
        for i in 0..files.len() {
            let k = (i + r) % files.len();
            let (n, f) = &files[k];
            eprint!(
                "\rbench: (d) CLI: run {}/{} {} events   ",
                r + 1,
                params.runs,
                thousands(*n)
            );
            let m = run(f)?;
            let wall = m.wall.as_secs_f64();
            samples[k].push(Sample {
                wall_s: wall,
                cpu_s: m.cpu.as_secs_f64(),
                rss_mib: m.maxrss_kib as f64 / 1024.0,
                metric: Some(*n as f64 / wall),
                workload_cpu_s: None,
                agent: None,
            });
        }
    }
    eprintln!();
    for (k, (n, f)) in files.iter().enumerate() {
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) as f64 / 1e9;
        let row = Row {
            workload: "(d) metascope report --format json".into(),
            variant: format!("{} events ({size:.2} GB)", thousands(*n)),
            samples: samples[k].clone(),
            unit: "events/s",
            higher_is_better: true,
            baseline: None,
            derived: String::new(),
        };
        let wall = median(&row.samples.iter().map(|s| s.wall_s).collect::<Vec<_>>());
        let mut row = row;
        row.derived = format!("median wall {wall:.2} s");
        results.rows.insert((Workload::Cli, k), row);
    }
    Ok(())
}

/// (e): `metascope report` of a JFR recording and of the agent's JSON
/// Lines recording of the same run, in class events per second.
fn bench_jfr_reader(ctx: &Ctx, results: &mut Results, params: &Params) -> Result<()> {
    let pair = jfr_reader::recordings(&ctx.cache, &ctx.java, &ctx.agent, &ctx.harness_jar)?;
    let files = [
        ("JSON Lines (agent, mode=all)", &pair.jsonl),
        ("JFR (metascope.jfc)", &pair.jfr),
    ];
    for (_, f) in &files {
        jfr_reader::report(&ctx.cli, f)?; // warm the page cache
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); files.len()];
    let mut classes = [0u64; 2];
    // A report takes a tenth of a second, which one busy moment of a
    // shared host can double: four times the runs, interleaved, for a
    // median that holds still.
    let runs = params.runs * 4;
    for r in 0..runs {
        for k in 0..files.len() {
            let k = (k + r) % files.len();
            eprint!("\rbench: (e) JFR reader: run {}/{runs}   ", r + 1);
            let (wall_s, cpu_s, rss_mib, n) = jfr_reader::report(&ctx.cli, files[k].1)?;
            classes[k] = n;
            samples[k].push(Sample {
                wall_s,
                cpu_s,
                rss_mib,
                metric: Some(n as f64 / wall_s),
                workload_cpu_s: None,
                agent: None,
            });
        }
    }
    eprintln!();
    for (k, (label, f)) in files.iter().enumerate() {
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
        let mut row = Row {
            workload: "(e) metascope report --format json, same run".into(),
            variant: format!("{label}: {} classes ({size:.1} MB)", thousands(classes[k])),
            samples: samples[k].clone(),
            unit: "events/s",
            higher_is_better: true,
            baseline: None,
            derived: String::new(),
        };
        let wall = median(&row.samples.iter().map(|s| s.wall_s).collect::<Vec<_>>());
        row.derived = format!("median wall {wall:.2} s");
        results.rows.insert((Workload::JfrReader, k), row);
    }
    let (jsonl, jfr) = (
        &results.rows[&(Workload::JfrReader, 0)],
        &results.rows[&(Workload::JfrReader, 1)],
    );
    let ratio = jfr.median() / jsonl.median();
    let line = format!(
        "(e) JFR reader / JSON Lines reader, class events per second: {ratio:.2} \
         ({:.2}M/s vs {:.2}M/s)",
        jfr.median() / 1e6,
        jsonl.median() / 1e6
    );
    eprintln!("bench: {line}");
    results.notes.push(line);
    // Per CPU second too (user + sys): the wall ratio's check.
    let per_cpu_s = |k: usize, row: &Row| {
        classes[k] as f64 / median(&row.samples.iter().map(|s| s.cpu_s).collect::<Vec<_>>())
    };
    let (jsonl_cpu, jfr_cpu) = (per_cpu_s(0, jsonl), per_cpu_s(1, jfr));
    let line = format!(
        "(e) JFR reader / JSON Lines reader, class events per CPU second: {:.2} \
         ({:.2}M/s vs {:.2}M/s)",
        jfr_cpu / jsonl_cpu,
        jfr_cpu / 1e6,
        jsonl_cpu / 1e6
    );
    eprintln!("bench: {line}");
    results.notes.push(line);
    Ok(())
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "s" => format!("{v:.3} s"),
        "ops/s" => format!("{:.2}M ops/s", v / 1e6),
        "events/s" => format!("{:.2}M ev/s", v / 1e6),
        _ => format!("{v}"),
    }
}

fn render_table(results: &Results) -> (String, String) {
    let header = [
        "workload",
        "variant",
        "runs",
        "best",
        "median",
        "ratio to no agent",
        "CPU (median)",
        "peak RSS (median)",
        "derived",
    ];
    let build = |preset: &str| {
        let mut t = Table::new();
        t.load_preset(preset)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header);
        for row in results.rows.values() {
            let ratio = row
                .baseline
                .map(|b| format!("{:.3}", row.median() / b))
                .unwrap_or_else(|| "-".into());
            t.add_row(vec![
                Cell::new(&row.workload),
                Cell::new(&row.variant),
                Cell::new(row.samples.len()).set_alignment(CellAlignment::Right),
                Cell::new(fmt_value(row.best(), row.unit)).set_alignment(CellAlignment::Right),
                Cell::new(fmt_value(row.median(), row.unit)).set_alignment(CellAlignment::Right),
                Cell::new(ratio).set_alignment(CellAlignment::Right),
                Cell::new(format!("{:.2} s", row.cpu_median())).set_alignment(CellAlignment::Right),
                Cell::new(format!("{:.0} MiB", row.rss_median()))
                    .set_alignment(CellAlignment::Right),
                Cell::new(&row.derived),
            ]);
        }
        t.to_string()
    };
    (
        build(presets::UTF8_FULL_CONDENSED),
        build(presets::ASCII_MARKDOWN),
    )
}

fn find<'a>(results: &'a Results, w: Workload, v: &str) -> Option<&'a Row> {
    results
        .rows
        .range((w, 0)..(w, usize::MAX))
        .map(|(_, r)| r)
        .find(|r| r.variant == v)
}

/// The issue's targets, each as "MET/MISSED name: measured vs target (by X)".
fn evaluate_targets(results: &Results, params: &Params) -> Vec<String> {
    let mut out = Vec::new();
    let mut verdict = |name: &str,
                       measured: f64,
                       limit: f64,
                       lower_is_better: bool,
                       fmt: &dyn Fn(f64) -> String| {
        let met = if lower_is_better {
            measured <= limit
        } else {
            measured >= limit
        };
        let by = if lower_is_better {
            measured - limit
        } else {
            limit - measured
        };
        let tail = if met {
            String::new()
        } else {
            format!(" (missed by {})", fmt(by))
        };
        out.push(format!(
            "{} {name}: {} (target {} {}){tail}",
            if met { "MET   " } else { "MISSED" },
            fmt(measured),
            if lower_is_better { "<=" } else { ">=" },
            fmt(limit)
        ));
    };
    let ms = Variant::Metascope.label();
    let mut info: Vec<String> = Vec::new();
    if let (Some(m), Some(_)) = (
        find(results, Workload::Startup, ms),
        find(results, Workload::Startup, Variant::None.label()),
    ) {
        let cost = (m.median() - m.baseline.unwrap()) * 1000.0;
        verdict(
            "start-up fixed cost (trivial main, median - no agent)",
            cost,
            20.0,
            true,
            &|v| format!("{v:.1} ms"),
        );
    }
    // Ordinary classes: both start-up workloads, wall and CPU within 2%.
    for (workload, what) in [
        (Workload::Load, "(a) load"),
        (Workload::LoadMinimal, "(a') load minimal, not initialised"),
    ] {
        let (Some(m), Some(base)) = (
            find(results, workload, ms),
            find(results, workload, Variant::None.label()),
        ) else {
            continue;
        };
        let n = thousands(params.load_classes as u64);
        verdict(
            &format!("{what}: {n} classes, wall time over no agent"),
            (m.median() / base.median() - 1.0) * 100.0,
            2.0,
            true,
            &|v| format!("{v:.1}%"),
        );
        verdict(
            &format!("{what}: {n} classes, CPU time over no agent"),
            (m.cpu_median() / base.cpu_median() - 1.0) * 100.0,
            2.0,
            true,
            &|v| format!("{v:.1}%"),
        );
        if let Some(reported) = m.self_reported_median() {
            info.push(self_report_line(
                what,
                reported,
                m.cpu_median() - base.cpu_median(),
            ));
        }
        info.extend(cpu_split_line(what, m, base, params.load_classes as f64));
    }
    let n = params.generated() as f64;
    let per_class = |v: Variant| {
        find(results, Workload::Generate, v.label())
            .map(|r| (r.median() - r.baseline.unwrap()) / n * 1e6)
    };
    let per_class_cpu = |v: Variant| {
        let base = find(results, Workload::Generate, Variant::None.label())?.cpu_median();
        find(results, Workload::Generate, v.label()).map(|r| (r.cpu_median() - base) / n * 1e6)
    };
    if let (Some(m), Some(jc), Some(jd)) = (
        per_class(Variant::Metascope),
        per_class(Variant::JfrClasses),
        per_class(Variant::JfrDefault),
    ) {
        verdict(
            "(b) per generated class, wall: metascope <= JFR's marginal cost of class events",
            m,
            jc - jd,
            true,
            &|v| format!("{v:.2} µs"),
        );
    }
    if let (Some(m), Some(jc), Some(jd)) = (
        per_class_cpu(Variant::Metascope),
        per_class_cpu(Variant::JfrClasses),
        per_class_cpu(Variant::JfrDefault),
    ) {
        verdict(
            "(b) per generated class, CPU: metascope <= JFR's marginal cost of class events",
            m,
            jc - jd,
            true,
            &|v| format!("{v:.2} µs"),
        );
    }
    if let (Some(m), Some(f)) = (per_class(Variant::Metascope), per_class(Variant::Floor)) {
        verdict(
            "(b) per generated class, wall: metascope <= 1.5 x C floor",
            m,
            1.5 * f,
            true,
            &|v| format!("{v:.2} µs"),
        );
    }
    if let (Some(m), Some(base)) = (
        find(results, Workload::Generate, ms),
        find(results, Workload::Generate, Variant::None.label()),
    ) {
        verdict(
            "(b) classes dropped with the default queue (worst run)",
            m.max_dropped().unwrap_or(0) as f64,
            0.0,
            true,
            &|v| format!("{v:.0}"),
        );
        verdict(
            "(b) agent peak RSS over no agent",
            m.rss_median() - base.rss_median(),
            10.0,
            true,
            &|v| format!("{v:+.1} MiB"),
        );
        if let Some(reported) = m.self_reported_median() {
            info.push(self_report_line(
                "(b) generate",
                reported,
                m.cpu_median() - base.cpu_median(),
            ));
        }
        info.extend(cpu_split_line(
            "(b) generate",
            m,
            base,
            params.generated() as f64,
        ));
    }
    if let (Some(m), Some(jc), Some(jd), Some(f)) = (
        per_class_cpu(Variant::Metascope),
        per_class_cpu(Variant::JfrClasses),
        per_class_cpu(Variant::JfrDefault),
        per_class_cpu(Variant::Floor),
    ) {
        info.push(format!(
            "info   (b) CPU per class (user+sys, all threads): metascope {m:.2} µs, JFR marginal {:.2} µs, C floor {f:.2} µs",
            jc - jd
        ));
    }
    if let Some(m) = find(results, Workload::Steady, ms) {
        verdict(
            "(c) steady loop throughput ratio to no agent",
            m.median() / m.baseline.unwrap(),
            0.99,
            false,
            &|v| format!("{v:.3}"),
        );
    }
    if let Some(m) = find(
        results,
        Workload::Steady,
        Variant::AttachedThenStopped.label(),
    ) {
        verdict(
            "(c) steady loop after attach + stop, ratio to no agent",
            m.median() / m.baseline.unwrap(),
            0.99,
            false,
            &|v| format!("{v:.3}"),
        );
    }
    let cli: Vec<&Row> = results
        .rows
        .range((Workload::Cli, 0)..(Workload::Cli, usize::MAX))
        .map(|(_, r)| r)
        .collect();
    for row in &cli {
        verdict(
            &format!("(d) CLI throughput, {}", row.variant),
            row.median(),
            1e6,
            false,
            &|v| format!("{:.2}M events/s", v / 1e6),
        );
    }
    if let (Some(jsonl), Some(jfr)) = (
        results.rows.get(&(Workload::JfrReader, 0)),
        results.rows.get(&(Workload::JfrReader, 1)),
    ) {
        verdict(
            "(e) JFR reader per class event / JSON Lines reader's",
            jfr.median() / jsonl.median(),
            1.0,
            false,
            &|v| format!("{v:.2}x"),
        );
    }
    if cli.len() >= 2 {
        let (small, big) = (cli[0].rss_median(), cli[1].rss_median());
        verdict(
            "(d) CLI peak RSS(10M) <= 2 x RSS(1M)",
            big,
            2.0 * small,
            true,
            &|v| format!("{v:.0} MiB"),
        );
    }
    out.extend(info);
    out
}

/// How the agent's own figure (callbacks on application threads + writer
/// CPU, median of its runs) compares with the CPU the benchmark measured
/// over no agent.
/// Where the CPU difference to no agent went: the workload's own threads
/// (where metascope's callbacks and the JVM's event work for them run)
/// against everything else (JIT, GC, VM threads, metascope's writer). Each
/// side next to what metascope reported for it.
fn cpu_split_line(what: &str, m: &Row, base: &Row, classes: f64) -> Option<String> {
    let workload = m.workload_cpu_median()? - base.workload_cpu_median()?;
    let rest = (m.cpu_median() - base.cpu_median()) - workload;
    let callbacks = m.agent_median(|a| a.callback_s)?;
    let writer = m.agent_median(|a| a.writer_cpu_s)?;
    Some(format!(
        "info   {what}: CPU over no agent by thread: the workload's threads +{:.1} ms ({:.2} µs/class), of which metascope's callbacks reported {:.1} ms (ratio {:.2}); all other threads {:+.1} ms, of which metascope's writer reported {:.1} ms",
        workload * 1e3,
        workload / classes * 1e6,
        callbacks * 1e3,
        callbacks / workload,
        rest * 1e3,
        writer * 1e3,
    ))
}

fn self_report_line(what: &str, reported_s: f64, measured_s: f64) -> String {
    let ratio = reported_s / measured_s;
    format!(
        "info   {what}: metascope reported {:.1} ms of its own cost, the benchmark measured {:.1} ms more CPU than no agent (ratio {ratio:.2}; {} within 30%)",
        reported_s * 1e3,
        measured_s * 1e3,
        if (0.7..=1.3).contains(&ratio) { "agrees" } else { "NOT" }
    )
}
