//! The editorial write API for articles, over HTTP with real keys: roles,
//! previews, creates, idempotent retries, conditional writes, merge patches,
//! old slugs and revisions.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use crate::helpers::*;

const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
const CHALLENGE: &str = "Bearer realm=\"broadsheet\"";

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request reaches the server")
}

/// The status and the JSON body (null when there is none) of a response.
async fn status_and_body(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header").to_string())
}

/// The `pointer` (body member) or `parameter` names in a problem's `errors`.
fn named(problem: &Value, kind: &str) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error[kind].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a problem with this status whose `errors` name `name` as `kind`.
async fn assert_names(response: Response, status: u16, kind: &str, name: &str) -> Value {
    let problem = assert_problem(response, status).await;
    assert!(
        named(&problem, kind).iter().any(|named| named == name),
        "expected {kind} `{name}` in {problem}"
    );
    problem
}

/// Asserts a 401 problem carrying the bearer challenge.
async fn assert_unauthorized(response: Response) {
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some(CHALLENGE),
        "challenge of {}",
        response.url()
    );
    assert_problem(response, 401).await;
}

/// The lookup half of a key (`bsk_<lookup>_<secret>`), which finds its row.
fn lookup(key: &str) -> &str {
    key.split('_')
        .nth(1)
        .expect("a key reads bsk_<lookup>_<secret>")
}

/// Revokes a key the way an operator would, straight in the database.
async fn revoke(app: &TestApp, key: &str) {
    app.sql(&format!(
        "UPDATE api_keys SET revoked_at = now() WHERE lookup = '{}'",
        lookup(key)
    ))
    .await;
}

/// A new key with this role and name.
async fn named_key(app: &TestApp, role: &str, name: &str) -> String {
    let key = app.key(role).await;
    app.sql(&format!(
        "UPDATE api_keys SET name = '{name}' WHERE lookup = '{}'",
        lookup(&key)
    ))
    .await;
    key
}

/// The smallest article a create accepts, plus a body.
fn article(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": format!("Title of {slug}"),
        "body_markdown": format!("Commentary on {slug}."),
    })
}

/// `base` with the members of `fields` set over it.
fn merged(base: Value, fields: Value) -> Value {
    let mut object = base.as_object().cloned().expect("an object");
    object.extend(fields.as_object().cloned().expect("an object of fields"));
    Value::Object(object)
}

/// A whole post: tags (one of them new), two excerpts and two roundups.
fn whole_post(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": "Secretary Clinton's Message to Pakistan",
        "summary": "Help us negotiate.",
        "body_markdown": "Our relationship should be on an **equal** basis.",
        "status": "published",
        "published_at": "2011-10-25T09:00:00Z",
        "tags": ["pakistan", "diplomacy"],
        "excerpts": [
            excerpt("Clinton Pressing Pakistan", "bloomberg"),
            excerpt("Charm offensive", "dawn"),
        ],
        "roundups": [
            roundup("From Pakistan Press", &[("Ready to arrange talks", "the-news"), ("Work plan agreed", "dawn")]),
            roundup("From US Press", &[("Covert action", "bloomberg")]),
        ],
    })
}

fn timestamp(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
}

fn strings(values: &Value, member: &str) -> Vec<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {values}"))
        .iter()
        .map(|value| value[member].as_str().expect("a string member").to_string())
        .collect()
}

/// An app holding the base outlets and tags, and an editor's key.
struct Desk {
    app: TestApp,
    editor: String,
}

impl Desk {
    async fn open() -> Self {
        Self::with_site(base_site()).await
    }

    async fn with_site(site: Value) -> Self {
        let app = TestApp::with_site(site).await;
        let editor = app.key("editor").await;
        Self { app, editor }
    }

    /// A site holding these published articles, dated in the past.
    async fn with_published(slugs: &[&str]) -> Self {
        let start = Utc::now() - Duration::days(30);
        let articles = slugs
            .iter()
            .enumerate()
            .map(|(i, slug)| published(slug, start + Duration::hours(i as i64)))
            .collect();
        Self::with_site(site_with(articles, vec![])).await
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app.with_key(method, path, &self.editor)
    }

    /// A request carrying this `Authorization` header, or none.
    fn request_as(
        &self,
        method: Method,
        path: &str,
        authorization: Option<&str>,
    ) -> RequestBuilder {
        let request = self
            .app
            .client
            .request(method, format!("{}{path}", self.app.address));
        match authorization {
            Some(value) => request.header(AUTHORIZATION, value),
            None => request,
        }
    }

    fn post_request(&self, article: &Value) -> RequestBuilder {
        self.request(Method::POST, "/v1/articles").json(article)
    }

    async fn post(&self, article: &Value) -> Response {
        send(self.post_request(article)).await
    }

    /// Creates the article, asserting a 201; its body.
    async fn create(&self, article: Value) -> Value {
        let (status, body) = status_and_body(self.post(&article).await).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// A merge patch of `slug`, made with `key`, conditional on `if_match`.
    fn patch_request(
        &self,
        key: &str,
        slug: &str,
        patch: &Value,
        if_match: Option<&str>,
    ) -> RequestBuilder {
        let request = self
            .app
            .with_key(Method::PATCH, &format!("/v1/articles/{slug}"), key)
            .header(CONTENT_TYPE, "application/merge-patch+json")
            .body(patch.to_string());
        match if_match {
            Some(tag) => request.header("If-Match", tag),
            None => request,
        }
    }

    async fn patch(&self, slug: &str, patch: Value, if_match: Option<&str>) -> Response {
        send(self.patch_request(&self.editor, slug, &patch, if_match)).await
    }

    /// Patches unconditionally, asserting a 200; the new body.
    async fn patched(&self, slug: &str, patch: Value) -> Value {
        let (status, body) = status_and_body(self.patch(slug, patch, None).await).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `GET /v1/articles/{slug}` with the editor's key.
    async fn preview(&self, slug: &str) -> Response {
        send(self.request(Method::GET, &format!("/v1/articles/{slug}"))).await
    }

    async fn preview_json(&self, slug: &str) -> (u16, Value) {
        status_and_body(self.preview(slug).await).await
    }

    /// The current ETag of an article, as an editor sees it.
    async fn etag(&self, slug: &str) -> String {
        let response = self.preview(slug).await;
        assert_eq!(response.status(), 200, "{slug}");
        header(&response, "etag").expect("an ETag")
    }

    async fn public_status(&self, slug: &str) -> u16 {
        self.app
            .get(&format!("/v1/articles/{slug}"))
            .await
            .status()
            .as_u16()
    }

    /// One keyed page at `path`.
    async fn page(&self, path: &str) -> Value {
        let (status, body) = status_and_body(send(self.request(Method::GET, path)).await).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// The slugs of one keyed page of `GET /v1/articles?{query}`.
    async fn slugs(&self, query: &str) -> Vec<String> {
        strings(
            &self.page(&format!("/v1/articles?{query}")).await["data"],
            "slug",
        )
    }

    /// Every item of a keyed listing at `path` (which has a query), following
    /// `next_cursor` page by page.
    async fn walk(&self, path: &str) -> Value {
        let mut items = Vec::new();
        let mut next = path.to_string();
        for _ in 0..100 {
            let page = self.page(&next).await;
            items.extend(page["data"].as_array().expect("data is a list").clone());
            match page["next_cursor"].as_str() {
                Some(cursor) => next = format!("{path}&cursor={cursor}"),
                None => return Value::Array(items),
            }
        }
        panic!("paging {path} did not end");
    }

    /// Every slug of a keyed `GET /v1/articles?{query}`, page by page.
    async fn walk_slugs(&self, query: &str) -> Vec<String> {
        strings(&self.walk(&format!("/v1/articles?{query}")).await, "slug")
    }

    /// The public list's slugs.
    async fn public_slugs(&self) -> Vec<String> {
        let (status, body) = self.app.get_json("/v1/articles").await;
        assert_eq!(status, 200, "{body}");
        strings(&body["data"], "slug")
    }

    /// The revisions of an article, newest first (one page).
    async fn revisions(&self, slug: &str) -> Vec<Value> {
        let page = self.page(&format!("/v1/articles/{slug}/revisions")).await;
        page["data"].as_array().expect("data is a list").clone()
    }

    fn restore_request(&self, key: &str, slug: &str, revision: &Value) -> RequestBuilder {
        let path = format!("/v1/articles/{slug}/revisions/{revision}/restore");
        self.app.with_key(Method::POST, &path, key)
    }

    /// Everything an editor can see: every article whole, with its revisions.
    async fn state(&self) -> Value {
        let slugs = self.walk_slugs("status=all&limit=100").await;
        let mut articles = serde_json::Map::new();
        for slug in slugs {
            let (status, body) = self.preview_json(&slug).await;
            assert_eq!(status, 200, "{slug}: {body}");
            let revisions = self.revisions(&slug).await;
            articles.insert(slug, json!({"article": body, "revisions": revisions}));
        }
        Value::Object(articles)
    }

    /// Asserts an old slug answers 308 to `target`, with the key or without.
    async fn assert_redirect(&self, old: &str, target: &str, with_key: bool) {
        let path = format!("/v1/articles/{old}");
        let response = if with_key {
            send(self.request(Method::GET, &path)).await
        } else {
            self.app.get(&path).await
        };
        assert_eq!(response.status(), 308, "{path}");
        assert_eq!(
            header(&response, "location"),
            Some(format!("/v1/articles/{target}"))
        );
    }
}

// Roles and keys

#[tokio::test]
async fn an_editor_creates_a_draft_that_only_keys_can_preview() {
    let app = TestApp::with_site(base_site()).await;
    let key = app.key("editor").await;
    let created = app
        .with_key(Method::POST, "/v1/articles", &key)
        .json(&json!({"slug": "fresh-take", "title": "A fresh take", "tags": ["pakistan"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/v1/articles/fresh-take");
    assert_eq!(created.headers()["cache-control"], "private, no-store");
    let body: serde_json::Value = created.json().await.unwrap();
    assert_eq!(body["status"], "draft");

    assert_problem(app.get("/v1/articles/fresh-take").await, 404).await;
    let preview = app
        .with_key(Method::GET, "/v1/articles/fresh-take", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    assert_eq!(preview.headers()["cache-control"], "private, no-store");
}

#[tokio::test]
async fn a_write_without_a_key_is_401_with_a_challenge_and_writes_nothing() {
    let app = TestApp::with_site(base_site()).await;
    let response = app
        .client
        .post(format!("{}/v1/articles", app.address))
        .json(&json!({"slug": "sneaky", "title": "Sneaky"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"broadsheet\""
    );
    assert_problem(response, 401).await;
    let key = app.key("editor").await;
    let preview = app
        .with_key(Method::GET, "/v1/articles/sneaky", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 404);
}

#[tokio::test]
async fn editors_and_admins_may_create_update_and_restore_articles() {
    let desk = Desk::open().await;
    for role in ["editor", "admin"] {
        let key = desk.app.key(role).await;
        let slug = format!("{role}-note");
        let created = send(
            desk.app
                .with_key(Method::POST, "/v1/articles", &key)
                .json(&article(&slug)),
        )
        .await;
        assert_eq!(created.status(), 201, "{role} creates");
        let patch = json!({"title": "Retitled"});
        let updated = send(desk.patch_request(&key, &slug, &patch, None)).await;
        assert_eq!(updated.status(), 200, "{role} updates");
        let revision = &desk.revisions(&slug).await[0]["id"];
        let restored = send(desk.restore_request(&key, &slug, revision)).await;
        let (status, body) = status_and_body(restored).await;
        assert_eq!(status, 200, "{role} restores: {body}");
        assert_eq!(body["title"], format!("Title of {slug}"));
    }
}

#[tokio::test]
async fn only_an_admin_may_delete_an_article() {
    let desk = Desk::with_published(&["doomed"]).await;
    let before = desk.state().await;
    let refused = send(desk.request(Method::DELETE, "/v1/articles/doomed")).await;
    let problem = assert_problem(refused, 403).await;
    assert_eq!(problem["type"], "/problems/forbidden");
    assert_eq!(
        desk.state().await,
        before,
        "a refused delete changes nothing"
    );
    assert_eq!(desk.public_status("doomed").await, 200);

    let admin = desk.app.key("admin").await;
    let deleted = send(
        desk.app
            .with_key(Method::DELETE, "/v1/articles/doomed", &admin),
    )
    .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(desk.preview("doomed").await.status(), 404);
    assert_eq!(desk.public_status("doomed").await, 404);
    assert!(desk.slugs("status=all").await.is_empty());
}

#[tokio::test]
async fn only_an_admin_may_release_an_old_slug() {
    let desk = Desk::with_published(&["first-name"]).await;
    desk.patched("first-name", json!({"slug": "second-name"}))
        .await;
    let before = desk.state().await;
    let refused = send(desk.request(Method::DELETE, "/v1/old-slugs/first-name")).await;
    assert_eq!(
        assert_problem(refused, 403).await["type"],
        "/problems/forbidden"
    );
    assert_eq!(desk.state().await, before);
    desk.assert_redirect("first-name", "second-name", false)
        .await;

    let admin = desk.app.key("admin").await;
    let release = |slug: &str| {
        desk.app
            .with_key(Method::DELETE, &format!("/v1/old-slugs/{slug}"), &admin)
    };
    assert_eq!(send(release("first-name")).await.status(), 204);
    assert_eq!(desk.public_status("first-name").await, 404);
    assert_problem(send(release("first-name")).await, 404).await;
    assert_eq!(desk.public_status("second-name").await, 200);
}

#[tokio::test]
async fn writes_without_a_valid_key_are_401_with_a_challenge_and_change_nothing() {
    let desk = Desk::with_published(&["kept"]).await;
    desk.patched("kept", json!({"slug": "kept-renamed"})).await;
    let revision = desk.revisions("kept-renamed").await[0]["id"].clone();
    let revoked = desk.app.key("admin").await;
    revoke(&desk.app, &revoked).await;
    let before = desk.state().await;

    let revoked = format!("Bearer {revoked}");
    let credentials = [
        None,
        Some("Basic ZWRpdG9yOnNlY3JldA=="),
        Some("Bearer"),
        Some("Token bsk_abc_def"),
        Some("Bearer bsk_nosuchlookup_nosuchsecret"),
        Some(revoked.as_str()),
    ];
    let restore = format!("/v1/articles/kept-renamed/revisions/{revision}/restore");
    let writes = [
        (Method::POST, "/v1/articles", Some(article("intruder"))),
        (
            Method::PATCH,
            "/v1/articles/kept-renamed",
            Some(json!({"title": "Defaced"})),
        ),
        (Method::DELETE, "/v1/articles/kept-renamed", None),
        (Method::POST, restore.as_str(), None),
        (Method::DELETE, "/v1/old-slugs/kept", None),
    ];
    for authorization in credentials {
        for (method, path, body) in &writes {
            let request = desk.request_as(method.clone(), path, authorization);
            let request = match body {
                Some(body) => request.json(body),
                None => request,
            };
            assert_unauthorized(send(request).await).await;
        }
    }
    assert_eq!(desk.state().await, before, "refused writes change nothing");
    desk.assert_redirect("kept", "kept-renamed", false).await;
}

#[tokio::test]
async fn a_revoked_or_unknown_key_is_401_even_where_no_key_is_needed() {
    let desk = Desk::with_published(&["open-to-all"]).await;
    let revoked = desk.app.key("editor").await;
    assert_eq!(
        send(
            desk.app
                .with_key(Method::GET, "/v1/articles/open-to-all", &revoked)
        )
        .await
        .status(),
        200
    );
    revoke(&desk.app, &revoked).await;
    for path in ["/v1/articles/open-to-all", "/v1/articles"] {
        assert_unauthorized(send(desk.app.with_key(Method::GET, path, &revoked)).await).await;
        let unknown = desk.request_as(Method::GET, path, Some("Bearer bsk_unknown_key"));
        assert_unauthorized(send(unknown).await).await;
    }
    assert_eq!(desk.public_status("open-to-all").await, 200);
}

// Previews and editor listings

/// Published, draft and scheduled articles (the scheduled one a month ahead).
fn newsroom() -> Value {
    site_with(
        vec![
            published("old-news", "2011-10-01T09:00:00Z".parse().expect("a time")),
            published(
                "fresh-news",
                "2011-10-02T09:00:00Z".parse().expect("a time"),
            ),
            draft("in-progress"),
            published("coming-soon", Utc::now() + Duration::days(30)),
            published("coming-later", Utc::now() + Duration::days(60)),
        ],
        vec![],
    )
}

#[tokio::test]
async fn a_key_previews_drafts_and_scheduled_posts_that_the_public_cannot_see() {
    let desk = Desk::with_site(newsroom()).await;
    for (slug, status) in [
        ("in-progress", "draft"),
        ("coming-soon", "scheduled"),
        ("old-news", "published"),
    ] {
        let preview = desk.preview(slug).await;
        assert_eq!(preview.status(), 200, "{slug}");
        assert_eq!(
            header(&preview, "cache-control").as_deref(),
            Some("private, no-store"),
            "{slug}"
        );
        let body: Value = preview.json().await.expect("JSON");
        assert_eq!(body["status"], status, "{slug}");
    }
    for slug in ["in-progress", "coming-soon"] {
        assert_problem(desk.app.get(&format!("/v1/articles/{slug}")).await, 404).await;
    }
    let public = desk.app.get("/v1/articles/old-news").await;
    assert_eq!(public.status(), 200);
    assert!(
        !header(&public, "cache-control").is_some_and(|value| value.contains("private")),
        "a public answer is not marked private"
    );
}

#[tokio::test]
async fn with_a_key_each_status_lists_its_own_articles() {
    let desk = Desk::with_site(newsroom()).await;
    assert_eq!(
        desk.slugs("status=published").await,
        ["fresh-news", "old-news"]
    );
    assert_eq!(desk.slugs("").await, ["fresh-news", "old-news"]);
    assert_eq!(
        desk.slugs("status=scheduled").await,
        ["coming-later", "coming-soon"]
    );
    assert_eq!(desk.slugs("status=draft").await, ["in-progress"]);
    let mut all = desk.slugs("status=all").await;
    all.sort();
    assert_eq!(
        all,
        [
            "coming-later",
            "coming-soon",
            "fresh-news",
            "in-progress",
            "old-news"
        ]
    );
    let page = send(desk.request(Method::GET, "/v1/articles?status=all")).await;
    assert_eq!(
        header(&page, "cache-control").as_deref(),
        Some("private, no-store")
    );
    let statuses = strings(
        &desk.page("/v1/articles?status=all").await["data"],
        "status",
    );
    for status in ["draft", "scheduled", "published"] {
        assert!(statuses.iter().any(|s| s == status), "{statuses:?}");
    }
}

#[tokio::test]
async fn drafts_list_the_most_recently_updated_first() {
    let desk = Desk::open().await;
    for slug in ["first-draft", "second-draft", "third-draft"] {
        desk.create(article(slug)).await;
    }
    assert_eq!(
        desk.slugs("status=draft").await,
        ["third-draft", "second-draft", "first-draft"]
    );
    desk.patched("first-draft", json!({"title": "Touched"}))
        .await;
    assert_eq!(
        desk.slugs("status=draft").await,
        ["first-draft", "third-draft", "second-draft"]
    );
    assert_eq!(
        desk.slugs("status=all").await,
        ["first-draft", "third-draft", "second-draft"]
    );
}

#[tokio::test]
async fn editor_listings_page_with_cursors_that_need_the_key() {
    let desk = Desk::open().await;
    let mut drafts: Vec<String> = (0..5).map(|i| format!("draft-{i}")).collect();
    for slug in &drafts {
        desk.create(article(slug)).await;
    }
    drafts.reverse();
    assert_eq!(desk.walk_slugs("status=draft&limit=2").await, drafts);
    assert_eq!(desk.walk_slugs("status=all&limit=1").await, drafts);

    let first = desk.page("/v1/articles?status=draft&limit=2").await;
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let next = format!("/v1/articles?status=draft&limit=2&cursor={cursor}");
    assert_unauthorized(desk.app.get(&next).await).await;
}

#[tokio::test]
async fn listing_unpublished_statuses_without_a_key_is_401() {
    let desk = Desk::with_site(newsroom()).await;
    for status in ["draft", "scheduled", "all"] {
        assert_unauthorized(desk.app.get(&format!("/v1/articles?status={status}")).await).await;
    }
    let (status, body) = desk.app.get_json("/v1/articles?status=published").await;
    assert_eq!(status, 200);
    assert_eq!(strings(&body["data"], "slug"), ["fresh-news", "old-news"]);
}

#[tokio::test]
async fn an_unknown_status_is_a_400_naming_status_with_or_without_a_key() {
    let desk = Desk::open().await;
    assert_invalid_parameter(&desk.app, "/v1/articles?status=bogus", "status").await;
    let keyed = send(desk.request(Method::GET, "/v1/articles?status=bogus")).await;
    assert_names(keyed, 400, "parameter", "status").await;
}

// Creates

#[tokio::test]
async fn a_whole_post_is_created_in_one_request_with_location_and_etag() {
    let desk = Desk::open().await;
    let response = desk.post(&whole_post("clintons-message")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        header(&response, "location").as_deref(),
        Some("/v1/articles/clintons-message")
    );
    let etag = header(&response, "etag").expect("an ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong: {etag}"
    );
    let created: Value = response.json().await.expect("JSON");

    assert_eq!(created["slug"], "clintons-message");
    assert_eq!(created["status"], "published");
    assert_eq!(created["summary"], "Help us negotiate.");
    assert_eq!(
        created["body_html"],
        "<p>Our relationship should be on an <strong>equal</strong> basis.</p>\n"
    );
    let mut tags = strings(&created["tags"], "slug");
    tags.sort();
    assert_eq!(tags, ["diplomacy", "pakistan"]);
    let excerpts = &created["excerpts"];
    assert_eq!(
        strings(excerpts, "headline"),
        ["Clinton Pressing Pakistan", "Charm offensive"]
    );
    assert_eq!(excerpts[0]["position"], 1);
    assert_eq!(excerpts[1]["position"], 2);
    assert_eq!(excerpts[0]["outlet"]["name"], "Bloomberg");
    assert_eq!(excerpts[1]["outlet"]["name"], "Dawn");
    assert_eq!(excerpts[0]["bylines"], json!(["A. Reporter"]));
    let roundups = &created["roundups"];
    assert_eq!(
        strings(roundups, "title"),
        ["From Pakistan Press", "From US Press"]
    );
    assert_eq!(
        strings(&roundups[0]["links"], "headline"),
        ["Ready to arrange talks", "Work plan agreed"]
    );
    assert_eq!(roundups[0]["links"][0]["outlet"]["name"], "The News");
    assert_eq!(roundups[1]["links"][0]["outlet"]["name"], "Bloomberg");

    let public = desk.app.get("/v1/articles/clintons-message").await;
    assert_eq!(header(&public, "etag"), Some(etag.clone()));
    assert_eq!(public.json::<Value>().await.expect("JSON"), created);
    assert_eq!(desk.etag("clintons-message").await, etag);
}

#[tokio::test]
async fn publishing_without_a_date_publishes_now_and_shows_publicly() {
    let desk = Desk::open().await;
    let before = Utc::now();
    let created = desk
        .create(merged(article("breaking"), json!({"status": "published"})))
        .await;
    assert_eq!(created["status"], "published");
    let at = timestamp(&created["published_at"]);
    assert!(
        before - Duration::seconds(1) <= at && at <= Utc::now(),
        "published at {at}"
    );
    assert_eq!(desk.public_status("breaking").await, 200);
    assert_eq!(desk.public_slugs().await, ["breaking"]);
}

#[tokio::test]
async fn a_future_publication_date_schedules_the_post_until_its_time_comes() {
    let desk = Desk::open().await;
    let at = Utc::now() + Duration::seconds(2);
    let created = desk
        .create(merged(
            whole_post("at-dawn"),
            json!({"published_at": at.to_rfc3339()}),
        ))
        .await;
    assert_eq!(created["status"], "scheduled");
    assert_eq!(desk.public_status("at-dawn").await, 404);
    assert!(desk.public_slugs().await.is_empty());
    assert_eq!(desk.slugs("status=scheduled").await, ["at-dawn"]);

    let deadline = std::time::Instant::now() + StdDuration::from_secs(15);
    while desk.public_status("at-dawn").await != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scheduled post never appeared"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    assert!(Utc::now() >= at, "it appeared before its time");
    assert_eq!(desk.public_slugs().await, ["at-dawn"]);
    assert_eq!(desk.preview_json("at-dawn").await.1["status"], "published");
}

#[tokio::test]
async fn a_scheduled_post_appears_by_itself_once_its_time_has_passed() {
    let desk = Desk::open().await;
    let next_month = (Utc::now() + Duration::days(30)).to_rfc3339();
    desk.create(merged(
        whole_post("next-month"),
        json!({"published_at": next_month}),
    ))
    .await;
    assert_eq!(desk.public_status("next-month").await, 404);
    let (_, excerpts) = desk.app.get_json("/v1/excerpts").await;
    assert_eq!(excerpts["data"], json!([]));

    desk.app
        .sql("UPDATE articles SET published_at = now() - interval '1 second' WHERE slug = 'next-month'")
        .await;
    assert_eq!(desk.public_status("next-month").await, 200);
    assert_eq!(desk.public_slugs().await, ["next-month"]);
    let (_, excerpts) = desk.app.get_json("/v1/excerpts").await;
    assert_eq!(excerpts["data"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_taken_slug_is_a_409_and_the_first_article_stays() {
    let desk = Desk::with_published(&["taken"]).await;
    let before = desk.state().await;
    let response = desk.post(&article("taken")).await;
    assert_eq!(
        assert_problem(response, 409).await["type"],
        "/problems/conflict"
    );
    assert_eq!(desk.state().await, before);
}

/// Bodies with one bad member each, and the pointer naming it.
fn invalid_creates() -> Vec<(Value, &'static str)> {
    let good = whole_post("good-slug");
    let with_excerpt = |fields: Value| {
        merged(
            good.clone(),
            json!({"excerpts": [merged(excerpt("Quoted", "dawn"), fields)]}),
        )
    };
    let with_link = |link: Value| {
        merged(
            good.clone(),
            json!({"roundups": [{"title": "Press", "links": [link]}]}),
        )
    };
    let link = json!({"headline": "A link", "outlet": "dawn", "url": "https://example.org/a"});
    vec![
        (merged(good.clone(), json!({"title": ""})), "/title"),
        (merged(good.clone(), json!({"title": "   "})), "/title"),
        (merged(good.clone(), json!({"title": null})), "/title"),
        (merged(good.clone(), json!({"title": 42})), "/title"),
        (merged(good.clone(), json!({"slug": "Not A Slug"})), "/slug"),
        (
            merged(good.clone(), json!({"slug": "under_score"})),
            "/slug",
        ),
        (merged(good.clone(), json!({"slug": "trailing-"})), "/slug"),
        (merged(good.clone(), json!({"summary": true})), "/summary"),
        (
            merged(good.clone(), json!({"status": "scheduled"})),
            "/status",
        ),
        (
            merged(good.clone(), json!({"published_at": "tomorrow"})),
            "/published_at",
        ),
        (merged(good.clone(), json!({"tags": "pakistan"})), "/tags"),
        (merged(good.clone(), json!({"tags": [7]})), "/tags/0"),
        (
            merged(good.clone(), json!({"tags": ["Not A Slug"]})),
            "/tags/0",
        ),
        (merged(good.clone(), json!({"excerpts": {}})), "/excerpts"),
        (
            merged(good.clone(), json!({"excerpts": ["text"]})),
            "/excerpts/0",
        ),
        (merged(good.clone(), json!({"colour": "red"})), "/colour"),
        (
            with_excerpt(json!({"source_url": "ftp://example.org/x"})),
            "/excerpts/0/source_url",
        ),
        (
            with_excerpt(json!({"source_url": "javascript:alert(1)"})),
            "/excerpts/0/source_url",
        ),
        (
            with_excerpt(json!({"source_url": "example.org/no-scheme"})),
            "/excerpts/0/source_url",
        ),
        (
            with_excerpt(json!({"outlet": "no-such-outlet"})),
            "/excerpts/0/outlet",
        ),
        (
            with_excerpt(json!({"bylines": "A. Reporter"})),
            "/excerpts/0/bylines",
        ),
        (
            with_excerpt(json!({"source_published_on": "24/10/2011"})),
            "/excerpts/0/source_published_on",
        ),
        (
            with_excerpt(json!({"headline": ""})),
            "/excerpts/0/headline",
        ),
        (with_excerpt(json!({"colour": "red"})), "/excerpts/0/colour"),
        (
            with_link(merged(
                link.clone(),
                json!({"url": "mailto:desk@example.org"}),
            )),
            "/roundups/0/links/0/url",
        ),
        (
            with_link(merged(link.clone(), json!({"outlet": "no-such-outlet"}))),
            "/roundups/0/links/0/outlet",
        ),
        (
            with_link(merged(link.clone(), json!({"headline": 3}))),
            "/roundups/0/links/0/headline",
        ),
        (
            merged(good.clone(), json!({"roundups": [{"links": []}]})),
            "/roundups/0/title",
        ),
    ]
}

#[tokio::test]
async fn each_invalid_field_is_a_422_pointing_at_it_and_nothing_is_written() {
    let desk = Desk::open().await;
    for (body, pointer) in invalid_creates() {
        let problem = assert_names(desk.post(&body).await, 422, "pointer", pointer).await;
        assert_eq!(problem["type"], "/problems/invalid-body", "{pointer}");
    }
    assert!(desk.slugs("status=all").await.is_empty());
}

#[tokio::test]
async fn every_problem_in_a_body_is_reported_at_once() {
    let desk = Desk::open().await;
    let body = json!({
        "slug": "Bad Slug",
        "title": "",
        "excerpts": [excerpt("Quoted", "no-such-outlet")],
        "extra": 1,
    });
    let problem = assert_problem(desk.post(&body).await, 422).await;
    let mut pointers = named(&problem, "pointer");
    pointers.sort();
    assert_eq!(
        pointers,
        ["/excerpts/0/outlet", "/extra", "/slug", "/title"]
    );
    assert!(desk.slugs("status=all").await.is_empty());
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_413_and_nothing_is_written() {
    let desk = Desk::open().await;
    let huge = merged(
        article("huge"),
        json!({"body_markdown": "x".repeat(1024 * 1024)}),
    );
    assert_problem(desk.post(&huge).await, 413).await;
    assert!(desk.slugs("status=all").await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_malformed_json_is_400() {
    let desk = Desk::open().await;
    let text = desk
        .request(Method::POST, "/v1/articles")
        .header(CONTENT_TYPE, "text/plain")
        .body(article("plain").to_string());
    assert_problem(send(text).await, 415).await;
    let unlabelled = desk
        .request(Method::POST, "/v1/articles")
        .body(article("unlabelled").to_string());
    assert_problem(send(unlabelled).await, 415).await;
    let malformed = desk
        .request(Method::POST, "/v1/articles")
        .header(CONTENT_TYPE, "application/json")
        .body("{\"slug\": \"half");
    assert_problem(send(malformed).await, 400).await;
    let list = desk
        .request(Method::POST, "/v1/articles")
        .json(&json!([article("in-a-list")]));
    assert_problem(send(list).await, 422).await;
    assert!(desk.slugs("status=all").await.is_empty());
}

#[tokio::test]
async fn an_explicit_null_for_an_optional_member_counts_as_absent() {
    let desk = Desk::open().await;
    let cases = [
        ("summary", json!({"summary": null})),
        ("status", json!({"status": null})),
        ("tags", json!({"tags": null})),
        ("body_markdown", json!({"body_markdown": null})),
        ("excerpts", json!({"excerpts": null})),
        ("roundups", json!({"roundups": null})),
        (
            "excerpts/0/bylines",
            json!({"excerpts": [merged(excerpt("Quoted", "dawn"), json!({"bylines": null}))]}),
        ),
        (
            "roundups/0/links",
            json!({"roundups": [{"title": "Press", "links": null}]}),
        ),
    ];
    let mut refused = Vec::new();
    for (i, (member, fields)) in cases.into_iter().enumerate() {
        let body = merged(article(&format!("nulled-{i}")), fields);
        let (status, answer) = status_and_body(desk.post(&body).await).await;
        if status != 201 {
            refused.push(format!("/{member}: null -> {status} {answer}"));
        }
    }
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}

#[tokio::test]
async fn deleting_an_article_frees_its_old_slugs_and_removes_its_excerpts() {
    let desk = Desk::open().await;
    desk.create(whole_post("short-lived")).await;
    desk.patched("short-lived", json!({"slug": "renamed"}))
        .await;
    let admin = desk.app.key("admin").await;
    let delete = || {
        desk.app
            .with_key(Method::DELETE, "/v1/articles/renamed", &admin)
    };
    assert_eq!(send(delete()).await.status(), 204);
    assert_problem(send(delete()).await, 404).await;
    assert_problem(desk.app.get("/v1/articles/short-lived").await, 404).await;
    let (_, excerpts) = desk.app.get_json("/v1/excerpts").await;
    assert_eq!(excerpts["data"], json!([]));
    desk.create(article("short-lived")).await;
    desk.create(article("renamed")).await;
}

// Idempotent creates

#[tokio::test]
async fn a_retried_create_with_one_idempotency_key_replays_the_first_response() {
    let desk = Desk::open().await;
    let post = || {
        desk.post_request(&whole_post("said-once"))
            .header(IDEMPOTENCY_KEY, "create-said-once")
    };
    let first = send(post()).await;
    assert_eq!(first.status(), 201);
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let (etag, location) = (header(&first, "etag"), header(&first, "location"));
    let first_body = first.text().await.expect("a body");

    let second = send(post()).await;
    assert_eq!(second.status(), 201);
    assert_eq!(
        header(&second, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(header(&second, "etag"), etag);
    assert_eq!(header(&second, "location"), location);
    assert_eq!(second.text().await.expect("a body"), first_body);
    assert_eq!(desk.slugs("status=all").await, ["said-once"]);
}

#[tokio::test]
async fn an_idempotency_key_reused_for_a_different_body_is_422() {
    let desk = Desk::open().await;
    let post = |title: &str| {
        desk.post_request(&merged(article("reused"), json!({"title": title})))
            .header(IDEMPOTENCY_KEY, "one-key")
    };
    assert_eq!(send(post("First")).await.status(), 201);
    let before = desk.state().await;
    assert_names(
        send(post("Second")).await,
        422,
        "parameter",
        IDEMPOTENCY_KEY,
    )
    .await;
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn a_failed_create_does_not_use_up_its_idempotency_key() {
    let desk = Desk::with_published(&["taken"]).await;
    let post = |slug: &str| {
        desk.post_request(&article(slug))
            .header(IDEMPOTENCY_KEY, "retry-me")
    };
    assert_problem(send(post("taken")).await, 409).await;
    let retried = send(post("free")).await;
    assert_eq!(retried.status(), 201);
    assert_eq!(header(&retried, "idempotent-replayed"), None);
}

#[tokio::test]
async fn idempotency_keys_belong_to_the_api_key_that_sent_them() {
    let desk = Desk::open().await;
    let other = desk.app.key("editor").await;
    let mine = desk
        .post_request(&article("mine"))
        .header(IDEMPOTENCY_KEY, "shared-name");
    assert_eq!(send(mine).await.status(), 201);
    let theirs = desk
        .app
        .with_key(Method::POST, "/v1/articles", &other)
        .json(&article("theirs"))
        .header(IDEMPOTENCY_KEY, "shared-name");
    let theirs = send(theirs).await;
    assert_eq!(theirs.status(), 201);
    assert_eq!(header(&theirs, "idempotent-replayed"), None);
    let mut slugs = desk.slugs("status=all").await;
    slugs.sort();
    assert_eq!(slugs, ["mine", "theirs"]);
}

#[tokio::test]
async fn an_idempotency_key_must_be_1_to_255_visible_ascii_characters() {
    let desk = Desk::open().await;
    for key in [String::new(), "has space".into(), "x".repeat(256)] {
        let request = desk
            .post_request(&article("keyed"))
            .header(IDEMPOTENCY_KEY, &key);
        assert_names(send(request).await, 400, "parameter", IDEMPOTENCY_KEY).await;
    }
    assert!(desk.slugs("status=all").await.is_empty());
    let longest = desk
        .post_request(&article("keyed"))
        .header(IDEMPOTENCY_KEY, "x".repeat(255));
    assert_eq!(send(longest).await.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_with_one_idempotency_key_create_one_article() {
    let desk = Desk::open().await;
    let body = whole_post("stampede");
    let answers: Vec<_> = (0..4)
        .map(|_| {
            let request = desk
                .post_request(&body)
                .header(IDEMPOTENCY_KEY, "stampede-key");
            tokio::spawn(async move {
                let response = send(request).await;
                let status = response.status().as_u16();
                let etag = header(&response, "etag");
                let replayed = header(&response, "idempotent-replayed").is_some();
                let body = response.text().await.expect("a body");
                (status, etag, replayed, body)
            })
        })
        .collect();
    let mut seen = Vec::new();
    for answer in answers {
        seen.push(answer.await.expect("request task"));
    }
    for (status, etag, _, body) in &seen {
        assert_eq!(*status, 201, "{body}");
        assert_eq!(etag, &seen[0].1);
        assert_eq!(body, &seen[0].3);
    }
    let firsts = seen.iter().filter(|(_, _, replayed, _)| !replayed).count();
    assert_eq!(firsts, 1, "one answer is the create, the others replays");
    assert_eq!(desk.slugs("status=all").await, ["stampede"]);
}

// ETags and conditional writes

#[tokio::test]
async fn a_get_has_a_strong_etag_and_if_none_match_gets_304() {
    let desk = Desk::with_published(&["cached"]).await;
    let response = desk.app.get("/v1/articles/cached").await;
    let etag = header(&response, "etag").expect("an ETag");
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let revalidated = desk
        .app
        .client
        .get(format!("{}/v1/articles/cached", desk.app.address))
        .header("If-None-Match", &etag);
    assert_eq!(send(revalidated).await.status(), 304);
    let keyed = desk
        .request(Method::GET, "/v1/articles/cached")
        .header("If-None-Match", &etag);
    assert_eq!(send(keyed).await.status(), 304);

    desk.patched("cached", json!({"title": "Changed"})).await;
    let stale = desk
        .request(Method::GET, "/v1/articles/cached")
        .header("If-None-Match", &etag);
    assert_eq!(send(stale).await.status(), 200);
}

#[tokio::test]
async fn a_patch_with_a_stale_if_match_is_412_and_changes_nothing() {
    let desk = Desk::with_published(&["contested"]).await;
    let stale = desk.etag("contested").await;
    let fresh = desk
        .patch("contested", json!({"title": "First edit"}), Some(&stale))
        .await;
    assert_eq!(fresh.status(), 200);
    assert_ne!(header(&fresh, "etag"), Some(stale.clone()));
    let before = desk.state().await;
    let refused = desk
        .patch("contested", json!({"title": "Second edit"}), Some(&stale))
        .await;
    assert_eq!(
        assert_problem(refused, 412).await["type"],
        "/problems/precondition-failed"
    );
    assert_eq!(desk.state().await, before);
    let current = desk.etag("contested").await;
    let accepted = desk
        .patch("contested", json!({"title": "Second edit"}), Some(&current))
        .await;
    assert_eq!(accepted.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_patches_with_one_etag_exactly_one_wins() {
    let desk = Desk::with_published(&["raced"]).await;
    let etag = desk.etag("raced").await;
    let racers: Vec<_> = ["Left", "Right"]
        .into_iter()
        .map(|title| {
            let request =
                desk.patch_request(&desk.editor, "raced", &json!({"title": title}), Some(&etag));
            tokio::spawn(async move { (title, send(request).await.status().as_u16()) })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.expect("request task"));
    }
    let mut statuses: Vec<u16> = outcomes.iter().map(|(_, status)| *status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 412], "{outcomes:?}");
    let winner = outcomes
        .iter()
        .find(|(_, status)| *status == 200)
        .map(|(title, _)| *title);
    assert_eq!(desk.preview_json("raced").await.1["title"].as_str(), winner);
    assert_eq!(desk.revisions("raced").await.len(), 1);
}

#[tokio::test]
async fn a_patch_without_if_match_applies_unconditionally() {
    let desk = Desk::with_published(&["blind"]).await;
    desk.patched("blind", json!({"title": "One"})).await;
    let body = desk.patched("blind", json!({"title": "Two"})).await;
    assert_eq!(body["title"], "Two");
}

#[tokio::test]
async fn a_delete_honours_if_match() {
    let desk = Desk::with_published(&["guarded"]).await;
    let admin = desk.app.key("admin").await;
    let stale = desk.etag("guarded").await;
    desk.patched("guarded", json!({"summary": "Edited since"}))
        .await;
    let delete = |etag: &str| {
        desk.app
            .with_key(Method::DELETE, "/v1/articles/guarded", &admin)
            .header("If-Match", etag)
    };
    let before = desk.state().await;
    assert_problem(send(delete(&stale)).await, 412).await;
    assert_eq!(desk.state().await, before);
    let current = desk.etag("guarded").await;
    assert_eq!(send(delete(&current)).await.status(), 204);
    assert_eq!(desk.preview("guarded").await.status(), 404);
}

// Merge patches

#[tokio::test]
async fn a_patch_changes_only_the_fields_it_names() {
    let desk = Desk::open().await;
    let before = desk.create(whole_post("partial")).await;
    let after = desk
        .patched("partial", json!({"summary": "A new standfirst"}))
        .await;
    assert_eq!(after["summary"], "A new standfirst");
    for (field, value) in before.as_object().expect("an object") {
        if field != "summary" && field != "updated_at" {
            assert_eq!(&after[field], value, "{field}");
        }
    }
    let retagged = desk.patched("partial", json!({"tags": ["economy"]})).await;
    assert_eq!(strings(&retagged["tags"], "slug"), ["economy"]);
    assert_eq!(retagged["summary"], "A new standfirst");
}

#[tokio::test]
async fn a_null_summary_removes_it_but_a_null_title_is_422() {
    let desk = Desk::with_published(&["nulled"]).await;
    let body = desk.patched("nulled", json!({"summary": null})).await;
    assert_eq!(body["summary"], Value::Null);
    assert_eq!(body["title"], "Title of nulled");

    let before = desk.state().await;
    for (patch, pointer) in [
        (json!({"title": null}), "/title"),
        (json!({"slug": null}), "/slug"),
        (json!({"title": ""}), "/title"),
        (json!({"slug": "Bad Slug"}), "/slug"),
        (json!({"status": "scheduled"}), "/status"),
        (json!({"excerpts": []}), "/excerpts"),
    ] {
        let response = desk.patch("nulled", patch, None).await;
        assert_names(response, 422, "pointer", pointer).await;
    }
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn patching_status_to_draft_unpublishes_the_article() {
    let desk = Desk::with_published(&["retracted"]).await;
    assert_eq!(desk.public_status("retracted").await, 200);
    let body = desk.patched("retracted", json!({"status": "draft"})).await;
    assert_eq!(body["status"], "draft");
    assert_eq!(desk.public_status("retracted").await, 404);
    assert!(desk.public_slugs().await.is_empty());
    assert_eq!(desk.slugs("status=draft").await, ["retracted"]);

    let body = desk
        .patched("retracted", json!({"status": "published"}))
        .await;
    assert_eq!(body["status"], "published");
    assert_eq!(desk.public_status("retracted").await, 200);
}

// Old slugs

#[tokio::test]
async fn a_renamed_article_redirects_from_each_old_slug_to_its_current_one() {
    let desk = Desk::with_published(&["first-name"]).await;
    let body = desk
        .patched("first-name", json!({"slug": "second-name"}))
        .await;
    assert_eq!(body["slug"], "second-name");
    assert_eq!(body["url"], "/v1/articles/second-name");
    desk.assert_redirect("first-name", "second-name", false)
        .await;
    assert_eq!(desk.public_status("second-name").await, 200);

    desk.patched("second-name", json!({"slug": "third-name"}))
        .await;
    desk.assert_redirect("first-name", "third-name", false)
        .await;
    desk.assert_redirect("second-name", "third-name", true)
        .await;
}

#[tokio::test]
async fn an_old_slug_of_an_unpublished_article_redirects_only_with_a_key() {
    let desk = Desk::open().await;
    desk.create(article("secret-name")).await;
    desk.patched("secret-name", json!({"slug": "still-secret"}))
        .await;
    desk.assert_redirect("secret-name", "still-secret", true)
        .await;
    assert_problem(desk.app.get("/v1/articles/secret-name").await, 404).await;

    desk.patched("still-secret", json!({"status": "published"}))
        .await;
    desk.assert_redirect("secret-name", "still-secret", false)
        .await;
}

#[tokio::test]
async fn another_article_cannot_take_an_old_slug_until_an_admin_releases_it() {
    let desk = Desk::with_published(&["old-home", "neighbour"]).await;
    desk.patched("old-home", json!({"slug": "new-home"})).await;

    let before = desk.state().await;
    assert_problem(desk.post(&article("old-home")).await, 409).await;
    let rename = desk
        .patch("neighbour", json!({"slug": "old-home"}), None)
        .await;
    assert_problem(rename, 409).await;
    let onto_current = desk
        .patch("neighbour", json!({"slug": "new-home"}), None)
        .await;
    assert_problem(onto_current, 409).await;
    assert_eq!(desk.state().await, before);

    let admin = desk.app.key("admin").await;
    let released = send(
        desk.app
            .with_key(Method::DELETE, "/v1/old-slugs/old-home", &admin),
    )
    .await;
    assert_eq!(released.status(), 204);
    assert_problem(desk.app.get("/v1/articles/old-home").await, 404).await;
    let created = desk.create(article("old-home")).await;
    assert_eq!(created["title"], "Title of old-home");
    assert_eq!(
        desk.preview_json("old-home").await.1["title"],
        "Title of old-home"
    );
    assert_eq!(desk.public_status("new-home").await, 200);
}

#[tokio::test]
async fn an_article_may_be_renamed_back_to_its_own_old_slug() {
    let desk = Desk::with_published(&["original"]).await;
    desk.patched("original", json!({"slug": "detour"})).await;
    let body = desk.patched("detour", json!({"slug": "original"})).await;
    assert_eq!(body["slug"], "original");
    assert_eq!(desk.public_status("original").await, 200);
    desk.assert_redirect("detour", "original", false).await;
    assert_eq!(desk.slugs("status=all").await, ["original"]);
}

/// A create racing a rename of the article that holds its slug. Replacing
/// thousands of tags keeps the rename's transaction open for a while after
/// its slug has changed, so that the creates land inside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_racing_a_rename_cannot_take_the_slug_being_retired() {
    let desk = Desk::open().await;
    desk.create(article("contended")).await;
    let tags: Vec<String> = (0..5000).map(|i| format!("tag-{i}")).collect();
    let patch = json!({"slug": "moved", "tags": tags});
    let rename = desk.patch_request(&desk.editor, "contended", &patch, None);
    let rename = tokio::spawn(async move { send(rename).await.status().as_u16() });
    let creates: Vec<_> = (0..4)
        .map(|i| {
            let request = desk.post_request(&article("contended"));
            tokio::spawn(async move {
                tokio::time::sleep(StdDuration::from_millis(10 << i)).await;
                send(request).await.status().as_u16()
            })
        })
        .collect();
    let renamed = rename.await.expect("rename task");
    let mut created = Vec::new();
    for create in creates {
        created.push(create.await.expect("create task"));
    }
    let old_slug = desk.preview("contended").await.status();
    assert_eq!(renamed, 200);
    assert!(
        created.iter().all(|status| *status == 409),
        "a create took the slug its article was retiring: creates answered {created:?}, \
         and GET /v1/articles/contended now answers {old_slug} instead of redirecting"
    );
    desk.assert_redirect("contended", "moved", true).await;
}

// Revisions

#[tokio::test]
async fn each_update_keeps_the_previous_version_listed_newest_first_with_its_author() {
    let desk = Desk::with_published(&["evolving"]).await;
    let morning = named_key(&desk.app, "editor", "morning-desk").await;
    let night = named_key(&desk.app, "admin", "night-desk").await;
    for (key, title) in [(&morning, "Second title"), (&night, "Third title")] {
        let patch = json!({"title": title});
        let response = send(desk.patch_request(key, "evolving", &patch, None)).await;
        assert_eq!(response.status(), 200);
    }
    let revisions = desk.revisions("evolving").await;
    let paged = desk.walk("/v1/articles/evolving/revisions?limit=1").await;
    assert_eq!(paged, Value::Array(revisions.clone()), "page by page");
    assert_eq!(
        strings(&paged, "created_by"),
        ["night-desk", "morning-desk"]
    );
    let titles: Vec<&Value> = revisions.iter().map(|r| &r["article"]["title"]).collect();
    assert_eq!(
        titles,
        [&json!("Second title"), &json!("Title of evolving")]
    );
    assert!(revisions[0]["id"].as_i64() > revisions[1]["id"].as_i64());
    assert_eq!(
        revisions[1]["restore_url"],
        format!(
            "/v1/articles/evolving/revisions/{}/restore",
            revisions[1]["id"]
        )
    );
    assert_eq!(revisions[1]["article"]["summary"], "Summary of evolving");
    assert_unauthorized(desk.app.get("/v1/articles/evolving/revisions").await).await;
}

#[tokio::test]
async fn restoring_a_revision_brings_its_fields_back_and_is_itself_kept() {
    let desk = Desk::open().await;
    let original = desk.create(whole_post("restorable")).await;
    desk.patched(
        "restorable",
        json!({"title": "Rewritten", "summary": null, "body_markdown": "Changed.", "tags": ["economy"], "status": "draft"}),
    )
    .await;
    let kept = desk.revisions("restorable").await[0].clone();
    let restorer = named_key(&desk.app, "editor", "restorer").await;
    let restored = send(desk.restore_request(&restorer, "restorable", &kept["id"])).await;
    assert_eq!(restored.status(), 200);
    let etag = header(&restored, "etag");
    let restored: Value = restored.json().await.expect("JSON");
    for field in [
        "slug",
        "title",
        "summary",
        "body_markdown",
        "status",
        "published_at",
        "tags",
    ] {
        assert_eq!(restored[field], original[field], "{field}");
    }
    assert_eq!(desk.public_status("restorable").await, 200);
    assert_eq!(header(&desk.preview("restorable").await, "etag"), etag);

    let revisions = desk.revisions("restorable").await;
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0]["created_by"], "restorer");
    assert_eq!(revisions[0]["article"]["title"], "Rewritten");
    assert_eq!(revisions[0]["article"]["status"], "draft");
}

#[tokio::test]
async fn restoring_a_revision_from_before_a_rename_takes_the_old_slug_back() {
    let desk = Desk::with_published(&["before-rename"]).await;
    desk.patched("before-rename", json!({"slug": "after-rename"}))
        .await;
    let revision = desk.revisions("after-rename").await[0]["id"].clone();
    let restored = send(desk.restore_request(&desk.editor, "after-rename", &revision)).await;
    let (status, body) = status_and_body(restored).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["slug"], "before-rename");
    desk.assert_redirect("after-rename", "before-rename", false)
        .await;
}

#[tokio::test]
async fn restoring_an_unknown_revision_is_404_and_changes_nothing() {
    let desk = Desk::with_published(&["mine", "theirs"]).await;
    desk.patched("theirs", json!({"title": "Theirs, edited"}))
        .await;
    let theirs = desk.revisions("theirs").await[0]["id"].clone();
    let before = desk.state().await;
    for revision in [json!(999_999), theirs] {
        let response = send(desk.restore_request(&desk.editor, "mine", &revision)).await;
        assert_problem(response, 404).await;
    }
    assert_eq!(desk.state().await, before);

    let stale = desk.etag("theirs").await;
    desk.patched("theirs", json!({"title": "Edited again"}))
        .await;
    let before = desk.state().await;
    let revision = desk.revisions("theirs").await[1]["id"].clone();
    let conditional = desk
        .restore_request(&desk.editor, "theirs", &revision)
        .header("If-Match", stale);
    assert_problem(send(conditional).await, 412).await;
    assert_eq!(desk.state().await, before);
    let missing = send(desk.restore_request(&desk.editor, "nobody", &json!(1))).await;
    assert_problem(missing, 404).await;
}
