//! Time as the recording sees it: monotonic nanoseconds since the
//! recording started, and wall-clock milliseconds for the records.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic time since the recording started, and the wall clock then.
#[derive(Debug)]
pub struct Clock {
    start: Instant,
    start_wall_ms: u64,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
            start_wall_ms: wall_ms(),
        }
    }

    pub fn elapsed_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// The wall clock at `t_ns`, as the start's wall clock plus the
    /// monotonic time since: a class record needs both, and one clock read
    /// per class instead of two. (A read costs 25 ns in a loop, but the
    /// two took ~7% of ClassLoad's samples in a GenerateClasses profile:
    /// the clock's data is cold after the JVM's work between classes.) A
    /// wall clock stepped during the recording is not followed, which
    /// also keeps records in order.
    pub fn wall_ms_at(&self, t_ns: u64) -> u64 {
        self.start_wall_ms + t_ns / 1_000_000
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_clock_of_a_moment_follows_the_monotonic_time_from_the_start() {
        let clock = Clock::start();
        let t_ns = clock.elapsed_ns();
        let after = wall_ms();
        let derived = clock.wall_ms_at(t_ns);
        // Never later than a wall clock read afterwards (give or take the
        // millisecond the truncation of either may cost).
        assert!(derived <= after + 1, "{derived} vs {after}");
        assert!(derived >= clock.start_wall_ms);
        assert_eq!(clock.wall_ms_at(t_ns + 5_000_000), derived + 5);
    }
}
