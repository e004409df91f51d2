//! JFR recordings as input: one JVM runs a reproduction under the agent
//! (`metascope run`) and under `-XX:StartFlightRecording` with
//! docs/metascope.jfc at once; `metascope report` of the `.jfr` must name
//! the same application call site, library entry and cause as the report
//! of the agent's recording, on JDK 11, 17, 21 and 25, and `metascope
//! check` must fail on the soft-reference reproduction's `.jfr`.
//!
//! The agent's recording also holds the classes JFR's own start-up
//! defines (JFR starts before the recording does), so the comparison is
//! of the call sites with an application frame and of the verdicts.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use metascope_harness::COPIER;
use serde_json::Value;

/// `metascope run -o recording.jsonl -- java -XX:StartFlightRecording...
/// COPIER`: the agent's recording and JFR's of the same run.
fn record_both(major: u32) -> Option<(Session, PathBuf, PathBuf)> {
    let Some(java) = java(major) else {
        require_in_ci(&format!("JDK {major}"));
        return None;
    };
    let session = Session::new();
    let jfr = session.path("copier.jfr");
    let start = format!(
        "-XX:StartFlightRecording:filename={},settings={}/docs/metascope.jfc",
        jfr.display(),
        WORKSPACE
    );
    let classpath = COPIER.classpath();
    let mut args = vec![start.as_str()];
    args.extend_from_slice(COPIER.jvm_args);
    args.extend_from_slice(&["-cp", &classpath, COPIER.main_class]);
    args.extend_from_slice(COPIER.args);
    let (out, jsonl) = session.run(&java, None, &args);
    assert!(
        out.status.success() && stdout(&out).contains(&COPIER.done_line()),
        "copier on JDK {major} failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(jfr.exists(), "JDK {major} wrote no {}", jfr.display());
    Some((session, jsonl, jfr))
}

/// The biggest call site with an application frame: (frame, library entry).
fn top_application_site(report: &Value) -> (String, String) {
    let site = call_sites(report)
        .iter()
        .find(|s| !s["application_frame"].is_null())
        .unwrap_or_else(|| panic!("no call site with an application frame: {report}"));
    let f = &site["application_frame"];
    (
        format!("{}.{}:{}", f["class"], f["method"], f["line"]),
        site["library_entry"]["display"].to_string(),
    )
}

/// The verdicts as (cause, call site).
fn verdicts(report: &Value) -> Vec<(String, String)> {
    report["diagnosis"]["verdicts"]
        .as_array()
        .expect("verdicts array")
        .iter()
        .map(|v| (v["cause"].to_string(), v["call_site"].to_string()))
        .collect()
}

fn jfr_matches_the_agent(major: u32, expected_cause: &str) {
    let Some((session, jsonl, jfr)) = record_both(major) else {
        return;
    };
    let agent = session.json_report(&jsonl, &[]);
    let from_jfr = session.json_report(&jfr, &[]);
    assert_eq!(
        from_jfr["recording"]["header"]["converted_from"], "jfr",
        "{}",
        from_jfr["recording"]["header"]
    );
    let top = top_application_site(&from_jfr);
    assert_eq!(top, top_application_site(&agent), "JDK {major}");
    assert!(
        top.0.contains("BeanCopier\".\"copy\""),
        "JDK {major}: {top:?}"
    );
    assert_eq!(top.1, "\"java.lang.reflect.Method.invoke\"", "JDK {major}");
    let (ours, theirs) = (verdicts(&from_jfr), verdicts(&agent));
    assert!(!ours.is_empty(), "JDK {major}: no verdict from the .jfr");
    assert_eq!(ours[0], theirs[0], "JDK {major}: first verdict");
    assert_eq!(ours[0].0, format!("\"{expected_cause}\""), "JDK {major}");
    // The report says what a JFR recording cannot give.
    let warned = from_jfr["recording"]["warnings"].to_string();
    assert!(warned.contains("from_jfr"), "JDK {major}: {warned}");

    if expected_cause == "soft_reference_cycle" {
        check_fails_on(&jfr, major);
    }
}

/// `metascope check FILE.jfr --max-regenerated 0` fails, naming the copier.
fn check_fails_on(jfr: &Path, major: u32) {
    let out = metascope()
        .arg("check")
        .arg(jfr)
        .args(["--max-regenerated", "0"])
        .output()
        .expect("run metascope check");
    assert_eq!(out.status.code(), Some(1), "JDK {major}: {}", stderr(&out));
    assert!(
        stdout(&out).contains("FAIL regenerated")
            && stdout(&out).contains("com.acme.demo.BeanCopier.copy(BeanCopier.java:60)"),
        "JDK {major}: {}",
        stdout(&out)
    );
}

#[test]
fn jdk11_jfr_report_matches_the_agents() {
    jfr_matches_the_agent(11, "soft_reference_cycle");
}

#[test]
fn jdk17_jfr_report_matches_the_agents() {
    jfr_matches_the_agent(17, "soft_reference_cycle");
}

#[test]
fn jdk21_jfr_report_matches_the_agents() {
    jfr_matches_the_agent(21, "method_handle_churn");
}

#[test]
fn jdk25_jfr_report_matches_the_agents() {
    jfr_matches_the_agent(25, "method_handle_churn");
}

/// Every format reads a `.jfr`, told by its content whatever its name;
/// `convert` writes the event stream, which reports the same.
#[test]
fn every_format_reads_a_jfr_file_by_its_content_and_convert_writes_the_event_stream() {
    let Some((session, _jsonl, jfr)) = record_both(17) else {
        return;
    };
    let converted = session.path("copier-from-jfr.jsonl");
    let out = metascope()
        .arg("convert")
        .arg(&jfr)
        .arg("-o")
        .arg(&converted)
        .output()
        .expect("run metascope convert");
    assert!(out.status.success(), "convert: {}", stderr(&out));
    let again = metascope()
        .arg("convert")
        .arg(&jfr)
        .arg("-o")
        .arg(&converted)
        .output()
        .expect("run metascope convert");
    assert!(
        !again.status.success() && stderr(&again).contains("never overwrites"),
        "convert over an existing file: {}",
        stderr(&again)
    );
    let (direct, via) = (
        session.json_report(&jfr, &[]),
        session.json_report(&converted, &[]),
    );
    assert_eq!(top_application_site(&via), top_application_site(&direct));
    assert_eq!(verdicts(&via), verdicts(&direct));

    let renamed = session.path("copier.recording");
    std::fs::copy(&jfr, &renamed).expect("copy the recording");
    for format in ["text", "json", "html", "folded", "svg"] {
        let out = metascope()
            .arg("report")
            .arg(&renamed)
            .args(["--format", format])
            .output()
            .expect("run metascope report");
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        assert!(
            stdout(&out).contains("BeanCopier"),
            "{format} names no call site: {}",
            stdout(&out)
        );
    }
}

/// A `.jfr` cut off (copied while written, the JVM killed) gives the report
/// of what was flushed before the cut, saying so, or, when nothing before
/// the cut decodes, one error that says why; never a panic or silence.
#[test]
fn a_cut_jfr_file_is_reported_as_cut_or_refused_clearly() {
    let Some((session, _jsonl, jfr)) = record_both(17) else {
        return;
    };
    let bytes = std::fs::read(&jfr).expect("read the recording");
    for keep in [bytes.len() / 2, bytes.len() - 100, 100] {
        let cut = session.path(&format!("cut-{keep}.jfr"));
        std::fs::write(&cut, &bytes[..keep]).expect("write the cut recording");
        let out = metascope()
            .arg("report")
            .arg(&cut)
            .args(["--format", "json"])
            .output()
            .expect("run metascope report");
        if out.status.success() {
            let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
            assert_eq!(report["recording"]["truncated"], true, "cut at {keep}");
            let warnings = report["recording"]["warnings"].to_string();
            assert!(
                warnings.contains("cut_off_in_jfr_chunk"),
                "cut at {keep}: {warnings}"
            );
        } else {
            assert_eq!(out.status.code(), Some(1), "cut at {keep}");
            assert!(
                stderr(&out).contains("nothing could be read: the file ends at byte"),
                "cut at {keep}: {}",
                stderr(&out)
            );
        }
    }
}
