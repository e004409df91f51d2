//! A streaming reader of Java Flight Recorder recordings (`.jfr`) for
//! metascope: the class definitions, loads and unloads with their stacks,
//! GC boundaries, the Metaspace timeline and the JVM facts that the agent's
//! recording also carries, read from recordings written by JDK 11 to 25.
//!
//! ```no_run
//! use metascope_jfr::{JfrReader, Record};
//! let mut reader = JfrReader::open("app.jfr")?;
//! while let Some(item) = reader.next_record() {
//!     match item {
//!         Ok(Record::ClassDefine(e)) => println!("{} by {}", e.class.name, e.defining_loader.type_name),
//!         Ok(_) => {}
//!         Err(damage) => eprintln!("{damage}"), // cut or corrupt: all before it was read
//!     }
//!     let _progress = (reader.position(), reader.len());
//! }
//! # Ok::<(), metascope_jfr::Error>(())
//! ```
//!
//! # Why our own parser, not the `jfrs` crate
//!
//! `jfrs` 0.2.5 was checked against recordings of the harness programs made
//! by JDK 11 (format 2.0), 17, 21 and 25 (2.1). It decodes intact files
//! correctly (the same event counts as `jfr summary`), but:
//! - it reads each whole chunk into one `Vec` sized by the chunk header
//!   (`Vec::with_capacity(chunk_size)` from the file: a corrupt size is a
//!   huge allocation, and a single-chunk multi-GB recording is held whole);
//! - a truncated file yields nothing: 300 of 300 cuts of a JDK 17
//!   recording failed before the first event, where the flushed segments
//!   before the cut are decodable;
//! - one bit flip (offset 292162 of the same 724 KB recording) made it loop
//!   forever; others end in errors;
//! - it builds a generic value tree per event and resolves constants
//!   through it: 0.7-1.3 M events/s on these small files (this reader:
//!   1.3-2.3 M class events/s on the benchmark's recording, below).
//!
//! This reader instead decodes only the fields it yields, by name, from the
//! chunk's own metadata (so fields added by later JDKs cost nothing); it
//! indexes constant pools by offset and decodes an entry the first time an
//! event needs it; and it bounds every count by the bytes that remain.
//!
//! # Format notes (learned from the JDK's `jdk.jfr.internal.consumer`
//! parser, and async-profiler's writer)
//! - A file is a sequence of chunks: a 68-byte header ([`chunk`] module
//!   docs), then events, each `size, type id, fields`. Type 0 is the
//!   metadata event (every type and field), type 1 a checkpoint (constant
//!   pools). Integers are LEB128-style varints (9 bytes at most) when the
//!   header's flag says so: JDK 11+ always.
//! - Strings carry an encoding byte: 0 null, 1 empty, 2 a constant-pool
//!   key, 3 UTF-8, 4 UTF-16 code units (varints), 5 Latin-1.
//! - Constants are per chunk: every chunk restates the classes, loaders,
//!   stacks it uses, under keys that are stable ids for the life of the JVM
//!   (a class loader's key is its ClassLoaderData's trace id), which is
//!   what makes [`Loader::id`] stable across chunks.
//! - JDK 14+ writes metadata and constants at every flush (when something
//!   streams the recording, about once a second), so a chunk cut while
//!   written keeps what was flushed before the cut; without a flush, and
//!   always on JDK 11, both come at the chunk end and a cut chunk yields
//!   nothing (earlier chunks are read whole, and the error says so).
//!
//! # Memory and speed
//! Memory is bounded by the current chunk's checkpoint (constant pool)
//! bytes and their index (4 bytes per key of a dense pool), what was
//! resolved from them (loaders, threads, methods, strings; not classes: a
//! class event's name is lent from one buffer, see
//! [`JfrReader::next_event`]), the distinct stacks and frame names of the
//! whole recording, and the index of one flush segment's events (at most
//! 100,000, 40 bytes each) ordered by time before they are decoded one by
//! one. Events are read with positioned reads through a window of at least
//! 1 MB that holds the segment being decoded (at most 64 MB of events) and
//! reads ahead no further than the next checkpoint (already in the pools),
//! never mapped (a file cut underneath a map is a SIGBUS).
//!
//! `cargo run --release -p metascope-jfr --example jfr_stats -- FILE.jfr`
//! measures it (class events borrowed, as the CLI reads them). On the
//! reader benchmark's JDK 17 recording of `DynamicLoaderDemo 100000`
//! (100,057 `jdk.ClassDefine`, every class distinct, 7.2 MB, one chunk
//! with 200,000 constants): 0.04-0.07 s wall, 1.3-2.3 M class events/s,
//! 11 MB peak RSS; the same file concatenated 50 times (360 MB, 50 chunks,
//! 5.0 M class events): 2.4-3.1 s, 1.6-2.1 M class events/s, 12 MB peak
//! RSS (2 cores shared with other work; the spread is the load's).
//! Each such event decodes a class constant never seen before and its
//! name; where the time goes is in docs/jfr.md ("Reading speed").

#![deny(unsafe_code)]

mod chunk;
mod decode;
mod error;
mod events;
mod input;
mod metadata;
mod pools;
mod reader;
mod resolve;
mod value;

pub use error::{Damage, Error};
pub use events::*;
pub use reader::{JfrReader, Stats};
