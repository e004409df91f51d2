//! The constant pools of one chunk, indexed, not decoded.
//!
//! A checkpoint event (type id 1) carries: start time, duration, the delta
//! to the previous checkpoint (0 ends the chain), a type byte (bit 0: a
//! flush, JDK 14+), a pool count, then per pool the type id, an entry count
//! and `key, value` pairs where the value is encoded as its type. Entries
//! have no length, so every one is walked; the checkpoint's bytes are kept
//! with the position and length of each entry, and values are decoded when
//! an event first needs them. (Reading entries back from the file instead
//! thrashed: a class entry and its name's symbol lie in different pools.)

use foldhash::HashMap;

use crate::input::{Cursor, Decoded, Fault};
use crate::metadata::Metadata;
use crate::value::skip_one;

/// Where one pool entry's value lies: which checkpoint, where in it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    block: u32,
    start: u32,
    len: u32,
}

#[derive(Default)]
pub(crate) struct Pools {
    /// By (type id, key): type ids, not metadata indexes, because a chunk
    /// being recovered may see its metadata grow between checkpoints.
    entries_by_key: HashMap<(u64, u64), Entry>,
    /// The checkpoint events' bytes.
    blocks: Vec<Box<[u8]>>,
    entries: usize,
}

impl Pools {
    /// The encoded value of entry `key` of the pool of type `type_id`.
    pub(crate) fn get(&self, type_id: u64, key: u64) -> Option<&[u8]> {
        let e = self.entries_by_key.get(&(type_id, key))?;
        let start = e.start as usize;
        self.blocks
            .get(e.block as usize)?
            .get(start..start + e.len as usize)
    }

    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// Indexes the pools of one checkpoint event: `event` is the whole
    /// event, `body` the offset just after its type id.
    pub(crate) fn add_checkpoint(
        &mut self,
        meta: &Metadata,
        event: &[u8],
        body: usize,
        compressed: bool,
    ) -> Decoded<()> {
        let block =
            u32::try_from(self.blocks.len()).map_err(|_| Fault::Invalid("too many checkpoints"))?;
        let mut c = Cursor::new(event, compressed);
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
            self.entries_by_key.reserve(count);
            for _ in 0..count {
                let key = c.long()? as u64;
                let start = c.pos();
                skip_one(meta, c, ty, false, 0)?;
                let (Ok(start32), Ok(len)) = (u32::try_from(start), u32::try_from(c.pos() - start))
                else {
                    return Err(Fault::Invalid("checkpoint larger than 4 GiB"));
                };
                self.entries_by_key.insert(
                    (type_id, key),
                    Entry {
                        block,
                        start: start32,
                        len,
                    },
                );
                self.entries += 1;
            }
        }
        self.blocks.push(event.into());
        Ok(())
    }
}
