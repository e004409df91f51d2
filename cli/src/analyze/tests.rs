//! Reading and analysing whole recordings written by hand, damaged ones
//! included: what the report will say about them (counts, call sites,
//! warnings as the reports word them, OutOfMemoryErrors).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Result;
use metascope_events::{ClassKind, NO_STACK};

use crate::analyze::attribution::AttributionKind;
use crate::analyze::exhaustion::{Resource, EXHAUSTED_KEPT};
use crate::fixtures::*;
use crate::read::lines::MAX_LINE;
use crate::read::PROBLEMS_LISTED as CORRUPT_LINES_LISTED;

fn read(text: &str) -> Result<Recording> {
    Recording::from_str(text, &ReadOptions::default())
}

fn err(text: &str) -> String {
    format!("{:#}", read(text).unwrap_err())
}

#[test]
fn reads_a_complete_stream() {
    let r = read(&bean_copier_stream(true, 0)).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert!(!r.truncated);
    assert_eq!(r.class_records, 5);
    assert_eq!(r.summary.as_ref().unwrap().reason, "vm_death");
    assert_eq!(r.call_sites.len(), 3);
    assert_eq!(r.call_sites[0].classes, 3);
    assert_eq!(r.duration_ns(), 3_000_000_000);
}

#[test]
fn missing_file_is_a_clear_error() {
    let e =
        Recording::read(Path::new("/nonexistent/rec.jsonl"), &ReadOptions::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("cannot open recording /nonexistent/rec.jsonl"),
        "{msg}"
    );
}

#[test]
fn empty_stream_asks_whether_the_agent_ran() {
    for text in ["", "\n\n  \n"] {
        let msg = err(text);
        assert!(
            msg.contains("no events: was the JVM started with the agent"),
            "{msg}"
        );
    }
}

#[test]
fn first_record_must_be_a_metascope_record() {
    assert!(err("hello world\n").contains("not a metascope recording"));
    assert!(err("{\"type\":\"gc_start\"}\n").contains("does not start with a metascope header"));
    assert!(err("[1,2]\n").contains("(line 1 begins: \"[1,2]\")"));
}

#[test]
fn missing_header_reports_the_rest_with_a_warning() {
    let stream = bean_copier_stream(true, 0);
    let without_header: String = stream.lines().skip(1).map(|l| format!("{l}\n")).collect();
    let r = read(&without_header).unwrap();
    assert!(r.header.is_none());
    assert!(
        r.warnings[0].starts_with("the recording has no header: its beginning is missing"),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.warnings.len(), 1);
    assert_eq!((r.class_records, r.call_sites.len()), (5, 3));
    // Starting at a class record (its stack lost with the head): the
    // class is still counted, as "stack not captured".
    let from_class: String = stream.lines().skip(2).map(|l| format!("{l}\n")).collect();
    let r = read(&from_class).unwrap();
    assert_eq!(r.class_records, 5);
    assert!(r.warnings.iter().any(|w| w.contains("never written")));
}

/// A file cut at its start may begin with any record the agent writes,
/// a GC boundary or an unload included: it is reported, not refused.
#[test]
fn a_file_cut_before_a_gc_record_is_read_as_headless() {
    let stream = bean_copier_stream(true, 0);
    for first in [
        r#"{"type":"gc_start","t_ns":5}"#,
        r#"{"type":"gc_finish","t_ns":6}"#,
        r#"{"type":"loader_unload","loader":{"id":1,"type":"L"},"t_ns":7}"#,
        r#"{"type":"class_unload","seq":1,"kind":"proxy","loader":{"id":1,"type":"L"},"stack":0,"t_ns":8}"#,
    ] {
        let headless: String = std::iter::once(format!("{first}\n"))
            .chain(stream.lines().skip(1).map(|l| format!("{l}\n")))
            .collect();
        let r = read(&headless).unwrap();
        assert!(r.header.is_none(), "{first}");
        assert_eq!((r.class_records, r.call_sites.len()), (5, 3), "{first}");
        assert!(
            r.warnings[0].starts_with("the recording has no header"),
            "{first}: {:?}",
            r.warnings
        );
    }
    // A record type no metascope writes is still not a recording.
    assert!(err("{\"type\":\"jit_compile\",\"t_ns\":5}\n")
        .contains("does not start with a metascope header"));
}

#[test]
fn newer_schema_says_upgrade_metascope() {
    // Whatever else the newer header holds.
    for header in [
        "{\"type\":\"header\",\"schema\":2,\"something\":\"new\"}\n",
        "{\"type\":\"header\",\"schema\":7,\"pid\":\"not a number\"}\nbinary \u{0}\n",
    ] {
        let msg = err(header);
        let n = if header.contains(":2,") { 2 } else { 7 };
        assert!(
            msg.contains(&format!(
                "recorded by a newer agent (schema {n}); this metascope reads schema 1: upgrade metascope"
            )),
            "{msg}"
        );
    }
    let msg = err("{\"type\":\"header\",\"schema\":0}\n");
    assert!(msg.contains("unsupported schema (0)"), "{msg}");
    let msg = err("{\"type\":\"header\"}\n");
    assert!(msg.contains("unsupported schema (missing)"), "{msg}");
}

#[test]
fn corrupt_middle_line_is_skipped_with_its_line_number() {
    let mut lines: Vec<String> = bean_copier_stream(true, 0)
        .lines()
        .map(String::from)
        .collect();
    lines.insert(3, "{\"type\":\"class\",\"seq\":".into()); // line 4
    let text = lines.join("\n") + "\n";
    let r = read(&text).unwrap();
    assert_eq!(r.corrupt_lines, 1);
    assert!(!r.truncated);
    assert!(
        r.warnings[0].starts_with("line 4 is not a valid record"),
        "{:?}",
        r.warnings
    );
    assert_eq!(r.class_records, 5);
}

#[test]
fn many_corrupt_lines_are_counted_not_listed() {
    let mut text = bean_copier_stream(false, 0);
    for _ in 0..8 {
        text += "garbage\n";
    }
    let r = read(&text).unwrap();
    assert_eq!(r.corrupt_lines, 8);
    let listed = r
        .warnings
        .iter()
        .filter(|w| w.contains("is not a valid record"))
        .count();
    assert_eq!(listed, CORRUPT_LINES_LISTED);
    assert!(r.warnings.iter().any(|w| w.contains("8 lines in total")));
}

#[test]
fn truncated_last_line_keeps_everything_before_it() {
    let mut text = bean_copier_stream(false, 0);
    text += "{\"type\":\"class\",\"seq\":6,\"name\":\"jdk.internal.refl";
    let r = read(&text).unwrap();
    assert!(r.truncated);
    assert_eq!(r.class_records, 5);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("recording cut off")),
        "{:?}",
        r.warnings
    );
    // Cut off explains the missing summary; no second warning about it.
    assert_eq!(r.warnings.len(), 1);
}

#[test]
fn missing_summary_is_a_warning_not_an_error() {
    let r = read(&bean_copier_stream(false, 0)).unwrap();
    assert!(r.summary.is_none());
    assert!(r.warnings[0].starts_with(
        "recording cut off: there is no summary at the end (the JVM was killed, halted or crashed"
    ));
    assert_eq!(r.attributed_classes(), 5);
    assert_eq!(r.duration_ns(), 5 * 250_000_000);
}

#[test]
fn past_the_stack_memory_cap_stacks_are_summarised_and_every_class_still_counted() {
    let text = bean_copier_stream(true, 0);
    let full = read(&text).unwrap();
    // Room for no frames at all: both stacks are summarised.
    let capped = Recording::from_str(
        &text,
        &ReadOptions {
            stack_memory: 0,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!((capped.stacks.len(), capped.stacks.summarised()), (2, 2));
    let sites = |r: &Recording| -> Vec<(String, u64)> {
        r.call_sites
            .iter()
            .map(|s| (s.key.display(), s.classes))
            .collect()
    };
    assert_eq!(sites(&capped), sites(&full));
    assert_eq!(
        capped.warnings,
        vec![
            "2 of 2 distinct stacks were summarised to their call site, their frames not kept: \
             the frames kept reached the stack memory cap (0 MiB); every class still counts at its call site, \
             but a call site first seen on a summarised stack has no sample stack, and the flame graph draws \
             the 4 classes defined on them per call site, under \"(stacks summarised)\" \
             (`metascope report --stack-memory MIB` keeps more)"
        ]
    );
    // The flame graph's weights: per call site for the summarised
    // stacks, per stack id only for the class without one.
    assert_eq!(capped.summarised_classes, vec![(0, 3), (1, 1)]);
    assert_eq!(capped.stack_classes.len(), 1);
    assert_eq!(capped.stack_classes[&NO_STACK], 1);
    assert!(full.warnings.is_empty() && full.summarised_classes.is_empty());
}

#[test]
fn unknown_stack_id_counts_as_not_captured_and_warns_once() {
    let mut text = bean_copier_stream(false, 0);
    text += &line(&class(6, ClassKind::Proxy, (7, "x.Loader"), 77));
    text += &line(&class(7, ClassKind::Proxy, (7, "x.Loader"), 78));
    let r = read(&text).unwrap();
    let w: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.contains("never written"))
        .collect();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].starts_with("2 class records") && w[0].contains("stack id 77"),
        "{w:?}"
    );
    let not_captured = r
        .call_sites
        .iter()
        .find(|s| s.key.attribution() == AttributionKind::StackNotCaptured)
        .unwrap();
    assert_eq!(not_captured.classes, 3);
}

#[test]
fn unknown_record_types_are_skipped() {
    let mut lines: Vec<String> = bean_copier_stream(true, 0)
        .lines()
        .map(String::from)
        .collect();
    lines.insert(
        2,
        r#"{"type":"jit_compile","t_ns":5,"method":"a.B.c"}"#.into(),
    );
    let r = read(&(lines.join("\n") + "\n")).unwrap();
    assert_eq!(r.unknown_records, 1);
    assert!(r.warnings.is_empty());
    assert_eq!(r.class_records, 5);
}

#[test]
fn the_census_of_an_attach_is_kept_and_the_recording_is_attached() {
    let r = read(&attached_stream(3)).unwrap();
    assert!(r.attached());
    let census = r.census.as_ref().unwrap();
    assert_eq!((census.classes, census.groups.len()), (2_494, 5));
    assert_eq!(census.groups[1].kind, ClassKind::ReflectionAccessor);
    // The census is not a class record: call sites are as without it.
    assert_eq!((r.class_records, r.attributed_classes()), (5, 5));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // A second census is ignored, with a warning.
    let census_line = attached_stream(3).lines().nth(1).unwrap().to_string();
    let mut lines: Vec<String> = attached_stream(3).lines().map(String::from).collect();
    lines.insert(4, census_line);
    let r = read(&(lines.join("\n") + "\n")).unwrap();
    assert_eq!(r.census.unwrap().classes, 2_494);
    assert_eq!(
        r.warnings,
        vec!["1 more census records after the first were ignored"]
    );

    // Started with the JVM: no census, not attached.
    let r = read(&bean_copier_stream(true, 0)).unwrap();
    assert!(!r.attached() && r.census.is_none());
    // The header lost: a census still says it was an attach.
    let headless: String = attached_stream(3).split_inclusive('\n').skip(1).collect();
    let r = read(&headless).unwrap();
    assert!(r.header.is_none() && r.attached());
}

#[test]
fn ordinary_classes_are_hidden_unless_all_kinds() {
    let mut text = bean_copier_stream(false, 0);
    text += &line(&class(6, ClassKind::Ordinary, (7, "x.Loader"), NO_STACK));
    let r = read(&text).unwrap();
    assert_eq!((r.hidden_ordinary, r.attributed_classes()), (1, 5));
    let all = ReadOptions {
        all_kinds: true,
        ..ReadOptions::default()
    };
    let r = Recording::from_str(&text, &all).unwrap();
    assert_eq!((r.hidden_ordinary, r.attributed_classes()), (0, 6));
}

// --- Bad input: never a panic, a clear message, partial results. ---

fn read_bytes(bytes: &[u8]) -> Result<Recording> {
    Recording::from_reader(Path::new("test.jsonl"), bytes, &ReadOptions::default())
}

#[test]
fn binary_garbage_is_not_a_recording() {
    let mut garbage: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    garbage.splice(0..0, [0xff, 0xfe, 0, 0]);
    for bytes in [
        &garbage[..],
        &[0u8; 4096][..],
        b"\xc3\x28\xa0\xa1\n",
        b"\0\n{}\n",
    ] {
        let msg = format!("{:#}", read_bytes(bytes).unwrap_err());
        assert!(
            msg.contains("not a metascope recording (line 1 is binary data, not text)"),
            "{msg}"
        );
        assert_eq!(msg.lines().count(), 1, "{msg}");
    }
}

#[test]
fn garbage_after_a_valid_start_is_skipped_and_the_rest_reported() {
    let stream = bean_copier_stream(true, 0);
    let mut bytes = Vec::new();
    for (i, l) in stream.lines().enumerate() {
        bytes.extend_from_slice(l.as_bytes());
        bytes.push(b'\n');
        if i == 2 {
            bytes.extend_from_slice(b"\0\0\0\0\n\xff\xfe{\"type\":\"class\"\xc3\x28}\n");
            // Invalid UTF-8 inside an otherwise valid record.
            bytes.extend_from_slice(
                &line(&class(99, ClassKind::Proxy, (7, "x.L"), 0))
                    .replace("$Proxy99", "$Proxy\u{fffd}")
                    .replace('\u{fffd}', "\u{1}")
                    .into_bytes()
                    .iter()
                    .map(|&b| if b == 1 { 0xc0 } else { b })
                    .collect::<Vec<u8>>(),
            );
        }
    }
    let r = read_bytes(&bytes).unwrap();
    assert_eq!(r.corrupt_lines, 3, "{:?}", r.warnings);
    assert_eq!(r.class_records, 5);
    assert!(r.summary.is_some());
    assert!(
        r.warnings.iter().all(|w| w.starts_with("line ")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn nul_bytes_at_the_end_read_as_cut_off() {
    // What a crash can leave: the file extended, the data never written.
    let mut bytes = bean_copier_stream(false, 0).into_bytes();
    bytes.extend_from_slice(&[0u8; 8192]);
    let r = read_bytes(&bytes).unwrap();
    assert!(r.truncated);
    assert_eq!(r.class_records, 5);
    assert!(r.warnings[0].starts_with("recording cut off: the last line (9) is incomplete"));
}

#[test]
fn an_over_long_line_in_the_middle_is_skipped_with_a_warning() {
    let stream = bean_copier_stream(true, 0);
    let mut lines: Vec<String> = stream.lines().map(String::from).collect();
    let long = format!(
        "{{\"type\":\"class\",\"name\":\"{}\"}}",
        "x".repeat(MAX_LINE + 10)
    );
    lines.insert(3, long);
    let r = read(&(lines.join("\n") + "\n")).unwrap();
    assert_eq!((r.corrupt_lines, r.class_records), (1, 5));
    assert!(r.summary.is_some() && !r.truncated);
    assert!(
        r.warnings[0].starts_with("line 4 is over 16 MiB long (16,777,253 bytes) and was skipped"),
        "{:?}",
        r.warnings
    );
}

/// A file of `header` followed by `zeros` NUL bytes, sparse on disk.
fn sparse_file(dir: &Path, header: &str, zeros: u64) -> PathBuf {
    let path = dir.join("rec.jsonl");
    let mut f = File::create(&path).unwrap();
    std::io::Write::write_all(&mut f, header.as_bytes()).unwrap();
    f.set_len(header.len() as u64 + zeros).unwrap();
    path
}

fn header_line() -> String {
    line(&header())
}

#[test]
fn one_enormous_line_is_an_error_without_reading_it_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = sparse_file(dir.path(), "", 2 << 30);
    let started = std::time::Instant::now();
    let e = Recording::read(&path, &ReadOptions::default()).unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("is not a metascope recording: line 1 is over 16 MiB long (binary data?)"),
        "{msg}"
    );
    // Only the first 16 MiB are looked at.
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

#[test]
fn sixty_four_mib_without_a_newline_after_the_header_is_a_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = sparse_file(dir.path(), &header_line(), 64 << 20);
    let r = Recording::read(&path, &ReadOptions::default()).unwrap();
    assert!(r.truncated && r.summary.is_none());
    assert_eq!(r.class_records, 0);
    assert_eq!(
        r.warnings,
        vec![
            "recording cut off: the last line (2) is incomplete and over 16 MiB long \
             (67,108,864 bytes without a newline: the file's end is damaged, e.g. NUL bytes after a crash); \
             the report covers everything before it"
        ]
    );
}

/// 2 GiB of a sparse file (no disk): 2-6 s, mostly kernel time copying
/// zero pages.
#[test]
fn two_gib_of_nul_bytes_after_the_header_is_a_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let path = sparse_file(dir.path(), &header_line(), 2 << 30);
    let r = Recording::read(&path, &ReadOptions::default()).unwrap();
    assert!(r.truncated);
    assert!(
        r.warnings[0].contains("(2,147,483,648 bytes without a newline"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn leading_blank_lines_are_bounded() {
    let msg = format!("{:#}", read_bytes(&vec![b'\n'; MAX_LINE + 2]).unwrap_err());
    assert!(msg.contains("its first 16 MiB are blank lines"), "{msg}");
}

#[test]
fn a_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let msg = format!(
        "{:#}",
        Recording::read(dir.path(), &ReadOptions::default()).unwrap_err()
    );
    assert!(msg.contains("is a directory, not a recording"), "{msg}");
}

// --- OutOfMemoryError records. ---

#[test]
fn metaspace_oom_blames_the_call_site_with_most_classes_before_it() {
    // Site 1 (Spring) has 3 classes before the OOM, site 2 (proxy) 1;
    // after it, the proxy site defines 5 more and ends up ranked first.
    let mut text = bean_copier_stream(false, 0);
    text += &exhausted("Metaspace", &["oom_error"], 5);
    for seq in 6..=10 {
        text += &line(&class(seq, ClassKind::Proxy, (7, "x.L"), 2));
    }
    text += &line(&summary(10, 0));
    let r = read(&text).unwrap();
    assert_eq!(r.resource_exhausted.len(), 1);
    let e = &r.resource_exhausted[0];
    assert_eq!(e.resource, Resource::Metaspace);
    assert_eq!(e.captured_before, 5);
    let f = e.filled_by.unwrap();
    assert_eq!(f.classes_before, 3);
    assert_eq!(f.site, 1, "ranked second overall");
    assert_eq!(
        r.call_sites[f.site].key.display(),
        "com.acme.orders.OrderService.toDto(OrderService.java:42)"
    );
}

#[test]
fn heap_and_thread_ooms_are_not_blamed_on_a_call_site() {
    let mut text = bean_copier_stream(false, 0);
    text += &exhausted("Java heap space", &["oom_error", "java_heap"], 5);
    text += &exhausted(
        "unable to create native thread",
        &["oom_error", "threads"],
        5,
    );
    text += &exhausted("Compressed class space", &["oom_error"], 5);
    text += &exhausted("Metaspace", &["oom_error"], 0);
    let r = read(&text).unwrap();
    let got: Vec<_> = r
        .resource_exhausted
        .iter()
        .map(|e| (e.resource, e.filled_by.map(|f| f.classes_before)))
        .collect();
    assert_eq!(
        got,
        vec![
            (Resource::JavaHeap, None),
            (Resource::Threads, None),
            (Resource::CompressedClassSpace, Some(3)),
            // No class before it: nothing to blame.
            (Resource::Metaspace, None),
        ]
    );
}

#[test]
fn classes_written_late_with_a_lower_seq_still_count_before_the_oom() {
    let mut text = bean_copier_stream(false, 0);
    text += &exhausted("Metaspace", &["oom_error"], 8);
    for seq in 6..=9 {
        text += &line(&class(seq, ClassKind::Proxy, (7, "x.L"), 2));
    }
    let r = read(&text).unwrap();
    let e = &r.resource_exhausted[0];
    assert_eq!(e.captured_before, 8);
    assert_eq!(
        e.filled_by.unwrap().classes_before,
        4,
        "proxy: seq 4, 6, 7, 8"
    );
}

#[test]
fn repeated_ooms_are_capped_and_counted() {
    let mut text = bean_copier_stream(false, 0);
    for _ in 0..EXHAUSTED_KEPT + 7 {
        text += &exhausted("Metaspace", &["oom_error"], 5);
    }
    let r = read(&text).unwrap();
    assert_eq!(r.resource_exhausted.len(), EXHAUSTED_KEPT);
    assert_eq!(r.resource_exhausted_omitted, 7);
    assert!(r.resource_exhausted.iter().all(|e| e.filled_by.is_some()));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.starts_with("7 more resource_exhausted records")));
}

#[test]
fn an_oom_then_a_halt_is_reported_as_cut_off_with_the_oom() {
    let mut text = bean_copier_stream(false, 0);
    text += &exhausted("Metaspace", &["oom_error"], 5);
    text += "{\"type\":\"class\",\"seq\":6,\"na";
    let r = read(&text).unwrap();
    assert!(r.truncated && r.summary.is_none());
    assert_eq!(r.resource_exhausted[0].filled_by.unwrap().classes_before, 3);
    assert!(r.warnings[0].starts_with("recording cut off: the last line (10) is incomplete"));
}

// --- Any source feeds the same pipeline. ---

/// Records that are already typed (what a JFR reader will produce) go
/// through the same analysis and report as the JSON Lines they came from.
#[test]
fn typed_records_feed_the_same_pipeline_as_json_lines() {
    use crate::analyze::Analysis;
    use crate::read::records::Records;
    use crate::read::{Damage, Source};
    use crate::render::json;
    use crate::report::{build, Contents, FlameGraphParts};

    let mut stream = bean_copier_stream(false, 0);
    stream += &exhausted("Metaspace", &["oom_error"], 5);
    stream += &line(&summary(5, 0));
    let records: Vec<metascope_events::Record> = stream
        .lines()
        .map(|l| metascope_events::parse_record(l.as_bytes()).unwrap())
        .collect();
    let mut source = Records::new(records);
    let mut analysis = Analysis::new(ReadOptions::default());
    source.read(&mut analysis).unwrap();
    assert_eq!(source.damage(), &Damage::default());
    let contents = Contents {
        file: "test.jsonl",
        top: 0,
        flame_graph: FlameGraphParts::StacksAndFrames,
    };
    let typed = build(&analysis.finish(source.damage()), &contents);
    let from_lines = crate::fixtures::report(&stream, 0);
    assert_eq!(json::render(&typed), json::render(&from_lines));
    assert_eq!(typed.flame_graph, from_lines.flame_graph);
    assert_eq!(typed.call_sites[0].classes, 3);
    assert!(typed.recording.resource_exhausted[0].filled_by.is_some());
}

/// A worker thread's stack comes first, with frames from jars and none of
/// the main class: which jar is the application's is not known yet, so it
/// is attributed by names (and said so); once a stack of the main thread
/// names the main class's jar, the same frames are attributed by code
/// source.
#[test]
fn a_stack_read_before_the_applications_jar_is_known_is_attributed_by_names() {
    let worker: Vec<SourcedFrame> = vec![
        ("java.lang.reflect.Proxy", "newProxyInstance", 1037, None),
        ("org.corpframework.binding.Binder", "bind", 25, Some(1)),
        ("com.acme.Worker", "run", 12, Some(0)),
        ("java.lang.Thread", "run", 833, None),
    ];
    let main = vec![
        (
            "java.lang.invoke.MethodHandleNatives",
            "linkCallSite",
            1,
            None,
        ),
        ("com.acme.Main", "main", 5, Some(0)),
    ];
    let mut s = Stream::with_code_sources(
        "com.acme.Main",
        &["file:/srv/app.jar", "file:/srv/lib/corp-platform-1.4.jar"],
        &[worker.clone(), main, worker],
    );
    let mut proxy = def(ClassKind::Proxy, 1, (1, "app"));
    s.class(10, &proxy);
    proxy.stack = 3;
    s.class(20, &proxy);
    let text = s.finished();
    let r = read(&text).unwrap();
    let sites: Vec<String> = r
        .call_sites
        .iter()
        .map(|c| {
            let entry = c.key.entry().unwrap();
            format!(
                "{} via {:?} {}",
                c.key.display(),
                entry.kind,
                entry.display()
            )
        })
        .collect();
    assert_eq!(
        sites,
        [
            "org.corpframework.binding.Binder.bind(Binder.java:25) via Jdk \
             java.lang.reflect.Proxy.newProxyInstance",
            "com.acme.Worker.run(Worker.java:12) via Library org.corpframework.binding.Binder.bind",
        ]
    );
    assert_eq!(
        r.warnings,
        [
            "1 stack with frames from jars was read before the application's own code source was \
          known (no frame of its main class com.acme.Main yet) and was attributed by package \
          names, as in a recording without code sources (`--app PATH_OR_PREFIX` names the \
          application's jars or packages)"
        ]
    );
    // Naming the application's jar up front attributes both alike.
    let options = ReadOptions {
        ownership: crate::analyze::attribution::Ownership::new(&[], &["app.jar".into()]),
        ..ReadOptions::default()
    };
    let r = Recording::from_str(&text, &options).unwrap();
    assert_eq!(r.call_sites.len(), 1);
    assert_eq!(r.call_sites[0].classes, 2);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}
