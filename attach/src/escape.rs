//! Text from the target (the JVM's replies, paths read from its files) is
//! shown escaped: another user can put terminal control sequences there.

/// `text` with every control character (C0, DEL, C1) and every invisible
/// direction override written as `\u{..}`, so a terminal shows it
/// instead of obeying it. A backslash is doubled so the escape is
/// unambiguous.
pub fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if c.is_control() || is_direction_override(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Bidirectional formatting characters that reorder what a terminal shows.
fn is_direction_override(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_sequences_are_shown_not_obeyed() {
        assert_eq!(escape_control("plain /tmp/a b.so"), "plain /tmp/a b.so");
        assert_eq!(
            escape_control("\x1b]52;c;aGk=\x07x\ny\u{9b}2J"),
            "\\u{1b}]52;c;aGk=\\u{7}x\\u{a}y\\u{9b}2J"
        );
        assert_eq!(escape_control("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape_control("c:\\x"), "c:\\\\x");
        assert_eq!(escape_control("ünïcödé"), "ünïcödé");
    }
}
