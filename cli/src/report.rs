//! The report: one model, rendered as JSON (documented in docs/report.md)
//! or as text (see `text_report`). Both formats come from the same model so
//! they never disagree.

use std::collections::BTreeMap;

use metascope_events::{
    Census, CensusGroup, ClassKind, Header, ResourceExhausted, Summary, NO_STACK,
};
use serde::Serialize;

use crate::callsite::{attribute, format_frame, CallSiteKey, Libraries, SiteFrame};
use crate::diagnosis::{self, Identity, Verdict, TARGETS_SHOWN};
use crate::grouping::{CallSiteStats, EXAMPLES, THREAD_CAP};
use crate::recording::{Exhaustion, Recording};

/// Version of the JSON report layout. Adding fields keeps it; removing or
/// re-typing one bumps it.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Label of the pooled entry once a call site has more than `THREAD_CAP`
/// distinct thread names.
pub const OTHER_THREADS: &str = "(other threads)";

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub metascope_version: &'static str,
    pub recording: RecordingInfo,
    /// Call sites in the recording, before `--top`.
    pub call_sites_total: usize,
    pub call_sites: Vec<CallSiteReport>,
    /// What `--top` left out.
    pub omitted: Omitted,
    /// GCs that started during the recording (`gc_start` records).
    pub gcs: u64,
    /// GC starts per timeline bucket, `[[t_ms, gcs], ...]`, aligned with
    /// every `call_sites[].live_timeline`.
    pub gc_timeline: Vec<(f64, u64)>,
    /// Every call site together, per timeline bucket (the same buckets).
    pub timeline: Vec<TimelinePoint>,
    /// Per loader type, most classes first.
    pub loader_census: Vec<LoaderCensusReport>,
    pub diagnosis: DiagnosisReport,
}

/// One bucket of the recording-wide timeline.
#[derive(Debug, Serialize)]
pub struct TimelinePoint {
    /// End of the bucket, ms since the start.
    pub t_ms: f64,
    /// Classes defined in the bucket (call sites only).
    pub defined: u64,
    /// `class_unload` records matched to a call site in the bucket.
    pub unloaded: u64,
    /// Live classes at the end of the bucket (running total).
    pub live: u64,
    /// GCs that started in the bucket.
    pub gcs: u64,
}

#[derive(Debug, Serialize)]
pub struct LoaderCensusReport {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Loader instances seen (a lower bound when `instances_capped`).
    pub instances: u64,
    pub instances_capped: bool,
    /// `loader_unload` records for this type.
    pub instances_unloaded: u64,
    pub classes_defined: u64,
    pub classes_unloaded: u64,
    /// Call sites that defined classes in loaders of this type, most first
    /// (at most 10).
    pub call_sites: Vec<CensusSite>,
}

#[derive(Debug, Serialize)]
pub struct CensusSite {
    pub rank: usize,
    pub display: String,
    pub classes: u64,
}

#[derive(Debug, Serialize)]
pub struct DiagnosisReport {
    /// One per flagged call site, by rank (every call site, `--top` or not).
    pub verdicts: Vec<Verdict>,
    /// `class_unload` records no call site matched (their class record
    /// was dropped, or they are `ordinary` and hidden).
    pub unmatched_unloads: u64,
}

/// One entry of `call_sites[].targets`: `target`, `fingerprint` or `name`
/// (whichever identifies the class), with counts.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub defined: u64,
    /// `null` for `name` (unload records carry no name).
    pub unloaded: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct RecordingInfo {
    pub file: String,
    /// The stream's header record as the agent wrote it; `null` when the
    /// file's beginning is missing.
    pub header: Option<Header>,
    /// The stream's summary record, `null` when the recording has none.
    pub summary: Option<Summary>,
    /// The agent was attached to a running JVM (`header.attached`, or a
    /// census without a header) rather than loaded at JVM start.
    pub attached: bool,
    /// The stream's census record: classes already loaded at attach, by
    /// kind and loader type, without stacks; `null` unless attached.
    pub census: Option<Census>,
    /// The summary was written: the JVM ended normally.
    pub complete: bool,
    /// The last line was cut off mid-write.
    pub truncated: bool,
    pub duration_ms: f64,
    pub totals: Totals,
    /// OutOfMemoryErrors the JVM threw (`resource_exhausted` records).
    pub resource_exhausted: Vec<ExhaustionReport>,
    /// `resource_exhausted` records past the first 100, counted only.
    pub resource_exhausted_omitted: u64,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ExhaustionReport {
    /// The record as the agent wrote it.
    #[serde(flatten)]
    pub event: ResourceExhausted,
    /// `metaspace`, `compressed_class_space`, `java_heap`, `threads` or
    /// `other`.
    pub resource: &'static str,
    /// `t_ns` in milliseconds.
    pub t_ms: f64,
    /// Class records read with `seq <= after_seq`.
    pub captured_before: u64,
    /// The call site that defined the most classes before it; only for
    /// Metaspace and compressed class space, `null` otherwise or when no
    /// class was captured before it.
    pub filled_by: Option<FilledByReport>,
}

#[derive(Debug, Serialize)]
pub struct FilledByReport {
    /// The call site's rank in `call_sites` (it may be past `--top`).
    pub rank: usize,
    pub display: String,
    /// The call site's library entry, `null` when there is none.
    pub library_entry: Option<String>,
    /// Classes the call site defined before the error.
    pub classes_before: u64,
    /// `classes_before / captured_before`.
    pub share: f64,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    /// From the summary (`null` without one): every class the JVM loaded.
    pub classes_loaded: Option<u64>,
    /// From the summary: classes the agent selected for capture.
    pub seen: Option<u64>,
    /// From the summary: selected classes lost to a full queue.
    pub dropped: Option<u64>,
    /// From the summary: classes recorded without a stack.
    pub stack_errors: Option<u64>,
    /// Class records read from the file.
    pub captured: u64,
    /// Classes grouped into call sites (captured minus hidden kinds).
    pub attributed: u64,
    /// `ordinary` classes left out (shown with `--all-kinds`).
    pub hidden_ordinary: u64,
    pub corrupt_lines: u64,
    pub unknown_records: u64,
}

#[derive(Debug, Serialize)]
pub struct Omitted {
    pub call_sites: usize,
    pub classes: u64,
}

#[derive(Debug, Serialize)]
pub struct CallSiteReport {
    pub rank: usize,
    pub classes: u64,
    /// `application`, `no_application_frame` or `stack_not_captured`.
    pub attribution: &'static str,
    /// One line naming the call site.
    pub display: String,
    pub application_frame: Option<FrameRef>,
    pub library_entry: Option<EntryRef>,
    /// Only for `no_application_frame`: the frame the site is grouped by.
    pub outermost_frame: Option<FrameRef>,
    pub kinds: BTreeMap<&'static str, u64>,
    pub loaders: Vec<LoaderReport>,
    pub threads: Vec<ThreadReport>,
    pub first_t_ms: f64,
    pub last_t_ms: f64,
    pub first_wall_ms: u64,
    pub last_wall_ms: u64,
    pub examples: Vec<String>,
    /// The stack of the first class of the most common kind, innermost
    /// first; empty when none was captured.
    pub sample_stack: Vec<StackFrameReport>,
    /// The sample has as many frames as the agent's `depth`: outer frames
    /// may be missing.
    pub sample_stack_at_depth_limit: bool,
    /// The sample's stack was summarised past the stack memory cap: its
    /// frames were not kept, so `sample_stack` is empty.
    pub sample_stack_summarised: bool,
    /// Same as `classes`.
    pub defined: u64,
    /// `class_unload` records for this call site.
    pub unloaded: u64,
    /// `defined - unloaded`.
    pub live: u64,
    /// Distinct targets/fingerprints/names, plus classes without one.
    pub distinct: u64,
    /// `defined - distinct`.
    pub regenerated: u64,
    /// What `distinct` rests on: `target`, `fingerprint`, `name`, `mixed`
    /// or `none` (every class counted as distinct).
    pub identity: &'static str,
    /// Past the per-site or total cap on tracked identities: `distinct` is
    /// an upper bound, `regenerated` a lower bound.
    pub distinct_capped: bool,
    /// The most defined targets/fingerprints/names (at most 20).
    pub targets: Vec<TargetReport>,
    /// `[[t_ms, live], ...]`: live classes at the end of each bucket.
    pub live_timeline: Vec<(f64, u64)>,
    /// Live at the end minus live one third of the way in (may be negative).
    pub live_growth: i64,
    /// Most classes defined in one whole second of the recording.
    pub peak_rate_per_s: u64,
    /// Start of that second, ms since the start of the recording.
    pub peak_rate_from_ms: f64,
    /// The verdict's cause for this site, `null` when not flagged.
    pub cause: Option<diagnosis::Cause>,
}

#[derive(Debug, Serialize)]
pub struct FrameRef {
    pub class: String,
    pub method: String,
    pub line: Option<u32>,
    pub file: Option<String>,
    pub display: String,
}

impl From<&SiteFrame> for FrameRef {
    fn from(f: &SiteFrame) -> Self {
        Self {
            class: f.class.clone(),
            method: f.method.clone(),
            line: f.line,
            file: f.file.clone(),
            display: f.display(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct EntryRef {
    pub class: String,
    pub method: String,
    pub display: String,
}

#[derive(Debug, Serialize)]
pub struct LoaderReport {
    #[serde(rename = "type")]
    pub type_name: String,
    /// Distinct loader instances of this type (a lower bound when
    /// `instances_capped`).
    pub instances: u64,
    /// `instances` stopped counting at the cap: it is a lower bound.
    pub instances_capped: bool,
    pub classes: u64,
}

#[derive(Debug, Serialize)]
pub struct ThreadReport {
    pub name: String,
    pub classes: u64,
}

#[derive(Debug, Serialize)]
pub struct StackFrameReport {
    pub class: String,
    pub method: String,
    pub sig: String,
    pub line: Option<u32>,
    pub file: Option<String>,
    pub display: String,
    /// `jdk`, `library`, `loader_helper`, `library_entry`,
    /// `application_frame` or `caller`.
    pub role: &'static str,
}

/// Builds the report. `top` limits the call sites (0 = all); `libraries`
/// must be the set the recording was read with, to mark sample stacks.
pub fn build(recording: &Recording, top: usize, libraries: &Libraries) -> Report {
    let total = recording.call_sites.len();
    let shown = if top == 0 { total } else { top.min(total) };
    let call_sites = recording.call_sites[..shown]
        .iter()
        .enumerate()
        .map(|(i, site)| call_site(recording, site, i + 1, libraries))
        .collect();
    let omitted = &recording.call_sites[shown..];
    let s = recording.summary.as_ref();
    let diag = &recording.diagnosis;
    let java_version = recording.header.as_ref().map(|h| h.java_version.as_str());
    let verdicts: Vec<Verdict> = recording
        .call_sites
        .iter()
        .zip(&diag.sites)
        .enumerate()
        .filter_map(|(i, (site, d))| diagnosis::verdict(i + 1, site, d, diag, java_version))
        .collect();
    let mut call_sites: Vec<CallSiteReport> = call_sites;
    for site in &mut call_sites {
        site.cause = verdicts
            .iter()
            .find(|v| v.call_site_rank == site.rank)
            .map(|v| v.cause);
    }
    let loader_census = diag
        .census
        .iter()
        .map(|(name, t)| {
            let mut sites: Vec<(usize, u64)> = t.sites.iter().map(|(&i, &n)| (i, n)).collect();
            sites.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            sites.truncate(10);
            LoaderCensusReport {
                type_name: name.clone(),
                instances: t.instances.max(t.instances_unloaded),
                instances_capped: diag.loaders_capped,
                instances_unloaded: t.instances_unloaded,
                classes_defined: t.classes_defined,
                classes_unloaded: t.classes_unloaded,
                call_sites: sites
                    .into_iter()
                    .filter_map(|(i, classes)| {
                        recording.call_sites.get(i).map(|s| CensusSite {
                            rank: i + 1,
                            display: s.key.display(),
                            classes,
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        metascope_version: env!("CARGO_PKG_VERSION"),
        recording: RecordingInfo {
            file: recording.path.display().to_string(),
            header: recording.header.clone(),
            resource_exhausted: recording
                .resource_exhausted
                .iter()
                .map(|e| exhaustion(recording, e))
                .collect(),
            resource_exhausted_omitted: recording.resource_exhausted_omitted,
            summary: recording.summary.clone(),
            attached: recording.attached(),
            census: recording.census.clone(),
            complete: s.is_some(),
            truncated: recording.truncated,
            duration_ms: ns_to_ms(recording.duration_ns()),
            totals: Totals {
                classes_loaded: s.map(|s| s.classes_loaded),
                seen: s.map(|s| s.seen),
                dropped: s.map(|s| s.dropped),
                stack_errors: s.map(|s| s.stack_errors),
                captured: recording.class_records,
                attributed: recording.attributed_classes(),
                hidden_ordinary: recording.hidden_ordinary,
                corrupt_lines: recording.corrupt_lines,
                unknown_records: recording.unknown_records,
            },
            warnings: recording.warnings.clone(),
        },
        call_sites_total: total,
        call_sites,
        omitted: Omitted {
            call_sites: omitted.len(),
            classes: omitted.iter().map(|s| s.classes).sum(),
        },
        gcs: diag.gcs,
        gc_timeline: diag.gc_timeline(),
        timeline: diag
            .timeline()
            .into_iter()
            .map(|(t_ms, defined, unloaded, live, gcs)| TimelinePoint {
                t_ms,
                defined,
                unloaded,
                live,
                gcs,
            })
            .collect(),
        loader_census,
        diagnosis: DiagnosisReport {
            verdicts,
            unmatched_unloads: diag.unmatched_unloads,
        },
    }
}

/// Census groups of generated classes listed by the text and HTML reports.
pub const CENSUS_GROUPS_SHOWN: usize = 8;

/// The attach-time census as the text and HTML reports show it: the
/// biggest groups of generated classes, the rest and the ordinary classes
/// summed up.
#[derive(Debug)]
pub struct CensusOverview<'a> {
    pub classes: u64,
    /// At most [`CENSUS_GROUPS_SHOWN`], most classes first.
    pub generated: Vec<&'a CensusGroup>,
    /// Generated groups past those: (groups, classes).
    pub more_generated: (usize, u64),
    /// Ordinary classes: (classes, loader types, loaders).
    pub ordinary: (u64, usize, u64),
}

pub fn census_overview(c: &Census) -> CensusOverview<'_> {
    let (ordinary, mut generated): (Vec<&CensusGroup>, Vec<&CensusGroup>) =
        c.groups.iter().partition(|g| g.kind == ClassKind::Ordinary);
    generated.sort_by(|a, b| {
        b.classes
            .cmp(&a.classes)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.loader_type.cmp(&b.loader_type))
    });
    let rest = generated.split_off(CENSUS_GROUPS_SHOWN.min(generated.len()));
    CensusOverview {
        classes: c.classes,
        generated,
        more_generated: (rest.len(), rest.iter().map(|g| g.classes).sum()),
        ordinary: (
            ordinary.iter().map(|g| g.classes).sum(),
            ordinary.len(),
            ordinary.iter().map(|g| g.loaders).sum(),
        ),
    }
}

fn exhaustion(recording: &Recording, e: &Exhaustion) -> ExhaustionReport {
    ExhaustionReport {
        event: e.event.clone(),
        resource: e.resource.as_str(),
        t_ms: ns_to_ms(e.event.t_ns),
        captured_before: e.captured_before,
        filled_by: e.filled_by.map(|f| {
            let site = &recording.call_sites[f.site];
            FilledByReport {
                rank: f.site + 1,
                display: site.key.display(),
                library_entry: site.key.entry().map(|e| e.display()),
                classes_before: f.classes_before,
                // Four decimals: 0.9997.
                // At most 1 even for a stream with duplicated records.
                share: ((f.classes_before as f64 / e.captured_before.max(1) as f64).min(1.0)
                    * 10_000.0)
                    .round()
                    / 10_000.0,
            }
        }),
    }
}

fn ns_to_ms(ns: u64) -> f64 {
    // Microsecond precision is plenty and keeps the JSON short.
    (ns / 1_000) as f64 / 1_000.0
}

fn call_site(
    recording: &Recording,
    site: &CallSiteStats,
    rank: usize,
    libraries: &Libraries,
) -> CallSiteReport {
    let (application_frame, outermost_frame) = match &site.key {
        CallSiteKey::Application { frame, .. } => (Some(frame.into()), None),
        CallSiteKey::NoApplicationFrame { outermost, .. } => (None, Some(outermost.into())),
        CallSiteKey::StackNotCaptured => (None, None),
    };

    let mut loaders: Vec<LoaderReport> = site
        .loaders
        .iter()
        .map(|(t, l)| LoaderReport {
            type_name: t.clone(),
            instances: l.instance_count(),
            instances_capped: l.capped,
            classes: l.classes,
        })
        .collect();
    loaders.sort_by(|a, b| {
        b.classes
            .cmp(&a.classes)
            .then_with(|| a.type_name.cmp(&b.type_name))
    });

    let mut threads: Vec<ThreadReport> = site
        .threads
        .iter()
        .map(|(name, &classes)| ThreadReport {
            name: name.clone(),
            classes,
        })
        .collect();
    threads.sort_by(|a, b| b.classes.cmp(&a.classes).then_with(|| a.name.cmp(&b.name)));
    if site.other_thread_classes > 0 {
        debug_assert!(site.threads.len() >= THREAD_CAP);
        threads.push(ThreadReport {
            name: OTHER_THREADS.to_string(),
            classes: site.other_thread_classes,
        });
    }

    // The dominant kind leads: its first class gives the sample stack, its
    // names come first among the examples.
    let dominant = site.dominant_kind();
    let mut examples: Vec<String> = dominant
        .map(|(_, k)| k.examples.clone())
        .unwrap_or_default();
    for (kind, stats) in &site.kinds {
        if Some(*kind) != dominant.map(|(k, _)| k) {
            examples.extend(stats.examples.iter().cloned());
        }
    }
    examples.truncate(EXAMPLES);
    let (sample_stack_id, sample_loader_type) = dominant.map_or((NO_STACK, ""), |(_, k)| {
        (k.sample_stack, k.sample_loader_type.as_str())
    });
    let sample = recording.stacks.get(sample_stack_id);
    let sample_stack_summarised = sample.is_some_and(|s| s.is_summarised());
    let frames = sample.and_then(|s| s.frames()).unwrap_or_default();
    let roles = attribute(&frames, sample_loader_type, libraries).roles;
    let sample_stack = frames
        .iter()
        .zip(roles)
        .map(|(f, role)| StackFrameReport {
            class: f.class.clone(),
            method: f.method.clone(),
            sig: f.sig.clone(),
            line: f.line,
            file: f.file.clone(),
            display: if f.native {
                format!("{}.{}(Native Method)", f.class, f.method)
            } else {
                format_frame(&f.class, &f.method, f.line, f.file.as_deref())
            },
            role: role.as_str(),
        })
        .collect::<Vec<_>>();
    let depth = recording
        .header
        .as_ref()
        .map_or(0, |h| h.options.depth as usize);

    let d = recording.diagnosis.sites.get(rank - 1);
    let targets = d.map_or_else(Vec::new, |d| {
        d.top_keys(TARGETS_SHOWN)
            .into_iter()
            .map(|(identity, key, k)| TargetReport {
                target: (identity == Identity::Target).then(|| key.to_string()),
                fingerprint: (identity == Identity::Fingerprint).then(|| key.to_string()),
                name: (identity == Identity::Name).then(|| key.to_string()),
                defined: k.defined,
                unloaded: (identity != Identity::Name).then_some(k.unloaded),
            })
            .collect()
    });

    CallSiteReport {
        rank,
        classes: site.classes,
        defined: site.classes,
        unloaded: d.map_or(0, |d| d.unloaded),
        live: d.map_or(site.classes, |d| d.live()),
        distinct: d.map_or(site.classes, |d| d.distinct()),
        regenerated: d.map_or(0, |d| d.regenerated()),
        identity: d.map_or("none", |d| d.identity()),
        distinct_capped: d.is_some_and(|d| d.untracked > 0),
        targets,
        live_timeline: recording.diagnosis.live_timeline(rank - 1),
        live_growth: d.map_or(0, |d| d.live_growth(recording.diagnosis.buckets)),
        peak_rate_per_s: d.map_or(0, |d| d.peak_per_second),
        peak_rate_from_ms: d.map_or(0.0, |d| (d.peak_second * 1_000) as f64),
        cause: None,
        attribution: site.key.attribution(),
        display: site.key.display(),
        application_frame,
        library_entry: site.key.entry().map(|e| EntryRef {
            class: e.class.clone(),
            method: e.method.clone(),
            display: e.display(),
        }),
        outermost_frame,
        kinds: site
            .kinds
            .iter()
            .map(|(k, s)| (k.as_str(), s.classes))
            .collect(),
        loaders,
        threads,
        first_t_ms: ns_to_ms(site.first_t_ns),
        last_t_ms: ns_to_ms(site.last_t_ns),
        first_wall_ms: site.first_wall_ms,
        last_wall_ms: site.last_wall_ms,
        examples,
        sample_stack_at_depth_limit: depth > 0 && sample_stack.len() >= depth,
        sample_stack,
        sample_stack_summarised,
    }
}

/// The JSON report, pretty-printed with a trailing newline.
pub fn to_json(report: &Report) -> String {
    let mut s = crate::escape::json_pretty(report).expect("the report model always serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::fixtures::{bean_copier_stream, exhausted};
    use crate::recording::ReadOptions;
    use serde_json::Value;

    fn json_for(stream: &str, top: usize) -> Value {
        let r = Recording::from_str(stream, &ReadOptions::default()).unwrap();
        let report = build(&r, top, &Libraries::default());
        serde_json::from_str(&to_json(&report)).unwrap()
    }

    #[test]
    fn json_report_has_the_documented_shape() {
        let v = json_for(&bean_copier_stream(true, 0), 10);
        assert_eq!(v["schema_version"], 1);
        let rec = &v["recording"];
        assert_eq!(rec["header"]["pid"], 4242);
        assert_eq!(rec["header"]["options"]["mode"], "dynamic");
        assert_eq!(rec["summary"]["reason"], "vm_death");
        assert_eq!(rec["complete"], true);
        assert_eq!(rec["truncated"], false);
        assert_eq!(rec["duration_ms"], 3000.0);
        assert_eq!(rec["totals"]["classes_loaded"], 2417);
        assert_eq!(rec["totals"]["captured"], 5);
        assert_eq!(rec["totals"]["dropped"], 0);
        assert_eq!(rec["warnings"], Value::Array(vec![]));
        assert_eq!(v["call_sites_total"], 3);
        assert_eq!(v["omitted"]["call_sites"], 0);

        let top = &v["call_sites"][0];
        assert_eq!(top["rank"], 1);
        assert_eq!(top["classes"], 3);
        assert_eq!(top["attribution"], "application");
        let app = &top["application_frame"];
        assert_eq!(app["class"], "com.acme.orders.OrderService");
        assert_eq!(app["method"], "toDto");
        assert_eq!(app["line"], 42);
        assert_eq!(app["file"], "OrderService.java");
        assert_eq!(
            app["display"],
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
        assert_eq!(
            top["library_entry"]["display"],
            "org.springframework.beans.BeanUtils.copyProperties"
        );
        assert_eq!(top["outermost_frame"], Value::Null);
        assert_eq!(top["kinds"]["reflection_accessor"], 3);
        assert_eq!(
            top["loaders"][0]["type"],
            "jdk.internal.reflect.DelegatingClassLoader"
        );
        assert_eq!(top["loaders"][0]["instances"], 3);
        assert_eq!(top["loaders"][0]["instances_capped"], false);
        assert_eq!(top["threads"][0]["name"], "main");
        assert_eq!(top["threads"][0]["classes"], 3);
        assert_eq!(top["first_t_ms"], 250.0);
        assert_eq!(top["last_t_ms"], 750.0);
        assert_eq!(top["first_wall_ms"], 1_763_900_000_250u64);
        assert_eq!(
            top["examples"][0],
            "jdk.internal.reflect.GeneratedMethodAccessor1"
        );
        let stack = top["sample_stack"].as_array().unwrap();
        assert_eq!(stack.len(), 13);
        assert_eq!(stack[0]["role"], "jdk");
        assert_eq!(stack[0]["sig"], "()V");
        assert_eq!(stack[10]["role"], "library_entry");
        assert_eq!(stack[11]["role"], "application_frame");
        assert_eq!(stack[12]["role"], "caller");
        assert_eq!(top["sample_stack_at_depth_limit"], false);

        let none = &v["call_sites"][2];
        assert_eq!(none["attribution"], "stack_not_captured");
        assert_eq!(none["application_frame"], Value::Null);
        assert_eq!(none["sample_stack"], Value::Array(vec![]));
    }

    #[test]
    fn a_summarised_sample_stack_is_said_so() {
        let stream = bean_copier_stream(true, 0);
        let options = ReadOptions {
            stack_memory: 0,
            ..ReadOptions::default()
        };
        let r = Recording::from_str(&stream, &options).unwrap();
        let report = build(&r, 10, &Libraries::default());
        let v: Value = serde_json::from_str(&to_json(&report)).unwrap();
        let top = &v["call_sites"][0];
        assert_eq!(top["sample_stack"], Value::Array(vec![]));
        assert_eq!(top["sample_stack_summarised"], true);
        assert_eq!(v["call_sites"][2]["sample_stack_summarised"], false);
        let text = crate::text_report::render(&report, false);
        assert!(
            text.contains(
                "    (sample stack not kept: past the stack memory cap, see the warnings)\n"
            ),
            "{text}"
        );
        let folded = crate::flame::render_folded(&r, &Libraries::default());
        assert_eq!(
            folded,
            "(stack not captured) 1\n\
             (stacks summarised);com.acme.audit.AuditingFactory.wrap:23;java.lang.reflect.Proxy.newProxyInstance 1\n\
             (stacks summarised);com.acme.orders.OrderService.toDto:42;org.springframework.beans.BeanUtils.copyProperties 3\n"
        );
        let svg = crate::flame::render_svg(&r, &report, &Libraries::default()).unwrap();
        assert!(svg.contains("(stacks summarised)"));
    }

    #[test]
    fn top_limits_call_sites_and_counts_what_it_left_out() {
        let v = json_for(&bean_copier_stream(true, 0), 1);
        assert_eq!(v["call_sites"].as_array().unwrap().len(), 1);
        assert_eq!(v["call_sites_total"], 3);
        assert_eq!(v["omitted"]["call_sites"], 2);
        assert_eq!(v["omitted"]["classes"], 2);
        let all = json_for(&bean_copier_stream(true, 0), 0);
        assert_eq!(all["call_sites"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn json_without_summary_has_null_totals_and_the_warning() {
        let v = json_for(&bean_copier_stream(false, 0), 10);
        assert_eq!(v["recording"]["complete"], false);
        assert_eq!(v["recording"]["summary"], Value::Null);
        assert_eq!(v["recording"]["totals"]["classes_loaded"], Value::Null);
        assert!(v["recording"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("recording cut off: there is no summary"));
    }

    #[test]
    fn json_lists_ooms_with_the_call_site_that_filled_metaspace() {
        let mut stream = bean_copier_stream(false, 0);
        stream += &exhausted("Java heap space", &["oom_error", "java_heap"], 4);
        stream += &exhausted("Metaspace", &["oom_error"], 5);
        let v = json_for(&stream, 1);
        let rec = &v["recording"];
        assert_eq!(rec["resource_exhausted_omitted"], 0);
        let heap = &rec["resource_exhausted"][0];
        assert_eq!(heap["description"], "Java heap space");
        assert_eq!(heap["flags"][1], "java_heap");
        assert_eq!(heap["resource"], "java_heap");
        assert_eq!(heap["filled_by"], Value::Null);
        let m = &rec["resource_exhausted"][1];
        assert_eq!(m["resource"], "metaspace");
        assert_eq!(m["thread"], "main");
        assert_eq!(m["after_seq"], 5);
        assert_eq!(m["t_ns"], 2_030_000_000u64);
        assert_eq!(m["t_ms"], 2030.0);
        assert_eq!(m["wall_ms"], 1_763_900_002_030u64);
        assert_eq!(m["captured_before"], 5);
        let f = &m["filled_by"];
        assert_eq!(f["rank"], 1);
        assert_eq!(
            f["display"],
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
        assert_eq!(
            f["library_entry"],
            "org.springframework.beans.BeanUtils.copyProperties"
        );
        assert_eq!(f["classes_before"], 3);
        assert_eq!(f["share"], 0.6);
    }

    #[test]
    fn the_recording_wide_timeline_adds_up_every_call_site() {
        use crate::diagnosis::tests::{def, Stream};
        use metascope_events::ClassKind;
        let mut s = Stream::new(
            "17.0.9",
            &[
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.A.a",
                    1,
                ),
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.B.b",
                    2,
                ),
            ],
        );
        let a = def(ClassKind::Proxy, 1, (1, "app"));
        let b = def(ClassKind::Proxy, 2, (1, "app"));
        let first = s.class(100, &a);
        s.class(200, &b);
        s.class(2_500, &b);
        s.gc(1_000);
        s.unload(1_100, first, &a);
        let v = s.json();
        let timeline = v["timeline"].as_array().unwrap();
        assert_eq!(timeline.len(), v["gc_timeline"].as_array().unwrap().len());
        let sum =
            |field: &str| -> u64 { timeline.iter().map(|p| p[field].as_u64().unwrap()).sum() };
        assert_eq!((sum("defined"), sum("unloaded"), sum("gcs")), (3, 1, 1));
        let last = timeline.last().unwrap();
        assert_eq!(last["live"], 2);
        assert_eq!(last["t_ms"], 3000.0);
        let b = &v["call_sites"].as_array().unwrap()[0];
        assert_eq!(b["classes"], 2);
        assert_eq!(b["live_growth"], 1); // one live at 1 s (a third), two at the end
        assert_eq!(b["peak_rate_per_s"], 1);
    }

    #[test]
    fn an_attached_recording_reports_its_census() {
        use crate::recording::fixtures::attached_stream;
        let v = json_for(&attached_stream(11), 10);
        let rec = &v["recording"];
        assert_eq!(rec["attached"], true);
        assert_eq!(rec["header"]["attached"], true);
        let census = &rec["census"];
        assert_eq!(census["t_ns"], 3_100_000);
        assert_eq!(census["classes"], 2_510);
        let groups = census["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 13, "every group, as written");
        assert_eq!(groups[1]["kind"], "reflection_accessor");
        assert_eq!(
            groups[1]["loader_type"],
            "jdk.internal.reflect.DelegatingClassLoader"
        );
        assert_eq!(
            (groups[1]["classes"].as_u64(), groups[1]["loaders"].as_u64()),
            (Some(200), Some(200))
        );
        // Pre-existing classes have no stacks: not in the call sites.
        assert_eq!(rec["totals"]["captured"], 5);
        assert_eq!(v["call_sites_total"], 3);

        let plain = json_for(&bean_copier_stream(true, 0), 10);
        assert_eq!(plain["recording"]["attached"], false);
        assert_eq!(plain["recording"]["census"], Value::Null);
    }

    #[test]
    fn the_text_report_lists_the_census_at_attach() {
        use crate::recording::fixtures::attached_stream;
        let r = Recording::from_str(&attached_stream(11), &ReadOptions::default()).unwrap();
        let text = crate::text_report::render(&build(&r, 10, &Libraries::default()), false);
        assert!(text.contains("agent 0.1.0 (attached)\n"), "{text}");
        let at = text.find("\nAt attach: 2,510 classes already loaded (pre-existing, no stacks)\n");
        let block: Vec<&str> = text[at.expect(&text) + 1..].lines().take(12).collect();
        assert_eq!(
            block[1],
            "  reflection_accessor   jdk.internal.reflect.DelegatingClassLoader   200 classes in 200 loaders"
        );
        assert_eq!(
            block[2],
            "  proxy                 com.acme.tenant.Loader1                      2 classes in 1 loader"
        );
        // The biggest 8 groups of generated classes, the rest summed up,
        // ordinary classes in one line.
        assert_eq!(
            block[9],
            "  … 3 more generated groups with 6 classes (--format json lists them all)"
        );
        assert_eq!(
            block[10],
            "  ordinary              2,290 classes in 2 loader types, 2 loaders"
        );
        assert_eq!(block[11], "");
        assert!(text.find("Call sites by classes defined") > at);

        let plain =
            Recording::from_str(&bean_copier_stream(true, 0), &ReadOptions::default()).unwrap();
        let text = crate::text_report::render(&build(&plain, 10, &Libraries::default()), false);
        assert!(!text.contains("At attach") && !text.contains("(attached)"));
    }

    #[test]
    fn json_without_header_has_null_header_and_the_warning() {
        let stream: String = bean_copier_stream(true, 0)
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect();
        let v = json_for(&stream, 10);
        assert_eq!(v["recording"]["header"], Value::Null);
        assert_eq!(v["recording"]["complete"], true);
        assert_eq!(v["call_sites"][0]["sample_stack_at_depth_limit"], false);
        assert!(v["recording"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("the recording has no header"));
        assert_eq!(v["recording"]["resource_exhausted"], Value::Array(vec![]));
    }
}
