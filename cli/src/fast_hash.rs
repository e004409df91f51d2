//! Hash maps for the reader's hot path: loader ids, stack ids, call-site
//! indexes and short strings, looked up once or more per class record.
//! SipHash (std's default) was a tenth of the reading time; foldhash is
//! seeded per process too. A leaf module.

use std::hash::BuildHasher;

pub type FastState = foldhash::fast::RandomState;
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
pub type FastSet<K> = std::collections::HashSet<K, FastState>;

pub fn fast_map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(FastState::default())
}

pub fn fast_set<K>() -> FastSet<K> {
    FastSet::with_hasher(FastState::default())
}

/// Hashes a string with a fixed [`FastState`] (for identities kept as
/// hashes, e.g. thread names).
pub fn hash_str(state: &FastState, s: &str) -> u64 {
    state.hash_one(s)
}
