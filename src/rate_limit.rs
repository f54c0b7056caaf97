//! Request budgets per client address: one for reads (GET, HEAD), one for
//! the view beacon (`POST /v1/articles/{slug}/views`), one for everything
//! else (writes). Each is a GCRA bucket from `governor`: a burst of the
//! budget, refilled evenly over a minute. A client over a budget gets a 429
//! problem with `Retry-After`; every limited response says where the client
//! stands in the headers of the IETF draft (draft-ietf-httpapi-ratelimit-
//! headers): `RateLimit-Policy: "reads";q=1200;w=60` and
//! `RateLimit: "reads";r=1199;t=1`, `r` the requests left, `t` the seconds
//! until the budget is whole again.
//!
//! The client is found as the beacon and the authentication throttle find
//! it (`crate::client`), IPv6 by /64, so that no client can pass for
//! another by writing a forwarded header. The probes (`/healthz`,
//! `/readyz`) are never limited: an orchestrator polls them from one address.
//!
//! Memory: governor keeps one small entry (address and a 64-bit time) per
//! client address in a sharded map, and entries are dropped once their
//! bucket is full again, by a task every `SWEEP_INTERVAL` (`start`). So the
//! map holds the addresses seen within about a minute and a half: a client
//! needs a real TCP connection per address (or a /64 per IPv6 entry), and a
//! million such entries cost some tens of megabytes, not an unbounded heap.
//!
//! Cost on the hot path: one hash-map lookup and one compare-and-swap per
//! request, and one small header value formatted on the stack.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::ResponseError;
use futures_util::future::{ready, Either};
use governor::clock::DefaultClock;
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

use crate::client::{host_network, ClientAddresses};
use crate::config::RateLimits;
use crate::error::AppError;

/// How often entries whose bucket is full again are dropped.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

type Limiter = governor::RateLimiter<
    IpAddr,
    DashMapStateStore<IpAddr, foldhash::fast::RandomState>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// One budget: its name in the headers, its size and its buckets.
struct Budget {
    name: &'static str,
    /// What the 429's detail calls these requests.
    what: &'static str,
    per_minute: u32,
    limiter: Limiter,
    /// `"reads";q=1200;w=60`, the same on every response.
    policy: HeaderValue,
}

impl Budget {
    fn new(name: &'static str, what: &'static str, per_minute: u32) -> Option<Self> {
        let burst = NonZeroU32::new(per_minute)?;
        let limiter = governor::RateLimiter::dashmap_with_hasher(
            Quota::per_minute(burst),
            foldhash::fast::RandomState::default(),
        )
        .with_middleware::<StateInformationMiddleware>();
        let policy = HeaderValue::from_str(&format!("\"{name}\";q={per_minute};w=60")).ok()?;
        Some(Self {
            name,
            what,
            per_minute,
            limiter,
            policy,
        })
    }

    /// Charges one request to `client`.
    fn charge(&self, client: IpAddr) -> Result<Standing, Refusal> {
        match self.limiter.check_key(&client) {
            Ok(snapshot) => {
                let quota = snapshot.quota();
                let left = snapshot.remaining_burst_capacity();
                let used = quota.burst_size().get().saturating_sub(left);
                Ok(Standing {
                    remaining: left,
                    whole_in: ceil_secs(quota.replenish_interval() * used),
                })
            }
            Err(not_until) => {
                let quota = not_until.quota();
                let wait = not_until.wait_time_from(Instant::now());
                let tolerance =
                    quota.replenish_interval() * quota.burst_size().get().saturating_sub(1);
                Err(Refusal {
                    retry_after: ceil_secs(wait).max(1),
                    whole_in: ceil_secs(wait + tolerance).max(1),
                })
            }
        }
    }

    /// `"reads";r=17;t=3`, formatted on the stack.
    fn standing(&self, remaining: u32, whole_in: u32) -> Option<HeaderValue> {
        let mut buffer = [0u8; 64];
        let mut cursor = &mut buffer[..];
        write!(cursor, "\"{}\";r={remaining};t={whole_in}", self.name).ok()?;
        let written = 64 - cursor.len();
        HeaderValue::from_bytes(&buffer[..written]).ok()
    }
}

struct Standing {
    remaining: u32,
    whole_in: u32,
}

struct Refusal {
    retry_after: u32,
    whole_in: u32,
}

fn ceil_secs(duration: Duration) -> u32 {
    let secs = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// The three budgets and who the client is.
pub struct RateLimiter {
    clients: ClientAddresses,
    reads: Option<Budget>,
    beacons: Option<Budget>,
    writes: Option<Budget>,
}

/// What `admit` decided for one request.
enum Verdict<'a> {
    /// Not limited: a probe, or a budget turned off.
    Free,
    /// Within its budget; these headers go on the response.
    Admitted {
        policy: HeaderValue,
        standing: Option<HeaderValue>,
    },
    /// Over its budget: this 429 is the answer.
    Refused(&'a Budget, Refusal),
}

impl RateLimiter {
    pub fn new(limits: RateLimits, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            clients: ClientAddresses::new(trusted_proxies),
            reads: Budget::new("reads", "reads", limits.reads),
            beacons: Budget::new("beacons", "view beacons", limits.beacons),
            writes: Budget::new("writes", "writes", limits.writes),
        }
    }

    /// Drops, every `SWEEP_INTERVAL`, the entries of clients whose budget
    /// is whole again; ends when the limiter is dropped.
    pub fn start(self: &Arc<Self>) {
        let limiter: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(limiter) = limiter.upgrade() else {
                    return;
                };
                limiter.sweep();
            }
        });
    }

    fn sweep(&self) {
        for budget in [&self.reads, &self.beacons, &self.writes]
            .into_iter()
            .flatten()
        {
            budget.limiter.retain_recent();
            budget.limiter.shrink_to_fit();
        }
    }

    /// Which budget a request is charged to, if any.
    fn budget_of(&self, method: &Method, path: &str) -> Option<&Budget> {
        if method == Method::GET || method == Method::HEAD {
            if path == "/healthz" || path == "/readyz" {
                return None;
            }
            self.reads.as_ref()
        } else if method == Method::POST && is_beacon(path) {
            self.beacons.as_ref()
        } else {
            self.writes.as_ref()
        }
    }

    /// Charges the request to its client's budget.
    fn admit(&self, req: &ServiceRequest) -> Verdict<'_> {
        let Some(budget) = self.budget_of(req.method(), req.path()) else {
            return Verdict::Free;
        };
        // Without a peer address (not over TCP) every such request shares
        // one bucket, which is still a limit.
        let client = self
            .clients
            .of(req.request())
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), host_network);
        match budget.charge(client) {
            Ok(standing) => Verdict::Admitted {
                policy: budget.policy.clone(),
                standing: budget.standing(standing.remaining, standing.whole_in),
            },
            Err(refusal) => Verdict::Refused(budget, refusal),
        }
    }
}

/// `/v1/articles/{slug}/views`, `{slug}` any one segment.
pub fn is_beacon(path: &str) -> bool {
    path.strip_prefix("/v1/articles/")
        .and_then(|rest| rest.strip_suffix("/views"))
        .is_some_and(|slug| !slug.is_empty() && !slug.contains('/'))
}

fn stamp(headers: &mut HeaderMap, policy: HeaderValue, standing: Option<HeaderValue>) {
    headers.insert(RATELIMIT_POLICY.clone(), policy);
    if let Some(standing) = standing {
        headers.insert(RATELIMIT.clone(), standing);
    }
}

/// The middleware: refuses a request over its budget with a 429 problem,
/// and stamps the budget's headers on the answer to every limited one.
pub fn limit<S, B>(
    limiter: &RateLimiter,
    req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    match limiter.admit(&req) {
        Verdict::Free => Either::Left(Either::Left(futures_util::FutureExt::map(
            service.call(req),
            |result| result.map(ServiceResponse::map_into_left_body),
        ))),
        Verdict::Admitted { policy, standing } => {
            let response = service.call(req);
            Either::Left(Either::Right(async move {
                let mut response = response.await?;
                stamp(response.headers_mut(), policy, standing);
                Ok(response.map_into_left_body())
            }))
        }
        Verdict::Refused(budget, refusal) => {
            let error = AppError::RateLimited {
                what: budget.what,
                per_minute: budget.per_minute,
                retry_after: refusal.retry_after,
            };
            let mut response = error.error_response();
            stamp(
                response.headers_mut(),
                budget.policy.clone(),
                budget.standing(0, refusal.whole_in),
            );
            Either::Right(ready(Ok(req.into_response(response).map_into_right_body())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beacon_is_one_segment_between_articles_and_views() {
        assert!(is_beacon("/v1/articles/a-post/views"));
        for path in [
            "/v1/articles//views",
            "/v1/articles/a/b/views",
            "/v1/articles/a-post",
            "/v1/excerpts/a/views",
        ] {
            assert!(!is_beacon(path), "{path}");
        }
    }

    #[test]
    fn a_budget_admits_its_burst_then_refuses_with_the_time_to_wait() {
        let budget = Budget::new("reads", "reads", 3).unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let first = budget.charge(client).ok().unwrap();
        assert_eq!((first.remaining, first.whole_in), (2, 20));
        budget.charge(client).ok().unwrap();
        let third = budget.charge(client).ok().unwrap();
        assert_eq!((third.remaining, third.whole_in), (0, 60));
        let refused = budget.charge(client).err().unwrap();
        assert!(
            (19..=20).contains(&refused.retry_after),
            "{}",
            refused.retry_after
        );
        assert!(
            (59..=60).contains(&refused.whole_in),
            "{}",
            refused.whole_in
        );
        // Another client has its own bucket.
        assert!(budget.charge("203.0.113.8".parse().unwrap()).is_ok());
        assert_eq!(
            budget.standing(0, 17).unwrap().to_str().unwrap(),
            "\"reads\";r=0;t=17"
        );
        assert_eq!(budget.policy.to_str().unwrap(), "\"reads\";q=3;w=60");
    }

    #[test]
    fn a_budget_of_zero_is_no_budget() {
        assert!(Budget::new("reads", "reads", 0).is_none());
    }
}
