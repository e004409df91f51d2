//! Counting on the hot path without contended atomics, and the agent's
//! measure of its own cost.
//!
//! Every application thread counts in its own [`ThreadTally`] (plain
//! relaxed stores by its one writer: no cache line bounces between
//! threads that load classes at once); the summary adds them up.
//!
//! The time callbacks take is measured without timing every callback (two
//! clock reads cost about 65 ns, as much as a cheap callback itself): the
//! decision every callback makes ("is this class generated?") is timed on
//! one callback in [`SAMPLE_EVERY`] per thread, and the capture of a
//! generated class (stack walk, queue) on one capture in
//! [`SAMPLE_CAPTURES_EVERY`]. The estimate is mean(sampled decisions) x
//! callbacks + mean(sampled captures) x captures.
//!
//! Which ones are timed is drawn at random (per thread), not every Nth:
//! callbacks come in fixed patterns. A generated class is captured twice,
//! cheaply in the hook and with its stack walk in ClassLoad, so every 4th
//! capture of a thread timed only one of the two for as long as the thread
//! generated classes, and the estimate of a run came out anywhere from half
//! to twice the truth, by which one each thread happened to start on.
//!
//! The clock is the wall clock (a thread's CPU clock costs a system call,
//! microseconds in a VM). A sample during which the thread was preempted
//! (with more busy threads than cores, a capture is sometimes descheduled
//! for a whole time slice) would count milliseconds the thread spent not
//! running; samples longer than [`PREEMPTED`] are therefore left out of the
//! means (no decision or capture takes that long by itself).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// One callback in this many (per thread) has its decision timed.
pub const SAMPLE_EVERY: u64 = 16;
/// One capture in this many (per thread) is timed.
pub const SAMPLE_CAPTURES_EVERY: u64 = 4;
/// A sample longer than this was preempted, not working: left out.
pub const PREEMPTED: std::time::Duration = std::time::Duration::from_micros(250);
/// Registered tallies past which those of ended threads are folded into
/// the retired totals (threads come and go in servers).
const FOLD_AT: usize = 1024;

/// Counters of one thread in one recording.
#[derive(Default, Debug)]
pub struct ThreadTally {
    pub classes_loaded: AtomicU64,
    pub seen: AtomicU64,
    pub dropped: AtomicU64,
    pub stack_errors: AtomicU64,
    pub events_dropped: AtomicU64,
    pub callbacks: AtomicU64,
    pub captures: AtomicU64,
    sampled_ns: AtomicU64,
    samples: AtomicU64,
    capture_ns: AtomicU64,
    capture_samples: AtomicU64,
    /// Samples left out as preempted.
    preempted: AtomicU64,
    /// Draws which callbacks and captures are timed.
    sampler: Sampler,
}

/// A per-thread xorshift64 generator (its state is never zero).
#[derive(Debug)]
struct Sampler(AtomicU64);

/// Seeds the threads' samplers apart.
static NEXT_SEED: AtomicU64 = AtomicU64::new(0);

impl Default for Sampler {
    fn default() -> Self {
        // splitmix64 of a counter: distinct and well mixed per thread.
        let mut z = NEXT_SEED
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Sampler(AtomicU64::new((z ^ (z >> 31)) | 1))
    }
}

impl Sampler {
    /// `true` about once in `one_in` calls, at random. Only the owning
    /// thread draws: relaxed loads and stores suffice.
    fn draw(&self, one_in: u64) -> bool {
        let mut x = self.0.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.store(x, Ordering::Relaxed);
        (x >> 32).is_multiple_of(one_in)
    }
}

/// Adds `n` to a counter that only the current thread writes.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

/// Sums over every thread of a recording.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub classes_loaded: u64,
    pub seen: u64,
    pub dropped: u64,
    pub stack_errors: u64,
    pub events_dropped: u64,
    pub callbacks: u64,
    pub captures: u64,
    pub sampled_ns: u64,
    pub samples: u64,
    pub capture_ns: u64,
    pub capture_samples: u64,
    pub preempted: u64,
}

impl Totals {
    fn add(&mut self, t: &ThreadTally) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.classes_loaded += get(&t.classes_loaded);
        self.seen += get(&t.seen);
        self.dropped += get(&t.dropped);
        self.stack_errors += get(&t.stack_errors);
        self.events_dropped += get(&t.events_dropped);
        self.callbacks += get(&t.callbacks);
        self.captures += get(&t.captures);
        self.sampled_ns += get(&t.sampled_ns);
        self.samples += get(&t.samples);
        self.capture_ns += get(&t.capture_ns);
        self.capture_samples += get(&t.capture_samples);
        self.preempted += get(&t.preempted);
    }

    /// Estimated nanoseconds spent in callbacks (see the module docs).
    pub fn callback_ns(&self) -> u64 {
        let scaled = |sum: u64, samples: u64, count: u64| {
            if samples == 0 {
                0
            } else {
                (sum as u128 * count as u128 / samples as u128) as u64
            }
        };
        scaled(self.sampled_ns, self.samples, self.callbacks)
            + scaled(self.capture_ns, self.capture_samples, self.captures)
    }
}

/// The tallies of one recording.
#[derive(Debug)]
pub struct Tallies {
    /// Tells this recording's tallies apart in the thread-local cache.
    id: u64,
    threads: Mutex<Vec<Arc<ThreadTally>>>,
    retired: Mutex<Totals>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's tally for the recording with the given id.
    static MINE: RefCell<Option<(u64, Arc<ThreadTally>)>> = const { RefCell::new(None) };
}

impl Default for Tallies {
    fn default() -> Self {
        Tallies {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            threads: Mutex::new(Vec::new()),
            retired: Mutex::new(Totals::default()),
        }
    }
}

impl Tallies {
    /// Runs `f` with the current thread's tally, registering it the first
    /// time this thread counts for this recording. Re-entrant: `f` may
    /// count again (the thread-local is only borrowed shared while `f`
    /// runs, so the tally's reference count is not touched per call).
    pub fn with<R>(&self, f: impl FnOnce(&ThreadTally) -> R) -> R {
        MINE.with(|mine| {
            if let Ok(held) = mine.try_borrow() {
                if let Some((id, tally)) = &*held {
                    if *id == self.id {
                        return f(tally);
                    }
                }
            }
            let tally = Arc::new(ThreadTally::default());
            self.register(tally.clone());
            // Not cached if an outer call of another recording holds the
            // slot (a session switch inside a callback): still counted.
            if let Ok(mut slot) = mine.try_borrow_mut() {
                *slot = Some((self.id, tally.clone()));
            }
            f(&tally)
        })
    }

    fn register(&self, tally: Arc<ThreadTally>) {
        let mut threads = self.threads.lock();
        if threads.len() >= FOLD_AT {
            // Only the registry still holds the tally of an ended thread.
            let mut retired = self.retired.lock();
            threads.retain(|t| {
                let ended = Arc::strong_count(t) == 1;
                if ended {
                    retired.add(t);
                }
                !ended
            });
        }
        threads.push(tally);
    }

    /// Sums over every thread (live and ended).
    pub fn totals(&self) -> Totals {
        let mut totals = *self.retired.lock();
        for t in self.threads.lock().iter() {
            totals.add(t);
        }
        totals
    }
}

/// Times one callback: started when the callback starts, told when the
/// class turns out to be captured, finished at its end.
pub struct CallbackTimer {
    start: Option<Instant>,
    /// When the decision was made (the class is captured), and whether
    /// this capture is timed.
    capturing: Option<(Instant, bool)>,
}

impl CallbackTimer {
    /// Counts the callback; reads the clock only on a sampled one.
    pub fn start(tally: &ThreadTally) -> CallbackTimer {
        add(&tally.callbacks, 1);
        CallbackTimer {
            start: tally.sampler.draw(SAMPLE_EVERY).then(Instant::now),
            capturing: None,
        }
    }

    /// The decision is made: the class is captured (the rest is timed on
    /// one capture in [`SAMPLE_CAPTURES_EVERY`]).
    pub fn capturing(&mut self, tally: &ThreadTally) {
        add(&tally.captures, 1);
        let timed = tally.sampler.draw(SAMPLE_CAPTURES_EVERY);
        if timed || self.start.is_some() {
            self.capturing = Some((Instant::now(), timed));
        }
    }

    pub fn finish(self, tally: &ThreadTally) {
        let sample = |sum: &AtomicU64, samples: &AtomicU64, took: std::time::Duration| {
            if took > PREEMPTED {
                add(&tally.preempted, 1);
            } else {
                add(sum, took.as_nanos() as u64);
                add(samples, 1);
            }
        };
        let now = Instant::now;
        if let Some(start) = self.start {
            let decided = self.capturing.map_or_else(now, |(at, _)| at);
            sample(
                &tally.sampled_ns,
                &tally.samples,
                decided.duration_since(start),
            );
        }
        if let Some((capturing, true)) = self.capturing {
            sample(
                &tally.capture_ns,
                &tally.capture_samples,
                capturing.elapsed(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_counts_in_its_own_tally_and_the_totals_add_up() {
        let tallies = Arc::new(Tallies::default());
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let tallies = tallies.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        tallies.with(|t| add(&t.seen, 1));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        tallies.with(|t| add(&t.classes_loaded, 7));
        let totals = tallies.totals();
        assert_eq!((totals.seen, totals.classes_loaded), (4000, 7));
    }

    #[test]
    fn counting_may_nest() {
        let tallies = Tallies::default();
        tallies.with(|outer| {
            add(&outer.seen, 1);
            tallies.with(|inner| add(&inner.dropped, 1));
        });
        let totals = tallies.totals();
        assert_eq!((totals.seen, totals.dropped), (1, 1));
    }

    #[test]
    fn another_recording_may_count_inside_a_callback_of_this_one() {
        let first = Tallies::default();
        let second = Tallies::default();
        first.with(|outer| {
            add(&outer.seen, 1);
            second.with(|inner| add(&inner.seen, 10));
            second.with(|inner| add(&inner.seen, 10));
        });
        first.with(|t| add(&t.seen, 1));
        assert_eq!((first.totals().seen, second.totals().seen), (2, 20));
    }

    #[test]
    fn a_new_recording_starts_from_zero_on_the_same_thread() {
        let first = Tallies::default();
        first.with(|t| add(&t.seen, 5));
        let second = Tallies::default();
        second.with(|t| add(&t.seen, 1));
        assert_eq!(first.totals().seen, 5);
        assert_eq!(second.totals().seen, 1);
    }

    #[test]
    fn ended_threads_are_folded_not_forgotten() {
        let tallies = Arc::new(Tallies::default());
        for _ in 0..(FOLD_AT + 10) {
            let tallies = tallies.clone();
            std::thread::spawn(move || tallies.with(|t| add(&t.seen, 1)))
                .join()
                .unwrap();
        }
        assert!(tallies.threads.lock().len() <= FOLD_AT);
        assert_eq!(tallies.totals().seen, (FOLD_AT + 10) as u64);
    }

    #[test]
    fn the_estimate_scales_sampled_decisions_and_adds_captures() {
        let totals = Totals {
            callbacks: 1600,
            samples: 100,
            sampled_ns: 100 * 200,
            captures: 40,
            capture_samples: 10,
            capture_ns: 10 * 5_000,
            ..Totals::default()
        };
        assert_eq!(totals.callback_ns(), 1600 * 200 + 40 * 5_000);
        let timer_tally = ThreadTally::default();
        let callbacks = SAMPLE_EVERY * 1000;
        for i in 0..callbacks {
            let mut timer = CallbackTimer::start(&timer_tally);
            if i % 2 == 1 {
                timer.capturing(&timer_tally);
            }
            timer.finish(&timer_tally);
        }
        let mut t = Totals::default();
        t.add(&timer_tally);
        assert_eq!((t.callbacks, t.captures), (callbacks, callbacks / 2));
        // Drawn at random: about one in SAMPLE_EVERY, one in
        // SAMPLE_CAPTURES_EVERY (samples preempted for 250 µs are left
        // out, so at most that many).
        assert!((850..=1150).contains(&(t.samples + t.preempted)), "{t:?}");
        let captures = callbacks / 2 / SAMPLE_CAPTURES_EVERY;
        let timed = t.capture_samples + t.preempted;
        assert!(
            timed * 100 >= captures * 85 && timed * 100 <= captures * 115,
            "{t:?}"
        );
    }

    /// A thread that generates classes captures each twice, in the hook
    /// and in ClassLoad: both captures are timed, about as often.
    #[test]
    fn captures_that_alternate_are_timed_alike() {
        let tally = ThreadTally::default();
        let mut decisions = [0u32; 2];
        let mut captures = [0u32; 2];
        for i in 0..16_000 {
            let mut timer = CallbackTimer::start(&tally);
            decisions[i % 2] += u32::from(timer.start.is_some());
            timer.capturing(&tally);
            captures[i % 2] += u32::from(matches!(timer.capturing, Some((_, true))));
            timer.finish(&tally);
        }
        // 8,000 of each: about 500 decisions and 2,000 captures each
        // (every 16th and every 4th would have been 1,000 and 0, 4,000 and 0).
        for n in decisions {
            assert!((400..=600).contains(&n), "{decisions:?}");
        }
        for n in captures {
            assert!((1800..=2200).contains(&n), "{captures:?}");
        }
    }
}
