//! On attach: what was already loaded before the agent arrived, grouped by
//! kind and loader type (like `jcmd VM.classloader_stats`, without stacks:
//! those classes were defined before anyone was watching).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use metascope_events::{CensusGroup, ClassKind};

use crate::capture::Capture;
use crate::classify::{internal_name_from_signature, ClassFacts, LoaderFacts};
use crate::ffi::{Jni, Jvmti};
use crate::loaders::LoaderTable;
use crate::messages;
use crate::options::Fault;

/// Past this many distinct loaders per group, instances stop being counted.
const MAX_LOADERS_PER_GROUP: usize = 100_000;

#[derive(Debug, Default)]
pub struct Census {
    pub t_ns: u64,
    groups: HashMap<(ClassKind, Arc<str>), (u64, HashSet<u64>)>,
}

impl Census {
    pub fn add(&mut self, kind: ClassKind, loader_type: &Arc<str>, loader_id: u64) {
        let (classes, loaders) = self.groups.entry((kind, loader_type.clone())).or_default();
        *classes += 1;
        if loaders.len() < MAX_LOADERS_PER_GROUP {
            loaders.insert(loader_id);
        }
    }

    /// The record form: biggest groups first.
    pub fn into_record(self) -> metascope_events::Census {
        let mut groups: Vec<CensusGroup> = self
            .groups
            .into_iter()
            .map(|((kind, loader_type), (classes, loaders))| CensusGroup {
                kind,
                loader_type: loader_type.to_string(),
                classes,
                loaders: loaders.len() as u64,
                used: None,
                committed: None,
            })
            .collect();
        groups.sort_by(|a, b| {
            b.classes
                .cmp(&a.classes)
                .then_with(|| a.loader_type.cmp(&b.loader_type))
        });
        metascope_events::Census {
            t_ns: self.t_ns,
            classes: groups.iter().map(|g| g.classes).sum(),
            groups,
        }
    }
}

/// Counts every loaded class (runs on the attach thread, before class
/// events are switched on), classified as `capture` would.
pub fn take(jvmti: Jvmti, jni: Jni<'_>, loaders: &LoaderTable, capture: &Capture) -> Census {
    let mut census = Census::default();
    if capture.fault == Some(Fault::CensusError) {
        messages::say("cannot list the loaded classes (injected fault); the report will lack the attach-time census");
        return census;
    }
    let result = jvmti.for_each_loaded_class(jni, |class| {
        let Ok(signature) = jvmti.class_signature(class) else {
            return;
        };
        let Some(internal_name) = internal_name_from_signature(signature.as_str()) else {
            return; // arrays and primitives
        };
        // An owned ref: one leaked local ref per loaded class would pile up
        // on the attach thread.
        let Ok(loader_ref) = jvmti.class_loader_owned(jni, class) else {
            return;
        };
        let Ok(loader) = loaders.identify(jvmti, jni, loader_ref.as_ref().map(|l| l.get())) else {
            return;
        };
        let facts = ClassFacts {
            internal_name,
            loader: LoaderFacts {
                bootstrap: loader.bootstrap,
                dynamic: loader.kind.dynamic,
            },
            runtime_defined: false, // the bytes are long gone
        };
        let kind = capture
            .classifier
            .classify(&facts)
            .unwrap_or(ClassKind::Ordinary);
        census.add(kind, &loader.kind.name, loader.id);
    });
    if let Err(e) = result {
        messages::say(&format!(
            "cannot list the loaded classes ({e}); the report will lack the attach-time census"
        ));
    }
    census.t_ns = capture.clock.elapsed_ns();
    census
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_kind_and_loader_type_biggest_first() {
        let mut census = Census::default();
        let app: Arc<str> = Arc::from("jdk.internal.loader.ClassLoaders$AppClassLoader");
        let delegating: Arc<str> = Arc::from("jdk.internal.reflect.DelegatingClassLoader");
        for id in 0..5 {
            census.add(ClassKind::ReflectionAccessor, &delegating, 10 + id);
        }
        census.add(ClassKind::Ordinary, &app, 1);
        census.add(ClassKind::Ordinary, &app, 1);
        let record = census.into_record();
        assert_eq!(record.classes, 7);
        assert_eq!(record.groups[0].kind, ClassKind::ReflectionAccessor);
        assert_eq!((record.groups[0].classes, record.groups[0].loaders), (5, 5));
        assert_eq!((record.groups[1].classes, record.groups[1].loaders), (2, 1));
    }
}
