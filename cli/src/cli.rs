//! The command line: subcommands, options and their help.

use std::ffi::OsString;
use std::path::PathBuf;

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::analyze::diagnosis::Cause;
use crate::analyze::stacks::DEFAULT_STACK_MEMORY_MIB;
use crate::render::wording;

const ABOUT: &str = "Find the line of your code that keeps defining classes when Metaspace grows";

const LONG_ABOUT: &str = "\
Find the line of your code that keeps defining classes when Metaspace grows.

metascope records every class a JVM generates at run time (reflection accessors, \
proxies, lambdas, CGLIB/ByteBuddy/Javassist classes, script engines, custom class \
loaders) together with the stack that defined it, then groups them by the application \
line that caused the definition and the library it went through.";

const MAIN_EXAMPLES: &str = "\
Examples:
  metascope run -- java -jar app.jar          Record a JVM, then report
  metascope report metascope-1763900000.jsonl Report on an existing recording
  metascope demo                              See it find a reflection-inflation leak";

#[derive(Debug, Parser)]
#[command(
    name = "metascope",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = MAIN_EXAMPLES,
    max_term_width = 100,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Report(ReportArgs),
    Run(RunArgs),
    Demo(DemoArgs),
    Attach(AttachArgs),
    Top(TopArgs),
    Live(LiveArgs),
    Check(CheckArgs),
    Convert(ConvertArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and details for people.
    Text,
    /// A stable structure for tools (see docs/report.md).
    Json,
    /// Collapsed stacks (`outer;...;inner count`, weighted by classes
    /// defined) for flamegraph.pl, inferno and speedscope.
    Folded,
    /// A flame graph of class definitions (SVG).
    Svg,
    /// One self-contained HTML page: verdicts, call sites, a timeline and
    /// the flame graph.
    Html,
}

/// How a report is made; shared by `report`, `run` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct ReportOptions {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Show the N biggest call sites (0 shows all).
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Treat classes under PREFIX as a library, so the blame moves to their
    /// caller (repeatable), e.g. --library com.acme.platform.
    #[arg(long = "library", value_name = "PREFIX")]
    pub libraries: Vec<String>,

    /// Treat classes under PREFIX, or from the jar or directory PATH, as the
    /// application's (repeatable), besides the main class's code source,
    /// e.g. --app com.acme --app acme-rules-3.2.jar.
    #[arg(long = "app", value_name = "PREFIX_OR_PATH")]
    pub app: Vec<String>,

    /// Also report `ordinary` classes (captured when the agent ran with
    /// mode=all); by default only generated kinds are shown.
    #[arg(long)]
    pub all_kinds: bool,

    /// Keep the frames of distinct stacks up to MIB mebibytes: this bounds
    /// the memory a recording takes. Later stacks are summarised to their
    /// call site (every class still counted there; no sample stack, drawn
    /// per call site in the flame graph), with a warning.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_STACK_MEMORY_MIB)]
    pub stack_memory: u64,

    /// Rank call sites by classes defined, or by the Metaspace bytes they
    /// held at the end of the recording (needs an agent that records
    /// Metaspace snapshots; otherwise classes).
    #[arg(long, value_enum, default_value_t = Sort::Classes)]
    pub sort: Sort,
}

/// How `--sort` ranks call sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sort {
    /// Most classes defined first.
    Classes,
    /// Most Metaspace committed at the end first (then at the peak).
    Bytes,
}

const REPORT_LONG_ABOUT: &str = "\
Report which call sites defined the classes in a recording.

Reads a recording written by the agent (JSON Lines) and groups the captured classes \
by call site: the first application frame on the defining stack, and the library \
entry it went through (e.g. BeanUtils.copyProperties, Method.invoke, \
Proxy.newProxyInstance). Biggest call sites come first, each with its kinds, class \
loaders, threads, timing, example class names and one sample stack.

A damaged recording (cut off, corrupt lines, no summary) is still reported; what is \
wrong with it is listed as warnings.";

const REPORT_EXAMPLES: &str = "\
Examples:
  metascope report rec.jsonl
  metascope report rec.jsonl --top 3
  metascope report rec.jsonl --library com.acme.platform
  metascope report rec.jsonl --format json | jq '.call_sites[0].application_frame'
  metascope report rec.jsonl --format html -o report.html
  metascope report rec.jsonl --format folded | flamegraph.pl > classes.svg";

/// Report which call sites defined the classes in a recording
#[derive(Debug, Args)]
#[command(long_about = REPORT_LONG_ABOUT, after_help = REPORT_EXAMPLES)]
pub struct ReportArgs {
    /// Recording written by the agent (out= file, JSON Lines), or a Java
    /// Flight Recorder recording (.jfr, docs/jfr.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub options: ReportOptions,

    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

const CONVERT_EXAMPLES: &str = "\
Examples:
  metascope convert app.jfr -o app.jsonl
  jq -c 'select(.type == \"class\")' app.jsonl";

/// Convert a recording (a JFR .jfr file) to metascope's event stream
/// (JSON Lines, docs/events.md)
#[derive(Debug, Args)]
#[command(after_help = CONVERT_EXAMPLES)]
pub struct ConvertArgs {
    /// Recording to convert: a Java Flight Recorder file (or the agent's
    /// JSON Lines), told apart by content.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Where to write the JSON Lines; must not exist (never overwritten).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

const RUN_LONG_ABOUT: &str = "\
Run a JVM under the metascope agent, then report on its recording.

Adds -agentpath:<agent>=out=<FILE>[,<agent-opts>] right after the java executable, \
runs the command with its own stdin/stdout/stderr, waits for it and prints the report. \
Ctrl-C stops the JVM and still gives the report. Exits with the JVM's exit code.

The agent (libmetascope_agent.so) is looked for in: --agent, $METASCOPE_AGENT, the \
directory of the metascope executable, then ../lib/ beside it.";

const RUN_EXAMPLES: &str = "\
Examples:
  metascope run -- java -jar app.jar
  metascope run -o orders.jsonl -- java -Xmx512m -cp app.jar com.acme.Main
  metascope run --agent-opts depth=128,mode=all --all-kinds -- java -jar app.jar";

/// Run a JVM under the agent, then report on its recording
#[derive(Debug, Args)]
#[command(long_about = RUN_LONG_ABOUT, after_help = RUN_EXAMPLES)]
pub struct RunArgs {
    /// Where to write the recording [default: metascope-<unix-seconds>.jsonl]
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The agent library (default: $METASCOPE_AGENT, else found beside metascope).
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,

    /// Extra agent options, comma-separated, e.g. depth=128,mode=all.
    #[arg(long, value_name = "OPTS", allow_hyphen_values = true)]
    pub agent_opts: Option<String>,

    #[command(flatten)]
    pub report: ReportOptions,

    /// The java command to run, after --.
    #[arg(last = true, required = true, value_name = "JAVA_COMMAND")]
    pub java: Vec<OsString>,
}

const DEMO_LONG_ABOUT: &str = "\
Run the bundled reproduction under the agent and report on it.

The bean-copier reproduction copies a bean through Method.invoke in rounds with a \
GC per round and -XX:SoftRefLRUPolicyMSPerMB=0, so the JDK throws away its soft \
reflection data and inflates new GeneratedMethodAccessor classes every round. The \
report should blame com.acme.demo.BeanCopier.copy via java.lang.reflect.Method.invoke.

Needs java on PATH (or JAVA_HOME) and the agent (found as for `metascope run`).";

const DEMO_EXAMPLES: &str = "\
Examples:
  metascope demo
  metascope demo --keep copier.jsonl --format json";

/// Run the bundled reproduction under the agent and report on it
#[derive(Debug, Args)]
#[command(long_about = DEMO_LONG_ABOUT, after_help = DEMO_EXAMPLES)]
pub struct DemoArgs {
    /// Keep the recording at FILE (by default it is deleted afterwards).
    #[arg(long, value_name = "FILE")]
    pub keep: Option<PathBuf>,

    /// The agent library (default: $METASCOPE_AGENT, else found beside metascope).
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,

    #[command(flatten)]
    pub report: ReportOptions,
}

/// `20s`, `2m`, `500ms`, `1h`, or plain seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (e.g. 30s, 5m, 500ms)"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "unknown unit '{unit}' in '{text}' (use ms, s, m or h)"
            ))
        }
    };
    if !(0.0..=7.0 * 86400.0).contains(&seconds) {
        return Err(format!("'{text}' is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

const ATTACH_LONG_ABOUT: &str = "\
Record a JVM that is already running, without restarting it.

Loads the agent into the JVM over the HotSpot attach protocol (no JDK tools \
needed here; works for JDK 11 to 25, in containers too). The recording starts \
with a census of the classes already loaded, then captures every class \
generated from then on. With --duration, stops after that long and prints the \
report; otherwise it keeps recording until `metascope attach PID --stop`. \
Stopping switches the agent's events off: the JVM runs on and pays nothing \
more. Attaching again later starts a new recording.

You must be the JVM's user and group, or root: root becomes the JVM's user before \
touching any of its files, and refuses any file or socket of the JVM another user \
could have planted (docs/security.md). JDK 21+ prints a warning about dynamically \
loaded agents; -XX:-EnableDynamicAgentLoading refuses them.";

const ATTACH_EXAMPLES: &str = "\
Examples:
  metascope attach 4242 --duration 60s     Record a minute, then report
  metascope attach 4242 -o /var/tmp/a.jsonl Record until stopped
  metascope attach 4242 --stop             Stop, and report what was recorded";

/// Record a running JVM (attach), or stop its recording
#[derive(Debug, Args)]
#[command(long_about = ATTACH_LONG_ABOUT, after_help = ATTACH_EXAMPLES)]
pub struct AttachArgs {
    /// Process id of the running JVM.
    pub pid: u32,

    /// Where the JVM writes the recording [default: metascope-<unix-seconds>.jsonl here;
    /// /tmp/... inside a container]
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Extra agent options, comma-separated, e.g. depth=128,socket=/tmp/m.sock.
    #[arg(long, value_name = "OPTS")]
    pub agent_opts: Option<String>,

    /// Record this long (e.g. 30s, 5m), then stop and print the report.
    #[arg(long, value_name = "D", value_parser = duration)]
    pub duration: Option<std::time::Duration>,

    /// Stop the running recording (the JVM keeps running) and print its report.
    #[arg(long, conflicts_with_all = ["duration", "output", "agent_opts"])]
    pub stop: bool,

    /// How long to wait for the JVM's attach listener.
    #[arg(long, value_name = "D", value_parser = duration, default_value = "10s")]
    pub timeout: std::time::Duration,

    /// The agent library (default: $METASCOPE_AGENT, else found beside metascope).
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,

    #[command(flatten)]
    pub report: ReportOptions,
}

/// How the live views refresh; shared by `top` and `live`.
#[derive(Debug, Clone, Args)]
pub struct ViewOptions {
    /// Seconds between refreshes (longer when reading takes long).
    #[arg(long, value_name = "D", value_parser = duration, default_value = "1s")]
    pub interval: std::time::Duration,

    /// Call sites to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Stop after N refreshes (for scripts).
    #[arg(long, value_name = "N")]
    pub iterations: Option<u64>,

    /// Periodic plain-text lines even on a terminal.
    #[arg(long)]
    pub plain: bool,

    /// Treat classes under PREFIX as a library (repeatable).
    #[arg(long = "library", value_name = "PREFIX")]
    pub libraries: Vec<String>,

    /// Treat classes under PREFIX, or from the jar or directory PATH, as the
    /// application's (repeatable).
    #[arg(long = "app", value_name = "PREFIX_OR_PATH")]
    pub app: Vec<String>,
}

const TOP_LONG_ABOUT: &str = "\
A live view of a running JVM: call sites ranked by how fast they define classes.

Attaches (if the JVM is not being recorded yet) with a live socket, then refreshes \
every second: classes per second, defined, live and regenerated per call site, \
the current verdicts and any drops. On a terminal it redraws the screen; when \
stdout is not a terminal it prints periodic plain-text lines. Ctrl-C ends the view \
and, if `top` attached, stops the recording (--keep-recording leaves it running).";

/// Live view of a running JVM's class definitions (attaches if needed)
#[derive(Debug, Args)]
#[command(long_about = TOP_LONG_ABOUT, after_help = "Examples:\n  metascope top 4242\n  metascope top 4242 --plain --iterations 10 > top.log")]
pub struct TopArgs {
    /// Process id of the running JVM.
    pub pid: u32,

    /// Leave the recording running when the view ends.
    #[arg(long)]
    pub keep_recording: bool,

    /// Extra agent options when attaching.
    #[arg(long, value_name = "OPTS")]
    pub agent_opts: Option<String>,

    /// How long to wait for the JVM's attach listener.
    #[arg(long, value_name = "D", value_parser = duration, default_value = "10s")]
    pub timeout: std::time::Duration,

    /// The agent library (default: $METASCOPE_AGENT, else found beside metascope).
    #[arg(long, value_name = "PATH")]
    pub agent: Option<PathBuf>,

    #[command(flatten)]
    pub view: ViewOptions,
}

/// Live view of a recording streamed to a socket (agent option socket=PATH)
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  java -agentpath:libmetascope_agent.so=socket=/tmp/app.sock -jar app.jar\n  metascope live /tmp/app.sock"
)]
pub struct LiveArgs {
    /// The socket the agent streams to (its socket= option).
    pub socket: PathBuf,

    #[command(flatten)]
    pub view: ViewOptions,
}

const CHECK_LONG_ABOUT: &str = "\
Fail a build when a recording breaks class-generation rules (for CI).

Reads the recording like `report` and checks every call site against the rules \
given. Prints one `metascope check: FAIL ...` line per violation, naming the call \
site, and exits 1; prints `metascope check: OK (...)` and exits 0 otherwise. Exits \
2 when the recording cannot be read (missing, not a recording). A damaged \
recording (cut off, dropped classes) is still checked; its warnings go to stderr.

Without a --max-* rule the diagnosis is the rule: every call site the report \
diagnoses with a cause (soft_reference_cycle, inflation_race, \
per_expression_compilation, loader_churn, uncached_generation, method_handle_churn) \
fails, one line each naming the call site and the cause, except causes waived \
with --allow CAUSE.

Rules, per call site (see docs/ci.md); a rule not given is not checked:

--max-regenerated N: classes defined again for a target, fingerprint or name the call \
site had already defined (`regenerated` in the JSON report).

--max-live-growth N: live classes (defined minus unloaded) at the end of the recording \
minus live classes one third of the way in: growth after warm-up (`live_growth`).

--max-rate R: the most classes defined in one second, seconds counted from the start of \
the recording; a recording shorter than a second is one window (`peak_rate_per_s`).

--max-metaspace-bytes N: the most Metaspace (committed bytes, as the JVM accounts it) the \
call site's classes held at any of the recording's snapshots (`metaspace.max_committed`); \
N takes k, m or g (KiB, MiB, GiB) as -XX:MaxMetaspaceSize does. A recording without \
Metaspace snapshots (an older agent) cannot be checked: exit 2.";

const CHECK_EXAMPLES: &str = "\
Examples:
  metascope check target/metascope.jsonl
  metascope check target/metascope.jsonl --allow loader_churn
  metascope check target/metascope.jsonl --max-regenerated 0
  metascope check app.jsonl --max-regenerated 10 --max-live-growth 500 --max-rate 50/s";

/// Exit non-zero when a recording breaks class-generation rules (CI gate)
#[derive(Debug, Args)]
#[command(long_about = CHECK_LONG_ABOUT, after_help = CHECK_EXAMPLES)]
pub struct CheckArgs {
    /// Recording written by the agent (out= file, JSON Lines), or a Java
    /// Flight Recorder recording (.jfr, docs/jfr.md).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Fail when a call site regenerated more than N classes.
    #[arg(long, value_name = "N")]
    pub max_regenerated: Option<u64>,

    /// Fail when a call site's live classes grew by more than N after the
    /// first third of the recording.
    #[arg(long, value_name = "N")]
    pub max_live_growth: Option<u64>,

    /// Fail when a call site defined more than R classes in one second,
    /// e.g. 50/s (also 3000/min, or a bare number per second).
    #[arg(long, value_name = "R", value_parser = rate)]
    pub max_rate: Option<f64>,

    /// Fail when a call site held more than N bytes of Metaspace (committed)
    /// at any snapshot, e.g. 32m (also k, g, or plain bytes).
    #[arg(long, value_name = "N", value_parser = bytes)]
    pub max_metaspace_bytes: Option<u64>,

    /// Without --max-* rules: do not fail on call sites diagnosed with
    /// CAUSE (repeatable), e.g. --allow loader_churn.
    #[arg(
        long = "allow",
        value_name = "CAUSE",
        value_parser = cause,
        conflicts_with_all = ["max_regenerated", "max_live_growth", "max_rate", "max_metaspace_bytes"]
    )]
    pub allow: Vec<Cause>,

    /// Treat classes under PREFIX as a library (repeatable), as for `report`.
    #[arg(long = "library", value_name = "PREFIX")]
    pub libraries: Vec<String>,

    /// Treat classes under PREFIX, or from the jar or directory PATH, as the
    /// application's (repeatable), as for `report`.
    #[arg(long = "app", value_name = "PREFIX_OR_PATH")]
    pub app: Vec<String>,

    /// Also check `ordinary` classes (captured with the agent's mode=all).
    #[arg(long)]
    pub all_kinds: bool,
}

/// Parses a size in bytes as the JVM's -XX options do: `33554432`, `32m`,
/// `512k`, `1g` (binary units, also `KiB`/`MiB`/`GiB`, `kb`/`mb`/`gb`).
fn bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: use e.g. 32m, 512k or 33554432"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use bytes or k, m, g (e.g. 32m)"
            ))
        }
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A cause by its JSON name, e.g. `loader_churn`.
fn cause(text: &str) -> Result<Cause, String> {
    let text = text.trim();
    Cause::ALL
        .into_iter()
        .find(|c| wording::cause(*c) == text)
        .ok_or_else(|| {
            let names: Vec<&str> = Cause::ALL.into_iter().map(wording::cause).collect();
            format!("`{text}` is not a cause: use one of {}", names.join(", "))
        })
}

/// Parses a rate: `50/s`, `50`, `3000/min` (also `/m`), `1.5/s`; in
/// classes per second.
fn rate(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, per) = match t.split_once('/') {
        Some((n, unit)) => (n.trim(), unit.trim()),
        None => (t, "s"),
    };
    let seconds = match per {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3_600.0,
        other => {
            return Err(format!(
                "unknown unit `/{other}` in `{text}`: use e.g. 50/s or 3000/min"
            ))
        }
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a rate: use e.g. 50/s or 3000/min"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("`{text}` is not a rate: it must be 0 or more"));
    }
    Ok(n / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `--help` output at a fixed width, exactly as a user sees it.
    fn help(subcommand: Option<&str>) -> String {
        let argv: Vec<&str> = std::iter::once("metascope")
            .chain(subcommand)
            .chain(["--help"])
            .collect();
        let err = Cli::command()
            .term_width(100)
            .try_get_matches_from(argv)
            .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
        err.to_string()
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_snapshots() {
        insta::assert_snapshot!("help_main", help(None));
        insta::assert_snapshot!("help_report", help(Some("report")));
        insta::assert_snapshot!("help_run", help(Some("run")));
        insta::assert_snapshot!("help_demo", help(Some("demo")));
    }

    #[test]
    fn run_takes_the_java_command_verbatim_after_double_dash() {
        let cli = Cli::try_parse_from([
            "metascope",
            "run",
            "-o",
            "r.jsonl",
            "--top",
            "3",
            "--",
            "java",
            "-Xmx64m",
            "-jar",
            "app.jar",
            "--top",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!()
        };
        assert_eq!(run.output, Some(PathBuf::from("r.jsonl")));
        assert_eq!(run.report.top, 3);
        assert_eq!(run.java, ["java", "-Xmx64m", "-jar", "app.jar", "--top"]);
        assert!(Cli::try_parse_from(["metascope", "run"]).is_err());
    }

    #[test]
    fn report_options_parse() {
        let cli = Cli::try_parse_from([
            "metascope",
            "report",
            "r.jsonl",
            "--format",
            "json",
            "--library",
            "com.a",
            "--library",
            "com.b",
            "--all-kinds",
        ])
        .unwrap();
        let Command::Report(r) = cli.command else {
            panic!()
        };
        assert_eq!(r.options.format, Format::Json);
        assert_eq!(r.options.libraries, ["com.a", "com.b"]);
        assert!(r.options.all_kinds);
        assert_eq!(r.options.top, 10);
        assert_eq!(r.output, None);
    }

    #[test]
    fn report_writes_any_format_to_a_file() {
        for (name, format) in [
            ("folded", Format::Folded),
            ("svg", Format::Svg),
            ("html", Format::Html),
        ] {
            let cli = Cli::try_parse_from([
                "metascope",
                "report",
                "r.jsonl",
                "--format",
                name,
                "-o",
                "out",
            ])
            .unwrap();
            let Command::Report(r) = cli.command else {
                panic!()
            };
            assert_eq!(r.options.format, format);
            assert_eq!(r.output, Some(PathBuf::from("out")));
        }
    }

    #[test]
    fn check_help_snapshot() {
        insta::assert_snapshot!("help_check", help(Some("check")));
    }

    #[test]
    fn check_rules_parse() {
        let cli = Cli::try_parse_from([
            "metascope",
            "check",
            "r.jsonl",
            "--max-regenerated",
            "10",
            "--max-live-growth",
            "500",
            "--max-rate",
            "3000/min",
        ])
        .unwrap();
        let Command::Check(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.max_regenerated, Some(10));
        assert_eq!(c.max_live_growth, Some(500));
        assert_eq!(c.max_rate, Some(50.0));
        let err = Cli::try_parse_from(["metascope", "check", "r.jsonl", "--max-rate", "fast"])
            .unwrap_err();
        assert!(err.to_string().contains("not a rate"), "{err}");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn durations() {
        assert_eq!(duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(duration("ten").unwrap_err().contains("not a duration"));
        assert!(duration("5y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn sizes_parse_like_jvm_options() {
        assert_eq!(bytes("33554432"), Ok(33_554_432));
        assert_eq!(bytes("32m"), Ok(32 << 20));
        assert_eq!(bytes("32M"), Ok(32 << 20));
        assert_eq!(bytes("512k"), Ok(512 << 10));
        assert_eq!(bytes("1g"), Ok(1 << 30));
        assert_eq!(bytes(" 2 GiB "), Ok(2 << 30));
        assert!(bytes("32x").unwrap_err().contains("unknown unit `x`"));
        assert!(bytes("lots").unwrap_err().contains("not a size"));
        assert!(bytes("-1m").unwrap_err().contains("not a size"));
        assert!(bytes("1.5m").unwrap_err().contains("unknown unit"));
        assert!(bytes("99999999999t").unwrap_err().contains("too large"));
        let err = Cli::try_parse_from([
            "metascope",
            "check",
            "r.jsonl",
            "--max-metaspace-bytes",
            "big",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("not a size"), "{err}");
        assert_eq!(err.exit_code(), 2);
        let cli = Cli::try_parse_from([
            "metascope",
            "check",
            "r.jsonl",
            "--max-metaspace-bytes",
            "16m",
        ])
        .unwrap();
        let Command::Check(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.max_metaspace_bytes, Some(16 << 20));
    }

    #[test]
    fn report_sorts_by_bytes_when_asked() {
        let cli =
            Cli::try_parse_from(["metascope", "report", "r.jsonl", "--sort", "bytes"]).unwrap();
        let Command::Report(r) = cli.command else {
            panic!()
        };
        assert_eq!(r.options.sort, Sort::Bytes);
        let err =
            Cli::try_parse_from(["metascope", "report", "r.jsonl", "--sort", "size"]).unwrap_err();
        assert!(
            err.to_string().contains("possible values: classes, bytes"),
            "{err}"
        );
    }

    #[test]
    fn rates_parse_per_second() {
        assert_eq!(rate("50/s"), Ok(50.0));
        assert_eq!(rate("50"), Ok(50.0));
        assert_eq!(rate(" 3000/min "), Ok(50.0));
        assert_eq!(rate("120/m"), Ok(2.0));
        assert_eq!(rate("1.5/s"), Ok(1.5));
        assert_eq!(rate("7200/h"), Ok(2.0));
        assert!(rate("50/d").unwrap_err().contains("unknown unit"));
        assert!(rate("fast").unwrap_err().contains("not a rate"));
        assert!(rate("-1/s").is_err());
        assert!(rate("NaN").is_err());
    }
}
