//! Time as the recording sees it: monotonic nanoseconds since the
//! recording started, and wall-clock milliseconds for the records.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic time since the recording started.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    pub fn elapsed_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
