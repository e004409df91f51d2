//! Call-site attribution: which line of application code caused a class to
//! be defined, and through which library it got there.
//!
//! Pure functions over a captured stack (innermost frame first) and where
//! each frame's class came from ([`Origin`]): the application's own code
//! source, a library's, the JDK's, or unknown (then names decide: the
//! built-in library prefixes, `--library` and `--app`). Nothing here reads
//! files or prints. A leaf of the analysis: the stack store attributes
//! each stack with it, the report marks sample stacks and colours the
//! flame graph with it.

use metascope_events::Frame;
use serde::Serialize;

/// Packages whose frames are JDK machinery: never the application's line.
const JDK_PREFIXES: &[&str] = &["java.", "javax.", "jdk.", "sun.", "com.sun."];

/// Markers of classes generated at run time into arbitrary packages (lambda
/// classes, CGLIB/ByteBuddy/Javassist subclasses, Hibernate proxies). Their
/// frames are machinery even when they sit in the application's package.
const GENERATED_MARKERS: &[&str] = &[
    "$$Lambda",
    "$$EnhancerBy",
    "$$FastClassBy",
    "$$SpringCGLIB$$",
    "$$_javassist_",
    "$$_jvst",
    "$ByteBuddy$",
    "$HibernateProxy$",
    "$MockitoMock$",
];

/// Built-in library prefixes: frameworks and generators whose frames sit
/// between the application and the define point. With code sources in
/// the recording any other jar is a library already; the list then only
/// finds libraries shaded into the application's own jar.
const BUILTIN_LIBRARIES: &[&str] = &[
    // Spring (beans, AOP, its repackaged CGLIB, SpEL)
    "org.springframework.",
    // Apache Commons BeanUtils / Lang / JEXL / Proxy
    "org.apache.commons.beanutils.",
    "org.apache.commons.lang.",
    "org.apache.commons.lang3.",
    "org.apache.commons.jexl.",
    "org.apache.commons.jexl2.",
    "org.apache.commons.jexl3.",
    "org.apache.commons.proxy.",
    // Groovy
    "groovy.",
    "org.codehaus.groovy.",
    "org.apache.groovy.",
    // Script engines: Rhino, Nashorn (JDK and standalone), JRuby, Jython
    "org.mozilla.javascript.",
    "jdk.nashorn.",
    "org.openjdk.nashorn.",
    "org.jruby.",
    "org.python.",
    // Bytecode generators
    "net.sf.cglib.",
    "javassist.",
    "net.bytebuddy.",
    "org.objectweb.asm.",
    "org.codehaus.janino.",
    "org.codehaus.commons.compiler.",
    "com.esotericsoftware.reflectasm.",
    // Serialization / mapping
    "com.alibaba.fastjson.",
    "com.alibaba.fastjson2.",
    "com.fasterxml.jackson.",
    "org.codehaus.jackson.",
    "com.google.gson.",
    "com.thoughtworks.xstream.",
    "com.esotericsoftware.kryo.",
    "org.dozer.",
    "com.github.dozermapper.",
    "org.modelmapper.",
    "org.mapstruct.",
    // Persistence / DI / web services
    "org.hibernate.",
    "org.eclipse.persistence.",
    "org.apache.openjpa.",
    "org.apache.ibatis.",
    "org.mybatis.",
    "com.google.inject.",
    "com.google.common.",
    "org.jboss.weld.",
    "org.aspectj.",
    "org.codehaus.xfire.",
    "org.apache.cxf.",
    "org.glassfish.jersey.",
    "jakarta.",
    // Templates and expression languages
    "org.apache.velocity.",
    "freemarker.",
    "org.thymeleaf.",
    "org.mvel2.",
    "ognl.",
    "org.apache.el.",
    "org.apache.jasper.",
    // Other JVM languages' runtimes
    "kotlin.",
    "scala.",
    "clojure.",
];

/// Who owns a frame when its code source does not say: the built-in
/// library prefixes, the user's `--library` and `--app` prefixes, and the
/// `--app` paths (matched against code sources by
/// [`super::code_sources`]).
#[derive(Debug, Clone)]
pub struct Ownership {
    /// User prefixes, each with the owner it makes of a frame.
    user: Vec<(String, Owner)>,
    /// `--app` values that name code sources: jars and directories.
    app_paths: Vec<String>,
}

/// What a user prefix says a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Application,
    Library,
}

impl Default for Ownership {
    fn default() -> Self {
        Self::new(&[], &[])
    }
}

impl Ownership {
    /// Built-ins plus the user's `--library` prefixes and `--app` prefixes
    /// or paths. A prefix may be a package (`com.acme.fw` or
    /// `com.acme.fw.`) or a class name; `com.acme.fw` matches
    /// `com.acme.fw.X` and `com.acme.fw$Inner` but not `com.acme.fwx.X`.
    /// An `--app` value with a `/` or an archive's extension is a path
    /// ([`is_path`]).
    pub fn new(libraries: &[String], app: &[String]) -> Self {
        let clean = |values: &[String]| -> Vec<String> {
            values
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect()
        };
        let mut user: Vec<(String, Owner)> = clean(libraries)
            .into_iter()
            .map(|p| (p, Owner::Library))
            .collect();
        let (paths, prefixes): (Vec<String>, Vec<String>) =
            clean(app).into_iter().partition(|v| is_path(v));
        user.extend(prefixes.into_iter().map(|p| (p, Owner::Application)));
        Self {
            user,
            app_paths: paths,
        }
    }

    /// Built-ins plus `--library` prefixes.
    #[cfg(test)]
    pub fn with_libraries(extra: &[String]) -> Self {
        Self::new(extra, &[])
    }

    /// What the longest user prefix matching `class` says, if any.
    pub fn user_owner(&self, class: &str) -> Option<Owner> {
        self.user
            .iter()
            .filter(|(p, _)| prefix_matches(p, class))
            .max_by_key(|(p, _)| p.trim_end_matches(['.', '$']).len())
            .map(|(_, owner)| *owner)
    }

    /// A known library by name: a `--library` prefix or a built-in one
    /// (unless an `--app` prefix says otherwise).
    pub fn is_library_by_name(&self, class: &str) -> bool {
        match self.user_owner(class) {
            Some(owner) => owner == Owner::Library,
            None => BUILTIN_LIBRARIES.iter().any(|p| prefix_matches(p, class)),
        }
    }

    /// The `--app` values that name code sources.
    pub fn app_paths(&self) -> &[String] {
        &self.app_paths
    }
}

/// An `--app` value naming a jar or directory rather than a package:
/// Java names have no `/`, and no package ends in `.jar`.
pub fn is_path(value: &str) -> bool {
    value.contains('/')
        || [".jar", ".war", ".ear", ".zip"]
            .iter()
            .any(|ext| value.to_ascii_lowercase().ends_with(ext))
}

fn prefix_matches(prefix: &str, class: &str) -> bool {
    if prefix.ends_with('.') || prefix.ends_with('$') {
        return class.starts_with(prefix);
    }
    match class.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('$'),
        None => false,
    }
}

/// JDK classes and run-time generated frames (accessors, lambdas, proxies,
/// enhancer subclasses).
pub fn is_jdk_machinery(class: &str) -> bool {
    JDK_PREFIXES.iter().any(|p| class.starts_with(p)) || is_generated(class)
}

/// A class generated at run time, by its name: lambdas, proxies, enhancer
/// subclasses, generated accessors.
fn is_generated(class: &str) -> bool {
    GENERATED_MARKERS.iter().any(|m| class.contains(m)) || simple_name(class).starts_with("$Proxy")
}

/// `com.acme.Foo$Bar` -> `Foo$Bar`.
pub fn simple_name(class: &str) -> &str {
    class.rsplit('.').next().unwrap_or(class)
}

/// Where a frame's class was loaded from, as far as attribution cares
/// (resolved from the recording's code sources by
/// [`super::code_sources::CodeSources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'a> {
    /// Not known, so names decide: a recording without code sources (an
    /// older agent, JFR), a class without one, or a jar read before the
    /// application's own code source was known.
    Unknown,
    /// The JDK's own (`jrt:`).
    Jdk,
    /// The application's code source: the main class's, a directory of
    /// classes, or one `--app` names.
    Application,
    /// Any other code source: a library, with its location.
    Library(&'a str),
}

/// What one frame of a stack is, from the attribution's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FrameRole {
    /// JDK or generated machinery between the define point and the app.
    Jdk,
    /// A library frame (another code source, or a known library by name)
    /// between the define point and the app.
    Library,
    /// A class loader's own define/load helper, part of the entry.
    LoaderHelper,
    /// The library entry (also one of the roles above before marking).
    LibraryEntry,
    /// The application frame blamed for the definition.
    #[serde(rename = "application_frame")]
    Application,
    /// Anything outward of the application frame.
    Caller,
}

/// A frame as it identifies a call site (no descriptor: lines tell
/// overloads apart well enough, and readers think in lines).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteFrame {
    pub class: String,
    pub method: String,
    pub line: Option<u32>,
    pub file: Option<String>,
}

impl SiteFrame {
    pub fn from_frame(f: &Frame) -> Self {
        Self {
            class: f.class.clone(),
            method: f.method.clone(),
            line: f.line,
            file: f.file.clone(),
        }
    }

    /// `com.acme.orders.OrderService.toDto(OrderService.java:42)`, the way a
    /// Java stack trace prints it.
    pub fn display(&self) -> String {
        format_frame(&self.class, &self.method, self.line, self.file.as_deref())
    }
}

/// Renders a frame like `StackTraceElement.toString()`. Without a file the
/// name is derived from the outer class; without a line only the file is
/// shown. Schema 1 cannot tell native frames from classes compiled without
/// line tables, so there is no `(Native Method)`.
pub fn format_frame(class: &str, method: &str, line: Option<u32>, file: Option<&str>) -> String {
    let derived;
    let file = match file {
        Some(f) => f,
        None => {
            let outer = simple_name(class).split('$').next().unwrap_or("");
            if outer.is_empty() {
                return format!("{class}.{method}(Unknown Source)");
            }
            derived = format!("{outer}.java");
            if line.is_none() {
                return format!("{class}.{method}(Unknown Source)");
            }
            &derived
        }
    };
    match line {
        Some(l) => format!("{class}.{method}({file}:{l})"),
        None => format!("{class}.{method}({file})"),
    }
}

/// What the library entry's frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A library's frame: what the application called.
    Library,
    /// A JDK API (`Method.invoke`, `Proxy.newProxyInstance`).
    Jdk,
    /// The defining loader's own helper.
    LoaderHelper,
}

/// The frame through which the application reached the define point,
/// e.g. `org.springframework.beans.BeanUtils.copyProperties`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LibraryEntry {
    pub class: String,
    pub method: String,
    pub kind: EntryKind,
    /// The location of the library's code source, when the recording
    /// names it (e.g. `file:/app/lib/corp-platform-1.4.jar`).
    pub code_source: Option<String>,
}

impl LibraryEntry {
    pub fn display(&self) -> String {
        format!("{}.{}", self.class, self.method)
    }
}

/// What class records are grouped by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CallSiteKey {
    /// The usual case: a line of application code, reached via `entry`.
    Application {
        frame: SiteFrame,
        entry: Option<LibraryEntry>,
    },
    /// Every frame was JDK, library or loader machinery (a JIT thread of a
    /// script engine, JDK start-up lambdas, a stack cut at the depth limit).
    /// Grouped by the outermost frame and the outermost library frame so
    /// that no random frame gets the blame.
    NoApplicationFrame {
        outermost: SiteFrame,
        entry: Option<LibraryEntry>,
    },
    /// The agent recorded no stack for these classes.
    StackNotCaptured,
}

/// Which [`CallSiteKey`] variant a call site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributionKind {
    Application,
    NoApplicationFrame,
    StackNotCaptured,
}

impl CallSiteKey {
    pub fn attribution(&self) -> AttributionKind {
        match self {
            CallSiteKey::Application { .. } => AttributionKind::Application,
            CallSiteKey::NoApplicationFrame { .. } => AttributionKind::NoApplicationFrame,
            CallSiteKey::StackNotCaptured => AttributionKind::StackNotCaptured,
        }
    }

    pub fn entry(&self) -> Option<&LibraryEntry> {
        match self {
            CallSiteKey::Application { entry, .. }
            | CallSiteKey::NoApplicationFrame { entry, .. } => entry.as_ref(),
            CallSiteKey::StackNotCaptured => None,
        }
    }

    /// One line naming the call site.
    pub fn display(&self) -> String {
        match self {
            CallSiteKey::Application { frame, .. } => frame.display(),
            CallSiteKey::NoApplicationFrame { outermost, .. } => {
                format!("(no application frame) outermost {}", outermost.display())
            }
            CallSiteKey::StackNotCaptured => "(stack not captured)".to_string(),
        }
    }
}

/// The outcome of attributing one stack: the key, plus where in the stack
/// the application frame and the library entry are (for marking samples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub key: CallSiteKey,
    pub application_index: Option<usize>,
    pub entry_index: Option<usize>,
    /// Role of every frame, same order as the stack.
    pub roles: Vec<FrameRole>,
}

/// A class loader's own helper that defines the bytes someone else decided
/// to generate: the loader's class itself, or a `*ClassLoader`/`*Loader`
/// method whose name says define or load. `loader_type: None` stands for
/// a loader whose class is none of the stack's.
fn is_loader_helper(frame: &Frame, loader_type: Option<&str>) -> bool {
    if loader_type == Some(frame.class.as_str()) {
        return true;
    }
    let simple = simple_name(&frame.class);
    let method = frame.method.to_ascii_lowercase();
    (simple.ends_with("ClassLoader") || simple.ends_with("Loader"))
        && (method.contains("define") || method.contains("load"))
}

/// Attributes the class defined at the top of `frames` (innermost first) by
/// a loader of type `loader_type`. `origins` says where each frame's class
/// came from (missing ones are [`Origin::Unknown`]).
pub fn attribute(
    frames: &[Frame],
    origins: &[Origin<'_>],
    loader_type: &str,
    ownership: &Ownership,
) -> Attribution {
    walk(frames, origins, Some(loader_type), ownership)
}

/// The call site of a stack for every loader type at once, so a stack can
/// be attributed when it is read, before any class names its loader.
///
/// The loader's type only matters where the walk stops: the first frame
/// that is neither JDK, library nor a helper by name is the application
/// frame unless it belongs to the loader's own class. So there are two
/// outcomes: [`Self::key`], and [`Self::when_loader_is`] for a loader of
/// that frame's class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackKeys {
    pub key: CallSiteKey,
    /// (class of the frame the walk stopped at, the key when the loader is
    /// of that class).
    pub when_loader_is: Option<(String, CallSiteKey)>,
}

impl StackKeys {
    pub fn of(frames: &[Frame], origins: &[Origin<'_>], ownership: &Ownership) -> StackKeys {
        let any = walk(frames, origins, None, ownership);
        let when_loader_is = any.application_index.map(|i| {
            let class = &frames[i].class;
            (
                class.clone(),
                walk(frames, origins, Some(class), ownership).key,
            )
        });
        StackKeys {
            key: any.key,
            when_loader_is,
        }
    }

    /// The key [`attribute`] gives for a loader of type `loader_type`
    /// (the reader makes the same choice on interned keys:
    /// `stacks::StackRef::key_for`).
    #[cfg(test)]
    pub fn key_for(&self, loader_type: &str) -> &CallSiteKey {
        match &self.when_loader_is {
            Some((class, key)) if class == loader_type => key,
            _ => &self.key,
        }
    }
}

/// The role of one frame on the walk outward, before the application
/// frame is found.
fn role_of(
    frame: &Frame,
    origin: Origin<'_>,
    loader_type: Option<&str>,
    ownership: &Ownership,
) -> FrameRole {
    let application_unless_helper = || {
        if is_loader_helper(frame, loader_type) {
            FrameRole::LoaderHelper
        } else {
            FrameRole::Application
        }
    };
    match ownership.user_owner(&frame.class) {
        Some(Owner::Library) => return FrameRole::Library,
        Some(Owner::Application) => return application_unless_helper(),
        None => {}
    }
    match origin {
        // Another jar: a library whatever its package (javax.servlet from
        // a jar too), unless generated (a library's own lambdas).
        Origin::Library(_) if is_generated(&frame.class) => FrameRole::Jdk,
        Origin::Library(_) => FrameRole::Library,
        // The JDK's modules; Nashorn is one and still a library.
        Origin::Jdk
            if BUILTIN_LIBRARIES
                .iter()
                .any(|p| prefix_matches(p, &frame.class)) =>
        {
            FrameRole::Library
        }
        Origin::Jdk => FrameRole::Jdk,
        // The application's own code source, or nothing known: names
        // decide. Libraries first: Nashorn lives under jdk. but is a
        // library, and libraries shaded into the application's jar keep
        // their package.
        Origin::Application | Origin::Unknown => {
            if BUILTIN_LIBRARIES
                .iter()
                .any(|p| prefix_matches(p, &frame.class))
            {
                FrameRole::Library
            } else if is_jdk_machinery(&frame.class) {
                FrameRole::Jdk
            } else {
                application_unless_helper()
            }
        }
    }
}

fn walk(
    frames: &[Frame],
    origins: &[Origin<'_>],
    loader_type: Option<&str>,
    ownership: &Ownership,
) -> Attribution {
    if frames.is_empty() {
        return Attribution {
            key: CallSiteKey::StackNotCaptured,
            application_index: None,
            entry_index: None,
            roles: Vec::new(),
        };
    }
    let origin = |i: usize| origins.get(i).copied().unwrap_or(Origin::Unknown);

    let mut roles = Vec::with_capacity(frames.len());
    let mut application_index = None;
    for (i, frame) in frames.iter().enumerate() {
        let role = role_of(frame, origin(i), loader_type, ownership);
        if role == FrameRole::Application {
            application_index = Some(i);
            break;
        }
        roles.push(role);
    }

    // The outermost library frame inside the app frame names the entry; with
    // no library frame, the frame just inside the app frame does (Method.invoke,
    // Proxy.newProxyInstance, the loader's define helper).
    let inside = application_index.unwrap_or(frames.len());
    let entry_index = roles[..inside]
        .iter()
        .rposition(|r| *r == FrameRole::Library)
        .or_else(|| application_index.and_then(|i| i.checked_sub(1)));
    let entry = entry_index.map(|i| LibraryEntry {
        class: frames[i].class.clone(),
        method: frames[i].method.clone(),
        kind: match roles[i] {
            FrameRole::Library => EntryKind::Library,
            FrameRole::LoaderHelper => EntryKind::LoaderHelper,
            _ => EntryKind::Jdk,
        },
        code_source: match origin(i) {
            Origin::Library(location) if roles[i] == FrameRole::Library => {
                Some(location.to_string())
            }
            _ => None,
        },
    });

    if let Some(i) = entry_index {
        roles[i] = FrameRole::LibraryEntry;
    }
    let key = match application_index {
        Some(i) => {
            roles.push(FrameRole::Application);
            roles.resize(frames.len(), FrameRole::Caller);
            CallSiteKey::Application {
                frame: SiteFrame::from_frame(&frames[i]),
                entry,
            }
        }
        None => CallSiteKey::NoApplicationFrame {
            outermost: SiteFrame::from_frame(frames.last().expect("non-empty")),
            entry,
        },
    };
    Attribution {
        key,
        application_index,
        entry_index,
        roles,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a frame; `line` 0 means "no line".
    pub(crate) fn frame(class: &str, method: &str, line: u32) -> Frame {
        Frame {
            class: class.into(),
            method: method.into(),
            sig: "()V".into(),
            line: (line > 0).then_some(line),
            file: None,
            native: false,
            source: None,
        }
    }

    /// A JDK 17 reflection accessor generated under Spring's copyProperties.
    pub(crate) fn spring_copy_properties_stack() -> Vec<Frame> {
        vec![
            frame("jdk.internal.reflect.ClassDefiner", "defineClass", 63),
            frame("jdk.internal.reflect.MethodAccessorGenerator$1", "run", 400),
            frame("jdk.internal.reflect.MethodAccessorGenerator$1", "run", 394),
            frame("java.security.AccessController", "doPrivileged", 318),
            frame(
                "jdk.internal.reflect.MethodAccessorGenerator",
                "generate",
                393,
            ),
            frame(
                "jdk.internal.reflect.MethodAccessorGenerator",
                "generateMethod",
                75,
            ),
            frame(
                "jdk.internal.reflect.NativeMethodAccessorImpl",
                "invoke",
                53,
            ),
            frame(
                "jdk.internal.reflect.DelegatingMethodAccessorImpl",
                "invoke",
                43,
            ),
            frame("java.lang.reflect.Method", "invoke", 568),
            frame("org.springframework.beans.BeanUtils", "copyProperties", 627),
            frame("org.springframework.beans.BeanUtils", "copyProperties", 588),
            Frame {
                file: Some("OrderService.java".into()),
                ..frame("com.acme.orders.OrderService", "toDto", 42)
            },
            frame("com.acme.Main", "main", 17),
        ]
    }

    fn app(key: &CallSiteKey) -> (&SiteFrame, Option<&LibraryEntry>) {
        match key {
            CallSiteKey::Application { frame, entry } => (frame, entry.as_ref()),
            other => panic!("expected an application frame, got {other:?}"),
        }
    }

    const DELEGATING: &str = "jdk.internal.reflect.DelegatingClassLoader";

    mod by_code_source {
        use super::*;

        const CORP: &str = "file:/app/lib/corp-platform-1.4.jar";

        /// BindingDemo's stack: the application calls an in-house platform
        /// jar on no list, which makes a proxy.
        fn binding() -> (Vec<Frame>, Vec<Origin<'static>>) {
            let frames = vec![
                frame(
                    "java.lang.reflect.Proxy$ProxyBuilder",
                    "defineProxyClass",
                    560,
                ),
                frame("java.lang.reflect.Proxy", "newProxyInstance", 1037),
                frame("org.corpframework.binding.Binder", "bind", 25),
                frame("com.acme.demo.BindingDemo$OrderController", "handle", 36),
                frame("com.acme.demo.BindingDemo", "main", 24),
            ];
            let origins = vec![
                Origin::Jdk,
                Origin::Jdk,
                Origin::Library(CORP),
                Origin::Application,
                Origin::Application,
            ];
            (frames, origins)
        }

        #[test]
        fn a_jar_not_the_applications_is_a_library_whatever_its_package() {
            let (frames, origins) = binding();
            let a = attribute(&frames, &origins, "x.Loader", &Ownership::default());
            let (frame, entry) = app(&a.key);
            assert_eq!(
                frame.display(),
                "com.acme.demo.BindingDemo$OrderController.handle(BindingDemo.java:36)"
            );
            let entry = entry.unwrap();
            assert_eq!(entry.display(), "org.corpframework.binding.Binder.bind");
            assert_eq!(entry.kind, EntryKind::Library);
            assert_eq!(entry.code_source.as_deref(), Some(CORP));
            assert_eq!(
                a.roles,
                [
                    FrameRole::Jdk,
                    FrameRole::Jdk,
                    FrameRole::LibraryEntry,
                    FrameRole::Application,
                    FrameRole::Caller
                ]
            );
            // Without code sources, names decide: the platform is blamed.
            let by_names = attribute(&frames, &[], "x.Loader", &Ownership::default());
            let (frame, entry) = app(&by_names.key);
            assert_eq!(frame.class, "org.corpframework.binding.Binder");
            assert_eq!(entry.unwrap().kind, EntryKind::Jdk);
            assert_eq!(entry.unwrap().code_source, None);
        }

        #[test]
        fn the_users_prefixes_beat_code_sources_and_the_longest_wins() {
            let (frames, origins) = binding();
            let app_platform = Ownership::new(&[], &["org.corpframework".to_string()]);
            let a = attribute(&frames, &origins, "x.Loader", &app_platform);
            assert_eq!(app(&a.key).0.class, "org.corpframework.binding.Binder");
            assert_eq!(app(&a.key).1.unwrap().kind, EntryKind::Jdk);

            let ownership = Ownership::new(
                &["com.acme.demo.BindingDemo$OrderController".to_string()],
                &["com.acme".to_string()],
            );
            let a = attribute(&frames, &origins, "x.Loader", &ownership);
            assert_eq!(app(&a.key).0.class, "com.acme.demo.BindingDemo");
            assert_eq!(
                app(&a.key).1.unwrap().display(),
                "com.acme.demo.BindingDemo$OrderController.handle"
            );
            // Paths are for code sources, not classes.
            let paths = Ownership::new(&[], &["corp-platform-1.4.jar".to_string()]);
            assert_eq!(paths.user_owner("corp-platform-1.4.jar"), None);
            assert_eq!(paths.app_paths(), ["corp-platform-1.4.jar"]);
        }

        #[test]
        fn libraries_shaded_into_the_applications_jar_are_known_by_name() {
            let frames = spring_copy_properties_stack();
            let origins: Vec<Origin<'_>> = frames
                .iter()
                .map(|f| {
                    if f.class.starts_with("j") {
                        Origin::Jdk
                    } else {
                        Origin::Application
                    }
                })
                .collect();
            let a = attribute(&frames, &origins, DELEGATING, &Ownership::default());
            let (frame, entry) = app(&a.key);
            assert_eq!(frame.class, "com.acme.orders.OrderService");
            let entry = entry.unwrap();
            assert_eq!(entry.kind, EntryKind::Library);
            assert_eq!(entry.code_source, None, "the application's own jar");
        }

        #[test]
        fn the_jdks_modules_and_a_librarys_generated_frames_are_machinery() {
            let role = |class: &str, origin: Origin<'_>| {
                role_of(&frame(class, "m", 1), origin, None, &Ownership::default())
            };
            assert_eq!(role("java.sql.DriverManager", Origin::Jdk), FrameRole::Jdk);
            assert_eq!(role("com.sun.Foo", Origin::Jdk), FrameRole::Jdk);
            assert_eq!(
                role("jdk.nashorn.api.scripting.NashornScriptEngine", Origin::Jdk),
                FrameRole::Library
            );
            assert_eq!(
                role(
                    "org.fw.Binder$$Lambda$3/0x0000000800c0b000",
                    Origin::Library(CORP)
                ),
                FrameRole::Jdk
            );
            assert_eq!(
                role("javax.servlet.GenericServlet", Origin::Library(CORP)),
                FrameRole::Library
            );
            assert_eq!(
                role(
                    "com.acme.Foo$$EnhancerBySpringCGLIB$$1",
                    Origin::Application
                ),
                FrameRole::Jdk
            );
            assert_eq!(
                role("com.acme.Foo", Origin::Application),
                FrameRole::Application
            );
        }

        #[test]
        fn the_applications_own_loader_helper_is_still_skipped() {
            // ReportDemo: the application's own generator defines in its own
            // loader with the application's protection domain.
            let loader = "com.acme.demo.reports.FormatterFactory$FormatterLoader";
            let frames = vec![
                frame("java.lang.ClassLoader", "defineClass", 1017),
                frame(loader, "define", 41),
                frame("com.acme.demo.reports.FormatterFactory", "formatterFor", 26),
                frame("com.acme.demo.ReportDemo", "render", 30),
            ];
            let origins = [
                Origin::Jdk,
                Origin::Application,
                Origin::Application,
                Origin::Application,
            ];
            let keys = StackKeys::of(&frames, &origins, &Ownership::default());
            let (frame, entry) = app(keys.key_for(loader));
            assert_eq!(frame.method, "formatterFor");
            assert_eq!(frame.line, Some(26));
            let entry = entry.unwrap();
            assert_eq!(entry.kind, EntryKind::LoaderHelper);
            assert_eq!(entry.code_source, None);
        }
    }

    mod any_loader {
        use super::*;
        use proptest::prelude::*;

        /// Frames from a small pool, so that stacks mix JDK, library,
        /// helper-by-name and application frames and repeat classes.
        fn pool_frame() -> impl Strategy<Value = Frame> {
            let classes = prop::sample::select(vec![
                "java.lang.ClassLoader",
                "jdk.internal.reflect.ClassDefiner",
                "org.springframework.cglib.core.ReflectUtils",
                "com.acme.codegen.DynamicClassLoader",
                "com.acme.codegen.Gen",
                "com.acme.App",
                "com.acme.Other",
                "",
            ]);
            let methods = prop::sample::select(vec!["define", "loadIt", "run", "make"]);
            (classes, methods, 0u32..3).prop_map(|(c, m, l)| frame(c, m, l))
        }

        proptest! {
            #[test]
            fn the_key_for_any_loader_type_is_what_attribute_gives(
                frames in prop::collection::vec(pool_frame(), 0..8),
                loader in prop::sample::select(vec![
                    "com.acme.App", "com.acme.Other", "com.acme.codegen.Gen",
                    "com.acme.codegen.DynamicClassLoader", "java.lang.ClassLoader",
                    "", "x.Unrelated",
                ]),
            ) {
                let libs = Ownership::default();
                let keys = StackKeys::of(&frames, &[], &libs);
                prop_assert_eq!(keys.key_for(loader), &attribute(&frames, &[], loader, &libs).key);
            }
        }

        #[test]
        fn a_loader_of_the_blamed_frames_class_moves_the_blame_outward() {
            let frames = vec![
                frame("com.acme.codegen.Gen", "make", 10),
                frame("com.acme.App", "run", 20),
            ];
            let keys = StackKeys::of(&frames, &[], &Ownership::default());
            assert!(keys.key.display().starts_with("com.acme.codegen.Gen.make"));
            assert!(keys
                .key_for("com.acme.codegen.Gen")
                .display()
                .starts_with("com.acme.App.run"));
            assert_eq!(keys.key_for("x.Other"), &keys.key);
        }
    }

    #[test]
    fn spring_bean_utils_reflection_blames_the_caller_of_copy_properties() {
        let stack = spring_copy_properties_stack();
        let a = attribute(&stack, &[], DELEGATING, &Ownership::default());
        let (frame, entry) = app(&a.key);
        assert_eq!(
            frame.display(),
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
        // The outermost Spring frame, not the inner overload.
        assert_eq!(
            entry.unwrap().display(),
            "org.springframework.beans.BeanUtils.copyProperties"
        );
        assert_eq!(a.entry_index, Some(10));
        assert_eq!(a.application_index, Some(11));
        assert_eq!(a.roles[9], FrameRole::Library);
        assert_eq!(a.roles[10], FrameRole::LibraryEntry);
        assert_eq!(a.roles[12], FrameRole::Caller);
        assert_eq!(a.roles.len(), stack.len());
    }

    #[test]
    fn direct_method_invoke_has_method_invoke_as_entry() {
        let stack = vec![
            frame("jdk.internal.reflect.ClassDefiner", "defineClass", 63),
            frame(
                "jdk.internal.reflect.MethodAccessorGenerator",
                "generate",
                393,
            ),
            frame(
                "jdk.internal.reflect.NativeMethodAccessorImpl",
                "invoke",
                53,
            ),
            frame(
                "jdk.internal.reflect.DelegatingMethodAccessorImpl",
                "invoke",
                43,
            ),
            frame("java.lang.reflect.Method", "invoke", 568),
            frame("com.acme.rules.RuleRunner", "fire", 88),
            frame("com.acme.Main", "main", 12),
        ];
        let a = attribute(&stack, &[], DELEGATING, &Ownership::default());
        let (frame, entry) = app(&a.key);
        assert_eq!(
            frame.display(),
            "com.acme.rules.RuleRunner.fire(RuleRunner.java:88)"
        );
        assert_eq!(entry.unwrap().display(), "java.lang.reflect.Method.invoke");
    }

    #[test]
    fn custom_loader_helper_frame_is_part_of_the_entry() {
        let stack = vec![
            frame("java.lang.ClassLoader", "defineClass1", 0),
            frame("java.lang.ClassLoader", "defineClass", 1012),
            frame("java.lang.ClassLoader", "defineClass", 874),
            frame("com.acme.demo.codegen.DynamicClassLoader", "define", 31),
            frame("com.acme.demo.codegen.RuleCompiler", "compile", 120),
            frame("com.acme.demo.Main", "main", 40),
        ];
        let a = attribute(
            &stack,
            &[],
            "com.acme.demo.codegen.DynamicClassLoader",
            &Ownership::default(),
        );
        let (frame, entry) = app(&a.key);
        assert_eq!(frame.class, "com.acme.demo.codegen.RuleCompiler");
        assert_eq!(frame.line, Some(120));
        assert_eq!(
            entry.unwrap().display(),
            "com.acme.demo.codegen.DynamicClassLoader.define"
        );
        assert_eq!(a.roles[3], FrameRole::LibraryEntry);

        // Same helper when the class came from another loader instance type:
        // the name still says it is a loader's define helper.
        let a = attribute(&stack, &[], "some.other.Loader", &Ownership::default());
        assert_eq!(app(&a.key).0.class, "com.acme.demo.codegen.RuleCompiler");

        // A loader-named class whose method does something else is the app.
        let mut odd = stack.clone();
        odd[3].method = "warmUp".into();
        let a = attribute(&odd, &[], "some.other.Loader", &Ownership::default());
        assert_eq!(
            app(&a.key).0.class,
            "com.acme.demo.codegen.DynamicClassLoader"
        );
    }

    #[test]
    fn proxy_has_new_proxy_instance_as_entry() {
        let stack = vec![
            frame("java.lang.System$2", "defineClass", 2307),
            frame(
                "java.lang.reflect.Proxy$ProxyBuilder",
                "defineProxyClass",
                539,
            ),
            frame("java.lang.reflect.Proxy$ProxyBuilder", "build", 645),
            frame(
                "java.lang.reflect.Proxy",
                "lambda$getProxyConstructor$1",
                429,
            ),
            frame(
                "jdk.internal.loader.AbstractClassLoaderValue",
                "computeIfAbsent",
                329,
            ),
            frame("java.lang.reflect.Proxy", "getProxyConstructor", 427),
            frame("java.lang.reflect.Proxy", "newProxyInstance", 1037),
            frame("com.acme.audit.AuditingFactory", "wrap", 23),
            frame("com.acme.Main", "main", 9),
        ];
        let a = attribute(
            &stack,
            &[],
            "jdk.internal.loader.ClassLoaders$AppClassLoader",
            &Ownership::default(),
        );
        let (frame, entry) = app(&a.key);
        assert_eq!(
            frame.display(),
            "com.acme.audit.AuditingFactory.wrap(AuditingFactory.java:23)"
        );
        assert_eq!(
            entry.unwrap().display(),
            "java.lang.reflect.Proxy.newProxyInstance"
        );
    }

    #[test]
    fn no_application_frame_is_grouped_by_outermost_frame_never_a_random_one() {
        let stack = vec![
            frame("java.lang.ClassLoader", "defineClass", 1012),
            frame("org.jruby.util.OneShotClassLoader", "defineClass", 40),
            frame("org.jruby.compiler.JITCompiler$Task", "run", 210),
            frame("java.util.concurrent.ThreadPoolExecutor", "runWorker", 1136),
            frame("java.util.concurrent.ThreadPoolExecutor$Worker", "run", 635),
            frame("java.lang.Thread", "run", 833),
        ];
        let a = attribute(
            &stack,
            &[],
            "org.jruby.util.OneShotClassLoader",
            &Ownership::default(),
        );
        match &a.key {
            CallSiteKey::NoApplicationFrame { outermost, entry } => {
                assert_eq!(outermost.class, "java.lang.Thread");
                assert_eq!(
                    entry.as_ref().unwrap().display(),
                    "org.jruby.compiler.JITCompiler$Task.run"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(a.key.display().starts_with("(no application frame)"));
        assert_eq!(a.application_index, None);
        assert!(a.roles.iter().all(|r| *r != FrameRole::Application));
    }

    #[test]
    fn empty_stack_is_not_captured() {
        let a = attribute(&[], &[], DELEGATING, &Ownership::default());
        assert_eq!(a.key, CallSiteKey::StackNotCaptured);
        assert_eq!(a.key.display(), "(stack not captured)");
    }

    #[test]
    fn user_library_prefix_moves_the_blame_outward() {
        let stack = vec![
            frame(
                "jdk.internal.reflect.MethodAccessorGenerator",
                "generate",
                393,
            ),
            frame("java.lang.reflect.Method", "invoke", 568),
            frame("com.acme.platform.mapping.Mapper", "map", 50),
            frame("com.acme.orders.OrderService", "toDto", 42),
        ];
        let default = attribute(&stack, &[], DELEGATING, &Ownership::default());
        assert_eq!(
            app(&default.key).0.class,
            "com.acme.platform.mapping.Mapper"
        );

        let libs = Ownership::with_libraries(&["com.acme.platform".to_string()]);
        let a = attribute(&stack, &[], DELEGATING, &libs);
        let (frame, entry) = app(&a.key);
        assert_eq!(frame.class, "com.acme.orders.OrderService");
        assert_eq!(
            entry.unwrap().display(),
            "com.acme.platform.mapping.Mapper.map"
        );
    }

    #[test]
    fn library_prefixes_match_on_package_boundaries() {
        let libs = Ownership::with_libraries(&["com.acme.fw".to_string()]);
        assert!(libs.is_library_by_name("com.acme.fw.Binder"));
        assert!(libs.is_library_by_name("com.acme.fw"));
        assert!(libs.is_library_by_name("com.acme.fw$Inner"));
        assert!(!libs.is_library_by_name("com.acme.fwx.Binder"));
        assert!(libs.is_library_by_name("com.alibaba.fastjson2.JSON"));
        assert!(libs.is_library_by_name("jdk.nashorn.internal.runtime.Context"));
    }

    #[test]
    fn generated_frames_in_app_packages_are_machinery() {
        assert!(is_jdk_machinery(
            "com.acme.OrderService$$Lambda$14/0x0000000800c0b000"
        ));
        assert!(is_jdk_machinery(
            "com.acme.OrderService$$EnhancerBySpringCGLIB$$1a2b"
        ));
        assert!(is_jdk_machinery("com.acme.$Proxy12"));
        assert!(is_jdk_machinery(
            "jdk.internal.reflect.GeneratedMethodAccessor7"
        ));
        assert!(!is_jdk_machinery("com.acme.OrderService"));
    }

    #[test]
    fn frames_render_like_java_stack_traces() {
        assert_eq!(
            format_frame("a.B$C", "m", Some(3), None),
            "a.B$C.m(B.java:3)"
        );
        assert_eq!(
            format_frame("a.B", "m", Some(3), Some("B.kt")),
            "a.B.m(B.kt:3)"
        );
        assert_eq!(
            format_frame("a.B", "m", None, Some("B.java")),
            "a.B.m(B.java)"
        );
        assert_eq!(
            format_frame("a.B", "m", None, None),
            "a.B.m(Unknown Source)"
        );
    }
}
