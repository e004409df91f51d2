//! Property tests for the agent's option parser: it never panics, every
//! error is one `metascope: ` line naming the valid options, and valid
//! option strings parse to the values they spell.

use std::path::PathBuf;

use metascope_agent::options::{AgentOptions, MAX_DEPTH, MAX_QUEUE, VALID_OPTIONS};
use metascope_events::CaptureMode;
use proptest::prelude::*;

fn check_error(input: &str, result: &Result<AgentOptions, impl std::fmt::Display>) {
    if let Err(e) = result {
        let msg = e.to_string();
        assert!(msg.starts_with("metascope: "), "{input:?}: {msg:?}");
        assert!(msg.contains(VALID_OPTIONS), "{input:?}: {msg:?}");
        assert_eq!(msg.lines().count(), 1, "{input:?}: {msg:?}");
    }
}

/// Strings made of the parser's own vocabulary, so that most reach deep
/// into it (keys, `=`, `,`, `;`, `*`, numbers, blanks).
fn option_like() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("out".to_string()),
        Just("depth".to_string()),
        Just("queue".to_string()),
        Just("mode".to_string()),
        Just("include".to_string()),
        Just("dynamic".to_string()),
        Just("all".to_string()),
        Just("=".to_string()),
        Just(",".to_string()),
        Just(";".to_string()),
        Just("*".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("-".to_string()),
        "[0-9]{1,12}",
        "[a-zA-Z./$é]{1,8}",
    ];
    prop::collection::vec(token, 0..16).prop_map(|t| t.concat())
}

/// A valid option string and the options it must parse to.
fn valid_options() -> impl Strategy<Value = (String, AgentOptions)> {
    (
        prop::option::of("[a-zA-Z0-9_./-]{1,30}"),
        prop::option::of(0..=MAX_DEPTH),
        prop::option::of(1..=MAX_QUEUE),
        prop::option::of(any::<bool>()),
        prop::option::of(prop::collection::vec(
            "[a-z]{1,6}(\\.[a-z*]{1,6}){0,3}",
            1..4,
        )),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_filter(
            "include patterns must not be all '*'",
            |(_, _, _, _, include, _, _)| {
                include
                    .as_ref()
                    .is_none_or(|p| p.iter().all(|p| !p.chars().all(|c| c == '*')))
            },
        )
        .prop_map(|(out, depth, queue, all, include, spaces, order)| {
            let mut items = Vec::new();
            let mut expected = AgentOptions::default();
            let pad = |s: String| if spaces { format!(" {s} ") } else { s };
            if let Some(out) = out {
                items.push(pad(format!("out={out}")));
                expected.out = Some(PathBuf::from(out));
            }
            if let Some(depth) = depth {
                items.push(pad(format!("depth={depth}")));
                expected.depth = depth;
            }
            if let Some(queue) = queue {
                items.push(pad(format!("queue={queue}")));
                expected.queue = queue;
            }
            if let Some(all) = all {
                items.push(pad(format!("mode={}", if all { "all" } else { "dynamic" })));
                expected.mode = if all {
                    CaptureMode::All
                } else {
                    CaptureMode::Dynamic
                };
            }
            if let Some(include) = include {
                items.push(pad(format!("include={}", include.join(";"))));
                expected.include = include;
            }
            // Any order, and empty items between commas are allowed.
            let n = items.len();
            if n > 1 {
                items.rotate_left((order % n as u64) as usize);
            }
            if order % 3 == 0 {
                items.push(String::new());
            }
            (items.join(","), expected)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_strings_never_panic(input in "[^\n\r]*") {
        check_error(&input, &AgentOptions::parse(&input));
    }

    #[test]
    fn option_like_strings_never_panic(input in option_like()) {
        check_error(&input, &AgentOptions::parse(&input));
    }

    #[test]
    fn valid_options_parse_to_their_values((input, expected) in valid_options()) {
        let parsed = AgentOptions::parse(&input);
        prop_assert_eq!(parsed, Ok(expected), "{:?}", input);
    }

    #[test]
    fn a_bad_value_names_its_option(
        key in prop::sample::select(vec!["depth", "queue", "mode"]),
        value in "[a-z]{1,5}|-[0-9]{1,3}|[1-9][0-9]{10,14}",
    ) {
        let input = format!("{key}={value}");
        let e = AgentOptions::parse(&input).unwrap_err().to_string();
        prop_assert!(e.contains(key), "{}", e);
        check_error(&input, &Err::<AgentOptions, _>(e));
    }

    #[test]
    fn a_repeated_option_is_refused(
        key in prop::sample::select(vec!["out", "depth", "queue", "mode", "include"]),
    ) {
        let value = match key { "mode" => "all", "out" => "x.jsonl", "include" => "a.*", _ => "5" };
        let input = format!("{key}={value},{key}={value}");
        let e = AgentOptions::parse(&input).unwrap_err().to_string();
        prop_assert!(e.contains("given twice"), "{}", e);
    }
}

/// JVM option strings can carry a newline (a start script, JAVA_TOOL_OPTIONS);
/// the error escapes it and stays on one line.
#[test]
fn errors_stay_on_one_line_with_control_characters_in_the_input() {
    for input in ["a\nb=1", "depth=1\n2", "mode=\rall", "out=x,\nfoo"] {
        check_error(input, &AgentOptions::parse(input));
    }
}
