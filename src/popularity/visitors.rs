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

use std::collections::hash_map::{Entry, RandomState};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderName};
use actix_web::HttpRequest;
use chrono::{DateTime, NaiveDate, Utc};

use super::FastMap;

/// Views of one article by one visitor within this window count once.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(30 * 60);

/// At most this many recent (visitor, article) pairs are remembered; past it,
/// the oldest are forgotten first (a repeat may then count again).
const MAX_REMEMBERED: usize = 1_000_000;

pub struct Visitors {
    /// The key and the pairs seen under it, behind one lock: a view takes
    /// it once.
    memory: Mutex<Memory>,
    trusted_proxies: Vec<IpAddr>,
}

struct Memory {
    day: NaiveDate,
    key: RandomState,
    /// When each (visitor, article) pair was last counted.
    seen: FastMap<(u64, i64), Instant>,
}

impl Visitors {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            memory: Mutex::new(Memory {
                day: Utc::now().date_naive(),
                key: RandomState::new(),
                seen: FastMap::default(),
            }),
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
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        let today = now.date_naive();
        if memory.day != today {
            memory.day = today;
            memory.key = RandomState::new();
            // Yesterday's hashes mean nothing under the new key.
            memory.seen.clear();
        }
        let visitor = memory.key.hash_one((address, user_agent));
        let now = Instant::now();
        if memory.seen.len() >= MAX_REMEMBERED {
            make_room(&mut memory.seen, now, MAX_REMEMBERED);
        }
        match memory.seen.entry((visitor, article_id)) {
            Entry::Occupied(seen) if now.duration_since(*seen.get()) < REPEAT_WINDOW => false,
            Entry::Occupied(mut seen) => {
                seen.insert(now);
                true
            }
            Entry::Vacant(unseen) => {
                unseen.insert(now);
                true
            }
        }
    }

    /// Forgets pairs older than the repeat window.
    pub fn prune(&self) {
        let now = Instant::now();
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        memory
            .seen
            .retain(|_, at| now.duration_since(*at) < REPEAT_WINDOW);
    }
}

/// Forgets pairs older than the repeat window and, while more than half of
/// `max` are left, the oldest ones. Forgetting only the expired could free
/// nothing, leaving every later view to scan the whole map under the lock
/// (and the map to grow past `max`); down to half, the next clean-up is
/// `max / 2` new pairs away.
fn make_room(seen: &mut FastMap<(u64, i64), Instant>, now: Instant, max: usize) {
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
    static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
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
                if let Some(ip) = parse_ip(host) {
                    return Some(ip);
                }
            }
        }
    }
    let first = headers
        .get(&X_FORWARDED_FOR)?
        .as_bytes()
        .split(|b| *b == b',')
        .next()?;
    parse_ip(std::str::from_utf8(first).ok()?.trim())
}

/// Parses an address as the family its text shows (`IpAddr`'s own parser
/// tries IPv4 first, even on IPv6 text).
fn parse_ip(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        text.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        text.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    }
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
    fn a_trusted_proxy_names_the_client_and_anyone_else_is_the_client() {
        use actix_web::test::TestRequest;
        let proxy = "10.0.0.1:40000".parse().unwrap();
        let visitors = Visitors::new(vec!["10.0.0.1".parse().unwrap()]);
        let address = |peer, name: &str, value: &str| {
            let req = TestRequest::default().peer_addr(peer);
            let req = if name.is_empty() {
                req
            } else {
                req.insert_header((name, value))
            };
            visitors
                .client_address(&req.to_http_request())
                .map(|ip| ip.to_string())
        };
        let cases = [
            ("x-forwarded-for", "203.0.113.7, 10.0.0.1", "203.0.113.7"),
            ("x-forwarded-for", " 2001:db8::7 ", "2001:db8::7"),
            (
                "forwarded",
                "for=192.0.2.60;proto=http, for=10.0.0.1",
                "192.0.2.60",
            ),
            (
                "forwarded",
                "for=\"[2001:db8:cafe::17]:4711\"",
                "2001:db8:cafe::17",
            ),
            ("forwarded", "for=192.0.2.43:47011", "192.0.2.43"),
            ("x-forwarded-for", "unknown", "10.0.0.1"),
            ("", "", "10.0.0.1"),
        ];
        for (name, value, client) in cases {
            assert_eq!(
                address(proxy, name, value).as_deref(),
                Some(client),
                "{name}: {value}"
            );
        }
        let stranger = "198.51.100.9:5000".parse().unwrap();
        assert_eq!(
            address(stranger, "x-forwarded-for", "203.0.113.7").as_deref(),
            Some("198.51.100.9"),
            "an untrusted peer cannot name another client"
        );
    }

    #[test]
    fn a_full_memory_forgets_the_oldest_down_to_half() {
        let start = Instant::now();
        let mut seen: FastMap<(u64, i64), Instant> = (0..10u64)
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
