//! `--format json`: the report as it is (docs/report.md), pretty-printed,
//! every unsafe character in a name as a `\uXXXX` escape
//! ([`crate::escape::json_pretty`]).

use crate::report::Report;

/// The JSON report, with a trailing newline.
pub fn render(report: &Report) -> String {
    let mut s = crate::escape::json_pretty(report).expect("the report model always serializes");
    s.push('\n');
    s
}
