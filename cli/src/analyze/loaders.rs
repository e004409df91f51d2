//! The loader census: per loader type, its instances (seen in class
//! records and `loader_unload` records), how many were collected, and the
//! classes its loaders defined and unloaded, per call site. Memory grows
//! with loader types and live loader instances (capped).

use metascope_events::{ClassView, LoaderUnloaded};

use crate::fast_hash::{fast_map, fast_set, FastMap, FastSet};

/// Live loader instances remembered.
pub const LOADER_IDS_CAP: usize = 100_000;

/// One loader type.
#[derive(Debug, Clone, Default)]
pub struct LoaderType {
    pub instances: u64,
    pub instances_unloaded: u64,
    pub classes_defined: u64,
    pub classes_unloaded: u64,
    /// Call site (index) -> classes.
    pub sites: FastMap<usize, u64>,
}

/// Fed while reading.
#[derive(Debug)]
pub struct LoaderCensus {
    types: FastMap<String, LoaderType>,
    live: FastSet<u64>,
    /// More than [`LOADER_IDS_CAP`] loaders were live at once.
    capped: bool,
}

impl Default for LoaderCensus {
    fn default() -> Self {
        LoaderCensus {
            types: fast_map(),
            live: fast_set(),
            capped: false,
        }
    }
}

impl LoaderCensus {
    pub fn class(&mut self, site: usize, c: &ClassView<'_>) {
        let new_instance = if self.live.len() < LOADER_IDS_CAP {
            self.live.insert(c.loader_id)
        } else if self.live.contains(&c.loader_id) {
            false
        } else {
            self.capped = true;
            false
        };
        let t = match self.types.get_mut(c.loader_type) {
            Some(t) => t,
            None => self.types.entry(c.loader_type.to_string()).or_default(),
        };
        t.instances += u64::from(new_instance);
        t.classes_defined += 1;
        *t.sites.entry(site).or_default() += 1;
    }

    pub fn class_unload(&mut self, loader_type: &str) {
        if let Some(t) = self.types.get_mut(loader_type) {
            t.classes_unloaded += 1;
        }
    }

    pub fn loader_unload(&mut self, l: &LoaderUnloaded) {
        let seen = self.live.remove(&l.loader.id);
        let t = self.types.entry(l.loader.type_name.clone()).or_default();
        t.instances_unloaded += 1;
        if !seen && !self.capped {
            // A loader the agent saw without a captured class.
            t.instances += 1;
        }
    }

    /// Per loader type, most classes first, call sites as `sorted` maps
    /// the table's indexes.
    pub fn finish(&self, sorted: impl Fn(usize) -> Option<usize>) -> LoaderTypes {
        let mut types: Vec<(String, LoaderType)> = self
            .types
            .iter()
            .map(|(name, t)| {
                let sites = t
                    .sites
                    .iter()
                    .filter_map(|(&i, &n)| sorted(i).map(|s| (s, n)))
                    .collect();
                (name.clone(), LoaderType { sites, ..*t })
            })
            .collect();
        types.sort_by(|a, b| {
            b.1.classes_defined
                .cmp(&a.1.classes_defined)
                .then_with(|| a.0.cmp(&b.0))
        });
        LoaderTypes {
            types,
            capped: self.capped,
        }
    }
}

/// The loader census of a recording.
#[derive(Debug, Clone, Default)]
pub struct LoaderTypes {
    /// Per loader type, most classes first; call sites in report order.
    pub types: Vec<(String, LoaderType)>,
    /// More than [`LOADER_IDS_CAP`] loaders were live at once: instance
    /// counts are lower bounds.
    pub capped: bool,
}
