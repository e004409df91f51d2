//! The bytes on the attach socket: the v1 `load` request and the JVM's
//! reply (pure functions, no I/O).

use std::path::Path;

use crate::error::AttachError;
pub use crate::reply::LoadReply;

/// HotSpot's limit for each argument of a request (`arg_length_max`).
pub const MAX_ARG_LEN: usize = 1024;

/// The most of a reply we read: a `load` reply is a few lines.
pub const MAX_REPLY_LEN: u64 = 64 * 1024;

/// The v1 `load` request: `"1\0load\0<abs path>\0true\0<options>\0"`.
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

/// Parses the JVM's reply to `load` (both the JDK 9-17 and 21+ wordings):
/// a status line (`0` = the command ran), then the agent's return code as
/// `return code: N` (JDK 9+) or a bare `N`, plus any messages.
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
