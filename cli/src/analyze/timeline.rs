//! Definitions and unloads per call site, and GC starts, in at most
//! [`TIMELINE_BUCKETS`] buckets over the recording: the bucket width
//! doubles (merging neighbours) whenever the recording outgrows them, so
//! memory is bounded by call sites.

/// Buckets of the timeline.
pub const TIMELINE_BUCKETS: usize = 60;
/// First bucket width; doubled whenever the recording outgrows the buckets.
const FIRST_BUCKET_NS: u64 = 1_000_000;

/// Fed while reading.
#[derive(Debug)]
pub struct Timeline {
    /// Per call site (as the call-site table numbers them): (defined,
    /// unloaded) per bucket.
    sites: Vec<Vec<(u64, u64)>>,
    gc_buckets: Vec<u64>,
    width_ns: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            sites: Vec::new(),
            gc_buckets: Vec::new(),
            width_ns: FIRST_BUCKET_NS,
        }
    }
}

fn merge_pairs<T: Copy>(v: &[T], add: impl Fn(T, T) -> T) -> Vec<T> {
    v.chunks(2)
        .map(|c| if c.len() == 2 { add(c[0], c[1]) } else { c[0] })
        .collect()
}

fn add_pairs(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0 + b.0, a.1 + b.1)
}

fn bump<T: Default + Clone>(v: &mut Vec<T>, i: usize) -> &mut T {
    if v.len() <= i {
        v.resize(i + 1, T::default());
    }
    &mut v[i]
}

impl Timeline {
    /// The bucket of `t_ns`, widening the buckets as needed.
    fn bucket(&mut self, t_ns: u64) -> usize {
        while t_ns / self.width_ns >= TIMELINE_BUCKETS as u64 {
            self.width_ns *= 2;
            for s in &mut self.sites {
                *s = merge_pairs(s, add_pairs);
            }
            self.gc_buckets = merge_pairs(&self.gc_buckets, |a, b| a + b);
        }
        (t_ns / self.width_ns) as usize
    }

    pub fn class(&mut self, site: usize, t_ns: u64) {
        let b = self.bucket(t_ns);
        let site = bump(&mut self.sites, site);
        bump(site, b).0 += 1;
    }

    /// A class of call site `site` was unloaded (`None`: no site matched;
    /// it still widens the timeline).
    pub fn class_unload(&mut self, site: Option<usize>, t_ns: u64) {
        let b = self.bucket(t_ns);
        if let Some(site) = site.and_then(|i| self.sites.get_mut(i)) {
            bump(site, b).1 += 1;
        }
    }

    pub fn gc_start(&mut self, t_ns: u64) {
        let b = self.bucket(t_ns);
        *bump(&mut self.gc_buckets, b) += 1;
    }

    /// The buckets covering `duration_ns`, call sites in report order
    /// (`sorted_index`: the position of each table index in the report).
    /// Reads this timeline in place: nothing per call site is copied.
    pub fn finish(&self, duration_ns: u64, sorted_index: &[usize]) -> TimelineData<'_> {
        // Widen as more records would have: merge `merge` buckets into one.
        let (mut width_ns, mut merge) = (self.width_ns, 1);
        while duration_ns / width_ns >= TIMELINE_BUCKETS as u64 {
            width_ns *= 2;
            merge *= 2;
        }
        let mut table_index = vec![usize::MAX; sorted_index.len()];
        for (i, &sorted) in sorted_index.iter().enumerate() {
            table_index[sorted] = i;
        }
        let buckets = if duration_ns == 0 {
            1
        } else {
            (duration_ns.div_ceil(width_ns) as usize).clamp(1, TIMELINE_BUCKETS)
        };
        let mut gc_buckets: Vec<u64> = self
            .gc_buckets
            .chunks(merge)
            .map(|c| c.iter().sum())
            .collect();
        gc_buckets.resize(buckets.max(gc_buckets.len()), 0);
        TimelineData {
            sites: &self.sites,
            table_index,
            merge,
            gc_buckets,
            bucket_ns: width_ns,
            buckets,
            duration_ns,
        }
    }
}

/// The timeline of a whole recording, call sites in report order.
#[derive(Debug, Clone)]
pub struct TimelineData<'a> {
    /// (defined, unloaded) per bucket of the [`Timeline`], per call site in
    /// table order.
    sites: &'a [Vec<(u64, u64)>],
    /// The table index of each call site in report order.
    table_index: Vec<usize>,
    /// Buckets of `sites` per bucket here.
    merge: usize,
    /// GC starts per bucket.
    pub gc_buckets: Vec<u64>,
    pub bucket_ns: u64,
    /// Buckets covering the recording (at most [`TIMELINE_BUCKETS`]).
    pub buckets: usize,
    pub duration_ns: u64,
}

impl TimelineData<'_> {
    /// (defined, unloaded) per bucket of call site `site` (report order).
    fn site(&self, site: usize) -> impl Iterator<Item = (u64, u64)> + '_ {
        let buckets = self
            .table_index
            .get(site)
            .and_then(|&i| self.sites.get(i))
            .map_or(&[][..], |s| &s[..]);
        buckets
            .chunks(self.merge)
            .map(|c| c.iter().fold((0, 0), |a, &b| add_pairs(a, b)))
    }

    /// End time of bucket `i`, in ms since the start (the last one ends at
    /// the recording's end).
    pub fn bucket_end_ms(&self, i: usize) -> f64 {
        let end = ((i as u64 + 1) * self.bucket_ns).min(self.duration_ns.max(1));
        (end / 1_000) as f64 / 1_000.0
    }

    /// Live classes of call site `site` at the end of each bucket.
    pub fn live_by_bucket(&self, site: usize) -> Vec<u64> {
        let mut buckets = self.site(site);
        let mut live = 0i64;
        (0..self.buckets)
            .map(|_| {
                let (d, u) = buckets.next().unwrap_or_default();
                live += d as i64 - u as i64;
                live.max(0) as u64
            })
            .collect()
    }

    /// `[(t_ms, live), ...]` for one call site.
    pub fn live_timeline(&self, site: usize) -> Vec<(f64, u64)> {
        self.live_by_bucket(site)
            .into_iter()
            .enumerate()
            .map(|(i, live)| (self.bucket_end_ms(i), live))
            .collect()
    }

    /// Live classes at the end minus live classes one third of the way in
    /// (at the end of bucket `buckets / 3 - 1`; 0 when there are fewer than
    /// 3 buckets, i.e. the start): growth after warm-up, negative when
    /// classes were unloaded.
    pub fn live_growth(&self, site: usize) -> i64 {
        let live = self.live_by_bucket(site);
        let end = live.last().copied().unwrap_or(0);
        let third = match self.buckets / 3 {
            0 => 0,
            n => live.get(n - 1).copied().unwrap_or(0),
        };
        end as i64 - third as i64
    }

    /// Classes call site `site` defined in buckets starting at or after
    /// `from`.
    pub fn defined_from(&self, site: usize, from: usize) -> u64 {
        self.site(site).skip(from).map(|(d, _)| d).sum()
    }

    /// Every call site together, per bucket: `(t_ms, defined, unloaded,
    /// live, gcs)`, `live` being the running total at the bucket's end.
    pub fn totals(&self) -> Vec<(f64, u64, u64, u64, u64)> {
        let mut sum = vec![(0u64, 0u64); self.buckets];
        for site in 0..self.table_index.len() {
            for (total, bucket) in sum.iter_mut().zip(self.site(site)) {
                *total = add_pairs(*total, bucket);
            }
        }
        let mut live = 0i64;
        sum.into_iter()
            .enumerate()
            .map(|(i, (defined, unloaded))| {
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

    /// `[(t_ms, gcs), ...]` aligned with the live timelines.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_and_merge_without_losing_counts() {
        let mut t = Timeline::default();
        for i in 0..1_000u64 {
            t.class(0, i * 10_000_000); // every 10 ms for 10 s
            if i % 100 == 0 {
                t.gc_start(i * 10_000_000);
            }
        }
        let d = t.finish(10_000_000_000, &[0]);
        assert!(d.buckets <= TIMELINE_BUCKETS && d.buckets > TIMELINE_BUCKETS / 2);
        let tl = d.live_timeline(0);
        assert_eq!(tl.len(), d.buckets);
        assert_eq!(tl.last().unwrap(), &(10_000.0, 1_000));
        assert!(tl.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
        assert_eq!(d.gc_timeline().iter().map(|g| g.1).sum::<u64>(), 10);
        // Finishing does not change what is being read.
        assert_eq!(t.finish(10_000_000_000, &[0]).buckets, d.buckets);
    }

    #[test]
    fn a_snapshot_covers_the_recording_so_far() {
        let mut t = Timeline::default();
        t.class(1, 5_000_000);
        t.class_unload(Some(1), 7_000_000);
        t.class_unload(None, 8_000_000);
        // Sites in report order: table index 1 is shown first.
        let d = t.finish(100_000_000, &[1, 0]);
        assert_eq!((d.buckets, d.bucket_ns), (50, 2_000_000));
        assert_eq!(d.live_by_bucket(0)[2], 1);
        assert_eq!(d.live_by_bucket(0)[3], 0);
        assert_eq!(d.live_by_bucket(1), vec![0; 50]);
        assert_eq!(d.defined_from(0, 3), 0);
        assert_eq!(d.defined_from(0, 2), 1);
    }
}
