//! Agent options: `-agentpath:libmetascope_agent.so=key=value,key=value`.
//!
//! Every option is parsed and rejected here, in one place, before the agent
//! installs anything: a JVM must not start with a silently wrong setup.

use std::fmt;
use std::path::PathBuf;

use metascope_events::CaptureMode;

/// One line listing what is accepted, printed with every option error.
pub const VALID_OPTIONS: &str =
    "valid options: out=FILE, depth=N (0-2048), include=PATTERN[;PATTERN], mode=dynamic|all, queue=N (1-16777216), dump=DIR, socket=PATH, metaspace=snapshots|totals|off";

pub const DEFAULT_DEPTH: u32 = 64;
pub const MAX_DEPTH: u32 = 2048;
/// Queue capacity in records; a full queue drops (and counts) records.
/// Slots are allocated up front (about 48 bytes each: 3 MiB), the agent's
/// main fixed memory cost; 16,384 slots dropped a few classes when four
/// threads generated 50,000 classes on two cores.
pub const DEFAULT_QUEUE: u32 = 65_536;
pub const MAX_QUEUE: u32 = 1 << 24;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentOptions {
    /// `None`: `metascope-<pid>.jsonl` in the working directory.
    pub out: Option<PathBuf>,
    pub depth: u32,
    /// Extra class-name patterns (binary names, `*` matches any run).
    pub include: Vec<String>,
    pub mode: CaptureMode,
    pub queue: u32,
    /// Write the bytes of captured classes (those that have bytes) to
    /// `DIR/<binary name>.class`, for reading with javap.
    pub dump: Option<PathBuf>,
    /// Also stream the recording to a Unix socket at this path (0600).
    pub socket: Option<PathBuf>,
    /// What the writer asks the JVM about Metaspace.
    pub metaspace: MetaspaceWatch,
    /// `fault=NAME`: a failure injected by the end-to-end tests to prove
    /// the JVM survives it (not for users; see [`Fault`]).
    pub fault: Option<Fault>,
}

/// `metaspace=`: how much of the JVM's Metaspace accounting the writer
/// records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaspaceWatch {
    /// Totals every 200 ms, and per-loader snapshots (at attach, growth,
    /// OutOfMemoryError, end), each a safepoint listing every class.
    Snapshots,
    /// Totals only: no safepoint, no per-call-site bytes.
    Totals,
    /// Nothing.
    Off,
}

/// Failures the end-to-end tests inject (`fault=NAME`), each forcing one
/// of the agent's error paths so a test can show that the JVM runs on and
/// exits with its own code, whatever happens to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Panic inside the first ClassLoad callback.
    PanicInClassLoad,
    /// Panic on the writer thread at its first class record.
    PanicInWriter,
    /// The writer waits until the first record is dropped: makes a full
    /// queue (and its drop accounting) certain instead of likely.
    StallWriter,
    /// The writer stops consuming for good: stopping times out.
    HangWriter,
    /// Reading code sources (ProtectionDomain fields) fails.
    NoCodeSource,
    /// Starting the writer thread fails.
    NoWriterThread,
    /// Listing the loaded classes for the attach-time census fails.
    CensusError,
}

impl Fault {
    const NAMES: [(&'static str, Fault); 7] = [
        ("panic-in-class-load", Fault::PanicInClassLoad),
        ("panic-in-writer", Fault::PanicInWriter),
        ("stall-writer", Fault::StallWriter),
        ("hang-writer", Fault::HangWriter),
        ("no-code-source", Fault::NoCodeSource),
        ("no-writer-thread", Fault::NoWriterThread),
        ("census-error", Fault::CensusError),
    ];

    fn parse(name: &str) -> Option<Fault> {
        Fault::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, f)| f)
    }
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            out: None,
            depth: DEFAULT_DEPTH,
            include: Vec::new(),
            mode: CaptureMode::Dynamic,
            queue: DEFAULT_QUEUE,
            dump: None,
            socket: None,
            metaspace: MetaspaceWatch::Snapshots,
            fault: None,
        }
    }
}

/// What a load of the library asks for: the option string of
/// `-agentpath:...=OPTIONS` or of an attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Record with these options.
    Record(Box<AgentOptions>),
    /// `stop`: end the running recording, keep the JVM running.
    Stop,
}

impl Command {
    pub fn parse(text: &str) -> Result<Command, OptionError> {
        if text.trim() == "stop" {
            return Ok(Command::Stop);
        }
        AgentOptions::parse(text).map(|o| Command::Record(Box::new(o)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    problem: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metascope: {} ({VALID_OPTIONS})", self.problem)
    }
}

impl std::error::Error for OptionError {}

/// The message is built from the user's own text; escaping control
/// characters keeps it to the promised single line.
fn problem(msg: impl Into<String>) -> OptionError {
    let mut problem = String::new();
    for c in msg.into().chars() {
        if c.is_control() {
            problem.extend(c.escape_default());
        } else {
            problem.push(c);
        }
    }
    OptionError { problem }
}

impl AgentOptions {
    /// Parses the option string the JVM hands to `Agent_OnLoad` (may be empty).
    pub fn parse(text: &str) -> Result<AgentOptions, OptionError> {
        let mut options = AgentOptions::default();
        let mut seen: Vec<&str> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| problem(format!("option '{item}' is not of the form key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            if seen.contains(&key) {
                return Err(problem(format!("option '{key}' is given twice")));
            }
            match key {
                "out" => {
                    if value.is_empty() {
                        return Err(problem("out= needs a file name"));
                    }
                    options.out = Some(PathBuf::from(value));
                }
                "socket" => {
                    if value.is_empty() {
                        return Err(problem("socket= needs a path"));
                    }
                    options.socket = Some(PathBuf::from(value));
                }
                "dump" => {
                    if value.is_empty() {
                        return Err(problem("dump= needs a directory"));
                    }
                    options.dump = Some(PathBuf::from(value));
                }
                "fault" => {
                    options.fault = Some(Fault::parse(value).ok_or_else(|| {
                        let names: Vec<&str> = Fault::NAMES.iter().map(|(n, _)| *n).collect();
                        problem(format!(
                            "fault={value} is not one of {} (fault= is for metascope's own tests)",
                            names.join(", ")
                        ))
                    })?)
                }
                "depth" => options.depth = parse_number(key, value, 0, MAX_DEPTH)?,
                "queue" => options.queue = parse_number(key, value, 1, MAX_QUEUE)?,
                "mode" => {
                    options.mode = match value {
                        "dynamic" => CaptureMode::Dynamic,
                        "all" => CaptureMode::All,
                        other => {
                            return Err(problem(format!(
                                "mode must be dynamic or all, not '{other}'"
                            )))
                        }
                    }
                }
                "metaspace" => {
                    options.metaspace = match value {
                        "snapshots" => MetaspaceWatch::Snapshots,
                        "totals" => MetaspaceWatch::Totals,
                        "off" => MetaspaceWatch::Off,
                        other => {
                            return Err(problem(format!(
                                "metaspace must be snapshots, totals or off, not '{other}'"
                            )))
                        }
                    }
                }
                "include" => {
                    for pattern in value.split(';').map(str::trim) {
                        if pattern.is_empty() || pattern.chars().all(|c| c == '*') {
                            return Err(problem(format!(
                                "include pattern '{pattern}' would match nothing or everything (use mode=all to record every class)"
                            )));
                        }
                        options.include.push(pattern.to_string());
                    }
                }
                other => return Err(problem(format!("unknown option '{other}'"))),
            }
            seen.push(key);
        }
        Ok(options)
    }
}

fn parse_number(key: &str, value: &str, min: u32, max: u32) -> Result<u32, OptionError> {
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(problem(format!(
            "{key}={value} is not a number from {min} to {max}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_is_a_command_and_everything_else_options() {
        assert_eq!(Command::parse(" stop ").unwrap(), Command::Stop);
        assert!(matches!(
            Command::parse("out=x").unwrap(),
            Command::Record(_)
        ));
        assert!(Command::parse("stop,out=x").is_err());
        let faulty = AgentOptions::parse("fault=stall-writer").unwrap();
        assert_eq!(faulty.fault, Some(Fault::StallWriter));
        let err = AgentOptions::parse("fault=boom").unwrap_err().to_string();
        assert!(err.contains("not one of panic-in-class-load"), "{err}");
    }

    #[test]
    fn empty_options_give_the_defaults() {
        assert_eq!(AgentOptions::parse("").unwrap(), AgentOptions::default());
        assert_eq!(AgentOptions::parse(" , ").unwrap(), AgentOptions::default());
    }

    #[test]
    fn all_options_parse() {
        let o = AgentOptions::parse(
            "out=/tmp/x.jsonl,depth=12,include=com.acme.*;org.foo.Gen*,mode=all,queue=16,dump=/tmp/d",
        )
        .unwrap();
        assert_eq!(o.out, Some(PathBuf::from("/tmp/x.jsonl")));
        assert_eq!(o.depth, 12);
        assert_eq!(o.include, vec!["com.acme.*", "org.foo.Gen*"]);
        assert_eq!(o.mode, CaptureMode::All);
        assert_eq!(o.queue, 16);
        assert_eq!(o.dump, Some(PathBuf::from("/tmp/d")));
    }

    #[test]
    fn errors_name_the_problem_and_the_valid_options() {
        for (input, needle) in [
            ("foo=1", "unknown option 'foo'"),
            ("depth", "not of the form key=value"),
            ("depth=-1", "depth=-1 is not a number"),
            ("depth=99999", "from 0 to 2048"),
            ("queue=0", "queue=0 is not a number"),
            ("mode=some", "mode must be dynamic or all"),
            ("out=", "out= needs a file name"),
            ("include=*", "match nothing or everything"),
            ("include=a;;b", "match nothing or everything"),
            ("depth=3,depth=4", "given twice"),
        ] {
            let err = AgentOptions::parse(input).unwrap_err().to_string();
            assert!(err.starts_with("metascope: "), "{err}");
            assert!(err.contains(needle), "{input}: {err}");
            assert!(err.contains(VALID_OPTIONS), "{err}");
            assert_eq!(err.lines().count(), 1);
        }
    }
}
