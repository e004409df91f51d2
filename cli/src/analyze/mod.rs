//! The analysis: consumers fed record by record by a reader, each keeping
//! what it needs in memory bounded by call sites and distinct stacks, never
//! by events; [`Analysis::finish`] turns what they hold into data (any
//! number of times: a live view finishes after every batch of records and
//! reads on).
//!
//! ```text
//!  Analysis        the pipeline: routes each record to the consumers
//!    |
//!  diagnosis       verdicts (cause, evidence, remedies) from what the others found
//!  warnings        what is wrong with the recording
//!    |
//!  call_sites      classes grouped by call site (needs stacks)
//!  stack_weights   the flame graph's classes per stack (needs stacks)
//!  regeneration    per call site: identities, redefinitions, unloads
//!  timeline        definitions, unloads and GCs over time
//!  loaders         the loader census
//!  exhaustion      OutOfMemoryErrors and the call site that filled class metadata
//!  metaspace       the JVM's Metaspace bytes over time and per call site
//!  facts           header, summary, census, counts, records out of place
//!    |
//!  stacks          distinct stacks, attributed when read, kept within a memory cap
//!    |
//!  code_sources    where frames come from; which code sources are the application's
//!    |
//!  attribution     which frame of a stack is the application's (pure)
//! ```

pub mod attribution;
pub mod call_sites;
pub mod code_sources;
pub mod diagnosis;
pub mod exhaustion;
pub mod facts;
pub mod loaders;
pub mod metaspace;
pub mod regeneration;
pub mod stack_weights;
pub mod stacks;
#[cfg(test)]
mod tests;
pub mod timeline;
pub mod warnings;

use metascope_events::{ClassKind, ClassUnloaded, ClassView, Record, NO_STACK};

use self::attribution::Ownership;
use self::call_sites::{CallSiteStats, CallSiteTable};
use self::code_sources::CodeSources;
use self::diagnosis::{Findings, Verdict};
use self::exhaustion::{Exhaustion, Exhaustions};
use self::facts::Facts;
use self::loaders::{LoaderCensus, LoaderTypes};
use self::metaspace::{Metaspace, MetaspaceData};
use self::regeneration::{Regeneration, SiteRegeneration};
use self::stack_weights::StackWeights;
use self::stacks::{StackStore, DEFAULT_STACK_MEMORY_MIB};
use self::timeline::{Timeline, TimelineData};
use self::warnings::{LeftOut, Warning};
use crate::fast_hash::FastMap;
use crate::read::{Damage, Item, Sink};

/// How to analyse: which frames are the application's and which are
/// libraries', which kinds to keep, how much of the stacks.
#[derive(Debug, Clone)]
pub struct Options {
    pub ownership: Ownership,
    /// Keep `ordinary` classes (captured only in the agent's `mode=all`).
    pub all_kinds: bool,
    /// Bytes the frames of distinct stacks may take (see [`StackStore`]);
    /// past it stacks are summarised to their call site.
    pub stack_memory: u64,
    /// How call sites are ranked.
    pub order: SiteOrder,
}

/// How call sites are ranked (`--sort`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteOrder {
    /// Most classes defined first.
    #[default]
    Classes,
    /// Most Metaspace committed at the end first (see
    /// [`Metaspace::sort_by_bytes`]).
    Bytes,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ownership: Ownership::default(),
            all_kinds: false,
            stack_memory: DEFAULT_STACK_MEMORY_MIB << 20,
            order: SiteOrder::Classes,
        }
    }
}

/// The consumers, fed by a [`crate::read::Source`].
#[derive(Debug)]
pub struct Analysis {
    options: Options,
    facts: Facts,
    sources: CodeSources,
    stacks: StackStore,
    sites: CallSiteTable,
    weights: StackWeights,
    regeneration: Regeneration,
    timeline: Timeline,
    loaders: LoaderCensus,
    exhaustion: Exhaustions,
    metaspace: Metaspace,
}

impl Sink for Analysis {
    fn item(&mut self, item: Item<'_>, position: u64) {
        match item {
            Item::Class(c) => self.class(&c, position),
            Item::Record(Record::Class(c)) => self.class(&ClassView::from(&c), position),
            Item::Record(record) => self.record(record),
        }
    }
}

impl Analysis {
    pub fn new(options: Options) -> Analysis {
        Analysis {
            stacks: StackStore::new(options.stack_memory),
            sources: CodeSources::new(options.ownership.app_paths()),
            options,
            facts: Facts::default(),
            sites: CallSiteTable::default(),
            weights: StackWeights::default(),
            regeneration: Regeneration::default(),
            timeline: Timeline::default(),
            loaders: LoaderCensus::default(),
            exhaustion: Exhaustions::default(),
            metaspace: Metaspace::default(),
        }
    }

    /// The hot path: one class record, read at `line`.
    fn class(&mut self, c: &ClassView<'_>, line: u64) {
        self.facts.class(c.t_ns);
        self.exhaustion.class_read(c.seq);
        if c.kind == ClassKind::Ordinary && !self.options.all_kinds {
            self.facts.hidden_ordinary += 1;
            return;
        }
        let stack = if c.stack == NO_STACK {
            None
        } else {
            let stack = self.stacks.get(c.stack);
            if stack.is_none() {
                self.facts.unknown_stack(line, c.stack);
            }
            stack
        };
        let site = self.sites.add(*c, stack);
        self.weights.class(c.stack, stack, site);
        self.regeneration.class(site, c);
        self.timeline.class(site, c.t_ns);
        self.loaders.class(site, c);
        self.exhaustion.class_at_site(c.seq, site);
    }

    fn record(&mut self, record: Record) {
        self.facts
            .record(!matches!(record, Record::Unknown), record.t_ns());
        match record {
            Record::Header(h) => {
                self.sources.header(&h);
                self.facts.header(h);
            }
            Record::CodeSource(c) => self.sources.insert(c),
            Record::Stack(s) if s.id != NO_STACK => {
                self.sources.learn(&s.frames);
                self.stacks
                    .insert(s, &self.sources, &self.options.ownership);
            }
            Record::Summary(s) => self.facts.summary(s),
            Record::Census(c) => self.facts.census(c),
            Record::ResourceExhausted(r) => {
                let sites = &self.sites;
                self.exhaustion
                    .record(r, self.facts.class_records, || sites.site_classes());
            }
            Record::ClassUnload(u) => self.class_unload(&u),
            Record::LoaderUnload(l) => self.loaders.loader_unload(&l),
            Record::GcStart(g) => {
                self.regeneration.gc_start();
                self.timeline.gc_start(g.t_ns);
            }
            Record::Metaspace(m) => self.metaspace.sample(m),
            Record::MetaspaceSnapshot(m) => self.metaspace.snapshot(m),
            Record::StackMetaspace(m) => {
                // The call site its classes were counted in, found as for an unload.
                let shown = m.kind != ClassKind::Ordinary || self.options.all_kinds;
                let site = shown
                    .then(|| {
                        let stack = self.stacks.get(m.stack);
                        self.sites.find(m.stack, &m.loader_type, stack)
                    })
                    .flatten();
                self.metaspace.stack(&m, site);
            }
            Record::LoaderTypeMetaspace(m) => self.metaspace.loader_type(&m),
            // Classes are read by `class`; a stack without id names nothing;
            // JFR's per-loader statistics are not used by the report yet.
            Record::Class(_)
            | Record::Stack(_)
            | Record::LoaderStatistics(_)
            | Record::GcFinish(_)
            | Record::Unknown => {}
        }
    }

    fn class_unload(&mut self, u: &ClassUnloaded) {
        if u.kind == ClassKind::Ordinary && !self.options.all_kinds {
            return;
        }
        let stack = self.stacks.get(u.stack);
        let site = self.sites.find(u.stack, &u.loader.type_name, stack);
        self.regeneration.class_unload(site, u);
        self.timeline.class_unload(site, u.t_ns);
        self.loaders.class_unload(&u.loader.type_name);
    }

    /// What the consumers found so far, with the input's `damage`.
    pub fn finish(&self, damage: &Damage) -> Analyzed<'_> {
        let mut sorted = self.sites.finish();
        let order = match self.options.order {
            SiteOrder::Bytes if self.metaspace.sort_by_bytes(&mut sorted) => SiteOrder::Bytes,
            _ => SiteOrder::Classes,
        };
        let metaspace = self.metaspace.finish(&sorted);
        let position = |i: usize| sorted.sorted(i);
        let mut regeneration = vec![SiteRegeneration::default(); sorted.sites.len()];
        for (i, &at) in sorted.sorted_index.iter().enumerate() {
            regeneration[at] = self.regeneration.finish(i);
        }
        let timeline = self
            .timeline
            .finish(self.facts.duration_ns(), &sorted.sorted_index);
        let java_version = self.facts.header.as_ref().map(|h| h.java_version.as_str());
        let verdicts = diagnosis::verdicts(&Findings {
            sites: &sorted.sites,
            regeneration: &regeneration,
            timeline: &timeline,
            gcs: self.regeneration.gcs(),
            java_version,
            stacks: &self.stacks,
            sources: &self.sources,
            ownership: &self.options.ownership,
        });
        let exhaustion = self.exhaustion.finish(position);
        let left_out = LeftOut {
            exhausted_kept: exhaustion.len(),
            exhausted_omitted: self.exhaustion.omitted(),
            stacks: self.stacks.len() as u64,
            stacks_summarised: self.stacks.summarised(),
            stack_memory: self.options.stack_memory,
            summarised_classes: self.weights.summarised_classes(),
            stacks_by_names: self.stacks.by_names(),
            main_class: self.sources.main_class(),
        };
        Analyzed {
            facts: &self.facts,
            warnings: warnings::collect(&self.facts, damage, &left_out),
            truncated: damage.cut_off.is_some(),
            corrupt_lines: damage.corrupt_lines,
            loaders: self.loaders.finish(position),
            summarised_sites: self.weights.per_summarised_site(position),
            call_sites: sorted.sites,
            regeneration,
            timeline,
            gcs: self.regeneration.gcs(),
            unmatched_unloads: self.regeneration.unmatched_unloads(),
            exhaustion,
            exhaustion_omitted: self.exhaustion.omitted(),
            metaspace,
            order,
            verdicts,
            stacks: &self.stacks,
            sources: &self.sources,
            stack_classes: self.weights.per_stack(),
            options: &self.options,
        }
    }
}

/// What the analysis found, call sites in report order (biggest first).
#[derive(Debug)]
pub struct Analyzed<'a> {
    pub facts: &'a Facts,
    pub warnings: Vec<Warning>,
    /// The last line was incomplete: the recording was cut off mid-write.
    pub truncated: bool,
    pub corrupt_lines: u64,
    pub call_sites: Vec<CallSiteStats>,
    /// Per call site, same order.
    pub regeneration: Vec<SiteRegeneration>,
    pub timeline: TimelineData<'a>,
    /// GCs that started (`gc_start` records).
    pub gcs: u64,
    /// `class_unload` records no call site matched.
    pub unmatched_unloads: u64,
    pub loaders: LoaderTypes,
    /// The first `resource_exhausted` records, in stream order.
    pub exhaustion: Vec<Exhaustion>,
    /// Those past them, counted only.
    pub exhaustion_omitted: u64,
    /// Metaspace in bytes: over time, per call site (report order).
    pub metaspace: MetaspaceData,
    /// How `call_sites` are ranked (`Classes` when bytes were asked for
    /// but the recording has no snapshot).
    pub order: SiteOrder,
    /// One per flagged call site, in report order.
    pub verdicts: Vec<Verdict>,
    /// The distinct stacks: frames of those kept (sample stacks, the flame
    /// graph).
    pub stacks: &'a StackStore,
    /// Where their frames' classes came from.
    pub sources: &'a CodeSources,
    /// Classes per stack id of a kept stack (and [`NO_STACK`]).
    pub stack_classes: &'a FastMap<u64, u64>,
    /// Classes on summarised stacks per call site, most first.
    pub summarised_sites: Vec<(usize, u64)>,
    pub options: &'a Options,
}

impl Analyzed<'_> {
    /// Classes that made it into call sites.
    pub fn attributed_classes(&self) -> u64 {
        self.call_sites.iter().map(|s| s.classes).sum()
    }
}
