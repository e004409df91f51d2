//! Reads JSON Lines with a bounded line length, so that a damaged file (one
//! enormous line, gigabytes of NUL bytes without a newline) never makes the
//! reader allocate more than [`MAX_LINE`] bytes for a line.

use std::io::{self, BufRead, Read};

/// Piece size while skipping an over-long line.
const SKIP_CHUNK: usize = 1 << 16;

/// Longest line kept, newline excluded. A real record is a few hundred
/// bytes; the longest, a stack at `depth=2048` with long signatures, stays
/// well under 1 MiB.
pub const MAX_LINE: usize = 16 << 20;

/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRead {
    /// Bytes the line took in the input, newline included.
    pub len: u64,
    /// The line ended with a newline (only the last line of a file may not).
    pub newline: bool,
    /// The line was longer than the limit: it was skipped and the buffer
    /// is empty.
    pub too_long: bool,
}

/// Reads one line into `buf` (cleared first, newline kept), keeping at
/// most `max` bytes before the newline. A longer line is consumed to its
/// end without being stored when `skip_long`, else left where the reading
/// stopped (`len` is then what was read). Returns `None` at end of input.
pub fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
    skip_long: bool,
) -> io::Result<Option<LineRead>> {
    buf.clear();
    // One byte more than a kept line can have (with its newline) tells a
    // line that fits from one that does not.
    let limit = max as u64 + 1;
    // `read_until` retries on `Interrupted` and finds the newline with the
    // standard library's optimised search, fast even in debug builds.
    let n = input.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    let newline = buf.last() == Some(&b'\n');
    if newline || (n as u64) < limit {
        return Ok(Some(LineRead {
            len: n as u64,
            newline,
            too_long: false,
        }));
    }
    // Over the limit: skip to the end of the line in small pieces, reusing
    // the buffer, so memory stays bounded however long the line is.
    let mut len = n as u64;
    let newline = skip_long
        && loop {
            buf.clear();
            let n = input
                .by_ref()
                .take(SKIP_CHUNK as u64)
                .read_until(b'\n', buf)?;
            if n == 0 {
                break false;
            }
            len += n as u64;
            if buf.last() == Some(&b'\n') {
                break true;
            }
        };
    buf.clear();
    if buf.capacity() > SKIP_CHUNK {
        buf.shrink_to(SKIP_CHUNK);
    }
    Ok(Some(LineRead {
        len,
        newline,
        too_long: true,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(Vec<u8>, LineRead)> {
        let mut input = io::BufReader::with_capacity(8, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(l) = read_line(&mut input, &mut buf, max, true).unwrap() {
            out.push((buf.clone(), l));
        }
        out
    }

    fn read(len: u64, newline: bool, too_long: bool) -> LineRead {
        LineRead {
            len,
            newline,
            too_long,
        }
    }

    #[test]
    fn splits_lines_and_reports_the_last_one_without_newline() {
        let got = lines(b"ab\n\ncde", 10);
        assert_eq!(got[0], (b"ab\n".to_vec(), read(3, true, false)));
        assert_eq!(got[1], (b"\n".to_vec(), read(1, true, false)));
        assert_eq!(got[2], (b"cde".to_vec(), read(3, false, false)));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_line_at_the_limit_is_kept_and_one_byte_more_is_skipped() {
        let got = lines(b"12345\n123456\nok\n", 5);
        assert_eq!(got[0], (b"12345\n".to_vec(), read(6, true, false)));
        assert_eq!(got[1], (Vec::new(), read(7, true, true)));
        assert_eq!(got[2], (b"ok\n".to_vec(), read(3, true, false)));
        // Also at the end of the input, without a newline.
        let got = lines(b"12345", 5);
        assert_eq!(got, vec![(b"12345".to_vec(), read(5, false, false))]);
        let got = lines(&[0u8; 100_000], 5);
        assert_eq!(got, vec![(Vec::new(), read(100_000, false, true))]);
    }
}
