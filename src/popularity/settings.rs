//! The popularity engine's settings: a leaf, so that `config` can build them
//! without depending on the engine itself.

use std::net::IpAddr;
use std::time::Duration;

/// How often pending views are written, and rankings recomputed.
#[derive(Debug, Clone)]
pub struct PopularitySettings {
    pub flush_interval: Duration,
    pub snapshot_interval: Duration,
    /// Pending (article, hour) counts kept while the database is away.
    pub max_pending: usize,
    /// Proxies whose `Forwarded`/`X-Forwarded-For` name the real client.
    pub trusted_proxies: Vec<IpAddr>,
    /// How often old hourly buckets are rolled into days (first at start);
    /// `None` leaves it to another instance or to an explicit call.
    pub roll_up_interval: Option<Duration>,
    /// New visitors one client address may bring to one article per repeat
    /// window (30 minutes); beyond, its views count nothing.
    pub max_visitors_per_address: u32,
}

impl Default for PopularitySettings {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(1),
            snapshot_interval: Duration::from_secs(10),
            max_pending: 100_000,
            trusted_proxies: Vec::new(),
            roll_up_interval: Some(Duration::from_secs(3600)),
            max_visitors_per_address: 8,
        }
    }
}
