//! `--format html`: one self-contained page (inline CSS, JavaScript and
//! SVG; nothing is fetched) with the recording's header and warnings, the
//! verdicts, the call-site table, a timeline of definitions, unloads, live
//! classes and GCs, the flame graph and the loader census.
//!
//! Every string that comes from a recording goes through [`escape`]
//! ([`crate::escape::html`]): markup characters as entities, control and
//! bidi characters as visible `\u{..}` escapes. The page embeds no JSON
//! and no name in a script, so nothing from a recording can open or close
//! a `<script>` block.

use std::fmt::Write as _;

use anyhow::Result;

use super::{flame, metaspace, text, wording};
use crate::escape::html as escape;
use crate::format::{duration, thousands, wall_clock};
use crate::report::{CallSiteReport, Report, TimelinePoint, VerdictReport};

const STYLE: &str = r#"
:root {
  --fg: #1f2430; --muted: #5d6577; --line: #dde1e8; --bg: #f6f7f9; --card: #ffffff;
  --accent: #d9661f; --blue: #2f6fcc; --teal: #1c9a8a; --red: #c2372f; --amber: #b7791f;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 22px; margin: 0 0 2px; letter-spacing: -0.01em; }
h1 .brand { color: var(--accent); }
h2 { font-size: 17px; margin: 0 0 12px; }
h2 .count { color: var(--muted); font-weight: normal; font-size: 14px; margin-left: 6px; }
section, header.report { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 20px; margin-bottom: 18px; }
.file { color: var(--muted); font-family: var(--mono); font-size: 12.5px; word-break: break-all; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 14px 0 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.stats { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 16px; }
#attach-census { margin-top: 16px; }
#attach-census p { margin: 0 0 6px; }
.stat { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 120px; background: #fbfbfc; }
.stat b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.stat span { color: var(--muted); font-size: 12px; }
.stat.bad b { color: var(--red); }
.alert { border-radius: 6px; padding: 9px 12px; margin: 8px 0 0; border: 1px solid; }
.alert.oom { background: #fdecea; border-color: #f1b5b0; color: #7c1f19; }
.alert.oom b { display: block; }
.alert.warn { background: #fff7e6; border-color: #f0d49b; color: #6b4a0f; }
.verdict { border: 1px solid var(--line); border-left: 4px solid var(--red); border-radius: 6px;
  padding: 12px 16px; margin-bottom: 12px; }
.verdict.churn { border-left-color: var(--amber); }
.verdict.steady { border-left-color: var(--blue); }
.verdict h3 { margin: 0 0 6px; font-size: 15px; font-weight: 600; }
.verdict h3 code { font-size: 13.5px; }
.verdict p { margin: 4px 0 8px; }
.verdict .counts { color: var(--muted); font-variant-numeric: tabular-nums; }
.verdict h4 { margin: 10px 0 4px; font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }
.verdict ul { margin: 0; padding-left: 20px; }
.badge { display: inline-block; border-radius: 10px; padding: 1px 8px; font-size: 12px; font-weight: 600;
  margin-left: 6px; vertical-align: 1px; background: #eef1f6; color: var(--fg); }
.badge.cause { background: #fde3d6; color: #8a3a0c; }
.badge.leak { background: #fbd5d1; color: #7c1f19; }
.badge.churn { background: #fcebc5; color: #6b4a0f; }
.badge.steady { background: #dce8fa; color: #1d4a8c; }
.ok { color: #24663b; }
code, .mono { font-family: var(--mono); font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; white-space: nowrap; background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.frame { font-family: var(--mono); font-size: 12.5px; overflow-wrap: anywhere; }
.table-wrap { overflow-x: auto; }
td.small { font-size: 12px; color: var(--muted); min-width: 160px; }
td.small b { color: var(--fg); font-weight: 600; }
#call-sites .badge { margin-left: 0; white-space: nowrap; }
tr:hover td { background: #fafbfd; }
details summary { cursor: pointer; }
details ol { margin: 6px 0 2px; padding-left: 22px; font-size: 12px; color: var(--muted); }
details li.application_frame { color: var(--accent); font-weight: 600; }
details li.library_entry { color: var(--blue); font-weight: 600; }
.muted { color: var(--muted); }
.legend { display: flex; gap: 18px; flex-wrap: wrap; color: var(--muted); font-size: 12.5px; margin-bottom: 6px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -1px; margin-right: 5px; }
#timeline-chart, #flamegraph svg { width: 100%; height: auto; display: block; }
#timeline-chart text { font-family: inherit; font-size: 11px; fill: var(--muted); }
#flamegraph { overflow-x: auto; }
.spark { vertical-align: middle; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
"#;

/// The whole page.
pub fn render(report: &Report) -> Result<String> {
    let flame_svg = flame::render_svg(report)?;
    let mut out = String::with_capacity(64 * 1024 + flame_svg.len());
    let rec = &report.recording;
    let title = format!("metascope report — {}", rec.file);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"metascope {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        report.metascope_version,
        escape(&title)
    );
    header(&mut out, report);
    verdicts(&mut out, report);
    call_sites(&mut out, report);
    timeline(&mut out, report);
    flame_graph(&mut out, &flame_svg);
    loader_census(&mut out, report);
    let _ = write!(
        out,
        "<footer>Generated by metascope {} · report schema {} · everything on this page is inline: it fetches nothing</footer>\n\
         </main>\n</body>\n</html>\n",
        report.metascope_version, report.schema_version
    );
    Ok(out)
}

fn header(out: &mut String, report: &Report) {
    out.push_str("<header class=\"report\" id=\"summary\">\n");
    let _ = write!(
        out,
        "<h1><span class=\"brand\">metascope</span> report</h1>\n<div class=\"file\">{}</div>\n<dl class=\"facts\">\n",
        escape(&report.recording.file)
    );
    facts(out, report);
    out.push_str("</dl>\n<div class=\"stats\">\n");
    stats(out, report);
    out.push_str("</div>\n");
    attach_census(out, report);
    out.push_str("<div id=\"warnings\">\n");
    alerts(out, report);
    out.push_str("</div>\n</header>\n");
}

/// The JVM, when and how it was recorded, as in the text report's title.
fn facts(out: &mut String, report: &Report) {
    let rec = &report.recording;
    let ended = match (&rec.summary, rec.truncated) {
        (Some(s), _) => format!("ended: {}", s.reason),
        (None, true) => "cut off mid-record (JVM killed, halted or crashed while writing)".into(),
        (None, false) => {
            "cut off: no summary (JVM killed, halted or crashed, or still running)".into()
        }
    };
    let Some(h) = &rec.header else {
        fact(
            out,
            "JVM",
            "unknown: no header (the file's beginning is missing)",
        );
        fact(
            out,
            "Recorded",
            &format!("{} or more, {ended}", duration(rec.duration_ms)),
        );
        return;
    };
    fact(
        out,
        "JVM",
        &format!(
            "{} {}, pid {}, agent {}{}",
            h.java_vm_name,
            h.java_version,
            h.pid,
            h.agent_version,
            if rec.attached { " (attached)" } else { "" }
        ),
    );
    fact(
        out,
        "Recorded",
        &format!(
            "{}, {}, {ended}",
            wall_clock(h.start_wall_ms, true),
            duration(rec.duration_ms)
        ),
    );
    let o = &h.options;
    let include = if o.include.is_empty() {
        String::new()
    } else {
        format!(" include={}", o.include.join(";"))
    };
    let mode = serde_json::to_value(o.mode)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    fact(
        out,
        "Options",
        &format!("mode={mode} depth={} queue={}{include}", o.depth, o.queue),
    );
}

/// The headline numbers.
fn stats(out: &mut String, report: &Report) {
    let t = &report.recording.totals;
    let regenerated: u64 = report.call_sites.iter().map(|s| s.regenerated).sum();
    let live = report.timeline.last().map_or(0, |p| p.live);
    if let Some(loaded) = t.classes_loaded {
        stat(out, &thousands(loaded), "classes loaded", false);
    }
    stat(out, &thousands(t.captured), "classes captured", false);
    stat(
        out,
        &thousands(report.call_sites_total as u64),
        "call sites",
        false,
    );
    stat(
        out,
        &thousands(regenerated),
        "regenerated (shown sites)",
        regenerated > 0,
    );
    stat(out, &thousands(live), "live at the end", false);
    stat(out, &thousands(report.gcs), "GCs", false);
    match t.dropped {
        Some(d) => stat(out, &thousands(d), "dropped", d > 0),
        None => stat(out, "?", "dropped (no summary)", true),
    }
    if t.hidden_ordinary > 0 {
        stat(
            out,
            &thousands(t.hidden_ordinary),
            "ordinary, hidden",
            false,
        );
    }
}

/// OutOfMemoryErrors first, worded as in the text report, then the
/// warnings.
fn alerts(out: &mut String, report: &Report) {
    let mut oom = String::new();
    text::out_of_memory(&mut oom, report);
    let mut block: Vec<&str> = Vec::new();
    let flush = |out: &mut String, block: &mut Vec<&str>| {
        if let Some((first, rest)) = block.split_first() {
            let _ = write!(
                out,
                "<div class=\"alert oom\"><b>{}</b>",
                escape(first.trim_start_matches('⚠').trim())
            );
            for l in rest {
                let _ = write!(out, "{}<br>", escape(l.trim()));
            }
            out.push_str("</div>\n");
        }
        block.clear();
    };
    for l in oom.lines().filter(|l| !l.trim().is_empty()) {
        if l.starts_with('⚠') {
            flush(out, &mut block);
        }
        block.push(l);
    }
    flush(out, &mut block);
    for w in &report.recording.warnings {
        let _ = writeln!(
            out,
            "<div class=\"alert warn\">⚠ {}</div>",
            escape(&wording::warning(w))
        );
    }
}

/// What was already loaded when the agent attached, as in the text report.
fn attach_census(out: &mut String, report: &Report) {
    let Some(census) = &report.recording.census else {
        return;
    };
    let c = crate::report::census_overview(census);
    let with_bytes = census.groups.iter().any(|g| g.committed.is_some());
    let _ = write!(
        out,
        "<div id=\"attach-census\"><p>At attach: <b>{}</b> {} already loaded (pre-existing, no stacks)</p>\n\
         <table><thead><tr><th>Kind</th><th>Loader type</th><th class=\"num\">Classes</th>\
         <th class=\"num\">Loaders</th>{}</tr></thead>\n<tbody>\n",
        thousands(c.classes),
        if c.classes == 1 { "class" } else { "classes" },
        if with_bytes { "<th class=\"num\">Metaspace</th>" } else { "" }
    );
    let row = |out: &mut String,
               kind: &str,
               loader_type: &str,
               (classes, loaders): (u64, u64),
               committed: Option<u64>| {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"frame\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>{}</tr>",
            escape(kind),
            escape(loader_type),
            thousands(classes),
            thousands(loaders),
            if with_bytes { metaspace::html_census_cell(committed) } else { String::new() }
        );
    };
    for g in &c.generated {
        row(
            out,
            g.kind.as_str(),
            &g.loader_type,
            (g.classes, g.loaders),
            g.committed,
        );
    }
    let (groups, classes) = c.more_generated;
    if groups > 0 {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"2\" class=\"muted\">… {} more generated {} (--format json lists them all)</td>\
             <td class=\"num\">{}</td><td></td>{}</tr>",
            thousands(groups as u64),
            if groups == 1 { "group" } else { "groups" },
            thousands(classes),
            if with_bytes { "<td></td>" } else { "" }
        );
    }
    let (classes, types, loaders) = c.ordinary;
    if classes > 0 {
        row(
            out,
            "ordinary",
            &format!(
                "{} loader {}",
                thousands(types as u64),
                if types == 1 { "type" } else { "types" }
            ),
            (classes, loaders),
            census
                .groups
                .iter()
                .filter(|g| g.kind == metascope_events::ClassKind::Ordinary)
                .map(|g| g.committed)
                .sum(),
        );
    }
    out.push_str("</tbody></table></div>\n");
}

/// Escaped, with line-break opportunities after `.`, `$` and `(` so long
/// Java names wrap between their parts.
fn breakable(text: &str) -> String {
    escape(text)
        .replace('.', ".<wbr>")
        .replace('$', "$<wbr>")
        .replace('(', "(<wbr>")
}

fn fact(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(value));
}

fn stat(out: &mut String, value: &str, label: &str, bad: bool) {
    let _ = writeln!(
        out,
        "<div class=\"stat{}\"><b>{}</b><span>{}</span></div>",
        if bad { " bad" } else { "" },
        escape(value),
        escape(label)
    );
}

fn verdicts(out: &mut String, report: &Report) {
    let verdicts = &report.diagnosis.verdicts;
    let _ = write!(
        out,
        "<section id=\"verdicts\">\n<h2>Diagnosis<span class=\"count\">{} flagged · {} GCs in the recording</span></h2>\n",
        thousands(verdicts.len() as u64),
        thousands(report.gcs)
    );
    if verdicts.is_empty() {
        out.push_str(
            "<p class=\"ok\" id=\"no-verdict\">No call site keeps regenerating, leaking or churning classes.</p>\n",
        );
    }
    for v in verdicts {
        verdict(out, v);
    }
    out.push_str("</section>\n");
}

fn verdict(out: &mut String, v: &VerdictReport) {
    let (cause, trend) = (wording::cause(v.cause), wording::trend(v.trend));
    let via = v
        .library_entry
        .as_ref()
        .map(|e| {
            format!(
                " <span class=\"muted\">via</span> <code>{}</code>",
                escape(&wording::entry(e, v.library_entry_code_source.as_ref()))
            )
        })
        .unwrap_or_default();
    let _ = write!(
        out,
        "<div class=\"verdict {trend}\" id=\"verdict-{rank}\">\n\
         <h3>#{rank} <code>{site}</code>{via} <span class=\"badge cause\">{cause}</span><span class=\"badge {trend}\">{trend}</span></h3>\n\
         <p>{summary}</p>\n\
         <div class=\"counts\">{defined} defined · {distinct} distinct · {regen} regenerated · {unloaded} unloaded · {live} live</div>\n",
        rank = v.call_site_rank,
        site = escape(&v.call_site),
        summary = escape(&wording::summary(v)),
        defined = thousands(v.defined),
        distinct = thousands(v.distinct),
        regen = thousands(v.regenerated),
        unloaded = thousands(v.unloaded),
        live = thousands(v.live),
    );
    let evidence: Vec<String> = v.evidence.iter().map(wording::evidence).collect();
    list(out, "Evidence", &evidence);
    let remedies: Vec<String> = v
        .remedies
        .iter()
        .map(|r| wording::remedy(r.remedy, v.compile_call.as_ref()))
        .collect();
    list(out, "Remedies", &remedies);
    out.push_str("</div>\n");
}

fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, "<h4>{}</h4>\n<ul>\n", escape(title));
    for i in items {
        let _ = writeln!(out, "<li>{}</li>", escape(i));
    }
    out.push_str("</ul>\n");
}

fn call_sites(out: &mut String, report: &Report) {
    let _ = write!(
        out,
        "<section id=\"call-sites-section\">\n<h2>Call sites by {}<span class=\"count\">{} of {}</span></h2>\n",
        if report.sorted_by == crate::analyze::SiteOrder::Bytes {
            "Metaspace held at the end"
        } else {
            "classes defined"
        },
        report.call_sites.len(),
        report.call_sites_total
    );
    if report.call_sites.is_empty() {
        out.push_str("<p class=\"muted\">No classes to attribute: the agent captured nothing it classifies as generated at run time.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<div class=\"table-wrap\"><table id=\"call-sites\">\n<thead><tr><th class=\"num\">#</th><th class=\"num\">Defined</th>\
         <th class=\"num\">Unloaded</th><th class=\"num\">Live</th><th class=\"num\">Regen.</th>\
         <th>Live over time</th><th>Application frame</th><th>Library entry</th>\
         <th>Kinds · loaders</th><th>Verdict</th></tr></thead>\n<tbody>\n",
    );
    for site in &report.call_sites {
        call_site_row(out, site);
    }
    out.push_str("</tbody>\n</table></div>\n");
    if report.omitted.call_sites > 0 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">… {} more call sites with {} classes (--top 0 shows all).</p>",
            thousands(report.omitted.call_sites as u64),
            thousands(report.omitted.classes)
        );
    }
    out.push_str("</section>\n");
}

fn call_site_row(out: &mut String, site: &CallSiteReport) {
    let kinds: Vec<String> = {
        let mut k: Vec<(&str, &u64)> = site.kinds.iter().map(|(k, n)| (k.as_str(), n)).collect();
        k.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        k.iter()
            .map(|(k, n)| format!("{k} {}", thousands(**n)))
            .collect()
    };
    let loaders: Vec<String> = site
        .loaders
        .iter()
        .take(2)
        .map(|l| {
            format!(
                "{} ({}{} {})",
                l.type_name,
                if l.instances_capped { "≥" } else { "" },
                thousands(l.instances),
                if l.instances == 1 {
                    "instance"
                } else {
                    "instances"
                }
            )
        })
        .collect();
    let regenerated = if !site.identified() {
        "-".to_string()
    } else {
        thousands(site.regenerated)
    };
    let _ = write!(
        out,
        "<tr id=\"site-{rank}\"><td class=\"num\">{rank}</td><td class=\"num\">{defined}</td>\
         <td class=\"num\">{unloaded}</td><td class=\"num\">{live}</td><td class=\"num\">{regenerated}</td>\
         <td>{spark}</td><td class=\"frame\">",
        rank = site.rank,
        defined = thousands(site.defined),
        unloaded = thousands(site.unloaded),
        live = thousands(site.live),
        spark = sparkline(&site.live_timeline),
    );
    if site.sample_stack.is_empty() {
        out.push_str(&breakable(&site.display));
    } else {
        let _ = write!(
            out,
            "<details><summary>{}</summary><ol>",
            breakable(&site.display)
        );
        for f in &site.sample_stack {
            let _ = write!(
                out,
                "<li class=\"{}\">{}</li>",
                wording::role(f.role),
                escape(&f.display)
            );
        }
        out.push_str("</ol></details>");
    }
    let _ =
        writeln!(
        out,
        "</td><td class=\"frame\">{}</td><td class=\"small\"><b>{}</b><br>{}{}</td><td>{}</td></tr>",
        breakable(
            &site
                .library_entry
                .as_ref()
                .map_or(String::new(), |e| wording::entry(&e.display, e.code_source.as_ref()))
        ),
        escape(&kinds.join(", ")),
        breakable(&loaders.join(", ")),
        metaspace::html_site_bytes(site),
        site.cause
            .map(|c| format!("<span class=\"badge cause\">{}</span>", wording::cause(c)))
            .unwrap_or_default()
    );
}

/// A 90×18 live-count sparkline.
fn sparkline(points: &[(f64, u64)]) -> String {
    let peak = points.iter().map(|p| p.1).max().unwrap_or(0);
    if points.is_empty() || peak == 0 {
        return String::new();
    }
    let (w, h) = (90.0, 18.0);
    let step = if points.len() > 1 {
        w / (points.len() - 1) as f64
    } else {
        w
    };
    let coords: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                h - 1.0 - (*v as f64 / peak as f64) * (h - 2.0)
            )
        })
        .collect();
    format!(
        "<svg class=\"spark\" width=\"90\" height=\"18\" viewBox=\"0 0 90 18\" role=\"img\" aria-label=\"live classes, peak {peak}\">\
         <title>live classes over the recording, peak {peak}</title>\
         <polyline fill=\"none\" stroke=\"#2f6fcc\" stroke-width=\"1.5\" points=\"{}\"/></svg>",
        coords.join(" ")
    )
}

/// The recording-wide timeline: definitions (up) and unloads (down) per
/// bucket, live classes as an area below, GC starts as ticks.
fn timeline(out: &mut String, report: &Report) {
    let points = &report.timeline;
    let _ = write!(
        out,
        "<section id=\"timeline\">\n<h2>Timeline<span class=\"count\">{} buckets of {} · {}</span></h2>\n",
        points.len(),
        duration(bucket_ms(points)),
        duration(report.recording.duration_ms)
    );
    out.push_str(
        "<div class=\"legend\"><span><i style=\"background:#d9661f\"></i>classes defined</span>\
         <span><i style=\"background:#1c9a8a\"></i>classes unloaded</span>\
         <span><i style=\"background:#2f6fcc\"></i>live classes</span>\
         <span><i style=\"background:#c2372f\"></i>GC started</span></div>\n",
    );
    out.push_str(&timeline_svg(points, report.recording.duration_ms));
    out.push_str(&metaspace::html_chart(report));
    out.push_str("</section>\n");
}

fn bucket_ms(points: &[TimelinePoint]) -> f64 {
    match points {
        [] => 0.0,
        [only] => only.t_ms,
        [first, second, ..] => second.t_ms - first.t_ms,
    }
}

/// The timeline chart's geometry, in SVG user units.
const W: f64 = 1200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const BARS_TOP: f64 = 14.0;
const BARS_MID: f64 = 104.0; // zero line: defined above, unloaded below
const BARS_BOTTOM: f64 = 154.0;
const LIVE_TOP: f64 = 172.0;
const LIVE_BOTTOM: f64 = 250.0;
const GC_Y: f64 = 258.0;
const AXIS_Y: f64 = 286.0;

/// The scales of one timeline chart.
struct Chart<'a> {
    points: &'a [TimelinePoint],
    /// Width of a bucket.
    bw: f64,
    /// One scale for bars up and down, so they compare.
    max_bar: f64,
    max_live: f64,
}

/// The timeline chart as inline SVG (1200×300 user units, scaled to the
/// page's width).
pub fn timeline_svg(points: &[TimelinePoint], duration_ms: f64) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg id=\"timeline-chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} 300\" width=\"{W}\" height=\"300\" role=\"img\" aria-label=\"timeline of class definitions, unloads, live classes and GCs\">"
    );
    if points.is_empty() {
        s.push_str(
            "<text x=\"600\" y=\"150\" text-anchor=\"middle\">nothing recorded</text></svg>\n",
        );
        return s;
    }
    let max = |f: fn(&TimelinePoint) -> u64| points.iter().map(f).max().unwrap_or(0).max(1);
    let chart = Chart {
        points,
        bw: (W - LEFT - RIGHT) / points.len() as f64,
        max_bar: max(|p| p.defined).max(max(|p| p.unloaded)) as f64,
        max_live: max(|p| p.live) as f64,
    };
    chart.guides(&mut s);
    chart.bars(&mut s);
    chart.live(&mut s);
    chart.time_axis(&mut s, duration_ms);
    s.push_str("</svg>\n");
    s
}

impl Chart<'_> {
    /// Guide lines and their labels.
    fn guides(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "<g stroke=\"#dde1e8\" stroke-width=\"1\">\
             <line x1=\"{LEFT}\" x2=\"{xe}\" y1=\"{BARS_TOP}\" y2=\"{BARS_TOP}\"/>\
             <line x1=\"{LEFT}\" x2=\"{xe}\" y1=\"{BARS_MID}\" y2=\"{BARS_MID}\" stroke=\"#9aa3b2\"/>\
             <line x1=\"{LEFT}\" x2=\"{xe}\" y1=\"{LIVE_TOP}\" y2=\"{LIVE_TOP}\"/>\
             <line x1=\"{LEFT}\" x2=\"{xe}\" y1=\"{LIVE_BOTTOM}\" y2=\"{LIVE_BOTTOM}\" stroke=\"#9aa3b2\"/></g>",
            xe = W - RIGHT
        );
        let label = |s: &mut String, y: f64, text: &str| {
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                y + 4.0,
                escape(text)
            );
        };
        label(s, BARS_TOP, &thousands(self.max_bar as u64));
        label(s, BARS_MID, "0");
        label(
            s,
            BARS_BOTTOM - 4.0,
            &format!("−{}", thousands(self.max_bar as u64)),
        );
        label(s, LIVE_TOP, &thousands(self.max_live as u64));
        label(s, LIVE_BOTTOM, "0");
        let _ = writeln!(
            s,
            "<text x=\"{LEFT}\" y=\"{}\" font-weight=\"600\">per bucket: defined ↑ unloaded ↓</text>\
             <text x=\"{LEFT}\" y=\"{}\" font-weight=\"600\">live classes</text>",
            BARS_TOP - 3.0,
            LIVE_TOP - 4.0
        );
    }

    /// Bars, each with a tooltip for its bucket.
    fn bars(&self, s: &mut String) {
        let bw = self.bw;
        s.push_str("<g id=\"timeline-bars\">\n");
        for (i, p) in self.points.iter().enumerate() {
            let x = LEFT + i as f64 * bw;
            let start = if i == 0 { 0.0 } else { self.points[i - 1].t_ms };
            let tip = format!(
                "+{} … +{}: {} defined, {} unloaded, {} live, {} GC{}",
                duration(start),
                duration(p.t_ms),
                thousands(p.defined),
                thousands(p.unloaded),
                thousands(p.live),
                thousands(p.gcs),
                if p.gcs == 1 { "" } else { "s" }
            );
            let _ = write!(s, "<g><title>{}</title>", escape(&tip));
            // An invisible full-height hit area so every bucket has a tooltip.
            let _ = write!(
                s,
                "<rect x=\"{x:.2}\" y=\"{BARS_TOP}\" width=\"{bw:.2}\" height=\"{}\" fill=\"transparent\"/>",
                GC_Y + 10.0 - BARS_TOP
            );
            let inner = (bw * 0.8).max(0.5);
            let bx = x + (bw - inner) / 2.0;
            if p.defined > 0 {
                let h = (p.defined as f64 / self.max_bar * (BARS_MID - BARS_TOP)).max(1.0);
                let _ = write!(
                    s,
                    "<rect x=\"{bx:.2}\" y=\"{:.2}\" width=\"{inner:.2}\" height=\"{h:.2}\" fill=\"#d9661f\"/>",
                    BARS_MID - h
                );
            }
            if p.unloaded > 0 {
                let h = (p.unloaded as f64 / self.max_bar * (BARS_BOTTOM - BARS_MID)).max(1.0);
                let _ = write!(
                    s,
                    "<rect x=\"{bx:.2}\" y=\"{BARS_MID}\" width=\"{inner:.2}\" height=\"{h:.2}\" fill=\"#1c9a8a\"/>"
                );
            }
            if p.gcs > 0 {
                let _ = write!(
                    s,
                    "<rect class=\"gc-marker\" x=\"{:.2}\" y=\"{GC_Y}\" width=\"{:.2}\" height=\"10\" fill=\"#c2372f\"/>",
                    x + bw / 2.0 - 1.5,
                    3.0
                );
            }
            s.push_str("</g>\n");
        }
        s.push_str("</g>\n");
    }

    /// Live classes: an area under a line, one point per bucket end.
    fn live(&self, s: &mut String) {
        let live_y = |v: u64| LIVE_BOTTOM - v as f64 / self.max_live * (LIVE_BOTTOM - LIVE_TOP);
        let mut line = format!("{LEFT:.2},{:.2}", live_y(0));
        for (i, p) in self.points.iter().enumerate() {
            let _ = write!(
                line,
                " {:.2},{:.2}",
                LEFT + (i + 1) as f64 * self.bw,
                live_y(p.live)
            );
        }
        let _ = writeln!(
            s,
            "<polygon points=\"{line} {:.2},{LIVE_BOTTOM} {LEFT:.2},{LIVE_BOTTOM}\" fill=\"#2f6fcc\" fill-opacity=\"0.15\"/>\
             <polyline id=\"timeline-live\" points=\"{line}\" fill=\"none\" stroke=\"#2f6fcc\" stroke-width=\"2\"/>",
            LEFT + self.points.len() as f64 * self.bw
        );
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">GCs</text>",
            LEFT - 6.0,
            GC_Y + 9.0
        );
    }

    /// Time axis: five labels.
    fn time_axis(&self, s: &mut String, duration_ms: f64) {
        let end = duration_ms.max(self.points.last().map_or(0.0, |p| p.t_ms));
        for k in 0..=4 {
            let f = k as f64 / 4.0;
            let x = LEFT + f * (W - LEFT - RIGHT);
            let anchor = match k {
                0 => "start",
                4 => "end",
                _ => "middle",
            };
            let _ = writeln!(
                s,
                "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{}\" y2=\"{}\" stroke=\"#9aa3b2\"/>\
                 <text x=\"{x:.2}\" y=\"{AXIS_Y}\" text-anchor=\"{anchor}\">{}</text>",
                AXIS_Y - 16.0,
                AXIS_Y - 11.0,
                if k == 0 {
                    "0".to_string()
                } else {
                    format!("+{}", duration(end * f))
                }
            );
        }
    }
}

fn flame_graph(out: &mut String, svg: &str) {
    out.push_str(
        "<section id=\"flame\">\n<h2>Flame graph<span class=\"count\">classes defined, by defining stack · \
         click a frame to zoom, “Search” to highlight</span></h2>\n",
    );
    let _ = writeln!(
        out,
        "<div class=\"legend\"><span><i style=\"background:#f0a050\"></i>application</span>\
         <span><i style=\"background:#6fa0e8\"></i>libraries</span>\
         <span><i style=\"background:#a8cca8\"></i>JDK</span>\
         <span><i style=\"background:#bebebe\"></i>stack not captured</span></div>"
    );
    out.push_str("<div id=\"flamegraph\">\n");
    out.push_str(&inline_svg(svg));
    out.push_str("</div>\n</section>\n");
}

/// inferno's standalone SVG, made fit to sit inside the page: no XML
/// prolog, doctype or comments (they name web sites), and its script finds
/// its own `<svg>` rather than the page's first, and leaves the page's
/// Ctrl-F alone.
pub fn inline_svg(svg: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let mut s = strip_comments(&svg[start..]);
    s = s.replacen("<svg ", "<svg id=\"flamegraph-svg\" ", 1);
    s = s.replace(
        "svg = document.getElementsByTagName(\"svg\")[0];",
        "svg = document.getElementById(\"flamegraph-svg\");",
    );
    // Ctrl-F / F3 open the flame graph's search prompt in a standalone
    // SVG; on a page they should find text.
    if let (Some(a), Some(b)) = (s.find("// ctrl-F for search"), s.find("// functions")) {
        if a < b {
            s.replace_range(a..b, "");
        }
    }
    s
}

fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        match rest[i..].find("-->") {
            Some(j) => rest = &rest[i + j + 3..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn loader_census(out: &mut String, report: &Report) {
    if report.loader_census.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"loaders\">\n<h2>Class loaders</h2>\n<table id=\"loader-census\">\n\
         <thead><tr><th>Loader type</th><th class=\"num\">Instances</th><th class=\"num\">Unloaded</th>\
         <th class=\"num\">Classes defined</th><th class=\"num\">Classes unloaded</th><th>Top call sites</th></tr></thead>\n<tbody>\n",
    );
    for l in report.loader_census.iter().take(20) {
        let sites: Vec<String> = l
            .call_sites
            .iter()
            .take(3)
            .map(|s| format!("#{} {} ({})", s.rank, s.display, thousands(s.classes)))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"frame\">{}</td><td class=\"num\">{}{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"frame\">{}</td></tr>",
            escape(&l.type_name),
            if l.instances_capped { "≥" } else { "" },
            thousands(l.instances),
            thousands(l.instances_unloaded),
            thousands(l.classes_defined),
            thousands(l.classes_unloaded),
            escape(&sites.join("; "))
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if report.loader_census.len() > 20 {
        let _ = writeln!(
            out,
            "<p class=\"muted\">… {} more loader types (--format json lists them all).</p>",
            report.loader_census.len() - 20
        );
    }
    out.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{attached_stream, bean_copier_stream, exhausted, report};

    fn html(stream: &str) -> String {
        render(&report(stream, 10)).unwrap()
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn page_has_every_section_and_fetches_nothing() {
        let mut stream = bean_copier_stream(true, 2);
        stream += &exhausted("Metaspace", &["oom_error"], 5);
        let page = html(&stream);
        for id in [
            "id=\"summary\"",
            "id=\"warnings\"",
            "id=\"verdicts\"",
            "id=\"call-sites\"",
            "id=\"timeline-chart\"",
            "id=\"flamegraph-svg\"",
            "id=\"loader-census\"",
        ] {
            assert!(page.contains(id), "{id} missing");
        }
        assert!(page.contains("com.acme.orders.OrderService.toDto(OrderService.java:42)"));
        assert!(page.contains("class=\"alert oom\""), "no OOM alert");
        assert!(page.contains("2 classes were dropped"), "no drop warning");
        assert!(!page.contains("<?xml"));
        assert!(!page.contains("<!DOCTYPE svg"));
        for attr in ["src=", "href=\"http", "url(http", "@import"] {
            assert!(!page.contains(attr), "{attr} in the page");
        }
        // inferno's script is bound to its own svg.
        assert!(!page.contains("getElementsByTagName(\"svg\")[0]"));
        assert!(!page.contains("ctrl-F for search"));
    }

    #[test]
    fn an_attached_recording_shows_its_census_in_the_header() {
        let page = html(&attached_stream(11));
        let header = &page[page.find("id=\"summary\"").unwrap()..page.find("</header>").unwrap()];
        assert!(header.contains("agent 0.1.0 (attached)"), "{header}");
        assert!(header
            .contains("At attach: <b>2,510</b> classes already loaded (pre-existing, no stacks)"));
        assert!(header.contains(
            "<tr><td>reflection_accessor</td><td class=\"frame\">jdk.internal.reflect.DelegatingClassLoader</td>\
             <td class=\"num\">200</td><td class=\"num\">200</td></tr>"
        ));
        assert!(header.contains("… 3 more generated groups (--format json lists them all)"));
        assert!(header.contains(
            "<tr><td>ordinary</td><td class=\"frame\">2 loader types</td><td class=\"num\">2,290</td>"
        ));
        // Not attached: no census.
        assert!(!html(&bean_copier_stream(true, 0)).contains("id=\"attach-census\""));
    }

    #[test]
    fn names_from_the_recording_are_escaped() {
        let stream = bean_copier_stream(true, 0).replace(
            "com.acme.orders.OrderService",
            "com.acme.<script>alert(1)</script>Svc",
        );
        let page = html(&stream);
        assert!(!page.contains("<script>alert(1)"), "unescaped class name");
        assert!(page.contains("com.acme.&lt;script&gt;alert(1)&lt;/script&gt;Svc"));
    }

    #[test]
    fn timeline_draws_bars_live_and_gc_markers() {
        let points = vec![
            TimelinePoint {
                t_ms: 10.0,
                defined: 5,
                unloaded: 0,
                live: 5,
                gcs: 0,
            },
            TimelinePoint {
                t_ms: 20.0,
                defined: 0,
                unloaded: 5,
                live: 0,
                gcs: 1,
            },
        ];
        let svg = timeline_svg(&points, 20.0);
        assert_eq!(svg.matches("class=\"gc-marker\"").count(), 1);
        assert!(svg.contains("fill=\"#d9661f\""));
        assert!(svg.contains("fill=\"#1c9a8a\""));
        assert!(svg.contains("id=\"timeline-live\""));
        assert!(svg.contains("+10 ms … +20 ms: 0 defined, 5 unloaded, 0 live, 1 GC"));
        assert!(timeline_svg(&[], 0.0).contains("nothing recorded"));
    }
}
