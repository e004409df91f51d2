//! The constant pools of one chunk, indexed, not decoded.
//!
//! A checkpoint event (type id 1) carries: start time, duration, the delta
//! to the previous checkpoint (0 ends the chain), a type byte (bit 0: a
//! flush, JDK 14+), a pool count, then per pool the type id, an entry count
//! and `key, value` pairs where the value is encoded as its type. Entries
//! have no length, so every one is walked; the checkpoints' bytes are kept
//! (one buffer per chunk, its memory reused by the next chunk) with the
//! position of each entry, and values are decoded when an event first
//! needs them. (Reading entries back from the file instead thrashed:
//! a class entry and its name's symbol lie in different pools.)
//!
//! Keys are mostly dense: the JVM numbers classes, symbols, stacks and
//! threads from a counter. A pool whose keys fill about half their range
//! or more is indexed by a vector (one memory access a lookup), built as
//! each pool block is walked (no list of what was added: 16 bytes an
//! entry, 3 MB of 100,000 classes); once its keys prove sparse, by a hash
//! map.

use foldhash::HashMap;

use crate::input::{Cursor, Decoded, Fault, Source};
use crate::metadata::Metadata;
use crate::value::{skip_one, skip_primitive};

/// A slot of a dense index without an entry.
const ABSENT: u32 = u32::MAX;

/// The entries of one pool type: where each entry's value starts in
/// [`Pools::bytes`] (it needs no end: it decodes as it was walked).
#[derive(Default)]
struct Pool {
    /// Entry `key` at `dense[key - base]`...
    base: u64,
    dense: Vec<u32>,
    /// ... or here, once the keys proved sparse.
    sparse: HashMap<u64, u32>,
    is_sparse: bool,
    /// Entries added (a key added twice counts twice).
    added: usize,
}

impl Pool {
    fn clear(&mut self) {
        self.dense.clear();
        self.sparse.clear();
        self.base = 0;
        self.is_sparse = false;
        self.added = 0;
    }

    /// Adds a block of `(key, start)` entries; a key added again points at
    /// its latest value. Dense while the keys fill at least about half
    /// their range, else a hash map from then on.
    fn add(&mut self, block: &[(u64, u32)]) {
        self.added += block.len();
        let (Some(min), Some(max)) = (
            block.iter().map(|(k, _)| *k).min(),
            block.iter().map(|(k, _)| *k).max(),
        ) else {
            return;
        };
        if !self.is_sparse {
            let (low, high) = match self.dense.is_empty() {
                true => (min, max),
                false => (
                    min.min(self.base),
                    max.max(self.base + self.dense.len() as u64 - 1),
                ),
            };
            if high - low < 2 * self.added as u64 + 1024 {
                // Below twice the entries held in memory: the range fits.
                let grow_front = (self.base.max(low) - low) as usize;
                if self.dense.is_empty() {
                    self.dense.resize((high - low) as usize + 1, ABSENT);
                } else {
                    if grow_front > 0 {
                        self.dense
                            .splice(0..0, std::iter::repeat_n(ABSENT, grow_front));
                    }
                    self.dense.resize((high - low) as usize + 1, ABSENT);
                }
                self.base = low;
                for &(key, start) in block {
                    self.dense[(key - low) as usize] = start;
                }
                return;
            }
            self.is_sparse = true;
            let (base, dense) = (self.base, std::mem::take(&mut self.dense));
            self.sparse.reserve(dense.len() + block.len());
            for (i, start) in dense.into_iter().enumerate() {
                if start != ABSENT {
                    self.sparse.insert(base + i as u64, start);
                }
            }
        }
        self.sparse.extend(block.iter().copied());
    }

    fn get(&self, key: u64) -> Option<u32> {
        if !self.is_sparse {
            let at = usize::try_from(key.checked_sub(self.base)?).ok()?;
            return self.dense.get(at).copied().filter(|&s| s != ABSENT);
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
    /// The entries of the pool block being indexed (memory reused).
    block: Vec<(u64, u32)>,
    /// Where the checkpoints read are in the file, in file order.
    checkpoints: Vec<u64>,
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
        self.checkpoints.clear();
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

    /// The encoded value of entry `key` of the pool of type `type_id`.
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
        let start = self.pools.get(slot)?.1.get(key)?;
        self.bytes.get(start as usize..)
    }

    /// Where the first checkpoint read after `offset` starts.
    pub(crate) fn next_checkpoint(&self, offset: u64) -> Option<u64> {
        let i = self.checkpoints.partition_point(|&at| at <= offset);
        self.checkpoints.get(i).copied()
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
        self.checkpoints.push(at);
        let base = self.bytes.len();
        // Entries are found by a u32 offset into the bytes.
        let fits = usize::try_from(size)
            .ok()
            .and_then(|size| base.checked_add(size))
            .is_some_and(|end| u32::try_from(end).is_ok());
        if !fits {
            return Err(Fault::Invalid("checkpoints larger than 4 GiB"));
        }
        let indexed = match src.append_at(&mut self.bytes, at, size) {
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
            // Entries have no length: each is walked, by its flattened
            // primitives when it has no array. The block is indexed even
            // when cut, as far as it was walked.
            let flat = meta.flat(ty);
            let mut block = std::mem::take(&mut self.block);
            block.clear();
            let walked = (|| {
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
                    // Fits: the bytes' length fits in a u32 (checked when read).
                    block.push((key, (base + start) as u32));
                }
                Ok(())
            })();
            self.pools[at].1.add(&block);
            self.block = block;
            walked?;
            self.entries += count;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pools with blocks of keys; the n-th key added points at byte n % 8
    /// of `abcdefgh`.
    fn pools_with(blocks: &[&[u64]]) -> Pools {
        let mut pools = Pools::default();
        pools.bytes.extend_from_slice(b"abcdefgh");
        let mut n = 0;
        for keys in blocks {
            let block: Vec<(u64, u32)> = keys
                .iter()
                .map(|&k| {
                    n += 1;
                    (k, (n - 1) % 8)
                })
                .collect();
            pools.pool_mut(7).add(&block);
        }
        pools
    }

    fn first_byte(pools: &Pools, key: u64) -> Option<u8> {
        pools.get(7, key).map(|b| b[0])
    }

    #[test]
    fn dense_and_sparse_keys_find_the_same_entries() {
        let dense = pools_with(&[&[100, 102, 101, 105]]);
        assert!(!dense.pool(7).unwrap().is_sparse);
        let sparse = pools_with(&[&[100, 1 << 40, 101, u64::MAX]]);
        assert!(sparse.pool(7).unwrap().is_sparse);
        for pools in [&dense, &sparse] {
            assert_eq!(first_byte(pools, 100), Some(b'a'));
            assert_eq!(first_byte(pools, 101), Some(b'c'));
            assert_eq!(pools.get(7, 103), None);
            assert_eq!(pools.get(7, 99), None);
            assert_eq!(pools.get(7, 0), None);
            assert_eq!(pools.get(8, 100), None);
        }
        assert_eq!(first_byte(&sparse, u64::MAX), Some(b'd'));
        assert_eq!(dense.get(7, u64::MAX), None);
    }

    #[test]
    fn blocks_grow_the_index_both_ways_and_the_latest_entry_wins() {
        // Symbols come in descending blocks, classes mostly ascending.
        let pools = pools_with(&[&[200, 199, 198], &[100, 101], &[300, 199]]);
        assert!(!pools.pool(7).unwrap().is_sparse);
        assert_eq!(first_byte(&pools, 200), Some(b'a'));
        assert_eq!(first_byte(&pools, 198), Some(b'c'));
        assert_eq!(first_byte(&pools, 100), Some(b'd'));
        assert_eq!(first_byte(&pools, 300), Some(b'f'));
        assert_eq!(first_byte(&pools, 199), Some(b'g'));
        assert_eq!(pools.get(7, 150), None);
        assert_eq!(pools.get(7, 99), None);
        assert_eq!(pools.get(7, 301), None);
        // A block far away makes the pool sparse, keeping what it held.
        let pools = pools_with(&[&[10, 11], &[1 << 30], &[12]]);
        assert!(pools.pool(7).unwrap().is_sparse);
        assert_eq!(first_byte(&pools, 11), Some(b'b'));
        assert_eq!(first_byte(&pools, 1 << 30), Some(b'c'));
        assert_eq!(first_byte(&pools, 12), Some(b'd'));
        assert_eq!(pools.get(7, 13), None);
    }

    #[test]
    fn a_cleared_pool_finds_nothing() {
        let mut pools = pools_with(&[&[1, 2]]);
        pools.clear();
        assert_eq!(pools.get(7, 1), None);
        assert_eq!(pools.entries(), 0);
    }
}
