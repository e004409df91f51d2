//! The flame graph's data: collapsed stacks of class definitions, each
//! weighted by the classes defined on it, and what every frame is
//! (application, library, JDK), for `--format folded`, `svg` and `html`.
//!
//! Weights were counted per stack id while reading, so this grows with
//! distinct stacks, never with classes. Stacks summarised past the stack
//! memory cap have no frames: their classes are drawn per call site,
//! under [`SUMMARISED_FRAME`].

use std::collections::{BTreeMap, HashSet};

use metascope_events::{Frame, NO_STACK};

use crate::analyze::attribution::{attribute, is_jdk_machinery, CallSiteKey, FrameRole, Libraries};
use crate::analyze::stacks::SUMMARISED_FRAME;
use crate::analyze::Analyzed;
use crate::escape;

/// The single frame of classes whose stack was not captured.
pub const NOT_CAPTURED: &str = "(stack not captured)";

/// What a frame of the flame graph is, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FrameClass {
    /// `(stack not captured)`, `(stacks summarised)`.
    Unknown,
    /// JDK machinery and run-time generated frames.
    Jdk,
    /// A known library (or `--library`).
    Library,
    /// Application code.
    Application,
}

/// Collapsed stacks, outermost frame first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlameGraph {
    /// `frame;frame;...` -> classes defined on it; one entry per distinct
    /// stack (identical stacks written under two ids are merged), then one
    /// per call site with classes on summarised stacks; sorted.
    pub stacks: BTreeMap<String, u64>,
    /// Every frame name in `stacks`, with what it is; a frame that plays
    /// several roles takes the most specific (application over library
    /// over JDK). Empty unless asked for (the folded format needs none).
    pub frames: BTreeMap<String, FrameClass>,
}

/// One frame of a collapsed stack: `com.acme.Foo.bar:42`, or
/// `com.acme.Foo.bar` without a line. `;` (the separator), whitespace and
/// control and bidi characters, which no Java name contains, become `_`
/// ([`escape::push_folded`]): an SVG stays valid XML and a line of the
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

/// The flame graph of what `analyzed` found; `frames`: say what each
/// frame is too.
pub fn build(analyzed: &Analyzed<'_>, frames: bool) -> FlameGraph {
    let frames_wanted = frames;
    let libraries = &analyzed.options.libraries;
    let mut graph = FlameGraph::default();
    let mut seen: HashSet<u64> = HashSet::new();
    for (&id, &classes) in analyzed.stack_classes {
        let frames = (id != NO_STACK)
            .then(|| analyzed.stacks.get(id).and_then(|s| s.frames()))
            .flatten()
            .filter(|f| !f.is_empty());
        let Some(frames) = frames else {
            *graph.stacks.entry(NOT_CAPTURED.to_string()).or_default() += classes;
            continue;
        };
        let key = frames
            .iter()
            .rev()
            .map(frame_name)
            .collect::<Vec<_>>()
            .join(";");
        *graph.stacks.entry(key).or_default() += classes;
        if frames_wanted && seen.insert(id) {
            classify_frames(&mut graph.frames, &frames, libraries);
        }
    }
    for &(site, classes) in &analyzed.summarised_sites {
        let frames = summarised_frames(&analyzed.call_sites[site].key, libraries);
        let key = frames
            .iter()
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
            .join(";");
        *graph.stacks.entry(key).or_default() += classes;
        if frames_wanted {
            for (name, class) in frames {
                keep(&mut graph.frames, name, class);
            }
        }
    }
    if frames_wanted {
        graph
            .frames
            .insert(NOT_CAPTURED.to_string(), FrameClass::Unknown);
    }
    graph
}

fn keep(frames: &mut BTreeMap<String, FrameClass>, name: String, class: FrameClass) {
    let entry = frames.entry(name).or_insert(class);
    *entry = (*entry).max(class);
}

/// What each frame of one stack is.
fn classify_frames(
    classes: &mut BTreeMap<String, FrameClass>,
    frames: &[Frame],
    libraries: &Libraries,
) {
    // The loader type only matters for loader helpers (JDK-coloured).
    let roles = attribute(frames, "", libraries).roles;
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
        keep(classes, frame_name(f), class);
    }
}

/// The frames drawn for the classes of summarised stacks at one call site,
/// outermost first: [`SUMMARISED_FRAME`], the application frame (or the
/// outermost frame), the library entry; each with what it is.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{bean_copier_stream, report};

    #[test]
    fn frame_names_are_class_method_line() {
        let mut f = Frame {
            class: "com.acme.Foo".into(),
            method: "bar".into(),
            sig: "()V".into(),
            line: Some(42),
            file: Some("Foo.java".into()),
            native: false,
            source: None,
        };
        assert_eq!(frame_name(&f), "com.acme.Foo.bar:42");
        f.line = None;
        assert_eq!(frame_name(&f), "com.acme.Foo.bar");
        f.class = "we;ird\nname".into();
        assert_eq!(frame_name(&f), "we_ird_name.bar");
    }

    #[test]
    fn frames_are_classified_by_role() {
        let graph = report(&bean_copier_stream(true, 0), 10)
            .flame_graph
            .unwrap();
        let classes = &graph.frames;
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
        assert_eq!(classes[NOT_CAPTURED], FrameClass::Unknown);
    }
}
