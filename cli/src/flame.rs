//! Flame graphs of class definitions: collapsed stacks (`--format folded`)
//! and an SVG rendered with inferno (`--format svg`, and inside the HTML
//! report).
//!
//! Weights are classes defined, counted per stack id while the recording is
//! read ([`Recording::stack_classes`]), so memory grows with distinct stacks,
//! never with classes. Stacks summarised past the stack memory cap have no
//! frames: their classes are drawn per call site, under
//! [`SUMMARISED_FRAME`] ([`Recording::summarised_classes`]).

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};

use anyhow::{Context, Result};
use inferno::flamegraph::color::{BackgroundColor, Color, PaletteMap};
use inferno::flamegraph::{self, Options};
use metascope_events::{Frame, NO_STACK};

use crate::callsite::{attribute, is_jdk_machinery, CallSiteKey, FrameRole, Libraries};
use crate::escape;
use crate::format::{duration, thousands};
use crate::recording::Recording;
use crate::report::Report;
use crate::stacks::SUMMARISED_FRAME;

/// The single frame of classes whose stack was not captured.
pub const NOT_CAPTURED: &str = "(stack not captured)";

/// One frame of a collapsed stack: `com.acme.Foo.bar:42`, or
/// `com.acme.Foo.bar` without a line. `;` (the separator), whitespace and
/// control and bidi characters, which no Java name contains, become `_`
/// ([`escape::push_folded`]): the SVG stays valid XML and a line of the
/// folded format stays one stack and one count.
pub fn frame_name(f: &Frame) -> String {
    name(&f.class, &f.method, f.line)
}

fn name(class: &str, method: &str, line: Option<u32>) -> String {
    let mut name = String::with_capacity(class.len() + method.len() + 8);
    escape::push_folded(&mut name, class);
    name.push('.');
    escape::push_folded(&mut name, method);
    if let Some(line) = line {
        name.push(':');
        name.push_str(&line.to_string());
    }
    name
}

/// The frames drawn for the classes of summarised stacks at one call site,
/// outermost first: [`SUMMARISED_FRAME`], the application frame (or the
/// outermost frame), the library entry; each with how it is coloured.
fn summarised_frames(key: &CallSiteKey, libraries: &Libraries) -> Vec<(String, FrameClass)> {
    let library_or_jdk = |class: &str| {
        if libraries.contains(class) {
            FrameClass::Library
        } else {
            FrameClass::Jdk
        }
    };
    if *key == CallSiteKey::StackNotCaptured {
        // A stack record without frames.
        return vec![(NOT_CAPTURED.to_string(), FrameClass::Unknown)];
    }
    let mut frames = vec![(SUMMARISED_FRAME.to_string(), FrameClass::Unknown)];
    match key {
        CallSiteKey::Application { frame, .. } => frames.push((
            name(&frame.class, &frame.method, frame.line),
            FrameClass::Application,
        )),
        CallSiteKey::NoApplicationFrame { outermost, .. } => frames.push((
            name(&outermost.class, &outermost.method, outermost.line),
            library_or_jdk(&outermost.class),
        )),
        CallSiteKey::StackNotCaptured => {}
    }
    if let Some(entry) = key.entry() {
        frames.push((
            name(&entry.class, &entry.method, None),
            library_or_jdk(&entry.class),
        ));
    }
    frames
}

/// Collapsed stacks, outermost frame first, each with its classes; one
/// entry per distinct stack (identical stacks written under two ids are
/// merged), then one per call site with classes on summarised stacks;
/// sorted.
pub fn folded_stacks(recording: &Recording, libraries: &Libraries) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for (&id, &classes) in &recording.stack_classes {
        let frames = (id != NO_STACK)
            .then(|| recording.stacks.get(id).and_then(|s| s.frames()))
            .flatten()
            .filter(|f| !f.is_empty());
        let key = match frames {
            Some(frames) => frames
                .iter()
                .rev()
                .map(frame_name)
                .collect::<Vec<_>>()
                .join(";"),
            None => NOT_CAPTURED.to_string(),
        };
        *out.entry(key).or_default() += classes;
    }
    for &(site, classes) in &recording.summarised_classes {
        let frames = summarised_frames(&recording.call_sites[site].key, libraries);
        let key = frames
            .into_iter()
            .map(|(name, _)| name)
            .collect::<Vec<_>>()
            .join(";");
        *out.entry(key).or_default() += classes;
    }
    out
}

/// `--format folded`: one `frame;frame;... count` line per distinct stack.
pub fn render_folded(recording: &Recording, libraries: &Libraries) -> String {
    let mut out = String::new();
    for (stack, classes) in folded_stacks(recording, libraries) {
        out.push_str(&stack);
        out.push(' ');
        out.push_str(&classes.to_string());
        out.push('\n');
    }
    out
}

/// How a frame is coloured in the flame graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameClass {
    /// Application code: warm colours.
    Application,
    /// A known library (or `--library`): blue.
    Library,
    /// JDK machinery and run-time generated frames: grey-green.
    Jdk,
    /// `(stack not captured)`: grey.
    Unknown,
}

/// Classifies every distinct frame name of the recorded stacks; a frame
/// that plays several roles takes the most specific (application over
/// library over JDK).
fn classify_frames(recording: &Recording, libraries: &Libraries) -> BTreeMap<String, FrameClass> {
    let mut classes: BTreeMap<String, FrameClass> = BTreeMap::new();
    let mut keep = |name: String, class: FrameClass| {
        let entry = classes.entry(name).or_insert(class);
        if rank(class) > rank(*entry) {
            *entry = class;
        }
    };
    let mut seen: HashSet<u64> = HashSet::new();
    for &id in recording.stack_classes.keys() {
        let Some(frames) = recording.stacks.get(id).and_then(|s| s.frames()) else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        // The loader type only matters for loader helpers (JDK-coloured).
        let roles = attribute(&frames, "", libraries).roles;
        for (f, role) in frames.iter().zip(roles) {
            let class = match role {
                FrameRole::Application | FrameRole::Caller
                    if !is_jdk_machinery(&f.class) && !libraries.contains(&f.class) =>
                {
                    FrameClass::Application
                }
                _ if libraries.contains(&f.class) => FrameClass::Library,
                FrameRole::LibraryEntry if !is_jdk_machinery(&f.class) => FrameClass::Library,
                _ => FrameClass::Jdk,
            };
            keep(frame_name(f), class);
        }
    }
    for &(site, _) in &recording.summarised_classes {
        for (name, class) in summarised_frames(&recording.call_sites[site].key, libraries) {
            keep(name, class);
        }
    }
    classes.insert(NOT_CAPTURED.to_string(), FrameClass::Unknown);
    classes
}

fn rank(c: FrameClass) -> u8 {
    match c {
        FrameClass::Unknown => 0,
        FrameClass::Jdk => 1,
        FrameClass::Library => 2,
        FrameClass::Application => 3,
    }
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
pub fn render_svg(recording: &Recording, report: &Report, libraries: &Libraries) -> Result<String> {
    let mut palette = PaletteMap::default();
    for (name, class) in classify_frames(recording, libraries) {
        palette.insert(&name, frame_color(class, &name));
    }
    let stacks = folded_stacks(recording, libraries);
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
    if stacks.is_empty() {
        // inferno refuses to draw nothing; say why instead.
        return Ok(empty_svg(&options.title));
    }
    // inferno's input lines, made from the stacks' own strings: one copy
    // of the folded text at a time.
    let lines: Vec<String> = stacks
        .into_iter()
        .map(|(mut s, n)| {
            let n = n.to_string();
            s.reserve_exact(1 + n.len());
            s.push(' ');
            s.push_str(&n);
            s
        })
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
    use crate::recording::fixtures::bean_copier_stream;
    use crate::recording::ReadOptions;

    fn recording() -> Recording {
        Recording::from_str(&bean_copier_stream(true, 0), &ReadOptions::default()).unwrap()
    }

    #[test]
    fn frame_names_are_class_method_line() {
        let mut f = Frame {
            class: "com.acme.Foo".into(),
            method: "bar".into(),
            sig: "()V".into(),
            line: Some(42),
            file: Some("Foo.java".into()),
            native: false,
        };
        assert_eq!(frame_name(&f), "com.acme.Foo.bar:42");
        f.line = None;
        assert_eq!(frame_name(&f), "com.acme.Foo.bar");
        f.class = "we;ird\nname".into();
        assert_eq!(frame_name(&f), "we_ird_name.bar");
    }

    #[test]
    fn folded_lines_are_outermost_first_and_weighted_by_classes() {
        let folded = render_folded(&recording(), &Libraries::default());
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
        let classes = classify_frames(&recording(), &Libraries::default());
        assert_eq!(
            classes["com.acme.orders.OrderService.toDto:42"],
            FrameClass::Application
        );
        let spring = classes
            .iter()
            .find(|(k, _)| k.starts_with("org.springframework.beans.BeanUtils.copyProperties"))
            .unwrap();
        assert_eq!(*spring.1, FrameClass::Library);
        let jdk = classes
            .iter()
            .find(|(k, _)| k.starts_with("jdk.internal.reflect.ClassDefiner.defineClass"))
            .unwrap();
        assert_eq!(*jdk.1, FrameClass::Jdk);
        let app = frame_color(FrameClass::Application, "x");
        let lib = frame_color(FrameClass::Library, "x");
        assert!(app.r > app.b && lib.b > lib.r);
    }

    #[test]
    fn svg_is_a_titled_flame_graph() {
        let r = recording();
        let report = crate::report::build(&r, 10, &Libraries::default());
        let svg = render_svg(&r, &report, &Libraries::default()).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("Classes defined by stack"), "{svg}");
        assert!(svg.contains("com.acme.orders.OrderService.toDto:42"));
        assert!(svg.contains("5 classes"), "{svg}");
    }
}
