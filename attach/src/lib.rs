//! Loads an agent library into a running HotSpot JVM (JDK 11 to 25) over
//! the HotSpot attach protocol, with no JDK tools on this machine, safely
//! when run as root against other users' JVMs and containers.
//!
//! The protocol (Linux):
//! 1. The JVM listens on `<tmp>/.java_pid<nspid>` once its Attach Listener
//!    runs, `<tmp>` being the target's `/tmp` (inside `/proc/PID/root` for
//!    containers) and `nspid` its pid in its own namespace. HotSpot makes
//!    the socket 0600, owned by its euid/egid.
//! 2. If the socket is not there, create `.attach_pid<nspid>` in the
//!    target's working directory (or `<tmp>`), send SIGQUIT, and wait for
//!    the socket. HotSpot honours a trigger owned by its euid or root.
//!    SIGQUIT kills a process that does not handle it, so check `SigCgt`
//!    first.
//! 3. The JVM accepts a peer (SO_PEERCRED) with uid 0, or its own euid and
//!    egid: root becomes the target's user (see [`identity`]); anyone else
//!    must be that user and group already.
//! 4. Request: `"1\0load\0<abs path>\0true\0<options>\0"`. Reply: a status
//!    line (`0` = the command ran) and then the agent's return code, as
//!    `return code: N` (JDK 9+) or a bare `N`, plus any messages.
//!
//! What is trusted, and how it is checked, is in [`target`] and
//! docs/security.md: paths are resolved inside the target's root from
//! directory handles, files are checked on their descriptor (type, owner,
//! mode), sockets by their listener (SO_PEERCRED), and what the JVM says is
//! escaped before it is shown.
#![deny(unsafe_code)]

use std::path::Path;
use std::time::Duration;

mod error;
mod escape;
pub mod identity;
mod in_root;
mod process;
mod protocol;
mod reply;
pub mod target;

pub use error::AttachError;
pub use escape::escape_control;
pub use in_root::{Expect, Kind};
pub use process::{parse_maps, parse_status, Mapping, ProcStatus};
pub use protocol::{load_request, parse_load_reply, LoadReply};
pub use target::{agent_copy_name, Target, TMP};

/// Loads `agent` (an absolute path as the JVM sees it) with `options` into
/// the JVM `pid`.
///
/// Run as root against another user's JVM, this process becomes that user
/// for the rest of its life (see [`Target::open`]).
pub fn load_agent(
    pid: u32,
    agent: &Path,
    options: &str,
    timeout: Duration,
) -> Result<LoadReply, AttachError> {
    Target::open(pid)?.load(agent, options, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_process_is_named() {
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

    #[test]
    fn agent_copies_are_named_after_their_bytes() {
        let a = agent_copy_name(b"one library");
        assert_eq!(a, agent_copy_name(b"one library"));
        assert_ne!(a, agent_copy_name(b"another library"));
        assert!(
            a.starts_with(".metascope-agent-") && a.ends_with(".so"),
            "{a}"
        );
        assert_eq!(a.len(), ".metascope-agent-".len() + 16 + ".so".len());
    }
}
