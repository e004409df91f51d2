//! HotSpot's own Metaspace accounting, read from `VM.metaspace` output
//! (the text `jcmd PID VM.metaspace` prints), and the join of its
//! per-loader figures with the classes the agent captured.
//!
//! Pure: the writer feeds lines in; nothing here touches the JVM. The
//! format differs between JDK 11 (no per-loader `committed`: capacity
//! stands in) and 17+, so numbers are read by their label ("N bytes used",
//! "N bytes committed"), not by their position.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use metascope_events::{
    ClassKind, LoaderTypeMetaspace, MetaspaceSample, SnapshotReason, StackMetaspace,
};

/// The diagnostic command for the totals: no safepoint, about 1.5 KB.
pub const BASIC_COMMAND: &str = "VM.metaspace basic scale=1";
/// The per-loader listing: a VM operation (a safepoint) walking every
/// class-loader data; its text grows with the classes.
pub const LISTING_COMMAND: &str = "VM.metaspace show-loaders show-classes scale=1";

/// A listing takes about this many characters per committed byte / N:
/// the per-loader block (~700 characters) against its smallest chunks
/// (~3 KB committed), with room to spare.
const COMMITTED_PER_LISTING_CHAR: u64 = 3;

/// The JVM's totals, as the basic report (or a listing's tail) gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub used: Option<u64>,
    pub committed: Option<u64>,
    pub class_used: Option<u64>,
    pub class_committed: Option<u64>,
    pub max: Option<u64>,
    pub class_max: Option<u64>,
    pub gc_threshold: Option<u64>,
    /// `MaxMetaspaceSize: unlimited` was read (tells unlimited from unread).
    pub unlimited: bool,
}

impl Totals {
    /// The sample record, if the report had the two figures that matter.
    pub fn sample(&self, t_ns: u64) -> Option<MetaspaceSample> {
        Some(MetaspaceSample {
            t_ns,
            used: self.used?,
            committed: self.committed?,
            class_used: self.class_used,
            class_committed: self.class_committed,
            max: self.max,
            class_max: self.class_max,
            gc_threshold: self.gc_threshold,
        })
    }
}

/// The characters a listing of a Metaspace this size may take.
pub fn estimated_listing_chars(committed: u64) -> u64 {
    committed / COMMITTED_PER_LISTING_CHAR
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Other,
    /// "Usage:" (basic) or "Total Usage" (listing).
    Usage,
    /// "Virtual space:".
    Virtual,
}

/// Reads the totals from the lines of either report.
#[derive(Debug, Default)]
pub struct TotalsParser {
    totals: Totals,
    section: Option<Section>,
}

impl TotalsParser {
    pub fn line(&mut self, line: &str) {
        let trimmed = line.trim();
        if trimmed.starts_with("Usage:") || trimmed.starts_with("Total Usage") {
            self.section = Some(Section::Usage);
            return;
        }
        if trimmed.starts_with("Virtual space:") {
            self.section = Some(Section::Virtual);
            return;
        }
        if let Some(value) = trimmed.strip_prefix("MaxMetaspaceSize:") {
            self.totals.unlimited = value.trim() == "unlimited";
            self.totals.max = first_number(value);
        } else if let Some(value) = trimmed.strip_prefix("CompressedClassSpaceSize:") {
            self.totals.class_max = first_number(value);
        } else if let Some(value) = trimmed.strip_prefix("Current GC threshold:") {
            self.totals.gc_threshold = first_number(value);
        }
        if trimmed.is_empty() || !line.starts_with(' ') {
            // Sections are indented; a flush-left line ends one.
            if !trimmed.is_empty() {
                self.section = Some(Section::Other);
            }
            return;
        }
        let figures = Figures::of(trimmed);
        let t = &mut self.totals;
        match (self.section, row(trimmed)) {
            (Some(Section::Usage), Row::Both) => t.used = figures.used.or(t.used),
            (Some(Section::Usage), Row::Class) => t.class_used = figures.used.or(t.class_used),
            (Some(Section::Virtual), Row::Both) => t.committed = figures.committed.or(t.committed),
            (Some(Section::Virtual), Row::Class) => {
                t.class_committed = figures.committed.or(t.class_committed)
            }
            _ => {}
        }
    }

    pub fn finish(self) -> Totals {
        self.totals
    }
}

/// The basic report's totals.
pub fn parse_basic(text: &str) -> Totals {
    let mut parser = TotalsParser::default();
    text.lines().for_each(|line| parser.line(line));
    parser.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Row {
    Both,
    Class,
    Other,
}

fn row(trimmed: &str) -> Row {
    if trimmed.starts_with("Both:") {
        Row::Both
    } else if trimmed.starts_with("Class:") || trimmed.starts_with("Class space:") {
        Row::Class
    } else {
        Row::Other
    }
}

fn first_number(text: &str) -> Option<u64> {
    text.split_whitespace().find_map(|t| t.parse().ok())
}

/// The labelled byte counts of one line ("4096 bytes capacity, 3072 bytes
/// (100%) committed, 2880 bytes ( 94%) used, ...").
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Figures {
    capacity: Option<u64>,
    committed: Option<u64>,
    used: Option<u64>,
}

impl Figures {
    fn of(line: &str) -> Figures {
        let mut figures = Figures::default();
        let tokens: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .collect();
        for (i, token) in tokens.iter().enumerate() {
            let Ok(n) = token.parse::<u64>() else {
                continue;
            };
            if tokens.get(i + 1) != Some(&"bytes") {
                continue;
            }
            // The label is the next word: "(100%)" and the like are not.
            let label = tokens[i + 2..]
                .iter()
                .find(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
                .map(|t| t.trim_end_matches('.'));
            match label {
                Some("capacity") => figures.capacity = Some(n),
                Some("committed") => figures.committed = Some(n),
                Some("used") => figures.used = Some(n),
                _ => {}
            }
        }
        figures
    }
}

/// One class-loader data of a listing: a loader, or a hidden (VM
/// anonymous) class with its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoaderBlock {
    /// The loader's class, or `bootstrap`.
    pub loader_type: String,
    pub hidden: bool,
    /// [`class_key`] of each class listed.
    pub classes: Vec<u64>,
    pub used: u64,
    /// Committed to this loader (JDK 11 lists capacity only: that).
    pub committed: u64,
}

/// Reads a `show-loaders show-classes` listing line by line (its text can
/// be large: nothing but the current loader's block is kept).
#[derive(Debug, Default)]
pub struct ListingParser {
    block: Option<LoaderBlock>,
    in_classes: bool,
    totals: Option<TotalsParser>,
    /// The block's "Both:" line had a committed figure (JDK 17+).
    both: Option<Figures>,
}

impl ListingParser {
    pub fn line(&mut self, line: &str, on_block: &mut impl FnMut(LoaderBlock)) {
        if let Some(totals) = &mut self.totals {
            totals.line(line);
            return;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("Total Usage") {
            self.end_block(on_block);
            let mut totals = TotalsParser::default();
            totals.line(line);
            self.totals = Some(totals);
            return;
        }
        if let Some(header) = loader_header(trimmed) {
            self.end_block(on_block);
            self.block = Some(header);
            return;
        }
        let Some(block) = &mut self.block else {
            return;
        };
        if trimmed.starts_with("Loaded classes") {
            self.in_classes = true;
        } else if trimmed.starts_with("-total-") {
            self.in_classes = false;
        } else if self.in_classes {
            if let Some(name) = listed_class_name(trimmed) {
                block.classes.push(class_key(name));
            }
        } else if row(trimmed) == Row::Both {
            self.both = Some(Figures::of(trimmed));
        } else if trimmed.is_empty() {
            self.end_block(on_block);
        }
    }

    fn end_block(&mut self, on_block: &mut impl FnMut(LoaderBlock)) {
        self.in_classes = false;
        let both = self.both.take().unwrap_or_default();
        if let Some(mut block) = self.block.take() {
            block.used = both.used.unwrap_or(0);
            block.committed = both.committed.or(both.capacity).unwrap_or(0);
            on_block(block);
        }
    }

    /// The listing's totals (its "Total Usage" and "Virtual space").
    pub fn finish(mut self, on_block: &mut impl FnMut(LoaderBlock)) -> Totals {
        self.end_block(on_block);
        self.totals.map(TotalsParser::finish).unwrap_or_default()
    }
}

/// "12: CLD 0x00007fdb00186110: <hidden class>, loaded by "app" instance
/// of T" and its variants.
fn loader_header(trimmed: &str) -> Option<LoaderBlock> {
    let (index, rest) = trimmed.split_once(": CLD 0x")?;
    if index.parse::<u64>().is_err() {
        return None;
    }
    let (_, describe) = rest.split_once(": ")?;
    let hidden =
        describe.starts_with("<hidden class>") || describe.starts_with("<anonymous class>");
    let loader_type = match describe.rfind("instance of ") {
        Some(i) => describe[i + "instance of ".len()..].trim().to_string(),
        None if describe.contains("\"<bootstrap>\"") => "bootstrap".to_string(),
        None => "unknown".to_string(),
    };
    Some(LoaderBlock {
        loader_type,
        hidden,
        ..LoaderBlock::default()
    })
}

/// "3: s  java.nio.charset.CoderResult" or "1:    Foo (invokes: ...)".
fn listed_class_name(trimmed: &str) -> Option<&str> {
    let (index, rest) = trimmed.split_once(':')?;
    index.parse::<u64>().ok()?;
    let mut tokens = rest.split_whitespace();
    let first = tokens.next()?;
    // "s" marks a class from the CDS archive; a class cannot be named "s"
    // and be followed by another name on the same line.
    match tokens.next() {
        Some(second) if first == "s" && second != "(invokes:" => Some(second),
        _ => Some(first),
    }
}

/// What a class is matched by between the agent's names and the JVM's
/// listing: its binary name, with a hidden class's address suffix written
/// the way the listing writes it (`Name/0x...`), however JVMTI spelled it.
pub fn class_key(binary_name: &str) -> u64 {
    let bytes = binary_name.as_bytes();
    // Fixed seed: listed classes and captured ones are keyed alike.
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    match hidden_suffix(binary_name) {
        Some(i) => {
            bytes[..i].hash(&mut hasher);
            b'/'.hash(&mut hasher);
            bytes[i + 1..].hash(&mut hasher);
        }
        None => bytes.hash(&mut hasher),
    }
    hasher.finish()
}

/// Where a hidden class's "[./+]0x<hex>" suffix starts.
fn hidden_suffix(name: &str) -> Option<usize> {
    // A byte scan from the end: `str::rfind` of a two-byte needle sets up
    // a substring search for every class the writer tracks.
    let i = name
        .as_bytes()
        .windows(2)
        .rposition(|w| w == b"0x")?
        .checked_sub(1)?;
    let hex = &name[i + 3..];
    let separator = name.as_bytes()[i];
    (matches!(separator, b'.' | b'/' | b'+')
        && !hex.is_empty()
        && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    .then_some(i)
}

/// A live captured class, as the join needs it.
#[derive(Debug, Clone)]
pub struct LiveEntry {
    pub key: u64,
    pub stack: u64,
    pub kind: ClassKind,
    pub loader_type: Arc<str>,
    /// Class-file bytes (0: unknown, counts as the loader's mean).
    pub size: u32,
}

type GroupKey = (u64, ClassKind, Arc<str>);

#[derive(Debug, Default, Clone)]
struct StackBytes {
    classes: u64,
    loaders: u64,
    used: u64,
    committed: u64,
    exclusive_used: u64,
    exclusive_committed: u64,
}

#[derive(Debug, Default, Clone)]
struct TypeBytes {
    loaders: u64,
    classes: u64,
    used: u64,
    committed: u64,
}

/// Joins a listing's loaders with the live captured classes: each
/// loader's bytes go to the stacks that defined its classes.
pub struct Attribution {
    live: Vec<LiveEntry>,
    taken: Vec<bool>,
    by_key: HashMap<u64, Vec<u32>>,
    stacks: HashMap<GroupKey, StackBytes>,
    types: HashMap<(String, bool), TypeBytes>,
    pub loaders: u64,
    pub classes: u64,
}

impl Attribution {
    pub fn new(live: Vec<LiveEntry>) -> Attribution {
        let mut by_key: HashMap<u64, Vec<u32>> = HashMap::with_capacity(live.len());
        for (i, entry) in live.iter().enumerate() {
            by_key.entry(entry.key).or_default().push(i as u32);
        }
        Attribution {
            taken: vec![false; live.len()],
            live,
            by_key,
            stacks: HashMap::new(),
            types: HashMap::new(),
            loaders: 0,
            classes: 0,
        }
    }

    /// The captured class a listed one is: same name, preferring the same
    /// loader type (names repeat across loaders), each taken once.
    fn take(&mut self, key: u64, loader_type: &str) -> Option<u32> {
        let candidates = self.by_key.get(&key)?;
        let free = |i: &&u32| !self.taken[**i as usize];
        let found = candidates
            .iter()
            .filter(free)
            .find(|i| &*self.live[**i as usize].loader_type == loader_type)
            .or_else(|| candidates.iter().find(free))
            .copied()?;
        self.taken[found as usize] = true;
        Some(found)
    }

    pub fn block(&mut self, block: LoaderBlock) {
        self.loaders += 1;
        self.classes += block.classes.len() as u64;
        let matched: Vec<u32> = block
            .classes
            .iter()
            .filter_map(|key| self.take(*key, &block.loader_type))
            .collect();
        let unmatched = block.classes.len() as u64 - matched.len() as u64;
        if matched.is_empty() {
            let t = self
                .types
                .entry((block.loader_type, block.hidden))
                .or_default();
            t.loaders += 1;
            t.classes += unmatched;
            t.used += block.used;
            t.committed += block.committed;
            return;
        }
        let group = |i: &u32| {
            let e = &self.live[*i as usize];
            (e.stack, e.kind, e.loader_type.clone())
        };
        let first = group(&matched[0]);
        if unmatched == 0 && matched.iter().all(|i| group(i) == first) {
            let s = self.stacks.entry(first).or_default();
            s.classes += matched.len() as u64;
            s.loaders += 1;
            s.used += block.used;
            s.committed += block.committed;
            s.exclusive_used += block.used;
            s.exclusive_committed += block.committed;
            return;
        }
        // Shared: split by class-file size; classes of unknown size (and
        // those not captured) count as the mean of the known ones.
        let known: Vec<u64> = matched
            .iter()
            .map(|i| u64::from(self.live[*i as usize].size))
            .filter(|s| *s > 0)
            .collect();
        let mean = match known.len() {
            0 => 1,
            n => (known.iter().sum::<u64>() / n as u64).max(1),
        };
        let weight = |i: &u32| match u64::from(self.live[*i as usize].size) {
            0 => mean,
            s => s,
        };
        let total: u64 = matched.iter().map(weight).sum::<u64>() + unmatched * mean;
        let share = |bytes: u64, w: u64| {
            (u128::from(bytes) * u128::from(w) / u128::from(total.max(1))) as u64
        };
        let mut per_group: HashMap<GroupKey, (u64, u64)> = HashMap::new();
        for i in &matched {
            let slot = per_group.entry(group(i)).or_default();
            slot.0 += 1;
            slot.1 += weight(i);
        }
        for (key, (classes, w)) in per_group {
            let s = self.stacks.entry(key).or_default();
            s.classes += classes;
            s.loaders += 1;
            s.used += share(block.used, w);
            s.committed += share(block.committed, w);
        }
        if unmatched > 0 {
            let t = self
                .types
                .entry((block.loader_type, block.hidden))
                .or_default();
            t.classes += unmatched;
            t.used += share(block.used, unmatched * mean);
            t.committed += share(block.committed, unmatched * mean);
        }
    }

    /// The snapshot's lines: stacks biggest first, then loader types.
    pub fn into_records(self, snapshot: u64) -> (Vec<StackMetaspace>, Vec<LoaderTypeMetaspace>) {
        let mut stacks: Vec<StackMetaspace> = self
            .stacks
            .into_iter()
            .map(|((stack, kind, loader_type), b)| StackMetaspace {
                snapshot,
                stack,
                kind,
                loader_type: loader_type.to_string(),
                classes: b.classes,
                loaders: b.loaders,
                used: b.used,
                committed: b.committed,
                exclusive_used: b.exclusive_used,
                exclusive_committed: b.exclusive_committed,
            })
            .collect();
        stacks.sort_by(|a, b| b.committed.cmp(&a.committed).then(a.stack.cmp(&b.stack)));
        let mut types: Vec<LoaderTypeMetaspace> = self
            .types
            .into_iter()
            .map(|((loader_type, hidden), t)| LoaderTypeMetaspace {
                snapshot,
                loader_type,
                hidden,
                loaders: t.loaders,
                classes: t.classes,
                used: t.used,
                committed: t.committed,
            })
            .collect();
        types.sort_by(|a, b| {
            b.committed
                .cmp(&a.committed)
                .then_with(|| a.loader_type.cmp(&b.loader_type))
        });
        (stacks, types)
    }
}

/// When the next per-loader snapshot is due as Metaspace grows: half
/// again as much committed as at the last one, at least 16 MiB more, and
/// 30 s on (each listing pauses the JVM).
#[derive(Debug, Clone, Copy)]
pub struct GrowthTrigger {
    last_committed: u64,
    last_ns: u64,
}

const GROWTH_MIN_BYTES: u64 = 16 << 20;
const GROWTH_MIN_NS: u64 = 30_000_000_000;

impl GrowthTrigger {
    pub fn new(committed: u64, t_ns: u64) -> GrowthTrigger {
        GrowthTrigger {
            last_committed: committed,
            last_ns: t_ns,
        }
    }

    pub fn due(&self, committed: u64, t_ns: u64) -> bool {
        committed >= self.last_committed.saturating_add(self.last_committed / 2)
            && committed >= self.last_committed.saturating_add(GROWTH_MIN_BYTES)
            && t_ns >= self.last_ns.saturating_add(GROWTH_MIN_NS)
    }
}

/// Where the figures come from: the JVM's diagnostic commands (the
/// writer's is the JVM itself; tests give text).
pub trait MetaspaceSource {
    /// Runs `command`, handing its output to `on_text` in pieces.
    fn run(&mut self, command: &str, on_text: &mut dyn FnMut(&str)) -> Result<(), String>;
    /// Bytes the Java heap can still take (the command's output is a Java
    /// string), if known.
    fn heap_headroom(&mut self) -> Option<u64>;
}

/// The longest listing ever asked for, in characters.
const MAX_LISTING_CHARS: u64 = 256 << 20;

/// Splits pieces of text into lines (a line may span pieces).
fn for_each_line(
    source: &mut dyn MetaspaceSource,
    command: &str,
    on_line: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let mut pending = String::new();
    source.run(command, &mut |piece| {
        pending.push_str(piece);
        let mut start = 0;
        while let Some(end) = pending[start..].find('\n') {
            on_line(&pending[start..start + end]);
            start += end + 1;
        }
        pending.drain(..start);
    })?;
    if !pending.is_empty() {
        on_line(&pending);
    }
    Ok(())
}

/// The totals now (`VM.metaspace basic`).
pub fn sample(source: &mut dyn MetaspaceSource) -> Result<Totals, String> {
    let mut parser = TotalsParser::default();
    for_each_line(source, BASIC_COMMAND, &mut |line| parser.line(line))?;
    Ok(parser.finish())
}

/// A snapshot's records, and its bytes per loader type for the census.
#[derive(Debug)]
pub struct Snapshot {
    pub header: metascope_events::MetaspaceSnapshot,
    pub stacks: Vec<StackMetaspace>,
    pub types: Vec<LoaderTypeMetaspace>,
}

/// What a snapshot is about to cost, and whether to take it.
pub struct SnapshotRequest {
    pub id: u64,
    pub reason: SnapshotReason,
    pub t_ns: u64,
    /// Committed Metaspace now (sizes the listing).
    pub committed: u64,
}

impl SnapshotRequest {
    /// The longest listing (estimated characters) worth its pause: the
    /// JVM lists every class at a safepoint, a few µs per class. An
    /// OutOfMemoryError or an attach (the user asked) take any size the
    /// heap allows; an exit waits for it, so it gets a smaller budget; a
    /// growth snapshot pauses a running application.
    pub fn budget_chars(&self) -> u64 {
        match self.reason {
            SnapshotReason::Attach | SnapshotReason::OutOfMemory => MAX_LISTING_CHARS,
            SnapshotReason::End => END_LISTING_CHARS,
            SnapshotReason::Growth => GROWTH_LISTING_CHARS,
        }
    }
}

/// About 20,000 classes: ~100 ms at exit.
const END_LISTING_CHARS: u64 = 4 << 20;
/// About 80,000 classes.
const GROWTH_LISTING_CHARS: u64 = 16 << 20;

/// Lists every loader and joins it with `live`: the per-loader snapshot.
/// Skipped (with why) when the listing would not fit comfortably in the
/// Java heap.
pub fn snapshot(
    source: &mut dyn MetaspaceSource,
    request: SnapshotRequest,
    live: Vec<LiveEntry>,
    elapsed_ms: impl Fn() -> u64,
) -> Snapshot {
    let started = elapsed_ms();
    let mut header = metascope_events::MetaspaceSnapshot {
        id: request.id,
        reason: request.reason,
        t_ns: request.t_ns,
        used: 0,
        committed: request.committed,
        loaders: 0,
        classes: 0,
        took_ms: 0,
        skipped: None,
    };
    let empty = |header| Snapshot {
        header,
        stacks: Vec::new(),
        types: Vec::new(),
    };
    let chars = estimated_listing_chars(request.committed);
    if chars > request.budget_chars() {
        header.skipped = Some(format!(
            "pause_budget: about {} MiB of text to list, over the {} MiB budget of a {} snapshot",
            chars >> 20,
            request.budget_chars() >> 20,
            match request.reason {
                SnapshotReason::Attach => "attach",
                SnapshotReason::Growth => "growth",
                SnapshotReason::OutOfMemory => "out-of-memory",
                SnapshotReason::End => "end",
            }
        ));
        return empty(header);
    }
    let limit = source
        .heap_headroom()
        .map_or(MAX_LISTING_CHARS, |h| (h / 4).min(MAX_LISTING_CHARS));
    if chars > limit {
        header.skipped = Some(format!(
            "listing_too_large: about {} MiB of text, over the {} MiB allowed by the Java heap's headroom",
            chars >> 20,
            limit >> 20
        ));
        return empty(header);
    }
    let mut attribution = Attribution::new(live);
    let mut parser = ListingParser::default();
    let mut on_block = |block| attribution.block(block);
    let ran = for_each_line(source, LISTING_COMMAND, &mut |line| {
        parser.line(line, &mut on_block)
    });
    let totals = parser.finish(&mut on_block);
    header.took_ms = elapsed_ms().saturating_sub(started);
    if let Err(e) = ran {
        header.skipped = Some(format!("command_failed: {e}"));
        return empty(header);
    }
    header.used = totals.used.unwrap_or(0);
    header.committed = totals.committed.unwrap_or(request.committed);
    header.loaders = attribution.loaders;
    header.classes = attribution.classes;
    let (stacks, types) = attribution.into_records(request.id);
    Snapshot {
        header,
        stacks,
        types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!(
            "{}/tests/fixtures/metaspace/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_basic_report_gives_totals_on_every_jdk() {
        for jdk in [11, 17, 21, 25] {
            let t = parse_basic(&fixture(&format!("basic-jdk{jdk}.txt")));
            let used = t.used.unwrap_or_else(|| panic!("jdk {jdk}: no used"));
            let committed = t.committed.unwrap();
            assert!(used > 100_000 && used < committed, "jdk {jdk}: {t:?}");
            assert!(t.class_used.unwrap() < used, "jdk {jdk}");
            assert!(t.class_committed.unwrap() < committed, "jdk {jdk}");
            assert!(t.gc_threshold.is_some(), "jdk {jdk}");
            assert!(t.class_max.is_some(), "jdk {jdk}");
        }
        let jdk17 = parse_basic(&fixture("basic-jdk17.txt"));
        assert_eq!(jdk17.used, Some(948_888));
        assert_eq!(jdk17.committed, Some(1_179_648));
        assert_eq!(jdk17.class_used, Some(85_152));
        assert_eq!(jdk17.class_committed, Some(196_608));
        assert_eq!(jdk17.max, Some(67_108_864));
        let jdk11 = parse_basic(&fixture("basic-jdk11.txt"));
        assert_eq!(jdk11.used, Some(5_124_264));
        assert_eq!(jdk11.committed, Some(5_636_096));
    }

    #[test]
    fn unlimited_metaspace_has_no_max() {
        let t = parse_basic("Usage:\n  Both: 10 bytes used.\n\nMaxMetaspaceSize: unlimited\n");
        assert_eq!((t.max, t.unlimited, t.used), (None, true, Some(10)));
    }

    fn listing(jdk: u32) -> (Vec<LoaderBlock>, Totals) {
        let mut blocks = Vec::new();
        let mut parser = ListingParser::default();
        for line in fixture(&format!("show-loaders-jdk{jdk}.txt")).lines() {
            parser.line(line, &mut |b| blocks.push(b));
        }
        let totals = parser.finish(&mut |b| blocks.push(b));
        (blocks, totals)
    }

    #[test]
    fn a_listing_gives_each_loader_with_its_classes_and_bytes() {
        for jdk in [11, 17, 21, 25] {
            let (blocks, totals) = listing(jdk);
            assert!(blocks.len() > 30, "jdk {jdk}: {} blocks", blocks.len());
            let used: u64 = blocks.iter().map(|b| b.used).sum();
            // JDK 11 leaves some loaders out of the listing.
            let total = totals.used.unwrap();
            assert!(
                used <= total && used >= total / 10 * 9,
                "jdk {jdk}: {used} of {total}"
            );
            assert!(
                blocks.iter().all(|b| b.committed >= b.used && b.used > 0),
                "jdk {jdk}"
            );
            assert!(
                blocks
                    .iter()
                    .any(|b| b.hidden && b.loader_type == "bootstrap"),
                "jdk {jdk}"
            );
            assert!(
                blocks
                    .iter()
                    .any(|b| b.loader_type == "bootstrap" && !b.hidden),
                "jdk {jdk}"
            );
            assert!(totals.committed.is_some(), "jdk {jdk}");
        }
        let (blocks, _) = listing(17);
        let accessor = blocks
            .iter()
            .find(|b| b.loader_type == "jdk.internal.reflect.DelegatingClassLoader")
            .unwrap();
        assert_eq!(
            accessor.classes,
            vec![class_key(
                "jdk.internal.reflect.GeneratedConstructorAccessor31"
            )]
        );
        assert_eq!((accessor.used, accessor.committed), (3432, 4096));
        let app = blocks
            .iter()
            .find(|b| b.loader_type == "jdk.internal.loader.ClassLoaders$AppClassLoader")
            .unwrap();
        assert_eq!(app.classes.len(), 5);
        assert!(app
            .classes
            .contains(&class_key("Gen$$Lambda$10/0x00007fda84015c00")));
        let boot = blocks
            .iter()
            .find(|b| b.loader_type == "bootstrap" && !b.hidden)
            .unwrap();
        assert!(boot
            .classes
            .contains(&class_key("java.nio.charset.CoderResult")));
    }

    #[test]
    fn hidden_names_match_however_jvmti_spells_the_suffix() {
        let listed = class_key("Gen$$Lambda$10/0x00007fda84015c00");
        assert_eq!(class_key("Gen$$Lambda$10.0x00007fda84015c00"), listed);
        assert_eq!(class_key("Gen$$Lambda$10+0x00007fda84015c00"), listed);
        assert_ne!(class_key("Gen$$Lambda$10/0x00007fda84015c01"), listed);
        assert_ne!(class_key("a.b.C"), class_key("a.b.D"));
    }

    fn live(key: &str, stack: u64, kind: ClassKind, loader: &str, size: u32) -> LiveEntry {
        LiveEntry {
            key: class_key(key),
            stack,
            kind,
            loader_type: Arc::from(loader),
            size,
        }
    }

    fn block(loader: &str, classes: &[&str], used: u64, committed: u64) -> LoaderBlock {
        LoaderBlock {
            loader_type: loader.into(),
            hidden: false,
            classes: classes.iter().map(|c| class_key(c)).collect(),
            used,
            committed,
        }
    }

    #[test]
    fn a_loader_holding_one_stacks_classes_is_exact_and_shared_ones_are_split_by_size() {
        let d = "jdk.internal.reflect.DelegatingClassLoader";
        let mut a = Attribution::new(vec![
            live("A1", 7, ClassKind::ReflectionAccessor, d, 900),
            live("A2", 7, ClassKind::ReflectionAccessor, d, 900),
            live("P1", 8, ClassKind::Proxy, "app.Loader", 3000),
            live("P2", 9, ClassKind::Proxy, "app.Loader", 1000),
        ]);
        a.block(block(d, &["A1"], 3000, 4000));
        a.block(block(d, &["A2"], 3100, 4096));
        // One loader, two stacks and one class the agent did not capture.
        a.block(block("app.Loader", &["P1", "P2", "Other"], 10_000, 12_000));
        a.block(block("bootstrap", &["java.lang.Object"], 500_000, 600_000));
        let (stacks, types) = a.into_records(1);
        let s7 = stacks.iter().find(|s| s.stack == 7).unwrap();
        assert_eq!(
            (s7.classes, s7.loaders, s7.used, s7.committed),
            (2, 2, 6100, 8096)
        );
        assert_eq!((s7.exclusive_used, s7.exclusive_committed), (6100, 8096));
        let s8 = stacks.iter().find(|s| s.stack == 8).unwrap();
        let s9 = stacks.iter().find(|s| s.stack == 9).unwrap();
        // Weights 3000 : 1000 : mean 2000 for the uncaptured one.
        assert_eq!((s8.used, s9.used, s8.exclusive_used), (5000, 1666, 0));
        let app = types
            .iter()
            .find(|t| t.loader_type == "app.Loader")
            .unwrap();
        assert_eq!((app.classes, app.loaders, app.used), (1, 0, 3333));
        assert!(s8.used + s9.used + app.used <= 10_000);
        let boot = types.iter().find(|t| t.loader_type == "bootstrap").unwrap();
        assert_eq!((boot.loaders, boot.classes, boot.used), (1, 1, 500_000));
    }

    #[test]
    fn repeated_names_go_to_the_loader_of_the_same_type_first() {
        let mut a = Attribution::new(vec![
            live("Script1", 1, ClassKind::Script, "x.LoaderA", 100),
            live("Script1", 2, ClassKind::Script, "x.LoaderB", 100),
        ]);
        a.block(block("x.LoaderB", &["Script1"], 50, 60));
        a.block(block("x.LoaderA", &["Script1"], 70, 80));
        let (stacks, _) = a.into_records(3);
        let by = |s: u64| stacks.iter().find(|r| r.stack == s).unwrap().used;
        assert_eq!((by(1), by(2)), (70, 50));
    }

    /// The JVM, as far as a snapshot sees it: fixture text, in small pieces.
    struct FixtureJvm {
        basic: String,
        listing: String,
        headroom: Option<u64>,
        piece: usize,
    }

    impl MetaspaceSource for FixtureJvm {
        fn run(&mut self, command: &str, on_text: &mut dyn FnMut(&str)) -> Result<(), String> {
            let text = if command == BASIC_COMMAND {
                &self.basic
            } else {
                &self.listing
            };
            let mut rest = text.as_str();
            while !rest.is_empty() {
                let mut n = self.piece.min(rest.len());
                while !rest.is_char_boundary(n) {
                    n += 1;
                }
                on_text(&rest[..n]);
                rest = &rest[n..];
            }
            Ok(())
        }
        fn heap_headroom(&mut self) -> Option<u64> {
            self.headroom
        }
    }

    fn jvm(jdk: u32, headroom: Option<u64>) -> FixtureJvm {
        FixtureJvm {
            basic: fixture(&format!("basic-jdk{jdk}.txt")),
            listing: fixture(&format!("show-loaders-jdk{jdk}.txt")),
            headroom,
            piece: 37,
        }
    }

    fn request(id: u64, reason: SnapshotReason, committed: u64) -> SnapshotRequest {
        SnapshotRequest {
            id,
            reason,
            t_ns: 1,
            committed,
        }
    }

    #[test]
    fn a_snapshot_read_in_pieces_joins_captured_classes_with_their_loaders() {
        let mut source = jvm(17, Some(1 << 30));
        let totals = sample(&mut source).unwrap();
        assert_eq!(totals.used, Some(948_888));
        let request = SnapshotRequest {
            id: 4,
            reason: SnapshotReason::End,
            t_ns: 9,
            committed: totals.committed.unwrap(),
        };
        let live = vec![LiveEntry {
            key: class_key("jdk.internal.reflect.GeneratedConstructorAccessor31"),
            stack: 12,
            kind: ClassKind::ReflectionAccessor,
            loader_type: Arc::from("jdk.internal.reflect.DelegatingClassLoader"),
            size: 1200,
        }];
        let snap = snapshot(&mut source, request, live, || 0);
        assert_eq!(snap.header.skipped, None);
        assert_eq!((snap.header.id, snap.header.used), (4, 935_000));
        assert_eq!(snap.header.loaders, 54);
        assert_eq!(snap.stacks.len(), 1);
        let s = &snap.stacks[0];
        assert_eq!((s.stack, s.used, s.exclusive_committed), (12, 3432, 4096));
        let used: u64 = snap.types.iter().map(|t| t.used).sum::<u64>() + s.used;
        assert!(used <= snap.header.used);
    }

    #[test]
    fn a_listing_too_large_for_the_heap_is_skipped_and_says_so() {
        let mut source = jvm(21, Some(4 << 20));
        let attach = request(1, SnapshotReason::Attach, 200 << 20);
        let snap = snapshot(&mut source, attach, Vec::new(), || 0);
        assert!(snap
            .header
            .skipped
            .as_deref()
            .unwrap()
            .starts_with("listing_too_large"));
        assert!(snap.stacks.is_empty() && snap.types.is_empty());
    }

    #[test]
    fn growth_snapshots_wait_for_half_again_sixteen_mib_and_thirty_seconds() {
        let t = GrowthTrigger::new(40 << 20, 0);
        assert!(!t.due(59 << 20, 60_000_000_000), "under half again");
        assert!(!t.due(60 << 20, 10_000_000_000), "too soon");
        assert!(t.due(60 << 20, 31_000_000_000));
        let small = GrowthTrigger::new(4 << 20, 0);
        assert!(!small.due(19 << 20, 60_000_000_000), "under 16 MiB");
    }

    #[test]
    fn an_exit_snapshot_of_a_large_metaspace_is_skipped_within_its_budget() {
        let mut source = jvm(17, Some(1 << 30));
        let end = request(2, SnapshotReason::End, 100 << 20);
        let snap = snapshot(&mut source, end, Vec::new(), || 0);
        assert!(snap
            .header
            .skipped
            .as_deref()
            .unwrap()
            .starts_with("pause_budget"));
        let oom = request(3, SnapshotReason::OutOfMemory, 100 << 20);
        assert_eq!(
            snapshot(&mut source, oom, Vec::new(), || 0).header.skipped,
            None
        );
    }
}
