//! Bytes in: positioned reads of the recording into bounded windows, and a
//! cursor that decodes JFR's primitives from a window without ever reading
//! past its end.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;

/// Why decoding stopped inside a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The data ended before the value did.
    Short,
    /// The bytes are not a valid encoding of what was expected.
    Invalid(&'static str),
}

pub(crate) type Decoded<T> = Result<T, Fault>;

/// A file read through positioned reads (`pread`, or a seek right before
/// the read), so nothing depends on where an earlier read left the file
/// offset and a file that shrinks underneath us only makes reads fail.
pub(crate) struct Source {
    file: File,
    len: u64,
}

impl Source {
    pub(crate) fn new(file: File, len: u64) -> Source {
        Source { file, len }
    }

    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Reads exactly `buf.len()` bytes at `offset`; `false` when the file
    /// has fewer bytes there (or the read failed: the caller reports damage
    /// at `offset` either way).
    pub(crate) fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    /// Appends the `len` bytes at `offset` to `buf` without zeroing them
    /// first (the file reads straight into the vector's spare room: for
    /// megabytes of checkpoints, a pass over memory saved); on an error
    /// `buf` may hold part of them. The one read through the file's
    /// offset, which no other read uses.
    pub(crate) fn append_at(
        &self,
        buf: &mut Vec<u8>,
        offset: u64,
        len: u64,
    ) -> std::io::Result<()> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(offset))?;
        let want = usize::try_from(len).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::OutOfMemory, "region too large")
        })?;
        buf.try_reserve_exact(want)?;
        let read = file.take(len).read_to_end(buf)?;
        if read < want {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// A cached region of the file. Requests inside it cost nothing; others
/// refill it starting at the requested offset, reading at least
/// `min_fill` bytes so that sequential requests mostly hit.
pub(crate) struct Window {
    start: u64,
    data: Vec<u8>,
    min_fill: usize,
}

impl Window {
    pub(crate) fn new(min_fill: usize) -> Window {
        Window {
            start: 0,
            data: Vec::new(),
            min_fill,
        }
    }

    /// The bytes `[offset, offset + len)`, or `None` when the file does not
    /// hold them all.
    pub(crate) fn get(
        &mut self,
        source: &Source,
        offset: u64,
        len: u64,
    ) -> std::io::Result<Option<&[u8]>> {
        self.get_before(source, offset, len, u64::MAX)
    }

    /// [`Window::get`], reading ahead no further than `limit` (where bytes
    /// already read elsewhere begin).
    pub(crate) fn get_before(
        &mut self,
        source: &Source,
        offset: u64,
        len: u64,
        limit: u64,
    ) -> std::io::Result<Option<&[u8]>> {
        let Some(end) = offset.checked_add(len) else {
            return Ok(None);
        };
        if end > source.len() {
            return Ok(None);
        }
        let cached_end = self.start + self.data.len() as u64;
        if offset < self.start || end > cached_end {
            let ahead = limit.saturating_sub(offset).max(len);
            let want = len
                .max(self.min_fill as u64)
                .min(ahead)
                .min(source.len() - offset);
            // `want` <= the file's length, which the caller already checked
            // against the chunk it reads.
            let want = usize::try_from(want).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::OutOfMemory, "region too large")
            })?;
            // Zeroed only where it grows: the read overwrites the rest.
            if self.data.len() < want {
                self.data.resize(want, 0);
            }
            self.data.truncate(want);
            self.start = offset;
            if let Err(e) = source.read_exact_at(&mut self.data, offset) {
                self.data.clear();
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    return Ok(None);
                }
                return Err(e);
            }
        }
        let from = (offset - self.start) as usize;
        let to = from + len as usize;
        Ok(self.data.get(from..to))
    }

    /// Whether `[offset, offset + len)` is cached.
    pub(crate) fn holds(&self, offset: u64, len: u64) -> bool {
        offset >= self.start && offset.saturating_add(len) <= self.start + self.data.len() as u64
    }

    /// Gives back memory grown for an unusually large region.
    pub(crate) fn shrink(&mut self) {
        if self.data.capacity() > 4 * self.min_fill {
            self.data = Vec::new();
            self.start = 0;
        }
    }
}

/// Decodes JFR primitives from a byte slice. Integers are LEB128-style
/// varints (7 bits a byte, low bits first, the 9th byte carries 8 bits) when
/// the chunk says so (every JDK 11+ chunk), big-endian otherwise.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    compressed: bool,
}

/// String encodings (the first byte of every string value).
const STRING_NULL: u8 = 0;
const STRING_EMPTY: u8 = 1;
const STRING_POOL: u8 = 2;
const STRING_UTF8: u8 = 3;
const STRING_UTF16: u8 = 4;
const STRING_LATIN1: u8 = 5;

/// A string value as it sits in the data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawString<'a> {
    Null,
    Empty,
    /// A key into the `java.lang.String` constant pool.
    Pool(u64),
    Utf8(&'a [u8]),
    Latin1(&'a [u8]),
    Utf16(Vec<u16>),
}

impl RawString<'_> {
    /// The text without copying where the bytes are UTF-8 already.
    pub(crate) fn as_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        match self {
            // `from_utf8` checks valid text faster than `from_utf8_lossy`.
            RawString::Utf8(b) => Some(match std::str::from_utf8(b) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(b),
            }),
            other => other.text().map(std::borrow::Cow::Owned),
        }
    }

    /// The text, `None` for null and pool references (which the caller
    /// resolves). Invalid UTF-8 or UTF-16 is replaced, never an error:
    /// names are printed escaped by the renderers anyway.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            RawString::Null | RawString::Pool(_) => None,
            RawString::Empty => Some(String::new()),
            RawString::Utf8(b) => Some(String::from_utf8_lossy(b).into_owned()),
            RawString::Latin1(b) => Some(b.iter().map(|&c| c as char).collect()),
            RawString::Utf16(u) => Some(String::from_utf16_lossy(u)),
        }
    }
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(data: &'a [u8], compressed: bool) -> Cursor<'a> {
        Cursor {
            data,
            pos: 0,
            compressed,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) -> Decoded<()> {
        if pos > self.data.len() {
            return Err(Fault::Short);
        }
        self.pos = pos;
        Ok(())
    }

    #[inline]
    pub(crate) fn u8(&mut self) -> Decoded<u8> {
        let b = *self.data.get(self.pos).ok_or(Fault::Short)?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    pub(crate) fn bytes(&mut self, n: usize) -> Decoded<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(Fault::Short)?;
        let b = self.data.get(self.pos..end).ok_or(Fault::Short)?;
        self.pos = end;
        Ok(b)
    }

    fn raw<const N: usize>(&mut self) -> Decoded<[u8; N]> {
        let b = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(b);
        Ok(a)
    }

    /// A compressed integer: up to 8 bytes of 7 bits, then one of 8.
    #[inline]
    pub(crate) fn varint(&mut self) -> Decoded<u64> {
        // Most are one byte: pool keys, counts, small fields.
        match self.data.get(self.pos) {
            Some(&b) if b < 0x80 => {
                self.pos += 1;
                Ok(u64::from(b))
            }
            _ => self.long_varint(),
        }
    }

    fn long_varint(&mut self) -> Decoded<u64> {
        // Away from the end (nearly always), one bounds check for all nine
        // bytes a varint can take: timestamps take eight or nine.
        if let Some(b) = self.data.get(self.pos..).and_then(|s| s.first_chunk::<9>()) {
            let mut value = 0u64;
            for (i, &byte) in b[..8].iter().enumerate() {
                value |= u64::from(byte & 0x7f) << (7 * i);
                if byte < 0x80 {
                    self.pos += i + 1;
                    return Ok(value);
                }
            }
            self.pos += 9;
            return Ok(value | u64::from(b[8]) << 56);
        }
        let mut value = 0u64;
        for i in 0..8 {
            let b = self.u8()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(value);
            }
        }
        Ok(value | u64::from(self.u8()?) << 56)
    }

    /// Skips a `short`, `int` or `long` (`raw_len` bytes uncompressed)
    /// without decoding it: a compressed one ends at its first byte below
    /// 0x80, or after nine.
    #[inline]
    pub(crate) fn skip_integer(&mut self, raw_len: usize) -> Decoded<()> {
        if !self.compressed {
            return self.bytes(raw_len).map(drop);
        }
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        match rest.iter().take(8).position(|&b| b < 0x80) {
            Some(i) => {
                self.pos += i + 1;
                Ok(())
            }
            None if rest.len() >= 9 => {
                self.pos += 9;
                Ok(())
            }
            None => Err(Fault::Short),
        }
    }

    /// `long` (and the event size, type id, pool keys...).
    #[inline]
    pub(crate) fn long(&mut self) -> Decoded<i64> {
        if self.compressed {
            self.varint().map(|v| v as i64)
        } else {
            self.raw::<8>().map(i64::from_be_bytes)
        }
    }

    #[inline]
    pub(crate) fn int(&mut self) -> Decoded<i32> {
        if self.compressed {
            self.varint().map(|v| v as i32)
        } else {
            self.raw::<4>().map(i32::from_be_bytes)
        }
    }

    pub(crate) fn short(&mut self) -> Decoded<i16> {
        if self.compressed {
            self.varint().map(|v| v as i16)
        } else {
            self.raw::<2>().map(i16::from_be_bytes)
        }
    }

    pub(crate) fn char(&mut self) -> Decoded<u16> {
        self.short().map(|v| v as u16)
    }

    pub(crate) fn float(&mut self) -> Decoded<f32> {
        self.raw::<4>().map(f32::from_be_bytes)
    }

    pub(crate) fn double(&mut self) -> Decoded<f64> {
        self.raw::<8>().map(f64::from_be_bytes)
    }

    /// A length or count: never negative, and never more than the bytes
    /// left times `per_byte` (each element takes at least one byte, so a
    /// corrupt count cannot make a caller loop or allocate beyond the data).
    #[inline]
    pub(crate) fn count(&mut self) -> Decoded<usize> {
        let n = self.int()?;
        let n = usize::try_from(n).map_err(|_| Fault::Invalid("negative count"))?;
        if n > self.remaining() {
            return Err(Fault::Short);
        }
        Ok(n)
    }

    pub(crate) fn string(&mut self) -> Decoded<RawString<'a>> {
        match self.u8()? {
            STRING_NULL => Ok(RawString::Null),
            STRING_EMPTY => Ok(RawString::Empty),
            STRING_POOL => self.long().map(|k| RawString::Pool(k as u64)),
            STRING_UTF8 => {
                let n = self.count()?;
                self.bytes(n).map(RawString::Utf8)
            }
            STRING_LATIN1 => {
                let n = self.count()?;
                self.bytes(n).map(RawString::Latin1)
            }
            STRING_UTF16 => {
                let n = self.count()?;
                let mut units = Vec::with_capacity(n);
                for _ in 0..n {
                    units.push(self.char()?);
                }
                Ok(RawString::Utf16(units))
            }
            _ => Err(Fault::Invalid("unknown string encoding")),
        }
    }

    /// Skips a string without building it.
    #[inline]
    pub(crate) fn skip_string(&mut self) -> Decoded<()> {
        match self.u8()? {
            STRING_NULL | STRING_EMPTY => Ok(()),
            STRING_POOL => self.long().map(drop),
            STRING_UTF8 | STRING_LATIN1 => {
                let n = self.count()?;
                self.bytes(n).map(drop)
            }
            STRING_UTF16 => {
                let n = self.count()?;
                for _ in 0..n {
                    self.char()?;
                }
                Ok(())
            }
            _ => Err(Fault::Invalid("unknown string encoding")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..8 {
            if v < 0x80 {
                out.push(v as u8);
                return out;
            }
            out.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
        out
    }

    #[test]
    fn skipped_integers_end_where_read_ones_do() {
        let mut bytes = Vec::new();
        let values = [0u64, 127, 128, 300, 1 << 55, 1 << 56, u64::MAX];
        for v in values {
            bytes.extend(varint_bytes(v));
        }
        let mut read = Cursor::new(&bytes, true);
        let mut skipped = Cursor::new(&bytes, true);
        for _ in values {
            read.long().unwrap();
            skipped.skip_integer(8).unwrap();
            assert_eq!(read.pos(), skipped.pos());
        }
        // Cut inside the last one.
        let cut = &bytes[..bytes.len() - 1];
        let mut c = Cursor::new(cut, true);
        for _ in 0..values.len() - 1 {
            c.skip_integer(8).unwrap();
        }
        assert_eq!(c.skip_integer(8), Err(Fault::Short));
        // Uncompressed: the raw width.
        let mut raw = Cursor::new(&[1, 2, 3, 4, 5], false);
        raw.skip_integer(4).unwrap();
        assert_eq!(raw.pos(), 4);
        assert_eq!(raw.skip_integer(2), Err(Fault::Short));
    }

    #[test]
    fn varints_round_trip_up_to_nine_bytes() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            55301,
            u32::MAX as u64,
            1 << 55,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
            -1i64 as u64,
        ] {
            let bytes = varint_bytes(v);
            assert!(bytes.len() <= 9);
            let mut c = Cursor::new(&bytes, true);
            assert_eq!(c.varint(), Ok(v), "{v}");
            assert_eq!(c.remaining(), 0);
        }
        // The 9th byte holds 8 bits: 0xff there is not a continuation.
        let nine = [0xffu8; 9];
        assert_eq!(Cursor::new(&nine, true).varint(), Ok(u64::MAX));
    }

    #[test]
    fn a_cut_varint_is_short_not_a_panic() {
        assert_eq!(Cursor::new(&[0x80, 0x80], true).varint(), Err(Fault::Short));
        assert_eq!(Cursor::new(&[], true).long(), Err(Fault::Short));
    }

    #[test]
    fn uncompressed_integers_are_big_endian() {
        let mut c = Cursor::new(&[0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 7], false);
        assert_eq!(c.int(), Ok(0x102));
        assert_eq!(c.long(), Ok(7));
    }

    #[test]
    fn every_string_encoding_decodes() {
        let mut data = vec![STRING_NULL, STRING_EMPTY, STRING_POOL, 42];
        data.extend([STRING_UTF8, 4]);
        data.extend("Grüß".as_bytes()[..4].iter());
        data.extend([STRING_LATIN1, 3, b'a', 0xe9, b'z']);
        // "a😀" as UTF-16 code units, each a varint: 0x61, 0xd83d, 0xde00.
        data.extend([STRING_UTF16, 3, 0x61]);
        data.extend(varint_bytes(0xd83d));
        data.extend(varint_bytes(0xde00));
        let mut c = Cursor::new(&data, true);
        assert_eq!(c.string().unwrap().text(), None);
        assert_eq!(c.string().unwrap().text().as_deref(), Some(""));
        assert_eq!(c.string().unwrap(), RawString::Pool(42));
        assert_eq!(c.string().unwrap().text().as_deref(), Some("Grü"));
        assert_eq!(c.string().unwrap().text().as_deref(), Some("aéz"));
        assert_eq!(c.string().unwrap().text().as_deref(), Some("a😀"));
        assert_eq!(c.remaining(), 0);
    }

    #[test]
    fn corrupt_strings_are_errors() {
        // A length beyond the data, a negative length, an unknown encoding.
        assert_eq!(
            Cursor::new(&[STRING_UTF8, 50, b'a'], true).string(),
            Err(Fault::Short)
        );
        let negative = [STRING_UTF8, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(Cursor::new(&negative, true).string().is_err());
        assert_eq!(
            Cursor::new(&[9], true).string(),
            Err(Fault::Invalid("unknown string encoding"))
        );
        assert_eq!(
            Cursor::new(&[STRING_UTF16, 2, 1], true).skip_string(),
            Err(Fault::Short)
        );
    }
}
