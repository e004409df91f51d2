//! Aggregates class records into call sites while the stream is read, so
//! memory grows with distinct stacks and call sites, not with events.

use std::collections::{BTreeMap, HashMap, HashSet};

use metascope_events::{ClassDefined, ClassKind, Frame, NO_STACK};

use crate::callsite::{attribute, CallSiteKey, Libraries};

/// Distinct loader ids remembered per (call site, loader type). Reflection
/// inflation makes one loader per accessor, so an exact count would grow
/// with events; past this the count is reported as a lower bound.
pub const LOADER_ID_CAP: usize = 10_000;
/// Distinct thread names remembered per call site; the rest are pooled.
pub const THREAD_CAP: usize = 1_000;
/// Example class names kept per call site.
pub const EXAMPLES: usize = 5;

/// Everything the report says about one call site.
#[derive(Debug, Clone)]
pub struct CallSiteStats {
    pub key: CallSiteKey,
    pub classes: u64,
    pub kinds: BTreeMap<ClassKind, KindStats>,
    pub loaders: BTreeMap<String, LoaderStats>,
    pub threads: HashMap<String, u64>,
    /// Classes defined on threads past [`THREAD_CAP`].
    pub other_thread_classes: u64,
    pub first_t_ns: u64,
    pub last_t_ns: u64,
    pub first_wall_ms: u64,
    pub last_wall_ms: u64,
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
    pub sample_loader_type: String,
}

#[derive(Debug, Clone, Default)]
pub struct LoaderStats {
    pub instances: HashSet<u64>,
    /// More than [`LOADER_ID_CAP`] instances were seen.
    pub capped: bool,
    pub classes: u64,
}

impl CallSiteStats {
    fn new(key: CallSiteKey, c: &ClassDefined) -> Self {
        Self {
            key,
            classes: 0,
            kinds: BTreeMap::new(),
            loaders: BTreeMap::new(),
            threads: HashMap::new(),
            other_thread_classes: 0,
            first_t_ns: c.t_ns,
            last_t_ns: c.t_ns,
            first_wall_ms: c.wall_ms,
            last_wall_ms: c.wall_ms,
        }
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

    fn add(&mut self, c: &ClassDefined) {
        self.classes += 1;
        let kind = self.kinds.entry(c.kind).or_insert_with(|| KindStats {
            classes: 0,
            examples: Vec::new(),
            sample_stack: c.stack,
            sample_loader_type: c.loader.type_name.clone(),
        });
        kind.classes += 1;
        if kind.examples.len() < EXAMPLES && !kind.examples.contains(&c.name) {
            kind.examples.push(c.name.clone());
        }

        let loader = self.loaders.entry(c.loader.type_name.clone()).or_default();
        loader.classes += 1;
        if loader.instances.len() < LOADER_ID_CAP {
            loader.instances.insert(c.loader.id);
        } else if !loader.instances.contains(&c.loader.id) {
            loader.capped = true;
        }

        if let Some(n) = self.threads.get_mut(&c.thread) {
            *n += 1;
        } else if self.threads.len() < THREAD_CAP {
            self.threads.insert(c.thread.clone(), 1);
        } else {
            self.other_thread_classes += 1;
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
}

/// Call sites keyed by attribution, with attribution cached per distinct
/// (stack, loader type) so each stack is walked once.
#[derive(Debug, Default)]
pub struct CallSiteTable {
    sites: Vec<CallSiteStats>,
    by_key: HashMap<CallSiteKey, usize>,
    /// stack id -> [(loader type, site index)]; loader types per stack are few.
    by_stack: HashMap<u64, Vec<(String, usize)>>,
}

impl CallSiteTable {
    /// Adds one class and returns the index of its call site (stable until
    /// [`Self::into_sorted`]). `frames` is `None` when the record has no
    /// stack (or one that was never written).
    pub fn add(
        &mut self,
        c: &ClassDefined,
        frames: Option<&[Frame]>,
        libraries: &Libraries,
    ) -> usize {
        let index = match frames {
            Some(frames) if c.stack != NO_STACK => {
                let cached = self.by_stack.get(&c.stack).and_then(|v| {
                    v.iter()
                        .find(|(t, _)| *t == c.loader.type_name)
                        .map(|(_, i)| *i)
                });
                match cached {
                    Some(i) => i,
                    None => {
                        let key = attribute(frames, &c.loader.type_name, libraries).key;
                        let i = self.site_index(key, c);
                        self.by_stack
                            .entry(c.stack)
                            .or_default()
                            .push((c.loader.type_name.clone(), i));
                        i
                    }
                }
            }
            _ => self.site_index(CallSiteKey::StackNotCaptured, c),
        };
        self.sites[index].add(c);
        index
    }

    /// The call site an unloaded class belongs to, without creating one:
    /// the site its (stack, loader type) was attributed to, else the site
    /// its frames attribute to, if any class made it.
    pub fn find(
        &self,
        stack: u64,
        loader_type: &str,
        frames: Option<&[Frame]>,
        libraries: &Libraries,
    ) -> Option<usize> {
        match frames {
            Some(frames) if stack != NO_STACK => {
                if let Some(i) = self
                    .by_stack
                    .get(&stack)
                    .and_then(|v| v.iter().find(|(t, _)| t == loader_type).map(|(_, i)| *i))
                {
                    return Some(i);
                }
                let key = attribute(frames, loader_type, libraries).key;
                self.by_key.get(&key).copied()
            }
            _ => self.by_key.get(&CallSiteKey::StackNotCaptured).copied(),
        }
    }

    /// Classes per call site so far, by index.
    pub fn site_classes(&self) -> Vec<u64> {
        self.sites.iter().map(|s| s.classes).collect()
    }

    fn site_index(&mut self, key: CallSiteKey, c: &ClassDefined) -> usize {
        if let Some(&i) = self.by_key.get(&key) {
            return i;
        }
        let i = self.sites.len();
        self.sites.push(CallSiteStats::new(key.clone(), c));
        self.by_key.insert(key, i);
        i
    }

    /// Call sites, biggest first; ties go to the one that started earlier,
    /// then by name so output is stable.
    #[cfg(test)]
    pub fn into_sorted(self) -> Vec<CallSiteStats> {
        self.into_sorted_with_index().0
    }

    /// [`Self::into_sorted`], plus where each index returned by
    /// [`Self::add`] ended up in the sorted list.
    pub fn into_sorted_with_index(self) -> (Vec<CallSiteStats>, Vec<usize>) {
        let mut sites: Vec<(usize, CallSiteStats)> = self.sites.into_iter().enumerate().collect();
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
        (sites.into_iter().map(|(_, s)| s).collect(), sorted_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callsite::tests::{frame, spring_copy_properties_stack};
    use metascope_events::{ClassEvent, LoaderRef};

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
        let libs = Libraries::default();
        let spring = spring_copy_properties_stack();
        // A second stack reaching the same line through the other overload
        // attributes to the same call site.
        let mut spring_other_path = spring.clone();
        spring_other_path.remove(9);
        let direct = vec![
            frame("java.lang.reflect.Method", "invoke", 568),
            frame("com.acme.rules.RuleRunner", "fire", 88),
        ];

        let mut table = CallSiteTable::default();
        table.add(
            &class(1, ClassKind::ReflectionAccessor, 10, "main", 5),
            Some(&direct),
            &libs,
        );
        for seq in 2..6 {
            table.add(
                &class(seq, ClassKind::ReflectionAccessor, 10 + seq, "main", 1),
                Some(&spring),
                &libs,
            );
        }
        table.add(
            &class(6, ClassKind::Proxy, 99, "worker-1", 2),
            Some(&spring_other_path),
            &libs,
        );
        table.add(
            &class(7, ClassKind::Lambda, 1, "main", NO_STACK),
            None,
            &libs,
        );
        table.add(
            &class(8, ClassKind::Lambda, 1, "main", NO_STACK),
            None,
            &libs,
        );

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
        let loader = &top.loaders["jdk.internal.reflect.DelegatingClassLoader"];
        assert_eq!((loader.instances.len(), loader.classes), (5, 5));
        assert_eq!(top.threads["main"], 4);
        assert_eq!(top.threads["worker-1"], 1);
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
        assert_eq!(sites[1].key, CallSiteKey::StackNotCaptured);
        assert_eq!(sites[1].classes, 2);
        assert_eq!(sites[2].classes, 1);
    }

    #[test]
    fn equal_sizes_sort_by_first_seen() {
        let libs = Libraries::default();
        let a = vec![frame("com.acme.A", "a", 1)];
        let b = vec![frame("com.acme.B", "b", 1)];
        let mut table = CallSiteTable::default();
        table.add(&class(2, ClassKind::Proxy, 1, "main", 2), Some(&b), &libs);
        table.add(&class(1, ClassKind::Proxy, 1, "main", 1), Some(&a), &libs);
        let sites = table.into_sorted();
        assert!(sites[0].key.display().starts_with("com.acme.A.a"));
    }

    #[test]
    fn loader_instances_stop_counting_at_the_cap() {
        let libs = Libraries::default();
        let stack = vec![frame("com.acme.A", "a", 1)];
        let mut table = CallSiteTable::default();
        for seq in 0..(LOADER_ID_CAP as u64 + 2) {
            table.add(
                &class(seq, ClassKind::ReflectionAccessor, seq, "main", 1),
                Some(&stack),
                &libs,
            );
        }
        let sites = table.into_sorted();
        let loader = &sites[0].loaders["jdk.internal.reflect.DelegatingClassLoader"];
        assert_eq!(loader.instances.len(), LOADER_ID_CAP);
        assert!(loader.capped);
        assert_eq!(loader.classes, LOADER_ID_CAP as u64 + 2);
    }
}
