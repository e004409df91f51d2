//! Metaspace in bytes, as the JVM accounts it: its totals over time
//! (`metaspace` samples) and its per-loader snapshots, which the agent
//! apportions to the stacks that defined the classes
//! (`metaspace_snapshot`, then `stack_metaspace` and
//! `loader_type_metaspace` lines with its id).
//!
//! Snapshot lines are grouped into call sites as they are read, through
//! the call-site table's own (stack, loader type) lookup, so a call site's
//! bytes are those of exactly the classes the report counts there. Memory
//! is bounded: samples are thinned past [`SAMPLES_KEPT`], and only the
//! snapshots the report shows are kept whole (at attach, the peak, the
//! first OutOfMemoryError, the end); of the others each call site keeps
//! only its largest figure.

use metascope_events::{
    LoaderTypeMetaspace, MetaspaceSample, MetaspaceSnapshot, SnapshotReason, StackMetaspace,
};

use super::call_sites::SortedSites;

/// Samples kept for the timeline; past it, neighbours are merged (the one
/// with more committed stays, so peaks survive).
pub const SAMPLES_KEPT: usize = 1_024;
/// Snapshot headers listed; the rest are counted.
pub const SNAPSHOTS_LISTED: usize = 200;
/// Loader types kept per snapshot (most committed first at the end); the
/// rest are summed into one entry.
pub const LOADER_TYPES_KEPT: usize = 1_000;

/// Bytes a call site (or the classes no call site took) held at one
/// snapshot: the sum of its `stack_metaspace` lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SiteBytes {
    pub used: u64,
    pub committed: u64,
    /// From loaders holding nothing but this call site's classes: exact.
    pub exclusive_used: u64,
    pub exclusive_committed: u64,
    pub classes: u64,
    pub loaders: u64,
}

impl SiteBytes {
    fn add(&mut self, m: &StackMetaspace) {
        self.used = self.used.saturating_add(m.used);
        self.committed = self.committed.saturating_add(m.committed);
        // Never more exact than the whole, whatever a line says.
        self.exclusive_used = self
            .exclusive_used
            .saturating_add(m.exclusive_used.min(m.used));
        self.exclusive_committed = self
            .exclusive_committed
            .saturating_add(m.exclusive_committed.min(m.committed));
        self.classes = self.classes.saturating_add(m.classes);
        self.loaders = self.loaders.saturating_add(m.loaders);
    }

    fn plus(mut self, other: &SiteBytes) -> SiteBytes {
        self.used = self.used.saturating_add(other.used);
        self.committed = self.committed.saturating_add(other.committed);
        self.exclusive_used = self.exclusive_used.saturating_add(other.exclusive_used);
        self.exclusive_committed = self
            .exclusive_committed
            .saturating_add(other.exclusive_committed);
        self.classes = self.classes.saturating_add(other.classes);
        self.loaders = self.loaders.saturating_add(other.loaders);
        self
    }
}

/// Bytes held by loaders of one type none of whose classes were captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoaderTypeBytes {
    pub loader_type: String,
    pub hidden: bool,
    pub loaders: u64,
    pub classes: u64,
    pub used: u64,
    pub committed: u64,
}

/// One snapshot kept whole: its header, its bytes per call site and per
/// loader type.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub header: MetaspaceSnapshot,
    /// Per call site: by table index while reading, report order after
    /// [`MetaspaceData`] is made. Sites without lines hold zero.
    pub sites: Vec<SiteBytes>,
    /// Per call site (same index), its bytes per loader type, in first-seen
    /// order.
    pub site_loader_types: Vec<Vec<(String, SiteBytes)>>,
    /// Lines no call site took: classes of a kind the report leaves out
    /// (`ordinary` without `--all-kinds`) or of stacks whose classes were
    /// never read.
    pub unattributed: SiteBytes,
    /// Most committed first after [`MetaspaceData`] is made.
    pub loader_types: Vec<LoaderTypeBytes>,
    /// Loader types past [`LOADER_TYPES_KEPT`], summed (`None`: none).
    pub other_loader_types: Option<LoaderTypeBytes>,
}

impl Snapshot {
    fn new(header: MetaspaceSnapshot) -> Snapshot {
        Snapshot {
            header,
            sites: Vec::new(),
            site_loader_types: Vec::new(),
            unattributed: SiteBytes::default(),
            loader_types: Vec::new(),
            other_loader_types: None,
        }
    }

    fn add(&mut self, site: usize, m: &StackMetaspace) {
        if self.sites.len() <= site {
            self.sites.resize(site + 1, SiteBytes::default());
            self.site_loader_types.resize(site + 1, Vec::new());
        }
        self.sites[site].add(m);
        let types = &mut self.site_loader_types[site];
        match types.iter_mut().find(|(t, _)| *t == m.loader_type) {
            Some((_, bytes)) => bytes.add(m),
            None => {
                let mut bytes = SiteBytes::default();
                bytes.add(m);
                types.push((m.loader_type.clone(), bytes));
            }
        }
    }

    fn loader_type(&mut self, m: &LoaderTypeMetaspace) {
        let found = self
            .loader_types
            .iter()
            .position(|t| t.hidden == m.hidden && t.loader_type == m.loader_type);
        let blank = |loader_type: String, hidden: bool| LoaderTypeBytes {
            loader_type,
            hidden,
            loaders: 0,
            classes: 0,
            used: 0,
            committed: 0,
        };
        let entry = match found {
            Some(i) => &mut self.loader_types[i],
            None if self.loader_types.len() < LOADER_TYPES_KEPT => {
                self.loader_types
                    .push(blank(m.loader_type.clone(), m.hidden));
                self.loader_types.last_mut().expect("just pushed")
            }
            None => self
                .other_loader_types
                .get_or_insert_with(|| blank(String::new(), false)),
        };
        entry.loaders = entry.loaders.saturating_add(m.loaders);
        entry.classes = entry.classes.saturating_add(m.classes);
        entry.used = entry.used.saturating_add(m.used);
        entry.committed = entry.committed.saturating_add(m.committed);
    }

    /// The same snapshot with its call sites in report order.
    fn sorted(&self, sorted: &SortedSites) -> Snapshot {
        let mut sites = vec![SiteBytes::default(); sorted.sorted_index.len()];
        let mut site_loader_types = vec![Vec::new(); sorted.sorted_index.len()];
        for (i, bytes) in self.sites.iter().enumerate() {
            if let Some(at) = sorted.sorted(i) {
                sites[at] = *bytes;
                site_loader_types[at] = self.site_loader_types[i].clone();
            }
        }
        let mut loader_types = self.loader_types.clone();
        loader_types.sort_by(|a, b| {
            b.committed
                .cmp(&a.committed)
                .then_with(|| a.loader_type.cmp(&b.loader_type))
                .then(a.hidden.cmp(&b.hidden))
        });
        Snapshot {
            header: self.header.clone(),
            sites,
            site_loader_types,
            unattributed: self.unattributed,
            loader_types,
            other_loader_types: self.other_loader_types.clone(),
        }
    }
}

/// Which kept snapshot plays which part.
#[derive(Debug, Clone, Copy, Default)]
struct Roles {
    attach: Option<u64>,
    out_of_memory: Option<u64>,
    peak: Option<u64>,
    end: Option<u64>,
    /// The last snapshot taken: the one lines go to.
    latest: Option<u64>,
}

impl Roles {
    fn holds(&self, id: u64) -> bool {
        [
            self.attach,
            self.out_of_memory,
            self.peak,
            self.end,
            self.latest,
        ]
        .contains(&Some(id))
    }
}

/// Fed while reading.
#[derive(Debug, Default)]
pub struct Metaspace {
    samples: Vec<MetaspaceSample>,
    /// Samples merged into each kept one (a power of two).
    group: usize,
    /// The best of the group being filled, and how many it has seen.
    pending: Option<(MetaspaceSample, usize)>,
    samples_read: u64,
    last_sample: Option<MetaspaceSample>,
    peak_sample: Option<MetaspaceSample>,
    /// The last `max` and `class_max` any sample carried.
    max: Option<u64>,
    class_max: Option<u64>,

    listed: Vec<MetaspaceSnapshot>,
    listed_omitted: u64,
    kept: Vec<Snapshot>,
    roles: Roles,
    /// Per call site (table index): its largest committed at any snapshot
    /// before the latest, and that snapshot's id.
    site_max: Vec<(u64, u64)>,
    /// Snapshot lines naming a snapshot that is not the latest.
    stray_lines: u64,
}

impl Metaspace {
    pub fn sample(&mut self, s: MetaspaceSample) {
        self.samples_read += 1;
        if s.max.is_some() {
            self.max = s.max;
        }
        if s.class_max.is_some() {
            self.class_max = s.class_max;
        }
        if self
            .peak_sample
            .as_ref()
            .is_none_or(|p| s.committed > p.committed)
        {
            self.peak_sample = Some(s.clone());
        }
        self.last_sample = Some(s.clone());
        let group = self.group.max(1);
        let (best, n) = match self.pending.take() {
            Some((p, n)) if p.committed > s.committed => (p, n + 1),
            Some((_, n)) => (s, n + 1),
            None => (s, 1),
        };
        if n < group {
            self.pending = Some((best, n));
            return;
        }
        self.samples.push(best);
        if self.samples.len() >= SAMPLES_KEPT {
            self.samples = self
                .samples
                .chunks(2)
                .map(|c| match c {
                    [a, b] if a.committed > b.committed => a.clone(),
                    [.., b] => b.clone(),
                    [] => unreachable!("chunks are never empty"),
                })
                .collect();
            self.group = group * 2;
        }
    }

    pub fn snapshot(&mut self, header: MetaspaceSnapshot) {
        if self.listed.len() < SNAPSHOTS_LISTED {
            self.listed.push(header.clone());
        } else {
            self.listed_omitted += 1;
        }
        if header.skipped.is_some() {
            return;
        }
        self.retire_latest();
        let id = header.id;
        let roles = &mut self.roles;
        if header.reason == SnapshotReason::Attach && roles.attach.is_none() {
            roles.attach = Some(id);
        }
        if header.reason == SnapshotReason::OutOfMemory && roles.out_of_memory.is_none() {
            roles.out_of_memory = Some(id);
        }
        if header.reason == SnapshotReason::End {
            roles.end = Some(id);
        }
        let peak = roles
            .peak
            .and_then(|p| self.kept.iter().find(|s| s.header.id == p));
        if peak.is_none_or(|p| header.committed > p.header.committed) {
            roles.peak = Some(id);
        }
        roles.latest = Some(id);
        let roles = *roles;
        self.kept.retain(|s| roles.holds(s.header.id));
        self.kept.push(Snapshot::new(header));
    }

    /// The latest snapshot is complete: fold its call sites into their
    /// maxima.
    fn retire_latest(&mut self) {
        let Some(latest) = self.latest() else {
            return;
        };
        let (id, sites) = (latest.header.id, latest.sites.clone());
        fold_max(&mut self.site_max, &sites, id);
        self.roles.latest = None;
    }

    fn latest(&self) -> Option<&Snapshot> {
        let id = self.roles.latest?;
        self.kept.iter().find(|s| s.header.id == id)
    }

    fn latest_for(&mut self, snapshot: u64) -> Option<&mut Snapshot> {
        if self.roles.latest != Some(snapshot) {
            self.stray_lines += 1;
            return None;
        }
        self.kept.iter_mut().find(|s| s.header.id == snapshot)
    }

    /// A `stack_metaspace` line; `site`: the call site (table index) its
    /// classes were grouped into, `None` when none took them.
    pub fn stack(&mut self, m: &StackMetaspace, site: Option<usize>) {
        let Some(snapshot) = self.latest_for(m.snapshot) else {
            return;
        };
        match site {
            Some(site) => snapshot.add(site, m),
            None => snapshot.unattributed.add(m),
        }
    }

    pub fn loader_type(&mut self, m: &LoaderTypeMetaspace) {
        if let Some(snapshot) = self.latest_for(m.snapshot) {
            snapshot.loader_type(m);
        }
    }

    /// Whether the recording carried any Metaspace figures.
    pub fn any(&self) -> bool {
        self.samples_read > 0 || !self.listed.is_empty() || self.listed_omitted > 0
    }

    /// Per call site (table index), committed bytes it is ranked by with
    /// `--sort bytes`: at the end snapshot (else the last one), then at
    /// the peak.
    fn rank_bytes(&self, sites: usize) -> Vec<(u64, u64)> {
        let committed = |id: Option<u64>, site: usize| {
            id.and_then(|id| self.kept.iter().find(|s| s.header.id == id))
                .and_then(|s| s.sites.get(site))
                .map_or(0, |b| b.committed)
        };
        let end = self.roles.end.or(self.roles.latest);
        (0..sites)
            .map(|i| (committed(end, i), committed(self.roles.peak, i)))
            .collect()
    }

    /// Re-ranks `sorted` by Metaspace bytes (see [`Self::rank_bytes`]);
    /// call sites holding the same keep their order by classes. Returns
    /// false, changing nothing, when the recording has no snapshot.
    pub fn sort_by_bytes(&self, sorted: &mut SortedSites) -> bool {
        if self.kept.is_empty() {
            return false;
        }
        let bytes = self.rank_bytes(sorted.sorted_index.len());
        // (table index, position by classes), in report order.
        let mut order: Vec<usize> = vec![0; sorted.sites.len()];
        for (table, &at) in sorted.sorted_index.iter().enumerate() {
            order[at] = table;
        }
        // Stable: equal bytes keep the order by classes.
        order.sort_by(|&a, &b| bytes[b].cmp(&bytes[a]));
        let mut sites: Vec<Option<_>> = std::mem::take(&mut sorted.sites)
            .into_iter()
            .map(Some)
            .collect();
        let mut by_bytes = Vec::with_capacity(sites.len());
        for (new_at, &table) in order.iter().enumerate() {
            let old_at = sorted.sorted_index[table];
            by_bytes.push(sites[old_at].take().expect("each site moves once"));
            sorted.sorted_index[table] = new_at;
        }
        sorted.sites = by_bytes;
        true
    }

    /// What was read, call sites in report order.
    pub fn finish(&self, sorted: &SortedSites) -> MetaspaceData {
        let find = |id: Option<u64>| {
            id.and_then(|id| self.kept.iter().find(|s| s.header.id == id))
                .map(|s| s.sorted(sorted))
        };
        let mut site_max = self.site_max.clone();
        if let Some(latest) = self.latest() {
            fold_max(&mut site_max, &latest.sites, latest.header.id);
        }
        let mut max_committed = vec![None; sorted.sorted_index.len()];
        for (i, &(committed, id)) in site_max.iter().enumerate() {
            if let Some(at) = sorted.sorted(i) {
                max_committed[at] = (committed > 0).then_some((committed, id));
            }
        }
        let mut samples = self.samples.clone();
        if let Some((pending, _)) = &self.pending {
            samples.push(pending.clone());
        }
        // The last figure is the one the recording ended with.
        if let Some(last) = &self.last_sample {
            if samples.last() != Some(last) {
                samples.push(last.clone());
            }
        }
        MetaspaceData {
            present: self.any(),
            samples,
            samples_read: self.samples_read,
            last_sample: self.last_sample.clone(),
            peak_sample: self.peak_sample.clone(),
            max: self.max,
            class_max: self.class_max,
            snapshots: self.listed.clone(),
            snapshots_omitted: self.listed_omitted,
            attach: find(self.roles.attach),
            peak: find(self.roles.peak),
            out_of_memory: find(self.roles.out_of_memory),
            end: find(self.roles.end.or(self.roles.latest)),
            site_max_committed: max_committed,
            stray_lines: self.stray_lines,
        }
    }
}

fn fold_max(site_max: &mut Vec<(u64, u64)>, sites: &[SiteBytes], id: u64) {
    if site_max.len() < sites.len() {
        site_max.resize(sites.len(), (0, 0));
    }
    for (max, bytes) in site_max.iter_mut().zip(sites) {
        if bytes.committed > max.0 {
            *max = (bytes.committed, id);
        }
    }
}

/// The Metaspace figures of a recording, call sites in report order.
#[derive(Debug, Clone, Default)]
pub struct MetaspaceData {
    /// The recording carried Metaspace records at all (an older agent or
    /// a JFR recording carries none).
    pub present: bool,
    /// The JVM's totals over time, at most about [`SAMPLES_KEPT`], the
    /// last one always included.
    pub samples: Vec<MetaspaceSample>,
    pub samples_read: u64,
    pub last_sample: Option<MetaspaceSample>,
    /// The sample with the most committed.
    pub peak_sample: Option<MetaspaceSample>,
    /// `MaxMetaspaceSize` (`None`: unlimited, or no sample said).
    pub max: Option<u64>,
    pub class_max: Option<u64>,
    /// Every snapshot header, in stream order (up to [`SNAPSHOTS_LISTED`]).
    pub snapshots: Vec<MetaspaceSnapshot>,
    pub snapshots_omitted: u64,
    /// The first snapshot at attach.
    pub attach: Option<Snapshot>,
    /// The snapshot with the most committed.
    pub peak: Option<Snapshot>,
    /// The first snapshot taken while an OutOfMemoryError was thrown.
    pub out_of_memory: Option<Snapshot>,
    /// The `end` snapshot, else the last one taken (a cut-off recording).
    pub end: Option<Snapshot>,
    /// Per call site: its largest committed at any snapshot, and that
    /// snapshot's id (`None`: it held nothing in any).
    pub site_max_committed: Vec<Option<(u64, u64)>>,
    /// Snapshot lines that did not follow their snapshot's header.
    pub stray_lines: u64,
}

impl MetaspaceData {
    /// The sum of every call site's bytes at `snapshot`.
    pub fn sites_total(snapshot: &Snapshot) -> SiteBytes {
        snapshot
            .sites
            .iter()
            .fold(SiteBytes::default(), |acc, b| acc.plus(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::call_sites::SortedSites;
    use metascope_events::ClassKind;

    fn sample(t_ms: u64, committed: u64) -> MetaspaceSample {
        MetaspaceSample {
            t_ns: t_ms * 1_000_000,
            used: committed * 9 / 10,
            committed,
            class_used: None,
            class_committed: None,
            max: Some(32 << 20),
            class_max: None,
            gc_threshold: None,
        }
    }

    fn header(id: u64, reason: SnapshotReason, committed: u64) -> MetaspaceSnapshot {
        MetaspaceSnapshot {
            id,
            reason,
            t_ns: id * 1_000_000_000,
            used: committed,
            committed,
            loaders: 10,
            classes: 100,
            took_ms: 5,
            skipped: None,
        }
    }

    fn line(snapshot: u64, stack: u64, committed: u64, exclusive: u64) -> StackMetaspace {
        StackMetaspace {
            snapshot,
            stack,
            kind: ClassKind::Proxy,
            loader_type: "app".into(),
            classes: 1,
            loaders: 1,
            used: committed,
            committed,
            exclusive_used: exclusive,
            exclusive_committed: exclusive,
        }
    }

    fn no_sites(n: usize) -> SortedSites {
        SortedSites {
            sites: Vec::new(),
            sorted_index: (0..n).collect(),
        }
    }

    #[test]
    fn samples_thin_out_keeping_peaks_and_the_last() {
        let mut m = Metaspace::default();
        let n = SAMPLES_KEPT as u64 * 3;
        for i in 0..n {
            // One spike in the middle.
            let committed = if i == n / 2 { 1 << 30 } else { 1_000 + i };
            m.sample(sample(i, committed));
        }
        let data = m.finish(&no_sites(0));
        assert!(
            data.samples.len() <= SAMPLES_KEPT + 2,
            "{}",
            data.samples.len()
        );
        assert!(data.samples.iter().any(|s| s.committed == 1 << 30));
        assert_eq!(data.samples.last().unwrap().t_ns, (n - 1) * 1_000_000);
        assert_eq!(data.peak_sample.unwrap().committed, 1 << 30);
        assert_eq!(data.samples_read, n);
        assert_eq!(data.max, Some(32 << 20));
        let times: Vec<u64> = data.samples.iter().map(|s| s.t_ns).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "in time order");
    }

    #[test]
    fn keeps_attach_peak_oom_and_end_and_each_sites_largest() {
        let mut m = Metaspace::default();
        m.snapshot(header(1, SnapshotReason::Attach, 100));
        m.stack(&line(1, 1, 10, 10), Some(0));
        m.snapshot(header(2, SnapshotReason::Growth, 500));
        m.stack(&line(2, 1, 300, 300), Some(0));
        m.stack(&line(2, 2, 50, 0), Some(1));
        m.snapshot(header(3, SnapshotReason::Growth, 400));
        m.stack(&line(3, 2, 80, 0), Some(1));
        m.snapshot(header(4, SnapshotReason::OutOfMemory, 450));
        m.stack(&line(4, 2, 70, 20), Some(1));
        m.stack(&line(4, 2, 5, 5), Some(1));
        m.stack(&line(4, 9, 7, 7), None);
        m.stack(&line(2, 1, 1, 1), Some(0)); // after its snapshot: stray
        m.snapshot(header(5, SnapshotReason::End, 300));
        m.stack(&line(5, 1, 20, 20), Some(0));
        let data = m.finish(&no_sites(2));
        assert_eq!(data.attach.unwrap().header.id, 1);
        let peak = data.peak.unwrap();
        assert_eq!(peak.header.id, 2);
        assert_eq!(peak.sites[0].committed, 300);
        let oom = data.out_of_memory.unwrap();
        assert_eq!(oom.sites[1].committed, 75);
        assert_eq!(oom.sites[1].exclusive_committed, 25);
        assert_eq!(oom.unattributed.committed, 7);
        assert_eq!(data.end.unwrap().sites[0].committed, 20);
        assert_eq!(data.site_max_committed, [Some((300, 2)), Some((80, 3))]);
        assert_eq!(data.stray_lines, 1);
        assert_eq!(data.snapshots.len(), 5);
    }

    #[test]
    fn a_cut_off_recording_ends_with_its_last_snapshot_and_skipped_ones_are_listed() {
        let mut m = Metaspace::default();
        m.snapshot(header(1, SnapshotReason::Growth, 100));
        m.stack(&line(1, 1, 10, 10), Some(0));
        let mut skipped = header(2, SnapshotReason::Growth, 900);
        skipped.skipped = Some("the listing would not fit the Java heap".into());
        m.snapshot(skipped);
        let data = m.finish(&no_sites(1));
        assert_eq!(data.end.as_ref().unwrap().header.id, 1);
        assert_eq!(data.peak.as_ref().unwrap().header.id, 1);
        assert_eq!(data.snapshots.len(), 2);
        assert!(data.snapshots[1].skipped.is_some());
    }

    #[test]
    fn absurd_figures_saturate_rather_than_overflow() {
        let mut m = Metaspace::default();
        m.snapshot(header(1, SnapshotReason::End, u64::MAX));
        let mut huge = line(1, 1, u64::MAX, u64::MAX);
        huge.classes = u64::MAX;
        huge.loaders = u64::MAX;
        m.stack(&huge, Some(0));
        m.stack(&huge, Some(0));
        // More exact than the whole is never believed.
        let mut odd = line(1, 2, 10, 50);
        odd.exclusive_used = 70;
        m.stack(&odd, Some(1));
        let end = m.finish(&no_sites(2)).end.unwrap();
        assert_eq!(end.sites[0].committed, u64::MAX);
        assert_eq!(end.sites[0].classes, u64::MAX);
        assert_eq!(end.sites[1].exclusive_committed, 10);
        assert_eq!(end.sites[1].exclusive_used, 10);
        assert_eq!(MetaspaceData::sites_total(&end).committed, u64::MAX);
    }

    #[test]
    fn loader_types_merge_and_sort_by_committed() {
        let mut m = Metaspace::default();
        m.snapshot(header(1, SnapshotReason::Attach, 100));
        let lt = |t: &str, hidden, committed| LoaderTypeMetaspace {
            snapshot: 1,
            loader_type: t.into(),
            hidden,
            loaders: 1,
            classes: 2,
            used: committed,
            committed,
        };
        m.loader_type(&lt("bootstrap", false, 10));
        m.loader_type(&lt("app", false, 30));
        m.loader_type(&lt("bootstrap", true, 5));
        m.loader_type(&lt("bootstrap", false, 30));
        let attach = m.finish(&no_sites(0)).attach.unwrap();
        let got: Vec<(&str, bool, u64, u64)> = attach
            .loader_types
            .iter()
            .map(|t| (t.loader_type.as_str(), t.hidden, t.committed, t.classes))
            .collect();
        assert_eq!(
            got,
            [
                ("bootstrap", false, 40, 4),
                ("app", false, 30, 2),
                ("bootstrap", true, 5, 2)
            ]
        );
    }
}
