//! Stacks, from raw JVMTI frames (jmethodID + bytecode index) to the
//! record's frames (class, method, descriptor, line, file), on the writer
//! thread: each method is resolved once and each distinct stack gets an
//! id, written once as a `stack` record. Both caches are bounded by the
//! bytes they hold; past the bound a cache starts over (stacks are then
//! written again under new ids), so memory stays bounded whatever
//! `depth=` says.

use std::collections::HashMap as StdHashMap;

use metascope_events::{Frame, StackTrace, NO_STACK};

use crate::classify::{binary_name, internal_name_from_signature};
use crate::ffi::{CodeLocation, CodeSourceFields, Jni, Jvmti, MethodId, MethodInfo, RawFrame};
use crate::sources::CodeSources;

/// The writer's maps: keys are its own data (no untrusted input to
/// defend against), and a 64-frame stack is hashed for every class.
type HashMap<K, V> = StdHashMap<K, V, foldhash::fast::RandomState>;

/// A stack of depth 2048 weighs 32 KiB of raw frames, one of depth 8 only
/// 128 bytes.
const MAX_STACK_BYTES: usize = 32 << 20;
const MAX_METHOD_BYTES: usize = 32 << 20;
/// Bookkeeping per cache entry, counted with its contents.
const ENTRY_OVERHEAD: usize = 64;

/// Resolves jmethodIDs (JVMTI on the writer thread; a fake in tests): the
/// method and the code source id of its class, if known.
pub trait MethodResolver {
    fn resolve(&mut self, method: MethodId) -> Option<(MethodInfo, Option<u32>)>;
}

/// Method resolution through JVMTI, on an attached agent thread; code
/// sources are numbered in the JVM's table.
pub struct JvmtiResolver<'a> {
    pub jvmti: Jvmti,
    pub jni: Jni<'a>,
    pub fields: Option<CodeSourceFields>,
    pub sources: &'a CodeSources,
}

impl MethodResolver for JvmtiResolver<'_> {
    fn resolve(&mut self, method: MethodId) -> Option<(MethodInfo, Option<u32>)> {
        let info = self.jvmti.method_info(self.jni, method, self.fields).ok()?;
        let source = match &info.location {
            Some(CodeLocation::Url(location)) => self.sources.intern(location),
            _ => None,
        };
        Some((info, source))
    }
}

struct ResolvedMethod {
    class: String,
    name: String,
    descriptor: String,
    file: Option<String>,
    lines: Vec<(i64, u32)>,
    source: Option<u32>,
}

impl ResolvedMethod {
    fn from_info((info, source): (MethodInfo, Option<u32>)) -> ResolvedMethod {
        ResolvedMethod {
            class: internal_name_from_signature(&info.class_signature)
                .map(binary_name)
                .unwrap_or(info.class_signature),
            name: info.name,
            descriptor: info.descriptor,
            file: info.source_file,
            lines: info.lines,
            source,
        }
    }

    /// Bytes this entry holds, for the cache bound.
    fn weight(&self) -> usize {
        self.class.len()
            + self.name.len()
            + self.descriptor.len()
            + self.file.as_ref().map_or(0, String::len)
            + self.lines.len() * std::mem::size_of::<(i64, u32)>()
    }

    fn line_at(&self, location: i64) -> Option<u32> {
        if location < 0 {
            return None;
        }
        let i = self.lines.partition_point(|&(start, _)| start <= location);
        i.checked_sub(1).map(|i| self.lines[i].1)
    }

    fn frame(&self, location: i64) -> Frame {
        Frame {
            class: self.class.clone(),
            method: self.name.clone(),
            sig: self.descriptor.clone(),
            line: self.line_at(location),
            file: self.file.clone(),
            // JVMTI reports location -1 for native frames.
            native: location < 0,
            source: self.source,
        }
    }
}

/// Distinct stacks and resolved methods of one recording.
pub struct StackTable<R: MethodResolver> {
    resolver: R,
    methods: HashMap<MethodId, Option<ResolvedMethod>>,
    method_bytes: usize,
    stacks: HashMap<Box<[RawFrame]>, u64>,
    stack_bytes: usize,
    next_stack: u64,
}

impl<R: MethodResolver> StackTable<R> {
    pub fn new(resolver: R) -> StackTable<R> {
        StackTable {
            resolver,
            methods: HashMap::default(),
            method_bytes: 0,
            stacks: HashMap::default(),
            stack_bytes: 0,
            next_stack: 1,
        }
    }

    /// The id of `frames`, and the `stack` record to write first when the
    /// stack is new. An empty stack is [`NO_STACK`].
    pub fn intern(&mut self, frames: &[RawFrame]) -> (u64, Option<StackTrace>) {
        if frames.is_empty() {
            return (NO_STACK, None);
        }
        if let Some(&id) = self.stacks.get(frames) {
            return (id, None);
        }
        let weight = std::mem::size_of_val(frames) + ENTRY_OVERHEAD;
        if self.stack_bytes + weight > MAX_STACK_BYTES {
            self.stacks.clear();
            self.stack_bytes = 0;
        }
        self.stack_bytes += weight;
        let id = self.next_stack;
        self.next_stack += 1;
        let resolved: Vec<Frame> = frames.iter().map(|f| self.frame(f)).collect();
        self.stacks.insert(frames.into(), id);
        (
            id,
            Some(StackTrace {
                id,
                frames: resolved,
            }),
        )
    }

    fn frame(&mut self, raw: &RawFrame) -> Frame {
        if !self.methods.contains_key(&raw.method) {
            let resolved = self
                .resolver
                .resolve(raw.method)
                .map(ResolvedMethod::from_info);
            let weight = resolved.as_ref().map_or(0, ResolvedMethod::weight) + ENTRY_OVERHEAD;
            if self.method_bytes + weight > MAX_METHOD_BYTES {
                self.methods.clear();
                self.method_bytes = 0;
            }
            self.method_bytes += weight;
            self.methods.insert(raw.method, resolved);
        }
        match self.methods.get(&raw.method).and_then(Option::as_ref) {
            Some(method) => method.frame(raw.location),
            // The method's class was unloaded before we could resolve it.
            None => Frame {
                class: "<unresolved>".into(),
                method: "<unresolved>".into(),
                sig: String::new(),
                line: None,
                file: None,
                native: false,
                source: None,
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Method 1 is `com.acme.BeanCopier.copy` with three lines; every other
    /// method is unknown (its class was unloaded).
    pub(crate) struct FakeResolver;
    impl MethodResolver for FakeResolver {
        fn resolve(&mut self, method: MethodId) -> Option<(MethodInfo, Option<u32>)> {
            (method == MethodId::for_test(1)).then(|| {
                let info = MethodInfo {
                    class_signature: "Lcom/acme/BeanCopier;".into(),
                    name: "copy".into(),
                    descriptor: "(Ljava/lang/Object;)V".into(),
                    source_file: Some("BeanCopier.java".into()),
                    lines: vec![(0, 10), (5, 11), (9, 14)],
                    location: None,
                };
                (info, Some(0))
            })
        }
    }

    pub(crate) fn frames(location: i64) -> Vec<RawFrame> {
        vec![
            RawFrame {
                method: MethodId::for_test(2),
                location: -1,
            },
            RawFrame {
                method: MethodId::for_test(1),
                location,
            },
        ]
    }

    #[test]
    fn a_stack_is_resolved_once_and_lines_come_from_the_bytecode_index() {
        let mut table = StackTable::new(FakeResolver);
        let (id, record) = table.intern(&frames(6));
        let record = record.expect("new stack");
        assert_eq!(record.frames[0].class, "<unresolved>");
        assert_eq!(record.frames[1].class, "com.acme.BeanCopier");
        assert_eq!(record.frames[1].line, Some(11));
        assert_eq!(table.intern(&frames(6)), (id, None));
        let (other, record) = table.intern(&frames(9));
        assert_ne!(other, id);
        assert_eq!(record.unwrap().frames[1].line, Some(14));
        assert_eq!(table.intern(&[]), (NO_STACK, None));
    }

    #[test]
    fn deep_stacks_are_bounded_by_bytes_not_by_count() {
        let mut table = StackTable::new(FakeResolver);
        let deep = |n: i64| -> Box<[RawFrame]> {
            (0..2048)
                .map(|i| RawFrame {
                    method: MethodId::for_test(1),
                    location: n * 4096 + i,
                })
                .collect()
        };
        for n in 0..2_000 {
            table.intern(&deep(n));
        }
        assert!(table.stack_bytes <= MAX_STACK_BYTES);
        assert!(table.stacks.len() < 2_000, "the cache started over");
    }
}
