//! `metascope check`'s verdict on a report: every call site against the
//! rules given, one `FAIL` line per violation, or one `OK` line. Without a
//! `--max-*` rule the diagnosis is the rule: every diagnosed call site
//! fails, unless its cause is allowed.
//!
//! The numbers are the JSON report's (`regenerated`, `live_growth`,
//! `peak_rate_per_s` per call site, `diagnosis.verdicts`), so a failure
//! can be looked into with `metascope report`.

use super::wording;
use crate::analyze::diagnosis::{Cause, Trend};
use crate::escape;
use crate::format::{bytes, decimal, duration, thousands};
use crate::report::{CallSiteReport, Report, VerdictReport};

/// The rules to check; `None` is not checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub max_regenerated: Option<u64>,
    pub max_live_growth: Option<u64>,
    /// Classes per second.
    pub max_rate: Option<f64>,
    /// Metaspace committed, at any snapshot.
    pub max_metaspace_bytes: Option<u64>,
    /// Causes that do not fail when the diagnosis is the rule.
    pub allowed: Vec<Cause>,
}

impl Rules {
    /// No `--max-*` rule was given: every diagnosed cause fails.
    pub fn diagnosis_is_the_rule(&self) -> bool {
        self.max_regenerated.is_none()
            && self.max_live_growth.is_none()
            && self.max_rate.is_none()
            && self.max_metaspace_bytes.is_none()
    }

    fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = self.max_regenerated {
            out.push(format!("regenerated ≤ {}", thousands(n)));
        }
        if let Some(n) = self.max_live_growth {
            out.push(format!("live growth ≤ {}", thousands(n)));
        }
        if let Some(r) = self.max_rate {
            out.push(format!("rate ≤ {}/s", decimal(r)));
        }
        if let Some(n) = self.max_metaspace_bytes {
            out.push(format!("Metaspace ≤ {}", bytes(n)));
        }
        out
    }
}

/// One broken rule at one call site.
#[derive(Debug, Clone, PartialEq)]
pub enum Violation {
    /// A `--max-*` limit exceeded.
    Limit {
        /// `regenerated`, `live growth`, `rate` or `Metaspace`.
        rule: &'static str,
        /// The measured value, as printed.
        value: String,
        /// The limit, as printed.
        limit: String,
        /// `display` of the call site, with ` via <library entry>` when it has one.
        call_site: String,
    },
    /// A diagnosed cause (the default rule).
    Diagnosed {
        cause: Cause,
        trend: Trend,
        defined: u64,
        call_site: String,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::Limit {
                rule,
                value,
                limit,
                call_site,
            } => write!(
                f,
                "metascope check: FAIL {rule} {value} > {limit} at {}",
                escape::text(call_site)
            ),
            Violation::Diagnosed {
                cause,
                trend,
                defined,
                call_site,
            } => write!(
                f,
                "metascope check: FAIL cause {} ({}, {}) at {}",
                wording::cause(*cause),
                wording::trend(*trend),
                if *defined == 1 {
                    "1 class".to_string()
                } else {
                    format!("{} classes", thousands(*defined))
                },
                escape::text(call_site)
            ),
        }
    }
}

fn site_name(site: &CallSiteReport) -> String {
    match &site.library_entry {
        Some(e) => format!(
            "{} via {}",
            site.display,
            wording::entry(&e.display, e.code_source.as_ref())
        ),
        None => site.display.clone(),
    }
}

fn verdict_site_name(v: &VerdictReport) -> String {
    match &v.library_entry {
        Some(e) => format!(
            "{} via {}",
            v.call_site,
            wording::entry(e, v.library_entry_code_source.as_ref())
        ),
        None => v.call_site.clone(),
    }
}

/// The violations in a report built with every call site (`--top 0`), by
/// call site rank, then rule.
pub fn evaluate(report: &Report, rules: &Rules) -> Vec<Violation> {
    if rules.diagnosis_is_the_rule() {
        return report
            .diagnosis
            .verdicts
            .iter()
            .filter(|v| !rules.allowed.contains(&v.cause))
            .map(|v| Violation::Diagnosed {
                cause: v.cause,
                trend: v.trend,
                defined: v.defined,
                call_site: verdict_site_name(v),
            })
            .collect();
    }
    let mut out = Vec::new();
    for site in &report.call_sites {
        if let Some(max) = rules.max_regenerated {
            if site.regenerated > max {
                out.push(Violation::Limit {
                    rule: "regenerated",
                    value: thousands(site.regenerated),
                    limit: thousands(max),
                    call_site: site_name(site),
                });
            }
        }
        if let Some(max) = rules.max_live_growth {
            if site.live_growth > 0 && site.live_growth as u64 > max {
                out.push(Violation::Limit {
                    rule: "live growth",
                    value: thousands(site.live_growth as u64),
                    limit: thousands(max),
                    call_site: site_name(site),
                });
            }
        }
        if let Some(max) = rules.max_rate {
            if site.peak_rate_per_s as f64 > max {
                out.push(Violation::Limit {
                    rule: "rate",
                    value: format!(
                        "{}/s (from +{})",
                        thousands(site.peak_rate_per_s),
                        duration(site.peak_rate_from_ms)
                    ),
                    limit: format!("{}/s", decimal(max)),
                    call_site: site_name(site),
                });
            }
        }
        if let Some(max) = rules.max_metaspace_bytes {
            out.extend(metaspace_violation(report, site, max));
        }
    }
    out
}

/// `--max-metaspace-bytes`: the most the call site held at any snapshot.
fn metaspace_violation(report: &Report, site: &CallSiteReport, max: u64) -> Option<Violation> {
    let m = site.metaspace.as_ref()?;
    let held = m.max_committed.filter(|&held| held > max)?;
    let at = report
        .metaspace
        .as_ref()
        .and_then(|r| {
            r.snapshots
                .iter()
                .find(|s| Some(s.id) == m.max_committed_snapshot)
        })
        .map_or(String::new(), |s| {
            format!(
                " at +{} ({} snapshot)",
                duration(s.t_ms),
                super::metaspace::snapshot_reason(s.reason)
            )
        });
    Some(Violation::Limit {
        rule: "Metaspace",
        value: format!("{} committed{at}", bytes(held)),
        limit: bytes(max),
        call_site: site_name(site),
    })
}

/// Why `rules` cannot be checked against `report`: a Metaspace limit on
/// a recording without Metaspace snapshots.
pub fn uncheckable(report: &Report, rules: &Rules) -> Option<String> {
    let limit = rules.max_metaspace_bytes?;
    let taken = report
        .metaspace
        .as_ref()
        .is_some_and(|m| m.snapshots.iter().any(|s| s.skipped.is_none()));
    (!taken).then(|| {
        format!(
            "--max-metaspace-bytes {} needs Metaspace snapshots, and the recording has none \
             (recorded by an agent older than this metascope, or from JFR): record again \
             with this agent",
            bytes(limit)
        )
    })
}

/// The `OK` line.
pub fn ok_line(report: &Report, rules: &Rules) -> String {
    let checked = if rules.diagnosis_is_the_rule() {
        let mut allowed: Vec<&str> = report
            .diagnosis
            .verdicts
            .iter()
            .map(|v| wording::cause(v.cause))
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        if allowed.is_empty() {
            "no cause diagnosed".to_string()
        } else {
            format!("only allowed causes diagnosed: {}", allowed.join(", "))
        }
    } else {
        rules.describe().join(", ")
    };
    format!(
        "metascope check: OK ({} call sites, {} classes; {checked})",
        thousands(report.call_sites_total as u64),
        thousands(report.recording.totals.attributed),
    )
}

/// The warnings about the recording, one line each, for stderr: what
/// is wrong with it, and the OutOfMemoryErrors it recorded.
pub fn warning_lines(report: &Report) -> Vec<String> {
    let warnings = report.recording.warnings.iter().map(wording::warning);
    let ooms = report.recording.resource_exhausted.iter().map(|e| {
        format!(
            "the JVM threw OutOfMemoryError: {} at +{}",
            e.event.description,
            duration(e.t_ms)
        )
    });
    warnings
        .chain(ooms)
        .map(|w| format!("metascope check: warning: {}", escape::text(&w)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{def, Stream};
    use metascope_events::ClassKind;

    const DELEGATING: &str = "jdk.internal.reflect.DelegatingClassLoader";

    /// Site 1 regenerates 10 targets 5 times (50 classes, 40 regenerated)
    /// in bursts of 10 within one second each, every burst unloaded;
    /// site 2 defines 30 distinct classes late and keeps them.
    fn report() -> Report {
        let mut s = Stream::new(
            "17.0.9",
            &[
                (
                    "java.lang.reflect.Method.invoke",
                    "com.acme.Copier.copy",
                    60,
                ),
                (
                    "java.lang.reflect.Proxy.newProxyInstance",
                    "com.acme.Leaky.wrap",
                    7,
                ),
            ],
        );
        let targets: Vec<String> = (0..10).map(|i| format!("com.acme.A.get{i}()I")).collect();
        let mut loader = 100;
        for round in 0..5u64 {
            let mut defs = Vec::new();
            for t in &targets {
                loader += 1;
                let mut d = def(ClassKind::ReflectionAccessor, 1, (loader, DELEGATING));
                d.target = Some(t);
                let seq = s.class(round * 500 + 10, &d);
                defs.push((seq, d));
            }
            s.gc(round * 500 + 100);
            for (seq, d) in &defs {
                s.unload(round * 500 + 110, *seq, d);
            }
        }
        // 30 distinct classes in the last second (2.0 s .. 2.9 s).
        for i in 0..30u64 {
            let mut d = def(ClassKind::Proxy, 2, (7, "app"));
            let fp = format!("{i:016x}");
            d.fingerprint = Some(&fp);
            s.class(2_000 + i * 30, &d);
        }
        s.report()
    }

    #[test]
    fn metaspace_bytes_are_checked_per_call_site_at_its_largest() {
        let r = crate::fixtures::report(&crate::report::metaspace::fixture::oom_stream(), 0);
        let rules = Rules {
            max_metaspace_bytes: Some(16 << 20),
            ..Rules::default()
        };
        assert_eq!(uncheckable(&r, &rules), None);
        let lines: Vec<String> = evaluate(&r, &rules)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            ["metascope check: FAIL Metaspace 27.1 MiB committed at +2.03 s (OutOfMemoryError snapshot) \
              > 16 MiB at com.acme.AuditingProxies.forUser(AuditingProxies.java:18) via java.lang.reflect.Proxy.newProxyInstance"]
        );
        let at_limit = Rules {
            max_metaspace_bytes: Some(271 * (1 << 20) / 10),
            ..Rules::default()
        };
        assert_eq!(evaluate(&r, &at_limit), []);
        assert_eq!(
            ok_line(&r, &at_limit),
            "metascope check: OK (3 call sites, 12 classes; Metaspace ≤ 27.1 MiB)"
        );
        // Without snapshots the rule cannot hold: an error, not an OK.
        let old = crate::fixtures::report(&crate::fixtures::bean_copier_stream(true, 0), 0);
        let why = uncheckable(&old, &rules).unwrap();
        assert!(
            why.starts_with("--max-metaspace-bytes 16 MiB needs Metaspace snapshots"),
            "{why}"
        );
        assert_eq!(uncheckable(&old, &Rules::default()), None);
    }

    #[test]
    fn each_rule_names_the_call_site() {
        let r = report();
        let copier = &r.call_sites.iter().find(|s| s.regenerated > 0).unwrap();
        assert_eq!(copier.regenerated, 40);
        assert_eq!(copier.peak_rate_per_s, 20); // rounds at 10 ms and 510 ms
        let leaky = r.call_sites.iter().find(|s| s.defined == 30).unwrap();
        assert_eq!(leaky.live_growth, 30);
        assert_eq!(leaky.peak_rate_per_s, 30);
        assert_eq!(leaky.peak_rate_from_ms, 2_000.0);
        assert!(copier.live_growth <= 0, "{}", copier.live_growth);

        let rules = Rules {
            max_regenerated: Some(10),
            max_live_growth: Some(20),
            max_rate: Some(25.0),
            max_metaspace_bytes: None,
            allowed: vec![],
        };
        let lines: Vec<String> = evaluate(&r, &rules)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "metascope check: FAIL regenerated 40 > 10 at com.acme.Copier.copy(Copier.java:60) via java.lang.reflect.Method.invoke",
                "metascope check: FAIL live growth 30 > 20 at com.acme.Leaky.wrap(Leaky.java:7) via java.lang.reflect.Proxy.newProxyInstance",
                "metascope check: FAIL rate 30/s (from +2.00 s) > 25/s at com.acme.Leaky.wrap(Leaky.java:7) via java.lang.reflect.Proxy.newProxyInstance",
            ]
        );
    }

    #[test]
    fn limits_are_inclusive_and_unset_rules_are_not_checked() {
        let r = report();
        let at_limits = Rules {
            max_regenerated: Some(40),
            max_live_growth: Some(30),
            max_rate: Some(30.0),
            max_metaspace_bytes: None,
            allowed: vec![],
        };
        assert_eq!(evaluate(&r, &at_limits), []);
        assert_eq!(
            ok_line(&r, &at_limits),
            "metascope check: OK (2 call sites, 80 classes; regenerated ≤ 40, live growth ≤ 30, rate ≤ 30/s)"
        );
        // One rule given: only it is checked, not the diagnosis.
        let zero = Rules {
            max_regenerated: Some(0),
            ..Rules::default()
        };
        assert!(!zero.diagnosis_is_the_rule());
        assert_eq!(evaluate(&r, &zero).len(), 1);
    }

    #[test]
    fn without_rules_every_diagnosed_cause_fails_unless_allowed() {
        let r = report();
        let causes: Vec<Cause> = r.diagnosis.verdicts.iter().map(|v| v.cause).collect();
        assert_eq!(
            causes,
            [Cause::SoftReferenceCycle, Cause::UncachedGeneration]
        );
        let lines: Vec<String> = evaluate(&r, &Rules::default())
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "metascope check: FAIL cause soft_reference_cycle (churn, 50 classes) at \
                 com.acme.Copier.copy(Copier.java:60) via java.lang.reflect.Method.invoke",
                "metascope check: FAIL cause uncached_generation (leak, 30 classes) at \
                 com.acme.Leaky.wrap(Leaky.java:7) via java.lang.reflect.Proxy.newProxyInstance"
            ]
        );
        let allow = Rules {
            allowed: vec![Cause::SoftReferenceCycle, Cause::UncachedGeneration],
            ..Rules::default()
        };
        assert_eq!(evaluate(&r, &allow), []);
        assert_eq!(
            ok_line(&r, &allow),
            "metascope check: OK (2 call sites, 80 classes; \
             only allowed causes diagnosed: soft_reference_cycle, uncached_generation)"
        );
        // Allowing one cause does not waive the other.
        let one = Rules {
            allowed: vec![Cause::UncachedGeneration],
            ..Rules::default()
        };
        let left: Vec<Cause> = evaluate(&r, &one)
            .iter()
            .filter_map(|v| match v {
                Violation::Diagnosed { cause, .. } => Some(*cause),
                Violation::Limit { .. } => None,
            })
            .collect();
        assert_eq!(left, [Cause::SoftReferenceCycle]);
    }
}
