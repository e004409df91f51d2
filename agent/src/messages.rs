//! The agent's only way to talk to people: single `metascope: ...` lines
//! on the JVM's standard error.
//!
//! Nothing here can panic or fail the JVM: `eprintln!` panics when stderr
//! is a closed pipe or a full disk, and a panic in an error path inside an
//! `extern "C"` callback aborts the JVM. Here a write error loses the line,
//! nothing else. If fd 2 was closed when the agent loaded, the agent never
//! writes to it: the number may since belong to a file the JVM opened.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU8, Ordering};

const UNKNOWN: u8 = 0;
const OPEN: u8 = 1;
const CLOSED: u8 = 2;

static STDERR: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Notes whether stderr is open; called once when the agent loads.
pub fn init() {
    let _ = STDERR.compare_exchange(UNKNOWN, state_now(), Ordering::AcqRel, Ordering::Acquire);
}

fn state_now() -> u8 {
    let stderr = std::io::stderr();
    match nix::fcntl::fcntl(stderr.as_fd(), nix::fcntl::FcntlArg::F_GETFD) {
        Ok(_) => OPEN,
        Err(_) => CLOSED,
    }
}

/// Writes one line, prefixed with `metascope: ` unless it already is.
/// Control characters (from user-given options or class names) are
/// escaped so the line stays one line.
pub fn say(text: &str) {
    if STDERR.load(Ordering::Acquire) == CLOSED {
        return;
    }
    let mut line = String::with_capacity(text.len() + 12);
    if !text.starts_with("metascope: ") {
        line.push_str("metascope: ");
    }
    for c in text.chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saying_never_panics_and_stays_on_one_line() {
        init();
        say("metascope: a line with a\nnewline and \x1b[2J an escape");
        say("no prefix");
    }
}
