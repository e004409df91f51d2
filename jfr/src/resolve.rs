//! Turns constant-pool references into classes, loaders, threads and stacks,
//! decoding each pool entry the first time an event needs it.
//!
//! Per chunk: the pool index and caches of what was resolved (dropped with
//! the chunk). Across chunks: interned strings and the stack table, so the
//! same frames get the same stack id in every chunk and memory grows only
//! with distinct names and stacks.

use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use crate::chunk::ChunkHeader;
use crate::events::{Frame, FrameType, Loader, Stack, BOOTSTRAP_LOADER_ID, NO_STACK};
use crate::input::{Cursor, RawString};
use crate::metadata::{Encoding, Metadata};
use crate::pools::Pools;
use crate::value::{read_one, PoolRef, Read, Value};

/// What outlives a chunk.
#[derive(Default)]
pub(crate) struct Global {
    strings: HashSet<Arc<str>>,
    stacks: HashMap<(Vec<Frame>, bool), u64>,
    /// Stacks created but not yet yielded, by id.
    pub unyielded: HashMap<u64, Stack>,
}

impl Global {
    pub(crate) fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.strings.insert(a.clone());
        a
    }

    pub(crate) fn distinct_stacks(&self) -> usize {
        self.stacks.len()
    }

    fn stack_id(&mut self, frames: Vec<Frame>, truncated: bool) -> u64 {
        let key = (frames, truncated);
        if let Some(&id) = self.stacks.get(&key) {
            return id;
        }
        let id = self.stacks.len() as u64 + 1;
        self.unyielded.insert(
            id,
            Stack {
                id,
                frames: key.0.clone(),
                truncated,
            },
        );
        self.stacks.insert(key, id);
        id
    }
}

/// A method's class, name and descriptor.
type Method = (Arc<str>, Arc<str>, Arc<str>);

/// The fields of a pool type the resolver reads, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Class,
    Loader,
    Thread,
    Method,
}

impl Shape {
    const ALL: [Shape; 4] = [Shape::Class, Shape::Loader, Shape::Thread, Shape::Method];

    /// The fields read, in slot order.
    fn fields(self) -> &'static [&'static str] {
        match self {
            Shape::Class => &["name", "classLoader", "hidden"],
            Shape::Loader => &["type", "name"],
            Shape::Thread => &["javaName", "osName"],
            Shape::Method => &["type", "name", "descriptor"],
        }
    }
}

/// Where a [`Shape`]'s fields are in one pool type: found by name once, so
/// decoding an entry reads those fields and skips the rest without a
/// lookup by name or a walk of the type tree.
struct Layout {
    ty: usize,
    /// Per field in encoding order: how to read it, and the slot it fills.
    steps: Vec<(Read, Option<usize>)>,
}

impl Layout {
    fn new(meta: &Metadata, ty: usize, shape: Shape) -> Option<Layout> {
        let t = meta.types.get(ty)?;
        let wanted = shape.fields();
        let steps = t
            .fields
            .iter()
            .map(|f| {
                let slot = wanted.iter().position(|w| *w == &*f.name);
                (Read::of(f, meta), slot)
            })
            .collect();
        Some(Layout { ty, steps })
    }
}

/// The memory of a chunk's caches, handed from one chunk to the next.
#[derive(Default)]
pub(crate) struct Spare {
    pools: Pools,
    caches: Caches,
}

impl Spare {
    /// The pools, emptied, for the next chunk's checkpoints.
    pub(crate) fn take_pools(&mut self) -> Pools {
        let mut pools = std::mem::take(&mut self.pools);
        pools.clear();
        pools
    }
}

/// What was resolved from one chunk's constants.
#[derive(Default)]
struct Caches {
    strings: HashMap<(usize, u64), Option<Arc<str>>>,
    /// By class key: the classes of methods and loader types (the classes
    /// of class events are named afresh each time, into one buffer).
    class_names: HashMap<u64, Option<(Arc<str>, bool)>>,
    /// By loader key: the loader's position in [`Caches::loader_list`].
    loaders: HashMap<u64, Option<u32>>,
    /// The chunk's loaders, the bootstrap loader first.
    loader_list: Vec<Loader>,
    /// The last loader, thread and stack looked up: class events mostly
    /// repeat them, and these skip a hash lookup.
    last_loader: Option<(u64, Option<u32>)>,
    last_thread: Option<(u64, Option<u32>)>,
    last_stack: Option<(u64, u64)>,
    methods: HashMap<u64, Option<Method>>,
    frame_types: HashMap<u64, FrameType>,
    /// By thread key: the thread's name's position in [`Caches::thread_names`].
    threads: HashMap<u64, Option<u32>>,
    thread_names: Vec<Arc<str>>,
    stacks: HashMap<u64, u64>,
}

impl Caches {
    /// Empties the caches for the next chunk.
    fn clear(&mut self) {
        // A chunk of an unusually big recording gives its memory back.
        if self.class_names.capacity() > 1 << 20 {
            *self = Caches::default();
        }
        self.strings.clear();
        self.class_names.clear();
        self.loaders.clear();
        self.loader_list.clear();
        self.last_loader = None;
        self.last_thread = None;
        self.last_stack = None;
        self.methods.clear();
        self.frame_types.clear();
        self.threads.clear();
        self.thread_names.clear();
        self.stacks.clear();
    }
}

/// A chunk's metadata and constants, and what was resolved from them.
pub(crate) struct Resolver {
    pub header: ChunkHeader,
    pub meta: Metadata,
    pub pools: Pools,
    c: Caches,
    /// By [`Shape`] (its index in [`Shape::ALL`]).
    layouts: [Option<Layout>; 4],
    /// A class name converted to its binary form.
    name_buf: Vec<u8>,
    /// By metadata type index: where its pool is ([`Pools::slot`]).
    pool_slots: Vec<Option<usize>>,
    /// The binary name of the last class event's class.
    event_class_name: String,
}

/// The fields of a class constant a class event needs: its name's and its
/// loader's pool references, and whether it is hidden.
#[derive(Debug, Default, Clone, Copy)]
struct ClassEntry {
    name: Option<(usize, u64)>,
    loader: Option<(usize, u64)>,
    hidden: Option<bool>,
}

/// Position of the bootstrap loader in the chunk's loader list.
const BOOTSTRAP: u32 = 0;

/// A class of a class event, resolved: its name is in
/// [`Resolver::event_class_name`] until the next class event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResolvedClass {
    /// Position of its defining loader in the chunk's loader list.
    pub loader: u32,
    pub hidden: bool,
}

impl Resolver {
    pub(crate) fn new(
        header: ChunkHeader,
        meta: Metadata,
        pools: Pools,
        spare: &mut Spare,
        g: &mut Global,
    ) -> Resolver {
        let mut c = std::mem::take(&mut spare.caches);
        c.clear();
        c.loader_list.push(bootstrap(g));
        let pool_slots = meta.types.iter().map(|t| pools.slot(t.id)).collect();
        Resolver {
            pool_slots,
            event_class_name: String::new(),
            header,
            meta,
            pools,
            c,
            layouts: Default::default(),
            name_buf: Vec::new(),
        }
    }

    /// Gives the chunk's memory back for the next one.
    pub(crate) fn recycle(self, spare: &mut Spare) {
        spare.pools = self.pools;
        spare.caches = self.c;
    }

    /// The encoded pool entry `key` of type `ty`.
    fn pooled(&self, ty: usize, key: u64) -> Option<&[u8]> {
        self.pools.get_at((*self.pool_slots.get(ty)?)?, key)
    }

    /// Decodes the pool entry `key` of type `ty`; `None` when the chunk has
    /// no such constant or it does not decode.
    fn entry(&mut self, ty: usize, key: u64) -> Option<Value> {
        let bytes = self.pooled(ty, key)?;
        let mut c = Cursor::new(bytes, self.header.compressed_ints());
        read_one(&self.meta, &mut c, ty, false, 0).ok()
    }

    /// A struct entry's fields, with a lookup by name.
    fn fields(&mut self, ty: usize, key: u64) -> Option<Fields> {
        match self.entry(ty, key)? {
            Value::Struct(values) => Some(Fields { ty, values }),
            _ => None,
        }
    }

    /// The fields of `shape` of the struct entry `key` of type `ty`, by
    /// slot; `None` when the chunk has no such constant or it does not
    /// decode.
    fn shaped<const N: usize>(
        &mut self,
        shape: Shape,
        ty: usize,
        key: u64,
    ) -> Option<[Option<Value>; N]> {
        let at = Shape::ALL.iter().position(|s| *s == shape)?;
        if self.layouts[at].as_ref().is_none_or(|l| l.ty != ty) {
            self.layouts[at] = Some(Layout::new(&self.meta, ty, shape)?);
        }
        let layout = self.layouts[at].as_ref()?;
        let t = self.meta.types.get(ty)?;
        if t.encoding != Encoding::Struct {
            return None;
        }
        let bytes = self.pooled(ty, key)?;
        let mut c = Cursor::new(bytes, self.header.compressed_ints());
        let mut out: [Option<Value>; N] = std::array::from_fn(|_| None);
        for (read, slot) in &layout.steps {
            match slot.and_then(|s| out.get_mut(s)) {
                Some(v) => *v = Some(read.read(&self.meta, &mut c).ok()?),
                None => read.skip(&self.meta, &mut c).ok()?,
            }
        }
        Some(out)
    }

    /// The text of a string value: inline, in the string pool, or in a
    /// single-field pool type such as `jdk.types.Symbol`, `GCName`,
    /// `GCCause`, `FrameType`.
    pub(crate) fn string(&mut self, g: &mut Global, v: &Value) -> Option<Arc<str>> {
        match v {
            Value::Str(s) => s.as_deref().map(|s| g.intern(s)),
            &Value::Ref { ty, key } => {
                if let Some(cached) = self.c.strings.get(&(ty, key)) {
                    return cached.clone();
                }
                let resolved = self
                    .pooled_string(ty, key, 0)
                    .and_then(|raw| raw.as_text().map(|s| g.intern(&s)));
                self.c.strings.insert((ty, key), resolved.clone());
                resolved
            }
            _ => None,
        }
    }

    /// A string constant, or the string of a pool type holding just one
    /// (`jdk.types.Symbol`...), borrowed from the pool's bytes.
    fn pooled_string(&self, ty: usize, key: u64, depth: u32) -> Option<RawString<'_>> {
        if depth > 4 {
            return None;
        }
        let t = self.meta.types.get(ty)?;
        let bytes = self.pooled(ty, key)?;
        let mut c = Cursor::new(bytes, self.header.compressed_ints());
        let (string_type, raw) = if t.encoding == Encoding::String {
            (ty, c.string().ok()?)
        } else {
            let [field] = &t.fields[..] else {
                return None;
            };
            if field.array {
                return None;
            }
            if field.pooled {
                let k = c.long().ok()? as u64;
                return self.pooled_string(field.ty, k, depth + 1);
            }
            if self.meta.types.get(field.ty)?.encoding != Encoding::String {
                return None;
            }
            (field.ty, c.string().ok()?)
        };
        match raw {
            RawString::Pool(k) => self.pooled_string(string_type, k, depth + 1),
            s => Some(s),
        }
    }

    /// A class's binary name and whether it is hidden, from its name
    /// reference and hidden flag; not interned: most classes are named
    /// once.
    fn name_of(
        &mut self,
        name: Option<&Value>,
        hidden: Option<&Value>,
    ) -> Option<(Arc<str>, bool)> {
        let mut buf = std::mem::take(&mut self.name_buf);
        let hidden = self.binary_name_into(name, hidden, &mut buf);
        // One check of the name, after the conversion (which keeps valid
        // text valid); invalid bytes are replaced, as for every string.
        let named = hidden.map(|hidden| match std::str::from_utf8(&buf) {
            Ok(s) => (Arc::from(s), hidden),
            Err(_) => (Arc::from(String::from_utf8_lossy(&buf).as_ref()), hidden),
        });
        self.name_buf = buf;
        named
    }

    /// A class's binary name into `buf`; returns whether it is hidden.
    fn binary_name_into(
        &self,
        name: Option<&Value>,
        hidden: Option<&Value>,
        buf: &mut Vec<u8>,
    ) -> Option<bool> {
        let Some(&Value::Ref { ty, key }) = name else {
            return None;
        };
        self.binary_name_of((ty, key), hidden.and_then(Value::bool), buf)
    }

    /// [`Resolver::binary_name_into`] of a name's pool reference `(type, key)`.
    fn binary_name_of(
        &self,
        (ty, key): (usize, u64),
        hidden: Option<bool>,
        buf: &mut Vec<u8>,
    ) -> Option<bool> {
        Some(match self.pooled_string(ty, key, 0)? {
            RawString::Utf8(b) => binary_name_into(b, hidden, buf),
            other => binary_name_into(other.text()?.as_bytes(), hidden, buf),
        })
    }

    /// A class constant's name and loader (pool references) and hidden
    /// flag, read straight from its bytes when every field the layout wants
    /// is a pool key or the flag (every JDK's), else `None`.
    fn class_entry(&mut self, ty: usize, key: u64) -> Option<Option<ClassEntry>> {
        let at = Shape::ALL.iter().position(|s| *s == Shape::Class)?;
        if self.layouts[at].as_ref().is_none_or(|l| l.ty != ty) {
            self.layouts[at] = Some(Layout::new(&self.meta, ty, Shape::Class)?);
        }
        let layout = self.layouts[at].as_ref()?;
        if self.meta.types.get(ty)?.encoding != Encoding::Struct {
            return None;
        }
        let bytes = self.pooled(ty, key)?;
        let mut c = Cursor::new(bytes, self.header.compressed_ints());
        let mut entry = ClassEntry::default();
        for (read, slot) in &layout.steps {
            match (slot, read) {
                (Some(0), Read::Key(t)) => entry.name = Some((*t, c.long().ok()? as u64)),
                (Some(1), Read::Key(t)) => entry.loader = Some((*t, c.long().ok()? as u64)),
                (Some(2), Read::Integer(Encoding::Boolean)) => {
                    entry.hidden = Some(c.u8().ok()? != 0)
                }
                (Some(_), _) => return Some(None),
                (None, read) => read.skip(&self.meta, &mut c).ok()?,
            }
        }
        Some(Some(entry))
    }

    /// A class's binary name and whether it is hidden, without its loader.
    fn class_name(&mut self, v: &Value) -> Option<(Arc<str>, bool)> {
        let &Value::Ref { ty, key } = v else {
            return None;
        };
        if let Some(cached) = self.c.class_names.get(&key) {
            return cached.clone();
        }
        let resolved = self
            .shaped::<3>(Shape::Class, ty, key)
            .and_then(|[name, _, hidden]| self.name_of(name.as_ref(), hidden.as_ref()));
        self.c.class_names.insert(key, resolved.clone());
        resolved
    }

    /// The class of a class event: its name into
    /// [`Resolver::event_class_name`], its loader resolved.
    pub(crate) fn event_class(
        &mut self,
        g: &mut Global,
        PoolRef { ty, key }: PoolRef,
    ) -> Option<ResolvedClass> {
        let entry = match self.class_entry(ty, key)? {
            Some(entry) => entry,
            None => {
                let [name, loader, hidden] = self.shaped::<3>(Shape::Class, ty, key)?;
                let reference = |v: Option<Value>| match v {
                    Some(Value::Ref { ty, key }) => Some((ty, key)),
                    _ => None,
                };
                ClassEntry {
                    name: reference(name),
                    loader: reference(loader),
                    hidden: hidden.as_ref().and_then(Value::bool),
                }
            }
        };
        let mut buf = std::mem::take(&mut self.event_class_name).into_bytes();
        let hidden = entry
            .name
            .and_then(|name| self.binary_name_of(name, entry.hidden, &mut buf));
        // One check of the name, after the conversion (which keeps valid
        // text valid); invalid bytes are replaced, as for every string.
        self.event_class_name = match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let hidden = hidden?;
        // A class without a loader reference is the bootstrap loader's
        // (JDK 25 writes its hidden LambdaForm classes so).
        let loader = match entry.loader {
            Some((ty, key)) => self
                .loader_index(g, PoolRef { ty, key })
                .unwrap_or(BOOTSTRAP),
            None => BOOTSTRAP,
        };
        Some(ResolvedClass { loader, hidden })
    }

    /// The binary name of the last class event's class.
    pub(crate) fn event_class_name(&self) -> &str {
        &self.event_class_name
    }

    /// The loader at `index` of the chunk's loader list.
    pub(crate) fn loader_at(&self, index: u32) -> &Loader {
        let list = &self.c.loader_list;
        // The list starts with the bootstrap loader: never empty.
        list.get(index as usize).unwrap_or(&list[0])
    }

    /// A resolved thread's name (see [`Resolver::thread_index`]).
    pub(crate) fn thread_at(&self, index: u32) -> Option<&Arc<str>> {
        self.c.thread_names.get(index as usize)
    }

    /// A loader reference: `None` for a null or unknown reference; the
    /// bootstrap loader (id 0) for JFR's entry that has no loader class.
    pub(crate) fn loader(&mut self, g: &mut Global, r: PoolRef) -> Option<Loader> {
        self.loader_index(g, r).map(|i| self.loader_at(i).clone())
    }

    /// [`Resolver::loader`], as a position in the chunk's loader list.
    pub(crate) fn loader_index(
        &mut self,
        g: &mut Global,
        PoolRef { ty, key }: PoolRef,
    ) -> Option<u32> {
        if let Some((last, index)) = self.c.last_loader {
            if last == key {
                return index;
            }
        }
        if let Some(&cached) = self.c.loaders.get(&key) {
            self.c.last_loader = Some((key, cached));
            return cached;
        }
        let resolved = self
            .shaped::<2>(Shape::Loader, ty, key)
            .and_then(|[ty, name]| {
                // JFR writes the bootstrap loader without a class (a null
                // key); a class that is not in the pools (a chunk read while
                // the JVM still writes its constants) leaves it unknown.
                let ty = ty.filter(|t| !matches!(t, Value::Ref { key: 0, .. }));
                let Some(ty) = ty else {
                    return Some(BOOTSTRAP);
                };
                let (type_name, _) = self.class_name(&ty)?;
                let name = name.and_then(|n| self.string(g, &n));
                let loader = Loader {
                    id: key,
                    type_name: g.intern(&type_name),
                    name,
                };
                self.c.loader_list.push(loader);
                // Fewer loaders than entries of the chunk: fits.
                Some((self.c.loader_list.len() - 1) as u32)
            });
        self.c.loaders.insert(key, resolved);
        self.c.last_loader = Some((key, resolved));
        resolved
    }

    /// A thread's Java name, or its OS name when it has none.
    pub(crate) fn thread(&mut self, g: &mut Global, r: PoolRef) -> Option<Arc<str>> {
        let index = self.thread_index(g, r)?;
        self.thread_at(index).cloned()
    }

    /// Where a thread's name is (see [`Resolver::thread_at`]), `None` when
    /// it has none.
    pub(crate) fn thread_index(
        &mut self,
        g: &mut Global,
        PoolRef { ty, key }: PoolRef,
    ) -> Option<u32> {
        if let Some((last, index)) = self.c.last_thread {
            if last == key {
                return index;
            }
        }
        if let Some(&cached) = self.c.threads.get(&key) {
            self.c.last_thread = Some((key, cached));
            return cached;
        }
        let resolved = self
            .shaped::<2>(Shape::Thread, ty, key)
            .and_then(|[java, os]| {
                let java = java.and_then(|n| self.string(g, &n));
                java.or_else(|| os.and_then(|n| self.string(g, &n)))
            });
        let index = resolved.map(|name| {
            self.c.thread_names.push(name);
            // Fewer threads than entries of the chunk: fits.
            (self.c.thread_names.len() - 1) as u32
        });
        self.c.threads.insert(key, index);
        self.c.last_thread = Some((key, index));
        index
    }

    /// The global id of a stack reference ([`NO_STACK`] when there is
    /// none), creating the stack on first sight.
    pub(crate) fn stack(&mut self, g: &mut Global, r: Option<PoolRef>) -> u64 {
        let Some(PoolRef { ty, key }) = r else {
            return NO_STACK;
        };
        if let Some((last, id)) = self.c.last_stack {
            if last == key {
                return id;
            }
        }
        if let Some(&id) = self.c.stacks.get(&key) {
            self.c.last_stack = Some((key, id));
            return id;
        }
        let id = self
            .fields(ty, key)
            .map(|f| {
                let truncated = f
                    .get(&self.meta, "truncated")
                    .and_then(Value::bool)
                    .unwrap_or(false);
                let mut frames = Vec::new();
                if let Some(Value::Array(items)) = f.get(&self.meta, "frames") {
                    let frame_ty = self.meta.types[f.ty]
                        .field("frames")
                        .map(|i| self.meta.types[f.ty].fields[i].ty);
                    for item in items {
                        if let (Value::Struct(values), Some(fty)) = (item, frame_ty) {
                            let frame = Fields {
                                ty: fty,
                                values: values.clone(),
                            };
                            if let Some(frame) = self.frame(g, &frame) {
                                frames.push(frame);
                            }
                        }
                    }
                }
                g.stack_id(frames, truncated)
            })
            .unwrap_or(NO_STACK);
        self.c.stacks.insert(key, id);
        self.c.last_stack = Some((key, id));
        id
    }

    fn frame(&mut self, g: &mut Global, f: &Fields) -> Option<Frame> {
        let (class, method, descriptor) = self.method(g, f.get(&self.meta, "method")?)?;
        let number = |meta: &Metadata, name: &str| {
            f.get(meta, name)
                .and_then(Value::int)
                .and_then(|v| u32::try_from(v).ok())
        };
        let line = number(&self.meta, "lineNumber").filter(|&l| l > 0);
        let bytecode_index = number(&self.meta, "bytecodeIndex");
        let frame_type = match f.get(&self.meta, "type") {
            Some(t) => self.frame_type(g, t),
            None => FrameType::Interpreted,
        };
        Some(Frame {
            class,
            method,
            descriptor,
            line,
            bytecode_index,
            frame_type,
        })
    }

    fn method(&mut self, g: &mut Global, v: &Value) -> Option<Method> {
        let &Value::Ref { ty, key } = v else {
            return None;
        };
        if let Some(cached) = self.c.methods.get(&key) {
            return cached.clone();
        }
        let resolved =
            self.shaped::<3>(Shape::Method, ty, key)
                .and_then(|[class, name, descriptor]| {
                    let (class, _) = self.class_name(&class?)?;
                    let class = g.intern(&class);
                    let name = self.string(g, &name?)?;
                    let descriptor = descriptor
                        .and_then(|d| self.string(g, &d))
                        .unwrap_or_else(|| g.intern(""));
                    Some((class, name, descriptor))
                });
        self.c.methods.insert(key, resolved.clone());
        resolved
    }

    fn frame_type(&mut self, g: &mut Global, v: &Value) -> FrameType {
        let key = match v {
            Value::Ref { key, .. } => *key,
            _ => u64::MAX,
        };
        if let Some(t) = self.c.frame_types.get(&key) {
            return t.clone();
        }
        let t = match self.string(g, v).as_deref() {
            Some("Interpreted") | None => FrameType::Interpreted,
            Some("JIT compiled") => FrameType::JitCompiled,
            Some("Inlined") => FrameType::Inlined,
            Some("Native") => FrameType::Native,
            Some(other) => FrameType::Other(g.intern(other)),
        };
        self.c.frame_types.insert(key, t.clone());
        t
    }
}

fn bootstrap(g: &mut Global) -> Loader {
    Loader {
        id: BOOTSTRAP_LOADER_ID,
        type_name: g.intern("bootstrap"),
        name: None,
    }
}

/// A decoded struct with its type, to look fields up by name.
struct Fields {
    ty: usize,
    values: Vec<Value>,
}

impl Fields {
    fn get(&self, meta: &Metadata, name: &str) -> Option<&Value> {
        self.values.get(meta.types.get(self.ty)?.field(name)?)
    }
}

/// The binary name (`Class.getName()`) of a class name as JFR stores it:
/// - in internal form, `com/acme/Foo$Bar`: `/` becomes `.`;
/// - a hidden class on JDK 22+: `com/acme/Foo$$Lambda/0x0000000800c0b000`
///   (flagged hidden): the last `/` stays;
/// - a hidden class on JDK 15-21: `com.acme.Foo$$Lambda+0x0000000100140970/1757880885`,
///   the JVM's name with `+` before the address and JFR's identity hash
///   after it: yields `com.acme.Foo$$Lambda/0x0000000100140970`;
/// - a VM-anonymous class on JDK 11-14 (no hidden flag):
///   `com/acme/Foo$$Lambda$14/1234567`, JFR's hash after the name: kept, as
///   the only part that tells two such classes apart (a last segment of
///   digits cannot be a class name).
#[cfg(test)]
fn binary_name(stored: &str, hidden: Option<bool>) -> (String, bool) {
    let mut name = Vec::new();
    let hidden = binary_name_into(stored.as_bytes(), hidden, &mut name);
    (
        String::from_utf8(name).expect("UTF-8 in, UTF-8 out"),
        hidden,
    )
}

/// [`binary_name`] into `name` (cleared first), without allocating once
/// `name` is big enough; returns whether the class is hidden.
pub(crate) fn binary_name_into(stored: &[u8], hidden: Option<bool>, name: &mut Vec<u8>) -> bool {
    name.clear();
    // Every split below is at an ASCII byte, and `/` becomes the ASCII
    // `.`: valid UTF-8 in, valid UTF-8 out.
    let dotted = |part: &[u8], name: &mut Vec<u8>| {
        name.extend(part.iter().map(|&b| if b == b'/' { b'.' } else { b }));
    };
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if hidden != Some(false) {
        if let Some(plus) = stored.windows(3).rposition(|w| w == b"+0x") {
            let after = &stored[plus + 1..];
            let (address, hash) = match after.iter().position(|&b| b == b'/') {
                Some(i) => (&after[..i], &after[i + 1..]),
                None => (after, &[][..]),
            };
            let is_hex = address.len() > 2 && address[2..].iter().all(u8::is_ascii_hexdigit);
            if is_hex && digits(hash) {
                dotted(&stored[..plus], name);
                name.push(b'/');
                name.extend_from_slice(address);
                return true;
            }
        }
    }
    let last_slash = || stored.iter().rposition(|&b| b == b'/');
    let suffix = match hidden {
        Some(false) => None,
        Some(true) => last_slash(),
        None => last_slash().filter(|&i| i + 1 < stored.len() && digits(&stored[i + 1..])),
    };
    match suffix {
        Some(i) => {
            dotted(&stored[..i], name);
            name.extend_from_slice(&stored[i..]);
        }
        None => dotted(stored, name),
    }
    hidden.unwrap_or(suffix.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_names_keep_hidden_suffixes() {
        assert_eq!(
            binary_name("com/acme/Foo$Bar", Some(false)),
            ("com.acme.Foo$Bar".into(), false)
        );
        assert_eq!(
            binary_name(
                "java/lang/invoke/LambdaForm$MH/0x000000002d143800",
                Some(true)
            ),
            (
                "java.lang.invoke.LambdaForm$MH/0x000000002d143800".into(),
                true
            )
        );
        // JDK 17 and 21: JFR's own form.
        assert_eq!(
            binary_name(
                "com.acme.demo.BeanCopier$$Lambda$89+0x00007fb33c008000/2052256418",
                Some(true)
            ),
            (
                "com.acme.demo.BeanCopier$$Lambda$89/0x00007fb33c008000".into(),
                true
            )
        );
        assert_eq!(
            binary_name(
                "java.lang.invoke.LambdaForm$MH+0x0000000100000400/1409154977",
                Some(true)
            ),
            (
                "java.lang.invoke.LambdaForm$MH/0x0000000100000400".into(),
                true
            )
        );
        // A '+' that is not a hidden suffix stays.
        assert_eq!(
            binary_name("com/acme/A+0xZZ", Some(false)),
            ("com.acme.A+0xZZ".into(), false)
        );
        // JDK 11: no hidden field; anonymous classes end in /<digits>.
        assert_eq!(
            binary_name("com/acme/demo/BeanCopier$$Lambda$65/111374580", None),
            ("com.acme.demo.BeanCopier$$Lambda$65/111374580".into(), true)
        );
        assert_eq!(
            binary_name("jdk/internal/reflect/GeneratedMethodAccessor1", None),
            (
                "jdk.internal.reflect.GeneratedMethodAccessor1".into(),
                false
            )
        );
        assert_eq!(binary_name("Script1", None), ("Script1".into(), false));
        assert_eq!(
            binary_name("[Ljava/lang/String;", Some(false)),
            ("[Ljava.lang.String;".into(), false)
        );
    }

    #[test]
    fn equal_frames_get_one_stack_id_across_chunks() {
        let mut g = Global::default();
        let frame = |line| Frame {
            class: g_intern("com.acme.A"),
            method: g_intern("m"),
            descriptor: g_intern("()V"),
            line: Some(line),
            bytecode_index: Some(3),
            frame_type: FrameType::Interpreted,
        };
        let a = g.stack_id(vec![frame(1), frame(2)], false);
        let b = g.stack_id(vec![frame(1), frame(2)], false);
        let c = g.stack_id(vec![frame(1)], false);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, NO_STACK);
        assert_eq!(g.unyielded.len(), 2);
    }

    fn g_intern(s: &str) -> Arc<str> {
        Arc::from(s)
    }
}
