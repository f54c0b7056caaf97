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
//!
//! A new user agent is a new visitor, and a client can send a new one with
//! every request: so one client address (an IPv6 client's /64) brings at most
//! `max_per_address` visitors to an article per repeat window, counted in a
//! second fixed table (`crate::tally`), and one machine cannot move a
//! ranking. Repeats never reach that table.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use chrono::{DateTime, NaiveDate, Utc};

use crate::client::{host_network, ClientAddresses};
use crate::tally::WindowedCounts;

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
    clients: ClientAddresses,
    /// New visitors per (client network, article) in the current window.
    per_address: WindowedCounts,
    max_per_address: u32,
}

/// Buckets of the table counting new visitors per address and article:
/// 65,536 × 4 keys in 2 MiB.
const ADDRESS_BUCKETS: usize = 1 << 16;

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
    pub fn new(trusted_proxies: Vec<IpAddr>, max_per_address: u32) -> Self {
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
            clients: ClientAddresses::new(trusted_proxies),
            per_address: WindowedCounts::new(ADDRESS_BUCKETS, REPEAT_WINDOW),
            max_per_address,
        }
    }

    /// The client's address (see `crate::client`).
    pub fn client_address(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.clients.of(req)
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

    /// True while the client at `address` has brought fewer than the
    /// per-address cap of new visitors to the article in the current
    /// window; counts this one. Asked only of a first view that would count.
    pub fn admit(&self, address: Option<IpAddr>, article_id: i64) -> bool {
        let network = address.map(host_network);
        self.per_address.add((network, article_id)).events <= self.max_per_address
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_counts_once_and_other_articles_count() {
        let visitors = Visitors::new(Vec::new(), 8);
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

    #[test]
    fn one_address_brings_at_most_its_cap_of_visitors_to_an_article() {
        let visitors = Visitors::new(Vec::new(), 3);
        let me = Some("2001:db8::1".parse().unwrap());
        let admitted = (0..10).filter(|_| visitors.admit(me, 1)).count();
        assert_eq!(admitted, 3);
        let same_64 = Some("2001:db8::ffff:2".parse().unwrap());
        assert!(
            !visitors.admit(same_64, 1),
            "the rest of its /64 is the same host"
        );
        assert!(visitors.admit(me, 2), "another article");
        assert!(visitors.admit(Some("2001:db8:0:1::1".parse().unwrap()), 1));
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
}

#[cfg(test)]
mod fuzz {
    use std::net::SocketAddr;

    use actix_web::http::header::{self, HeaderValue};
    use actix_web::test::TestRequest;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{config, hostile_text};

    /// What `Forwarded` and `X-Forwarded-For` lines hold, well formed or not.
    fn forwarded() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(
                proptest::sample::select(
                    &[
                        "for=",
                        "For=",
                        "\"",
                        "[",
                        "]",
                        ":80",
                        "2001:db8::1",
                        "::ffff:192.0.2.1",
                        "192.0.2.1",
                        "203.0.113.7",
                        "unknown",
                        "_hidden",
                        ";",
                        ",",
                        " ",
                        "by=",
                        "proto=https",
                        "=",
                        "%",
                        "\t",
                    ][..]
                ),
                0..12
            )
            .prop_map(|pieces| pieces.concat().into_bytes()),
            hostile_text().prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..64),
        ]
    }

    proptest! {
        #![proptest_config(config(128))]

        /// Any user agent (any bytes), address and article make a visitor:
        /// the first view counts, a repeat does not, and the per-address
        /// cap admits exactly its number.
        #[test]
        fn fuzz_any_user_agent_makes_a_visitor(
            user_agent in proptest::collection::vec(any::<u8>(), 0..512),
            address in proptest::option::of(any::<IpAddr>()),
            article in any::<i64>(),
            cap in 0u32..10,
        ) {
            let visitors = Visitors::new(Vec::new(), cap);
            let now = Utc::now();
            prop_assert!(visitors.first_view(address, &user_agent, article, now));
            prop_assert!(!visitors.first_view(address, &user_agent, article, now));
            let admitted = (0..cap + 2).filter(|_| visitors.admit(address, article)).count();
            prop_assert_eq!(admitted, cap as usize);
        }

        /// Whatever `Forwarded` and `X-Forwarded-For` say: never a panic,
        /// always an address, and the peer's own unless it is a trusted
        /// proxy.
        #[test]
        fn fuzz_forwarding_headers_name_a_client_only_through_a_trusted_proxy(
            peer in any::<IpAddr>(),
            trusted in any::<bool>(),
            forwarded in proptest::option::of(forwarded()),
            forwarded_for in proptest::option::of(forwarded()),
        ) {
            let visitors = Visitors::new(if trusted { vec![peer] } else { Vec::new() }, 8);
            let mut request = TestRequest::default().peer_addr(SocketAddr::new(peer, 443));
            if let Some(value) = forwarded.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                request = request.insert_header((header::FORWARDED, value));
            }
            if let Some(value) = forwarded_for.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
                request = request.insert_header(("x-forwarded-for", value));
            }
            let address = visitors.client_address(&request.to_http_request());
            prop_assert!(address.is_some());
            if !trusted {
                prop_assert_eq!(address, Some(peer));
            }
        }
    }
}
