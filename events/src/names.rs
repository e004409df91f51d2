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
/// naming patterns.
pub fn kind_by_name(name: &str) -> Option<ClassKind> {
    let simple = simple_name(name);

    if ACCESSOR_PACKAGES
        .iter()
        .any(|pkg| name.starts_with(pkg) && !name[pkg.len()..].contains('/'))
        && ACCESSOR_PREFIXES.iter().any(|p| simple.starts_with(p))
    {
        return Some(ClassKind::ReflectionAccessor);
    }
    // Every pattern below but the scripts' and hidden classes' has a `$`:
    // most names (the application's own) are told apart by one memchr.
    if !name.contains('$') {
        return if is_script_name(name) {
            Some(ClassKind::Script)
        } else if is_hidden_name(name) {
            Some(ClassKind::Hidden)
        } else {
            None
        };
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
    // The suffix has no `.`: it follows the last one (one memrchr).
    internal_name.rfind('.').is_some_and(|i| {
        internal_name[i..]
            .strip_prefix(".0x")
            .is_some_and(|suffix| {
                !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_hexdigit())
            })
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

/// The internal form of a binary name (`Class.getName()`), into `out`
/// (cleared first): `.` becomes `/`, and a hidden class's `/0x<address>`
/// suffix (or JDK 11's `/<hash>` of a VM-anonymous class) becomes
/// `.0x<address>` (`.<hash>`), as JVMTI spells them.
pub fn internal_name_into(binary_name: &str, hidden: bool, out: &mut String) {
    out.clear();
    let split = hidden.then(|| binary_name.rfind('/')).flatten();
    let (base, suffix) = match split {
        Some(i) => (&binary_name[..i], Some(&binary_name[i + 1..])),
        None => (binary_name, None),
    };
    // Byte by byte (`.` and `/` are ASCII, so the text stays valid UTF-8),
    // reusing `out`'s memory.
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.extend(base.bytes().map(|b| if b == b'.' { b'/' } else { b }));
    *out = String::from_utf8(bytes)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    if let Some(suffix) = suffix {
        out.push('.');
        out.push_str(suffix);
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
        let mut out = String::new();
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
            assert_eq!(out, internal);
        }
        internal_name_into("java.lang.invoke.LambdaForm$MH/243194708", true, &mut out);
        assert_eq!(kind_by_name(&out), Some(ClassKind::LambdaForm));
        internal_name_into("com.acme.Hid/0x0000000800c01000", true, &mut out);
        assert_eq!(kind_by_name(&out), Some(ClassKind::Hidden));
    }
}
