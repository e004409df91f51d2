//! The human-readable report: title block, totals and warnings, a table of
//! call sites, then details with a sample stack for each one shown.

use std::fmt::Write as _;

use comfy_table::{Attribute, Cell, CellAlignment, ContentArrangement, Table};

use super::{metaspace, wording};
use crate::analyze::attribution::FrameRole;
use crate::analyze::exhaustion::Resource;
use crate::escape;
use crate::format::{duration, percent, plural, thousands, wall_clock};
use crate::report::{CallSiteReport, ExhaustionReport, Report, VerdictReport};

/// comfy-table preset (see `comfy_table::presets`): every character blank
/// but the header rule and its intersections.
const HEADER_RULE_ONLY: &str = "    ────           ";

/// Kinds listed in a table cell before "+N more".
const KINDS_IN_TABLE: usize = 2;
/// Class names listed in a details block (JSON has all kept examples).
const EXAMPLES_IN_DETAILS: usize = 3;
/// Threads listed in a details block before "+N more".
const THREADS_IN_DETAILS: usize = 4;

/// Renders the report. `terminal` allows a bold table header; files and
/// pipes get plain text. Every string from the recording (names, paths,
/// sentences that quote them) goes through [`escape::text`].
pub fn render(report: &Report, terminal: bool) -> String {
    let mut out = String::new();
    title_block(&mut out, report);
    out_of_memory(&mut out, report);
    warnings(&mut out, report);
    attach_census(&mut out, report);
    metaspace::text_overview(&mut out, report);

    if report.call_sites.is_empty() {
        let _ = writeln!(
            out,
            "\nNo classes to attribute. The agent captured nothing it classifies as generated at run time{}.",
            if report.recording.totals.hidden_ordinary > 0 {
                " (ordinary classes are hidden: add --all-kinds)"
            } else {
                ""
            }
        );
        return out;
    }
    call_sites(&mut out, report, terminal);
    for site in &report.call_sites {
        out.push('\n');
        let start = report.recording.header.as_ref().map(|h| h.start_wall_ms);
        details(&mut out, site, start);
    }
    diagnosis(&mut out, report);
    out
}

/// The table of call sites, and what `--top` left out.
fn call_sites(out: &mut String, report: &Report, terminal: bool) {
    let _ = writeln!(
        out,
        "\nCall sites by {} ({} of {}):",
        if report.sorted_by == crate::analyze::SiteOrder::Bytes {
            "Metaspace held at the end"
        } else {
            "classes defined"
        },
        report.call_sites.len(),
        report.call_sites_total
    );
    if report.sort_by_bytes_unavailable {
        let _ = writeln!(
            out,
            "(--sort bytes: the recording has no Metaspace snapshot, so by classes)"
        );
    }
    // comfy-table pads the last column; trailing blanks only get in the way.
    for line in call_site_table(report, terminal).lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if report.omitted.call_sites > 0 {
        let _ = writeln!(
            out,
            "… {} more {} with {} (--top 0 shows all)",
            thousands(report.omitted.call_sites as u64),
            if report.omitted.call_sites == 1 {
                "call site"
            } else {
                "call sites"
            },
            plural(report.omitted.classes, "class", "classes")
        );
    }
}

/// Levels of the live-count sparkline, lowest first (0 is a blank).
const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One character per timeline bucket, scaled to the peak.
pub fn sparkline(values: &[u64]) -> String {
    let peak = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || peak == 0 {
                ' '
            } else {
                let level = ((v as f64 / peak as f64) * 8.0).ceil() as usize;
                SPARK[level.clamp(1, 8) - 1]
            }
        })
        .collect()
}

/// `|` under every bucket with a GC.
fn gc_marks(gcs: &[u64]) -> String {
    gcs.iter().map(|&g| if g > 0 { '|' } else { ' ' }).collect()
}

/// The closing section: one verdict per flagged call site, with a
/// live-count chart, the evidence and the remedies.
fn diagnosis(out: &mut String, report: &Report) {
    let verdicts = &report.diagnosis.verdicts;
    if verdicts.is_empty() {
        let _ = writeln!(
            out,
            "\nDiagnosis: no call site keeps regenerating, leaking or churning classes ({}).",
            plural(report.gcs, "GC", "GCs")
        );
        return;
    }
    let _ = writeln!(
        out,
        "\nDiagnosis ({} flagged, {} in the recording):",
        plural(verdicts.len() as u64, "call site", "call sites"),
        plural(report.gcs, "GC", "GCs")
    );
    for v in verdicts {
        verdict(out, report, v);
    }
}

/// One verdict: the cause, the counts, a live-count chart when the call
/// site is shown, the evidence and the remedies.
fn verdict(out: &mut String, report: &Report, v: &VerdictReport) {
    let _ = writeln!(
        out,
        "\n#{} {} — {}, {}",
        v.call_site_rank,
        escape::text(&v.call_site),
        wording::cause(v.cause),
        wording::trend(v.trend)
    );
    let _ = writeln!(out, "    {}", escape::text(&wording::summary(v)));
    let site = report
        .call_sites
        .iter()
        .find(|s| s.rank == v.call_site_rank);
    let _ = writeln!(
        out,
        "    {} defined · {} · {} unloaded · {} live",
        thousands(v.defined),
        if site.is_none_or(|s| s.identified()) {
            format!(
                "{} distinct · {} regenerated",
                thousands(v.distinct),
                thousands(v.regenerated)
            )
        } else {
            "regeneration unknown (no targets/fingerprints recorded)".to_string()
        },
        thousands(v.unloaded),
        thousands(v.live)
    );
    if let Some(site) = site {
        live_chart(out, report, site);
    }
    let _ = writeln!(out, "    evidence");
    for e in &v.evidence {
        let _ = writeln!(out, "      - {}", escape::text(&wording::evidence(e)));
    }
    let _ = writeln!(out, "    remedies");
    for r in &v.remedies {
        let remedy = wording::remedy(r.remedy, v.compile_call.as_ref());
        let _ = writeln!(out, "      - {}", escape::text(&remedy));
    }
}

/// A call site's live classes over the recording, with the GCs under it.
fn live_chart(out: &mut String, report: &Report, site: &CallSiteReport) {
    let gcs: Vec<u64> = report.gc_timeline.iter().map(|(_, g)| *g).collect();
    let end_ms = report.gc_timeline.last().map_or(0.0, |(t, _)| *t);
    let live: Vec<u64> = site.live_timeline.iter().map(|(_, l)| *l).collect();
    let peak = live.iter().copied().max().unwrap_or(0);
    let _ = writeln!(
        out,
        "    live  │{}│ peak {}, end {}",
        sparkline(&live),
        thousands(peak),
        thousands(live.last().copied().unwrap_or(0))
    );
    if report.gcs > 0 {
        let _ = writeln!(
            out,
            "    GCs   │{}│",
            gc_marks(&gcs[..gcs.len().min(live.len())])
        );
    }
    let _ = writeln!(
        out,
        "          0{:>width$}",
        format!("+{}", duration(end_ms)),
        width = live.len() + 1
    );
}

fn title_block(out: &mut String, report: &Report) {
    let rec = &report.recording;
    let _ = writeln!(out, "metascope report: {}", escape::text(&rec.file));
    let ended = match (&rec.summary, rec.truncated) {
        (Some(s), _) => format!("ended: {}", escape::text(&s.reason)),
        (None, true) => {
            "cut off mid-record (JVM killed, halted or crashed while writing)".to_string()
        }
        (None, false) => {
            "cut off: no summary (JVM killed, halted or crashed, or still running)".to_string()
        }
    };
    let Some(h) = &rec.header else {
        let _ = writeln!(
            out,
            "  JVM       unknown: no header (the file's beginning is missing)"
        );
        let _ = writeln!(
            out,
            "  Recorded  {} or more, {ended}",
            duration(rec.duration_ms)
        );
        classes_line(out, report);
        return;
    };
    let _ = writeln!(
        out,
        "  JVM       {} {}, pid {}, agent {}{}",
        escape::text(&h.java_vm_name),
        escape::text(&h.java_version),
        h.pid,
        escape::text(&h.agent_version),
        if rec.attached { " (attached)" } else { "" }
    );
    let _ = writeln!(
        out,
        "  Recorded  {}, {}, {}",
        wall_clock(h.start_wall_ms, true),
        duration(rec.duration_ms),
        ended
    );
    let o = &h.options;
    let include = if o.include.is_empty() {
        String::new()
    } else {
        format!(" include={}", escape::text(&o.include.join(";")))
    };
    let mode = serde_json::to_value(o.mode)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  Options   mode={mode} depth={} queue={}{include}",
        o.depth, o.queue
    );
    classes_line(out, report);
}

/// What was already loaded when the agent attached: the generated kinds
/// by loader type, the ordinary classes in one line.
fn attach_census(out: &mut String, report: &Report) {
    let Some(census) = &report.recording.census else {
        return;
    };
    let c = crate::report::census_overview(census);
    let _ = writeln!(
        out,
        "\nAt attach: {} already loaded (pre-existing, no stacks)",
        plural(c.classes, "class", "classes")
    );
    let kind_width = c
        .generated
        .iter()
        .map(|g| g.kind.as_str().len())
        .chain([8])
        .max()
        .unwrap_or(8);
    let type_width = c
        .generated
        .iter()
        .map(|g| escape::text(&g.loader_type).chars().count())
        .max()
        .unwrap_or(0);
    for g in &c.generated {
        let _ = writeln!(
            out,
            "  {:<kind_width$}   {:<type_width$}   {} in {}{}",
            g.kind.as_str(),
            escape::text(&g.loader_type),
            plural(g.classes, "class", "classes"),
            plural(g.loaders, "loader", "loaders"),
            metaspace::census_bytes(g)
        );
    }
    let (groups, classes) = c.more_generated;
    if groups > 0 {
        let _ = writeln!(
            out,
            "  … {} more generated {} with {} (--format json lists them all)",
            thousands(groups as u64),
            if groups == 1 { "group" } else { "groups" },
            plural(classes, "class", "classes")
        );
    }
    let (classes, types, loaders) = c.ordinary;
    if classes > 0 {
        let _ = writeln!(
            out,
            "  {:<kind_width$}   {} in {}, {}{}",
            "ordinary",
            plural(classes, "class", "classes"),
            plural(types as u64, "loader type", "loader types"),
            plural(loaders, "loader", "loaders"),
            metaspace::census_ordinary_bytes(report)
        );
    }
    metaspace::text_attach_loader_types(out, report);
}

fn classes_line(out: &mut String, report: &Report) {
    let rec = &report.recording;
    let t = &rec.totals;
    let mut classes = Vec::new();
    if let Some(loaded) = t.classes_loaded {
        classes.push(format!("{} loaded", thousands(loaded)));
    }
    classes.push(format!("{} captured", thousands(t.captured)));
    match t.dropped {
        Some(d) => classes.push(format!("{} dropped", thousands(d))),
        None => classes.push("dropped unknown (no summary)".to_string()),
    }
    if t.hidden_ordinary > 0 {
        classes.push(format!(
            "{} ordinary hidden (--all-kinds shows them)",
            thousands(t.hidden_ordinary)
        ));
    }
    let _ = writeln!(out, "  Classes   {}", classes.join(" · "));
    overhead_line(out, report);
}

/// What the agent says it cost this run (from the summary).
fn overhead_line(out: &mut String, report: &Report) {
    let Some(summary) = &report.recording.summary else {
        return;
    };
    let Some(cost) = summary.cost else {
        return;
    };
    let per_class = match summary.captured {
        0 => String::new(),
        n => format!(", {} per captured class", micros(cost.callback_ns / n)),
    };
    let _ = writeln!(
        out,
        "  Overhead  metascope cost the application threads {}{per_class}; writer {} CPU",
        millis(cost.callback_ns),
        millis(cost.writer_cpu_ns)
    );
}

fn millis(ns: u64) -> String {
    match ns {
        n if n < 10_000_000 => format!("{:.1} ms", n as f64 / 1e6),
        n => format!("{} ms", thousands(n / 1_000_000)),
    }
}

fn micros(ns: u64) -> String {
    match ns {
        n if n < 10_000 => format!("{:.1} µs", n as f64 / 1e3),
        n => format!("{} µs", thousands(n / 1_000)),
    }
}

/// OutOfMemoryErrors first and loudest: the first of each resource, the
/// class-metadata one with the call site that filled it.
pub(crate) fn out_of_memory(out: &mut String, report: &Report) {
    let rec = &report.recording;
    if rec.resource_exhausted.is_empty() {
        return;
    }
    out.push('\n');
    let mut shown: Vec<Resource> = Vec::new();
    let mut more = rec.resource_exhausted_omitted;
    // Class metadata leads, whatever came first.
    let mut events: Vec<&ExhaustionReport> = rec.resource_exhausted.iter().collect();
    events.sort_by_key(|e| !e.resource.is_class_metadata());
    for e in events {
        if shown.contains(&e.resource) {
            more += 1;
            continue;
        }
        shown.push(e.resource);
        exhaustion(out, report, e);
    }
    if more > 0 {
        let _ = writeln!(
            out,
            "  ({} more OutOfMemoryError {} after {}; --format json lists them)",
            thousands(more),
            if more == 1 { "event" } else { "events" },
            if shown.len() == 1 { "this" } else { "these" }
        );
    }
}

fn exhaustion(out: &mut String, report: &Report, e: &ExhaustionReport) {
    let r = &e.event;
    let what = match e.resource {
        Resource::Threads => "could not create a thread".to_string(),
        _ if r.description.is_empty() => "ran out of memory".to_string(),
        _ => format!("ran out of {}", escape::text(&r.description)),
    };
    let _ = writeln!(
        out,
        "⚠ The JVM {what} at +{} (OutOfMemoryError: {} on thread {})",
        duration(e.t_ms),
        if r.description.is_empty() {
            "?".into()
        } else {
            escape::text(&r.description)
        },
        escape::text(&r.thread)
    );
    match (e.resource, &e.filled_by) {
        (Resource::Metaspace | Resource::CompressedClassSpace, Some(f)) => {
            let via = f.library_entry.as_ref().map_or(String::new(), |entry| {
                format!(" via {}", escape::text(entry))
            });
            let _ = writeln!(
                out,
                "  Call site that filled it: #{} {}{via} — {} ({} of captured)",
                f.rank,
                escape::text(&f.display),
                plural(f.classes_before, "class", "classes"),
                percent(f.share)
            );
            let shown = report.call_sites.len();
            if f.rank > shown {
                let _ = writeln!(
                    out,
                    "  (#{} is past the {shown} call sites shown: --top {} shows it)",
                    f.rank, f.rank
                );
            }
            metaspace::text_out_of_memory(out, report);
        }
        (Resource::Metaspace | Resource::CompressedClassSpace, None) => {
            metaspace::text_out_of_memory(out, report);
            let _ = writeln!(
                out,
                "  No captured class was defined before it: ordinary classes filled it{}",
                if report
                    .recording
                    .header
                    .as_ref()
                    .is_some_and(|h| { h.options.mode == metascope_events::CaptureMode::All })
                {
                    ""
                } else {
                    " (record with the agent's mode=all to see them)"
                }
            );
        }
        (Resource::JavaHeap, _) => {
            let _ = writeln!(
                out,
                "  That is the Java heap, not class metadata: no call site below is blamed for it"
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "  Not class metadata: no call site below is blamed for it"
            );
        }
    }
}

fn warnings(out: &mut String, report: &Report) {
    if report.recording.warnings.is_empty() {
        return;
    }
    out.push('\n');
    for w in &report.recording.warnings {
        let _ = writeln!(out, "⚠ {}", escape::text(&wording::warning(w)));
    }
}

fn call_site_table(report: &Report, terminal: bool) -> Table {
    let mut table = Table::new();
    // Only a rule under the header: compact, and greppable row by row.
    table.load_preset(HEADER_RULE_ONLY);
    // Never wrap: a frame broken mid-name is worse than a long line.
    table.set_content_arrangement(ContentArrangement::Disabled);
    if !terminal {
        // No styling at all: the output goes to a file or a pipe.
        table.force_no_tty();
    }
    // With Metaspace snapshots, the bytes each site held at the end.
    let bytes_column = report
        .call_sites
        .first()
        .is_some_and(|s| metaspace::table_cell(report, s).is_some());
    let mut header = vec!["#", "Classes", "Unloaded", "Live", "Regen."];
    if bytes_column {
        header.push("Metaspace");
    }
    header.extend(["Kinds", "Application frame", "Library entry"]);
    table.set_header(header.iter().map(|h| {
        let cell = Cell::new(h);
        if terminal {
            cell.add_attribute(Attribute::Bold)
        } else {
            cell
        }
    }));
    for site in &report.call_sites {
        let mut row = vec![
            Cell::new(site.rank),
            Cell::new(thousands(site.classes)),
            Cell::new(thousands(site.unloaded)),
            Cell::new(thousands(site.live)),
            Cell::new(if !site.identified() {
                "-".to_string()
            } else {
                thousands(site.regenerated)
            }),
        ];
        if bytes_column {
            row.push(Cell::new(
                metaspace::table_cell(report, site).unwrap_or_default(),
            ));
        }
        row.extend([
            Cell::new(kinds_cell(site)),
            Cell::new(escape::text(&site.display)),
            Cell::new(site.library_entry.as_ref().map_or("-".into(), |e| {
                escape::text(&wording::entry(&e.display, e.code_source.as_ref())).into_owned()
            })),
        ]);
        table.add_row(row);
    }
    for column in 0..if bytes_column { 6 } else { 5 } {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

/// Kinds by count, e.g. `reflection_accessor 2,913, proxy 4`.
fn sorted_kinds(site: &CallSiteReport) -> Vec<(&str, u64)> {
    let mut kinds: Vec<(&str, u64)> = site.kinds.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    kinds
}

fn kinds_cell(site: &CallSiteReport) -> String {
    let kinds = sorted_kinds(site);
    if kinds.len() == 1 {
        return kinds[0].0.to_string();
    }
    let mut cell: Vec<String> = kinds
        .iter()
        .take(KINDS_IN_TABLE)
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect();
    if kinds.len() > KINDS_IN_TABLE {
        cell.push(format!("+{} more", kinds.len() - KINDS_IN_TABLE));
    }
    cell.join(", ")
}

fn details(out: &mut String, site: &CallSiteReport, start_wall_ms: Option<u64>) {
    let _ = writeln!(
        out,
        "#{}  {}  {}",
        site.rank,
        plural(site.classes, "class", "classes"),
        escape::text(&site.display)
    );
    if let Some(e) = &site.library_entry {
        let entry = wording::entry(&e.display, e.code_source.as_ref());
        let _ = writeln!(out, "    via       {}", escape::text(&entry));
    }
    let kinds: Vec<String> = sorted_kinds(site)
        .iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect();
    let _ = writeln!(out, "    kinds     {}", kinds.join(", "));
    loaders_and_threads(out, site);
    metaspace::text_details(out, site);
    let _ = writeln!(out, "    when      {}", when(site, start_wall_ms));
    let mut examples = site
        .examples
        .iter()
        .take(EXAMPLES_IN_DETAILS)
        .map(|e| escape::text(e).into_owned())
        .collect::<Vec<_>>();
    if site.classes as usize > examples.len() {
        examples.push("…".to_string());
    }
    let _ = writeln!(out, "    examples  {}", examples.join(", "));
    sample_stack(out, site);
}

fn loaders_and_threads(out: &mut String, site: &CallSiteReport) {
    for (i, l) in site.loaders.iter().enumerate() {
        let label = if i == 0 { "loaders" } else { "" };
        let instances = format!(
            "{}{}",
            if l.instances_capped { "≥" } else { "" },
            plural(l.instances, "instance", "instances")
        );
        let _ = writeln!(
            out,
            "    {label:<9} {} ({instances}, {})",
            escape::text(&l.type_name),
            plural(l.classes, "class", "classes")
        );
    }
    let mut threads: Vec<String> = site
        .threads
        .iter()
        .take(THREADS_IN_DETAILS)
        .map(|t| format!("{} ({})", escape::text(&t.name), thousands(t.classes)))
        .collect();
    if site.threads.len() > THREADS_IN_DETAILS {
        threads.push(format!("+{} more", site.threads.len() - THREADS_IN_DETAILS));
    }
    let _ = writeln!(out, "    threads   {}", threads.join(", "));
}

/// `+250 ms … +750 ms   (12:13:20.250 … 12:13:20.750 UTC)`, with dates
/// when the call site's day is not the recording's.
fn when(site: &CallSiteReport, start_wall_ms: Option<u64>) -> String {
    let same_day = start_wall_ms.is_some_and(|start| {
        wall_clock(site.first_wall_ms, true)[..10] == wall_clock(start, true)[..10]
    });
    if site.first_wall_ms == site.last_wall_ms {
        format!(
            "+{}   ({})",
            duration(site.first_t_ms),
            wall_clock(site.first_wall_ms, !same_day)
        )
    } else {
        // One "UTC" for the pair.
        let first = wall_clock(site.first_wall_ms, !same_day);
        format!(
            "+{} … +{}   ({} … {})",
            duration(site.first_t_ms),
            duration(site.last_t_ms),
            first.trim_end_matches(" UTC"),
            wall_clock(site.last_wall_ms, !same_day)
        )
    }
}

fn sample_stack(out: &mut String, site: &CallSiteReport) {
    if site.sample_stack_summarised {
        let _ = writeln!(
            out,
            "    (sample stack not kept: past the stack memory cap, see the warnings)"
        );
        return;
    }
    if site.sample_stack.is_empty() {
        let _ = writeln!(out, "    (no stack was captured for these classes)");
        return;
    }
    let _ = writeln!(out, "    sample stack, innermost first:");
    for f in &site.sample_stack {
        let (mark, note) = match f.role {
            FrameRole::Application => ("→", "   ← application frame"),
            FrameRole::LibraryEntry => (" ", "   ← library entry"),
            _ => (" ", ""),
        };
        let jar = match (&f.code_source, f.role) {
            (Some(c), FrameRole::LibraryEntry) => format!(" ({})", escape::text(&c.name)),
            _ => String::new(),
        };
        let _ = writeln!(out, "    {mark} {}{note}{jar}", escape::text(&f.display));
    }
    if site.sample_stack_at_depth_limit {
        let _ = writeln!(
            out,
            "      (stack cut at the agent's depth limit; outer frames are missing: raise depth=)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{bean_copier_stream, exhausted, line, report, summary};

    fn text_for(stream: &str, top: usize) -> String {
        render(&report(stream, top), false)
    }

    #[test]
    fn text_report_reads_well() {
        let text = text_for(&bean_copier_stream(true, 0), 10);
        insta::assert_snapshot!("text_report_bean_copier", text);
    }

    #[test]
    fn dropped_classes_get_a_loud_warning() {
        let text = text_for(&bean_copier_stream(true, 1234), 10);
        assert!(text.contains(
            "⚠ 1234 classes were dropped because the agent's queue was full; totals are lower bounds"
        ));
        assert!(text.contains("1,234 dropped"));
    }

    #[test]
    fn cut_off_recording_is_called_out() {
        let mut stream = bean_copier_stream(false, 0);
        stream += "{\"type\":\"cla";
        let text = text_for(&stream, 1);
        assert!(text.contains("recording cut off"), "{text}");
        assert!(
            text.contains("… 2 more call sites with 2 classes (--top 0 shows all)"),
            "{text}"
        );
    }

    #[test]
    fn metaspace_oom_is_the_first_thing_said_with_its_call_site() {
        let mut stream = bean_copier_stream(false, 0);
        stream += &exhausted("Metaspace", &["oom_error"], 5);
        stream += &line(&summary(5, 0));
        let text = text_for(&stream, 10);
        let after_title: Vec<&str> = text.lines().skip(5).take(4).collect();
        assert_eq!(
            after_title,
            vec![
                "",
                "⚠ The JVM ran out of Metaspace at +2.03 s (OutOfMemoryError: Metaspace on thread main)",
                "  Call site that filled it: #1 com.acme.orders.OrderService.toDto(OrderService.java:42) \
                 via org.springframework.beans.BeanUtils.copyProperties — 3 classes (60% of captured)",
                "",
            ],
            "{text}"
        );
    }

    #[test]
    fn heap_oom_is_mentioned_but_not_blamed() {
        let mut stream = bean_copier_stream(true, 0);
        stream += &exhausted("Java heap space", &["oom_error", "java_heap"], 5);
        stream += &exhausted("Java heap space", &["oom_error", "java_heap"], 5);
        let text = text_for(&stream, 10);
        assert!(text.contains(
            "⚠ The JVM ran out of Java heap space at +2.03 s (OutOfMemoryError: Java heap space on thread main)\n  \
             That is the Java heap, not class metadata: no call site below is blamed for it\n  \
             (1 more OutOfMemoryError event after this; --format json lists them)\n"
        ), "{text}");
        assert!(!text.contains("Call site that filled it"));
    }

    #[test]
    fn metaspace_leads_even_after_a_heap_oom_and_shows_a_site_past_top() {
        let mut stream = bean_copier_stream(false, 0);
        stream += &exhausted("Java heap space", &["oom_error", "java_heap"], 5);
        stream += &exhausted("Metaspace", &["oom_error"], 5);
        let mut r = report(&stream, 1);
        // Make the OOM's site rank 2 and show only 1.
        r.recording.resource_exhausted[1]
            .filled_by
            .as_mut()
            .unwrap()
            .rank = 2;
        let text = render(&r, false);
        let metaspace = text.find("ran out of Metaspace").unwrap();
        let heap = text.find("ran out of Java heap space").unwrap();
        assert!(metaspace < heap, "{text}");
        assert!(
            text.contains("  (#2 is past the 1 call sites shown: --top 2 shows it)"),
            "{text}"
        );
    }

    #[test]
    fn cut_off_without_summary_says_so_in_the_title_and_first_warning() {
        let text = text_for(&bean_copier_stream(false, 0), 10);
        assert!(
            text.contains(
                ", cut off: no summary (JVM killed, halted or crashed, or still running)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n⚠ recording cut off: there is no summary at the end"),
            "{text}"
        );
        let mut stream = bean_copier_stream(false, 0);
        stream += "{\"type\":\"cla";
        let text = text_for(&stream, 10);
        assert!(
            text.contains(", cut off mid-record (JVM killed, halted or crashed while writing)\n"),
            "{text}"
        );
    }

    #[test]
    fn missing_header_still_reports() {
        let stream: String = bean_copier_stream(true, 0)
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect();
        let text = text_for(&stream, 10);
        assert!(
            text.contains("  JVM       unknown: no header (the file's beginning is missing)\n"),
            "{text}"
        );
        assert!(text.contains("⚠ the recording has no header"), "{text}");
        assert!(
            text.contains("#1  3 classes  com.acme.orders.OrderService.toDto"),
            "{text}"
        );
        assert!(
            text.contains("(2025-11-23 12:13:20.250 … "),
            "dates without a start: {text}"
        );
    }
}
