//! On attach: what was already loaded before the agent arrived, grouped by
//! kind and loader type (like `jcmd VM.classloader_stats`, without stacks:
//! those classes were defined before anyone was watching).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use metascope_events::{CensusGroup, ClassKind, LoaderTypeMetaspace};

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
    /// Metaspace bytes (used, committed) per loader type, when the JVM
    /// listed them at attach.
    bytes: Option<HashMap<String, (u64, u64)>>,
}

impl Census {
    pub fn add(&mut self, kind: ClassKind, loader_type: &Arc<str>, loader_id: u64) {
        let (classes, loaders) = self.groups.entry((kind, loader_type.clone())).or_default();
        *classes += 1;
        if loaders.len() < MAX_LOADERS_PER_GROUP {
            loaders.insert(loader_id);
        }
    }

    /// The JVM's bytes per loader type at attach (from a Metaspace
    /// snapshot); each group gets its loader type's bytes in proportion
    /// to its classes.
    pub fn set_bytes(&mut self, types: &[LoaderTypeMetaspace]) {
        let mut bytes: HashMap<String, (u64, u64)> = HashMap::new();
        for t in types {
            let b = bytes.entry(t.loader_type.clone()).or_default();
            b.0 += t.used;
            b.1 += t.committed;
        }
        self.bytes = Some(bytes);
    }

    /// The record form: biggest groups first.
    pub fn into_record(self) -> metascope_events::Census {
        let mut classes_of_type: HashMap<&str, u64> = HashMap::new();
        for ((_, loader_type), (classes, _)) in &self.groups {
            *classes_of_type.entry(loader_type).or_default() += classes;
        }
        let share = |loader_type: &str, classes: u64, pick: fn(&(u64, u64)) -> u64| {
            let bytes = self.bytes.as_ref()?;
            let total = pick(bytes.get(loader_type).unwrap_or(&(0, 0)));
            let of_type = classes_of_type
                .get(loader_type)
                .copied()
                .unwrap_or(1)
                .max(1);
            Some((u128::from(total) * u128::from(classes) / u128::from(of_type)) as u64)
        };
        let mut groups: Vec<CensusGroup> = self
            .groups
            .iter()
            .map(|((kind, loader_type), (classes, loaders))| CensusGroup {
                kind: *kind,
                loader_type: loader_type.to_string(),
                classes: *classes,
                loaders: loaders.len() as u64,
                used: share(loader_type, *classes, |b| b.0),
                committed: share(loader_type, *classes, |b| b.1),
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
        assert_eq!(record.groups[0].used, None, "no bytes without a snapshot");
    }

    #[test]
    fn groups_share_their_loader_types_bytes_by_classes() {
        let mut census = Census::default();
        let app: Arc<str> = Arc::from("app.Loader");
        census.add(ClassKind::Proxy, &app, 1);
        census.add(ClassKind::Ordinary, &app, 1);
        census.add(ClassKind::Ordinary, &app, 1);
        let bytes = |hidden, used, committed| LoaderTypeMetaspace {
            snapshot: 1,
            loader_type: "app.Loader".into(),
            hidden,
            loaders: 1,
            classes: 3,
            used,
            committed,
        };
        census.set_bytes(&[bytes(false, 2_400, 3_000), bytes(true, 600, 900)]);
        let record = census.into_record();
        let ordinary = record
            .groups
            .iter()
            .find(|g| g.kind == ClassKind::Ordinary)
            .unwrap();
        let proxy = record
            .groups
            .iter()
            .find(|g| g.kind == ClassKind::Proxy)
            .unwrap();
        assert_eq!(
            (ordinary.used, ordinary.committed),
            (Some(2_000), Some(2_600))
        );
        assert_eq!((proxy.used, proxy.committed), (Some(1_000), Some(1_300)));
    }
}
