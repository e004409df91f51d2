//! The typed records the reader yields.
//!
//! They follow the agent's records in `metascope-events` where the two
//! overlap, so the CLI maps them field for field:
//!
//! | here | agent (`metascope_events`) |
//! |---|---|
//! | [`Record::Stack`] ([`Stack`]) | `Record::Stack` (`StackTrace`): `id`, innermost frame first |
//! | [`Frame`] `class`, `method`, `descriptor`, `line`, `native()` | `Frame` `class`, `method`, `sig`, `line`, `native` (JFR has no source file name) |
//! | [`Record::ClassDefine`], [`Record::ClassLoad`] | `Record::Class` (`ClassDefined`) `name`, `loader`, `hidden`, `thread`, `t_ns`, `wall_ms` (= `wall_ns / 1e6`), `stack` |
//! | [`Loader`] `id`, `type_name` | `LoaderRef` `id`, `type` (bootstrap: id [`BOOTSTRAP_LOADER_ID`], type `bootstrap`) |
//! | [`Record::ClassUnload`] | `Record::ClassUnload` (matched to its definition by name and loader) |
//! | [`Record::GarbageCollection`] | `Record::GcStart` at `t_ns`, `Record::GcFinish` at `t_ns + duration_ns` |
//! | [`Record::MetaspaceOom`] | `Record::ResourceExhausted` with description `Metaspace` |
//!
//! The agent's `seq`, `kind`, `target` and `fingerprint` have no JFR
//! counterpart: sequence numbers are the CLI's to assign, kinds come from
//! names and loaders, and targets and fingerprints need the class bytes.
//!
//! Times: `wall_ns` is nanoseconds since the Unix epoch; `t_ns` is
//! nanoseconds since the start of the recording's first chunk, like the
//! agent's monotonic `t_ns`.

use std::sync::Arc;

/// Loader id of the bootstrap loader (the agent's `BOOTSTRAP_LOADER_ID`).
pub const BOOTSTRAP_LOADER_ID: u64 = 0;

/// Stack id meaning "no stack": the event was recorded without one
/// (`stackTrace` disabled) or its stack was not in the recording.
pub const NO_STACK: u64 = 0;

/// One item of the stream.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A chunk begins. Chunks split a recording (by default every 12 MB or
    /// when a dump is taken); each restates its metadata and constants.
    Chunk(ChunkInfo),
    /// A distinct stack, yielded once, before the first record that uses it.
    Stack(Stack),
    /// `jdk.ClassDefine`: a class loader defined a class.
    ClassDefine(ClassDefine),
    /// `jdk.ClassLoad`: a class was loaded (JDK 25 reports LambdaForm
    /// and other hidden classes with this event only).
    ClassLoad(ClassLoad),
    /// `jdk.ClassUnload`.
    ClassUnload(ClassUnload),
    /// `jdk.GarbageCollection`: one collection with its start and duration.
    GarbageCollection(GarbageCollection),
    /// `jdk.MetaspaceSummary`: Metaspace sizes before or after a GC.
    MetaspaceSummary(MetaspaceSummary),
    /// `jdk.MetaspaceGCThreshold`: the high-water mark that triggers a GC
    /// for Metaspace changed.
    MetaspaceGcThreshold(MetaspaceGcThreshold),
    /// `jdk.MetaspaceOOM`: a Metaspace allocation failed for good
    /// (`OutOfMemoryError: Metaspace` or `Compressed class space`).
    MetaspaceOom(MetaspaceOom),
    /// `jdk.ClassLoaderStatistics`: one line of the per-loader table
    /// (written at every chunk start and end by the default settings).
    ClassLoaderStatistics(ClassLoaderStatistics),
    /// `jdk.JVMInformation`.
    JvmInformation(JvmInformation),
    /// `jdk.*Flag`: a JVM flag's value, e.g. `MaxMetaspaceSize`.
    Flag(Flag),
    /// `jdk.ActiveSetting` for one of the event types this reader yields:
    /// tells whether class events were enabled and with stacks.
    Setting(Setting),
}

impl Record {
    /// The event's start, nanoseconds since the recording started (0 for
    /// records that are not events).
    pub fn t_ns(&self) -> u64 {
        match self {
            Record::Chunk(c) => c.t_ns,
            Record::Stack(_) => 0,
            Record::ClassDefine(e) => e.t_ns,
            Record::ClassLoad(e) => e.t_ns,
            Record::ClassUnload(e) => e.t_ns,
            Record::GarbageCollection(e) => e.t_ns,
            Record::MetaspaceSummary(e) => e.t_ns,
            Record::MetaspaceGcThreshold(e) => e.t_ns,
            Record::MetaspaceOom(e) => e.t_ns,
            Record::ClassLoaderStatistics(e) => e.t_ns,
            Record::JvmInformation(e) => e.t_ns,
            Record::Flag(e) => e.t_ns,
            Record::Setting(e) => e.t_ns,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChunkInfo {
    /// 0-based.
    pub index: u32,
    /// Byte offset of the chunk in the file.
    pub offset: u64,
    /// Size from the header (may exceed what the file holds when cut).
    pub size: u64,
    /// File format version, e.g. (2, 0) for JDK 11, (2, 1) for JDK 17+.
    pub version: (u16, u16),
    pub wall_ns: i64,
    pub t_ns: u64,
    pub duration_ns: i64,
    /// The JVM had not finished writing the chunk, or the file ends inside
    /// it: its events were recovered by scanning (see [`crate::Damage`]).
    pub incomplete: bool,
}

/// A class loader instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Loader {
    /// Stable per loader instance for the whole recording (the JVM's trace
    /// id of its class-loader data, the key of JFR's constant pool);
    /// [`BOOTSTRAP_LOADER_ID`] for the bootstrap loader.
    pub id: u64,
    /// Binary name of the loader's class, or `bootstrap`.
    pub type_name: Arc<str>,
    /// The name given to the loader (`app`, `platform`, an OSGi bundle...).
    pub name: Option<Arc<str>>,
}

impl Loader {
    pub fn is_bootstrap(&self) -> bool {
        self.id == BOOTSTRAP_LOADER_ID
    }
}

/// A class as JFR names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Class {
    /// Binary name as `Class.getName()` prints it: `com.acme.Foo$Bar`;
    /// hidden classes keep their suffix, `com.acme.Foo$$Lambda/0x...`
    /// (JDK 15+) or `com.acme.Foo$$Lambda$14/1234` (JDK 11 anonymous
    /// classes); arrays as `[Ljava.lang.String;`.
    pub name: Arc<str>,
    /// Its defining loader.
    pub loader: Loader,
    /// A hidden (JDK 15+) or VM-anonymous (JDK 11) class.
    pub hidden: bool,
}

/// How a frame was executing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FrameType {
    Interpreted,
    JitCompiled,
    Inlined,
    Native,
    /// A description this reader does not know, as written.
    Other(Arc<str>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Binary name of the declaring class.
    pub class: Arc<str>,
    pub method: Arc<str>,
    /// JVM method descriptor, e.g. `(Ljava/lang/Object;)V`.
    pub descriptor: Arc<str>,
    /// Source line; `None` for native frames or without a line table.
    pub line: Option<u32>,
    pub bytecode_index: Option<u32>,
    pub frame_type: FrameType,
}

impl Frame {
    pub fn native(&self) -> bool {
        self.frame_type == FrameType::Native
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// Referenced by the records' `stack`; never [`NO_STACK`]. The same
    /// frames in any chunk get the same id.
    pub id: u64,
    /// Innermost frame (the define point) first.
    pub frames: Vec<Frame>,
    /// JFR kept only the innermost `stackdepth` frames (64 by default).
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassDefine {
    pub t_ns: u64,
    pub wall_ns: i64,
    pub class: Class,
    pub defining_loader: Loader,
    /// Java name of the thread (or its OS name when it has none).
    pub thread: Option<Arc<str>>,
    /// Id of a [`Stack`] yielded earlier, or [`NO_STACK`].
    pub stack: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassLoad {
    pub t_ns: u64,
    pub wall_ns: i64,
    /// How long loading took.
    pub duration_ns: i64,
    pub class: Class,
    /// `None` when JFR wrote no loader (JDK 25 does so for hidden
    /// LambdaForm classes); the class's own loader is in `class.loader`.
    pub defining_loader: Option<Loader>,
    pub initiating_loader: Option<Loader>,
    pub thread: Option<Arc<str>>,
    pub stack: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassUnload {
    pub t_ns: u64,
    pub wall_ns: i64,
    pub class: Class,
    pub defining_loader: Loader,
}

/// Which class event a [`ClassEventRef`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassEventKind {
    /// `jdk.ClassDefine`.
    Define,
    /// `jdk.ClassLoad`.
    Load,
    /// `jdk.ClassUnload`.
    Unload,
}

/// A [`Class`] borrowed from the reader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassRef<'a> {
    /// As [`Class::name`].
    pub name: &'a str,
    pub loader: &'a Loader,
    pub hidden: bool,
}

impl ClassRef<'_> {
    pub fn to_class(&self) -> Class {
        Class {
            name: Arc::from(self.name),
            loader: self.loader.clone(),
            hidden: self.hidden,
        }
    }
}

/// A class event borrowed from the reader until its next record
/// ([`crate::JfrReader::next_event`]): a recording's classes are mostly
/// distinct, so their names are lent, not copied per event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassEventRef<'a> {
    pub kind: ClassEventKind,
    pub t_ns: u64,
    pub wall_ns: i64,
    /// How long loading took ([`ClassEventKind::Load`]; else 0).
    pub duration_ns: i64,
    pub class: ClassRef<'a>,
    /// As in [`ClassDefine`], [`ClassLoad`], [`ClassUnload`]: `None` only
    /// for a load without one.
    pub defining_loader: Option<&'a Loader>,
    /// [`ClassEventKind::Load`] only.
    pub initiating_loader: Option<&'a Loader>,
    /// Not for [`ClassEventKind::Unload`].
    pub thread: Option<&'a Arc<str>>,
    /// [`NO_STACK`] for [`ClassEventKind::Unload`].
    pub stack: u64,
}

impl ClassEventRef<'_> {
    /// The owned record.
    pub fn to_record(&self) -> Record {
        let class = self.class.to_class();
        let defining_loader = || self.defining_loader.unwrap_or(self.class.loader).clone();
        match self.kind {
            ClassEventKind::Define => Record::ClassDefine(ClassDefine {
                t_ns: self.t_ns,
                wall_ns: self.wall_ns,
                defining_loader: defining_loader(),
                class,
                thread: self.thread.cloned(),
                stack: self.stack,
            }),
            ClassEventKind::Load => Record::ClassLoad(ClassLoad {
                t_ns: self.t_ns,
                wall_ns: self.wall_ns,
                duration_ns: self.duration_ns,
                class,
                defining_loader: self.defining_loader.cloned(),
                initiating_loader: self.initiating_loader.cloned(),
                thread: self.thread.cloned(),
                stack: self.stack,
            }),
            ClassEventKind::Unload => Record::ClassUnload(ClassUnload {
                t_ns: self.t_ns,
                wall_ns: self.wall_ns,
                defining_loader: defining_loader(),
                class,
            }),
        }
    }
}

/// One item of the stream as [`crate::JfrReader::next_event`] yields it:
/// class events borrowed, the rest owned (boxed: a record is large, and
/// every event is moved on its way out, most of them class events).
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    Class(ClassEventRef<'a>),
    Record(Box<Record>),
}

impl Event<'_> {
    pub fn into_record(self) -> Record {
        match self {
            Event::Class(c) => c.to_record(),
            Event::Record(r) => *r,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GarbageCollection {
    /// The JVM's GC id, as in [`MetaspaceSummary::gc_id`].
    pub gc_id: u64,
    /// Collector, e.g. `G1New`, `G1Old`, `ParallelOld`, `ZGC`.
    pub name: Option<Arc<str>>,
    /// e.g. `System.gc()`, `Metadata GC Threshold`, `G1 Evacuation Pause`.
    pub cause: Option<Arc<str>>,
    /// Start of the collection.
    pub t_ns: u64,
    pub wall_ns: i64,
    pub duration_ns: i64,
    pub sum_of_pauses_ns: i64,
    pub longest_pause_ns: i64,
}

/// Reserved, committed and used bytes of one Metaspace area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaspaceSizes {
    pub reserved: u64,
    pub committed: u64,
    pub used: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetaspaceSummary {
    pub t_ns: u64,
    pub wall_ns: i64,
    pub gc_id: u64,
    /// `Before GC` or `After GC`.
    pub when: Option<Arc<str>>,
    pub gc_threshold: u64,
    /// Both areas together.
    pub metaspace: MetaspaceSizes,
    /// Non-class metadata.
    pub data_space: MetaspaceSizes,
    /// Compressed class space (zero without compressed class pointers).
    pub class_space: MetaspaceSizes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetaspaceGcThreshold {
    pub t_ns: u64,
    pub wall_ns: i64,
    pub old_value: u64,
    pub new_value: u64,
    /// What changed it, e.g. `compute_new_size`, `expand_and_allocate`.
    pub updater: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MetaspaceOom {
    pub t_ns: u64,
    pub wall_ns: i64,
    /// The loader whose allocation failed.
    pub loader: Option<Loader>,
    /// The allocation was for a hidden / anonymous class's loader data.
    pub hidden_class_loader: bool,
    pub size: u64,
    /// `Metadata` or `Class` (compressed class space).
    pub metadata_type: Option<Arc<str>>,
    /// What was being allocated, e.g. `Class`, `ConstantPool`, `Method`.
    pub object_type: Option<Arc<str>>,
    pub thread: Option<Arc<str>>,
    pub stack: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassLoaderStatistics {
    pub t_ns: u64,
    pub wall_ns: i64,
    pub loader: Option<Loader>,
    pub parent_loader: Option<Loader>,
    /// Address of the loader's ClassLoaderData in the JVM.
    pub class_loader_data: u64,
    pub class_count: u64,
    /// Metaspace bytes in chunks held by the loader.
    pub chunk_size: u64,
    /// Metaspace bytes in blocks actually used.
    pub block_size: u64,
    /// Hidden classes (JDK 15+) or VM-anonymous classes (JDK 11-14).
    pub hidden_class_count: u64,
    pub hidden_chunk_size: u64,
    pub hidden_block_size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JvmInformation {
    pub t_ns: u64,
    pub wall_ns: i64,
    pub jvm_name: Option<Arc<str>>,
    /// e.g. `OpenJDK 64-Bit Server VM (17.0.15+6-Debian-1deb12u1) for linux-amd64 JRE ...`.
    pub jvm_version: Option<Arc<str>>,
    pub jvm_arguments: Option<Arc<str>>,
    pub java_arguments: Option<Arc<str>>,
    /// Milliseconds since the epoch.
    pub jvm_start_ms: i64,
    pub pid: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    Int(i64),
    /// `jdk.UnsignedIntFlag` / `jdk.UnsignedLongFlag` (e.g. `MaxMetaspaceSize`).
    Unsigned(u64),
    Double(f64),
    Bool(bool),
    Str(Option<Arc<str>>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub t_ns: u64,
    pub name: Arc<str>,
    pub value: FlagValue,
    /// Where the value came from, e.g. `Default`, `Command line`, `Ergonomic`.
    pub origin: Option<Arc<str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub t_ns: u64,
    /// The event type the setting is for, e.g. `jdk.ClassDefine`.
    pub event_type: Arc<str>,
    /// e.g. `enabled`, `stackTrace`, `threshold`.
    pub name: Arc<str>,
    pub value: Option<Arc<str>>,
}
