//! Test support shared by the CLI's unit tests: recordings written by
//! hand, record by record, and the whole pipeline (read, analyse, report)
//! run on them.

use std::path::Path;

use anyhow::Result;
use metascope_events::*;
use serde_json::Value;

use crate::analyze::attribution::tests::{frame, spring_copy_properties_stack};
use crate::analyze::call_sites::CallSiteStats;
use crate::analyze::exhaustion::Exhaustion;
pub(crate) use crate::analyze::Options as ReadOptions;
use crate::analyze::{Analysis, Options};
use crate::fast_hash::FastMap;
use crate::read::jsonl::JsonLines;
use crate::read::{Damage, Source};
use crate::render::wording;
use crate::report::{self, Contents, FlameGraphParts, Report};

/// A recording read through the pipeline (reader and analysis), as the
/// tests of reading look at it: the facts, the call sites, the warnings
/// as the reports word them.
#[derive(Debug)]
pub(crate) struct Recording {
    pub header: Option<Header>,
    pub summary: Option<Summary>,
    pub census: Option<Census>,
    pub call_sites: Vec<CallSiteStats>,
    pub class_records: u64,
    pub hidden_ordinary: u64,
    pub corrupt_lines: u64,
    pub unknown_records: u64,
    pub truncated: bool,
    pub resource_exhausted: Vec<Exhaustion>,
    pub resource_exhausted_omitted: u64,
    pub warnings: Vec<String>,
    pub stacks: StacksRead,
    pub stack_classes: FastMap<u64, u64>,
    pub summarised_classes: Vec<(usize, u64)>,
    duration_ns: u64,
    attached: bool,
}

/// How many distinct stacks were read, and summarised.
#[derive(Debug)]
pub(crate) struct StacksRead(usize, u64);

impl StacksRead {
    pub fn len(&self) -> usize {
        self.0
    }

    pub fn summarised(&self) -> u64 {
        self.1
    }
}

impl Recording {
    pub fn read(path: &Path, options: &Options) -> Result<Recording> {
        let mut source = crate::read::open(path)?;
        let mut analysis = Analysis::new(options.clone());
        source.read(&mut analysis)?;
        Ok(Recording::of(&analysis, source.damage()))
    }

    pub fn from_reader(path: &Path, bytes: &[u8], options: &Options) -> Result<Recording> {
        let mut source = JsonLines::new(bytes, path);
        let mut analysis = Analysis::new(options.clone());
        source.read(&mut analysis)?;
        Ok(Recording::of(&analysis, source.damage()))
    }

    pub fn from_str(text: &str, options: &Options) -> Result<Recording> {
        Recording::from_reader(Path::new("test.jsonl"), text.as_bytes(), options)
    }

    fn of(analysis: &Analysis, damage: &Damage) -> Recording {
        let a = analysis.finish(damage);
        Recording {
            header: a.facts.header.clone(),
            summary: a.facts.summary.clone(),
            census: a.facts.census.clone(),
            class_records: a.facts.class_records,
            hidden_ordinary: a.facts.hidden_ordinary,
            corrupt_lines: a.corrupt_lines,
            unknown_records: a.facts.unknown_records,
            truncated: a.truncated,
            resource_exhausted: a.exhaustion.clone(),
            resource_exhausted_omitted: a.exhaustion_omitted,
            warnings: a.warnings.iter().map(wording::warning).collect(),
            stacks: StacksRead(a.stacks.len(), a.stacks.summarised()),
            stack_classes: a.stack_classes.clone(),
            summarised_classes: a.summarised_sites.clone(),
            duration_ns: a.facts.duration_ns(),
            attached: a.facts.attached(),
            call_sites: a.call_sites,
        }
    }

    pub fn duration_ns(&self) -> u64 {
        self.duration_ns
    }

    pub fn attached(&self) -> bool {
        self.attached
    }

    pub fn attributed_classes(&self) -> u64 {
        self.call_sites.iter().map(|s| s.classes).sum()
    }
}

/// Reads `bytes` as the recording `test.jsonl` into an analysis.
pub(crate) fn read_bytes(bytes: &[u8], options: Options) -> Result<(Analysis, Damage)> {
    let mut source = JsonLines::new(bytes, Path::new("test.jsonl"));
    let mut analysis = Analysis::new(options);
    source.read(&mut analysis)?;
    Ok((analysis, source.damage().clone()))
}

/// The report of `text` (every call site with `top` 0), flame graph
/// included.
pub(crate) fn report(text: &str, top: usize) -> Report {
    report_with(text, top, Options::default())
}

pub(crate) fn report_with(text: &str, top: usize, options: Options) -> Report {
    let (analysis, damage) = read_bytes(text.as_bytes(), options).unwrap();
    let contents = Contents {
        file: "test.jsonl",
        top,
        flame_graph: FlameGraphParts::StacksAndFrames,
    };
    report::build(&analysis.finish(&damage), &contents)
}

/// The JSON report of `text`, parsed.
pub(crate) fn json(text: &str, top: usize) -> Value {
    serde_json::from_str(&crate::render::json::render(&report(text, top))).unwrap()
}

pub(crate) fn line(r: &Record) -> String {
    serde_json::to_string(r).unwrap() + "\n"
}

pub(crate) fn header() -> Record {
    Record::Header(Header {
        schema: SCHEMA_VERSION,
        agent_version: "0.1.0".into(),
        pid: 4242,
        java_version: "17.0.9".into(),
        java_vm_name: "OpenJDK 64-Bit Server VM".into(),
        start_wall_ms: 1_763_900_000_000,
        options: AgentOptions {
            out: "/tmp/rec.jsonl".into(),
            depth: 64,
            mode: CaptureMode::Dynamic,
            include: vec![],
            queue: 65536,
        },
        attached: false,
        java_command: None,
        converted_from: None,
    })
}

pub(crate) fn class(seq: u64, kind: ClassKind, loader: (u64, &str), stack: u64) -> Record {
    Record::Class(ClassDefined {
        seq,
        name: match kind {
            ClassKind::Proxy => format!("jdk.proxy2.$Proxy{seq}"),
            ClassKind::Lambda => format!("com.acme.Main$$Lambda/0x00000008010{seq:05x}"),
            _ => format!("jdk.internal.reflect.GeneratedMethodAccessor{seq}"),
        },
        kind,
        loader: LoaderRef {
            id: loader.0,
            type_name: loader.1.into(),
        },
        hidden: false,
        thread: "main".into(),
        t_ns: seq * 250_000_000,
        wall_ms: 1_763_900_000_000 + seq * 250,
        event: ClassEvent::Load,
        stack,
        target: None,
        fingerprint: None,
    })
}

pub(crate) fn summary(captured: u64, dropped: u64) -> Record {
    Record::Summary(Summary {
        classes_loaded: 2417,
        seen: captured + dropped,
        captured,
        dropped,
        stack_errors: 0,
        events_dropped: 0,
        t_ns: 3_000_000_000,
        end_wall_ms: 1_763_900_003_000,
        reason: "vm_death".into(),
        capture_disabled: None,
        classes_not_dumped: 0,
        cost: None,
    })
}

pub(crate) fn exhausted(description: &str, flags: &[&str], after_seq: u64) -> String {
    line(&Record::ResourceExhausted(ResourceExhausted {
        description: description.into(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        thread: "main".into(),
        t_ns: 2_030_000_000,
        wall_ms: 1_763_900_002_030,
        after_seq,
    }))
}

pub(crate) const DELEGATING: &str = "jdk.internal.reflect.DelegatingClassLoader";

/// A small realistic stream: Spring copyProperties inflating accessors,
/// one proxy, one class without a stack.
pub(crate) fn bean_copier_stream(with_summary: bool, dropped: u64) -> String {
    let mut s = line(&header());
    s += &line(&Record::Stack(StackTrace {
        id: 1,
        frames: spring_copy_properties_stack(),
    }));
    for seq in 1..=3 {
        s += &line(&class(
            seq,
            ClassKind::ReflectionAccessor,
            (100 + seq, DELEGATING),
            1,
        ));
    }
    s += &line(&Record::Stack(StackTrace {
        id: 2,
        frames: vec![
            frame("java.lang.reflect.Proxy", "newProxyInstance", 1037),
            frame("com.acme.audit.AuditingFactory", "wrap", 23),
        ],
    }));
    s += &line(&class(
        4,
        ClassKind::Proxy,
        (7, "jdk.internal.loader.ClassLoaders$AppClassLoader"),
        2,
    ));
    s += &line(&class(5, ClassKind::Lambda, (0, "bootstrap"), NO_STACK));
    if with_summary {
        s += &line(&summary(5, dropped));
    }
    s
}

/// The stream of an attach: the header says so and a census of the
/// classes already loaded follows, `generated_groups` groups of
/// generated classes (the first 200 reflection accessors in 200
/// loaders, then 2 classes each) and two of ordinary ones; then
/// [`bean_copier_stream`]'s records.
pub(crate) fn attached_stream(generated_groups: u64) -> String {
    let Record::Header(mut h) = header() else {
        unreachable!()
    };
    h.attached = true;
    let mut groups = vec![
        CensusGroup {
            kind: ClassKind::Ordinary,
            loader_type: "bootstrap".into(),
            classes: 2_000,
            loaders: 1,
            used: None,
            committed: None,
        },
        CensusGroup {
            kind: ClassKind::ReflectionAccessor,
            loader_type: DELEGATING.into(),
            classes: 200,
            loaders: 200,
            used: None,
            committed: None,
        },
        CensusGroup {
            kind: ClassKind::Ordinary,
            loader_type: "jdk.internal.loader.ClassLoaders$AppClassLoader".into(),
            classes: 290,
            loaders: 1,
            used: None,
            committed: None,
        },
    ];
    for i in 1..generated_groups {
        groups.push(CensusGroup {
            kind: ClassKind::Proxy,
            loader_type: format!("com.acme.tenant.Loader{i}"),
            classes: 2,
            loaders: 1,
            used: None,
            committed: None,
        });
    }
    let classes = groups.iter().map(|g| g.classes).sum();
    let mut s = line(&Record::Header(h));
    s += &line(&Record::Census(Census {
        t_ns: 3_100_000,
        classes,
        groups,
    }));
    s + bean_copier_stream(true, 0)
        .split_inclusive('\n')
        .skip(1)
        .collect::<String>()
        .as_str()
}

const MS: u64 = 1_000_000;

/// Writes hand-made streams: one stack per call site, classes with
/// targets or fingerprints, GCs and unloads.
pub(crate) struct Stream {
    text: String,
    seq: u64,
}

pub(crate) struct Def<'a> {
    pub(crate) kind: ClassKind,
    pub(crate) stack: u64,
    pub(crate) loader: (u64, &'a str),
    pub(crate) thread: &'a str,
    pub(crate) target: Option<&'a str>,
    pub(crate) fingerprint: Option<&'a str>,
    pub(crate) hidden: bool,
}

/// A frame of a hand-made stack: class, method, line (0: none) and the id
/// of its class's code source (`None`: the JDK's, none).
pub(crate) type SourcedFrame = (&'static str, &'static str, u32, Option<u32>);

pub(crate) fn def(kind: ClassKind, stack: u64, loader: (u64, &str)) -> Def<'_> {
    Def {
        kind,
        stack,
        loader,
        thread: "main",
        target: None,
        fingerprint: None,
        hidden: false,
    }
}

impl Stream {
    pub(crate) fn new(java_version: &str, sites: &[(&str, &str, u32)]) -> Self {
        let mut h = header();
        if let Record::Header(h) = &mut h {
            h.java_version = java_version.into();
        }
        let mut text = line(&h);
        for (i, (entry, app, l)) in sites.iter().enumerate() {
            let (class, method) = entry.rsplit_once('.').unwrap();
            let (app_class, app_method) = app.rsplit_once('.').unwrap();
            text += &line(&Record::Stack(StackTrace {
                id: i as u64 + 1,
                frames: vec![
                    frame("java.lang.ClassLoader", "defineClass1", 0),
                    frame(class, method, 10),
                    frame(app_class, app_method, *l),
                    frame("com.acme.Main", "main", 5),
                ],
            }));
        }
        Self { text, seq: 0 }
    }

    /// A stream whose header says the JVM ran `java_command`, with a
    /// `code_source` record per location (ids from 0), then stack `i + 1`
    /// for `stacks[i]`, frames innermost first.
    pub(crate) fn with_code_sources(
        java_command: &str,
        locations: &[&str],
        stacks: &[Vec<SourcedFrame>],
    ) -> Self {
        let mut h = header();
        if let Record::Header(h) = &mut h {
            h.java_command = Some(java_command.into());
        }
        let mut text = line(&h);
        for (id, location) in locations.iter().enumerate() {
            text += &line(&Record::CodeSource(CodeSource {
                id: id as u32,
                location: location.to_string(),
            }));
        }
        for (i, frames) in stacks.iter().enumerate() {
            text += &line(&Record::Stack(StackTrace {
                id: i as u64 + 1,
                frames: frames
                    .iter()
                    .map(|&(class, method, l, source)| Frame {
                        source,
                        ..frame(class, method, l)
                    })
                    .collect(),
            }));
        }
        Self { text, seq: 0 }
    }

    /// Defines a class; returns its seq.
    pub(crate) fn class(&mut self, t_ms: u64, d: &Def) -> u64 {
        self.seq += 1;
        let seq = self.seq;
        self.text += &line(&Record::Class(ClassDefined {
            seq,
            name: match d.kind {
                ClassKind::ReflectionAccessor => {
                    format!("jdk.internal.reflect.GeneratedMethodAccessor{seq}")
                }
                ClassKind::LambdaForm => format!("java.lang.invoke.LambdaForm$MH/0x{seq:08x}"),
                ClassKind::Script => format!("Script{seq}"),
                _ => format!("com.acme.gen.Gen{seq}"),
            },
            kind: d.kind,
            loader: LoaderRef {
                id: d.loader.0,
                type_name: d.loader.1.into(),
            },
            hidden: d.hidden,
            thread: d.thread.into(),
            t_ns: t_ms * MS,
            wall_ms: 1_763_900_000_000 + t_ms,
            event: ClassEvent::Load,
            stack: d.stack,
            target: d.target.map(String::from),
            fingerprint: d.fingerprint.map(String::from),
        }));
        seq
    }

    pub(crate) fn unload(&mut self, t_ms: u64, seq: u64, d: &Def) {
        self.text += &line(&Record::ClassUnload(ClassUnloaded {
            seq,
            kind: d.kind,
            loader: LoaderRef {
                id: d.loader.0,
                type_name: d.loader.1.into(),
            },
            stack: d.stack,
            target: d.target.map(String::from),
            fingerprint: d.fingerprint.map(String::from),
            name: None,
            t_ns: t_ms * MS,
        }));
    }

    pub(crate) fn loader_unload(&mut self, t_ms: u64, loader: (u64, &str)) {
        self.text += &line(&Record::LoaderUnload(LoaderUnloaded {
            loader: LoaderRef {
                id: loader.0,
                type_name: loader.1.into(),
            },
            t_ns: t_ms * MS,
        }));
    }

    /// Any other record, as written.
    pub(crate) fn record(&mut self, r: Record) {
        self.text += &line(&r);
    }

    pub(crate) fn gc(&mut self, t_ms: u64) {
        self.text += &line(&Record::GcStart(GcBoundary { t_ns: t_ms * MS }));
        self.text += &line(&Record::GcFinish(GcBoundary {
            t_ns: t_ms * MS + 1,
        }));
    }

    /// The JSON report (summary at 3 s).
    pub(crate) fn json(self) -> Value {
        serde_json::from_str(&crate::render::json::render(&self.report())).unwrap()
    }

    /// The report (summary at 3 s), every call site.
    pub(crate) fn report(self) -> Report {
        report(&self.finished(), 0)
    }

    /// The stream with its summary (at 3 s).
    pub(crate) fn finished(mut self) -> String {
        self.text += &line(&summary(self.seq, 0));
        self.text
    }
}

/// minilisp's jar, in [`lisp_evaluations`].
pub(crate) const MINILISP: &str = "file:/app/lib/minilisp-0.9.jar";

/// LispDemo's shape: `com.acme.Rules.apply` evaluates a form per request;
/// the interpreter's `eval` (minilisp-0.9.jar) compiles it into a function
/// and its constants (two lines of `compile`), each defined through
/// `org.minilisp.FnLoader`: 40 evaluations, all distinct code, in a loader
/// per evaluation or (`shared_loader`) one. Without code sources the
/// frames do not say where they come from (an older agent).
pub(crate) fn lisp_evaluations(with_code_sources: bool, shared_loader: bool) -> Stream {
    const FN_LOADER: &str = "org.minilisp.FnLoader";
    let stack = |line: u32| -> Vec<SourcedFrame> {
        vec![
            ("java.lang.ClassLoader", "defineClass1", 0, None),
            (FN_LOADER, "instantiate", 13, Some(1)),
            ("org.minilisp.Interpreter", "compile", line, Some(1)),
            ("org.minilisp.Interpreter", "eval", 35, Some(1)),
            ("com.acme.Rules", "apply", 34, Some(0)),
            ("com.acme.Main", "main", 21, Some(0)),
        ]
    };
    let mut stacks = vec![stack(43), stack(44)];
    if !with_code_sources {
        for frame in stacks.iter_mut().flatten() {
            frame.3 = None;
        }
    }
    let mut s = Stream::with_code_sources(
        "com.acme.Main 40",
        &["file:/app/app.jar", MINILISP],
        &stacks,
    );
    for i in 0..40u64 {
        let loader = if shared_loader { 7 } else { 100 + i };
        for stack in [1, 2] {
            let fp = format!("{i:015x}{stack}");
            let mut d = def(ClassKind::RuntimeDefined, stack, (loader, FN_LOADER));
            d.fingerprint = Some(&fp);
            s.class(20 + i * 70, &d);
        }
    }
    s
}
