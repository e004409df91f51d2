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
#![deny(unsafe_code)]

/// The compiled harness, embedded so `metascope demo` works from any directory.
pub const HARNESS_JAR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/metascope-harness.jar"));

/// Path of the jar at build time (for tests on the build machine).
pub const HARNESS_JAR_PATH: &str = concat!(env!("OUT_DIR"), "/metascope-harness.jar");

/// The library jars built from `java-harness/libs/<name>/` (`<name>.jar`,
/// `:`-separated), which some reproductions run with.
pub const LIBRARY_JARS: &str = env!("HARNESS_LIBRARY_JARS");

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
    /// Library jars (built from `java-harness/libs/<name>`) it needs on the
    /// class path besides the harness jar, by name (`corp-platform-1.4`).
    pub libraries: &'static [&'static str],
}

impl Program {
    /// The last line the program prints on success: `harness: <name> done`.
    pub fn done_line(&self) -> String {
        format!("harness: {} done", self.name)
    }

    /// `-cp` for the program: the harness jar and its library jars.
    pub fn classpath(&self) -> String {
        let mut parts = vec![HARNESS_JAR_PATH.to_string()];
        for library in self.libraries {
            let jar = LIBRARY_JARS
                .split(':')
                .find(|j| j.ends_with(&format!("/{library}.jar")));
            parts.extend(jar.map(str::to_string));
        }
        parts.join(":")
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
    libraries: &[],
};

/// The number of distinct accessor targets [`COPIER`] calls: the 10 getters
/// of `Order` and the 10 setters of `OrderDto`. Every accessor past these
/// is a regeneration.
pub const COPIER_TARGETS: u64 = 20;

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
    libraries: &[],
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
    libraries: &[],
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
    libraries: &[],
};

/// The reflection inflation race: `com.acme.demo.InflationRaceDemo.serve`
/// is run by 16 threads released together onto the same `Method`s, each
/// warmed up to the inflation threshold (15 calls) on the main thread, so
/// the workers all cross it at the same moment. Four rounds, each a new
/// "plugin bundle" loader with a fresh bean class (10 getters + 10 setters):
/// 80 targets. JDK 11's unsynchronised check lets several threads generate
/// a `GeneratedMethodAccessorN` for the same target (measured: 150-240
/// accessors for the 80 targets, on 2 CPUs, no GC); JDK 16+ (JDK-8255883, a
/// CAS) generates exactly 80; JDK 18+ uses method handles (no accessors).
/// The defining frames: `InflationRaceDemo.serve(InflationRaceDemo.java) ->
/// Method.invoke`, on threads `request-N`. Arguments: `[threads] [rounds]`;
/// it prints `harness: inflation-race targets N` before the done line.
pub const INFLATION_RACE: Program = Program {
    name: "inflation-race",
    main_class: "com.acme.demo.InflationRaceDemo",
    jvm_args: &[],
    args: &["16", "4"],
    about: "16 threads cross the reflection inflation threshold of the same Methods at once: \
            duplicate GeneratedMethodAccessors per target on JDK 11",
    libraries: &[],
};

/// The number of distinct accessor targets [`INFLATION_RACE`] calls with its
/// default arguments (10 getters + 10 setters of 4 bean classes).
pub const INFLATION_RACE_TARGETS: u64 = 80;

/// Per-expression compilation (a JDK-only stand-in for Groovy, Rhino,
/// Nashorn): `com.acme.demo.PricingService.evaluate` compiles every distinct
/// expression text (`price * 1.042 + 3`, the customer's numbers pasted in)
/// into its own class `Script<N>` (default package, as GroovyShell names
/// them), each defined by a fresh `com.acme.demo.expr.ScriptClassLoader`
/// through `defineScript`, and caches it by text forever. Each expression is
/// evaluated twice (the second is a cache hit). Defines `Script1..ScriptN`
/// (300 by default), none unloaded. Argument: `[customers]`.
pub const EXPRESSION: Program = Program {
    name: "expression",
    main_class: "com.acme.demo.ExpressionDemo",
    jvm_args: &[],
    args: &["300"],
    about: "a script engine compiling each distinct expression string into its own class \
            (Script<N>, a fresh loader each)",
    libraries: &[],
};

/// Class-loader churn: `com.acme.demo.PluginHost.reload` creates a new
/// `com.acme.demo.plugin.PluginLoader` per request that defines the same
/// class `com.acme.plugin.Handler` from the same bytes (through
/// `definePluginClass`) and drops it; a `System.gc()` every 40 requests
/// unloads the dropped copies. 300 requests: 300 defined, 280 unloaded, at
/// most 40 live. Arguments: `[requests] [churn|leak]`.
pub const LOADER_CHURN: Program = Program {
    name: "loader-churn",
    main_class: "com.acme.demo.LoaderChurnDemo",
    jvm_args: &[],
    args: &["300", "churn"],
    about: "a plugin reloaded per request in a new class loader, the old loader dropped: \
            the same class defined and unloaded over and over",
    libraries: &[],
};

/// Requests between two `System.gc()` calls in [`LOADER_CHURN`] and
/// [`LOADER_LEAK`] (`LoaderChurnDemo.GC_EVERY`): in churn mode at most this
/// many copies of the plugin class are live at any time.
pub const LOADER_CHURN_GC_EVERY: u64 = 40;

/// [`LOADER_CHURN`] with the loaders kept (a never-pruned list of previous
/// plugin versions): 300 copies of `com.acme.plugin.Handler` defined, none
/// unloaded despite the same GCs. `LoaderLeakDemo` is `LoaderChurnDemo` in
/// `leak` mode. Argument: `[requests]`.
pub const LOADER_LEAK: Program = Program {
    name: "loader-leak",
    main_class: "com.acme.demo.LoaderLeakDemo",
    jvm_args: &[],
    args: &["300"],
    about: "a plugin reloaded per request in a new class loader, every loader kept: \
            one more copy of the same class per request",
    libraries: &[],
};

/// An in-house generator that defines classes with the application's own
/// protection domain under unremarkable names
/// (`com.acme.demo.reports.LayoutFormatter_N`), uncached: a new formatter
/// class per report, all in one long-lived loader. Only the application's
/// jar lacking those classes says they are generated. The defining frame:
/// `FormatterFactory.formatterFor(FormatterFactory.java)`, called by
/// `ReportDemo.render`. Argument: `[reports]`.
pub const REPORT: Program = Program {
    name: "report",
    main_class: "com.acme.demo.ReportDemo",
    jvm_args: &[],
    args: &["200"],
    about: "in-house generator defining with the application's protection domain, \
            uncached: one formatter class per report",
    libraries: &[],
};

/// A framework on no built-in list between the application and the define
/// point: `BindingDemo$OrderController.handle` calls
/// `org.corpframework.binding.Binder.bind` (corp-platform-1.4.jar) per
/// request, which makes a proxy in a fresh loader: a `$Proxy` class per
/// request. Argument: `[requests]`.
pub const BINDING: Program = Program {
    name: "binding",
    main_class: "com.acme.demo.BindingDemo",
    jvm_args: &[],
    args: &["150"],
    about: "an in-house platform jar binding a service per request: a proxy class each time",
    libraries: &["corp-platform-1.4"],
};

/// Per-expression compilation by an interpreter that defines two classes
/// per evaluation into a fresh loader, with its own jar's protection
/// domain: `LispDemo$DiscountRules.apply` calls
/// `org.minilisp.Interpreter.eval` (minilisp-0.9.jar) with the price
/// inlined in the form. Argument: `[requests]`.
pub const LISP: Program = Program {
    name: "lisp",
    main_class: "com.acme.demo.LispDemo",
    jvm_args: &[],
    args: &["150"],
    about: "an interpreter compiling each evaluated form (values inlined) into two classes",
    libraries: &["minilisp-0.9"],
};

/// Every program in the harness jar.
pub const PROGRAMS: &[Program] = &[
    COPIER,
    DYNAMIC_LOADER,
    PROXY,
    STEADY,
    INFLATION_RACE,
    EXPRESSION,
    LOADER_CHURN,
    LOADER_LEAK,
    REPORT,
    BINDING,
    LISP,
];

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
            (&INFLATION_RACE, "4"),
            (&EXPRESSION, "10"),
            (&LOADER_CHURN, "10"),
            (&LOADER_LEAK, "10"),
            (&REPORT, "10"),
            (&BINDING, "10"),
            (&LISP, "10"),
        ];
        for (program, arg) in short_args {
            let out = std::process::Command::new(java)
                .args(program.jvm_args)
                .arg("-cp")
                .arg(program.classpath())
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
