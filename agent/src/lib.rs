#![cfg_attr(not(test), deny(clippy::print_stderr, clippy::print_stdout))]
//! metascope's JVMTI agent: records every class generated at run time with
//! the stack that defined it, as a JSON-lines event stream
//! (see the `metascope-events` crate and docs/events.md).
//!
//! Layout: [`ffi`] is the only module with `unsafe` (entry points,
//! callbacks, JVMTI/JNI wrappers). Everything else is safe Rust that can be
//! unit-tested without a JVM: [`options`] parses and rejects options,
//! [`classify`] decides what to capture, [`classfile`] reads class names
//! from bytes, [`loaders`] names loader instances, [`output`] opens and guards the recording file, [`live`] streams it to a socket, [`capture`] is the
//! per-class path on the application thread, [`writer`] the output thread,
//! [`lifecycle`] ties start, VMInit and VMDeath together.
//!
//! Nothing in the agent prints with `eprintln!`/`println!` (they panic
//! on a closed or full stderr): [`messages`] is the one way to speak.
//!
//! Flow: ClassFileLoadHook / ClassLoad / ClassPrepare -> classify ->
//! capture stack -> bounded crossbeam queue (`try_send`, drops counted) ->
//! writer agent thread -> JSON lines.

pub mod capture;
pub mod census;
pub mod classfile;
pub mod classify;
pub mod ffi;
pub mod files;
pub mod lifecycle;
pub mod live;
pub mod loaders;
pub mod messages;
pub mod options;
pub mod output;
pub mod writer;
