//! Metaspace in bytes, as the text and HTML reports show it: the JVM's
//! totals beside the live-class count over time, each call site's bytes,
//! the OutOfMemoryError in bytes and the attach census in bytes. Every
//! function writes nothing for a report without Metaspace figures, so
//! such a report reads exactly as before.

use std::fmt::Write as _;

use metascope_events::{CensusGroup, SnapshotReason};

use super::text::sparkline;
use crate::escape;
use crate::escape::html as escape_html;
use crate::format::{bytes, duration, plural, thousands};
use crate::report::metaspace::{Bytes, MetaspaceReport, MetaspaceSource, Obtained, SiteBytesAt};
use crate::report::{CallSiteReport, Report};

/// Call sites listed under an OutOfMemoryError.
const SITES_AT_OOM: usize = 5;
/// Loader types listed in the attach census.
const LOADER_TYPES_AT_ATTACH: usize = 8;

/// Why a snapshot was taken, as the reports name it.
pub fn snapshot_reason(reason: SnapshotReason) -> &'static str {
    match reason {
        SnapshotReason::Attach => "attach",
        SnapshotReason::Growth => "growth",
        SnapshotReason::OutOfMemory => "OutOfMemoryError",
        SnapshotReason::End => "end",
    }
}

/// `exact`, `estimated` or `1.5 MiB exact, 0.5 MiB estimated`.
fn obtained(b: &Bytes) -> String {
    match b.obtained {
        Obtained::Exact => "exact".into(),
        Obtained::Estimated => "estimated".into(),
        Obtained::Nothing => "none held".into(),
        Obtained::PartlyEstimated => format!(
            "{} exact, {} estimated",
            bytes(b.exact_committed),
            bytes(b.estimated_committed)
        ),
    }
}

/// Where the totals come from, as a heading says it.
fn source(m: &MetaspaceReport) -> &'static str {
    match m.source {
        MetaspaceSource::VmMetaspace => "the JVM's own accounting, VM.metaspace",
        MetaspaceSource::JfrMetaspaceSummary => "JFR's jdk.MetaspaceSummary, at each GC",
    }
}

/// `MaxMetaspaceSize 32 MiB` or `MaxMetaspaceSize unlimited`.
fn limit(max: Option<u64>) -> String {
    max.map_or("MaxMetaspaceSize unlimited".into(), |m| {
        format!("MaxMetaspaceSize {}", bytes(m))
    })
}

/// The text report's Metaspace section: committed and used beside the
/// live classes, on the timeline's buckets, and the snapshots taken.
pub fn text_overview(out: &mut String, report: &Report) {
    let Some(m) = &report.metaspace else {
        return;
    };
    let _ = writeln!(out, "\nMetaspace ({}; {}):", source(m), limit(m.max));
    let value = |f: fn(&crate::report::metaspace::MetaspacePoint) -> u64| -> Vec<u64> {
        m.timeline.iter().map(|p| p.as_ref().map_or(0, f)).collect()
    };
    let committed = value(|p| p.committed);
    let used = value(|p| p.used);
    let live: Vec<u64> = report.timeline.iter().map(|p| p.live).collect();
    if let (Some(peak), Some(last)) = (&m.peak, &m.last) {
        let _ = writeln!(
            out,
            "  committed │{}│ peak {} at +{}, end {}",
            sparkline(&committed),
            bytes(peak.committed),
            duration(peak.t_ms),
            bytes(last.committed)
        );
        // Non-class space is the rest of the totals.
        let class_space = match (last.class_used, last.class_committed) {
            (Some(u), Some(c)) => format!(
                ": non-class {} used of {} committed, class space {} used of {} committed{}",
                bytes(last.used.saturating_sub(u)),
                bytes(last.committed.saturating_sub(c)),
                bytes(u),
                bytes(c),
                m.class_max
                    .map_or(String::new(), |max| format!(" (limit {})", bytes(max)))
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  used      │{}│ end {}{class_space}",
            sparkline(&used),
            bytes(last.used)
        );
    } else {
        let _ = writeln!(out, "  (no samples of the totals in the recording)");
    }
    let _ = writeln!(
        out,
        "  classes   │{}│ live, peak {}, end {}",
        sparkline(&live),
        thousands(live.iter().copied().max().unwrap_or(0)),
        thousands(live.last().copied().unwrap_or(0))
    );
    let end_ms = report.timeline.last().map_or(0.0, |p| p.t_ms);
    let _ = writeln!(
        out,
        "            0{:>width$}",
        format!("+{}", duration(end_ms)),
        width = live.len() + 1
    );
    snapshots_line(out, m);
}

fn snapshots_line(out: &mut String, m: &MetaspaceReport) {
    if m.snapshots.is_empty() {
        let _ = writeln!(
            out,
            "  No per-loader snapshot: bytes per call site are unknown"
        );
        return;
    }
    let taken: Vec<String> = m
        .snapshots
        .iter()
        .filter(|s| s.skipped.is_none())
        .map(|s| format!("{} +{}", snapshot_reason(s.reason), duration(s.t_ms)))
        .collect();
    let skipped = m.snapshots.iter().filter(|s| s.skipped.is_some()).count();
    let _ = writeln!(
        out,
        "  Snapshots (per-loader listings): {}{}{}",
        if taken.is_empty() {
            "none taken".to_string()
        } else {
            taken.join(", ")
        },
        if m.snapshots_omitted > 0 {
            format!(", {} more", thousands(m.snapshots_omitted))
        } else {
            String::new()
        },
        match m.snapshots.iter().find_map(|s| s.skipped.as_deref()) {
            Some(why) => format!(
                "; {} skipped: {}",
                thousands(skipped as u64),
                escape::text(why)
            ),
            None => String::new(),
        }
    );
}

/// The call-site table's Metaspace column: `None` when the report has
/// no snapshot; else committed at the end, `~` when partly estimated.
pub fn table_cell(report: &Report, site: &CallSiteReport) -> Option<String> {
    report.metaspace.as_ref()?.at_end.as_ref()?;
    let end = site.metaspace.as_ref()?.at_end.as_ref();
    Some(end.map_or("-".into(), |e| {
        let estimate = matches!(
            e.bytes.obtained,
            Obtained::Estimated | Obtained::PartlyEstimated
        );
        format!(
            "{}{}",
            if estimate { "~" } else { "" },
            bytes(e.bytes.committed)
        )
    }))
}

/// `25 MiB committed, 22.5 MiB used (exact)`.
fn figure(at: &SiteBytesAt) -> String {
    format!(
        "{} committed, {} used ({})",
        bytes(at.bytes.committed),
        bytes(at.bytes.used),
        obtained(&at.bytes)
    )
}

/// A call site's details block: its bytes at the end and at the peak.
pub fn text_details(out: &mut String, site: &CallSiteReport) {
    let Some(m) = &site.metaspace else {
        return;
    };
    if let Some(end) = &m.at_end {
        let _ = writeln!(
            out,
            "    metaspace at {} (+{}, {} snapshot): {}",
            // Without an end snapshot (cut off, or skipped) the last one.
            if end.reason == SnapshotReason::End {
                "the end"
            } else {
                "the last snapshot"
            },
            duration(end.t_ms),
            snapshot_reason(end.reason),
            figure(end)
        );
    }
    if let Some(peak) = &m.at_peak {
        if m.at_end.as_ref().map(|e| e.snapshot) != Some(peak.snapshot) {
            let _ = writeln!(
                out,
                "              at the peak (+{}, {} snapshot): {}",
                duration(peak.t_ms),
                snapshot_reason(peak.reason),
                figure(peak)
            );
        }
    }
}

/// Under an OutOfMemoryError for class metadata: what the biggest call
/// sites held at that moment, of the limit.
pub fn text_out_of_memory(out: &mut String, report: &Report) {
    let Some(m) = &report.metaspace else {
        return;
    };
    let Some(oom) = &m.at_out_of_memory else {
        return;
    };
    let of = oom.limit.map_or(
        format!("{} committed", bytes(oom.snapshot.committed)),
        bytes,
    );
    let _ = writeln!(
        out,
        "  In bytes at the error (VM.metaspace, +{}): {} committed of {}",
        duration(oom.snapshot.t_ms),
        bytes(oom.snapshot.committed),
        oom.limit
            .map_or("no limit (MaxMetaspaceSize unlimited)".into(), |l| {
                format!("{} (MaxMetaspaceSize)", bytes(l))
            })
    );
    for s in oom.top_call_sites.iter().take(SITES_AT_OOM) {
        let via = s
            .library_entry
            .as_ref()
            .map_or(String::new(), |e| format!(" via {}", escape::text(e)));
        let _ = writeln!(
            out,
            "    #{} {}{via} held {} of {of} ({})",
            s.rank,
            escape::text(&s.display),
            bytes(s.bytes.committed),
            obtained(&s.bytes)
        );
    }
    let loaders: u64 = oom.loader_types.iter().map(|t| t.committed).sum::<u64>()
        + oom.other_loader_types.as_ref().map_or(0, |t| t.committed);
    if loaders > 0 {
        let biggest: Vec<String> = oom
            .loader_types
            .iter()
            .take(3)
            .map(|t| format!("{} {}", escape::text(&t.type_name), bytes(t.committed)))
            .collect();
        let _ = writeln!(
            out,
            "    loaders without captured classes held {loaders_bytes} of {of} ({})",
            biggest.join(", "),
            loaders_bytes = bytes(loaders)
        );
    }
}

/// `, 1.2 MiB` after a census group with bytes.
pub fn census_bytes(g: &CensusGroup) -> String {
    g.committed
        .map_or(String::new(), |c| format!(", {} Metaspace", bytes(c)))
}

/// The Metaspace of the census's ordinary groups, `, 40 MiB Metaspace`.
pub fn census_ordinary_bytes(report: &Report) -> String {
    let Some(census) = &report.recording.census else {
        return String::new();
    };
    let ordinary = census
        .groups
        .iter()
        .filter(|g| g.kind == metascope_events::ClassKind::Ordinary);
    let committed: Option<u64> = ordinary.map(|g| g.committed).sum();
    committed.map_or(String::new(), |c| format!(", {} Metaspace", bytes(c)))
}

/// The attach snapshot's loader types, biggest first.
pub fn text_attach_loader_types(out: &mut String, report: &Report) {
    let Some(attach) = report.metaspace.as_ref().and_then(|m| m.at_attach.as_ref()) else {
        return;
    };
    let _ = writeln!(
        out,
        "  Metaspace at attach: {} committed, {} used ({}); by loader type:",
        bytes(attach.snapshot.committed),
        bytes(attach.snapshot.used),
        limit(attach.limit)
    );
    let width = attach
        .loader_types
        .iter()
        .take(LOADER_TYPES_AT_ATTACH)
        .map(|t| escape::text(&t.type_name).chars().count() + if t.hidden { 9 } else { 0 })
        .max()
        .unwrap_or(0);
    for t in attach.loader_types.iter().take(LOADER_TYPES_AT_ATTACH) {
        let name = format!(
            "{}{}",
            escape::text(&t.type_name),
            if t.hidden { " (hidden)" } else { "" }
        );
        let _ = writeln!(
            out,
            "    {name:<width$}   {:>9} committed   {} in {}",
            bytes(t.committed),
            plural(t.classes, "class", "classes"),
            plural(t.loaders, "loader", "loaders")
        );
    }
    let more = attach
        .loader_types
        .len()
        .saturating_sub(LOADER_TYPES_AT_ATTACH);
    if more > 0 || attach.other_loader_types.is_some() {
        let _ = writeln!(out, "    … more loader types (--format json lists them)");
    }
}

/// The HTML report's Metaspace chart: committed (area) and used (line)
/// in bytes on the left axis, `MaxMetaspaceSize` dashed, live classes on
/// the right axis, snapshots as ticks, on the time axis of the timeline
/// above it (same width, margins and end). Empty without samples.
pub fn html_chart(report: &Report) -> String {
    const W: f64 = 1200.0;
    const LEFT: f64 = 64.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 18.0;
    const BOTTOM: f64 = 170.0;
    const AXIS_Y: f64 = 196.0;
    let Some(m) = &report.metaspace else {
        return String::new();
    };
    if m.samples.is_empty() {
        return String::new();
    }
    let end_ms = report
        .recording
        .duration_ms
        .max(report.timeline.last().map_or(0.0, |p| p.t_ms))
        .max(m.samples.last().map_or(0.0, |p| p.t_ms))
        .max(1.0);
    // The same plot area and end as the timeline chart above: a moment
    // sits at the same x in both.
    let x = |t_ms: f64| LEFT + t_ms / end_ms * (W - LEFT - RIGHT);
    let top_bytes = m
        .samples
        .iter()
        .map(|p| p.committed)
        .chain(m.max)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let y_bytes = |b: u64| BOTTOM - b as f64 / top_bytes * (BOTTOM - TOP);
    let top_live = report
        .timeline
        .iter()
        .map(|p| p.live)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let y_live = |n: u64| BOTTOM - n as f64 / top_live * (BOTTOM - TOP);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<h3>Metaspace ({})</h3>\n\
         <div class=\"legend\"><span><i style=\"background:#8e5ccf\"></i>committed</span>\
         <span><i style=\"background:#4b2a86\"></i>used</span>\
         <span><i style=\"background:#d09a2a\"></i>class space committed</span>\
         <span><i style=\"background:#c2372f\"></i>{}</span>\
         <span><i style=\"background:#2f6fcc\"></i>live classes (own scale)</span>\
         <span><i style=\"background:#333\"></i>per-loader snapshots</span></div>",
        escape_html(source(m)),
        escape_html(&limit(m.max))
    );
    let _ = writeln!(
        s,
        "<svg id=\"metaspace-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} 210\" width=\"{W}\" height=\"210\" role=\"img\" aria-label=\"Metaspace committed and used, and live classes, over the recording\">"
    );
    // Step lines: a figure holds until the next sample.
    let mut committed = format!("{:.2},{:.2}", x(m.samples[0].t_ms), y_bytes(0));
    let mut used = String::new();
    let mut class = String::new();
    let mut prev: Option<(u64, u64, Option<u64>)> = None;
    for p in &m.samples {
        let px = x(p.t_ms);
        if let Some((c, u, k)) = prev {
            let _ = write!(committed, " {px:.2},{:.2}", y_bytes(c));
            let _ = write!(used, " {px:.2},{:.2}", y_bytes(u));
            if let Some(k) = k {
                let _ = write!(class, " {px:.2},{:.2}", y_bytes(k));
            }
        }
        let _ = write!(committed, " {px:.2},{:.2}", y_bytes(p.committed));
        let _ = write!(used, " {px:.2},{:.2}", y_bytes(p.used));
        if let Some(k) = p.class_committed {
            let _ = write!(class, " {px:.2},{:.2}", y_bytes(k));
        }
        prev = Some((p.committed, p.used, p.class_committed));
    }
    let last_x = x(m.samples.last().map_or(0.0, |p| p.t_ms));
    let _ = writeln!(
        s,
        "<polygon points=\"{committed} {last_x:.2},{BOTTOM}\" fill=\"#8e5ccf\" fill-opacity=\"0.25\" stroke=\"#8e5ccf\" stroke-width=\"1.5\"/>\
         <polyline id=\"metaspace-used\" points=\"{}\" fill=\"none\" stroke=\"#4b2a86\" stroke-width=\"1.5\"/>",
        used.trim_start()
    );
    // Without compressed class pointers there is no class space.
    if !class.is_empty() {
        let _ = writeln!(
            s,
            "<polyline id=\"metaspace-class\" points=\"{}\" fill=\"none\" stroke=\"#d09a2a\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\"/>",
            class.trim_start()
        );
    }
    if let Some(max) = m.max {
        let _ = writeln!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{:.2}\" y1=\"{y:.2}\" y2=\"{y:.2}\" stroke=\"#c2372f\" stroke-dasharray=\"6 4\"><title>{}</title></line>",
            W - RIGHT,
            escape_html(&limit(Some(max))),
            y = y_bytes(max)
        );
    }
    let mut live = format!("{LEFT:.2},{:.2}", y_live(0));
    for p in &report.timeline {
        let _ = write!(live, " {:.2},{:.2}", x(p.t_ms), y_live(p.live));
    }
    let _ = writeln!(
        s,
        "<polyline id=\"metaspace-live\" points=\"{live}\" fill=\"none\" stroke=\"#2f6fcc\" stroke-width=\"1.5\"/>"
    );
    for snap in m.snapshots.iter().filter(|s| s.skipped.is_none()) {
        let sx = x(snap.t_ms);
        let _ = writeln!(
            s,
            "<g class=\"snapshot\"><title>{} snapshot at +{}: {} committed, {} used</title>\
             <line x1=\"{sx:.2}\" x2=\"{sx:.2}\" y1=\"{TOP}\" y2=\"{BOTTOM}\" stroke=\"#333\" stroke-dasharray=\"2 3\"/></g>",
            snapshot_reason(snap.reason),
            duration(snap.t_ms),
            bytes(snap.committed),
            bytes(snap.used)
        );
    }
    let label = |s: &mut String, x: f64, y: f64, anchor: &str, text: &str| {
        let _ = writeln!(
            s,
            "<text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"{anchor}\" font-size=\"11\" fill=\"#5b6472\">{}</text>",
            y + 4.0,
            escape_html(text)
        );
    };
    label(&mut s, LEFT - 6.0, TOP, "end", &bytes(top_bytes as u64));
    label(&mut s, LEFT - 6.0, BOTTOM, "end", "0");
    label(
        &mut s,
        W - RIGHT,
        TOP - 10.0,
        "end",
        &format!("live classes, peak {}", thousands(top_live as u64)),
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let anchor = match k {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let text = if k == 0 {
            "0".to_string()
        } else {
            format!("+{}", duration(end_ms * f))
        };
        label(&mut s, x(end_ms * f), AXIS_Y, anchor, &text);
    }
    s.push_str("</svg>\n");
    s
}

/// The HTML call-site row's Metaspace line (empty without snapshots).
pub fn html_site_bytes(site: &CallSiteReport) -> String {
    let Some(m) = &site.metaspace else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(end) = &m.at_end {
        parts.push(format!("{} at the end", bytes(end.bytes.committed)));
    }
    if let Some(peak) = &m.at_peak {
        parts.push(format!("{} at the peak", bytes(peak.bytes.committed)));
    }
    let estimated = [&m.at_end, &m.at_peak].into_iter().flatten().any(|a| {
        matches!(
            a.bytes.obtained,
            Obtained::Estimated | Obtained::PartlyEstimated
        )
    });
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "<br>Metaspace {}{}",
        escape_html(&parts.join(", ")),
        if estimated {
            " (estimated in part)"
        } else {
            ""
        }
    )
}

/// The census table's Metaspace cell, when the census has bytes.
pub fn html_census_cell(committed: Option<u64>) -> String {
    format!(
        "<td class=\"num\">{}</td>",
        committed.map_or("-".to_string(), bytes)
    )
}

#[cfg(test)]
mod tests {
    use metascope_events::{LoaderTypeMetaspace, MetaspaceSnapshot, Record, SnapshotReason};

    use crate::fixtures::{attached_stream, bean_copier_stream, line, report};
    use crate::render::{html, text};
    use crate::report::metaspace::fixture::oom_stream;

    fn lines_after<'t>(text: &'t str, start: &str, n: usize) -> Vec<&'t str> {
        let at = text
            .find(start)
            .unwrap_or_else(|| panic!("no {start:?} in\n{text}"));
        text[at..].lines().take(n).collect()
    }

    #[test]
    fn the_oom_says_what_each_top_call_site_held_of_the_limit() {
        let t = text::render(&report(&oom_stream(), 1), false);
        assert_eq!(
            lines_after(&t, "  In bytes at the error", 5),
            [
                "  In bytes at the error (VM.metaspace, +2.03 s): 31.9 MiB committed of 32 MiB (MaxMetaspaceSize)",
                "    #2 com.acme.AuditingProxies.forUser(AuditingProxies.java:18) via java.lang.reflect.Proxy.newProxyInstance held 27.1 MiB of 32 MiB (exact)",
                "    #1 com.acme.Copier.copy(Copier.java:60) via java.lang.reflect.Method.invoke held 2 MiB of 32 MiB (exact)",
                "    #3 com.acme.Rules.compile(Rules.java:33) via java.lang.invoke.LambdaMetafactory.metafactory held 512 KiB of 32 MiB (estimated)",
                "    loaders without captured classes held 2.3 MiB of 32 MiB (bootstrap 2 MiB, jdk.internal.loader.ClassLoaders$AppClassLoader 307.2 KiB)",
            ],
            "{t}"
        );
    }

    #[test]
    fn the_text_timeline_shows_the_jvms_totals_beside_live_classes() {
        let t = text::render(&report(&oom_stream(), 0), false);
        let section = lines_after(&t, "Metaspace (the JVM's", 7);
        assert_eq!(
            section[0],
            "Metaspace (the JVM's own accounting, VM.metaspace; MaxMetaspaceSize 32 MiB):"
        );
        assert!(section[1].starts_with("  committed │"), "{t}");
        assert!(
            section[1].ends_with("│ peak 31.9 MiB at +2.80 s, end 31.9 MiB"),
            "{t}"
        );
        assert!(section[2].starts_with("  used      │"), "{t}");
        assert!(
            section[2].ends_with(
                "│ end 28.7 MiB: non-class 25.5 MiB used of 27.9 MiB committed, class space 3.2 MiB used of 4 MiB committed (limit 1 GiB)"
            ),
            "{t}"
        );
        assert!(section[3].starts_with("  classes   │"), "{t}");
        assert!(section[3].ends_with("│ live, peak 12, end 12"), "{t}");
        // One character per bucket of the same timeline.
        let width = |l: &str| l.split('│').nth(1).unwrap().chars().count();
        assert_eq!(width(section[1]), width(section[3]));
        assert_eq!(width(section[2]), width(section[3]));
        assert_eq!(
            section[5],
            "  Snapshots (per-loader listings): growth +1.00 s, OutOfMemoryError +2.03 s, end +2.90 s"
        );
    }

    #[test]
    fn each_call_site_shows_its_bytes_in_the_table_and_its_details() {
        let t = text::render(&report(&oom_stream(), 0), false);
        let header = t.lines().find(|l| l.contains("Application frame")).unwrap();
        assert!(header.contains("Regen.   Metaspace   Kinds"), "{t}");
        let row = |name: &str| {
            t.lines()
                .find(|l| {
                    l.contains(name) && l.trim_start().starts_with(|c: char| c.is_ascii_digit())
                })
                .unwrap()
        };
        assert!(
            row("AuditingProxies.forUser").contains("      25 MiB   proxy"),
            "{t}"
        );
        assert!(
            row("Rules.compile").contains("    ~512 KiB   lambda"),
            "{t}"
        );
        assert_eq!(
            lines_after(&t, "    metaspace at the end", 2)[..],
            [
                "    metaspace at the end (+2.90 s, end snapshot): 2 MiB committed, 1.8 MiB used (exact)",
                "              at the peak (+2.03 s, OutOfMemoryError snapshot): 2 MiB committed, 1.8 MiB used (exact)",
            ],
        );
        assert!(t.contains(
            "    metaspace at the end (+2.90 s, end snapshot): 25 MiB committed, 22.5 MiB used (exact)\n              \
             at the peak (+2.03 s, OutOfMemoryError snapshot): 27.1 MiB committed, 24.4 MiB used (exact)\n"
        ), "{t}");
    }

    #[test]
    fn without_an_end_snapshot_the_last_one_is_named_for_what_it_is() {
        // The end snapshot skipped (its listing too large), as the agent
        // writes it: the growth snapshot is the last with bytes.
        let stream: String = oom_stream()
            .lines()
            .filter(|l| !l.contains(r#""snapshot":3,"#))
            .map(|l| {
                if l.starts_with(r#"{"type":"metaspace_snapshot","id":3,"#) {
                    l.replace("}", r#","skipped":"too many classes to list at exit"}"#)
                } else {
                    l.to_string()
                }
            })
            .map(|l| l + "\n")
            .collect();
        assert_ne!(stream, oom_stream(), "the end snapshot is marked skipped");
        let t = text::render(&report(&stream, 0), false);
        assert!(
            t.contains("    metaspace at the last snapshot (+2.03 s, OutOfMemoryError snapshot): 2 MiB committed"),
            "{t}"
        );
        assert!(
            t.contains("; 1 skipped: too many classes to list at exit\n"),
            "{t}"
        );
    }

    #[test]
    fn the_attach_census_shows_bytes_per_group_and_loader_type() {
        let mut stream = attached_stream(1);
        // The agent's census carries bytes, and the attach snapshot
        // follows it.
        stream = stream.replace(
            r#""classes":200,"loaders":200}"#,
            r#""classes":200,"loaders":200,"used":1000000,"committed":1200000}"#,
        );
        stream = stream.replace(
            r#""classes":2000,"loaders":1}"#,
            r#""classes":2000,"loaders":1,"used":9000000,"committed":10485760}"#,
        );
        stream = stream.replace(
            r#""classes":290,"loaders":1}"#,
            r#""classes":290,"loaders":1,"used":900000,"committed":1048576}"#,
        );
        let census_end = stream.find("\n{\"type\":\"stack\"").unwrap() + 1;
        let mut attach = line(&Record::MetaspaceSnapshot(MetaspaceSnapshot {
            id: 1,
            reason: SnapshotReason::Attach,
            t_ns: 3_200_000,
            used: 11_000_000,
            committed: 12_800_000,
            loaders: 203,
            classes: 2_490,
            took_ms: 9,
            skipped: None,
        }));
        for (t, hidden, classes, committed) in [
            ("bootstrap", false, 2_000, 10_485_760u64),
            (
                "jdk.internal.reflect.DelegatingClassLoader",
                false,
                200,
                1_200_000,
            ),
            ("bootstrap", true, 40, 65_536),
        ] {
            attach += &line(&Record::LoaderTypeMetaspace(LoaderTypeMetaspace {
                snapshot: 1,
                loader_type: t.into(),
                hidden,
                loaders: 1,
                classes,
                used: committed / 2,
                committed,
            }));
        }
        stream.insert_str(census_end, &attach);
        let t = text::render(&report(&stream, 0), false);
        assert_eq!(
            lines_after(&t, "At attach:", 7),
            [
                "At attach: 2,490 classes already loaded (pre-existing, no stacks)",
                "  reflection_accessor   jdk.internal.reflect.DelegatingClassLoader   200 classes in 200 loaders, 1.1 MiB Metaspace",
                "  ordinary              2,290 classes in 2 loader types, 2 loaders, 11 MiB Metaspace",
                "  Metaspace at attach: 12.2 MiB committed, 10.5 MiB used (MaxMetaspaceSize unlimited); by loader type:",
                "    bootstrap                                       10 MiB committed   2,000 classes in 1 loader",
                "    jdk.internal.reflect.DelegatingClassLoader     1.1 MiB committed   200 classes in 1 loader",
                "    bootstrap (hidden)                              64 KiB committed   40 classes in 1 loader",
            ],
            "{t}"
        );
        let page = html::render(&report(&stream, 0)).unwrap();
        assert!(
            page.contains("<td class=\"num\">1.1 MiB</td>"),
            "census bytes in the page"
        );
    }

    #[test]
    fn the_html_page_plots_bytes_and_live_classes_on_one_time_axis() {
        let page = html::render(&report(&oom_stream(), 0)).unwrap();
        let timeline = page.find("id=\"timeline-chart\"").unwrap();
        let chart = page.find("id=\"metaspace-chart\"").unwrap();
        assert!(timeline < chart, "under the class-count timeline");
        let chart = &page[chart..page[chart..].find("</svg>").unwrap() + chart];
        assert!(chart.contains("id=\"metaspace-used\""));
        assert!(chart.contains("id=\"metaspace-class\""));
        assert!(chart.contains("id=\"metaspace-live\""));
        assert!(chart.contains("<title>MaxMetaspaceSize 32 MiB</title>"));
        assert!(chart.contains(
            "<title>OutOfMemoryError snapshot at +2.03 s: 31.9 MiB committed, 28.7 MiB used</title>"
        ));
        assert_eq!(chart.matches("class=\"snapshot\"").count(), 3);
        assert!(
            chart.contains(">+3.00 s</text>"),
            "same end as the timeline"
        );
        assert!(page.contains("<br>Metaspace 25 MiB at the end, 27.1 MiB at the peak</td>"));
        assert!(
            page.contains("held 27.1 MiB of 32 MiB (exact)<br>"),
            "the OOM alert"
        );
    }

    #[test]
    fn a_recording_without_metaspace_records_reads_as_before() {
        for stream in [bean_copier_stream(true, 0), attached_stream(3)] {
            let r = report(&stream, 0);
            let t = text::render(&r, false);
            assert!(!t.contains("Metaspace"), "{t}");
            assert!(!t.contains("metaspace"), "{t}");
            let page = html::render(&r).unwrap();
            assert!(!page.contains("metaspace-chart"));
            assert!(!page.contains("Metaspace"));
        }
    }
}
