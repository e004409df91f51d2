//! `metascope live SOCKET` and `metascope top PID`: a refreshing view of a
//! recording in progress. Call sites ranked by definition rate, live
//! counts, verdicts and drops; a full-screen view on a terminal, periodic
//! plain-text lines otherwise (logs, CI, pipes).
//!
//! The stream is spooled to a file and the view re-reads it each refresh
//! with the same reader and report as `metascope report`, so what `top`
//! shows is exactly what the report will say. The refresh interval grows
//! with the time a read takes, keeping the CPU cost bounded.

use std::collections::HashMap;
use std::io::{IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::attach_cmd::{self, Agent, JvmFile};
use crate::callsite::Libraries;
use crate::cli::{LiveArgs, TopArgs};
use crate::recording::{ReadOptions, Recording};
use crate::report::{self, Report};

/// Where the events come from.
enum Source {
    /// Spooled from a live socket into this file by a reader thread.
    Socket {
        spool: PathBuf,
        ended: Arc<AtomicBool>,
    },
    /// A recording file being written (by the JVM, opened as its user).
    File(JvmFile),
}

impl Source {
    fn path(&self) -> &Path {
        match self {
            Source::Socket { spool, .. } => spool,
            Source::File(file) => file.path(),
        }
    }
    fn ended(&self) -> bool {
        match self {
            Source::Socket { ended, .. } => ended.load(Ordering::Acquire),
            Source::File(_) => false,
        }
    }
}

/// Copies the stream into a spool file from a reader thread.
fn spool(mut stream: UnixStream, spool_dir: &Path) -> Result<Source> {
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
    Ok(Source::Socket { spool, ended })
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
/// JVM: see attach_cmd), or attaches with a live socket and stops again
/// when the view ends.
pub fn top(args: TopArgs) -> Result<i32> {
    // Before the target: as root, opening it makes us the JVM's user.
    let agent = Agent::open(args.agent.as_deref());
    let target = attach_cmd::open_target(args.pid)?;
    let spool_dir = tempfile::tempdir()?;
    let mut attached = None;
    let source = match attach_cmd::recording_status(&target)? {
        Some(status) => match status.socket {
            Some(socket) => spool(attach_cmd::connect(&target, &socket)?, spool_dir.path())?,
            None => Source::File(attach_cmd::open_recording(&target, &status.out)?),
        },
        None => {
            let agent = agent?;
            let name = attach_cmd::fresh_tmp_name(&target)?;
            let (out, socket) = (name.with_extension("jsonl"), name.with_extension("sock"));
            let mut options = format!("out={},socket={}", out.display(), socket.display());
            if let Some(extra) = &args.agent_opts {
                options.push(',');
                options.push_str(extra);
            }
            let loaded = attach_cmd::load_new(&target, &agent, &options, args.timeout)?;
            eprintln!(
                "metascope: attached to {}; recording to {}",
                args.pid,
                target.shown(&out)
            );
            attached = Some((loaded, out));
            // The agent binds the socket before Agent_OnAttach returns.
            spool(attach_cmd::connect(&target, &socket)?, spool_dir.path())?
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
            attach_cmd::load_by(&target, &loaded, "stop", args.timeout)?;
            eprintln!(
                "metascope: recording stopped; it is in {}",
                target.shown(&out)
            );
        }
    }
    result.map(|()| 0)
}

/// Refreshes until interrupted, the stream ends, or `--iterations` ran.
fn watch(source: &Source, view: &crate::cli::ViewOptions, what: &str) -> Result<()> {
    let tty = std::io::stdout().is_terminal() && !view.plain;
    let libraries = Libraries::with_extra(&view.libraries);
    let options = ReadOptions {
        libraries: libraries.clone(),
        all_kinds: false,
        ..ReadOptions::default()
    };
    let mut previous: HashMap<String, (u64, Instant)> = HashMap::new();
    let mut iteration = 0u64;
    loop {
        let began = Instant::now();
        let ended = source.ended();
        match Recording::read(source.path(), &options) {
            Ok(recording) => {
                let report = report::build(&recording, 0, &libraries);
                let rates = rates(&report, &mut previous);
                let screen = render(&report, &rates, what, view.top);
                let mut out = std::io::stdout().lock();
                if tty {
                    // Home, clear, draw: a full-screen refresh.
                    let _ = write!(out, "\x1b[H\x1b[2J{screen}");
                } else {
                    let _ = writeln!(out, "{}", plain_lines(&report, &rates, view.top));
                }
                let _ = out.flush();
            }
            Err(e) if iteration > 2 => {
                eprintln!("metascope: {}", crate::escape::text(&format!("{e:#}")))
            }
            Err(_) => {} // the header may not be there yet
        }
        iteration += 1;
        if ended || crate::sys::interrupted() || view.iterations.is_some_and(|n| iteration >= n) {
            return Ok(());
        }
        // Never spend more than a third of the time re-reading.
        let pause = view.interval.max(began.elapsed() * 2);
        let until = Instant::now() + pause;
        while Instant::now() < until && !crate::sys::interrupted() && !source.ended() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Classes per second per call site since the previous refresh.
fn rates(report: &Report, previous: &mut HashMap<String, (u64, Instant)>) -> HashMap<String, f64> {
    let now = Instant::now();
    let mut rates = HashMap::new();
    for site in &report.call_sites {
        let rate = match previous.get(&site.display) {
            Some(&(before, at)) => {
                let secs = now.duration_since(at).as_secs_f64().max(1e-3);
                site.classes.saturating_sub(before) as f64 / secs
            }
            None => 0.0,
        };
        rates.insert(site.display.clone(), rate);
        previous.insert(site.display.clone(), (site.classes, now));
    }
    rates
}

fn ranked<'a>(
    report: &'a Report,
    rates: &HashMap<String, f64>,
) -> Vec<(&'a report::CallSiteReport, f64)> {
    let mut sites: Vec<_> = report
        .call_sites
        .iter()
        .map(|s| (s, rates.get(&s.display).copied().unwrap_or(0.0)))
        .collect();
    sites.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.0.classes.cmp(&a.0.classes))
    });
    sites
}

/// The full-screen view. Names from the recording are escaped
/// ([`crate::escape::text`]): raw, they could move the cursor or clear the
/// screen.
fn render(report: &Report, rates: &HashMap<String, f64>, what: &str, top: usize) -> String {
    use crate::escape::text as escape;
    let info = &report.recording;
    let totals = &info.totals;
    let mut s = format!(
        "metascope top — {} — {:.1} s recorded — {} classes captured, {} dropped{}\n\n",
        escape(what),
        info.duration_ms / 1000.0,
        totals.captured,
        totals.dropped.map_or("?".into(), |d| d.to_string()),
        if info.complete {
            " — recording ended"
        } else {
            ""
        }
    );
    s.push_str(&format!(
        "{:>9} {:>8} {:>8} {:>6}  {}\n",
        "classes/s", "defined", "live", "regen", "call site (application frame → library entry)"
    ));
    for (site, rate) in ranked(report, rates).into_iter().take(top) {
        let entry = site
            .library_entry
            .as_ref()
            .map(|e| format!(" → {}", escape(&e.display)))
            .unwrap_or_default();
        s.push_str(&format!(
            "{:>9.1} {:>8} {:>8} {:>6}  {}{}\n",
            rate,
            site.defined,
            site.live,
            site.regenerated,
            escape(&site.display),
            entry
        ));
    }
    let verdicts = &report.diagnosis.verdicts;
    if !verdicts.is_empty() {
        s.push_str("\nVerdicts\n");
        for v in verdicts.iter().take(top) {
            s.push_str(&format!(
                "  #{} {} ({}): {}\n",
                v.call_site_rank,
                wire(&v.cause),
                wire(&v.trend),
                escape(&v.call_site)
            ));
        }
    }
    for w in info.warnings.iter().take(3) {
        s.push_str(&format!("\n⚠ {}", escape(w)));
    }
    s.push('\n');
    s
}

/// One line per refresh plus the top call sites, for logs and pipes.
fn plain_lines(report: &Report, rates: &HashMap<String, f64>, top: usize) -> String {
    use crate::escape::text as escape;
    let info = &report.recording;
    let mut s = format!(
        "metascope: +{:.1}s captured={} dropped={} call_sites={} verdicts={}",
        info.duration_ms / 1000.0,
        info.totals.captured,
        info.totals.dropped.map_or("?".into(), |d| d.to_string()),
        report.call_sites_total,
        report.diagnosis.verdicts.len()
    );
    for (site, rate) in ranked(report, rates).into_iter().take(top.min(3)) {
        s.push_str(&format!(
            "\n  {:.1}/s defined={} live={} {}",
            rate,
            site.defined,
            site.live,
            escape(&site.display)
        ));
    }
    s
}

/// The wire (JSON) name of an enum value, e.g. `soft_reference_cycle`.
fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
