//! The metascope event stream (JSON Lines), version [`SCHEMA_VERSION`].
//!
//! This crate is the one contract between the agent (which writes records)
//! and the CLI (which reads them). It holds types only; docs/events.md
//! describes every record with an example.
//!
//! Compatibility rules:
//! - A reader accepts any stream whose header carries the same major
//!   `schema` number; record types it does not know are skipped
//!   ([`Record::Unknown`]) and unknown fields are ignored, so later versions
//!   can add GC boundaries, unloads or decoded targets without breaking
//!   older CLIs.
//! - Removing or re-typing a field bumps [`SCHEMA_VERSION`].
//!
//! Everything a reader needs to know about the wire format lives here: the
//! record types ([`Record`], read with [`parse_record`]), the wire names of
//! kinds ([`ClassKind::from_wire`]) and the allocation-free view of the
//! common `class` line ([`view::ClassView`], [`view::parse_class`]).
#![deny(unsafe_code)]

use serde::{Deserialize, Serialize};

pub mod encode;
pub mod names;
pub mod status;
pub mod view;

pub use view::{parse_class, ClassView};

/// Version of the record layout described here.
pub const SCHEMA_VERSION: u32 = 1;

/// Loader id used for the bootstrap loader (a null `jobject` in JVMTI).
pub const BOOTSTRAP_LOADER_ID: u64 = 0;

/// Stack id meaning "no stack was captured" (capture failed or depth=0).
pub const NO_STACK: u64 = 0;

/// Parses one line of the stream.
///
/// The agent writes the `type` field first, so the common records are read
/// straight into their struct (an unknown `type` field is ignored there).
/// serde's generic path for internally tagged enums buffers every field
/// into an intermediate tree first, which is several times slower; it
/// remains the fallback for anything else.
pub fn parse_record(line: &[u8]) -> serde_json::Result<Record> {
    if let Some(rest) = line.strip_prefix(b"{\"type\":\"") {
        let kind = rest.iter().position(|&b| b == b'"').map(|end| &rest[..end]);
        match kind {
            Some(b"class") => return serde_json::from_slice(line).map(Record::Class),
            Some(b"stack") => return serde_json::from_slice(line).map(Record::Stack),
            Some(b"class_unload") => return serde_json::from_slice(line).map(Record::ClassUnload),
            Some(b"loader_unload") => {
                return serde_json::from_slice(line).map(Record::LoaderUnload)
            }
            Some(b"gc_start") => return serde_json::from_slice(line).map(Record::GcStart),
            Some(b"gc_finish") => return serde_json::from_slice(line).map(Record::GcFinish),
            _ => {}
        }
    }
    serde_json::from_slice(line)
}

/// One line of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// Always the first line.
    Header(Header),
    /// A distinct stack, written once before the first event that uses it.
    Stack(StackTrace),
    /// A code source, written once before the first stack that refers to it.
    CodeSource(CodeSource),
    /// A class the agent captured.
    Class(ClassDefined),
    /// Classes already loaded when the agent attached (no stacks).
    Census(Census),
    /// A captured class was unloaded.
    ClassUnload(ClassUnloaded),
    /// A class loader the agent saw was collected.
    LoaderUnload(LoaderUnloaded),
    /// A garbage collection started (a stop-the-world pause began).
    GcStart(GcBoundary),
    /// A garbage collection finished.
    GcFinish(GcBoundary),
    /// The JVM ran out of a resource (JVMTI ResourceExhausted), e.g.
    /// `OutOfMemoryError: Metaspace`.
    ResourceExhausted(ResourceExhausted),
    /// The JVM's own Metaspace figures, sampled by the writer.
    Metaspace(MetaspaceSample),
    /// The JVM's per-loader Metaspace accounting at one moment; the
    /// `stack_metaspace` and `loader_type_metaspace` lines with its id
    /// follow it.
    MetaspaceSnapshot(MetaspaceSnapshot),
    /// A snapshot's bytes held by the classes one stack defined.
    StackMetaspace(StackMetaspace),
    /// A snapshot's bytes held by loaders of one type whose classes the
    /// agent did not capture (the JDK's, the application's own).
    LoaderTypeMetaspace(LoaderTypeMetaspace),
    /// One class loader's classes and Metaspace at a moment (from JFR's
    /// `jdk.ClassLoaderStatistics`).
    LoaderStatistics(LoaderStatistics),
    /// The last line when the JVM gave the agent the chance to write it.
    Summary(Summary),
    /// A record type this reader does not know (written by a newer agent).
    #[serde(other)]
    Unknown,
}

impl Record {
    /// When the record happened (nanoseconds since the recording started),
    /// for records that carry a time.
    pub fn t_ns(&self) -> Option<u64> {
        match self {
            Record::Class(c) => Some(c.t_ns),
            Record::Census(c) => Some(c.t_ns),
            Record::ClassUnload(u) => Some(u.t_ns),
            Record::LoaderUnload(l) => Some(l.t_ns),
            Record::GcStart(g) | Record::GcFinish(g) => Some(g.t_ns),
            Record::ResourceExhausted(r) => Some(r.t_ns),
            Record::LoaderStatistics(l) => Some(l.t_ns),
            Record::Summary(s) => Some(s.t_ns),
            Record::Metaspace(m) => Some(m.t_ns),
            Record::MetaspaceSnapshot(m) => Some(m.t_ns),
            Record::Header(_)
            | Record::Stack(_)
            | Record::CodeSource(_)
            | Record::StackMetaspace(_)
            | Record::LoaderTypeMetaspace(_)
            | Record::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// [`SCHEMA_VERSION`] of the writer.
    pub schema: u32,
    pub agent_version: String,
    pub pid: u32,
    pub java_version: String,
    pub java_vm_name: String,
    /// Wall-clock start of the recording, milliseconds since the Unix epoch.
    pub start_wall_ms: u64,
    /// The agent options in force after defaults were applied.
    pub options: AgentOptions,
    /// Started by dynamic attach into a running JVM (a `census` of the
    /// classes already loaded follows), rather than at JVM start.
    #[serde(default)]
    pub attached: bool,
    /// The JVM's command (`sun.java.command`: the main class or `-jar`'s
    /// jar, then the program's arguments), which tells the application's
    /// own code source from the libraries'. Absent from older agents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub java_command: Option<String>,
    /// Set when the stream was converted from another recorder's file
    /// rather than written by the agent: what it was made from (which
    /// tells what the stream cannot hold, e.g. a JFR recording has no class
    /// bytes, so no accessor targets or fingerprints). Absent: the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_from: Option<ConvertedFrom>,
}

/// A recorder whose files metascope converts to this stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvertedFrom {
    /// A Java Flight Recorder recording (`.jfr`).
    Jfr,
    /// A recorder this reader does not know (written by a newer CLI).
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOptions {
    pub out: String,
    pub depth: u32,
    pub mode: CaptureMode,
    pub include: Vec<String>,
    pub queue: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// Capture only classes generated at run time.
    Dynamic,
    /// Capture every class.
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackTrace {
    /// Referenced by [`ClassDefined::stack`]; never [`NO_STACK`].
    pub id: u64,
    /// Innermost frame (the define point) first.
    pub frames: Vec<Frame>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Binary name of the declaring class, e.g. `com.acme.OrderService`.
    pub class: String,
    pub method: String,
    /// JVM method descriptor, e.g. `(Ljava/lang/Object;)V`.
    pub sig: String,
    /// Source line, absent for native frames or classes without line tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Source file name from the class file, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A native method (no bytecode, so no line). Absent means false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub native: bool,
    /// Where the frame's class was loaded from: the id of a `code_source`
    /// record written before the first stack that uses it. Absent when
    /// unknown (the bootstrap loader's classes, a class without a
    /// protection domain, an older agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<u32>,
}

/// A place classes are loaded from, named once and referred to by id
/// from frames ([`Frame::source`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeSource {
    pub id: u32,
    /// The code source's location URL as the JVM has it, e.g.
    /// `file:/app/lib/acme-rules-3.2.jar`, `file:/app/classes/`,
    /// `jar:nested:/app.jar/!BOOT-INF/lib/y.jar!/`.
    pub location: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why the agent captured a class. Decided by the agent's classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassKind {
    /// `GeneratedMethodAccessorN` and friends (reflection inflation).
    ReflectionAccessor,
    /// `java.lang.reflect.Proxy` classes (`$ProxyN`).
    Proxy,
    /// Lambda classes (`$$Lambda`).
    Lambda,
    /// `java.lang.invoke.LambdaForm$...` classes.
    LambdaForm,
    /// Other hidden classes (`Lookup.defineHiddenClass`).
    Hidden,
    /// CGLIB-generated classes.
    Cglib,
    /// Javassist-generated classes.
    Javassist,
    /// ByteBuddy-generated classes.
    ByteBuddy,
    /// Script engine classes (Nashorn, Rhino, Groovy).
    Script,
    /// Defined by a known dynamic loader (`DelegatingClassLoader`,
    /// `*DynamicClassLoader`, Groovy and script-engine loaders).
    DynamicLoader,
    /// Defined by a non-bootstrap loader from bytes with no code-source
    /// location: generated at run time by some generator nobody listed.
    RuntimeDefined,
    /// A class whose name another loader instance had already defined: a
    /// plugin reloaded or an application redeployed in a new loader. Told
    /// from names where code sources are unknown (JFR recordings); the
    /// first copy is `ordinary`.
    Reloaded,
    /// Matched a user `include=` pattern.
    Included,
    /// An ordinary class, captured only in `mode=all`.
    Ordinary,
    /// A kind this reader does not know (written by a newer agent).
    #[serde(other)]
    Other,
}

impl ClassKind {
    pub const ALL: [ClassKind; 14] = [
        ClassKind::ReflectionAccessor,
        ClassKind::Proxy,
        ClassKind::Lambda,
        ClassKind::LambdaForm,
        ClassKind::Hidden,
        ClassKind::Cglib,
        ClassKind::Javassist,
        ClassKind::ByteBuddy,
        ClassKind::Script,
        ClassKind::DynamicLoader,
        ClassKind::RuntimeDefined,
        ClassKind::Reloaded,
        ClassKind::Included,
        ClassKind::Ordinary,
    ];

    /// The name used on the wire (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClassKind::ReflectionAccessor => "reflection_accessor",
            ClassKind::Proxy => "proxy",
            ClassKind::Lambda => "lambda",
            ClassKind::LambdaForm => "lambda_form",
            ClassKind::Hidden => "hidden",
            ClassKind::Cglib => "cglib",
            ClassKind::Javassist => "javassist",
            ClassKind::ByteBuddy => "byte_buddy",
            ClassKind::Script => "script",
            ClassKind::DynamicLoader => "dynamic_loader",
            ClassKind::RuntimeDefined => "runtime_defined",
            ClassKind::Reloaded => "reloaded",
            ClassKind::Included => "included",
            ClassKind::Ordinary => "ordinary",
            ClassKind::Other => "other",
        }
    }

    /// The kind with this wire name; anything else reads as
    /// [`ClassKind::Other`], as serde's `#[serde(other)]` does.
    pub fn from_wire(name: &str) -> ClassKind {
        match name {
            "reflection_accessor" => ClassKind::ReflectionAccessor,
            "proxy" => ClassKind::Proxy,
            "lambda" => ClassKind::Lambda,
            "lambda_form" => ClassKind::LambdaForm,
            "hidden" => ClassKind::Hidden,
            "cglib" => ClassKind::Cglib,
            "javassist" => ClassKind::Javassist,
            "byte_buddy" => ClassKind::ByteBuddy,
            "script" => ClassKind::Script,
            "dynamic_loader" => ClassKind::DynamicLoader,
            "runtime_defined" => ClassKind::RuntimeDefined,
            "reloaded" => ClassKind::Reloaded,
            "included" => ClassKind::Included,
            "ordinary" => ClassKind::Ordinary,
            _ => ClassKind::Other,
        }
    }
}

/// Which JVMTI event first reported the class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassEvent {
    Load,
    Prepare,
}

impl ClassEvent {
    /// The event with this wire name (`load`, `prepare`); `None` for any
    /// other (serde rejects those too).
    pub fn from_wire(name: &str) -> Option<ClassEvent> {
        match name {
            "load" => Some(ClassEvent::Load),
            "prepare" => Some(ClassEvent::Prepare),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LoaderRef {
    /// Stable per loader instance for the life of the recording;
    /// [`BOOTSTRAP_LOADER_ID`] for the bootstrap loader.
    pub id: u64,
    /// Binary name of the loader's class, or `bootstrap`.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// One captured class definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassDefined {
    /// 1-based, in capture order.
    pub seq: u64,
    /// Binary name as `Class.getName()` prints it (hidden classes keep
    /// their `/0x...` suffix).
    pub name: String,
    pub kind: ClassKind,
    pub loader: LoaderRef,
    pub hidden: bool,
    pub thread: String,
    /// Monotonic nanoseconds since the recording started.
    pub t_ns: u64,
    /// Wall clock, milliseconds since the Unix epoch.
    pub wall_ms: u64,
    pub event: ClassEvent,
    /// Id of a [`StackTrace`] written earlier, or [`NO_STACK`].
    pub stack: u64,
    /// For reflection accessors: the member the accessor invokes, decoded
    /// from its bytes, e.g. `com.acme.Order.getId()J` or
    /// `new com.acme.OrderDto()`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For other generated classes with bytes (not hidden classes): a hash
    /// of the class file that ignores the class's own name and numeric
    /// suffixes, so identical generated code defined twice has the same
    /// fingerprint. 16 hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// The classes already loaded when the agent attached to a running JVM,
/// grouped by kind and loader type (stacks are unknown for them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Census {
    pub t_ns: u64,
    /// All loaded classes counted.
    pub classes: u64,
    /// Biggest groups first.
    pub groups: Vec<CensusGroup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CensusGroup {
    /// `ordinary` for classes that are not generated.
    pub kind: ClassKind,
    pub loader_type: String,
    pub classes: u64,
    /// Distinct loader instances in the group.
    pub loaders: u64,
    /// Metaspace bytes the group held (used, and committed to its
    /// loaders), apportioned from the JVM's per-loader figures at attach.
    /// Absent when the JVM could not be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<u64>,
}

/// The JVM's Metaspace as HotSpot accounts it (`jcmd PID VM.metaspace`),
/// in bytes. Written about every 200 ms while the figures change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaspaceSample {
    pub t_ns: u64,
    /// Bytes holding class metadata, class space and non-class space.
    pub used: u64,
    /// Bytes committed to Metaspace: what `MaxMetaspaceSize` limits.
    pub committed: u64,
    /// The compressed class space's share of `used` and `committed`
    /// (absent without compressed class pointers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_committed: Option<u64>,
    /// `MaxMetaspaceSize`; absent when unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// `CompressedClassSpaceSize`, the class space's own limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_max: Option<u64>,
    /// Committed bytes at which the next Metaspace-triggered GC happens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc_threshold: Option<u64>,
}

/// Why the writer took a per-loader snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotReason {
    /// When the agent attached: what was there before it.
    Attach,
    /// Metaspace grew by a quarter since the last snapshot.
    Growth,
    /// An OutOfMemoryError (Metaspace or class space) was being thrown.
    OutOfMemory,
    /// The recording ended.
    End,
}

/// The header of a per-loader snapshot (`VM.metaspace show-loaders
/// show-classes`): the totals at that moment. Each loader's bytes go to
/// the stacks that defined its classes (`stack_metaspace`) or, for loaders
/// without captured classes, to their type (`loader_type_metaspace`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaspaceSnapshot {
    /// Numbers the snapshot's lines; 1-based.
    pub id: u64,
    pub reason: SnapshotReason,
    pub t_ns: u64,
    /// The JVM's totals (as in a [`MetaspaceSample`]).
    pub used: u64,
    pub committed: u64,
    /// Class-loader data (a loader, or a hidden class with its own) and
    /// classes the JVM listed.
    pub loaders: u64,
    pub classes: u64,
    /// How long the JVM took to list them and the agent to read them.
    pub took_ms: u64,
    /// Set when the snapshot was not taken, with why (e.g. its listing
    /// would not fit the Java heap); no per-stack lines follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Bytes one stack's classes held at a snapshot, per kind and loader type.
/// A loader whose classes all come from this stack gives its exact figures
/// (`exclusive_*`); a loader shared with other stacks or with classes the
/// agent did not capture is apportioned by class-file size (classes
/// without one count as the mean), which makes the rest an estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackMetaspace {
    pub snapshot: u64,
    pub stack: u64,
    pub kind: ClassKind,
    pub loader_type: String,
    /// Live classes of this stack the snapshot found.
    pub classes: u64,
    /// Loaders (class-loader data) holding them.
    pub loaders: u64,
    pub used: u64,
    pub committed: u64,
    /// The part of `used` and `committed` from loaders holding nothing
    /// else: exact.
    pub exclusive_used: u64,
    pub exclusive_committed: u64,
}

/// Bytes held at a snapshot by loaders of one type none of whose classes
/// the agent captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderTypeMetaspace {
    pub snapshot: u64,
    /// The loader's class, or `bootstrap`.
    pub loader_type: String,
    /// Hidden classes with their own class-loader data (lambda forms and
    /// the like), counted apart from their host loader.
    pub hidden: bool,
    pub loaders: u64,
    pub classes: u64,
    pub used: u64,
    pub committed: u64,
}

/// A captured class was unloaded (its `java.lang.Class` was freed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassUnloaded {
    /// `seq` of the [`ClassDefined`] record.
    pub seq: u64,
    pub kind: ClassKind,
    pub loader: LoaderRef,
    /// The defining stack, as in the class record.
    pub stack: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// The class's name. Converted recordings (JFR) write it; the agent
    /// does not (its readers attribute unloads by `stack` and `loader`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When the agent learned of it (after the GC that freed it).
    pub t_ns: u64,
}

/// A class-loader instance seen by the agent was garbage collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderUnloaded {
    pub loader: LoaderRef,
    pub t_ns: u64,
}

/// A garbage collection started or finished (JVMTI
/// GarbageCollectionStart / GarbageCollectionFinish).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcBoundary {
    pub t_ns: u64,
}

/// JVMTI ResourceExhausted: the moment an `OutOfMemoryError` is thrown
/// for Metaspace, Java heap or threads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceExhausted {
    /// The JVM's own description, e.g. `Metaspace` or `Java heap space`.
    pub description: String,
    /// Which resource: `oom_error`, `java_heap`, `threads` (JVMTI flags).
    pub flags: Vec<String>,
    pub thread: String,
    pub t_ns: u64,
    pub wall_ms: u64,
    /// Classes captured before this moment (the `seq` of the last one).
    pub after_seq: u64,
}

/// One class loader instance's classes and Metaspace at a moment (JFR's
/// `jdk.ClassLoaderStatistics`, one record per live loader, taken
/// together at the same `t_ns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderStatistics {
    pub t_ns: u64,
    pub loader: LoaderRef,
    /// Classes the loader has defined and still holds (hidden ones apart).
    pub classes: u64,
    pub hidden_classes: u64,
    /// Metaspace bytes the loader's metadata uses (its own and its hidden
    /// classes').
    pub metaspace_used: u64,
    /// Metaspace bytes reserved for it (chunks).
    pub metaspace_committed: u64,
}

/// Totals written when the recording ends.
///
/// Reconciles as `captured + dropped == seen`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Distinct classes the agent looked at (every loaded class).
    pub classes_loaded: u64,
    /// Classes selected for capture by the classifier.
    pub seen: u64,
    /// Class records written to the stream.
    pub captured: u64,
    /// Selected classes lost because the queue was full (or the record
    /// could not be written).
    pub dropped: u64,
    /// Stacks that could not be captured (the class was still recorded).
    pub stack_errors: u64,
    /// GC boundaries and unload records lost because the queue was full.
    #[serde(default)]
    pub events_dropped: u64,
    pub t_ns: u64,
    pub end_wall_ms: u64,
    /// Why the recording ended, e.g. `vm_death`.
    pub reason: String,
    /// Set when the agent stopped capturing early (an internal error or an
    /// unexpected JVMTI error); classes defined after that are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_disabled: Option<String>,
    /// With `dump=DIR`: captured classes whose class file could not be
    /// written (an unwritable name, a full disk).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub classes_not_dumped: u64,
    /// What the agent itself cost this recording, as it measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<AgentCost>,
}

/// What metascope cost the JVM, measured by the agent itself: the time
/// application threads spent inside its class-event callbacks, and the
/// writer thread's CPU time. (The JVM's own cost of posting the events to
/// an agent is outside what an agent can measure.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AgentCost {
    /// Nanoseconds application threads spent in the agent's callbacks, all
    /// threads together. Estimated from a sample of the cheap callbacks
    /// (every class's decision) plus the exact time of every capture.
    pub callback_ns: u64,
    /// Callbacks the agent handled (class file hook, class load and
    /// prepare, GC and free events).
    pub callbacks: u64,
    /// CPU time (user + system) of the writer thread.
    pub writer_cpu_ns: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_record_types_and_fields_are_tolerated() {
        let r: Record =
            serde_json::from_str(r#"{"type":"jit_compile","t_ns":5,"extra":1}"#).unwrap();
        assert_eq!(r, Record::Unknown);
        let r: Record = serde_json::from_str(
            r#"{"type":"stack","id":3,"frames":[{"class":"A","method":"m","sig":"()V","line":4,"new_field":true}]}"#,
        )
        .unwrap();
        match r {
            Record::Stack(s) => assert_eq!(s.frames[0].line, Some(4)),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn class_record_round_trips_with_wire_names() {
        let c = ClassDefined {
            seq: 1,
            name: "jdk.internal.reflect.GeneratedMethodAccessor1".into(),
            kind: ClassKind::ReflectionAccessor,
            loader: LoaderRef {
                id: 7,
                type_name: "jdk.internal.reflect.DelegatingClassLoader".into(),
            },
            hidden: false,
            thread: "main".into(),
            t_ns: 10,
            wall_ms: 20,
            event: ClassEvent::Load,
            stack: 2,
            target: None,
            fingerprint: None,
        };
        let line = serde_json::to_string(&Record::Class(c.clone())).unwrap();
        assert!(line.starts_with(r#"{"type":"class","#), "{line}");
        assert!(line.contains(r#""kind":"reflection_accessor""#), "{line}");
        assert!(line.contains(r#""type":"jdk.internal.reflect.DelegatingClassLoader""#));
        assert_eq!(
            serde_json::from_str::<Record>(&line).unwrap(),
            Record::Class(c)
        );
    }

    #[test]
    fn the_fast_path_reads_what_the_generic_path_reads() {
        let lines = [
            r#"{"type":"class","seq":1,"name":"A","kind":"proxy","loader":{"id":1,"type":"L"},"hidden":false,"thread":"main","t_ns":1,"wall_ms":2,"event":"load","stack":0}"#,
            r#"{"type":"stack","id":3,"frames":[{"class":"A","method":"m","sig":"()V"}]}"#,
            r#"{"type":"gc_start","t_ns":5}"#,
            r#"{"type":"gc_finish","t_ns":6}"#,
            r#"{"type":"loader_unload","loader":{"id":1,"type":"L"},"t_ns":7}"#,
            r#"{"type":"class_unload","seq":1,"kind":"proxy","loader":{"id":1,"type":"L"},"stack":0,"t_ns":8}"#,
            r#"{"type":"jit_compile","t_ns":5}"#,
        ];
        for line in lines {
            let generic: Record = serde_json::from_str(line).unwrap();
            assert_eq!(parse_record(line.as_bytes()).unwrap(), generic, "{line}");
        }
        assert!(parse_record(br#"{"type":"class","seq":1}"#).is_err());
        assert!(parse_record(b"{\"type\":\"cla").is_err());
    }

    #[test]
    fn unknown_kind_reads_as_other() {
        let k: ClassKind = serde_json::from_str(r#""future_kind""#).unwrap();
        assert_eq!(k, ClassKind::Other);
        for k in ClassKind::ALL {
            let s = serde_json::to_string(&k).unwrap();
            assert_eq!(s, format!("\"{}\"", k.as_str()));
            assert_eq!(ClassKind::from_wire(k.as_str()), k);
        }
        assert_eq!(ClassKind::from_wire("future_kind"), ClassKind::Other);
        for e in [ClassEvent::Load, ClassEvent::Prepare] {
            let s = serde_json::to_string(&e).unwrap();
            assert_eq!(ClassEvent::from_wire(s.trim_matches('"')), Some(e));
        }
        assert_eq!(ClassEvent::from_wire("loaded"), None);
    }
}
