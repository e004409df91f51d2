//! The report's model: what the renderers read, data only. Its JSON form
//! is docs/report.md; every field here is documented there.

use std::collections::BTreeMap;

use metascope_events::{Census, ClassKind, Header, ResourceExhausted, Summary};
use serde::Serialize;

use super::flame_graph::FlameGraph;
use super::metaspace::{MetaspaceReport, SiteMetaspace};
use crate::analyze::attribution::{AttributionKind, EntryKind, FrameRole, LibraryEntry, SiteFrame};
use crate::analyze::code_sources::display_name;
use crate::analyze::diagnosis::{Cause, CompileCall, Evidence, Remedy, Trend};
use crate::analyze::exhaustion::Resource;
use crate::analyze::regeneration::{Identity, IdentityUsed};
use crate::analyze::warnings::Warning;
use crate::analyze::SiteOrder;

/// Version of the JSON report layout. Adding fields keeps it; removing or
/// re-typing one bumps it. 2: the diagnosis's evidence and remedies and
/// the warnings are data, not sentences; verdicts lost `summary`.
pub const REPORT_SCHEMA_VERSION: u32 = 2;

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
    /// How `call_sites` are ranked; absent when by classes (the default).
    #[serde(skip_serializing_if = "is_by_classes")]
    pub sorted_by: SiteOrder,
    /// `--sort bytes` was asked for but the recording has no Metaspace
    /// snapshot, so call sites are ranked by classes; absent otherwise.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub sort_by_bytes_unavailable: bool,
    /// Metaspace in bytes, as the JVM accounts it (docs/diagnosis.md);
    /// absent when the recording has no Metaspace records (older agents,
    /// JFR input).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metaspace: Option<MetaspaceReport>,
    /// Classes defined per stack, drawn by the flame-graph renderers; only
    /// when asked for ([`Contents::flame_graph`]), never in JSON.
    #[serde(skip)]
    pub flame_graph: Option<FlameGraph>,
}

/// One bucket of the recording-wide timeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
    pub verdicts: Vec<VerdictReport>,
    /// `class_unload` records no call site matched (their class record
    /// was dropped, or they are `ordinary` and hidden).
    pub unmatched_unloads: u64,
}

/// One flagged call site.
#[derive(Debug, Serialize)]
pub struct VerdictReport {
    pub call_site_rank: usize,
    pub call_site: String,
    /// The call site's library entry (`Class.method`), if any.
    pub library_entry: Option<String>,
    /// The library entry's code source, when it is a library's.
    pub library_entry_code_source: Option<CodeSourceRef>,
    pub cause: Cause,
    pub trend: Trend,
    pub evidence: Vec<Evidence>,
    pub remedies: Vec<RemedyReport>,
    pub defined: u64,
    pub distinct: u64,
    pub regenerated: u64,
    pub unloaded: u64,
    pub live: u64,
    /// What `distinct` rests on (`none`: regeneration unknown).
    pub identity: IdentityUsed,
    /// For `per_expression_compilation` through a library: the library's
    /// entry and compile step, as the remedy names them.
    pub compile_call: Option<CompileCall>,
}

/// A remedy with the JVM settings it involves and what it rests on.
#[derive(Debug, Serialize)]
pub struct RemedyReport {
    pub remedy: Remedy,
    /// JVM options and system properties, e.g. `-XX:SoftRefLRUPolicyMSPerMB=1000`.
    pub settings: &'static [&'static str],
    /// JDK changes and bugs, e.g. `JDK-8255883`.
    pub references: &'static [&'static str],
}

impl From<Remedy> for RemedyReport {
    fn from(remedy: Remedy) -> Self {
        RemedyReport {
            remedy,
            settings: remedy.settings(),
            references: remedy.references(),
        }
    }
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
    /// What is wrong with the recording, most important first.
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Serialize)]
pub struct ExhaustionReport {
    /// The record as the agent wrote it.
    #[serde(flatten)]
    pub event: ResourceExhausted,
    pub resource: Resource,
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
    pub attribution: AttributionKind,
    /// One line naming the call site.
    pub display: String,
    pub application_frame: Option<FrameRef>,
    pub library_entry: Option<EntryRef>,
    /// Only for `no_application_frame`: the frame the site is grouped by.
    pub outermost_frame: Option<FrameRef>,
    pub kinds: BTreeMap<ClassKind, u64>,
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
    /// What `distinct` rests on.
    pub identity: IdentityUsed,
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
    pub cause: Option<Cause>,
    /// The Metaspace bytes its classes held; absent when the recording has
    /// no Metaspace records.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metaspace: Option<SiteMetaspace>,
}

fn is_by_classes(order: &SiteOrder) -> bool {
    *order == SiteOrder::Classes
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
    /// A library's frame, a JDK API, or the defining loader's helper.
    pub kind: EntryKind,
    /// The library's code source, when the recording names it (only for
    /// `kind` `library`).
    pub code_source: Option<CodeSourceRef>,
}

impl From<&LibraryEntry> for EntryRef {
    fn from(e: &LibraryEntry) -> Self {
        EntryRef {
            class: e.class.clone(),
            method: e.method.clone(),
            display: e.display(),
            kind: e.kind,
            code_source: e.code_source.as_deref().map(CodeSourceRef::from),
        }
    }
}

/// A code source: its location, and the name the report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeSourceRef {
    /// As the JVM has it, e.g. `file:/app/lib/corp-platform-1.4.jar`.
    pub location: String,
    /// The jar's (or directory's) file name, e.g. `corp-platform-1.4.jar`.
    pub name: String,
}

impl From<&str> for CodeSourceRef {
    fn from(location: &str) -> Self {
        CodeSourceRef {
            location: location.to_string(),
            name: display_name(location),
        }
    }
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
    pub role: FrameRole,
    /// The frame's library code source (only for frames from another jar
    /// than the application's), when the recording names it.
    pub code_source: Option<CodeSourceRef>,
}

/// Nanoseconds as milliseconds, to the microsecond.
pub(super) fn ns_to_ms(ns: u64) -> f64 {
    // Microsecond precision is plenty and keeps the JSON short.
    (ns / 1_000) as f64 / 1_000.0
}

impl CallSiteReport {
    /// Regeneration is known (some class had an identity).
    pub fn identified(&self) -> bool {
        self.identity != IdentityUsed::None
    }
}

impl TargetReport {
    pub(super) fn new(
        identity: Identity,
        key: &str,
        defined: u64,
        unloaded: Option<u64>,
    ) -> TargetReport {
        TargetReport {
            target: (identity == Identity::Target).then(|| key.to_string()),
            fingerprint: (identity == Identity::Fingerprint).then(|| key.to_string()),
            name: (identity == Identity::Name).then(|| key.to_string()),
            defined,
            unloaded,
        }
    }
}
