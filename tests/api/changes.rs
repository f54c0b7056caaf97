//! The change log, read over HTTP the way its clients read it: a public
//! mirror that replays it and must end up holding what the API publishes,
//! writers committing out of order, what the public and editors each see,
//! the events each write makes, and the paging of `GET /v1/changes`.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, Utc};
use diesel_async::SimpleAsyncConnection;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::*;

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header").to_string())
}

/// An app with the base outlets and tags, and an admin's key (admins may
/// make every write).
struct Desk {
    app: TestApp,
    admin: String,
}

impl Desk {
    async fn new() -> Self {
        Self::with_site(base_site()).await
    }

    async fn with_site(site: Value) -> Self {
        let app = TestApp::with_site(site).await;
        let admin = app.key("admin").await;
        Self { app, admin }
    }

    /// A write as the admin: its status and JSON body (null when none).
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.app.with_key(method.clone(), path, &self.admin);
        if let Some(body) = body {
            let media = if method == Method::PATCH {
                "application/merge-patch+json"
            } else {
                "application/json"
            };
            request = request.header(CONTENT_TYPE, media).body(body.to_string());
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A write that must succeed; its JSON body.
    async fn write(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, json) = self.call(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {json}"
        );
        json
    }

    /// An article as an editor sees it.
    async fn article(&self, slug: &str) -> Value {
        self.write(Method::GET, &format!("/v1/articles/{slug}"), None)
            .await
    }

    /// Every event after `since`, as the public (no key) or an editor reads
    /// them, walking the pages.
    async fn events(&self, editor: bool, since: i64) -> Vec<Value> {
        let mut events = Vec::new();
        let mut since = since;
        loop {
            let page = self.page(editor, &format!("since={since}&limit=50")).await;
            events.extend(page["data"].as_array().expect("data").iter().cloned());
            since = page["last_id"].as_i64().expect("last_id");
            if page["has_more"] != true {
                return events;
            }
        }
    }

    async fn page(&self, editor: bool, query: &str) -> Value {
        let path = format!("/v1/changes?{query}");
        let response = if editor {
            self.app
                .with_key(Method::GET, &path, &self.admin)
                .send()
                .await
                .expect("request reaches the server")
        } else {
            self.app.get(&path).await
        };
        assert_eq!(response.status(), 200, "{path}");
        response.json().await.expect("a page of events")
    }

    /// The id of the latest event, as editors see the log.
    async fn head(&self) -> i64 {
        self.page(true, "since=0&limit=1000").await["last_id"]
            .as_i64()
            .expect("last_id")
    }

    /// The events the writes in `act` made, as editors and as the public see them.
    async fn events_of(&self, since: i64) -> (Vec<Value>, Vec<Value>) {
        (
            self.events(true, since).await,
            self.events(false, since).await,
        )
    }
}

/// `type resource_id` of each event, for comparing whole sequences at once.
fn summary(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            format!(
                "{} {}",
                event["type"].as_str().expect("type"),
                event["resource_id"]
            )
        })
        .collect()
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|event| event["type"].as_str().expect("type").to_string())
        .collect()
}

fn ids_of(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

/// Waits (up to 10 s) until the public log holds an event `check` accepts
/// after `since`.
async fn wait_for_public(desk: &Desk, since: i64, check: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let events = desk.events(false, since).await;
        if events.iter().any(&check) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "the event never came: {events:#?}"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
}

/// A client that keeps a copy of what the public can read by replaying the
/// log, as `docs/changes.md` tells one to.
#[derive(Default)]
struct Mirror {
    since: i64,
    /// (kind, resource id) → (representation, its ETag).
    held: BTreeMap<(String, i64), (Value, String)>,
    /// Every slug an event named, and every text fetched, to find leaks.
    seen: Vec<String>,
    fetches: usize,
    skipped: usize,
}

impl Mirror {
    async fn sync(&mut self, app: &TestApp) {
        loop {
            let path = format!("/v1/changes?since={}&limit=7", self.since);
            let (status, page) = app.get_json(&path).await;
            assert_eq!(status, 200, "{path}: {page}");
            for event in page["data"].as_array().expect("data") {
                self.apply(app, event).await;
            }
            self.since = page["last_id"].as_i64().expect("last_id");
            if page["has_more"] != true {
                return;
            }
        }
    }

    async fn apply(&mut self, app: &TestApp, event: &Value) {
        self.seen.push(event.to_string());
        let key = (
            event["kind"].as_str().expect("kind").to_string(),
            event["resource_id"].as_i64().expect("resource_id"),
        );
        if event["tombstone"] == true {
            assert!(event.get("url").is_none_or(Value::is_null), "{event}");
            assert!(event.get("etag").is_none_or(Value::is_null), "{event}");
            self.held.remove(&key);
            return;
        }
        let url = event["url"].as_str().expect("a url on a live event");
        if let (Some(etag), Some((_, held))) = (event["etag"].as_str(), self.held.get(&key)) {
            if etag == held {
                self.skipped += 1;
                return;
            }
        }
        let response = app.get(url).await;
        self.fetches += 1;
        match response.status().as_u16() {
            200 => {
                let etag = header(&response, "etag").expect("an ETag");
                let body: Value = response.json().await.expect("JSON");
                self.seen.push(body.to_string());
                self.held.insert(key, (body, etag));
            }
            // Gone or moved since the event: a later event says so.
            404 | 308 => {}
            status => panic!("GET {url}: {status}"),
        }
    }

    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.held
            .iter()
            .filter(|((held, _), _)| held == kind)
            .map(|(_, (body, _))| body)
            .collect()
    }

    /// Asserts that the mirror holds exactly what the API publishes now.
    async fn assert_matches(&self, app: &TestApp) {
        let listed = app.collect_pages("/v1/articles?limit=3").await;
        let mut mirrored: BTreeMap<String, &Value> = self
            .of_kind("article")
            .into_iter()
            .map(|article| (article["slug"].as_str().expect("slug").to_string(), article))
            .collect();
        let listed_slugs: Vec<&str> = listed
            .iter()
            .map(|item| item["slug"].as_str().expect("slug"))
            .collect();
        let mut mirrored_slugs: Vec<&str> = mirrored.keys().map(String::as_str).collect();
        let mut sorted = listed_slugs.clone();
        sorted.sort();
        mirrored_slugs.sort();
        assert_eq!(
            mirrored_slugs, sorted,
            "the mirror's articles are the listed ones"
        );
        for summary in &listed {
            let slug = summary["slug"].as_str().expect("slug");
            let (status, whole) = app.get_json(&format!("/v1/articles/{slug}")).await;
            assert_eq!(status, 200);
            let held = mirrored.remove(slug).expect("mirrored");
            assert_eq!(held, &whole, "the mirror's {slug}");
            for (member, value) in summary.as_object().expect("an object") {
                assert_eq!(&held[member], value, "{slug}'s {member} as listed");
            }
        }

        let excerpts = app.collect_pages("/v1/excerpts?limit=5").await;
        let mut held: Vec<&Value> = self.of_kind("excerpt");
        held.sort_by_key(|excerpt| excerpt["id"].as_i64());
        let mut listed: Vec<&Value> = excerpts.iter().collect();
        listed.sort_by_key(|excerpt| excerpt["id"].as_i64());
        assert_eq!(held, listed, "the mirror's excerpts");

        let outlets = app.collect_pages("/v1/outlets?limit=2").await;
        let shape = |outlet: &Value| {
            json!({
                "slug": outlet["slug"], "name": outlet["name"],
                "home_url": outlet["home_url"], "country_code": outlet["country_code"],
            })
        };
        let mut held: Vec<Value> = self.of_kind("outlet").into_iter().map(shape).collect();
        let mut listed: Vec<Value> = outlets.iter().map(shape).collect();
        held.sort_by_key(|outlet| outlet["slug"].to_string());
        listed.sort_by_key(|outlet| outlet["slug"].to_string());
        assert_eq!(held, listed, "the mirror's outlets");

        // Each roundup and link held is what its URL serves.
        for kind in ["roundup", "roundup_link"] {
            for ((_, id), (body, _)) in self.held.iter().filter(|((k, _), _)| k == kind) {
                let path = match kind {
                    "roundup" => format!("/v1/roundups/{id}"),
                    _ => format!("/v1/roundup-links/{id}"),
                };
                let (status, now) = app.get_json(&path).await;
                assert_eq!(status, 200, "{path} is still public");
                assert_eq!(body, &now, "the mirror's {path}");
            }
        }
    }

    /// Asserts that nothing the mirror read named `secret`.
    fn assert_never_saw(&self, secret: &str) {
        for text in &self.seen {
            assert!(!text.contains(secret), "`{secret}` leaked in {text}");
        }
    }
}

/// A post with an excerpt and a roundup of two links. Its text does not
/// spell a `secret-` slug, which must never reach the public.
fn post(slug: &str, status: &str) -> Value {
    let name = slug.trim_start_matches("secret-");
    json!({
        "slug": slug,
        "title": format!("Title of {name}"),
        "summary": format!("Summary of {name}"),
        "body_markdown": format!("Commentary on **{name}**."),
        "status": status,
        "tags": ["pakistan"],
        "excerpts": [excerpt(&format!("Quoted in {name}"), "dawn")],
        "roundups": [roundup(&format!("Press on {name}"), &[("First link", "bloomberg"), ("Second link", "dawn")])],
    })
}

#[tokio::test]
async fn a_mirror_that_replays_the_public_log_holds_what_the_api_publishes() {
    let desk = Desk::new().await;
    let mut mirror = Mirror::default();
    let a = Method::POST;

    // Outlets: created, renamed.
    desk.write(
        a.clone(),
        "/v1/outlets",
        Some(json!({"slug": "reuters", "name": "Reuters", "home_url": "https://www.reuters.com/"})),
    )
    .await;
    desk.write(
        Method::PATCH,
        "/v1/outlets/reuters",
        Some(json!({"name": "Reuters Wire", "country_code": "GB"})),
    )
    .await;

    // A draft, edited, published later; another published directly.
    desk.write(
        a.clone(),
        "/v1/articles",
        Some(post("secret-first-draft", "draft")),
    )
    .await;
    desk.write(
        Method::PATCH,
        "/v1/articles/secret-first-draft",
        Some(json!({"title": "Still a draft"})),
    )
    .await;
    desk.write(a.clone(), "/v1/articles", Some(post("direct", "published")))
        .await;
    desk.write(
        a.clone(),
        "/v1/articles/secret-first-draft/excerpts",
        Some(excerpt("Draft-only quote", "reuters")),
    )
    .await;
    // Renamed and published at once: the public never learns the draft's slug.
    desk.write(
        Method::PATCH,
        "/v1/articles/secret-first-draft",
        Some(json!({"slug": "drafted-then-published", "status": "published"})),
    )
    .await;
    // A draft that is deleted without ever being public.
    desk.write(
        a.clone(),
        "/v1/articles",
        Some(post("secret-abandoned", "draft")),
    )
    .await;
    desk.write(Method::DELETE, "/v1/articles/secret-abandoned", None)
        .await;

    mirror.sync(&desk.app).await;
    mirror.assert_matches(&desk.app).await;

    // A scheduled post, announced when due.
    let due = Utc::now() + Duration::milliseconds(1500);
    let mut scheduled = post("scheduled", "published");
    scheduled["published_at"] = json!(due);
    let before = desk.head().await;
    desk.write(a.clone(), "/v1/articles", Some(scheduled)).await;

    // Renamed, retitled, excerpts and links edited, reordered, deleted.
    desk.write(
        Method::PATCH,
        "/v1/articles/direct",
        Some(json!({"slug": "direct-renamed"})),
    )
    .await;
    desk.write(
        Method::PATCH,
        "/v1/articles/direct-renamed",
        Some(json!({"title": "A better title", "tags": ["pakistan", "economy"]})),
    )
    .await;
    let direct = desk.article("direct-renamed").await;
    desk.write(
        a.clone(),
        "/v1/articles/direct-renamed/excerpts",
        Some(excerpt("A second quote", "reuters")),
    )
    .await;
    let excerpts = ids_of(&desk.article("direct-renamed").await["excerpts"]);
    desk.write(
        Method::PATCH,
        &format!("/v1/excerpts/{}", excerpts[0]),
        Some(json!({"headline": "Edited headline"})),
    )
    .await;
    desk.write(
        Method::PUT,
        "/v1/articles/direct-renamed/excerpts/order",
        Some(json!({"ids": [excerpts[1], excerpts[0]]})),
    )
    .await;
    let roundup = direct["roundups"][0]["id"].as_i64().expect("a roundup id");
    let links = ids_of(&direct["roundups"][0]["links"]);
    desk.write(
        a.clone(),
        "/v1/articles/direct-renamed/roundups",
        Some(roundup_body("Second roundup")),
    )
    .await;
    desk.write(
        Method::PATCH,
        &format!("/v1/roundups/{roundup}"),
        Some(json!({"title": "Retitled roundup"})),
    )
    .await;
    desk.write(
        Method::PATCH,
        &format!("/v1/roundup-links/{}", links[0]),
        Some(json!({"headline": "Edited link"})),
    )
    .await;
    desk.write(
        a.clone(),
        &format!("/v1/roundups/{roundup}/links"),
        Some(json!({"headline": "Third link", "outlet": "reuters", "url": "https://www.reuters.com/1"})),
    )
    .await;
    let links = ids_of(&desk.article("direct-renamed").await["roundups"][0]["links"]);
    desk.write(
        Method::PUT,
        &format!("/v1/roundups/{roundup}/links/order"),
        Some(json!({"ids": [links[2], links[0], links[1]]})),
    )
    .await;
    desk.write(
        Method::DELETE,
        &format!("/v1/roundup-links/{}", links[1]),
        None,
    )
    .await;

    // Part-way: the mirror catches up.
    mirror.sync(&desk.app).await;
    mirror.assert_matches(&desk.app).await;

    // The scheduled post reaches the public log by itself.
    wait_for_public(&desk, before, |event| {
        event["type"] == "article.published" && event["slug"] == "scheduled"
    })
    .await;
    mirror.sync(&desk.app).await;
    mirror.assert_matches(&desk.app).await;
    assert!(
        mirror
            .of_kind("article")
            .iter()
            .any(|article| article["slug"] == "scheduled"),
        "the scheduled post is mirrored once due"
    );

    // An outlet that articles cite is renamed; a roundup deleted; an
    // excerpt deleted; a post unpublished, another deleted.
    desk.write(
        Method::PATCH,
        "/v1/outlets/dawn",
        Some(json!({"slug": "dawn-news", "name": "Dawn News"})),
    )
    .await;
    let second_roundup = desk.article("direct-renamed").await["roundups"][1]["id"].clone();
    desk.write(
        Method::DELETE,
        &format!("/v1/roundups/{second_roundup}"),
        None,
    )
    .await;
    desk.write(
        Method::DELETE,
        &format!("/v1/excerpts/{}", excerpts[1]),
        None,
    )
    .await;
    desk.write(
        Method::PATCH,
        "/v1/articles/scheduled",
        Some(json!({"status": "draft"})),
    )
    .await;
    desk.write(Method::DELETE, "/v1/articles/drafted-then-published", None)
        .await;

    // A revision restored: the title before the retitle comes back.
    let revisions = desk
        .write(Method::GET, "/v1/articles/direct-renamed/revisions", None)
        .await;
    let retitle = revisions["data"]
        .as_array()
        .expect("revisions")
        .iter()
        .find(|revision| revision["article"]["title"] == "Title of direct")
        .expect("the revision before the retitle")["id"]
        .clone();
    desk.write(
        a.clone(),
        &format!("/v1/articles/direct-renamed/revisions/{retitle}/restore"),
        None,
    )
    .await;

    mirror.sync(&desk.app).await;
    mirror.assert_matches(&desk.app).await;
    assert!(
        mirror.skipped > 0,
        "events whose ETag the mirror held cost no GET"
    );
    for secret in ["secret-first-draft", "secret-abandoned"] {
        mirror.assert_never_saw(secret);
    }

    // A mirror starting afresh at the end agrees.
    let mut fresh = Mirror::default();
    fresh.sync(&desk.app).await;
    fresh.assert_matches(&desk.app).await;
    assert_eq!(fresh.held.len(), mirror.held.len());
}

fn roundup_body(title: &str) -> Value {
    roundup(title, &[("Roundup link", "bloomberg")])
}
