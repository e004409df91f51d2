//! A 1 GiB recording of distinct stacks read with the default stack
//! memory cap: the peak RSS stays under the documented bound
//! (docs/report.md, "Memory and scale"). Before the cap: 2.1 GB.

#[path = "common/distinct_stacks.rs"]
mod distinct_stacks;

#[test]
#[ignore = "writes 1 GiB and reads it three times (json, folded, svg): minutes with a debug build \
            on 2 cores, ~20 s with --release; stack_memory.rs runs the same path on 128 MiB every time"]
fn a_gib_of_distinct_stacks_is_read_within_the_default_stack_memory_cap() {
    distinct_stacks::report_within_the_cap(1 << 30, None);
}
