//! Cut, corrupt and foreign files: the reader never panics, yields what is
//! before the damage (and only true records), then says where it stopped.
//! Run on a real JDK 17 recording of the copier reproduction.

mod support;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use metascope_harness::COPIER;
use metascope_jfr::{Error, JfrReader, Record};
use proptest::prelude::*;

/// The recording and what the reader makes of it intact.
struct Fixture {
    bytes: Vec<u8>,
    class_events: HashSet<String>,
    _dir: tempfile::TempDir,
}

fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let java = support::java(17)?;
            let dir = tempfile::tempdir().expect("temp dir");
            // Flushes every 10 ms (JDK 14+; the default is 1 s) put
            // checkpoints between the class events whatever the run's
            // speed, so a cut file has flushed segments to recover.
            let settings = format!("{},flush-interval=10ms", support::metascope_jfc().display());
            let file = support::record(&java, &COPIER, &["4"], &settings, &[], dir.path());
            let bytes = std::fs::read(&file).expect("read recording");
            let (records, end) = read_bytes(&bytes, dir.path());
            assert!(end.is_none(), "the intact recording reads without error");
            let class_events = records.iter().filter_map(class_event).collect();
            Some(Fixture {
                bytes,
                class_events,
                _dir: dir,
            })
        })
        .as_ref()
}

/// A class event as text, to compare damaged reads with the intact one.
fn class_event(r: &Record) -> Option<String> {
    match r {
        Record::ClassDefine(e) => Some(format!(
            "define {} {} {}",
            e.class.name, e.class.loader.id, e.t_ns
        )),
        Record::ClassLoad(e) => Some(format!(
            "load {} {} {}",
            e.class.name, e.class.loader.id, e.t_ns
        )),
        Record::ClassUnload(e) => Some(format!(
            "unload {} {} {}",
            e.class.name, e.class.loader.id, e.t_ns
        )),
        _ => None,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(bytes).expect("write");
    path
}

/// Reads `bytes` as a file: the records, and the error that ended them.
fn read_bytes(bytes: &[u8], dir: &Path) -> (Vec<Record>, Option<Error>) {
    let path = write(dir, "input.jfr", bytes);
    let mut reader = match JfrReader::open(&path) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut records = Vec::new();
    let mut error = None;
    while let Some(item) = reader.next_record() {
        match item {
            Ok(r) => {
                assert!(error.is_none(), "a record after the error");
                records.push(r);
            }
            Err(e) => {
                assert!(error.is_none(), "two errors: {e}");
                error = Some(e);
            }
        }
    }
    assert!(reader.next_record().is_none(), "the reader stays ended");
    (records, error)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// A file cut anywhere: only true records, then an error naming a cut.
    #[test]
    fn a_cut_file_yields_true_records_then_says_where(fraction in 0.0f64..1.0) {
        let Some(fx) = fixture() else { return Ok(()); };
        let dir = tempfile::tempdir().unwrap();
        let cut = (fx.bytes.len() as f64 * fraction) as usize;
        let (records, error) = read_bytes(&fx.bytes[..cut], dir.path());
        for r in &records {
            if let Some(e) = class_event(r) {
                prop_assert!(fx.class_events.contains(&e), "not in the intact file: {e}");
            }
        }
        match error {
            Some(Error::Damaged(d)) => {
                prop_assert!(d.cut, "{d}");
                prop_assert!(d.offset <= cut as u64, "{d}");
                prop_assert_eq!(d.file_len, cut as u64);
            }
            Some(Error::NotJfr { .. }) => prop_assert!(cut < 4),
            other => prop_assert!(false, "cut at {cut} of {}: {other:?}", fx.bytes.len()),
        }
    }

    /// Flipped bytes anywhere: no panic, no endless loop, at most one error.
    #[test]
    fn corrupt_bytes_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..12)) {
        let Some(fx) = fixture() else { return Ok(()); };
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = fx.bytes.clone();
        for (at, mask) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= mask;
        }
        let _ = read_bytes(&bytes, dir.path());
    }

    /// Bytes that only start like a recording.
    #[test]
    fn garbage_after_a_magic_never_panics(tail in prop::collection::vec(any::<u8>(), 0..2000)) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"FLR\0\0\x02\0\x01".to_vec();
        bytes.extend(tail);
        let (records, error) = read_bytes(&bytes, dir.path());
        prop_assert!(error.is_some() || records.is_empty() || matches!(records[0], Record::Chunk(_)));
    }
}

#[test]
fn a_file_that_is_not_jfr_is_refused_with_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (_, error) = read_bytes(b"{\"type\":\"header\",\"schema\":1}\n", dir.path());
    let message = error.expect("an error").to_string();
    assert!(
        message.contains("not a Java Flight Recorder file"),
        "{message}"
    );
    assert!(message.contains("7b 22 74 79"), "{message}");
    let (_, error) = read_bytes(b"", dir.path());
    assert!(error.expect("an error").to_string().contains("empty"));
}

/// A recording cut in its second chunk keeps all of the first. (Inside a
/// chunk, what survives depends on where the JVM flushed: JDK 14+ writes
/// metadata and constants at each flush, and only when it flushes.)
#[test]
fn a_recording_cut_in_its_second_chunk_keeps_the_first() {
    let Some(fx) = fixture() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut twice = fx.bytes.clone();
    twice.extend_from_slice(&fx.bytes);
    let cut = fx.bytes.len() + fx.bytes.len() / 2;
    let (records, error) = read_bytes(&twice[..cut], dir.path());
    let kept: HashSet<String> = records.iter().filter_map(class_event).collect();
    assert_eq!(kept, fx.class_events, "every class event of chunk 0");
    let Some(Error::Damaged(d)) = error else {
        panic!("the cut is not reported: {error:?}");
    };
    assert!(d.cut && d.chunk == 1 && d.file_len == cut as u64, "{d:?}");
    let message = d.to_string();
    assert!(message.contains("the recording is cut"), "{message}");
    assert!(
        message.contains(&format!("ends at byte {cut} inside chunk 1")),
        "{message}"
    );
}

/// Chunks one after the other (what `jfr assemble` and JFR's disk
/// repository make): counts add up, stacks and loader ids carry over.
#[test]
fn concatenated_chunks_read_as_one_recording() {
    let Some(fx) = fixture() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "one.jfr", &fx.bytes);
    let mut one = JfrReader::open(&path).unwrap();
    let one_records: Vec<Record> = one.by_ref().map(Result::unwrap).collect();
    let mut twice = fx.bytes.clone();
    twice.extend_from_slice(&fx.bytes);
    let path = write(dir.path(), "two.jfr", &twice);
    let mut two = JfrReader::open(&path).unwrap();
    let two_records: Vec<Record> = two.by_ref().map(Result::unwrap).collect();

    assert_eq!(two.stats().chunks, 2);
    assert_eq!(two.stats().class_events(), 2 * one.stats().class_events());
    // The second chunk's stacks are the first one's: no new stack records.
    assert_eq!(two.stats().stacks, one.stats().stacks);
    assert_eq!(two.distinct_stacks(), one.distinct_stacks());
    let ids = |records: &[Record]| -> Vec<(String, u64, u64)> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::ClassDefine(e) => {
                    Some((e.class.name.to_string(), e.class.loader.id, e.stack))
                }
                _ => None,
            })
            .collect()
    };
    let (a, b) = (ids(&one_records), ids(&two_records));
    assert_eq!(b.len(), 2 * a.len());
    assert_eq!(&b[..a.len()], &a[..]);
    assert_eq!(
        &b[a.len()..],
        &a[..],
        "same classes, loaders and stacks in chunk 2"
    );
}
