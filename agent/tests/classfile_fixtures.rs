//! Decodes the reflection accessors that real JDKs (11, 17, 21) generated
//! for tests/fixtures/FixtureSource.java, checks them against `javap`, and
//! checks fingerprints of real generated classes. Regenerate the fixtures
//! with tests/fixtures/regenerate.sh.

use metascope_agent::classfile::{accessor_target, fingerprint, this_class_name, AccessorTarget};
use std::path::{Path, PathBuf};
use std::process::Command;

const JDKS: [&str; 3] = ["jdk11", "jdk17", "jdk21"];

/// Fixture file stem -> the expected `Display` of its target.
const ACCESSORS: &[(&str, &str)] = &[
    ("method_getId", "com.acme.Order.getId()J"),
    ("method_getQty", "com.acme.Order.getQty()I"),
    (
        "method_getName",
        "com.acme.Order.getName()Ljava/lang/String;",
    ),
    ("method_setQty", "com.acme.Order.setQty(I)V"),
    (
        "static_of",
        "com.acme.Order.of(JLjava/lang/String;)Lcom/acme/Order;",
    ),
    ("interface_price", "com.acme.Priced.price()D"),
    (
        "private_check",
        "com.acme.Order.check(BCSFDZ[Ljava/lang/Object;)Z",
    ),
    ("nested_total", "com.acme.FixtureSource$Line.total(II)I"),
    (
        "static_Integer_valueOf",
        "java.lang.Integer.valueOf(I)Ljava/lang/Integer;",
    ),
    ("method_Integer_intValue", "java.lang.Integer.intValue()I"),
    (
        "interface_List_add",
        "java.util.List.add(Ljava/lang/Object;)Z",
    ),
    ("ctor_OrderDto", "new com.acme.OrderDto()"),
    ("ctor_Money", "new com.acme.Money(JLjava/lang/String;)"),
    ("ctor_Object", "new java.lang.Object()"),
    ("serial_Order", "new com.acme.Order() via com.acme.Base()"),
    (
        "serial_Money",
        "new com.acme.Money() via java.lang.Object()",
    ),
];

const PROXIES: [&str; 3] = ["proxy_Priced_1", "proxy_Priced_2", "proxy_Named"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn read(jdk: &str, stem: &str) -> Vec<u8> {
    let path = fixtures().join(jdk).join(format!("{stem}.class"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture file in a JDK directory, by stem.
fn all_fixtures(jdk: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures().join(jdk))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "class"))
        .map(|p| {
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_is_known() {
    for jdk in JDKS {
        let stems: Vec<String> = all_fixtures(jdk).into_iter().map(|(s, _)| s).collect();
        let mut expected: Vec<String> = ACCESSORS
            .iter()
            .map(|(s, _)| s.to_string())
            .chain(PROXIES.iter().map(|s| s.to_string()))
            .collect();
        expected.sort();
        assert_eq!(stems, expected, "{jdk}");
    }
}

#[test]
fn decodes_every_accessor_fixture() {
    for jdk in JDKS {
        for (stem, expected) in ACCESSORS {
            let bytes = read(jdk, stem);
            let name = this_class_name(&bytes).unwrap();
            assert!(
                name.starts_with("jdk/internal/reflect/Generated"),
                "{jdk}/{stem}: {name}"
            );
            let target =
                accessor_target(&bytes).unwrap_or_else(|| panic!("{jdk}/{stem}: not decoded"));
            assert_eq!(target.to_string(), *expected, "{jdk}/{stem}");
            let kind = match target {
                AccessorTarget::Method { .. } => "GeneratedMethodAccessor",
                AccessorTarget::Constructor { .. } => "GeneratedConstructorAccessor",
                AccessorTarget::SerializationConstructor { .. } => {
                    "GeneratedSerializationConstructorAccessor"
                }
            };
            let suffix = &name["jdk/internal/reflect/".len()..];
            assert!(
                suffix.starts_with(kind)
                    && suffix[kind.len()..].bytes().all(|b| b.is_ascii_digit()),
                "{jdk}/{stem}: {name} is not a {kind}"
            );
        }
    }
}

#[test]
fn proxies_are_not_accessors() {
    for jdk in JDKS {
        for stem in PROXIES {
            assert_eq!(accessor_target(&read(jdk, stem)), None, "{jdk}/{stem}");
        }
    }
}

/// `owner.name:descriptor` with dots for slashes, as `javap -c` names an
/// invoked member (`// Method com/acme/Base."<init>":()V`), and the class
/// a constructor makes.
fn member_of(target: &AccessorTarget<'_>) -> (String, Option<String>) {
    let (member, made) = match target {
        AccessorTarget::Method {
            class,
            name,
            descriptor,
        } => (format!("{class}.{name}:{descriptor}"), None),
        AccessorTarget::Constructor { class, descriptor } => {
            (format!("{class}.<init>:{descriptor}"), Some(class))
        }
        AccessorTarget::SerializationConstructor {
            class,
            via,
            descriptor,
        } => (format!("{via}.<init>:{descriptor}"), Some(class)),
    };
    (member.replace('/', "."), made.map(|c| c.replace('/', ".")))
}

/// The member in a javap `// Method ...` / `// InterfaceMethod ...` comment.
fn javap_member(line: &str) -> Option<String> {
    let comment = line.split("// ").nth(1)?;
    let member = comment
        .strip_prefix("Method ")
        .or_else(|| comment.strip_prefix("InterfaceMethod "))?;
    Some(member.trim().replace('"', "").replace('/', "."))
}

#[test]
fn agrees_with_javap() {
    if Command::new("javap").arg("-version").output().is_err() {
        println!("skipped: no javap on PATH (install a JDK to compare with javap)");
        return;
    }
    let mut compared = 0;
    for jdk in JDKS {
        // One javap for all of a JDK's accessors: it prints them in order,
        // each starting with its `public class ...` line.
        let paths: Vec<PathBuf> = ACCESSORS
            .iter()
            .map(|(stem, _)| fixtures().join(jdk).join(format!("{stem}.class")))
            .collect();
        let out = Command::new("javap")
            .arg("-c")
            .arg("-p")
            .args(&paths)
            .output()
            .unwrap();
        assert!(out.status.success(), "javap on {jdk}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        let mut classes: Vec<String> = Vec::new();
        for line in stdout.lines() {
            if line.starts_with("public class ") {
                classes.push(String::new());
            }
            if let Some(class) = classes.last_mut() {
                class.push_str(line);
                class.push('\n');
            }
        }
        assert_eq!(
            classes.len(),
            ACCESSORS.len(),
            "{jdk}: javap printed\n{stdout}"
        );
        for (((stem, _), path), text) in ACCESSORS.iter().zip(&paths).zip(&classes) {
            let bytes = std::fs::read(path).unwrap();
            let (member, made) = member_of(&accessor_target(&bytes).unwrap());

            // The entry point: `invoke(...)` or `newInstance(...)`, up to
            // the next blank line.
            let body: Vec<&str> = text
                .lines()
                .skip_while(|l| !l.contains(" invoke(") && !l.contains(" newInstance("))
                .take_while(|l| !l.trim().is_empty())
                .collect();
            // 1. javap shows the decoded member among the entry point's calls.
            let invoked: Vec<String> = body
                .iter()
                .filter(|l| l.contains(": invoke"))
                .filter_map(|l| javap_member(l))
                .collect();
            assert!(
                invoked.contains(&member),
                "{jdk}/{stem}: {member} not in {invoked:?}"
            );
            // 2. It is the call at the start of the Throwable handler's range.
            let from = body
                .iter()
                .find(|l| l.trim_end().ends_with("Class java/lang/Throwable"))
                .and_then(|l| l.split_whitespace().next())
                .unwrap_or_else(|| panic!("{jdk}/{stem}: no Throwable handler"));
            let at_handler = body
                .iter()
                .find(|l| l.trim_start().starts_with(&format!("{from}: invoke")))
                .and_then(|l| javap_member(l));
            assert_eq!(at_handler.as_deref(), Some(member.as_str()), "{jdk}/{stem}");
            // 3. Constructors: the class made by the `new` at offset 0.
            if let Some(made) = made {
                let new = body
                    .iter()
                    .find(|l| l.trim_start().starts_with("0: new"))
                    .and_then(|l| l.split("// class ").nth(1))
                    .map(|c| c.trim().replace('/', "."));
                assert_eq!(new.as_deref(), Some(made.as_str()), "{jdk}/{stem}");
            }
            compared += 1;
        }
    }
    assert_eq!(compared, ACCESSORS.len() * JDKS.len());
}

#[test]
fn same_proxy_code_same_fingerprint() {
    for jdk in JDKS {
        let a = read(jdk, "proxy_Priced_1");
        let b = read(jdk, "proxy_Priced_2");
        assert_ne!(this_class_name(&a), this_class_name(&b), "{jdk}");
        assert_ne!(a, b, "{jdk}: the fixtures differ (in the name)");
        let fa = fingerprint(&a).unwrap();
        assert_eq!(Some(fa), fingerprint(&b), "{jdk}");
        assert_ne!(Some(fa), fingerprint(&read(jdk, "proxy_Named")), "{jdk}");
    }
}

#[test]
fn different_code_different_fingerprint() {
    for jdk in JDKS {
        let mut seen = std::collections::HashMap::new();
        for (stem, bytes) in all_fixtures(jdk) {
            let print = fingerprint(&bytes).unwrap_or_else(|| panic!("{jdk}/{stem}"));
            // Only the two Priced proxies share code.
            let group = if stem.starts_with("proxy_Priced") {
                "proxy_Priced".to_string()
            } else {
                stem.clone()
            };
            if let Some(other) = seen.insert(print, group.clone()) {
                assert_eq!(other, group, "{jdk}: {stem} collides with {other}");
            }
        }
        assert_eq!(seen.len(), ACCESSORS.len() + 2, "{jdk}");
    }
}

fn script(n: u32) -> Vec<u8> {
    std::fs::read(fixtures().join(format!("fingerprint/Script{n}.class"))).unwrap()
}

#[test]
fn scripts_fingerprint_by_code() {
    let (s3, s4, s5, s6) = (script(3), script(4), script(5), script(6));
    assert_eq!(this_class_name(&s3), Some("Script3"));
    // Same code, other name (also in the SourceFile "Script4.java").
    assert_eq!(fingerprint(&s3), fingerprint(&s4));
    assert!(fingerprint(&s3).is_some());
    // Another string constant, another method body.
    assert_ne!(fingerprint(&s3), fingerprint(&s5));
    assert_ne!(fingerprint(&s3), fingerprint(&s6));
    assert_ne!(fingerprint(&s5), fingerprint(&s6));
}

/// The class file with its `this_class` name (a Utf8 entry equal to the
/// name) replaced by `new_name`, which may have another length.
fn renamed(bytes: &[u8], old_name: &str, new_name: &str) -> Vec<u8> {
    let mut needle = (old_name.len() as u16).to_be_bytes().to_vec();
    needle.extend_from_slice(old_name.as_bytes());
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_slice())
        .unwrap();
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(&(new_name.len() as u16).to_be_bytes());
    out.extend_from_slice(new_name.as_bytes());
    out.extend_from_slice(&bytes[at + needle.len()..]);
    out
}

#[test]
fn accessor_renumbered_keeps_fingerprint_and_target() {
    for jdk in JDKS {
        for (stem, expected) in ACCESSORS {
            let bytes = read(jdk, stem);
            let name = this_class_name(&bytes).unwrap().to_string();
            let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
            let other = renamed(&bytes, &name, &format!("{base}12345"));
            assert_eq!(
                this_class_name(&other),
                Some(format!("{base}12345").as_str())
            );
            assert_eq!(fingerprint(&bytes), fingerprint(&other), "{jdk}/{stem}");
            assert_eq!(
                accessor_target(&other).map(|t| t.to_string()).as_deref(),
                Some(*expected)
            );
        }
    }
}

/// FNV-1a without a seed: the same value in every run, process and
/// machine, so recordings made at different times can be compared. Pinned:
/// a change of the fingerprint's definition must show up here.
#[test]
fn fingerprint_is_a_fixed_value() {
    assert_eq!(fingerprint(&script(3)), Some(0x1ef4_dddf_b4de_a238));
}
