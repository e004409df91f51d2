//! End-to-end sessions on the JDK on PATH (17): start a real JVM with the
//! agent on each harness program, then ask the CLI who defined the classes.

mod common;

use common::*;
use metascope_harness::{BINDING, COPIER, DYNAMIC_LOADER, PROXY, STEADY};

fn java17() -> std::path::PathBuf {
    java(17).expect("the JDK on PATH is required")
}

#[test]
fn copier_names_the_invoke_lines_and_method_invoke() {
    let (_s, _out, report) = record_harness(&java17(), &COPIER, &[], None);
    assert_reconciles(&report);
    let expected_lines = source_lines("BeanCopier.java", ".invoke(");
    let sites = call_sites(&report);
    // The getter and the setter invoke each define ~10 accessors per round
    // (10 rounds) under soft-reference pressure: the two biggest sites.
    for site in &sites[..2] {
        let app = &site["application_frame"];
        assert_eq!(app["class"], "com.acme.demo.BeanCopier", "{site}");
        assert_eq!(app["method"], "copy");
        assert!(
            expected_lines.contains(&app["line"].as_u64().unwrap()),
            "{site}"
        );
        assert_eq!(
            site["library_entry"]["display"],
            "java.lang.reflect.Method.invoke"
        );
        assert!(
            (80..=120).contains(&classes(site)),
            "accessors per line: {}",
            classes(site)
        );
        assert_eq!(site["kinds"]["reflection_accessor"], classes(site));
        assert_eq!(
            site["loaders"][0]["type"],
            "jdk.internal.reflect.DelegatingClassLoader"
        );
        // A fresh DelegatingClassLoader per accessor.
        assert_eq!(
            site["loaders"][0]["instances"].as_u64(),
            Some(classes(site))
        );
    }
    assert!(
        classes(&sites[2]) < 10,
        "nothing else comes close: {}",
        sites[2]
    );
}

#[test]
fn demo_names_the_copier_line_and_the_reflective_entry() {
    let session = Session::new();
    let kept = session.path("demo.jsonl");
    let out = metascope()
        .current_dir(session.dir.path())
        .arg("demo")
        .arg("--keep")
        .arg(&kept)
        .output()
        .expect("run metascope demo");
    assert!(out.status.success(), "demo failed: {}", stderr(&out));
    let text = stdout(&out);
    let line = source_lines("BeanCopier.java", ".invoke(")[0];
    assert!(
        text.contains(&format!(
            "com.acme.demo.BeanCopier.copy(BeanCopier.java:{line})"
        )),
        "{text}"
    );
    assert!(text.contains("java.lang.reflect.Method.invoke"), "{text}");
    let report = session.json_report(&kept, &[]);
    assert_reconciles(&report);
    assert_eq!(
        call_sites(&report)[0]["application_frame"]["method"],
        "copy"
    );
}

#[test]
fn dynamic_class_loader_blames_the_caller_of_the_loader_helper() {
    let (_s, _out, report) = record_harness(&java17(), &DYNAMIC_LOADER, &[], None);
    assert_reconciles(&report);
    let top = &call_sites(&report)[0];
    assert_eq!(
        top["application_frame"]["class"], "com.acme.demo.JsonWriter",
        "{top}"
    );
    assert_eq!(top["application_frame"]["method"], "writerFor");
    let line = source_lines("JsonWriter.java", "LOADER.define(")[0];
    assert_eq!(top["application_frame"]["line"].as_u64(), Some(line));
    assert_eq!(
        top["library_entry"]["display"],
        "com.acme.demo.codegen.DynamicClassLoader.define"
    );
    assert_eq!(classes(top), 200);
    assert_eq!(
        top["loaders"][0]["type"],
        "com.acme.demo.codegen.DynamicClassLoader"
    );
    assert_eq!(top["loaders"][0]["instances"], 1, "one long-lived loader");
    let verdict = &report["diagnosis"]["verdicts"][0];
    assert_eq!(verdict["call_site_rank"], top["rank"]);
    assert_eq!(verdict["cause"], "uncached_generation", "{verdict}");
    assert_eq!(verdict["trend"], "leak", "{verdict}");
}

#[test]
fn proxies_per_loader_point_at_new_client() {
    let (_s, _out, report) = record_harness(&java17(), &PROXY, &[], None);
    assert_reconciles(&report);
    let top = &call_sites(&report)[0];
    assert_eq!(
        top["application_frame"]["class"], "com.acme.demo.ProxyDemo",
        "{top}"
    );
    assert_eq!(top["application_frame"]["method"], "newClient");
    assert_eq!(
        top["library_entry"]["display"],
        "java.lang.reflect.Proxy.newProxyInstance"
    );
    assert_eq!(top["kinds"]["proxy"], 100, "{top}");
}

#[test]
fn steady_control_has_no_growing_call_site() {
    let (_s, _out, report) = record_harness(&java17(), &STEADY, &[], None);
    assert_reconciles(&report);
    let sites = call_sites(&report);
    // Warm-up defines a few accessors, one proxy class and the JDK's own
    // lambdas for them; then the loop runs for seconds defining nothing.
    let duration = report["recording"]["duration_ms"].as_f64().unwrap();
    assert!(duration > 1500.0, "the steady phase ran: {duration} ms");
    for site in sites {
        let last = site["last_t_ms"].as_f64().unwrap();
        assert!(
            last < duration / 2.0,
            "a call site still defined classes at {last} ms of {duration} ms: {}",
            site["display"]
        );
        assert!(classes(site) <= 20, "{site}");
    }
    let total: u64 = sites.iter().map(classes).sum();
    assert!(total < 60, "the control defined {total} classes");
}

#[test]
fn a_tiny_queue_drops_but_every_class_is_accounted_for() {
    // The writer waits until the queue has overflowed once (fault
    // injection), so drops are certain, not a matter of timing.
    let (session, _out, report) = record_harness(
        &java17(),
        &DYNAMIC_LOADER,
        &[],
        Some("queue=1,fault=stall-writer"),
    );
    assert_reconciles(&report);
    let dropped = report["recording"]["summary"]["dropped"].as_u64().unwrap();
    assert!(
        dropped > 0,
        "200 definitions through a 1-slot queue with a stalled writer drop some"
    );
    let text = metascope()
        .arg("report")
        .arg(session.path("recording.jsonl"))
        .output()
        .unwrap();
    let text = stdout(&text);
    assert!(text.contains(&format!("{dropped} dropped")), "{text}");
    assert!(text.to_lowercase().contains("queue was full"), "{text}");
}

#[test]
fn a_malformed_agent_option_stops_the_jvm_with_a_clear_line() {
    let session = Session::new();
    let (out, _) = session.run(&java17(), Some("depht=12"), &["-version"]);
    assert!(
        !out.status.success(),
        "the JVM must not start with a wrong setup"
    );
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("metascope: unknown option 'depht'"))
        .unwrap_or_else(|| panic!("no metascope: line naming the option: {err}"));
    assert!(line.contains("depth=N"), "lists the valid options: {line}");
}

#[test]
fn an_unwritable_output_fails_the_load() {
    let out = std::process::Command::new(java17())
        .arg(format!(
            "-agentpath:{}=out=/nonexistent-dir/x.jsonl",
            agent_lib().display()
        ))
        .arg("-version")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("metascope: cannot write the recording to /nonexistent-dir/x.jsonl"),
        "{err}"
    );
}

#[test]
fn a_panic_inside_the_agent_disables_capture_not_the_jvm() {
    let session = Session::new();
    let recording = session.path("recording.jsonl");
    let out = metascope()
        .current_dir(session.dir.path())
        .args(["run", "--format", "json", "-o"])
        .arg(&recording)
        .args(["--agent-opts", "fault=panic-in-class-load"])
        .arg("--")
        .arg(java17())
        .args([
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            PROXY.main_class,
            "5",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the JVM keeps its exit code: {}",
        stderr(&out)
    );
    assert!(
        stdout(&out).contains(&PROXY.done_line()),
        "the program ran to the end"
    );
    let err = stderr(&out);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("metascope: internal error"))
        .collect();
    assert_eq!(lines.len(), 1, "exactly one line: {}", stderr(&out));
    assert!(
        lines[0].contains("capture disabled, the JVM continues"),
        "{}",
        lines[0]
    );
    let report = session.json_report(&recording, &[]);
    assert_reconciles(&report);
    let warnings = report["recording"]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w["warning"] == "capture_disabled" && w["reason"].is_string()),
        "{warnings:?}"
    );
    // And the text report says what that means.
    let text = metascope().arg("report").arg(&recording).output().unwrap();
    assert!(text.status.success());
    assert!(
        stdout(&text).contains("stopped capturing early"),
        "{}",
        stdout(&text)
    );
}

/// The platform jar is a library because it is another jar; a user who
/// owns it says so with `--app`, by jar or by package, and the blame moves
/// into it: its own line that makes a proxy per call.
#[test]
fn app_names_a_jar_as_the_applications_own() {
    let (session, _out, report) = record_harness(&java17(), &BINDING, &[], None);
    assert_reconciles(&report);
    let top = &call_sites(&report)[0];
    assert_eq!(
        top["library_entry"]["display"], "org.corpframework.binding.Binder.bind",
        "{top}"
    );
    assert_eq!(
        top["library_entry"]["code_source"]["name"],
        "corp-platform-1.4.jar"
    );
    let binder = format!(
        "{}/libs/corp-platform-1.4/org/corpframework/binding/Binder.java",
        metascope_harness::HARNESS_SOURCE_DIR
    );
    let line = std::fs::read_to_string(&binder)
        .unwrap_or_else(|e| panic!("{binder}: {e}"))
        .lines()
        .position(|l| l.contains("Proxy.newProxyInstance("))
        .expect("Binder.bind makes a proxy")
        + 1;
    let recording = session.path("recording.jsonl");
    for app in ["corp-platform-1.4.jar", "org.corpframework"] {
        let report = session.json_report(&recording, &["--app", app]);
        let top = &call_sites(&report)[0];
        assert_eq!(
            top["application_frame"]["display"],
            format!("org.corpframework.binding.Binder.bind(Binder.java:{line})"),
            "--app {app}: {top}"
        );
        assert_eq!(
            top["library_entry"]["display"], "java.lang.reflect.Proxy.newProxyInstance",
            "--app {app}: {top}"
        );
        assert_eq!(top["kinds"]["proxy"], 150, "--app {app}: {top}");
    }
}
