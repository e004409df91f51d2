//! Flame graphs of class definitions, drawn from the report's
//! [`FlameGraph`]: collapsed stacks (`--format folded`, for
//! flamegraph.pl, inferno and speedscope) and an SVG rendered with inferno
//! (`--format svg`, and inside the HTML report), coloured by what each
//! frame is.

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use anyhow::{Context, Result};
use inferno::flamegraph::color::{BackgroundColor, Color, PaletteMap};
use inferno::flamegraph::{self, Options};

use crate::escape;
use crate::format::{duration, thousands};
use crate::report::{FlameGraph, FrameClass, Report};

/// The report's flame graph: reports are built with one for the flame
/// formats (`report::Contents::flame_graph`); without, nothing to draw.
fn graph(report: &Report) -> &FlameGraph {
    const NONE: &FlameGraph = &FlameGraph {
        stacks: BTreeMap::new(),
        frames: BTreeMap::new(),
    };
    report.flame_graph.as_ref().unwrap_or(NONE)
}

/// `--format folded`: one `frame;frame;... count` line per distinct stack.
pub fn render_folded(report: &Report) -> String {
    let mut out = String::new();
    for (stack, classes) in &graph(report).stacks {
        out.push_str(stack);
        out.push(' ');
        out.push_str(&classes.to_string());
        out.push('\n');
    }
    out
}

/// A colour of the frame's family, varied a little by its name so that
/// neighbours can be told apart.
pub fn frame_color(class: FrameClass, name: &str) -> Color {
    let mut h = DefaultHasher::new();
    name.hash(&mut h);
    let v = h.finish();
    let jitter = |shift: u32, span: u8| ((v >> shift) % u64::from(span)) as u8;
    match class {
        // Orange to amber.
        FrameClass::Application => Color {
            r: 230 + jitter(0, 25),
            g: 120 + jitter(8, 60),
            b: 40 + jitter(16, 30),
        },
        // Blue to indigo.
        FrameClass::Library => Color {
            r: 90 + jitter(0, 40),
            g: 140 + jitter(8, 40),
            b: 215 + jitter(16, 40),
        },
        // Muted sage.
        FrameClass::Jdk => Color {
            r: 150 + jitter(0, 30),
            g: 190 + jitter(8, 30),
            b: 150 + jitter(16, 25),
        },
        FrameClass::Unknown => Color {
            r: 190,
            g: 190,
            b: 190,
        },
    }
}

/// The legend shared by the SVG subtitle and the HTML report.
pub const LEGEND: &str = "orange: application · blue: libraries · green: JDK";

/// `--format svg`: the flame graph, self-contained (inline CSS and
/// JavaScript for zoom and search), titled with the JVM and totals.
pub fn render_svg(report: &Report) -> Result<String> {
    let graph = graph(report);
    let mut palette = PaletteMap::default();
    for (name, class) in &graph.frames {
        palette.insert(name, frame_color(*class, name));
    }
    let mut options = Options::default();
    options.title = title(report);
    options.subtitle = Some(subtitle(report));
    options.count_name = "classes".to_string();
    options.name_type = "Frame:".to_string();
    options.deterministic = true;
    // The root frame (`all`): neutral.
    palette.insert(
        "",
        Color {
            r: 214,
            g: 219,
            b: 227,
        },
    );
    options.palette_map = Some(&mut palette);
    options.bgcolors = Some(BackgroundColor::Flat(Color {
        r: 255,
        g: 255,
        b: 255,
    }));
    options.font_type = "Verdana, DejaVu Sans, Arial, sans-serif".to_string();
    options.min_width = 0.1;
    let mut svg = Vec::new();
    if graph.stacks.is_empty() {
        // inferno refuses to draw nothing; say why instead.
        return Ok(empty_svg(&options.title));
    }
    // inferno's input lines: one copy of the folded text.
    let lines: Vec<String> = graph
        .stacks
        .iter()
        .map(|(stack, n)| format!("{stack} {n}"))
        .collect();
    flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), &mut svg)
        .context("cannot draw the flame graph")?;
    String::from_utf8(svg).context("the flame graph is not UTF-8")
}

fn title(report: &Report) -> String {
    let jvm = report.recording.header.as_ref().map_or_else(
        || "JVM unknown".to_string(),
        |h| format!("{} {}, pid {}", h.java_vm_name, h.java_version, h.pid),
    );
    // inferno escapes markup, not control characters (invalid in XML).
    format!("Classes defined by stack — {}", escape::text(&jvm))
}

fn subtitle(report: &Report) -> String {
    let r = &report.recording;
    let mut parts = vec![
        format!("{} classes", thousands(r.totals.attributed)),
        format!("{} call sites", thousands(report.call_sites_total as u64)),
        format!("{} GCs", thousands(report.gcs)),
        duration(r.duration_ms),
    ];
    if let Some(d) = r.totals.dropped.filter(|&d| d > 0) {
        parts.push(format!("{} dropped", thousands(d)));
    }
    if !r.complete {
        parts.push("cut off".to_string());
    }
    format!("{} — {LEGEND}", parts.join(" · "))
}

/// A small SVG saying there is nothing to draw.
fn empty_svg(title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\" height=\"60\" viewBox=\"0 0 1200 60\">\
         <text x=\"600\" y=\"24\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"16\">{}</text>\
         <text x=\"600\" y=\"46\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"12\">\
         No classes to draw: the recording has no class attributed to a call site.</text></svg>\n",
        crate::escape::html(title)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{bean_copier_stream, report};

    #[test]
    fn folded_lines_are_outermost_first_and_weighted_by_classes() {
        let folded = render_folded(&report(&bean_copier_stream(true, 0), 10));
        let lines: Vec<&str> = folded.lines().collect();
        // The copier stream: 3 classes on one stack, 1 on another, 1
        // without a stack.
        assert_eq!(lines.len(), 3, "{folded}");
        let total: u64 = lines
            .iter()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, 5);
        let big = lines.iter().find(|l| l.ends_with(" 3")).expect("{folded}");
        assert!(big.starts_with("com.acme.Main.main:"), "{big}");
        assert!(
            big.contains(";com.acme.orders.OrderService.toDto:42;org.springframework.beans.BeanUtils.copyProperties"),
            "{big}"
        );
        assert!(lines.contains(&"(stack not captured) 1"), "{folded}");
        // Sorted, so the output is stable.
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted);
    }

    #[test]
    fn frames_are_coloured_by_role() {
        let app = frame_color(FrameClass::Application, "x");
        let lib = frame_color(FrameClass::Library, "x");
        assert!(app.r > app.b && lib.b > lib.r);
    }

    #[test]
    fn svg_is_a_titled_flame_graph() {
        let svg = render_svg(&report(&bean_copier_stream(true, 0), 10)).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("Classes defined by stack"), "{svg}");
        assert!(svg.contains("com.acme.orders.OrderService.toDto:42"));
        assert!(svg.contains("5 classes"), "{svg}");
    }
}
