//! From one event's bytes to one typed record.
//!
//! For each event type the reader yields, a plan made from the chunk's
//! metadata says which fields to decode (by name, so fields added or
//! reordered by later JDKs cost nothing) and which to skip.

use std::cell::Cell;
use std::sync::Arc;

use crate::chunk::ChunkHeader;
use crate::events::*;
use crate::input::{Cursor, Decoded};
use crate::metadata::Encoding;
use crate::metadata::{Metadata, TimeUnit};
use crate::resolve::{Global, ResolvedClass, Resolver};
use crate::value::{PoolRef, Read, Value};

/// The event types this reader yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ClassDefine,
    ClassLoad,
    ClassUnload,
    GarbageCollection,
    MetaspaceSummary,
    MetaspaceGcThreshold,
    MetaspaceOom,
    ClassLoaderStatistics,
    JvmInformation,
    Flag(FlagKind),
    ActiveSetting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagKind {
    Signed,
    Unsigned,
    Double,
    Bool,
    Str,
}

/// Event type names whose settings are reported as [`Record::Setting`].
pub(crate) const REPORTED_SETTINGS: &[&str] = &[
    "jdk.ClassDefine",
    "jdk.ClassLoad",
    "jdk.ClassUnload",
    "jdk.GarbageCollection",
    "jdk.MetaspaceSummary",
    "jdk.MetaspaceOOM",
    "jdk.ClassLoaderStatistics",
];

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "jdk.ClassDefine" => Kind::ClassDefine,
            "jdk.ClassLoad" => Kind::ClassLoad,
            "jdk.ClassUnload" => Kind::ClassUnload,
            "jdk.GarbageCollection" => Kind::GarbageCollection,
            "jdk.MetaspaceSummary" => Kind::MetaspaceSummary,
            "jdk.MetaspaceGCThreshold" => Kind::MetaspaceGcThreshold,
            "jdk.MetaspaceOOM" => Kind::MetaspaceOom,
            "jdk.ClassLoaderStatistics" => Kind::ClassLoaderStatistics,
            "jdk.JVMInformation" => Kind::JvmInformation,
            "jdk.IntFlag" | "jdk.LongFlag" => Kind::Flag(FlagKind::Signed),
            "jdk.UnsignedIntFlag" | "jdk.UnsignedLongFlag" => Kind::Flag(FlagKind::Unsigned),
            "jdk.DoubleFlag" => Kind::Flag(FlagKind::Double),
            "jdk.BooleanFlag" => Kind::Flag(FlagKind::Bool),
            "jdk.StringFlag" => Kind::Flag(FlagKind::Str),
            "jdk.ActiveSetting" => Kind::ActiveSetting,
            _ => return None,
        })
    }

    /// The fields to decode, in slot order; `|` separates names a field
    /// had in other JDKs (JDK 11-14 said "anonymous" for "hidden").
    fn wanted(self) -> &'static [&'static str] {
        match self {
            Kind::ClassDefine => &[
                "startTime",
                "eventThread",
                "stackTrace",
                "definedClass",
                "definingClassLoader",
            ],
            Kind::ClassLoad => &[
                "startTime",
                "eventThread",
                "stackTrace",
                "loadedClass",
                "definingClassLoader",
                "initiatingClassLoader",
                "duration",
            ],
            Kind::ClassUnload => &["startTime", "unloadedClass", "definingClassLoader"],
            Kind::GarbageCollection => &[
                "startTime",
                "duration",
                "gcId",
                "name",
                "cause",
                "sumOfPauses",
                "longestPause",
            ],
            Kind::MetaspaceSummary => &[
                "startTime",
                "gcId",
                "when",
                "gcThreshold",
                "metaspace",
                "dataSpace",
                "classSpace",
            ],
            Kind::MetaspaceGcThreshold => &["startTime", "oldValue", "newValue", "updater"],
            Kind::MetaspaceOom => &[
                "startTime",
                "eventThread",
                "stackTrace",
                "classLoader",
                "hiddenClassLoader|anonymousClassLoader",
                "size",
                "metadataType",
                "metaspaceObjectType",
            ],
            Kind::ClassLoaderStatistics => &[
                "startTime",
                "classLoader",
                "parentClassLoader",
                "classLoaderData",
                "classCount",
                "chunkSize",
                "blockSize",
                "hiddenClassCount|anonymousClassCount",
                "hiddenChunkSize|anonymousChunkSize",
                "hiddenBlockSize|anonymousBlockSize",
            ],
            Kind::JvmInformation => &[
                "startTime",
                "jvmName",
                "jvmVersion",
                "jvmArguments",
                "javaArguments",
                "jvmStartTime",
                "pid",
            ],
            Kind::Flag(_) => &["startTime", "name", "value", "origin"],
            Kind::ActiveSetting => &["startTime", "id", "name", "value"],
        }
    }
}

/// How to decode one event type of this chunk.
pub(crate) struct Plan {
    kind: Kind,
    /// Per field in encoding order: how to read it, and the slot it fills.
    steps: Vec<Step>,
    units: Vec<TimeUnit>,
    /// Metadata type index of each slot's field.
    types: Vec<Option<usize>>,
}

/// One field of an event, as its plan reads it.
struct Step {
    /// The slot it fills, or `None` to skip it.
    slot: Option<usize>,
    how: Read,
}

/// The plans of a chunk, by event type id: a few (~20), searched from the
/// last one found (a recording is mostly one class event type).
pub(crate) struct Plans {
    by_type_id: Vec<(u64, Plan)>,
    last: Cell<usize>,
}

impl Plans {
    pub(crate) fn new(meta: &Metadata) -> Plans {
        let mut by_type_id = Vec::new();
        for t in &meta.types {
            let Some(kind) = Kind::of(&t.name) else {
                continue;
            };
            let wanted = kind.wanted();
            let mut units = vec![TimeUnit::None; wanted.len()];
            let mut types = vec![None; wanted.len()];
            let steps = t
                .fields
                .iter()
                .map(|f| {
                    let slot = wanted
                        .iter()
                        .position(|w| w.split('|').any(|alias| alias == &*f.name));
                    if let Some(slot) = slot {
                        units[slot] = f.unit;
                        types[slot] = Some(f.ty);
                    }
                    Step {
                        slot,
                        how: Read::of(f, meta),
                    }
                })
                .collect();
            let plan = Plan {
                kind,
                steps,
                units,
                types,
            };
            // A type id declared twice keeps its last declaration.
            match by_type_id.iter_mut().find(|(id, _)| *id == t.id) {
                Some((_, p)) => *p = plan,
                None => by_type_id.push((t.id, plan)),
            }
        }
        Plans {
            by_type_id,
            last: Cell::new(0),
        }
    }

    /// The plan of `type_id`, and where it is (for [`Plans::at`]).
    pub(crate) fn get(&self, type_id: u64) -> Option<(usize, &Plan)> {
        let last = self.last.get();
        if let Some((id, plan)) = self.by_type_id.get(last) {
            if *id == type_id {
                return Some((last, plan));
            }
        }
        let at = self.by_type_id.iter().position(|(id, _)| *id == type_id)?;
        self.last.set(at);
        Some((at, &self.by_type_id[at].1))
    }

    /// The plan at `at`, as [`Plans::get`] said.
    pub(crate) fn at(&self, at: u16) -> Option<&Plan> {
        self.by_type_id.get(usize::from(at)).map(|(_, plan)| plan)
    }
}

/// The decoded fields of one event, by slot: integers and pool keys (most
/// fields) as numbers, the rest as values.
pub(crate) struct Slots {
    /// Per slot: how it was read in this event, `None` when it was not.
    read: Vec<Option<Stored>>,
    ints: Vec<i64>,
    /// Slots read as [`Stored::Value`]; others hold what an earlier event
    /// left.
    values: Vec<Option<Value>>,
}

/// How a slot's value is held.
#[derive(Debug, Clone, Copy)]
enum Stored {
    /// A key into the pool of this metadata type, in `ints`.
    Key(usize),
    Int,
    Bool,
    Value,
}

impl Slots {
    pub(crate) fn new() -> Slots {
        Slots {
            read: Vec::new(),
            ints: Vec::new(),
            values: Vec::new(),
        }
    }

    /// Empties the slots for an event of `n` slots.
    fn reset(&mut self, n: usize) {
        self.read.clear();
        self.read.resize(n, None);
        if self.ints.len() < n {
            self.ints.resize(n, 0);
            self.values.resize(n, None);
        }
    }

    /// Reads field `how` into `slot`.
    fn read(
        &mut self,
        slot: usize,
        how: &Read,
        meta: &Metadata,
        c: &mut Cursor<'_>,
    ) -> Decoded<()> {
        let (stored, int) = match how {
            Read::Key(ty) => (Stored::Key(*ty), c.long()?),
            Read::Integer(Encoding::Boolean) => (Stored::Bool, i64::from(c.u8()? != 0)),
            Read::Integer(Encoding::Byte) => (Stored::Int, i64::from(c.u8()? as i8)),
            Read::Integer(Encoding::Char) => (Stored::Int, i64::from(c.char()?)),
            Read::Integer(Encoding::Short) => (Stored::Int, i64::from(c.short()?)),
            Read::Integer(Encoding::Int) => (Stored::Int, i64::from(c.int()?)),
            Read::Integer(_) => (Stored::Int, c.long()?),
            Read::Value(_) => {
                self.values[slot] = Some(how.read(meta, c)?);
                (Stored::Value, 0)
            }
        };
        self.read[slot] = Some(stored);
        self.ints[slot] = int;
        Ok(())
    }

    /// The value of a slot read in this event.
    fn get(&self, slot: usize) -> Option<Value> {
        let int = *self.ints.get(slot)?;
        Some(match (*self.read.get(slot)?)? {
            Stored::Key(ty) => Value::Ref {
                ty,
                key: int as u64,
            },
            Stored::Int => Value::Int(int),
            Stored::Bool => Value::Bool(int != 0),
            Stored::Value => self.values.get(slot)?.clone()?,
        })
    }

    /// A slot read as a pool key, as [`Value::pool_ref`] of [`Slots::get`]
    /// without building the value.
    fn pool_ref(&self, slot: usize) -> Option<PoolRef> {
        match (*self.read.get(slot)?)? {
            Stored::Key(ty) => Some(PoolRef {
                ty,
                key: self.ints[slot] as u64,
            }),
            Stored::Value => self.values[slot].as_ref()?.pool_ref(),
            Stored::Int | Stored::Bool => None,
        }
    }

    /// A slot as an integer (0 when absent or not a number), as
    /// [`Value::int`].
    fn int(&self, slot: usize) -> i64 {
        match self.read.get(slot).copied().flatten() {
            Some(Stored::Int | Stored::Bool) => self.ints[slot],
            Some(Stored::Value) => self.values[slot].as_ref().and_then(Value::int).unwrap_or(0),
            Some(Stored::Key(_)) | None => 0,
        }
    }

    fn unsigned(&self, slot: usize) -> u64 {
        self.int(slot) as u64
    }
}

impl Plan {
    /// A timestamp slot as nanoseconds since the epoch.
    fn wall_ns(&self, s: &Slots, slot: usize, h: &ChunkHeader) -> i64 {
        wall_ns(s.int(slot), self.units.get(slot), h)
    }

    /// A duration slot in nanoseconds.
    fn span_ns(&self, s: &Slots, slot: usize, h: &ChunkHeader) -> i64 {
        let v = s.int(slot);
        match self.units.get(slot) {
            Some(TimeUnit::Ticks) => h.ticks_to_ns(v),
            Some(TimeUnit::Millis) => v.saturating_mul(1_000_000),
            _ => v,
        }
    }
}

/// A timestamp in `unit` as nanoseconds since the epoch.
fn wall_ns(v: i64, unit: Option<&TimeUnit>, h: &ChunkHeader) -> i64 {
    match unit {
        Some(TimeUnit::Nanos) => v,
        Some(TimeUnit::Millis) => v.saturating_mul(1_000_000),
        _ => h.ticks_to_wall_ns(v),
    }
}

/// The start time of an event whose plan is `plan` (`c` just after the
/// type id), as its record's `t_ns`, to order the events before any is
/// built. Only the fields up to the start time (the first, in every JDK's
/// events) are read: [`read_slots`] checks the rest when the event is
/// built, so each event is walked once and a half, not twice.
pub(crate) fn event_start(
    meta: &Metadata,
    plan: &Plan,
    c: &mut Cursor<'_>,
    h: &ChunkHeader,
    recording_start_ns: i64,
) -> Decoded<u64> {
    let mut start = 0;
    for step in &plan.steps {
        if step.slot == Some(0) {
            start = step.how.read(meta, c)?.int().unwrap_or(0);
            break;
        }
        step.how.skip(meta, c)?;
        if c.remaining() == 0 {
            break;
        }
    }
    let wall_ns = wall_ns(start, plan.units.first(), h);
    Ok(wall_ns.saturating_sub(recording_start_ns).max(0) as u64)
}

/// Why an event that decoded did not become a record.
pub(crate) enum Unresolved {
    /// Its class (or another required constant) is not in the chunk.
    MissingConstant,
    /// Not wanted (a setting of an event type this reader does not yield).
    Ignored,
}

/// Reads the fields of an event whose plan is `plan` (`c` just after the
/// type id) into `slots`.
pub(crate) fn read_slots(
    meta: &Metadata,
    plan: &Plan,
    c: &mut Cursor<'_>,
    slots: &mut Slots,
) -> Decoded<()> {
    slots.reset(plan.units.len());
    for step in &plan.steps {
        match step.slot {
            Some(s) => slots.read(s, &step.how, meta, c)?,
            None => step.how.skip(meta, c)?,
        }
        if c.remaining() == 0 {
            // Events written by an older JVM may end before later fields.
            break;
        }
    }
    Ok(())
}

/// A decoded event: a class event by reference into the resolver, any
/// other as its record (boxed: a record is large, and class events, moved
/// several times each, are most of a recording).
pub(crate) enum Built {
    Class(ClassKeys),
    Record(Box<Record>),
}

/// A class event resolved: its class's name is the resolver's
/// ([`Resolver::event_class_name`]) until the next class event, its loaders
/// and thread by their position in the chunk's lists.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClassKeys {
    kind: ClassEventKind,
    t_ns: u64,
    wall_ns: i64,
    duration_ns: i64,
    class: ResolvedClass,
    defining_loader: Option<u32>,
    initiating_loader: Option<u32>,
    thread: Option<u32>,
    pub stack: u64,
}

impl ClassKeys {
    pub(crate) fn kind(&self) -> ClassEventKind {
        self.kind
    }

    /// The event, borrowed from the resolver that resolved it.
    pub(crate) fn view<'a>(&self, r: &'a Resolver) -> ClassEventRef<'a> {
        ClassEventRef {
            kind: self.kind,
            t_ns: self.t_ns,
            wall_ns: self.wall_ns,
            duration_ns: self.duration_ns,
            class: ClassRef {
                name: r.event_class_name(),
                loader: r.loader_at(self.class.loader),
                hidden: self.class.hidden,
            },
            defining_loader: self.defining_loader.map(|i| r.loader_at(i)),
            initiating_loader: self.initiating_loader.map(|i| r.loader_at(i)),
            thread: self.thread.and_then(|index| r.thread_at(index)),
            stack: self.stack,
        }
    }
}

/// Builds the record from decoded slots.
pub(crate) fn build(
    plan: &Plan,
    s: &Slots,
    r: &mut Resolver,
    g: &mut Global,
    recording_start_ns: i64,
) -> Result<Built, Unresolved> {
    let h = r.header;
    let wall_ns = plan.wall_ns(s, 0, &h);
    let t_ns = wall_ns.saturating_sub(recording_start_ns).max(0) as u64;
    let string = |r: &mut Resolver, g: &mut Global, slot: usize| -> Option<Arc<str>> {
        s.get(slot).and_then(|v| r.string(g, &v))
    };
    Ok(Built::Record(Box::new(match plan.kind {
        Kind::ClassDefine => {
            let class = s
                .pool_ref(3)
                .and_then(|c| r.event_class(g, c))
                .ok_or(Unresolved::MissingConstant)?;
            let defining_loader = s.pool_ref(4).and_then(|l| r.loader_index(g, l));
            return Ok(Built::Class(ClassKeys {
                kind: ClassEventKind::Define,
                t_ns,
                wall_ns,
                duration_ns: 0,
                defining_loader: Some(defining_loader.unwrap_or(class.loader)),
                initiating_loader: None,
                thread: s.pool_ref(1).and_then(|t| r.thread_index(g, t)),
                stack: r.stack(g, s.pool_ref(2)),
                class,
            }));
        }
        Kind::ClassLoad => {
            let class = s
                .pool_ref(3)
                .and_then(|c| r.event_class(g, c))
                .ok_or(Unresolved::MissingConstant)?;
            return Ok(Built::Class(ClassKeys {
                kind: ClassEventKind::Load,
                t_ns,
                wall_ns,
                duration_ns: plan.span_ns(s, 6, &h),
                thread: s.pool_ref(1).and_then(|t| r.thread_index(g, t)),
                stack: r.stack(g, s.pool_ref(2)),
                defining_loader: s.pool_ref(4).and_then(|l| r.loader_index(g, l)),
                initiating_loader: s.pool_ref(5).and_then(|l| r.loader_index(g, l)),
                class,
            }));
        }
        Kind::ClassUnload => {
            let class = s
                .pool_ref(1)
                .and_then(|c| r.event_class(g, c))
                .ok_or(Unresolved::MissingConstant)?;
            let defining_loader = s.pool_ref(2).and_then(|l| r.loader_index(g, l));
            return Ok(Built::Class(ClassKeys {
                kind: ClassEventKind::Unload,
                t_ns,
                wall_ns,
                duration_ns: 0,
                defining_loader: Some(defining_loader.unwrap_or(class.loader)),
                initiating_loader: None,
                thread: None,
                stack: NO_STACK,
                class,
            }));
        }
        Kind::GarbageCollection => Record::GarbageCollection(GarbageCollection {
            gc_id: s.unsigned(2),
            name: string(r, g, 3),
            cause: string(r, g, 4),
            t_ns,
            wall_ns,
            duration_ns: plan.span_ns(s, 1, &h),
            sum_of_pauses_ns: plan.span_ns(s, 5, &h),
            longest_pause_ns: plan.span_ns(s, 6, &h),
        }),
        Kind::MetaspaceSummary => Record::MetaspaceSummary(MetaspaceSummary {
            t_ns,
            wall_ns,
            gc_id: s.unsigned(1),
            when: string(r, g, 2),
            gc_threshold: s.unsigned(3),
            metaspace: metaspace_sizes(&r.meta, plan, s, 4),
            data_space: metaspace_sizes(&r.meta, plan, s, 5),
            class_space: metaspace_sizes(&r.meta, plan, s, 6),
        }),
        Kind::MetaspaceGcThreshold => Record::MetaspaceGcThreshold(MetaspaceGcThreshold {
            t_ns,
            wall_ns,
            old_value: s.unsigned(1),
            new_value: s.unsigned(2),
            updater: string(r, g, 3),
        }),
        Kind::MetaspaceOom => Record::MetaspaceOom(MetaspaceOom {
            t_ns,
            wall_ns,
            thread: s.pool_ref(1).and_then(|t| r.thread(g, t)),
            stack: r.stack(g, s.pool_ref(2)),
            loader: s.pool_ref(3).and_then(|l| r.loader(g, l)),
            hidden_class_loader: s.int(4) != 0,
            size: s.unsigned(5),
            metadata_type: string(r, g, 6),
            object_type: string(r, g, 7),
        }),
        Kind::ClassLoaderStatistics => Record::ClassLoaderStatistics(ClassLoaderStatistics {
            t_ns,
            wall_ns,
            loader: s.pool_ref(1).and_then(|l| r.loader(g, l)),
            parent_loader: s.pool_ref(2).and_then(|l| r.loader(g, l)),
            class_loader_data: s.unsigned(3),
            class_count: s.unsigned(4),
            chunk_size: s.unsigned(5),
            block_size: s.unsigned(6),
            hidden_class_count: s.unsigned(7),
            hidden_chunk_size: s.unsigned(8),
            hidden_block_size: s.unsigned(9),
        }),
        Kind::JvmInformation => Record::JvmInformation(JvmInformation {
            t_ns,
            wall_ns,
            jvm_name: string(r, g, 1),
            jvm_version: string(r, g, 2),
            jvm_arguments: string(r, g, 3),
            java_arguments: string(r, g, 4),
            jvm_start_ms: plan.wall_ns(s, 5, &h) / 1_000_000,
            pid: s.unsigned(6),
        }),
        Kind::Flag(flag) => {
            let name = string(r, g, 1).ok_or(Unresolved::MissingConstant)?;
            let value = match flag {
                FlagKind::Signed => FlagValue::Int(s.int(2)),
                FlagKind::Unsigned => FlagValue::Unsigned(s.unsigned(2)),
                FlagKind::Double => {
                    FlagValue::Double(s.get(2).as_ref().and_then(Value::float).unwrap_or(0.0))
                }
                FlagKind::Bool => FlagValue::Bool(s.int(2) != 0),
                FlagKind::Str => FlagValue::Str(string(r, g, 2)),
            };
            Record::Flag(Flag {
                t_ns,
                name,
                value,
                origin: string(r, g, 3),
            })
        }
        Kind::ActiveSetting => {
            let event_type = r
                .meta
                .type_index(s.unsigned(1))
                .map(|i| r.meta.types[i].name.clone())
                .ok_or(Unresolved::MissingConstant)?;
            if !REPORTED_SETTINGS.contains(&&*event_type) {
                return Err(Unresolved::Ignored);
            }
            Record::Setting(Setting {
                t_ns,
                event_type: g.intern(&event_type),
                name: string(r, g, 2).ok_or(Unresolved::MissingConstant)?,
                value: string(r, g, 3),
            })
        }
    })))
}

/// `jdk.types.MetaspaceSizes` (an inline struct), by field name.
fn metaspace_sizes(meta: &Metadata, plan: &Plan, s: &Slots, slot: usize) -> MetaspaceSizes {
    let (Some(Value::Struct(values)), Some(&Some(ty))) = (s.get(slot), plan.types.get(slot)) else {
        return MetaspaceSizes::default();
    };
    let field = |name: &str| -> u64 {
        meta.types[ty]
            .field(name)
            .and_then(|i| values.get(i))
            .and_then(Value::int)
            .unwrap_or(0) as u64
    };
    MetaspaceSizes {
        reserved: field("reserved"),
        committed: field("committed"),
        used: field("used"),
    }
}
