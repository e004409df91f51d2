//! The 68-byte chunk header.
//!
//! Layout (all big-endian, never compressed): magic `FLR\0`, major and
//! minor version (u16 each), chunk size, offset of the last constant-pool
//! (checkpoint) event, offset of the last metadata event, start of the chunk
//! in nanoseconds since the epoch, its duration in nanoseconds, the tick
//! counter at the start, ticks per second (all i64), then four bytes: the
//! file state (JDK 14+: non-zero while the JVM is still writing the chunk),
//! two unused bytes and the flags (bit 0: compressed integers, bit 1: final
//! chunk of the recording).

pub(crate) const HEADER_SIZE: u64 = 68;
pub(crate) const MAGIC: [u8; 4] = *b"FLR\0";

const FLAG_COMPRESSED_INTS: u8 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkHeader {
    pub major: u16,
    pub minor: u16,
    pub size: u64,
    pub constant_pool_offset: u64,
    pub metadata_offset: u64,
    pub start_nanos: i64,
    pub duration_nanos: i64,
    pub start_ticks: i64,
    pub ticks_per_second: i64,
    /// Non-zero: the JVM had not finished this chunk (it was copied or cut
    /// while being written, or the JVM died).
    pub file_state: u8,
    pub flags: u8,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeaderError {
    BadMagic([u8; 4]),
    UnsupportedVersion(u16, u16),
}

impl ChunkHeader {
    pub(crate) fn parse(b: &[u8; HEADER_SIZE as usize]) -> Result<ChunkHeader, HeaderError> {
        let magic = [b[0], b[1], b[2], b[3]];
        if magic != MAGIC {
            return Err(HeaderError::BadMagic(magic));
        }
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let i64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            i64::from_be_bytes(a)
        };
        let (major, minor) = (u16_at(4), u16_at(6));
        // 1.x: JDK 9/10; 2.x: JDK 11 and later (and async-profiler).
        if major != 1 && major != 2 {
            return Err(HeaderError::UnsupportedVersion(major, minor));
        }
        // Negative sizes and offsets become huge, and fail the bounds
        // checks against the file and the chunk.
        Ok(ChunkHeader {
            major,
            minor,
            size: i64_at(8) as u64,
            constant_pool_offset: i64_at(16) as u64,
            metadata_offset: i64_at(24) as u64,
            start_nanos: i64_at(32),
            duration_nanos: i64_at(40),
            start_ticks: i64_at(48),
            ticks_per_second: i64_at(56),
            file_state: b[64],
            flags: b[67],
        })
    }

    /// JDK 11+ always compresses; the flag tells for other writers.
    pub(crate) fn compressed_ints(&self) -> bool {
        self.major >= 2 && self.flags & FLAG_COMPRESSED_INTS != 0
    }

    /// Converts a tick count of this chunk to nanoseconds since the epoch.
    pub(crate) fn ticks_to_wall_ns(&self, ticks: i64) -> i64 {
        self.start_nanos
            .saturating_add(self.ticks_to_ns(ticks.wrapping_sub(self.start_ticks)))
    }

    /// Converts a tick duration to nanoseconds.
    pub(crate) fn ticks_to_ns(&self, ticks: i64) -> i64 {
        if self.ticks_per_second <= 0 || self.ticks_per_second == 1_000_000_000 {
            return ticks;
        }
        let ns = i128::from(ticks) * 1_000_000_000 / i128::from(self.ticks_per_second);
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(major: u16, flags: u8) -> [u8; 68] {
        let mut b = [0u8; 68];
        b[..4].copy_from_slice(b"FLR\0");
        b[4..6].copy_from_slice(&major.to_be_bytes());
        b[6..8].copy_from_slice(&1u16.to_be_bytes());
        b[8..16].copy_from_slice(&1000i64.to_be_bytes());
        b[32..40].copy_from_slice(&5_000_000_000i64.to_be_bytes());
        b[48..56].copy_from_slice(&100i64.to_be_bytes());
        b[56..64].copy_from_slice(&1_000_000i64.to_be_bytes());
        b[67] = flags;
        b
    }

    #[test]
    fn parses_a_jdk17_style_header() {
        let h = ChunkHeader::parse(&header(2, 3)).unwrap();
        assert_eq!((h.major, h.minor, h.size), (2, 1, 1000));
        assert!(h.compressed_ints());
        // 1 MHz ticks: 250 ticks after the start are 250 microseconds.
        assert_eq!(h.ticks_to_wall_ns(350), 5_000_250_000);
        assert_eq!(h.ticks_to_ns(-3), -3000);
    }

    #[test]
    fn refuses_other_magic_and_versions() {
        let mut b = header(2, 1);
        b[0] = b'P';
        assert_eq!(
            ChunkHeader::parse(&b),
            Err(HeaderError::BadMagic(*b"PLR\0"))
        );
        assert_eq!(
            ChunkHeader::parse(&header(3, 1)),
            Err(HeaderError::UnsupportedVersion(3, 1))
        );
        assert!(!ChunkHeader::parse(&header(1, 1)).unwrap().compressed_ints());
    }
}
