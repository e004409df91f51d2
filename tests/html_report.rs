//! The HTML report of a real recording, rendered by headless Chromium:
//! every section is in the page, the call-site table names the copier's
//! line, and the page fetches nothing.
//!
//! Needs /usr/bin/chromium (scripts/install-deps.sh installs it); skipped
//! with a message without it, an error in CI.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use metascope_harness::COPIER;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Headless Chromium on `page` with `extra` arguments; a fresh profile,
/// no background networking.
fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

/// `src=`/`href=` and CSS `url(`/`@import` that would fetch from a
/// network; namespace URIs (`xmlns`) fetch nothing.
fn network_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    for pattern in [
        "src=\"http",
        "src='http",
        "href=\"http",
        "href='http",
        "url(http",
        "url(\"http",
        "url('http",
        "@import",
        "<link",
        "<iframe",
        "<img",
        "src=\"//",
        "href=\"//",
    ] {
        if let Some(i) = lower.find(pattern) {
            found.push(html[i.saturating_sub(40)..(i + 80).min(html.len())].to_string());
        }
    }
    found
}

#[test]
fn html_report_of_the_copier_renders_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        require_in_ci("chromium");
        skip(&format!(
            "{CHROMIUM} is not installed (scripts/install-deps.sh installs it)"
        ));
        return;
    }
    let java = java(17).expect("the JDK on PATH is required");
    let (session, _out, _report) = record_harness(&java, &COPIER, &[], None);
    let page = session.path("report.html");
    let out = metascope()
        .arg("report")
        .arg(session.path("recording.jsonl"))
        .args(["--format", "html", "-o"])
        .arg(&page)
        .output()
        .expect("run metascope report");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "-o writes nothing to stdout");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(network_references(&html), Vec::<String>::new());

    let dom = chromium(&page, &session.path("profile"), &["--dump-dom"]);
    assert!(dom.status.success(), "chromium: {}", stderr(&dom));
    let dom = stdout(&dom);
    for id in [
        "id=\"summary\"",
        "id=\"verdicts\"",
        "id=\"verdict-1\"",
        "id=\"call-sites\"",
        "id=\"site-1\"",
        "id=\"timeline-chart\"",
        "id=\"flamegraph-svg\"",
        "id=\"loader-census\"",
    ] {
        assert!(dom.contains(id), "{id} is not in the rendered page");
    }
    // The table's first rows are BeanCopier.copy via Method.invoke (names
    // may carry <wbr> line-break hints).
    let plain = dom.replace("<wbr>", "");
    let row = &plain[plain.find("id=\"site-1\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("com.acme.demo.BeanCopier.copy(BeanCopier.java:"),
        "{row}"
    );
    assert!(row.contains("java.lang.reflect.Method.invoke"), "{row}");
    assert!(row.contains("soft_reference_cycle"), "{row}");
    // The verdict names the cause; the timeline has GC markers.
    assert!(plain.contains("Reflection accessors are regenerated after GCs"));
    assert!(dom.contains("class=\"gc-marker\""), "no GC marker");
    // inferno's script ran in the page: it makes the flame graph fluid.
    let svg_tag = &dom[dom.find("<svg id=\"flamegraph-svg\"").unwrap()..];
    let svg_tag = &svg_tag[..svg_tag.find('>').unwrap()];
    assert!(
        !svg_tag.contains(" width="),
        "flame graph script did not run: {svg_tag}"
    );
    assert!(
        dom.contains("com.acme.demo.BeanCopier.copy:6"),
        "no app frame in the flame graph"
    );
    // Still nothing that fetches once scripts ran.
    assert_eq!(network_references(&dom), Vec::<String>::new());

    // A screenshot renders (docs/report-demo.png is made the same way).
    let shot = session.path("shot.png");
    let out = chromium(
        &page,
        &session.path("profile2"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000",
            "--hide-scrollbars",
        ],
    );
    assert!(out.status.success(), "chromium: {}", stderr(&out));
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}

/// `--format svg`: a flame graph of class definitions that a browser opens
/// and that names the copier's call site.
#[test]
fn svg_flame_graph_of_the_copier_opens_in_chromium() {
    if !Path::new(CHROMIUM).exists() {
        require_in_ci("chromium");
        skip(&format!(
            "{CHROMIUM} is not installed (scripts/install-deps.sh installs it)"
        ));
        return;
    }
    let java = java(17).expect("the JDK on PATH is required");
    let (session, _out, _report) = record_harness(&java, &COPIER, &[], None);
    let svg = session.path("flame.svg");
    let out = metascope()
        .arg("report")
        .arg(session.path("recording.jsonl"))
        .args(["--format", "svg", "-o"])
        .arg(&svg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dom = chromium(&svg, &session.path("profile-svg"), &["--dump-dom"]);
    let dom = stdout(&dom);
    assert!(
        dom.contains("<svg"),
        "Chromium rendered no SVG: {}",
        &dom[..dom.len().min(500)]
    );
    assert!(
        dom.contains("com.acme.demo.BeanCopier.copy"),
        "the call site is in the flame graph"
    );
    assert!(dom.contains("java.lang.reflect.Method.invoke"));
    assert!(
        network_references(&dom).is_empty(),
        "{:?}",
        network_references(&dom)
    );
}
