//! Loads an agent library into a running HotSpot JVM (JDK 11 to 25) over
//! the HotSpot attach protocol, with no JDK tools on this machine.
//!
//! The protocol (Linux):
//! 1. The JVM listens on `<tmp>/.java_pid<nspid>` once its Attach Listener
//!    runs, `<tmp>` being the target's `/tmp` (through `/proc/PID/root` for
//!    containers) and `nspid` its pid in its own namespace.
//! 2. If the socket is not there, create `.attach_pid<nspid>` in the
//!    target's working directory (or `<tmp>`), send SIGQUIT, and wait for the
//!    socket. SIGQUIT kills a process that does not handle it, so check
//!    `SigCgt` first.
//! 3. The JVM trusts only peers with its own euid/egid (SO_PEERCRED): root
//!    switches to the target's ids; anyone else must be the same user.
//! 4. Request: `"1\0load\0<abs path>\0true\0<options>\0"`. Reply: a status
//!    line (`0` = the command ran) and then the agent's return code, as
//!    `return code: N` (JDK 9+) or a bare `N`, plus any messages.

use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What /proc tells about the target process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStatus {
    /// The pid in the target's innermost pid namespace (last `NStgid`).
    pub ns_pid: u32,
    pub euid: u32,
    pub egid: u32,
    /// SIGQUIT has a handler (`SigCgt` bit 3).
    pub handles_sigquit: bool,
}

/// Parses `/proc/PID/status`.
pub fn parse_status(text: &str, pid: u32) -> Option<ProcStatus> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|rest| rest.trim().to_string()))
    };
    let ns_pid = field("NStgid:")
        .and_then(|v| v.split_whitespace().last().and_then(|n| n.parse().ok()))
        .unwrap_or(pid);
    // Uid/Gid: real, effective, saved, filesystem.
    let second = |v: String| v.split_whitespace().nth(1).and_then(|n| n.parse().ok());
    let euid = second(field("Uid:")?)?;
    let egid = second(field("Gid:")?)?;
    let caught = u64::from_str_radix(&field("SigCgt:")?, 16).ok()?;
    Some(ProcStatus {
        ns_pid,
        euid,
        egid,
        handles_sigquit: caught & (1 << (libc::SIGQUIT - 1)) != 0,
    })
}

/// The agent's answer to `load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReply {
    /// Agent_OnAttach's return value.
    pub return_code: i32,
    /// Anything else the JVM said (warnings, error text).
    pub messages: String,
}

/// Why attaching did not work, each with what to do about it.
#[derive(Debug)]
pub enum AttachError {
    NoSuchProcess {
        pid: u32,
    },
    NotAJvm {
        pid: u32,
        why: String,
    },
    OtherUser {
        pid: u32,
        target_uid: u32,
        our_uid: u32,
    },
    NoSigquitHandler {
        pid: u32,
    },
    ListenerTimeout {
        pid: u32,
        waited: Duration,
        socket: PathBuf,
    },
    DynamicLoadingDisabled {
        pid: u32,
    },
    AgentFailed {
        pid: u32,
        reply: LoadReply,
    },
    CommandFailed {
        pid: u32,
        status: i32,
        message: String,
    },
    Io {
        pid: u32,
        step: &'static str,
        error: std::io::Error,
    },
}

impl fmt::Display for AttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttachError::NoSuchProcess { pid } => {
                write!(f, "no process with pid {pid} (is the JVM still running? `ps -ef | grep java` lists JVMs)")
            }
            AttachError::NotAJvm { pid, why } => write!(f, "process {pid} is not a HotSpot JVM ({why})"),
            AttachError::OtherUser { pid, target_uid, our_uid } => write!(
                f,
                "process {pid} runs as uid {target_uid}, you are uid {our_uid}: the JVM only accepts attach from its own user; \
                 run metascope as that user (e.g. `sudo -u <user> metascope attach {pid}`) or as root"
            ),
            AttachError::NoSigquitHandler { pid } => write!(
                f,
                "process {pid} does not handle SIGQUIT (started with -Xrs, or not a JVM), so it cannot be asked to start \
                 its attach listener; refusing to send a signal that would kill it"
            ),
            AttachError::ListenerTimeout { pid, waited, socket } => write!(
                f,
                "the JVM {pid} did not open its attach socket {} within {:.1} s (is it stuck in a long GC or started \
                 with -XX:+DisableAttachMechanism?); retry, or use -agentpath at start",
                socket.display(),
                waited.as_secs_f64()
            ),
            AttachError::DynamicLoadingDisabled { pid } => write!(
                f,
                "the JVM {pid} refuses dynamically loaded agents (-XX:-EnableDynamicAgentLoading); restart it with \
                 -XX:+EnableDynamicAgentLoading, or load metascope at start with -agentpath"
            ),
            AttachError::AgentFailed { pid, reply } => write!(
                f,
                "the JVM {pid} loaded the agent but Agent_OnAttach returned {}: {}",
                reply.return_code,
                one_line(&reply.messages)
            ),
            AttachError::CommandFailed { pid, status, message } => write!(
                f,
                "the JVM {pid} rejected the load command (status {status}): {}",
                one_line(message)
            ),
            AttachError::Io { pid, step, error } => write!(f, "attaching to {pid}: {step}: {error}"),
        }
    }
}

impl std::error::Error for AttachError {}

fn one_line(text: &str) -> String {
    let joined: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if joined.is_empty() {
        "(no message)".into()
    } else {
        joined.join(" | ")
    }
}

/// Parses the JVM's reply to `load` (both the JDK 9-17 and 21+ wordings).
pub fn parse_load_reply(pid: u32, reply: &str) -> Result<LoadReply, AttachError> {
    if reply.contains("Dynamic agent loading is not enabled") {
        return Err(AttachError::DynamicLoadingDisabled { pid });
    }
    let mut lines = reply.lines();
    let status: i32 = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| AttachError::CommandFailed {
            pid,
            status: -1,
            message: format!("unexpected reply {reply:?}"),
        })?;
    let rest: Vec<&str> = lines.collect();
    if status != 0 {
        return Err(AttachError::CommandFailed {
            pid,
            status,
            message: rest.join("\n"),
        });
    }
    let mut return_code = None;
    let mut messages = Vec::new();
    for line in rest {
        let t = line.trim();
        let code = t
            .strip_prefix("return code:")
            .map(str::trim)
            .or(if return_code.is_none() { Some(t) } else { None })
            .and_then(|n| n.parse::<i32>().ok());
        match code {
            Some(c) if return_code.is_none() => return_code = Some(c),
            _ if !t.is_empty() => messages.push(t.to_string()),
            _ => {}
        }
    }
    let reply = LoadReply {
        return_code: return_code.unwrap_or(0),
        messages: messages.join("\n"),
    };
    if reply.return_code != 0 {
        return Err(AttachError::AgentFailed { pid, reply });
    }
    Ok(reply)
}

/// The v1 `load` request.
pub fn load_request(agent: &Path, options: &str) -> Vec<u8> {
    let mut request = Vec::new();
    for part in [
        "1".as_bytes(),
        b"load",
        agent.as_os_str().as_encoded_bytes(),
        b"true",
        options.as_bytes(),
    ] {
        request.extend_from_slice(part);
        request.push(0);
    }
    request
}

/// Loads `agent` (an absolute path) with `options` into the JVM `pid`.
pub fn load_agent(
    pid: u32,
    agent: &Path,
    options: &str,
    timeout: Duration,
) -> Result<LoadReply, AttachError> {
    if options.len() > 1024 || agent.as_os_str().len() > 1024 {
        return Err(AttachError::CommandFailed {
            pid,
            status: -1,
            message: "the agent path and options must be at most 1,024 bytes each".into(),
        });
    }
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let status_text = std::fs::read_to_string(proc_dir.join("status"))
        .map_err(|_| AttachError::NoSuchProcess { pid })?;
    let status = parse_status(&status_text, pid).ok_or_else(|| AttachError::NotAJvm {
        pid,
        why: "cannot read its /proc status".into(),
    })?;
    become_target_user(pid, &status)?;
    if !is_hotspot(&proc_dir) {
        return Err(AttachError::NotAJvm {
            pid,
            why: "no libjvm.so is mapped in it".into(),
        });
    }
    let tmp = target_tmp(&proc_dir);
    let socket = tmp.join(format!(".java_pid{}", status.ns_pid));
    if !is_socket(&socket) {
        start_listener(pid, &proc_dir, &tmp, &status, &socket, timeout)?;
    }
    let io = |step: &'static str| move |error| AttachError::Io { pid, step, error };
    let mut stream = UnixStream::connect(&socket).map_err(io("connecting to the attach socket"))?;
    stream
        .set_read_timeout(Some(timeout.max(Duration::from_secs(10))))
        .map_err(io("setting a timeout"))?;
    stream
        .write_all(&load_request(agent, options))
        .map_err(io("sending the load command"))?;
    let mut reply = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut reply)
        .map_err(io("reading the reply"))?;
    parse_load_reply(pid, &String::from_utf8_lossy(&reply))
}

/// The JVM checks the peer's euid/egid. Root takes on the target's; others
/// must already match.
fn become_target_user(pid: u32, status: &ProcStatus) -> Result<(), AttachError> {
    // SAFETY: plain libc getters with no arguments.
    let (our_uid, our_gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if our_uid == status.euid && our_gid == status.egid {
        return Ok(());
    }
    if our_uid != 0 {
        if our_uid == status.euid {
            return Ok(()); // same user, other group: the JVM still accepts it
        }
        return Err(AttachError::OtherUser {
            pid,
            target_uid: status.euid,
            our_uid,
        });
    }
    // SAFETY: changing this process's effective ids; group first, while we
    // still have the privilege to do so.
    let ok = unsafe { libc::setegid(status.egid) == 0 && libc::seteuid(status.euid) == 0 };
    if ok {
        Ok(())
    } else {
        Err(AttachError::Io {
            pid,
            step: "switching to the target's user",
            error: std::io::Error::last_os_error(),
        })
    }
}

fn is_hotspot(proc_dir: &Path) -> bool {
    match std::fs::read_to_string(proc_dir.join("maps")) {
        Ok(maps) => maps.contains("/libjvm.so"),
        // Unreadable maps: let the protocol decide.
        Err(_) => true,
    }
}

fn target_tmp(proc_dir: &Path) -> PathBuf {
    let through_root = proc_dir.join("root/tmp");
    if std::fs::metadata(&through_root).is_ok() {
        through_root
    } else {
        PathBuf::from("/tmp")
    }
}

fn is_socket(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

fn start_listener(
    pid: u32,
    proc_dir: &Path,
    tmp: &Path,
    status: &ProcStatus,
    socket: &Path,
    timeout: Duration,
) -> Result<(), AttachError> {
    if !status.handles_sigquit {
        return Err(AttachError::NoSigquitHandler { pid });
    }
    let trigger_name = format!(".attach_pid{}", status.ns_pid);
    let mut trigger = proc_dir.join("cwd").join(&trigger_name);
    if std::fs::File::create(&trigger).is_err() {
        trigger = tmp.join(&trigger_name);
        std::fs::File::create(&trigger).map_err(|error| AttachError::Io {
            pid,
            step: "creating the attach trigger file",
            error,
        })?;
    }
    // SAFETY: kill(2) on a pid we checked handles SIGQUIT.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGQUIT) };
    let start = Instant::now();
    let mut pause = Duration::from_millis(20);
    let found = loop {
        std::thread::sleep(pause);
        if is_socket(socket) {
            break true;
        }
        if start.elapsed() >= timeout {
            break false;
        }
        pause = (pause + Duration::from_millis(20)).min(Duration::from_millis(500));
    };
    let _ = std::fs::remove_file(&trigger);
    if found {
        Ok(())
    } else {
        Err(AttachError::ListenerTimeout {
            pid,
            waited: start.elapsed(),
            socket: socket.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tjava\nTgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t1\nUid:\t1000\t1001\t1001\t1001\nGid:\t100\t101\t101\t101\nNStgid:\t4242\t7\nSigIgn:\t0000000000000000\nSigCgt:\t2000000181005ccf\n";

    #[test]
    fn status_gives_namespace_pid_effective_ids_and_sigquit() {
        let s = parse_status(STATUS, 4242).unwrap();
        assert_eq!(
            s,
            ProcStatus {
                ns_pid: 7,
                euid: 1001,
                egid: 101,
                handles_sigquit: true
            }
        );
        let no_quit = STATUS.replace("2000000181005ccf", "0000000000004a02");
        assert!(!parse_status(&no_quit, 4242).unwrap().handles_sigquit);
        let no_ns = STATUS.replace("NStgid:\t4242\t7\n", "");
        assert_eq!(parse_status(&no_ns, 4242).unwrap().ns_pid, 4242);
    }

    #[test]
    fn replies_of_every_jdk() {
        assert_eq!(
            parse_load_reply(1, "0\nreturn code: 0\n")
                .unwrap()
                .return_code,
            0
        );
        assert_eq!(parse_load_reply(1, "0\n0\n").unwrap().return_code, 0);
        match parse_load_reply(1, "0\nreturn code: -1\nmetascope: unknown option 'x'\n") {
            Err(AttachError::AgentFailed { reply, .. }) => {
                assert_eq!(reply.return_code, -1);
                assert!(reply.messages.contains("unknown option"));
            }
            other => panic!("{other:?}"),
        }
        match parse_load_reply(1, "100\nDynamic agent loading is not enabled. Use -XX:+EnableDynamicAgentLoading to launch target VM.\n") {
            Err(AttachError::DynamicLoadingDisabled { .. }) => {}
            other => panic!("{other:?}"),
        }
        match parse_load_reply(
            1,
            "101\n/x/lib.so was not loaded.\n/x/lib.so: cannot open shared object file\n",
        ) {
            Err(e @ AttachError::CommandFailed { .. }) => {
                assert!(e.to_string().contains("cannot open shared object"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_request_has_five_nul_terminated_parts() {
        let r = load_request(Path::new("/opt/lib.so"), "out=/tmp/x");
        assert_eq!(r, b"1\0load\0/opt/lib.so\0true\0out=/tmp/x\0");
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = AttachError::OtherUser {
            pid: 9,
            target_uid: 1000,
            our_uid: 1001,
        };
        assert!(e.to_string().contains("run metascope as that user"));
        assert!(AttachError::NoSigquitHandler { pid: 9 }
            .to_string()
            .contains("refusing"));
        let e = load_agent(
            u32::MAX - 7,
            Path::new("/x.so"),
            "",
            Duration::from_millis(10),
        )
        .unwrap_err();
        assert!(matches!(e, AttachError::NoSuchProcess { .. }), "{e}");
    }

    #[test]
    fn a_process_that_is_not_a_jvm_is_refused_without_a_signal() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let e = load_agent(
            child.id(),
            Path::new("/x.so"),
            "",
            Duration::from_millis(100),
        )
        .unwrap_err();
        let _ = child.kill();
        let _ = child.wait();
        assert!(matches!(e, AttachError::NotAJvm { .. }), "{e}");
        assert!(e.to_string().contains("libjvm.so"), "{e}");
    }
}
