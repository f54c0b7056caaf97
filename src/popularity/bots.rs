//! Which user agents are bots: the `isbot` crate's maintained patterns, with
//! the verdicts remembered. Browsers send a few thousand distinct `User-Agent`
//! strings a day, so nearly every view is answered from memory instead of
//! running the patterns.
//!
//! The memory is a fixed table of atomic words, each holding a user agent's
//! hash with its verdict in the lowest bit: no lock for workers to queue on,
//! nothing allocated per user agent, nothing ever cleared. A user agent takes
//! the slot its hash picks, replacing whichever was there.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots in the table (128 KiB).
const SLOTS: usize = 1 << 14;

pub struct Bots {
    patterns: isbot::Bots,
    hasher: foldhash::quality::RandomState,
    verdicts: Box<[AtomicU64]>,
}

impl Default for Bots {
    fn default() -> Self {
        Self {
            patterns: isbot::Bots::default(),
            hasher: foldhash::quality::RandomState::default(),
            verdicts: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Bots {
    /// True when the user agent is a known bot or crawler.
    pub fn is_bot(&self, user_agent: &str) -> bool {
        let hash = self.hasher.hash_one(user_agent);
        // Bit 1 set, so that no tag is an empty slot's 0; bit 0 is the verdict.
        let tag = (hash | 0b10) & !0b1;
        let slot = &self.verdicts[(hash >> 32) as usize % SLOTS];
        let remembered = slot.load(Ordering::Relaxed);
        if remembered & !0b1 == tag {
            return remembered & 0b1 == 1;
        }
        let verdict = self.patterns.is_bot(user_agent);
        slot.store(tag | u64::from(verdict), Ordering::Relaxed);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_verdicts_agree_with_the_patterns() {
        let bots = Bots::default();
        let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        for _ in 0..2 {
            assert!(bots.is_bot(googlebot));
            assert!(!bots.is_bot(firefox));
        }
        // Many more user agents than slots: every verdict stays right.
        for n in 0..4 * SLOTS {
            assert!(!bots.is_bot(&format!("{firefox} Build/{n}")));
            assert!(bots.is_bot(&format!("ExampleCrawler/{n} (+https://example.com/bot)")));
        }
        assert!(bots.is_bot(googlebot));
        assert!(!bots.is_bot(firefox));
    }
}

#[cfg(test)]
mod fuzz {
    use std::sync::LazyLock;

    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{config, hostile_text};

    // Compiling the patterns takes long; every case shares them.
    static BOTS: LazyLock<Bots> = LazyLock::new(Bots::default);
    static PATTERNS: LazyLock<isbot::Bots> = LazyLock::new(isbot::Bots::default);

    proptest! {
        #![proptest_config(config(256))]

        /// Any user agent, as any bytes read as the beacon reads them: never
        /// a panic, and the remembered verdict is the patterns' own, asked
        /// once or again.
        #[test]
        fn fuzz_any_user_agent_gets_the_patterns_verdict(
            user_agent in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                hostile_text().prop_map(String::into_bytes),
                (hostile_text(), proptest::sample::select(&["Googlebot/2.1", "bingbot", "Mozilla/5.0", "curl/8", "python-requests"][..]))
                    .prop_map(|(text, agent)| format!("{text}{agent}{text}").into_bytes()),
            ],
        ) {
            let user_agent = String::from_utf8_lossy(&user_agent);
            let verdict = PATTERNS.is_bot(&user_agent);
            prop_assert_eq!(BOTS.is_bot(&user_agent), verdict);
            prop_assert_eq!(BOTS.is_bot(&user_agent), verdict);
        }
    }
}
