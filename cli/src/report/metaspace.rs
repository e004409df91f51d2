//! Metaspace in bytes in the report: the JVM's totals over time (aligned
//! with the class-count timeline), the snapshots the report shows (at
//! attach, the peak, the first OutOfMemoryError, the end) with their
//! biggest call sites and loader types, and each call site's bytes.
//! Absent, field and all, for a recording without Metaspace records (an
//! older agent, a JFR recording without `jdk.MetaspaceSummary`), so such a
//! report reads exactly as before.

use metascope_events::{ConvertedFrom, MetaspaceSample, MetaspaceSnapshot, SnapshotReason};
use serde::Serialize;

use super::model::{ns_to_ms, TimelinePoint};
use crate::analyze::metaspace::{LoaderTypeBytes, MetaspaceData, SiteBytes, Snapshot};
use crate::analyze::Analyzed;

/// Call sites listed per snapshot (`top_call_sites`), most committed first.
pub const TOP_SITES_PER_SNAPSHOT: usize = 10;
/// Loader types listed per snapshot; the rest are summed.
pub const LOADER_TYPES_LISTED: usize = 50;

/// Where the figures come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetaspaceSource {
    /// HotSpot's own accounting (`VM.metaspace`), asked by the agent inside
    /// the JVM: totals about every 200 ms, per-loader listings at the
    /// snapshots.
    VmMetaspace,
    /// A JFR recording's `jdk.MetaspaceSummary` events (before and after
    /// each GC): totals only, no per-loader snapshots.
    JfrMetaspaceSummary,
}

/// How a figure was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Obtained {
    /// All of it from loaders holding only these classes: the JVM's own
    /// per-loader figures.
    Exact,
    /// Some from loaders shared with other call sites or uncaptured
    /// classes, split by class-file size: an estimate.
    PartlyEstimated,
    /// All of it split off shared loaders: an estimate.
    Estimated,
    /// Nothing held.
    Nothing,
}

#[derive(Debug, Clone, Serialize)]
pub struct MetaspaceReport {
    pub source: MetaspaceSource,
    /// `MaxMetaspaceSize` from the samples; `null` when unlimited.
    pub max: Option<u64>,
    /// `CompressedClassSpaceSize`, the class space's own limit.
    pub class_max: Option<u64>,
    /// `metaspace` records read.
    pub samples_read: u64,
    /// The JVM's totals over time (thinned to about 1,000 points, peaks
    /// kept), in stream order.
    pub samples: Vec<MetaspacePoint>,
    /// The totals at the end of each bucket of the report's `timeline`
    /// (same length), `null` before the first sample.
    pub timeline: Vec<Option<MetaspacePoint>>,
    /// The last sample and the one with the most committed.
    pub last: Option<MetaspacePoint>,
    pub peak: Option<MetaspacePoint>,
    /// Every snapshot header (at most 200), skipped ones included.
    pub snapshots: Vec<SnapshotInfo>,
    pub snapshots_omitted: u64,
    /// The snapshots the report uses, each with its bytes per call site
    /// and loader type; `null` when there was none.
    pub at_attach: Option<SnapshotBytes>,
    /// The snapshot with the most committed.
    pub at_peak: Option<SnapshotBytes>,
    /// The first one taken while an OutOfMemoryError was thrown.
    pub at_out_of_memory: Option<SnapshotBytes>,
    /// The `end` snapshot, else the last one taken (cut-off recording).
    pub at_end: Option<SnapshotBytes>,
    /// `stack_metaspace`/`loader_type_metaspace` lines that did not follow
    /// their snapshot's header (ignored).
    pub stray_lines: u64,
}

/// The JVM's totals at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetaspacePoint {
    pub t_ms: f64,
    pub used: u64,
    pub committed: u64,
    /// Class space's share (`null` without compressed class pointers).
    pub class_used: Option<u64>,
    pub class_committed: Option<u64>,
    pub gc_threshold: Option<u64>,
}

impl From<&MetaspaceSample> for MetaspacePoint {
    fn from(s: &MetaspaceSample) -> Self {
        MetaspacePoint {
            t_ms: ns_to_ms(s.t_ns),
            used: s.used,
            committed: s.committed,
            class_used: s.class_used,
            class_committed: s.class_committed,
            gc_threshold: s.gc_threshold,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SnapshotInfo {
    pub id: u64,
    pub reason: SnapshotReason,
    pub t_ms: f64,
    /// The JVM's totals at the snapshot.
    pub used: u64,
    pub committed: u64,
    /// Class-loader data and classes the JVM listed.
    pub loaders: u64,
    pub classes: u64,
    pub took_ms: u64,
    /// Why it was not taken (`null`: taken).
    pub skipped: Option<String>,
}

impl From<&MetaspaceSnapshot> for SnapshotInfo {
    fn from(s: &MetaspaceSnapshot) -> Self {
        SnapshotInfo {
            id: s.id,
            reason: s.reason,
            t_ms: ns_to_ms(s.t_ns),
            used: s.used,
            committed: s.committed,
            loaders: s.loaders,
            classes: s.classes,
            took_ms: s.took_ms,
            skipped: s.skipped.clone(),
        }
    }
}

/// Bytes some classes held at a snapshot, split into what is exact and
/// what is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bytes {
    pub used: u64,
    pub committed: u64,
    /// From loaders holding only these classes: the JVM's own figures.
    pub exact_used: u64,
    pub exact_committed: u64,
    /// Split off shared loaders by class-file size.
    pub estimated_used: u64,
    pub estimated_committed: u64,
    /// Live classes and the loaders (class-loader data) holding them.
    pub classes: u64,
    pub loaders: u64,
    pub obtained: Obtained,
}

impl From<&SiteBytes> for Bytes {
    fn from(b: &SiteBytes) -> Self {
        let obtained = if b.used == 0 && b.committed == 0 {
            Obtained::Nothing
        } else if b.exclusive_used >= b.used && b.exclusive_committed >= b.committed {
            Obtained::Exact
        } else if b.exclusive_used == 0 && b.exclusive_committed == 0 {
            Obtained::Estimated
        } else {
            Obtained::PartlyEstimated
        };
        Bytes {
            used: b.used,
            committed: b.committed,
            exact_used: b.exclusive_used,
            exact_committed: b.exclusive_committed,
            estimated_used: b.used - b.exclusive_used,
            estimated_committed: b.committed - b.exclusive_committed,
            classes: b.classes,
            loaders: b.loaders,
            obtained,
        }
    }
}

/// One snapshot the report uses.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotBytes {
    pub snapshot: SnapshotInfo,
    /// `MaxMetaspaceSize` (`max` of the samples), `null` when unlimited.
    pub limit: Option<u64>,
    /// Every call site together.
    pub call_sites: Bytes,
    /// The call sites holding the most committed, at most 10 (any rank,
    /// `--top` or not).
    pub top_call_sites: Vec<SiteHeld>,
    /// Captured classes no call site of the report took (`ordinary` ones
    /// without --all-kinds).
    pub unattributed: Bytes,
    /// Loaders none of whose classes were captured (the JDK's, the
    /// application's own), per loader type, most committed first (at most
    /// 50).
    pub loader_types: Vec<LoaderTypeBytesReport>,
    /// The loader types past those, summed (`null`: none).
    pub other_loader_types: Option<LoaderTypeBytesReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteHeld {
    /// Rank in `call_sites`.
    pub rank: usize,
    pub display: String,
    pub library_entry: Option<String>,
    #[serde(flatten)]
    pub bytes: Bytes,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoaderTypeBytesReport {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Hidden classes with their own class-loader data, counted apart
    /// from their loader.
    pub hidden: bool,
    pub loaders: u64,
    pub classes: u64,
    pub used: u64,
    pub committed: u64,
}

impl From<&LoaderTypeBytes> for LoaderTypeBytesReport {
    fn from(t: &LoaderTypeBytes) -> Self {
        LoaderTypeBytesReport {
            type_name: t.loader_type.clone(),
            hidden: t.hidden,
            loaders: t.loaders,
            classes: t.classes,
            used: t.used,
            committed: t.committed,
        }
    }
}

/// One call site's bytes (`call_sites[].metaspace`).
#[derive(Debug, Clone, Serialize)]
pub struct SiteMetaspace {
    /// At the end snapshot: what its classes still held (`null`: no
    /// snapshot).
    pub at_end: Option<SiteBytesAt>,
    /// At the snapshot with the most committed Metaspace.
    pub at_peak: Option<SiteBytesAt>,
    /// At the first OutOfMemoryError's snapshot.
    pub at_out_of_memory: Option<SiteBytesAt>,
    /// The most committed it held at any snapshot, and which (`null`:
    /// it held nothing at any); what `check --max-metaspace-bytes` checks.
    pub max_committed: Option<u64>,
    pub max_committed_snapshot: Option<u64>,
}

/// A call site's bytes at one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct SiteBytesAt {
    pub snapshot: u64,
    pub reason: SnapshotReason,
    pub t_ms: f64,
    #[serde(flatten)]
    pub bytes: Bytes,
    /// The same bytes per loader type its classes live in, most committed
    /// first.
    pub loader_types: Vec<SiteLoaderTypeBytes>,
}

/// A call site's bytes in loaders of one type.
#[derive(Debug, Clone, Serialize)]
pub struct SiteLoaderTypeBytes {
    #[serde(rename = "type")]
    pub type_name: String,
    pub used: u64,
    pub committed: u64,
    pub exact_used: u64,
    pub exact_committed: u64,
    pub classes: u64,
}

/// The report's `metaspace`, `None` for a recording without Metaspace
/// records; `timeline`: the report's buckets, to align the totals with.
pub fn build(analyzed: &Analyzed<'_>, timeline: &[TimelinePoint]) -> Option<MetaspaceReport> {
    let m = &analyzed.metaspace;
    if !m.present {
        return None;
    }
    let snapshot = |s: &Option<Snapshot>| s.as_ref().map(|s| snapshot_bytes(analyzed, m, s));
    Some(MetaspaceReport {
        source: match analyzed
            .facts
            .header
            .as_ref()
            .and_then(|h| h.converted_from)
        {
            Some(ConvertedFrom::Jfr) => MetaspaceSource::JfrMetaspaceSummary,
            _ => MetaspaceSource::VmMetaspace,
        },
        max: m.max,
        class_max: m.class_max,
        samples_read: m.samples_read,
        samples: m.samples.iter().map(MetaspacePoint::from).collect(),
        timeline: aligned(&m.samples, timeline),
        last: m.last_sample.as_ref().map(MetaspacePoint::from),
        peak: m.peak_sample.as_ref().map(MetaspacePoint::from),
        snapshots: m.snapshots.iter().map(SnapshotInfo::from).collect(),
        snapshots_omitted: m.snapshots_omitted,
        at_attach: snapshot(&m.attach),
        at_peak: snapshot(&m.peak),
        at_out_of_memory: snapshot(&m.out_of_memory),
        at_end: snapshot(&m.end),
        stray_lines: m.stray_lines,
    })
}

/// The last sample at or before each bucket's end.
fn aligned(samples: &[MetaspaceSample], timeline: &[TimelinePoint]) -> Vec<Option<MetaspacePoint>> {
    let mut next = 0;
    let mut current: Option<&MetaspaceSample> = None;
    timeline
        .iter()
        .map(|bucket| {
            while let Some(s) = samples.get(next) {
                if ns_to_ms(s.t_ns) > bucket.t_ms {
                    break;
                }
                current = Some(s);
                next += 1;
            }
            current.map(MetaspacePoint::from)
        })
        .collect()
}

fn snapshot_bytes(analyzed: &Analyzed<'_>, m: &MetaspaceData, s: &Snapshot) -> SnapshotBytes {
    let mut ranked: Vec<(usize, &SiteBytes)> = s
        .sites
        .iter()
        .enumerate()
        .filter(|(_, b)| b.committed > 0 || b.used > 0)
        .collect();
    ranked.sort_by(|a, b| b.1.committed.cmp(&a.1.committed).then(a.0.cmp(&b.0)));
    ranked.truncate(TOP_SITES_PER_SNAPSHOT);
    let mut other = s
        .other_loader_types
        .as_ref()
        .map(LoaderTypeBytesReport::from);
    for t in s.loader_types.iter().skip(LOADER_TYPES_LISTED) {
        let o = other.get_or_insert(LoaderTypeBytesReport {
            type_name: String::new(),
            hidden: false,
            loaders: 0,
            classes: 0,
            used: 0,
            committed: 0,
        });
        o.loaders = o.loaders.saturating_add(t.loaders);
        o.classes = o.classes.saturating_add(t.classes);
        o.used = o.used.saturating_add(t.used);
        o.committed = o.committed.saturating_add(t.committed);
    }
    SnapshotBytes {
        snapshot: SnapshotInfo::from(&s.header),
        limit: m.max,
        call_sites: Bytes::from(&MetaspaceData::sites_total(s)),
        top_call_sites: ranked
            .into_iter()
            .filter_map(|(i, b)| {
                let site = analyzed.call_sites.get(i)?;
                Some(SiteHeld {
                    rank: i + 1,
                    display: site.key.display(),
                    library_entry: site.key.entry().map(|e| e.display()),
                    bytes: Bytes::from(b),
                })
            })
            .collect(),
        unattributed: Bytes::from(&s.unattributed),
        loader_types: s
            .loader_types
            .iter()
            .take(LOADER_TYPES_LISTED)
            .map(LoaderTypeBytesReport::from)
            .collect(),
        other_loader_types: other,
    }
}

/// The bytes of the call site at `index` (report order), `None` for a
/// recording without Metaspace records.
pub fn site(analyzed: &Analyzed<'_>, index: usize) -> Option<SiteMetaspace> {
    let m = &analyzed.metaspace;
    if !m.present {
        return None;
    }
    let at = |s: &Option<Snapshot>| {
        s.as_ref().map(|s| SiteBytesAt {
            snapshot: s.header.id,
            reason: s.header.reason,
            t_ms: ns_to_ms(s.header.t_ns),
            bytes: Bytes::from(s.sites.get(index).unwrap_or(&SiteBytes::default())),
            loader_types: {
                let mut types: Vec<SiteLoaderTypeBytes> = s
                    .site_loader_types
                    .get(index)
                    .into_iter()
                    .flatten()
                    .map(|(t, b)| SiteLoaderTypeBytes {
                        type_name: t.clone(),
                        used: b.used,
                        committed: b.committed,
                        exact_used: b.exclusive_used,
                        exact_committed: b.exclusive_committed,
                        classes: b.classes,
                    })
                    .collect();
                types.sort_by(|a, b| {
                    b.committed
                        .cmp(&a.committed)
                        .then_with(|| a.type_name.cmp(&b.type_name))
                });
                types
            },
        })
    };
    let max = m.site_max_committed.get(index).copied().flatten();
    Some(SiteMetaspace {
        at_end: at(&m.end),
        at_peak: at(&m.peak),
        at_out_of_memory: at(&m.out_of_memory),
        max_committed: max.map(|(c, _)| c),
        max_committed_snapshot: max.map(|(_, id)| id),
    })
}

/// Recordings with Metaspace records, for the tests of every renderer.
#[cfg(test)]
pub(crate) mod fixture {
    use metascope_events::*;

    use crate::fixtures::{def, Stream};

    pub const MIB: u64 = 1 << 20;
    pub const LIMIT: u64 = 32 * MIB;
    pub const USER_LOADER: &str = "com.acme.UserLoader";
    pub const APP: &str = "jdk.internal.loader.ClassLoaders$AppClassLoader";

    /// Bytes in tenths of a MiB, e.g. `mib(271)` is 27.1 MiB.
    pub fn mib(tenths: u64) -> u64 {
        tenths * MIB / 10
    }

    fn sample(t_ms: u64, committed: u64) -> Record {
        Record::Metaspace(MetaspaceSample {
            t_ns: t_ms * 1_000_000,
            used: committed / 10 * 9,
            committed,
            class_used: Some(committed / 10),
            class_committed: Some(committed / 8),
            max: Some(LIMIT),
            class_max: Some(1 << 30),
            gc_threshold: Some(committed + MIB),
        })
    }

    fn snapshot(id: u64, reason: SnapshotReason, t_ms: u64, committed: u64) -> Record {
        Record::MetaspaceSnapshot(MetaspaceSnapshot {
            id,
            reason,
            t_ns: t_ms * 1_000_000,
            used: committed / 10 * 9,
            committed,
            loaders: 20,
            classes: 2_000,
            took_ms: 12,
            skipped: None,
        })
    }

    /// (snapshot, stack, kind, loader type, classes, committed, exclusive committed)
    fn stack(
        snapshot: u64,
        stack: u64,
        kind: ClassKind,
        loader_type: &str,
        classes: u64,
        committed: u64,
        exclusive: u64,
    ) -> Record {
        Record::StackMetaspace(StackMetaspace {
            snapshot,
            stack,
            kind,
            loader_type: loader_type.into(),
            classes,
            loaders: classes,
            used: committed / 10 * 9,
            committed,
            exclusive_used: exclusive / 10 * 9,
            exclusive_committed: exclusive,
        })
    }

    fn loader_type(snapshot: u64, loader_type: &str, classes: u64, committed: u64) -> Record {
        Record::LoaderTypeMetaspace(LoaderTypeMetaspace {
            snapshot,
            loader_type: loader_type.into(),
            hidden: false,
            loaders: 1,
            classes,
            used: committed / 10 * 9,
            committed,
        })
    }

    /// A JVM under -XX:MaxMetaspaceSize=32m: #1 by classes is the copier
    /// (6 accessors, one loader each: 2 MiB, exact), #2 the auditing
    /// proxies (4 classes in per-user loaders: 27.1 MiB at the
    /// OutOfMemoryError, exact), #3 lambdas in the application loader
    /// (0.5 MiB, estimated). Snapshots: growth (1), out_of_memory (2, the
    /// peak), end (3); samples every 200 ms.
    pub fn oom_stream() -> String {
        let mut s = Stream::new(
            "17.0.9",
            &[
                (
                    "java.lang.reflect.Method.invoke",
                    "com.acme.Copier.copy",
                    60,
                ),
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.AuditingProxies.forUser",
                    18,
                ),
                (
                    "java.lang.invoke.LambdaMetafactory.metafactory",
                    "com.acme.Rules.compile",
                    33,
                ),
            ],
        );
        for i in 0..6 {
            s.class(
                100 + i * 10,
                &def(
                    ClassKind::ReflectionAccessor,
                    1,
                    (100 + i, crate::fixtures::DELEGATING),
                ),
            );
        }
        for i in 0..4 {
            s.class(
                200 + i * 100,
                &def(ClassKind::Proxy, 2, (10 + i, USER_LOADER)),
            );
        }
        for i in 0..2 {
            s.class(300 + i, &def(ClassKind::Lambda, 3, (7, APP)));
        }
        for i in 0..15 {
            let t = i * 200;
            s.record(sample(t, (mib(50) + i * mib(20)).min(mib(319))));
        }
        s.record(snapshot(1, SnapshotReason::Growth, 1_000, mib(150)));
        s.record(stack(
            1,
            1,
            ClassKind::ReflectionAccessor,
            crate::fixtures::DELEGATING,
            6,
            mib(20),
            mib(20),
        ));
        s.record(stack(
            1,
            2,
            ClassKind::Proxy,
            USER_LOADER,
            2,
            mib(100),
            mib(100),
        ));
        s.record(loader_type(1, "bootstrap", 1_500, mib(20)));
        s.record(Record::ResourceExhausted(ResourceExhausted {
            description: "Metaspace".into(),
            flags: vec!["oom_error".into()],
            thread: "main".into(),
            t_ns: 2_030_000_000,
            wall_ms: 1_763_900_002_030,
            after_seq: 12,
        }));
        // At the OutOfMemoryError and at the end: the proxies shrank.
        for (id, reason, t_ms, committed, proxies) in [
            (2, SnapshotReason::OutOfMemory, 2_030, 319, 271),
            (3, SnapshotReason::End, 2_900, 300, 250),
        ] {
            s.record(snapshot(id, reason, t_ms, mib(committed)));
            let (accessors, delegating) =
                (ClassKind::ReflectionAccessor, crate::fixtures::DELEGATING);
            s.record(stack(id, 1, accessors, delegating, 6, mib(20), mib(20)));
            let proxy_bytes = mib(proxies);
            s.record(stack(
                id,
                2,
                ClassKind::Proxy,
                USER_LOADER,
                4,
                proxy_bytes,
                proxy_bytes,
            ));
            s.record(stack(id, 3, ClassKind::Lambda, APP, 2, mib(5), 0));
            s.record(loader_type(id, "bootstrap", 1_500, mib(20)));
            s.record(loader_type(id, APP, 300, mib(3)));
        }
        s.finished()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::fixture::{mib, oom_stream, LIMIT};
    use crate::analyze::SiteOrder;
    use crate::fixtures::{bean_copier_stream, json, report_with, ReadOptions};
    use crate::render::json as json_render;

    #[test]
    fn call_sites_carry_their_bytes_at_the_end_and_at_the_peak() {
        let v = json(&oom_stream(), 0);
        let sites = v["call_sites"].as_array().unwrap();
        assert_eq!(sites[0]["display"], "com.acme.Copier.copy(Copier.java:60)");
        let proxies = &sites[1]["metaspace"];
        assert_eq!(proxies["at_end"]["snapshot"], 3);
        assert_eq!(proxies["at_end"]["reason"], "end");
        assert_eq!(proxies["at_end"]["committed"], mib(250));
        assert_eq!(proxies["at_end"]["obtained"], "exact");
        assert_eq!(proxies["at_end"]["exact_committed"], mib(250));
        assert_eq!(proxies["at_end"]["estimated_committed"], 0);
        assert_eq!(proxies["at_peak"]["snapshot"], 2);
        assert_eq!(proxies["at_peak"]["reason"], "out_of_memory");
        assert_eq!(proxies["at_peak"]["committed"], mib(271));
        assert_eq!(proxies["at_peak"]["classes"], 4);
        assert_eq!(proxies["at_out_of_memory"]["committed"], mib(271));
        assert_eq!(proxies["max_committed"], mib(271));
        assert_eq!(proxies["max_committed_snapshot"], 2);
        let lambdas = &sites[2]["metaspace"];
        assert_eq!(lambdas["at_end"]["obtained"], "estimated");
        assert_eq!(lambdas["at_end"]["estimated_committed"], mib(5));
        assert_eq!(lambdas["at_end"]["exact_committed"], 0);
        // Present in the growth snapshot only as nothing.
        assert_eq!(sites[0]["metaspace"]["at_end"]["committed"], mib(20));
    }

    #[test]
    fn the_timeline_carries_the_jvms_totals_beside_the_class_counts() {
        let v = json(&oom_stream(), 0);
        let m = &v["metaspace"];
        assert_eq!(m["source"], "vm_metaspace");
        assert_eq!(m["max"], LIMIT);
        assert_eq!(m["samples_read"], 15);
        assert_eq!(m["samples"].as_array().unwrap().len(), 15);
        assert_eq!(m["samples"][1]["t_ms"], 200.0);
        assert_eq!(m["samples"][1]["committed"], mib(70));
        assert_eq!(m["samples"][1]["class_committed"], mib(70) / 8);
        assert_eq!(m["peak"]["committed"], mib(319));
        assert_eq!(m["last"]["t_ms"], 2_800.0);
        let timeline = v["timeline"].as_array().unwrap();
        let aligned = m["timeline"].as_array().unwrap();
        assert_eq!(aligned.len(), timeline.len());
        // Each bucket holds the last sample at or before its end.
        for (bucket, point) in timeline.iter().zip(aligned) {
            let end = bucket["t_ms"].as_f64().unwrap();
            if end < 0.0 {
                assert!(point.is_null());
            } else {
                let t = point["t_ms"].as_f64().unwrap();
                assert!(
                    t <= end && end - t <= 200.0,
                    "{t} for a bucket ending {end}"
                );
            }
        }
        let snapshots = m["snapshots"].as_array().unwrap();
        let reasons: Vec<&str> = snapshots
            .iter()
            .map(|s| s["reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, ["growth", "out_of_memory", "end"]);
    }

    #[test]
    fn the_oom_snapshot_adds_up_to_the_limit() {
        let v = json(&oom_stream(), 1);
        let oom = &v["metaspace"]["at_out_of_memory"];
        assert_eq!(oom["limit"], LIMIT);
        assert_eq!(oom["snapshot"]["committed"], mib(319));
        let top = &oom["top_call_sites"];
        assert_eq!(top[0]["rank"], 2);
        assert_eq!(
            top[0]["display"],
            "com.acme.AuditingProxies.forUser(AuditingProxies.java:18)"
        );
        assert_eq!(
            top[0]["library_entry"],
            "java.lang.reflect.Proxy.newProxyInstance"
        );
        assert_eq!(top[0]["committed"], mib(271));
        assert_eq!(top[1]["rank"], 1);
        assert_eq!(top[2]["rank"], 3);
        let sites = mib(20) + mib(271) + mib(5);
        assert_eq!(oom["call_sites"]["committed"], sites);
        assert_eq!(oom["call_sites"]["obtained"], "partly_estimated");
        let loaders: u64 = oom["loader_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["committed"].as_u64().unwrap())
            .sum();
        assert_eq!(loaders, mib(20) + mib(3));
        assert_eq!(oom["loader_types"][0]["type"], "bootstrap");
        // Every byte the JVM listed went somewhere (to a byte of rounding).
        assert!((sites + loaders).abs_diff(mib(319)) <= 2);
    }

    #[test]
    fn sort_bytes_ranks_by_what_the_call_sites_held_at_the_end() {
        let options = ReadOptions {
            order: SiteOrder::Bytes,
            ..ReadOptions::default()
        };
        let report = report_with(&oom_stream(), 0, options);
        let v: Value = serde_json::from_str(&json_render::render(&report)).unwrap();
        assert_eq!(v["sorted_by"], "bytes");
        let ranked: Vec<(u64, &str)> = v["call_sites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["rank"].as_u64().unwrap(), s["display"].as_str().unwrap()))
            .collect();
        assert_eq!(
            ranked,
            [
                (
                    1,
                    "com.acme.AuditingProxies.forUser(AuditingProxies.java:18)"
                ),
                (2, "com.acme.Copier.copy(Copier.java:60)"),
                (3, "com.acme.Rules.compile(Rules.java:33)"),
            ]
        );
        // Everything that refers to a rank follows.
        assert_eq!(
            v["call_sites"][0]["metaspace"]["at_end"]["committed"],
            mib(250)
        );
        assert_eq!(
            v["metaspace"]["at_out_of_memory"]["top_call_sites"][0]["rank"],
            1
        );
        assert_eq!(v["call_sites"][0]["classes"], 4);
        let filled = &v["recording"]["resource_exhausted"][0]["filled_by"];
        assert_eq!(filled["display"], "com.acme.Copier.copy(Copier.java:60)");
        assert_eq!(filled["rank"], 2);
        assert!(v.get("sort_by_bytes_unavailable").is_none());
    }

    #[test]
    fn sort_bytes_without_snapshots_keeps_classes_and_says_so() {
        let options = ReadOptions {
            order: SiteOrder::Bytes,
            ..ReadOptions::default()
        };
        let report = report_with(&bean_copier_stream(true, 0), 0, options);
        let v: Value = serde_json::from_str(&json_render::render(&report)).unwrap();
        assert_eq!(v["sort_by_bytes_unavailable"], true);
        assert!(v.get("sorted_by").is_none());
        assert_eq!(v["call_sites"][0]["classes"], 3);
    }

    #[test]
    fn a_converted_jfr_recording_names_its_source() {
        let stream = oom_stream().replacen(
            r#""attached":false}"#,
            r#""attached":false,"converted_from":"jfr"}"#,
            1,
        );
        let v = json(&stream, 0);
        assert_eq!(v["recording"]["header"]["converted_from"], "jfr");
        assert_eq!(v["metaspace"]["source"], "jfr_metaspace_summary");
        let t = crate::render::text::render(&crate::fixtures::report(&stream, 0), false);
        assert!(
            t.contains(
                "\nMetaspace (JFR's jdk.MetaspaceSummary, at each GC; MaxMetaspaceSize 32 MiB):\n"
            ),
            "{t}"
        );
    }

    #[test]
    fn a_recording_without_metaspace_records_has_no_metaspace_fields() {
        let v = json(&bean_copier_stream(true, 0), 0);
        let text = v.to_string();
        assert!(!text.contains("metaspace"), "{text}");
        assert!(!text.contains("sorted_by"), "{text}");
    }
}
