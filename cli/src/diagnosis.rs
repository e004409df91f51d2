//! Why a call site keeps defining classes: regeneration of the same
//! target/fingerprint, unloading, a live-count timeline, a loader census and
//! one verdict per flagged call site (docs/diagnosis.md).
//!
//! [`Tracker`] is fed while the stream is read. Its memory grows with call
//! sites, distinct targets/fingerprints (capped per site and in total) and
//! live loader instances (capped), never with events.

use std::collections::HashSet;

use metascope_events::{ClassKind, ClassUnloaded, LoaderUnloaded};
use serde::Serialize;

use metascope_events::ClassView;

use crate::fast_hash::{fast_map, fast_set, hash_str, FastMap, FastSet, FastState};
use crate::grouping::CallSiteStats;

/// Buckets of the live-count timeline (and of the GC markers).
pub const TIMELINE_BUCKETS: usize = 60;
/// First bucket width; doubled whenever the recording outgrows the buckets.
const FIRST_BUCKET_NS: u64 = 1_000_000;
/// Distinct targets/fingerprints/names tracked per call site.
pub const KEYS_PER_SITE: usize = 10_000;
/// Distinct targets/fingerprints/names tracked in total.
pub const KEYS_TOTAL: usize = 200_000;
/// Live loader instances remembered by the census.
pub const LOADER_IDS_CAP: usize = 100_000;
/// Targets listed per call site.
pub const TARGETS_SHOWN: usize = 20;
/// Two definitions of one target closer than this, on different threads,
/// with no GC between: an inflation race.
pub const RACE_WINDOW_NS: u64 = 1_000_000_000;
/// A call site needs this many classes for a verdict.
pub const MIN_DEFINED: u64 = 10;
/// Regeneration-based causes need this many redefinitions.
pub const MIN_REGENERATED: u64 = 5;
/// Share of a site's classes in fresh loader instances that counts as
/// "a new loader per class".
pub const LOADER_RATIO: f64 = 0.8;
/// Share of classes with distinct fingerprints that counts as "every class
/// is different code" (values compiled into the source).
pub const DISTINCT_RATIO: f64 = 0.9;

/// What identifies "the same generated class" across definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The accessor's decoded target (`class.target`).
    Target = 0,
    /// The class-file fingerprint (`class.fingerprint`).
    Fingerprint = 1,
    /// The class name, when it carries no counter (a generator that reuses
    /// the name in every new loader).
    Name = 2,
}

impl Identity {
    pub fn as_str(self) -> &'static str {
        match self {
            Identity::Target => "target",
            Identity::Fingerprint => "fingerprint",
            Identity::Name => "name",
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyState {
    pub defined: u64,
    /// Unloads matched by target/fingerprint; names are not in unload
    /// records, so always 0 for [`Identity::Name`].
    pub unloaded: u64,
    last_t_ns: u64,
    last_gc: u64,
    last_thread: u64,
    last_loader: u64,
}

/// Per call site: everything the diagnosis needs, bounded.
#[derive(Debug, Clone, Default)]
pub struct SiteDiag {
    pub defined: u64,
    pub unloaded: u64,
    /// Tracked keys, by [`Identity`].
    pub keys: [FastMap<Box<str>, KeyState>; 3],
    /// Classes with an identity past the key caps (each counted distinct).
    pub untracked: u64,
    /// Classes without a usable identity (counted distinct).
    pub unidentified: u64,
    /// Redefinitions of a tracked key: a GC started since the previous one.
    pub regen_after_gc: u64,
    /// ... no GC, within [`RACE_WINDOW_NS`], on another thread.
    pub regen_race: u64,
    /// ... neither.
    pub regen_other: u64,
    /// Redefinitions in another loader instance than the previous one.
    pub regen_new_loader: u64,
    /// Threads seen in races (hashes), capped.
    race_threads: HashSet<u64>,
    /// Definitions with a GC since the site's previous definition: how
    /// many GC-separated bursts the site defined in, minus one.
    pub gc_epochs: u64,
    /// Definitions made after classes of this site had been unloaded.
    pub defs_after_unload: u64,
    last_gc: u64,
    /// (defined, unloaded) per timeline bucket.
    pub timeline: Vec<(u64, u64)>,
    /// The whole second of the recording (since its start) being counted.
    rate_second: u64,
    /// Classes defined in `rate_second` so far.
    rate_count: u64,
    /// Most classes defined in one whole second, and which second.
    pub peak_per_second: u64,
    pub peak_second: u64,
}

impl SiteDiag {
    pub fn live(&self) -> u64 {
        self.defined.saturating_sub(self.unloaded)
    }

    fn tracked(&self) -> usize {
        self.keys.iter().map(FastMap::len).sum()
    }

    /// Distinct classes: tracked keys, plus every class without a tracked
    /// identity (each its own).
    pub fn distinct(&self) -> u64 {
        self.tracked() as u64 + self.untracked + self.unidentified
    }

    pub fn regenerated(&self) -> u64 {
        self.defined.saturating_sub(self.distinct())
    }

    /// Which identity the distinct count rests on: `target`,
    /// `fingerprint`, `name`, `mixed` or `none` (nothing identified: every
    /// class counts as distinct).
    pub fn identity(&self) -> &'static str {
        let used: Vec<Identity> = [Identity::Target, Identity::Fingerprint, Identity::Name]
            .into_iter()
            .filter(|i| !self.keys[*i as usize].is_empty())
            .collect();
        match used.as_slice() {
            [] => "none",
            [one] => one.as_str(),
            _ => "mixed",
        }
    }

    /// Share of classes that had an identity.
    fn identified_share(&self) -> f64 {
        ratio(
            self.defined - self.unidentified.min(self.defined),
            self.defined,
        )
    }

    /// The most defined keys, most first (ties by name).
    pub fn top_keys(&self, n: usize) -> Vec<(Identity, &str, &KeyState)> {
        let mut all: Vec<(Identity, &str, &KeyState)> =
            [Identity::Target, Identity::Fingerprint, Identity::Name]
                .into_iter()
                .flat_map(|i| {
                    self.keys[i as usize]
                        .iter()
                        .map(move |(k, s)| (i, k.as_ref(), s))
                })
                .collect();
        all.sort_by(|a, b| b.2.defined.cmp(&a.2.defined).then(a.1.cmp(b.1)));
        all.truncate(n);
        all
    }

    /// Live count at the end of each bucket.
    pub fn live_by_bucket(&self, buckets: usize) -> Vec<u64> {
        let mut live = 0i64;
        (0..buckets)
            .map(|i| {
                let (d, u) = self.timeline.get(i).copied().unwrap_or_default();
                live += d as i64 - u as i64;
                live.max(0) as u64
            })
            .collect()
    }

    /// Live classes at the end minus live classes one third of the way in
    /// (at the end of bucket `buckets / 3 - 1`; 0 when there are fewer than
    /// 3 buckets, i.e. the start): growth after warm-up, negative when
    /// classes were unloaded.
    pub fn live_growth(&self, buckets: usize) -> i64 {
        let live = self.live_by_bucket(buckets);
        let end = live.last().copied().unwrap_or(0);
        let third = match buckets / 3 {
            0 => 0,
            n => live.get(n - 1).copied().unwrap_or(0),
        };
        end as i64 - third as i64
    }

    /// Classes defined in buckets starting at or after `from`.
    fn defined_from(&self, from: usize) -> u64 {
        self.timeline.iter().skip(from).map(|(d, _)| d).sum()
    }
}

/// Loader census per loader type.
#[derive(Debug, Clone, Default)]
pub struct LoaderType {
    pub instances: u64,
    pub instances_unloaded: u64,
    pub classes_defined: u64,
    pub classes_unloaded: u64,
    /// Call site index -> classes.
    pub sites: FastMap<usize, u64>,
}

/// Fed while reading; see the module docs.
#[derive(Debug)]
pub struct Tracker {
    sites: Vec<SiteDiag>,
    gcs: u64,
    gc_buckets: Vec<u64>,
    width_ns: u64,
    keys_total: usize,
    loader_types: FastMap<String, LoaderType>,
    live_loaders: FastSet<u64>,
    /// Hashes thread names (the same state for the whole recording).
    hasher: FastState,
    loaders_capped: bool,
    unmatched_unloads: u64,
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            sites: Vec::new(),
            gcs: 0,
            gc_buckets: Vec::new(),
            width_ns: FIRST_BUCKET_NS,
            keys_total: 0,
            loader_types: fast_map(),
            live_loaders: fast_set(),
            hasher: FastState::default(),
            loaders_capped: false,
            unmatched_unloads: 0,
        }
    }
}

/// A class name that identifies the generated code: not hidden and not
/// ending in a counter (`$Proxy12`, `GeneratedMethodAccessor7`, `Script3`).
fn name_identity<'a>(c: &ClassView<'a>) -> Option<&'a str> {
    if c.hidden || c.name.contains('/') {
        return None;
    }
    let last = c.name.chars().last()?;
    (!last.is_ascii_digit()).then_some(c.name)
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

impl Tracker {
    fn site(&mut self, i: usize) -> &mut SiteDiag {
        if self.sites.len() <= i {
            self.sites.resize_with(i + 1, SiteDiag::default);
        }
        &mut self.sites[i]
    }

    /// The bucket of `t_ns`, widening the buckets as needed.
    fn bucket(&mut self, t_ns: u64) -> usize {
        while t_ns / self.width_ns >= TIMELINE_BUCKETS as u64 {
            self.width_ns *= 2;
            for s in &mut self.sites {
                s.timeline = merge_pairs(&s.timeline, |a, b| (a.0 + b.0, a.1 + b.1));
            }
            self.gc_buckets = merge_pairs(&self.gc_buckets, |a, b| a + b);
        }
        (t_ns / self.width_ns) as usize
    }

    /// Makes the buckets cover `t_ns` (the recording's end).
    pub fn extend_to(&mut self, t_ns: u64) {
        self.bucket(t_ns);
    }

    pub fn gc_start(&mut self, t_ns: u64) {
        self.gcs += 1;
        let b = self.bucket(t_ns);
        if self.gc_buckets.len() <= b {
            self.gc_buckets.resize(b + 1, 0);
        }
        self.gc_buckets[b] += 1;
    }

    pub fn class<'c>(&mut self, site: usize, c: impl Into<ClassView<'c>>) {
        let c = c.into();
        let b = self.bucket(c.t_ns);
        let hasher = self.hasher.clone();
        let gcs = self.gcs;
        let can_track = self.keys_total < KEYS_TOTAL;
        let s = self.site(site);
        if s.defined > 0 && gcs > s.last_gc {
            s.gc_epochs += 1;
        }
        if s.unloaded > 0 {
            s.defs_after_unload += 1;
        }
        s.last_gc = gcs;
        s.defined += 1;
        if s.timeline.len() <= b {
            s.timeline.resize(b + 1, (0, 0));
        }
        s.timeline[b].0 += 1;
        // Whole seconds since the start; a class written out of order
        // counts in the current second.
        let second = c.t_ns / 1_000_000_000;
        if second > s.rate_second {
            s.rate_second = second;
            s.rate_count = 0;
        }
        s.rate_count += 1;
        if s.rate_count > s.peak_per_second {
            s.peak_per_second = s.rate_count;
            s.peak_second = s.rate_second;
        }

        let mut added = false;
        match identity_of(&c) {
            None => s.unidentified += 1,
            Some((kind, key)) => {
                let thread = hash_str(&hasher, c.thread);
                if let Some(k) = s.keys[kind as usize].get_mut(key) {
                    if gcs > k.last_gc {
                        s.regen_after_gc += 1;
                    } else if c.t_ns.abs_diff(k.last_t_ns) <= RACE_WINDOW_NS
                        && thread != k.last_thread
                    {
                        s.regen_race += 1;
                        if s.race_threads.len() < 1_000 {
                            s.race_threads.insert(thread);
                            s.race_threads.insert(k.last_thread);
                        }
                    } else {
                        s.regen_other += 1;
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
                    s.keys[kind as usize].insert(
                        key.into(),
                        KeyState {
                            defined: 1,
                            unloaded: 0,
                            last_t_ns: c.t_ns,
                            last_gc: gcs,
                            last_thread: thread,
                            last_loader: c.loader_id,
                        },
                    );
                    added = true;
                } else {
                    s.untracked += 1;
                }
            }
        }
        if added {
            self.keys_total += 1;
        }

        let new_instance = if self.live_loaders.len() < LOADER_IDS_CAP {
            self.live_loaders.insert(c.loader_id)
        } else if self.live_loaders.contains(&c.loader_id) {
            false
        } else {
            self.loaders_capped = true;
            false
        };
        let t = match self.loader_types.get_mut(c.loader_type) {
            Some(t) => t,
            None => self
                .loader_types
                .entry(c.loader_type.to_string())
                .or_default(),
        };
        t.instances += u64::from(new_instance);
        t.classes_defined += 1;
        *t.sites.entry(site).or_default() += 1;
    }

    /// A class was unloaded; `site` is its call site when one matched.
    pub fn class_unload(&mut self, site: Option<usize>, u: &ClassUnloaded) {
        let b = self.bucket(u.t_ns);
        if let Some(t) = self.loader_types.get_mut(u.loader.type_name.as_str()) {
            t.classes_unloaded += 1;
        }
        let Some(site) = site.filter(|&i| i < self.sites.len()) else {
            self.unmatched_unloads += 1;
            return;
        };
        let s = &mut self.sites[site];
        s.unloaded += 1;
        if s.timeline.len() <= b {
            s.timeline.resize(b + 1, (0, 0));
        }
        s.timeline[b].1 += 1;
        let key = match (&u.target, &u.fingerprint) {
            (Some(t), _) => Some((Identity::Target, t)),
            (None, Some(f)) => Some((Identity::Fingerprint, f)),
            _ => None,
        };
        if let Some((kind, key)) = key {
            if let Some(k) = s.keys[kind as usize].get_mut(key.as_str()) {
                k.unloaded += 1;
            }
        }
    }

    pub fn loader_unload(&mut self, l: &LoaderUnloaded) {
        let seen = self.live_loaders.remove(&l.loader.id);
        let t = self
            .loader_types
            .entry(l.loader.type_name.clone())
            .or_default();
        t.instances_unloaded += 1;
        if !seen && !self.loaders_capped {
            // A loader the agent saw without a captured class.
            t.instances += 1;
        }
    }

    /// Done reading: per-site data in sorted order (`index_to_sorted` as
    /// returned by `CallSiteTable::into_sorted_with_index`).
    pub fn finish(mut self, index_to_sorted: &[usize], duration_ns: u64) -> Diagnosis {
        self.extend_to(duration_ns);
        let mut sites = vec![SiteDiag::default(); index_to_sorted.len()];
        for (i, s) in self.sites.into_iter().enumerate() {
            if let Some(&sorted) = index_to_sorted.get(i) {
                sites[sorted] = s;
            }
        }
        let buckets = if duration_ns == 0 {
            1
        } else {
            (duration_ns.div_ceil(self.width_ns) as usize).clamp(1, TIMELINE_BUCKETS)
        };
        let mut census: Vec<(String, LoaderType)> = self
            .loader_types
            .into_iter()
            .map(|(name, mut t)| {
                t.sites = t
                    .sites
                    .into_iter()
                    .filter_map(|(i, n)| index_to_sorted.get(i).map(|&s| (s, n)))
                    .collect();
                (name, t)
            })
            .collect();
        census.sort_by(|a, b| {
            b.1.classes_defined
                .cmp(&a.1.classes_defined)
                .then_with(|| a.0.cmp(&b.0))
        });
        let mut gc_buckets = self.gc_buckets;
        gc_buckets.resize(buckets.max(gc_buckets.len()), 0);
        Diagnosis {
            sites,
            gcs: self.gcs,
            gc_buckets,
            bucket_ns: self.width_ns,
            buckets,
            duration_ns,
            census,
            loaders_capped: self.loaders_capped,
            unmatched_unloads: self.unmatched_unloads,
        }
    }
}

fn merge_pairs<T: Copy>(v: &[T], add: impl Fn(T, T) -> T) -> Vec<T> {
    v.chunks(2)
        .map(|c| if c.len() == 2 { add(c[0], c[1]) } else { c[0] })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The analysis of a whole recording, per call site in report order.
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub sites: Vec<SiteDiag>,
    /// GCs that started (`gc_start` records).
    pub gcs: u64,
    /// GC starts per bucket.
    pub gc_buckets: Vec<u64>,
    pub bucket_ns: u64,
    /// Buckets covering the recording (at most [`TIMELINE_BUCKETS`]).
    pub buckets: usize,
    pub duration_ns: u64,
    /// Per loader type, most classes first.
    pub census: Vec<(String, LoaderType)>,
    /// More than [`LOADER_IDS_CAP`] loaders were live at once: instance
    /// counts are lower bounds.
    pub loaders_capped: bool,
    /// Unloads of classes no call site matched (their class record was
    /// dropped, or they were `ordinary`).
    pub unmatched_unloads: u64,
}

impl Diagnosis {
    /// End time of bucket `i`, in ms since the start (the last one ends at
    /// the recording's end).
    pub fn bucket_end_ms(&self, i: usize) -> f64 {
        let end = ((i as u64 + 1) * self.bucket_ns).min(self.duration_ns.max(1));
        (end / 1_000) as f64 / 1_000.0
    }

    /// `[[t_ms, live], ...]` for one site.
    pub fn live_timeline(&self, site: usize) -> Vec<(f64, u64)> {
        let Some(s) = self.sites.get(site) else {
            return Vec::new();
        };
        s.live_by_bucket(self.buckets)
            .into_iter()
            .enumerate()
            .map(|(i, live)| (self.bucket_end_ms(i), live))
            .collect()
    }

    /// Every call site together, per bucket: `(t_ms, defined, unloaded,
    /// live, gcs)`, `live` being the running total at the bucket's end.
    pub fn timeline(&self) -> Vec<(f64, u64, u64, u64, u64)> {
        let mut live = 0i64;
        (0..self.buckets)
            .map(|i| {
                let (defined, unloaded) = self
                    .sites
                    .iter()
                    .filter_map(|s| s.timeline.get(i))
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                live += defined as i64 - unloaded as i64;
                (
                    self.bucket_end_ms(i),
                    defined,
                    unloaded,
                    live.max(0) as u64,
                    self.gc_buckets.get(i).copied().unwrap_or(0),
                )
            })
            .collect()
    }

    /// `[[t_ms, gcs], ...]` aligned with the live timelines.
    pub fn gc_timeline(&self) -> Vec<(f64, u64)> {
        (0..self.buckets)
            .map(|i| {
                (
                    self.bucket_end_ms(i),
                    self.gc_buckets.get(i).copied().unwrap_or(0),
                )
            })
            .collect()
    }
}

// --- Verdicts. ---

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    SoftReferenceCycle,
    InflationRace,
    PerExpressionCompilation,
    LoaderChurn,
    /// A generator keeps defining new classes into long-lived loaders:
    /// nothing caches its output (fastjson2's ASM writers, a home-grown
    /// code generator).
    UncachedGeneration,
    MethodHandleChurn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Leak,
    Churn,
    Steady,
}

/// One flagged call site.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub call_site_rank: usize,
    pub call_site: String,
    pub cause: Cause,
    pub trend: Trend,
    pub summary: String,
    pub evidence: Vec<String>,
    pub remedies: Vec<String>,
    pub defined: u64,
    pub distinct: u64,
    pub regenerated: u64,
    pub unloaded: u64,
    pub live: u64,
}

/// `17.0.9` -> 17, `1.8.0_392` -> 8.
pub fn java_major(version: &str) -> Option<u32> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Leak, churn or steady, from a site's unloads and live-count timeline.
pub fn trend(d: &SiteDiag, buckets: usize) -> Trend {
    if d.defined == 0 {
        return Trend::Steady;
    }
    if d.unloaded * 2 >= d.defined {
        return Trend::Churn;
    }
    let live = d.live_by_bucket(buckets);
    let end = live.last().copied().unwrap_or(0);
    let two_thirds = live
        .get((buckets * 2 / 3).saturating_sub(1))
        .copied()
        .unwrap_or(0);
    if end * 2 >= d.defined && end > two_thirds {
        Trend::Leak
    } else {
        Trend::Steady
    }
}

fn n(v: u64) -> String {
    crate::format::thousands(v)
}

/// Is this loader type a script engine's (Groovy, Rhino, Nashorn...)?
fn script_loader(type_name: &str) -> bool {
    [
        "groovy", "mozilla", "nashorn", "jexl", "mvel", "janino", "Script",
    ]
    .iter()
    .any(|m| type_name.contains(m))
}

/// The verdict for one call site, if it is flagged. `rank` is 1-based.
pub fn verdict(
    rank: usize,
    site: &CallSiteStats,
    d: &SiteDiag,
    diag: &Diagnosis,
    java_version: Option<&str>,
) -> Option<Verdict> {
    if d.defined < MIN_DEFINED {
        return None;
    }
    let major = java_version.and_then(java_major);
    let kind_count = |k: ClassKind| site.kinds.get(&k).map_or(0, |s| s.classes);
    let dominant = site.dominant_kind().map(|(k, _)| k)?;
    let loaders: u64 = site.loaders.values().map(|l| l.instance_count()).sum();
    let loaders_capped = site.loaders.values().any(|l| l.capped);
    let threads = site.threads.len() as u64 + u64::from(site.other_thread_classes > 0);
    let regenerated = d.regenerated();
    // Still defining in the last third of the recording.
    let late_from = diag.buckets * 2 / 3;
    let keeps_defining = d.defined_from(late_from) > 0 && late_from > 0;
    let via = site.key.entry().map(|e| e.display()).unwrap_or_default();
    let fastjson2 = via.starts_with("com.alibaba.fastjson2")
        || site.loaders.keys().any(|t| t.contains("fastjson2"));
    let trend = trend(d, diag.buckets);

    let mut evidence: Vec<String> = Vec::new();
    let top = d.top_keys(3);
    let regen_line = || {
        format!(
            "{} classes for {} distinct {}: {} regenerated",
            n(d.defined),
            n(d.distinct()),
            match d.identity() {
                "target" => "targets",
                "fingerprint" => "fingerprints",
                "name" => "class names",
                _ => "targets/fingerprints",
            },
            n(regenerated)
        )
    };
    let top_line = || {
        let listed: Vec<String> = top
            .iter()
            .filter(|(_, _, k)| k.defined > 1)
            .map(|(_, key, k)| format!("{key} ×{}", n(k.defined)))
            .collect();
        (!listed.is_empty()).then(|| format!("most regenerated: {}", listed.join(", ")))
    };
    let unload_line = || {
        format!(
            "{} of {} unloaded again ({}), {} live at the end",
            n(d.unloaded),
            n(d.defined),
            crate::format::percent_of(d.unloaded, d.defined),
            n(d.live())
        )
    };
    let loaders_line = || {
        format!(
            "{}{} loader instances for {} classes",
            if loaders_capped { "≥" } else { "" },
            n(loaders),
            n(d.defined)
        )
    };

    let cause = match dominant {
        ClassKind::ReflectionAccessor => {
            let identified = d.identified_share() >= 0.5;
            if identified
                && d.regen_after_gc >= MIN_REGENERATED
                && d.regen_after_gc >= d.regen_race
                && d.regen_after_gc * 2 >= regenerated
            {
                evidence.push(regen_line());
                evidence.extend(top_line());
                evidence.push(format!(
                    "{} of {} redefinitions came after a GC ({} GCs in the recording)",
                    n(d.regen_after_gc),
                    n(regenerated),
                    n(diag.gcs)
                ));
                Cause::SoftReferenceCycle
            } else if identified
                && d.regen_race >= MIN_REGENERATED
                && d.regen_race * 2 >= regenerated
            {
                evidence.push(regen_line());
                evidence.extend(top_line());
                evidence.push(format!(
                    "{} of {} redefinitions came within 1 s of the previous one, on another thread, \
                     with no GC between ({} threads involved)",
                    n(d.regen_race),
                    n(regenerated),
                    n(d.race_threads.len() as u64)
                ));
                if let Some(v) = java_version {
                    evidence.push(format!(
                        "JDK {v}: {}",
                        if major.is_some_and(|m| m >= 16) {
                            "the inflation check uses a CAS since JDK 16, so a race is unexpected here"
                        } else {
                            "the inflation check is unsynchronised before JDK 16 (JDK-8255883)"
                        }
                    ));
                }
                Cause::InflationRace
            } else if !identified
                && d.gc_epochs >= 2
                && d.defs_after_unload >= MIN_REGENERATED
                && d.defs_after_unload * 4 >= d.defined
            {
                evidence.push(format!(
                    "accessor targets were not recorded: {} of {} accessors were defined after GCs had \
                     unloaded earlier accessors of this call site (likely the same targets again), \
                     in {} bursts separated by GCs",
                    n(d.defs_after_unload),
                    n(d.defined),
                    n(d.gc_epochs + 1)
                ));
                Cause::SoftReferenceCycle
            } else {
                return None;
            }
        }
        ClassKind::LambdaForm => {
            let lf = kind_count(ClassKind::LambdaForm);
            if d.gc_epochs >= 2 && d.unloaded * 2 >= d.defined && keeps_defining {
                evidence.push(format!(
                    "{} LambdaForm classes (of {}), defined in {} bursts separated by GCs \
                     ({} GCs in the recording); {} defined after earlier ones were unloaded",
                    n(lf),
                    n(d.defined),
                    n(d.gc_epochs + 1),
                    n(diag.gcs),
                    n(d.defs_after_unload)
                ));
                Cause::MethodHandleChurn
            } else {
                return None;
            }
        }
        ClassKind::Script => {
            if !(keeps_defining || regenerated >= MIN_REGENERATED) {
                return None;
            }
            evidence.push(format!(
                "{} script classes{}",
                n(kind_count(ClassKind::Script)),
                if d.identity() == "none" {
                    String::new()
                } else {
                    format!(", {} distinct", n(d.distinct()))
                }
            ));
            Cause::PerExpressionCompilation
        }
        _ => {
            let one_per_loader = ratio(loaders, d.defined) >= LOADER_RATIO;
            let scripty = site.loaders.keys().any(|t| script_loader(t));
            let mostly_distinct =
                d.identity() == "fingerprint" && ratio(d.distinct(), d.defined) >= DISTINCT_RATIO;
            if keeps_defining && (scripty || (mostly_distinct && one_per_loader)) {
                evidence.push(format!(
                    "{} classes, {} distinct{}, each in its own loader ({})",
                    n(d.defined),
                    n(d.distinct()),
                    if d.identity() == "fingerprint" {
                        " fingerprints"
                    } else {
                        ""
                    },
                    loaders_line()
                ));
                Cause::PerExpressionCompilation
            } else if (one_per_loader && (keeps_defining || regenerated >= MIN_REGENERATED))
                || (d.regen_new_loader >= MIN_REGENERATED && d.regen_new_loader * 2 >= regenerated)
            {
                evidence.push(loaders_line());
                if regenerated > 0 {
                    evidence.push(regen_line());
                    evidence.extend(top_line());
                    evidence.push(format!(
                        "{} of {} redefinitions were in a new loader instance",
                        n(d.regen_new_loader),
                        n(regenerated)
                    ));
                }
                Cause::LoaderChurn
            } else if (regenerated >= MIN_REGENERATED || trend == Trend::Leak) && keeps_defining {
                // A generator without a cache defining into long-lived
                // loaders: the same family (code generators), one loader.
                evidence.push(format!(
                    "{} classes in {} (a generator keeps defining into long-lived loaders)",
                    n(d.defined),
                    loaders_line().split(" for ").next().unwrap_or_default()
                ));
                if regenerated > 0 {
                    evidence.push(regen_line());
                    evidence.extend(top_line());
                }
                Cause::UncachedGeneration
            } else {
                return None;
            }
        }
    };

    if d.regen_after_gc > 0 && !matches!(cause, Cause::SoftReferenceCycle) {
        evidence.push(format!(
            "{} of {} redefinitions came after a GC",
            n(d.regen_after_gc),
            n(regenerated)
        ));
    }
    evidence.push(unload_line());
    if !matches!(cause, Cause::LoaderChurn | Cause::PerExpressionCompilation) && loaders > 1 {
        evidence.push(loaders_line());
    }
    evidence.push(format!(
        "defined on {} thread{} between +{} and +{}",
        n(threads),
        if threads == 1 { "" } else { "s" },
        crate::format::duration(site.first_t_ns as f64 / 1e6),
        crate::format::duration(site.last_t_ns as f64 / 1e6)
    ));

    let summary = summary(cause, trend, d, &via);
    let remedies = remedies(cause, trend, major, fastjson2);
    Some(Verdict {
        call_site_rank: rank,
        call_site: site.key.display(),
        cause,
        trend,
        summary,
        evidence,
        remedies,
        defined: d.defined,
        distinct: d.distinct(),
        regenerated,
        unloaded: d.unloaded,
        live: d.live(),
    })
}

fn summary(cause: Cause, trend: Trend, d: &SiteDiag, via: &str) -> String {
    let trend = match trend {
        Trend::Leak => "they stay loaded: a leak",
        Trend::Churn => "most are unloaded again: churn, not a leak",
        Trend::Steady => "the live count is not rising",
    };
    let via = if via.is_empty() {
        String::new()
    } else {
        format!(" via {via}")
    };
    match cause {
        Cause::SoftReferenceCycle => format!(
            "Reflection accessors are regenerated after GCs clear the soft references to their Method objects{via} \
             ({}); {trend}",
            if d.regenerated() > 0 {
                format!("{} regenerated", n(d.regenerated()))
            } else {
                "inferred: targets not recorded".to_string()
            }
        ),
        Cause::InflationRace => format!(
            "Concurrent threads inflate the same Method at once and each generates its own accessor{via} \
             ({} duplicates); {trend}",
            n(d.regenerated())
        ),
        Cause::PerExpressionCompilation => format!(
            "Every script or expression is compiled into a new class{via} (values compiled into the source?); {trend}"
        ),
        Cause::LoaderChurn => format!(
            "A new class-loader instance per generated class or per request{via}; {trend}"
        ),
        Cause::UncachedGeneration => format!(
            "A code generator keeps defining new classes into long-lived loaders: its output is not cached{via}; {trend}"
        ),
        Cause::MethodHandleChurn => format!(
            "LambdaForm classes for method handles are spun again and again under soft-reference pressure{via}; {trend}"
        ),
    }
}

fn remedies(cause: Cause, trend: Trend, major: Option<u32>, fastjson2: bool) -> Vec<String> {
    let mut r: Vec<String> = Vec::new();
    let softref = "if you run with -XX:SoftRefLRUPolicyMSPerMB=0 (or a low value), raise it (e.g. \
                   -XX:SoftRefLRUPolicyMSPerMB=1000) so softly held reflection data survives GCs";
    match cause {
        Cause::SoftReferenceCycle => {
            r.push(
                "cache the Method / PropertyDescriptor objects (keep them strongly reachable), or use a \
                 bean copier that does (e.g. a generated mapper, or one holding descriptors per class)"
                    .into(),
            );
            r.push(softref.into());
            r.push(
                "-Dsun.reflect.inflationThreshold=N (default 15): a higher N means fewer accessors but \
                 more slow JNI invocations per Method; 0 or -Dsun.reflect.noInflation=true generates at once"
                    .into(),
            );
            if major.is_none_or(|m| m <= 17) {
                r.push(
                    "upgrade past JDK 17: JDK 18+ invokes reflection through method handles (JEP 416) and \
                     defines no accessor classes (LambdaForm churn can take their place under the same pressure)"
                        .into(),
                );
            }
        }
        Cause::InflationRace => {
            r.push(
                "warm the reflective calls up on one thread at start-up (call each Method past the \
                 inflation threshold) before request threads use it, and share the Method objects"
                    .into(),
            );
            if major.is_none_or(|m| m < 16) {
                r.push(
                    "upgrade to JDK 16 or later (17 LTS): JDK-8255883 makes inflation a CAS, one accessor per Method"
                        .into(),
                );
            }
            r.push(
                "-Dsun.reflect.inflationThreshold=N: a higher N narrows how often threads cross the \
                 threshold together, at the price of more slow JNI invocations"
                    .into(),
            );
        }
        Cause::PerExpressionCompilation => {
            r.push(
                "compile each script once and pass the values through bindings (ScriptEngine: \
                 Compilable.compile + CompiledScript.eval(bindings); Groovy: parse once, new Binding per \
                 call; Rhino: compileString once, exec with a new scope)"
                    .into(),
            );
            r.push("cache compiled scripts by their source text, with a bound on the cache".into());
        }
        Cause::LoaderChurn => {
            r.push(
                "cache what is generated: one generated class (proxy, CGLIB Enhancer class, serializer) per \
                 type, reused across calls, and one class loader per plugin/tenant, not per request"
                    .into(),
            );
            r.push(
                "make discarded loaders unreachable (no static caches, threads or ThreadLocals keeping \
                 them) so their classes can be unloaded"
                    .into(),
            );
        }
        Cause::UncachedGeneration => {
            r.push(
                "cache what the generator makes: one generated class (serializer, accessor, proxy) per \
                 type or schema, created once and reused, instead of one per call"
                    .into(),
            );
            r.push(
                "if the generated classes must be discarded, give them their own loader that can be \
                 dropped as a whole; classes in a long-lived loader are never unloaded"
                    .into(),
            );
        }
        Cause::MethodHandleChurn => {
            r.push(softref.into());
            r.push(
                "cache Method / MethodHandle objects instead of looking them up per call, so their \
                 LambdaForms stay reachable"
                    .into(),
            );
            r.push(
                "this is churn, not a leak: size -XX:MetaspaceSize so the churn does not trigger \
                 Metaspace GCs, and leave -XX:MaxMetaspaceSize headroom"
                    .into(),
            );
        }
    }
    if fastjson2 {
        r.push(
            "the site goes through fastjson2: reuse one ObjectWriterProvider/JSONFactory default instead \
             of creating them per call, or switch off ASM generation (-Dfastjson2.creator=reflect), or \
             upgrade fastjson2"
                .into(),
        );
    }
    match trend {
        Trend::Leak => r.push(
            "-XX:MaxMetaspaceSize only decides when this fails (the classes stay reachable); set it so \
             the leak fails fast instead of swapping, and fix the cause"
                .into(),
        ),
        Trend::Churn if cause != Cause::MethodHandleChurn => r.push(
            "the classes are unloaded again: -XX:MetaspaceSize / -XX:MaxMetaspaceSize headroom keeps \
             the churn from failing while you fix it"
                .into(),
        ),
        _ => {}
    }
    r
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::callsite::tests::frame;
    use crate::callsite::Libraries;
    use crate::recording::fixtures::{header, line, summary};
    use crate::recording::{ReadOptions, Recording};
    use crate::report::{build, to_json};
    use metascope_events::*;
    use serde_json::Value;

    const MS: u64 = 1_000_000;

    /// Writes hand-made streams: one stack per call site, classes with
    /// targets or fingerprints, GCs and unloads.
    pub(crate) struct Stream {
        pub(crate) text: String,
        seq: u64,
    }

    pub(crate) struct Def<'a> {
        pub(crate) kind: ClassKind,
        pub(crate) stack: u64,
        pub(crate) loader: (u64, &'a str),
        pub(crate) thread: &'a str,
        pub(crate) target: Option<&'a str>,
        pub(crate) fingerprint: Option<&'a str>,
        pub(crate) hidden: bool,
    }

    pub(crate) fn def(kind: ClassKind, stack: u64, loader: (u64, &str)) -> Def<'_> {
        Def {
            kind,
            stack,
            loader,
            thread: "main",
            target: None,
            fingerprint: None,
            hidden: false,
        }
    }

    impl Stream {
        pub(crate) fn new(java_version: &str, sites: &[(&str, &str, u32)]) -> Self {
            let mut h = header();
            if let Record::Header(h) = &mut h {
                h.java_version = java_version.into();
            }
            let mut text = line(&h);
            for (i, (entry, app, l)) in sites.iter().enumerate() {
                let (class, method) = entry.rsplit_once('.').unwrap();
                let (app_class, app_method) = app.rsplit_once('.').unwrap();
                text += &line(&Record::Stack(StackTrace {
                    id: i as u64 + 1,
                    frames: vec![
                        frame("java.lang.ClassLoader", "defineClass1", 0),
                        frame(class, method, 10),
                        frame(app_class, app_method, *l),
                        frame("com.acme.Main", "main", 5),
                    ],
                }));
            }
            Self { text, seq: 0 }
        }

        /// Defines a class; returns its seq.
        pub(crate) fn class(&mut self, t_ms: u64, d: &Def) -> u64 {
            self.seq += 1;
            let seq = self.seq;
            self.text += &line(&Record::Class(ClassDefined {
                seq,
                name: match d.kind {
                    ClassKind::ReflectionAccessor => {
                        format!("jdk.internal.reflect.GeneratedMethodAccessor{seq}")
                    }
                    ClassKind::LambdaForm => format!("java.lang.invoke.LambdaForm$MH/0x{seq:08x}"),
                    ClassKind::Script => format!("Script{seq}"),
                    _ => format!("com.acme.gen.Gen{seq}"),
                },
                kind: d.kind,
                loader: LoaderRef {
                    id: d.loader.0,
                    type_name: d.loader.1.into(),
                },
                hidden: d.hidden,
                thread: d.thread.into(),
                t_ns: t_ms * MS,
                wall_ms: 1_763_900_000_000 + t_ms,
                event: ClassEvent::Load,
                stack: d.stack,
                target: d.target.map(String::from),
                fingerprint: d.fingerprint.map(String::from),
            }));
            seq
        }

        pub(crate) fn unload(&mut self, t_ms: u64, seq: u64, d: &Def) {
            self.text += &line(&Record::ClassUnload(ClassUnloaded {
                seq,
                kind: d.kind,
                loader: LoaderRef {
                    id: d.loader.0,
                    type_name: d.loader.1.into(),
                },
                stack: d.stack,
                target: d.target.map(String::from),
                fingerprint: d.fingerprint.map(String::from),
                t_ns: t_ms * MS,
            }));
        }

        fn loader_unload(&mut self, t_ms: u64, loader: (u64, &str)) {
            self.text += &line(&Record::LoaderUnload(LoaderUnloaded {
                loader: LoaderRef {
                    id: loader.0,
                    type_name: loader.1.into(),
                },
                t_ns: t_ms * MS,
            }));
        }

        pub(crate) fn gc(&mut self, t_ms: u64) {
            self.text += &line(&Record::GcStart(GcBoundary { t_ns: t_ms * MS }));
            self.text += &line(&Record::GcFinish(GcBoundary {
                t_ns: t_ms * MS + 1,
            }));
        }

        /// The JSON report (summary at 3 s).
        pub(crate) fn json(self) -> Value {
            serde_json::from_str(&to_json(&self.report())).unwrap()
        }

        /// The report model (summary at 3 s), every call site.
        pub(crate) fn report(self) -> crate::report::Report {
            let r = self.recording();
            build(&r, 0, &Libraries::default())
        }

        /// The recording (summary at 3 s).
        pub(crate) fn recording(mut self) -> Recording {
            self.text += &line(&summary(self.seq, 0));
            Recording::from_str(&self.text, &ReadOptions::default()).unwrap()
        }
    }

    const DELEGATING: &str = "jdk.internal.reflect.DelegatingClassLoader";
    const TARGETS: [&str; 10] = [
        "com.acme.Order.getId()J",
        "com.acme.Order.getCustomer()Ljava/lang/String;",
        "com.acme.Order.getPrice()D",
        "com.acme.Order.getQty()I",
        "com.acme.Order.getA()I",
        "com.acme.Order.getB()I",
        "com.acme.Order.getC()I",
        "com.acme.Order.getD()I",
        "com.acme.Order.getE()I",
        "com.acme.Order.getF()I",
    ];

    fn verdicts(v: &Value) -> &Vec<Value> {
        v["diagnosis"]["verdicts"].as_array().unwrap()
    }

    #[test]
    fn soft_reference_cycle_is_regeneration_after_gcs() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                60,
            )],
        );
        // 10 rounds of 10 targets; a GC between rounds unloads them all.
        let mut loader = 100;
        for round in 0..10u64 {
            let t0 = round * 250 + 10;
            let mut defs = Vec::new();
            for (i, target) in TARGETS.iter().enumerate() {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(target);
                let seq = s.class(t0 + i as u64, &d);
                defs.push((seq, d));
            }
            s.gc(t0 + 100);
            for (seq, d) in &defs {
                s.unload(t0 + 110, *seq, d);
                s.loader_unload(t0 + 110, d.loader);
            }
        }
        let v = s.json();
        let site = &v["call_sites"][0];
        assert_eq!(
            (&site["defined"], &site["distinct"], &site["regenerated"]),
            (&Value::from(100), &Value::from(10), &Value::from(90))
        );
        assert_eq!(
            (&site["unloaded"], &site["live"]),
            (&Value::from(100), &Value::from(0))
        );
        assert_eq!(site["identity"], "target");
        assert_eq!(site["targets"].as_array().unwrap().len(), 10);
        assert_eq!(site["targets"][0]["target"], "com.acme.Order.getA()I");
        assert_eq!(site["targets"][0]["defined"], 10);
        assert_eq!(site["targets"][0]["unloaded"], 10);
        assert_eq!(site["cause"], "soft_reference_cycle");
        assert_eq!(v["gcs"], 10);
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 1);
        let verdict = &vs[0];
        assert_eq!(verdict["call_site_rank"], 1);
        assert_eq!(verdict["cause"], "soft_reference_cycle");
        assert_eq!(verdict["trend"], "churn");
        assert_eq!(verdict["regenerated"], 90);
        let evidence = verdict["evidence"].to_string();
        assert!(
            evidence.contains("90 of 90 redefinitions came after a GC"),
            "{evidence}"
        );
        assert!(
            evidence.contains("com.acme.Order.getA()I ×10"),
            "{evidence}"
        );
        let remedies = verdict["remedies"].to_string();
        assert!(
            remedies.contains("-XX:SoftRefLRUPolicyMSPerMB=1000"),
            "{remedies}"
        );
        assert!(remedies.contains("upgrade past JDK 17"), "{remedies}");
        // Census: one loader per accessor, all unloaded.
        let census = &v["loader_census"][0];
        assert_eq!(census["type"], DELEGATING);
        assert_eq!(
            (&census["instances"], &census["instances_unloaded"]),
            (&Value::from(100), &Value::from(100))
        );
        assert_eq!(census["classes_unloaded"], 100);
        assert_eq!(census["call_sites"][0]["rank"], 1);
        assert_eq!(census["call_sites"][0]["classes"], 100);
    }

    #[test]
    fn accessors_without_targets_fall_back_to_unload_then_redefine() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                60,
            )],
        );
        let mut loader = 100;
        for round in 0..5u64 {
            let t0 = round * 500 + 10;
            let mut defs = Vec::new();
            for i in 0..10 {
                loader += 1;
                let d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                defs.push((s.class(t0 + i, &d), d));
            }
            s.gc(t0 + 100);
            for (seq, d) in &defs {
                s.unload(t0 + 110, *seq, d);
            }
        }
        let v = s.json();
        assert_eq!(v["call_sites"][0]["identity"], "none");
        assert_eq!(v["call_sites"][0]["regenerated"], 0);
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "soft_reference_cycle");
        assert!(vs[0]["evidence"][0]
            .as_str()
            .unwrap()
            .starts_with("accessor targets were not recorded: 40 of 50"));
    }

    #[test]
    fn inflation_race_is_close_duplicates_on_other_threads_without_gc() {
        let mut s = Stream::new(
            "11.0.13",
            &[("java.lang.reflect.Method.invoke", "com.acme.Api.serve", 142)],
        );
        let threads = ["http-1", "http-2", "http-3", "http-4"];
        let mut loader = 10;
        for (i, target) in TARGETS.iter().enumerate() {
            for (j, thread) in threads.iter().enumerate() {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(target);
                d.thread = thread;
                s.class(100 + i as u64 * 250 + j as u64, &d);
            }
        }
        let v = s.json();
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 1);
        assert_eq!(vs[0]["cause"], "inflation_race");
        assert_eq!(vs[0]["trend"], "leak");
        assert_eq!(
            (&vs[0]["distinct"], &vs[0]["regenerated"]),
            (&Value::from(10), &Value::from(30))
        );
        let evidence = vs[0]["evidence"].to_string();
        assert!(
            evidence.contains("30 of 30 redefinitions came within 1 s"),
            "{evidence}"
        );
        assert!(evidence.contains("(4 threads involved)"), "{evidence}");
        assert!(
            evidence.contains("unsynchronised before JDK 16"),
            "{evidence}"
        );
        assert!(vs[0]["remedies"].to_string().contains("upgrade to JDK 16"));
    }

    #[test]
    fn per_expression_compilation_is_many_distinct_scripts() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "groovy.lang.GroovyShell.evaluate",
                "com.acme.Pricing.quote",
                42,
            )],
        );
        for i in 0..40u64 {
            let fp = format!("{i:016x}");
            let mut d = def(
                ClassKind::Script,
                1,
                (1_000 + i, "groovy.lang.GroovyClassLoader$InnerLoader"),
            );
            d.fingerprint = Some(&fp);
            s.class(50 + i * 70, &d);
        }
        let v = s.json();
        let site = &v["call_sites"][0];
        assert_eq!(
            (&site["distinct"], &site["regenerated"]),
            (&Value::from(40), &Value::from(0))
        );
        assert_eq!(site["targets"][0]["fingerprint"], "0000000000000000");
        assert!(site["targets"][0].get("target").is_none());
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "per_expression_compilation");
        assert_eq!(vs[0]["trend"], "leak");
        assert!(vs[0]["remedies"][0].as_str().unwrap().contains("bindings"));
    }

    #[test]
    fn loader_churn_is_identical_code_in_new_loaders() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "com.acme.plugin.PluginLoader.definePlugin",
                "com.acme.Host.reload",
                47,
            )],
        );
        for i in 0..60u64 {
            let mut d = def(
                ClassKind::RuntimeDefined,
                1,
                (1_000 + i, "com.acme.plugin.PluginLoader"),
            );
            d.fingerprint = Some("00000000deadbeef");
            let seq = s.class(20 + i * 45, &d);
            if i % 20 == 19 {
                s.gc(20 + i * 45 + 5);
            }
            if i < 40 {
                s.unload(20 + i * 45 + 6, seq, &d);
                s.loader_unload(20 + i * 45 + 6, d.loader);
            }
        }
        let v = s.json();
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "loader_churn");
        assert_eq!(vs[0]["trend"], "churn");
        assert_eq!(
            (&vs[0]["distinct"], &vs[0]["regenerated"]),
            (&Value::from(1), &Value::from(59))
        );
        let evidence = vs[0]["evidence"].to_string();
        assert!(
            evidence.contains("60 loader instances for 60 classes"),
            "{evidence}"
        );
        assert!(
            evidence.contains("59 of 59 redefinitions were in a new loader instance"),
            "{evidence}"
        );
        let census = &v["loader_census"][0];
        assert_eq!(
            (&census["instances"], &census["instances_unloaded"]),
            (&Value::from(60), &Value::from(40))
        );
    }

    #[test]
    fn fastjson2_sites_get_the_fastjson2_remedy() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "com.alibaba.fastjson2.JSON.toJSONString",
                "com.acme.Api.respond",
                37,
            )],
        );
        for i in 0..50u64 {
            let mut d = def(
                ClassKind::DynamicLoader,
                1,
                (7, "com.alibaba.fastjson2.util.DynamicClassLoader"),
            );
            d.fingerprint = Some("00000000cafebabe");
            s.class(10 + i * 55, &d);
        }
        let v = s.json();
        let vs = verdicts(&v);
        // One long-lived DynamicClassLoader: a generator without a cache,
        // not a new loader per class.
        assert_eq!(vs[0]["cause"], "uncached_generation");
        assert_eq!(vs[0]["trend"], "leak");
        assert!(vs[0]["remedies"]
            .to_string()
            .contains("-Dfastjson2.creator=reflect"));
    }

    #[test]
    fn method_handle_churn_is_lambda_forms_mostly_unloaded_across_gcs() {
        let mut s = Stream::new(
            "25.0.2",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                61,
            )],
        );
        for round in 0..10u64 {
            let t0 = round * 290 + 5;
            let mut defs = Vec::new();
            for i in 0..8 {
                let mut d = def(ClassKind::LambdaForm, 1, (0, "bootstrap"));
                d.hidden = true;
                defs.push((s.class(t0 + i, &d), d));
            }
            s.gc(t0 + 50);
            for (seq, d) in defs.iter().take(7) {
                s.unload(t0 + 60, *seq, d);
            }
        }
        let v = s.json();
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 1);
        assert_eq!(vs[0]["cause"], "method_handle_churn");
        assert_eq!(vs[0]["trend"], "churn");
        assert_eq!(
            (&vs[0]["unloaded"], &vs[0]["live"]),
            (&Value::from(70), &Value::from(10))
        );
        assert!(vs[0]["summary"]
            .as_str()
            .unwrap()
            .contains("churn, not a leak"));
        assert_eq!(v["call_sites"][0]["identity"], "none");
    }

    #[test]
    fn a_steady_program_gets_no_verdict() {
        let mut s = Stream::new(
            "17.0.9",
            &[
                (
                    "java.lang.reflect.Method.invoke",
                    "com.acme.Service.serve",
                    81,
                ),
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.Service.client",
                    92,
                ),
                (
                    "java.lang.invoke.MethodHandleNatives.linkCallSite",
                    "com.acme.Service.init",
                    7,
                ),
            ],
        );
        // Warm-up: accessors once per target, a few proxies and lambdas.
        for (i, target) in TARGETS.iter().enumerate() {
            let mut d = def(
                ClassKind::ReflectionAccessor,
                1,
                (10 + i as u64, DELEGATING),
            );
            d.target = Some(target);
            s.class(10 + i as u64, &d);
        }
        for i in 0..12u64 {
            let mut d = def(ClassKind::Lambda, 3, (1, "app"));
            d.hidden = true;
            s.class(30 + i, &d);
        }
        s.class(50, &def(ClassKind::Proxy, 2, (1, "app")));
        // Then GCs and nothing new for the rest of the run.
        for t in (100..3_000).step_by(100) {
            s.gc(t);
        }
        let v = s.json();
        assert_eq!(verdicts(&v), &Vec::<Value>::new());
        assert_eq!(v["gcs"], 29);
        assert!(v["call_sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["cause"].is_null() && c["regenerated"] == 0));
    }

    #[test]
    fn live_timeline_and_gc_markers_share_buckets() {
        let mut s = Stream::new(
            "17.0.9",
            &[("com.acme.gen.Loader.define", "com.acme.Gen.make", 1)],
        );
        let mut seqs = Vec::new();
        for i in 0..30u64 {
            let d = def(ClassKind::RuntimeDefined, 1, (1, "com.acme.gen.Loader"));
            seqs.push((s.class(i * 100, &d), d));
        }
        s.gc(1_500);
        for (seq, d) in seqs.iter().take(10) {
            s.unload(1_501, *seq, d);
        }
        let v = s.json();
        let tl = v["call_sites"][0]["live_timeline"].as_array().unwrap();
        let gcs = v["gc_timeline"].as_array().unwrap();
        assert_eq!(tl.len(), gcs.len());
        assert!(tl.len() <= TIMELINE_BUCKETS && tl.len() > TIMELINE_BUCKETS / 2);
        assert_eq!(tl.last().unwrap()[0], 3000.0);
        assert_eq!(tl.last().unwrap()[1], 20);
        let gc_at = gcs.iter().position(|g| g[1] == 1).unwrap();
        // Live drops by 10 in the GC's bucket.
        assert_eq!(
            tl[gc_at - 1][1].as_u64().unwrap() - tl[gc_at][1].as_u64().unwrap() + 1,
            10
        );
        assert_eq!(gcs.iter().map(|g| g[1].as_u64().unwrap()).sum::<u64>(), 1);
    }

    #[test]
    fn text_report_ends_with_a_diagnosis_and_a_chart() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                60,
            )],
        );
        let mut loader = 0;
        for round in 0..6u64 {
            let mut defs = Vec::new();
            for target in TARGETS {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(target);
                defs.push((s.class(round * 400 + 10, &d), d));
            }
            s.gc(round * 400 + 200);
            for (seq, d) in &defs {
                s.unload(round * 400 + 210, *seq, d);
            }
        }
        s.text += &line(&summary(s.seq, 0));
        let r = Recording::from_str(&s.text, &ReadOptions::default()).unwrap();
        let text = crate::text_report::render(&build(&r, 10, &Libraries::default()), false);
        let diagnosis = &text[text.find("\nDiagnosis (").expect(&text)..];
        assert!(diagnosis.contains("Diagnosis (1 call site flagged, 6 GCs in the recording):"));
        assert!(diagnosis
            .contains("#1 com.acme.Copier.copy(Copier.java:60) — soft_reference_cycle, churn\n"));
        assert!(
            diagnosis.contains("60 defined · 10 distinct · 50 regenerated · 60 unloaded · 0 live")
        );
        assert!(diagnosis.contains("    live  │█"), "{diagnosis}");
        assert!(diagnosis.contains("    GCs   │"), "{diagnosis}");
        assert!(diagnosis.contains("      - 50 of 50 redefinitions came after a GC"));
        assert!(text.contains("  #   Classes   Unloaded   Live   Regen.   Kinds"));
        assert_eq!(
            crate::text_report::sparkline(&[0, 1, 4, 8]),
            " ▁▄█".to_string()
        );
    }

    #[test]
    fn java_major_reads_old_and_new_versions() {
        assert_eq!(java_major("17.0.9"), Some(17));
        assert_eq!(java_major("1.8.0_392"), Some(8));
        assert_eq!(java_major("21"), Some(21));
        assert_eq!(java_major("25-ea"), Some(25));
        assert_eq!(java_major("x"), None);
    }

    #[test]
    fn buckets_double_and_merge_without_losing_counts() {
        let mut t = Tracker::default();
        let mk = |seq: u64, t_ns: u64| ClassDefined {
            seq,
            name: format!("a.B{seq}"),
            kind: ClassKind::Proxy,
            loader: metascope_events::LoaderRef {
                id: 1,
                type_name: "L".into(),
            },
            hidden: false,
            thread: "main".into(),
            t_ns,
            wall_ms: 0,
            event: metascope_events::ClassEvent::Load,
            stack: 1,
            target: None,
            fingerprint: None,
        };
        for i in 0..1_000u64 {
            t.class(0, &mk(i, i * 10_000_000)); // every 10 ms for 10 s
            if i % 100 == 0 {
                t.gc_start(i * 10_000_000);
            }
        }
        let d = t.finish(&[0], 10_000_000_000);
        assert!(d.buckets <= TIMELINE_BUCKETS && d.buckets > TIMELINE_BUCKETS / 2);
        let tl = d.live_timeline(0);
        assert_eq!(tl.len(), d.buckets);
        assert_eq!(tl.last().unwrap(), &(10_000.0, 1_000));
        assert!(tl.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
        assert_eq!(d.gc_timeline().iter().map(|g| g.1).sum::<u64>(), 10);
        assert_eq!(d.gcs, 10);
        // Names ending in digits carry no identity.
        assert_eq!(d.sites[0].identity(), "none");
        assert_eq!(
            (d.sites[0].distinct(), d.sites[0].regenerated()),
            (1_000, 0)
        );
    }
}
