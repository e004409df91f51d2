//! `metascope live SOCKET` and `metascope top PID`: a refreshing view of a
//! recording in progress. Call sites ranked by definition rate, live
//! counts, verdicts and drops; a full-screen view on a terminal, periodic
//! plain-text lines otherwise (logs, CI, pipes).
//!
//! A socket's stream is spooled to a file by a reader thread (the agent
//! never waits for a slow view). The view follows the spool (or the
//! recording file) with the same reader and analysis as `metascope
//! report`, kept alive between refreshes: each refresh reads only the
//! records that arrived since the last one, and shows the report of
//! everything so far, so what `top` shows is exactly what the report will
//! say. The refresh interval grows with the time a refresh takes, keeping
//! the CPU cost bounded.

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::attach::{self, Agent, JvmFile};
use super::report::analysis_options;
use crate::analyze::stacks::DEFAULT_STACK_MEMORY_MIB;
use crate::analyze::Analysis;
use crate::cli::{LiveArgs, TopArgs, ViewOptions};
use crate::read::jsonl::JsonLines;
use crate::read::Source as _;
use crate::render::live::{plain, screen, Rates};
use crate::report::{self, Contents, FlameGraphParts};

/// Where the events come from.
enum Feed {
    /// Spooled from a live socket into this file by a reader thread.
    Socket {
        spool: PathBuf,
        ended: Arc<AtomicBool>,
    },
    /// A recording file being written (by the JVM, opened as its user).
    File(JvmFile),
}

impl Feed {
    fn path(&self) -> &Path {
        match self {
            Feed::Socket { spool, .. } => spool,
            Feed::File(file) => file.path(),
        }
    }
    fn ended(&self) -> bool {
        match self {
            Feed::Socket { ended, .. } => ended.load(Ordering::Acquire),
            Feed::File(_) => false,
        }
    }
}

/// Copies the stream into a spool file from a reader thread.
fn spool(mut stream: UnixStream, spool_dir: &Path) -> Result<Feed> {
    let spool = spool_dir.join("live.jsonl");
    let mut file = std::fs::File::create(&spool).context("creating the spool file")?;
    let ended = Arc::new(AtomicBool::new(false));
    let flag = ended.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 || file.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        flag.store(true, Ordering::Release);
    });
    Ok(Feed::Socket { spool, ended })
}

pub fn live(args: LiveArgs) -> Result<i32> {
    let spool_dir = tempfile::tempdir()?;
    let stream = UnixStream::connect(&args.socket).with_context(|| {
        format!(
            "cannot connect to {} (is the JVM running with the agent option socket={}?)",
            args.socket.display(),
            args.socket.display()
        )
    })?;
    let source = spool(stream, spool_dir.path())?;
    crate::sys::catch_interrupts();
    watch(&source, &args.view, &args.socket.display().to_string())?;
    Ok(0)
}

/// `metascope top PID`: follows the running recording (its live socket or
/// its file, as the status file names them, checked like everything of the
/// JVM: see commands/attach.rs), or attaches with a live socket and stops again
/// when the view ends.
pub fn top(args: TopArgs) -> Result<i32> {
    // Before the target: as root, opening it makes us the JVM's user.
    let agent = Agent::open(args.agent.as_deref());
    let target = attach::open_target(args.pid)?;
    let spool_dir = tempfile::tempdir()?;
    let mut attached = None;
    let source = match attach::recording_status(&target)? {
        Some(status) => match status.socket {
            Some(socket) => spool(attach::connect(&target, &socket)?, spool_dir.path())?,
            None => Feed::File(attach::open_recording(&target, &status.out)?),
        },
        None => {
            let agent = agent?;
            let name = attach::fresh_tmp_name(&target)?;
            let (out, socket) = (name.with_extension("jsonl"), name.with_extension("sock"));
            let mut options = format!("out={},socket={}", out.display(), socket.display());
            if let Some(extra) = &args.agent_opts {
                options.push(',');
                options.push_str(extra);
            }
            let loaded = attach::load_new(&target, &agent, &options, args.timeout)?;
            eprintln!(
                "metascope: attached to {}; recording to {}",
                args.pid,
                target.shown(&out)
            );
            attached = Some((loaded, out));
            // The agent binds the socket before Agent_OnAttach returns.
            spool(attach::connect(&target, &socket)?, spool_dir.path())?
        }
    };
    crate::sys::catch_interrupts();
    let result = watch(&source, &args.view, &format!("pid {}", args.pid));
    if let Some((loaded, out)) = attached {
        if args.keep_recording {
            eprintln!(
                "metascope: still recording to {}; stop with `metascope attach {} --stop`",
                target.shown(&out),
                args.pid
            );
        } else if Path::new(&format!("/proc/{}", args.pid)).exists() {
            attach::load_by(&target, &loaded, "stop", args.timeout)?;
            eprintln!(
                "metascope: recording stopped; it is in {}",
                target.shown(&out)
            );
        }
    }
    result.map(|()| 0)
}

/// The recording being followed, read as it grows.
struct Follower {
    lines: Option<JsonLines<BufReader<File>>>,
    analysis: Analysis,
}

impl Follower {
    /// Reads what arrived since the last call; `false` while the
    /// recording's first line has not arrived.
    fn read_new(&mut self, path: &Path) -> Result<bool> {
        let lines = match &mut self.lines {
            Some(lines) => lines,
            None => {
                let file =
                    File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                self.lines
                    .insert(JsonLines::follow(BufReader::new(file), path))
            }
        };
        lines.read(&mut self.analysis)?;
        Ok(lines.started())
    }
}

/// Refreshes until interrupted, the stream ends, or `--iterations` ran.
fn watch(source: &Feed, view: &ViewOptions, what: &str) -> Result<()> {
    let tty = std::io::stdout().is_terminal() && !view.plain;
    let options = analysis_options(&view.libraries, &view.app, false, DEFAULT_STACK_MEMORY_MIB);
    let mut follower = Follower {
        lines: None,
        analysis: Analysis::new(options),
    };
    let mut rates = Rates::default();
    let shown = source.path().display().to_string();
    let mut iteration = 0u64;
    loop {
        let began = Instant::now();
        let ended = source.ended();
        match follower.read_new(source.path()) {
            Ok(true) => {
                let damage = follower.lines.as_ref().map(|l| l.damage().clone());
                let contents = Contents {
                    file: &shown,
                    top: 0,
                    flame_graph: FlameGraphParts::None,
                };
                let report = report::build(
                    &follower.analysis.finish(&damage.unwrap_or_default()),
                    &contents,
                );
                let rates = rates.update(&report, Instant::now());
                let mut out = std::io::stdout().lock();
                if tty {
                    // Home, clear, draw: a full-screen refresh.
                    let _ = write!(
                        out,
                        "\x1b[H\x1b[2J{}",
                        screen(&report, &rates, what, view.top)
                    );
                } else {
                    let _ = writeln!(out, "{}", plain(&report, &rates, view.top));
                }
                let _ = out.flush();
            }
            Ok(false) if iteration == 2 => eprintln!(
                "metascope: no events from {} yet",
                crate::escape::text(what)
            ),
            Ok(false) => {}
            Err(e) if iteration > 2 => {
                eprintln!("metascope: {}", crate::escape::text(&format!("{e:#}")))
            }
            Err(_) => {} // the file may not be there yet
        }
        iteration += 1;
        if ended || crate::sys::interrupted() || view.iterations.is_some_and(|n| iteration >= n) {
            return Ok(());
        }
        // Never spend more than a third of the time refreshing.
        let pause = view.interval.max(began.elapsed() * 2);
        let until = Instant::now() + pause;
        while Instant::now() < until && !crate::sys::interrupted() && !source.ended() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
