//! The CLI's memory on a recording of many distinct stacks is bounded by
//! the stack memory cap (`--stack-memory`, docs/report.md "Memory and
//! scale"): 128 MiB of distinct 64-frame stacks read with a cap of 8 MiB,
//! the same proportion as the 1 GiB recording and the default 64 MiB of
//! stack_memory_gib.rs, through the same code path.

#[path = "common/distinct_stacks.rs"]
mod distinct_stacks;

#[test]
fn a_recording_of_distinct_stacks_is_read_within_the_stack_memory_cap() {
    distinct_stacks::report_within_the_cap(128 << 20, Some(8), distinct_stacks::Build::ThisOne);
}
