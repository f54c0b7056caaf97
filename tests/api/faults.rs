//! Failures of the database as clients see them: a request whose backend is
//! terminated is a 503 to retry, a fast shutdown in the middle of a beacon
//! storm loses no view answered 202 and counts none twice, and a value the
//! schema refuses after validation let it through is the client's 422, never
//! a 500. Servers are stopped and backends terminated only on throwaway
//! clusters, never on the shared server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::sql_types::{Integer, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::excerpts::with;
use crate::helpers::*;
use crate::popularity::two_articles;
use crate::storms::*;

#[derive(QueryableByName)]
struct Backend {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

/// The process ids of the backends, other than the caller's, waiting on a
/// lock while running a statement that contains `fragment`, once there are
/// `count` of them; fails after 30 s.
pub(crate) async fn backends_waiting_on_a_lock(
    conn: &mut AsyncPgConnection,
    fragment: &str,
    count: usize,
) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let query = diesel::sql_query(
            "SELECT pid FROM pg_stat_activity \
             WHERE wait_event_type = 'Lock' AND position($1 in query) > 0 \
             AND pid <> pg_backend_pid()",
        )
        .bind::<Text, _>(fragment);
        // Called by path: an atomic's `load` would otherwise be taken for diesel's.
        let waiting: Vec<Backend> = diesel_async::RunQueryDsl::load(query, conn)
            .await
            .expect("pg_stat_activity");
        if waiting.len() >= count {
            return waiting.into_iter().map(|backend| backend.pid).collect();
        }
        assert!(
            Instant::now() < deadline,
            "{count} backends do not wait on a lock running `{fragment}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `PATCH /v1/articles/{slug}` with `key`, changing its title.
async fn retitle(endpoint: &Endpoint, key: &str, slug: &str) -> reqwest::Response {
    endpoint
        .client
        .patch(format!("{}/v1/articles/{slug}", endpoint.address))
        .bearer_auth(key)
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .body(json!({"title": "Retitled"}).to_string())
        .send()
        .await
        .expect("the server answers")
}

/// `GET /v1/articles/{slug}`, as the public reads it.
async fn read(endpoint: &Endpoint, slug: &str) -> reqwest::Response {
    endpoint
        .client
        .get(format!("{}/v1/articles/{slug}", endpoint.address))
        .send()
        .await
        .expect("the server answers")
}

/// Asserts a 503 problem that asks to retry after some seconds.
async fn assert_retry_later(response: reqwest::Response) {
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let problem = assert_problem(response, 503).await;
    assert_eq!(problem["type"], "/problems/unavailable", "{problem}");
    let seconds = retry_after
        .and_then(|value| value.to_str().ok()?.parse::<u32>().ok())
        .expect("a Retry-After of whole seconds");
    assert!(seconds > 0);
}

/// A read (one statement) and an update (a transaction, which the server
/// then fails to roll back on the dead connection) both wait on a lock
/// another client holds; PostgreSQL terminates their backends (57P01).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_backend_is_terminated_is_a_503_with_retry_after() {
    let Some(cluster) = Cluster::throwaway() else {
        return;
    };
    let url = cluster.url("broadsheet_terminated");
    let server = Instance::start(&url, |config| {
        // The statement timeout must not end the wait first: that would be
        // a 503 of its own, for another reason.
        config.statement_timeout = Duration::from_secs(120);
        config.pool_size = 4;
    })
    .await;
    let at = "2020-01-01T09:00:00Z".parse().unwrap();
    load_into(&url, site_with(vec![published("held", at)], vec![])).await;
    let key = key_in(&url, "editor").await;

    let mut holder = broadsheet::db::connect(&url).await.expect("connect");
    holder
        .batch_execute("BEGIN; LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("articles locked");
    let reading = {
        let endpoint = server.endpoint.clone();
        tokio::spawn(async move { read(&endpoint, "held").await })
    };
    let patching = {
        let (endpoint, key) = (server.endpoint.clone(), key.clone());
        tokio::spawn(async move { retitle(&endpoint, &key, "held").await })
    };
    // The server's own queries quote table names; the rankings' SQL does not.
    let mut admin = broadsheet::db::connect(&url).await.expect("connect");
    for pid in backends_waiting_on_a_lock(&mut admin, "\"articles\"", 2).await {
        let terminate =
            diesel::sql_query("SELECT pg_terminate_backend($1)").bind::<Integer, _>(pid);
        diesel_async::RunQueryDsl::execute(terminate, &mut admin)
            .await
            .expect("backend terminated");
    }
    assert_retry_later(reading.await.expect("the GET task")).await;
    assert_retry_later(patching.await.expect("the PATCH task")).await;

    // The retries the 503s ask for succeed once the lock is released: the
    // server does not keep the dead connections. It sees one is closed when
    // it reads the end of its socket, a moment after the error; a client
    // that waits as `Retry-After` says (here, less) never meets it.
    holder
        .batch_execute("ROLLBACK")
        .await
        .expect("lock released");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(read(&server.endpoint, "held").await.status(), 200);
    let response = retitle(&server.endpoint, &key, "held").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("article");
    assert_eq!(body["title"], "Retitled");
    drop(cluster);
}

/// The server flushes every 20 ms, so a fast shutdown usually ends a flush in
/// flight; to make sure one does, a client locks `view_counts` first, so that
/// the flush is waiting on the lock when PostgreSQL terminates its backend
/// (57P01 on the flush statement itself). Beacons keep coming throughout,
/// while the database is away too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_shutdown_during_a_beacon_storm_counts_each_view_answered_202_once() {
    let Some(cluster) = Cluster::throwaway() else {
        return;
    };
    let url = cluster.url("broadsheet_fast_stop");
    let server = Instance::start(&url, |config| {
        config.popularity.flush_interval = Duration::from_millis(20);
        config.statement_timeout = Duration::from_secs(120);
    })
    .await;
    load_into(&url, two_articles()).await;

    // Every beacon comes from a new visitor, so every 202 is a view to count.
    let plan = Storm {
        slugs: vec!["first".into(), "second".into()],
        first_visitor: 0,
        visitors: u32::MAX,
        beacons: 6_000,
        stop_on_error: false,
    };
    let accepted = Arc::new(AtomicUsize::new(0));
    let storming = tokio::spawn(storm(server.endpoint.clone(), plan, 8, accepted.clone()));
    eventually("300 beacons answered", Duration::from_secs(60), || async {
        accepted.load(Ordering::Relaxed) >= 300
    })
    .await;

    let mut locker = broadsheet::db::connect(&url).await.expect("connect");
    locker
        .batch_execute("BEGIN; LOCK TABLE view_counts IN SHARE ROW EXCLUSIVE MODE")
        .await
        .expect("view_counts locked");
    backends_waiting_on_a_lock(&mut locker, "view_flushes", 1).await;
    let before_stop = accepted.load(Ordering::Relaxed);
    let stopped = tokio::task::block_in_place(|| cluster.pg_ctl_stop("fast")).expect("pg_ctl");
    assert!(stopped.status.success(), "pg_ctl stop -m fast: {stopped:?}");
    drop(locker);
    eventually(
        "beacons answered while the database is away",
        Duration::from_secs(30),
        || async { accepted.load(Ordering::Relaxed) >= before_stop + 100 },
    )
    .await;
    tokio::task::block_in_place(|| cluster.pg_ctl_start());

    let tally = storming.await.expect("storm");
    assert!(
        tally.accepted_total() > 0 && tally.unanswered == 0,
        "beacons are answered throughout: {tally:?}"
    );
    let engines = [(&*server.engine, &server.pool)];
    let stored = flush_until(&url, &engines, tally.accepted_total()).await;
    assert_eq!(
        stored, tally.accepted,
        "stored views (left) equal the beacons answered 202 (right)"
    );
    assert_eq!(server.engine.counter.dropped(), 0, "no view dropped");
    assert_eq!(
        server.engine.counter.written(),
        tally.accepted_total() as u64,
        "each view written once"
    );
    drop(cluster);
}

#[tokio::test]
async fn a_value_the_schema_refuses_after_validation_is_a_422_naming_the_member() {
    let app = TestApp::with_site(site_with(vec![draft("host")], vec![])).await;
    let key = app.key("editor").await;
    // Validation and the schema agree on every link today (a property test
    // holds them to it). Should a CHECK ever be stricter than the validator,
    // as this test database's is made to be, the client hears a 422 naming
    // the member, not a 500.
    app.sql(
        "ALTER TABLE excerpts DROP CONSTRAINT excerpts_source_url_check, \
         ADD CONSTRAINT excerpts_source_url_check CHECK (source_url ~ '^https://')",
    )
    .await;
    let plain = "http://example.org/source";
    let mut quoted = excerpt("Plain", "dawn");
    quoted["source_url"] = json!(plain);
    let response = app
        .with_key(reqwest::Method::POST, "/v1/articles/host/excerpts", &key)
        .json(&quoted)
        .send()
        .await
        .expect("answered");
    let problem = assert_problem(response, 422).await;
    assert_eq!(problem["errors"][0]["pointer"], "/source_url", "{problem}");

    // Nested in a new article, it is refused the same way, not as a 500,
    // pointing at the excerpt in the article.
    let article = with(draft("nested"), "excerpts", json!([quoted]));
    let response = app
        .with_key(reqwest::Method::POST, "/v1/articles", &key)
        .json(&article)
        .send()
        .await
        .expect("answered");
    let problem = assert_problem(response, 422).await;
    assert_eq!(
        problem["errors"][0]["pointer"], "/excerpts/0/source_url",
        "{problem}"
    );
    let created = app
        .with_key(reqwest::Method::GET, "/v1/articles/nested", &key)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        created.status(),
        404,
        "nothing of the refused create is kept"
    );
}

/// A nested create that waits past the statement timeout (its excerpt's
/// insert needs the outlet row another client holds) is the same 503 with
/// `Retry-After` as any other statement timeout: the loader's error is
/// classified as the database's, not answered as a 500 or a conflict. The
/// retry succeeds once the outlet is free.
#[tokio::test]
async fn a_statement_timeout_inside_a_nested_create_is_a_503_with_retry_after() {
    let app = TestApp::spawn_configured(|config| {
        config.statement_timeout = Duration::from_millis(500);
    })
    .await;
    app.load(site_with(vec![], vec![])).await;
    let key = app.key("editor").await;
    let article = with(draft("waits"), "excerpts", json!([excerpt("Held", "dawn")]));
    let create = || {
        app.with_key(reqwest::Method::POST, "/v1/articles", &key)
            .json(&article)
            .send()
    };

    let mut holder = broadsheet::db::connect(&app.database_url)
        .await
        .expect("connect");
    holder
        .batch_execute("BEGIN; SELECT 1 FROM outlets WHERE slug = 'dawn' FOR UPDATE")
        .await
        .expect("outlet held");
    assert_retry_later(create().await.expect("answered")).await;
    let response = app
        .with_key(reqwest::Method::GET, "/v1/articles/waits", &key)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        response.status(),
        404,
        "nothing of the failed create is kept"
    );

    holder.batch_execute("ROLLBACK").await.expect("outlet free");
    let response = create().await.expect("answered");
    assert_eq!(response.status(), 201);
}

/// SIGTERM while public reads wait on the database: no new connection is
/// taken, each read in flight is answered in full once the database lets it
/// go, and the server then exits cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_reads_in_flight_then_exits() {
    let app = TestApp::with_site(two_articles()).await;
    let mut served = Served::start(&[
        ("DATABASE_URL", &app.database_url),
        ("BROADSHEET_WORKERS", "2"),
    ])
    .await;
    let endpoint = Endpoint::at(served.address.clone());
    let mut holder = AsyncPgConnection::establish(&app.database_url)
        .await
        .expect("database connection");
    holder
        .batch_execute("BEGIN; LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock taken");
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move { read(&endpoint, "first").await })
        })
        .collect();
    let mut watcher = AsyncPgConnection::establish(&app.database_url)
        .await
        .expect("database connection");
    backends_waiting_on_a_lock(&mut watcher, "articles", 1).await;

    served.signal("TERM");
    eventually(
        "the server stops taking connections",
        Duration::from_secs(10),
        || {
            let address = served.address.clone();
            async move { reqwest::get(format!("{address}/healthz")).await.is_err() }
        },
    )
    .await;
    holder.batch_execute("COMMIT").await.expect("lock released");

    for request in in_flight {
        let response = request.await.expect("request task");
        assert_eq!(response.status(), 200, "a read in flight is finished");
        let article: Value = response.json().await.expect("a whole JSON body");
        assert_eq!(article["slug"], "first", "{article}");
    }
    assert!(
        served.wait_for_exit().await,
        "the server exits cleanly; its log:\n{}",
        served.log_text()
    );
    assert!(served.log_text().contains("SIGTERM received"));
}
