//! Why a call site keeps defining classes: one verdict per flagged call
//! site, as data: a [`Cause`], a [`Trend`], the [`Evidence`] (the counts
//! that decided it) and the [`Remedy`]s that fit the recorded JDK
//! (docs/diagnosis.md). The renderers word them.
//!
//! Computed when the reading is done, from what the call-site table, the
//! regeneration tracker and the timeline found.

use metascope_events::ClassKind;
use serde::Serialize;

use super::attribution::{EntryKind, FrameRole, Ownership};
use super::call_sites::CallSiteStats;
use super::code_sources::CodeSources;
use super::regeneration::{
    Identity, IdentityUsed, SiteRegeneration, CLASSES_PER_CALL_CAP, RACE_WINDOW_NS,
};
use super::stacks::StackStore;
use super::timeline::TimelineData;

/// A call site needs this many classes for a verdict.
pub const MIN_DEFINED: u64 = 10;
/// Regeneration-based causes need this many redefinitions.
pub const MIN_REGENERATED: u64 = 5;
/// Share of a site's classes in fresh loader instances that counts as
/// "a new loader per class".
pub const LOADER_RATIO: f64 = 0.8;
/// Share of classes with distinct fingerprints that counts as "every class
/// is different code" (values compiled into the source).
pub const DISTINCT_RATIO: f64 = 0.9;
/// Regenerated identities named in the evidence.
const MOST_REGENERATED: usize = 3;
/// At most this many classes per call count as "a small fixed number":
/// a compiled expression is a class or a few (its closures, constants).
pub const SMALL_CALL: u64 = 8;
/// Share of calls that must define exactly the usual number of classes.
pub const FIXED_CALL_RATIO: f64 = 0.8;
/// Calls a call site needs before its calls' shape counts.
pub const MIN_CALLS: u64 = 5;
const _: () = assert!(SMALL_CALL < CLASSES_PER_CALL_CAP as u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Reflection accessors regenerated after GCs clear the soft references
    /// to their `Method` objects.
    SoftReferenceCycle,
    /// Threads inflate the same `Method` at once, each generating its own
    /// accessor.
    InflationRace,
    /// Every script or expression compiled into a new class.
    PerExpressionCompilation,
    /// A new class-loader instance per generated class or per request.
    LoaderChurn,
    /// A generator keeps defining new classes into long-lived loaders:
    /// nothing caches its output (fastjson2's ASM writers, a home-grown
    /// code generator).
    UncachedGeneration,
    /// LambdaForm classes spun again and again under soft-reference
    /// pressure.
    MethodHandleChurn,
}

impl Cause {
    pub const ALL: [Cause; 6] = [
        Cause::SoftReferenceCycle,
        Cause::InflationRace,
        Cause::PerExpressionCompilation,
        Cause::LoaderChurn,
        Cause::UncachedGeneration,
        Cause::MethodHandleChurn,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// The classes stay loaded.
    Leak,
    /// Most are unloaded again.
    Churn,
    /// The live count is not rising.
    Steady,
}

/// One fact a verdict rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub enum Evidence {
    /// `defined` classes for `distinct` distinct identities.
    Regeneration {
        defined: u64,
        distinct: u64,
        regenerated: u64,
        identity: IdentityUsed,
    },
    /// The identities defined most often (more than once), most first.
    MostRegenerated { keys: Vec<RegeneratedKey> },
    /// Redefinitions of an identity with a GC since its previous one.
    RegeneratedAfterGc {
        regenerated_after_gc: u64,
        regenerated: u64,
        gcs: u64,
    },
    /// Redefinitions within `window_ms` of the previous one, on another
    /// thread, with no GC between; `threads` took part.
    RegeneratedInRace {
        regenerated_in_race: u64,
        regenerated: u64,
        threads: u64,
        window_ms: u64,
    },
    /// The JDK's reflection inflation check: a CAS since JDK 16, racy
    /// before (JDK-8255883).
    InflationCheck { java_version: String, atomic: bool },
    /// Accessor targets were not recorded, but accessors were defined
    /// after GCs had unloaded earlier ones of this call site, in `bursts`
    /// separated by GCs.
    DefinedAfterUnloads {
        defined_after_unload: u64,
        defined: u64,
        bursts: u64,
    },
    /// LambdaForm classes defined in `bursts` separated by GCs.
    LambdaFormBursts {
        lambda_forms: u64,
        defined: u64,
        bursts: u64,
        gcs: u64,
        defined_after_unload: u64,
    },
    /// Script classes (and how many were distinct, when identified).
    ScriptClasses { scripts: u64, distinct: Option<u64> },
    /// Each call of the site defined a small fixed number of classes,
    /// mostly distinct: a compilation per call.
    ClassesPerCall {
        calls: u64,
        classes_per_call: u64,
        /// Calls that defined exactly `classes_per_call`.
        calls_with_that_many: u64,
        /// Calls that began in a loader created for them.
        calls_in_new_loader: u64,
        defined: u64,
        distinct: u64,
        identity: IdentityUsed,
    },
    /// Classes, mostly distinct, each in a loader instance of its own.
    DistinctClassesInOwnLoaders {
        defined: u64,
        distinct: u64,
        identity: IdentityUsed,
        loaders: u64,
        loaders_at_least: bool,
    },
    /// Loader instances that defined the call site's classes
    /// (`at_least`: a lower bound).
    LoaderInstances {
        loaders: u64,
        at_least: bool,
        classes: u64,
    },
    /// Redefinitions in another loader instance than the previous one.
    RegeneratedInNewLoader {
        regenerated_in_new_loader: u64,
        regenerated: u64,
    },
    /// A generator keeps defining into a few long-lived loaders.
    LongLivedLoaders {
        defined: u64,
        loaders: u64,
        at_least: bool,
    },
    /// Classes unloaded again, and live at the end.
    Unloaded {
        unloaded: u64,
        defined: u64,
        live: u64,
    },
    /// Threads that defined the classes, and when (ms since the start).
    Threads {
        threads: u64,
        first_ms: f64,
        last_ms: f64,
    },
}

/// One identity defined more than once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegeneratedKey {
    pub identity: Identity,
    pub key: String,
    pub defined: u64,
}

/// A fix, for the recorded JDK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Remedy {
    /// Keep `Method` / `PropertyDescriptor` objects strongly reachable.
    CacheReflectionObjects,
    /// Raise `-XX:SoftRefLRUPolicyMSPerMB` so soft reflection data survives.
    RaiseSoftRefLruPolicy,
    /// Trade accessors for JNI calls with the inflation threshold.
    TuneInflationThreshold,
    /// JDK 18+ invokes reflection through method handles (JEP 416).
    UpgradePastJdk17,
    /// Inflate each `Method` on one thread at start-up.
    WarmUpReflectionOnOneThread,
    /// JDK 16+ inflates with a CAS (JDK-8255883).
    UpgradeToJdk16,
    /// A higher inflation threshold narrows the race.
    RaiseInflationThresholdAgainstRaces,
    /// Compile each script once, pass the values through bindings.
    CompileOnceWithBindings,
    /// JSR-223 (`javax.script` on the stack): `Compilable.compile` once,
    /// `CompiledScript.eval(bindings)` per call.
    CompileOnceWithCompilable,
    /// The engine's own compile step runs inside the entry on every call
    /// ([`CompileCall::compile`]): call it once, invoke the result.
    CompileOnceWithEnginesCompileCall,
    /// The application calls the compile/parse entry per request: once
    /// per rule, the result kept.
    CompileOnceNotPerRequest,
    /// Nothing more known of the engine: compile the rule into a function
    /// once and invoke it with the values.
    CompileFunctionOnceAndInvoke,
    /// Cache compiled scripts by their source text, bounded.
    CacheCompiledScripts,
    /// One generated class per type, one loader per plugin/tenant.
    CacheGeneratedClasses,
    /// Nothing may keep discarded loaders reachable.
    MakeDiscardedLoadersUnreachable,
    /// Cache what the generator makes, per type or schema.
    CacheGeneratorOutput,
    /// Classes to be discarded need a loader that can be dropped whole.
    OwnLoaderForDiscardedClasses,
    /// Cache `Method` / `MethodHandle` objects so LambdaForms stay
    /// reachable.
    CacheMethodHandles,
    /// Size Metaspace so the churn does not trigger Metaspace GCs.
    SizeMetaspaceForChurn,
    /// fastjson2: reuse its providers, or switch ASM generation off.
    ReuseFastjson2Providers,
    /// A leak: `-XX:MaxMetaspaceSize` only decides when it fails.
    MetaspaceLimitOnlyDecidesWhen,
    /// Churn: Metaspace headroom keeps it from failing meanwhile.
    MetaspaceHeadroomForChurn,
}

impl Remedy {
    /// Every remedy, in declaration order (tests go through them all).
    #[cfg(test)]
    pub const ALL: [Remedy; 22] = [
        Remedy::CacheReflectionObjects,
        Remedy::RaiseSoftRefLruPolicy,
        Remedy::TuneInflationThreshold,
        Remedy::UpgradePastJdk17,
        Remedy::WarmUpReflectionOnOneThread,
        Remedy::UpgradeToJdk16,
        Remedy::RaiseInflationThresholdAgainstRaces,
        Remedy::CompileOnceWithBindings,
        Remedy::CompileOnceWithCompilable,
        Remedy::CompileOnceWithEnginesCompileCall,
        Remedy::CompileOnceNotPerRequest,
        Remedy::CompileFunctionOnceAndInvoke,
        Remedy::CacheCompiledScripts,
        Remedy::CacheGeneratedClasses,
        Remedy::MakeDiscardedLoadersUnreachable,
        Remedy::CacheGeneratorOutput,
        Remedy::OwnLoaderForDiscardedClasses,
        Remedy::CacheMethodHandles,
        Remedy::SizeMetaspaceForChurn,
        Remedy::ReuseFastjson2Providers,
        Remedy::MetaspaceLimitOnlyDecidesWhen,
        Remedy::MetaspaceHeadroomForChurn,
    ];

    /// The JVM options and system properties the remedy involves.
    pub fn settings(self) -> &'static [&'static str] {
        match self {
            Remedy::RaiseSoftRefLruPolicy => &["-XX:SoftRefLRUPolicyMSPerMB=1000"],
            Remedy::TuneInflationThreshold => &[
                "-Dsun.reflect.inflationThreshold=N",
                "-Dsun.reflect.noInflation=true",
            ],
            Remedy::RaiseInflationThresholdAgainstRaces => &["-Dsun.reflect.inflationThreshold=N"],
            Remedy::SizeMetaspaceForChurn | Remedy::MetaspaceHeadroomForChurn => {
                &["-XX:MetaspaceSize", "-XX:MaxMetaspaceSize"]
            }
            Remedy::MetaspaceLimitOnlyDecidesWhen => &["-XX:MaxMetaspaceSize"],
            Remedy::ReuseFastjson2Providers => &["-Dfastjson2.creator=reflect"],
            _ => &[],
        }
    }

    /// JDK changes and bugs the remedy rests on.
    pub fn references(self) -> &'static [&'static str] {
        match self {
            Remedy::UpgradePastJdk17 => &["JEP 416"],
            Remedy::UpgradeToJdk16 => &["JDK-8255883"],
            _ => &[],
        }
    }
}

/// The library a per-expression call site compiles through, as its
/// sample stack shows: what the compile-once remedies name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompileCall {
    /// The library entry the application calls, e.g.
    /// `org.minilisp.Interpreter.eval`.
    pub entry: String,
    /// A compile or parse step of the library inside it, e.g.
    /// `org.minilisp.Interpreter.compile`: the call to make once.
    pub compile: Option<String>,
}

/// One flagged call site.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The call site, in report order (rank - 1).
    pub site: usize,
    pub cause: Cause,
    pub trend: Trend,
    pub evidence: Vec<Evidence>,
    pub remedies: Vec<Remedy>,
    /// For `per_expression_compilation` through a library: its compile
    /// API as the stack shows it.
    pub compile_call: Option<CompileCall>,
}

/// What the verdicts are decided from.
pub struct Findings<'a> {
    /// Call sites in report order.
    pub sites: &'a [CallSiteStats],
    /// The regeneration found at each, same order.
    pub regeneration: &'a [SiteRegeneration],
    pub timeline: &'a TimelineData<'a>,
    /// GCs in the recording.
    pub gcs: u64,
    /// The JVM's `java.version`, when the header says.
    pub java_version: Option<&'a str>,
    /// The stacks, their code sources and who owns which frames: the
    /// sample stacks of per-expression call sites are read for the
    /// compiler's API.
    pub stacks: &'a StackStore,
    pub sources: &'a CodeSources,
    pub ownership: &'a Ownership,
}

/// One verdict per flagged call site, in report order.
pub fn verdicts(f: &Findings<'_>) -> Vec<Verdict> {
    f.sites
        .iter()
        .zip(f.regeneration)
        .enumerate()
        .filter_map(|(i, (site, r))| verdict(f, i, site, r))
        .collect()
}

/// `17.0.9` -> 17, `1.8.0_392` -> 8.
pub fn java_major(version: &str) -> Option<u32> {
    let mut parts = version.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// Leak, churn or steady, from a site's unloads and live-count timeline.
pub fn trend(r: &SiteRegeneration, live: &[u64]) -> Trend {
    if r.defined == 0 {
        return Trend::Steady;
    }
    if r.unloaded * 2 >= r.defined {
        return Trend::Churn;
    }
    let end = live.last().copied().unwrap_or(0);
    // Still growing in the last third of the site's own activity (from
    // its first class to its last change): an application that leaked
    // and then idled until exit (or a recording whose end took a while)
    // still leaked.
    let first = live.iter().position(|&n| n > 0).unwrap_or(0);
    let last_change = live
        .windows(2)
        .rposition(|w| w[0] != w[1])
        .map_or(first, |i| i + 1)
        .max(first);
    let active = live.get(first..=last_change).unwrap_or(live);
    let two_thirds = active
        .get((active.len() * 2 / 3).saturating_sub(1))
        .copied()
        .unwrap_or(0);
    if end * 2 >= r.defined && end > two_thirds {
        Trend::Leak
    } else {
        Trend::Steady
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Is this loader type a script engine's (Groovy, Rhino, Nashorn...)?
fn script_loader(type_name: &str) -> bool {
    [
        "groovy", "mozilla", "nashorn", "jexl", "mvel", "janino", "Script",
    ]
    .iter()
    .any(|m| type_name.contains(m))
}

/// What every cause looks at, for one call site.
struct Site<'a> {
    stats: &'a CallSiteStats,
    r: &'a SiteRegeneration,
    regenerated: u64,
    /// Loader instances (a lower bound when `loaders_capped`).
    loaders: u64,
    loaders_capped: bool,
    /// Still defining in the last third of the recording.
    keeps_defining: bool,
    trend: Trend,
    gcs: u64,
}

impl Site<'_> {
    fn kind_count(&self, k: ClassKind) -> u64 {
        self.stats.kinds.get(&k).map_or(0, |s| s.classes)
    }

    fn regeneration(&self) -> Evidence {
        Evidence::Regeneration {
            defined: self.r.defined,
            distinct: self.r.distinct,
            regenerated: self.regenerated,
            identity: self.r.identity,
        }
    }

    /// The regeneration, and the identities regenerated most, if any.
    fn regeneration_and_top(&self) -> Vec<Evidence> {
        let keys: Vec<RegeneratedKey> = self
            .r
            .top_keys
            .iter()
            .take(MOST_REGENERATED)
            .filter(|k| k.defined > 1)
            .map(|k| RegeneratedKey {
                identity: k.identity,
                key: k.key.clone(),
                defined: k.defined,
            })
            .collect();
        let mut evidence = vec![self.regeneration()];
        if !keys.is_empty() {
            evidence.push(Evidence::MostRegenerated { keys });
        }
        evidence
    }

    fn loader_instances(&self) -> Evidence {
        Evidence::LoaderInstances {
            loaders: self.loaders,
            at_least: self.loaders_capped,
            classes: self.r.defined,
        }
    }

    fn after_gc(&self) -> Evidence {
        Evidence::RegeneratedAfterGc {
            regenerated_after_gc: self.r.regenerated_after_gc,
            regenerated: self.regenerated,
            gcs: self.gcs,
        }
    }
}

/// The verdict for one call site (report order `index`), if flagged.
fn verdict(
    f: &Findings<'_>,
    index: usize,
    stats: &CallSiteStats,
    r: &SiteRegeneration,
) -> Option<Verdict> {
    if r.defined < MIN_DEFINED {
        return None;
    }
    let dominant = stats.dominant_kind().map(|(k, _)| k)?;
    let late_from = f.timeline.buckets * 2 / 3;
    let site = Site {
        stats,
        r,
        regenerated: r.regenerated(),
        loaders: stats.loaders.iter().map(|(_, l)| l.instances).sum(),
        loaders_capped: stats.loaders.iter().any(|(_, l)| l.capped),
        keeps_defining: late_from > 0 && f.timeline.defined_from(index, late_from) > 0,
        trend: trend(r, &f.timeline.live_by_bucket(index)),
        gcs: f.gcs,
    };
    let (cause, mut evidence) = match dominant {
        ClassKind::ReflectionAccessor => reflection(&site, f.java_version)?,
        ClassKind::LambdaForm => lambda_forms(&site)?,
        ClassKind::Script => scripts(&site)?,
        _ => generated(&site)?,
    };
    evidence.extend(common_evidence(&site, cause));
    let major = f.java_version.and_then(java_major);
    let fastjson2 = stats
        .key
        .entry()
        .is_some_and(|e| e.class.starts_with("com.alibaba.fastjson2"))
        || stats.loaders.iter().any(|(t, _)| t.contains("fastjson2"));
    let (compile_once, compile_call) = if cause == Cause::PerExpressionCompilation {
        compile_api(f, stats, dominant == ClassKind::Script)
    } else {
        (Remedy::CompileOnceWithBindings, None)
    };
    Some(Verdict {
        site: index,
        cause,
        trend: site.trend,
        evidence,
        remedies: remedies(cause, site.trend, major, fastjson2, compile_once),
        compile_call,
    })
}

/// A method named like a compile step: `compile`, `compileExpression`,
/// `parse`, `parseClass`. Only phrases the remedy; the cause never rests
/// on names.
fn compile_shaped(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    m.starts_with("compile") || m.starts_with("parse")
}

/// The compile-once remedy for a per-expression call site, phrased for
/// the API the application drives the compiler through, as the site's
/// sample stack shows it: JSR-223 (`javax.script` frames), the library's
/// own compile step running inside the entry on every call, the entry
/// itself a compile call made per request, or else compiling a function
/// once (for a script engine's classes, the script engines' wording).
/// Only for a library entry; otherwise the generic wording.
fn compile_api(
    f: &Findings<'_>,
    stats: &CallSiteStats,
    script: bool,
) -> (Remedy, Option<CompileCall>) {
    let Some(entry) = stats.key.entry().filter(|e| e.kind == EntryKind::Library) else {
        return (Remedy::CompileOnceWithBindings, None);
    };
    let mut call = CompileCall {
        entry: entry.display(),
        compile: None,
    };
    let sample = stats.dominant_kind().and_then(|(_, k)| {
        f.stacks
            .get(k.sample_stack)?
            .attributed(&k.sample_loader_type, f.sources, f.ownership)
    });
    if let Some(sample) = sample {
        let (frames, a) = (&sample.frames, &sample.attribution);
        let inside = a.application_index.unwrap_or(frames.len());
        if frames[..inside]
            .iter()
            .any(|fr| fr.class.starts_with("javax.script."))
        {
            return (Remedy::CompileOnceWithCompilable, Some(call));
        }
        let entry_at = a.entry_index.unwrap_or(0);
        call.compile = (0..entry_at)
            .rev()
            .find(|&i| a.roles[i] == FrameRole::Library && compile_shaped(&frames[i].method))
            .map(|i| format!("{}.{}", frames[i].class, frames[i].method));
    }
    let remedy = if call.compile.is_some() {
        Remedy::CompileOnceWithEnginesCompileCall
    } else if compile_shaped(&entry.method) {
        Remedy::CompileOnceNotPerRequest
    } else if script {
        Remedy::CompileOnceWithBindings
    } else {
        Remedy::CompileFunctionOnceAndInvoke
    };
    (remedy, Some(call))
}

/// Reflection accessors: regenerated after GCs, or in a race.
fn reflection(s: &Site<'_>, java_version: Option<&str>) -> Option<(Cause, Vec<Evidence>)> {
    let r = s.r;
    let identified = r.identified_share() >= 0.5;
    if identified
        && r.regenerated_after_gc >= MIN_REGENERATED
        && r.regenerated_after_gc >= r.regenerated_in_race
        && r.regenerated_after_gc * 2 >= s.regenerated
    {
        let mut evidence = s.regeneration_and_top();
        evidence.push(s.after_gc());
        Some((Cause::SoftReferenceCycle, evidence))
    } else if identified
        && r.regenerated_in_race >= MIN_REGENERATED
        && r.regenerated_in_race * 2 >= s.regenerated
    {
        let mut evidence = s.regeneration_and_top();
        evidence.push(Evidence::RegeneratedInRace {
            regenerated_in_race: r.regenerated_in_race,
            regenerated: s.regenerated,
            threads: r.race_threads,
            window_ms: RACE_WINDOW_NS / 1_000_000,
        });
        if let Some(v) = java_version {
            evidence.push(Evidence::InflationCheck {
                java_version: v.to_string(),
                atomic: java_major(v).is_some_and(|m| m >= 16),
            });
        }
        Some((Cause::InflationRace, evidence))
    } else if !identified
        && r.gc_epochs >= 2
        && r.defined_after_unload >= MIN_REGENERATED
        && r.defined_after_unload * 4 >= r.defined
    {
        let evidence = vec![Evidence::DefinedAfterUnloads {
            defined_after_unload: r.defined_after_unload,
            defined: r.defined,
            bursts: r.gc_epochs + 1,
        }];
        Some((Cause::SoftReferenceCycle, evidence))
    } else {
        None
    }
}

/// LambdaForms spun again in GC-separated bursts, mostly unloaded.
fn lambda_forms(s: &Site<'_>) -> Option<(Cause, Vec<Evidence>)> {
    let r = s.r;
    if !(r.gc_epochs >= 2 && r.unloaded * 2 >= r.defined && s.keeps_defining) {
        return None;
    }
    let evidence = vec![Evidence::LambdaFormBursts {
        lambda_forms: s.kind_count(ClassKind::LambdaForm),
        defined: r.defined,
        bursts: r.gc_epochs + 1,
        gcs: s.gcs,
        defined_after_unload: r.defined_after_unload,
    }];
    Some((Cause::MethodHandleChurn, evidence))
}

/// Script classes that keep coming (or are regenerated).
fn scripts(s: &Site<'_>) -> Option<(Cause, Vec<Evidence>)> {
    if !(s.keeps_defining || s.regenerated >= MIN_REGENERATED) {
        return None;
    }
    let evidence = vec![Evidence::ScriptClasses {
        scripts: s.kind_count(ClassKind::Script),
        distinct: (s.r.identity != IdentityUsed::None).then_some(s.r.distinct),
    }];
    Some((Cause::PerExpressionCompilation, evidence))
}

/// Other generated classes: per-expression compilation, loader churn or
/// a generator without a cache.
fn generated(s: &Site<'_>) -> Option<(Cause, Vec<Evidence>)> {
    let r = s.r;
    let one_per_loader = ratio(s.loaders, r.defined) >= LOADER_RATIO;
    let scripty = s.stats.loaders.iter().any(|(t, _)| script_loader(t));
    let mostly_distinct =
        r.identity == IdentityUsed::Fingerprint && ratio(r.distinct, r.defined) >= DISTINCT_RATIO;
    if s.keeps_defining && (scripty || (mostly_distinct && one_per_loader)) {
        let evidence = vec![Evidence::DistinctClassesInOwnLoaders {
            defined: r.defined,
            distinct: r.distinct,
            identity: r.identity,
            loaders: s.loaders,
            loaders_at_least: s.loaders_capped,
        }];
        return Some((Cause::PerExpressionCompilation, evidence));
    }
    // Each call compiles a small fixed number of classes, each different
    // code (values compiled in), into a loader made for the call or
    // through a library the application calls (a compiler, whatever its
    // loaders): per-expression compilation. A generator of the
    // application's own defining into its long-lived loader is not.
    let calls = r.calls;
    let fixed_per_call = calls.calls >= MIN_CALLS
        && (1..=SMALL_CALL).contains(&calls.classes_per_call)
        && ratio(calls.calls_with_that_many, calls.calls) >= FIXED_CALL_RATIO;
    let loader_per_call = ratio(calls.calls_in_new_loader, calls.calls) >= LOADER_RATIO;
    let through_library = s
        .stats
        .key
        .entry()
        .is_some_and(|e| e.kind == EntryKind::Library);
    if s.keeps_defining && mostly_distinct && fixed_per_call && (loader_per_call || through_library)
    {
        let evidence = vec![
            Evidence::ClassesPerCall {
                calls: calls.calls,
                classes_per_call: calls.classes_per_call,
                calls_with_that_many: calls.calls_with_that_many,
                calls_in_new_loader: calls.calls_in_new_loader,
                defined: r.defined,
                distinct: r.distinct,
                identity: r.identity,
            },
            s.loader_instances(),
        ];
        return Some((Cause::PerExpressionCompilation, evidence));
    }
    if (one_per_loader && (s.keeps_defining || s.regenerated >= MIN_REGENERATED))
        || (r.regenerated_in_new_loader >= MIN_REGENERATED
            && r.regenerated_in_new_loader * 2 >= s.regenerated)
    {
        let mut evidence = vec![s.loader_instances()];
        if s.regenerated > 0 {
            evidence.extend(s.regeneration_and_top());
            evidence.push(Evidence::RegeneratedInNewLoader {
                regenerated_in_new_loader: r.regenerated_in_new_loader,
                regenerated: s.regenerated,
            });
        }
        return Some((Cause::LoaderChurn, evidence));
    }
    if (s.regenerated >= MIN_REGENERATED || s.trend == Trend::Leak) && s.keeps_defining {
        // A generator without a cache defining into long-lived loaders:
        // the same family (code generators), one loader.
        let mut evidence = vec![Evidence::LongLivedLoaders {
            defined: r.defined,
            loaders: s.loaders,
            at_least: s.loaders_capped,
        }];
        if s.regenerated > 0 {
            evidence.extend(s.regeneration_and_top());
        }
        return Some((Cause::UncachedGeneration, evidence));
    }
    None
}

/// What every verdict adds after its cause's own evidence.
fn common_evidence(s: &Site<'_>, cause: Cause) -> Vec<Evidence> {
    let r = s.r;
    let mut evidence = Vec::new();
    if r.regenerated_after_gc > 0 && cause != Cause::SoftReferenceCycle {
        evidence.push(s.after_gc());
    }
    evidence.push(Evidence::Unloaded {
        unloaded: r.unloaded,
        defined: r.defined,
        live: r.live(),
    });
    if !matches!(cause, Cause::LoaderChurn | Cause::PerExpressionCompilation) && s.loaders > 1 {
        evidence.push(s.loader_instances());
    }
    let threads = s.stats.threads.len() as u64 + u64::from(s.stats.other_thread_classes > 0);
    evidence.push(Evidence::Threads {
        threads,
        // Microsecond precision, as every time in the report.
        first_ms: (s.stats.first_t_ns / 1_000) as f64 / 1_000.0,
        last_ms: (s.stats.last_t_ns / 1_000) as f64 / 1_000.0,
    });
    evidence
}

/// `compile_once`: the compile-once remedy for per-expression compilation.
fn remedies(
    cause: Cause,
    trend: Trend,
    major: Option<u32>,
    fastjson2: bool,
    compile_once: Remedy,
) -> Vec<Remedy> {
    use Remedy::*;
    let mut r = match cause {
        Cause::SoftReferenceCycle => {
            let mut r = vec![
                CacheReflectionObjects,
                RaiseSoftRefLruPolicy,
                TuneInflationThreshold,
            ];
            if major.is_none_or(|m| m <= 17) {
                r.push(UpgradePastJdk17);
            }
            r
        }
        Cause::InflationRace => {
            let mut r = vec![WarmUpReflectionOnOneThread];
            if major.is_none_or(|m| m < 16) {
                r.push(UpgradeToJdk16);
            }
            r.push(RaiseInflationThresholdAgainstRaces);
            r
        }
        Cause::PerExpressionCompilation => vec![compile_once, CacheCompiledScripts],
        Cause::LoaderChurn => vec![CacheGeneratedClasses, MakeDiscardedLoadersUnreachable],
        Cause::UncachedGeneration => vec![CacheGeneratorOutput, OwnLoaderForDiscardedClasses],
        Cause::MethodHandleChurn => vec![
            RaiseSoftRefLruPolicy,
            CacheMethodHandles,
            SizeMetaspaceForChurn,
        ],
    };
    if fastjson2 {
        r.push(ReuseFastjson2Providers);
    }
    match trend {
        Trend::Leak => r.push(MetaspaceLimitOnlyDecidesWhen),
        Trend::Churn if cause != Cause::MethodHandleChurn => r.push(MetaspaceHeadroomForChurn),
        _ => {}
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::timeline::TIMELINE_BUCKETS;
    use crate::fixtures::{def, lisp_evaluations, report, SourcedFrame, Stream, MINILISP};
    use crate::render::wording;
    use serde_json::{json, Value};

    /// The verdict's evidence of kind `fact`.
    fn fact<'a>(verdict: &'a Value, fact: &str) -> &'a Value {
        verdict["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["fact"] == fact)
            .unwrap_or_else(|| panic!("no {fact} in {verdict:#}"))
    }

    /// The names of the verdict's remedies.
    fn remedies(verdict: &Value) -> Vec<&str> {
        verdict["remedies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["remedy"].as_str().unwrap())
            .collect()
    }

    const DELEGATING: &str = "jdk.internal.reflect.DelegatingClassLoader";
    const TARGETS: [&str; 10] = [
        "com.acme.Order.getId()J",
        "com.acme.Order.getCustomer()Ljava/lang/String;",
        "com.acme.Order.getPrice()D",
        "com.acme.Order.getQty()I",
        "com.acme.Order.getA()I",
        "com.acme.Order.getB()I",
        "com.acme.Order.getC()I",
        "com.acme.Order.getD()I",
        "com.acme.Order.getE()I",
        "com.acme.Order.getF()I",
    ];

    fn verdicts(v: &Value) -> &Vec<Value> {
        v["diagnosis"]["verdicts"].as_array().unwrap()
    }

    #[test]
    fn soft_reference_cycle_is_regeneration_after_gcs() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                60,
            )],
        );
        // 10 rounds of 10 targets; a GC between rounds unloads them all.
        let mut loader = 100;
        for round in 0..10u64 {
            let t0 = round * 250 + 10;
            let mut defs = Vec::new();
            for (i, target) in TARGETS.iter().enumerate() {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(target);
                let seq = s.class(t0 + i as u64, &d);
                defs.push((seq, d));
            }
            s.gc(t0 + 100);
            for (seq, d) in &defs {
                s.unload(t0 + 110, *seq, d);
                s.loader_unload(t0 + 110, d.loader);
            }
        }
        let v = s.json();
        let site = &v["call_sites"][0];
        assert_eq!(
            (&site["defined"], &site["distinct"], &site["regenerated"]),
            (&Value::from(100), &Value::from(10), &Value::from(90))
        );
        assert_eq!(
            (&site["unloaded"], &site["live"]),
            (&Value::from(100), &Value::from(0))
        );
        assert_eq!(site["identity"], "target");
        assert_eq!(site["targets"].as_array().unwrap().len(), 10);
        assert_eq!(site["targets"][0]["target"], "com.acme.Order.getA()I");
        assert_eq!(site["targets"][0]["defined"], 10);
        assert_eq!(site["targets"][0]["unloaded"], 10);
        assert_eq!(site["cause"], "soft_reference_cycle");
        assert_eq!(v["gcs"], 10);
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 1);
        let verdict = &vs[0];
        assert_eq!(verdict["call_site_rank"], 1);
        assert_eq!(verdict["cause"], "soft_reference_cycle");
        assert_eq!(verdict["trend"], "churn");
        assert_eq!(verdict["regenerated"], 90);
        assert_eq!(
            fact(verdict, "regenerated_after_gc"),
            &json!({"fact": "regenerated_after_gc", "regenerated_after_gc": 90, "regenerated": 90, "gcs": 10})
        );
        assert_eq!(
            fact(verdict, "most_regenerated")["keys"][0],
            json!({"identity": "target", "key": "com.acme.Order.getA()I", "defined": 10})
        );
        let softref = &verdict["remedies"][1];
        assert_eq!(softref["remedy"], "raise_soft_ref_lru_policy");
        assert_eq!(
            softref["settings"],
            json!(["-XX:SoftRefLRUPolicyMSPerMB=1000"])
        );
        assert!(
            remedies(verdict).contains(&"upgrade_past_jdk17"),
            "{verdict}"
        );
        // Census: one loader per accessor, all unloaded.
        let census = &v["loader_census"][0];
        assert_eq!(census["type"], DELEGATING);
        assert_eq!(
            (&census["instances"], &census["instances_unloaded"]),
            (&Value::from(100), &Value::from(100))
        );
        assert_eq!(census["classes_unloaded"], 100);
        assert_eq!(census["call_sites"][0]["rank"], 1);
        assert_eq!(census["call_sites"][0]["classes"], 100);
    }

    #[test]
    fn accessors_without_targets_fall_back_to_unload_then_redefine() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                60,
            )],
        );
        let mut loader = 100;
        for round in 0..5u64 {
            let t0 = round * 500 + 10;
            let mut defs = Vec::new();
            for i in 0..10 {
                loader += 1;
                let d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                defs.push((s.class(t0 + i, &d), d));
            }
            s.gc(t0 + 100);
            for (seq, d) in &defs {
                s.unload(t0 + 110, *seq, d);
            }
        }
        let v = s.json();
        assert_eq!(v["call_sites"][0]["identity"], "none");
        assert_eq!(v["call_sites"][0]["regenerated"], 0);
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "soft_reference_cycle");
        assert_eq!(
            vs[0]["evidence"][0],
            json!({"fact": "defined_after_unloads", "defined_after_unload": 40, "defined": 50, "bursts": 5})
        );
    }

    #[test]
    fn inflation_race_is_close_duplicates_on_other_threads_without_gc() {
        let mut s = Stream::new(
            "11.0.13",
            &[("java.lang.reflect.Method.invoke", "com.acme.Api.serve", 142)],
        );
        let threads = ["http-1", "http-2", "http-3", "http-4"];
        let mut loader = 10;
        for (i, target) in TARGETS.iter().enumerate() {
            for (j, thread) in threads.iter().enumerate() {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(target);
                d.thread = thread;
                s.class(100 + i as u64 * 250 + j as u64, &d);
            }
        }
        let v = s.json();
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 1);
        assert_eq!(vs[0]["cause"], "inflation_race");
        assert_eq!(vs[0]["trend"], "leak");
        assert_eq!(
            (&vs[0]["distinct"], &vs[0]["regenerated"]),
            (&Value::from(10), &Value::from(30))
        );
        assert_eq!(
            fact(&vs[0], "regenerated_in_race"),
            &json!({"fact": "regenerated_in_race", "regenerated_in_race": 30, "regenerated": 30,
                    "threads": 4, "window_ms": 1000})
        );
        assert_eq!(
            fact(&vs[0], "inflation_check"),
            &json!({"fact": "inflation_check", "java_version": "11.0.13", "atomic": false})
        );
        assert!(
            remedies(&vs[0]).contains(&"upgrade_to_jdk16"),
            "{:#}",
            vs[0]
        );
        assert_eq!(vs[0]["remedies"][1]["references"], json!(["JDK-8255883"]));
    }

    #[test]
    fn per_expression_compilation_is_many_distinct_scripts() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "groovy.lang.GroovyShell.evaluate",
                "com.acme.Pricing.quote",
                42,
            )],
        );
        for i in 0..40u64 {
            let fp = format!("{i:016x}");
            let mut d = def(
                ClassKind::Script,
                1,
                (1_000 + i, "groovy.lang.GroovyClassLoader$InnerLoader"),
            );
            d.fingerprint = Some(&fp);
            s.class(50 + i * 70, &d);
        }
        let v = s.json();
        let site = &v["call_sites"][0];
        assert_eq!(
            (&site["distinct"], &site["regenerated"]),
            (&Value::from(40), &Value::from(0))
        );
        assert_eq!(site["targets"][0]["fingerprint"], "0000000000000000");
        assert!(site["targets"][0].get("target").is_none());
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "per_expression_compilation");
        assert_eq!(vs[0]["trend"], "leak");
        assert_eq!(vs[0]["remedies"][0]["remedy"], "compile_once_with_bindings");
    }

    #[test]
    fn loader_churn_is_identical_code_in_new_loaders() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "com.acme.plugin.PluginLoader.definePlugin",
                "com.acme.Host.reload",
                47,
            )],
        );
        for i in 0..60u64 {
            let mut d = def(
                ClassKind::RuntimeDefined,
                1,
                (1_000 + i, "com.acme.plugin.PluginLoader"),
            );
            d.fingerprint = Some("00000000deadbeef");
            let seq = s.class(20 + i * 45, &d);
            if i % 20 == 19 {
                s.gc(20 + i * 45 + 5);
            }
            if i < 40 {
                s.unload(20 + i * 45 + 6, seq, &d);
                s.loader_unload(20 + i * 45 + 6, d.loader);
            }
        }
        let v = s.json();
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "loader_churn");
        assert_eq!(vs[0]["trend"], "churn");
        assert_eq!(
            (&vs[0]["distinct"], &vs[0]["regenerated"]),
            (&Value::from(1), &Value::from(59))
        );
        assert_eq!(
            fact(&vs[0], "loader_instances"),
            &json!({"fact": "loader_instances", "loaders": 60, "at_least": false, "classes": 60})
        );
        assert_eq!(
            fact(&vs[0], "regenerated_in_new_loader"),
            &json!({"fact": "regenerated_in_new_loader", "regenerated_in_new_loader": 59, "regenerated": 59})
        );
        let census = &v["loader_census"][0];
        assert_eq!(
            (&census["instances"], &census["instances_unloaded"]),
            (&Value::from(60), &Value::from(40))
        );
    }

    const APP: &str = "file:/app/app.jar";

    fn evaluations(with_code_sources: bool, shared_loader: bool) -> Value {
        lisp_evaluations(with_code_sources, shared_loader).json()
    }

    #[test]
    fn per_expression_compilation_is_calls_of_a_few_distinct_classes_through_a_library() {
        for shared_loader in [false, true] {
            let v = evaluations(true, shared_loader);
            let site = &v["call_sites"][0];
            assert_eq!(
                site["application_frame"]["display"],
                "com.acme.Rules.apply(Rules.java:34)"
            );
            let entry = &site["library_entry"];
            assert_eq!(entry["display"], "org.minilisp.Interpreter.eval");
            assert_eq!(entry["kind"], "library");
            assert_eq!(
                entry["code_source"],
                json!({"location": MINILISP, "name": "minilisp-0.9.jar"})
            );
            assert_eq!(site["defined"], 80, "both lines of compile: one call site");
            let vs = verdicts(&v);
            assert_eq!(vs.len(), 1, "{vs:#?}");
            assert_eq!(vs[0]["cause"], "per_expression_compilation");
            assert_eq!(
                fact(&vs[0], "classes_per_call"),
                &json!({"fact": "classes_per_call", "calls": 40, "classes_per_call": 2,
                        "calls_with_that_many": 40,
                        "calls_in_new_loader": if shared_loader { 1 } else { 40 },
                        "defined": 80, "distinct": 80, "identity": "fingerprint"})
            );
            assert_eq!(
                vs[0]["compile_call"],
                json!({"entry": "org.minilisp.Interpreter.eval",
                       "compile": "org.minilisp.Interpreter.compile"})
            );
            assert_eq!(
                vs[0]["remedies"][0]["remedy"],
                "compile_once_with_engines_compile_call"
            );
            assert_eq!(
                vs[0]["library_entry_code_source"]["name"],
                "minilisp-0.9.jar"
            );
        }
        let typed = evaluations(true, false);
        assert!(typed["diagnosis"]["verdicts"][0]["remedies"][1]["remedy"]
            .as_str()
            .is_some_and(|r| r == "cache_compiled_scripts"));
    }

    #[test]
    fn the_compile_once_remedy_names_the_engines_own_compile_call() {
        let report = lisp_evaluations(true, false).report();
        let v = &report.diagnosis.verdicts[0];
        let first = wording::remedy(v.remedies[0].remedy, v.compile_call.as_ref());
        assert_eq!(
            first,
            "org.minilisp.Interpreter.eval compiles the source on every call (through \
             org.minilisp.Interpreter.compile): call org.minilisp.Interpreter.compile once per rule, \
             keep what it returns and invoke that with the request's values as arguments or \
             variables, instead of calling org.minilisp.Interpreter.eval with the values pasted \
             into the source"
        );
        assert!(
            wording::summary(v).contains(" via minilisp-0.9.jar: org.minilisp.Interpreter.eval ")
        );
    }

    #[test]
    fn without_code_sources_a_loader_per_call_still_tells_per_expression_compilation() {
        // An older recording: names blame the interpreter's compile line,
        // through its loader's helper; calls of two in a loader made for
        // each still say it.
        let v = evaluations(false, false);
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 2, "one per line of compile: {vs:#?}");
        for v in vs {
            assert_eq!(v["cause"], "per_expression_compilation");
            assert_eq!(v["compile_call"], Value::Null);
            assert_eq!(v["remedies"][0]["remedy"], "compile_once_with_bindings");
        }
        // One shared loader and no library entry: the application's own
        // generator, not a compiler it calls.
        let v = evaluations(false, true);
        assert!(verdicts(&v)
            .iter()
            .all(|v| v["cause"] != "per_expression_compilation"));
    }

    #[test]
    fn a_compile_call_per_request_into_one_loader_is_per_expression_compilation() {
        let vendor = "file:/app/lib/expr-engine-5.0.jar";
        let mut s = Stream::with_code_sources(
            "com.acme.Main",
            &[APP, vendor],
            &[vec![
                ("java.lang.ClassLoader", "defineClass1", 0, None),
                ("com.vendor.expr.ByteLoader", "add", 20, Some(1)),
                ("com.vendor.expr.Engine", "compileExpression", 88, Some(1)),
                ("com.acme.Pricing", "quote", 12, Some(0)),
                ("com.acme.Main", "main", 3, Some(0)),
            ]],
        );
        for i in 0..30u64 {
            let fp = format!("{i:016x}");
            let mut d = def(
                ClassKind::RuntimeDefined,
                1,
                (9, "com.vendor.expr.ByteLoader"),
            );
            d.fingerprint = Some(&fp);
            s.class(30 + i * 90, &d);
        }
        let v = s.json();
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "per_expression_compilation");
        assert_eq!(fact(&vs[0], "classes_per_call")["classes_per_call"], 1);
        assert_eq!(
            vs[0]["remedies"][0]["remedy"],
            "compile_once_not_per_request"
        );
        assert_eq!(
            vs[0]["compile_call"],
            json!({"entry": "com.vendor.expr.Engine.compileExpression", "compile": null})
        );
    }

    /// An engine in a jar of its own (`engine`: its frames, innermost
    /// first), called by `app_frames`; each call defines two distinct
    /// classes (two lines of the innermost engine frame) in one shared
    /// loader.
    fn engine_evaluations(app_frames: &[SourcedFrame], engine: &[SourcedFrame]) -> Value {
        let stack = |line: u32| {
            let mut stack: Vec<SourcedFrame> =
                vec![("java.lang.ClassLoader", "defineClass1", 0, None)];
            stack.extend_from_slice(engine);
            stack[1].2 = line;
            stack.extend_from_slice(app_frames);
            stack.push(("com.acme.Main", "main", 3, Some(0)));
            stack
        };
        let mut s = Stream::with_code_sources(
            "com.acme.Main",
            &[APP, "file:/app/lib/rules-engine-2.0.jar"],
            &[stack(20), stack(21)],
        );
        for i in 0..30u64 {
            for stack in [1, 2] {
                let fp = format!("{i:015x}{stack}");
                let mut d = def(
                    ClassKind::RuntimeDefined,
                    stack,
                    (9, "com.vendor.rules.Loader"),
                );
                d.fingerprint = Some(&fp);
                s.class(30 + i * 90 + stack, &d);
            }
        }
        s.json()
    }

    #[test]
    fn the_compile_once_remedy_follows_the_api_the_engine_is_driven_through() {
        // JSR-223: the application calls ScriptEngine.eval, the JDK's
        // javax.script sits between it and the engine.
        let v = engine_evaluations(
            &[
                ("javax.script.AbstractScriptEngine", "eval", 264, None),
                ("com.acme.Pricing", "quote", 12, Some(0)),
            ],
            &[
                ("com.vendor.rules.Loader", "define", 20, Some(1)),
                ("com.vendor.rules.RulesScriptEngine", "eval", 88, Some(1)),
            ],
        );
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "per_expression_compilation", "{vs:#?}");
        assert_eq!(fact(&vs[0], "classes_per_call")["classes_per_call"], 2);
        assert_eq!(
            vs[0]["remedies"][0]["remedy"],
            "compile_once_with_compilable"
        );
        // The engine's own API, with no compile-like step on the stack:
        // compile a function once and invoke it.
        let v = engine_evaluations(
            &[("com.acme.Pricing", "quote", 12, Some(0))],
            &[
                ("com.vendor.rules.Loader", "define", 20, Some(1)),
                ("com.vendor.rules.Runner", "run", 88, Some(1)),
            ],
        );
        let vs = verdicts(&v);
        assert_eq!(vs[0]["cause"], "per_expression_compilation", "{vs:#?}");
        assert_eq!(
            vs[0]["remedies"][0]["remedy"],
            "compile_function_once_and_invoke"
        );
        assert_eq!(
            vs[0]["compile_call"],
            json!({"entry": "com.vendor.rules.Runner.run", "compile": null})
        );
    }

    #[test]
    fn the_applications_own_generator_into_one_loader_is_uncached_generation() {
        // DynamicLoaderDemo's shape, with code sources: distinct classes,
        // one per call, one long-lived loader, no library in between.
        let mut s = Stream::with_code_sources(
            "com.acme.Main",
            &[APP],
            &[vec![
                ("java.lang.ClassLoader", "defineClass1", 0, None),
                ("com.acme.codegen.DynamicClassLoader", "define", 20, Some(0)),
                ("com.acme.JsonWriter", "writerFor", 40, Some(0)),
                ("com.acme.Main", "main", 3, Some(0)),
            ]],
        );
        for i in 0..30u64 {
            let fp = format!("{i:016x}");
            let mut d = def(
                ClassKind::RuntimeDefined,
                1,
                (9, "com.acme.codegen.DynamicClassLoader"),
            );
            d.fingerprint = Some(&fp);
            s.class(30 + i * 90, &d);
        }
        let v = s.json();
        let site = &v["call_sites"][0];
        assert_eq!(site["library_entry"]["kind"], "loader_helper");
        assert_eq!(site["library_entry"]["code_source"], Value::Null);
        assert_eq!(verdicts(&v)[0]["cause"], "uncached_generation");
    }

    #[test]
    fn fastjson2_sites_get_the_fastjson2_remedy() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "com.alibaba.fastjson2.JSON.toJSONString",
                "com.acme.Api.respond",
                37,
            )],
        );
        for i in 0..50u64 {
            let mut d = def(
                ClassKind::DynamicLoader,
                1,
                (7, "com.alibaba.fastjson2.util.DynamicClassLoader"),
            );
            d.fingerprint = Some("00000000cafebabe");
            s.class(10 + i * 55, &d);
        }
        let v = s.json();
        let vs = verdicts(&v);
        // One long-lived DynamicClassLoader: a generator without a cache,
        // not a new loader per class.
        assert_eq!(vs[0]["cause"], "uncached_generation");
        assert_eq!(vs[0]["trend"], "leak");
        let fastjson2 = vs[0]["remedies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["remedy"] == "reuse_fastjson2_providers")
            .unwrap();
        assert_eq!(
            fastjson2["settings"],
            json!(["-Dfastjson2.creator=reflect"])
        );
    }

    #[test]
    fn method_handle_churn_is_lambda_forms_mostly_unloaded_across_gcs() {
        let mut s = Stream::new(
            "25.0.2",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                61,
            )],
        );
        for round in 0..10u64 {
            let t0 = round * 290 + 5;
            let mut defs = Vec::new();
            for i in 0..8 {
                let mut d = def(ClassKind::LambdaForm, 1, (0, "bootstrap"));
                d.hidden = true;
                defs.push((s.class(t0 + i, &d), d));
            }
            s.gc(t0 + 50);
            for (seq, d) in defs.iter().take(7) {
                s.unload(t0 + 60, *seq, d);
            }
        }
        let typed = report(&s.finished(), 0);
        let v: Value = serde_json::from_str(&crate::render::json::render(&typed)).unwrap();
        let vs = verdicts(&v);
        assert_eq!(vs.len(), 1);
        assert_eq!(vs[0]["cause"], "method_handle_churn");
        assert_eq!(vs[0]["trend"], "churn");
        assert_eq!(
            (&vs[0]["unloaded"], &vs[0]["live"]),
            (&Value::from(70), &Value::from(10))
        );
        let summary = wording::summary(&typed.diagnosis.verdicts[0]);
        assert!(summary.contains("churn, not a leak"), "{summary}");
        assert_eq!(v["call_sites"][0]["identity"], "none");
    }

    #[test]
    fn a_leak_stays_a_leak_when_the_program_idles_before_it_exits() {
        let r = SiteRegeneration {
            defined: 300,
            ..SiteRegeneration::default()
        };
        let mut live: Vec<u64> = (0..10).map(|i| i * 30).collect();
        live.extend([300; 30]);
        assert_eq!(trend(&r, &live), Trend::Leak);
        // Defined at once and kept: a cache, not a leak.
        let burst = [0, 0, 300, 300, 300, 300];
        assert_eq!(trend(&r, &burst), Trend::Steady);
        assert_eq!(trend(&r, &[]), Trend::Steady);
    }

    #[test]
    fn a_steady_program_gets_no_verdict() {
        let mut s = Stream::new(
            "17.0.9",
            &[
                (
                    "java.lang.reflect.Method.invoke",
                    "com.acme.Service.serve",
                    81,
                ),
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.Service.client",
                    92,
                ),
                (
                    "java.lang.invoke.MethodHandleNatives.linkCallSite",
                    "com.acme.Service.init",
                    7,
                ),
            ],
        );
        // Warm-up: accessors once per target, a few proxies and lambdas.
        for (i, target) in TARGETS.iter().enumerate() {
            let mut d = def(
                ClassKind::ReflectionAccessor,
                1,
                (10 + i as u64, DELEGATING),
            );
            d.target = Some(target);
            s.class(10 + i as u64, &d);
        }
        for i in 0..12u64 {
            let mut d = def(ClassKind::Lambda, 3, (1, "app"));
            d.hidden = true;
            s.class(30 + i, &d);
        }
        s.class(50, &def(ClassKind::Proxy, 2, (1, "app")));
        // Then GCs and nothing new for the rest of the run.
        for t in (100..3_000).step_by(100) {
            s.gc(t);
        }
        let v = s.json();
        assert_eq!(verdicts(&v), &Vec::<Value>::new());
        assert_eq!(v["gcs"], 29);
        assert!(v["call_sites"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["cause"].is_null() && c["regenerated"] == 0));
    }

    #[test]
    fn live_timeline_and_gc_markers_share_buckets() {
        let mut s = Stream::new(
            "17.0.9",
            &[("com.acme.gen.Loader.define", "com.acme.Gen.make", 1)],
        );
        let mut seqs = Vec::new();
        for i in 0..30u64 {
            let d = def(ClassKind::RuntimeDefined, 1, (1, "com.acme.gen.Loader"));
            seqs.push((s.class(i * 100, &d), d));
        }
        s.gc(1_500);
        for (seq, d) in seqs.iter().take(10) {
            s.unload(1_501, *seq, d);
        }
        let v = s.json();
        let tl = v["call_sites"][0]["live_timeline"].as_array().unwrap();
        let gcs = v["gc_timeline"].as_array().unwrap();
        assert_eq!(tl.len(), gcs.len());
        assert!(tl.len() <= TIMELINE_BUCKETS && tl.len() > TIMELINE_BUCKETS / 2);
        assert_eq!(tl.last().unwrap()[0], 3000.0);
        assert_eq!(tl.last().unwrap()[1], 20);
        let gc_at = gcs.iter().position(|g| g[1] == 1).unwrap();
        // Live drops by 10 in the GC's bucket.
        assert_eq!(
            tl[gc_at - 1][1].as_u64().unwrap() - tl[gc_at][1].as_u64().unwrap() + 1,
            10
        );
        assert_eq!(gcs.iter().map(|g| g[1].as_u64().unwrap()).sum::<u64>(), 1);
    }

    #[test]
    fn text_report_ends_with_a_diagnosis_and_a_chart() {
        let mut s = Stream::new(
            "17.0.9",
            &[(
                "java.lang.reflect.Method.invoke",
                "com.acme.Copier.copy",
                60,
            )],
        );
        let mut loader = 0;
        for round in 0..6u64 {
            let mut defs = Vec::new();
            for target in TARGETS {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(target);
                defs.push((s.class(round * 400 + 10, &d), d));
            }
            s.gc(round * 400 + 200);
            for (seq, d) in &defs {
                s.unload(round * 400 + 210, *seq, d);
            }
        }
        let text = crate::render::text::render(&report(&s.finished(), 10), false);
        let diagnosis = &text[text.find("\nDiagnosis (").expect(&text)..];
        assert!(diagnosis.contains("Diagnosis (1 call site flagged, 6 GCs in the recording):"));
        assert!(diagnosis
            .contains("#1 com.acme.Copier.copy(Copier.java:60) — soft_reference_cycle, churn\n"));
        assert!(
            diagnosis.contains("60 defined · 10 distinct · 50 regenerated · 60 unloaded · 0 live")
        );
        assert!(diagnosis.contains("    live  │█"), "{diagnosis}");
        assert!(diagnosis.contains("    GCs   │"), "{diagnosis}");
        assert!(diagnosis.contains("      - 50 of 50 redefinitions came after a GC"));
        assert!(text.contains("  #   Classes   Unloaded   Live   Regen.   Kinds"));
        assert_eq!(
            crate::render::text::sparkline(&[0, 1, 4, 8]),
            " ▁▄█".to_string()
        );
    }

    #[test]
    fn java_major_reads_old_and_new_versions() {
        assert_eq!(java_major("17.0.9"), Some(17));
        assert_eq!(java_major("1.8.0_392"), Some(8));
        assert_eq!(java_major("21"), Some(21));
        assert_eq!(java_major("25-ea"), Some(25));
        assert_eq!(java_major("x"), None);
    }
}
