//! Where a read goes: the primary, or a streaming replica of it.
//!
//! With `BROADSHEET_REPLICA_URL` set, the public reads of the read handlers
//! (requests without `Authorization`) go to the replica while it is up and
//! caught up. Everything else stays on the primary, through the `DbPool`
//! every other part takes: writes, editors' reads (so that they read their
//! writes), the change log (an incremental sync must not step back),
//! webhooks, the view flusher and the rankings, health, and the cache's
//! follower.
//!
//! A monitor per instance probes the replica every quarter of the max lag
//! (within 50 ms and 1 s): whether it answers, whether it has this binary's
//! migrations, and how far it has replayed the change log
//! (`change_log_head.last_seq`), against the primary's head (the cache
//! follower's position while it follows the log, else read by the monitor).
//! The replica's lag is how long ago the monitor first saw the oldest
//! position it has not replayed. Beyond the max lag, or away, public reads go
//! to the primary until the replica is back and has replayed every position
//! the monitor has seen.
//!
//! One replica per instance: an address balancing over several would
//! answer probes and reads from replicas at different positions, and what
//! the monitor measured would not hold for the read.
//!
//! A read that meets a failing replica (no connection, a broken one, a
//! statement the standby cancels) marks it away and runs again on the
//! primary within the same request: a replica's trouble is never a client's
//! 5xx. What the replica had replayed before a read goes with its answer (a
//! request extension), so that the response cache keeps no answer older than
//! what it has purged (`cache::Ticket::answered_at`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpMessage, HttpRequest};
use deadpool::managed::{TimeoutType, Timeouts};
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::QueryableByName;
use diesel_async::scoped_futures::ScopedLocalBoxFuture;
use diesel_async::AsyncPgConnection;

use super::{DbPool, PoolError, SetupError};
use crate::cache::ResponseCache;
use crate::config::Config;
use crate::error::{chain, AppError};

/// The longest a public read waits for a free replica connection before it
/// goes to the primary instead: a busy replica sheds load, it does not queue it.
const CHECKOUT_WAIT: Duration = Duration::from_millis(250);
/// The longest a public read waits for a new replica connection; a replica
/// that does not answer within it is taken for away.
const CHECKOUT_CREATE: Duration = Duration::from_secs(1);
/// Positions of the primary's head kept while the replica has not replayed
/// them; past it the newest is replaced, so the oldest (the lag) stays exact.
const MAX_SEEN: usize = 1024;

/// The databases a read may go to, shared by the workers as app data.
pub struct Databases {
    primary: DbPool,
    replica: Option<Arc<Replica>>,
}

impl Databases {
    pub fn new(primary: DbPool, replica: Option<Arc<Replica>>) -> Self {
        Self { primary, replica }
    }

    /// Runs `read` where this request reads: on the replica for a public
    /// request while the replica is usable, else on the primary; again on
    /// the primary when the replica fails it.
    pub async fn read<'a, T, E, F>(&self, req: &HttpRequest, mut read: F) -> Result<T, AppError>
    where
        F: for<'r> FnMut(&'r mut AsyncPgConnection) -> ScopedLocalBoxFuture<'a, 'r, Result<T, E>>
            + 'a,
        T: 'a,
        E: Into<AppError> + 'a,
    {
        let replica = self.replica.as_deref().filter(|_| is_public(req));
        if let Some(replica) = replica {
            if let Some(answer) = replica.read(req, &mut read).await {
                return answer;
            }
        }
        let mut conn = self.primary.get().await?;
        read(&mut conn).await.map_err(Into::into)
    }
}

/// Whether a request reads as the public: one with a key (even a wrong one,
/// which is refused anyway) is an editor's, who must read their own writes.
fn is_public(req: &HttpRequest) -> bool {
    !req.headers().contains_key(header::AUTHORIZATION)
}

/// The change-log position the replica had replayed before it answered this
/// request; `None` when the primary answered.
pub fn replayed(req: &HttpRequest) -> Option<i64> {
    req.extensions().get::<ReplicaRead>().map(|read| read.0)
}

/// Noted on a request the replica answered: see `replayed`.
#[derive(Debug, Clone, Copy)]
struct ReplicaRead(i64);

/// A streaming replica and what its monitor last found.
pub struct Replica {
    pool: DbPool,
    /// `host:port/database`, for the log.
    described: String,
    max_lag: Duration,
    /// Whether public reads go to it.
    usable: AtomicBool,
    /// The change-log position it had replayed at the last probe.
    replayed: AtomicI64,
    /// How long the monitor's probe may wait for a connection.
    probe_timeouts: Timeouts,
    /// The newest migration this binary embeds, which the replica must have.
    latest_migration: String,
}

impl Replica {
    /// The replica `config` names, watched from now on; `None` when it names none.
    /// Public reads go to it from the monitor's first successful probe.
    pub fn start(
        config: &Config,
        primary: DbPool,
        cache: Option<Arc<ResponseCache>>,
    ) -> Result<Option<Arc<Self>>, SetupError> {
        let Some(url) = config.replica_url.as_deref() else {
            return Ok(None);
        };
        let pool = super::pool_of(
            url,
            "BROADSHEET_REPLICA_URL",
            config,
            CHECKOUT_WAIT.min(config.pool_timeout),
            CHECKOUT_CREATE.min(config.pool_timeout),
        )
        .map_err(|error| match error {
            SetupError::BadUrl(problem) => SetupError::BadUrl(format!(
                "BROADSHEET_REPLICA_URL is not a valid PostgreSQL URL: {problem}"
            )),
            other => other,
        })?;
        let replica = Arc::new(Self {
            pool,
            described: super::describe_target(url),
            max_lag: config.replica_max_lag,
            usable: AtomicBool::new(false),
            replayed: AtomicI64::new(0),
            probe_timeouts: Timeouts {
                wait: Some(config.pool_timeout),
                create: Some(config.pool_timeout),
                recycle: Some(config.pool_timeout),
            },
            latest_migration: super::latest_migration_version(),
        });
        let every =
            (config.replica_max_lag / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(replica.clone().watch(primary, cache, every));
        Ok(Some(replica))
    }

    /// Whether public reads go to the replica now.
    pub fn is_usable(&self) -> bool {
        self.usable.load(Ordering::Acquire)
    }

    /// Runs `read` on the replica; `None` when it is not usable or failed
    /// the read, which then goes to the primary.
    async fn read<'a, T, E, F>(
        &self,
        req: &HttpRequest,
        read: &mut F,
    ) -> Option<Result<T, AppError>>
    where
        F: for<'r> FnMut(&'r mut AsyncPgConnection) -> ScopedLocalBoxFuture<'a, 'r, Result<T, E>>
            + 'a,
        T: 'a,
        E: Into<AppError> + 'a,
    {
        if !self.is_usable() {
            return None;
        }
        // Loaded before the read, whose snapshot has at least this much.
        let replayed = self.replayed.load(Ordering::Acquire);
        let mut conn = match self.pool.get().await {
            Ok(conn) => conn,
            // Every connection busy: this read goes to the primary, the next
            // may find one free.
            Err(PoolError::Timeout(TimeoutType::Wait)) => return None,
            Err(error) => {
                self.away(&chain(&error));
                return None;
            }
        };
        match read(&mut conn).await.map_err(Into::into) {
            // Unreachable, stopping, or a statement the standby cancelled
            // (a recovery conflict is a serialization failure there).
            Err(AppError::Unavailable(detail)) => {
                self.away(&detail);
                None
            }
            // Not a client's fault; the primary, whose schema is this
            // binary's, answers as it would have without a replica.
            Err(AppError::Internal(error)) => {
                log::warn!(
                    "the read replica {} failed a read{}; sent to the primary: {}",
                    self.described,
                    crate::request_id::in_log(),
                    chain(&*error)
                );
                None
            }
            answer => {
                req.extensions_mut().insert(ReplicaRead(replayed));
                Some(answer)
            }
        }
    }

    /// Sends public reads to the primary until the monitor finds the replica
    /// back and caught up; said once, by the request that noticed first.
    fn away(&self, cause: &str) {
        if self.usable.swap(false, Ordering::AcqRel) {
            log::warn!(
                "the read replica {} failed ({cause}); public reads go to the primary until it is \
                 back and caught up",
                self.described
            );
        }
        // Its idle connections may be as broken as the one that failed.
        self.pool.retain(|_, _| false);
    }

    /// Probes the replica every `every`, for as long as the runtime lives.
    async fn watch(
        self: Arc<Self>,
        primary: DbPool,
        cache: Option<Arc<ResponseCache>>,
        every: Duration,
    ) {
        // The primary's head positions the replica has not replayed, oldest
        // first, each with when it was first seen.
        let mut unreplayed: VecDeque<(i64, Instant)> = VecDeque::new();
        let mut first = true;
        loop {
            // The primary first: the replica's position read after it is
            // then the more recent, and a replica streaming normally is
            // found caught up.
            if let Some(head) = primary_head(&primary, cache.as_deref()).await {
                match unreplayed.back() {
                    Some(&(newest, _)) if newest >= head => {
                        // A restored primary: what was seen is gone.
                        if newest > head {
                            unreplayed.clear();
                            unreplayed.push_back((head, Instant::now()));
                        }
                    }
                    _ => {
                        if unreplayed.len() == MAX_SEEN {
                            unreplayed.pop_back();
                        }
                        unreplayed.push_back((head, Instant::now()));
                    }
                }
            }
            let verdict = match self.probe().await {
                Ok(replayed) => {
                    self.replayed.store(replayed, Ordering::Release);
                    while unreplayed
                        .front()
                        .is_some_and(|&(seen, _)| seen <= replayed)
                    {
                        unreplayed.pop_front();
                    }
                    let lag = unreplayed
                        .front()
                        .map_or(Duration::ZERO, |(_, since)| since.elapsed());
                    if lag > self.max_lag {
                        Err(format!(
                            "it lags {} ms behind the primary, more than the {} ms allowed",
                            lag.as_millis(),
                            self.max_lag.as_millis()
                        ))
                    } else if !self.is_usable() && !unreplayed.is_empty() {
                        // Back only once caught up: a replica hovering at the
                        // max lag would otherwise flap.
                        Err("it has not replayed the primary's latest changes yet".into())
                    } else {
                        Ok(())
                    }
                }
                Err(cause) => {
                    // Its idle connections may be broken too.
                    self.pool.retain(|_, _| false);
                    Err(cause)
                }
            };
            let usable = verdict.is_ok();
            let was = self.usable.swap(usable, Ordering::AcqRel);
            if was != usable || first {
                match verdict {
                    Ok(()) => log::info!(
                        "the read replica {} is caught up; public reads go to it",
                        self.described
                    ),
                    Err(cause) => log::warn!(
                        "the read replica {} is not used ({cause}); public reads go to the \
                         primary until it is back and caught up",
                        self.described
                    ),
                }
            }
            first = false;
            tokio::time::sleep(every).await;
        }
    }

    /// The position the replica has replayed, if it answers and has this
    /// binary's migrations (a replica behind a deploy's migration would
    /// fail the new binary's queries).
    async fn probe(&self) -> Result<i64, String> {
        #[derive(QueryableByName)]
        struct Probe {
            #[diesel(sql_type = BigInt)]
            last_seq: i64,
            #[diesel(sql_type = Bool)]
            ready: bool,
        }
        let mut conn = self
            .pool
            .timeout_get(&self.probe_timeouts)
            .await
            .map_err(|error| chain(&error))?;
        let query = diesel::sql_query(
            "SELECT (SELECT last_seq FROM change_log_head) AS last_seq, \
                    EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS ready",
        )
        .bind::<Text, _>(&self.latest_migration);
        // Called by path: the atomics' `load` would otherwise be taken for diesel's.
        let probe: Probe = diesel_async::RunQueryDsl::get_result(query, &mut conn)
            .await
            .map_err(|error| chain(&error))?;
        if !probe.ready {
            return Err("it has not replayed this version's migrations yet".into());
        }
        Ok(probe.last_seq)
    }
}

/// The primary's change-log head: the cache follower's position while it
/// follows the log, else read now; `None` when the primary cannot say.
async fn primary_head(primary: &DbPool, cache: Option<&ResponseCache>) -> Option<i64> {
    if let Some(cache) = cache.filter(|cache| cache.trusted()) {
        return Some(cache.purged_to());
    }
    let mut conn = primary.get().await.ok()?;
    crate::changes::queries::latest(&mut conn).await.ok()
}
