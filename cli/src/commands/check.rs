//! `metascope check`: a CI gate. Reads a recording, checks every call site
//! against the rules given (without any, against the diagnosis), prints
//! one line per violation and exits 1, or `OK` and exits 0; 2 when the
//! recording cannot be read.

use super::report::{analysis_options, report_of};
use crate::analyze::stacks::DEFAULT_STACK_MEMORY_MIB;
use crate::cli::CheckArgs;
use crate::escape;
use crate::render::check::{evaluate, ok_line, uncheckable, warning_lines, Rules};
use crate::report::FlameGraphParts;

/// Exit status when a rule is violated.
pub const EXIT_VIOLATION: i32 = 1;
/// Exit status when the recording cannot be read.
pub const EXIT_UNREADABLE: i32 = 2;

/// Returns the exit status.
pub fn run(args: &CheckArgs) -> i32 {
    let rules = Rules {
        max_regenerated: args.max_regenerated,
        max_live_growth: args.max_live_growth,
        max_rate: args.max_rate,
        max_metaspace_bytes: args.max_metaspace_bytes,
        allowed: args.allow.clone(),
    };
    let options = analysis_options(
        &args.libraries,
        &args.app,
        args.all_kinds,
        DEFAULT_STACK_MEMORY_MIB,
    );
    let report = match report_of(&args.file, options, 0, FlameGraphParts::None) {
        Ok(report) => report,
        Err(e) => {
            eprintln!(
                "metascope check: error: {}",
                escape::text(&format!("{e:#}"))
            );
            return EXIT_UNREADABLE;
        }
    };
    if let Some(why) = uncheckable(&report, &rules) {
        eprintln!("metascope check: error: {why}");
        return EXIT_UNREADABLE;
    }
    for line in warning_lines(&report) {
        eprintln!("{line}");
    }
    let violations = evaluate(&report, &rules);
    if violations.is_empty() {
        println!("{}", ok_line(&report, &rules));
        0
    } else {
        for v in &violations {
            println!("{v}");
        }
        EXIT_VIOLATION
    }
}
