//! A read replica, real: a hot standby made with `pg_basebackup -R` from a
//! throwaway primary, streaming from it. Public reads go to it while it
//! keeps up; editors read their writes from the primary; a replica that
//! lags beyond the max lag, or goes away, sends public reads to the primary
//! without a single 5xx; and the response cache never keeps what a lagging
//! replica answered.
//!
//! That a read came from the replica is shown by content only the replica
//! still has: its replay is paused (`pg_wal_replay_pause()`) and the primary
//! changed since.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use broadsheet::app::{prepare_database, Application};
use broadsheet::cache::Cache;
use broadsheet::config::Config;
use broadsheet::db::replica::Replica;
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::helpers::*;

/// A primary and its streaming replica, each a throwaway cluster; `None`
/// when PostgreSQL's tools are absent.
fn primary_and_replica() -> Option<(Cluster, Cluster)> {
    let primary = Cluster::throwaway()?;
    let replica = tokio::task::block_in_place(|| Cluster::replica_of(&primary));
    Some((primary, replica))
}

/// A Broadsheet on `database` of `primary`, reading publicly from `replica`.
struct Replicated {
    address: String,
    client: reqwest::Client,
    replica: Arc<Replica>,
    cache: Option<Cache>,
    url: String,
}

impl Replicated {
    async fn start(
        primary: &Cluster,
        replica: &Cluster,
        database: &str,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let url = primary.url(database);
        let mut config = Config::for_database(&url);
        config.replica_url = Some(replica.url(database));
        config.listen = "127.0.0.1:0".into();
        config.pool_size = 4;
        config.workers = Some(2);
        config.rate_limits = broadsheet::config::RateLimits::OFF;
        adjust(&mut config);
        let pool = prepare_database(&config, true)
            .await
            .expect("database ready");
        let app = Application::build(&config, pool).expect("server binds");
        let served = Self {
            address: format!("http://127.0.0.1:{}", app.port()),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            replica: app.replica().expect("a replica is configured"),
            cache: app.cache(),
            url,
        };
        tokio::spawn(app.run());
        served
    }

    async fn get(&self, path: &str, key: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(format!("{}{path}", self.address));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("the server answers")
    }

    /// The title of `slug` as the public (no key) or an editor reads it,
    /// with the answer's `Cache-Status`.
    async fn title(&self, slug: &str, key: Option<&str>) -> (String, String) {
        let response = self.get(&format!("/v1/articles/{slug}"), key).await;
        assert_eq!(response.status(), 200, "GET {slug}");
        let status = response
            .headers()
            .get("cache-status")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: Value = response.json().await.expect("an article");
        (
            body["title"].as_str().unwrap_or_default().to_string(),
            status,
        )
    }

    async fn retitle(&self, key: &str, slug: &str, title: &str) {
        let response = self
            .client
            .patch(format!("{}/v1/articles/{slug}", self.address))
            .bearer_auth(key)
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(json!({ "title": title }).to_string())
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status(), 200, "PATCH {slug}");
    }

    /// Waits until the replica's monitor sends public reads to it.
    async fn until_replica_is_used(&self) {
        until("the replica is used", || async { self.replica.is_usable() }).await;
    }
}

/// Polls `condition` every 50 ms for up to a minute (the machine is shared).
async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn pause_replay(replica: &Cluster) {
    tokio::task::block_in_place(|| replica.psql("SELECT pg_wal_replay_pause()"));
}

fn resume_replay(replica: &Cluster) {
    tokio::task::block_in_place(|| replica.psql("SELECT pg_wal_replay_resume()"));
}

/// With the replica's replay paused, retitles `slug` from `before` to
/// `after` and shows where each read goes: the editor reads the new title
/// (the primary), the public the old one (the replica, which alone still
/// has it). Leaves replay paused.
async fn public_reads_come_from_the_replica(
    server: &Replicated,
    replica: &Cluster,
    key: &str,
    (before, after): (&str, &str),
) {
    pause_replay(replica);
    server.retitle(key, "held", after).await;
    let (title, _) = server.title("held", Some(key)).await;
    assert_eq!(title, after, "an editor reads their write");
    let (title, cache_status) = server.title("held", None).await;
    assert_eq!(title, before, "the public read is the paused replica's");
    assert!(!cache_status.contains("stored"), "{cache_status}");
}

const MAX_LAG: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_reads_go_to_the_replica_until_it_lags_and_the_cache_keeps_none_of_its_stale_answers(
) {
    let Some((primary, replica)) = primary_and_replica() else {
        return;
    };
    let server = Replicated::start(&primary, &replica, "broadsheet_replicated", |config| {
        config.replica_max_lag = MAX_LAG;
    })
    .await;
    assert!(server.cache.is_some(), "the response cache is on");
    let at = "2020-01-01T09:00:00Z".parse().unwrap();
    load_into(&server.url, site_with(vec![published("held", at)], vec![])).await;
    let key = key_in(&server.url, "editor").await;
    server.until_replica_is_used().await;
    until("the replica has the article", || async {
        server.title("held", None).await.0 == "Title of held"
    })
    .await;

    let written = Instant::now();
    public_reads_come_from_the_replica(&server, &replica, &key, ("Title of held", "Retitled"))
        .await;
    // The replica's answer was older than what the cache had purged: sent,
    // not kept, so the next public read is not a hit on it.
    let (title, cache_status) = server.title("held", None).await;
    assert_eq!(title, "Title of held");
    assert_eq!(cache_status, "broadsheet; fwd=miss");

    // Replay stays paused: past the max lag, public reads go to the primary.
    until("the public reads the write", || async {
        server.title("held", None).await.0 == "Retitled"
    })
    .await;
    assert!(
        written.elapsed() >= MAX_LAG,
        "the replica answered for the max lag"
    );
    assert!(!server.replica.is_usable());
    // What the primary answered is current, kept, and served from memory.
    let (title, cache_status) = server.title("held", None).await;
    assert_eq!(
        (title.as_str(), cache_status.as_str()),
        ("Retitled", "broadsheet; hit")
    );

    // Resumed, the replica catches up and public reads go back to it.
    resume_replay(&replica);
    server.until_replica_is_used().await;
    public_reads_come_from_the_replica(&server, &replica, &key, ("Retitled", "Third")).await;
    resume_replay(&replica);
    until("the public reads the third title", || async {
        server.title("held", None).await.0 == "Third"
    })
    .await;
    drop(primary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopped_under_load_costs_no_reader_a_5xx_and_is_used_again_once_back() {
    let Some((primary, replica)) = primary_and_replica() else {
        return;
    };
    // No response cache: every read reaches a database.
    let server = Replicated::start(&primary, &replica, "broadsheet_replica_stop", |config| {
        config.cache_bytes = 0;
        config.replica_max_lag = MAX_LAG;
    })
    .await;
    let at = "2020-01-01T09:00:00Z".parse().unwrap();
    let mut article = published("held", at);
    article["tags"] = json!(["pakistan"]);
    article["excerpts"] = json!([excerpt("Quoted", "dawn")]);
    load_into(&server.url, site_with(vec![article], vec![])).await;
    let key = key_in(&server.url, "editor").await;
    server.until_replica_is_used().await;

    let paths = [
        "/v1/articles/held",
        "/v1/articles",
        "/v1/excerpts",
        "/v1/outlets/dawn",
        "/v1/tags",
        "/v1/search?q=held",
        "/v1/feeds/atom",
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..4)
        .map(|reader| {
            let (client, address) = (server.client.clone(), server.address.clone());
            let (stop, answered) = (stop.clone(), answered.clone());
            tokio::spawn(async move {
                let mut statuses = BTreeMap::new();
                let mut i = reader;
                while !stop.load(Ordering::Relaxed) {
                    let path = paths[i % paths.len()];
                    let status = match client.get(format!("{address}{path}")).send().await {
                        Ok(response) => response.status().as_u16().to_string(),
                        Err(error) => format!("unanswered: {error}"),
                    };
                    *statuses.entry((path, status)).or_insert(0) += 1;
                    answered.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
                statuses
            })
        })
        .collect();
    let after = |count: usize| {
        let answered = answered.clone();
        move || {
            let answered = answered.clone();
            async move { answered.load(Ordering::Relaxed) >= count }
        }
    };

    until("reads answered", after(200)).await;
    assert!(server.replica.is_usable(), "the replica serves the load");
    let stopped = tokio::task::block_in_place(|| replica.pg_ctl_stop("fast")).expect("pg_ctl");
    assert!(stopped.status.success(), "pg_ctl stop -m fast: {stopped:?}");
    let at_stop = answered.load(Ordering::Relaxed);
    until("reads answered with the replica away", after(at_stop + 200)).await;
    assert!(!server.replica.is_usable(), "the replica is away");

    tokio::task::block_in_place(|| replica.pg_ctl_start());
    server.until_replica_is_used().await;
    let at_return = answered.load(Ordering::Relaxed);
    until(
        "reads answered with the replica back",
        after(at_return + 200),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut statuses = BTreeMap::new();
    for reader in readers {
        for (seen, count) in reader.await.expect("reader") {
            *statuses.entry(seen).or_insert(0) += count;
        }
    }
    let failed: Vec<_> = statuses
        .iter()
        .filter(|((_, status), _)| status != "200")
        .collect();
    assert!(failed.is_empty(), "every read is a 200: {statuses:?}");

    public_reads_come_from_the_replica(&server, &replica, &key, ("Title of held", "Retitled"))
        .await;
    drop(primary);
}

/// A replica that cannot be reached at all: reads go to the primary, and
/// the log says which setting names the server it could not reach.
#[tokio::test]
async fn an_unreachable_replica_is_named_by_its_own_setting_and_reads_go_to_the_primary() {
    let app = TestApp::with_site(crate::popularity::two_articles()).await;
    let nowhere = format!(
        "postgres://postgres@127.0.0.1:{}/broadsheet",
        crate::cluster::free_port()
    );
    let served = Served::start(&[
        ("DATABASE_URL", &app.database_url),
        ("BROADSHEET_REPLICA_URL", &nowhere),
    ])
    .await;
    let response = reqwest::get(format!("{}/v1/articles/first", served.address))
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    until("the replica's failure is logged", || {
        let log = served.log_text();
        async move { log.contains("the read replica") }
    })
    .await;
    let log = served.log_text();
    assert!(
        log.contains("point BROADSHEET_REPLICA_URL at a running server"),
        "{log}"
    );
    assert!(!log.contains("point DATABASE_URL"), "{log}");
}
