//! `metascope check` as a CI gate on real JVMs: it fails on the
//! soft-reference copier (accessors regenerated every round) and passes
//! on the steady control, with the same rules; without rules it fails on
//! what the report diagnoses (the interpreter compiling a form per
//! request), unless that cause is allowed, and still passes the control.

mod common;

use common::*;
use metascope_harness::{COPIER, LISP, STEADY};

fn java17() -> std::path::PathBuf {
    java(17).expect("the JDK on PATH is required")
}

const RULES: [&str; 2] = ["--max-regenerated", "10"];

#[test]
fn check_fails_on_the_copier_naming_the_call_site() {
    let (session, _out, report) = record_harness(&java17(), &COPIER, &[], None);
    assert_reconciles(&report);
    let out = metascope()
        .arg("check")
        .arg(session.path("recording.jsonl"))
        .args(RULES)
        .output()
        .expect("run metascope check");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let fails: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("metascope check: FAIL regenerated "))
        .collect();
    // Both invoke lines of BeanCopier.copy regenerate ~90 accessors.
    assert_eq!(fails.len(), 2, "{text}");
    for line in fails {
        assert!(
            line.contains(" > 10 at com.acme.demo.BeanCopier.copy(BeanCopier.java:")
                && line.ends_with(") via java.lang.reflect.Method.invoke"),
            "{line}"
        );
    }
    assert!(!text.contains("OK"), "{text}");
}

#[test]
fn check_passes_on_the_steady_control() {
    let (session, _out, _report) = record_harness(&java17(), &STEADY, &[], None);
    let out = metascope()
        .arg("check")
        .arg(session.path("recording.jsonl"))
        .args(RULES)
        .output()
        .expect("run metascope check");
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.starts_with("metascope check: OK (") && text.contains("regenerated ≤ 10"),
        "{text}"
    );
    // Without rules the diagnosis is the rule, and it diagnoses nothing.
    let out = check(&session, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.starts_with("metascope check: OK (") && text.contains("no cause diagnosed"),
        "{text}"
    );
}

/// `metascope check RECORDING [args]`.
fn check(session: &Session, args: &[&str]) -> std::process::Output {
    metascope()
        .arg("check")
        .arg(session.path("recording.jsonl"))
        .args(args)
        .output()
        .expect("run metascope check")
}

#[test]
fn check_without_rules_fails_on_each_diagnosed_cause_unless_allowed() {
    let (session, _out, report) = record_harness(&java17(), &LISP, &[], None);
    let verdicts = report["diagnosis"]["verdicts"].as_array().unwrap();
    let out = check(&session, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let fails: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("metascope check: FAIL "))
        .collect();
    // One line per diagnosed call site, naming the cause and the call site.
    assert_eq!(fails.len(), verdicts.len(), "{text}");
    let line = source_lines("LispDemo.java", "interpreter.eval(")[0];
    let top = fails[0];
    assert!(
        top.starts_with("metascope check: FAIL cause per_expression_compilation (leak, "),
        "{top}"
    );
    assert!(
        top.ends_with(&format!(
            " at com.acme.demo.LispDemo$DiscountRules.apply(LispDemo.java:{line}) \
             via minilisp-0.9.jar: org.minilisp.Interpreter.eval"
        )),
        "{top}"
    );
    assert!(!text.contains("OK"), "{text}");

    // Allowing another cause changes nothing; allowing this one passes.
    let out = check(&session, &["--allow", "loader_churn"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = check(&session, &["--allow", "per_expression_compilation"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.starts_with("metascope check: OK (")
            && text.contains("only allowed causes diagnosed: per_expression_compilation"),
        "{text}"
    );

    // A cause that does not exist is a usage error naming the causes.
    let out = check(&session, &["--allow", "per_expression"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("`per_expression` is not a cause") && err.contains("loader_churn"),
        "{err}"
    );
}

#[test]
fn check_exits_2_when_the_recording_cannot_be_read() {
    let session = Session::new();
    let out = metascope()
        .arg("check")
        .arg(session.path("missing.jsonl"))
        .args(RULES)
        .output()
        .expect("run metascope check");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("metascope check: error: cannot open recording"),
        "{}",
        stderr(&out)
    );
    let bad = session.path("bad.jsonl");
    std::fs::write(&bad, "hello\n").unwrap();
    let out = metascope().arg("check").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
