//! The hot path of reading a recording: `class` records, borrowed from the
//! line they were read from.
//!
//! A recording is mostly `class` lines in the one shape the agent writes.
//! [`parse_class`] reads that shape without allocating (every string is a
//! slice of the line) and gives up, returning `None`, on anything else:
//! escapes in a string, unknown or repeated fields, floats, negative
//! numbers... The caller then parses the line with serde
//! ([`crate::parse_record`]) into the owned [`ClassDefined`], the contract
//! type, so whatever `parse_class` accepts reads exactly as serde would
//! read it, and everything else (errors included) is serde's.
//!
//! Readers of other formats (e.g. a JFR recording) produce owned
//! [`ClassDefined`] records and view them with [`ClassView::from`].

use crate::{ClassDefined, ClassEvent, ClassKind};

/// A class record's fields, borrowed (from the line, or from an owned
/// [`ClassDefined`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassView<'a> {
    pub seq: u64,
    pub name: &'a str,
    pub kind: ClassKind,
    pub loader_id: u64,
    pub loader_type: &'a str,
    pub hidden: bool,
    pub thread: &'a str,
    pub t_ns: u64,
    pub wall_ms: u64,
    pub event: ClassEvent,
    pub stack: u64,
    pub target: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
}

impl<'a> From<&'a ClassDefined> for ClassView<'a> {
    fn from(c: &'a ClassDefined) -> Self {
        Self {
            seq: c.seq,
            name: &c.name,
            kind: c.kind,
            loader_id: c.loader.id,
            loader_type: &c.loader.type_name,
            hidden: c.hidden,
            thread: &c.thread,
            t_ns: c.t_ns,
            wall_ms: c.wall_ms,
            event: c.event,
            stack: c.stack,
            target: c.target.as_deref(),
            fingerprint: c.fingerprint.as_deref(),
        }
    }
}

impl<'a> From<&ClassView<'a>> for ClassView<'a> {
    fn from(c: &ClassView<'a>) -> Self {
        *c
    }
}

/// The start of every line [`crate::parse_record`] reads as a
/// `class` record directly (without the `Record` enum).
pub const CLASS_PREFIX: &[u8] = b"{\"type\":\"class\"";

/// Reads a `class` line (trimmed, starting with [`CLASS_PREFIX`]) in the
/// agent's plain shape; `None` means "let serde read it" (see the module
/// docs), never "invalid".
pub fn parse_class(line: &[u8]) -> Option<ClassView<'_>> {
    if !line.starts_with(CLASS_PREFIX) {
        return None;
    }
    // Valid UTF-8 as a whole makes every slice between two quotes valid.
    let text = std::str::from_utf8(line).ok()?;
    let p = Parser {
        s: text,
        b: text.as_bytes(),
        i: 0,
    };
    agent_order(p).or_else(|| any_order(p))
}

/// The fields in the order the agent writes them (the events crate's
/// declaration order), without whitespace: no key to look up.
fn agent_order(mut p: Parser<'_>) -> Option<ClassView<'_>> {
    p.lit(b"{\"type\":\"class\",\"seq\":")?;
    let seq = p.u64()?;
    p.lit(b",\"name\":")?;
    let name = p.string()?;
    p.lit(b",\"kind\":")?;
    let kind = ClassKind::from_wire(p.string()?);
    p.lit(b",\"loader\":{\"id\":")?;
    let loader_id = p.u64()?;
    p.lit(b",\"type\":")?;
    let loader_type = p.string()?;
    p.lit(b"},\"hidden\":")?;
    let hidden = p.bool()?;
    p.lit(b",\"thread\":")?;
    let thread = p.string()?;
    p.lit(b",\"t_ns\":")?;
    let t_ns = p.u64()?;
    p.lit(b",\"wall_ms\":")?;
    let wall_ms = p.u64()?;
    p.lit(b",\"event\":")?;
    let event = ClassEvent::from_wire(p.string()?)?;
    p.lit(b",\"stack\":")?;
    let stack = p.u64()?;
    let target = match p.lit(b",\"target\":") {
        Some(()) => p.optional_string()?,
        None => None,
    };
    let fingerprint = match p.lit(b",\"fingerprint\":") {
        Some(()) => p.optional_string()?,
        None => None,
    };
    p.lit(b"}")?;
    (p.i == p.b.len()).then_some(ClassView {
        seq,
        name,
        kind,
        loader_id,
        loader_type,
        hidden,
        thread,
        t_ns,
        wall_ms,
        event,
        stack,
        target,
        fingerprint,
    })
}

/// Any order, with whitespace: the same checks, by key.
fn any_order(mut p: Parser<'_>) -> Option<ClassView<'_>> {
    let mut seen = 0u16;
    let mut mark = |bit: u16| -> Option<()> {
        if seen & bit != 0 {
            return None; // a repeated field: serde's call
        }
        seen |= bit;
        Some(())
    };
    let (mut seq, mut name, mut kind, mut loader, mut hidden, mut thread) =
        (0, "", ClassKind::Other, (0, ""), false, "");
    let (mut t_ns, mut wall_ms, mut event, mut stack, mut target, mut fingerprint) =
        (0, 0, ClassEvent::Load, 0, None, None);
    p.ws();
    p.eat(b'{')?;
    loop {
        p.ws();
        let key = p.string()?;
        p.ws();
        p.eat(b':')?;
        p.ws();
        match key {
            "type" => {
                mark(1 << 0)?;
                if p.string()? != "class" {
                    return None;
                }
            }
            "seq" => {
                mark(1 << 1)?;
                seq = p.u64()?;
            }
            "name" => {
                mark(1 << 2)?;
                name = p.string()?;
            }
            "kind" => {
                mark(1 << 3)?;
                kind = ClassKind::from_wire(p.string()?);
            }
            "loader" => {
                mark(1 << 4)?;
                loader = p.loader()?;
            }
            "hidden" => {
                mark(1 << 5)?;
                hidden = p.bool()?;
            }
            "thread" => {
                mark(1 << 6)?;
                thread = p.string()?;
            }
            "t_ns" => {
                mark(1 << 7)?;
                t_ns = p.u64()?;
            }
            "wall_ms" => {
                mark(1 << 8)?;
                wall_ms = p.u64()?;
            }
            "event" => {
                mark(1 << 9)?;
                event = ClassEvent::from_wire(p.string()?)?;
            }
            "stack" => {
                mark(1 << 10)?;
                stack = p.u64()?;
            }
            "target" => {
                mark(1 << 11)?;
                target = p.optional_string()?;
            }
            "fingerprint" => {
                mark(1 << 12)?;
                fingerprint = p.optional_string()?;
            }
            _ => return None,
        }
        p.ws();
        match p.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    p.ws();
    // Everything but `target` and `fingerprint` is required.
    const REQUIRED: u16 = (1 << 11) - 1;
    if p.i != p.b.len() || seen & REQUIRED != REQUIRED {
        return None;
    }
    Some(ClassView {
        seq,
        name,
        kind,
        loader_id: loader.0,
        loader_type: loader.1,
        hidden,
        thread,
        t_ns,
        wall_ms,
        event,
        stack,
        target,
        fingerprint,
    })
}

/// Index of the first `"`, `\\` or control character in `b`, eight bytes
/// at a time (the strings are short: a call to `memchr` costs more).
fn string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
        // Bytes equal to '"' or '\\', or below 0x20. Bits above the
        // lowest match may be false positives; the lowest one is exact.
        let hits = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i..]
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| i + p)
}

#[derive(Clone, Copy)]
struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    /// JSON whitespace, as serde_json skips it.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    /// Exactly these bytes next.
    #[inline(always)]
    fn lit(&mut self, bytes: &[u8]) -> Option<()> {
        self.b[self.i..]
            .starts_with(bytes)
            .then(|| self.i += bytes.len())
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// A string without escapes or control characters.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + string_end(&self.b[start..])?;
        if self.b[end] != b'"' {
            return None; // an escape or a control character: serde's
        }
        self.i = end + 1;
        Some(&self.s[start..end])
    }

    fn optional_string(&mut self) -> Option<Option<&'a str>> {
        if self.b[self.i..].starts_with(b"null") {
            self.i += 4;
            Some(None)
        } else {
            self.string().map(Some)
        }
    }

    /// Digits only, no leading zero, no overflow (the rest is serde's).
    #[inline]
    fn u64(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n = 0u64;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        (len == 1 || (len > 1 && self.b[start] != b'0')).then_some(n)
    }

    fn bool(&mut self) -> Option<bool> {
        let rest = &self.b[self.i..];
        if rest.starts_with(b"true") {
            self.i += 4;
            Some(true)
        } else if rest.starts_with(b"false") {
            self.i += 5;
            Some(false)
        } else {
            None
        }
    }

    /// `{"id":N,"type":"..."}`, in either order.
    fn loader(&mut self) -> Option<(u64, &'a str)> {
        self.eat(b'{')?;
        let (mut id, mut type_name) = (None, None);
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            match key {
                "id" if id.is_none() => id = Some(self.u64()?),
                "type" if type_name.is_none() => type_name = Some(self.string()?),
                _ => return None,
            }
            self.ws();
            match self.next()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
        Some((id?, type_name?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_record, LoaderRef, Record};
    use proptest::prelude::*;

    fn sample() -> ClassDefined {
        ClassDefined {
            seq: 17,
            name: "jdk.internal.reflect.GeneratedMethodAccessor17".into(),
            kind: ClassKind::ReflectionAccessor,
            loader: LoaderRef {
                id: 20,
                type_name: "jdk.internal.reflect.DelegatingClassLoader".into(),
            },
            hidden: false,
            thread: "http-nio-8080-exec-1".into(),
            t_ns: 138_943_058,
            wall_ms: 1_795_452_508_558,
            event: ClassEvent::Load,
            stack: 4,
            target: Some("com.acme.Order.getId()J".into()),
            fingerprint: None,
        }
    }

    fn agent_line(c: &ClassDefined) -> String {
        serde_json::to_string(&Record::Class(c.clone())).unwrap()
    }

    /// What the fast path must agree with: the contract type, via serde.
    fn serde_view(line: &[u8]) -> Option<ClassDefined> {
        match parse_record(line) {
            Ok(Record::Class(c)) => Some(c),
            _ => None,
        }
    }

    /// Whatever the fast path accepts, serde reads the same way.
    fn agrees(line: &[u8]) {
        if let Some(fast) = parse_class(line) {
            let owned = serde_view(line).unwrap_or_else(|| {
                panic!(
                    "fast path accepted what serde rejects: {:?}",
                    String::from_utf8_lossy(line)
                )
            });
            assert_eq!(
                fast,
                ClassView::from(&owned),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn reads_what_the_agent_writes_without_serde() {
        let mut c = sample();
        let line = agent_line(&c);
        assert_eq!(parse_class(line.as_bytes()), Some(ClassView::from(&c)));
        c.target = None;
        c.fingerprint = Some("0123456789abcdef".into());
        c.hidden = true;
        c.kind = ClassKind::LambdaForm;
        c.event = ClassEvent::Prepare;
        c.name = "java.lang.invoke.LambdaForm$MH/0x0000000801000400 ünïcödé".into();
        let line = agent_line(&c);
        assert_eq!(parse_class(line.as_bytes()), Some(ClassView::from(&c)));
        agrees(line.as_bytes());
    }

    #[test]
    fn string_end_finds_the_first_quote_backslash_or_control_character() {
        for (text, end) in [
            (&b"abc"[..], None),
            (b"abcdefghijklmnop\"", Some(16)),
            (b"abcdefg\"hij\"", Some(7)),
            (b"ab\\cdefgh\"", Some(2)),
            (b"abcdefghij\x1fk\"", Some(10)),
            (b"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"", Some(8)),
            (b"\"", Some(0)),
        ] {
            assert_eq!(string_end(text), end, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn leaves_anything_unusual_to_serde() {
        let base = agent_line(&sample());
        let cases = [
            base.replace(
                "GeneratedMethodAccessor17",
                "Generated\\u004dethodAccessor17",
            ),
            base.replace("\"seq\":17", "\"seq\":017"),
            base.replace("\"seq\":17", "\"seq\":-0"),
            base.replace("\"seq\":17", "\"seq\":17.0"),
            base.replace("\"seq\":17", "\"seq\":1e1"),
            base.replace("\"seq\":17", "\"seq\":99999999999999999999"),
            base.replace("\"seq\":17,", ""),
            base.replace("\"seq\":17", "\"seq\":17,\"seq\":18"),
            base.replace("\"seq\":17", "\"seq\":17,\"extra\":[1,2]"),
            base.replace("\"id\":20", "\"id\":20,\"id\":21"),
            base.replace("\"event\":\"load\"", "\"event\":\"loaded\""),
            base.replace("\"hidden\":false", "\"hidden\":0"),
            base.replace("\"target\":\"com.acme.Order.getId()J\"", "\"target\":7"),
            base.clone() + "x",
        ];
        for line in &cases {
            assert!(parse_class(line.as_bytes()).is_none(), "{line}");
        }
        // An unknown kind and nulls are read, as serde reads them.
        for line in [
            base.replace("reflection_accessor", "brand_new_kind"),
            base.replace("\"target\":\"com.acme.Order.getId()J\"", "\"target\":null"),
            base.replace(",", " ,\n\t"),
            base.replace('}', "} "),
        ] {
            assert!(parse_class(line.as_bytes()).is_some(), "{line}");
            agrees(line.as_bytes());
        }
    }

    proptest! {
        #[test]
        fn never_disagrees_with_serde(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4)
        ) {
            let mut bytes = agent_line(&sample()).into_bytes();
            for (at, byte, op) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 => bytes.insert(i, byte),
                    1 if i < bytes.len() => { bytes.remove(i); }
                    _ if i < bytes.len() => bytes[i] = byte,
                    _ => {}
                }
            }
            agrees(&bytes);
        }

        #[test]
        fn printable_edits_never_disagree_with_serde(
            edits in prop::collection::vec((any::<prop::sample::Index>(), prop::sample::select(
                b"0123456789\"\\{}[],:. -etrufalsn".to_vec())), 1..4)
        ) {
            let mut bytes = agent_line(&sample()).into_bytes();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            agrees(&bytes);
        }
    }
}
