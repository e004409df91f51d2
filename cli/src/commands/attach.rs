//! `metascope attach PID`: record a JVM that is already running, and
//! `--stop` it again, over the HotSpot attach protocol (crate
//! metascope-attach): no JDK tools needed on this machine.

//! `metascope attach PID`: record a JVM that is already running, and
//! `--stop` it again, over the HotSpot attach protocol (crate
//! metascope-attach): no JDK tools needed on this machine.
//!
//! Run as root against another user's JVM, metascope becomes that user
//! before it touches any file of the JVM, and every file of the JVM it
//! reads (the agent's status file, the recording, the live socket) is
//! opened inside the JVM's root and checked on its descriptor: owner the
//! JVM's user, the right type and mode. A path read from the status file is
//! followed only under those rules, and its `agent=` only if the JVM has
//! that library mapped. See docs/security.md.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use metascope_attach::{agent_copy_name, escape_control, AttachError, Expect, Kind, Target, TMP};
use metascope_events::status::{process_start_ticks, RecordingStatus};

use super::launch;
use super::report::write_report_from;
use crate::cli::AttachArgs;

/// A status file is a few short lines; a longer file is not one.
const MAX_STATUS_LEN: u64 = 16 * 1024;

/// Our agent library, found and opened before metascope may become the
/// JVM's user (who need not be able to read where metascope is installed).
pub struct Agent {
    path: PathBuf,
    file: File,
}

impl Agent {
    pub fn open(explicit: Option<&Path>) -> Result<Agent> {
        let path = launch::find_agent(explicit)?;
        let file = File::open(&path)
            .with_context(|| format!("cannot read the agent {}", path.display()))?;
        Ok(Agent { path, file })
    }

    /// Our library's bytes, as an error of attaching to `pid` if unreadable.
    fn bytes(&self, pid: u32) -> Result<Vec<u8>, AttachError> {
        let read = || {
            let len = self.file.metadata()?.len();
            let mut bytes = vec![0; usize::try_from(len).map_err(std::io::Error::other)?];
            self.file.read_exact_at(&mut bytes, 0)?;
            Ok(bytes)
        };
        read().map_err(|error| AttachError::Io {
            pid,
            step: format!("reading the agent {}", self.path.display()),
            error,
        })
    }
}

/// Opens the JVM `pid`; as root, becomes its user (see
/// metascope_attach::identity).
pub fn open_target(pid: u32) -> Result<Target> {
    Ok(Target::open(pid)?)
}

/// The running recording, from the agent's status file
/// `/tmp/.metascope_pid<nspid>` in the JVM's root. The file must be a
/// regular file of the JVM's user, mode 0600, a few lines long; anything
/// else is refused by name (another user may have planted it). A file
/// left by a killed JVM whose pid was reused does not count: its start
/// time differs from this process's.
pub fn recording_status(target: &Target) -> Result<Option<RecordingStatus>> {
    let name = RecordingStatus::file_name(target.ns_pid());
    let expect = Expect {
        private: true,
        max_len: Some(MAX_STATUS_LEN),
        ..Expect::owned_by(Kind::File, target.euid())
    };
    let Some(file) = target.open_in_tmp(&name, &expect)? else {
        return Ok(None);
    };
    let shown = target.shown(&Path::new(TMP).join(&name));
    let mut text = String::new();
    file.take(MAX_STATUS_LEN)
        .read_to_string(&mut text)
        .with_context(|| {
            format!("refusing {shown}: not a metascope status file (not text); remove it")
        })?;
    let Some(status) = RecordingStatus::parse(&text) else {
        bail!("refusing {shown}: not a metascope status file (no out= line); remove it");
    };
    let paths = [
        Some(&status.out),
        status.socket.as_ref(),
        status.agent.as_ref(),
    ];
    if let Some(relative) = paths.into_iter().flatten().find(|p| !p.is_absolute()) {
        bail!(
            "refusing {shown}: it names the relative path {}, where the agent writes absolute ones; remove it",
            escape_control(&relative.display().to_string())
        );
    }
    let started = std::fs::read_to_string(format!("/proc/{}/stat", target.pid()))
        .ok()
        .and_then(|stat| process_start_ticks(&stat));
    if status.started.is_some() && started.is_some() && status.started != started {
        return Ok(None);
    }
    Ok(Some(status))
}

/// Loads our agent with `options` into the JVM and returns the path the
/// JVM loaded it by: ours on the same host; in a container (another root)
/// a copy in the container's /tmp, made as the JVM's user (see
/// `Target::place_agent`).
pub fn load_new(
    target: &Target,
    agent: &Agent,
    options: &str,
    timeout: Duration,
) -> Result<PathBuf> {
    let mut loaded = agent.path.clone();
    target.load_prepared(
        || {
            if target.in_container() {
                loaded = target.place_agent(&agent.bytes(target.pid())?)?;
            }
            Ok(loaded.clone())
        },
        options,
        timeout,
    )?;
    Ok(loaded)
}

/// Loads the library the JVM knows as `inside` (one it loaded already, to
/// talk to the agent in it, e.g. `stop`).
pub fn load_by(target: &Target, inside: &Path, options: &str, timeout: Duration) -> Result<()> {
    target.load(inside, options, timeout)?;
    Ok(())
}

/// The library to send `stop` to: one the JVM has mapped now, so that
/// loading it again runs no new code. First the one the status file names
/// (the recording copy, e.g. from -agentpath), else ours (in a container,
/// our copy there). Another copy of the library than the recording one
/// would only answer that it is not recording, so none is loaded then;
/// `--stop` never copies anything into a container.
fn stop_library(
    target: &Target,
    status: &RecordingStatus,
    agent: Result<&Agent>,
) -> Result<PathBuf> {
    if let Some(named) = status.agent.as_ref().filter(|p| target.is_mapped(p)) {
        return Ok(named.clone());
    }
    let ours = agent.and_then(|agent| {
        if target.in_container() {
            Ok(Path::new(TMP).join(agent_copy_name(&agent.bytes(target.pid())?)))
        } else {
            Ok(agent.path.clone())
        }
    })?;
    if target.is_mapped(&ours) {
        return Ok(ours);
    }
    let status_file =
        target.shown(&Path::new(TMP).join(RecordingStatus::file_name(target.ns_pid())));
    let named = status
        .agent
        .as_ref()
        .map_or("no agent library".to_string(), |p| {
            format!("the agent library {}", target.shown(p))
        });
    bail!(
        "cannot stop the recording of {}: {status_file} names {named}, which the JVM has not loaded, and this \
         metascope's agent is not loaded in it either; nothing was loaded (if no recording runs, remove the file)",
        target.pid()
    )
}

/// A file of the JVM (a recording), opened as the JVM's user inside its
/// root and checked to be the JVM user's regular file.
pub struct JvmFile {
    file: File,
    /// Our descriptor's path, for readers that re-open it by path.
    path: PathBuf,
    /// Where the operator finds it (escaped).
    pub shown: String,
}

impl JvmFile {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub fn open_recording(target: &Target, inside: &Path) -> Result<JvmFile> {
    let shown = target.shown(inside);
    let file = target
        .open_file(inside, &Expect::owned_by(Kind::File, target.euid()))?
        .with_context(|| {
            format!("the recording {shown} does not exist (did the agent fail to open it?)")
        })?;
    Ok(JvmFile {
        path: PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd())),
        file,
        shown,
    })
}

/// Connects to the agent's live socket `inside`: the JVM user's, mode
/// 0600, and the JVM itself listening on it.
pub fn connect(target: &Target, inside: &Path) -> Result<UnixStream> {
    Ok(target.connect(inside)?)
}

/// `/tmp/metascope-<nspid>-<unix seconds>-<random>` in the JVM's root, for
/// files the agent creates there: a name other users cannot guess ahead.
pub fn fresh_tmp_name(target: &Target) -> Result<PathBuf> {
    let mut random = [0u8; 6];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut random))
        .context("reading /dev/urandom")?;
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Path::new(TMP).join(format!(
        "metascope-{}-{}-{random}",
        target.ns_pid(),
        launch::unix_seconds()
    )))
}

fn print_report(recording: &JvmFile, args: &AttachArgs) -> Result<()> {
    let input = recording.file.try_clone()?;
    write_report_from(input, Path::new(&recording.shown), &args.report)
}

pub fn run(args: AttachArgs) -> Result<i32> {
    // Before the target: as root, opening it makes us the JVM's user.
    let agent = Agent::open(args.agent.as_deref());
    let target = open_target(args.pid)?;
    let timeout = args.timeout;
    if args.stop {
        let Some(status) = recording_status(&target)? else {
            bail!(
                "process {} has no metascope recording running (nothing to stop)",
                args.pid
            );
        };
        let library = stop_library(
            &target,
            &status,
            agent.as_ref().map_err(|e| anyhow::anyhow!("{e:#}")),
        )?;
        load_by(&target, &library, "stop", timeout)?;
        eprintln!("metascope: recording stopped; the JVM keeps running");
        let recording = open_recording(&target, &status.out)?;
        eprintln!("metascope: recording in {}", recording.shown);
        print_report(&recording, &args)?;
        return Ok(0);
    }
    let agent = agent?;
    if let Some(status) = recording_status(&target)? {
        bail!(
            "process {} is already being recorded to {}; stop it with `metascope attach {} --stop`",
            args.pid,
            target.shown(&status.out),
            args.pid
        );
    }
    let out = match &args.output {
        Some(path) => std::path::absolute(path).context("resolving the output path")?,
        None if target.in_container() => fresh_tmp_name(&target)?.with_extension("jsonl"),
        None => {
            std::path::absolute(launch::default_output()).context("resolving the output path")?
        }
    };
    let mut options = format!("out={}", out.display());
    if let Some(extra) = &args.agent_opts {
        options.push(',');
        options.push_str(extra);
    }
    let loaded = load_new(&target, &agent, &options, timeout)?;
    eprintln!(
        "metascope: recording {} to {}",
        args.pid,
        target.shown(&out)
    );
    let Some(duration) = args.duration else {
        eprintln!(
            "metascope: stop with `metascope attach {} --stop` (the JVM keeps running)",
            args.pid
        );
        return Ok(0);
    };
    wait_visibly(duration, args.pid)?;
    load_by(&target, &loaded, "stop", timeout)?;
    eprintln!("metascope: recording stopped; the JVM keeps running");
    print_report(&open_recording(&target, &out)?, &args)?;
    Ok(0)
}

/// Sleeps for the recording's duration, ending early if the JVM exits.
fn wait_visibly(duration: Duration, pid: u32) -> Result<()> {
    let start = Instant::now();
    let progress = Countdown::new(duration);
    while start.elapsed() < duration {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            progress.finish();
            bail!("the JVM {pid} exited during the recording; its recording ends there");
        }
        progress.set(start.elapsed());
        std::thread::sleep(
            Duration::from_millis(200).min(duration.saturating_sub(start.elapsed())),
        );
    }
    progress.finish();
    Ok(())
}

/// A countdown on a terminal while `attach --duration` records.
struct Countdown {
    total: Duration,
    tty: bool,
}

impl Countdown {
    fn new(total: Duration) -> Countdown {
        Countdown {
            total,
            tty: std::io::stderr().is_terminal(),
        }
    }
    fn set(&self, elapsed: Duration) {
        if self.tty {
            let left = self.total.saturating_sub(elapsed).as_secs_f64();
            eprint!("\rmetascope: recording… {left:.0} s left   ");
        }
    }
    fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
