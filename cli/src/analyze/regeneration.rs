//! Per call site: is it defining the same generated class again? Each
//! class's identity (the accessor's target, else the class-file
//! fingerprint, else a name without a counter), every redefinition of a
//! tracked identity and what came between (a GC, another thread, another
//! loader instance), GC-separated bursts and unloads (docs/diagnosis.md).
//! And how many classes each call of the site defines ([`CallShape`]).
//!
//! Memory grows with call sites and distinct identities (capped per site
//! and in total), never with events.

use std::collections::HashSet;

use metascope_events::{ClassUnloaded, ClassView};
use serde::Serialize;

use crate::fast_hash::{hash_str, FastMap, FastState};

/// Distinct targets/fingerprints/names tracked per call site.
pub const KEYS_PER_SITE: usize = 10_000;
/// Distinct targets/fingerprints/names tracked in total.
pub const KEYS_TOTAL: usize = 200_000;
/// Identities listed per call site ([`SiteRegeneration::top_keys`]).
pub const TARGETS_SHOWN: usize = 20;
/// Two definitions of one target closer than this, on different threads,
/// with no GC between: an inflation race.
pub const RACE_WINDOW_NS: u64 = 1_000_000_000;
/// Threads remembered per call site as having taken part in races.
const RACE_THREADS_CAP: usize = 1_000;
/// Threads whose current call is followed per call site; past it, the
/// thread seen least recently has its call closed.
const CALL_THREADS: usize = 16;
/// Classes per call counted as such; bigger calls count as this many.
pub const CLASSES_PER_CALL_CAP: usize = 16;
/// Stacks remembered per open call (a call with more is not small).
const CALL_STACKS: usize = 32;

/// What identifies "the same generated class" across definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// The accessor's decoded target (`class.target`).
    Target = 0,
    /// The class-file fingerprint (`class.fingerprint`).
    Fingerprint = 1,
    /// The class name, when it carries no counter (a generator that reuses
    /// the name in every new loader).
    Name = 2,
}

const IDENTITIES: [Identity; 3] = [Identity::Target, Identity::Fingerprint, Identity::Name];

/// What a call site's distinct count rests on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityUsed {
    Target,
    Fingerprint,
    Name,
    /// Replacements: where classes carry no target or fingerprint (a JFR
    /// recording), a class defined at a call site after a class of the same
    /// name pattern (the name without its counter) of that site was
    /// unloaded is that class again.
    Replacement,
    /// More than one of the above.
    Mixed,
    /// Nothing identified: every class counts as distinct, regeneration
    /// is unknown.
    #[default]
    None,
}

#[derive(Debug, Clone)]
struct KeyState {
    defined: u64,
    /// Unloads matched by target/fingerprint; names are not in unload
    /// records, so always 0 for [`Identity::Name`].
    unloaded: u64,
    last_t_ns: u64,
    last_gc: u64,
    last_thread: u64,
    last_loader: u64,
}

/// Per call site, while reading.
#[derive(Debug, Clone, Default)]
struct SiteTracker {
    defined: u64,
    unloaded: u64,
    /// Tracked keys, by [`Identity`].
    keys: [FastMap<Box<str>, KeyState>; 3],
    untracked: u64,
    unidentified: u64,
    regen_after_gc: u64,
    regen_race: u64,
    regen_new_loader: u64,
    /// Threads seen in races (hashes), capped.
    race_threads: HashSet<u64>,
    gc_epochs: u64,
    defs_after_unload: u64,
    last_gc: u64,
    /// Unloaded classes without target or fingerprint not replaced yet, by
    /// name pattern (unload records with a name: JFR conversions).
    unloaded_patterns: FastMap<Box<str>, u64>,
    /// Definitions that replaced one of those: regenerations.
    replaced: u64,
    calls: Calls,
}

impl SiteTracker {
    fn tracked(&self) -> usize {
        self.keys.iter().map(FastMap::len).sum()
    }
}

/// One identity with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    pub identity: Identity,
    pub key: String,
    pub defined: u64,
    /// `None` for [`Identity::Name`] (unload records carry no name).
    pub unloaded: Option<u64>,
}

/// What the tracker found at one call site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteRegeneration {
    pub defined: u64,
    pub unloaded: u64,
    /// Distinct classes: tracked identities, plus every class without a
    /// tracked identity (each its own).
    pub distinct: u64,
    /// Classes with an identity past the caps (each counted distinct):
    /// `distinct` is an upper bound.
    pub untracked: u64,
    /// Classes without a usable identity.
    pub unidentified: u64,
    /// Redefinitions of a tracked identity with a GC since the previous one.
    pub regenerated_after_gc: u64,
    /// ... no GC, within [`RACE_WINDOW_NS`], on another thread.
    pub regenerated_in_race: u64,
    /// Redefinitions in another loader instance than the previous one.
    pub regenerated_in_new_loader: u64,
    /// Threads that took part in races.
    pub race_threads: u64,
    /// Definitions with a GC since the site's previous definition: the
    /// GC-separated bursts the site defined in, minus one.
    pub gc_epochs: u64,
    /// Definitions made after classes of this site had been unloaded.
    pub defined_after_unload: u64,
    /// What `distinct` rests on.
    pub identity: IdentityUsed,
    /// The most defined identities, most first (ties by key), at most
    /// [`TARGETS_SHOWN`].
    pub top_keys: Vec<KeyCount>,
    /// How many classes each call of the site defined.
    pub calls: CallShape,
}

/// The calls of a call site, as the classes show them: consecutive
/// definitions at the site on one thread, in one loader, none of them from
/// a stack already seen in the call (the same line again is the next call),
/// make one call. A loader that is new for the call (created after every
/// loader the site used before) is one created per call. Hidden classes
/// (the JVM's lambdas and LambdaForms, spun between anything) are left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallShape {
    pub calls: u64,
    /// The most common number of classes per call (ties: the smaller;
    /// [`CLASSES_PER_CALL_CAP`] means at least that many).
    pub classes_per_call: u64,
    /// Calls that defined exactly that many.
    pub calls_with_that_many: u64,
    /// Calls that began in a loader new for them.
    pub calls_in_new_loader: u64,
}

/// A call still open on one thread.
#[derive(Debug, Clone)]
struct OpenCall {
    thread: u64,
    loader: u64,
    stacks: Vec<u64>,
    classes: u64,
    in_new_loader: bool,
    last_seen: u64,
}

/// Splits a site's classes into calls ([`CallShape`]).
#[derive(Debug, Clone, Default)]
struct Calls {
    open: Vec<OpenCall>,
    /// Closed calls by classes defined (the last: that many or more).
    by_size: [u64; CLASSES_PER_CALL_CAP + 1],
    in_new_loader: u64,
    /// The highest loader id the site used (ids grow with creation).
    newest_loader: Option<u64>,
    clock: u64,
}

impl Calls {
    fn class(&mut self, thread: u64, loader: u64, stack: u64) {
        self.clock += 1;
        let new_loader = self.newest_loader.is_none_or(|newest| loader > newest);
        if new_loader {
            self.newest_loader = Some(loader);
        }
        let slot = match self.open.iter().position(|c| c.thread == thread) {
            Some(i) => {
                let call = &mut self.open[i];
                if call.loader == loader && !call.stacks.contains(&stack) {
                    call.classes += 1;
                    call.last_seen = self.clock;
                    if call.stacks.len() < CALL_STACKS {
                        call.stacks.push(stack);
                    }
                    return;
                }
                i
            }
            None if self.open.len() < CALL_THREADS => {
                self.open.push(OpenCall {
                    thread,
                    loader,
                    stacks: vec![stack],
                    classes: 1,
                    in_new_loader: new_loader,
                    last_seen: self.clock,
                });
                return;
            }
            None => {
                let (i, _) = self
                    .open
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, c)| c.last_seen)
                    .expect("CALL_THREADS > 0");
                i
            }
        };
        // The slot's call ends; a new one starts in it (its stack list
        // reused: no allocation per class).
        let (classes, in_new) = (self.open[slot].classes, self.open[slot].in_new_loader);
        self.close_counts(classes, in_new);
        let call = &mut self.open[slot];
        call.thread = thread;
        call.loader = loader;
        call.stacks.clear();
        call.stacks.push(stack);
        call.classes = 1;
        call.in_new_loader = new_loader;
        call.last_seen = self.clock;
    }

    fn close(&mut self, call: &OpenCall) {
        self.close_counts(call.classes, call.in_new_loader);
    }

    fn close_counts(&mut self, classes: u64, in_new_loader: bool) {
        self.by_size[(classes as usize).min(CLASSES_PER_CALL_CAP)] += 1;
        self.in_new_loader += u64::from(in_new_loader);
    }

    /// The shape so far, open calls included.
    fn shape(&self) -> CallShape {
        let mut all = self.clone();
        for call in &self.open {
            all.close(call);
        }
        let (size, &count) = all
            .by_size
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, n)| **n)
            .expect("non-empty");
        CallShape {
            calls: all.by_size.iter().sum(),
            classes_per_call: if count == 0 { 0 } else { size as u64 },
            calls_with_that_many: count,
            calls_in_new_loader: all.in_new_loader,
        }
    }
}

impl SiteRegeneration {
    pub fn live(&self) -> u64 {
        self.defined.saturating_sub(self.unloaded)
    }

    pub fn regenerated(&self) -> u64 {
        self.defined.saturating_sub(self.distinct)
    }

    /// Share of classes that had an identity.
    pub fn identified_share(&self) -> f64 {
        if self.defined == 0 {
            return 0.0;
        }
        (self.defined - self.unidentified.min(self.defined)) as f64 / self.defined as f64
    }
}

/// Fed while reading; see the module docs.
#[derive(Debug, Default)]
pub struct Regeneration {
    sites: Vec<SiteTracker>,
    gcs: u64,
    keys_total: usize,
    /// Hashes thread names (the same state for the whole recording).
    hasher: FastState,
    /// Unloads of classes no call site matched.
    unmatched_unloads: u64,
}

/// A class name that identifies the generated code: not hidden and not
/// ending in a counter (`$Proxy12`, `GeneratedMethodAccessor7`, `Script3`).
fn name_identity<'a>(c: &ClassView<'a>) -> Option<&'a str> {
    // The counter first: most generated names end in one, and then the
    // name need not be scanned for a hidden class's `/`.
    let last = *c.name.as_bytes().last()?;
    if c.hidden || last.is_ascii_digit() || c.name.contains('/') {
        return None;
    }
    Some(c.name)
}

/// The name without its counter and a hidden class's address:
/// `jdk.internal.reflect.GeneratedMethodAccessor17` and `...Accessor3`
/// share `jdk.internal.reflect.GeneratedMethodAccessor`.
fn name_pattern(name: &str) -> &str {
    let name = name.split_once('/').map_or(name, |(base, _)| base);
    name.trim_end_matches(|c: char| c.is_ascii_digit())
}

fn identity_of<'a>(c: &ClassView<'a>) -> Option<(Identity, &'a str)> {
    if let Some(t) = c.target {
        Some((Identity::Target, t))
    } else if let Some(f) = c.fingerprint {
        Some((Identity::Fingerprint, f))
    } else {
        name_identity(c).map(|n| (Identity::Name, n))
    }
}

impl Regeneration {
    fn site(&mut self, i: usize) -> &mut SiteTracker {
        if self.sites.len() <= i {
            self.sites.resize_with(i + 1, SiteTracker::default);
        }
        &mut self.sites[i]
    }

    pub fn gc_start(&mut self) {
        self.gcs += 1;
    }

    /// GCs started so far.
    pub fn gcs(&self) -> u64 {
        self.gcs
    }

    /// Unloads no call site matched (their class record was dropped, or
    /// they are `ordinary` and hidden).
    pub fn unmatched_unloads(&self) -> u64 {
        self.unmatched_unloads
    }

    /// A class defined at call site `site`.
    pub fn class(&mut self, site: usize, c: &ClassView<'_>) {
        let gcs = self.gcs;
        let can_track = self.keys_total < KEYS_TOTAL;
        let hasher = self.hasher.clone();
        let s = self.site(site);
        if s.defined > 0 && gcs > s.last_gc {
            s.gc_epochs += 1;
        }
        if s.unloaded > 0 {
            s.defs_after_unload += 1;
        }
        s.last_gc = gcs;
        s.defined += 1;
        let thread = hash_str(&hasher, c.thread);
        // Hidden classes (the JVM's lambdas and LambdaForms, interleaved
        // with anything) have no bytes to compare: not part of calls.
        if !c.hidden {
            s.calls.class(thread, c.loader_id, c.stack);
        }
        let Some((identity, key)) = identity_of(c) else {
            // The class again, when it replaces an unloaded one of its
            // pattern (an unload comes with a GC).
            // No pattern to hash until a class of the site has unloaded.
            let replaces = match s.unloaded_patterns.is_empty() {
                true => None,
                false => s.unloaded_patterns.get_mut(name_pattern(c.name)),
            };
            match replaces {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    s.replaced += 1;
                    s.regen_after_gc += 1;
                }
                _ => s.unidentified += 1,
            }
            return;
        };
        if let Some(k) = s.keys[identity as usize].get_mut(key) {
            if gcs > k.last_gc {
                s.regen_after_gc += 1;
            } else if c.t_ns.abs_diff(k.last_t_ns) <= RACE_WINDOW_NS && thread != k.last_thread {
                s.regen_race += 1;
                if s.race_threads.len() < RACE_THREADS_CAP {
                    s.race_threads.insert(thread);
                    s.race_threads.insert(k.last_thread);
                }
            }
            if c.loader_id != k.last_loader {
                s.regen_new_loader += 1;
            }
            k.defined += 1;
            k.last_t_ns = c.t_ns;
            k.last_gc = gcs;
            k.last_thread = thread;
            k.last_loader = c.loader_id;
        } else if can_track && s.tracked() < KEYS_PER_SITE {
            let state = KeyState {
                defined: 1,
                unloaded: 0,
                last_t_ns: c.t_ns,
                last_gc: gcs,
                last_thread: thread,
                last_loader: c.loader_id,
            };
            s.keys[identity as usize].insert(key.into(), state);
            self.keys_total += 1;
        } else {
            s.untracked += 1;
        }
    }

    /// A class was unloaded; `site` is its call site when one matched.
    pub fn class_unload(&mut self, site: Option<usize>, u: &ClassUnloaded) {
        let Some(s) = site.and_then(|i| self.sites.get_mut(i)) else {
            self.unmatched_unloads += 1;
            return;
        };
        s.unloaded += 1;
        let key = match (&u.target, &u.fingerprint) {
            (Some(t), _) => Some((Identity::Target, t)),
            (None, Some(f)) => Some((Identity::Fingerprint, f)),
            _ => None,
        };
        if let Some((identity, key)) = key {
            if let Some(k) = s.keys[identity as usize].get_mut(key.as_str()) {
                k.unloaded += 1;
            }
        } else if let Some(name) = &u.name {
            let pattern = name_pattern(name);
            if let Some(n) = s.unloaded_patterns.get_mut(pattern) {
                *n += 1;
            } else if s.unloaded_patterns.len() < KEYS_PER_SITE {
                s.unloaded_patterns.insert(pattern.into(), 1);
            }
        }
    }

    /// What was found at call site `index` (as the call-site table
    /// numbers them).
    pub fn finish(&self, index: usize) -> SiteRegeneration {
        let Some(s) = self.sites.get(index) else {
            return SiteRegeneration::default();
        };
        let used: Vec<Identity> = IDENTITIES
            .into_iter()
            .filter(|i| !s.keys[*i as usize].is_empty())
            .collect();
        let identity = match used.as_slice() {
            [] if s.replaced > 0 => IdentityUsed::Replacement,
            _ if s.replaced > 0 => IdentityUsed::Mixed,
            [] => IdentityUsed::None,
            [Identity::Target] => IdentityUsed::Target,
            [Identity::Fingerprint] => IdentityUsed::Fingerprint,
            [Identity::Name] => IdentityUsed::Name,
            _ => IdentityUsed::Mixed,
        };
        SiteRegeneration {
            defined: s.defined,
            unloaded: s.unloaded,
            distinct: s.tracked() as u64 + s.untracked + s.unidentified,
            untracked: s.untracked,
            unidentified: s.unidentified,
            regenerated_after_gc: s.regen_after_gc,
            regenerated_in_race: s.regen_race,
            regenerated_in_new_loader: s.regen_new_loader,
            race_threads: s.race_threads.len() as u64,
            gc_epochs: s.gc_epochs,
            defined_after_unload: s.defs_after_unload,
            identity,
            top_keys: top_keys(s, TARGETS_SHOWN),
            calls: s.calls.shape(),
        }
    }
}

/// The `n` most defined keys, most first (ties by key).
fn top_keys(s: &SiteTracker, n: usize) -> Vec<KeyCount> {
    let mut all: Vec<(Identity, &str, &KeyState)> = IDENTITIES
        .into_iter()
        .flat_map(|i| {
            s.keys[i as usize]
                .iter()
                .map(move |(k, state)| (i, k.as_ref(), state))
        })
        .collect();
    let by_count = |a: &(Identity, &str, &KeyState), b: &(Identity, &str, &KeyState)| {
        b.2.defined.cmp(&a.2.defined).then(a.1.cmp(b.1))
    };
    if all.len() > n {
        all.select_nth_unstable_by(n, by_count);
        all.truncate(n);
    }
    all.sort_by(by_count);
    all.into_iter()
        .map(|(identity, key, state)| KeyCount {
            identity,
            key: key.to_string(),
            defined: state.defined,
            unloaded: (identity != Identity::Name).then_some(state.unloaded),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use metascope_events::{ClassDefined, ClassEvent, ClassKind, LoaderRef};

    fn class(seq: u64, name: &str, target: Option<&str>, thread: &str, t_ns: u64) -> ClassDefined {
        ClassDefined {
            seq,
            name: name.into(),
            kind: ClassKind::ReflectionAccessor,
            loader: LoaderRef {
                id: seq,
                type_name: "L".into(),
            },
            hidden: false,
            thread: thread.into(),
            t_ns,
            wall_ms: 0,
            event: ClassEvent::Load,
            stack: 1,
            target: target.map(String::from),
            fingerprint: None,
        }
    }

    #[test]
    fn redefinitions_are_told_apart_by_what_came_between() {
        let mut r = Regeneration::default();
        let t = Some("a.B.c()V");
        r.class(0, &(&class(1, "G1", t, "main", 0)).into());
        r.gc_start();
        r.class(0, &(&class(2, "G2", t, "main", 10)).into());
        r.class(0, &(&class(3, "G3", t, "other", 20)).into());
        r.class(0, &(&class(4, "G4", None, "main", 30)).into());
        let s = r.finish(0);
        assert_eq!((s.defined, s.distinct, s.regenerated()), (4, 2, 2));
        assert_eq!((s.regenerated_after_gc, s.regenerated_in_race), (1, 1));
        assert_eq!((s.regenerated_in_new_loader, s.race_threads), (2, 2));
        assert_eq!((s.gc_epochs, s.identity), (1, IdentityUsed::Target));
        assert_eq!(
            s.top_keys,
            [KeyCount {
                identity: Identity::Target,
                key: "a.B.c()V".into(),
                defined: 3,
                unloaded: Some(0)
            }]
        );
        // Names ending in digits carry no identity.
        assert_eq!(s.unidentified, 1);
        assert_eq!(r.finish(7), SiteRegeneration::default());
    }

    /// A JFR recording: no targets, unloads with names. Round two replaces
    /// what GCs unloaded of round one; a pattern never unloaded is new.
    #[test]
    fn without_targets_a_class_replacing_an_unloaded_one_of_its_pattern_is_regenerated() {
        let mut r = Regeneration::default();
        let accessor = |i: u64| format!("jdk.internal.reflect.GeneratedMethodAccessor{i}");
        for i in 1..=3 {
            r.class(0, &(&class(i, &accessor(i), None, "main", i)).into());
        }
        r.gc_start();
        for i in 1..=2 {
            let unload = ClassUnloaded {
                seq: i,
                kind: ClassKind::ReflectionAccessor,
                loader: LoaderRef {
                    id: i,
                    type_name: "L".into(),
                },
                stack: 1,
                target: None,
                fingerprint: None,
                name: Some(accessor(i)),
                t_ns: 10,
            };
            r.class_unload(Some(0), &unload);
        }
        for i in 4..=6 {
            r.class(0, &(&class(i, &accessor(i), None, "main", 20 + i)).into());
        }
        r.class(0, &(&class(7, "com.acme.Proxy9", None, "main", 30)).into());
        let s = r.finish(0);
        assert_eq!((s.defined, s.distinct, s.regenerated()), (7, 5, 2));
        assert_eq!((s.regenerated_after_gc, s.unidentified), (2, 5));
        assert_eq!(s.identity, IdentityUsed::Replacement);
    }

    #[test]
    fn calls_are_runs_in_one_loader_that_do_not_repeat_a_stack() {
        let mut r = Regeneration::default();
        let mut seq = 0;
        let mut define = |r: &mut Regeneration, loader: u64, stack: u64, thread: &str| {
            seq += 1;
            let mut c = class(seq, "G", None, thread, seq);
            c.loader.id = loader;
            c.stack = stack;
            r.class(0, &(&c).into());
        };
        // A function and its constants per call, a new loader each: the
        // first call's two classes on two threads interleaved with the
        // second's.
        define(&mut r, 10, 1, "a");
        define(&mut r, 11, 1, "b");
        define(&mut r, 10, 2, "a");
        define(&mut r, 11, 2, "b");
        for loader in 12..20 {
            define(&mut r, loader, 1, "a");
            define(&mut r, loader, 2, "a");
        }
        // A hidden class between two of a call is not part of it.
        let mut hidden = class(100, "java.lang.invoke.LambdaForm$MH/0x1", None, "a", 0);
        hidden.hidden = true;
        define(&mut r, 20, 1, "a");
        r.class(0, &(&hidden).into());
        define(&mut r, 20, 2, "a");
        assert_eq!(
            r.finish(0).calls,
            CallShape {
                calls: 11,
                classes_per_call: 2,
                calls_with_that_many: 11,
                calls_in_new_loader: 11,
            }
        );

        // One long-lived loader: the same line again is the next call.
        let mut r = Regeneration::default();
        for _ in 0..5 {
            define(&mut r, 3, 7, "main");
        }
        define(&mut r, 3, 8, "main");
        assert_eq!(
            r.finish(0).calls,
            CallShape {
                calls: 5,
                classes_per_call: 1,
                calls_with_that_many: 4,
                calls_in_new_loader: 1,
            }
        );
        assert_eq!(r.finish(1).calls, CallShape::default());
    }

    #[test]
    fn calls_on_more_threads_than_followed_close_the_oldest() {
        let mut r = Regeneration::default();
        for round in 0..2u64 {
            for t in 0..CALL_THREADS as u64 + 4 {
                let mut c = class(round * 100 + t + 1, "G", None, &format!("t{t}"), t);
                c.loader.id = 1;
                c.stack = round + 1;
                r.class(0, &(&c).into());
            }
        }
        // Every thread defined two classes, one round after the other: with
        // more threads than followed, each was closed before its second
        // (the worst case), so every class is a call. Memory stays bounded.
        let calls = r.finish(0).calls;
        assert_eq!((calls.calls, calls.classes_per_call), (40, 1));
        assert_eq!(r.sites[0].calls.open.len(), CALL_THREADS);
    }

    #[test]
    fn the_top_keys_are_the_most_defined_then_by_name() {
        let mut r = Regeneration::default();
        let mut seq = 0;
        for (name, times) in [("b", 2), ("a", 2), ("c", 5), ("d", 1)] {
            for _ in 0..times {
                seq += 1;
                r.class(0, &(&class(seq, name, Some(name), "main", seq)).into());
            }
        }
        let keys: Vec<(String, u64)> = top_keys(&r.sites[0], 3)
            .into_iter()
            .map(|k| (k.key, k.defined))
            .collect();
        assert_eq!(keys, [("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]);
    }
}
