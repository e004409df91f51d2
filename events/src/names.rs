//! What a class's name and its loader's type say about it: the naming
//! patterns of the generators (reflection accessors, proxies, lambdas,
//! CGLIB, script engines...) and the loader types that exist to define
//! generated code.
//!
//! One home for these rules, shared by the agent (which asks for every
//! class the JVM loads, on the JVM's internal name, so nothing here
//! allocates) and the CLI (which classifies a JFR recording's classes by
//! name and loader, JFR having no class bytes or code sources).
//!
//! Names are in internal form, `com/acme/Foo$Bar`; a hidden class ends in
//! `.0x<address>` as JVMTI spells it (`Class.getName()` says `/0x...`):
//! [`internal_name_into`] turns a binary name into this form.

use crate::ClassKind;

const ACCESSOR_PACKAGES: [&str; 2] = ["jdk/internal/reflect/", "sun/reflect/"];
const ACCESSOR_PREFIXES: [&str; 3] = [
    "GeneratedMethodAccessor",
    "GeneratedConstructorAccessor",
    "GeneratedSerializationConstructorAccessor",
];

/// Kinds recognised from the (internal) name alone: the generators'
/// naming patterns. Called for every class the JVM loads, so each name is
/// looked at in one pass where it can be: prefixes first (each rejected at
/// its first byte, for most names), then the patterns with a `$` at the
/// `$`s the name has. Works on the name's bytes (every pattern is ASCII),
/// so a name need not be checked as text first.
pub fn kind_by_name(name: &(impl AsRef<[u8]> + ?Sized)) -> Option<ClassKind> {
    let name = name.as_ref();
    if ACCESSOR_PACKAGES.iter().any(|pkg| {
        strip_prefix(name, pkg).is_some_and(|simple| {
            !simple.contains(&b'/') && ACCESSOR_PREFIXES.iter().any(|p| has_prefix(simple, p))
        })
    }) {
        return Some(ClassKind::ReflectionAccessor);
    }
    // Every pattern below but the scripts' and hidden classes' has a `$`:
    // most names (the application's own) are told apart by one memchr.
    if !name.contains(&b'$') {
        return if is_script_name(name) {
            Some(ClassKind::Script)
        } else if is_hidden_name(name) {
            Some(ClassKind::Hidden)
        } else {
            None
        };
    }
    let found = DollarPatterns::find(name);
    if found.lambda {
        return Some(ClassKind::Lambda);
    }
    if is_lambda_form_name(name) {
        return Some(ClassKind::LambdaForm);
    }
    if is_proxy_name(name) {
        return Some(ClassKind::Proxy);
    }
    if found.cglib {
        return Some(ClassKind::Cglib);
    }
    if found.javassist {
        return Some(ClassKind::Javassist);
    }
    if found.byte_buddy {
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

/// `name` starts with `prefix`; a different first byte (most names) is
/// answered without a call to compare the rest.
fn has_prefix(name: &[u8], prefix: &str) -> bool {
    let prefix = prefix.as_bytes();
    name.first() == prefix.first() && name.starts_with(prefix)
}

fn strip_prefix<'a>(name: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    has_prefix(name, prefix).then(|| &name[prefix.len()..])
}

/// Which generators' `$` patterns occur in a name (anywhere, as
/// `str::contains` would find them).
#[derive(Default)]
struct DollarPatterns {
    lambda: bool,
    cglib: bool,
    javassist: bool,
    byte_buddy: bool,
}

impl DollarPatterns {
    /// Each pattern is tried where its first `$` would be: at every `$`
    /// of the name, so one pass finds all of them.
    fn find(name: &[u8]) -> DollarPatterns {
        // (pattern, index of its first `$`)
        let at = |dollar: usize, pattern: &[u8], first_dollar: usize| {
            dollar
                .checked_sub(first_dollar)
                .is_some_and(|start| name[start..].starts_with(pattern))
        };
        let mut found = DollarPatterns::default();
        for (i, _) in name.iter().enumerate().filter(|(_, b)| **b == b'$') {
            found.lambda |= at(i, b"$$Lambda", 0);
            found.cglib |= at(i, b"CGLIB$$", 5);
            found.javassist |= at(i, b"_$$_jvst", 1) || at(i, b"$$_javassist", 0);
            found.byte_buddy |= at(i, b"$ByteBuddy$", 0) || at(i, b"$$ByteBuddy", 0);
        }
        found
    }
}

/// `$Proxy12` in `com/sun/proxy`, `jdk/proxy2` or a user package: the
/// simple name (after the last `/`), read from the end.
fn is_proxy_name(name: &[u8]) -> bool {
    let digits = name.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let rest = &name[..name.len() - digits];
    digits > 0
        && rest
            .strip_suffix(b"$Proxy")
            .is_some_and(|package| package.is_empty() || package.ends_with(b"/"))
}

/// Spun LambdaForm classes are `LambdaForm$MH`, `$DMH`, `$BMH`... (hidden on
/// JDK 15+); `LambdaForm$Name`, `$Kind`, `$Holder` are ordinary JDK classes.
fn is_lambda_form_name(name: &[u8]) -> bool {
    strip_prefix(name, "java/lang/invoke/LambdaForm$").is_some_and(|rest| {
        let base = rest.split(|&b| b == b'.').next().unwrap_or(rest);
        !base.is_empty() && base.iter().all(u8::is_ascii_uppercase)
    })
}

fn is_script_name(name: &[u8]) -> bool {
    const SCRIPT_PREFIXES: [&str; 3] = [
        "jdk/nashorn/internal/scripts/Script$",
        "org/openjdk/nashorn/internal/scripts/Script$",
        "org/mozilla/javascript/gen/",
    ];
    if SCRIPT_PREFIXES.iter().any(|p| has_prefix(name, p)) {
        return true;
    }
    // Groovy's GroovyShell names scripts `Script<N>` in the default package.
    strip_prefix(name, "Script").is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
}

/// JVMTI spells a hidden class `Name.0x<address>` (Class.getName: `Name/0x...`).
pub fn is_hidden_name(internal_name: &(impl AsRef<[u8]> + ?Sized)) -> bool {
    let name = internal_name.as_ref();
    // Read from the end: hex digits, then `.0x` (`x` is not a hex digit,
    // so the digits stop right after it).
    let digits = name
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_hexdigit())
        .count();
    digits > 0 && name[..name.len() - digits].ends_with(b".0x")
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

/// The internal form of a binary name (`Class.getName()`), into `out`
/// (cleared first) as bytes, for [`kind_by_name`]: `.` becomes `/`, and a
/// hidden class's `/0x<address>` suffix (or JDK 11's `/<hash>` of a
/// VM-anonymous class) becomes `.0x<address>` (`.<hash>`), as JVMTI spells
/// them. Valid text stays valid (only ASCII bytes change).
pub fn internal_name_into(binary_name: &str, hidden: bool, out: &mut Vec<u8>) {
    out.clear();
    let name = binary_name.as_bytes();
    let split = hidden
        .then(|| name.iter().rposition(|&b| b == b'/'))
        .flatten();
    let (base, suffix) = match split {
        Some(i) => (&name[..i], Some(&name[i + 1..])),
        None => (name, None),
    };
    out.extend(base.iter().map(|&b| if b == b'.' { b'/' } else { b }));
    if let Some(suffix) = suffix {
        out.push(b'.');
        out.extend_from_slice(suffix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflection_accessors_in_both_packages() {
        for name in [
            "jdk/internal/reflect/GeneratedMethodAccessor12",
            "sun/reflect/GeneratedMethodAccessor1",
            "jdk/internal/reflect/GeneratedConstructorAccessor3",
            "sun/reflect/GeneratedSerializationConstructorAccessor44",
        ] {
            assert_eq!(
                kind_by_name(name),
                Some(ClassKind::ReflectionAccessor),
                "{name}"
            );
        }
        assert_eq!(kind_by_name("com/acme/GeneratedMethodAccessor1"), None);
        assert_eq!(
            kind_by_name("jdk/internal/reflect/MethodAccessorGenerator"),
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
            assert_eq!(kind_by_name(name), Some(kind), "{name}");
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
            assert_eq!(kind_by_name(ordinary), None, "{ordinary}");
        }
    }

    /// The rules as first written (a search per pattern), to check the
    /// one-pass version against.
    fn kind_by_name_as_first_written(name: &str) -> Option<ClassKind> {
        let simple = name.rsplit('/').next().unwrap_or(name);
        let proxy = simple
            .strip_prefix("$Proxy")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let hidden = name.rfind('.').is_some_and(|i| {
            name[i..].strip_prefix(".0x").is_some_and(|suffix| {
                !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit())
            })
        });
        if ACCESSOR_PACKAGES
            .iter()
            .any(|pkg| name.starts_with(pkg) && !name[pkg.len()..].contains('/'))
            && ACCESSOR_PREFIXES.iter().any(|p| simple.starts_with(p))
        {
            Some(ClassKind::ReflectionAccessor)
        } else if name.contains("$$Lambda") {
            Some(ClassKind::Lambda)
        } else if is_lambda_form_name(name.as_bytes()) {
            Some(ClassKind::LambdaForm)
        } else if proxy {
            Some(ClassKind::Proxy)
        } else if name.contains("CGLIB$$") {
            Some(ClassKind::Cglib)
        } else if name.contains("_$$_jvst") || name.contains("$$_javassist") {
            Some(ClassKind::Javassist)
        } else if name.contains("$ByteBuddy$") || name.contains("$$ByteBuddy") {
            Some(ClassKind::ByteBuddy)
        } else if is_script_name(name.as_bytes()) {
            Some(ClassKind::Script)
        } else if hidden {
            Some(ClassKind::Hidden)
        } else {
            None
        }
    }

    proptest::proptest! {
        /// Names built from the pieces the rules look for, in any order.
        #[test]
        fn one_pass_classification_agrees_with_a_search_per_pattern(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "com/", "acme/", "/", ".", "$", "$$", "Lambda", "CGLIB", "_", "jvst",
                    "javassist", "ByteBuddy", "$Proxy", "Proxy", "0x", "0x1f", "AB", "12",
                    "x", "Script", "Foo", "jdk/internal/reflect/", "sun/reflect/",
                    "GeneratedMethodAccessor", "java/lang/invoke/LambdaForm$", "MH",
                    "org/mozilla/javascript/gen/", "é",
                ]),
                0..8,
            )
        ) {
            let name = pieces.concat();
            proptest::prop_assert_eq!(kind_by_name(&name), kind_by_name_as_first_written(&name), "{}", name);
        }
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
    fn binary_names_in_internal_form_classify_as_jvmti_names_do() {
        let mut out = Vec::new();
        let cases = [
            ("com.acme.Foo$Bar", false, "com/acme/Foo$Bar"),
            (
                "java.lang.invoke.LambdaForm$MH/0x0000000100141800",
                true,
                "java/lang/invoke/LambdaForm$MH.0x0000000100141800",
            ),
            // JDK 11's VM-anonymous classes, as JFR names them.
            (
                "java.lang.invoke.LambdaForm$MH/243194708",
                true,
                "java/lang/invoke/LambdaForm$MH.243194708",
            ),
            ("Script3", false, "Script3"),
        ];
        for (binary, hidden, internal) in cases {
            internal_name_into(binary, hidden, &mut out);
            assert_eq!(out, internal.as_bytes());
        }
        internal_name_into("java.lang.invoke.LambdaForm$MH/243194708", true, &mut out);
        assert_eq!(kind_by_name(&out), Some(ClassKind::LambdaForm));
        internal_name_into("com.acme.Hid/0x0000000800c01000", true, &mut out);
        assert_eq!(kind_by_name(&out), Some(ClassKind::Hidden));
    }
}
