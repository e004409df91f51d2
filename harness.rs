//! The Java reproduction programs metascope is tested against (and that
//! `metascope demo` runs), compiled by `build.rs` from `java-harness/src`
//! into one jar.
//!
//! Every program lives in package `com.acme.demo`, needs only the JDK, is
//! compiled with `javac --release 11 -g` (so it runs on JDK 11 through 25 and
//! its frames carry line numbers), and prints `harness: <name> done` as its
//! last line before exiting 0 (see [`Program::done_line`]).
//!
//! Run one with `java <jvm_args> -cp <jar> <main_class> <args>`.
//!
//! `java-harness/spring/` holds a further app that calls the real Spring
//! `BeanUtils.copyProperties`; it needs the Spring jars and is compiled by
//! the end-to-end tests, not here.

/// The compiled harness, embedded so `metascope demo` works from any directory.
pub const HARNESS_JAR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/metascope-harness.jar"));

/// Path of the jar at build time (for tests on the build machine).
pub const HARNESS_JAR_PATH: &str = concat!(env!("OUT_DIR"), "/metascope-harness.jar");

/// Absolute path of java-harness/ in the source tree.
pub const HARNESS_SOURCE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/java-harness");

/// JVM flag that brings back the pre-JEP 416 reflection implementation
/// (GeneratedMethodAccessorN classes) on JDK 18 to 21. JDK 22 removed it (the
/// property is then ignored); JDK 11 and 17 ignore it too. Add it to
/// [`COPIER`]'s `jvm_args` to see accessors on JDK 21.
pub const LEGACY_REFLECTION_ARG: &str = "-Djdk.reflect.useDirectMethodHandle=false";

/// One reproduction program in the harness jar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// Short name, as in `metascope demo <name>` and the final output line
    /// `harness: <name> done`.
    pub name: &'static str,
    /// Fully qualified main class.
    pub main_class: &'static str,
    /// JVM options the program needs to show its behaviour (before `-cp`).
    pub jvm_args: &'static [&'static str],
    /// Default program arguments (after the main class).
    pub args: &'static [&'static str],
    /// One-line description of what it reproduces.
    pub about: &'static str,
}

impl Program {
    /// The last line the program prints on success: `harness: <name> done`.
    pub fn done_line(&self) -> String {
        format!("harness: {} done", self.name)
    }

    /// Looks a program up by [`Program::name`].
    pub fn by_name(name: &str) -> Option<&'static Program> {
        PROGRAMS.iter().find(|p| p.name == name)
    }
}

/// Reflection-accessor regeneration: `com.acme.demo.BeanCopier.copy` copies a
/// 10-property bean through `Method.invoke` in rounds, with a GC per round and
/// `-XX:SoftRefLRUPolicyMSPerMB=0`, so the soft reflection data is dropped and
/// every getter and setter is inflated again: 20
/// `jdk.internal.reflect.GeneratedMethodAccessorN` per round (200 for the
/// default 10 rounds, 20 without the flag) on JDK 11 and 17, and on JDK 18-21
/// with [`LEGACY_REFLECTION_ARG`]. On JDK 18+ without it, reflection uses
/// method handles and the growth shows as `LambdaForm$MH` hidden classes.
/// The defining frames: `BeanCopier.copy(BeanCopier.java) -> Method.invoke`.
/// Argument: `[rounds]`.
pub const COPIER: Program = Program {
    name: "copier",
    main_class: "com.acme.demo.CopierDemo",
    // A small heap makes the per-round allocation reach the GC quickly and
    // keeps the run short; the LRU policy of 0 ms/MB clears every soft
    // reference not touched since the previous GC.
    jvm_args: &["-Xmx64m", "-XX:SoftRefLRUPolicyMSPerMB=0"],
    args: &["10"],
    about: "bean copier over Method.invoke under soft-reference pressure: \
            GeneratedMethodAccessor classes regenerate every round (JDK <= 17)",
};

/// fastjson2-style code generation: `com.acme.demo.JsonWriter.writerFor`
/// generates a class file per call and defines it through
/// `com.acme.demo.codegen.DynamicClassLoader.define` in one long-lived
/// loader, without a ProtectionDomain (no code source). Defines
/// `com.acme.demo.codegen.Serializer_1..N` (200 by default), never unloaded.
/// Argument: `[count]`.
pub const DYNAMIC_LOADER: Program = Program {
    name: "dynamic-loader",
    main_class: "com.acme.demo.DynamicLoaderDemo",
    jvm_args: &[],
    args: &["200"],
    about: "a generated serializer class per call, defined in one long-lived custom class loader",
};

/// Proxy classes per class loader: `com.acme.demo.ProxyDemo.newClient` calls
/// `Proxy.newProxyInstance` with a fresh isolating loader per "tenant", which
/// also defines its own copy of `com.acme.demo.OrderClient`; every call
/// defines a new `$ProxyN` (`com.sun.proxy.$ProxyN` on JDK 11,
/// `jdk.proxyN.$ProxyM` on 17+). 100 by default, kept reachable.
/// Argument: `[count]`.
pub const PROXY: Program = Program {
    name: "proxy",
    main_class: "com.acme.demo.ProxyDemo",
    jvm_args: &[],
    args: &["100"],
    about:
        "java.lang.reflect.Proxy with a fresh class loader per call: a new $Proxy class each time",
};

/// The control: reflection through cached `Method`s and proxies of one cached
/// class during warm-up (it prints `harness: steady warm-up done` after
/// it), then the same code for `[seconds]` (default 2) without defining any
/// class. A profiler should report growth during warm-up only.
pub const STEADY: Program = Program {
    name: "steady",
    main_class: "com.acme.demo.SteadyDemo",
    jvm_args: &[],
    args: &["2"],
    about: "control: reflection and proxies used correctly; nothing is defined after warm-up",
};

/// Every program in the harness jar.
pub const PROGRAMS: &[Program] = &[COPIER, DYNAMIC_LOADER, PROXY, STEADY];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_is_a_zip() {
        assert!(
            HARNESS_JAR.len() > 1024,
            "jar is only {} bytes",
            HARNESS_JAR.len()
        );
        assert_eq!(
            &HARNESS_JAR[..4],
            b"PK\x03\x04",
            "jar does not start with the zip magic"
        );
        let on_disk = std::fs::read(HARNESS_JAR_PATH).expect("jar at HARNESS_JAR_PATH");
        assert_eq!(on_disk, HARNESS_JAR);
    }

    #[test]
    fn jar_contains_every_main_class() {
        // Entry names are stored uncompressed in the zip headers.
        for program in PROGRAMS {
            let entry = format!("{}.class", program.main_class.replace('.', "/"));
            assert!(
                HARNESS_JAR
                    .windows(entry.len())
                    .any(|w| w == entry.as_bytes()),
                "{entry} missing from the harness jar"
            );
        }
    }

    #[test]
    fn programs_are_consistent() {
        assert!(std::path::Path::new(HARNESS_SOURCE_DIR)
            .join("src")
            .is_dir());
        for (i, program) in PROGRAMS.iter().enumerate() {
            assert!(program.main_class.starts_with("com.acme.demo."));
            assert_eq!(Program::by_name(program.name), Some(program));
            assert!(PROGRAMS[..i].iter().all(|p| p.name != program.name));
        }
        assert!(COPIER.jvm_args.contains(&"-XX:SoftRefLRUPolicyMSPerMB=0"));
    }

    /// Runs each program briefly on the `java` found on PATH (skipped when
    /// there is none) and checks the final line.
    #[test]
    fn programs_run_on_path_java() {
        let java = match std::process::Command::new("java").arg("-version").output() {
            Ok(out) if out.status.success() => "java",
            _ => {
                eprintln!("skipping: no java on PATH");
                return;
            }
        };
        let short_args: &[(&Program, &str)] = &[
            (&COPIER, "2"),
            (&DYNAMIC_LOADER, "10"),
            (&PROXY, "5"),
            (&STEADY, "0.2"),
        ];
        for (program, arg) in short_args {
            let out = std::process::Command::new(java)
                .args(program.jvm_args)
                .arg("-cp")
                .arg(HARNESS_JAR_PATH)
                .arg(program.main_class)
                .arg(arg)
                .output()
                .expect("run java");
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{} failed: {}\n{}",
                program.name,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                stdout.lines().last(),
                Some(program.done_line().as_str()),
                "{}",
                program.name
            );
        }
    }
}
