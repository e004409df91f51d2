//! One call site of the report: its frames, counts, loaders, threads,
//! examples, sample stack (each frame with its role), regeneration and
//! timeline.

use metascope_events::NO_STACK;

use super::model::{
    ns_to_ms, CallSiteReport, CodeSourceRef, EntryRef, LoaderReport, StackFrameReport,
    TargetReport, ThreadReport, OTHER_THREADS,
};
use crate::analyze::attribution::{format_frame, CallSiteKey, Origin};
use crate::analyze::call_sites::{CallSiteStats, EXAMPLES, THREAD_CAP};
use crate::analyze::Analyzed;

/// The call site at `index` (report order).
pub(super) fn build(analyzed: &Analyzed<'_>, index: usize) -> CallSiteReport {
    let site = &analyzed.call_sites[index];
    let r = &analyzed.regeneration[index];
    let timeline = &analyzed.timeline;
    let (application_frame, outermost_frame) = match &*site.key {
        CallSiteKey::Application { frame, .. } => (Some(frame.into()), None),
        CallSiteKey::NoApplicationFrame { outermost, .. } => (None, Some(outermost.into())),
        CallSiteKey::StackNotCaptured => (None, None),
    };
    let sample = sample_stack(analyzed, site);
    CallSiteReport {
        rank: index + 1,
        classes: site.classes,
        attribution: site.key.attribution(),
        display: site.key.display(),
        application_frame,
        library_entry: site.key.entry().map(EntryRef::from),
        outermost_frame,
        kinds: site.kinds.iter().map(|(k, s)| (*k, s.classes)).collect(),
        loaders: loaders(site),
        threads: threads(site),
        first_t_ms: ns_to_ms(site.first_t_ns),
        last_t_ms: ns_to_ms(site.last_t_ns),
        first_wall_ms: site.first_wall_ms,
        last_wall_ms: site.last_wall_ms,
        examples: examples(site),
        sample_stack_at_depth_limit: sample.at_depth_limit,
        sample_stack: sample.frames,
        sample_stack_summarised: sample.summarised,
        defined: site.classes,
        unloaded: r.unloaded,
        live: site.classes.saturating_sub(r.unloaded),
        distinct: r.distinct,
        regenerated: r.regenerated(),
        identity: r.identity,
        distinct_capped: r.untracked > 0,
        targets: r
            .top_keys
            .iter()
            .map(|k| TargetReport::new(k.identity, &k.key, k.defined, k.unloaded))
            .collect(),
        live_timeline: timeline.live_timeline(index),
        live_growth: timeline.live_growth(index),
        peak_rate_per_s: site.peak_per_second,
        peak_rate_from_ms: (site.peak_second * 1_000) as f64,
        cause: None,
        metaspace: super::metaspace::site(analyzed, index),
    }
}

/// Per loader type, most classes first.
fn loaders(site: &CallSiteStats) -> Vec<LoaderReport> {
    let mut loaders: Vec<LoaderReport> = site
        .loaders
        .iter()
        .map(|(t, l)| LoaderReport {
            type_name: t.to_string(),
            instances: l.instances,
            instances_capped: l.capped,
            classes: l.classes,
        })
        .collect();
    loaders.sort_by(|a, b| {
        b.classes
            .cmp(&a.classes)
            .then_with(|| a.type_name.cmp(&b.type_name))
    });
    loaders
}

/// Per thread, most classes first; past [`THREAD_CAP`] names the rest
/// pooled under [`OTHER_THREADS`].
fn threads(site: &CallSiteStats) -> Vec<ThreadReport> {
    let mut threads: Vec<ThreadReport> = site
        .threads
        .iter()
        .map(|(name, classes)| ThreadReport {
            name: name.to_string(),
            classes: *classes,
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
    threads
}

/// Class names, the dominant kind's first.
fn examples(site: &CallSiteStats) -> Vec<String> {
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
    examples
}

struct Sample {
    frames: Vec<StackFrameReport>,
    at_depth_limit: bool,
    summarised: bool,
}

/// The stack of the dominant kind's first class, each frame with its role.
fn sample_stack(analyzed: &Analyzed<'_>, site: &CallSiteStats) -> Sample {
    let (stack_id, loader_type) = site.dominant_kind().map_or((NO_STACK, ""), |(_, k)| {
        (k.sample_stack, &*k.sample_loader_type)
    });
    let sample = analyzed.stacks.get(stack_id);
    let (frames, origins, roles) = sample
        .and_then(|s| s.attributed(loader_type, analyzed.sources, &analyzed.options.ownership))
        .map(|s| (s.frames, s.origins, s.attribution.roles))
        .unwrap_or_default();
    let frames: Vec<StackFrameReport> = frames
        .into_iter()
        .zip(roles)
        .zip(origins)
        .map(|((f, role), origin)| StackFrameReport {
            code_source: match origin {
                Origin::Library(location) => Some(CodeSourceRef::from(location)),
                _ => None,
            },
            display: if f.native {
                format!("{}.{}(Native Method)", f.class, f.method)
            } else {
                format_frame(&f.class, &f.method, f.line, f.file.as_deref())
            },
            class: f.class,
            method: f.method,
            sig: f.sig,
            line: f.line,
            file: f.file,
            role,
        })
        .collect();
    let depth = analyzed
        .facts
        .header
        .as_ref()
        .map_or(0, |h| h.options.depth as usize);
    Sample {
        at_depth_limit: depth > 0 && frames.len() >= depth,
        summarised: sample.is_some_and(|s| s.is_summarised()),
        frames,
    }
}
