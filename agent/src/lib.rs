//! metascope's JVMTI agent: records every class generated at run time with
//! the stack that defined it, as a JSON-lines event stream
//! (see the `metascope-events` crate and docs/events.md).
//!
//! One straight line, each module importing only those below it:
//!
//! ```text
//!  agent     the start path (OnLoad and OnAttach alike) and the event handlers
//!    |
//!  writer    the writer thread: frames, dump, Metaspace, recording and live outputs
//!    |
//!  session   a recording's life: begin, disable, stop (no JVMTI inside)
//!    |
//!  census    what was loaded before an attach
//!  capture   per class on the application thread: classify, stack, enqueue
//!    |
//!  loaders   class-loader ids (JVMTI tags)
//!    |
//!  last_seen each thread's last protection domain and loader (weak refs)
//!    |
//!  ffi       JVMTI/JNI wrappers and the extern "C" trampolines: all unsafe
//! ```
//!
//! Leaves used across the stack: [`options`] (every option, parsed in one
//! place), [`classify`] and [`classfile`] (what a class is, from its name,
//! loader and bytes), [`files`] (safe file creation), [`output`] and
//! [`live`] (the recording file and socket), [`dump`], [`frames`] (stack
//! interning, used by the writer), [`sources`] (code sources and the class
//! names they hold), [`tally`] (per-thread counters and the agent's own
//! cost), [`metaspace`] (the JVM's Metaspace report read and joined with
//! the captured classes), [`clock`] and [`messages`] (the one way to print: never
//! `eprintln!`, which panics on a closed stderr).
//!
//! `unsafe` is denied everywhere but in [`ffi`]; the exported
//! `Agent_OnLoad`/`Agent_OnAttach`/`Agent_OnUnload` are generated below by
//! `ffi::export_agent!` for [`agent::Metascope`].
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::print_stderr, clippy::print_stdout))]

pub mod agent;
pub mod capture;
pub mod census;
pub mod classfile;
pub mod classify;
pub mod clock;
pub mod dump;
pub mod ffi;
pub mod files;
pub mod frames;
pub mod last_seen;
pub mod live;
pub mod loaders;
pub mod messages;
pub mod metaspace;
pub mod options;
pub mod output;
pub mod session;
pub mod sources;
pub mod tally;
pub mod writer;

export_agent!(agent::Metascope);
