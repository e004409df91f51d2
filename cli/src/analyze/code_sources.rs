//! The recording's code sources (where the frames' classes were loaded
//! from) and which of them are the application's: what lets attribution
//! tell the application from its libraries without a list of names.
//!
//! The application's code sources are the main class's, every directory
//! of classes (a build's output: `target/classes`, `build/classes/java/main`,
//! an exploded `WEB-INF/classes`) and those `--app` names. Every other jar
//! is a library, named by its file (`corp-platform-1.4.jar`; the innermost
//! of nested jars, so a Spring Boot jar's `BOOT-INF/lib/y.jar` is `y.jar`
//! while its `BOOT-INF/classes` belong to the boot jar itself). `jrt:` is
//! the JDK.
//!
//! The main class's code source comes from the header's `java_command`:
//! `-jar`'s jar, matched when its `code_source` record is read; else the
//! code source of the first frame of the main class on a stack; else that
//! of a whole stack's outermost frame, a `main` method (the main thread's).
//! Stacks are attributed when read, so one read before the main class's
//! code source is known whose frames come from jars is attributed by names,
//! as a recording without code sources is ([`CodeSources::by_names`]; the
//! report warns about them).

use metascope_events::{CodeSource, Frame, Header};

use super::attribution::{is_path, Origin};
use crate::fast_hash::{fast_map, FastMap};

/// Code sources remembered. Each is one record line naming a jar or
/// directory; a recording with more is not a JVM's (frames of the rest
/// count as [`Origin::Unknown`]).
pub const CODE_SOURCES_CAP: usize = 100_000;

/// Archive file extensions: a code source, `--app` value or `-jar`
/// argument ending in one names an archive.
const ARCHIVES: [&str; 4] = [".jar", ".war", ".ear", ".zip"];

/// What kind of place a code source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `jrt:/java.sql`: the JDK's own modules.
    Jdk,
    /// A directory of class files.
    Directory,
    /// A jar (or a directory inside one, which belongs to it).
    Archive,
    /// Anything else (`vfs:`, a script engine's made-up code base).
    Other,
}

#[derive(Debug)]
struct Source {
    location: Box<str>,
    /// What identifies the place: the innermost archive's path
    /// (`/app/app.jar!/BOOT-INF/lib/y.jar`), the directory's, or the
    /// location itself; percent-decoded.
    identity: Box<str>,
    place: Place,
    /// Named by an `--app` path.
    named_by_user: bool,
}

/// What the JVM was started with, from `java_command`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Launch {
    #[default]
    Unknown,
    /// `java -jar PATH`.
    Jar(String),
    /// `java ... MAIN` (or `-m module/MAIN`).
    MainClass(String),
}

/// The code sources read so far, and what is known of the application's.
#[derive(Debug, Default)]
pub struct CodeSources {
    sources: FastMap<u32, Source>,
    launch: Launch,
    /// The agent's stack depth (0 when unknown): a stack shorter than it is
    /// whole, so its outermost frame is its thread's first.
    depth: u32,
    header_read: bool,
    /// The identity of the main class's code source, once known.
    main: Option<Box<str>>,
    /// `--app` values that name jars or directories.
    app_paths: Vec<String>,
    /// Records past [`CODE_SOURCES_CAP`].
    ignored: u64,
}

impl CodeSources {
    /// Code sources with the user's `--app` paths.
    pub fn new(app_paths: &[String]) -> CodeSources {
        CodeSources {
            sources: fast_map(),
            app_paths: app_paths.to_vec(),
            ..CodeSources::default()
        }
    }

    /// The recording's header: how the JVM was started, and its depth.
    /// Only the first counts (as for the rest of the analysis).
    pub fn header(&mut self, h: &Header) {
        if std::mem::replace(&mut self.header_read, true) {
            return;
        }
        self.depth = h.options.depth;
        self.launch = h.java_command.as_deref().map_or(Launch::Unknown, launch);
    }

    /// A `code_source` record. A second record with the same id replaces
    /// the first.
    pub fn insert(&mut self, c: CodeSource) {
        if self.sources.len() >= CODE_SOURCES_CAP && !self.sources.contains_key(&c.id) {
            self.ignored += 1;
            return;
        }
        let (place, identity) = place_of(&c.location);
        let named_by_user = place != Place::Jdk
            && self
                .app_paths
                .iter()
                .any(|v| names_code_source(&identity, v));
        if self.main.is_none() && matches!(place, Place::Archive | Place::Directory) {
            if let Launch::Jar(jar) = &self.launch {
                if names_code_source(&identity, jar) {
                    self.main = Some(identity.clone().into());
                }
            }
        }
        self.sources.insert(
            c.id,
            Source {
                location: c.location.into(),
                identity: identity.into(),
                place,
                named_by_user,
            },
        );
    }

    /// Learns the main class's code source from a stack, while unknown:
    /// a frame of the main class, else the outermost frame of a whole
    /// stack when it is a `main` method.
    pub fn learn(&mut self, frames: &[Frame]) {
        if self.main.is_some() {
            return;
        }
        let own = |f: &Frame| {
            let s = self.sources.get(&f.source?)?;
            (s.place != Place::Jdk).then(|| s.identity.clone())
        };
        let mut found = None;
        if let Launch::MainClass(main) = &self.launch {
            found = frames.iter().filter(|f| f.class == *main).find_map(own);
        }
        let whole = self.depth == 0 || frames.len() < self.depth as usize;
        if found.is_none() && whole {
            found = frames
                .last()
                .filter(|f| {
                    f.method == "main" && matches!(f.sig.as_str(), "([Ljava/lang/String;)V" | "()V")
                })
                .and_then(own);
        }
        self.main = found;
    }

    /// The application's code sources are known: the main class's was
    /// found, or `--app` named some.
    fn application_known(&self) -> bool {
        self.main.is_some() || !self.app_paths.is_empty()
    }

    /// Whether a stack read now must be attributed by names: some frame
    /// comes from a jar that may or may not be the application's, which is
    /// not known yet.
    pub fn by_names(&self, frames: &[Frame]) -> bool {
        !self.application_known()
            && frames.iter().any(|f| {
                f.source
                    .and_then(|id| self.sources.get(&id))
                    .is_some_and(|s| {
                        matches!(s.place, Place::Archive | Place::Other) && !s.named_by_user
                    })
            })
    }

    /// Where each frame's class came from; `by_names` as the stack was
    /// attributed when read ([`Self::by_names`] then).
    pub fn origins(&self, frames: &[Frame], by_names: bool) -> Vec<Origin<'_>> {
        frames.iter().map(|f| self.origin(f, by_names)).collect()
    }

    fn origin(&self, frame: &Frame, by_names: bool) -> Origin<'_> {
        let Some(s) = frame.source.and_then(|id| self.sources.get(&id)) else {
            return Origin::Unknown;
        };
        match s.place {
            Place::Jdk => Origin::Jdk,
            Place::Directory => Origin::Application,
            _ if s.named_by_user || self.main.as_deref() == Some(&*s.identity) => {
                Origin::Application
            }
            _ if by_names => Origin::Unknown,
            _ => Origin::Library(&s.location),
        }
    }

    /// Code sources read (and remembered).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// `code_source` records past [`CODE_SOURCES_CAP`], not remembered.
    #[cfg(test)]
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// The main class named by `java_command`, if it names one.
    pub fn main_class(&self) -> Option<&str> {
        match &self.launch {
            Launch::MainClass(c) => Some(c),
            _ => None,
        }
    }
}

/// How a code source is shown: the file name of its jar (the innermost of
/// nested jars) or directory, e.g. `corp-platform-1.4.jar`, `classes/`.
pub fn display_name(location: &str) -> String {
    let (place, identity) = place_of(location);
    let trimmed = identity.trim_end_matches('/');
    let last = trimmed
        .rsplit(['/', '!'])
        .find(|s| !s.is_empty())
        .unwrap_or(trimmed);
    match place {
        Place::Jdk => location.to_string(),
        Place::Directory => format!("{last}/"),
        Place::Archive | Place::Other => last.to_string(),
    }
}

fn is_archive(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    ARCHIVES.iter().any(|ext| lower.ends_with(ext))
}

/// The place and identity of a location URL: `file:/a/x.jar`,
/// `file:/a/classes/`, `jar:file:/a/app.jar!/BOOT-INF/lib/y.jar!/`,
/// `jar:nested:/a/app.jar/!BOOT-INF/classes/!/`, `jrt:/java.sql`.
fn place_of(location: &str) -> (Place, String) {
    if location.starts_with("jrt:") {
        return (Place::Jdk, location.to_string());
    }
    let mut rest = location;
    while let Some(inner) = rest.strip_prefix("jar:") {
        rest = inner;
    }
    let mut segments = rest.split('!');
    let outer = segments.next().unwrap_or("");
    let Some(path) = ["file:", "nested:"]
        .iter()
        .find_map(|scheme| outer.strip_prefix(scheme))
    else {
        return (Place::Other, percent_decoded(location));
    };
    let path = percent_decoded(path);
    let nested = location.contains('!');
    let mut identity = if nested {
        path.trim_end_matches('/').to_string()
    } else {
        path.clone()
    };
    for segment in segments {
        let segment = segment.trim_matches('/');
        if segment.is_empty() {
            continue;
        }
        if !is_archive(segment) {
            // A directory inside the archive belongs to it.
            break;
        }
        identity.push_str("!/");
        identity.push_str(&percent_decoded(segment));
    }
    let place = if is_archive(&identity) {
        Place::Archive
    } else if !nested && path.ends_with('/') {
        Place::Directory
    } else {
        Place::Other
    };
    (place, identity)
}

/// `%20` and friends decoded (as UTF-8, lossily); anything else as is.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Does `value` (an `--app` path, or `-jar`'s argument) name the code
/// source `identity`? The same path, or its end (`lib/acme-core.jar`,
/// `acme-core.jar`, `build/classes/java/main`); a value ending in `/`
/// names every code source under that directory.
fn names_code_source(identity: &str, value: &str) -> bool {
    let value = value.trim();
    let value = value.strip_prefix("file:").unwrap_or(value);
    let value = value.strip_prefix("./").unwrap_or(value);
    if value.is_empty() {
        return false;
    }
    let identity = identity.trim_end_matches('/');
    if let Some(dir) = value.strip_suffix('/') {
        let dir = dir.trim_end_matches('/');
        return identity == dir
            || (!dir.is_empty() && identity.starts_with(&format!("{dir}/")))
            || identity.contains(&format!("/{dir}/"));
    }
    identity == value || identity.ends_with(&format!("/{value}"))
}

/// How `java_command` says the JVM was started: `app.jar args`,
/// `com.acme.Main args`, `module/com.acme.Main args`.
fn launch(command: &str) -> Launch {
    let command = command.trim();
    let first = command.split(' ').next().unwrap_or("");
    if first.is_empty() {
        return Launch::Unknown;
    }
    if is_archive(first) {
        return Launch::Jar(first.to_string());
    }
    let class = match first.split_once('/') {
        Some((module, class)) if is_binary_name(module) => class,
        _ => first,
    };
    if !is_path(class) && is_binary_name(class) {
        return Launch::MainClass(class.to_string());
    }
    // A jar path with spaces: the shortest run of words naming one.
    command
        .match_indices(' ')
        .map(|(i, _)| &command[..i])
        .chain([command])
        .find(|prefix| is_archive(prefix))
        .map_or(Launch::Unknown, |jar| Launch::Jar(jar.to_string()))
}

/// A Java binary class name: `com.acme.Main`, `Main$Inner`.
fn is_binary_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.ends_with('.')
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '$'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::attribution::tests::frame;

    fn source(id: u32, location: &str) -> CodeSource {
        CodeSource {
            id,
            location: location.into(),
        }
    }

    fn from(class: &str, method: &str, source: Option<u32>) -> Frame {
        Frame {
            source,
            ..frame(class, method, 1)
        }
    }

    fn header(command: Option<&str>) -> Header {
        let metascope_events::Record::Header(mut h) = crate::fixtures::header() else {
            unreachable!()
        };
        h.java_command = command.map(str::to_string);
        h
    }

    #[test]
    fn locations_name_their_innermost_jar() {
        let cases = [
            (
                "file:/app/lib/corp-platform-1.4.jar",
                "corp-platform-1.4.jar",
            ),
            ("file:/app/target/classes/", "classes/"),
            ("jar:file:/app/app.jar!/BOOT-INF/lib/y-2.jar!/", "y-2.jar"),
            ("jar:nested:/app/app.jar/!BOOT-INF/lib/y-2.jar!/", "y-2.jar"),
            ("jar:nested:/app/app.jar/!BOOT-INF/classes/!/", "app.jar"),
            ("jar:file:/app/app.jar!/BOOT-INF/classes!/", "app.jar"),
            ("file:/my%20dir/acme%2Bcore.jar", "acme+core.jar"),
            ("jrt:/java.sql", "jrt:/java.sql"),
            ("file:/groovy/shell", "shell"),
        ];
        for (location, name) in cases {
            assert_eq!(display_name(location), name, "{location}");
        }
        assert_eq!(
            place_of("jar:nested:/app/app.jar/!BOOT-INF/classes/!/"),
            (Place::Archive, "/app/app.jar".to_string())
        );
        assert_eq!(
            place_of("jar:nested:/app/app.jar/!BOOT-INF/lib/y.jar!/"),
            (
                Place::Archive,
                "/app/app.jar!/BOOT-INF/lib/y.jar".to_string()
            )
        );
        assert_eq!(place_of("file:/app/classes/").0, Place::Directory);
        assert_eq!(place_of("vfs:/content/x.war/").0, Place::Other);
        assert_eq!(percent_decoded("100%"), "100%");
        assert_eq!(percent_decoded("%zz%4"), "%zz%4");
    }

    #[test]
    fn java_command_names_the_jar_or_the_main_class() {
        assert_eq!(
            launch("build/libs/app.jar --port 8080"),
            Launch::Jar("build/libs/app.jar".into())
        );
        assert_eq!(
            launch("/opt/my app/app.jar x"),
            Launch::Jar("/opt/my app/app.jar".into())
        );
        assert_eq!(
            launch("com.acme.demo.LispDemo 150"),
            Launch::MainClass("com.acme.demo.LispDemo".into())
        );
        assert_eq!(
            launch("com.acme.Main extra.jar"),
            Launch::MainClass("com.acme.Main".into())
        );
        assert_eq!(
            launch("acme.app/com.acme.Main"),
            Launch::MainClass("com.acme.Main".into())
        );
        assert_eq!(launch(""), Launch::Unknown);
        assert_eq!(launch("./run me"), Launch::Unknown);
    }

    #[test]
    fn app_paths_match_the_whole_path_or_its_end() {
        let jar = "/srv/app/lib/acme-core-2.1.jar";
        assert!(names_code_source(jar, "acme-core-2.1.jar"));
        assert!(names_code_source(jar, "lib/acme-core-2.1.jar"));
        assert!(names_code_source(jar, "./lib/acme-core-2.1.jar"));
        assert!(names_code_source(jar, jar));
        assert!(names_code_source(jar, "/srv/app/lib/"));
        assert!(names_code_source(jar, "lib/"));
        assert!(!names_code_source(jar, "core-2.1.jar"));
        assert!(!names_code_source(jar, "/srv/other/"));
        assert!(names_code_source(
            "/p/build/classes/java/main/",
            "build/classes/java/main"
        ));
        assert!(!names_code_source(jar, ""));
    }

    #[test]
    fn the_main_class_frame_makes_its_jar_the_application() {
        let mut sources = CodeSources::new(&[]);
        sources.header(&header(Some("com.acme.Main 3")));
        sources.insert(source(0, "file:/app/app.jar"));
        sources.insert(source(1, "file:/app/lib/fw-1.0.jar"));
        sources.insert(source(2, "jrt:/java.sql"));
        let frames = vec![
            from("java.sql.DriverManager", "getConnection", Some(2)),
            from("org.fw.Binder", "bind", Some(1)),
            from("com.acme.Service", "run", Some(0)),
            from("com.acme.Main", "main", Some(0)),
        ];
        assert!(sources.by_names(&frames), "not known before the stack");
        sources.learn(&frames);
        assert!(!sources.by_names(&frames));
        assert_eq!(
            sources.origins(&frames, false),
            [
                Origin::Jdk,
                Origin::Library("file:/app/lib/fw-1.0.jar"),
                Origin::Application,
                Origin::Application
            ]
        );
        // Attributed before it was known: jars by names.
        assert_eq!(sources.origins(&frames, true)[1], Origin::Unknown);
    }

    #[test]
    fn the_jar_of_java_minus_jar_is_the_application_from_its_record() {
        let mut sources = CodeSources::new(&[]);
        sources.header(&header(Some("build/app.jar")));
        sources.insert(source(
            0,
            "jar:nested:/srv/build/app.jar/!BOOT-INF/lib/fw.jar!/",
        ));
        assert_eq!(sources.main, None, "a jar inside it is not it");
        sources.insert(source(
            1,
            "jar:nested:/srv/build/app.jar/!BOOT-INF/classes/!/",
        ));
        let frames = [from("a.B", "c", Some(0)), from("d.E", "f", Some(1))];
        assert!(!sources.by_names(&frames));
        assert_eq!(
            sources.origins(&frames, false),
            [
                Origin::Library("jar:nested:/srv/build/app.jar/!BOOT-INF/lib/fw.jar!/"),
                Origin::Application
            ]
        );
    }

    #[test]
    fn without_java_command_the_outermost_main_of_a_whole_stack_decides() {
        let mut sources = CodeSources::new(&[]);
        sources.header(&header(None));
        sources.insert(source(0, "file:/app/tool.jar"));
        sources.insert(source(1, "file:/app/lib/x.jar"));
        let mut frames = vec![
            from("x.Gen", "make", Some(1)),
            from("t.Tool", "main", Some(0)),
        ];
        frames[1].sig = "([Ljava/lang/String;)V".into();
        // Cut at the depth limit: the outermost frame proves nothing.
        let mut cut = frames.clone();
        cut.resize(64, from("t.Tool", "main", Some(0)));
        cut.last_mut().unwrap().sig = "([Ljava/lang/String;)V".into();
        sources.learn(&cut);
        assert_eq!(sources.main, None);
        sources.learn(&frames);
        assert_eq!(sources.main.as_deref(), Some("/app/tool.jar"));
    }

    #[test]
    fn directories_and_app_paths_are_the_application_from_the_start() {
        let mut sources = CodeSources::new(&["acme-rules-3.2.jar".to_string()]);
        sources.header(&header(Some("com.acme.Main")));
        sources.insert(source(0, "file:/w/target/classes/"));
        sources.insert(source(1, "file:/w/lib/acme-rules-3.2.jar"));
        sources.insert(source(2, "file:/w/lib/other.jar"));
        let frames = [
            from("a.A", "a", Some(0)),
            from("b.B", "b", Some(1)),
            from("c.C", "c", Some(2)),
            from("d.D", "d", None),
            from("e.E", "e", Some(99)),
        ];
        // `--app` paths say which jars are the application's.
        assert!(!sources.by_names(&frames));
        assert_eq!(
            sources.origins(&frames, false),
            [
                Origin::Application,
                Origin::Application,
                Origin::Library("file:/w/lib/other.jar"),
                Origin::Unknown,
                Origin::Unknown
            ]
        );
    }

    #[test]
    fn code_sources_are_capped() {
        let mut sources = CodeSources::new(&[]);
        for id in 0..CODE_SOURCES_CAP as u32 + 5 {
            sources.insert(source(id, "file:/x.jar"));
        }
        assert_eq!(sources.len(), CODE_SOURCES_CAP);
        assert_eq!(sources.ignored(), 5);
        // Replacing a known id is not past the cap.
        sources.insert(source(0, "file:/y.jar"));
        assert_eq!(sources.ignored(), 5);
    }
}
