//! The distinct stacks of a recording, kept within a memory budget: the
//! one place that decides how much of a stack is remembered.
//!
//! Every `stack` record is attributed as it is read, for every loader type
//! at once ([`StackKeys`]), so each class that names the stack gets its
//! exact call site whatever else is kept. The frames themselves (names
//! interned, so frames shared by many stacks are stored once) are kept for
//! the first stacks, until they cost the budget ([`DEFAULT_STACK_MEMORY_MIB`],
//! `--stack-memory`). Later stacks are *summarised*: only their call-site
//! keys are kept. What that loses is said in the report's warnings: the
//! sample stack of a call site first seen on a summarised stack, and the
//! flame graph's detail (the classes of summarised stacks are drawn per
//! call site).

use std::sync::Arc;

use metascope_events::{Frame, StackTrace};

use super::attribution::{attribute, Attribution, CallSiteKey, Origin, Ownership, StackKeys};
use super::code_sources::CodeSources;
use crate::fast_hash::{fast_map, FastMap};

/// Frames of distinct stacks kept, in MiB, unless `--stack-memory` says
/// otherwise. Counted as the frames' text (class, method, descriptor and
/// file names, so the flame graph drawn from them is bounded by it too)
/// plus [`FRAME_COST`] per frame and [`NAME_COST`] per distinct name.
pub const DEFAULT_STACK_MEMORY_MIB: u64 = 64;

/// The flame graph's frame under which the classes of summarised stacks
/// are drawn, per call site.
pub const SUMMARISED_FRAME: &str = "(stacks summarised)";

/// Bytes a kept frame costs besides its names: its interned form.
const FRAME_COST: u64 = std::mem::size_of::<StoredFrame>() as u64;
/// Bytes a distinct name costs besides its text: its allocation and its
/// two index entries.
const NAME_COST: u64 = 80;

/// A frame with its names interned.
#[derive(Debug, Clone, Copy)]
struct StoredFrame {
    class: u32,
    method: u32,
    sig: u32,
    /// [`NO_NAME`] when the frame has no file.
    file: u32,
    line: Option<u32>,
    /// The `code_source` id, [`NO_SOURCE`] when none.
    source: u32,
    native: bool,
}

const NO_NAME: u32 = u32::MAX;
const NO_SOURCE: u32 = u32::MAX;

/// The call sites of one stack (see [`StackKeys`]), as interned ids:
/// small, since every stack has one, kept or summarised.
#[derive(Debug, Clone, Copy)]
struct StackSites {
    key: u32,
    /// (interned class name, key).
    when_loader_is: Option<(u32, u32)>,
    /// Attributed by names: read before the application's code source was
    /// known ([`CodeSources::by_names`]).
    by_names: bool,
}

/// Distinct stacks by id.
#[derive(Debug)]
pub struct StackStore {
    stacks: FastMap<u64, StackSites>,
    /// The frames of the stacks kept, by id.
    frames: FastMap<u64, Box<[StoredFrame]>>,
    names: Names,
    /// Call-site keys, interned: one per call site, not per stack.
    keys: Vec<Arc<CallSiteKey>>,
    key_ids: FastMap<Arc<CallSiteKey>, u32>,
    /// Bytes the kept frames may cost, and cost so far.
    budget: u64,
    kept_bytes: u64,
    /// Set by the first stack that did not fit: every later one is
    /// summarised too, so what is kept is simply the recording's start.
    full: bool,
    /// Stacks attributed by names although frames had code sources.
    by_names: u64,
}

/// A kept stack's frames, attributed.
#[derive(Debug)]
pub struct AttributedStack<'s> {
    pub frames: Vec<Frame>,
    pub origins: Vec<Origin<'s>>,
    pub attribution: Attribution,
}

/// One stack as the reader sees it.
#[derive(Debug, Clone, Copy)]
pub struct StackRef<'a> {
    sites: StackSites,
    frames: Option<&'a [StoredFrame]>,
    store: &'a StackStore,
}

impl StackRef<'_> {
    /// The call site of a class defined with this stack by a loader of
    /// type `loader_type` (what [`super::attribution::attribute`] gives).
    pub fn key_for(&self, loader_type: &str) -> &CallSiteKey {
        let key = match self.sites.when_loader_is {
            Some((class, key)) if self.store.names.get(class) == loader_type => key,
            _ => self.sites.key,
        };
        &self.store.keys[key as usize]
    }

    /// Only the call-site keys were kept, not the frames.
    pub fn is_summarised(&self) -> bool {
        self.frames.is_none()
    }

    /// The frames with where they came from and their roles, attributed
    /// for a loader of type `loader_type` as the stack was when read;
    /// `None` when summarised.
    pub fn attributed<'s>(
        &self,
        loader_type: &str,
        sources: &'s CodeSources,
        ownership: &Ownership,
    ) -> Option<AttributedStack<'s>> {
        let frames = self.frames()?;
        let origins = sources.origins(&frames, self.sites.by_names);
        let attribution = attribute(&frames, &origins, loader_type, ownership);
        Some(AttributedStack {
            frames,
            origins,
            attribution,
        })
    }

    /// The frames, innermost first; `None` when summarised.
    pub fn frames(&self) -> Option<Vec<Frame>> {
        let name = |id: u32| self.store.names.get(id).to_string();
        Some(
            self.frames?
                .iter()
                .map(|f| Frame {
                    class: name(f.class),
                    method: name(f.method),
                    sig: name(f.sig),
                    line: f.line,
                    file: (f.file != NO_NAME).then(|| name(f.file)),
                    native: f.native,
                    source: (f.source != NO_SOURCE).then_some(f.source),
                })
                .collect(),
        )
    }
}

impl StackStore {
    /// A store whose kept frames cost at most `budget` bytes.
    pub fn new(budget: u64) -> StackStore {
        StackStore {
            stacks: fast_map(),
            frames: fast_map(),
            names: Names::default(),
            keys: Vec::new(),
            key_ids: fast_map(),
            budget,
            kept_bytes: 0,
            full: false,
            by_names: 0,
        }
    }

    /// Attributes a `stack` record and keeps it, with its frames while
    /// they fit. A second record with the same id replaces the first.
    /// `sources`: the code sources read so far.
    pub fn insert(&mut self, stack: StackTrace, sources: &CodeSources, ownership: &Ownership) {
        if !self.full {
            let cost = self.cost(&stack.frames);
            if self.kept_bytes + cost <= self.budget {
                self.kept_bytes += cost;
                let frames = self.store_frames(&stack.frames);
                self.frames.insert(stack.id, frames);
            } else {
                self.full = true;
            }
        }
        if self.full {
            self.frames.remove(&stack.id);
        }
        // After the frames, so that what they cost does not depend on it.
        let by_names = sources.by_names(&stack.frames);
        self.by_names += u64::from(by_names);
        let origins = sources.origins(&stack.frames, by_names);
        let keys = StackKeys::of(&stack.frames, &origins, ownership);
        let sites = StackSites {
            key: self.intern_key(keys.key),
            when_loader_is: keys
                .when_loader_is
                .map(|(class, key)| (self.names.intern(&class), self.intern_key(key))),
            by_names,
        };
        self.stacks.insert(stack.id, sites);
    }

    pub fn get(&self, id: u64) -> Option<StackRef<'_>> {
        self.stacks.get(&id).map(|&sites| StackRef {
            sites,
            frames: self.frames.get(&id).map(|f| &f[..]),
            store: self,
        })
    }

    /// Stacks kept without their frames.
    pub fn summarised(&self) -> u64 {
        (self.stacks.len() - self.frames.len()) as u64
    }

    /// Distinct stack ids read.
    pub fn len(&self) -> usize {
        self.stacks.len()
    }

    /// Stacks attributed by names although some of their frames came from
    /// jars: read before the application's code source was known.
    pub fn by_names(&self) -> u64 {
        self.by_names
    }

    /// What the frames of a stack would cost if kept: see
    /// [`DEFAULT_STACK_MEMORY_MIB`].
    fn cost(&self, frames: &[Frame]) -> u64 {
        let mut cost = 0;
        let mut name = |s: &str| {
            cost += s.len() as u64;
            if !self.names.contains(s) {
                cost += NAME_COST;
            }
        };
        for f in frames {
            name(&f.class);
            name(&f.method);
            name(&f.sig);
            if let Some(file) = &f.file {
                name(file);
            }
        }
        cost + frames.len() as u64 * FRAME_COST
    }

    fn store_frames(&mut self, frames: &[Frame]) -> Box<[StoredFrame]> {
        frames
            .iter()
            .map(|f| StoredFrame {
                class: self.names.intern(&f.class),
                method: self.names.intern(&f.method),
                sig: self.names.intern(&f.sig),
                file: f.file.as_deref().map_or(NO_NAME, |n| self.names.intern(n)),
                line: f.line,
                source: f.source.unwrap_or(NO_SOURCE),
                native: f.native,
            })
            .collect()
    }

    fn intern_key(&mut self, key: CallSiteKey) -> u32 {
        if let Some(&id) = self.key_ids.get(&key) {
            return id;
        }
        let id = self.keys.len() as u32;
        let key = Arc::new(key);
        self.keys.push(key.clone());
        self.key_ids.insert(key, id);
        id
    }
}

/// Interned names, by id.
#[derive(Debug, Default)]
struct Names {
    ids: FastMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Names {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len())
            .ok()
            .filter(|&id| id != NO_NAME)
            .expect("fewer than 4 billion distinct names (each costs a stack record line)");
        let name: Arc<str> = name.into();
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    fn contains(&self, name: &str) -> bool {
        self.ids.contains_key(name)
    }

    fn get(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribution::attribute;
    use crate::analyze::attribution::tests::{frame, spring_copy_properties_stack};

    fn stack(id: u64, frames: Vec<Frame>) -> StackTrace {
        StackTrace { id, frames }
    }

    #[test]
    fn kept_stacks_give_back_their_frames_and_call_site() {
        let libs = Ownership::default();
        let sources = CodeSources::default();
        let mut frames = spring_copy_properties_stack();
        frames[0].native = true;
        frames[0].line = None;
        let mut store = StackStore::new(1 << 20);
        store.insert(stack(1, frames.clone()), &sources, &libs);
        let s = store.get(1).unwrap();
        assert!(!s.is_summarised());
        assert_eq!(s.frames().unwrap(), frames);
        let delegating = "jdk.internal.reflect.DelegatingClassLoader";
        assert_eq!(
            s.key_for(delegating),
            &attribute(&frames, &[], delegating, &libs).key
        );
        assert!(store.get(2).is_none());
        assert_eq!((store.len(), store.summarised()), (1, 0));
    }

    #[test]
    fn past_the_budget_stacks_keep_their_call_site_only() {
        let libs = Ownership::default();
        let sources = CodeSources::default();
        let frames = |n: u64| {
            vec![
                frame(&format!("com.acme.gen.Step{n}"), "make", 1),
                frame("com.acme.App", "run", 20),
            ]
        };
        // Room for exactly the first two.
        let mut unlimited = StackStore::new(u64::MAX);
        unlimited.insert(stack(1, frames(1)), &sources, &libs);
        let two = unlimited.kept_bytes + unlimited.cost(&frames(2));
        let mut store = StackStore::new(two);
        for id in 1..=5 {
            store.insert(stack(id, frames(id)), &sources, &libs);
        }
        assert_eq!(store.kept_bytes, two);
        assert_eq!((store.len(), store.summarised()), (5, 3));
        for id in 1..=5 {
            let s = store.get(id).unwrap();
            assert_eq!(s.is_summarised(), id > 2, "stack {id}");
            assert_eq!(s.frames().is_some(), id <= 2);
            // Every loader type still gets the exact call site.
            for loader in ["x.Loader", &format!("com.acme.gen.Step{id}")] {
                assert_eq!(
                    s.key_for(loader),
                    &attribute(&frames(id), &[], loader, &libs).key,
                    "stack {id}, loader {loader}"
                );
            }
        }
        // Once full, even a stack that would fit is summarised: what is
        // kept is the start of the recording.
        store.insert(stack(6, vec![]), &sources, &libs);
        assert!(store.get(6).unwrap().is_summarised());
    }

    #[test]
    fn shared_names_are_stored_once_but_counted_as_text() {
        let libs = Ownership::default();
        let sources = CodeSources::default();
        let mut store = StackStore::new(u64::MAX);
        let frames = spring_copy_properties_stack();
        let first = store.cost(&frames);
        store.insert(stack(1, frames.clone()), &sources, &libs);
        // The same names again: no new name, the text still counts.
        let again = store.cost(&frames);
        let text: u64 = frames
            .iter()
            .map(|f| {
                (f.class.len()
                    + f.method.len()
                    + f.sig.len()
                    + f.file.as_ref().map_or(0, String::len)) as u64
            })
            .sum();
        assert_eq!(again, text + frames.len() as u64 * FRAME_COST);
        assert!(first > again);
        store.insert(stack(2, frames.clone()), &sources, &libs);
        assert_eq!(store.kept_bytes, first + again);
        let distinct = store.names.names.len();
        store.insert(stack(3, frames), &sources, &libs);
        assert_eq!(store.names.names.len(), distinct);
    }
}
