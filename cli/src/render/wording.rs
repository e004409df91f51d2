//! The report's data in English: the sentences of warnings, verdicts,
//! evidence and remedies, shared by the text, HTML, `check` and live
//! renderers so that they say the same thing the same way.
//!
//! Sentences carry names from the recording unescaped; each renderer
//! escapes what it writes for its medium.

use crate::analyze::attribution::FrameRole;
use crate::analyze::diagnosis::{Cause, CompileCall, Evidence, RegeneratedKey, Remedy, Trend};
use crate::analyze::regeneration::IdentityUsed;
use crate::analyze::stacks::SUMMARISED_FRAME;
use crate::analyze::warnings::Warning;
use crate::format::{duration, percent_of, thousands};
use crate::read::lines::MAX_LINE;
use crate::report::{CodeSourceRef, VerdictReport};

fn n(v: u64) -> String {
    thousands(v)
}

/// `; N events of that chunk could not be decoded`, when there were some.
fn lost(events: u64) -> String {
    if events == 0 {
        return String::new();
    }
    format!(
        "; {} events of that chunk were in the file but could not be decoded (their constants \
         were in the missing part)",
        n(events)
    )
}

/// `soft_reference_cycle`, as in the JSON report.
pub fn cause(cause: Cause) -> &'static str {
    match cause {
        Cause::SoftReferenceCycle => "soft_reference_cycle",
        Cause::InflationRace => "inflation_race",
        Cause::PerExpressionCompilation => "per_expression_compilation",
        Cause::LoaderChurn => "loader_churn",
        Cause::UncachedGeneration => "uncached_generation",
        Cause::MethodHandleChurn => "method_handle_churn",
    }
}

/// `leak`, `churn`, `steady`, as in the JSON report.
pub fn trend(trend: Trend) -> &'static str {
    match trend {
        Trend::Leak => "leak",
        Trend::Churn => "churn",
        Trend::Steady => "steady",
    }
}

/// `application_frame`, `library_entry`, as in the JSON report.
pub fn role(role: FrameRole) -> &'static str {
    match role {
        FrameRole::Jdk => "jdk",
        FrameRole::Library => "library",
        FrameRole::LoaderHelper => "loader_helper",
        FrameRole::LibraryEntry => "library_entry",
        FrameRole::Application => "application_frame",
        FrameRole::Caller => "caller",
    }
}

/// A library entry as the report names it: with its jar when the
/// recording says where it came from, e.g.
/// `corp-platform-1.4.jar: org.corpframework.binding.Binder.bind`.
pub fn entry(display: &str, code_source: Option<&CodeSourceRef>) -> String {
    match code_source {
        Some(c) => format!("{}: {display}", c.name),
        None => display.to_string(),
    }
}

/// One line saying what is wrong with the recording.
pub fn warning(w: &Warning) -> String {
    let mib = MAX_LINE >> 20;
    match w {
        Warning::NoHeader => "the recording has no header: its beginning is missing (the file does not start \
             with the agent's first line); the rest is reported as schema 1, without JVM details"
            .to_string(),
        Warning::ClassesDropped { classes } => format!(
            "{classes} classes were dropped because the agent's queue was full; totals are lower bounds \
             (raise the agent's queue= option)"
        ),
        Warning::CaptureDisabled { reason } => format!(
            "the agent stopped capturing early ({reason}); classes defined after that are missing"
        ),
        Warning::CutOffMidLine { line } => format!(
            "recording cut off: the last line ({line}) is incomplete (the JVM was killed, halted or crashed \
             mid-write); the report covers everything before it"
        ),
        Warning::CutOffInLongLine { line, bytes } => format!(
            "recording cut off: the last line ({line}) is incomplete and over {mib} MiB long \
             ({} bytes without a newline: the file's end is damaged, e.g. NUL bytes after a crash); \
             the report covers everything before it",
            n(*bytes)
        ),
        Warning::CutOffInJfrChunk {
            chunk,
            read_to,
            file_len,
            lost_events,
        } => format!(
            "recording cut off: the JFR file ends inside chunk {chunk} (at byte {}; the JVM was killed \
             or the file was copied while being written); the report covers what the JVM had flushed \
             before byte {}{}",
            n(*file_len),
            n(*read_to),
            lost(*lost_events)
        ),
        Warning::JfrDamaged {
            chunk,
            offset,
            file_len,
            lost_events,
            reason,
        } => format!(
            "the JFR recording is damaged at byte {} of {} in chunk {chunk} ({reason}); the report \
             covers everything before it{}",
            n(*offset),
            n(*file_len),
            lost(*lost_events)
        ),
        Warning::FromJfr => "read from a Java Flight Recorder recording, which has no class bytes \
             and no code sources: reflection accessors' targets and generated classes' fingerprints are \
             unknown, so a class counts as regenerated only when it replaces an unloaded class of the same \
             name pattern (its name without the counter) at its call site (a redefinition without an unload between, such as an \
             inflation race, is not seen); classes defined from bytes without a code source are \
             ordinary unless their name or loader says otherwise (copies of a class in new loaders are \
             `reloaded`); the application is told from libraries by the built-in list, --library and --app by package only (no jars). Record with \
             the agent for all of it (docs/jfr.md)"
            .to_string(),
        Warning::NoSummary => "recording cut off: there is no summary at the end (the JVM was killed, halted \
             or crashed, or is still running); the report covers everything written before that"
            .to_string(),
        Warning::ExitWithoutShutdown => "the JVM exited without the usual shutdown (VMDeath); with \
             -XX:+ExitOnOutOfMemoryError this is an OutOfMemoryError the JVM reports only on its stderr \
             (\"Terminating due to java.lang.OutOfMemoryError: ...\"): the biggest call site is the likely cause"
            .to_string(),
        Warning::StackErrors { classes } => format!(
            "{classes} classes were recorded without a stack (the agent could not capture it)"
        ),
        Warning::InvalidLine { line, error } => {
            format!("line {line} is not a valid record and was skipped: {error}")
        }
        Warning::LongLineSkipped { line, bytes } => format!(
            "line {line} is over {mib} MiB long ({} bytes) and was skipped as corrupt",
            n(*bytes)
        ),
        Warning::CorruptLines { lines, too_long } => format!(
            "{lines} lines in total were not valid records and were skipped{}",
            if *too_long > 0 {
                format!(" ({too_long} of them over {mib} MiB long)")
            } else {
                String::new()
            }
        ),
        Warning::UnknownStacks {
            classes,
            first_line,
            stack_id,
        } => format!(
            "{classes} class records refer to stacks that were never written \
             (first at line {first_line}, stack id {stack_id}); they are reported as \"stack not captured\""
        ),
        Warning::ExtraHeaders { records } => format!(
            "{records} more header records after line 1 were ignored \
             (were two recordings written to one file? give each JVM its own out= file)"
        ),
        Warning::ExtraCensuses { records } => {
            format!("{records} more census records after the first were ignored")
        }
        Warning::RecordsAfterSummary { records } => format!(
            "{records} records follow the summary; they are included, but the summary's totals do not count them"
        ),
        Warning::ResourceExhaustedOmitted { records } => format!(
            "{records} more resource_exhausted records (OutOfMemoryError thrown again) were counted, not listed"
        ),
        Warning::StacksSummarised {
            stacks,
            of,
            stack_memory_mib,
            classes,
        } => format!(
            "{} of {} distinct stacks were summarised to their call site, their frames not kept: \
             the frames kept reached the stack memory cap ({} MiB); every class still counts at its call site, \
             but a call site first seen on a summarised stack has no sample stack, and the flame graph draws \
             the {} classes defined on them per call site, under \"{SUMMARISED_FRAME}\" \
             (`metascope report --stack-memory MIB` keeps more)",
            n(*stacks),
            n(*of),
            n(*stack_memory_mib),
            n(*classes),
        ),
        Warning::AttributedByNames { stacks, main_class } => format!(
            "{} with frames from jars {} read before the application's own code source was \
             known{} and {} attributed by package names, as in a recording without code sources \
             (`--app PATH_OR_PREFIX` names the application's jars or packages)",
            if *stacks == 1 {
                "1 stack".to_string()
            } else {
                format!("{} stacks", n(*stacks))
            },
            if *stacks == 1 { "was" } else { "were" },
            main_class
                .as_ref()
                .map_or(String::new(), |m| format!(" (no frame of its main class {m} yet)")),
            if *stacks == 1 { "was" } else { "were" },
        ),
    }
}

/// What is happening at a flagged call site, in one line.
pub fn summary(v: &VerdictReport) -> String {
    let trend = match v.trend {
        Trend::Leak => "they stay loaded: a leak",
        Trend::Churn => "most are unloaded again: churn, not a leak",
        Trend::Steady => "the live count is not rising",
    };
    let via = v.library_entry.as_ref().map_or(String::new(), |e| {
        format!(" via {}", entry(e, v.library_entry_code_source.as_ref()))
    });
    match v.cause {
        Cause::SoftReferenceCycle => format!(
            "Reflection accessors are regenerated after GCs clear the soft references to their Method objects{via} \
             ({}); {trend}",
            if v.regenerated > 0 {
                format!("{} regenerated", n(v.regenerated))
            } else {
                "inferred: targets not recorded".to_string()
            }
        ),
        Cause::InflationRace => format!(
            "Concurrent threads inflate the same Method at once and each generates its own accessor{via} \
             ({} duplicates); {trend}",
            n(v.regenerated)
        ),
        Cause::PerExpressionCompilation => format!(
            "Every script or expression is compiled into a new class{via} (values compiled into the source?); {trend}"
        ),
        Cause::LoaderChurn => format!(
            "A new class-loader instance per generated class or per request{via}; {trend}"
        ),
        Cause::UncachedGeneration => format!(
            "A code generator keeps defining new classes into long-lived loaders: its output is not cached{via}; {trend}"
        ),
        Cause::MethodHandleChurn => format!(
            "LambdaForm classes for method handles are spun again and again under soft-reference pressure{via}; {trend}"
        ),
    }
}

/// `≥1,000 loader instances for 2,000 classes`.
fn loader_instances(loaders: u64, at_least: bool, classes: u64) -> String {
    format!(
        "{}{} loader instances for {} classes",
        if at_least { "≥" } else { "" },
        n(loaders),
        n(classes)
    )
}

fn identities(identity: IdentityUsed) -> &'static str {
    match identity {
        IdentityUsed::Target => "targets",
        IdentityUsed::Fingerprint => "fingerprints",
        IdentityUsed::Name => "class names",
        IdentityUsed::Replacement => "classes (by name pattern and unloads)",
        IdentityUsed::Mixed | IdentityUsed::None => "targets/fingerprints",
    }
}

fn most_regenerated(keys: &[RegeneratedKey]) -> String {
    let listed: Vec<String> = keys
        .iter()
        .map(|k| format!("{} ×{}", k.key, n(k.defined)))
        .collect();
    format!("most regenerated: {}", listed.join(", "))
}

/// One fact a verdict rests on.
pub fn evidence(e: &Evidence) -> String {
    match e {
        Evidence::Regeneration {
            defined,
            distinct,
            regenerated,
            identity,
        } => format!(
            "{} classes for {} distinct {}: {} regenerated",
            n(*defined),
            n(*distinct),
            identities(*identity),
            n(*regenerated)
        ),
        Evidence::MostRegenerated { keys } => most_regenerated(keys),
        Evidence::RegeneratedAfterGc {
            regenerated_after_gc,
            regenerated,
            gcs,
        } => format!(
            "{} of {} redefinitions came after a GC ({} GCs in the recording)",
            n(*regenerated_after_gc),
            n(*regenerated),
            n(*gcs)
        ),
        Evidence::RegeneratedInRace {
            regenerated_in_race,
            regenerated,
            threads,
            window_ms,
        } => format!(
            "{} of {} redefinitions came within {} of the previous one, on another thread, \
             with no GC between ({} threads involved)",
            n(*regenerated_in_race),
            n(*regenerated),
            if window_ms % 1_000 == 0 {
                format!("{} s", window_ms / 1_000)
            } else {
                duration(*window_ms as f64)
            },
            n(*threads)
        ),
        Evidence::InflationCheck {
            java_version,
            atomic,
        } => format!(
            "JDK {java_version}: {}",
            if *atomic {
                "the inflation check uses a CAS since JDK 16, so a race is unexpected here"
            } else {
                "the inflation check is unsynchronised before JDK 16 (JDK-8255883)"
            }
        ),
        Evidence::DefinedAfterUnloads {
            defined_after_unload,
            defined,
            bursts,
        } => format!(
            "accessor targets were not recorded: {} of {} accessors were defined after GCs had \
             unloaded earlier accessors of this call site (likely the same targets again), \
             in {} bursts separated by GCs",
            n(*defined_after_unload),
            n(*defined),
            n(*bursts)
        ),
        Evidence::LambdaFormBursts {
            lambda_forms,
            defined,
            bursts,
            gcs,
            defined_after_unload,
        } => format!(
            "{} LambdaForm classes (of {}), defined in {} bursts separated by GCs \
             ({} GCs in the recording); {} defined after earlier ones were unloaded",
            n(*lambda_forms),
            n(*defined),
            n(*bursts),
            n(*gcs),
            n(*defined_after_unload)
        ),
        Evidence::ScriptClasses { scripts, distinct } => format!(
            "{} script classes{}",
            n(*scripts),
            distinct.map_or(String::new(), |d| format!(", {} distinct", n(d)))
        ),
        Evidence::ClassesPerCall {
            calls,
            classes_per_call,
            calls_with_that_many,
            calls_in_new_loader,
            defined,
            distinct,
            identity,
        } => format!(
            "each call defined {} class{} ({} of {} calls), {} distinct {} for {} classes; \
             {} of the calls began in a loader created for them",
            n(*classes_per_call),
            if *classes_per_call == 1 { "" } else { "es" },
            n(*calls_with_that_many),
            n(*calls),
            n(*distinct),
            identities(*identity),
            n(*defined),
            n(*calls_in_new_loader),
        ),
        Evidence::DistinctClassesInOwnLoaders {
            defined,
            distinct,
            identity,
            loaders,
            loaders_at_least,
        } => format!(
            "{} classes, {} distinct{}, each in its own loader ({})",
            n(*defined),
            n(*distinct),
            if *identity == IdentityUsed::Fingerprint {
                " fingerprints"
            } else {
                ""
            },
            loader_instances(*loaders, *loaders_at_least, *defined)
        ),
        Evidence::LoaderInstances {
            loaders,
            at_least,
            classes,
        } => loader_instances(*loaders, *at_least, *classes),
        Evidence::RegeneratedInNewLoader {
            regenerated_in_new_loader,
            regenerated,
        } => format!(
            "{} of {} redefinitions were in a new loader instance",
            n(*regenerated_in_new_loader),
            n(*regenerated)
        ),
        Evidence::LongLivedLoaders {
            defined,
            loaders,
            at_least,
        } => format!(
            "{} classes in {}{} loader instance{} (a generator keeps defining into long-lived loaders)",
            n(*defined),
            if *at_least { "≥" } else { "" },
            n(*loaders),
            if *loaders == 1 && !*at_least { "" } else { "s" }
        ),
        Evidence::Unloaded {
            unloaded,
            defined,
            live,
        } => format!(
            "{} of {} unloaded again ({}), {} live at the end",
            n(*unloaded),
            n(*defined),
            percent_of(*unloaded, *defined),
            n(*live)
        ),
        Evidence::Threads {
            threads,
            first_ms,
            last_ms,
        } => format!(
            "defined on {} thread{} between +{} and +{}",
            n(*threads),
            if *threads == 1 { "" } else { "s" },
            duration(*first_ms),
            duration(*last_ms)
        ),
    }
}

/// What to do, with the settings it involves; `call`: the library a
/// per-expression call site compiles through (the verdict's).
pub fn remedy(r: Remedy, call: Option<&CompileCall>) -> String {
    let entry = call.map_or("the engine's evaluate call", |c| c.entry.as_str());
    let compile = call
        .and_then(|c| c.compile.as_deref())
        .unwrap_or("its compile step");
    match r {
        Remedy::CompileOnceWithCompilable => {
            format!(
                "the engine is driven through JSR-223 (javax.script, {entry}): cast it to Compilable, \
                 compile each script once (Compilable.compile) and run the CompiledScript with the \
                 request's values in Bindings (CompiledScript.eval(bindings)), instead of evaluating \
                 source text with the values pasted in"
            )
        }
        Remedy::CompileOnceWithEnginesCompileCall => {
            format!(
                "{entry} compiles the source on every call (through {compile}): call {compile} once \
                 per rule, keep what it returns and invoke that with the request's values as \
                 arguments or variables, instead of calling {entry} with the values pasted into the source"
            )
        }
        Remedy::CompileOnceNotPerRequest => {
            format!(
                "{entry} is called per request: call it once per rule (its source without the \
                 request's values), keep the result and run it with the values as arguments or \
                 variables"
            )
        }
        Remedy::CompileFunctionOnceAndInvoke => {
            format!(
                "compile the rule once into a function with the engine's compile or parse API and \
                 invoke it with the request's values as arguments, instead of calling {entry} with \
                 the values pasted into the source"
            )
        }
        Remedy::CacheReflectionObjects => {
            "cache the Method / PropertyDescriptor objects (keep them strongly reachable), or use a \
             bean copier that does (e.g. a generated mapper, or one holding descriptors per class)"
        .into()
        }
        Remedy::RaiseSoftRefLruPolicy => {
            "if you run with -XX:SoftRefLRUPolicyMSPerMB=0 (or a low value), raise it (e.g. \
             -XX:SoftRefLRUPolicyMSPerMB=1000) so softly held reflection data survives GCs"
        .into()
        }
        Remedy::TuneInflationThreshold => {
            "-Dsun.reflect.inflationThreshold=N (default 15): a higher N means fewer accessors but \
             more slow JNI invocations per Method; 0 or -Dsun.reflect.noInflation=true generates at once"
        .into()
        }
        Remedy::UpgradePastJdk17 => {
            "upgrade past JDK 17: JDK 18+ invokes reflection through method handles (JEP 416) and \
             defines no accessor classes (LambdaForm churn can take their place under the same pressure)"
        .into()
        }
        Remedy::WarmUpReflectionOnOneThread => {
            "warm the reflective calls up on one thread at start-up (call each Method past the \
             inflation threshold) before request threads use it, and share the Method objects"
        .into()
        }
        Remedy::UpgradeToJdk16 => {
            "upgrade to JDK 16 or later (17 LTS): JDK-8255883 makes inflation a CAS, one accessor per Method"
        .into()
        }
        Remedy::RaiseInflationThresholdAgainstRaces => {
            "-Dsun.reflect.inflationThreshold=N: a higher N narrows how often threads cross the \
             threshold together, at the price of more slow JNI invocations"
        .into()
        }
        Remedy::CompileOnceWithBindings => {
            "compile each script once and pass the values through bindings (ScriptEngine: \
             Compilable.compile + CompiledScript.eval(bindings); Groovy: parse once, new Binding per \
             call; Rhino: compileString once, exec with a new scope)"
        .into()
        }
        Remedy::CacheCompiledScripts => {
            "cache compiled scripts by their source text, with a bound on the cache"
        .into()
        }
        Remedy::CacheGeneratedClasses => {
            "cache what is generated: one generated class (proxy, CGLIB Enhancer class, serializer) per \
             type, reused across calls, and one class loader per plugin/tenant, not per request"
        .into()
        }
        Remedy::MakeDiscardedLoadersUnreachable => {
            "make discarded loaders unreachable (no static caches, threads or ThreadLocals keeping \
             them) so their classes can be unloaded"
        .into()
        }
        Remedy::CacheGeneratorOutput => {
            "cache what the generator makes: one generated class (serializer, accessor, proxy) per \
             type or schema, created once and reused, instead of one per call"
        .into()
        }
        Remedy::OwnLoaderForDiscardedClasses => {
            "if the generated classes must be discarded, give them their own loader that can be \
             dropped as a whole; classes in a long-lived loader are never unloaded"
        .into()
        }
        Remedy::CacheMethodHandles => {
            "cache Method / MethodHandle objects instead of looking them up per call, so their \
             LambdaForms stay reachable"
        .into()
        }
        Remedy::SizeMetaspaceForChurn => {
            "this is churn, not a leak: size -XX:MetaspaceSize so the churn does not trigger \
             Metaspace GCs, and leave -XX:MaxMetaspaceSize headroom"
        .into()
        }
        Remedy::ReuseFastjson2Providers => {
            "the site goes through fastjson2: reuse one ObjectWriterProvider/JSONFactory default instead \
             of creating them per call, or switch off ASM generation (-Dfastjson2.creator=reflect), or \
             upgrade fastjson2"
        .into()
        }
        Remedy::MetaspaceLimitOnlyDecidesWhen => {
            "-XX:MaxMetaspaceSize only decides when this fails (the classes stay reachable); set it so \
             the leak fails fast instead of swapping, and fix the cause"
        .into()
        }
        Remedy::MetaspaceHeadroomForChurn => {
            "the classes are unloaded again: -XX:MetaspaceSize / -XX:MaxMetaspaceSize headroom keeps \
             the churn from failing while you fix it"
        .into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_reads_as_before_the_data_came_first() {
        let race = Evidence::RegeneratedInRace {
            regenerated_in_race: 30,
            regenerated: 30,
            threads: 4,
            window_ms: 1_000,
        };
        assert_eq!(
            evidence(&race),
            "30 of 30 redefinitions came within 1 s of the previous one, on another thread, \
             with no GC between (4 threads involved)"
        );
        let unloaded = Evidence::Unloaded {
            unloaded: 100,
            defined: 100,
            live: 0,
        };
        assert_eq!(
            evidence(&unloaded),
            "100 of 100 unloaded again (100%), 0 live at the end"
        );
        assert_eq!(
            warning(&Warning::ClassesDropped { classes: 1234 }),
            "1234 classes were dropped because the agent's queue was full; totals are lower bounds \
             (raise the agent's queue= option)"
        );
    }

    /// Every remedy that names a JVM setting says it in its sentence too.
    #[test]
    fn remedies_name_their_settings() {
        for r in Remedy::ALL {
            for s in r.settings().iter().chain(r.references()) {
                let name = s.split('=').next().unwrap();
                assert!(remedy(r, None).contains(name), "{r:?}: {s}");
            }
        }
    }

    /// The labels the text and HTML reports print are the JSON names.
    #[test]
    fn labels_are_the_json_names() {
        fn json<T: serde::Serialize>(v: T) -> String {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        }
        use Cause::*;
        for c in [
            SoftReferenceCycle,
            InflationRace,
            PerExpressionCompilation,
            LoaderChurn,
            UncachedGeneration,
            MethodHandleChurn,
        ] {
            assert_eq!(cause(c), json(c));
        }
        for t in [Trend::Leak, Trend::Churn, Trend::Steady] {
            assert_eq!(trend(t), json(t));
        }
        use FrameRole::*;
        for r in [
            Jdk,
            Library,
            LoaderHelper,
            LibraryEntry,
            Application,
            Caller,
        ] {
            assert_eq!(role(r), json(r));
        }
    }
}
