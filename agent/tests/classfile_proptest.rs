//! Property tests for the class-file reader: on arbitrary bytes and on
//! mutated real accessor and proxy classes (truncated, flipped, inserted
//! bytes), `this_class_name`, `accessor_target` and `fingerprint` never
//! panic and their answers stay within the input. They run inside the JVM
//! on the loading thread. How fast they are, on ordinary and on crafted
//! classes, is measured by `cargo bench -p metascope-agent --bench
//! classify` (which prints ns per byte and the ratio), not timed here.

use std::path::Path;
use std::sync::OnceLock;

use metascope_agent::classfile::{accessor_target, fingerprint, this_class_name};
use proptest::prelude::*;

/// Every fixture class file (accessors, proxies, scripts).
fn fixtures() -> &'static [Vec<u8>] {
    static ALL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ALL.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut all = Vec::new();
        for dir in ["jdk11", "jdk17", "jdk21", "fingerprint"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "class"))
                .collect();
            paths.sort();
            all.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
        }
        assert!(all.len() > 50);
        all
    })
}

/// Runs all three readers; they must not panic.
fn check(bytes: &[u8]) {
    let name = this_class_name(bytes);
    let target = accessor_target(bytes).map(|t| t.to_string());
    let print = fingerprint(bytes);
    // Names come out as given, never longer than the input.
    assert!(name.is_none_or(|n| n.len() <= bytes.len()));
    // Lossy UTF-8 can at most triple the bytes of the names it shows.
    assert!(target.is_none_or(|t| t.len() <= 3 * bytes.len() + 32));
    let _ = print;
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Set(usize, u8),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1usize..16).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::Truncate(n) => bytes.truncate(n % (len + 1)),
        Mutation::Set(i, b) if len > 0 => bytes[i % len] = b,
        Mutation::Flip(i, bit) if len > 0 => bytes[i % len] ^= 1 << bit,
        Mutation::Insert(i, ref b) => {
            let at = i % (len + 1);
            bytes.splice(at..at, b.iter().copied());
        }
        Mutation::Remove(i, n) if len > 0 => {
            let at = i % len;
            bytes.drain(at..(at + n).min(len));
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_class_header(
        pool_count in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61];
        bytes.extend_from_slice(&pool_count.to_be_bytes());
        bytes.extend_from_slice(&body);
        check(&bytes);
    }

    #[test]
    fn mutated_fixtures(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let all = fixtures();
        let mut bytes = all[which % all.len()].clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        check(&bytes);
    }
}

#[test]
fn every_truncation_of_a_third_of_the_fixtures() {
    for bytes in fixtures().iter().step_by(3) {
        for len in 0..bytes.len() {
            check(&bytes[..len]);
        }
        // Accessors end with their methods and attributes_count 0: a cut
        // into the last method breaks the target.
        let stop = bytes.len().saturating_sub(3);
        if accessor_target(bytes).is_some() {
            assert_eq!(accessor_target(&bytes[..stop]), None);
        }
    }
}

#[test]
fn every_single_byte_flip_of_an_accessor() {
    let bytes = &fixtures()[0];
    assert!(accessor_target(bytes).is_some());
    for i in 0..bytes.len() {
        for b in [0x00, 0xff, bytes[i] ^ 0x80] {
            let mut m = bytes.clone();
            m[i] = b;
            check(&m);
        }
    }
}

/// Inputs built to be slow for naive parsers (a huge pool count over tiny
/// entries, a long own name that almost matches everywhere, a switch with
/// an enormous range) are read correctly; the classify bench times them.
#[test]
fn adversarial_inputs_are_read() {
    let utf8 = |b: &mut Vec<u8>, s: &[u8]| {
        b.push(1);
        b.extend_from_slice(&(s.len() as u16).to_be_bytes());
        b.extend_from_slice(s);
    };
    // 65535 pool entries of empty strings.
    let mut many = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0xff, 0xff];
    for _ in 1..0xffff {
        utf8(&mut many, b"");
    }
    check(&many);

    // Own name "aaa...a" (30,000 bytes), other entries "aaa...ab" of
    // 60,000 bytes: substring searches must not be quadratic.
    let name = vec![b'a'; 30_000];
    let mut almost = vec![b'a'; 60_000];
    almost.push(b'b');
    let mut long = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0, 40];
    utf8(&mut long, &name); // #1
    long.extend_from_slice(&[7, 0, 1]); // #2 Class #1
    for _ in 3..40 {
        utf8(&mut long, &almost);
    }
    long.extend_from_slice(&[0, 0x21, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(fingerprint(&long).is_some());

    // A tableswitch claiming a 2^31 - 1 range, written over every 97th
    // offset of an accessor (so also over its code).
    let switch: [u8; 16] = [
        0xaa, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff,
    ];
    let accessor = &fixtures()[0];
    for i in (0..accessor.len()).step_by(97) {
        let mut m = accessor.clone();
        let end = (i + switch.len()).min(m.len());
        m[i..end].copy_from_slice(&switch[..end - i]);
        check(&m);
    }
}
