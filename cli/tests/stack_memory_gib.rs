//! A 1 GiB recording of distinct stacks read with the default stack
//! memory cap: the peak RSS stays under the documented bound
//! (docs/report.md, "Memory and scale"). Before the cap: 2.1 GB.

#[path = "common/distinct_stacks.rs"]
mod distinct_stacks;

/// Read by a release build of `metascope` (built here if needed): the
/// bound concerns the binary users run, and a debug build takes minutes.
#[test]
fn a_gib_of_distinct_stacks_is_read_within_the_default_stack_memory_cap() {
    distinct_stacks::report_within_the_cap(1 << 30, None, distinct_stacks::Build::Release);
}
