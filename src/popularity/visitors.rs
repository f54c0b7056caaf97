//! Who is viewing, without storing who anyone is.
//!
//! A visitor is a keyed hash of the client address and user agent. The key is
//! random, lives only in this process's memory and is replaced every UTC day,
//! so hashes cannot be linked across days or reversed into addresses; nothing
//! about visitors is ever written to the database. This is the approach of
//! privacy-first analytics tools.
//!
//! Repeat views are recognised per instance: behind a load balancer that
//! spreads one visitor over several instances, a repeat may count once per
//! instance it reaches.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::HttpRequest;
use chrono::{DateTime, NaiveDate, Utc};

/// Views of one article by one visitor within this window count once.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(30 * 60);

/// At most this many recent (visitor, article) pairs are remembered; past it,
/// the oldest are forgotten first (a repeat may then count again).
const MAX_REMEMBERED: usize = 1_000_000;

pub struct Visitors {
    key: Mutex<(NaiveDate, RandomState)>,
    seen: Mutex<HashMap<(u64, i64), Instant>>,
    trusted_proxies: Vec<IpAddr>,
}

impl Visitors {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            key: Mutex::new((Utc::now().date_naive(), RandomState::new())),
            seen: Mutex::new(HashMap::new()),
            trusted_proxies,
        }
    }

    /// The client's address: the socket peer, or what a trusted proxy in
    /// front of us says the client was.
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        forwarded_for(req).or(Some(peer))
    }

    /// True when this is the visitor's first view of the article within the
    /// repeat window; later views inside it return false.
    pub fn first_view(
        &self,
        address: Option<IpAddr>,
        user_agent: &str,
        article_id: i64,
        now: DateTime<Utc>,
    ) -> bool {
        let visitor = {
            let mut key = self.key.lock().unwrap_or_else(|e| e.into_inner());
            let today = now.date_naive();
            if key.0 != today {
                *key = (today, RandomState::new());
                // Yesterday's hashes mean nothing under the new key.
                self.seen.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
            key.1.hash_one((address, user_agent))
        };
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_REMEMBERED {
            make_room(&mut seen, now, MAX_REMEMBERED);
        }
        match seen.get(&(visitor, article_id)) {
            Some(at) if now.duration_since(*at) < REPEAT_WINDOW => false,
            _ => {
                seen.insert((visitor, article_id), now);
                true
            }
        }
    }

    /// Forgets pairs older than the repeat window.
    pub fn prune(&self) {
        let now = Instant::now();
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, at| now.duration_since(*at) < REPEAT_WINDOW);
    }
}

/// Forgets pairs older than the repeat window and, while more than half of
/// `max` are left, the oldest ones. Forgetting only the expired could free
/// nothing, leaving every later view to scan the whole map under the lock
/// (and the map to grow past `max`); down to half, the next clean-up is
/// `max / 2` new pairs away.
fn make_room(seen: &mut HashMap<(u64, i64), Instant>, now: Instant, max: usize) {
    seen.retain(|_, at| now.duration_since(*at) < REPEAT_WINDOW);
    let keep = max / 2;
    if seen.len() > keep {
        let mut times: Vec<Instant> = seen.values().copied().collect();
        let oldest_kept = times.len() - keep;
        let (_, cutoff, _) = times.select_nth_unstable(oldest_kept - 1);
        let cutoff = *cutoff;
        seen.retain(|_, at| *at > cutoff);
    }
}

/// The client named by `Forwarded: for=…` (RFC 7239) or else the first
/// address of `X-Forwarded-For`.
fn forwarded_for(req: &HttpRequest) -> Option<IpAddr> {
    let headers = req.headers();
    if let Some(forwarded) = headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()) {
        let first = forwarded.split(',').next().unwrap_or_default();
        for pair in first.split(';') {
            let Some((name, value)) = pair.trim().split_once('=') else {
                continue;
            };
            if name.eq_ignore_ascii_case("for") {
                let value = value.trim_matches('"');
                let host = value
                    .strip_prefix('[')
                    .and_then(|v| v.split(']').next())
                    .unwrap_or_else(|| value.split(':').next().unwrap_or(value));
                if let Ok(ip) = host.parse() {
                    return Some(ip);
                }
            }
        }
    }
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_counts_once_and_other_articles_count() {
        let visitors = Visitors::new(Vec::new());
        let me = Some("203.0.113.7".parse().unwrap());
        assert!(visitors.first_view(me, "Firefox", 1, Utc::now()));
        assert!(!visitors.first_view(me, "Firefox", 1, Utc::now()));
        assert!(visitors.first_view(me, "Firefox", 2, Utc::now()));
        assert!(
            visitors.first_view(me, "Chrome", 1, Utc::now()),
            "another browser is another visitor"
        );
        assert!(visitors.first_view(
            Some("203.0.113.8".parse().unwrap()),
            "Firefox",
            1,
            Utc::now()
        ));
    }

    #[test]
    fn a_full_memory_forgets_the_oldest_down_to_half() {
        let start = Instant::now();
        let mut seen: HashMap<(u64, i64), Instant> = (0..10u64)
            .map(|n| ((n, 1), start + Duration::from_millis(n)))
            .collect();
        make_room(&mut seen, start + Duration::from_secs(1), 10);
        let mut kept: Vec<u64> = seen.keys().map(|(visitor, _)| *visitor).collect();
        kept.sort_unstable();
        assert_eq!(kept, [5, 6, 7, 8, 9]);

        let later = start + REPEAT_WINDOW + Duration::from_millis(7);
        make_room(&mut seen, later, 10);
        assert_eq!(seen.len(), 2, "expired pairs go first");
    }
}
