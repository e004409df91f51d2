//! The live view of `metascope top` and `metascope live`: call sites
//! ranked by definition rate, live counts, verdicts and drops; a
//! full-screen view for a terminal, or plain-text lines for logs and pipes.
//! Rendered from the report of the recording so far, as `metascope report`
//! would make it, plus the rates between two refreshes.
//!
//! Names from the recording are escaped ([`crate::escape::text`]): raw,
//! they could move the cursor or clear the screen.

use std::collections::HashMap;
use std::time::Instant;

use super::wording;
use crate::escape::text as escape;
use crate::report::{CallSiteReport, Report};

/// Classes per second per call site between refreshes.
#[derive(Debug, Default)]
pub struct Rates {
    /// Per call site (by its display name): classes, and when counted.
    previous: HashMap<String, (u64, Instant)>,
}

/// Classes per second per call site (display name) since the previous
/// refresh; 0 for a call site seen for the first time.
pub type SiteRates = HashMap<String, f64>;

impl Rates {
    /// The rates at `now`, and remembers the counts for the next refresh.
    pub fn update(&mut self, report: &Report, now: Instant) -> SiteRates {
        let mut rates = HashMap::new();
        for site in &report.call_sites {
            let rate = match self.previous.get(&site.display) {
                Some(&(before, at)) => {
                    let secs = now.duration_since(at).as_secs_f64().max(1e-3);
                    site.classes.saturating_sub(before) as f64 / secs
                }
                None => 0.0,
            };
            rates.insert(site.display.clone(), rate);
            self.previous
                .insert(site.display.clone(), (site.classes, now));
        }
        rates
    }
}

/// Call sites, fastest first (then most classes).
fn ranked<'a>(report: &'a Report, rates: &SiteRates) -> Vec<(&'a CallSiteReport, f64)> {
    let mut sites: Vec<_> = report
        .call_sites
        .iter()
        .map(|s| (s, rates.get(&s.display).copied().unwrap_or(0.0)))
        .collect();
    sites.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.0.classes.cmp(&a.0.classes))
    });
    sites
}

/// The full-screen view of `what` (e.g. `pid 4242`), `top` call sites.
pub fn screen(report: &Report, rates: &SiteRates, what: &str, top: usize) -> String {
    let info = &report.recording;
    let totals = &info.totals;
    let mut s = format!(
        "metascope top — {} — {:.1} s recorded — {} classes captured, {} dropped{}\n\n",
        escape(what),
        info.duration_ms / 1000.0,
        totals.captured,
        totals.dropped.map_or("?".into(), |d| d.to_string()),
        if info.complete {
            " — recording ended"
        } else {
            ""
        }
    );
    s.push_str(&format!(
        "{:>9} {:>8} {:>8} {:>6}  {}\n",
        "classes/s", "defined", "live", "regen", "call site (application frame → library entry)"
    ));
    for (site, rate) in ranked(report, rates).into_iter().take(top) {
        let entry = site
            .library_entry
            .as_ref()
            .map(|e| {
                let entry = wording::entry(&e.display, e.code_source.as_ref());
                format!(" → {}", escape(&entry))
            })
            .unwrap_or_default();
        s.push_str(&format!(
            "{:>9.1} {:>8} {:>8} {:>6}  {}{}\n",
            rate,
            site.defined,
            site.live,
            site.regenerated,
            escape(&site.display),
            entry
        ));
    }
    let verdicts = &report.diagnosis.verdicts;
    if !verdicts.is_empty() {
        s.push_str("\nVerdicts\n");
        for v in verdicts.iter().take(top) {
            s.push_str(&format!(
                "  #{} {} ({}): {}\n",
                v.call_site_rank,
                wording::cause(v.cause),
                wording::trend(v.trend),
                escape(&v.call_site)
            ));
        }
    }
    for w in info.warnings.iter().take(3) {
        s.push_str(&format!("\n⚠ {}", escape(&wording::warning(w))));
    }
    s.push('\n');
    s
}

/// One line per refresh plus the top call sites (at most 3).
pub fn plain(report: &Report, rates: &SiteRates, top: usize) -> String {
    let info = &report.recording;
    let mut s = format!(
        "metascope: +{:.1}s captured={} dropped={} call_sites={} verdicts={}",
        info.duration_ms / 1000.0,
        info.totals.captured,
        info.totals.dropped.map_or("?".into(), |d| d.to_string()),
        report.call_sites_total,
        report.diagnosis.verdicts.len()
    );
    for (site, rate) in ranked(report, rates).into_iter().take(top.min(3)) {
        s.push_str(&format!(
            "\n  {:.1}/s defined={} live={} {}",
            rate,
            site.defined,
            site.live,
            escape(&site.display)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::fixtures::{bean_copier_stream, class, line, report};
    use metascope_events::ClassKind;

    #[test]
    fn rates_are_classes_per_second_between_refreshes() {
        let start = Instant::now();
        let mut rates = Rates::default();
        let first = rates.update(&report(&bean_copier_stream(false, 0), 0), start);
        assert!(first.values().all(|&r| r == 0.0), "nothing to compare yet");
        // Two seconds later the proxy site defined 4 more.
        let mut more = bean_copier_stream(false, 0);
        for seq in 6..=9 {
            more += &line(&class(seq, ClassKind::Proxy, (7, "x.L"), 2));
        }
        let rates = rates.update(&report(&more, 0), start + Duration::from_secs(2));
        let proxy = "com.acme.audit.AuditingFactory.wrap(AuditingFactory.java:23)";
        assert_eq!(rates[proxy], 2.0);
        assert_eq!(
            rates["com.acme.orders.OrderService.toDto(OrderService.java:42)"],
            0.0
        );
    }

    #[test]
    fn the_screen_ranks_call_sites_by_rate_and_escapes_names() {
        let stream = bean_copier_stream(false, 0).replace(
            "com.acme.audit.AuditingFactory",
            "com.acme.audit.\\u001b[2JFactory",
        );
        let r = report(&stream, 0);
        let proxy = &r.call_sites[1].display;
        let rates: SiteRates = [(proxy.clone(), 12.5)].into();
        let screen = screen(&r, &rates, "pid 42", 10);
        let lines: Vec<&str> = screen.lines().collect();
        assert_eq!(
            lines[0],
            "metascope top — pid 42 — 1.2 s recorded — 5 classes captured, ? dropped"
        );
        // The fastest first, whatever its size.
        assert!(
            lines[3].starts_with(
                "     12.5        1        1      0  com.acme.audit.\\u{1b}[2JFactory.wrap("
            ),
            "{screen}"
        );
        assert!(!screen.contains('\u{1b}'), "{screen}");
        assert!(
            screen.contains("\n⚠ recording cut off: there is no summary"),
            "{screen}"
        );
        let plain = plain(&r, &rates, 10);
        assert!(plain.starts_with("metascope: +1.2s captured=5 dropped=? call_sites=3 verdicts=0\n  12.5/s defined=1 live=1 "), "{plain}");
        assert_eq!(plain.lines().count(), 4);
    }
}
