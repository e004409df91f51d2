//! OutOfMemoryErrors (`resource_exhausted` records) and, for class
//! metadata, the call site that filled it: the one with the most classes
//! defined before the error (`seq <= after_seq`).
//!
//! For each record the per-call-site counts are copied when it is read
//! (one copy per distinct `after_seq`, at most [`EXHAUSTED_KEPT`]): the
//! agent writes classes in `seq` order, so the classes read so far are the
//! ones before it; a class with a lower `seq` read later is still added.

use metascope_events::ResourceExhausted;
use serde::Serialize;

/// `resource_exhausted` records kept (a JVM that keeps catching
/// OutOfMemoryError can throw thousands); the rest are counted.
pub const EXHAUSTED_KEPT: usize = 100;

/// What ran out, from a ResourceExhausted record's flags and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    /// `OutOfMemoryError: Metaspace`: class metadata, what metascope is for.
    Metaspace,
    /// `OutOfMemoryError: Compressed class space`: also class metadata.
    CompressedClassSpace,
    /// `Java heap space` and other heap exhaustion.
    JavaHeap,
    /// `unable to create native thread`.
    Threads,
    Other,
}

impl Resource {
    pub fn of(r: &ResourceExhausted) -> Resource {
        let has = |flag: &str| r.flags.iter().any(|f| f == flag);
        let description = r.description.to_ascii_lowercase();
        if has("java_heap") {
            Resource::JavaHeap
        } else if has("threads") {
            Resource::Threads
        } else if description.contains("metaspace") {
            Resource::Metaspace
        } else if description.contains("compressed class space") {
            Resource::CompressedClassSpace
        } else {
            Resource::Other
        }
    }

    /// Class definitions fill this resource, so a call site can be blamed.
    pub fn is_class_metadata(self) -> bool {
        matches!(self, Resource::Metaspace | Resource::CompressedClassSpace)
    }
}

/// One ResourceExhausted record, with the call site that filled the
/// resource when it is class metadata.
#[derive(Debug, Clone)]
pub struct Exhaustion {
    pub event: ResourceExhausted,
    pub resource: Resource,
    /// Class records read with `seq <= after_seq` (every kind).
    pub captured_before: u64,
    /// Only for class metadata, and only when a class was captured before.
    pub filled_by: Option<FilledBy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilledBy {
    /// The call site, in report order (rank - 1).
    pub site: usize,
    /// Classes that call site defined before the error (`seq <= after_seq`).
    pub classes_before: u64,
}

/// Per call site classes with `seq <= after_seq` of one ResourceExhausted
/// record: the counts when it was read, plus later classes with a lower
/// `seq`.
#[derive(Debug)]
struct Snapshot {
    after_seq: u64,
    /// Class records read when the snapshot was taken.
    at_records: u64,
    per_site: Vec<u64>,
    captured_before: u64,
}

/// Fed while reading.
#[derive(Debug, Default)]
pub struct Exhaustions {
    /// The first [`EXHAUSTED_KEPT`] records, each with its snapshot (for
    /// class metadata).
    kept: Vec<(ResourceExhausted, Resource, Option<usize>)>,
    omitted: u64,
    snapshots: Vec<Snapshot>,
    /// Highest `after_seq` of any snapshot: a class at or below it that
    /// arrives late still counts as "before" (normally never).
    max_seq: u64,
}

impl Exhaustions {
    /// A class record was read (any kind): counts towards
    /// `captured_before` of the errors it came before.
    pub fn class_read(&mut self, seq: u64) {
        if seq <= self.max_seq {
            for snap in &mut self.snapshots {
                if seq <= snap.after_seq {
                    snap.captured_before += 1;
                }
            }
        }
    }

    /// A class record read late was grouped into call site `site`.
    pub fn class_at_site(&mut self, seq: u64, site: usize) {
        if seq <= self.max_seq {
            for snap in &mut self.snapshots {
                if seq <= snap.after_seq {
                    if snap.per_site.len() <= site {
                        snap.per_site.resize(site + 1, 0);
                    }
                    snap.per_site[site] += 1;
                }
            }
        }
    }

    /// A `resource_exhausted` record, read after `class_records` class
    /// records; `site_classes` gives the classes per call site so far (by
    /// table index), asked only when needed.
    pub fn record(
        &mut self,
        r: ResourceExhausted,
        class_records: u64,
        site_classes: impl FnOnce() -> Vec<u64>,
    ) {
        if self.kept.len() >= EXHAUSTED_KEPT {
            self.omitted += 1;
            return;
        }
        let resource = Resource::of(&r);
        let snapshot = resource.is_class_metadata().then(|| {
            let reuse = self
                .snapshots
                .last()
                .is_some_and(|s| s.after_seq == r.after_seq && s.at_records == class_records);
            if !reuse {
                self.snapshots.push(Snapshot {
                    after_seq: r.after_seq,
                    at_records: class_records,
                    per_site: if r.after_seq == 0 {
                        Vec::new()
                    } else {
                        site_classes()
                    },
                    captured_before: class_records.min(r.after_seq),
                });
                self.max_seq = self.max_seq.max(r.after_seq);
            }
            self.snapshots.len() - 1
        });
        self.kept.push((r, resource, snapshot));
    }

    /// Records past [`EXHAUSTED_KEPT`], counted only.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// The records kept, in stream order, with the call sites that filled
    /// class metadata in report order (`sorted` maps the table's indexes).
    pub fn finish(&self, sorted: impl Fn(usize) -> Option<usize>) -> Vec<Exhaustion> {
        self.kept
            .iter()
            .map(|(event, resource, snapshot)| {
                let snap = snapshot.map(|i| &self.snapshots[i]);
                Exhaustion {
                    event: event.clone(),
                    resource: *resource,
                    captured_before: snap.map_or(0, |s| s.captured_before),
                    filled_by: snap.and_then(|s| filled_by(s, &sorted)),
                }
            })
            .collect()
    }
}

/// Most classes before the error; ties go to the better-ranked call site.
fn filled_by(snap: &Snapshot, sorted: impl Fn(usize) -> Option<usize>) -> Option<FilledBy> {
    snap.per_site
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .filter_map(|(i, &n)| {
            sorted(i).map(|site| FilledBy {
                site,
                classes_before: n,
            })
        })
        .max_by(|a, b| {
            a.classes_before
                .cmp(&b.classes_before)
                .then(b.site.cmp(&a.site))
        })
}
