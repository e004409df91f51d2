//! Names from a recording, made safe to show.
//!
//! Class, method, thread, loader-type, file and target names come from a
//! recording that another user may have written. Printed raw, an escape
//! sequence in a class name rewrites the clipboard (OSC 52) or clears the
//! screen, a bidi override makes a line read backwards, and a control
//! character makes an SVG invalid XML. Every renderer passes such text
//! through one of these functions; JSON keeps the exact name, with every
//! unsafe character as a `\uXXXX` escape ([`json_pretty`]).
//!
//! A leaf module: it imports nothing from the crate.

use std::borrow::Cow;
use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};

/// Characters never shown raw: C0 and C1 controls and DEL, the bidi
/// overrides, isolates and marks (U+202A-202E, U+2066-2069, U+200E,
/// U+200F, U+061C), the line and paragraph separators (U+2028, U+2029:
/// line breaks to some terminals and editors), and the noncharacters (XML
/// forbids U+FFFE and U+FFFF).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{FDD0}'..='\u{FDEF}'
        )
        || (c as u32 & 0xFFFE) == 0xFFFE
}

/// `\n`, `\r`, `\t`, or `\u{1b}`: how an unsafe character is shown.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// Text for a terminal or a plain-text file: every [`is_unsafe`] character
/// as a visible escape (`\u{1b}`, `\n`), everything else as is, ordinary
/// Unicode included. A backslash is left alone, so escaping twice changes
/// nothing. Borrowed when there is nothing to escape (the usual case).
pub fn text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_unsafe(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for HTML element content and quoted attribute values (and SVG,
/// which is XML): [`text`], then `&`, `<`, `>`, `"` and `'` as entities.
/// Nothing in the result can open or close a tag, a `<script>` block or a
/// CDATA section.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if is_unsafe(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

/// Appends `s` as part of a frame in collapsed stacks (`--format folded`,
/// the flame graph's input): `;` (the frame separator), whitespace (a
/// name ending in ` 12` would read as a second count) and every
/// [`is_unsafe`] character become `_`. Java names contain none of them.
pub fn push_folded(out: &mut String, s: &str) {
    for c in s.chars() {
        out.push(if c == ';' || c.is_whitespace() || is_unsafe(c) {
            '_'
        } else {
            c
        });
    }
}

/// `value` as pretty-printed JSON in which every [`is_unsafe`] character
/// is a `\uXXXX` escape: the exact names for whoever parses it, nothing
/// raw for a terminal it is printed on. (serde escapes the C0 controls
/// itself but writes DEL, C1 controls and bidi characters raw.)
pub fn json_pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(64 * 1024);
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, SafeJson(PrettyFormatter::new()));
    value.serialize(&mut ser)?;
    // The serializer writes only UTF-8 (the strings given and ASCII).
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// serde_json's pretty formatter, with unsafe characters in strings
/// escaped.
struct SafeJson(PrettyFormatter<'static>);

impl Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    write!(writer, "\\u{unit:04x}")?;
                }
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    // The pretty layout: delegated.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an attacker puts in a class name: an OSC 52 clipboard write,
    /// a screen clear, a carriage return, a bell, a bidi override.
    const HOSTILE: &str = "a\u{1b}]52;c;ZXZpbA==\u{7}b\u{1b}[2Jc\rd\u{202e}e\u{9b}f\u{7f}";

    #[test]
    fn text_shows_every_control_and_bidi_character_escaped() {
        assert_eq!(
            text(HOSTILE),
            "a\\u{1b}]52;c;ZXZpbA==\\u{7}b\\u{1b}[2Jc\\rd\\u{202e}e\\u{9b}f\\u{7f}"
        );
        assert_eq!(text("x\ny\tz\0"), "x\\ny\\tz\\u{0}");
        for c in [
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{200e}',
            '\u{200f}',
            '\u{061c}',
            '\u{2028}',
            '\u{2029}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{fdd0}',
            '\u{10ffff}',
        ] {
            assert!(is_unsafe(c), "{c:?}");
            assert_eq!(text(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
    }

    #[test]
    fn ordinary_names_are_borrowed_unchanged() {
        for name in [
            "com.acme.orders.OrderService.toDto(OrderService.java:42)",
            "com.acme.Ünïcode$$Lambda/0x0000000801001234",
            "com.例え.クラス",
            "C:\\path\\with\\backslashes",
            "",
        ] {
            assert!(
                matches!(text(name), Cow::Borrowed(n) if n == name),
                "{name}"
            );
        }
        // Escaping twice changes nothing.
        let once = text(HOSTILE).into_owned();
        assert_eq!(text(&once), once);
    }

    #[test]
    fn html_escapes_markup_and_controls() {
        assert_eq!(
            html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(
            html("</script>]]>\u{1b}[2J\u{202e}"),
            "&lt;/script&gt;]]&gt;\\u{1b}[2J\\u{202e}"
        );
        assert_eq!(html("Ünïcode 例"), "Ünïcode 例");
    }

    #[test]
    fn json_escapes_what_serde_leaves_raw_and_round_trips() {
        #[derive(Serialize)]
        struct Named<'a> {
            names: Vec<&'a str>,
        }
        let names = vec![HOSTILE, "</script>]]>&<", "Ünïcode 例 😀\u{10ffff}", ""];
        let json = json_pretty(&Named {
            names: names.clone(),
        })
        .unwrap();
        assert!(!json.chars().any(|c| is_unsafe(c) && c != '\n'), "{json}");
        assert!(json.contains("\\u202e") && json.contains("\\u009b") && json.contains("\\u007f"));
        assert!(json.contains("\\udbff\\udfff"), "a surrogate pair: {json}");
        assert!(
            json.contains("Ünïcode 例 😀"),
            "ordinary Unicode stays readable"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["names"], serde_json::json!(names));
        // Laid out as serde's pretty printer does.
        assert_eq!(
            json_pretty(&serde_json::json!({"a": [1, {"b": null}], "c": "x"})).unwrap(),
            serde_json::to_string_pretty(&serde_json::json!({"a": [1, {"b": null}], "c": "x"}))
                .unwrap()
        );
    }

    #[test]
    fn folded_frames_keep_their_separators_and_no_controls() {
        let mut out = String::new();
        push_folded(&mut out, "we;ird\nname 12\u{1b}[2J\u{202e}Ü");
        assert_eq!(out, "we_ird_name_12_[2J_Ü");
    }
}
