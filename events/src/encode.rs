//! Writing the high-volume records (`class`, `class_unload`,
//! `loader_unload`, `gc_start`, `gc_finish`) without serde: straight into
//! the output buffer, from borrowed fields, with no intermediate strings.
//! The agent's writer thread writes one of these per captured class and
//! unload; with serde each cost several allocations and a generic
//! serializer pass. The bytes are exactly what serde writes for the same
//! records (field order, escapes, omitted optional fields): the tests
//! compare the two.

use crate::{ClassEvent, ClassKind};

/// The fields of a `class` record, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct ClassLine<'a> {
    pub seq: u64,
    pub name: &'a str,
    pub kind: ClassKind,
    pub loader_id: u64,
    pub loader_type: &'a str,
    pub hidden: bool,
    pub thread: &'a str,
    pub t_ns: u64,
    pub wall_ms: u64,
    pub event: ClassEvent,
    pub stack: u64,
    pub target: Option<&'a str>,
    pub fingerprint: Option<u64>,
}

/// The fields of a `class_unload` record, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct ClassUnloadLine<'a> {
    pub seq: u64,
    pub kind: ClassKind,
    pub loader_id: u64,
    pub loader_type: &'a str,
    pub stack: u64,
    pub target: Option<&'a str>,
    pub fingerprint: Option<u64>,
    pub t_ns: u64,
}

/// Appends a `class` record and its newline.
pub fn class_line(out: &mut Vec<u8>, c: &ClassLine<'_>) {
    out.extend_from_slice(b"{\"type\":\"class\",\"seq\":");
    number(out, c.seq);
    out.extend_from_slice(b",\"name\":");
    string(out, c.name);
    kind_and_loader(out, c.kind, c.loader_id, c.loader_type);
    out.extend_from_slice(if c.hidden {
        b",\"hidden\":true,\"thread\":"
    } else {
        b",\"hidden\":false,\"thread\":"
    });
    string(out, c.thread);
    out.extend_from_slice(b",\"t_ns\":");
    number(out, c.t_ns);
    out.extend_from_slice(b",\"wall_ms\":");
    number(out, c.wall_ms);
    out.extend_from_slice(match c.event {
        ClassEvent::Load => b",\"event\":\"load\",\"stack\":",
        ClassEvent::Prepare => b",\"event\":\"prepare\",\"stack\":",
    });
    number(out, c.stack);
    target_and_fingerprint(out, c.target, c.fingerprint);
    out.extend_from_slice(b"}\n");
}

/// Appends a `class_unload` record and its newline.
pub fn class_unload_line(out: &mut Vec<u8>, u: &ClassUnloadLine<'_>) {
    out.extend_from_slice(b"{\"type\":\"class_unload\",\"seq\":");
    number(out, u.seq);
    kind_and_loader(out, u.kind, u.loader_id, u.loader_type);
    out.extend_from_slice(b",\"stack\":");
    number(out, u.stack);
    target_and_fingerprint(out, u.target, u.fingerprint);
    out.extend_from_slice(b",\"t_ns\":");
    number(out, u.t_ns);
    out.extend_from_slice(b"}\n");
}

/// Appends a `loader_unload` record and its newline.
pub fn loader_unload_line(out: &mut Vec<u8>, loader_id: u64, loader_type: &str, t_ns: u64) {
    out.extend_from_slice(b"{\"type\":\"loader_unload\",\"loader\":{\"id\":");
    number(out, loader_id);
    out.extend_from_slice(b",\"type\":");
    string(out, loader_type);
    out.extend_from_slice(b"},\"t_ns\":");
    number(out, t_ns);
    out.extend_from_slice(b"}\n");
}

/// Appends a `gc_start` (`start`) or `gc_finish` record and its newline.
pub fn gc_line(out: &mut Vec<u8>, start: bool, t_ns: u64) {
    out.extend_from_slice(if start {
        b"{\"type\":\"gc_start\",\"t_ns\":"
    } else {
        b"{\"type\":\"gc_finish\",\"t_ns\":"
    });
    number(out, t_ns);
    out.extend_from_slice(b"}\n");
}

/// Fingerprints travel as 16 lowercase hex digits (JSON numbers lose
/// precision past 2^53 in many tools).
pub fn fingerprint_hex(f: u64) -> String {
    format!("{f:016x}")
}

fn kind_and_loader(out: &mut Vec<u8>, kind: ClassKind, loader_id: u64, loader_type: &str) {
    out.extend_from_slice(b",\"kind\":\"");
    out.extend_from_slice(kind.as_str().as_bytes());
    out.extend_from_slice(b"\",\"loader\":{\"id\":");
    number(out, loader_id);
    out.extend_from_slice(b",\"type\":");
    string(out, loader_type);
    out.push(b'}');
}

fn target_and_fingerprint(out: &mut Vec<u8>, target: Option<&str>, fingerprint: Option<u64>) {
    if let Some(target) = target {
        out.extend_from_slice(b",\"target\":");
        string(out, target);
    }
    if let Some(f) = fingerprint {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.extend_from_slice(b",\"fingerprint\":\"");
        for shift in (0..16).rev() {
            out.push(HEX[((f >> (shift * 4)) & 0xf) as usize]);
        }
        out.push(b'"');
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    // itoa (serde_json's own) writes two digits a step; a digit-at-a-time
    // loop was 6% of the writer thread's samples, a dozen numbers a class.
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string as serde_json writes it: `"` and `\` escaped, the short
/// forms for backspace, form feed, newline, carriage return and tab,
/// `\u00XX` for the other control characters, everything else as is.
/// Whether any of the eight bytes in `word` must be escaped in a JSON
/// string: a control character, `"` or `\\` (bit tricks from "Bit
/// Twiddling Hacks": has-zero-byte and has-less-than).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (control
        | has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\'))))
        != 0
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Names almost never need escaping: copy clean 8-byte runs whole.
    let mut clean = 0;
    while let Some(chunk) = bytes.get(clean..clean + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if needs_escape(word) {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassDefined, ClassUnloaded, GcBoundary, LoaderRef, LoaderUnloaded, Record};
    use proptest::prelude::*;

    fn serde_line(record: &Record) -> Vec<u8> {
        let mut line = serde_json::to_vec(record).unwrap();
        line.push(b'\n');
        line
    }

    fn class(c: &ClassLine<'_>) -> Record {
        Record::Class(ClassDefined {
            seq: c.seq,
            name: c.name.into(),
            kind: c.kind,
            loader: LoaderRef {
                id: c.loader_id,
                type_name: c.loader_type.into(),
            },
            hidden: c.hidden,
            thread: c.thread.into(),
            t_ns: c.t_ns,
            wall_ms: c.wall_ms,
            event: c.event,
            stack: c.stack,
            target: c.target.map(String::from),
            fingerprint: c.fingerprint.map(fingerprint_hex),
        })
    }

    #[test]
    fn every_fast_record_is_byte_for_byte_what_serde_writes() {
        let line = ClassLine {
            seq: 7,
            name: "com.acme.Foo$$Lambda/0x0000000800c01000",
            kind: ClassKind::Lambda,
            loader_id: 0,
            loader_type: "bootstrap",
            hidden: true,
            thread: "main \"quoted\" \\ tab\t nl\n \u{1}",
            t_ns: 123,
            wall_ms: 456,
            event: ClassEvent::Prepare,
            stack: 0,
            target: Some("com.acme.Order.getId()J"),
            fingerprint: Some(0x0123_4567_89ab_cdef),
        };
        let mut out = Vec::new();
        class_line(&mut out, &line);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(serde_line(&class(&line))).unwrap()
        );

        let unload = ClassUnloadLine {
            seq: 7,
            kind: ClassKind::ReflectionAccessor,
            loader_id: 12,
            loader_type: "jdk.internal.reflect.DelegatingClassLoader",
            stack: 3,
            target: None,
            fingerprint: None,
            t_ns: 999,
        };
        let mut out = Vec::new();
        class_unload_line(&mut out, &unload);
        let expected = serde_line(&Record::ClassUnload(ClassUnloaded {
            seq: 7,
            kind: unload.kind,
            loader: LoaderRef {
                id: 12,
                type_name: unload.loader_type.into(),
            },
            stack: 3,
            target: None,
            fingerprint: None,
            name: None,
            t_ns: 999,
        }));
        assert_eq!(out, expected);

        let mut out = Vec::new();
        loader_unload_line(&mut out, 12, "L\u{7f}", 5);
        let expected = serde_line(&Record::LoaderUnload(LoaderUnloaded {
            loader: LoaderRef {
                id: 12,
                type_name: "L\u{7f}".into(),
            },
            t_ns: 5,
        }));
        assert_eq!(out, expected);

        for start in [true, false] {
            let mut out = Vec::new();
            gc_line(&mut out, start, u64::MAX);
            let boundary = GcBoundary { t_ns: u64::MAX };
            let record = if start {
                Record::GcStart(boundary)
            } else {
                Record::GcFinish(boundary)
            };
            assert_eq!(out, serde_line(&record));
        }
    }

    #[test]
    fn the_word_test_finds_every_byte_that_needs_escaping_at_every_position() {
        for b in 0..=255u8 {
            let must = b < 0x20 || b == b'"' || b == b'\\';
            for at in 0..8 {
                for filler in [b'a', 0x7f, 0xff, 0x20, 0x80] {
                    let mut word = [filler; 8];
                    word[at] = b;
                    assert_eq!(
                        needs_escape(u64::from_le_bytes(word)),
                        must,
                        "byte {b:#04x} at {at} among {filler:#04x}"
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn strings_with_escapes_anywhere_encode_as_serde_does(
            clean in "[a-zA-Z0-9.$/]{0,40}", special in "[\"\\\\\u{0}-\u{1f}\u{7f}é]", tail in ".{0,20}",
        ) {
            let s = format!("{clean}{special}{tail}");
            let mut out = Vec::new();
            string(&mut out, &s);
            prop_assert_eq!(out, serde_json::to_vec(&s).unwrap());
        }

        #[test]
        fn any_names_and_numbers_encode_as_serde_does(
            name in ".*", thread in ".*", target in proptest::option::of(".*"),
            seq in any::<u64>(), t_ns in any::<u64>(), fingerprint in proptest::option::of(any::<u64>()),
        ) {
            let line = ClassLine {
                seq, name: &name, kind: ClassKind::RuntimeDefined, loader_id: seq / 3,
                loader_type: &thread, hidden: false, thread: &thread, t_ns, wall_ms: t_ns / 7,
                event: ClassEvent::Load, stack: seq % 11, target: target.as_deref(), fingerprint,
            };
            let mut out = Vec::new();
            class_line(&mut out, &line);
            prop_assert_eq!(out, serde_line(&class(&line)));
        }
    }
}
