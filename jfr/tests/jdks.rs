//! End to end: the harness reproductions recorded by JFR on JDK 11, 17, 21
//! and 25 with docs/metascope.jfc, read by this crate, and checked against
//! what the JDK's own `jfr print --json` reads from the same file.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use metascope_harness::{Program, COPIER, DYNAMIC_LOADER, LOADER_CHURN, PROXY};
use metascope_jfr::{Class, Frame, FrameType, JfrReader, Loader, Record, Stack, NO_STACK};
use serde_json::Value;
use support::{java, jfr_print, jfr_tool, metascope_jfc, record};

/// Everything one recording yields, stacks resolved.
struct Read {
    records: Vec<Record>,
    stacks: HashMap<u64, Stack>,
}

fn read(file: &Path) -> Read {
    let mut reader = JfrReader::open(file).expect("open recording");
    let mut records = Vec::new();
    let mut stacks = HashMap::new();
    for item in reader.by_ref() {
        let record = item.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // Every stack comes before the first record that uses it.
        let uses = match &record {
            Record::ClassDefine(e) => e.stack,
            Record::ClassLoad(e) => e.stack,
            Record::MetaspaceOom(e) => e.stack,
            Record::Stack(s) => {
                assert_ne!(s.id, NO_STACK);
                assert!(
                    stacks.insert(s.id, s.clone()).is_none(),
                    "stack {} twice",
                    s.id
                );
                NO_STACK
            }
            _ => NO_STACK,
        };
        assert!(
            uses == NO_STACK || stacks.contains_key(&uses),
            "stack {uses} used before it came"
        );
        records.push(record);
    }
    assert_eq!(
        reader.position(),
        reader.len(),
        "progress ends at the file's end"
    );
    Read { records, stacks }
}

/// A class event as both readers can state it: type, class, its loader,
/// the defining loader, thread, and the innermost frames.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ClassEventKey {
    event: &'static str,
    class: String,
    class_loader: String,
    defining_loader: String,
    thread: String,
    frames: Vec<String>,
}

const TOP_FRAMES: usize = 8;

/// Names compared in one form for both sides: `/` for every separator,
/// without the identity hash JDK 15-21 append to hidden class names
/// (`Foo$$Lambda+0x0000000100140970/1757880885`). The exact binary names
/// are unit-tested in the crate.
fn internal(name: &str) -> String {
    let mut s = name.replace(['.', '+'], "/");
    if let Some(i) = s.find("/0x") {
        if let Some(j) = s[i + 3..].find('/') {
            let hash = &s[i + 3 + j + 1..];
            if !hash.is_empty() && hash.bytes().all(|b| b.is_ascii_digit()) {
                s.truncate(i + 3 + j);
            }
        }
    }
    s
}

fn loader_key(l: Option<&Loader>) -> String {
    match l {
        None => "null".into(),
        Some(l) if l.is_bootstrap() => "bootstrap".into(),
        Some(l) => format!(
            "{}#{}",
            internal(&l.type_name),
            l.name.as_deref().unwrap_or("")
        ),
    }
}

fn frame_key(f: &Frame) -> String {
    let kind = match &f.frame_type {
        FrameType::Interpreted => "Interpreted",
        FrameType::JitCompiled => "JIT compiled",
        FrameType::Inlined => "Inlined",
        FrameType::Native => "Native",
        FrameType::Other(s) => s,
    };
    format!(
        "{}.{}{} line {:?} bci {:?} {kind}",
        internal(&f.class),
        f.method,
        f.descriptor,
        f.line,
        f.bytecode_index
    )
}

fn our_keys(read: &Read) -> Vec<ClassEventKey> {
    let frames = |id: u64| -> Vec<String> {
        read.stacks
            .get(&id)
            .map(|s| s.frames.iter().take(TOP_FRAMES).map(frame_key).collect())
            .unwrap_or_default()
    };
    let key = |event,
               class: &Class,
               defining: Option<&Loader>,
               thread: &Option<std::sync::Arc<str>>,
               stack| {
        ClassEventKey {
            event,
            class: internal(&class.name),
            class_loader: loader_key(Some(&class.loader)),
            defining_loader: loader_key(defining),
            thread: thread.as_deref().unwrap_or("").to_string(),
            frames: frames(stack),
        }
    };
    let mut keys: Vec<ClassEventKey> = read
        .records
        .iter()
        .filter_map(|r| match r {
            Record::ClassDefine(e) => Some(key(
                "jdk.ClassDefine",
                &e.class,
                Some(&e.defining_loader),
                &e.thread,
                e.stack,
            )),
            Record::ClassLoad(e) => Some(key(
                "jdk.ClassLoad",
                &e.class,
                e.defining_loader.as_ref(),
                &e.thread,
                e.stack,
            )),
            Record::ClassUnload(e) => Some(key(
                "jdk.ClassUnload",
                &e.class,
                Some(&e.defining_loader),
                &None,
                NO_STACK,
            )),
            _ => None,
        })
        .collect();
    keys.sort();
    keys
}

fn json_loader(v: &Value) -> String {
    if v.is_null() {
        return "null".into();
    }
    match v["type"]["name"].as_str() {
        None => "bootstrap".into(),
        Some(t) => format!("{}#{}", internal(t), v["name"].as_str().unwrap_or("")),
    }
}

fn json_frame(f: &Value) -> String {
    let number = |v: &Value| v.as_i64().filter(|&n| n >= 0).map(|n| n as u32);
    let line = number(&f["lineNumber"]).filter(|&l| l > 0);
    format!(
        "{}.{}{} line {:?} bci {:?} {}",
        internal(f["method"]["type"]["name"].as_str().unwrap_or("")),
        f["method"]["name"].as_str().unwrap_or(""),
        f["method"]["descriptor"].as_str().unwrap_or(""),
        line,
        number(&f["bytecodeIndex"]),
        f["type"].as_str().unwrap_or("Interpreted"),
    )
}

fn jdk_keys(events: &[Value]) -> Vec<ClassEventKey> {
    let mut keys: Vec<ClassEventKey> = events
        .iter()
        .filter_map(|e| {
            let event = match e["type"].as_str()? {
                "jdk.ClassDefine" => "jdk.ClassDefine",
                "jdk.ClassLoad" => "jdk.ClassLoad",
                "jdk.ClassUnload" => "jdk.ClassUnload",
                _ => return None,
            };
            let v = &e["values"];
            let class = match event {
                "jdk.ClassDefine" => &v["definedClass"],
                "jdk.ClassLoad" => &v["loadedClass"],
                _ => &v["unloadedClass"],
            };
            let class_loader = match json_loader(&class["classLoader"]).as_str() {
                "null" => "bootstrap".to_string(),
                other => other.to_string(),
            };
            let mut defining_loader = json_loader(&v["definingClassLoader"]);
            if event != "jdk.ClassLoad" && defining_loader == "null" {
                // Define and unload always name one: the class's own.
                defining_loader = class_loader.clone();
            }
            // Unloads happen on a GC thread; this reader does not keep it.
            let thread = if event == "jdk.ClassUnload" {
                &Value::Null
            } else {
                &v["eventThread"]
            };
            let thread = thread["javaName"]
                .as_str()
                .or(thread["osName"].as_str())
                .unwrap_or("")
                .to_string();
            let frames = v["stackTrace"]["frames"]
                .as_array()
                .map(|fs| fs.iter().take(TOP_FRAMES).map(json_frame).collect())
                .unwrap_or_default();
            Some(ClassEventKey {
                event,
                class: internal(class["name"].as_str().unwrap_or("")),
                class_loader,
                defining_loader,
                thread,
                frames,
            })
        })
        .collect();
    keys.sort();
    keys
}

fn count_by_event(keys: &[ClassEventKey]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k.event).or_default() += 1;
    }
    m
}

/// Records `program` on JDK `major` with docs/metascope.jfc and checks that
/// every class event, GC and Metaspace summary matches `jfr print`.
fn record_and_compare(major: u32, program: &Program, args: &[&str], dir: &Path) -> Option<Read> {
    let java = java(major)?;
    let file = record(
        &java,
        program,
        args,
        &metascope_jfc().to_string_lossy(),
        &[],
        dir,
    );
    let read = read(&file);
    let events = jfr_print(
        &jfr_tool(&java),
        &file,
        "jdk.ClassDefine,jdk.ClassLoad,jdk.ClassUnload,jdk.GarbageCollection,jdk.MetaspaceSummary",
    );

    let (ours, theirs) = (our_keys(&read), jdk_keys(&events));
    assert_eq!(
        count_by_event(&ours),
        count_by_event(&theirs),
        "JDK {major} {}: class event counts differ from jfr print",
        program.name
    );
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(
            a, b,
            "JDK {major} {}: first differing class event",
            program.name
        );
    }

    // GC boundaries and the Metaspace timeline: same ids, same sizes.
    let mut our_gcs: Vec<(u64, String, String)> = read
        .records
        .iter()
        .filter_map(|r| match r {
            Record::GarbageCollection(g) => Some((
                g.gc_id,
                g.name.as_deref().unwrap_or("").to_string(),
                g.cause.as_deref().unwrap_or("").to_string(),
            )),
            _ => None,
        })
        .collect();
    let mut their_gcs: Vec<(u64, String, String)> = events
        .iter()
        .filter(|e| e["type"] == "jdk.GarbageCollection")
        .map(|e| {
            let v = &e["values"];
            (
                v["gcId"].as_u64().unwrap_or(u64::MAX),
                v["name"].as_str().unwrap_or("").to_string(),
                v["cause"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    our_gcs.sort();
    their_gcs.sort();
    assert_eq!(
        our_gcs, their_gcs,
        "JDK {major} {}: GCs differ",
        program.name
    );

    let mut our_meta: Vec<(u64, String, u64, u64, u64)> = read
        .records
        .iter()
        .filter_map(|r| match r {
            Record::MetaspaceSummary(m) => Some((
                m.gc_id,
                m.when.as_deref().unwrap_or("").to_string(),
                m.metaspace.used,
                m.class_space.committed,
                m.data_space.reserved,
            )),
            _ => None,
        })
        .collect();
    let mut their_meta: Vec<(u64, String, u64, u64, u64)> = events
        .iter()
        .filter(|e| e["type"] == "jdk.MetaspaceSummary")
        .map(|e| {
            let v = &e["values"];
            (
                v["gcId"].as_u64().unwrap_or(u64::MAX),
                v["when"].as_str().unwrap_or("").to_string(),
                v["metaspace"]["used"].as_u64().unwrap_or(u64::MAX),
                v["classSpace"]["committed"].as_u64().unwrap_or(u64::MAX),
                v["dataSpace"]["reserved"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    our_meta.sort();
    their_meta.sort();
    // Summaries come with GCs (before and after each).
    assert_eq!(
        our_meta.is_empty(),
        our_gcs.is_empty(),
        "JDK {major}: {our_meta:?}"
    );
    assert_eq!(
        our_meta, their_meta,
        "JDK {major} {}: Metaspace summaries differ",
        program.name
    );

    // The settings say class events were on, with stacks.
    let setting = |event: &str, name: &str| {
        read.records.iter().rev().find_map(|r| match r {
            Record::Setting(s) if &*s.event_type == event && &*s.name == name => {
                s.value.as_deref().map(str::to_string)
            }
            _ => None,
        })
    };
    assert_eq!(
        setting("jdk.ClassDefine", "enabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        setting("jdk.ClassDefine", "stackTrace").as_deref(),
        Some("true")
    );
    assert!(read
        .records
        .iter()
        .any(|r| matches!(r, Record::JvmInformation(j)
        if j.jvm_version.as_deref().is_some_and(|v| v.contains(&format!("({major}."))))));
    Some(read)
}

/// Class definitions (or, where JFR reports none, loads) of classes whose
/// name contains `part`.
fn defined<'a>(read: &'a Read, part: &str) -> Vec<(&'a Class, u64)> {
    read.records
        .iter()
        .filter_map(|r| match r {
            Record::ClassDefine(e) if e.class.name.contains(part) => Some((&e.class, e.stack)),
            _ => None,
        })
        .collect()
}

fn loaded<'a>(read: &'a Read, part: &str) -> Vec<(&'a Class, u64)> {
    read.records
        .iter()
        .filter_map(|r| match r {
            Record::ClassLoad(e) if e.class.name.contains(part) => Some((&e.class, e.stack)),
            _ => None,
        })
        .collect()
}

fn stack_has(read: &Read, stack: u64, class: &str, method: &str) -> bool {
    read.stacks.get(&stack).is_some_and(|s| {
        s.frames
            .iter()
            .any(|f| &*f.class == class && &*f.method == method)
    })
}

/// Copier and loader churn on one JDK: matches `jfr print`, and the
/// generated classes carry the application's call site.
fn harness_on(major: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(copier) = record_and_compare(major, &COPIER, &[], dir.path()) else {
        return;
    };
    if major <= 17 {
        // Reflection accessors regenerate every round: 20 per round.
        let accessors = defined(&copier, "GeneratedMethodAccessor");
        assert!(
            accessors.len() >= 200,
            "JDK {major}: {} accessors",
            accessors.len()
        );
        for (class, stack) in &accessors {
            assert_eq!(
                &*class.loader.type_name,
                "jdk.internal.reflect.DelegatingClassLoader"
            );
            assert!(!class.hidden);
            assert!(
                stack_has(&copier, *stack, "com.acme.demo.BeanCopier", "copy"),
                "{class:?}"
            );
        }
        // Every accessor has its own loader instance.
        let loaders: HashSet<u64> = accessors.iter().map(|(c, _)| c.loader.id).collect();
        assert_eq!(loaders.len(), accessors.len());
    } else {
        // Method handles: hidden LambdaForm classes of the bootstrap loader.
        let forms: Vec<_> = defined(&copier, "LambdaForm$")
            .into_iter()
            .chain(loaded(&copier, "LambdaForm$"))
            .collect();
        assert!(!forms.is_empty(), "JDK {major}: no LambdaForm classes");
        for (class, _) in &forms {
            assert!(class.hidden && class.name.contains("/0x"), "{class:?}");
            assert!(class.loader.is_bootstrap());
        }
    }

    let Some(churn) = record_and_compare(major, &LOADER_CHURN, &[], dir.path()) else {
        return;
    };
    let handlers: Vec<_> = defined(&churn, "com.acme.plugin.Handler")
        .into_iter()
        .filter(|(c, _)| &*c.name == "com.acme.plugin.Handler")
        .collect();
    assert_eq!(handlers.len(), 300, "JDK {major}: one Handler per request");
    let loaders: HashSet<u64> = handlers.iter().map(|(c, _)| c.loader.id).collect();
    assert_eq!(loaders.len(), 300, "each copy has its own loader id");
    for (class, stack) in &handlers {
        assert_eq!(
            &*class.loader.type_name,
            "com.acme.demo.plugin.PluginLoader"
        );
        assert!(stack_has(
            &churn,
            *stack,
            "com.acme.demo.PluginHost",
            "reload"
        ));
    }
    let unloaded: Vec<u64> = churn
        .records
        .iter()
        .filter_map(|r| match r {
            Record::ClassUnload(u) if &*u.class.name == "com.acme.plugin.Handler" => {
                Some(u.class.loader.id)
            }
            _ => None,
        })
        .collect();
    assert!(!unloaded.is_empty(), "JDK {major}: no Handler unloaded");
    // Unloads name the same loader instances as the definitions.
    assert!(unloaded.iter().all(|id| loaders.contains(id)));
}

#[test]
fn jdk11_recordings_match_the_jdk() {
    harness_on(11);
}

#[test]
fn jdk17_recordings_match_the_jdk() {
    harness_on(17);
}

#[test]
fn jdk21_recordings_match_the_jdk() {
    harness_on(21);
}

#[test]
fn jdk25_recordings_match_the_jdk() {
    harness_on(25);
}

/// Proxies and generated serializers on the system JDK: the classes and
/// their defining frames.
#[test]
fn proxies_and_generated_serializers_keep_their_call_sites() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some(proxy) = record_and_compare(17, &PROXY, &["30"], dir.path()) else {
        return;
    };
    let proxies = defined(&proxy, "$Proxy");
    assert!(proxies.len() >= 30, "{} proxies", proxies.len());
    assert!(proxies.iter().all(|(_, s)| stack_has(
        &proxy,
        *s,
        "com.acme.demo.ProxyDemo",
        "newClient"
    )));

    let Some(serializers) = record_and_compare(17, &DYNAMIC_LOADER, &["50"], dir.path()) else {
        return;
    };
    let generated = defined(&serializers, "com.acme.demo.codegen.Serializer_");
    assert_eq!(generated.len(), 50);
    assert!(generated.iter().all(|(c, s)| {
        &*c.loader.type_name == "com.acme.demo.codegen.DynamicClassLoader"
            && stack_has(&serializers, *s, "com.acme.demo.JsonWriter", "writerFor")
    }));
    // One long-lived loader: one id.
    let ids: HashSet<u64> = generated.iter().map(|(c, _)| c.loader.id).collect();
    assert_eq!(ids.len(), 1);
}

/// The JDK's default settings have class events off: detectable from the
/// settings the recording carries, not only from their absence.
#[test]
fn a_recording_without_class_events_says_so() {
    let Some(java) = java(17) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let file = record(&java, &DYNAMIC_LOADER, &["20"], "default", &[], dir.path());
    let read = read(&file);
    let class_events = read
        .records
        .iter()
        .filter(|r| matches!(r, Record::ClassDefine(_) | Record::ClassLoad(_)))
        .count();
    assert_eq!(class_events, 0);
    let disabled: HashSet<&str> = read
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Setting(s) if &*s.name == "enabled" && s.value.as_deref() == Some("false") => {
                Some(&*s.event_type)
            }
            _ => None,
        })
        .collect();
    assert!(disabled.contains("jdk.ClassDefine"), "{disabled:?}");
    assert!(disabled.contains("jdk.ClassLoad"), "{disabled:?}");
    // The rest of the default recording is there.
    assert!(read
        .records
        .iter()
        .any(|r| matches!(r, Record::JvmInformation(_))));
    assert!(read
        .records
        .iter()
        .any(|r| matches!(r, Record::Flag(f) if &*f.name == "MaxMetaspaceSize")));
}

/// A JVM that dies of `OutOfMemoryError: Metaspace` cannot dump its
/// recording (JFR needs Metaspace to do it), but the chunk in JFR's disk
/// repository holds everything up to the last flush, the MetaspaceOOM
/// event with the allocating loader and stack included. The JVM is held
/// after the error until JFR's periodic flush has put the event on disk,
/// then killed (SIGKILL: no chance to finish the chunk).
#[test]
fn the_repository_chunk_of_a_jvm_killed_by_metaspace_oom_is_readable() {
    use std::io::BufRead;
    let Some(java) = java(17) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let repository = dir.path().join("repository");
    std::fs::create_dir(&repository).expect("repository dir");
    // In the temp dir: JFR writes its emergency dump (hs_oom_pid*.jfr) to
    // the working directory.
    let mut jvm = std::process::Command::new(&java)
        .current_dir(dir.path())
        .arg("-XX:MaxMetaspaceSize=24m")
        .arg(format!(
            "-XX:FlightRecorderOptions:repository={}",
            repository.display()
        ))
        .arg(format!(
            "-XX:StartFlightRecording:settings={}",
            metascope_jfc().display()
        ))
        .args([
            "-cp",
            metascope_harness::HARNESS_JAR_PATH,
            DYNAMIC_LOADER.main_class,
            "200000",
            "hold-after-oom",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start java");
    // JFR's own start-up line comes first.
    let said: Vec<String> = std::io::BufReader::new(jvm.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .take_while(|line| !line.contains("out of metaspace"))
        .collect();
    assert!(
        jvm.try_wait().unwrap().is_none(),
        "no OOM, the JVM ended: {said:?}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Once Metaspace is full, other threads fail to define classes too
    // (JFR's own, the JDK's LambdaForms: the bootstrap loader's), so there
    // may be several MetaspaceOOM events; the generator's is the one the
    // report must name.
    let is_generators =
        |(oom, stack): &(metascope_jfr::MetaspaceOom, Option<metascope_jfr::Stack>)| {
            oom.loader
                .as_ref()
                .is_some_and(|l| &*l.type_name == "com.acme.demo.codegen.DynamicClassLoader")
                && stack.is_some()
        };
    let (ooms, serializers) = loop {
        // The OOM's constants (its loader) follow it at JFR's next flush.
        let found = read_oom(&repository);
        if found.0.iter().any(is_generators) || std::time::Instant::now() > deadline {
            break found;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = jvm.kill();
    let _ = jvm.wait();
    assert!(serializers > 1000, "{serializers} serializers");
    assert!(
        !ooms.is_empty(),
        "a MetaspaceOOM event within 30 s of the error"
    );
    let loaders: Vec<_> = ooms
        .iter()
        .map(|(oom, _)| oom.loader.as_ref().map(|l| l.type_name.to_string()))
        .collect();
    let (_, stack) = ooms.into_iter().find(is_generators).unwrap_or_else(|| {
        panic!("no MetaspaceOOM of the generator's loader with a stack; loaders: {loaders:?}")
    });
    let stack = stack.expect("the OOM's stack");
    assert!(stack
        .frames
        .iter()
        .any(|f| &*f.class == "com.acme.demo.JsonWriter" && &*f.method == "writerFor"));
}

/// The MetaspaceOOM events (each with its stack) and the number of
/// serializer definitions in the repository's chunks so far.
#[allow(clippy::type_complexity)]
fn read_oom(
    repository: &Path,
) -> (
    Vec<(metascope_jfr::MetaspaceOom, Option<metascope_jfr::Stack>)>,
    usize,
) {
    let chunks: Vec<_> = walk(repository)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jfr"))
        .collect();
    let mut ooms = Vec::new();
    let mut serializers = 0;
    for chunk in &chunks {
        let Ok(mut reader) = JfrReader::open(chunk) else {
            continue;
        };
        let mut stacks = HashMap::new();
        for record in reader.by_ref().flatten() {
            match record {
                Record::Stack(s) => {
                    stacks.insert(s.id, s);
                }
                Record::ClassDefine(e)
                    if e.class
                        .name
                        .starts_with("com.acme.demo.codegen.Serializer_") =>
                {
                    serializers += 1
                }
                Record::MetaspaceOom(e) => ooms.push((e.clone(), stacks.get(&e.stack).cloned())),
                _ => {}
            }
        }
    }
    (ooms, serializers)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
