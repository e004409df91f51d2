//! Stable ids for class-loader instances, and their types.
//!
//! Each loader instance gets a JVMTI tag the first time we see it. The tag
//! packs the loader's type index and a per-instance id, so later classes
//! of the same loader are identified with one GetTag call (none when the
//! thread met that loader last: see `last_seen`) and a lock-free table
//! read. (Tags are weak: they never keep a loader alive.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::classify::{binary_name, internal_name_from_signature, is_dynamic_loader_type};
use crate::ffi::{Jni, Jvmti, JvmtiError, LocalRef};
use crate::last_seen::{self, Role};

/// Distinct loader classes we name individually; more share the last slot.
const TYPE_CAPACITY: usize = 4096;
const INSTANCE_BITS: u32 = 40;
const INSTANCE_MASK: i64 = (1 << INSTANCE_BITS) - 1;

#[derive(Debug)]
pub struct LoaderType {
    pub name: Arc<str>,
    /// A known generator loader (see classify::is_dynamic_loader_type).
    pub dynamic: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct LoaderIdentity<'a> {
    /// 0 for the bootstrap loader.
    pub id: u64,
    pub kind: &'a LoaderType,
    pub bootstrap: bool,
}

pub struct LoaderTable {
    bootstrap: LoaderType,
    types: Box<[OnceLock<LoaderType>]>,
    /// Type name -> index; only touched the first time a loader instance is seen.
    type_index: Mutex<HashMap<Arc<str>, usize>>,
    next_instance: AtomicU64,
    /// Serialises tagging a new loader so one instance never gets two ids.
    tagging: Mutex<()>,
}

/// Packs (type index, instance id) into a non-zero, positive tag.
pub fn encode_tag(type_index: usize, instance: u64) -> i64 {
    (((type_index as i64) + 1) << INSTANCE_BITS) | (instance as i64 & INSTANCE_MASK)
}

pub fn decode_tag(tag: i64) -> Option<(usize, u64)> {
    let type_plus_one = tag >> INSTANCE_BITS;
    (tag > 0 && type_plus_one > 0)
        .then(|| ((type_plus_one - 1) as usize, (tag & INSTANCE_MASK) as u64))
}

/// Tags of loader classes: the most negative range, apart from loader
/// tags (positive, at least 1 << 40), hidden-class tags (positive, small)
/// and protection-domain tags (negative, at least -2 - u32::MAX).
/// ObjectFree ignores negative tags.
const LOADER_CLASS_TAGS: i64 = i64::MIN;

pub fn encode_loader_class_tag(type_index: usize) -> i64 {
    LOADER_CLASS_TAGS + type_index as i64
}

pub fn decode_loader_class_tag(tag: i64) -> Option<usize> {
    let index = tag.wrapping_sub(LOADER_CLASS_TAGS);
    (0..TYPE_CAPACITY as i64)
        .contains(&index)
        .then_some(index as usize)
}

impl Default for LoaderTable {
    fn default() -> Self {
        LoaderTable {
            bootstrap: LoaderType {
                name: Arc::from("bootstrap"),
                dynamic: false,
            },
            types: (0..TYPE_CAPACITY).map(|_| OnceLock::new()).collect(),
            type_index: Mutex::new(HashMap::new()),
            next_instance: AtomicU64::new(1),
            tagging: Mutex::new(()),
        }
    }
}

impl LoaderTable {
    /// Identifies the loader of a class being loaded (`None` = bootstrap).
    pub fn identify(
        &self,
        jvmti: Jvmti,
        jni: Jni<'_>,
        loader: Option<LocalRef<'_>>,
    ) -> Result<LoaderIdentity<'_>, JvmtiError> {
        let Some(loader) = loader else {
            return Ok(LoaderIdentity {
                id: metascope_events::BOOTSTRAP_LOADER_ID,
                kind: &self.bootstrap,
                bootstrap: true,
            });
        };
        let tag = last_seen::tag(Role::Loader, jni, loader, || jvmti.tag(loader))?;
        if let Some(identity) = self.known(tag) {
            return Ok(identity);
        }
        let _guard = self.tagging.lock();
        // Another thread may have tagged it while we waited.
        if let Some(identity) = self.known(jvmti.tag(loader)?) {
            return Ok(identity);
        }
        let type_index = match jni.object_class(loader) {
            Some(class) => self.type_of_loader_class(jvmti, jni, class.get())?,
            None => self.intern_type("<unknown loader class>".to_string()),
        };
        let instance = self.next_instance.fetch_add(1, Ordering::Relaxed);
        let tag = encode_tag(type_index, instance);
        jvmti.set_tag(loader, tag)?;
        Ok(self.known(tag).expect("a tag we just encoded decodes"))
    }

    /// The type index of a loader's class. A generator that makes a fresh
    /// loader per class meets a new instance per class but few loader
    /// classes: each is tagged with its type index, so a new instance of a
    /// known type costs one GetTag instead of reading its class's name.
    fn type_of_loader_class(
        &self,
        jvmti: Jvmti,
        jni: Jni<'_>,
        class: LocalRef<'_>,
    ) -> Result<usize, JvmtiError> {
        let tag = last_seen::tag(Role::LoaderClass, jni, class, || jvmti.tag(class))?;
        if let Some(index) = decode_loader_class_tag(tag) {
            return Ok(index);
        }
        let sig = jvmti.class_signature(class)?;
        let name = internal_name_from_signature(sig.as_str())
            .map(binary_name)
            .unwrap_or_else(|| "<unknown loader class>".to_string());
        let index = self.intern_type(name);
        if tag == 0 {
            // A tagged class (a hidden class used as a loader's class) keeps
            // its own tag; it is simply looked up by name each time.
            jvmti.set_tag(class, encode_loader_class_tag(index))?;
        }
        Ok(index)
    }

    /// The loader a tag names, if it is a loader tag (class tags are not).
    pub fn by_tag(&self, tag: i64) -> Option<LoaderIdentity<'_>> {
        self.known(tag)
    }

    fn known(&self, tag: i64) -> Option<LoaderIdentity<'_>> {
        let (type_index, id) = decode_tag(tag)?;
        let kind = self.types.get(type_index)?.get()?;
        Some(LoaderIdentity {
            id,
            kind,
            bootstrap: false,
        })
    }

    fn intern_type(&self, name: String) -> usize {
        let mut index = self.type_index.lock();
        if let Some(&i) = index.get(name.as_str()) {
            return i;
        }
        let overflow = TYPE_CAPACITY - 1;
        if index.len() >= overflow {
            // Bounded memory: past the capacity, loader types share one slot.
            self.types[overflow].get_or_init(|| LoaderType {
                name: Arc::from("<other loader types>"),
                dynamic: false,
            });
            return overflow;
        }
        let i = index.len();
        let name: Arc<str> = Arc::from(name);
        self.types[i].get_or_init(|| LoaderType {
            dynamic: is_dynamic_loader_type(&name),
            name: name.clone(),
        });
        index.insert(name, i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_are_never_zero() {
        for (t, i) in [(0usize, 1u64), (4095, 1 << 39), (17, 123_456)] {
            let tag = encode_tag(t, i);
            assert!(tag > 0);
            assert_eq!(decode_tag(tag), Some((t, i)));
        }
        assert_eq!(decode_tag(0), None);
        assert_eq!(
            decode_tag(5),
            None,
            "a class tag (small counter) is not a loader tag"
        );
    }

    #[test]
    fn loader_class_tags_stay_out_of_every_other_range() {
        for index in [0, 1, TYPE_CAPACITY - 1] {
            let tag = encode_loader_class_tag(index);
            assert!(
                tag < -2 - i64::from(u32::MAX),
                "below protection-domain tags"
            );
            assert_eq!(decode_loader_class_tag(tag), Some(index));
            assert_eq!(decode_tag(tag), None, "not a loader tag");
        }
        for other in [0, 1, 5, -1, -2, -2 - i64::from(u32::MAX), encode_tag(3, 9)] {
            assert_eq!(decode_loader_class_tag(other), None, "{other}");
        }
    }

    #[test]
    fn interning_reuses_indexes_and_marks_dynamic_loaders() {
        let table = LoaderTable::default();
        let a = table.intern_type("com.alibaba.fastjson2.util.DynamicClassLoader".into());
        let b = table.intern_type("java.net.URLClassLoader".into());
        assert_eq!(
            table.intern_type("com.alibaba.fastjson2.util.DynamicClassLoader".into()),
            a
        );
        assert_ne!(a, b);
        assert!(table.types[a].get().unwrap().dynamic);
        assert!(!table.types[b].get().unwrap().dynamic);
        let tag = encode_tag(a, 9);
        let id = table.known(tag).unwrap();
        assert_eq!(
            (id.id, &*id.kind.name),
            (9, "com.alibaba.fastjson2.util.DynamicClassLoader")
        );
    }
}
