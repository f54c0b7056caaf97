//! Which user agents are bots: the `isbot` crate's maintained patterns, with
//! the verdicts remembered. Browsers send a few thousand distinct `User-Agent`
//! strings a day, so nearly every view is answered from memory instead of
//! running the patterns (one regex of some 350 alternatives over a lowercased
//! copy). The memory is bounded: full, it starts again empty.

use std::sync::RwLock;

use super::FastMap;

/// More distinct user agents than this and the remembered verdicts are dropped.
const MAX_REMEMBERED: usize = 10_000;
/// Longer user agents are judged every time, never remembered (bounding the
/// memory at about 5 MB).
const MAX_REMEMBERED_LENGTH: usize = 512;

#[derive(Default)]
pub struct Bots {
    patterns: isbot::Bots,
    verdicts: RwLock<FastMap<Box<str>, bool>>,
}

impl Bots {
    /// True when the user agent is a known bot or crawler.
    pub fn is_bot(&self, user_agent: &str) -> bool {
        let known = self
            .verdicts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(user_agent)
            .copied();
        if let Some(verdict) = known {
            return verdict;
        }
        let verdict = self.patterns.is_bot(user_agent);
        if user_agent.len() > MAX_REMEMBERED_LENGTH {
            return verdict;
        }
        let mut verdicts = self.verdicts.write().unwrap_or_else(|e| e.into_inner());
        if verdicts.len() >= MAX_REMEMBERED {
            verdicts.clear();
        }
        verdicts.insert(user_agent.into(), verdict);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_verdicts_agree_with_the_patterns_and_memory_stays_bounded() {
        let bots = Bots::default();
        let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        for _ in 0..2 {
            assert!(bots.is_bot(googlebot));
            assert!(!bots.is_bot(firefox));
        }
        for n in 0..MAX_REMEMBERED + 5 {
            assert!(!bots.is_bot(&format!("{firefox} Build/{n}")));
        }
        assert!(bots.verdicts.read().unwrap().len() <= MAX_REMEMBERED);
        assert!(bots.is_bot(googlebot));
    }
}
