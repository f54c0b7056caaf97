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
    let second_roundup = desk.article("direct-renamed").await["roundups"][1]["id"].clone();
    desk.write(
        Method::PUT,
        "/v1/articles/direct-renamed/roundups/order",
        Some(json!({"ids": [second_roundup, roundup]})),
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
    let links = ids_of(&desk.article("direct-renamed").await["roundups"][1]["links"]);
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

    // Part-way: the mirror catches up (the scheduled post may be due by
    // now, and the log learns of it within a second: compare once it has).
    mirror.sync(&desk.app).await;

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

/// The id the log gives the article last called `slug`.
async fn article_id(desk: &Desk, slug: &str) -> i64 {
    desk.events(true, 0)
        .await
        .iter()
        .rev()
        .find(|event| event["kind"] == "article" && event["slug"] == slug)
        .and_then(|event| event["resource_id"].as_i64())
        .unwrap_or_else(|| panic!("no event names {slug}"))
}

/// `type resource_id` of each event, sorted: what a write produced, in
/// whatever order its statements staged it.
fn sorted(events: &[Value]) -> Vec<String> {
    let mut summary = summary(events);
    summary.sort();
    summary
}

fn expected(events: &[(&str, i64)]) -> Vec<String> {
    let mut expected: Vec<String> = events
        .iter()
        .map(|(event_type, id)| format!("{event_type} {id}"))
        .collect();
    expected.sort();
    expected
}

/// A published post `live` (two excerpts, a roundup of two links), a
/// draft `hidden` with an excerpt, and an outlet nothing cites.
fn newsroom() -> Value {
    let mut live = published("live", Utc::now() - Duration::days(1));
    live["excerpts"] = json!([
        excerpt("Excerpt A", "bloomberg"),
        excerpt("Excerpt B", "dawn")
    ]);
    live["roundups"] = json!([roundup(
        "From Pakistan Press",
        &[("Link one", "the-news"), ("Link two", "dawn")]
    )]);
    let mut hidden = draft("hidden");
    hidden["excerpts"] = json!([excerpt("Hidden excerpt", "dawn")]);
    let mut site = site_with(vec![live, hidden], vec![]);
    site["outlets"]
        .as_array_mut()
        .expect("outlets")
        .push(json!({"slug": "unused", "name": "Unused", "home_url": "https://unused.example/"}));
    site
}

/// The ids of what `live` holds.
struct Live {
    article: i64,
    excerpts: Vec<i64>,
    roundup: i64,
    links: Vec<i64>,
}

async fn live(desk: &Desk) -> Live {
    let article = desk.article("live").await;
    Live {
        article: article_id(desk, "live").await,
        excerpts: ids_of(&article["excerpts"]),
        roundup: article["roundups"][0]["id"].as_i64().expect("a roundup"),
        links: ids_of(&article["roundups"][0]["links"]),
    }
}

impl Live {
    /// `action` of the article and of everything it holds.
    fn all(&self, action: &str) -> Vec<(String, i64)> {
        let mut all = vec![(format!("article.{action}"), self.article)];
        all.extend(
            self.excerpts
                .iter()
                .map(|id| (format!("excerpt.{action}"), *id)),
        );
        all.push((format!("roundup.{action}"), self.roundup));
        all.extend(
            self.links
                .iter()
                .map(|id| (format!("roundup_link.{action}"), *id)),
        );
        all
    }
}

fn owned(events: Vec<(String, i64)>) -> Vec<String> {
    let borrowed: Vec<(&str, i64)> = events.iter().map(|(t, id)| (t.as_str(), *id)).collect();
    expected(&borrowed)
}

/// What one write logs, as editors read it.
async fn logged(desk: &Desk, method: Method, path: &str, body: Option<Value>) -> Vec<Value> {
    let since = desk.head().await;
    desk.write(method, path, body).await;
    desk.events(true, since).await
}

/// Asserts that each public event's ETag is the one a GET of its URL answers.
async fn assert_etags_current(desk: &Desk, events: &[Value]) {
    for event in events.iter().filter(|event| event["tombstone"] == false) {
        let url = event["url"].as_str().expect("url");
        let response = desk.app.get(url).await;
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            event["etag"].as_str(),
            header(&response, "etag").as_deref(),
            "the ETag of {event}"
        );
    }
}

#[tokio::test]
async fn each_write_logs_exactly_the_resources_it_changed() {
    let desk = Desk::with_site(newsroom()).await;
    let live = live(&desk).await;
    let outlet_of = |slug: &str| {
        let slug = slug.to_string();
        let desk = &desk;
        async move {
            desk.events(true, 0)
                .await
                .iter()
                .find(|event| event["kind"] == "outlet" && event["slug"] == slug.as_str())
                .and_then(|event| event["resource_id"].as_i64())
                .expect("an outlet event")
        }
    };

    // Articles: a draft created, a whole post created.
    let events = logged(&desk, Method::POST, "/v1/articles", Some(draft("fresh"))).await;
    let fresh = article_id(&desk, "fresh").await;
    assert_eq!(sorted(&events), expected(&[("article.created", fresh)]));
    let events = logged(
        &desk,
        Method::POST,
        "/v1/articles",
        Some(post("whole", "published")),
    )
    .await;
    let whole = desk.article("whole").await;
    let whole_id = article_id(&desk, "whole").await;
    let whole_links = ids_of(&whole["roundups"][0]["links"]);
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.created", whole_id),
            (
                "excerpt.created",
                whole["excerpts"][0]["id"].as_i64().unwrap()
            ),
            (
                "roundup.created",
                whole["roundups"][0]["id"].as_i64().unwrap()
            ),
            ("roundup_link.created", whole_links[0]),
            ("roundup_link.created", whole_links[1]),
        ])
    );
    assert!(
        events.iter().all(|event| event["etag"].is_string()),
        "{events:#?}"
    );
    assert_etags_current(&desk, &events).await;

    // A body edit changes the article alone; a retitle, everything showing the title.
    let events = logged(
        &desk,
        Method::PATCH,
        "/v1/articles/live",
        Some(json!({"body_markdown": "New words."})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[("article.updated", live.article)])
    );
    assert_etags_current(&desk, &events).await;
    let events = logged(
        &desk,
        Method::PATCH,
        "/v1/articles/live",
        Some(json!({"title": "New title"})),
    )
    .await;
    assert_eq!(sorted(&events), owned(live.all("updated")));
    assert_etags_current(&desk, &events).await;

    // A rename names the old slug; what the article holds shows the new one.
    let events = logged(
        &desk,
        Method::PATCH,
        "/v1/articles/live",
        Some(json!({"slug": "alive"})),
    )
    .await;
    let mut renamed = live.all("updated");
    renamed[0].0 = "article.renamed".into();
    assert_eq!(sorted(&events), owned(renamed));
    assert_eq!(
        events.iter().find(|e| e["kind"] == "article").unwrap()["previous_slug"],
        "live"
    );
    assert_eq!(
        events.iter().find(|e| e["kind"] == "article").unwrap()["slug"],
        "alive"
    );
    assert_etags_current(&desk, &events).await;
    desk.write(
        Method::PATCH,
        "/v1/articles/alive",
        Some(json!({"slug": "live"})),
    )
    .await;

    // A restored revision.
    let revisions = desk
        .write(Method::GET, "/v1/articles/live/revisions", None)
        .await;
    let retitled = revisions["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|revision| revision["article"]["title"] == "Title of live")
        .expect("the revision before the retitle")["id"]
        .clone();
    let events = logged(
        &desk,
        Method::POST,
        &format!("/v1/articles/live/revisions/{retitled}/restore"),
        None,
    )
    .await;
    assert_eq!(sorted(&events), owned(live.all("updated")));
    assert_etags_current(&desk, &events).await;

    // Excerpts: created, edited, reordered, deleted; each revises the article.
    let events = logged(
        &desk,
        Method::POST,
        "/v1/articles/live/excerpts",
        Some(excerpt("Excerpt C", "dawn")),
    )
    .await;
    let excerpts = ids_of(&desk.article("live").await["excerpts"]);
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("excerpt.created", excerpts[2])
        ])
    );
    assert_etags_current(&desk, &events).await;
    let events = logged(
        &desk,
        Method::PATCH,
        &format!("/v1/excerpts/{}", excerpts[0]),
        Some(json!({"headline": "Edited"})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("excerpt.updated", excerpts[0])
        ])
    );
    let events = logged(
        &desk,
        Method::PUT,
        "/v1/articles/live/excerpts/order",
        Some(json!({"ids": [excerpts[1], excerpts[0], excerpts[2]]})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("excerpt.updated", excerpts[0]),
            ("excerpt.updated", excerpts[1])
        ]),
        "the two excerpts that moved"
    );
    assert_etags_current(&desk, &events).await;
    let events = logged(
        &desk,
        Method::DELETE,
        &format!("/v1/excerpts/{}", excerpts[1]),
        None,
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("excerpt.deleted", excerpts[1]),
            ("excerpt.updated", excerpts[0]),
            ("excerpt.updated", excerpts[2])
        ]),
        "the deleted one, and those whose position closed the gap"
    );
    let deleted = events.iter().find(|e| e["action"] == "deleted").unwrap();
    assert_eq!(deleted["tombstone"], true);
    assert!(
        deleted["url"].is_null() && deleted["etag"].is_null(),
        "{deleted}"
    );

    // Roundups and links.
    let (press, links) = (live.roundup, live.links.clone());
    let events = logged(
        &desk,
        Method::PATCH,
        &format!("/v1/roundups/{press}"),
        Some(json!({"title": "Retitled"})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.updated", press),
            ("roundup_link.updated", links[0]),
            ("roundup_link.updated", links[1])
        ]),
        "links show their roundup's title"
    );
    assert_etags_current(&desk, &events).await;
    let events = logged(
        &desk,
        Method::POST,
        &format!("/v1/roundups/{press}/links"),
        Some(json!({"headline": "Link three", "outlet": "dawn", "url": "https://www.dawn.com/3"})),
    )
    .await;
    let now_links = ids_of(&desk.article("live").await["roundups"][0]["links"]);
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.updated", press),
            ("roundup_link.created", now_links[2])
        ])
    );
    let events = logged(
        &desk,
        Method::PATCH,
        &format!("/v1/roundup-links/{}", links[0]),
        Some(json!({"headline": "Edited link"})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.updated", press),
            ("roundup_link.updated", links[0])
        ])
    );
    let events = logged(
        &desk,
        Method::PUT,
        &format!("/v1/roundups/{press}/links/order"),
        Some(json!({"ids": [now_links[1], now_links[0], now_links[2]]})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.updated", press),
            ("roundup_link.updated", now_links[0]),
            ("roundup_link.updated", now_links[1])
        ])
    );
    assert_etags_current(&desk, &events).await;
    let events = logged(
        &desk,
        Method::DELETE,
        &format!("/v1/roundup-links/{}", now_links[1]),
        None,
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.updated", press),
            ("roundup_link.deleted", now_links[1]),
            ("roundup_link.updated", now_links[0]),
            ("roundup_link.updated", now_links[2])
        ]),
        "the deleted link was first: both others moved up"
    );
    let events = logged(
        &desk,
        Method::POST,
        "/v1/articles/live/roundups",
        Some(roundup("Second", &[("Only link", "bloomberg")])),
    )
    .await;
    let article = desk.article("live").await;
    let (second, only) = (
        article["roundups"][1]["id"].as_i64().unwrap(),
        article["roundups"][1]["links"][0]["id"].as_i64().unwrap(),
    );
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.created", second),
            ("roundup_link.created", only)
        ])
    );
    let events = logged(
        &desk,
        Method::PUT,
        "/v1/articles/live/roundups/order",
        Some(json!({"ids": [second, press]})),
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.updated", press),
            ("roundup.updated", second)
        ])
    );
    let events = logged(
        &desk,
        Method::DELETE,
        &format!("/v1/roundups/{second}"),
        None,
    )
    .await;
    assert_eq!(
        sorted(&events),
        expected(&[
            ("article.updated", live.article),
            ("roundup.deleted", second),
            ("roundup.updated", press),
            ("roundup_link.deleted", only)
        ])
    );

    // Outlets: created, edited, renamed (with what cites it), deleted.
    let events = logged(
        &desk,
        Method::POST,
        "/v1/outlets",
        Some(json!({"slug": "reuters", "name": "Reuters", "home_url": "https://www.reuters.com/"})),
    )
    .await;
    let reuters = outlet_of("reuters").await;
    assert_eq!(sorted(&events), expected(&[("outlet.created", reuters)]));
    assert_etags_current(&desk, &events).await;
    let events = logged(
        &desk,
        Method::PATCH,
        "/v1/outlets/reuters",
        Some(json!({"name": "Reuters News"})),
    )
    .await;
    assert_eq!(sorted(&events), expected(&[("outlet.updated", reuters)]));
    let article = desk.article("live").await;
    let excerpts = ids_of(&article["excerpts"]);
    let links = ids_of(&article["roundups"][0]["links"]);
    let dawn = outlet_of("dawn").await;
    let before_rename = desk.head().await;
    let events = logged(
        &desk,
        Method::PATCH,
        "/v1/outlets/dawn",
        Some(json!({"slug": "dawn-news"})),
    )
    .await;
    // What cites dawn: its excerpts and links, the roundups showing those
    // links and the articles holding any of them, drafts included.
    let mut wanted = vec![("outlet.renamed", dawn)];
    for slug in ["live", "hidden", "whole"] {
        let article = desk.article(slug).await;
        let mut cites = false;
        for excerpt in article["excerpts"].as_array().unwrap() {
            if excerpt["outlet"]["slug"] == "dawn-news" {
                wanted.push(("excerpt.updated", excerpt["id"].as_i64().unwrap()));
                cites = true;
            }
        }
        for roundup in article["roundups"].as_array().unwrap() {
            let mut shows = false;
            for link in roundup["links"].as_array().unwrap() {
                if link["outlet"]["slug"] == "dawn-news" {
                    wanted.push(("roundup_link.updated", link["id"].as_i64().unwrap()));
                    shows = true;
                }
            }
            if shows {
                wanted.push(("roundup.updated", roundup["id"].as_i64().unwrap()));
                cites = true;
            }
        }
        if cites {
            wanted.push(("article.updated", article_id(&desk, slug).await));
        }
    }
    assert_eq!(wanted.len(), 11, "{wanted:?}");
    assert_eq!(sorted(&events), expected(&wanted), "{excerpts:?} {links:?}");
    let renamed = events.iter().find(|e| e["kind"] == "outlet").unwrap();
    assert_eq!(
        (&renamed["slug"], &renamed["previous_slug"]),
        (&json!("dawn-news"), &json!("dawn"))
    );
    let public = desk.events(false, before_rename).await;
    assert_eq!(
        public.len(),
        wanted.len() - 2,
        "all but the draft's excerpt and the draft: {public:#?}"
    );
    assert_etags_current(&desk, &public).await;
    let events = logged(&desk, Method::DELETE, "/v1/outlets/unused", None).await;
    assert_eq!(
        sorted(&events),
        expected(&[("outlet.deleted", outlet_of("unused").await)])
    );

    // Deleting a published post deletes what it holds.
    let article = desk.article("whole").await;
    let events = logged(&desk, Method::DELETE, "/v1/articles/whole", None).await;
    let mut gone = vec![("article.deleted", whole_id)];
    gone.extend(
        ids_of(&article["excerpts"])
            .into_iter()
            .map(|id| ("excerpt.deleted", id)),
    );
    gone.push((
        "roundup.deleted",
        article["roundups"][0]["id"].as_i64().unwrap(),
    ));
    gone.extend(whole_links.iter().map(|id| ("roundup_link.deleted", *id)));
    assert_eq!(sorted(&events), expected(&gone));
    assert!(events.iter().all(|event| event["tombstone"] == true));
    assert_eq!(
        sorted(
            &desk
                .events(false, desk.head().await - events.len() as i64)
                .await
        ),
        sorted(&events),
        "the public learns of each deletion"
    );
}

#[tokio::test]
async fn refused_writes_and_patches_that_change_nothing_log_nothing() {
    let desk = Desk::with_site(newsroom()).await;
    let live = live(&desk).await;
    let head = desk.head().await;
    let refused: Vec<(Method, String, Option<Value>, u16)> = vec![
        (
            Method::POST,
            "/v1/articles".into(),
            Some(json!({"slug": "Not A Slug", "title": "x", "body_markdown": "x"})),
            422,
        ),
        (
            Method::POST,
            "/v1/articles".into(),
            Some(draft("live")),
            409,
        ),
        (
            Method::PATCH,
            "/v1/articles/live".into(),
            Some(json!({"title": null})),
            422,
        ),
        (
            Method::PATCH,
            "/v1/articles/hidden".into(),
            Some(json!({"slug": "live"})),
            409,
        ),
        (
            Method::POST,
            "/v1/articles/live/excerpts".into(),
            Some(excerpt("x", "no-such-outlet")),
            422,
        ),
        (
            Method::PUT,
            "/v1/articles/live/excerpts/order".into(),
            Some(json!({"ids": [live.excerpts[0]]})),
            422,
        ),
        (
            Method::POST,
            "/v1/outlets".into(),
            Some(json!({"slug": "dawn", "name": "Again", "home_url": "https://again.example/"})),
            409,
        ),
        (Method::DELETE, "/v1/outlets/dawn".into(), None, 409),
        (
            Method::PATCH,
            "/v1/roundup-links/999999".into(),
            Some(json!({"headline": "x"})),
            404,
        ),
    ];
    for (method, path, body, status) in refused {
        let (got, problem) = desk.call(method.clone(), &path, body).await;
        assert_eq!(got, status, "{method} {path}: {problem}");
    }
    // A stale If-Match.
    let response = desk
        .app
        .with_key(Method::PATCH, "/v1/articles/live", &desk.admin)
        .header(CONTENT_TYPE, "application/merge-patch+json")
        .header("If-Match", "\"stale\"")
        .body(json!({"title": "Lost"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 412);
    assert_eq!(desk.head().await, head, "refused writes");
    // Patches that change nothing.
    // (An article patch that names a member, even with its current value,
    // is an edit: it keeps a revision and moves `updated_at`.)
    for (path, patch) in [
        ("/v1/articles/live".to_string(), json!({})),
        (
            format!("/v1/excerpts/{}", live.excerpts[0]),
            json!({"headline": "Excerpt A"}),
        ),
        (
            format!("/v1/roundups/{}", live.roundup),
            json!({"title": "From Pakistan Press"}),
        ),
        ("/v1/outlets/dawn".to_string(), json!({"name": "Dawn"})),
    ] {
        desk.write(Method::PATCH, &path, Some(patch.clone())).await;
        assert_eq!(
            summary(&desk.events(true, head).await),
            Vec::<String>::new(),
            "{path} {patch}"
        );
    }
    // Reads, view beacons and keys are not changes.
    desk.app.get("/v1/articles/live").await;
    let beacon = desk
        .app
        .client
        .post(format!("{}/v1/articles/live/views", desk.app.address))
        .send()
        .await
        .unwrap();
    assert!(beacon.status().is_success(), "{}", beacon.status());
    desk.app.flush_views().await;
    desk.app.key("editor").await;
    assert_eq!(
        summary(&desk.events(true, head).await),
        Vec::<String>::new()
    );
    assert_eq!(desk.head().await, head);
}

#[tokio::test]
async fn the_import_command_logs_what_it_writes() {
    let desk = Desk::new().await;
    let head = desk.head().await;
    let mut site = base_site();
    site["outlets"] =
        json!([{"slug": "reuters", "name": "Reuters", "home_url": "https://www.reuters.com/"}]);
    let mut imported = published("imported", Utc::now() - Duration::hours(1));
    imported["excerpts"] = json!([excerpt("Imported quote", "reuters")]);
    site["articles"] = json!([imported, draft("imported-draft")]);
    let file = std::env::temp_dir().join(format!(
        "broadsheet-changes-import-{}.json",
        std::process::id()
    ));
    std::fs::write(&file, site.to_string()).unwrap();
    let output = run_broadsheet(
        &["import", file.to_str().unwrap()],
        &[("DATABASE_URL", &desk.app.database_url)],
    )
    .await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let editors = desk.events(true, head).await;
    let public = desk.events(false, head).await;
    let excerpt = desk.app.get_json("/v1/articles/imported").await.1["excerpts"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        sorted(&public),
        expected(&[
            ("outlet.created", outlets_id(&editors, "reuters")),
            ("article.created", article_id(&desk, "imported").await),
            ("excerpt.created", excerpt),
        ])
    );
    assert_eq!(sorted(&editors), {
        let mut all = sorted(&public);
        all.push(format!(
            "article.created {}",
            article_id(&desk, "imported-draft").await
        ));
        all.sort();
        all
    });
    assert_etags_current(&desk, &public).await;

    // The same file again: the outlets it names are rewritten as they were,
    // which logs nothing; an article is logged only if what it shows changed
    // (an import replaces an article's excerpts, under new ids).
    let before = [
        desk.article("imported").await,
        desk.article("imported-draft").await,
    ];
    let head = desk.head().await;
    let output = run_broadsheet(
        &["import", file.to_str().unwrap()],
        &[("DATABASE_URL", &desk.app.database_url)],
    )
    .await;
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let again = desk.events(true, head).await;
    assert!(
        again.iter().all(|event| event["kind"] != "outlet"),
        "{again:#?}"
    );
    for (slug, before) in ["imported", "imported-draft"].iter().zip(before) {
        let id = article_id(&desk, slug).await;
        let logged = again
            .iter()
            .any(|event| event["kind"] == "article" && event["resource_id"] == id);
        assert_eq!(logged, desk.article(slug).await != before, "{slug}");
    }
}

fn outlets_id(events: &[Value], slug: &str) -> i64 {
    events
        .iter()
        .find(|event| event["kind"] == "outlet" && event["slug"] == slug)
        .and_then(|event| event["resource_id"].as_i64())
        .unwrap_or_else(|| panic!("no event of outlet {slug}"))
}

/// A connection of the test's own to the app's database, outside the API.
async fn connection(desk: &Desk) -> diesel_async::AsyncPgConnection {
    broadsheet::db::connect(&desk.app.database_url)
        .await
        .expect("the test database is reachable")
}

/// Waits until a session of the app's database waits for a lock.
async fn wait_for_a_lock_waiter(watcher: &mut diesel_async::AsyncPgConnection) {
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        waiting: i64,
    }
    use diesel_async::RunQueryDsl;
    let deadline = Instant::now() + StdDuration::from_secs(10);
    loop {
        let waiting: Waiting = diesel::sql_query(
            "SELECT count(*) AS waiting FROM pg_stat_activity \
              WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(watcher)
        .await
        .unwrap();
        if waiting.waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "nothing waited for the lock");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

fn event_ids(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|event| event["id"].as_i64().expect("an id"))
        .collect()
}

/// A desk with two published articles, `first` and `second`, and their ids.
async fn two_published() -> (Desk, i64, i64) {
    let desk = Desk::with_site(site_with(
        vec![
            published("first", Utc::now() - Duration::days(2)),
            published("second", Utc::now() - Duration::days(1)),
        ],
        vec![],
    ))
    .await;
    let first = article_id(&desk, "first").await;
    let second = article_id(&desk, "second").await;
    (desk, first, second)
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_logged_after_one_that_committed_first() {
    let (desk, first, second) = two_published().await;
    let head = desk.head().await;
    let mut a = connection(&desk).await;
    let mut b = connection(&desk).await;

    // A writes first but commits last.
    a.batch_execute("BEGIN; UPDATE articles SET title = 'Written by A' WHERE slug = 'first'")
        .await
        .unwrap();
    b.batch_execute(
        "BEGIN; UPDATE articles SET title = 'Written by B' WHERE slug = 'second'; COMMIT",
    )
    .await
    .unwrap();
    let seen_while_open = desk.events(true, 0).await;
    let public_while_open = desk.events(false, 0).await;
    let after_b = desk.events(false, head).await;
    assert_eq!(summary(&after_b), [format!("article.updated {second}")]);
    let b_id = after_b[0]["id"].as_i64().unwrap();
    assert!(
        after_b[0]["etag"].is_null(),
        "a write outside the API is logged without an ETag"
    );

    a.batch_execute("COMMIT").await.unwrap();
    let polled = desk.events(false, b_id).await;
    assert_eq!(
        summary(&polled),
        [format!("article.updated {first}")],
        "a reader polling from B's event gets A's"
    );
    assert!(polled[0]["id"].as_i64().unwrap() > b_id);

    // Nothing was filled in below what readers had seen: the log read now
    // begins with exactly what they read while A was open.
    for (editor, seen) in [(true, seen_while_open), (false, public_while_open)] {
        let now = desk.events(editor, 0).await;
        assert_eq!(
            event_ids(&now[..seen.len()]),
            event_ids(&seen),
            "editor: {editor}"
        );
        assert!(now.len() > seen.len());
    }
}

#[tokio::test]
async fn a_transaction_holding_its_positions_holds_back_those_committing_after_it() {
    let (desk, first, second) = two_published().await;
    let head = desk.head().await;
    let mut a = connection(&desk).await;
    let mut watcher = connection(&desk).await;

    // A takes its positions now (its commit-time trigger fires early) and
    // stays open; B then commits, and must wait for A.
    a.batch_execute(
        "BEGIN; UPDATE articles SET title = 'Written by A' WHERE slug = 'first'; \
         SET CONSTRAINTS ALL IMMEDIATE",
    )
    .await
    .unwrap();
    let mut b = connection(&desk).await;
    let b_done = tokio::spawn(async move {
        b.batch_execute(
            "BEGIN; UPDATE articles SET title = 'Written by B' WHERE slug = 'second'; COMMIT",
        )
        .await
    });
    wait_for_a_lock_waiter(&mut watcher).await;
    assert!(!b_done.is_finished(), "B commits only after A");
    assert_eq!(
        desk.events(true, head).await,
        Vec::<Value>::new(),
        "neither is visible yet"
    );

    a.batch_execute("COMMIT").await.unwrap();
    b_done.await.unwrap().unwrap();
    let events = desk.events(false, head).await;
    assert_eq!(
        summary(&events),
        [
            format!("article.updated {first}"),
            format!("article.updated {second}")
        ],
        "A took its position first, so it is first"
    );
}

#[tokio::test]
async fn the_public_log_shows_nothing_of_drafts_and_editors_see_everything() {
    let desk = Desk::with_site(site_with(
        vec![published("live", Utc::now() - Duration::days(1))],
        vec![],
    ))
    .await;
    let head = desk.head().await;
    desk.write(
        Method::POST,
        "/v1/articles",
        Some(post("secret-plan", "draft")),
    )
    .await;
    desk.write(
        Method::PATCH,
        "/v1/articles/secret-plan",
        Some(json!({"title": "Plan B"})),
    )
    .await;
    desk.write(
        Method::POST,
        "/v1/articles/secret-plan/excerpts",
        Some(excerpt("Quoted", "bloomberg")),
    )
    .await;
    desk.write(
        Method::PATCH,
        "/v1/articles/secret-plan",
        Some(json!({"slug": "secret-other"})),
    )
    .await;
    desk.write(Method::DELETE, "/v1/articles/secret-other", None)
        .await;
    assert_eq!(
        desk.events(false, head).await,
        Vec::<Value>::new(),
        "nothing public"
    );
    assert_eq!(
        types(&desk.events(true, head).await),
        [
            "article.created",
            "excerpt.created",
            "roundup.created",
            "roundup_link.created",
            "roundup_link.created",
            "article.updated",
            "excerpt.updated",
            "roundup.updated",
            "roundup_link.updated",
            "roundup_link.updated",
            "excerpt.created",
            "article.updated",
            "article.renamed",
            "excerpt.updated",
            "excerpt.updated",
            "roundup.updated",
            "roundup_link.updated",
            "roundup_link.updated",
            "article.deleted",
            "excerpt.deleted",
            "excerpt.deleted",
            "roundup.deleted",
            "roundup_link.deleted",
            "roundup_link.deleted",
        ]
    );
    let editors = desk.events(true, head).await;
    assert!(
        editors.iter().all(|event| event["etag"].is_null()),
        "drafts have no public ETag"
    );

    // Unpublished: a tombstone for the public, not for editors.
    let live = article_id(&desk, "live").await;
    let head = desk.head().await;
    desk.write(
        Method::PATCH,
        "/v1/articles/live",
        Some(json!({"status": "draft", "slug": "live-private"})),
    )
    .await;
    let public = desk.events(false, head).await;
    assert_eq!(summary(&public), [format!("article.unpublished {live}")]);
    assert_eq!(public[0]["tombstone"], true);
    assert!(public[0]["url"].is_null() && public[0]["etag"].is_null());
    assert_eq!(
        public[0]["slug"], "live",
        "buried under the slug the public knew"
    );
    assert!(public[0]["previous_slug"].is_null());
    let editors = desk.events(true, head).await;
    assert_eq!(editors[0]["tombstone"], false);
    assert_eq!(editors[0]["url"], "/v1/articles/live-private");
    assert_eq!(editors[0]["previous_slug"], "live");

    // Published again, then deleted: a tombstone for everyone.
    desk.write(
        Method::PATCH,
        "/v1/articles/live-private",
        Some(json!({"status": "published", "slug": "live"})),
    )
    .await;
    let head = desk.head().await;
    desk.write(Method::DELETE, "/v1/articles/live", None).await;
    for editor in [false, true] {
        let events = desk.events(editor, head).await;
        assert_eq!(summary(&events), [format!("article.deleted {live}")]);
        assert_eq!(events[0]["tombstone"], true);
        assert!(events[0]["url"].is_null() && events[0]["etag"].is_null());
    }
}

#[tokio::test]
async fn a_scheduled_post_reaches_the_public_log_with_what_it_holds_when_due() {
    let desk = Desk::new().await;
    let head = desk.head().await;
    let due = Utc::now() + Duration::seconds(2);
    let mut scheduled = post("soon", "published");
    scheduled["published_at"] = json!(due);
    desk.write(Method::POST, "/v1/articles", Some(scheduled))
        .await;
    let editors = desk.events(true, head).await;
    assert_eq!(types(&editors)[0], "article.created");
    if Utc::now() < due {
        assert_eq!(
            desk.events(false, head).await,
            Vec::<Value>::new(),
            "not public before its time"
        );
    }
    let public = wait_for_public(&desk, head, |event| event["type"] == "article.published").await;
    let seen = Utc::now();
    assert!(
        seen - due < Duration::seconds(5),
        "announced {} after its time",
        seen - due
    );
    assert_eq!(
        types(&public),
        [
            "article.published",
            "excerpt.published",
            "roundup.published",
            "roundup_link.published",
            "roundup_link.published"
        ]
    );
    assert!(public
        .iter()
        .all(|event| event["occurred_at"].as_str().unwrap() >= due.to_rfc3339().as_str()));
    assert_etags_current(&desk, &public).await;
}

#[tokio::test]
async fn a_scheduled_post_edited_after_its_time_but_before_its_announcement_is_announced_whole() {
    let desk = Desk::new().await;
    let head = desk.head().await;
    let due = Utc::now() + Duration::seconds(1);
    let mut scheduled = post("soon", "published");
    scheduled["published_at"] = json!(due);
    desk.write(Method::POST, "/v1/articles", Some(scheduled))
        .await;

    // Hold the announcer off the post (it skips what is locked) until the
    // editor's write, which then finds the post already public.
    let mut holder = connection(&desk).await;
    holder
        .batch_execute("BEGIN; SELECT * FROM scheduled_publications FOR UPDATE")
        .await
        .unwrap();
    while Utc::now() <= due + Duration::milliseconds(100) {
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
    let app = desk.app.address.clone();
    let key = desk.admin.clone();
    let edit = tokio::spawn(async move {
        reqwest::Client::new()
            .patch(format!("{app}/v1/articles/soon"))
            .bearer_auth(key)
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(json!({"body_markdown": "Edited once public."}).to_string())
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    let mut watcher = connection(&desk).await;
    wait_for_a_lock_waiter(&mut watcher).await;
    holder.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(edit.await.unwrap().unwrap(), 200);

    let public = wait_for_public(&desk, head, |event| event["kind"] == "roundup_link").await;
    let kinds: HashSet<&str> = public
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        HashSet::from(["article", "excerpt", "roundup", "roundup_link"]),
        "the public learns of what the post holds: {public:#?}"
    );
    let mut mirror = Mirror::default();
    mirror.sync(&desk.app).await;
    mirror.assert_matches(&desk.app).await;
}

#[tokio::test]
async fn since_and_limit_are_checked_and_unknown_parameters_refused() {
    let desk = Desk::new().await;
    for (query, parameter) in [
        ("since=-1", "since"),
        ("since=abc", "since"),
        ("since=1.5", "since"),
        ("since=9223372036854775808", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
    ] {
        assert_invalid_parameter(&desk.app, &format!("/v1/changes?{query}"), parameter).await;
    }
    let (status, page) = desk
        .app
        .get_json("/v1/changes?since=9223372036854775807")
        .await;
    assert_eq!((status, &page["data"]), (200, &json!([])));
    assert_problem(desk.app.get("/v1/changes?sinse=3").await, 400).await;
    assert_problem(desk.app.get("/v1/changes?since=1&since=2").await, 400).await;
    assert_problem(
        desk.app
            .client
            .get(format!("{}/v1/changes", desk.app.address))
            .bearer_auth("bsk_nope_nope")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn pages_link_to_the_next_even_when_empty_and_full_public_pages_are_immutable() {
    let desk = Desk::with_site(site_with(
        (0..5)
            .map(|i| published(&format!("post-{i}"), Utc::now() - Duration::days(i + 1)))
            .collect(),
        vec![],
    ))
    .await;
    // Three outlets and five posts.
    let head = desk.head().await;
    assert_eq!(head, 8);

    let response = desk.app.get("/v1/changes?limit=2").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        header(&response, "link").as_deref(),
        Some("</v1/changes?since=2&limit=2>; rel=\"next\"")
    );
    let page: Value = response.json().await.unwrap();
    assert_eq!(event_ids(page["data"].as_array().unwrap()), [1, 2]);
    assert_eq!(
        (page["last_id"].clone(), page["has_more"].clone()),
        (json!(2), json!(true))
    );
    let etag = header(&desk.app.get("/v1/changes?limit=2").await, "etag").expect("an ETag");
    let cached = desk
        .app
        .client
        .get(format!("{}/v1/changes?limit=2", desk.app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);

    // The last page: fewer than asked, revalidated, with a 304 while unchanged.
    let response = desk.app.get("/v1/changes?since=7&limit=2").await;
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("public, no-cache")
    );
    let etag = header(&response, "etag").expect("an ETag");
    let page: Value = response.json().await.unwrap();
    assert_eq!(
        (page["last_id"].clone(), page["has_more"].clone()),
        (json!(8), json!(false))
    );
    let revalidated = desk
        .app
        .client
        .get(format!("{}/v1/changes?since=7&limit=2", desk.app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);

    // Caught up: an empty page still says where to poll next.
    let response = desk.app.get("/v1/changes?since=8").await;
    assert_eq!(
        header(&response, "link").as_deref(),
        Some("</v1/changes?since=8&limit=100>; rel=\"next\"")
    );
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("public, no-cache")
    );
    let page: Value = response.json().await.unwrap();
    assert_eq!(page, json!({"data": [], "last_id": 8, "has_more": false}));
    let far = desk.app.get_json("/v1/changes?since=1000").await.1;
    assert_eq!(far, json!({"data": [], "last_id": 1000, "has_more": false}));

    // A write changes the last page: the old tag no longer matches.
    desk.write(
        Method::PATCH,
        "/v1/articles/post-0",
        Some(json!({"title": "Changed"})),
    )
    .await;
    let revalidated = desk
        .app
        .client
        .get(format!("{}/v1/changes?since=7&limit=2", desk.app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 200);
    let page: Value = revalidated.json().await.unwrap();
    assert_eq!(event_ids(page["data"].as_array().unwrap()), [8, 9]);

    // Editors' pages are never stored by shared caches.
    let response = desk
        .app
        .with_key(Method::GET, "/v1/changes?limit=2", &desk.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("private, no-store")
    );
}

#[tokio::test]
async fn an_announcement_and_a_write_to_the_same_post_committing_together_both_succeed() {
    let desk = Desk::with_site(site_with(
        vec![published("live", Utc::now() - Duration::days(1))],
        vec![],
    ))
    .await;
    let live = article_id(&desk, "live").await;
    // The announcer has taken the post (as when its time has just come)
    // and not yet committed.
    let mut announcer = connection(&desk).await;
    announcer
        .batch_execute(&format!(
            "INSERT INTO scheduled_publications (article_id, due_at) \
             VALUES ({live}, now() + interval '1 hour')"
        ))
        .await
        .unwrap();
    let head = desk.head().await;
    announcer
        .batch_execute(&format!(
            "BEGIN; UPDATE scheduled_publications SET due_at = now() - interval '1 second' \
              WHERE article_id = {live}; SELECT announce_due_publications()"
        ))
        .await
        .unwrap();
    // An editor writes to the post meanwhile; its commit meets the
    // announcer's hold on the post.
    let (address, key) = (desk.app.address.clone(), desk.admin.clone());
    let edit = tokio::spawn(async move {
        reqwest::Client::new()
            .patch(format!("{address}/v1/articles/live"))
            .bearer_auth(key)
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(json!({"title": "Edited"}).to_string())
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    let mut watcher = connection(&desk).await;
    wait_for_a_lock_waiter(&mut watcher).await;
    let announced = announcer.batch_execute("COMMIT").await;
    let edited = edit.await.unwrap().unwrap();
    assert!(announced.is_ok(), "the announcement: {announced:?}");
    assert_eq!(edited, 200, "the edit");
    let events = desk.events(true, head).await;
    assert_eq!(events.len(), 2, "one event for each: {events:#?}");
    assert!(events.iter().all(|event| event["resource_id"] == live));
}

#[tokio::test]
async fn a_post_dated_into_the_future_is_unpublished_then_published_again_when_due() {
    let desk = Desk::new().await;
    desk.write(
        Method::POST,
        "/v1/articles",
        Some(post("redated", "published")),
    )
    .await;
    let head = desk.head().await;
    let due = Utc::now() + Duration::seconds(2);
    desk.write(
        Method::PATCH,
        "/v1/articles/redated",
        Some(json!({"published_at": due})),
    )
    .await;
    let unpublished = desk.events(false, head).await;
    assert_eq!(
        types(&unpublished),
        [
            "article.unpublished",
            "excerpt.unpublished",
            "roundup.unpublished",
            "roundup_link.unpublished",
            "roundup_link.unpublished"
        ]
    );
    assert!(unpublished.iter().all(|event| event["tombstone"] == true));
    let head = desk.head().await;
    let published =
        wait_for_public(&desk, head, |event| event["type"] == "article.published").await;
    assert_eq!(
        types(&published),
        [
            "article.published",
            "excerpt.published",
            "roundup.published",
            "roundup_link.published",
            "roundup_link.published"
        ]
    );
    assert_etags_current(&desk, &published).await;
}
