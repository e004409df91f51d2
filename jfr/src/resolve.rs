//! Turns constant-pool references into classes, loaders, threads and stacks,
//! decoding each pool entry the first time an event needs it.
//!
//! Per chunk: the pool index and caches of what was resolved (dropped with
//! the chunk). Across chunks: interned strings and the stack table, so the
//! same frames get the same stack id in every chunk and memory grows only
//! with distinct names and stacks.

use std::sync::Arc;

use foldhash::{HashMap, HashMapExt, HashSet};

use crate::chunk::ChunkHeader;
use crate::events::{Class, Frame, FrameType, Loader, Stack, BOOTSTRAP_LOADER_ID, NO_STACK};
use crate::input::{Cursor, RawString};
use crate::metadata::{Encoding, Metadata};
use crate::pools::Pools;
use crate::value::{read_one, Value};

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

/// A chunk's metadata and constants, and what was resolved from them.
pub(crate) struct Resolver {
    pub header: ChunkHeader,
    pub meta: Metadata,
    pub pools: Pools,
    strings: HashMap<(usize, u64), Option<Arc<str>>>,
    class_names: HashMap<u64, Option<(Arc<str>, bool)>>,
    classes: HashMap<u64, Option<Class>>,
    loaders: HashMap<u64, Option<Loader>>,
    methods: HashMap<u64, Option<Method>>,
    frame_types: HashMap<u64, FrameType>,
    threads: HashMap<u64, Option<Arc<str>>>,
    stacks: HashMap<u64, u64>,
}

impl Resolver {
    pub(crate) fn new(header: ChunkHeader, meta: Metadata, pools: Pools) -> Resolver {
        Resolver {
            header,
            meta,
            pools,
            strings: HashMap::new(),
            class_names: HashMap::new(),
            classes: HashMap::new(),
            loaders: HashMap::new(),
            methods: HashMap::new(),
            frame_types: HashMap::new(),
            threads: HashMap::new(),
            stacks: HashMap::new(),
        }
    }

    /// Decodes the pool entry `key` of type `ty`; `None` when the chunk has
    /// no such constant or it does not decode.
    fn entry(&mut self, ty: usize, key: u64) -> Option<Value> {
        let bytes = self.pools.get(self.meta.types.get(ty)?.id, key)?;
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

    /// The text of a string value: inline, in the string pool, or in a
    /// single-field pool type such as `jdk.types.Symbol`, `GCName`,
    /// `GCCause`, `FrameType`.
    pub(crate) fn string(&mut self, g: &mut Global, v: &Value) -> Option<Arc<str>> {
        match v {
            Value::Str(s) => s.as_deref().map(|s| g.intern(s)),
            &Value::Ref { ty, key } => {
                if let Some(cached) = self.strings.get(&(ty, key)) {
                    return cached.clone();
                }
                let resolved = self
                    .pooled_string(ty, key, 0)
                    .and_then(|raw| raw.as_text().map(|s| g.intern(&s)));
                self.strings.insert((ty, key), resolved.clone());
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
        let bytes = self.pools.get(t.id, key)?;
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

    /// A class's binary name and whether it is hidden, from its decoded
    /// constant (`fields`); not interned: most classes are named once.
    fn name_of(&self, fields: &Fields) -> Option<(Arc<str>, bool)> {
        let Some(&Value::Ref { ty, key }) = fields.get(&self.meta, "name") else {
            return None;
        };
        let raw = self.pooled_string(ty, key, 0)?;
        let stored = raw.as_text()?;
        let hidden = fields.get(&self.meta, "hidden").and_then(Value::bool);
        let (binary, hidden) = binary_name(&stored, hidden);
        Some((Arc::from(binary), hidden))
    }

    /// A class's binary name and whether it is hidden, without its loader.
    fn class_name(&mut self, v: &Value) -> Option<(Arc<str>, bool)> {
        let &Value::Ref { ty, key } = v else {
            return None;
        };
        if let Some(cached) = self.class_names.get(&key) {
            return cached.clone();
        }
        let resolved = self.fields(ty, key).and_then(|f| self.name_of(&f));
        self.class_names.insert(key, resolved.clone());
        resolved
    }

    /// A class with its defining loader.
    pub(crate) fn class(&mut self, g: &mut Global, v: &Value) -> Option<Class> {
        let &Value::Ref { ty, key } = v else {
            return None;
        };
        if let Some(cached) = self.classes.get(&key) {
            return cached.clone();
        }
        let resolved = (|| {
            let fields = self.fields(ty, key)?;
            let (name, hidden) = match self.class_names.get(&key) {
                Some(cached) => cached.clone()?,
                None => self.name_of(&fields)?,
            };
            // A class without a loader reference is the bootstrap loader's
            // (JDK 25 writes its hidden LambdaForm classes so).
            let loader = match fields.get(&self.meta, "classLoader") {
                Some(l) => self.loader(g, l).unwrap_or_else(|| bootstrap(g)),
                None => bootstrap(g),
            };
            Some(Class {
                name,
                loader,
                hidden,
            })
        })();
        self.classes.insert(key, resolved.clone());
        resolved
    }

    /// A loader reference: `None` for a null or unknown reference; the
    /// bootstrap loader (id 0) for JFR's entry that has no loader class.
    pub(crate) fn loader(&mut self, g: &mut Global, v: &Value) -> Option<Loader> {
        let &Value::Ref { ty, key } = v else {
            return None;
        };
        if let Some(cached) = self.loaders.get(&key) {
            return cached.clone();
        }
        let resolved = self.fields(ty, key).map(|f| {
            let type_name = f
                .get(&self.meta, "type")
                .and_then(|t| self.class_name(t))
                .map(|(n, _)| n);
            let name = f.get(&self.meta, "name").and_then(|n| self.string(g, n));
            match type_name {
                Some(type_name) => Loader {
                    id: key,
                    type_name,
                    name,
                },
                None => bootstrap(g),
            }
        });
        self.loaders.insert(key, resolved.clone());
        resolved
    }

    /// A thread's Java name, or its OS name when it has none.
    pub(crate) fn thread(&mut self, g: &mut Global, v: &Value) -> Option<Arc<str>> {
        let &Value::Ref { ty, key } = v else {
            return None;
        };
        if let Some(cached) = self.threads.get(&key) {
            return cached.clone();
        }
        let resolved = self.fields(ty, key).and_then(|f| {
            let java = f
                .get(&self.meta, "javaName")
                .and_then(|n| self.string(g, n));
            java.or_else(|| f.get(&self.meta, "osName").and_then(|n| self.string(g, n)))
        });
        self.threads.insert(key, resolved.clone());
        resolved
    }

    /// The global id of a stack reference ([`NO_STACK`] when there is
    /// none), creating the stack on first sight.
    pub(crate) fn stack(&mut self, g: &mut Global, v: Option<&Value>) -> u64 {
        let Some(&Value::Ref { ty, key }) = v else {
            return NO_STACK;
        };
        if let Some(&id) = self.stacks.get(&key) {
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
        self.stacks.insert(key, id);
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
        if let Some(cached) = self.methods.get(&key) {
            return cached.clone();
        }
        let resolved = self.fields(ty, key).and_then(|f| {
            let (class, _) = self.class_name(f.get(&self.meta, "type")?)?;
            let class = g.intern(&class);
            let name = self.string(g, f.get(&self.meta, "name")?)?;
            let descriptor = f
                .get(&self.meta, "descriptor")
                .and_then(|d| self.string(g, d))
                .unwrap_or_else(|| g.intern(""));
            Some((class, name, descriptor))
        });
        self.methods.insert(key, resolved.clone());
        resolved
    }

    fn frame_type(&mut self, g: &mut Global, v: &Value) -> FrameType {
        let key = match v {
            Value::Ref { key, .. } => *key,
            _ => u64::MAX,
        };
        if let Some(t) = self.frame_types.get(&key) {
            return t.clone();
        }
        let t = match self.string(g, v).as_deref() {
            Some("Interpreted") | None => FrameType::Interpreted,
            Some("JIT compiled") => FrameType::JitCompiled,
            Some("Inlined") => FrameType::Inlined,
            Some("Native") => FrameType::Native,
            Some(other) => FrameType::Other(g.intern(other)),
        };
        self.frame_types.insert(key, t.clone());
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
pub(crate) fn binary_name(stored: &str, hidden: Option<bool>) -> (String, bool) {
    if hidden != Some(false) {
        if let Some(plus) = stored.rfind("+0x") {
            let after = &stored[plus + 1..];
            let (address, hash) = after.split_once('/').unwrap_or((after, ""));
            let is_hex = address.len() > 2 && address[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if is_hex && hash.bytes().all(|b| b.is_ascii_digit()) {
                let mut name = stored[..plus].replace('/', ".");
                name.push('/');
                name.push_str(address);
                return (name, true);
            }
        }
    }
    let suffix = stored.rfind('/').filter(|&i| {
        let last = &stored[i + 1..];
        match hidden {
            Some(h) => h,
            None => !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()),
        }
    });
    let hidden = hidden.unwrap_or(suffix.is_some());
    match suffix {
        Some(i) => {
            let mut name = stored[..i].replace('/', ".");
            name.push_str(&stored[i..]);
            (name, hidden)
        }
        None => (stored.replace('/', "."), hidden),
    }
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
