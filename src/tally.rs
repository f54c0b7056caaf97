//! Counting events per key within a fixed window, in a fixed table: how
//! many visitors one address brought to an article in the last half hour,
//! how many failed authentications one address made in the last minute.
//!
//! Like the beacon's table of visitors, the table never grows and never has
//! to be swept: a key's hash picks a bucket of four slots, and a key not
//! there takes an empty or expired slot, else the one whose window started
//! longest ago. Each slot is one atomic word, so no lock is taken and
//! nothing is allocated per event. Keys are hashed with a random key of this
//! process, so a client cannot choose which keys share a bucket.
//!
//! The count is approximate at the edges, on purpose: two events of one key
//! racing for an empty slot may both start a count, and a key pushed out of
//! a full bucket starts again from zero. Past about the table's capacity of
//! live keys (four per bucket), counts start being forgotten early.

use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WAYS: usize = 4;
/// A slot's word: the key's tag (high 24 bits), the second its window
/// started at (30 bits, since the table was made: 34 years), the count (low
/// 10 bits; 0 is an empty slot).
const COUNT_BITS: u32 = 10;
const START_BITS: u32 = 30;
const MAX_COUNT: u64 = (1 << COUNT_BITS) - 1;
const MAX_START: u64 = (1 << START_BITS) - 1;
/// Attempts at a contended slot before the event is let go uncounted.
const ATTEMPTS: usize = 8;

/// Counts within the current window of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Events so far in the key's window (at most 1023).
    pub events: u32,
    /// Seconds until the window ends and the count starts again (at least 1).
    pub resets_in: u32,
}

/// Four slots in half a cache line.
#[repr(align(32))]
struct Bucket([AtomicU64; WAYS]);

pub struct WindowedCounts {
    buckets: Box<[Bucket]>,
    hasher: foldhash::quality::RandomState,
    window: u64,
    started: Instant,
}

impl WindowedCounts {
    /// A table of `buckets` buckets (four keys each) counting over `window`.
    pub fn new(buckets: usize, window: Duration) -> Self {
        Self {
            buckets: (0..buckets.max(1))
                .map(|_| Bucket(std::array::from_fn(|_| AtomicU64::new(0))))
                .collect(),
            hasher: foldhash::quality::RandomState::default(),
            window: window.as_secs().clamp(1, MAX_START),
            started: Instant::now(),
        }
    }

    /// Counts one event of `key`; the count includes it.
    pub fn add(&self, key: impl Hash) -> Count {
        self.add_at(self.hasher.hash_one(key), self.now())
    }

    /// The count of `key`, without adding to it.
    pub fn peek(&self, key: impl Hash) -> Count {
        self.peek_at(self.hasher.hash_one(key), self.now())
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_secs().min(MAX_START)
    }

    fn bucket(&self, hash: u64) -> (&[AtomicU64; WAYS], u64) {
        let Bucket(slots) = &self.buckets[(hash as usize) % self.buckets.len()];
        (slots, hash >> (COUNT_BITS + START_BITS))
    }

    fn count(&self, word: u64, now: u64) -> Count {
        let elapsed = now.saturating_sub(start(word));
        Count {
            events: (word & MAX_COUNT) as u32,
            resets_in: self.window.saturating_sub(elapsed).max(1) as u32,
        }
    }

    fn live(&self, word: u64, now: u64) -> bool {
        word & MAX_COUNT != 0 && now.saturating_sub(start(word)) < self.window
    }

    fn add_at(&self, hash: u64, now: u64) -> Count {
        let (slots, tag) = self.bucket(hash);
        let fresh = compose(tag, now, 1);
        for _ in 0..ATTEMPTS {
            let words = slots.each_ref().map(|slot| slot.load(Ordering::Relaxed));
            let (slot, old, new) = match words.iter().position(|w| tag_of(*w) == tag && *w != 0) {
                Some(at) if self.live(words[at], now) => {
                    let old = words[at];
                    let events = (old & MAX_COUNT).saturating_add(1).min(MAX_COUNT);
                    (at, old, (old & !MAX_COUNT) | events)
                }
                Some(at) => (at, words[at], fresh),
                None => {
                    // An empty or expired slot, else the oldest window.
                    let at = (0..WAYS)
                        .min_by_key(|&at| {
                            let word = words[at];
                            if self.live(word, now) {
                                start(word) + 1
                            } else {
                                0
                            }
                        })
                        .unwrap_or_default();
                    (at, words[at], fresh)
                }
            };
            if slots[slot]
                .compare_exchange(old, new, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                return self.count(new, now);
            }
        }
        self.count(fresh, now)
    }

    fn peek_at(&self, hash: u64, now: u64) -> Count {
        let (slots, tag) = self.bucket(hash);
        slots
            .iter()
            .map(|slot| slot.load(Ordering::Relaxed))
            .find(|w| tag_of(*w) == tag && self.live(*w, now))
            .map(|word| self.count(word, now))
            .unwrap_or(Count {
                events: 0,
                resets_in: self.window as u32,
            })
    }
}

fn compose(tag: u64, start: u64, events: u64) -> u64 {
    (tag << (COUNT_BITS + START_BITS)) | (start.min(MAX_START) << COUNT_BITS) | events
}

fn tag_of(word: u64) -> u64 {
    word >> (COUNT_BITS + START_BITS)
}

fn start(word: u64) -> u64 {
    (word >> COUNT_BITS) & MAX_START
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_key_counts_up_within_its_window_and_starts_again_after_it() {
        let counts = WindowedCounts::new(16, MINUTE);
        let key = 7 << 50;
        assert_eq!(counts.peek_at(key, 0).events, 0);
        for n in 1..=3 {
            assert_eq!(counts.add_at(key, 10).events, n);
        }
        assert_eq!(
            counts.peek_at(key, 30),
            Count {
                events: 3,
                resets_in: 40
            }
        );
        assert_eq!(counts.add_at(key, 69).events, 4, "still the same window");
        assert_eq!(counts.peek_at(key, 70).events, 0, "the window has passed");
        assert_eq!(counts.add_at(key, 70).events, 1);
        assert_eq!(counts.add_at(8 << 50, 70).events, 1, "another key");
    }

    #[test]
    fn a_full_bucket_forgets_the_oldest_window_first() {
        let counts = WindowedCounts::new(1, MINUTE);
        let keys: Vec<u64> = (1..=5).map(|n| n << 50).collect();
        for (second, key) in keys[..4].iter().enumerate() {
            counts.add_at(*key, second as u64);
            counts.add_at(*key, second as u64);
        }
        assert_eq!(counts.add_at(keys[4], 10).events, 1);
        assert_eq!(counts.peek_at(keys[0], 10).events, 0, "the oldest went");
        for key in &keys[1..] {
            assert!(counts.peek_at(*key, 10).events >= 1, "{key}");
        }
    }

    #[test]
    fn counts_stop_at_their_largest_value() {
        let counts = WindowedCounts::new(1, MINUTE);
        for _ in 0..2000 {
            counts.add(42);
        }
        assert_eq!(counts.peek(42).events, MAX_COUNT as u32);
    }
}
