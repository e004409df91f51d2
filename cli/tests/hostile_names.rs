//! A recording another user crafted: every name in it (classes, methods,
//! frames' files, threads, loader types, targets, the JVM's name, the
//! recording's own file name) carries terminal escape sequences (an OSC 52
//! clipboard write, a screen clear), a carriage return, a bell, a bidi
//! override and markup. The real `metascope` binary reports it in every
//! format; nothing raw reaches the terminal, the SVG is valid XML, the
//! HTML shows the names escaped and JSON keeps them exactly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metascope_events::{
    AgentOptions, CaptureMode, ClassDefined, ClassEvent, ClassKind, Frame, Header, LoaderRef,
    Record, ResourceExhausted, StackTrace, Summary, SCHEMA_VERSION,
};
use serde_json::Value;

/// What an attacker appends to every name.
const HOSTILE: &str =
    "\u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\r\u{7}\u{202e}</script>]]>&<\u{9b}31m\u{7f}";
/// How the text report shows [`HOSTILE`].
const SHOWN: &str =
    "\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}[2J\\r\\u{7}\\u{202e}</script>]]>&<\\u{9b}31m\\u{7f}";

fn hostile(name: &str) -> String {
    format!("{name}{HOSTILE}")
}

struct Names {
    class: String,
    app_class: String,
    method: String,
    file: String,
    thread: String,
    loader: String,
    target: String,
}

impl Names {
    fn new() -> Self {
        Self {
            class: hostile("com.acme.Gen"),
            app_class: hostile("com.acme.Evil"),
            method: hostile("run"),
            file: hostile("Evil.java"),
            thread: hostile("worker"),
            loader: hostile("com.acme.Loader"),
            target: hostile("com.acme.Order.getId()J"),
        }
    }
}

fn line(r: &Record) -> String {
    serde_json::to_string(r).unwrap() + "\n"
}

/// Header, one stack through the hostile application frame, four
/// reflection accessors for the same target (three regenerated), an
/// OutOfMemoryError, a summary that says capture was disabled.
fn recording(names: &Names) -> String {
    let mut s = line(&Record::Header(Header {
        schema: SCHEMA_VERSION,
        agent_version: hostile("0.1.0"),
        pid: 4242,
        java_version: hostile("17.0.9"),
        java_vm_name: hostile("OpenJDK"),
        start_wall_ms: 1_763_900_000_000,
        options: AgentOptions {
            out: hostile("/tmp/out.jsonl"),
            depth: 64,
            mode: CaptureMode::Dynamic,
            include: vec![hostile("com.acme.*")],
            queue: 65536,
        },
        attached: false,
        java_command: None,
        converted_from: None,
    }));
    let frame = |class: &str, method: &str, line: u32, file: &str| Frame {
        class: class.into(),
        method: method.into(),
        sig: "()V".into(),
        line: Some(line),
        file: Some(file.into()),
        native: false,
        source: None,
    };
    s += &line(&Record::Stack(StackTrace {
        id: 1,
        frames: vec![
            frame("java.lang.reflect.Method", "invoke", 568, "Method.java"),
            frame(&names.app_class, &names.method, 42, &names.file),
            frame("com.acme.Main", "main", 7, "Main.java"),
        ],
    }));
    for seq in 1..=4u64 {
        s += &line(&Record::Class(ClassDefined {
            seq,
            name: format!("{}{seq}", names.class),
            kind: ClassKind::ReflectionAccessor,
            loader: LoaderRef {
                id: 100 + seq,
                type_name: names.loader.clone(),
            },
            hidden: false,
            thread: names.thread.clone(),
            t_ns: seq * 100_000_000,
            wall_ms: 1_763_900_000_000 + seq * 100,
            event: ClassEvent::Load,
            stack: 1,
            target: Some(names.target.clone()),
            fingerprint: None,
        }));
    }
    s += &line(&Record::ResourceExhausted(ResourceExhausted {
        description: hostile("Metaspace"),
        flags: vec!["oom_error".into()],
        thread: names.thread.clone(),
        t_ns: 450_000_000,
        wall_ms: 1_763_900_000_450,
        after_seq: 4,
    }));
    s += &line(&Record::Summary(Summary {
        classes_loaded: 100,
        seen: 4,
        captured: 4,
        dropped: 0,
        stack_errors: 0,
        events_dropped: 0,
        t_ns: 500_000_000,
        end_wall_ms: 1_763_900_000_500,
        reason: hostile("vm_death"),
        capture_disabled: Some(hostile("internal error")),
        classes_not_dumped: 0,
        cost: None,
    }));
    s
}

/// The recording, written under a file name that is hostile too.
fn write_recording(dir: &Path, names: &Names) -> PathBuf {
    let path = dir.join(format!("rec{HOSTILE}.jsonl").replace('/', "_"));
    std::fs::write(&path, recording(names)).unwrap();
    path
}

fn metascope(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_metascope"))
        .args(&args[..1])
        .arg(file)
        .args(&args[1..])
        .output()
        .expect("run metascope")
}

/// Output that may reach a terminal: valid UTF-8 without a control,
/// bidi or other unsafe character but the newline.
fn assert_nothing_raw(what: &str, bytes: &[u8]) -> String {
    let text =
        String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"));
    let bad: Vec<(usize, char)> = text
        .char_indices()
        .filter(|&(_, c)| {
            c != '\n'
                && (c.is_control()
                    || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{what} has raw control or bidi characters at {:?}",
        &bad[..bad.len().min(10)]
    );
    text
}

fn report(file: &Path, format: &str) -> String {
    let out = metascope(&["report", "--format", format], file);
    let stderr = assert_nothing_raw(&format!("{format} stderr"), &out.stderr);
    assert!(out.status.success(), "report --format {format}: {stderr}");
    assert_nothing_raw(&format!("--format {format}"), &out.stdout)
}

#[test]
fn the_text_report_shows_every_hostile_name_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let names = Names::new();
    let file = write_recording(dir.path(), &names);
    let text = report(&file, "text");
    for (what, shown) in [
        (
            "recording file",
            format!("metascope report: {}", file.display())
                .replace(&HOSTILE.replace('/', "_"), &SHOWN.replace('/', "_")),
        ),
        (
            "application frame",
            format!("com.acme.Evil{SHOWN}.run{SHOWN}(Evil.java{SHOWN}:42)"),
        ),
        (
            "loader type",
            format!("com.acme.Loader{SHOWN} (4 instances, 4 classes)"),
        ),
        ("thread", format!("worker{SHOWN} (4)")),
        ("class name", format!("com.acme.Gen{SHOWN}1")),
        (
            "JVM",
            format!("OpenJDK{SHOWN} 17.0.9{SHOWN}, pid 4242, agent 0.1.0{SHOWN}"),
        ),
        ("summary reason", format!("ended: vm_death{SHOWN}")),
        ("warning", format!("(internal error{SHOWN})")),
        ("OutOfMemoryError", format!("ran out of Metaspace{SHOWN}")),
    ] {
        assert!(
            text.contains(&shown),
            "no escaped {what} ({shown}) in:\n{text}"
        );
    }
    // Ordinary names read as before.
    assert!(
        text.contains("java.lang.reflect.Method.invoke(Method.java:568)"),
        "{text}"
    );
}

#[test]
fn json_keeps_the_exact_names_with_nothing_raw() {
    let dir = tempfile::tempdir().unwrap();
    let names = Names::new();
    let file = write_recording(dir.path(), &names);
    let json: Value = serde_json::from_str(&report(&file, "json")).unwrap();
    let rec = &json["recording"];
    assert_eq!(rec["file"], file.display().to_string());
    assert_eq!(rec["header"]["java_vm_name"], hostile("OpenJDK"));
    assert_eq!(
        rec["summary"]["capture_disabled"],
        hostile("internal error")
    );
    assert_eq!(
        rec["resource_exhausted"][0]["description"],
        hostile("Metaspace")
    );
    let site = &json["call_sites"][0];
    let app = &site["application_frame"];
    assert_eq!(
        (&app["class"], &app["method"], &app["file"]),
        (
            &Value::from(names.app_class.clone()),
            &Value::from(names.method.clone()),
            &Value::from(names.file.clone())
        )
    );
    assert_eq!(site["loaders"][0]["type"], names.loader);
    assert_eq!(site["threads"][0]["name"], names.thread);
    assert_eq!(site["examples"][0], format!("{}1", names.class));
    assert_eq!(site["targets"][0]["target"], names.target);
    assert_eq!(site["sample_stack"][1]["file"], names.file);
    assert_eq!(site["regenerated"], 3);
}

#[test]
fn the_html_page_shows_the_names_escaped_and_closes_no_script_early() {
    let dir = tempfile::tempdir().unwrap();
    let names = Names::new();
    let file = write_recording(dir.path(), &names);
    let page = report(&file, "html");
    // The names as HTML text: controls as visible escapes, markup as
    // entities.
    let escaped = "\\u{1b}]52;c;cm0gLXJmIH4=\\u{7}\\u{1b}[2J\\r\\u{7}\\u{202e}&lt;/script&gt;]]&gt;&amp;&lt;\\u{9b}31m\\u{7f}";
    for (what, shown) in [
        (
            "application frame",
            format!("com.<wbr>acme.<wbr>Evil{escaped}.<wbr>run{escaped}(<wbr>Evil.<wbr>java{escaped}:42)"),
        ),
        ("loader type", format!("<td class=\"frame\">com.acme.Loader{escaped}</td>")),
        ("JVM", format!("<dd>OpenJDK{escaped} 17.0.9{escaped}, pid 4242")),
        ("warning", format!("(internal error{escaped}); classes defined after that are missing")),
        ("OutOfMemoryError", format!("on thread worker{escaped})")),
        ("flame graph title", format!("Classes defined by stack — OpenJDK{escaped}")),
    ] {
        assert!(page.contains(&shown), "no escaped {what}: {shown}");
    }
    // The flame graph's script is the page's only one, and it is closed
    // once, at its end.
    assert_eq!(page.matches("<script").count(), 1, "one script block");
    assert_eq!(page.matches("</script>").count(), 1, "no stray </script>");
    let script = page.find("<script").unwrap();
    assert!(page[script..].find("</script>").unwrap() > page[script..].find("]]>").unwrap());
}

#[test]
fn the_svg_is_valid_xml_and_folded_lines_stay_one_stack_each() {
    let dir = tempfile::tempdir().unwrap();
    let names = Names::new();
    let file = write_recording(dir.path(), &names);
    let svg = report(&file, "svg");
    // inferno writes the SVG 1.1 doctype.
    let xml = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&svg, xml)
        .unwrap_or_else(|e| panic!("the SVG is not valid XML: {e}"));
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("com.acme.Evil_]52_c_cm0gLXJmIH4=__[2J___</script>]]>&<_31m_.run")),
        "the frame is in the graph, sanitized: {texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains(&format!("OpenJDK{SHOWN}"))),
        "the title shows the JVM name escaped"
    );

    let folded = report(&file, "folded");
    let lines: Vec<&str> = folded.lines().collect();
    assert_eq!(lines.len(), 1, "{folded}");
    let (stack, count) = lines[0].rsplit_once(' ').unwrap();
    assert_eq!(count, "4");
    assert!(!stack.contains(' '), "{stack}");
    assert_eq!(stack.split(';').count(), 3, "three frames: {stack}");
}

#[test]
fn check_names_the_call_site_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let names = Names::new();
    let file = write_recording(dir.path(), &names);
    let out = metascope(&["check", "--max-regenerated", "0"], &file);
    assert_eq!(out.status.code(), Some(1));
    let stdout = assert_nothing_raw("check stdout", &out.stdout);
    let stderr = assert_nothing_raw("check stderr", &out.stderr);
    assert_eq!(
        stdout,
        format!(
            "metascope check: FAIL regenerated 3 > 0 at com.acme.Evil{SHOWN}.run{SHOWN}(Evil.java{SHOWN}:42) \
             via java.lang.reflect.Method.invoke\n"
        )
    );
    assert!(
        stderr.contains(&format!("OutOfMemoryError: Metaspace{SHOWN}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("internal error{SHOWN}")),
        "{stderr}"
    );
}

#[test]
fn errors_quote_the_input_escaped() {
    let dir = tempfile::tempdir().unwrap();
    // Not a recording: its first line is quoted in the error, as is its name.
    let file = dir
        .path()
        .join(format!("notes{HOSTILE}.txt").replace('/', "_"));
    std::fs::write(&file, format!("hello {HOSTILE}\n")).unwrap();
    let out = metascope(&["report"], &file);
    assert!(!out.status.success());
    let stderr = assert_nothing_raw("error", &out.stderr);
    assert!(stderr.starts_with("metascope: error: "), "{stderr}");
    assert!(stderr.contains("is not a metascope recording"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
