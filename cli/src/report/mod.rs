//! The report: one self-sufficient model of what the analysis found,
//! data only ([`model`]), the only input of every renderer (text, JSON,
//! HTML, flame graphs, `check`, the live view), so they never disagree.
//! Its JSON form is documented in docs/report.md and
//! docs/schema/report.schema.json.
//!
//! Built from [`Analyzed`] by [`build`]: ranks, `--top`, the sample stacks
//! with each frame's role ([`call_site`]), the timelines in milliseconds
//! and, when a renderer draws one, the flame graph's stacks
//! ([`flame_graph`]).

mod call_site;
pub mod flame_graph;
pub mod metaspace;
pub mod model;

use metascope_events::{Census, CensusGroup, ClassKind};

use self::model::ns_to_ms;
use crate::analyze::diagnosis::Verdict;
use crate::analyze::exhaustion::Exhaustion;
use crate::analyze::{Analyzed, SiteOrder};

pub use self::flame_graph::{FlameGraph, FrameClass};
pub use self::model::*;

/// Census groups of generated classes listed by the text and HTML reports.
pub const CENSUS_GROUPS_SHOWN: usize = 8;

/// What to put in the report.
#[derive(Debug, Clone, Copy)]
pub struct Contents<'a> {
    /// The recording's name, as the reader was given it.
    pub file: &'a str,
    /// The biggest call sites to list (0: all).
    pub top: usize,
    /// What of the flame graph to add (for `folded`, `svg` and `html`; it
    /// costs memory in proportion to the distinct stacks kept).
    pub flame_graph: FlameGraphParts,
}

/// What of the flame graph a renderer draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlameGraphParts {
    None,
    /// The weighted stacks (`--format folded`).
    Stacks,
    /// The stacks and what each frame is, for colours (`svg`, `html`).
    StacksAndFrames,
}

/// Builds the report of what `analyzed` found.
pub fn build(analyzed: &Analyzed<'_>, contents: &Contents<'_>) -> Report {
    let total = analyzed.call_sites.len();
    let shown = if contents.top == 0 {
        total
    } else {
        contents.top.min(total)
    };
    let mut call_sites: Vec<CallSiteReport> =
        (0..shown).map(|i| call_site::build(analyzed, i)).collect();
    for v in &analyzed.verdicts {
        if let Some(site) = call_sites.get_mut(v.site) {
            site.cause = Some(v.cause);
        }
    }
    let omitted = &analyzed.call_sites[shown..];
    let timeline = &analyzed.timeline;
    let totals: Vec<TimelinePoint> = timeline
        .totals()
        .into_iter()
        .map(|(t_ms, defined, unloaded, live, gcs)| TimelinePoint {
            t_ms,
            defined,
            unloaded,
            live,
            gcs,
        })
        .collect();
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        metascope_version: env!("CARGO_PKG_VERSION"),
        recording: recording_info(analyzed, contents.file),
        call_sites_total: total,
        call_sites,
        omitted: Omitted {
            call_sites: omitted.len(),
            classes: omitted.iter().map(|s| s.classes).sum(),
        },
        gcs: analyzed.gcs,
        gc_timeline: timeline.gc_timeline(),
        metaspace: metaspace::build(analyzed, &totals),
        timeline: totals,
        loader_census: loader_census(analyzed),
        diagnosis: DiagnosisReport {
            verdicts: analyzed
                .verdicts
                .iter()
                .map(|v| verdict(analyzed, v))
                .collect(),
            unmatched_unloads: analyzed.unmatched_unloads,
        },
        sorted_by: analyzed.order,
        sort_by_bytes_unavailable: analyzed.options.order == SiteOrder::Bytes
            && analyzed.order != SiteOrder::Bytes,
        flame_graph: match contents.flame_graph {
            FlameGraphParts::None => None,
            FlameGraphParts::Stacks => Some(flame_graph::build(analyzed, false)),
            FlameGraphParts::StacksAndFrames => Some(flame_graph::build(analyzed, true)),
        },
    }
}

fn recording_info(analyzed: &Analyzed<'_>, file: &str) -> RecordingInfo {
    let facts = analyzed.facts;
    let s = facts.summary.as_ref();
    RecordingInfo {
        file: file.to_string(),
        header: facts.header.clone(),
        summary: facts.summary.clone(),
        attached: facts.attached(),
        census: facts.census.clone(),
        complete: s.is_some(),
        truncated: analyzed.truncated,
        duration_ms: ns_to_ms(facts.duration_ns()),
        totals: Totals {
            classes_loaded: s.map(|s| s.classes_loaded),
            seen: s.map(|s| s.seen),
            dropped: s.map(|s| s.dropped),
            stack_errors: s.map(|s| s.stack_errors),
            captured: facts.class_records,
            attributed: analyzed.attributed_classes(),
            hidden_ordinary: facts.hidden_ordinary,
            corrupt_lines: analyzed.corrupt_lines,
            unknown_records: facts.unknown_records,
        },
        resource_exhausted: analyzed
            .exhaustion
            .iter()
            .map(|e| exhaustion(analyzed, e))
            .collect(),
        resource_exhausted_omitted: analyzed.exhaustion_omitted,
        warnings: analyzed.warnings.clone(),
    }
}

fn loader_census(analyzed: &Analyzed<'_>) -> Vec<LoaderCensusReport> {
    analyzed
        .loaders
        .types
        .iter()
        .map(|(name, t)| {
            let mut sites: Vec<(usize, u64)> = t.sites.iter().map(|(&i, &n)| (i, n)).collect();
            sites.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            sites.truncate(10);
            LoaderCensusReport {
                type_name: name.clone(),
                instances: t.instances.max(t.instances_unloaded),
                instances_capped: analyzed.loaders.capped,
                instances_unloaded: t.instances_unloaded,
                classes_defined: t.classes_defined,
                classes_unloaded: t.classes_unloaded,
                call_sites: sites
                    .into_iter()
                    .filter_map(|(i, classes)| {
                        analyzed.call_sites.get(i).map(|s| CensusSite {
                            rank: i + 1,
                            display: s.key.display(),
                            classes,
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

fn verdict(analyzed: &Analyzed<'_>, v: &Verdict) -> VerdictReport {
    let site = &analyzed.call_sites[v.site];
    let r = &analyzed.regeneration[v.site];
    VerdictReport {
        call_site_rank: v.site + 1,
        call_site: site.key.display(),
        library_entry: site.key.entry().map(|e| e.display()),
        library_entry_code_source: site
            .key
            .entry()
            .and_then(|e| e.code_source.as_deref())
            .map(CodeSourceRef::from),
        cause: v.cause,
        trend: v.trend,
        evidence: v.evidence.clone(),
        remedies: v.remedies.iter().copied().map(RemedyReport::from).collect(),
        defined: r.defined,
        distinct: r.distinct,
        regenerated: r.regenerated(),
        unloaded: r.unloaded,
        live: r.live(),
        identity: r.identity,
        compile_call: v.compile_call.clone(),
    }
}

/// The attach-time census as the text and HTML reports show it: the
/// biggest groups of generated classes, the rest and the ordinary classes
/// summed up.
#[derive(Debug)]
pub struct CensusOverview<'a> {
    pub classes: u64,
    /// At most [`CENSUS_GROUPS_SHOWN`], most classes first.
    pub generated: Vec<&'a CensusGroup>,
    /// Generated groups past those: (groups, classes).
    pub more_generated: (usize, u64),
    /// Ordinary classes: (classes, loader types, loaders).
    pub ordinary: (u64, usize, u64),
}

pub fn census_overview(c: &Census) -> CensusOverview<'_> {
    let (ordinary, mut generated): (Vec<&CensusGroup>, Vec<&CensusGroup>) =
        c.groups.iter().partition(|g| g.kind == ClassKind::Ordinary);
    generated.sort_by(|a, b| {
        b.classes
            .cmp(&a.classes)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.loader_type.cmp(&b.loader_type))
    });
    let rest = generated.split_off(CENSUS_GROUPS_SHOWN.min(generated.len()));
    CensusOverview {
        classes: c.classes,
        generated,
        more_generated: (rest.len(), rest.iter().map(|g| g.classes).sum()),
        ordinary: (
            ordinary.iter().map(|g| g.classes).sum(),
            ordinary.len(),
            ordinary.iter().map(|g| g.loaders).sum(),
        ),
    }
}

fn exhaustion(analyzed: &Analyzed<'_>, e: &Exhaustion) -> ExhaustionReport {
    ExhaustionReport {
        event: e.event.clone(),
        resource: e.resource,
        t_ms: ns_to_ms(e.event.t_ns),
        captured_before: e.captured_before,
        filled_by: e.filled_by.map(|f| {
            let site = &analyzed.call_sites[f.site];
            FilledByReport {
                rank: f.site + 1,
                display: site.key.display(),
                library_entry: site.key.entry().map(|e| e.display()),
                classes_before: f.classes_before,
                // Four decimals: 0.9997.
                // At most 1 even for a stream with duplicated records.
                share: ((f.classes_before as f64 / e.captured_before.max(1) as f64).min(1.0)
                    * 10_000.0)
                    .round()
                    / 10_000.0,
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use crate::fixtures::{bean_copier_stream, exhausted, json, report_with, ReadOptions};
    use crate::render::{flame, json, text};
    use serde_json::Value;

    fn json_for(stream: &str, top: usize) -> Value {
        json(stream, top)
    }

    #[test]
    fn json_report_has_the_documented_shape() {
        let v = json_for(&bean_copier_stream(true, 0), 10);
        assert_eq!(v["schema_version"], 2);
        let rec = &v["recording"];
        assert_eq!(rec["header"]["pid"], 4242);
        assert_eq!(rec["header"]["options"]["mode"], "dynamic");
        assert_eq!(rec["summary"]["reason"], "vm_death");
        assert_eq!(rec["complete"], true);
        assert_eq!(rec["truncated"], false);
        assert_eq!(rec["duration_ms"], 3000.0);
        assert_eq!(rec["totals"]["classes_loaded"], 2417);
        assert_eq!(rec["totals"]["captured"], 5);
        assert_eq!(rec["totals"]["dropped"], 0);
        assert_eq!(rec["warnings"], Value::Array(vec![]));
        assert_eq!(v["call_sites_total"], 3);
        assert_eq!(v["omitted"]["call_sites"], 0);

        let top = &v["call_sites"][0];
        assert_eq!(top["rank"], 1);
        assert_eq!(top["classes"], 3);
        assert_eq!(top["attribution"], "application");
        let app = &top["application_frame"];
        assert_eq!(app["class"], "com.acme.orders.OrderService");
        assert_eq!(app["method"], "toDto");
        assert_eq!(app["line"], 42);
        assert_eq!(app["file"], "OrderService.java");
        assert_eq!(
            app["display"],
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
        assert_eq!(
            top["library_entry"]["display"],
            "org.springframework.beans.BeanUtils.copyProperties"
        );
        assert_eq!(top["outermost_frame"], Value::Null);
        assert_eq!(top["kinds"]["reflection_accessor"], 3);
        assert_eq!(
            top["loaders"][0]["type"],
            "jdk.internal.reflect.DelegatingClassLoader"
        );
        assert_eq!(top["loaders"][0]["instances"], 3);
        assert_eq!(top["loaders"][0]["instances_capped"], false);
        assert_eq!(top["threads"][0]["name"], "main");
        assert_eq!(top["threads"][0]["classes"], 3);
        assert_eq!(top["first_t_ms"], 250.0);
        assert_eq!(top["last_t_ms"], 750.0);
        assert_eq!(top["first_wall_ms"], 1_763_900_000_250u64);
        assert_eq!(
            top["examples"][0],
            "jdk.internal.reflect.GeneratedMethodAccessor1"
        );
        let stack = top["sample_stack"].as_array().unwrap();
        assert_eq!(stack.len(), 13);
        assert_eq!(stack[0]["role"], "jdk");
        assert_eq!(stack[0]["sig"], "()V");
        assert_eq!(stack[10]["role"], "library_entry");
        assert_eq!(stack[11]["role"], "application_frame");
        assert_eq!(stack[12]["role"], "caller");
        assert_eq!(top["sample_stack_at_depth_limit"], false);

        let none = &v["call_sites"][2];
        assert_eq!(none["attribution"], "stack_not_captured");
        assert_eq!(none["application_frame"], Value::Null);
        assert_eq!(none["sample_stack"], Value::Array(vec![]));
    }

    #[test]
    fn a_summarised_sample_stack_is_said_so() {
        let stream = bean_copier_stream(true, 0);
        let options = ReadOptions {
            stack_memory: 0,
            ..ReadOptions::default()
        };
        let report = report_with(&stream, 10, options);
        let v: Value = serde_json::from_str(&json::render(&report)).unwrap();
        let top = &v["call_sites"][0];
        assert_eq!(top["sample_stack"], Value::Array(vec![]));
        assert_eq!(top["sample_stack_summarised"], true);
        assert_eq!(v["call_sites"][2]["sample_stack_summarised"], false);
        let text = text::render(&report, false);
        assert!(
            text.contains(
                "    (sample stack not kept: past the stack memory cap, see the warnings)\n"
            ),
            "{text}"
        );
        let folded = flame::render_folded(&report);
        assert_eq!(
            folded,
            "(stack not captured) 1\n\
             (stacks summarised);com.acme.audit.AuditingFactory.wrap:23;java.lang.reflect.Proxy.newProxyInstance 1\n\
             (stacks summarised);com.acme.orders.OrderService.toDto:42;org.springframework.beans.BeanUtils.copyProperties 3\n"
        );
        let svg = flame::render_svg(&report).unwrap();
        assert!(svg.contains("(stacks summarised)"));
    }

    #[test]
    fn top_limits_call_sites_and_counts_what_it_left_out() {
        let v = json_for(&bean_copier_stream(true, 0), 1);
        assert_eq!(v["call_sites"].as_array().unwrap().len(), 1);
        assert_eq!(v["call_sites_total"], 3);
        assert_eq!(v["omitted"]["call_sites"], 2);
        assert_eq!(v["omitted"]["classes"], 2);
        let all = json_for(&bean_copier_stream(true, 0), 0);
        assert_eq!(all["call_sites"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn json_without_summary_has_null_totals_and_the_warning() {
        let v = json_for(&bean_copier_stream(false, 0), 10);
        assert_eq!(v["recording"]["complete"], false);
        assert_eq!(v["recording"]["summary"], Value::Null);
        assert_eq!(v["recording"]["totals"]["classes_loaded"], Value::Null);
        assert_eq!(
            v["recording"]["warnings"][0],
            serde_json::json!({"warning": "no_summary"})
        );
    }

    #[test]
    fn json_lists_ooms_with_the_call_site_that_filled_metaspace() {
        let mut stream = bean_copier_stream(false, 0);
        stream += &exhausted("Java heap space", &["oom_error", "java_heap"], 4);
        stream += &exhausted("Metaspace", &["oom_error"], 5);
        let v = json_for(&stream, 1);
        let rec = &v["recording"];
        assert_eq!(rec["resource_exhausted_omitted"], 0);
        let heap = &rec["resource_exhausted"][0];
        assert_eq!(heap["description"], "Java heap space");
        assert_eq!(heap["flags"][1], "java_heap");
        assert_eq!(heap["resource"], "java_heap");
        assert_eq!(heap["filled_by"], Value::Null);
        let m = &rec["resource_exhausted"][1];
        assert_eq!(m["resource"], "metaspace");
        assert_eq!(m["thread"], "main");
        assert_eq!(m["after_seq"], 5);
        assert_eq!(m["t_ns"], 2_030_000_000u64);
        assert_eq!(m["t_ms"], 2030.0);
        assert_eq!(m["wall_ms"], 1_763_900_002_030u64);
        assert_eq!(m["captured_before"], 5);
        let f = &m["filled_by"];
        assert_eq!(f["rank"], 1);
        assert_eq!(
            f["display"],
            "com.acme.orders.OrderService.toDto(OrderService.java:42)"
        );
        assert_eq!(
            f["library_entry"],
            "org.springframework.beans.BeanUtils.copyProperties"
        );
        assert_eq!(f["classes_before"], 3);
        assert_eq!(f["share"], 0.6);
    }

    #[test]
    fn the_recording_wide_timeline_adds_up_every_call_site() {
        use crate::fixtures::{def, Stream};
        use metascope_events::ClassKind;
        let mut s = Stream::new(
            "17.0.9",
            &[
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.A.a",
                    1,
                ),
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.B.b",
                    2,
                ),
            ],
        );
        let a = def(ClassKind::Proxy, 1, (1, "app"));
        let b = def(ClassKind::Proxy, 2, (1, "app"));
        let first = s.class(100, &a);
        s.class(200, &b);
        s.class(2_500, &b);
        s.gc(1_000);
        s.unload(1_100, first, &a);
        let v = s.json();
        let timeline = v["timeline"].as_array().unwrap();
        assert_eq!(timeline.len(), v["gc_timeline"].as_array().unwrap().len());
        let sum =
            |field: &str| -> u64 { timeline.iter().map(|p| p[field].as_u64().unwrap()).sum() };
        assert_eq!((sum("defined"), sum("unloaded"), sum("gcs")), (3, 1, 1));
        let last = timeline.last().unwrap();
        assert_eq!(last["live"], 2);
        assert_eq!(last["t_ms"], 3000.0);
        let b = &v["call_sites"].as_array().unwrap()[0];
        assert_eq!(b["classes"], 2);
        assert_eq!(b["live_growth"], 1); // one live at 1 s (a third), two at the end
        assert_eq!(b["peak_rate_per_s"], 1);
    }

    #[test]
    fn an_attached_recording_reports_its_census() {
        use crate::fixtures::attached_stream;
        let v = json_for(&attached_stream(11), 10);
        let rec = &v["recording"];
        assert_eq!(rec["attached"], true);
        assert_eq!(rec["header"]["attached"], true);
        let census = &rec["census"];
        assert_eq!(census["t_ns"], 3_100_000);
        assert_eq!(census["classes"], 2_510);
        let groups = census["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 13, "every group, as written");
        assert_eq!(groups[1]["kind"], "reflection_accessor");
        assert_eq!(
            groups[1]["loader_type"],
            "jdk.internal.reflect.DelegatingClassLoader"
        );
        assert_eq!(
            (groups[1]["classes"].as_u64(), groups[1]["loaders"].as_u64()),
            (Some(200), Some(200))
        );
        // Pre-existing classes have no stacks: not in the call sites.
        assert_eq!(rec["totals"]["captured"], 5);
        assert_eq!(v["call_sites_total"], 3);

        let plain = json_for(&bean_copier_stream(true, 0), 10);
        assert_eq!(plain["recording"]["attached"], false);
        assert_eq!(plain["recording"]["census"], Value::Null);
    }

    #[test]
    fn the_text_report_lists_the_census_at_attach() {
        use crate::fixtures::{attached_stream, report};
        let text = text::render(&report(&attached_stream(11), 10), false);
        assert!(text.contains("agent 0.1.0 (attached)\n"), "{text}");
        let at = text.find("\nAt attach: 2,510 classes already loaded (pre-existing, no stacks)\n");
        let block: Vec<&str> = text[at.expect(&text) + 1..].lines().take(12).collect();
        assert_eq!(
            block[1],
            "  reflection_accessor   jdk.internal.reflect.DelegatingClassLoader   200 classes in 200 loaders"
        );
        assert_eq!(
            block[2],
            "  proxy                 com.acme.tenant.Loader1                      2 classes in 1 loader"
        );
        // The biggest 8 groups of generated classes, the rest summed up,
        // ordinary classes in one line.
        assert_eq!(
            block[9],
            "  … 3 more generated groups with 6 classes (--format json lists them all)"
        );
        assert_eq!(
            block[10],
            "  ordinary              2,290 classes in 2 loader types, 2 loaders"
        );
        assert_eq!(block[11], "");
        assert!(text.find("Call sites by classes defined") > at);

        let text = text::render(&report(&bean_copier_stream(true, 0), 10), false);
        assert!(!text.contains("At attach") && !text.contains("(attached)"));
    }

    #[test]
    fn json_without_header_has_null_header_and_the_warning() {
        let stream: String = bean_copier_stream(true, 0)
            .lines()
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect();
        let v = json_for(&stream, 10);
        assert_eq!(v["recording"]["header"], Value::Null);
        assert_eq!(v["recording"]["complete"], true);
        assert_eq!(v["call_sites"][0]["sample_stack_at_depth_limit"], false);
        assert_eq!(
            v["recording"]["warnings"][0],
            serde_json::json!({"warning": "no_header"})
        );
        assert_eq!(v["recording"]["resource_exhausted"], Value::Array(vec![]));
    }

    /// A report with code sources (library entries with their jars, a
    /// per-expression verdict naming the compile call) matches the JSON
    /// Schema as a whole.
    #[test]
    fn a_report_with_code_sources_matches_the_report_schema() {
        use crate::fixtures::lisp_evaluations;
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/schema/report.schema.json"
        ))
        .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for with_code_sources in [true, false] {
            let v = lisp_evaluations(with_code_sources, false).json();
            assert!(v["diagnosis"]["verdicts"][0]["cause"] == "per_expression_compilation");
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{errors:#?}");
        }
    }

    /// Every warning, fact and remedy the code can write is in the JSON
    /// Schema (docs/schema/report.schema.json), field for field.
    #[test]
    fn every_warning_fact_and_remedy_matches_the_report_schema() {
        use crate::analyze::diagnosis::{Evidence, RegeneratedKey, Remedy};
        use crate::analyze::regeneration::{Identity, IdentityUsed};
        use crate::analyze::warnings::Warning;
        use crate::report::RemedyReport;

        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/schema/report.schema.json"
        ))
        .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        let validator = |def: &str| {
            let sub =
                serde_json::json!({"$ref": format!("#/$defs/{def}"), "$defs": schema["$defs"]});
            jsonschema::validator_for(&sub).unwrap()
        };
        let check = |def: &str, values: Vec<Value>| {
            let v = validator(def);
            for value in values {
                let errors: Vec<String> = v.iter_errors(&value).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{value}: {errors:?}");
            }
        };
        let warnings = [
            Warning::NoHeader,
            Warning::ClassesDropped { classes: 1 },
            Warning::CaptureDisabled { reason: "x".into() },
            Warning::CutOffMidLine { line: 1 },
            Warning::CutOffInLongLine { line: 1, bytes: 2 },
            Warning::NoSummary,
            Warning::ExitWithoutShutdown,
            Warning::StackErrors { classes: 1 },
            Warning::InvalidLine {
                line: 1,
                error: "e".into(),
            },
            Warning::LongLineSkipped { line: 1, bytes: 2 },
            Warning::CorruptLines {
                lines: 6,
                too_long: 1,
            },
            Warning::UnknownStacks {
                classes: 1,
                first_line: 2,
                stack_id: 3,
            },
            Warning::ExtraHeaders { records: 1 },
            Warning::ExtraCensuses { records: 1 },
            Warning::RecordsAfterSummary { records: 1 },
            Warning::ResourceExhaustedOmitted { records: 1 },
            Warning::StacksSummarised {
                stacks: 1,
                of: 2,
                stack_memory_mib: 3,
                classes: 4,
            },
            Warning::AttributedByNames {
                stacks: 1,
                main_class: None,
            },
            Warning::AttributedByNames {
                stacks: 2,
                main_class: Some("com.acme.Main".into()),
            },
        ];
        check(
            "warning",
            warnings
                .iter()
                .map(|w| serde_json::to_value(w).unwrap())
                .collect(),
        );
        let evidence = [
            Evidence::Regeneration {
                defined: 2,
                distinct: 1,
                regenerated: 1,
                identity: IdentityUsed::Mixed,
            },
            Evidence::MostRegenerated {
                keys: vec![RegeneratedKey {
                    identity: Identity::Name,
                    key: "k".into(),
                    defined: 2,
                }],
            },
            Evidence::RegeneratedAfterGc {
                regenerated_after_gc: 1,
                regenerated: 1,
                gcs: 1,
            },
            Evidence::RegeneratedInRace {
                regenerated_in_race: 1,
                regenerated: 1,
                threads: 2,
                window_ms: 1000,
            },
            Evidence::InflationCheck {
                java_version: "11".into(),
                atomic: false,
            },
            Evidence::DefinedAfterUnloads {
                defined_after_unload: 1,
                defined: 2,
                bursts: 3,
            },
            Evidence::LambdaFormBursts {
                lambda_forms: 1,
                defined: 1,
                bursts: 2,
                gcs: 1,
                defined_after_unload: 0,
            },
            Evidence::ScriptClasses {
                scripts: 1,
                distinct: None,
            },
            Evidence::ScriptClasses {
                scripts: 1,
                distinct: Some(1),
            },
            Evidence::ClassesPerCall {
                calls: 5,
                classes_per_call: 2,
                calls_with_that_many: 4,
                calls_in_new_loader: 5,
                defined: 10,
                distinct: 10,
                identity: IdentityUsed::Fingerprint,
            },
            Evidence::DistinctClassesInOwnLoaders {
                defined: 1,
                distinct: 1,
                identity: IdentityUsed::Fingerprint,
                loaders: 1,
                loaders_at_least: true,
            },
            Evidence::LoaderInstances {
                loaders: 1,
                at_least: false,
                classes: 1,
            },
            Evidence::RegeneratedInNewLoader {
                regenerated_in_new_loader: 1,
                regenerated: 1,
            },
            Evidence::LongLivedLoaders {
                defined: 1,
                loaders: 1,
                at_least: false,
            },
            Evidence::Unloaded {
                unloaded: 1,
                defined: 1,
                live: 0,
            },
            Evidence::Threads {
                threads: 1,
                first_ms: 0.5,
                last_ms: 1.0,
            },
        ];
        check(
            "evidence",
            evidence
                .iter()
                .map(|e| serde_json::to_value(e).unwrap())
                .collect(),
        );
        let remedies = Remedy::ALL;
        check(
            "remedy",
            remedies
                .iter()
                .map(|r| serde_json::to_value(RemedyReport::from(*r)).unwrap())
                .collect(),
        );
    }
}
