//! The command line: subcommands, options and their help.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables and details for people.
    Text,
    /// A stable structure for tools (see docs/report.md).
    Json,
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

    /// Also report `ordinary` classes (captured when the agent ran with
    /// mode=all); by default only generated kinds are shown.
    #[arg(long)]
    pub all_kinds: bool,
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
  metascope report rec.jsonl --format json | jq '.call_sites[0].application_frame'";

/// Report which call sites defined the classes in a recording
#[derive(Debug, Args)]
#[command(long_about = REPORT_LONG_ABOUT, after_help = REPORT_EXAMPLES)]
pub struct ReportArgs {
    /// Recording written by the agent (out= file, JSON Lines).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub options: ReportOptions,
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
    }
}
