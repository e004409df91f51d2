//! What can go wrong reading a recording.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// The file is not a Flight Recorder recording at all.
    NotJfr {
        /// What was found instead, e.g. `starts with 7b 22 74 79 ("{"ty")`.
        found: String,
    },
    /// A JFR file of a format version this reader does not know.
    UnsupportedVersion { major: u16, minor: u16 },
    /// The file is cut or damaged; everything before `offset` was read.
    Damaged(Damage),
}

/// Where and how a recording is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// 0-based index of the chunk the damage is in.
    pub chunk: u32,
    /// Byte offset in the file where reading stopped.
    pub offset: u64,
    pub file_len: u64,
    /// The file ends before the chunk does (cut while written, copied from
    /// a live repository, a full disk), rather than holding wrong bytes.
    pub cut: bool,
    /// Events of the damaged chunk that were present but could not be
    /// decoded: their constants are in the missing part (counted among the
    /// types this reader yields) or, when the chunk's metadata is missing
    /// (JDK 11 writes it at the chunk end), every event of the chunk.
    pub lost_events: u64,
    pub reason: &'static str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "cannot read the recording: {e}"),
            Error::NotJfr { found } => write!(
                f,
                "not a Java Flight Recorder file: it {found}, a recording starts with FLR\\0"
            ),
            Error::UnsupportedVersion { major, minor } => write!(
                f,
                "JFR format {major}.{minor} is not supported (JDK 9 to 25 write 1.x and 2.x)"
            ),
            Error::Damaged(d) => d.fmt(f),
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cut {
            write!(
                f,
                "the recording is cut: the file ends at byte {} inside chunk {}; \
                 read up to byte {} ({})",
                self.file_len, self.chunk, self.offset, self.reason
            )?;
        } else {
            write!(
                f,
                "the recording is damaged at byte {} of {} in chunk {}: {}",
                self.offset, self.file_len, self.chunk, self.reason
            )?;
        }
        if self.lost_events > 0 {
            write!(
                f,
                "; {} events of that chunk could not be decoded",
                self.lost_events
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Io(e)
    }
}
