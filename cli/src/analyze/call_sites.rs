//! The call-site table: class records grouped into call sites while the
//! stream is read, so memory grows with distinct stacks and call sites,
//! not with events. [`CallSiteTable::finish`] gives each call site's
//! counts ([`CallSiteStats`]), biggest first.

use std::collections::BTreeMap;
use std::sync::Arc;

use metascope_events::{ClassKind, ClassView, NO_STACK};

use super::attribution::CallSiteKey;
use super::stacks::StackRef;
use crate::fast_hash::{fast_map, FastMap, FastSet};

/// Distinct loader ids kept in a list per (call site, loader type).
/// Reflection inflation makes one loader per accessor, so past this the
/// ids go to a compressed bitmap (roaring: about 2 bytes per id, however
/// sparse a call site's share of the JVM's loaders), which counts exactly
/// at a bounded cost.
pub const LOADER_ID_CAP: usize = 1_000;
/// Distinct loader ids kept in lists by all call sites together.
pub const LOADER_IDS_TOTAL: usize = 4_000_000;
/// Bytes of loader-id bitmaps for all call sites together (64 million
/// loaders at 2 bytes each); past it, only loaders newer than every one
/// seen before are counted and the count is a lower bound (see
/// [`LoaderStats::instances_past_cap`]).
pub const LOADER_BITMAP_BYTES: usize = 128 << 20;
/// What one id in a bitmap is charged: a roaring array container holds
/// 2 bytes per id; a bitmap container (dense ids) holds fewer.
const BITMAP_BYTES_PER_ID: usize = 2;

/// What all call sites together may still use to count loader ids.
#[derive(Debug, Clone, Copy)]
pub struct LoaderBudget {
    pub ids: usize,
    pub bitmap_bytes: usize,
}

impl Default for LoaderBudget {
    fn default() -> Self {
        LoaderBudget {
            ids: LOADER_IDS_TOTAL,
            bitmap_bytes: LOADER_BITMAP_BYTES,
        }
    }
}
/// Distinct thread names remembered per call site; the rest are pooled.
pub const THREAD_CAP: usize = 1_000;
/// Distinct thread names remembered by all call sites together; classes
/// defined on threads past it are pooled too.
pub const THREAD_NAMES_TOTAL: usize = 100_000;
/// Example class names kept per call site.
pub const EXAMPLES: usize = 5;

/// Everything the table knows about one call site.
#[derive(Debug, Clone)]
pub struct CallSiteStats {
    pub key: Arc<CallSiteKey>,
    pub classes: u64,
    pub kinds: BTreeMap<ClassKind, KindStats>,
    /// Per loader type, in first-seen order.
    pub loaders: Vec<(Arc<str>, LoaderCount)>,
    /// Per thread name, in first-seen order.
    pub threads: Vec<(Arc<str>, u64)>,
    /// Classes defined on threads past [`THREAD_CAP`].
    pub other_thread_classes: u64,
    pub first_t_ns: u64,
    pub last_t_ns: u64,
    pub first_wall_ms: u64,
    pub last_wall_ms: u64,
    /// Most classes defined in one whole second of the recording (seconds
    /// counted from its start), and which second.
    pub peak_per_second: u64,
    pub peak_second: u64,
}

/// Loaders of one type at one call site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderCount {
    /// Distinct instances (a lower bound when `capped`).
    pub instances: u64,
    /// More instances were seen than could be remembered.
    pub capped: bool,
    pub classes: u64,
}

/// One kind of class at one call site. Samples are kept per kind so the
/// report can show the dominant kind's stack and names, not whatever
/// one-off lambda happened to come first.
#[derive(Debug, Clone)]
pub struct KindStats {
    pub classes: u64,
    /// Up to [`EXAMPLES`] distinct class names, in capture order.
    pub examples: Vec<String>,
    /// Stack id and loader type of the first class of this kind.
    pub sample_stack: u64,
    pub sample_loader_type: Arc<str>,
}

#[derive(Debug, Clone, Default)]
pub struct LoaderStats {
    /// Distinct instances remembered: all of them up to [`LOADER_ID_CAP`]
    /// (and [`LOADER_IDS_TOTAL`] for all call sites together).
    pub instances: LoaderIds,
    /// More instances were seen than `instances` holds: the count is a
    /// lower bound.
    pub capped: bool,
    /// Instances counted past the cap, not remembered: their id was higher
    /// than every id seen before (the agent numbers loader instances in
    /// creation order), so they are certainly new. One loader per class
    /// (reflection accessors on JDK <= 17) is counted exactly this way.
    pub instances_past_cap: u64,
    pub classes: u64,
}

impl LoaderStats {
    /// Distinct instances counted (a lower bound when [`Self::capped`]).
    pub fn instance_count(&self) -> u64 {
        self.instances.len() as u64 + self.instances_past_cap
    }

    /// `budget`: what all call sites may still use.
    fn add(&mut self, id: u64, budget: &mut LoaderBudget) {
        self.classes += 1;
        if self.instances.bits.is_none()
            && (self.instances.len() >= LOADER_ID_CAP || budget.ids == 0)
        {
            self.instances.switch_to_bitmap(budget);
        }
        let room = self.instances.len() < LOADER_ID_CAP && budget.ids > 0;
        match self.instances.insert(id, room, budget) {
            Insert::Known => {}
            Insert::Added => {
                if self.instances.bits.is_none() {
                    budget.ids -= 1;
                }
            }
            Insert::NotKept { above_all } => {
                self.capped = true;
                if above_all {
                    self.instances_past_cap += 1;
                }
            }
        }
    }
}

/// A set of loader ids. The agent numbers loaders in creation order, so
/// most new ids are higher than all before: those go to a sorted vector
/// (no hashing, 8 bytes each), the rest to a hash set.
#[derive(Debug, Clone, Default)]
pub struct LoaderIds {
    ascending: Vec<u64>,
    others: FastSet<u64>,
    /// Past [`LOADER_ID_CAP`]: a compressed bitmap (replaces the two above).
    bits: Option<roaring::RoaringTreemap>,
    /// Ids set in `bits`.
    bit_count: usize,
    /// Highest id seen, remembered or not.
    max: Option<u64>,
}

enum Insert {
    Known,
    Added,
    /// Not remembered (no room); `above_all`: higher than every id seen.
    NotKept {
        above_all: bool,
    },
}

impl LoaderIds {
    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.ascending.len() + self.others.len() + self.bit_count
    }

    #[allow(dead_code)] // `len` without it is a clippy warning
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, id: u64) -> bool {
        if let Some(bits) = &self.bits {
            return bits.contains(id);
        }
        self.ascending.binary_search(&id).is_ok()
            || (!self.others.is_empty() && self.others.contains(&id))
    }

    /// Moves the remembered ids into a bitmap, if the budget allows.
    fn switch_to_bitmap(&mut self, budget: &mut LoaderBudget) {
        let ids = self.ascending.len() + self.others.len();
        let bytes = ids * BITMAP_BYTES_PER_ID;
        if bytes > budget.bitmap_bytes {
            return;
        }
        budget.bitmap_bytes -= bytes;
        budget.ids += ids;
        let mut bits = roaring::RoaringTreemap::new();
        bits.extend(self.ascending.iter().copied());
        bits.extend(self.others.iter().copied());
        self.bit_count = ids;
        self.ascending = Vec::new();
        self.others = FastSet::default();
        self.bits = Some(bits);
    }

    fn insert(&mut self, id: u64, room: bool, budget: &mut LoaderBudget) -> Insert {
        let above_all = self.max.is_none_or(|m| id > m);
        if above_all {
            self.max = Some(id);
        } else if self.contains(id) {
            return Insert::Known;
        }
        if let Some(bits) = &mut self.bits {
            if budget.bitmap_bytes < BITMAP_BYTES_PER_ID {
                return Insert::NotKept { above_all };
            }
            budget.bitmap_bytes -= BITMAP_BYTES_PER_ID;
            bits.insert(id);
            self.bit_count += 1;
            return Insert::Added;
        }
        if !room {
            return Insert::NotKept { above_all };
        }
        // Above every id seen is above every id kept: no need to look.
        if above_all || self.ascending.last().is_none_or(|&last| id > last) {
            self.ascending.push(id);
        } else {
            self.others.insert(id);
        }
        Insert::Added
    }
}

/// A call site while the stream is read. Laid out for the per-class
/// update: the counters it touches sit together, kinds are found through
/// `kind_slot`, the loader type's entry through the (stack, loader type)
/// cache, thread names are interned ids.
#[derive(Debug)]
struct SiteAcc {
    classes: u64,
    first_t_ns: u64,
    last_t_ns: u64,
    first_wall_ms: u64,
    last_wall_ms: u64,
    other_thread_classes: u64,
    /// Index into `kinds` per `ClassKind` (as `usize`), [`NO_SLOT`] if none.
    kind_slot: [u8; KIND_SLOTS],
    kinds: Vec<(ClassKind, KindStats)>,
    loaders: Vec<(u32, LoaderStats)>,
    /// (thread name id, classes), in first-seen order.
    threads: Vec<(u32, u64)>,
    /// Index into `threads` once there are many.
    thread_index: Option<FastMap<u32, usize>>,
    /// The whole second of the recording (since its start) being counted.
    rate_second: u64,
    /// Classes defined in `rate_second` so far.
    rate_count: u64,
    peak_per_second: u64,
    peak_second: u64,
}

const KIND_SLOTS: usize = ClassKind::ALL.len() + 1;
const NO_SLOT: u8 = u8::MAX;
/// `threads` entries searched linearly before an index is built.
const THREADS_SCANNED: usize = 16;

impl SiteAcc {
    fn new(c: &ClassView) -> Self {
        Self {
            classes: 0,
            first_t_ns: c.t_ns,
            last_t_ns: c.t_ns,
            first_wall_ms: c.wall_ms,
            last_wall_ms: c.wall_ms,
            other_thread_classes: 0,
            kind_slot: [NO_SLOT; KIND_SLOTS],
            kinds: Vec::new(),
            loaders: Vec::new(),
            threads: Vec::new(),
            thread_index: None,
            rate_second: 0,
            rate_count: 0,
            peak_per_second: 0,
            peak_second: 0,
        }
    }

    /// Index into `loaders` for a loader type, added if new.
    fn loader_slot(&mut self, type_id: u32) -> usize {
        match self.loaders.iter().position(|(t, _)| *t == type_id) {
            Some(i) => i,
            None => {
                self.loaders.push((type_id, LoaderStats::default()));
                self.loaders.len() - 1
            }
        }
    }

    /// `loader_slot` from [`Self::loader_slot`]; `thread_id`: `None` when
    /// past [`THREAD_NAMES_TOTAL`].
    fn add(
        &mut self,
        c: &ClassView,
        loader_slot: usize,
        thread_id: Option<u32>,
        budget: &mut LoaderBudget,
    ) {
        self.classes += 1;
        let slot = &mut self.kind_slot[c.kind as usize];
        if *slot == NO_SLOT {
            *slot = self.kinds.len() as u8;
            self.kinds.push((
                c.kind,
                KindStats {
                    classes: 0,
                    examples: Vec::new(),
                    sample_stack: c.stack,
                    sample_loader_type: c.loader_type.into(),
                },
            ));
        }
        let kind = &mut self.kinds[usize::from(*slot)].1;
        kind.classes += 1;
        if kind.examples.len() < EXAMPLES && !kind.examples.iter().any(|e| e == c.name) {
            kind.examples.push(c.name.to_string());
        }

        self.loaders[loader_slot].1.add(c.loader_id, budget);

        let found = thread_id.and_then(|t| match &self.thread_index {
            Some(index) => index.get(&t).copied(),
            None => self.threads.iter().position(|(id, _)| *id == t),
        });
        match (found, thread_id) {
            (Some(i), _) => self.threads[i].1 += 1,
            (None, Some(t)) if self.threads.len() < THREAD_CAP => {
                self.threads.push((t, 1));
                let i = self.threads.len() - 1;
                if let Some(index) = &mut self.thread_index {
                    index.insert(t, i);
                } else if self.threads.len() > THREADS_SCANNED {
                    let mut index = fast_map();
                    index.extend(self.threads.iter().enumerate().map(|(i, (t, _))| (*t, i)));
                    self.thread_index = Some(index);
                }
            }
            _ => self.other_thread_classes += 1,
        }

        // Whole seconds since the start; a class written out of order
        // counts in the current second.
        let second = c.t_ns / 1_000_000_000;
        if second > self.rate_second {
            self.rate_second = second;
            self.rate_count = 0;
        }
        self.rate_count += 1;
        if self.rate_count > self.peak_per_second {
            self.peak_per_second = self.rate_count;
            self.peak_second = self.rate_second;
        }

        // Records arrive in capture order, but agents may write them from
        // several threads, so compare rather than assume.
        if c.t_ns < self.first_t_ns {
            self.first_t_ns = c.t_ns;
            self.first_wall_ms = c.wall_ms;
        }
        if c.t_ns > self.last_t_ns {
            self.last_t_ns = c.t_ns;
            self.last_wall_ms = c.wall_ms;
        }
    }

    fn stats(
        &self,
        key: &Arc<CallSiteKey>,
        type_names: &[Arc<str>],
        thread_names: &[Arc<str>],
    ) -> CallSiteStats {
        CallSiteStats {
            key: key.clone(),
            classes: self.classes,
            kinds: self.kinds.iter().cloned().collect(),
            loaders: self
                .loaders
                .iter()
                .map(|(t, l)| {
                    let count = LoaderCount {
                        instances: l.instance_count(),
                        capped: l.capped,
                        classes: l.classes,
                    };
                    (type_names[*t as usize].clone(), count)
                })
                .collect(),
            threads: self
                .threads
                .iter()
                .map(|(t, n)| (thread_names[*t as usize].clone(), *n))
                .collect(),
            other_thread_classes: self.other_thread_classes,
            first_t_ns: self.first_t_ns,
            last_t_ns: self.last_t_ns,
            first_wall_ms: self.first_wall_ms,
            last_wall_ms: self.last_wall_ms,
            peak_per_second: self.peak_per_second,
            peak_second: self.peak_second,
        }
    }
}

impl CallSiteStats {
    /// The loaders of type `type_name`.
    #[cfg(test)]
    pub fn loader(&self, type_name: &str) -> Option<&LoaderCount> {
        self.loaders
            .iter()
            .find(|(t, _)| &**t == type_name)
            .map(|(_, l)| l)
    }

    /// Classes defined on thread `name` (unless pooled past the cap).
    #[cfg(test)]
    pub fn thread(&self, name: &str) -> Option<u64> {
        self.threads
            .iter()
            .find(|(t, _)| &**t == name)
            .map(|(_, n)| *n)
    }

    /// The kind with the most classes (ties: the first kind in
    /// `ClassKind` order), which the sample stack and examples lead with.
    pub fn dominant_kind(&self) -> Option<(ClassKind, &KindStats)> {
        self.kinds
            .iter()
            .rev()
            .max_by_key(|(_, k)| k.classes)
            .map(|(kind, stats)| (*kind, stats))
    }
}

/// Call sites keyed by attribution, with the call site of each distinct
/// (stack, loader type) cached, so a class costs one lookup.
#[derive(Debug)]
pub struct CallSiteTable {
    sites: Vec<SiteAcc>,
    /// Per site, by index.
    keys: Vec<Arc<CallSiteKey>>,
    by_key: FastMap<Arc<CallSiteKey>, usize>,
    /// (stack id, loader type id) -> (site index, index into its loaders).
    by_stack: FastMap<(u64, u32), (usize, usize)>,
    /// Loader type names, interned: distinct loader classes are few.
    type_ids: FastMap<Arc<str>, u32>,
    type_names: Vec<Arc<str>>,
    /// Thread names, interned (up to [`THREAD_NAMES_TOTAL`]).
    thread_ids: FastMap<Arc<str>, u32>,
    thread_names: Vec<Arc<str>>,
    /// What the sites may still use to count loader ids.
    loader_id_budget: LoaderBudget,
}

impl Default for CallSiteTable {
    fn default() -> Self {
        Self {
            sites: Vec::new(),
            keys: Vec::new(),
            by_key: fast_map(),
            by_stack: fast_map(),
            type_ids: fast_map(),
            type_names: Vec::new(),
            thread_ids: fast_map(),
            thread_names: Vec::new(),
            loader_id_budget: LoaderBudget::default(),
        }
    }
}

impl CallSiteTable {
    fn type_id(&mut self, type_name: &str) -> u32 {
        if let Some(&id) = self.type_ids.get(type_name) {
            return id;
        }
        let id = self.type_names.len() as u32;
        let name: Arc<str> = type_name.into();
        self.type_names.push(name.clone());
        self.type_ids.insert(name, id);
        id
    }

    fn thread_id(&mut self, thread: &str) -> Option<u32> {
        if let Some(&id) = self.thread_ids.get(thread) {
            return Some(id);
        }
        if self.thread_names.len() >= THREAD_NAMES_TOTAL {
            return None;
        }
        let id = self.thread_names.len() as u32;
        let name: Arc<str> = thread.into();
        self.thread_names.push(name.clone());
        self.thread_ids.insert(name, id);
        Some(id)
    }

    /// Adds one class and returns the index of its call site (stable until
    /// [`Self::into_sorted`]). `stack` is `None` when the record has no
    /// stack (or one that was never written).
    pub fn add<'c>(&mut self, c: impl Into<ClassView<'c>>, stack: Option<StackRef<'_>>) -> usize {
        let c = c.into();
        let type_id = self.type_id(c.loader_type);
        let (index, loader_slot) = match stack {
            Some(stack) if c.stack != NO_STACK => match self.by_stack.get(&(c.stack, type_id)) {
                Some(&cached) => cached,
                None => {
                    let key = stack.key_for(c.loader_type).clone();
                    let i = self.site_index(key, &c);
                    let slot = self.sites[i].loader_slot(type_id);
                    self.by_stack.insert((c.stack, type_id), (i, slot));
                    (i, slot)
                }
            },
            _ => {
                let i = self.site_index(CallSiteKey::StackNotCaptured, &c);
                (i, self.sites[i].loader_slot(type_id))
            }
        };
        let thread_id = self.thread_id(c.thread);
        self.sites[index].add(&c, loader_slot, thread_id, &mut self.loader_id_budget);
        index
    }

    /// The call site an unloaded class belongs to, without creating one:
    /// the site its (stack, loader type) was attributed to, else the site
    /// its stack attributes to, if any class made it.
    pub fn find(
        &self,
        stack_id: u64,
        loader_type: &str,
        stack: Option<StackRef<'_>>,
    ) -> Option<usize> {
        match stack {
            Some(stack) if stack_id != NO_STACK => {
                if let Some(&i) = self
                    .type_ids
                    .get(loader_type)
                    .and_then(|&t| self.by_stack.get(&(stack_id, t)))
                {
                    return Some(i.0);
                }
                self.by_key.get(stack.key_for(loader_type)).copied()
            }
            _ => self.by_key.get(&CallSiteKey::StackNotCaptured).copied(),
        }
    }

    /// Classes per call site so far, by index.
    pub fn site_classes(&self) -> Vec<u64> {
        self.sites.iter().map(|s| s.classes).collect()
    }

    fn site_index(&mut self, key: CallSiteKey, c: &ClassView) -> usize {
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        let i = self.sites.len();
        self.sites.push(SiteAcc::new(c));
        let key = Arc::new(key);
        self.keys.push(key.clone());
        self.by_key.insert(key, i);
        i
    }

    /// Call sites, biggest first; ties go to the one that started earlier,
    /// then by name so output is stable.
    #[cfg(test)]
    pub fn into_sorted(self) -> Vec<CallSiteStats> {
        self.finish().sites
    }

    /// The call sites so far, sorted ([`Self::into_sorted`]'s order), and
    /// where each index returned by [`Self::add`] is in that order.
    pub fn finish(&self) -> SortedSites {
        let (types, threads) = (&self.type_names, &self.thread_names);
        let mut sites: Vec<(usize, CallSiteStats)> = self
            .sites
            .iter()
            .zip(&self.keys)
            .map(|(s, key)| s.stats(key, types, threads))
            .enumerate()
            .collect();
        sites.sort_by(|(_, a), (_, b)| {
            b.classes
                .cmp(&a.classes)
                .then(a.first_t_ns.cmp(&b.first_t_ns))
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut sorted_index = vec![0; sites.len()];
        for (sorted, (original, _)) in sites.iter().enumerate() {
            sorted_index[*original] = sorted;
        }
        SortedSites {
            sites: sites.into_iter().map(|(_, s)| s).collect(),
            sorted_index,
        }
    }
}

/// The call sites, biggest first.
#[derive(Debug, Clone)]
pub struct SortedSites {
    pub sites: Vec<CallSiteStats>,
    /// Position in `sites` of each index [`CallSiteTable::add`] returned.
    pub sorted_index: Vec<usize>,
}

impl SortedSites {
    /// Where the call site `index` (as [`CallSiteTable::add`] returned it)
    /// is in `sites`.
    pub fn sorted(&self, index: usize) -> Option<usize> {
        self.sorted_index.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribution::tests::{frame, spring_copy_properties_stack};
    use crate::analyze::attribution::Ownership;
    use crate::analyze::code_sources::CodeSources;
    use crate::analyze::stacks::StackStore;
    use metascope_events::{ClassDefined, ClassEvent, Frame, LoaderRef, StackTrace};

    /// The stacks, by id, as the reader keeps them.
    fn stacks(stacks: Vec<(u64, Vec<Frame>)>) -> StackStore {
        let mut store = StackStore::new(u64::MAX);
        for (id, frames) in stacks {
            store.insert(
                StackTrace { id, frames },
                &CodeSources::default(),
                &Ownership::default(),
            );
        }
        store
    }

    fn class(seq: u64, kind: ClassKind, loader: u64, thread: &str, stack: u64) -> ClassDefined {
        ClassDefined {
            seq,
            name: format!("jdk.internal.reflect.GeneratedMethodAccessor{seq}"),
            kind,
            loader: LoaderRef {
                id: loader,
                type_name: "jdk.internal.reflect.DelegatingClassLoader".into(),
            },
            hidden: false,
            thread: thread.into(),
            t_ns: seq * 1_000_000,
            wall_ms: 1_700_000_000_000 + seq,
            event: ClassEvent::Load,
            stack,
            target: None,
            fingerprint: None,
        }
    }

    #[test]
    fn groups_by_call_site_and_sorts_biggest_first() {
        let spring = spring_copy_properties_stack();
        // A second stack reaching the same line through the other overload
        // attributes to the same call site.
        let mut spring_other_path = spring.clone();
        spring_other_path.remove(9);
        let direct = vec![
            frame("java.lang.reflect.Method", "invoke", 568),
            frame("com.acme.rules.RuleRunner", "fire", 88),
        ];

        let store = stacks(vec![(5, direct), (1, spring), (2, spring_other_path)]);

        let mut table = CallSiteTable::default();
        table.add(
            &class(1, ClassKind::ReflectionAccessor, 10, "main", 5),
            store.get(5),
        );
        for seq in 2..6 {
            table.add(
                &class(seq, ClassKind::ReflectionAccessor, 10 + seq, "main", 1),
                store.get(1),
            );
        }
        table.add(&class(6, ClassKind::Proxy, 99, "worker-1", 2), store.get(2));
        table.add(&class(7, ClassKind::Lambda, 1, "main", NO_STACK), None);
        table.add(&class(8, ClassKind::Lambda, 1, "main", NO_STACK), None);

        let sites = table.into_sorted();
        assert_eq!(sites.len(), 3);
        let top = &sites[0];
        assert_eq!(top.classes, 5);
        assert_eq!(
            top.key.display(),
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
        let accessors = &top.kinds[&ClassKind::ReflectionAccessor];
        assert_eq!(accessors.classes, 4);
        assert_eq!(top.kinds[&ClassKind::Proxy].classes, 1);
        let loader = top
            .loader("jdk.internal.reflect.DelegatingClassLoader")
            .unwrap();
        assert_eq!((loader.instances, loader.classes), (5, 5));
        assert_eq!(top.thread("main"), Some(4));
        assert_eq!(top.thread("worker-1"), Some(1));
        assert_eq!((top.first_t_ns, top.last_t_ns), (2_000_000, 6_000_000));
        assert_eq!(accessors.examples.len(), 4);
        assert_eq!(accessors.sample_stack, 1);
        assert_eq!(top.kinds[&ClassKind::Proxy].sample_stack, 2);
        assert_eq!(
            top.dominant_kind().unwrap().0,
            ClassKind::ReflectionAccessor
        );

        // Two stackless classes beat the single direct one; ties would go to
        // the earlier site.
        assert_eq!(*sites[1].key, CallSiteKey::StackNotCaptured);
        assert_eq!(sites[1].classes, 2);
        assert_eq!(sites[2].classes, 1);
    }

    #[test]
    fn equal_sizes_sort_by_first_seen() {
        let a = vec![frame("com.acme.A", "a", 1)];
        let b = vec![frame("com.acme.B", "b", 1)];
        let store = stacks(vec![(1, a), (2, b)]);
        let mut table = CallSiteTable::default();
        table.add(&class(2, ClassKind::Proxy, 1, "main", 2), store.get(2));
        table.add(&class(1, ClassKind::Proxy, 1, "main", 1), store.get(1));
        let sites = table.into_sorted();
        assert!(sites[0].key.display().starts_with("com.acme.A.a"));
    }

    /// Past the list cap the ids go to a bitmap: the count stays exact
    /// even when many threads make the ids arrive out of order (it used to
    /// become a lower bound there: issue 9's torture run counted 8,283 of
    /// 10,508 loaders).
    #[test]
    fn loader_instances_past_the_cap_are_counted_exactly() {
        let store = stacks(vec![(1, vec![frame("com.acme.A", "a", 1)])]);
        let mut table = CallSiteTable::default();
        let n = 3 * LOADER_ID_CAP as u64;
        // Out of order: odd ids first, then even ones, each twice.
        let ids = (0..n)
            .filter(|i| i % 2 == 1)
            .chain((0..n).filter(|i| i % 2 == 0));
        for (seq, id) in ids.clone().chain(ids).enumerate() {
            table.add(
                &class(seq as u64, ClassKind::ReflectionAccessor, id + 1, "main", 1),
                store.get(1),
            );
        }
        let sites = table.into_sorted();
        let loader = sites[0]
            .loader("jdk.internal.reflect.DelegatingClassLoader")
            .unwrap();
        assert_eq!(loader.instances, n);
        assert!(!loader.capped);
        assert_eq!(loader.classes, 2 * n);
    }

    /// A call site with every 800th loader of the JVM (one accessor site
    /// among many) costs bytes per id it holds, not per loader the JVM
    /// made: 10 million loaders spread over sites fit the budget.
    #[test]
    fn a_sparse_sites_loader_ids_cost_what_it_holds() {
        let mut stats = LoaderStats::default();
        let mut budget = LoaderBudget::default();
        let n = 5_000u64;
        for i in 1..=n {
            stats.add(i * 800, &mut budget);
        }
        assert_eq!((stats.instance_count(), stats.capped), (n, false));
        let spent = LOADER_BITMAP_BYTES - budget.bitmap_bytes;
        assert!(spent <= n as usize * BITMAP_BYTES_PER_ID, "{spent} bytes");
    }

    #[test]
    fn loader_instances_become_a_lower_bound_when_the_bitmaps_are_spent() {
        let mut stats = LoaderStats::default();
        let mut budget = LoaderBudget {
            ids: LOADER_IDS_TOTAL,
            bitmap_bytes: 8,
        };
        for id in 1..=(LOADER_ID_CAP as u64 + 100) {
            stats.add(id * 1_000, &mut budget);
        }
        assert!(stats.capped);
        assert_eq!(stats.instance_count(), LOADER_ID_CAP as u64 + 100);
        stats.add(5, &mut budget);
        assert_eq!(
            stats.instance_count(),
            LOADER_ID_CAP as u64 + 100,
            "an old id past the cap is not counted"
        );
    }
}
