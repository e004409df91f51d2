//! `metascope attach PID`: record a JVM that is already running, and
//! `--stop` it again, over the HotSpot attach protocol (crate
//! metascope-attach): no JDK tools needed on this machine.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use metascope_events::status::{process_start_ticks, RecordingStatus};

use crate::cli::AttachArgs;
use crate::launch;

/// A JVM as seen from here: where its files are for us and for it.
pub struct Target {
    pub pid: u32,
    ns_pid: u32,
    /// `/proc/PID/root` when the target runs in another mount namespace
    /// (a container), so its paths must be reached through it.
    root: Option<PathBuf>,
}

impl Target {
    pub fn new(pid: u32) -> Result<Target> {
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        let status = std::fs::read_to_string(proc_dir.join("status"))
            .with_context(|| format!("no process with pid {pid} (is the JVM still running?)"))?;
        let ns_pid = metascope_attach::parse_status(&status, pid)
            .map(|s| s.ns_pid)
            .unwrap_or(pid);
        let same_root = match (
            std::fs::metadata(proc_dir.join("root")),
            std::fs::metadata("/"),
        ) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => true,
        };
        Ok(Target {
            pid,
            ns_pid,
            root: (!same_root).then(|| proc_dir.join("root")),
        })
    }

    /// A path inside the target, as we can open it.
    pub fn outside(&self, inside: &Path) -> PathBuf {
        match &self.root {
            Some(root) => root.join(inside.strip_prefix("/").unwrap_or(inside)),
            None => inside.to_path_buf(),
        }
    }

    /// The agent's status file: the running recording and its socket.
    /// A status file left by a killed JVM whose pid was reused does not
    /// count: its start time differs from this process's.
    pub fn status(&self) -> Option<RecordingStatus> {
        let file = self.outside(&Path::new("/tmp").join(RecordingStatus::file_name(self.ns_pid)));
        let status = RecordingStatus::parse(&std::fs::read_to_string(file).ok()?)?;
        let started = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|stat| process_start_ticks(&stat));
        if status.started.is_some() && started.is_some() && status.started != started {
            return None;
        }
        Some(status)
    }

    /// The agent library as the target can load it: in another mount
    /// namespace our path means nothing, so the library is copied into
    /// the target's /tmp.
    fn agent_path(&self, agent: &Path) -> Result<PathBuf> {
        if self.root.is_none() {
            return Ok(agent.to_path_buf());
        }
        let inside = PathBuf::from(format!("/tmp/{}", launch::agent_file_name()));
        std::fs::copy(agent, self.outside(&inside))
            .with_context(|| format!("cannot copy the agent into the container of {}", self.pid))?;
        Ok(inside)
    }

    /// Loads a library by the path the JVM already loaded it from.
    pub fn load_loaded(&self, inside: &Path, options: &str, timeout: Duration) -> Result<()> {
        metascope_attach::load_agent(self.pid, inside, options, timeout)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    pub fn load(&self, agent: &Path, options: &str, timeout: Duration) -> Result<()> {
        let agent = self.agent_path(agent)?;
        metascope_attach::load_agent(self.pid, &agent, options, timeout)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }
}

/// `20s`, `2m`, `500ms`, `1h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
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

pub fn run(args: AttachArgs) -> Result<i32> {
    let target = Target::new(args.pid)?;
    let agent = launch::find_agent(args.agent.as_deref())?;
    let timeout = args.timeout;
    if args.stop {
        let Some(status) = target.status() else {
            bail!(
                "process {} has no metascope recording running (nothing to stop)",
                args.pid
            );
        };
        let out = status.out;
        // Stop through the library that records: it may have been loaded
        // with -agentpath from another path than ours, and another copy of
        // the library would refuse to act.
        match status
            .agent
            .filter(|inside| target.outside(inside).exists())
        {
            Some(inside) => target.load_loaded(&inside, "stop", timeout)?,
            None => target.load(&agent, "stop", timeout)?,
        }
        eprintln!("metascope: recording stopped; the JVM keeps running");
        eprintln!("metascope: recording in {}", target.outside(&out).display());
        crate::print_report(&target.outside(&out), &args.report)?;
        return Ok(0);
    }
    if let Some(status) = target.status() {
        let out = status.out;
        bail!(
            "process {} is already being recorded to {}; stop it with `metascope attach {} --stop`",
            args.pid,
            target.outside(&out).display(),
            args.pid
        );
    }
    let out = match &args.output {
        Some(path) => std::path::absolute(path).context("resolving the output path")?,
        None if target.root.is_some() => PathBuf::from(format!(
            "/tmp/metascope-{}-{}.jsonl",
            target.ns_pid,
            launch::unix_seconds()
        )),
        None => {
            std::path::absolute(launch::default_output()).context("resolving the output path")?
        }
    };
    let mut options = format!("out={}", out.display());
    if let Some(extra) = &args.agent_opts {
        options.push(',');
        options.push_str(extra);
    }
    target.load(&agent, &options, timeout)?;
    let readable = target.outside(&out);
    eprintln!(
        "metascope: recording {} to {}",
        args.pid,
        readable.display()
    );
    let Some(duration) = args.duration else {
        eprintln!(
            "metascope: stop with `metascope attach {} --stop` (the JVM keeps running)",
            args.pid
        );
        return Ok(0);
    };
    wait_visibly(duration, args.pid)?;
    target.load(&agent, "stop", timeout)?;
    eprintln!("metascope: recording stopped; the JVM keeps running");
    crate::print_report(&readable, &args.report)?;
    Ok(0)
}

/// Sleeps for the recording's duration, ending early if the JVM exits.
fn wait_visibly(duration: Duration, pid: u32) -> Result<()> {
    let start = Instant::now();
    let progress = crate::live_view::Progress::new(duration);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("ten")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn paths_inside_a_container_are_reached_through_proc_root() {
        let t = Target {
            pid: 7,
            ns_pid: 1,
            root: Some(PathBuf::from("/proc/7/root")),
        };
        assert_eq!(
            t.outside(Path::new("/tmp/x.jsonl")),
            PathBuf::from("/proc/7/root/tmp/x.jsonl")
        );
        let t = Target {
            pid: 7,
            ns_pid: 7,
            root: None,
        };
        assert_eq!(
            t.outside(Path::new("/tmp/x.jsonl")),
            PathBuf::from("/tmp/x.jsonl")
        );
    }
}
