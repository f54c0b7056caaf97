//! HTTP caching: every public read sends validators and cache headers and
//! answers conditional requests with 304; the validators change exactly
//! when what a representation shows does.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::excerpts::with;
use crate::helpers::*;

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header").to_string())
}

/// An HTTP date, as `Last-Modified` carries it.
fn http_date(value: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc2822(value)
        .expect("an HTTP date")
        .with_timezone(&Utc)
}

/// What a client keeps of a response to revalidate it.
#[derive(Debug, Clone, PartialEq)]
struct Validators {
    etag: String,
    last_modified: Option<DateTime<Utc>>,
}

async fn validators(app: &TestApp, path: &str) -> Validators {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    Validators {
        etag: header(&response, "etag").expect("an ETag"),
        last_modified: header(&response, "last-modified").map(|value| http_date(&value)),
    }
}

/// Asserts that `path` changed since `before`: a new ETag, and a
/// Last-Modified later than before (callers wait over a second first).
async fn assert_renewed(app: &TestApp, path: &str, before: &Validators) -> Validators {
    let after = validators(app, path).await;
    assert_ne!(after.etag, before.etag, "{path}: same ETag");
    assert!(
        after.last_modified > before.last_modified,
        "{path}: Last-Modified {:?} is not after {:?}",
        after.last_modified,
        before.last_modified
    );
    after
}

/// Last-Modified has whole seconds: what changes after this is seen as later.
async fn let_a_second_pass() {
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
}

/// A quoted article (bloomberg excerpt, dawn link, tagged pakistan) with
/// views, and an unrelated one quoting the-news.
fn site() -> Value {
    let now = Utc::now();
    let quoted = with(
        with(
            with(
                published("quoted", now - Duration::days(2)),
                "excerpts",
                json!([excerpt("Quoted passage", "bloomberg")]),
            ),
            "roundups",
            json!([roundup("From Pakistan Press", &[("A link", "dawn")])]),
        ),
        "tags",
        json!(["pakistan"]),
    );
    let unrelated = with(
        published("unrelated", now - Duration::days(3)),
        "excerpts",
        json!([excerpt("Another passage", "the-news")]),
    );
    site_with(
        vec![quoted, unrelated],
        vec![json!({"article": "quoted", "hours_ago": 1, "views": 40})],
    )
}

async fn first_id(app: &TestApp, path: &str) -> i64 {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"][0]["id"].as_i64().expect("an id")
}

#[tokio::test]
async fn every_public_read_sends_validators_and_answers_conditional_requests_with_304() {
    let app = TestApp::with_site(site()).await;
    let excerpt = first_id(&app, "/v1/excerpts?article=quoted").await;
    let link = first_id(&app, "/v1/roundup-links?article=quoted").await;
    let (_, roundup_link) = app.get_json(&format!("/v1/roundup-links/{link}")).await;
    let roundup = roundup_link["roundup"]["id"]
        .as_i64()
        .expect("a roundup id");
    let key = app.key("editor").await;

    // (path, whether it has a Last-Modified)
    let reads: Vec<(String, bool)> = vec![
        ("/".into(), false),
        ("/openapi.json".into(), false),
        ("/v1/articles".into(), true),
        ("/v1/articles?tag=pakistan".into(), true),
        ("/v1/articles?outlet=bloomberg".into(), true),
        ("/v1/articles/quoted".into(), true),
        ("/v1/articles/quoted/stats".into(), false),
        ("/v1/excerpts".into(), true),
        (format!("/v1/excerpts/{excerpt}"), true),
        (format!("/v1/roundups/{roundup}"), true),
        ("/v1/roundup-links".into(), true),
        (format!("/v1/roundup-links/{link}"), true),
        ("/v1/outlets".into(), true),
        ("/v1/outlets/bloomberg".into(), true),
        ("/v1/tags".into(), true),
        ("/v1/rankings/popular".into(), true),
        ("/v1/rankings/popular?tag=pakistan".into(), true),
        ("/v1/rankings/trending".into(), true),
        ("/v1/articles?include=excerpts,roundups".into(), true),
        ("/v1/search?q=commentary".into(), true),
        ("/v1/feeds/atom".into(), true),
        ("/v1/feeds/rss?tag=pakistan".into(), true),
        ("/v1/feeds/json?outlet=bloomberg".into(), true),
    ];
    for (path, dated) in reads {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let etag = header(&response, "etag").unwrap_or_default();
        assert!(
            etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
            "{path}: a strong ETag, not {etag:?}"
        );
        let cache_control = header(&response, "cache-control").unwrap_or_default();
        assert!(
            cache_control.starts_with("public, ") && cache_control.contains("s-maxage="),
            "{path}: {cache_control}"
        );
        let last_modified = header(&response, "last-modified");
        assert_eq!(last_modified.is_some(), dated, "{path}: {last_modified:?}");

        let revalidated = app
            .client
            .get(format!("{}{path}", app.address))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(revalidated.status(), 304, "{path} with If-None-Match");
        assert_eq!(header(&revalidated, "etag").as_deref(), Some(etag.as_str()));
        assert!(
            revalidated.bytes().await.unwrap().is_empty(),
            "{path}: 304 has a body"
        );

        if let Some(last_modified) = last_modified {
            let revalidated = app
                .client
                .get(format!("{}{path}", app.address))
                .header("If-Modified-Since", &last_modified)
                .send()
                .await
                .unwrap();
            assert_eq!(revalidated.status(), 304, "{path} with If-Modified-Since");
            assert!(revalidated.bytes().await.unwrap().is_empty());
            // A date before it is answered in full.
            let earlier = (http_date(&last_modified) - Duration::seconds(1))
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            let full = app
                .client
                .get(format!("{}{path}", app.address))
                .header("If-Modified-Since", earlier)
                .send()
                .await
                .unwrap();
            assert_eq!(full.status(), 200, "{path} modified since a second before");
        }

        let keyed = app.with_key(Method::GET, &path, &key).send().await.unwrap();
        assert_eq!(keyed.status(), 200, "{path} with a key");
        assert_eq!(
            header(&keyed, "cache-control").as_deref(),
            Some("private, no-store"),
            "{path} with a key"
        );
        assert_eq!(header(&keyed, "surrogate-key"), None, "{path} with a key");
    }
}

#[tokio::test]
async fn the_cache_lifetimes_are_configurable() {
    let app = TestApp::spawn_configured(|config| {
        config.cache_max_age = 5;
        config.cache_s_maxage = 3600;
    })
    .await;
    let response = app.get("/v1/articles").await;
    let cache_control = header(&response, "cache-control").unwrap_or_default();
    assert!(
        cache_control.starts_with("public, max-age=5, s-maxage=3600,"),
        "{cache_control}"
    );
}

#[tokio::test]
async fn renaming_an_outlet_renews_the_articles_citing_it_and_their_lists_only() {
    let app = TestApp::with_site(site()).await;
    let key = app.key("editor").await;
    let citing = [
        "/v1/articles/quoted",
        "/v1/articles",
        "/v1/articles?outlet=bloomberg",
        "/v1/excerpts",
        "/v1/outlets/bloomberg",
        "/v1/articles?include=excerpts",
        "/v1/search?q=commentary",
        "/v1/feeds/atom",
        "/v1/feeds/json?outlet=bloomberg",
    ];
    let mut before = Vec::new();
    for path in citing {
        before.push(validators(&app, path).await);
    }
    let unrelated = validators(&app, "/v1/articles/unrelated").await;
    let unrelated_list = validators(&app, "/v1/articles?outlet=the-news").await;
    let_a_second_pass().await;

    let renamed = app
        .with_key(Method::PATCH, "/v1/outlets/bloomberg", &key)
        .json(&json!({"name": "Bloomberg News"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);

    for (path, before) in citing.iter().zip(&before) {
        assert_renewed(&app, path, before).await;
    }
    assert_eq!(
        validators(&app, "/v1/articles/unrelated").await,
        unrelated,
        "an article that does not cite the outlet is unchanged"
    );
    assert_eq!(
        validators(&app, "/v1/articles?outlet=the-news").await,
        unrelated_list
    );

    // A PATCH that changes nothing revises nothing.
    let quoted = validators(&app, "/v1/articles/quoted").await;
    let same = app
        .with_key(Method::PATCH, "/v1/outlets/bloomberg", &key)
        .json(&json!({"name": "Bloomberg News"}))
        .send()
        .await
        .unwrap();
    assert_eq!(same.status(), 200);
    assert_eq!(validators(&app, "/v1/articles/quoted").await, quoted);
    let (_, list) = app.get_json("/v1/articles").await;
    assert_eq!(list["data"][0]["slug"], "quoted");
}

#[tokio::test]
async fn excerpt_writes_renew_their_article_and_the_lists() {
    let app = TestApp::with_site(site()).await;
    let key = app.key("editor").await;
    let paths = ["/v1/articles/quoted", "/v1/articles", "/v1/excerpts"];
    let read_all = || async {
        let mut all = Vec::new();
        for path in paths {
            all.push(validators(&app, path).await);
        }
        all
    };

    let before = read_all().await;
    let_a_second_pass().await;
    let created = app
        .with_key(Method::POST, "/v1/articles/quoted/excerpts", &key)
        .json(&excerpt("A new passage", "dawn"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .expect("an id");
    let mut current = Vec::new();
    for (path, before) in paths.iter().zip(&before) {
        current.push(assert_renewed(&app, path, before).await);
    }

    let_a_second_pass().await;
    let edited = app
        .with_key(Method::PATCH, &format!("/v1/excerpts/{id}"), &key)
        .json(&json!({"headline": "An edited passage"}))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let mut after_edit = Vec::new();
    for (path, before) in paths.iter().zip(&current) {
        after_edit.push(assert_renewed(&app, path, before).await);
    }

    let_a_second_pass().await;
    let deleted = app
        .with_key(Method::DELETE, &format!("/v1/excerpts/{id}"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    for (path, before) in paths.iter().zip(&after_edit) {
        assert_renewed(&app, path, before).await;
    }
}

#[tokio::test]
async fn a_list_that_loses_an_item_gets_a_new_etag_and_its_last_modified_never_goes_back() {
    let now = Utc::now();
    let app = TestApp::with_site(site_with(
        vec![
            published("older", now - Duration::days(3)),
            published("newer", now - Duration::days(2)),
            with(
                published("tagged", now - Duration::days(1)),
                "tags",
                json!(["economy"]),
            ),
        ],
        vec![],
    ))
    .await;
    let key = app.key("editor").await;
    let admin = app.key("admin").await;
    let patch = |slug: &str, body: Value| {
        app.with_key(Method::PATCH, &format!("/v1/articles/{slug}"), &key)
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
            .send()
    };

    // The newest revision on the page is the article that then leaves it.
    let_a_second_pass().await;
    assert_eq!(
        patch("newer", json!({"title": "Retitled"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let before = validators(&app, "/v1/articles").await;
    let_a_second_pass().await;
    assert_eq!(
        patch("newer", json!({"status": "draft"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let unpublished = assert_renewed(&app, "/v1/articles", &before).await;

    let_a_second_pass().await;
    let deleted = app
        .with_key(Method::DELETE, "/v1/articles/older", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let after_delete = assert_renewed(&app, "/v1/articles", &unpublished).await;

    // Re-scheduled into the future: it leaves the list.
    let_a_second_pass().await;
    let later = (Utc::now() + Duration::days(1)).to_rfc3339();
    assert_eq!(
        patch("tagged", json!({"published_at": later}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_renewed(&app, "/v1/articles", &after_delete).await;
    let (_, page) = app.get_json("/v1/articles").await;
    assert_eq!(page["data"], json!([]));
}

#[tokio::test]
async fn removing_a_tag_renews_the_tags_list_page() {
    let now = Utc::now();
    let app = TestApp::with_site(site_with(
        vec![
            with(
                published("first", now - Duration::days(2)),
                "tags",
                json!(["economy"]),
            ),
            with(
                published("second", now - Duration::days(1)),
                "tags",
                json!(["economy", "pakistan"]),
            ),
        ],
        vec![],
    ))
    .await;
    let key = app.key("editor").await;
    let tags = validators(&app, "/v1/tags").await;
    let tagged = validators(&app, "/v1/articles?tag=pakistan").await;
    let_a_second_pass().await;
    let patched = app
        .with_key(Method::PATCH, "/v1/articles/second", &key)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"tags": ["economy"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert_renewed(&app, "/v1/tags", &tags).await;
    assert_renewed(&app, "/v1/articles?tag=pakistan", &tagged).await;
}

#[tokio::test]
async fn a_scheduled_article_that_becomes_public_moves_the_lists_last_modified_to_its_publication()
{
    let app = TestApp::with_site(site_with(
        vec![published("old", Utc::now() - Duration::days(30))],
        vec![],
    ))
    .await;
    // Scheduled once the server is up, so that a slow start cannot eat the wait.
    let publication = Utc::now() + Duration::seconds(3);
    app.load(site_with(vec![published("soon", publication)], vec![]))
        .await;
    let before = validators(&app, "/v1/articles").await;
    let (_, page) = app.get_json("/v1/articles").await;
    assert_eq!(
        page["data"][0]["slug"], "old",
        "read before the publication"
    );
    assert!(before.last_modified.unwrap() < publication);
    tokio::time::sleep((publication - Utc::now()).to_std().unwrap_or_default()).await;
    tokio::time::sleep(StdDuration::from_millis(200)).await;

    let after = validators(&app, "/v1/articles").await;
    assert_ne!(after.etag, before.etag);
    assert_eq!(
        after.last_modified.map(|at| at.timestamp()),
        Some(publication.timestamp()),
        "Last-Modified is the publication time"
    );
    let (_, page) = app.get_json("/v1/articles").await;
    assert_eq!(page["data"][0]["slug"], "soon");
}

#[tokio::test]
async fn an_articles_surrogate_key_names_the_article_and_the_outlets_and_tags_it_shows() {
    let app = TestApp::with_site(site()).await;
    let key_of = |response: &Response| {
        header(response, "surrogate-key")
            .unwrap_or_default()
            .split(' ')
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let article = key_of(&app.get("/v1/articles/quoted").await);
    let outlet = |slug: &'static str| {
        let app = &app;
        async move { key_of(&app.get(&format!("/v1/outlets/{slug}")).await) }
    };
    for slug in ["bloomberg", "dawn"] {
        let keys = outlet(slug).await;
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert!(article.contains(&keys[0]), "{article:?} lacks {keys:?}");
    }
    assert!(
        !article.contains(&outlet("the-news").await[0]),
        "{article:?}"
    );
    let tags = key_of(&app.get("/v1/tags").await);
    let pakistan = tags
        .iter()
        .find(|key| key.starts_with("tag-"))
        .expect("a tag key");
    assert!(article.contains(pakistan), "{article:?}");
    assert_eq!(
        article
            .iter()
            .filter(|key| key.starts_with("article-"))
            .count(),
        1,
        "{article:?}"
    );
    assert_eq!(article.len(), 4, "{article:?}");

    // The list names the list and each article on the page.
    let list = key_of(&app.get("/v1/articles").await);
    assert!(list.contains(&"articles".to_string()), "{list:?}");
    let article_key = article
        .iter()
        .find(|key| key.starts_with("article-"))
        .unwrap();
    assert!(list.contains(article_key), "{list:?}");
}

#[tokio::test]
async fn writes_that_bypass_the_api_renew_validators_too() {
    let app = TestApp::with_site(site()).await;
    let tagged = validators(&app, "/v1/articles/quoted").await;
    let untagged = validators(&app, "/v1/articles/unrelated").await;
    let tags = validators(&app, "/v1/tags").await;
    let_a_second_pass().await;
    app.sql("UPDATE tags SET name = 'Pakistani' WHERE slug = 'pakistan'")
        .await;
    assert_renewed(&app, "/v1/articles/quoted", &tagged).await;
    assert_renewed(&app, "/v1/tags", &tags).await;
    assert_eq!(validators(&app, "/v1/articles/unrelated").await, untagged);

    // An UPDATE that changes nothing is no revision.
    let tagged = validators(&app, "/v1/articles/quoted").await;
    app.sql("UPDATE articles SET title = title; UPDATE tags SET name = name")
        .await;
    assert_eq!(validators(&app, "/v1/articles/quoted").await, tagged);
}
