//! The constant pools of one chunk, indexed, not decoded.
//!
//! A checkpoint event (type id 1) carries: start time, duration, the delta
//! to the previous checkpoint (0 ends the chain), a type byte (bit 0: a
//! flush, JDK 14+), a pool count, then per pool the type id, an entry count
//! and `key, value` pairs where the value is encoded as its type. Entries
//! have no length, so every one is walked; only its file offset and length
//! are kept, and values are decoded when an event first needs them.

use foldhash::HashMap;

use crate::input::{Cursor, Decoded, Fault};
use crate::metadata::Metadata;
use crate::value::skip_one;

/// Where one pool entry's value lies in the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub offset: u64,
    pub len: u32,
}

#[derive(Default)]
pub(crate) struct Pools {
    /// By type id (not metadata index: a chunk being recovered may see its
    /// metadata grow between checkpoints).
    by_type: HashMap<u64, HashMap<u64, Entry>>,
    entries: usize,
}

/// What the body of a checkpoint event says about the chain.
pub(crate) struct Checkpoint {
    /// Offset of the previous checkpoint relative to this one; 0 at the
    /// first checkpoint of the chunk.
    pub delta: i64,
}

impl Pools {
    pub(crate) fn get(&self, type_id: u64, key: u64) -> Option<Entry> {
        self.by_type.get(&type_id)?.get(&key).copied()
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// Indexes the pools of one checkpoint event. `c` is just after its
    /// type id; `base` is the file offset of `c`'s first byte.
    pub(crate) fn add_checkpoint(
        &mut self,
        meta: &Metadata,
        c: &mut Cursor<'_>,
        base: u64,
    ) -> Decoded<Checkpoint> {
        c.long()?; // start time
        c.long()?; // duration
        let delta = c.long()?;
        c.u8()?; // checkpoint type (flush, statics...)
        let pools = c.count()?;
        for _ in 0..pools {
            let type_id = c.long()? as u64;
            let ty = meta
                .type_index(type_id)
                .ok_or(Fault::Invalid("constant pool of an undeclared type"))?;
            let count = c.count()?;
            let pool = self.by_type.entry(type_id).or_default();
            for _ in 0..count {
                let key = c.long()? as u64;
                let start = c.pos();
                skip_one(meta, c, ty, false, 0)?;
                let len = u32::try_from(c.pos() - start)
                    .map_err(|_| Fault::Invalid("constant larger than 4 GiB"))?;
                pool.insert(
                    key,
                    Entry {
                        offset: base + start as u64,
                        len,
                    },
                );
                self.entries += 1;
            }
        }
        Ok(Checkpoint { delta })
    }
}
