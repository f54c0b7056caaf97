//! Failed authentications, throttled per client address: every request
//! carrying a key costs a lookup in the database, so an address that keeps
//! presenting bad keys is refused with 429 before its key is even read,
//! until its window has passed. The client address is found as the beacon
//! finds it (`crate::client`), so behind trusted proxies a client cannot
//! escape by writing a forwarded header of its own. The failures are counted
//! in a fixed table (`crate::tally`): memory stays bounded whoever sends.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;

use crate::client::{host_network, ClientAddresses};
use crate::error::AppError;
use crate::tally::WindowedCounts;

/// Failures are counted over this window, from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// 4,096 buckets × 4 addresses in 128 KiB.
const BUCKETS: usize = 1 << 12;

pub struct AuthThrottle {
    clients: ClientAddresses,
    failures: WindowedCounts,
    max_failures: u32,
    /// Refusals are logged at most once a second, with how many there were.
    started: Instant,
    logged_at: AtomicU64,
    unlogged: AtomicU64,
}

/// The client network a request came from, to charge a failure to.
#[derive(Debug, Clone, Copy)]
pub struct Client(Option<IpAddr>);

impl AuthThrottle {
    pub fn new(trusted_proxies: Vec<IpAddr>, max_failures: u32) -> Self {
        Self {
            clients: ClientAddresses::new(trusted_proxies),
            failures: WindowedCounts::new(BUCKETS, WINDOW),
            max_failures,
            started: Instant::now(),
            logged_at: AtomicU64::new(0),
            unlogged: AtomicU64::new(0),
        }
    }

    /// The request's client, unless it has failed to authenticate too often
    /// within the window: then a 429 naming when it may try again.
    pub fn admit(&self, req: &HttpRequest) -> Result<Client, AppError> {
        let client = Client(self.clients.of(req).map(host_network));
        let count = self.failures.peek(client.0);
        if count.events < self.max_failures {
            return Ok(client);
        }
        self.log_refusal(client);
        Err(AppError::TooManyRequests {
            retry_after: count.resets_in,
        })
    }

    /// Counts a failed authentication against the client.
    pub fn failed(&self, client: Client) {
        self.failures.add(client.0);
    }

    fn log_refusal(&self, Client(address): Client) {
        self.unlogged.fetch_add(1, Ordering::Relaxed);
        let second = self.started.elapsed().as_secs() + 1;
        let last = self.logged_at.load(Ordering::Relaxed);
        if last != second
            && self
                .logged_at
                .compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let refused = self.unlogged.swap(0, Ordering::Relaxed);
            let address = address.map_or_else(|| "an unknown address".into(), |a| a.to_string());
            log::warn!(
                "refused {refused} request(s) with a key from addresses over {} failed \
                 authentications a minute since the last such line; the latest from {address}",
                self.max_failures
            );
        }
    }
}
