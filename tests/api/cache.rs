//! The response cache as clients see it: public reads answered from memory
//! (`Cache-Status`), never stale after a write, through this instance or
//! another on the same database, nor after a scheduled post's time; and
//! while the database is away, what is held is served (`stale-if-error`)
//! until it is back, and then not a moment longer than it takes to read the
//! change log. Outages use throwaway clusters.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::CONTENT_TYPE;
use reqwest::Method;
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::edge::decode;
use crate::helpers::*;
use crate::storms::{Endpoint, Instance};

const SLUG: &str = "kept";

fn site() -> Value {
    let mut article = published(SLUG, at("2011-10-24T09:00:00Z"));
    article["excerpts"] = json!([excerpt("A quoted story", "dawn")]);
    site_with(
        vec![article, published("other", at("2011-10-25T09:00:00Z"))],
        vec![],
    )
}

/// `GET path` as the public sends it: status, `Cache-Status`, `ETag`, body.
async fn read(endpoint: &Endpoint, path: &str) -> (u16, String, String, Value) {
    let response = endpoint
        .client
        .get(format!("{}{path}", endpoint.address))
        .send()
        .await
        .expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let (cache_status, etag) = (header("cache-status"), header("etag"));
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, cache_status, etag, body)
}

async fn retitle(app: &TestApp, key: &str, slug: &str, title: &str) {
    let response = app
        .with_key(Method::PATCH, &format!("/v1/articles/{slug}"), key)
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .body(json!({ "title": title }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Reads `path` until the cache answers it, for at most 5 s: what was
/// stored just now may be purged once by a write the log is still telling.
async fn until_held(endpoint: &Endpoint, path: &str) {
    let start = Instant::now();
    loop {
        let (status, cache_status, _, _) = read(endpoint, path).await;
        if status == 200 && cache_status == "broadsheet; hit" {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{path} is not held: {status} {cache_status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads `path` until `done` holds of its body, for at most `within`;
/// how long it took.
async fn until(
    endpoint: &Endpoint,
    path: &str,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let (status, _, _, body) = read(endpoint, path).await;
        if status == 200 && done(&body) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{path} still answers {status} {body} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn titles(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| item["title"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_public_read_is_answered_from_memory_until_a_write_changes_it() {
    let app = TestApp::with_site(site()).await;
    let endpoint = Endpoint::of(&app);
    let path = format!("/v1/articles/{SLUG}");

    let (status, first, etag, body) = read(&endpoint, &path).await;
    assert_eq!(
        (status, first.as_str()),
        (200, "broadsheet; fwd=miss; stored")
    );
    let (_, second, held_etag, held) = read(&endpoint, &path).await;
    assert_eq!(second, "broadsheet; hit");
    assert_eq!((held_etag, held), (etag.clone(), body));

    // A revalidation is answered from memory too.
    let response = app
        .client
        .get(format!("{}{path}", app.address))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    assert_eq!(response.headers()["cache-status"], "broadsheet; hit");
    assert_eq!(response.headers()["etag"], etag.as_str());

    // The list and the outlet are held as well.
    let (_, _, _, list) = read(&endpoint, "/v1/articles").await;
    assert_eq!(read(&endpoint, "/v1/articles").await.1, "broadsheet; hit");
    assert!(titles(&list).contains(&format!("Title of {SLUG}")));
    read(&endpoint, "/v1/outlets/dawn").await;

    // A write through this instance is seen by its very next read.
    let key = app.key("editor").await;
    retitle(&app, &key, SLUG, "Retitled").await;
    let (_, status, new_etag, body) = read(&endpoint, &path).await;
    assert_eq!(status, "broadsheet; fwd=miss; stored");
    assert_eq!(body["title"], "Retitled");
    assert_ne!(new_etag, etag);
    let (_, status, _, list) = read(&endpoint, "/v1/articles").await;
    assert_eq!(status, "broadsheet; fwd=miss; stored");
    assert!(titles(&list).contains(&"Retitled".to_string()));
    // What the write did not touch is still held, whatever it aggregates.
    assert_eq!(
        read(&endpoint, "/v1/articles/other").await.1,
        "broadsheet; fwd=miss; stored"
    );
    assert_eq!(
        read(&endpoint, "/v1/articles/other").await.1,
        "broadsheet; hit"
    );

    // Editors are never answered from memory, nor is what they read kept.
    let response = app.with_key(Method::GET, &path, &key).send().await.unwrap();
    assert_eq!(response.headers()["cache-status"], "broadsheet; fwd=bypass");
    assert_eq!(response.headers()["cache-control"], "private, no-store");
}

#[tokio::test]
async fn an_excerpt_edit_renews_the_article_that_shows_it_and_an_outlet_edit_every_page_naming_it()
{
    let app = TestApp::with_site(site()).await;
    let endpoint = Endpoint::of(&app);
    let path = format!("/v1/articles/{SLUG}");
    let (_, _, _, article) = read(&endpoint, &path).await;
    let excerpt = article["excerpts"][0]["id"]
        .as_i64()
        .expect("an excerpt id");
    assert_eq!(read(&endpoint, &path).await.1, "broadsheet; hit");

    let key = app.key("editor").await;
    let response = app
        .with_key(Method::PATCH, &format!("/v1/excerpts/{excerpt}"), &key)
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .body(json!({"headline": "A new headline"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (_, _, _, article) = read(&endpoint, &path).await;
    assert_eq!(article["excerpts"][0]["headline"], "A new headline");

    // Behind the API's back: psql renames the outlet. The log has it, and
    // every page naming the outlet is renewed.
    read(&endpoint, &path).await;
    app.sql("UPDATE outlets SET name = 'Dawn News' WHERE slug = 'dawn'")
        .await;
    let (_, status, _, article) = read(&endpoint, &path).await;
    assert_eq!(status, "broadsheet; fwd=miss; stored");
    assert_eq!(article["excerpts"][0]["outlet"]["name"], "Dawn News");
}

#[tokio::test]
async fn a_write_through_one_instance_is_read_through_another_within_a_second() {
    let app = TestApp::with_site(site()).await;
    let other = Instance::start(&app.database_url, |_| {}).await;
    let path = format!("/v1/articles/{SLUG}");
    until_held(&other.endpoint, &path).await;
    until_held(&other.endpoint, "/v1/articles").await;

    let key = app.key("editor").await;
    retitle(&app, &key, SLUG, "Seen elsewhere").await;
    let took = until(&other.endpoint, &path, Duration::from_secs(1), |body| {
        body["title"] == "Seen elsewhere"
    })
    .await;
    until(
        &other.endpoint,
        "/v1/articles",
        Duration::from_secs(1),
        |list| titles(list).contains(&"Seen elsewhere".to_string()),
    )
    .await;
    eprintln!("the other instance served the write after {took:?}");
}

/// With notifications switched off in the database, only the follower's
/// own reading of the log, every `BROADSHEET_CACHE_SYNC_MS`, can tell the
/// other instance: it does, within that interval.
#[tokio::test]
async fn a_missed_notification_costs_at_most_the_fallback_interval() {
    let app = TestApp::with_site(site()).await;
    let other = Instance::start(&app.database_url, |config| {
        config.cache_sync_interval = Duration::from_millis(500);
    })
    .await;
    let path = format!("/v1/articles/{SLUG}");
    until_held(&other.endpoint, &path).await;

    app.sql("ALTER TABLE change_log_head DISABLE TRIGGER change_log_head_notify")
        .await;
    // The listening connections are lost as well, and come back.
    app.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
          WHERE application_name = 'broadsheet-cache' AND datname = current_database()",
    )
    .await;
    let key = app.key("editor").await;
    retitle(&app, &key, SLUG, "Polled").await;
    let took = until(&other.endpoint, &path, Duration::from_millis(900), |body| {
        body["title"] == "Polled"
    })
    .await;
    eprintln!("seen without a notification after {took:?}");
}

#[tokio::test]
async fn a_scheduled_post_joins_the_held_list_at_its_time() {
    let app = TestApp::with_site(site()).await;
    let endpoint = Endpoint::of(&app);
    let due = Utc::now() + chrono::Duration::seconds(2);
    let key = app.key("editor").await;
    let response = app
        .with_key(Method::POST, "/v1/articles", &key)
        .json(&json!({
            "slug": "scheduled",
            "title": "Scheduled post",
            "body_markdown": "Out soon.",
            "status": "published",
            "published_at": due,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    read(&endpoint, "/v1/articles").await;
    let (_, status, _, list) = read(&endpoint, "/v1/articles").await;
    assert_eq!(status, "broadsheet; hit");
    assert!(!titles(&list).contains(&"Scheduled post".to_string()));

    let wait = (due - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    let late = until(&endpoint, "/v1/articles", Duration::from_secs(1), |list| {
        titles(list).contains(&"Scheduled post".to_string())
    })
    .await;
    assert!(late < Duration::from_millis(200), "{late:?} late");
}

#[tokio::test]
async fn with_the_cache_off_every_read_goes_to_the_database() {
    let app = TestApp::spawn_configured(|config| config.cache_bytes = 0).await;
    app.load(site()).await;
    let response = app.get(&format!("/v1/articles/{SLUG}")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("cache-status").is_none());
}

/// The database goes away while clients keep reading: what is held is
/// served, marked stale; what is not is a 503 to retry; nothing is a 500.
/// When the database is back, a write made there is served within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_away_held_reads_are_served_and_none_outlives_its_return() {
    let Some(cluster) = Cluster::throwaway() else {
        return;
    };
    let url = cluster.url("broadsheet_cache_outage");
    let server = Instance::start(&url, |config| {
        config.cache_sync_interval = Duration::from_millis(200);
        config.pool_timeout = Duration::from_millis(500);
    })
    .await;
    load_into(&url, site()).await;
    let endpoint = server.endpoint.clone();
    let held = [
        "/v1/articles/kept",
        "/v1/articles",
        "/v1/feeds/atom",
        "/v1/search?q=kept",
    ];
    for path in held {
        until_held(&endpoint, path).await;
    }

    cluster.pg_ctl_stop("fast").expect("the cluster stops");
    // Readers keep coming, for twice the time it takes to stop trusting the log.
    let readers: Vec<_> = (0..4)
        .map(|n| {
            let endpoint = endpoint.clone();
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(2) {
                    let path = held[n % held.len()];
                    let response = endpoint
                        .client
                        .get(format!("{}{path}", endpoint.address))
                        .send()
                        .await
                        .expect("answered");
                    let cache_status = response.headers()["cache-status"]
                        .to_str()
                        .unwrap()
                        .to_string();
                    statuses.push((response.status().as_u16(), cache_status));
                }
                statuses
            })
        })
        .collect();
    let mut stale = 0;
    for reader in readers {
        for (status, cache_status) in reader.await.unwrap() {
            assert_eq!(status, 200, "{cache_status}");
            if cache_status.contains("fwd=stale") {
                assert!(cache_status.contains("fwd-status=503"), "{cache_status}");
                stale += 1;
            }
        }
    }
    assert!(
        stale > 0,
        "held answers were served stale once the log could not be read"
    );
    let (status, _, _, problem) = read(&endpoint, "/v1/articles/other").await;
    assert_eq!(status, 503, "{problem}");

    cluster.pg_ctl_start();
    let mut conn = broadsheet::db::connect(&url).await.expect("connect");
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut conn,
        "UPDATE articles SET title = 'After the outage' WHERE slug = 'kept'",
    )
    .await
    .expect("retitled");
    let back = Instant::now();
    until(
        &endpoint,
        "/v1/articles/kept",
        Duration::from_secs(3),
        |body| body["title"] == "After the outage",
    )
    .await;
    until(&endpoint, "/v1/articles", Duration::from_secs(1), |list| {
        titles(list).contains(&"After the outage".to_string())
    })
    .await;
    assert!(
        back.elapsed() < Duration::from_millis(1500),
        "{:?}",
        back.elapsed()
    );
    drop(cluster);
}

async fn holder_watch(app: &TestApp) -> diesel_async::AsyncPgConnection {
    broadsheet::db::connect(&app.database_url)
        .await
        .expect("connect")
}

/// The pool's one connection is held by a read waiting on a lock: another
/// read that needs the database waits the pool's bounded time and gets a
/// 503 to retry, while held reads are answered at once, and the waiting
/// read completes once the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_pool_exhausted_held_reads_are_answered_at_once() {
    let app = TestApp::spawn_configured(|config| {
        config.pool_size = 1;
        config.pool_timeout = Duration::from_millis(300);
        config.workers = Some(2);
    })
    .await;
    app.load(site()).await;
    let endpoint = Endpoint::of(&app);
    until_held(&endpoint, "/v1/articles/kept").await;

    let mut holder = broadsheet::db::connect(&app.database_url)
        .await
        .expect("connect");
    diesel_async::SimpleAsyncConnection::batch_execute(
        &mut holder,
        "BEGIN; LOCK TABLE articles IN ACCESS EXCLUSIVE MODE",
    )
    .await
    .expect("articles locked");
    let waiting = {
        let endpoint = endpoint.clone();
        tokio::spawn(async move { read(&endpoint, "/v1/articles/other").await })
    };
    // The waiting read holds the pool's one connection.
    crate::faults::backends_waiting_on_a_lock(&mut holder_watch(&app).await, "\"articles\"", 1)
        .await;
    let start = Instant::now();
    let refused = loop {
        let (status, _, _, body) = read(&endpoint, "/v1/excerpts").await;
        if status == 503 {
            break body;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{status} {body}");
    };
    assert_eq!(refused["type"], "/problems/unavailable", "{refused}");
    let asked = Instant::now();
    let (status, cache_status, _, body) = read(&endpoint, "/v1/articles/kept").await;
    assert_eq!((status, cache_status.as_str()), (200, "broadsheet; hit"));
    assert_eq!(body["slug"], "kept");
    assert!(
        asked.elapsed() < Duration::from_millis(250),
        "{:?}",
        asked.elapsed()
    );

    diesel_async::SimpleAsyncConnection::batch_execute(&mut holder, "ROLLBACK")
        .await
        .expect("lock released");
    let (status, _, _, body) = waiting.await.expect("the waiting read");
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_held_answer_is_sent_in_each_coding_from_its_kept_form_under_the_codings_own_tag() {
    let mut long = published("long", at("2011-10-24T09:00:00Z"));
    long["body_markdown"] = json!("A paragraph of commentary on the talks. ".repeat(100));
    let app = TestApp::with_site(site_with(vec![long], vec![])).await;
    let path = format!("{}/v1/articles/long", app.address);
    let get = |coding: Option<&str>| {
        let request = app.client.get(&path);
        match coding {
            Some(coding) => request.header("accept-encoding", coding),
            None => request,
        }
        .send()
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    // The first read in gzip is stored, and sent in gzip.
    let first = get(Some("gzip")).await.unwrap();
    assert_eq!(
        header(&first, "cache-status"),
        "broadsheet; fwd=miss; stored"
    );
    assert_eq!(header(&first, "content-encoding"), "gzip");
    let identity = get(None).await.unwrap();
    assert_eq!(header(&identity, "cache-status"), "broadsheet; hit");
    assert_eq!(header(&identity, "content-encoding"), "");
    assert_eq!(header(&identity, "vary"), "accept-encoding");
    let base = header(&identity, "etag");
    let identity = identity.bytes().await.unwrap();
    assert!(identity.len() > 2048, "{}", identity.len());
    assert_eq!(decode("gzip", &first.bytes().await.unwrap()), identity);

    for coding in ["gzip", "br", "zstd"] {
        let tag = format!("\"{}-{coding}\"", base.trim_matches('"'));
        // Made on the first hit in this coding (gzip: on the miss), then kept.
        for _ in 0..2 {
            let response = get(Some(coding)).await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(header(&response, "cache-status"), "broadsheet; hit");
            assert_eq!(header(&response, "content-encoding"), coding);
            assert_eq!(header(&response, "vary"), "accept-encoding");
            assert_eq!(header(&response, "etag"), tag);
            let body = response.bytes().await.unwrap();
            assert!(body.len() < identity.len() / 2, "{coding}: {}", body.len());
            assert_eq!(decode(coding, &body), identity, "{coding}");
        }
        // Revalidating the coded form names it again.
        let response = app
            .client
            .get(&path)
            .header("accept-encoding", coding)
            .header("if-none-match", &tag)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 304);
        assert_eq!(header(&response, "cache-status"), "broadsheet; hit");
        assert_eq!(header(&response, "etag"), tag);
    }
    // HEAD is answered as the identity representation.
    let head = app
        .client
        .head(&path)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-encoding"), "");
    assert_eq!(header(&head, "content-length"), identity.len().to_string());
}
