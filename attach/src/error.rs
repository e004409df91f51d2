//! Why attaching did not work, each with what to do about it. Every
//! message is one line; text that came from the target is escaped.

use std::fmt;
use std::time::Duration;

use crate::escape::escape_control;
use crate::reply::LoadReply;

#[derive(Debug)]
pub enum AttachError {
    NoSuchProcess {
        pid: u32,
    },
    NotAJvm {
        pid: u32,
        why: String,
    },
    /// We are neither root nor the JVM's user.
    OtherUser {
        pid: u32,
        target_uid: u32,
        our_uid: u32,
    },
    /// Same user, other effective group: HotSpot checks both.
    OtherGroup {
        pid: u32,
        uid: u32,
        target_gid: u32,
        our_gid: u32,
    },
    /// Root could not become the JVM's user (nothing of the target was
    /// touched).
    SwitchUser {
        pid: u32,
        uid: u32,
        gid: u32,
        why: String,
    },
    NoSigquitHandler {
        pid: u32,
    },
    ListenerTimeout {
        pid: u32,
        waited: Duration,
        /// The socket, as the operator can reach it.
        socket: String,
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
    /// A file or socket of the target failed its checks (owner, mode,
    /// type, peer): nothing was read from it, the JVM was not touched.
    Refused {
        /// The file, as the operator can reach it (escaped).
        path: String,
        /// Why, and what to do.
        why: String,
    },
    Io {
        pid: u32,
        step: String,
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
                 run metascope as that user (e.g. `sudo -u {} metascope ...`) or as root",
                user_name(*target_uid)
            ),
            AttachError::OtherGroup { pid, uid, target_gid, our_gid } => write!(
                f,
                "process {pid} runs as uid {uid} with group {} ({target_gid}), you have group {} ({our_gid}): the JVM only \
                 accepts attach from its own user and group; run metascope with that group \
                 (`sudo -u {} -g {} metascope ...` or `sg {} -c 'metascope ...'`) or as root",
                group_name(*target_gid),
                group_name(*our_gid),
                user_name(*uid),
                group_name(*target_gid),
                group_name(*target_gid),
            ),
            AttachError::SwitchUser { pid, uid, gid, why } => write!(
                f,
                "cannot become uid {uid} gid {gid}, the user of process {pid}: {why}; nothing of the JVM was touched"
            ),
            AttachError::NoSigquitHandler { pid } => write!(
                f,
                "process {pid} does not handle SIGQUIT (started with -Xrs, or not a JVM), so it cannot be asked to start \
                 its attach listener; refusing to send a signal that would kill it"
            ),
            AttachError::ListenerTimeout { pid, waited, socket } => write!(
                f,
                "the JVM {pid} did not open its attach socket {socket} within {:.1} s (is it stuck in a long GC or started \
                 with -XX:+DisableAttachMechanism?); retry, or use -agentpath at start",
                waited.as_secs_f64()
            ),
            AttachError::DynamicLoadingDisabled { pid } => write!(
                f,
                "the JVM {pid} refuses dynamically loaded agents (-XX:-EnableDynamicAgentLoading); restart it with \
                 -XX:+EnableDynamicAgentLoading, or load metascope at start with -agentpath"
            ),
            AttachError::AgentFailed { pid, reply } if reply.messages.trim().is_empty() => write!(
                f,
                "the JVM {pid} loaded the agent but Agent_OnAttach returned {}; the agent wrote why to the JVM's \
                 standard error (its log)",
                reply.return_code
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
            AttachError::Refused { path, why } => write!(f, "refusing {path}: {why}"),
            AttachError::Io { pid, step, error } => write!(f, "attaching to {pid}: {step}: {error}"),
        }
    }
}

impl std::error::Error for AttachError {}

/// The JVM's words on one line, escaped and cut to a readable length.
fn one_line(text: &str) -> String {
    const MAX_CHARS: usize = 2000;
    let joined: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if joined.is_empty() {
        return "(no message)".into();
    }
    let mut line = escape_control(&joined.join(" | "));
    if let Some((cut, _)) = line.char_indices().nth(MAX_CHARS) {
        line.truncate(cut);
        line.push_str(" [...]");
    }
    line
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| format!("#{uid}"), |u| escape_control(&u.name))
}

fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map_or_else(|| format!("#{gid}"), |g| escape_control(&g.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_to_do() {
        let e = AttachError::OtherUser {
            pid: 9,
            target_uid: 0,
            our_uid: 1001,
        };
        assert!(e.to_string().contains("run metascope as that user"), "{e}");
        assert!(e.to_string().contains("sudo -u root"), "{e}");
        let e = AttachError::OtherGroup {
            pid: 9,
            uid: 1,
            target_gid: 0,
            our_gid: 1,
        };
        let text = e.to_string();
        assert!(text.contains("group root (0)"), "{text}");
        assert!(text.contains("sudo -u daemon -g root"), "{text}");
        assert!(text.contains("or as root"), "{text}");
        assert!(AttachError::NoSigquitHandler { pid: 9 }
            .to_string()
            .contains("refusing"));
    }

    #[test]
    fn what_the_jvm_says_is_escaped_and_bounded() {
        let e = AttachError::CommandFailed {
            pid: 1,
            status: 101,
            message: format!("\x1b[2Jcleared\n{}", "x".repeat(10_000)),
        };
        let text = e.to_string();
        assert!(text.contains("\\u{1b}[2Jcleared | xxx"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(text.len() < 2100, "{}", text.len());
    }
}
