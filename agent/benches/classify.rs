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
}
