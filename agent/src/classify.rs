//! Deciding, for every class the JVM loads, whether it was generated at
//! run time and what generated it.
//!
//! This runs on the loading application thread for *every* class, so it
//! works on the JVM's internal name (`com/acme/Foo`) without allocating and
//! answers from a handful of prefix/substring checks. The rules on names
//! and loader types are `metascope_events::names` (the CLI applies the
//! same to JFR recordings); this adds the user's `include=` patterns, the
//! code-source check and the capture mode.

use metascope_events::names::kind_by_name;
pub use metascope_events::names::{is_dynamic_loader_type, is_hidden_name};
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

/// Kinds recognised from the name and the loader alone.
fn generated_kind(class: &ClassFacts<'_>) -> Option<ClassKind> {
    kind_by_name(class.internal_name)
        .or_else(|| class.loader.dynamic.then_some(ClassKind::DynamicLoader))
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
    let mut name = String::with_capacity(internal_name.len());
    binary_name_into(internal_name, &mut name);
    name
}

/// [`binary_name`] into a reused buffer (cleared first).
pub fn binary_name_into(internal_name: &str, name: &mut String) {
    // A byte map (it vectorises; splitting on '/' cost ~2% of a generated
    // class's capture). Swapping one ASCII byte for another keeps UTF-8
    // valid, so the conversion back never fails.
    let mut bytes = std::mem::take(name).into_bytes();
    bytes.clear();
    bytes.extend(
        internal_name
            .bytes()
            .map(|b| if b == b'/' { b'.' } else { b }),
    );
    *name = String::from_utf8(bytes).unwrap_or_default();
    if is_hidden_name(internal_name) {
        if let Some(i) = name.rfind(".0x") {
            name.replace_range(i..i + 1, "/");
        }
    }
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

    /// The name rules are metascope_events::names' (tested there); the
    /// classifier applies them first.
    #[test]
    fn names_of_generators() {
        let cases = [
            (
                "jdk/internal/reflect/GeneratedMethodAccessor12",
                ClassKind::ReflectionAccessor,
            ),
            ("com/sun/proxy/$Proxy12", ClassKind::Proxy),
            ("com/acme/Hid.0x0000000800c01000", ClassKind::Hidden),
        ];
        for (name, kind) in cases {
            assert_eq!(kind_of(name), Some(kind), "{name}");
        }
        for ordinary in ["com/acme/Foo", "java/lang/String"] {
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
        assert_eq!(binary_name("données/Grüße/Ω"), "données.Grüße.Ω");
        let mut reused = String::from("a much longer name left from the previous class");
        binary_name_into("p/Q", &mut reused);
        assert_eq!(reused, "p.Q");
    }
}
