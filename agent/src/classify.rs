//! Deciding, for every class the JVM loads, whether it was generated at
//! run time and what generated it.
//!
//! This runs on the loading application thread for *every* class, so it
//! works on the JVM's internal name (`com/acme/Foo`) without allocating and
//! answers from a handful of prefix/substring checks.

use metascope_events::{CaptureMode, ClassKind};

/// What the FFI layer learned about the class's defining loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoaderFacts {
    pub bootstrap: bool,
    /// The loader's class is a known generator loader ([`is_dynamic_loader_type`]).
    pub dynamic: bool,
}

/// Everything the classifier looks at for one class.
#[derive(Debug, Clone, Copy)]
pub struct ClassFacts<'a> {
    /// Internal name, e.g. `com/acme/Foo` or `com/acme/Foo$$Lambda$1.0x0000000800c01000`
    /// for hidden classes (as JVMTI spells them).
    pub internal_name: &'a str,
    pub loader: LoaderFacts,
    /// Defined by a non-bootstrap loader from bytes with no code-source
    /// location (seen in ClassFileLoadHook).
    pub runtime_defined: bool,
}

/// The classifier with the user's `include=` patterns and mode applied.
#[derive(Debug, Clone)]
pub struct Classifier {
    mode: CaptureMode,
    /// Patterns converted to internal form (`.` -> `/`).
    include: Vec<String>,
}

impl Classifier {
    pub fn new(mode: CaptureMode, include: &[String]) -> Classifier {
        Classifier {
            mode,
            include: include.iter().map(|p| p.replace('.', "/")).collect(),
        }
    }

    /// What the name alone says: a generator's naming pattern, or a user
    /// `include=` pattern. The hook's first, cheapest question.
    pub fn by_name(&self, internal_name: &str) -> Option<ClassKind> {
        kind_by_name(internal_name).or_else(|| {
            self.include
                .iter()
                .any(|p| glob_matches(p, internal_name))
                .then_some(ClassKind::Included)
        })
    }

    /// `mode=all`: ordinary classes are captured too.
    pub fn captures_all(&self) -> bool {
        self.mode == CaptureMode::All
    }

    /// The kind of a class to capture, or `None` for an ordinary class in
    /// `dynamic` mode.
    pub fn classify(&self, class: &ClassFacts<'_>) -> Option<ClassKind> {
        generated_kind(class)
            .or_else(|| {
                self.include
                    .iter()
                    .any(|p| glob_matches(p, class.internal_name))
                    .then_some(ClassKind::Included)
            })
            .or_else(|| {
                (class.runtime_defined && !class.loader.bootstrap)
                    .then_some(ClassKind::RuntimeDefined)
            })
            .or_else(|| (self.mode == CaptureMode::All).then_some(ClassKind::Ordinary))
    }
}

const ACCESSOR_PACKAGES: [&str; 2] = ["jdk/internal/reflect/", "sun/reflect/"];
const ACCESSOR_PREFIXES: [&str; 3] = [
    "GeneratedMethodAccessor",
    "GeneratedConstructorAccessor",
    "GeneratedSerializationConstructorAccessor",
];

/// Kinds recognised from the name and the loader alone.
fn generated_kind(class: &ClassFacts<'_>) -> Option<ClassKind> {
    kind_by_name(class.internal_name)
        .or_else(|| class.loader.dynamic.then_some(ClassKind::DynamicLoader))
}

/// Kinds recognised from the name alone (generators' naming patterns: a
/// fast path; the code-source check finds the rest).
fn kind_by_name(name: &str) -> Option<ClassKind> {
    let simple = simple_name(name);

    if ACCESSOR_PACKAGES
        .iter()
        .any(|pkg| name.starts_with(pkg) && !name[pkg.len()..].contains('/'))
        && ACCESSOR_PREFIXES.iter().any(|p| simple.starts_with(p))
    {
        return Some(ClassKind::ReflectionAccessor);
    }
    if name.contains("$$Lambda") {
        return Some(ClassKind::Lambda);
    }
    if is_lambda_form_name(name) {
        return Some(ClassKind::LambdaForm);
    }
    if is_proxy_name(simple) {
        return Some(ClassKind::Proxy);
    }
    if name.contains("CGLIB$$") {
        return Some(ClassKind::Cglib);
    }
    if name.contains("_$$_jvst") || name.contains("$$_javassist") {
        return Some(ClassKind::Javassist);
    }
    if name.contains("$ByteBuddy$") || name.contains("$$ByteBuddy") {
        return Some(ClassKind::ByteBuddy);
    }
    if is_script_name(name) {
        return Some(ClassKind::Script);
    }
    if is_hidden_name(name) {
        return Some(ClassKind::Hidden);
    }
    None
}

fn simple_name(internal_name: &str) -> &str {
    internal_name.rsplit('/').next().unwrap_or(internal_name)
}

/// `$Proxy12` in `com/sun/proxy`, `jdk/proxy1` or a user package.
fn is_proxy_name(simple: &str) -> bool {
    simple
        .strip_prefix("$Proxy")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Spun LambdaForm classes are `LambdaForm$MH`, `$DMH`, `$BMH`... (hidden on
/// JDK 15+); `LambdaForm$Name`, `$Kind`, `$Holder` are ordinary JDK classes.
fn is_lambda_form_name(name: &str) -> bool {
    name.strip_prefix("java/lang/invoke/LambdaForm$")
        .is_some_and(|rest| {
            let base = rest.split('.').next().unwrap_or(rest);
            !base.is_empty() && base.bytes().all(|b| b.is_ascii_uppercase())
        })
}

fn is_script_name(name: &str) -> bool {
    const SCRIPT_PREFIXES: [&str; 3] = [
        "jdk/nashorn/internal/scripts/Script$",
        "org/openjdk/nashorn/internal/scripts/Script$",
        "org/mozilla/javascript/gen/",
    ];
    if SCRIPT_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    // Groovy's GroovyShell names scripts `Script<N>` in the default package.
    name.strip_prefix("Script")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// JVMTI spells a hidden class `Name.0x<address>` (Class.getName: `Name/0x...`).
pub fn is_hidden_name(internal_name: &str) -> bool {
    internal_name.rfind(".0x").is_some_and(|i| {
        let suffix = &internal_name[i + 3..];
        !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Loader classes (binary names) that exist to define generated code.
pub fn is_dynamic_loader_type(binary_name: &str) -> bool {
    const EXACT: [&str; 10] = [
        "jdk.internal.reflect.DelegatingClassLoader",
        "sun.reflect.DelegatingClassLoader",
        "groovy.lang.GroovyClassLoader",
        "groovy.lang.GroovyClassLoader$InnerLoader",
        "org.codehaus.groovy.runtime.callsite.CallSiteClassLoader",
        "org.codehaus.groovy.reflection.SunClassLoader",
        "org.mozilla.javascript.DefiningClassLoader",
        "jdk.nashorn.internal.runtime.ScriptLoader",
        "org.openjdk.nashorn.internal.runtime.ScriptLoader",
        "jdk.nashorn.internal.runtime.StructureLoader",
    ];
    EXACT.contains(&binary_name) || binary_name.ends_with("DynamicClassLoader")
}

/// `*` matches any run of characters (including none); everything else is literal.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// `Lcom/acme/Foo;` -> `com/acme/Foo`; array and primitive signatures -> `None`.
pub fn internal_name_from_signature(signature: &str) -> Option<&str> {
    signature.strip_prefix('L')?.strip_suffix(';')
}

/// Internal name -> the binary name `Class.getName()` prints
/// (`com/acme/Foo$$Lambda$1.0x08` -> `com.acme.Foo$$Lambda$1/0x08`).
pub fn binary_name(internal_name: &str) -> String {
    let mut name = internal_name.replace('/', ".");
    if is_hidden_name(internal_name) {
        if let Some(i) = name.rfind(".0x") {
            name.replace_range(i..i + 1, "/");
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(name: &str) -> Option<ClassKind> {
        kind_with(
            name,
            LoaderFacts::default(),
            false,
            CaptureMode::Dynamic,
            &[],
        )
    }

    fn kind_with(
        name: &str,
        loader: LoaderFacts,
        runtime_defined: bool,
        mode: CaptureMode,
        include: &[&str],
    ) -> Option<ClassKind> {
        let include: Vec<String> = include.iter().map(|s| s.to_string()).collect();
        Classifier::new(mode, &include).classify(&ClassFacts {
            internal_name: name,
            loader,
            runtime_defined,
        })
    }

    #[test]
    fn reflection_accessors_in_both_packages() {
        for name in [
            "jdk/internal/reflect/GeneratedMethodAccessor12",
            "sun/reflect/GeneratedMethodAccessor1",
            "jdk/internal/reflect/GeneratedConstructorAccessor3",
            "sun/reflect/GeneratedSerializationConstructorAccessor44",
        ] {
            assert_eq!(kind_of(name), Some(ClassKind::ReflectionAccessor), "{name}");
        }
        assert_eq!(kind_of("com/acme/GeneratedMethodAccessor1"), None);
        assert_eq!(
            kind_of("jdk/internal/reflect/MethodAccessorGenerator"),
            None
        );
    }

    #[test]
    fn names_of_generators() {
        let cases = [
            (
                "com/acme/Foo$$Lambda$14.0x0000000800c03000",
                ClassKind::Lambda,
            ),
            ("com/acme/Foo$$Lambda$14", ClassKind::Lambda),
            (
                "java/lang/invoke/LambdaForm$MH.0x0000000800c04400",
                ClassKind::LambdaForm,
            ),
            (
                "java/lang/invoke/LambdaForm$DMH.0x0000000800c04800",
                ClassKind::LambdaForm,
            ),
            ("java/lang/invoke/LambdaForm$MH", ClassKind::LambdaForm),
            ("com/sun/proxy/$Proxy12", ClassKind::Proxy),
            ("jdk/proxy2/$Proxy7", ClassKind::Proxy),
            ("com/acme/Svc$$EnhancerByCGLIB$$1a2b3c", ClassKind::Cglib),
            ("com/acme/Svc$$EnhancerBySpringCGLIB$$9f", ClassKind::Cglib),
            ("com/acme/Svc$$FastClassByCGLIB$$77", ClassKind::Cglib),
            ("com/acme/Svc$$SpringCGLIB$$0", ClassKind::Cglib),
            ("com/acme/Svc_$$_jvst1a2_0", ClassKind::Javassist),
            ("com/acme/Svc$ByteBuddy$abc123", ClassKind::ByteBuddy),
            (
                "jdk/nashorn/internal/scripts/Script$Recompilation$12$^eval_",
                ClassKind::Script,
            ),
            ("org/mozilla/javascript/gen/c42", ClassKind::Script),
            ("Script17", ClassKind::Script),
            ("com/acme/Hid.0x0000000800c01000", ClassKind::Hidden),
        ];
        for (name, kind) in cases {
            assert_eq!(kind_of(name), Some(kind), "{name}");
        }
        for ordinary in [
            "com/acme/Script",
            "Scripts",
            "com/acme/$ProxyFactory",
            "com/acme/Foo",
            "java/lang/String",
            "com/acme/Version.0xZZ",
            "java/lang/invoke/LambdaForm$NamedFunction",
            "java/lang/invoke/LambdaForm$Kind",
        ] {
            assert_eq!(kind_of(ordinary), None, "{ordinary}");
        }
    }

    #[test]
    fn loader_and_code_source_rules() {
        let dynamic = LoaderFacts {
            bootstrap: false,
            dynamic: true,
        };
        assert_eq!(
            kind_with("com/acme/Ser_1", dynamic, false, CaptureMode::Dynamic, &[]),
            Some(ClassKind::DynamicLoader)
        );
        let app = LoaderFacts::default();
        assert_eq!(
            kind_with("com/acme/Gen1", app, true, CaptureMode::Dynamic, &[]),
            Some(ClassKind::RuntimeDefined)
        );
        let boot = LoaderFacts {
            bootstrap: true,
            dynamic: false,
        };
        assert_eq!(
            kind_with("com/acme/Gen1", boot, true, CaptureMode::Dynamic, &[]),
            None
        );
        assert_eq!(
            kind_with("com/acme/Foo", app, false, CaptureMode::All, &[]),
            Some(ClassKind::Ordinary)
        );
        assert_eq!(
            kind_with(
                "com/acme/gen/Foo",
                app,
                false,
                CaptureMode::Dynamic,
                &["com.acme.gen.*"]
            ),
            Some(ClassKind::Included)
        );
    }

    #[test]
    fn dynamic_loader_types() {
        assert!(is_dynamic_loader_type(
            "jdk.internal.reflect.DelegatingClassLoader"
        ));
        assert!(is_dynamic_loader_type(
            "com.alibaba.fastjson2.util.DynamicClassLoader"
        ));
        assert!(is_dynamic_loader_type(
            "groovy.lang.GroovyClassLoader$InnerLoader"
        ));
        assert!(!is_dynamic_loader_type(
            "jdk.internal.loader.ClassLoaders$AppClassLoader"
        ));
        assert!(!is_dynamic_loader_type("java.net.URLClassLoader"));
    }

    #[test]
    fn glob() {
        assert!(glob_matches("com/acme/*", "com/acme/Foo"));
        assert!(glob_matches("*Gen*", "com/acme/GenFoo"));
        assert!(glob_matches("com/*/Foo", "com/acme/Foo"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
        assert!(!glob_matches("com/*/Foo", "com/acme/Bar"));
        assert!(!glob_matches("a*bb", "ab"));
    }

    #[test]
    fn names() {
        assert_eq!(
            internal_name_from_signature("Lcom/acme/Foo;"),
            Some("com/acme/Foo")
        );
        assert_eq!(internal_name_from_signature("[I"), None);
        assert_eq!(binary_name("com/acme/Foo$Bar"), "com.acme.Foo$Bar");
        assert_eq!(
            binary_name("com/acme/Foo$$Lambda$1.0x0000000800c01000"),
            "com.acme.Foo$$Lambda$1/0x0000000800c01000"
        );
    }
}
