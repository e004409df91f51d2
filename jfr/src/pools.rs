//! The constant pools of one chunk, indexed, not decoded.
//!
//! A checkpoint event (type id 1) carries: start time, duration, the delta
//! to the previous checkpoint (0 ends the chain), a type byte (bit 0: a
//! flush, JDK 14+), a pool count, then per pool the type id, an entry count
//! and `key, value` pairs where the value is encoded as its type. Entries
//! have no length, so every one is walked; the checkpoints' bytes are kept
//! (one buffer per chunk, its memory reused by the next chunk) with the
//! position and length of each entry, and values are decoded when an event
//! first needs them. (Reading entries back from the file instead thrashed:
//! a class entry and its name's symbol lie in different pools.)
//!
//! Keys are mostly dense: the JVM numbers classes, symbols, stacks and
//! threads from a counter. Once every checkpoint is in ([`Pools::seal`]),
//! a pool whose keys fill at least half their range is indexed by a
//! vector (one memory access a lookup), any other by a hash map.

use foldhash::HashMap;

use crate::input::{Cursor, Decoded, Fault, Source};
use crate::metadata::Metadata;
use crate::value::{skip_one, skip_primitive};

/// Where one pool entry's value lies in [`Pools::bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    start: u32,
    len: u32,
}

/// A slot of a dense index without an entry.
const ABSENT: Entry = Entry {
    start: u32::MAX,
    len: 0,
};

/// The entries of one pool type.
#[derive(Default)]
struct Pool {
    /// As added, until sealed.
    added: Vec<(u64, Entry)>,
    /// Sealed: entry `key` at `dense[key - base]`...
    base: u64,
    dense: Vec<Entry>,
    /// ... or here, when the keys are sparse.
    sparse: HashMap<u64, Entry>,
}

impl Pool {
    fn clear(&mut self) {
        self.added.clear();
        self.dense.clear();
        self.sparse.clear();
        self.base = 0;
    }

    fn seal(&mut self) {
        let (Some(min), Some(max)) = (
            self.added.iter().map(|(k, _)| *k).min(),
            self.added.iter().map(|(k, _)| *k).max(),
        ) else {
            return;
        };
        let span = max - min;
        if span < 2 * self.added.len() as u64 + 1024 {
            self.base = min;
            // `span` is below twice the entries held in memory: it fits.
            self.dense.resize(span as usize + 1, ABSENT);
            for &(key, entry) in &self.added {
                self.dense[(key - min) as usize] = entry;
            }
        } else {
            self.sparse.reserve(self.added.len());
            self.sparse.extend(self.added.iter().copied());
        }
        self.added.clear();
    }

    fn get(&self, key: u64) -> Option<Entry> {
        if !self.dense.is_empty() {
            let at = usize::try_from(key.checked_sub(self.base)?).ok()?;
            return self.dense.get(at).copied().filter(|e| *e != ABSENT);
        }
        self.sparse.get(&key).copied()
    }
}

#[derive(Default)]
pub(crate) struct Pools {
    /// By type id, not metadata index, because a chunk being recovered may
    /// see its metadata grow between checkpoints. Few types (~30): a small
    /// vector searched linearly beats hashing.
    pools: Vec<(u64, Pool)>,
    /// The checkpoint events' bytes, one after the other.
    bytes: Vec<u8>,
    entries: usize,
}

impl Pools {
    /// Empties the pools for the next chunk, keeping their memory (a chunk
    /// is most often followed by one of the same shape).
    pub(crate) fn clear(&mut self) {
        // Memory grown by an unusually large chunk is given back.
        if self.bytes.capacity() > 64 << 20 {
            *self = Pools::default();
            return;
        }
        for (_, pool) in &mut self.pools {
            pool.clear();
        }
        self.bytes.clear();
        self.entries = 0;
    }

    /// Indexes what was added; call once every checkpoint of the chunk is in.
    pub(crate) fn seal(&mut self) {
        for (_, pool) in &mut self.pools {
            pool.seal();
        }
    }

    #[cfg(test)]
    fn pool(&self, type_id: u64) -> Option<&Pool> {
        self.pools
            .iter()
            .find(|(id, _)| *id == type_id)
            .map(|(_, p)| p)
    }

    #[cfg(test)]
    fn pool_mut(&mut self, type_id: u64) -> &mut Pool {
        let at = match self.pools.iter().position(|(id, _)| *id == type_id) {
            Some(at) => at,
            None => {
                self.pools.push((type_id, Pool::default()));
                self.pools.len() - 1
            }
        };
        &mut self.pools[at].1
    }

    /// The encoded value of entry `key` of the pool of type `type_id`
    /// (after [`Pools::seal`]).
    #[cfg(test)]
    pub(crate) fn get(&self, type_id: u64, key: u64) -> Option<&[u8]> {
        self.get_at(self.slot(type_id)?, key)
    }

    /// Where the pool of type `type_id` is, for [`Pools::get_at`]; `None`
    /// when the chunk has no such pool.
    pub(crate) fn slot(&self, type_id: u64) -> Option<usize> {
        self.pools.iter().position(|(id, _)| *id == type_id)
    }

    /// The encoded value of entry `key` of the pool at `slot`.
    pub(crate) fn get_at(&self, slot: usize, key: u64) -> Option<&[u8]> {
        let e = self.pools.get(slot)?.1.get(key)?;
        let start = e.start as usize;
        self.bytes.get(start..start + e.len as usize)
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// Room for `bytes` more bytes of checkpoints.
    pub(crate) fn reserve(&mut self, bytes: u64) {
        if let Ok(n) = usize::try_from(bytes) {
            self.bytes.reserve(n);
        }
    }

    /// Reads the checkpoint event of `size` bytes at `at` (its body at
    /// `body` bytes in) straight into the pools' bytes and indexes its
    /// pools; on a fault nothing of it is kept but the entries indexed
    /// before the fault, which then find nothing.
    pub(crate) fn read_checkpoint(
        &mut self,
        meta: &Metadata,
        src: &Source,
        at: u64,
        size: u64,
        body: usize,
        compressed: bool,
    ) -> Decoded<()> {
        let base = self.bytes.len();
        let end = usize::try_from(size)
            .ok()
            .and_then(|size| base.checked_add(size))
            .filter(|&end| u32::try_from(end).is_ok())
            .ok_or(Fault::Invalid("checkpoints larger than 4 GiB"))?;
        self.bytes.resize(end, 0);
        let indexed = match src.read_exact_at(&mut self.bytes[base..], at) {
            Ok(()) => self.index_checkpoint(meta, base, body, compressed),
            Err(_) => Err(Fault::Short),
        };
        if indexed.is_err() {
            self.bytes.truncate(base);
        }
        indexed
    }

    /// Indexes the pools of the checkpoint event at `base` in the pools'
    /// bytes; its body starts `body` bytes in.
    fn index_checkpoint(
        &mut self,
        meta: &Metadata,
        base: usize,
        body: usize,
        compressed: bool,
    ) -> Decoded<()> {
        let mut c = Cursor::new(&self.bytes[base..], compressed);
        c.set_pos(body)?;
        let c = &mut c;
        c.long()?; // start time
        c.long()?; // duration
        c.long()?; // delta to the previous checkpoint
        c.u8()?; // checkpoint type (flush, statics...)
        let pools = c.count()?;
        for _ in 0..pools {
            let type_id = c.long()? as u64;
            let ty = meta
                .type_index(type_id)
                .ok_or(Fault::Invalid("constant pool of an undeclared type"))?;
            let count = c.count()?;
            let at = match self.pools.iter().position(|(id, _)| *id == type_id) {
                Some(at) => at,
                None => {
                    self.pools.push((type_id, Pool::default()));
                    self.pools.len() - 1
                }
            };
            let pool = &mut self.pools[at].1;
            pool.added.reserve(count);
            // Entries have no length: each is walked, by its flattened
            // primitives when it has no array.
            let flat = meta.flat(ty);
            for _ in 0..count {
                let key = c.long()? as u64;
                let start = c.pos();
                match flat {
                    Some(flat) => {
                        for &p in flat {
                            skip_primitive(c, p)?;
                        }
                    }
                    None => skip_one(meta, c, ty, false, 0)?,
                }
                // Both fit: the bytes' length fits in a u32 (checked when read).
                let entry = Entry {
                    start: (base + start) as u32,
                    len: (c.pos() - start) as u32,
                };
                pool.added.push((key, entry));
            }
            self.entries += count;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools_with(keys: &[u64]) -> Pools {
        let mut pools = Pools::default();
        pools.bytes.extend_from_slice(b"abcdefgh");
        for (i, &k) in keys.iter().enumerate() {
            let entry = Entry {
                start: (i % 8) as u32,
                len: 1,
            };
            pools.pool_mut(7).added.push((k, entry));
        }
        pools.seal();
        pools
    }

    #[test]
    fn dense_and_sparse_keys_find_the_same_entries() {
        let dense = pools_with(&[100, 102, 101, 105]);
        assert!(!dense.pool(7).unwrap().dense.is_empty());
        let sparse = pools_with(&[100, 1 << 40, 101, u64::MAX]);
        assert!(sparse.pool(7).unwrap().dense.is_empty());
        for pools in [&dense, &sparse] {
            assert_eq!(pools.get(7, 100), Some(&b"a"[..]));
            assert_eq!(pools.get(7, 101), Some(&b"c"[..]));
            assert_eq!(pools.get(7, 103), None);
            assert_eq!(pools.get(7, 99), None);
            assert_eq!(pools.get(7, 0), None);
            assert_eq!(pools.get(8, 100), None);
        }
        assert_eq!(sparse.get(7, u64::MAX), Some(&b"d"[..]));
        assert_eq!(dense.get(7, u64::MAX), None);
    }

    #[test]
    fn a_cleared_pool_finds_nothing() {
        let mut pools = pools_with(&[1, 2]);
        pools.clear();
        pools.seal();
        assert_eq!(pools.get(7, 1), None);
        assert_eq!(pools.entries(), 0);
    }
}
