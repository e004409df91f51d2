//! The CLI's only `unsafe`: installing signal handlers (through nix). A
//! leaf module: it imports nothing from the crate.
//!
//! Both handlers are async-signal-safe: one stores to an atomic, the other
//! does nothing. Handlers (not `SIG_IGN`) reset to the default across
//! `exec`, so a JVM started while one is installed still gets its own
//! Ctrl-C handling.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

use nix::libc::c_int;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn set_interrupted(_: c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

extern "C" fn do_nothing(_: c_int) {}

fn handler(f: extern "C" fn(c_int)) -> SigAction {
    // SA_RESTART: system calls interrupted by the signal resume, as with
    // glibc's signal().
    SigAction::new(SigHandler::Handler(f), SaFlags::SA_RESTART, SigSet::empty())
}

/// From now on Ctrl-C (SIGINT) and SIGTERM only set a flag that
/// [`interrupted`] reads: a live view ends cleanly (and stops what it
/// started) instead of dying mid-screen.
pub fn catch_interrupts() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; no other code of this program relies on the
        // previous disposition of these signals.
        let _ = unsafe { sigaction(signal, &handler(set_interrupted)) };
    }
}

/// SIGINT or SIGTERM arrived since [`catch_interrupts`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// While alive, SIGINT and SIGQUIT do nothing to this process (they still
/// reach a child in the same process group: the JVM of `metascope run`
/// gets Ctrl-C and Ctrl-\ as usual, and this process survives to report).
pub struct InterruptsIgnored {
    previous: Vec<(Signal, SigAction)>,
}

impl InterruptsIgnored {
    pub fn install() -> InterruptsIgnored {
        let previous = [Signal::SIGINT, Signal::SIGQUIT]
            .into_iter()
            .filter_map(|signal| {
                // SAFETY: installs a no-op handler (async-signal-safe);
                // the previous action is restored in Drop.
                unsafe { sigaction(signal, &handler(do_nothing)) }
                    .ok()
                    .map(|old| (signal, old))
            })
            .collect();
        InterruptsIgnored { previous }
    }
}

impl Drop for InterruptsIgnored {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: restores the action that was in place before
            // `install`, which this program had installed or inherited.
            let _ = unsafe { sigaction(*signal, old) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_interrupts_are_restored() {
        let guard = InterruptsIgnored::install();
        assert_eq!(guard.previous.len(), 2);
        nix::sys::signal::raise(Signal::SIGQUIT).unwrap();
        drop(guard);
        // SAFETY: reads the current action by setting it to itself.
        let now = unsafe { sigaction(Signal::SIGQUIT, &handler(do_nothing)) }.unwrap();
        assert!(!matches!(now.handler(), SigHandler::Handler(_)), "restored");
        // SAFETY: puts back the action read above.
        let _ = unsafe { sigaction(Signal::SIGQUIT, &now) };
    }

    #[test]
    fn an_interrupt_sets_the_flag() {
        catch_interrupts();
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();
        assert!(interrupted());
    }
}
