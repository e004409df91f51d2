//! A JFR recording's records (crate metascope-jfr) turned into the event
//! stream's (crate metascope-events), one by one, as the agent would have
//! written them, so that one analysis reads both:
//!
//! | JFR | event stream |
//! |---|---|
//! | `jdk.JVMInformation`, the first chunk | `header` (`converted_from: jfr`), written first |
//! | stack | `stack` (frames: class, method, descriptor, line, native) |
//! | `jdk.ClassDefine`; `jdk.ClassLoad` of hidden classes | `class` (`seq` numbered here, `kind` from name and loader) |
//! | `jdk.ClassUnload` | `class_unload` (with the class's `name`), and `loader_unload` once a loader's last class went |
//! | `jdk.GarbageCollection` | `gc_start`, and `gc_finish` at its end |
//! | `jdk.MetaspaceSummary` (before and after each GC) | `metaspace` (`max` from the `MaxMetaspaceSize` flag, `class_max` the class space reserved) |
//! | `jdk.ClassLoaderStatistics` | `loader_statistics` |
//! | `jdk.MetaspaceOOM` | `resource_exhausted` |
//! | the end of an intact recording | `summary` (`reason: jfr_complete`) |
//!
//! Kinds: a class JFR defines is classified by the generators' naming
//! patterns and the loader types that exist to define generated code
//! (`metascope_events::names`, the agent's rules); else a hidden class is
//! `hidden`; else a class whose name another loader instance already
//! defined is `reloaded`; else `ordinary`. What the agent learns from class
//! bytes and code sources (accessor targets, fingerprints,
//! `runtime_defined`) a JFR recording does not have.
//!
//! JFR reports a class with `jdk.ClassDefine` when a loader defines it and
//! with `jdk.ClassLoad` (once per initiating loader) when it is loaded;
//! hidden classes (lambdas, LambdaForms) only with `jdk.ClassLoad`. So a
//! definition is a `jdk.ClassDefine`, or the `jdk.ClassLoad` of a hidden
//! class; when the recording has `jdk.ClassDefine` off, the `jdk.ClassLoad`
//! by the defining loader itself stands in.
//!
//! Memory: stacks and names are the reader's; here, the live classes that
//! can be unloaded (for `class_unload`: at most [`LIVE_CAP`], as the
//! agent's), the names already defined (for `reloaded`: at most
//! [`NAMES_CAP`] hashes) and the records of a chunk's start held until
//! `jdk.JVMInformation` (at most [`HOLD_CAP`]).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::BuildHasher;
use std::sync::Arc;

use metascope_events::{
    names, AgentOptions, CaptureMode, ClassEvent, ClassKind, ClassUnloaded, ClassView,
    ConvertedFrom, Frame, GcBoundary, Header, LoaderRef, LoaderStatistics, LoaderUnloaded,
    MetaspaceSample, Record, ResourceExhausted, StackTrace, Summary, BOOTSTRAP_LOADER_ID, NO_STACK,
    SCHEMA_VERSION,
};
use metascope_jfr as jfr;

use super::{Item, Sink};
use crate::fast_hash::{fast_map, FastMap, FastState};

/// Live classes remembered for their unloads (the agent's bound too).
pub const LIVE_CAP: usize = 2_000_000;
/// Class names remembered with the first loader that defined them.
pub const NAMES_CAP: usize = 4_000_000;
/// Records held back for the header at most (JFR writes
/// `jdk.JVMInformation` at the start of a chunk, after its first class
/// events).
pub const HOLD_CAP: usize = 100_000;
/// JFR's default stack depth (`-XX:FlightRecorderOptions:stackdepth`).
pub const JFR_DEFAULT_STACK_DEPTH: u32 = 64;
/// `summary.reason` of an intact JFR recording.
pub const JFR_COMPLETE: &str = "jfr_complete";

/// A class that may still be unloaded.
#[derive(Debug, Clone, Copy)]
struct Live {
    seq: u64,
    stack: u64,
    kind: ClassKind,
    hidden: bool,
}

/// The live classes, for their unloads, by (loader id, name hash), and
/// how many each loader has (not counting hidden classes, which unload
/// alone), to tell when a loader's last class went.
///
/// Kept small, as a Metaspace leak defines millions of classes: per class
/// only its name's hash, in definition order; what runs of classes share
/// (a generator's loop defines thousands with one loader, stack and kind,
/// numbered one after the other) once per [`Run`]; at worst, when no two
/// classes in a row share them, a run per class (40 bytes). Indexed (and counted
/// per loader) only when the first unload asks: a recording that unloads
/// nothing pays one sequential push per class, not a random write into a
/// large table. Once indexed, each definition also updates the index and
/// the counts.
#[derive(Default)]
struct LiveClasses {
    /// Name hashes, in definition order.
    names: Vec<u64>,
    runs: Vec<Run>,
    /// By (loader id, name hash): the class's position in `names`.
    index: Option<FastMap<(u64, u64), usize>>,
    /// By loader id, once indexed.
    per_loader: FastMap<u64, u64>,
    /// Classes remembered and not unloaded.
    live: usize,
}

/// Classes remembered one after the other that share their loader,
/// stack, kind and hidden flag, and whose `seq`s follow each other. Its
/// first class's fields, flat, so that a run is 32 bytes: a run per class
/// (no two classes in a row alike, e.g. threads defining at once) costs
/// no more than a class did on its own.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Position of its first class in [`LiveClasses::names`] (fewer than
    /// 2^32: at most [`LIVE_CAP`] live, and twice that held).
    start: u32,
    kind: ClassKind,
    hidden: bool,
    loader: u64,
    /// Its first class's; the next ones' are `seq + 1`, `seq + 2`...
    seq: u64,
    stack: u64,
}

/// A class [`LiveClasses::remove`] took out.
struct Unloaded {
    class: Live,
    /// It was its loader's last (not hidden) class.
    loader_emptied: bool,
}

impl LiveClasses {
    fn len(&self) -> usize {
        self.live
    }

    /// Remembers a class of `loader`; one of the same key that was live is
    /// replaced, as a map insert would (before the index exists,
    /// [`Self::index_of`] does that).
    fn insert(&mut self, loader: u64, name_hash: u64, class: Live) {
        let at = self.append(loader, name_hash, class);
        self.live += 1;
        let Some(index) = &mut self.index else {
            return;
        };
        let replaced = index.insert((loader, name_hash), at);
        if !class.hidden {
            *self.per_loader.entry(loader).or_insert(0) += 1;
        }
        if let Some(old) = replaced {
            self.live -= 1;
            let (_, old) = class_at(&self.runs, old);
            uncount(&mut self.per_loader, loader, old);
            // Replaced classes are dropped once they are most of the list.
            if self.names.len() > 1024 && self.live < self.names.len() / 2 {
                self.compact();
            }
        }
    }

    /// Adds a class at the end, in the last run when it continues it; its
    /// position.
    fn append(&mut self, loader: u64, name_hash: u64, class: Live) -> usize {
        let at = self.names.len();
        let continues = self.runs.last().is_some_and(|r| {
            r.loader == loader
                && r.stack == class.stack
                && r.kind == class.kind
                && r.hidden == class.hidden
                && r.seq.checked_add((at - r.start as usize) as u64) == Some(class.seq)
        });
        if !continues {
            self.runs.push(Run {
                start: at as u32,
                kind: class.kind,
                hidden: class.hidden,
                loader,
                seq: class.seq,
                stack: class.stack,
            });
        }
        self.names.push(name_hash);
        at
    }

    /// Forgets the class of `key` and returns it, if live.
    fn remove(&mut self, key: &(u64, u64)) -> Option<Unloaded> {
        let index = match &mut self.index {
            Some(index) => index,
            None => self.index.insert(Self::index_of(
                &self.names,
                &self.runs,
                &mut self.live,
                &mut self.per_loader,
            )),
        };
        let at = index.remove(key)?;
        let (loader, class) = class_at(&self.runs, at);
        self.live -= 1;
        let loader_emptied = uncount(&mut self.per_loader, loader, class);
        // Unloaded classes are dropped once they are most of the list.
        if self.names.len() > 1024 && self.live < self.names.len() / 2 {
            self.compact();
        }
        Some(Unloaded {
            class,
            loader_emptied,
        })
    }

    /// Keeps only the classes still indexed, in their order.
    fn compact(&mut self) {
        let Some(mut index) = self.index.take() else {
            return;
        };
        let mut kept: Vec<(usize, (u64, u64))> = index.drain().map(|(k, at)| (at, k)).collect();
        kept.sort_unstable_by_key(|&(at, _)| at);
        let runs = std::mem::take(&mut self.runs);
        self.names.clear();
        for (at, key) in kept {
            let (loader, class) = class_at(&runs, at);
            let at = self.append(loader, key.1, class);
            index.insert(key, at);
        }
        self.index = Some(index);
    }

    /// The index of what was appended, and the loaders' counts; a key
    /// appended twice keeps its last class.
    fn index_of(
        names: &[u64],
        runs: &[Run],
        live: &mut usize,
        per_loader: &mut FastMap<u64, u64>,
    ) -> FastMap<(u64, u64), usize> {
        let mut index = fast_map();
        index.reserve(names.len());
        let spans = || {
            runs.iter().enumerate().map(|(i, r)| {
                let end = runs
                    .get(i + 1)
                    .map_or(names.len(), |next| next.start as usize);
                (r, r.start as usize..end)
            })
        };
        for (run, span) in spans() {
            for at in span {
                if index.insert((run.loader, names[at]), at).is_some() {
                    *live -= 1;
                }
            }
        }
        per_loader.clear();
        for (run, span) in spans().filter(|(run, _)| !run.hidden) {
            let kept = span
                .filter(|&at| index.get(&(run.loader, names[at])) == Some(&at))
                .count();
            if kept > 0 {
                *per_loader.entry(run.loader).or_insert(0) += kept as u64;
            }
        }
        index
    }
}

/// The loader and class at position `at` of the names `runs` describe.
fn class_at(runs: &[Run], at: usize) -> (u64, Live) {
    // Runs start in order, the first at 0.
    let run = &runs[runs
        .partition_point(|r| r.start as usize <= at)
        .saturating_sub(1)];
    let class = Live {
        seq: run.seq + (at - run.start as usize) as u64,
        stack: run.stack,
        kind: run.kind,
        hidden: run.hidden,
    };
    (run.loader, class)
}

/// Takes `class` off its loader's count; whether that was the last.
fn uncount(per_loader: &mut FastMap<u64, u64>, loader: u64, class: Live) -> bool {
    if class.hidden {
        return false;
    }
    let Some(n) = per_loader.get_mut(&loader) else {
        return false;
    };
    *n = n.saturating_sub(1);
    if *n > 0 {
        return false;
    }
    per_loader.remove(&loader);
    true
}

/// Whether an event type was enabled, as the recording's settings say.
#[derive(Debug, Clone, Copy, Default)]
struct Enabled {
    /// The last `enabled` setting seen.
    now: Option<bool>,
    /// `enabled` was `true` at some point.
    ever: bool,
}

impl Enabled {
    fn set(&mut self, value: Option<&str>) {
        let on = value == Some("true");
        self.now = Some(on);
        self.ever |= on;
    }
}

/// The conversion's state: see the module docs.
pub struct FromJfr {
    /// The file's name, the header's `options.out`.
    shown: String,
    held: Vec<jfr::Record>,
    header_written: bool,
    first_chunk: Option<jfr::ChunkInfo>,
    jvm: Option<jfr::JvmInformation>,
    /// End of the last chunk, ns since the recording started.
    chunks_end_ns: u64,
    chunks: u32,
    define: Enabled,
    load: Enabled,
    /// `jdk.ClassDefine` events seen (the settings may come after the first).
    defines_seen: bool,
    seq: u64,
    without_stack: u64,
    last_t_ns: u64,
    /// Items fed, the position of the next one.
    fed: u64,
    /// A binary name in internal form, for the name rules.
    internal: Vec<u8>,
    hasher: FastState,
    /// By name hash: the first loader that defined the name.
    first_loader: FastMap<u64, u64>,
    /// By (loader id, name hash).
    live: LiveClasses,
    /// The last loader classified: its id, and whether its type exists to
    /// define generated code.
    last_loader_dynamic: Option<(u64, bool)>,
    /// Ends of GCs whose `gc_finish` is not out yet.
    gc_finishes: BinaryHeap<Reverse<u64>>,
    /// `MaxMetaspaceSize` when set (JFR writes the flags at chunk start).
    max_metaspace: Option<u64>,
}

impl FromJfr {
    pub fn new(shown: &str) -> FromJfr {
        FromJfr {
            shown: shown.to_string(),
            held: Vec::new(),
            header_written: false,
            first_chunk: None,
            jvm: None,
            chunks_end_ns: 0,
            chunks: 0,
            define: Enabled::default(),
            load: Enabled::default(),
            defines_seen: false,
            seq: 0,
            without_stack: 0,
            last_t_ns: 0,
            fed: 0,
            internal: Vec::new(),
            hasher: FastState::default(),
            first_loader: fast_map(),
            live: LiveClasses::default(),
            last_loader_dynamic: None,
            gc_finishes: BinaryHeap::new(),
            max_metaspace: None,
        }
    }

    /// Class records written so far.
    pub fn classes(&self) -> u64 {
        self.seq
    }

    /// The recording's settings for `jdk.ClassDefine` or `jdk.ClassLoad`
    /// were read.
    pub fn class_settings_seen(&self) -> bool {
        self.define.now.is_some() || self.load.now.is_some()
    }

    /// The recording had class events switched on (`jdk.ClassDefine` or
    /// `jdk.ClassLoad`), or has some.
    pub fn class_events_enabled(&self) -> bool {
        self.define.ever || self.load.ever || self.seq > 0
    }

    /// The records of one JFR record, fed to `sink`.
    pub fn record<K: Sink + ?Sized>(&mut self, r: jfr::Record, sink: &mut K) {
        if self.header_written {
            return self.convert(r, sink);
        }
        // What the header needs, and whether class definitions come as
        // ClassDefine, is known once the chunk's start has been read.
        let release = match &r {
            jfr::Record::JvmInformation(_) => true,
            jfr::Record::Chunk(_) => self.chunks >= 1,
            _ => self.held.len() >= HOLD_CAP,
        };
        self.note(&r);
        self.held.push(r);
        if release {
            self.release(sink);
        }
    }

    /// The end of the recording: what was held back, the last GC ends, and
    /// the summary when the recording is `intact` (not cut or damaged).
    pub fn finish<K: Sink + ?Sized>(&mut self, sink: &mut K, intact: bool) {
        if !self.header_written {
            self.release(sink);
        }
        while let Some(Reverse(t_ns)) = self.gc_finishes.pop() {
            self.feed(sink, Record::GcFinish(GcBoundary { t_ns }));
        }
        if intact {
            let t_ns = self.last_t_ns.max(self.chunks_end_ns);
            let start_ms = self.start_wall_ms();
            let summary = Summary {
                classes_loaded: self.seq,
                seen: self.seq,
                captured: self.seq,
                dropped: 0,
                stack_errors: self.without_stack,
                events_dropped: 0,
                t_ns,
                end_wall_ms: start_ms + t_ns / 1_000_000,
                reason: JFR_COMPLETE.to_string(),
                capture_disabled: None,
                classes_not_dumped: 0,
                cost: None,
            };
            self.feed(sink, Record::Summary(summary));
        }
    }

    /// What a record says about the recording, while held.
    fn note(&mut self, r: &jfr::Record) {
        match r {
            jfr::Record::Chunk(c) => {
                self.chunks += 1;
                if self.first_chunk.is_none() {
                    self.first_chunk = Some(c.clone());
                }
            }
            jfr::Record::Flag(f) if &*f.name == "MaxMetaspaceSize" => {
                // The JVM's "unlimited" is the largest size it can express.
                self.max_metaspace = match f.value {
                    jfr::FlagValue::Unsigned(v) if v < u64::MAX / 2 => Some(v),
                    jfr::FlagValue::Int(v) if v > 0 && v < i64::MAX / 2 => Some(v as u64),
                    _ => None,
                };
            }
            jfr::Record::JvmInformation(j) if self.jvm.is_none() => {
                self.jvm = Some(j.clone());
            }
            jfr::Record::Setting(s) if &*s.name == "enabled" => match &*s.event_type {
                "jdk.ClassDefine" => self.define.set(s.value.as_deref()),
                "jdk.ClassLoad" => self.load.set(s.value.as_deref()),
                _ => {}
            },
            jfr::Record::ClassDefine(_) => self.defines_seen = true,
            _ => {}
        }
    }

    /// Writes the header, then the records held back.
    fn release<K: Sink + ?Sized>(&mut self, sink: &mut K) {
        self.header_written = true;
        let header = self.header();
        self.feed(sink, Record::Header(header));
        for r in std::mem::take(&mut self.held) {
            self.convert_noted(r, sink);
        }
    }

    fn header(&self) -> Header {
        let jvm = self.jvm.as_ref();
        let text = |s: Option<&Arc<str>>| s.map(|s| s.to_string());
        let depth = jvm
            .and_then(|j| j.jvm_arguments.as_deref())
            .and_then(stack_depth)
            .unwrap_or(JFR_DEFAULT_STACK_DEPTH);
        Header {
            schema: SCHEMA_VERSION,
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            pid: jvm.and_then(|j| u32::try_from(j.pid).ok()).unwrap_or(0),
            java_version: jvm
                .and_then(|j| j.jvm_version.as_deref())
                .and_then(java_version)
                .unwrap_or_else(|| "unknown".to_string()),
            java_vm_name: text(jvm.and_then(|j| j.jvm_name.as_ref()))
                .unwrap_or_else(|| "unknown".to_string()),
            start_wall_ms: self.start_wall_ms(),
            options: AgentOptions {
                out: self.shown.clone(),
                depth,
                mode: CaptureMode::All,
                include: Vec::new(),
                queue: 0,
            },
            attached: false,
            java_command: text(jvm.and_then(|j| j.java_arguments.as_ref())),
            converted_from: Some(ConvertedFrom::Jfr),
        }
    }

    fn start_wall_ms(&self) -> u64 {
        self.first_chunk
            .as_ref()
            .map_or(0, |c| (c.wall_ns.max(0) / 1_000_000) as u64)
    }

    fn convert<K: Sink + ?Sized>(&mut self, r: jfr::Record, sink: &mut K) {
        self.note(&r);
        self.convert_noted(r, sink);
    }

    /// Feeds the records of `r`, already [`Self::note`]d.
    fn convert_noted<K: Sink + ?Sized>(&mut self, r: jfr::Record, sink: &mut K) {
        let t_ns = r.t_ns();
        if !matches!(r, jfr::Record::Stack(_) | jfr::Record::Chunk(_)) {
            self.before(sink, t_ns);
        }
        match r {
            jfr::Record::Chunk(c) => {
                let end = c.t_ns.saturating_add(c.duration_ns.max(0) as u64);
                self.chunks_end_ns = self.chunks_end_ns.max(end);
            }
            jfr::Record::Stack(s) => {
                let frames = s.frames.iter().map(frame).collect();
                let stack = StackTrace { id: s.id, frames };
                self.feed(sink, Record::Stack(stack));
            }
            jfr::Record::ClassDefine(e) => {
                let class = Defined::of(&e.class, e.thread.as_deref(), e.t_ns, e.wall_ns, e.stack);
                self.class(sink, &class);
            }
            jfr::Record::ClassLoad(e) => {
                let initiating = e.initiating_loader.as_ref();
                if self.load_defines(e.class.hidden, &e.class.loader, initiating) {
                    let class =
                        Defined::of(&e.class, e.thread.as_deref(), e.t_ns, e.wall_ns, e.stack);
                    self.class(sink, &class);
                }
            }
            jfr::Record::ClassUnload(u) => {
                self.unload(sink, &u.class.name, &u.class.loader, u.t_ns)
            }
            jfr::Record::GarbageCollection(g) => {
                self.feed(sink, Record::GcStart(GcBoundary { t_ns: g.t_ns }));
                let end = g.t_ns.saturating_add(g.duration_ns.max(0) as u64);
                self.gc_finishes.push(Reverse(end));
            }
            jfr::Record::MetaspaceSummary(m) => {
                // Before and after each GC: both are samples of the same
                // figures the agent samples.
                let class_space = m.class_space.reserved > 0;
                let sample = MetaspaceSample {
                    t_ns: m.t_ns,
                    used: m.metaspace.used,
                    committed: m.metaspace.committed,
                    class_used: class_space.then_some(m.class_space.used),
                    class_committed: class_space.then_some(m.class_space.committed),
                    max: self.max_metaspace,
                    class_max: class_space.then_some(m.class_space.reserved),
                    gc_threshold: Some(m.gc_threshold),
                };
                self.feed(sink, Record::Metaspace(sample));
            }
            jfr::Record::ClassLoaderStatistics(s) => {
                let statistics = LoaderStatistics {
                    t_ns: s.t_ns,
                    loader: s.loader.as_ref().map_or_else(bootstrap, loader_ref),
                    classes: s.class_count,
                    hidden_classes: s.hidden_class_count,
                    metaspace_used: s.block_size.saturating_add(s.hidden_block_size),
                    metaspace_committed: s.chunk_size.saturating_add(s.hidden_chunk_size),
                };
                self.feed(sink, Record::LoaderStatistics(statistics));
            }
            jfr::Record::MetaspaceOom(o) => {
                // `Class`: the compressed class space ran out.
                let description = match o.metadata_type.as_deref() {
                    Some("Class") => "Compressed class space",
                    _ => "Metaspace",
                };
                let exhausted = ResourceExhausted {
                    description: description.to_string(),
                    flags: vec!["oom_error".to_string()],
                    thread: o.thread.as_deref().unwrap_or("").to_string(),
                    t_ns: o.t_ns,
                    wall_ms: wall_ms(o.wall_ns),
                    after_seq: self.seq,
                };
                self.feed(sink, Record::ResourceExhausted(exhausted));
            }
            jfr::Record::MetaspaceGcThreshold(_)
            | jfr::Record::JvmInformation(_)
            | jfr::Record::Flag(_)
            | jfr::Record::Setting(_) => {}
        }
    }

    /// Whether a `jdk.ClassLoad` stands for a definition: hidden classes
    /// have no ClassDefine; without ClassDefine events, the load by the
    /// defining loader stands in.
    fn load_defines(
        &self,
        hidden: bool,
        loader: &jfr::Loader,
        initiating: Option<&jfr::Loader>,
    ) -> bool {
        let by_definer = initiating.is_none_or(|l| l.id == loader.id);
        let defines = self.defines_seen || self.define.now == Some(true);
        hidden || (!defines && by_definer)
    }

    /// One item of the reader: a class event borrowed (once the header is
    /// out: the hot path, nothing copied), anything else as its record.
    pub fn event<K: Sink + ?Sized>(&mut self, event: jfr::Event<'_>, sink: &mut K) {
        match event {
            jfr::Event::Class(e) if self.header_written => self.class_event(&e, sink),
            other => self.record(other.into_record(), sink),
        }
    }

    /// [`Self::convert`] of a borrowed class event.
    fn class_event<K: Sink + ?Sized>(&mut self, e: &jfr::ClassEventRef<'_>, sink: &mut K) {
        let class = &e.class;
        if e.kind == jfr::ClassEventKind::Define {
            self.defines_seen = true;
        }
        self.before(sink, e.t_ns);
        let defined = match e.kind {
            jfr::ClassEventKind::Define => true,
            jfr::ClassEventKind::Load => {
                self.load_defines(class.hidden, class.loader, e.initiating_loader)
            }
            jfr::ClassEventKind::Unload => {
                return self.unload(sink, class.name, class.loader, e.t_ns);
            }
        };
        if defined {
            let class = Defined {
                name: class.name,
                loader: class.loader,
                hidden: class.hidden,
                thread: e.thread.map(|t| &**t),
                t_ns: e.t_ns,
                wall_ns: e.wall_ns,
                stack: e.stack,
            };
            self.class(sink, &class);
        }
    }

    /// Before a record at `t_ns`: the ends of GCs that came before it.
    fn before<K: Sink + ?Sized>(&mut self, sink: &mut K, t_ns: u64) {
        self.last_t_ns = self.last_t_ns.max(t_ns);
        while let Some(&Reverse(end)) = self.gc_finishes.peek() {
            if end > t_ns {
                break;
            }
            self.gc_finishes.pop();
            self.feed(sink, Record::GcFinish(GcBoundary { t_ns: end }));
        }
    }

    fn feed<K: Sink + ?Sized>(&mut self, sink: &mut K, record: Record) {
        self.fed += 1;
        sink.item(Item::Record(record), self.fed);
    }

    /// A class definition: classified, numbered, remembered for its
    /// unload, fed borrowed.
    fn class<K: Sink + ?Sized>(&mut self, sink: &mut K, d: &Defined<'_>) {
        let loader = d.loader;
        let name_hash = self.hasher.hash_one(d.name);
        let kind = self.kind(d, name_hash);
        self.seq += 1;
        if d.stack == NO_STACK {
            self.without_stack += 1;
        }
        // The bootstrap loader never goes away: only its hidden classes
        // unload.
        if (d.hidden || !loader.is_bootstrap()) && self.live.len() < LIVE_CAP {
            let live = Live {
                seq: self.seq,
                stack: d.stack,
                kind,
                hidden: d.hidden,
            };
            self.live.insert(loader.id, name_hash, live);
        }
        let view = ClassView {
            seq: self.seq,
            name: d.name,
            kind,
            loader_id: loader.id,
            loader_type: &loader.type_name,
            hidden: d.hidden,
            thread: d.thread.unwrap_or(""),
            t_ns: d.t_ns,
            wall_ms: wall_ms(d.wall_ns),
            event: ClassEvent::Load,
            stack: d.stack,
            target: None,
            fingerprint: None,
        };
        self.fed += 1;
        sink.item(Item::Class(view), self.fed);
    }

    /// The kind of a class from its name and loader (see the module docs).
    fn kind(&mut self, class: &Defined<'_>, name_hash: u64) -> ClassKind {
        names::internal_name_into(class.name, class.hidden, &mut self.internal);
        if let Some(kind) = names::kind_by_name(&self.internal) {
            return kind;
        }
        if class.hidden {
            return ClassKind::Hidden;
        }
        let loader = class.loader;
        // A loader's type is its own: asked once for a run of its classes.
        let dynamic = match self.last_loader_dynamic {
            Some((id, dynamic)) if id == loader.id => dynamic,
            _ => {
                let dynamic = names::is_dynamic_loader_type(&loader.type_name);
                self.last_loader_dynamic = Some((loader.id, dynamic));
                dynamic
            }
        };
        if dynamic {
            return ClassKind::DynamicLoader;
        }
        match self.first_loader.get(&name_hash) {
            Some(&first) if first != loader.id => ClassKind::Reloaded,
            Some(_) => ClassKind::Ordinary,
            None => {
                if self.first_loader.len() < NAMES_CAP {
                    self.first_loader.insert(name_hash, loader.id);
                }
                ClassKind::Ordinary
            }
        }
    }

    fn unload<K: Sink + ?Sized>(
        &mut self,
        sink: &mut K,
        name: &str,
        loader: &jfr::Loader,
        t_ns: u64,
    ) {
        let name_hash = self.hasher.hash_one(name);
        // Classes defined before the recording started are not known.
        let key = (loader.id, name_hash);
        let Some(Unloaded {
            class,
            loader_emptied,
        }) = self.live.remove(&key)
        else {
            return;
        };
        let unload = ClassUnloaded {
            seq: class.seq,
            kind: class.kind,
            loader: loader_ref(loader),
            stack: class.stack,
            target: None,
            fingerprint: None,
            name: Some(name.to_string()),
            t_ns,
        };
        self.feed(sink, Record::ClassUnload(unload));
        // A class unloads with its loader: the loader is gone with its last.
        if loader_emptied {
            let gone = LoaderUnloaded {
                loader: loader_ref(loader),
                t_ns,
            };
            self.feed(sink, Record::LoaderUnload(gone));
        }
    }
}

/// What a class definition says, from a ClassDefine or a ClassLoad.
struct Defined<'a> {
    name: &'a str,
    loader: &'a jfr::Loader,
    hidden: bool,
    thread: Option<&'a str>,
    t_ns: u64,
    wall_ns: i64,
    stack: u64,
}

impl<'a> Defined<'a> {
    /// A definition from an owned class record's fields.
    fn of(
        class: &'a jfr::Class,
        thread: Option<&'a str>,
        t_ns: u64,
        wall_ns: i64,
        stack: u64,
    ) -> Self {
        Defined {
            name: &class.name,
            loader: &class.loader,
            hidden: class.hidden,
            thread,
            t_ns,
            wall_ns,
            stack,
        }
    }
}

fn wall_ms(wall_ns: i64) -> u64 {
    (wall_ns.max(0) / 1_000_000) as u64
}

fn loader_ref(l: &jfr::Loader) -> LoaderRef {
    LoaderRef {
        id: l.id,
        type_name: l.type_name.to_string(),
    }
}

fn bootstrap() -> LoaderRef {
    LoaderRef {
        id: BOOTSTRAP_LOADER_ID,
        type_name: "bootstrap".to_string(),
    }
}

/// A JFR frame as the agent writes one; JFR has no source file names and
/// no code sources. Its bytecode index and how it ran (interpreted,
/// compiled, inlined) have no place in the event stream.
fn frame(f: &jfr::Frame) -> Frame {
    Frame {
        class: f.class.to_string(),
        method: f.method.to_string(),
        sig: f.descriptor.to_string(),
        line: f.line,
        file: None,
        native: f.native(),
        source: None,
    }
}

/// `java.version` from JFR's `jvmVersion`: `OpenJDK 64-Bit Server VM
/// (17.0.15+6-Debian-1deb12u1) for linux-amd64 JRE (17.0.15+6-Debian-1deb12u1),
/// built on ...` gives `17.0.15` (the JRE's version without its build).
pub fn java_version(jvm_version: &str) -> Option<String> {
    let from = jvm_version
        .find("JRE (")
        .map(|i| i + "JRE (".len())
        .or_else(|| jvm_version.find('(').map(|i| i + 1))?;
    let rest = &jvm_version[from..];
    let version = rest.split([')', '+', ' ']).next()?;
    let starts_with_digit = version.bytes().next().is_some_and(|b| b.is_ascii_digit());
    starts_with_digit.then(|| version.to_string())
}

/// JFR's stack depth from the JVM's arguments
/// (`-XX:FlightRecorderOptions:stackdepth=128`), when set there.
pub fn stack_depth(jvm_arguments: &str) -> Option<u32> {
    let at = jvm_arguments.rfind("stackdepth=")? + "stackdepth=".len();
    let digits: String = jvm_arguments[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(seq: u64, hidden: bool) -> Live {
        Live {
            seq,
            stack: 1,
            kind: ClassKind::Ordinary,
            hidden,
        }
    }

    #[test]
    fn a_run_per_class_costs_what_a_class_did_alone() {
        assert_eq!(std::mem::size_of::<Run>() + std::mem::size_of::<u64>(), 40);
    }

    /// The live classes answer as a map by (loader, name) would, whether
    /// a class was appended before or after the first unload built the
    /// index, and count each loader's classes once.
    #[test]
    fn live_classes_behave_as_a_map_indexed_at_the_first_unload() {
        let mut classes = LiveClasses::default();
        for ((loader, name), seq) in [((7, 1), 1), ((7, 2), 2), ((7, 1), 3), ((8, 1), 4)] {
            classes.insert(loader, name, live(seq, false));
        }
        // The same name in the same loader twice: the last one counts.
        let first = classes.remove(&(7, 1)).unwrap();
        assert_eq!(first.class.seq, 3);
        assert!(!first.loader_emptied, "loader 7 still has (7, 2)");
        assert!(classes.remove(&(7, 1)).is_none());
        assert_eq!(classes.len(), 2);
        // Indexed now: a redefinition replaces at once.
        classes.insert(7, 5, live(5, false));
        classes.insert(7, 5, live(6, true));
        assert_eq!(classes.len(), 3);
        let again = classes.remove(&(7, 5)).unwrap();
        assert_eq!(again.class.seq, 6);
        assert!(!again.loader_emptied, "a hidden class unloads alone");
        let other = classes.remove(&(8, 1)).unwrap();
        assert_eq!((other.class.seq, other.loader_emptied), (4, true));
        let last = classes.remove(&(7, 2)).unwrap();
        assert_eq!((last.class.seq, last.loader_emptied), (2, true));
        assert_eq!(classes.len(), 0);
    }

    proptest::proptest! {
        /// Definitions and unloads in any order (few loaders, names and
        /// stacks, so runs form and break and names repeat) answer as a
        /// map by (loader, name) and a count per loader would.
        #[test]
        fn live_classes_answer_as_a_map_would(
            ops in proptest::collection::vec(
                (proptest::bool::ANY, 0u64..3, 0u64..40, 0u64..3, proptest::bool::ANY),
                0..3000,
            )
        ) {
            let mut classes = LiveClasses::default();
            let mut model: std::collections::HashMap<(u64, u64), Live> = Default::default();
            let mut seq = 0;
            for (define, loader, name, stack, hidden) in ops {
                if define {
                    // Runs of one loader and stack with seqs that follow.
                    seq += 1 + u64::from(name % 7 == 0);
                    let kind = if hidden { ClassKind::Hidden } else { ClassKind::Ordinary };
                    let class = Live { seq, stack, kind, hidden };
                    classes.insert(loader, name, class);
                    model.insert((loader, name), class);
                } else {
                    let expected = model.remove(&(loader, name));
                    let got = classes.remove(&(loader, name));
                    proptest::prop_assert_eq!(
                        got.as_ref().map(|u| (u.class.seq, u.class.stack, u.class.kind, u.class.hidden)),
                        expected.map(|c| (c.seq, c.stack, c.kind, c.hidden))
                    );
                    if let (Some(u), Some(c)) = (got, expected) {
                        let others = model.iter().any(|(&(l, _), o)| l == loader && !o.hidden);
                        proptest::prop_assert_eq!(u.loader_emptied, !c.hidden && !others);
                    }
                }
                proptest::prop_assert!(classes.index.is_none() || classes.len() == model.len());
            }
        }
    }

    #[test]
    fn unloaded_classes_are_dropped_from_memory_once_most_are_gone() {
        let mut classes = LiveClasses::default();
        for n in 0..4000 {
            classes.insert(1, n, live(n + 1, false));
        }
        for n in 0..3000 {
            let seq = classes.remove(&(1, n)).map(|u| u.class.seq);
            assert_eq!(seq, Some(n + 1));
        }
        assert!(classes.names.len() < 4000);
        for n in 3000..4000 {
            let gone = classes.remove(&(1, n)).unwrap();
            assert_eq!(gone.class.seq, n + 1);
            assert_eq!(gone.loader_emptied, n == 3999);
        }
        assert_eq!(classes.len(), 0);
    }

    #[test]
    fn java_versions_from_jfr_vm_versions() {
        let cases = [
            (
                "OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1) for linux-amd64 JRE \
                 (17.0.15+6-Debian-1deb12u1), built on May  1 2025 09:21:09 by \"buildd\"",
                Some("17.0.15"),
            ),
            (
                "OpenJDK 64-Bit Server VM (11.0.13+8) for linux-amd64 JRE (11.0.13+8), built on",
                Some("11.0.13"),
            ),
            (
                "OpenJDK 64-Bit Server VM (25-ea+3) for linux-amd64 JRE (25-ea+3)",
                Some("25-ea"),
            ),
            ("something else", None),
        ];
        for (text, version) in cases {
            assert_eq!(java_version(text).as_deref(), version, "{text}");
        }
    }

    #[test]
    fn stack_depths_from_jvm_arguments() {
        assert_eq!(
            stack_depth("-Xmx64m -XX:FlightRecorderOptions:stackdepth=128 -XX:+UseG1GC"),
            Some(128)
        );
        assert_eq!(stack_depth("-Xmx64m"), None);
    }
}
