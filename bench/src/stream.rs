//! Synthetic recordings for the CLI workload (d): valid schema-1 JSON Lines
//! (header, stacks written before first use, class records, summary) built
//! from the `metascope-events` types, deterministic (fixed-seed PRNG),
//! cached under target/bench-cache/.
//!
//! Shape: 2,000 distinct stacks of 20-40 frames (define machinery, 3-12
//! library frames, 4-16 application frames, 2-6 framework/thread frames,
//! from a pool of a few thousand distinct methods); class records in a
//! realistic mix: 40% reflection accessors (each in its own
//! DelegatingClassLoader, as on JDK <= 17), 25% runtime-defined classes
//! from 50 generator loaders, 20% LambdaForm hidden classes, 10% proxies
//! from 1,000 tenant loaders, 5% lambdas; 8 threads.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use metascope_events::{
    AgentOptions, CaptureMode, ClassDefined, ClassEvent, ClassKind, Frame, Header, LoaderRef,
    Record, StackTrace, Summary, SCHEMA_VERSION,
};

pub const STACKS: u64 = 2_000;

/// Cached stream of exactly `records` lines; built if missing.
pub fn synthetic_stream(cache: &Path, records: u64) -> Result<PathBuf> {
    let path = cache.join(format!("stream-{records}-v1.jsonl"));
    if path.is_file() {
        return Ok(path);
    }
    eprintln!("bench: generating {} ({records} records)", path.display());
    let partial = cache.join(format!("stream-{records}-v1.jsonl.partial"));
    let mut out = BufWriter::with_capacity(1 << 20, File::create(&partial)?);
    write_stream(&mut out, records)?;
    out.flush()?;
    drop(out);
    fs::rename(&partial, &path)?;
    Ok(path)
}

/// SplitMix64: tiny, fast, deterministic.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u64, hi_inclusive: u64) -> u64 {
        lo + self.below(hi_inclusive - lo + 1)
    }
}

fn frame(class: String, method: &str, sig: &str, line: Option<u32>, file: Option<String>) -> Frame {
    Frame {
        class,
        method: method.to_string(),
        sig: sig.to_string(),
        native: line.is_none() && file.is_some() && method == "defineClass1",
        source: None,
        line,
        file,
    }
}

fn make_stack(rng: &mut Rng, id: u64) -> StackTrace {
    let mut frames = Vec::with_capacity(40);
    frames.push(frame(
        "java.lang.ClassLoader".into(),
        "defineClass1",
        "(Ljava/lang/ClassLoader;Ljava/lang/String;[BIILjava/security/ProtectionDomain;Ljava/lang/String;)Ljava/lang/Class;",
        None,
        Some("ClassLoader.java".into()),
    ));
    frames.push(frame("java.lang.System$2".into(), "defineClass", "(Ljava/lang/ClassLoader;Ljava/lang/String;[BLjava/security/ProtectionDomain;Ljava/lang/String;)Ljava/lang/Class;", Some(2307), Some("System.java".into())));
    frames.push(frame(
        "jdk.internal.reflect.ClassDefiner".into(),
        "defineClass",
        "(Ljava/lang/String;[BIILjava/lang/ClassLoader;)Ljava/lang/Class;",
        Some(66),
        Some("ClassDefiner.java".into()),
    ));
    frames.push(frame(
        "java.lang.reflect.Method".into(),
        "invoke",
        "(Ljava/lang/Object;[Ljava/lang/Object;)Ljava/lang/Object;",
        Some(568),
        Some("Method.java".into()),
    ));
    const LIBS: [&str; 6] = [
        "org.springframework.beans.BeanUtils",
        "org.apache.commons.beanutils.PropertyUtilsBean",
        "com.fasterxml.jackson.databind.ser.BeanSerializer",
        "org.hibernate.property.access.spi.GetterMethodImpl",
        "com.alibaba.fastjson2.writer.ObjectWriterCreator",
        "net.bytebuddy.dynamic.loading.ClassInjector",
    ];
    let target = rng.range(20, 40) as usize;
    let libs = rng.range(3, 12) as usize;
    let outer = rng.range(2, 6) as usize;
    let apps = target.saturating_sub(frames.len() + libs + outer).max(1);
    for _ in 0..libs {
        let lib = LIBS[rng.below(LIBS.len() as u64) as usize];
        let k = rng.below(50);
        let simple = lib.rsplit('.').next().unwrap();
        frames.push(frame(
            format!(
                "{lib}{}",
                if k % 3 == 0 {
                    String::new()
                } else {
                    format!("$Inner{}", k % 7)
                }
            ),
            &format!("call{k}"),
            "(Ljava/lang/Object;Ljava/lang/Object;)V",
            Some(100 + k as u32 * 7),
            Some(format!("{simple}.java")),
        ));
    }
    for _ in 0..apps {
        let module = rng.below(40);
        let service = rng.below(50);
        let method = rng.below(8);
        frames.push(frame(
            format!("com.acme.app.m{module}.Service{service}"),
            &format!("handle{method}"),
            "(Lcom/acme/app/Request;)Lcom/acme/app/Response;",
            Some(20 + (method as u32) * 13 + (id % 5) as u32),
            Some(format!("Service{service}.java")),
        ));
    }
    const OUTER: [(&str, &str, &str); 6] = [
        (
            "org.apache.catalina.core.StandardWrapperValve",
            "invoke",
            "StandardWrapperValve.java",
        ),
        (
            "org.apache.tomcat.util.net.SocketProcessorBase",
            "run",
            "SocketProcessorBase.java",
        ),
        (
            "java.util.concurrent.ThreadPoolExecutor",
            "runWorker",
            "ThreadPoolExecutor.java",
        ),
        (
            "java.util.concurrent.ThreadPoolExecutor$Worker",
            "run",
            "ThreadPoolExecutor.java",
        ),
        (
            "org.apache.tomcat.util.threads.TaskThread$WrappingRunnable",
            "run",
            "TaskThread.java",
        ),
        ("java.lang.Thread", "run", "Thread.java"),
    ];
    for (class, method, file) in OUTER.iter().skip(OUTER.len() - outer) {
        frames.push(frame(
            class.to_string(),
            method,
            "()V",
            Some(100 + rng.below(900) as u32),
            Some(file.to_string()),
        ));
    }
    StackTrace { id, frames }
}

fn write_stream(out: &mut impl Write, records: u64) -> Result<()> {
    assert!(records > STACKS + 2);
    let mut rng = Rng(0x6d65_7461_7363_6f70);
    let start_wall_ms = 1_795_452_508_553u64;
    let line = |out: &mut dyn Write, r: &Record| -> Result<()> {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(
        out,
        &Record::Header(Header {
            schema: SCHEMA_VERSION,
            agent_version: "0.1.0".into(),
            pid: 4242,
            java_version: "17.0.15".into(),
            java_vm_name: "OpenJDK 64-Bit Server VM".into(),
            start_wall_ms,
            options: AgentOptions {
                out: "/var/tmp/bench-synthetic.jsonl".into(),
                depth: 64,
                mode: CaptureMode::Dynamic,
                include: vec![],
                queue: 65536,
            },
            attached: false,
            java_command: None,
            converted_from: None,
        }),
    )?;
    let mut written = 1u64;
    let mut emitted = vec![false; STACKS as usize + 1];
    let mut seq = 0u64;
    let mut t_ns = 0u64;
    let mut next_loader = 2_000u64; // 1..=1050 are the long-lived loaders
    let threads: Vec<String> = (0..8).map(|i| format!("http-nio-8080-exec-{i}")).collect();
    while written < records - 1 {
        let stack = 1 + rng.below(STACKS);
        if !emitted[stack as usize] {
            if written + 2 > records - 1 {
                break;
            }
            let mut srng = Rng(stack.wrapping_mul(0x2545_F491_4F6C_DD1D));
            line(out, &Record::Stack(make_stack(&mut srng, stack)))?;
            emitted[stack as usize] = true;
            written += 1;
        }
        seq += 1;
        t_ns += 1_000 + rng.below(20_000);
        let pick = rng.below(100);
        let (name, kind, loader, hidden, event) = if pick < 40 {
            next_loader += 1;
            (
                format!("jdk.internal.reflect.GeneratedMethodAccessor{seq}"),
                ClassKind::ReflectionAccessor,
                LoaderRef {
                    id: next_loader,
                    type_name: "jdk.internal.reflect.DelegatingClassLoader".into(),
                },
                false,
                ClassEvent::Load,
            )
        } else if pick < 65 {
            (
                format!("com.acme.gen.Serializer_{seq}"),
                ClassKind::RuntimeDefined,
                LoaderRef {
                    id: 1 + rng.below(50),
                    type_name: "com.acme.codegen.GenLoader".into(),
                },
                false,
                ClassEvent::Load,
            )
        } else if pick < 85 {
            (
                format!(
                    "java.lang.invoke.LambdaForm$MH/0x0000000801{:06x}",
                    seq & 0xff_ffff
                ),
                ClassKind::LambdaForm,
                LoaderRef {
                    id: 0,
                    type_name: "bootstrap".into(),
                },
                true,
                ClassEvent::Prepare,
            )
        } else if pick < 95 {
            (
                format!("jdk.proxy2.$Proxy{seq}"),
                ClassKind::Proxy,
                LoaderRef {
                    id: 51 + rng.below(1000),
                    type_name: "com.acme.tenant.TenantLoader".into(),
                },
                false,
                ClassEvent::Load,
            )
        } else {
            (
                format!(
                    "com.acme.app.m{}.Service{}$$Lambda${seq}/0x0000000802{:06x}",
                    rng.below(40),
                    rng.below(50),
                    seq & 0xff_ffff
                ),
                ClassKind::Lambda,
                LoaderRef {
                    id: 1,
                    type_name: "jdk.internal.loader.ClassLoaders$AppClassLoader".into(),
                },
                true,
                ClassEvent::Prepare,
            )
        };
        line(
            out,
            &Record::Class(ClassDefined {
                seq,
                name,
                kind,
                loader,
                hidden,
                thread: threads[rng.below(8) as usize].clone(),
                t_ns,
                wall_ms: start_wall_ms + t_ns / 1_000_000,
                event,
                stack,
                target: None,
                fingerprint: None,
            }),
        )?;
        written += 1;
    }
    line(
        out,
        &Record::Summary(Summary {
            classes_loaded: seq + 12_000,
            seen: seq,
            captured: seq,
            dropped: 0,
            stack_errors: 0,
            events_dropped: 0,
            t_ns: t_ns + 1_000_000,
            end_wall_ms: start_wall_ms + t_ns / 1_000_000 + 1,
            reason: "vm_death".into(),
            capture_disabled: None,
            classes_not_dumped: 0,
            cost: None,
        }),
    )?;
    Ok(())
}
