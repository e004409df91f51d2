//! Property tests (proptest) for the whole pipeline: whatever the bytes,
//! reading never panics, it returns a recording or a one-line error, every
//! renderer draws what was read, and a stream cut anywhere still yields
//! exactly the classes written before the cut.

use std::path::Path;

use metascope_events::{ClassKind, Record, ResourceExhausted, StackTrace, NO_STACK};
use proptest::prelude::*;

use crate::analyze::attribution::tests::frame;
use crate::fixtures::{class, header, line, read_bytes, summary, ReadOptions, Recording};
use crate::render::{flame, html, json, text};
use crate::report::{self, Contents, FlameGraphParts};

/// Reads `bytes`; on success also renders every report format, so the
/// report code sees every recording the reader accepts.
fn read(bytes: &[u8]) -> Result<Recording, String> {
    match Recording::from_reader(Path::new("fuzz.jsonl"), bytes, &ReadOptions::default()) {
        Ok(r) => {
            let (analysis, damage) = read_bytes(bytes, ReadOptions::default()).unwrap();
            let analyzed = analysis.finish(&damage);
            for top in [0, 1] {
                let contents = Contents {
                    file: "fuzz.jsonl",
                    top,
                    flame_graph: FlameGraphParts::StacksAndFrames,
                };
                let rep = report::build(&analyzed, &contents);
                let _ = text::render(&rep, false);
                let _ = json::render(&rep);
                let _ = flame::render_folded(&rep);
                let _ = html::render(&rep);
            }
            Ok(r)
        }
        Err(e) => Err(format!("{e:#}")),
    }
}

fn assert_clear_error(msg: &str) {
    assert!(!msg.is_empty());
    assert_eq!(msg.lines().count(), 1, "an error is one line: {msg:?}");
    assert!(
        msg.contains("fuzz.jsonl"),
        "an error names the file: {msg:?}"
    );
}

const KINDS: [ClassKind; 4] = [
    ClassKind::ReflectionAccessor,
    ClassKind::Proxy,
    ClassKind::Lambda,
    ClassKind::Ordinary,
];

#[derive(Debug, Clone)]
enum Line {
    Stack(u64),
    Class {
        stack: u64,
        kind: usize,
        loader: u64,
    },
    Oom {
        heap: bool,
    },
}

/// The lines of a valid stream: header, stacks, classes (some with stack
/// ids never written), OOMs, maybe a summary.
fn valid_stream() -> impl Strategy<Value = Vec<String>> {
    let item = prop_oneof![
        (1u64..6).prop_map(Line::Stack),
        (0u64..7, 0usize..KINDS.len(), 0u64..4).prop_map(|(stack, kind, loader)| Line::Class {
            stack,
            kind,
            loader
        }),
        any::<bool>().prop_map(|heap| Line::Oom { heap }),
    ];
    (prop::collection::vec(item, 0..40), any::<bool>()).prop_map(|(items, with_summary)| {
        let mut lines = vec![line(&header())];
        let mut seq = 0;
        for item in items {
            lines.push(match item {
                Line::Stack(id) => line(&Record::Stack(StackTrace {
                    id,
                    frames: vec![
                        frame("java.lang.reflect.Proxy", "newProxyInstance", 1037),
                        frame("com.acme.Gen", &format!("m{id}"), id as u32),
                    ],
                })),
                Line::Class {
                    stack,
                    kind,
                    loader,
                } => {
                    seq += 1;
                    line(&class(
                        seq,
                        KINDS[kind],
                        (loader, "x.Loader"),
                        if stack == 6 { NO_STACK } else { stack },
                    ))
                }
                Line::Oom { heap } => line(&Record::ResourceExhausted(ResourceExhausted {
                    description: if heap { "Java heap space" } else { "Metaspace" }.into(),
                    flags: if heap {
                        vec!["oom_error".into(), "java_heap".into()]
                    } else {
                        vec!["oom_error".into()]
                    },
                    thread: "main".into(),
                    t_ns: seq * 1000,
                    wall_ms: 1,
                    after_seq: seq,
                })),
            });
        }
        if with_summary {
            lines.push(line(&summary(seq, 0)));
        }
        lines
    })
}

fn is_class(line: &str) -> bool {
    line.starts_with("{\"type\":\"class\"")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Err(msg) = read(&bytes) {
            assert_clear_error(&msg);
        }
    }

    #[test]
    fn arbitrary_lines_after_a_header_never_panic(
        lines in prop::collection::vec(
            prop_oneof![
                "[ -~]{0,60}",
                prop::collection::vec(any::<u8>(), 0..60)
                    .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
                Just("{\"type\":\"class\"}".to_string()),
                Just("{\"type\":\"resource_exhausted\",\"description\":\"Metaspace\",\"flags\":[],\"thread\":\"\",\"t_ns\":1,\"wall_ms\":1,\"after_seq\":99}".to_string()),
            ],
            0..20,
        )
    ) {
        let text = line(&header()) + &lines.join("\n");
        let r = read(text.as_bytes()).expect("a valid header always gives a recording");
        prop_assert_eq!(r.class_records, 0);
    }

    #[test]
    fn a_valid_stream_reads_completely(lines in valid_stream()) {
        let r = read(lines.concat().as_bytes()).unwrap();
        prop_assert_eq!(r.class_records, lines.iter().filter(|l| is_class(l)).count() as u64);
        prop_assert_eq!(r.corrupt_lines, 0);
        prop_assert!(!r.truncated);
        prop_assert_eq!(r.attributed_classes() + r.hidden_ordinary, r.class_records);
        for e in &r.resource_exhausted {
            if let Some(f) = e.filled_by {
                prop_assert!(f.site < r.call_sites.len());
                prop_assert!(f.classes_before <= e.captured_before);
                prop_assert!(f.classes_before <= r.call_sites[f.site].classes);
            }
        }
    }

    #[test]
    fn a_stream_cut_at_any_byte_keeps_the_classes_before_the_cut(
        lines in valid_stream(),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = lines.concat();
        let at = cut.index(text.len() + 1);
        let kept = &text[..at];
        // A class counts when its whole JSON text survived (with or
        // without its newline): a proper prefix of an object is invalid.
        let mut expected = 0u64;
        let mut start = 0;
        for l in &lines {
            let body = l.trim_end_matches('\n');
            if start + body.len() <= at && is_class(l) {
                expected += 1;
            }
            start += l.len();
        }
        match read(kept.as_bytes()) {
            Ok(r) => {
                prop_assert_eq!(r.class_records, expected);
                prop_assert_eq!(r.corrupt_lines, 0);
                // Not truncated when the cut is at the end of a line or
                // just before its newline.
                let mut clean = at == 0;
                let mut end = 0;
                for l in &lines {
                    end += l.len();
                    clean |= at == end || at == end - 1;
                }
                prop_assert_eq!(r.truncated, !clean);
            }
            Err(msg) => {
                // Only a cut inside the header.
                prop_assert!(at < lines[0].len() - 1, "{}", msg);
                assert_clear_error(&msg);
            }
        }
    }

    #[test]
    fn a_stream_cut_at_a_line_boundary_counts_the_kept_classes(
        lines in valid_stream(),
        keep in any::<prop::sample::Index>(),
    ) {
        let keep = 1 + keep.index(lines.len());
        let r = read(lines[..keep].concat().as_bytes()).unwrap();
        let expected = lines[..keep].iter().filter(|l| is_class(l)).count() as u64;
        prop_assert_eq!(r.class_records, expected);
        prop_assert!(!r.truncated);
        let summary = lines[..keep].iter().any(|l| l.starts_with("{\"type\":\"summary\""));
        prop_assert_eq!(r.summary.is_some(), summary);
        prop_assert_eq!(
            r.warnings.iter().any(|w| w.starts_with("recording cut off: there is no summary")),
            !summary
        );
    }

    #[test]
    fn mutated_streams_never_panic(
        lines in valid_stream(),
        ops in prop::collection::vec(
            (0u8..5, any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()),
            1..6,
        ),
    ) {
        let mut lines = lines;
        let mut bytes_mode: Option<Vec<u8>> = None;
        for (op, a, b, byte) in ops {
            let bytes = bytes_mode.get_or_insert_with(Vec::new);
            if !bytes.is_empty() || op == 4 {
                // Byte-level: flip a byte of the current text.
                if bytes.is_empty() {
                    *bytes = lines.concat().into_bytes();
                }
                if !bytes.is_empty() {
                    let i = a.index(bytes.len());
                    bytes[i] ^= byte | 1;
                }
                continue;
            }
            if lines.is_empty() {
                break;
            }
            let (i, j) = (a.index(lines.len()), b.index(lines.len()));
            match op {
                0 => lines.swap(i, j),
                1 => {
                    let l = lines[i].clone();
                    lines.insert(j, l);
                }
                2 => {
                    lines.remove(i);
                }
                _ => {
                    let l = lines[i].clone();
                    let cut = b.index(l.len() + 1);
                    lines[i] = l[..cut].to_string();
                }
            }
        }
        let bytes = match bytes_mode {
            Some(b) if !b.is_empty() => b,
            _ => lines.concat().into_bytes(),
        };
        match read(&bytes) {
            Ok(r) => prop_assert!(r.class_records <= bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1),
            Err(msg) => assert_clear_error(&msg),
        }
    }
}
