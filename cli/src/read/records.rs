//! A source of records that are already typed: an in-memory list (tests),
//! or another format's reader converted record by record (a JFR
//! recording's events mapped to the event stream, see the metascope-jfr
//! crate's docs).

use anyhow::Result;
use metascope_events::Record;

use super::{Damage, Item, Sink, Source};

/// Yields the records of `I` in order; its position is the record's
/// number, counting from 1.
// Only the tests use it until a second format (JFR) is read.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Debug)]
pub struct Records<I> {
    records: I,
    position: u64,
    damage: Damage,
}

#[cfg_attr(not(test), allow(dead_code))]
impl<I: Iterator<Item = Record>> Records<I> {
    pub fn new(records: impl IntoIterator<IntoIter = I>) -> Records<I> {
        Records {
            records: records.into_iter(),
            position: 0,
            damage: Damage::default(),
        }
    }
}

impl<I: Iterator<Item = Record>> Source for Records<I> {
    fn read<K: Sink + ?Sized>(&mut self, sink: &mut K) -> Result<()> {
        for record in self.records.by_ref() {
            self.position += 1;
            sink.item(Item::Record(record), self.position);
        }
        Ok(())
    }

    fn damage(&self) -> &Damage {
        &self.damage
    }
}
