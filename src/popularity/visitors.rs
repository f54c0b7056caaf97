//! Who is viewing, without storing who anyone is.
//!
//! A visitor viewing an article is a keyed hash of the client address, user
//! agent and article. The keys are random, live only in this process's memory
//! and are replaced every UTC day, so hashes cannot be linked across days or
//! reversed into addresses; nothing about visitors is ever written to the
//! database. This is the approach of privacy-first analytics tools.
//!
//! Repeat views are recognised per instance: behind a load balancer that
//! spreads one visitor over several instances, a repeat may count once per
//! instance it reaches.
//!
//! The memory of recent views is a fixed table, like a CPU cache: a hash
//! picks a bucket of four slots, and a new pair takes an empty or expired slot
//! or else the oldest. A view costs one bucket, whatever the traffic; nothing
//! grows, and nothing ever has to be swept.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderMap, HeaderName};
use actix_web::HttpRequest;
use chrono::{DateTime, NaiveDate, Utc};

/// Views of one article by one visitor within this window count once.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(30 * 60);

/// The table is split in shards, each behind its own lock, so that workers
/// counting views at once seldom wait for each other.
const SHARDS: usize = 64;
/// Buckets per shard: 64 × 4,096 buckets × 4 slots remember 1,048,576 pairs
/// in 16 MiB, allocated shard by shard as views reach them. Past about half
/// of that within the window, pairs start being forgotten before their time
/// (the oldest in a full bucket first), and a repeat may then count again.
const BUCKETS: usize = 4096;
const WAYS: usize = 4;

pub struct Visitors {
    shards: Box<[Mutex<Shard>]>,
    /// Picks a visitor's shard; the shard's own key makes the hash it keeps.
    pick: foldhash::fast::RandomState,
    /// Slots store seconds since this instant.
    started: Instant,
    trusted_proxies: Vec<IpAddr>,
}

struct Shard {
    day: NaiveDate,
    key: RandomState,
    buckets: Vec<Bucket>,
}

/// Four slots in one cache line.
#[derive(Clone, Copy, Default)]
#[repr(align(64))]
struct Bucket([Slot; WAYS]);

#[derive(Clone, Copy, Default)]
struct Slot {
    /// The keyed hash of (address, user agent, article).
    pair: u64,
    /// When it last counted, in seconds since `started`, plus one; 0: empty.
    at: u32,
}

impl Visitors {
    pub fn new(trusted_proxies: Vec<IpAddr>) -> Self {
        let today = Utc::now().date_naive();
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        day: today,
                        key: RandomState::new(),
                        buckets: Vec::new(),
                    })
                })
                .collect(),
            pick: foldhash::fast::RandomState::default(),
            started: Instant::now(),
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
        forwarded_for(req, &self.trusted_proxies).or(Some(peer))
    }

    /// True when this is the visitor's first view of the article within the
    /// repeat window; later views inside it return false.
    pub fn first_view(
        &self,
        address: Option<IpAddr>,
        user_agent: &[u8],
        article_id: i64,
        now: DateTime<Utc>,
    ) -> bool {
        let visitor = (address, user_agent, article_id);
        let shard = &self.shards[self.pick.hash_one(visitor) as usize % SHARDS];
        let at = u32::try_from(self.started.elapsed().as_secs()).unwrap_or(u32::MAX - 1) + 1;
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let today = now.date_naive();
        if shard.day != today {
            // Yesterday's pairs stay until their slots are reused: nothing
            // hashed under the new key can match them.
            shard.day = today;
            shard.key = RandomState::new();
        }
        let pair = shard.key.hash_one(visitor);
        shard.remember(pair, at)
    }
}

impl Shard {
    /// Records that `pair` counts at `at` unless it counted within the
    /// window; true when it counts.
    fn remember(&mut self, pair: u64, at: u32) -> bool {
        if self.buckets.is_empty() {
            self.buckets = vec![Bucket::default(); BUCKETS];
        }
        let window = REPEAT_WINDOW.as_secs() as u32;
        let live = |slot: &Slot| slot.at != 0 && at.saturating_sub(slot.at) < window;
        let Bucket(slots) = &mut self.buckets[pair as usize % BUCKETS];
        if let Some(slot) = slots
            .iter_mut()
            .find(|slot| slot.pair == pair && slot.at != 0)
        {
            if live(slot) {
                return false;
            }
            slot.at = at;
            return true;
        }
        // An empty or expired slot, else the one that counted longest ago.
        let slot = slots
            .iter_mut()
            .min_by_key(|slot| if live(slot) { slot.at } else { 0 })
            .expect("a bucket has slots");
        *slot = Slot { pair, at };
        true
    }
}

/// The client as the trusted proxies in front of us name it: the entries of
/// `Forwarded` (RFC 7239), or else of `X-Forwarded-For`, read from the right
/// (each proxy appends the address it was sent from) past those naming a
/// trusted proxy. Entries further left are whatever the client sent, so a
/// client cannot pass for another by sending the header itself.
fn forwarded_for(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    let headers = req.headers();
    if headers.contains_key(header::FORWARDED) {
        let elements = from_the_right(headers, &header::FORWARDED);
        return nearest_untrusted(elements.map(forwarded_node), trusted);
    }
    let entries = from_the_right(headers, &X_FORWARDED_FOR);
    nearest_untrusted(
        entries.map(|entry| parse_ip(std::str::from_utf8(entry).ok()?.trim())),
        trusted,
    )
}

/// The comma-separated entries of every `name` header line, the last first.
fn from_the_right<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
    headers
        .get_all(name)
        .rev()
        .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
}

/// The first address, from the nearest proxy on, that is not a trusted
/// proxy; `None` at an entry that names no address, as nothing left of it
/// can be vouched for.
fn nearest_untrusted(
    entries: impl Iterator<Item = Option<IpAddr>>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    for entry in entries {
        match entry {
            Some(ip) if trusted.contains(&ip) => continue,
            other => return other,
        }
    }
    None
}

/// The address in one `Forwarded` element's `for=` (`for=192.0.2.43:47011`,
/// `for="[2001:db8::17]:4711"`); `None` for `unknown`, obfuscated names or
/// no `for` at all.
fn forwarded_node(element: &[u8]) -> Option<IpAddr> {
    let element = std::str::from_utf8(element).ok()?;
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        if !name.eq_ignore_ascii_case("for") {
            return None;
        }
        let value = value.trim_matches('"');
        let host = value
            .strip_prefix('[')
            .and_then(|v| v.split(']').next())
            .unwrap_or_else(|| value.split(':').next().unwrap_or(value));
        parse_ip(host)
    })
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
        assert!(visitors.first_view(me, b"Firefox", 1, Utc::now()));
        assert!(!visitors.first_view(me, b"Firefox", 1, Utc::now()));
        assert!(visitors.first_view(me, b"Firefox", 2, Utc::now()));
        assert!(
            visitors.first_view(me, b"Chrome", 1, Utc::now()),
            "another browser is another visitor"
        );
        assert!(visitors.first_view(
            Some("203.0.113.8".parse().unwrap()),
            b"Firefox",
            1,
            Utc::now()
        ));
    }

    fn shard() -> Shard {
        Shard {
            day: Utc::now().date_naive(),
            key: RandomState::new(),
            buckets: Vec::new(),
        }
    }

    #[test]
    fn a_pair_counts_again_once_its_window_has_passed() {
        let mut shard = shard();
        let window = REPEAT_WINDOW.as_secs() as u32;
        assert!(shard.remember(7, 1));
        assert!(!shard.remember(7, 2));
        assert!(!shard.remember(7, window), "still inside the window");
        assert!(shard.remember(7, window + 1));
        assert!(!shard.remember(7, window + 2), "the window starts again");
    }

    #[test]
    fn a_full_bucket_forgets_the_pair_that_counted_longest_ago() {
        let mut shard = shard();
        // Pairs equal modulo the bucket count share a bucket.
        let pairs: Vec<u64> = (1..=5).map(|n| n * BUCKETS as u64).collect();
        for (n, pair) in pairs.iter().enumerate() {
            assert!(shard.remember(*pair, n as u32 + 1));
        }
        assert!(shard.remember(pairs[0], 10), "the oldest was forgotten");
        for pair in &pairs[2..] {
            assert!(!shard.remember(*pair, 11), "the others are remembered");
        }
        let expired = REPEAT_WINDOW.as_secs() as u32 + 20;
        let newcomer = 6 * BUCKETS as u64;
        assert!(shard.remember(newcomer, expired));
        assert!(!shard.remember(newcomer, expired + 1));
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
            // What the client sent sits left of what the proxy appended.
            (
                "x-forwarded-for",
                "198.51.100.1, 203.0.113.7",
                "203.0.113.7",
            ),
            (
                "x-forwarded-for",
                "198.51.100.1, 203.0.113.7, 10.0.0.1",
                "203.0.113.7",
            ),
            (
                "forwarded",
                "for=198.51.100.1, for=203.0.113.7;proto=https",
                "203.0.113.7",
            ),
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
}
