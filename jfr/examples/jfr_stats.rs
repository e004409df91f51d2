//! Reads a recording and prints what the reader yields, how fast and how
//! much memory it took: `cargo run --release -p metascope-jfr --example
//! jfr_stats -- FILE.jfr [--print N]`.

use std::time::Instant;

use metascope_jfr::{JfrReader, Record};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: jfr_stats FILE.jfr [--print N]");
        std::process::exit(2);
    };
    let print: usize = match (args.next().as_deref(), args.next()) {
        (Some("--print"), Some(n)) => n.parse().unwrap_or(0),
        _ => 0,
    };
    let started = Instant::now();
    let mut reader = match JfrReader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(1);
        }
    };
    let mut printed = 0;
    let mut damage = None;
    // Class events borrowed, as the CLI reads them.
    while let Some(item) = reader.next_event() {
        match item {
            Ok(event) => {
                if printed < print {
                    let r = event.into_record();
                    match &r {
                        Record::Flag(_) => {}
                        other => {
                            println!("{other:?}");
                            printed += 1;
                        }
                    }
                }
            }
            Err(e) => damage = Some(e),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let s = reader.stats();
    println!("{s:#?}");
    println!(
        "read {} bytes in {:.3} s: {:.0} MB/s, {:.0} events/s, {:.0} class events/s; distinct stacks {}",
        reader.len(),
        elapsed,
        reader.len() as f64 / elapsed / 1e6,
        s.events as f64 / elapsed,
        s.class_events() as f64 / elapsed,
        reader.distinct_stacks(),
    );
    if let Some(rss) = max_rss_kb() {
        println!("max RSS {} MB", rss / 1024);
    }
    if let Some(e) = damage {
        println!("damaged: {e}");
        std::process::exit(1);
    }
}

fn max_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
