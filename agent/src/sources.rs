//! Code sources: where a class's bytes claim to come from, and whether
//! they do.
//!
//! A class defined with a protection domain whose code source names a jar
//! or a directory is ordinary only if that jar or directory holds a class
//! file of its name. A generator that passes a real protection domain to
//! `defineClass` (a script engine with its own jar's domain, fastjson's
//! `ASMClassLoader`, any in-house generator using
//! `getClass().getProtectionDomain()`) defines classes whose names its code
//! source does not hold: they are generated, whatever their name or loader.
//!
//! Each code source gets an id the first time a protection domain names it
//! (the domain is then tagged with the id, so later classes cost one tag
//! lookup). The set of class names it holds (a jar's central directory, a
//! directory's tree) is read once, off the application threads, by the
//! writer; until then classes from it are captured provisionally and the
//! writer decides.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

/// Code sources numbered at most; later ones are not checked (their
/// classes count as ordinary, as with a location nobody can read).
const CAPACITY: usize = 64 * CHUNK;
const CHUNK: usize = 1024;
/// Files of a directory code source indexed at most.
const MAX_DIR_FILES: usize = 500_000;
/// Directory levels descended at most.
const MAX_DIR_DEPTH: usize = 64;

/// A code source's location, as its URL reads (`file:/app/lib/x.jar`,
/// `jar:nested:/app.jar/!BOOT-INF/lib/y.jar!/`).
#[derive(Debug)]
pub struct Source {
    pub location: Arc<str>,
    index: OnceLock<Index>,
}

/// The class names a code source holds, or why they are not known.
#[derive(Debug)]
pub enum Index {
    /// Hashes of the internal names (`com/acme/Foo`) of its class files.
    Names(NameSet),
    /// A location that exists on no file system here (no such file), so
    /// it holds no class file at all.
    Missing,
    /// A kind of location metascope cannot read (`jrt:`, `http:`, a
    /// file it may not open): classes from it count as ordinary.
    Unreadable,
}

/// What a code source says about one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its class file is there: an ordinary class.
    Present,
    /// Not there: the bytes were made at run time.
    Absent,
    /// Not read yet (the writer will decide) or not readable.
    Unknown { indexed: bool },
}

/// A set of name hashes, looked up on application threads for every
/// class a jar defines. Between two lookups the JVM's own class loading
/// evicts the set from the caches, so what a lookup costs is the cache
/// lines it touches: here one (an open-addressed table of 32-bit
/// fingerprints, linear probing, at most two-thirds full), where a
/// general hash set of 64-bit keys touched two (its control bytes and its
/// bucket) and twice the memory.
#[derive(Debug)]
pub struct NameSet {
    slots: Box<[u32]>,
}

impl NameSet {
    pub fn new(hashes: &[u64]) -> NameSet {
        let capacity = (hashes.len() + hashes.len() / 2)
            .next_power_of_two()
            .max(16);
        let mut set = NameSet {
            slots: vec![0; capacity].into_boxed_slice(),
        };
        for &hash in hashes {
            if let Err(slot) = set.find(hash) {
                set.slots[slot] = Self::fingerprint(hash);
            }
        }
        set
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.find(hash).is_ok()
    }

    pub fn len(&self) -> usize {
        self.slots.iter().filter(|&&f| f != 0).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Never 0, the empty slot. The slot comes from the hash's low bits
    /// and the fingerprint from its high 31: an absent name passes for
    /// present only if its fingerprint equals that of a name in its probe
    /// run (about one lookup in 2^31).
    fn fingerprint(hash: u64) -> u32 {
        (hash >> 32) as u32 | 1
    }

    /// `Ok(slot)` holding `hash`, or `Err(slot)`, the empty slot where
    /// it would go. The table is never full, so the probe ends.
    fn find(&self, hash: u64) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let fingerprint = Self::fingerprint(hash);
        let mut slot = hash as usize & mask;
        loop {
            match self.slots[slot] {
                0 => return Err(slot),
                f if f == fingerprint => return Ok(slot),
                _ => slot = (slot + 1) & mask,
            }
        }
    }
}

/// Every code source seen in this JVM. Lookups by id are lock-free;
/// adding one (once per code source) takes a lock.
pub struct CodeSources {
    chunks: Box<[OnceLock<Chunk>]>,
    by_location: Mutex<foldhash::HashMap<Arc<str>, u32>>,
}

/// [`CHUNK`] slots, allocated when the first of them is needed.
type Chunk = Box<[OnceLock<Source>]>;

impl Default for CodeSources {
    fn default() -> Self {
        CodeSources {
            chunks: (0..CAPACITY / CHUNK).map(|_| OnceLock::new()).collect(),
            by_location: Mutex::new(foldhash::HashMap::default()),
        }
    }
}

/// A stable (unseeded) hash of an internal class name.
pub fn name_hash(internal_name: &str) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x6d65_7461_7363_6f70).build_hasher();
    h.write(internal_name.as_bytes());
    h.finish()
}

impl CodeSources {
    /// The id of `location`, numbering it the first time; `None` past
    /// [`CAPACITY`].
    pub fn intern(&self, location: &str) -> Option<u32> {
        let mut by_location = self.by_location.lock();
        if let Some(&id) = by_location.get(location) {
            return Some(id);
        }
        let id = by_location.len();
        if id >= CAPACITY {
            return None;
        }
        let location: Arc<str> = Arc::from(location);
        let chunk =
            self.chunks[id / CHUNK].get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        let _ = chunk[id % CHUNK].set(Source {
            location: location.clone(),
            index: OnceLock::new(),
        });
        by_location.insert(location, id as u32);
        Some(id as u32)
    }

    pub fn get(&self, id: u32) -> Option<&Source> {
        let id = id as usize;
        self.chunks.get(id / CHUNK)?.get()?.get(id % CHUNK)?.get()
    }

    /// Whether the code source `id` holds `internal_name`, as far as known
    /// now (never reads anything: safe on an application thread).
    pub fn verdict(&self, id: u32, internal_name: &str) -> Verdict {
        match self.get(id).and_then(|s| s.index.get()) {
            None => Verdict::Unknown { indexed: false },
            Some(index) => index.verdict(internal_name),
        }
    }

    /// Reads the class names of code source `id` if not done yet (the
    /// writer thread: this reads files), then answers like [`verdict`].
    ///
    /// [`verdict`]: CodeSources::verdict
    pub fn verdict_reading(&self, id: u32, internal_name: &str) -> Verdict {
        match self.get(id) {
            None => Verdict::Unknown { indexed: false },
            Some(source) => source
                .index
                .get_or_init(|| Index::read(&source.location))
                .verdict(internal_name),
        }
    }

    /// Reads the index of `id` now, if it is not read yet.
    pub fn read_index(&self, id: u32) {
        if let Some(source) = self.get(id) {
            source.index.get_or_init(|| Index::read(&source.location));
        }
    }
}

impl Index {
    fn verdict(&self, internal_name: &str) -> Verdict {
        match self {
            Index::Names(names) if names.contains(name_hash(internal_name)) => Verdict::Present,
            Index::Names(_) | Index::Missing => Verdict::Absent,
            Index::Unreadable => Verdict::Unknown { indexed: true },
        }
    }

    /// Reads the class names at `location`.
    pub fn read(location: &str) -> Index {
        let Some(place) = Place::parse(location) else {
            return Index::Unreadable;
        };
        match place.class_names() {
            Ok(names) => Index::Names(NameSet::new(&names)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Index::Missing,
            Err(_) => Index::Unreadable,
        }
    }
}

/// A location metascope can read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// A directory of class files.
    Dir(PathBuf),
    /// Entries under `prefix` (`""` or `BOOT-INF/classes/`) of a jar, or
    /// of a jar stored inside another jar (`inner`, Spring Boot's nested
    /// jars).
    Jar {
        path: PathBuf,
        inner: Option<String>,
        prefix: String,
    },
}

impl Place {
    /// `file:/x.jar`, `file:/dir/`, `jar:file:/x.jar!/`,
    /// `jar:file:/app.jar!/BOOT-INF/lib/y.jar!/`,
    /// `jar:nested:/app.jar/!BOOT-INF/lib/y.jar!/`,
    /// `nested:/app.jar/!BOOT-INF/classes/`.
    fn parse(location: &str) -> Option<Place> {
        let jar_url = location.strip_prefix("jar:");
        let inner_url = jar_url.unwrap_or(location);
        let (outer, rest): (&str, &str) = if let Some(nested) = inner_url.strip_prefix("nested:") {
            // nested:/path/app.jar/!BOOT-INF/lib/y.jar!/
            let (outer, rest) = nested.split_once("/!")?;
            (outer, rest)
        } else if let Some(file) = inner_url.strip_prefix("file:") {
            match file.split_once("!/") {
                Some((outer, rest)) => (outer, rest),
                None => (file, ""),
            }
        } else {
            return None;
        };
        let outer = PathBuf::from(percent_decode(strip_authority(outer)?)?);
        let rest = percent_decode(rest.trim_end_matches("!/"))?;
        if jar_url.is_none() && !location.starts_with("nested:") && rest.is_empty() {
            // A plain file: URL: a directory (ends with /) or a jar.
            return Some(if location.ends_with('/') {
                Place::Dir(outer)
            } else {
                Place::Jar {
                    path: outer,
                    inner: None,
                    prefix: String::new(),
                }
            });
        }
        let (inner, prefix) = if rest.is_empty() {
            (None, String::new())
        } else if rest.ends_with(".jar") {
            (Some(rest), String::new())
        } else {
            let mut prefix = rest;
            if !prefix.ends_with('/') {
                prefix.push('/');
            }
            (None, prefix)
        };
        Some(Place::Jar {
            path: outer,
            inner,
            prefix,
        })
    }

    /// Hashes of the class names it holds.
    fn class_names(&self) -> io::Result<Vec<u64>> {
        let mut names = Vec::new();
        match self {
            Place::Dir(dir) => {
                let mut files = 0;
                walk(dir, "", 0, &mut files, &mut names)?;
            }
            Place::Jar {
                path,
                inner,
                prefix,
            } => {
                // rawzip walks the central directory in place through one
                // buffer: no allocation per entry (the zip crate built a
                // record per entry: 6-10 ms for a 20,000-class jar).
                let mut buffer = vec![0; rawzip::RECOMMENDED_BUFFER_SIZE];
                let outer = rawzip::ZipArchive::from_file(open_regular(path)?, &mut buffer)
                    .map_err(zip_error)?;
                match inner {
                    None => jar_names(&outer, prefix, &mut buffer, &mut names)?,
                    Some(entry) => {
                        let (start, end) = stored_entry_range(&outer, entry, &mut buffer)?;
                        let window = Window {
                            file: open_regular(path)?,
                            start,
                            len: end - start,
                        };
                        let nested = rawzip::ZipLocator::new()
                            .locate_in_reader(window, &mut buffer, end - start)
                            .map_err(|(_, e)| zip_error(e))?;
                        jar_names(&nested, prefix, &mut buffer, &mut names)?;
                    }
                }
            }
        }
        Ok(names)
    }
}

/// Opens a jar a code source names. The JVM's owner wrote that name, so
/// only a regular file is read: a FIFO would block the writer in `open`
/// (hence `O_NONBLOCK`, which regular files ignore) and a device might
/// never end.
fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    Ok(file)
}

fn zip_error(e: rawzip::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// Where the bytes of `entry`, a jar stored (not compressed) in `jar`,
/// start and end.
fn stored_entry_range<R: rawzip::ReaderAt>(
    jar: &rawzip::ZipArchive<R>,
    entry: &str,
    buffer: &mut [u8],
) -> io::Result<(u64, u64)> {
    let mut entries = jar.entries(buffer);
    while let Some(header) = entries.next_entry().map_err(zip_error)? {
        if header.file_path().as_bytes() != entry.as_bytes() {
            continue;
        }
        if header.compression_method() != rawzip::CompressionMethod::STORE {
            return Err(io::Error::other("a nested jar that is compressed"));
        }
        let wayfinder = header.wayfinder();
        return Ok(jar
            .get_entry(wayfinder)
            .map_err(zip_error)?
            .compressed_data_range());
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "no such nested jar",
    ))
}

/// Class names of a jar's entries under `prefix`; multi-release entries
/// (`META-INF/versions/N/...`) count under their base name.
fn jar_names<R: rawzip::ReaderAt>(
    jar: &rawzip::ZipArchive<R>,
    prefix: &str,
    buffer: &mut [u8],
    names: &mut Vec<u64>,
) -> io::Result<()> {
    names.reserve(
        usize::try_from(jar.entries_hint())
            .unwrap_or(0)
            .min(1 << 16),
    );
    let mut entries = jar.entries(buffer);
    while let Some(header) = entries.next_entry().map_err(zip_error)? {
        let Ok(entry) = std::str::from_utf8(header.file_path().as_bytes()) else {
            continue;
        };
        let Some(entry) = entry.strip_prefix(prefix) else {
            continue;
        };
        let entry = match entry.strip_prefix("META-INF/versions/") {
            Some(versioned) => versioned
                .split_once('/')
                .map_or(versioned, |(_, rest)| rest),
            None => entry,
        };
        if let Some(class) = entry.strip_suffix(".class") {
            names.push(name_hash(class));
        }
    }
    Ok(())
}

fn walk(
    dir: &Path,
    package: &str,
    depth: usize,
    files: &mut usize,
    names: &mut Vec<u64>,
) -> io::Result<()> {
    if depth > MAX_DIR_DEPTH {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        *files += 1;
        if *files > MAX_DIR_FILES {
            return Err(io::Error::other("too many files to index"));
        }
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            let package = format!("{package}{name}/");
            // A directory we cannot list only hides its own classes.
            let _ = walk(&entry.path(), &package, depth + 1, files, names);
        } else if let Some(class) = name.strip_suffix(".class") {
            names.push(name_hash(&format!("{package}{class}")));
        }
    }
    Ok(())
}

/// `//host/path` -> `/path` for a local host; `/path` as is.
fn strip_authority(path: &str) -> Option<&str> {
    match path.strip_prefix("//") {
        Some(rest) => {
            let (host, path) = rest.split_at(rest.find('/')?);
            (host.is_empty() || host == "localhost").then_some(path)
        }
        None => Some(path),
    }
}

/// Decodes `%XX` escapes (URLs of paths with spaces and the like).
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A byte range of a file, read as a file of its own (a jar stored in a jar).
struct Window {
    file: File,
    start: u64,
    len: u64,
}

impl rawzip::ReaderAt for Window {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let left = self.len.saturating_sub(offset);
        let n = (buf.len() as u64).min(left) as usize;
        std::os::unix::fs::FileExt::read_at(&self.file, &mut buf[..n], self.start + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A jar of stored entries (nested jars must be stored to be read in
    /// place, as Spring Boot stores them).
    fn jar(path: &Path, entries: &[(&str, &[u8])]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in entries {
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn a_name_set_holds_what_it_was_given_and_nothing_else() {
        let held: Vec<u64> = (0..5000).map(|i| name_hash(&format!("app/C{i}"))).collect();
        let mut given = held.clone();
        given.extend_from_slice(&held[..100]); // a jar may list a name twice
        let set = NameSet::new(&given);
        assert_eq!(set.len(), 5000);
        assert!(held.iter().all(|&h| set.contains(h)));
        assert!((0..5000).all(|i| !set.contains(name_hash(&format!("gen/C{i}")))));
        assert!(NameSet::new(&[]).is_empty());
        assert!(!NameSet::new(&[]).contains(name_hash("app/C0")));
    }

    #[test]
    fn locations_of_every_shape_parse() {
        let jar = |p: &str, inner: Option<&str>, prefix: &str| Place::Jar {
            path: PathBuf::from(p),
            inner: inner.map(String::from),
            prefix: prefix.into(),
        };
        assert_eq!(
            Place::parse("file:/usr/share/java/rhino.jar"),
            Some(jar("/usr/share/java/rhino.jar", None, ""))
        );
        assert_eq!(
            Place::parse("file:/app/classes/"),
            Some(Place::Dir("/app/classes".into()))
        );
        assert_eq!(
            Place::parse("file:/my%20app/x.jar"),
            Some(jar("/my app/x.jar", None, ""))
        );
        assert_eq!(
            Place::parse("file://localhost/a.jar"),
            Some(jar("/a.jar", None, ""))
        );
        assert_eq!(
            Place::parse("jar:file:/a.jar!/"),
            Some(jar("/a.jar", None, ""))
        );
        assert_eq!(
            Place::parse("jar:file:/app.jar!/BOOT-INF/lib/y.jar!/"),
            Some(jar("/app.jar", Some("BOOT-INF/lib/y.jar"), ""))
        );
        assert_eq!(
            Place::parse("jar:nested:/app.jar/!BOOT-INF/lib/y.jar!/"),
            Some(jar("/app.jar", Some("BOOT-INF/lib/y.jar"), ""))
        );
        assert_eq!(
            Place::parse("nested:/app.jar/!BOOT-INF/classes/"),
            Some(jar("/app.jar", None, "BOOT-INF/classes/"))
        );
        assert_eq!(Place::parse("jrt:/java.base"), None);
        assert_eq!(Place::parse("http://example.com/x.jar"), None);
        assert_eq!(Place::parse("file://otherhost/x.jar"), None);
    }

    #[test]
    fn a_jar_holds_its_classes_and_not_generated_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.jar");
        jar(
            &path,
            &[
                ("org/acme/Engine.class", b"x"),
                ("META-INF/versions/11/org/acme/Fast.class", b"y"),
                ("README", b"z"),
            ],
        );
        let sources = CodeSources::default();
        let id = sources.intern(&format!("file:{}", path.display())).unwrap();
        assert_eq!(
            sources.intern(&format!("file:{}", path.display())),
            Some(id)
        );
        assert_eq!(
            sources.verdict(id, "org/acme/Engine"),
            Verdict::Unknown { indexed: false }
        );
        assert_eq!(
            sources.verdict_reading(id, "org/acme/Engine"),
            Verdict::Present
        );
        assert_eq!(sources.verdict(id, "org/acme/Fast"), Verdict::Present);
        assert_eq!(sources.verdict(id, "org/acme/gen/Script1"), Verdict::Absent);
    }

    #[test]
    fn nested_jars_and_directories_are_read_too() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("y.jar");
        jar(&inner, &[("com/y/Lib.class", b"1")]);
        let app = dir.path().join("app.jar");
        jar(
            &app,
            &[
                ("BOOT-INF/classes/com/app/Main.class", b"m"),
                ("BOOT-INF/lib/y.jar", &std::fs::read(&inner).unwrap()),
            ],
        );
        let sources = CodeSources::default();
        let lib = sources
            .intern(&format!(
                "jar:nested:{}/!BOOT-INF/lib/y.jar!/",
                app.display()
            ))
            .unwrap();
        assert_eq!(sources.verdict_reading(lib, "com/y/Lib"), Verdict::Present);
        assert_eq!(sources.verdict(lib, "com/y/Gen$1"), Verdict::Absent);
        let classes = sources
            .intern(&format!("nested:{}/!BOOT-INF/classes/", app.display()))
            .unwrap();
        assert_eq!(
            sources.verdict_reading(classes, "com/app/Main"),
            Verdict::Present
        );

        let tree = dir.path().join("classes");
        std::fs::create_dir_all(tree.join("com/acme")).unwrap();
        std::fs::write(tree.join("com/acme/Service.class"), b"s").unwrap();
        let d = sources
            .intern(&format!("file:{}/", tree.display()))
            .unwrap();
        assert_eq!(
            sources.verdict_reading(d, "com/acme/Service"),
            Verdict::Present
        );
        assert_eq!(sources.verdict(d, "com/acme/Service$$Gen"), Verdict::Absent);
    }

    #[test]
    fn a_location_that_does_not_exist_holds_nothing_and_odd_ones_are_unknown() {
        let sources = CodeSources::default();
        let shell = sources.intern("file:/groovy/shell").unwrap();
        assert_eq!(sources.verdict_reading(shell, "Script1"), Verdict::Absent);
        let jrt = sources.intern("jrt:/java.base").unwrap();
        assert_eq!(
            sources.verdict_reading(jrt, "java/lang/String"),
            Verdict::Unknown { indexed: true }
        );
    }

    #[test]
    fn a_fifo_or_a_device_named_as_a_jar_is_unreadable_and_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("app.jar");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let sources = CodeSources::default();
        for location in [format!("file:{}", fifo.display()), "file:/dev/zero".into()] {
            let id = sources.intern(&location).unwrap();
            assert_eq!(
                sources.verdict_reading(id, "app/Main"),
                Verdict::Unknown { indexed: true },
                "{location}"
            );
        }
    }
}
