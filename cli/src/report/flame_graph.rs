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

use crate::analyze::attribution::{
    is_jdk_machinery, Attribution, CallSiteKey, EntryKind, FrameRole, Origin, Ownership,
};
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
    /// A library: another jar than the application's, a known library by
    /// name, or `--library`.
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
    let ownership = &analyzed.options.ownership;
    let mut graph = FlameGraph::default();
    let mut seen: HashSet<u64> = HashSet::new();
    for (&id, &classes) in analyzed.stack_classes {
        // The loader type only matters for loader helpers (JDK-coloured).
        let attributed = (id != NO_STACK)
            .then(|| {
                let s = analyzed
                    .stacks
                    .get(id)?
                    .attributed("", analyzed.sources, ownership)?;
                let classes = frame_classes(&s.frames, &s.attribution, &s.origins, ownership);
                Some((s.frames, classes))
            })
            .flatten()
            .filter(|(f, _)| !f.is_empty());
        let Some((frames, frame_classes)) = attributed else {
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
            for (f, class) in frames.iter().zip(frame_classes) {
                keep(&mut graph.frames, frame_name(f), class);
            }
        }
    }
    for &(site, classes) in &analyzed.summarised_sites {
        let frames = summarised_frames(&analyzed.call_sites[site].key, ownership);
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

/// What each frame of one stack is: its role inside the application
/// frame; outside it (callers), where its class came from, else its name.
fn frame_classes(
    frames: &[Frame],
    a: &Attribution,
    origins: &[Origin<'_>],
    ownership: &Ownership,
) -> Vec<FrameClass> {
    let entry_kind = a.key.entry().map(|e| e.kind);
    frames
        .iter()
        .zip(&a.roles)
        .zip(origins)
        .map(|((f, role), origin)| match role {
            FrameRole::Application => FrameClass::Application,
            FrameRole::Library => FrameClass::Library,
            // A loader's define helper outside the JDK too, as before.
            FrameRole::LibraryEntry
                if entry_kind == Some(EntryKind::Library) || !is_jdk_machinery(&f.class) =>
            {
                FrameClass::Library
            }
            FrameRole::Caller => match origin {
                Origin::Library(_) => FrameClass::Library,
                Origin::Jdk => FrameClass::Jdk,
                _ if ownership.is_library_by_name(&f.class) => FrameClass::Library,
                _ if is_jdk_machinery(&f.class) => FrameClass::Jdk,
                _ => FrameClass::Application,
            },
            _ => FrameClass::Jdk,
        })
        .collect()
}

/// The frames drawn for the classes of summarised stacks at one call site,
/// outermost first: [`SUMMARISED_FRAME`], the application frame (or the
/// outermost frame), the library entry; each with what it is.
fn summarised_frames(key: &CallSiteKey, ownership: &Ownership) -> Vec<(String, FrameClass)> {
    let library_or_jdk = |class: &str| {
        if ownership.is_library_by_name(class) {
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
        let class = if entry.kind == EntryKind::Library {
            FrameClass::Library
        } else {
            FrameClass::Jdk
        };
        frames.push((name(&entry.class, &entry.method, None), class));
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
