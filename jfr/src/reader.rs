//! The streaming reader: chunk after chunk, event after event.
//!
//! For an intact chunk the header points at the last metadata event and
//! the chain of checkpoint (constant pool) events; those are indexed first,
//! then the events are decoded in one sequential pass. A chunk the file
//! ends inside of (or one the JVM had not finished) is recovered by
//! scanning it: JDK 14+ writes metadata and a checkpoint at every flush, so
//! everything flushed before the damage decodes; without flushes (and
//! always on JDK 11) both come only at the chunk end, and nothing of a cut
//! chunk does.
//!
//! Records come out in time order within each flush segment (JFR writes
//! each thread's buffer when it fills, so the file is not in time order),
//! and segments and chunks follow each other in time.

use foldhash::{HashSet, HashSetExt};
use std::collections::VecDeque;
use std::fs::File;
use std::path::Path;

use crate::chunk::{ChunkHeader, HeaderError, HEADER_SIZE};
use crate::decode::{build, event_start, read_slots, Built, ClassKeys, Plans, Slots, Unresolved};
use crate::error::{Damage, Error};
use crate::events::{ChunkInfo, ClassEventKind, Event, Record};
use crate::input::{Cursor, Fault, Source, Window};
use crate::metadata::Metadata;
use crate::pools::Pools;
use crate::resolve::{Global, Resolver, Spare};

const METADATA_EVENT: u64 = 0;
const CHECKPOINT_EVENT: u64 = 1;

/// Events are read through a window this big; larger events grow it.
const EVENT_WINDOW: usize = 1 << 20;

/// Frames outside the event window are read through a window this big.
const FRAME_WINDOW: usize = 4096;

/// Events ordered at once at most: bounds memory when a chunk has no
/// flushes (JDK 11) and holds millions of the events we keep.
const SEGMENT_CAP: usize = 100_000;

/// Bytes a segment spans at most, so that it stays in one window while its
/// events are decoded out of file order.
const SEGMENT_BYTES: u64 = 64 << 20;

/// Counts of what was read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub chunks: u32,
    /// Events in the file (of any type, metadata and checkpoints included).
    pub events: u64,
    /// Records yielded, stacks included.
    pub records: u64,
    pub class_define: u64,
    pub class_load: u64,
    pub class_unload: u64,
    pub garbage_collections: u64,
    pub metaspace_summaries: u64,
    pub metaspace_ooms: u64,
    pub class_loader_statistics: u64,
    pub stacks: u64,
    /// Events of a yielded type dropped because a constant they need (their
    /// class) is not in the chunk; non-zero only in damaged chunks.
    pub unresolved: u64,
    /// Largest constant-pool index of one chunk, in entries.
    pub max_pool_entries: usize,
}

impl Stats {
    /// Class definitions and loads read: zero means the recording had
    /// class events disabled (the [`crate::Record::Setting`]s say so) or
    /// nothing was loaded while it ran.
    pub fn class_events(&self) -> u64 {
        self.class_define + self.class_load
    }

    fn count(&mut self, r: &Record) {
        self.records += 1;
        match r {
            Record::ClassDefine(_) => self.class_define += 1,
            Record::ClassLoad(_) => self.class_load += 1,
            Record::ClassUnload(_) => self.class_unload += 1,
            Record::GarbageCollection(_) => self.garbage_collections += 1,
            Record::MetaspaceSummary(_) => self.metaspace_summaries += 1,
            Record::MetaspaceOom(_) => self.metaspace_ooms += 1,
            Record::ClassLoaderStatistics(_) => self.class_loader_statistics += 1,
            Record::Stack(_) => self.stacks += 1,
            _ => {}
        }
    }
}

/// Reads a recording as a stream of [`Record`]s.
///
/// Iterate it; after the last record of an intact file it yields `None`.
/// A damaged or cut file yields every record before the damage, then one
/// `Err(Error::Damaged)` saying where, then `None`.
pub struct JfrReader {
    src: Source,
    events: Window,
    /// Frames of events outside `events` are read through this one, so
    /// that checkpoints (in the pools already) and other events skipped
    /// are not read again through the large window.
    frames: Window,
    global: Global,
    next_chunk: u64,
    chunk_index: u32,
    /// Boxed: it is taken out and put back for every event decoded.
    current: Option<Box<Current>>,
    out: VecDeque<Box<Record>>,
    slots: Slots,
    pending_error: Option<Error>,
    finished: bool,
    recording_start_ns: Option<i64>,
    stats: Stats,
    /// The last chunk's memory, for the next one.
    spare: Spare,
    spare_queue: Vec<Queued>,
    /// A class event held while its stack is yielded first.
    pending_class: Option<ClassKeys>,
}

struct Current {
    index: u32,
    resolver: Resolver,
    plans: Plans,
    /// Offset of the next event.
    pos: u64,
    /// End of the events that can be decoded.
    end: u64,
    /// Reported once this chunk's records are out.
    damage: Option<Damage>,
    /// `Stats::unresolved` when the chunk began.
    unresolved_before: u64,
    /// The current segment's events, in time order, decoded one by one
    /// from `queued` on: a segment is ordered by a small index, not by its
    /// records.
    queue: Vec<Queued>,
    queued: usize,
    /// Offset of the segment's first event, where [`Queued::from_first`]
    /// counts from.
    first: u64,
    /// The chunk's last segment is queued.
    done: bool,
}

/// An event of the segment, checked, to be decoded. Small (24 bytes): a
/// segment queues up to [`SEGMENT_CAP`] of them, and fresh memory costs a
/// page fault per 4 KiB.
struct Queued {
    t_ns: u64,
    /// Bytes from the segment's first event (a segment spans at most
    /// [`SEGMENT_BYTES`]).
    from_first: u32,
    /// An event's size is a 32-bit int in the format.
    size: u32,
    /// Its type's plan, by position in [`Plans`].
    plan: u16,
    header_len: u8,
}

/// An event's frame: where it is, how big, what type.
struct EventFrame {
    size: u64,
    type_id: u64,
    header_len: usize,
}

enum FrameFault {
    /// The data ends inside the event.
    Cut,
    Invalid(&'static str),
    Unreadable,
}

impl JfrReader {
    /// Opens a recording; fails at once when it is not a JFR file.
    pub fn open(path: impl AsRef<Path>) -> Result<JfrReader, Error> {
        JfrReader::from_file(File::open(path)?)
    }

    pub fn from_file(file: File) -> Result<JfrReader, Error> {
        let len = file.metadata()?.len();
        let src = Source::new(file, len);
        let mut head = [0u8; 4];
        let n = len.min(4) as usize;
        let mut window = Window::new(64);
        if let Some(b) = window.get(&src, 0, n as u64)? {
            head[..n].copy_from_slice(b);
        }
        if &head != b"FLR\0" {
            let found = if len == 0 {
                "is empty".to_string()
            } else {
                let shown = &head[..n];
                let hex: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
                let text: String = shown
                    .iter()
                    .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' })
                    .collect();
                format!("starts with {} (\"{text}\")", hex.join(" "))
            };
            return Err(Error::NotJfr { found });
        }
        Ok(JfrReader {
            src,
            events: Window::new(EVENT_WINDOW),
            frames: Window::new(FRAME_WINDOW),
            global: Global::default(),
            next_chunk: 0,
            chunk_index: 0,
            current: None,
            out: VecDeque::new(),
            slots: Slots::new(),
            pending_error: None,
            finished: false,
            recording_start_ns: None,
            stats: Stats::default(),
            spare: Spare::default(),
            spare_queue: Vec::new(),
            pending_class: None,
        })
    }

    /// Bytes of the file read so far, for a progress bar.
    pub fn position(&self) -> u64 {
        match &self.current {
            Some(c) => c.pos,
            None => self.next_chunk.min(self.src.len()),
        }
    }

    /// Size of the file.
    pub fn len(&self) -> u64 {
        self.src.len()
    }

    pub fn is_empty(&self) -> bool {
        self.src.len() == 0
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Start of the first chunk, nanoseconds since the epoch (once read).
    pub fn recording_start_ns(&self) -> Option<i64> {
        self.recording_start_ns
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Option<Result<Record, Error>> {
        self.next_event()
            .map(|item| item.map(|event| event.into_record()))
    }

    /// The next record, class events borrowed (see [`Event`]); `None` at
    /// the end.
    pub fn next_event(&mut self) -> Option<Result<Event<'_>, Error>> {
        loop {
            if let Some(keys) = self.pending_class.take() {
                return self.class_event(keys).map(Ok);
            }
            if let Some(r) = self.out.pop_front() {
                return Some(Ok(Event::Record(self.with_stack_first(r))));
            }
            if let Some(e) = self.pending_error.take() {
                self.finished = true;
                return Some(Err(e));
            }
            if self.finished {
                return None;
            }
            if self.current.is_none() {
                self.open_chunk();
                continue;
            }
            match self.read_segment() {
                // Straight out, not through `out`: a record is large.
                Some(Built::Record(r)) => return Some(Ok(Event::Record(self.with_stack_first(r)))),
                Some(Built::Class(keys)) => {
                    let new_stack = match self.global.unyielded.is_empty() {
                        true => None,
                        false => self.global.unyielded.remove(&keys.stack),
                    };
                    if let Some(stack) = new_stack {
                        self.pending_class = Some(keys);
                        let record = Record::Stack(stack);
                        self.stats.count(&record);
                        return Some(Ok(Event::Record(Box::new(record))));
                    }
                    return self.class_event(keys).map(Ok);
                }
                None => {}
            }
        }
    }

    /// A class event of the current chunk, borrowed from its resolver.
    fn class_event(&mut self, keys: ClassKeys) -> Option<Event<'_>> {
        self.stats.records += 1;
        match keys.kind() {
            ClassEventKind::Define => self.stats.class_define += 1,
            ClassEventKind::Load => self.stats.class_load += 1,
            ClassEventKind::Unload => self.stats.class_unload += 1,
        }
        // Resolved by the current chunk, which ends only at a later call.
        let resolver = &self.current.as_ref()?.resolver;
        Some(Event::Class(keys.view(resolver)))
    }

    /// Yields a record's stack before the record, the first time.
    fn with_stack_first(&mut self, r: Box<Record>) -> Box<Record> {
        let stack = match &*r {
            Record::MetaspaceOom(e) => e.stack,
            _ => 0,
        };
        let new_stack = match self.global.unyielded.is_empty() {
            true => None,
            false => self.global.unyielded.remove(&stack),
        };
        let record = match new_stack {
            Some(s) => {
                self.out.push_front(r);
                Box::new(Record::Stack(s))
            }
            None => r,
        };
        self.stats.count(&record);
        record
    }

    fn damage(&self, chunk: u32, offset: u64, reason: &'static str, lost_events: u64) -> Damage {
        Damage {
            chunk,
            offset,
            file_len: self.src.len(),
            cut: offset >= self.src.len(),
            lost_events,
            reason,
        }
    }

    /// Damage in a chunk the file ends inside of.
    fn cut(&self, chunk: u32, offset: u64, reason: &'static str, lost_events: u64) -> Damage {
        Damage {
            cut: true,
            ..self.damage(chunk, offset, reason, lost_events)
        }
    }

    /// Reads the next chunk's header, metadata and constants.
    fn open_chunk(&mut self) {
        let offset = self.next_chunk;
        let index = self.chunk_index;
        let len = self.src.len();
        if offset >= len {
            self.finished = true;
            return;
        }
        // Through a small window: the events window is filled from where
        // the events are read.
        let header = match Window::new(0).get(&self.src, offset, HEADER_SIZE) {
            Ok(Some(b)) => {
                let mut a = [0u8; HEADER_SIZE as usize];
                a.copy_from_slice(b);
                ChunkHeader::parse(&a)
            }
            Ok(None) => {
                let d = self.damage(index, len, "the file ends inside a chunk header", 0);
                self.pending_error = Some(Error::Damaged(d));
                return;
            }
            Err(e) => {
                self.pending_error = Some(Error::Io(e));
                return;
            }
        };
        let header = match header {
            Ok(h) => h,
            Err(HeaderError::BadMagic(_)) => {
                let d = self.damage(
                    index,
                    offset,
                    "no chunk header where a chunk should start",
                    0,
                );
                self.pending_error = Some(Error::Damaged(d));
                return;
            }
            Err(HeaderError::UnsupportedVersion(major, minor)) => {
                self.pending_error = Some(Error::UnsupportedVersion { major, minor });
                return;
            }
        };
        let chunk_end = offset
            .checked_add(header.size)
            .filter(|&end| header.size >= HEADER_SIZE && end > offset);
        let intact = header.file_state == 0
            && header.metadata_offset != 0
            && chunk_end.is_some_and(|end| end <= len);

        let loaded = match (intact, chunk_end) {
            (true, Some(end)) => self.load_from_header(&header, offset, end).ok(),
            _ => None,
        };
        let (meta, pools, end, damage) = match loaded {
            Some((meta, pools)) => (Some(meta), pools, chunk_end.unwrap_or(len), None),
            None => {
                let scan_end = chunk_end.unwrap_or(len).min(len);
                let scan = self.scan(&header, offset, scan_end);
                let damage = match scan.fault {
                    Some((at, reason)) => Some((at, reason)),
                    None if chunk_end.is_none_or(|e| e > len) => {
                        Some((len, "the file ends before the chunk does"))
                    }
                    None if header.file_state != 0 => {
                        Some((scan_end, "the JVM had not finished writing this chunk"))
                    }
                    None => None,
                };
                let lost = if scan.meta.is_none() { scan.events } else { 0 };
                let cut = chunk_end.is_none_or(|e| e > len);
                let damage = damage.map(|(at, reason)| match cut {
                    true => self.cut(index, at, reason, lost),
                    false => self.damage(index, at, reason, lost),
                });
                (scan.meta, scan.pools, scan.end, damage)
            }
        };

        // After a damaged chunk nothing further can be trusted to start a
        // chunk; an intact one is followed by the next.
        self.next_chunk = match (&damage, chunk_end) {
            (None, Some(end)) => end,
            _ => len,
        };
        self.chunk_index += 1;
        self.stats.chunks += 1;
        self.stats.max_pool_entries = self.stats.max_pool_entries.max(pools.entries());
        let start = *self.recording_start_ns.get_or_insert(header.start_nanos);
        self.out.push_back(Box::new(Record::Chunk(ChunkInfo {
            index,
            offset,
            size: header.size,
            version: (header.major, header.minor),
            wall_ns: header.start_nanos,
            t_ns: header.start_nanos.saturating_sub(start).max(0) as u64,
            duration_ns: header.duration_nanos,
            incomplete: damage.is_some() || !intact,
        })));
        match meta {
            Some(meta) => {
                let plans = Plans::new(&meta);
                self.current = Some(Box::new(Current {
                    index,
                    resolver: Resolver::new(header, meta, pools, &mut self.spare, &mut self.global),
                    plans,
                    pos: offset + HEADER_SIZE,
                    end,
                    damage,
                    unresolved_before: self.stats.unresolved,
                    queue: std::mem::take(&mut self.spare_queue),
                    queued: 0,
                    first: 0,
                    done: false,
                }));
            }
            None => {
                // Nothing of this chunk decodes without its metadata.
                if let Some(d) = damage {
                    self.pending_error = Some(Error::Damaged(d));
                }
                self.events.shrink();
            }
        }
    }

    /// Reads the metadata and the constant pools the header points at.
    fn load_from_header(
        &mut self,
        header: &ChunkHeader,
        offset: u64,
        end: u64,
    ) -> Result<(Metadata, Pools), ()> {
        let compressed = header.compressed_ints();
        let at = offset.checked_add(header.metadata_offset).ok_or(())?;
        let frame = self.frame(at, end, compressed).map_err(drop)?;
        if frame.type_id != METADATA_EVENT {
            return Err(());
        }
        let bytes = self
            .events
            .get(&self.src, at, frame.size)
            .ok()
            .flatten()
            .ok_or(())?;
        let mut c = Cursor::new(bytes, compressed);
        c.set_pos(frame.header_len).map_err(drop)?;
        let meta = Metadata::parse(&mut c).map_err(drop)?;

        // The chain runs backwards from the last checkpoint: walk it through
        // a small window, then read the checkpoints in file order.
        let mut peek = Window::new(4096);
        let mut chain = Vec::new();
        let mut seen = HashSet::new();
        let mut at = offset.checked_add(header.constant_pool_offset).ok_or(())?;
        loop {
            if at < offset + HEADER_SIZE || !seen.insert(at) {
                return Err(());
            }
            let frame = read_frame(&self.src, &mut peek, at, end, compressed).map_err(drop)?;
            if frame.type_id != CHECKPOINT_EVENT {
                return Err(());
            }
            let head = (end - at).min(frame.header_len as u64 + 27);
            let bytes = peek.get(&self.src, at, head).ok().flatten().ok_or(())?;
            let mut c = Cursor::new(bytes, compressed);
            c.set_pos(frame.header_len).map_err(drop)?;
            c.long().map_err(drop)?; // start time
            c.long().map_err(drop)?; // duration
            let delta = c.long().map_err(drop)?;
            chain.push((at, frame));
            if delta == 0 {
                break;
            }
            at = at.checked_add_signed(delta).ok_or(())?;
        }
        chain.sort_by_key(|(at, _)| *at);
        let mut pools = self.spare.take_pools();
        pools.reserve(chain.iter().map(|(_, frame)| frame.size).sum());
        for (at, frame) in chain {
            pools
                .read_checkpoint(
                    &meta,
                    &self.src,
                    at,
                    frame.size,
                    frame.header_len,
                    compressed,
                )
                .map_err(drop)?;
        }
        Ok((meta, pools))
    }

    /// Walks a damaged chunk event by event up to its end or the first
    /// event that is cut or malformed, then reads the last metadata event
    /// found (metadata only grows within a chunk, and JDK 14+ writes
    /// checkpoints before the first one) and every checkpoint.
    fn scan(&mut self, header: &ChunkHeader, offset: u64, end: u64) -> Scan {
        let compressed = header.compressed_ints();
        let mut scan = Scan {
            meta: None,
            pools: self.spare.take_pools(),
            end: offset + HEADER_SIZE,
            events: 0,
            fault: None,
        };
        let mut metadata = None;
        let mut checkpoints = Vec::new();
        let mut at = offset + HEADER_SIZE;
        while at < end {
            let frame = match self.frame(at, end, compressed) {
                Ok(f) => f,
                Err(fault) => {
                    let reason = match fault {
                        FrameFault::Cut => "the file ends inside an event",
                        FrameFault::Invalid(reason) => reason,
                        FrameFault::Unreadable => "the file could not be read",
                    };
                    scan.fault = Some((at, reason));
                    break;
                }
            };
            let size = frame.size;
            match frame.type_id {
                METADATA_EVENT => metadata = Some((at, frame)),
                CHECKPOINT_EVENT => checkpoints.push((at, frame)),
                _ => scan.events += 1,
            }
            at += size;
            scan.end = at;
        }
        let Some((at, frame)) = metadata else {
            return scan;
        };
        let meta = match self.events.get(&self.src, at, frame.size) {
            Ok(Some(bytes)) => {
                let mut c = Cursor::new(bytes, compressed);
                c.set_pos(frame.header_len)
                    .and_then(|()| Metadata::parse(&mut c))
            }
            _ => Err(Fault::Short),
        };
        let Ok(meta) = meta else {
            scan.fault = Some((at, "the metadata event is malformed"));
            return scan;
        };
        for (at, frame) in checkpoints {
            let added = scan
                .pools
                .read_checkpoint(
                    &meta,
                    &self.src,
                    at,
                    frame.size,
                    frame.header_len,
                    compressed,
                )
                .is_ok();
            if !added {
                // Constants after a malformed checkpoint are not trusted;
                // events needing them are counted as lost.
                scan.fault
                    .get_or_insert((at, "a constant-pool event is malformed"));
                break;
            }
        }
        scan.meta = Some(meta);
        scan
    }

    /// Reads an event's size and type id at `at`; the event must end by `end`.
    fn frame(&mut self, at: u64, end: u64, compressed: bool) -> Result<EventFrame, FrameFault> {
        read_frame(&self.src, &mut self.events, at, end, compressed)
    }

    /// The current chunk's next record: decodes the next queued event,
    /// else queues the next segment, else ends the chunk (`None` for
    /// these two).
    fn read_segment(&mut self) -> Option<Built> {
        let mut cur = self.current.take()?;
        if cur.queued < cur.queue.len() {
            let record = self.decode_queued(&mut cur);
            self.current = Some(cur);
            return record;
        }
        if !cur.done {
            self.queue_segment(&mut cur);
            self.current = Some(cur);
            return None;
        }
        if let Some(mut d) = cur.damage.take() {
            d.lost_events += self.stats.unresolved - cur.unresolved_before;
            self.pending_error = Some(Error::Damaged(d));
        }
        self.events.shrink();
        cur.queue.clear();
        self.spare_queue = std::mem::take(&mut cur.queue);
        cur.resolver.recycle(&mut self.spare);
        None
    }

    /// Decodes queued events until one gives a record (or none is left).
    fn decode_queued(&mut self, cur: &mut Current) -> Option<Built> {
        let compressed = cur.resolver.header.compressed_ints();
        let start = self.recording_start_ns.unwrap_or(0);
        while let Some(q) = cur.queue.get(cur.queued) {
            cur.queued += 1;
            let Some(plan) = cur.plans.at(q.plan) else {
                continue;
            };
            let at = cur.first + u64::from(q.from_first);
            let bytes = match self.events.get(&self.src, at, u64::from(q.size)) {
                Ok(Some(b)) => b,
                _ => {
                    let d = self.damage(cur.index, at, "the file could not be read", 0);
                    cur.damage.get_or_insert(d);
                    continue;
                }
            };
            let mut c = Cursor::new(bytes, compressed);
            let read = c
                .set_pos(usize::from(q.header_len))
                .and_then(|()| read_slots(&cur.resolver.meta, plan, &mut c, &mut self.slots));
            if read.is_err() {
                // Only its start time was read when queued. Its frame says
                // where the next event starts: skip it, report the damage.
                let d = self.damage(cur.index, at, "an event does not match its description", 0);
                cur.damage.get_or_insert(d);
                continue;
            }
            match build(
                plan,
                &self.slots,
                &mut cur.resolver,
                &mut self.global,
                start,
            ) {
                Ok(record) => return Some(record),
                Err(Unresolved::MissingConstant) => self.stats.unresolved += 1,
                Err(Unresolved::Ignored) => {}
            }
        }
        None
    }

    /// Reads events of the current chunk up to the next checkpoint (or the
    /// chunk's end), checks those of the types yielded and queues them in
    /// time order (stable: file order among equal times).
    fn queue_segment(&mut self, cur: &mut Current) {
        let compressed = cur.resolver.header.compressed_ints();
        let start = self.recording_start_ns.unwrap_or(0);
        cur.queue.clear();
        cur.queued = 0;
        let first = cur.pos;
        cur.first = first;
        // Where the next checkpoint starts (the pools hold it): events are
        // read ahead up to there. Looked up again only past it.
        let mut limit = 0;
        loop {
            if cur.pos >= cur.end {
                cur.done = true;
                break;
            }
            let at = cur.pos;
            let window = match self.events.holds(at, (cur.end - at).min(FRAME_HEAD)) {
                true => &mut self.events,
                false => &mut self.frames,
            };
            let frame = match read_frame(&self.src, window, at, cur.end, compressed) {
                Ok(f) => f,
                Err(fault) => {
                    let reason = match fault {
                        FrameFault::Cut => "an event runs past the end of its chunk",
                        FrameFault::Invalid(r) => r,
                        FrameFault::Unreadable => "the file could not be read",
                    };
                    cur.damage
                        .get_or_insert(self.damage(cur.index, at, reason, 0));
                    cur.done = true;
                    break;
                }
            };
            cur.pos = at + frame.size;
            self.stats.events += 1;
            if frame.type_id == CHECKPOINT_EVENT {
                if !cur.queue.is_empty() {
                    break;
                }
                continue;
            }
            let Some((plan_at, plan)) = cur.plans.get(frame.type_id) else {
                continue;
            };
            if at >= limit {
                limit = cur.resolver.pools.next_checkpoint(at).unwrap_or(cur.end);
            }
            let bytes = match self.events.get_before(&self.src, at, frame.size, limit) {
                Ok(Some(b)) => b,
                _ => {
                    let d = self.damage(cur.index, at, "the file could not be read", 0);
                    cur.damage.get_or_insert(d);
                    cur.done = true;
                    break;
                }
            };
            let mut c = Cursor::new(bytes, compressed);
            let header = &cur.resolver.header;
            let t_ns = c
                .set_pos(frame.header_len)
                .and_then(|()| event_start(&cur.resolver.meta, plan, &mut c, header, start));
            let Ok(t_ns) = t_ns else {
                let d = self.damage(cur.index, at, "an event does not match its description", 0);
                cur.damage.get_or_insert(d);
                cur.done = true;
                break;
            };
            // The frame was checked: its size is an int, its header a
            // few bytes, and the segment ends before 4 GiB.
            let (Ok(from_first), Ok(size), Ok(plan), Ok(header_len)) = (
                u32::try_from(at - first),
                u32::try_from(frame.size),
                u16::try_from(plan_at),
                u8::try_from(frame.header_len),
            ) else {
                let d = self.damage(cur.index, at, "an event's frame is out of range", 0);
                cur.damage.get_or_insert(d);
                cur.done = true;
                break;
            };
            cur.queue.push(Queued {
                t_ns,
                from_first,
                size,
                plan,
                header_len,
            });
            if cur.queue.len() >= SEGMENT_CAP || cur.pos - first >= SEGMENT_BYTES {
                break;
            }
        }
        cur.queue.sort_by_key(|q| q.t_ns);
        // The segment's bytes in one window, for decoding out of file order.
        if let (Some(lo), Some(hi)) = (
            cur.queue.iter().map(|q| q.from_first).min(),
            cur.queue
                .iter()
                .map(|q| u64::from(q.from_first) + u64::from(q.size))
                .max(),
        ) {
            let lo = first + u64::from(lo);
            let _ = self.events.get(&self.src, lo, first + hi - lo);
        }
    }

    /// Distinct stacks seen so far (memory grows with these).
    pub fn distinct_stacks(&self) -> usize {
        self.global.distinct_stacks()
    }
}

/// Bytes of an event that hold its size and type id at most.
const FRAME_HEAD: u64 = 20;

/// Reads an event's size and type id at `at` through `window`; the event
/// must end by `end`.
fn read_frame(
    src: &Source,
    window: &mut Window,
    at: u64,
    end: u64,
    compressed: bool,
) -> Result<EventFrame, FrameFault> {
    let head = (end.saturating_sub(at)).min(FRAME_HEAD);
    let bytes = match window.get(src, at, head) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(FrameFault::Cut),
        Err(_) => return Err(FrameFault::Unreadable),
    };
    let mut c = Cursor::new(bytes, compressed);
    let fault = |f: Fault| match f {
        Fault::Short => FrameFault::Cut,
        Fault::Invalid(r) => FrameFault::Invalid(r),
    };
    let size = c.int().map_err(fault)?;
    let type_id = c.long().map_err(fault)? as u64;
    let header_len = c.pos();
    let size = u64::try_from(size).map_err(|_| FrameFault::Invalid("negative event size"))?;
    if size < header_len as u64 {
        return Err(FrameFault::Invalid("event size smaller than its header"));
    }
    if at + size > end {
        return Err(FrameFault::Cut);
    }
    Ok(EventFrame {
        size,
        type_id,
        header_len,
    })
}

struct Scan {
    meta: Option<Metadata>,
    pools: Pools,
    /// End of the last complete event.
    end: u64,
    /// Events other than metadata and checkpoints.
    events: u64,
    fault: Option<(u64, &'static str)>,
}

impl Iterator for JfrReader {
    type Item = Result<Record, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}
