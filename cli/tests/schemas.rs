//! The JSON Schemas in docs/schema/ against real output: every line of a
//! real recording (the copier demo, captured with the agent into
//! tests/fixtures/copier.jsonl) against the event-stream schema, and the
//! `metascope report --format json` of it (complete, cut off, with an
//! OutOfMemoryError) against the report schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use metascope_events::{
    Census, CensusGroup, ClassDefined, ClassEvent, ClassKind, ClassUnloaded, LoaderRef,
    LoaderStatistics, LoaderTypeMetaspace, MetaspaceSample, MetaspaceSnapshot, Record,
    ResourceExhausted, SnapshotReason, StackMetaspace, Summary,
};
use serde_json::{json, Value};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture() -> PathBuf {
    Path::new(ROOT).join("tests/fixtures/copier.jsonl")
}

fn schema(name: &str) -> Value {
    let path = Path::new(ROOT).join(format!("../docs/schema/{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&schema(name))
        .unwrap_or_else(|e| panic!("{name}.schema.json is not a valid schema: {e}"))
}

/// Every error, with where it is, or empty.
fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errs = errors(v, instance);
    assert!(
        errs.is_empty(),
        "{what} does not match its schema:\n{}",
        errs.join("\n")
    );
}

fn report_json(recording: &Path, extra: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_metascope"))
        .arg("report")
        .arg(recording)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("run metascope report");
    assert!(
        out.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the report is JSON")
}

#[test]
fn schema_ids_carry_the_versions() {
    assert_eq!(
        schema("events")["$id"],
        format!(
            "urn:metascope:schema:events:{}",
            metascope_events::SCHEMA_VERSION
        )
    );
    let report = report_json(&fixture(), &[]);
    assert_eq!(
        schema("report")["$id"],
        format!("urn:metascope:schema:report:{}", report["schema_version"])
    );
}

#[test]
fn every_line_of_a_real_recording_matches_the_events_schema() {
    let v = validator("events");
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut types = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let record: Value = serde_json::from_str(line).unwrap();
        types.insert(record["type"].as_str().unwrap().to_string());
        assert_valid(&v, &record, &format!("line {} ({line})", i + 1));
    }
    // The demo has every common record type.
    for t in [
        "header",
        "stack",
        "class",
        "class_unload",
        "loader_unload",
        "gc_start",
        "gc_finish",
        "summary",
    ] {
        assert!(types.contains(t), "the fixture has no {t} record");
    }
}

fn loader() -> LoaderRef {
    LoaderRef {
        id: 7,
        type_name: "com.acme.codegen.DynamicClassLoader".into(),
    }
}

/// Records the demo does not write, as the events crate writes them.
#[test]
fn the_rarer_records_match_the_events_schema() {
    let v = validator("events");
    let records = [
        Record::Census(Census {
            t_ns: 3_100_000,
            classes: 2_817,
            groups: vec![CensusGroup {
                kind: ClassKind::Ordinary,
                loader_type: "bootstrap".into(),
                classes: 2_290,
                loaders: 1,
                used: None,
                committed: None,
            }],
        }),
        Record::ResourceExhausted(ResourceExhausted {
            description: "Metaspace".into(),
            flags: vec!["oom_error".into()],
            thread: "main".into(),
            t_ns: 2_026_588_819,
            wall_ms: 1_795_452_909_945,
            after_seq: 49_423,
        }),
        Record::Class(ClassDefined {
            seq: 3,
            name: "com.acme.gen.Writer_3".into(),
            kind: ClassKind::RuntimeDefined,
            loader: loader(),
            hidden: false,
            thread: "worker-1".into(),
            t_ns: 5,
            wall_ms: 6,
            event: ClassEvent::Prepare,
            stack: 0,
            target: None,
            fingerprint: Some("0123456789abcdef".into()),
        }),
        Record::ClassUnload(ClassUnloaded {
            seq: 3,
            kind: ClassKind::RuntimeDefined,
            loader: loader(),
            stack: 0,
            target: None,
            fingerprint: Some("0123456789abcdef".into()),
            name: Some("com.acme.gen.Ser_1".into()),
            t_ns: 9,
        }),
        Record::Summary(Summary {
            classes_loaded: 1,
            seen: 1,
            captured: 1,
            dropped: 0,
            stack_errors: 0,
            events_dropped: 3,
            t_ns: 10,
            end_wall_ms: 11,
            reason: "process_exit".into(),
            capture_disabled: Some("GetStackTrace failed".into()),
            classes_not_dumped: 3,
            cost: Some(metascope_events::AgentCost {
                callback_ns: 41_000_000,
                callbacks: 60_000,
                writer_cpu_ns: 120_000_000,
            }),
        }),
        Record::Metaspace(MetaspaceSample {
            t_ns: 12,
            used: 9_000_000,
            committed: 10_000_000,
            class_used: Some(1_000_000),
            class_committed: Some(1_200_000),
            max: Some(33_554_432),
            class_max: Some(1_073_741_824),
            gc_threshold: Some(21_000_000),
        }),
        Record::LoaderStatistics(LoaderStatistics {
            t_ns: 12,
            loader: LoaderRef {
                id: 18,
                type_name: "jdk.internal.reflect.DelegatingClassLoader".into(),
            },
            classes: 1,
            hidden_classes: 0,
            metaspace_used: 3_000,
            metaspace_committed: 4_096,
        }),
        Record::MetaspaceSnapshot(MetaspaceSnapshot {
            id: 1,
            reason: SnapshotReason::OutOfMemory,
            t_ns: 13,
            used: 9_000_000,
            committed: 10_000_000,
            loaders: 300,
            classes: 2_800,
            took_ms: 40,
            skipped: None,
        }),
        Record::StackMetaspace(StackMetaspace {
            snapshot: 1,
            stack: 3,
            kind: ClassKind::ReflectionAccessor,
            loader_type: "jdk.internal.reflect.DelegatingClassLoader".into(),
            classes: 200,
            loaders: 200,
            used: 1_100_000,
            committed: 1_600_000,
            exclusive_used: 1_100_000,
            exclusive_committed: 1_600_000,
        }),
        Record::LoaderTypeMetaspace(LoaderTypeMetaspace {
            snapshot: 1,
            loader_type: "bootstrap".into(),
            hidden: true,
            loaders: 40,
            classes: 40,
            used: 90_000,
            committed: 160_000,
        }),
    ];
    for r in records {
        let value = serde_json::to_value(&r).unwrap();
        assert_valid(&v, &value, &value.to_string());
    }
    // A record type from a newer agent is allowed (readers skip it).
    assert_valid(
        &v,
        &json!({"type": "jit_compile", "t_ns": 5}),
        "unknown type",
    );
}

#[test]
fn the_events_schema_rejects_what_the_agent_never_writes() {
    let v = validator("events");
    let text = std::fs::read_to_string(fixture()).unwrap();
    let class: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["type"] == "class")
        .unwrap();
    let broken = |f: &dyn Fn(&mut Value)| {
        let mut c = class.clone();
        f(&mut c);
        c
    };
    for (what, bad) in [
        (
            "no seq",
            broken(&|c| {
                c.as_object_mut().unwrap().remove("seq");
            }),
        ),
        ("seq as text", broken(&|c| c["seq"] = json!("1"))),
        ("unknown kind", broken(&|c| c["kind"] = json!("teleported"))),
        ("unknown field", broken(&|c| c["colour"] = json!("red"))),
        (
            "bad fingerprint",
            broken(&|c| c["fingerprint"] = json!("xyz")),
        ),
    ] {
        assert!(!errors(&v, &bad).is_empty(), "{what} was accepted: {bad}");
    }
}

#[test]
fn the_json_report_of_a_real_recording_matches_the_report_schema() {
    let v = validator("report");
    let all = report_json(&fixture(), &["--top", "0"]);
    assert_valid(&v, &all, "the report (--top 0)");
    assert!(!all["diagnosis"]["verdicts"].as_array().unwrap().is_empty());
    assert_valid(
        &v,
        &report_json(&fixture(), &["--top", "1"]),
        "the report (--top 1)",
    );
    // Today's agent also reports its own cost and undumped classes.
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let last = lines.last_mut().unwrap();
    let mut summary: Value = serde_json::from_str(last).unwrap();
    assert_eq!(summary["type"], "summary");
    summary["cost"] =
        json!({"callback_ns": 41_000_000, "callbacks": 60_000, "writer_cpu_ns": 120_000_000});
    summary["classes_not_dumped"] = json!(2);
    *last = summary.to_string();
    let dir = tempfile::tempdir().unwrap();
    let costed = dir.path().join("costed.jsonl");
    std::fs::write(&costed, lines.join("\n") + "\n").unwrap();
    assert_valid(
        &v,
        &report_json(&costed, &[]),
        "a report with the agent's cost",
    );
    let mut extra = report_json(&fixture(), &[]);
    extra["call_sites"][0]["surprise"] = json!(1);
    assert!(
        !errors(&v, &extra).is_empty(),
        "an unknown field was accepted"
    );
}

/// Nulls and OutOfMemoryError entries: the recording cut off (no summary)
/// right after an OutOfMemoryError: Metaspace.
#[test]
fn a_cut_off_report_with_an_oom_matches_the_report_schema() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut cut: String = text
        .lines()
        .filter(|l| !l.starts_with(r#"{"type":"summary""#))
        .map(|l| format!("{l}\n"))
        .collect();
    let oom = Record::ResourceExhausted(ResourceExhausted {
        description: "Metaspace".into(),
        flags: vec!["oom_error".into()],
        thread: "main".into(),
        t_ns: 400_000_000,
        wall_ms: 1_795_454_647_000,
        after_seq: 150,
    });
    cut += &serde_json::to_string(&oom).unwrap();
    cut += "\n{\"type\":\"class\",\"seq\":";
    let path = dir.path().join("cut.jsonl");
    std::fs::write(&path, cut).unwrap();
    let report = report_json(&path, &[]);
    assert_eq!(report["recording"]["summary"], Value::Null);
    assert_eq!(report["recording"]["truncated"], true);
    assert!(report["recording"]["resource_exhausted"][0]["filled_by"].is_object());
    assert_valid(&validator("report"), &report, "the cut-off report");
}

/// A recording that started by attach: `header.attached` and the census
/// of the classes already loaded, in `recording.attached` and
/// `recording.census`.
#[test]
fn an_attached_report_with_its_census_matches_the_report_schema() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut lines = text.lines();
    let mut header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    header["attached"] = json!(true);
    let census = Record::Census(Census {
        t_ns: 3_100_000,
        classes: 2_817,
        groups: vec![
            CensusGroup {
                kind: ClassKind::Ordinary,
                loader_type: "bootstrap".into(),
                classes: 2_290,
                loaders: 1,
                used: None,
                committed: None,
            },
            CensusGroup {
                kind: ClassKind::ReflectionAccessor,
                loader_type: "jdk.internal.reflect.DelegatingClassLoader".into(),
                classes: 200,
                loaders: 200,
                used: None,
                committed: None,
            },
        ],
    });
    let mut attached = format!("{header}\n{}\n", serde_json::to_string(&census).unwrap());
    for l in lines {
        attached += l;
        attached.push('\n');
    }
    let path = dir.path().join("attached.jsonl");
    std::fs::write(&path, attached).unwrap();
    let report = report_json(&path, &[]);
    let rec = &report["recording"];
    assert_eq!(rec["attached"], true);
    assert_eq!(rec["census"]["classes"], 2_817);
    assert_eq!(rec["census"]["groups"][1]["loaders"], 200);
    assert_valid(&validator("report"), &report, "the attached report");
    let plain = report_json(&fixture(), &[]);
    assert_eq!(plain["recording"]["attached"], false);
    assert_eq!(plain["recording"]["census"], Value::Null);
}

/// Metaspace in bytes: the copier recording with samples and snapshots
/// (at attach, an OutOfMemoryError and the end) and census bytes, as the
/// agent writes them, in the report plain and ranked by bytes.
#[test]
fn a_report_with_metaspace_bytes_matches_the_report_schema() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut lines = text.lines();
    let mut header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    header["attached"] = json!(true);
    let census = Record::Census(Census {
        t_ns: 3_100_000,
        classes: 2_490,
        groups: vec![CensusGroup {
            kind: ClassKind::Ordinary,
            loader_type: "bootstrap".into(),
            classes: 2_290,
            loaders: 1,
            used: Some(9_000_000),
            committed: Some(9_500_000),
        }],
    });
    let snapshot = |id, reason, t_ns| {
        Record::MetaspaceSnapshot(MetaspaceSnapshot {
            id,
            reason,
            t_ns,
            used: 30_000_000,
            committed: 32_000_000,
            loaders: 300,
            classes: 2_800,
            took_ms: 40,
            skipped: None,
        })
    };
    let stack = |snapshot, stack| {
        Record::StackMetaspace(StackMetaspace {
            snapshot,
            stack,
            kind: ClassKind::ReflectionAccessor,
            loader_type: "jdk.internal.reflect.DelegatingClassLoader".into(),
            classes: 200,
            loaders: 200,
            used: 1_100_000,
            committed: 1_600_000,
            exclusive_used: 1_000_000,
            exclusive_committed: 1_500_000,
        })
    };
    let loader_type = |snapshot| {
        Record::LoaderTypeMetaspace(LoaderTypeMetaspace {
            snapshot,
            loader_type: "bootstrap".into(),
            hidden: false,
            loaders: 1,
            classes: 2_290,
            used: 9_000_000,
            committed: 9_500_000,
        })
    };
    let mut records = vec![
        census,
        snapshot(1, SnapshotReason::Attach, 3_200_000),
        loader_type(1),
    ];
    for (i, t) in [10_000_000u64, 200_000_000, 400_000_000]
        .into_iter()
        .enumerate()
    {
        records.push(Record::Metaspace(MetaspaceSample {
            t_ns: t,
            used: 9_000_000 + i as u64 * 1_000_000,
            committed: 10_000_000 + i as u64 * 1_000_000,
            class_used: Some(1_000_000),
            class_committed: None,
            max: Some(33_554_432),
            class_max: None,
            gc_threshold: Some(21_000_000),
        }));
    }
    let mut recording = format!("{header}\n");
    for r in &records {
        recording += &serde_json::to_string(r).unwrap();
        recording.push('\n');
    }
    let mut tail = vec![
        snapshot(2, SnapshotReason::OutOfMemory, 450_000_000),
        stack(2, 4),
        stack(2, 99),
        loader_type(2),
        snapshot(3, SnapshotReason::End, 460_000_000),
        stack(3, 4),
        loader_type(3),
    ];
    let summary = lines.clone().last().unwrap().to_string();
    for l in lines {
        if l.starts_with(r#"{"type":"summary""#) {
            for r in tail.drain(..) {
                recording += &serde_json::to_string(&r).unwrap();
                recording.push('\n');
            }
        }
        recording += l;
        recording.push('\n');
    }
    assert!(
        summary.contains("summary"),
        "the fixture ends with its summary"
    );
    let path = dir.path().join("metaspace.jsonl");
    std::fs::write(&path, recording).unwrap();
    let v = validator("report");
    let report = report_json(&path, &["--top", "0"]);
    let m = &report["metaspace"];
    assert_eq!(m["samples_read"], 3);
    assert_eq!(m["at_end"]["snapshot"]["reason"], "end");
    assert_eq!(m["at_attach"]["loader_types"][0]["type"], "bootstrap");
    assert!(report["call_sites"][0]["metaspace"].is_object());
    assert_eq!(
        report["recording"]["census"]["groups"][0]["committed"],
        9_500_000
    );
    assert_valid(&v, &report, "the report with Metaspace bytes");
    let by_bytes = report_json(&path, &["--sort", "bytes"]);
    assert_eq!(by_bytes["sorted_by"], "bytes");
    assert_valid(&v, &by_bytes, "the report ranked by bytes");
    let unavailable = report_json(&fixture(), &["--sort", "bytes"]);
    assert_eq!(unavailable["sort_by_bytes_unavailable"], true);
    assert_valid(&v, &unavailable, "the report without bytes, --sort bytes");
}
