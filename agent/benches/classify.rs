//! How much the per-class decision costs. It runs on the loading thread for
//! every class the JVM loads, so in `mode=dynamic` an ordinary class must
//! be rejected in nanoseconds.
//!
//! Run: `cargo bench -p metascope-agent --bench classify`

use std::hint::black_box;
use std::time::Instant;

use metascope_agent::classify::{ClassFacts, Classifier, LoaderFacts};
use metascope_events::CaptureMode;

fn main() {
    // Shapes of real class names: mostly ordinary application and library
    // classes, a few generated ones.
    let ordinary: Vec<String> = (0..20_000)
        .map(|i| format!("com/acme/orders/service/internal/Component{i}$Inner"))
        .collect();
    let generated: Vec<String> = (0..20_000)
        .map(|i| match i % 4 {
            0 => format!("jdk/internal/reflect/GeneratedMethodAccessor{i}"),
            1 => format!("com/acme/Foo$$Lambda${i}.0x0000000800c0{i:04x}"),
            2 => format!("jdk/proxy2/$Proxy{i}"),
            _ => format!("com/acme/Svc$$EnhancerBySpringCGLIB$${i:x}"),
        })
        .collect();
    let classifier = Classifier::new(CaptureMode::Dynamic, &["com.acme.gen.*".to_string()]);
    let app_loader = LoaderFacts::default();

    for (label, names) in [
        ("ordinary (rejected)", &ordinary),
        ("generated (captured)", &generated),
    ] {
        let rounds = 50;
        let mut best = f64::MAX;
        for _ in 0..rounds {
            let start = Instant::now();
            for name in names.iter() {
                black_box(classifier.classify(black_box(&ClassFacts {
                    internal_name: name,
                    loader: app_loader,
                    runtime_defined: false,
                })));
            }
            let ns = start.elapsed().as_nanos() as f64 / names.len() as f64;
            best = best.min(ns);
        }
        println!(
            "classify {label:<22} {best:>7.1} ns/class (best of {rounds} x {} classes)",
            names.len()
        );
    }

    fingerprint_costs();
}

/// Reading a class's bytes costs time linear in their size, whatever they
/// hold: ns per byte for real accessor classes and for constant pools
/// crafted against naive normalisation, and the ratio between them (a
/// quadratic step would show as a ratio in the hundreds).
fn fingerprint_costs() {
    use metascope_agent::classfile::{accessor_target, fingerprint};
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jdk17");
    let ordinary: Vec<Vec<u8>> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("class file"))
        .collect();
    let crafted = crafted_classes();
    let per_byte = |classes: &[Vec<u8>]| {
        let bytes: usize = classes.iter().map(Vec::len).sum();
        let mut best = f64::MAX;
        for _ in 0..5 {
            let start = Instant::now();
            for class in classes {
                black_box(fingerprint(black_box(class)));
                black_box(accessor_target(black_box(class)).map(|t| t.to_string()));
            }
            best = best.min(start.elapsed().as_nanos() as f64 / bytes as f64);
        }
        best
    };
    let (normal, hostile) = (per_byte(&ordinary), per_byte(&crafted));
    println!("read class bytes: real accessors {normal:.2} ns/byte, crafted pools {hostile:.2} ns/byte, ratio {:.1}", hostile / normal);
}

/// Constant pools built to be slow: a long own name that almost matches
/// every other entry, `(L(L(L...` descriptors without a `;`, and 65,534
/// empty entries.
fn crafted_classes() -> Vec<Vec<u8>> {
    let utf8 = |b: &mut Vec<u8>, s: &[u8]| {
        b.push(1);
        b.extend_from_slice(&(s.len() as u16).to_be_bytes());
        b.extend_from_slice(s);
    };
    let mut almost_name = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0, 40];
    utf8(&mut almost_name, &[b'a'; 30_000]);
    almost_name.extend_from_slice(&[7, 0, 1]);
    let mut almost = vec![b'a'; 60_000];
    almost.push(b'b');
    for _ in 3..40 {
        utf8(&mut almost_name, &almost);
    }
    almost_name.extend_from_slice(&[0, 0x21, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

    let mut descriptors = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0, 40];
    utf8(&mut descriptors, b"p/Gen1");
    descriptors.extend_from_slice(&[7, 0, 1]);
    for _ in 3..40 {
        utf8(&mut descriptors, &b"(L".repeat(30_000));
    }
    descriptors.extend_from_slice(&[0, 0x21, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

    let mut many = vec![0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 61, 0xff, 0xff];
    for _ in 1..0xffff {
        utf8(&mut many, b"");
    }
    vec![almost_name, descriptors, many]
}
