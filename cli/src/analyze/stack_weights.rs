//! The flame graph's weights: classes per defining stack, counted while
//! reading, so memory grows with distinct stacks, never with classes.
//! Stacks summarised past the stack memory cap have no frames to draw:
//! their classes are counted per call site instead.

use metascope_events::NO_STACK;

use super::stacks::StackRef;
use crate::fast_hash::{fast_map, FastMap};

/// Fed while reading.
#[derive(Debug)]
pub struct StackWeights {
    /// Classes per stack id of a stack whose frames are kept ([`NO_STACK`]
    /// for classes whose stack was not captured or never written).
    per_stack: FastMap<u64, u64>,
    /// Classes on summarised stacks, per call site (table index).
    per_site: Vec<u64>,
}

impl Default for StackWeights {
    fn default() -> Self {
        StackWeights {
            per_stack: fast_map(),
            per_site: Vec::new(),
        }
    }
}

impl StackWeights {
    /// A class defined on `stack` (`None`: not captured, or never
    /// written), grouped into call site `site`.
    pub fn class(&mut self, stack_id: u64, stack: Option<StackRef<'_>>, site: usize) {
        match stack {
            Some(s) if s.is_summarised() => {
                if self.per_site.len() <= site {
                    self.per_site.resize(site + 1, 0);
                }
                self.per_site[site] += 1;
            }
            Some(_) => *self.per_stack.entry(stack_id).or_default() += 1,
            None => *self.per_stack.entry(NO_STACK).or_default() += 1,
        }
    }

    /// Classes per stack id (kept stacks, and [`NO_STACK`]).
    pub fn per_stack(&self) -> &FastMap<u64, u64> {
        &self.per_stack
    }

    /// Classes on summarised stacks, in all.
    pub fn summarised_classes(&self) -> u64 {
        self.per_site.iter().sum()
    }

    /// Classes on summarised stacks per call site in report order (`sorted`
    /// maps the table's indexes), most first.
    pub fn per_summarised_site(
        &self,
        sorted: impl Fn(usize) -> Option<usize>,
    ) -> Vec<(usize, u64)> {
        let mut sites: Vec<(usize, u64)> = self
            .per_site
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .filter_map(|(i, &n)| sorted(i).map(|s| (s, n)))
            .collect();
        sites.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        sites
    }
}
