//! Beacon storms and the servers they hit, shared by the tests of counting:
//! clients that send beacons as distinct visitors, further Broadsheet
//! instances beside the `TestApp`s, and what the database stored.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadsheet::app::{prepare_database, Application};
use broadsheet::config::Config;
use broadsheet::db::DbPool;
use broadsheet::popularity::Popularity;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;

use crate::helpers::TestApp;

pub(crate) const BROWSER: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
pub(crate) const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Where to send requests: a base address and a client.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
}

impl Endpoint {
    pub(crate) fn of(app: &TestApp) -> Self {
        Self {
            address: app.address.clone(),
            client: app.client.clone(),
        }
    }

    pub(crate) fn at(address: String) -> Self {
        // A bound on every request: a beacon to a server that is going away
        // must end as unanswered rather than wait on a dead connection for
        // ever. A live server answers in milliseconds.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Self { address, client }
    }

    /// One view of `slug` by `visitor`, who is told apart by the address a
    /// trusted proxy (127.0.0.1, the test itself) forwards.
    pub(crate) async fn beacon(&self, slug: &str, visitor: u32) -> reqwest::Result<u16> {
        let response = self
            .client
            .post(format!("{}/v1/articles/{slug}/views", self.address))
            .header("user-agent", BROWSER)
            .header("x-forwarded-for", visitor_address(visitor).to_string())
            .header("content-type", "text/plain")
            .body("")
            .send()
            .await?;
        Ok(response.status().as_u16())
    }

    /// Sends one beacon per visitor in `visitors`, asserting each is answered 202.
    pub(crate) async fn beacons(&self, slug: &str, visitors: std::ops::Range<u32>) -> i64 {
        for visitor in visitors.clone() {
            let status = self.beacon(slug, visitor).await.expect("beacon answered");
            assert_eq!(status, 202, "beacon of {slug} by visitor {visitor}");
        }
        i64::from(visitors.end - visitors.start)
    }

    /// The status of `GET path`, or `None` when nothing answers.
    pub(crate) async fn status(&self, path: &str) -> Option<u16> {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await;
        response.ok().map(|r| r.status().as_u16())
    }
}

/// A distinct client address for each visitor number.
pub(crate) fn visitor_address(visitor: u32) -> IpAddr {
    let [_, b, c, d] = visitor.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(10, b, c, d))
}

/// A further Broadsheet, built as `main` builds one, beside the `TestApp`s.
pub(crate) struct Instance {
    pub(crate) endpoint: Endpoint,
    pub(crate) engine: Arc<Popularity>,
    pub(crate) pool: DbPool,
}

impl Instance {
    /// Creates and migrates the database if needed, then serves on a random port.
    pub(crate) async fn start(database_url: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_database(database_url);
        config.listen = "127.0.0.1:0".into();
        config.pool_size = 2;
        config.pool_timeout = Duration::from_secs(1);
        config.workers = Some(1);
        config.popularity.trusted_proxies = vec![LOCALHOST];
        // Storms repeat visitors far past any per-address budget.
        config.rate_limits = broadsheet::config::RateLimits::OFF;
        adjust(&mut config);
        let pool = prepare_database(&config, true)
            .await
            .expect("database ready");
        let app = Application::build(&config, pool).expect("server binds");
        let endpoint = Endpoint::at(format!("http://127.0.0.1:{}", app.port()));
        let (engine, pool) = (app.popularity(), app.pool());
        tokio::spawn(app.run());
        Self {
            endpoint,
            engine,
            pool,
        }
    }
}

/// Beacons to send: job `i` views `slugs[i % n]` as visitor
/// `first_visitor + (i / n) % visitors`, so that after `n * visitors` jobs
/// the same (visitor, article) pairs come again.
pub(crate) struct Storm {
    pub(crate) slugs: Vec<String>,
    pub(crate) first_visitor: u32,
    pub(crate) visitors: u32,
    pub(crate) beacons: usize,
    /// Whether a worker stops at its first unanswered request (the server is gone).
    pub(crate) stop_on_error: bool,
}

/// What a storm's beacons were answered.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) accepted: BTreeMap<String, i64>,
    pub(crate) other_statuses: Vec<u16>,
    pub(crate) unanswered: usize,
}

impl Tally {
    pub(crate) fn accepted_total(&self) -> i64 {
        self.accepted.values().sum()
    }
}

/// Sends a storm's beacons from `workers` concurrent clients; `accepted`
/// counts 202 answers as they arrive.
pub(crate) async fn storm(
    endpoint: Endpoint,
    plan: Storm,
    workers: usize,
    accepted: Arc<AtomicUsize>,
) -> Tally {
    let plan = Arc::new(plan);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (endpoint, plan, next, accepted) = (
            endpoint.clone(),
            plan.clone(),
            next.clone(),
            accepted.clone(),
        );
        tasks.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let job = next.fetch_add(1, Ordering::Relaxed);
                if job >= plan.beacons {
                    break;
                }
                let n = plan.slugs.len();
                let slug = &plan.slugs[job % n];
                let visitor = plan.first_visitor + ((job / n) as u32) % plan.visitors;
                match endpoint.beacon(slug, visitor).await {
                    Ok(202) => {
                        *tally.accepted.entry(slug.clone()).or_default() += 1;
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(status) => tally.other_statuses.push(status),
                    Err(_) => {
                        tally.unanswered += 1;
                        if plan.stop_on_error {
                            break;
                        }
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally.expect("storm worker");
        for (slug, count) in tally.accepted {
            *total.accepted.entry(slug).or_default() += count;
        }
        total.other_statuses.extend(tally.other_statuses);
        total.unanswered += tally.unanswered;
    }
    total
}

/// Polls `check` until it holds, failing with `what` after `timeout`.
pub(crate) async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `endpoint` answers `path` with `status`.
pub(crate) async fn wait_for_status(
    endpoint: &Endpoint,
    path: &str,
    status: u16,
    timeout: Duration,
) {
    let what = format!("{path} to answer {status}");
    eventually(&what, timeout, || async {
        endpoint.status(path).await == Some(status)
    })
    .await;
}

// ---------------------------------------------------------------------------
// Reading what is stored
// ---------------------------------------------------------------------------

#[derive(QueryableByName)]
struct StoredViews {
    #[diesel(sql_type = Text)]
    slug: String,
    #[diesel(sql_type = BigInt)]
    views: i64,
}

/// Runs a query against `database_url` and loads its rows.
pub(crate) async fn rows<T>(database_url: &str, sql: &str) -> Vec<T>
where
    T: QueryableByName<diesel::pg::Pg> + Send + 'static,
{
    let mut conn = broadsheet::db::connect(database_url)
        .await
        .expect("connect");
    diesel_async::RunQueryDsl::load(diesel::sql_query(sql), &mut conn)
        .await
        .expect("query")
}

/// Stored views per article slug, all buckets together.
pub(crate) async fn stored_views(database_url: &str) -> BTreeMap<String, i64> {
    let sql = "SELECT a.slug, SUM(v.views)::int8 AS views \
               FROM view_counts v JOIN articles a ON a.id = v.article_id GROUP BY a.slug";
    let rows: Vec<StoredViews> = rows(database_url, sql).await;
    rows.into_iter().map(|row| (row.slug, row.views)).collect()
}

/// Stored views of the articles whose slug starts with `prefix`.
pub(crate) fn sum_of(stored: &BTreeMap<String, i64>, prefix: &str) -> i64 {
    stored
        .iter()
        .filter(|(slug, _)| slug.starts_with(prefix))
        .map(|(_, views)| views)
        .sum()
}

/// Flushes every engine until the stored views reach `expected` (or time
/// runs out), then returns what is stored: more than `expected` means counts
/// were written twice, less that they were lost.
pub(crate) async fn flush_until(
    database_url: &str,
    engines: &[(&Popularity, &DbPool)],
    expected: i64,
) -> BTreeMap<String, i64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for (engine, pool) in engines {
            engine.counter.flush(pool).await;
        }
        let stored = stored_views(database_url).await;
        if stored.values().sum::<i64>() >= expected || Instant::now() > deadline {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
