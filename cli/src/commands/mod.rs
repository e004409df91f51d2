//! The subcommands: each reads its arguments (parsed by [`crate::cli`]),
//! runs the pipeline or a JVM, and prints.
//!
//! ```text
//!  run, demo      a JVM under the agent, then the report
//!  attach         record a running JVM (attach protocol), then the report
//!  live           top / live: a followed recording, refreshed
//!  check          the CI gate
//!  convert        a recording (JFR) to the event stream's JSON Lines
//!  report         read -> analyse -> report -> render, written out
//!  launch         finding the agent, starting the JVM
//! ```

pub mod attach;
pub mod check;
pub mod convert;
pub mod demo;
pub mod launch;
pub mod live;
pub mod report;
pub mod run;
