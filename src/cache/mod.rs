//! The response cache: public representations held in memory, shared by
//! every worker, each answer as it went on the wire (body, `ETag`,
//! `Cache-Control`, `Surrogate-Key`, …), so that a hot read costs what the
//! HTTP layer costs.
//!
//! Nothing here expires by time. An entry is dropped when what it shows
//! changes: the change log (`changes`) names every resource a committed
//! write touched, `sync` reads it (woken by `NOTIFY`, and every second in any
//! case) and purges by the same keys a CDN would (`Surrogate-Key`). What
//! aggregates many resources (a list page, search, a feed, the tags) also
//! carries the key `*`, purged by every change. Scheduled posts need no
//! event to appear: an entry stored before the next scheduled publication
//! stops being served at that instant.
//!
//! An entry stored from a read that began before a purge is never served:
//! each read notes the purge epoch when it starts, and an entry is valid only
//! while none of its keys has been purged at a later epoch. So a read racing
//! a write cannot leave the old representation behind.
//!
//! Served only while the log is being followed (`sync` succeeded within the
//! trust window); otherwise reads go to the database, and fall back to what
//! is held only when the database fails (`stale-if-error`).

pub mod layer;
pub mod sync;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::Bytes;
use chrono::{DateTime, Utc};

use crate::compression::Coding;

/// An instance's response cache and what keeps it current.
#[derive(Clone)]
pub struct Cache {
    pub store: Arc<ResponseCache>,
    pub follower: Arc<sync::Follower>,
}

impl Cache {
    /// The cache `config` asks for, following the log of its database;
    /// `None` when it is turned off.
    pub fn start(config: &crate::config::Config) -> Result<Option<Self>, crate::db::SetupError> {
        if config.cache_bytes == 0 {
            return Ok(None);
        }
        let every = config.cache_sync_interval;
        // Twice the interval: one late read of the log (a busy machine) does
        // not stop the cache, two missed in a row do.
        let store = Arc::new(ResponseCache::new(config.cache_bytes, every * 2));
        let target = crate::db::Target::parse(&config.database_url)?;
        let follower = sync::Follower::start(store.clone(), target, every);
        Ok(Some(Self { store, follower }))
    }

    /// Reads the change log to its end: see `Follower::catch_up`.
    pub async fn catch_up(&self) {
        self.follower.catch_up().await;
    }
}

/// The key every aggregate carries: any change may alter a list.
pub const ANY_CHANGE: &str = "*";

/// A purge key's state: the epoch at which it was last purged.
#[derive(Debug)]
struct KeyState(AtomicU64);

/// One stored answer, as the handler made it.
#[derive(Debug)]
pub struct Entry {
    pub body: Bytes,
    /// Every header of the answer, `Content-Type` included.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub etag: Option<HeaderValue>,
    /// `Last-Modified` in seconds since the epoch.
    pub last_modified: Option<i64>,
    /// Whether the edge would send the body in a content coding.
    pub compressible: bool,
    /// The body in each content coding (`Coding::index`), made the first
    /// time a client asks for it: compressing a held answer on every hit
    /// would cost more than the rest of the hit together.
    encoded: [OnceLock<Encoded>; Coding::COUNT],
    /// The purge epoch when the read began.
    epoch: u64,
    /// When the read began, in microseconds since the Unix epoch.
    read_at: i64,
    keys: Vec<Arc<KeyState>>,
}

/// A held answer's body in one content coding.
#[derive(Debug)]
pub struct Encoded {
    pub body: Bytes,
    /// The answer's strong tag with the coding's suffix, as the edge sends it.
    pub etag: Option<HeaderValue>,
}

/// What a lookup found.
pub enum Lookup {
    /// Current: serve it.
    Fresh(Arc<Entry>),
    /// Held, but not known to be current: serve it only if the database fails.
    Stale(Arc<Entry>),
    Missing,
}

/// A read in progress: what it started from, for storing its answer.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    epoch: u64,
    read_at: i64,
    /// The change-log position purged up to when the read began.
    purged_to: i64,
    /// Whether the answer came from a replica that had not replayed that far.
    behind: bool,
}

impl Ticket {
    /// The same read, answered by a database that had replayed the change
    /// log up to `replayed` (`None`: the primary, which has it all). An
    /// answer from behind what the cache purged may be sent, never kept: it
    /// may show what a purge already removed, and no later purge would.
    pub fn answered_at(self, replayed: Option<i64>) -> Self {
        Self {
            behind: replayed.is_some_and(|replayed| replayed < self.purged_to),
            ..self
        }
    }
}

pub struct ResponseCache {
    entries: moka::sync::Cache<Arc<str>, Arc<Entry>>,
    /// The purge keys of stored entries; an entry holds its keys alive.
    keys: Mutex<HashMap<Box<str>, Weak<KeyState>>>,
    /// How many keys `keys` held after its last sweep of dead ones.
    swept: AtomicU64,
    /// Bumped by every purge; 0 until the log is first followed.
    epoch: AtomicU64,
    /// The change-log position whose changes are purged, set before their purge.
    purged_to: AtomicI64,
    /// Entries from reads begun before this epoch are invalid (a purge of everything).
    floor: AtomicU64,
    /// The next scheduled publication, in microseconds since the Unix epoch
    /// (`i64::MAX` when none).
    next_publication: AtomicI64,
    /// When the log was last read to its end, in milliseconds since `started`.
    synced_at: AtomicU64,
    started: Instant,
    /// How long after a successful read of the log entries are trusted.
    trust: Duration,
    largest_entry: u64,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("entries", &self.entries.entry_count())
            .field("epoch", &self.epoch.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ResponseCache {
    /// A cache of at most `bytes` of answers, trusted for `trust` after each
    /// successful read of the change log.
    pub fn new(bytes: u64, trust: Duration) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(bytes)
                .weigher(|key: &Arc<str>, entry: &Arc<Entry>| {
                    u32::try_from(key.len() + entry.weight()).unwrap_or(u32::MAX)
                })
                .build(),
            keys: Mutex::new(HashMap::new()),
            swept: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            purged_to: AtomicI64::new(0),
            floor: AtomicU64::new(1),
            next_publication: AtomicI64::new(i64::MAX),
            synced_at: AtomicU64::new(0),
            started: Instant::now(),
            trust,
            // One answer may take a sixteenth of the cache at most, so that
            // one huge page cannot flush the hot set.
            largest_entry: (bytes / 16).min(8 << 20),
        }
    }

    /// Starts a read: call before the database is asked.
    pub fn ticket(&self) -> Ticket {
        // The epoch first: a purge it has seen was preceded by the position
        // of what it purged, which the second load then sees too.
        let epoch = self.epoch.load(Ordering::Acquire);
        Ticket {
            epoch,
            read_at: Utc::now().timestamp_micros(),
            purged_to: self.purged_to.load(Ordering::Acquire),
            behind: false,
        }
    }

    /// Notes that the changes up to `position` are being purged: called
    /// before their purge, so that a ticket that sees the purge sees the position.
    pub fn purging_to(&self, position: i64) {
        self.purged_to.store(position, Ordering::Release);
    }

    /// The change-log position purged up to: the primary's head as the
    /// follower last read it.
    pub fn purged_to(&self) -> i64 {
        self.purged_to.load(Ordering::Acquire)
    }

    pub fn lookup(&self, key: &str) -> Lookup {
        let Some(entry) = self.entries.get(key) else {
            return Lookup::Missing;
        };
        if self.trusted() && self.valid(&entry, Utc::now().timestamp_micros()) {
            Lookup::Fresh(entry)
        } else {
            Lookup::Stale(entry)
        }
    }

    fn valid(&self, entry: &Entry, now: i64) -> bool {
        let next = self.next_publication.load(Ordering::Acquire);
        entry.epoch >= self.floor.load(Ordering::Acquire)
            && !(entry.read_at < next && next <= now)
            && entry
                .keys
                .iter()
                .all(|key| key.0.load(Ordering::Acquire) <= entry.epoch)
    }

    /// Whether the change log has been read to its end recently enough for
    /// held entries to be served without asking the database.
    pub fn trusted(&self) -> bool {
        let synced = self.synced_at.load(Ordering::Acquire);
        synced > 0
            && self.started.elapsed().as_millis() <= u128::from(synced) + self.trust.as_millis()
    }

    /// Stores an answer read under `ticket`, purged by `keys` (a
    /// `Surrogate-Key` value's words); `false` with it when it cannot be
    /// kept (too big, or something it shows was purged while it was read).
    pub fn store(
        &self,
        key: &str,
        ticket: Ticket,
        keys: &str,
        mut entry: Entry,
    ) -> (Arc<Entry>, bool) {
        if ticket.behind || entry.weight() as u64 > self.largest_entry {
            return (Arc::new(entry), false);
        }
        entry.epoch = ticket.epoch;
        entry.read_at = ticket.read_at;
        entry.keys = self.states(keys.split(' ').filter(|key| !key.is_empty()));
        let entry = Arc::new(entry);
        if !self.valid(&entry, Utc::now().timestamp_micros()) {
            return (entry, false);
        }
        self.entries.insert(key.into(), entry.clone());
        (entry, true)
    }

    /// The states of these keys, made where missing.
    fn states<'a>(&self, keys: impl Iterator<Item = &'a str>) -> Vec<Arc<KeyState>> {
        let mut map = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let states = keys
            .map(|key| {
                if let Some(state) = map.get(key).and_then(Weak::upgrade) {
                    return state;
                }
                // A key nothing held may have been purged unseen since the
                // read began: it counts as purged now.
                let state = Arc::new(KeyState(AtomicU64::new(self.epoch.load(Ordering::Acquire))));
                map.insert(key.into(), Arc::downgrade(&state));
                state
            })
            .collect();
        // Keys of evicted entries die with them; sweep when the map doubles.
        let len = map.len() as u64;
        if len > 2 * self.swept.load(Ordering::Relaxed).max(1024) {
            map.retain(|_, state| state.strong_count() > 0);
            self.swept.store(map.len() as u64, Ordering::Relaxed);
        }
        states
    }

    /// Drops every entry showing any of these keys.
    pub fn purge<'a>(&self, keys: impl IntoIterator<Item = &'a str>) {
        let map = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        for key in keys {
            if let Some(state) = map.get(key).and_then(Weak::upgrade) {
                state.0.store(epoch, Ordering::Release);
            }
        }
    }

    /// Weighs `entry`, held under `key`, again after it gained an encoded
    /// form, so that the forms count against the cache's size; unless
    /// another answer has taken its place meanwhile.
    pub fn reweigh(&self, key: &str, entry: &Arc<Entry>) {
        use moka::ops::compute::Op;
        self.entries
            .entry(Arc::from(key))
            .and_compute_with(|held| match held {
                Some(held) if Arc::ptr_eq(held.value(), entry) => Op::Put(entry.clone()),
                _ => Op::Nop,
            });
    }

    /// Drops every entry: what happened while nobody was watching is unknown.
    pub fn purge_all(&self) {
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.floor.store(epoch, Ordering::Release);
        self.entries.invalidate_all();
    }

    /// Notes that the log has been read to its end, and when the next
    /// scheduled post is due.
    pub fn synced(&self, next_publication: Option<DateTime<Utc>>) {
        self.next_publication.store(
            next_publication.map_or(i64::MAX, |at| at.timestamp_micros()),
            Ordering::Release,
        );
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.synced_at.store(elapsed.max(1), Ordering::Release);
    }
}

impl Entry {
    pub fn new(
        body: Bytes,
        headers: Vec<(HeaderName, HeaderValue)>,
        etag: Option<HeaderValue>,
        last_modified: Option<i64>,
    ) -> Self {
        let header = |wanted: HeaderName| {
            headers
                .iter()
                .find(|(name, _)| *name == wanted)
                .map(|(_, value)| value)
        };
        let compressible = crate::compression::worth_encoding(
            header(actix_web::http::header::CONTENT_TYPE),
            header(actix_web::http::header::CONTENT_ENCODING),
            body.len() as u64,
        );
        Self {
            body,
            headers,
            etag,
            last_modified,
            compressible,
            encoded: Default::default(),
            epoch: 0,
            read_at: 0,
            keys: Vec::new(),
        }
    }

    /// The body in `coding`, if it has been made.
    pub fn encoded(&self, coding: Coding) -> Option<&Encoded> {
        self.encoded[coding.index()].get()
    }

    /// The body in `coding`, made now if it was not (once: a concurrent
    /// maker's form is kept and this one dropped). `None` when it cannot
    /// be made.
    pub async fn encode(&self, coding: Coding) -> Option<&Encoded> {
        if let Some(encoded) = self.encoded(coding) {
            return Some(encoded);
        }
        let body = crate::compression::encode(coding, self.body.clone())
            .await
            .ok()?;
        let etag = self
            .etag
            .as_ref()
            .and_then(|etag| crate::compression::suffixed(etag, coding));
        Some(self.encoded[coding.index()].get_or_init(|| Encoded { body, etag }))
    }

    /// Bytes held, roughly: the body in each form, the headers, and the bookkeeping.
    fn weight(&self) -> usize {
        const OVERHEAD: usize = 256;
        self.body.len()
            + self
                .encoded
                .iter()
                .filter_map(OnceLock::get)
                .map(|encoded| encoded.body.len() + 64)
                .sum::<usize>()
            + self
                .headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len() + 32)
                .sum::<usize>()
            + self.keys.len() * 16
            + OVERHEAD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &'static str) -> Entry {
        Entry::new(Bytes::from_static(body.as_bytes()), Vec::new(), None, None)
    }

    fn cache() -> ResponseCache {
        let cache = ResponseCache::new(1 << 20, Duration::from_secs(60));
        cache.purge_all();
        cache.synced(None);
        cache
    }

    fn fresh(cache: &ResponseCache, key: &str) -> Option<String> {
        match cache.lookup(key) {
            Lookup::Fresh(entry) => Some(String::from_utf8_lossy(&entry.body).into_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_purge_drops_exactly_the_entries_that_show_its_key() {
        let cache = cache();
        cache.store("/a", cache.ticket(), "article-1 outlet-2", entry("a"));
        cache.store("/b", cache.ticket(), "article-2 outlet-2", entry("b"));
        cache.store("/list", cache.ticket(), "articles * article-1", entry("l"));
        cache.purge(["article-2"]);
        assert_eq!(fresh(&cache, "/a").as_deref(), Some("a"));
        assert!(fresh(&cache, "/b").is_none());
        assert_eq!(fresh(&cache, "/list").as_deref(), Some("l"));
        cache.purge([ANY_CHANGE]);
        assert!(fresh(&cache, "/list").is_none());
        assert_eq!(fresh(&cache, "/a").as_deref(), Some("a"));
        cache.purge(["outlet-2"]);
        assert!(fresh(&cache, "/a").is_none());
    }

    #[test]
    fn a_read_that_began_before_a_purge_is_not_kept() {
        let cache = cache();
        let ticket = cache.ticket();
        // The write commits and is purged while the read is under way.
        cache.store("/other", cache.ticket(), "article-1", entry("o"));
        cache.purge(["article-1"]);
        assert!(!cache.store("/a", ticket, "article-1", entry("old")).1);
        assert!(fresh(&cache, "/a").is_none());
        // A read begun after the purge is kept.
        assert!(
            cache
                .store("/a", cache.ticket(), "article-1", entry("new"))
                .1
        );
        assert_eq!(fresh(&cache, "/a").as_deref(), Some("new"));
    }

    #[test]
    fn a_replicas_answer_is_kept_only_if_it_had_replayed_what_was_purged() {
        let cache = cache();
        cache.purging_to(41);
        cache.purge(["article-1"]);
        let ticket = cache.ticket();
        let behind = ticket.answered_at(Some(40));
        assert!(!cache.store("/a", behind, "article-1", entry("old")).1);
        assert!(fresh(&cache, "/a").is_none());
        for replayed in [Some(41), Some(42), None] {
            let answered = ticket.answered_at(replayed);
            assert!(cache.store("/a", answered, "article-1", entry("a")).1);
        }
        assert_eq!(fresh(&cache, "/a").as_deref(), Some("a"));
    }

    #[test]
    fn nothing_is_kept_before_the_log_is_followed_or_served_once_it_is_not() {
        let cache = ResponseCache::new(1 << 20, Duration::from_millis(50));
        assert!(!cache.store("/a", cache.ticket(), "k", entry("a")).1);
        cache.purge_all();
        cache.synced(None);
        cache.store("/a", cache.ticket(), "k", entry("a"));
        assert_eq!(fresh(&cache, "/a").as_deref(), Some("a"));
        std::thread::sleep(Duration::from_millis(80));
        assert!(matches!(cache.lookup("/a"), Lookup::Stale(_)));
    }

    #[test]
    fn an_entry_stops_at_the_next_scheduled_publication() {
        let cache = cache();
        cache.store("/list", cache.ticket(), "articles *", entry("l"));
        cache.synced(Some(Utc::now() + chrono::Duration::seconds(60)));
        assert!(fresh(&cache, "/list").is_some());
        std::thread::sleep(Duration::from_millis(5));
        cache.synced(Some(Utc::now() - chrono::Duration::milliseconds(2)));
        assert!(fresh(&cache, "/list").is_none());
        // Read after the publication: current.
        cache.store("/list", cache.ticket(), "articles *", entry("l2"));
        assert_eq!(fresh(&cache, "/list").as_deref(), Some("l2"));
    }

    #[test]
    fn an_answer_too_big_for_its_share_is_not_kept() {
        let cache = cache();
        let big = Bytes::from(vec![b'x'; 100_000]);
        let (_, stored) = cache.store(
            "/big",
            cache.ticket(),
            "k",
            Entry::new(big, Vec::new(), None, None),
        );
        assert!(!stored);
    }
}
