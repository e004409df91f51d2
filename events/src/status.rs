//! The status file `/tmp/.metascope_pid<pid>` (mode 0600) that a running
//! recording keeps, so `metascope attach` / `top` can find it (and say
//! "already recording"). Lines of `key=value`; unknown keys are ignored.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStatus {
    /// The recording file, as the JVM sees it.
    pub out: PathBuf,
    /// The live socket (`socket=`), if any.
    pub socket: Option<PathBuf>,
    /// The JVM's start time (field 22 of /proc/PID/stat, clock ticks since
    /// boot): a status file left by a killed JVM whose pid was reused does
    /// not match the new process.
    pub started: Option<u64>,
    /// The agent library that is recording, so `attach --stop` loads the
    /// same copy (another copy of the library would refuse to act).
    pub agent: Option<PathBuf>,
}

impl RecordingStatus {
    pub fn file_name(pid: u32) -> String {
        format!(".metascope_pid{pid}")
    }

    pub fn to_text(&self) -> String {
        let mut text = format!("out={}\n", self.out.display());
        if let Some(socket) = &self.socket {
            text.push_str(&format!("socket={}\n", socket.display()));
        }
        if let Some(started) = self.started {
            text.push_str(&format!("started={started}\n"));
        }
        if let Some(agent) = &self.agent {
            text.push_str(&format!("agent={}\n", agent.display()));
        }
        text
    }

    pub fn parse(text: &str) -> Option<RecordingStatus> {
        let mut status = RecordingStatus {
            out: PathBuf::new(),
            socket: None,
            started: None,
            agent: None,
        };
        for line in text.lines() {
            match line.split_once('=') {
                Some(("out", v)) => status.out = PathBuf::from(v),
                Some(("socket", v)) => status.socket = Some(PathBuf::from(v)),
                Some(("started", v)) => status.started = v.parse().ok(),
                Some(("agent", v)) => status.agent = Some(PathBuf::from(v)),
                _ => {}
            }
        }
        (!status.out.as_os_str().is_empty()).then_some(status)
    }
}

/// Field 22 (`starttime`) of a `/proc/PID/stat` line. The command name in
/// field 2 may contain spaces and parentheses, so count from its last `)`.
pub fn process_start_ticks(stat: &str) -> Option<u64> {
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_unknown_keys() {
        let s = RecordingStatus {
            out: PathBuf::from("/tmp/a b.jsonl"),
            socket: Some(PathBuf::from("/tmp/s.sock")),
            started: Some(12345),
            agent: Some(PathBuf::from("/opt/metascope/libmetascope_agent.so")),
        };
        assert_eq!(
            RecordingStatus::parse(&(s.to_text() + "future=1\n")),
            Some(s)
        );
        assert_eq!(
            RecordingStatus::parse("socket=/x\n"),
            None,
            "out= is required"
        );
    }

    #[test]
    fn start_ticks_survive_odd_command_names() {
        let stat =
            "4242 (java (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 22 0 987654 123 456";
        assert_eq!(process_start_ticks(stat), Some(987654));
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(process_start_ticks(&own).is_some());
    }
}
