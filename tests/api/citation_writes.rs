//! The editorial write API for excerpts, roundups, press links and outlets,
//! over HTTP with real keys: roles, 404s, conditional writes, validation,
//! positions, hidden drafts and concurrent writers.

use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};

use crate::excerpts::{scheduled, with};
use crate::helpers::*;

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request reaches the server")
}

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("an ASCII header").to_string())
}

/// Asserts a 422 whose `errors` point at exactly `pointers` (in any order).
async fn assert_pointers(response: Response, pointers: &[&str]) {
    let problem = assert_problem(response, 422).await;
    let mut named: Vec<String> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|error| error["pointer"].as_str().map(String::from))
        .collect();
    named.sort();
    let mut expected: Vec<String> = pointers.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(named, expected, "{problem}");
}

fn new_excerpt(headline: &str) -> Value {
    excerpt(headline, "bloomberg")
}

fn new_link(headline: &str) -> Value {
    json!({"headline": headline, "outlet": "dawn", "url": "https://www.dawn.com/news/1"})
}

/// A published post, a draft and a scheduled post, each with excerpts and
/// roundups, and an outlet nothing cites.
fn newsroom() -> Value {
    let live = with(
        with(
            published("live", Utc::now() - Duration::days(1)),
            "excerpts",
            json!([
                excerpt("Excerpt A", "bloomberg"),
                excerpt("Excerpt B", "dawn"),
                excerpt("Excerpt C", "the-news"),
            ]),
        ),
        "roundups",
        json!([
            roundup(
                "From Pakistan Press",
                &[
                    ("Link one", "the-news"),
                    ("Link two", "dawn"),
                    ("Link three", "the-news")
                ]
            ),
            roundup("From US Press", &[("Link four", "bloomberg")]),
        ]),
    );
    let hidden = with(
        with(
            draft("hidden"),
            "excerpts",
            json!([excerpt("Draft excerpt", "dawn")]),
        ),
        "roundups",
        json!([roundup("Draft roundup", &[("Draft link", "dawn")])]),
    );
    let soon = with(
        with(
            scheduled("soon"),
            "excerpts",
            json!([excerpt("Scheduled excerpt", "bloomberg")]),
        ),
        "roundups",
        json!([roundup("Scheduled roundup", &[("Scheduled link", "dawn")])]),
    );
    let mut site = site_with(vec![live, hidden, soon], vec![]);
    site["outlets"]
        .as_array_mut()
        .expect("outlets")
        .push(json!({"slug": "unused", "name": "Unused", "home_url": "https://unused.example/"}));
    site
}

/// The ids of an article's excerpts, roundups and their links, in order.
#[derive(Debug, Clone, PartialEq)]
struct Ids {
    excerpts: Vec<i64>,
    roundups: Vec<i64>,
    links: Vec<Vec<i64>>,
}

fn ids_of(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

fn positions_of(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["position"].as_i64().expect("a position"))
        .collect()
}

/// An article's `updated_at`.
fn updated_at(article: &Value) -> DateTime<Utc> {
    article["updated_at"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .expect("an RFC 3339 updated_at")
        .with_timezone(&Utc)
}

fn one_to(n: usize) -> Vec<i64> {
    (1..=n as i64).collect()
}

struct Desk {
    app: TestApp,
    editor: String,
    admin: String,
}

impl Desk {
    async fn new() -> Self {
        let app = TestApp::with_site(newsroom()).await;
        let editor = app.key("editor").await;
        let admin = app.key("admin").await;
        Self { app, editor, admin }
    }

    fn as_key(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> RequestBuilder {
        let request = self.app.with_key(method, path, key);
        match body {
            Some(body) => request.json(body),
            None => request,
        }
    }

    /// A request as the editor.
    fn request(&self, method: Method, path: &str, body: Option<&Value>) -> RequestBuilder {
        self.as_key(&self.editor, method, path, body)
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Response {
        send(self.request(method, path, body)).await
    }

    /// A write as the editor that must answer `status`; its JSON body.
    async fn expect(&self, method: Method, path: &str, body: Option<&Value>, status: u16) -> Value {
        let response = self.call(method.clone(), path, body).await;
        let got = response.status().as_u16();
        let json = response.json().await.unwrap_or(Value::Null);
        assert_eq!(got, status, "{method} {path}: {json}");
        json
    }

    /// A resource as an editor sees it, with its ETag.
    async fn read(&self, path: &str) -> (Value, String) {
        let response = self.call(Method::GET, path, None).await;
        assert_eq!(response.status(), 200, "{path}");
        let etag = header(&response, "etag").expect("an ETag");
        (response.json().await.expect("JSON"), etag)
    }

    async fn article(&self, slug: &str) -> Value {
        self.read(&format!("/v1/articles/{slug}")).await.0
    }

    async fn ids(&self, slug: &str) -> Ids {
        let article = self.article(slug).await;
        let roundups = article["roundups"].as_array().expect("roundups");
        Ids {
            excerpts: ids_of(&article["excerpts"]),
            roundups: ids_of(&article["roundups"]),
            links: roundups.iter().map(|r| ids_of(&r["links"])).collect(),
        }
    }

    /// Everything the writes here can change, as editors see it.
    async fn state(&self) -> Value {
        let mut state = serde_json::Map::new();
        for slug in ["live", "hidden", "soon"] {
            state.insert(slug.into(), self.article(slug).await);
        }
        let (status, outlets) = self.app.get_json("/v1/outlets").await;
        assert_eq!(status, 200);
        state.insert("outlets".into(), outlets);
        Value::Object(state)
    }
}

/// One call of each write endpoint, against the newsroom, that succeeds for
/// a caller allowed to make it.
async fn every_write(desk: &Desk) -> Vec<(Method, String, Option<Value>, u16, bool)> {
    let live = desk.ids("live").await;
    let hidden = desk.ids("hidden").await;
    let order = |ids: &[i64]| Some(json!({"ids": ids}));
    vec![
        (
            Method::POST,
            "/v1/articles/live/excerpts".into(),
            Some(new_excerpt("New")),
            201,
            false,
        ),
        (
            Method::PATCH,
            format!("/v1/excerpts/{}", live.excerpts[0]),
            Some(json!({"headline": "Edited"})),
            200,
            false,
        ),
        (
            Method::DELETE,
            format!("/v1/excerpts/{}", live.excerpts[2]),
            None,
            204,
            false,
        ),
        (
            Method::PUT,
            "/v1/articles/hidden/excerpts/order".into(),
            order(&hidden.excerpts),
            200,
            false,
        ),
        (
            Method::POST,
            "/v1/articles/live/roundups".into(),
            Some(json!({"title": "New"})),
            201,
            false,
        ),
        (
            Method::PATCH,
            format!("/v1/roundups/{}", live.roundups[0]),
            Some(json!({"title": "Retitled"})),
            200,
            false,
        ),
        (
            Method::DELETE,
            format!("/v1/roundups/{}", live.roundups[1]),
            None,
            204,
            false,
        ),
        (
            Method::PUT,
            "/v1/articles/hidden/roundups/order".into(),
            order(&hidden.roundups),
            200,
            false,
        ),
        (
            Method::POST,
            format!("/v1/roundups/{}/links", live.roundups[0]),
            Some(new_link("New link")),
            201,
            false,
        ),
        (
            Method::PATCH,
            format!("/v1/roundup-links/{}", live.links[0][0]),
            Some(json!({"headline": "Edited link"})),
            200,
            false,
        ),
        (
            Method::DELETE,
            format!("/v1/roundup-links/{}", live.links[0][1]),
            None,
            204,
            false,
        ),
        (
            Method::PUT,
            format!("/v1/roundups/{}/links/order", hidden.roundups[0]),
            order(&hidden.links[0]),
            200,
            false,
        ),
        (
            Method::POST,
            "/v1/outlets".into(),
            Some(
                json!({"slug": "reuters", "name": "Reuters", "home_url": "https://www.reuters.com/"}),
            ),
            201,
            false,
        ),
        (
            Method::PATCH,
            "/v1/outlets/bloomberg".into(),
            Some(json!({"name": "Bloomberg News"})),
            200,
            false,
        ),
        (Method::DELETE, "/v1/outlets/unused".into(), None, 204, true),
    ]
}

async fn each_role_may_make_the_writes_its_role_allows(role: &str) {
    let desk = Desk::new().await;
    let revoked = desk.app.key("editor").await;
    desk.app
        .sql(&format!(
            "UPDATE api_keys SET revoked_at = now() WHERE lookup = '{}'",
            revoked.split('_').nth(1).expect("a lookup")
        ))
        .await;
    let unknown = "bsk_nosuchkey_c2VjcmV0";
    let caller = if role == "admin" {
        desk.admin.clone()
    } else {
        desk.editor.clone()
    };
    for (method, path, body, status, admin_only) in every_write(&desk).await {
        let before = desk.state().await;
        let mut anonymous = desk
            .app
            .client
            .request(method.clone(), format!("{}{path}", desk.app.address));
        if let Some(body) = &body {
            anonymous = anonymous.json(body);
        }
        let refused = send(anonymous).await;
        assert_eq!(
            header(&refused, "www-authenticate").as_deref(),
            Some("Bearer realm=\"broadsheet\"")
        );
        assert_problem(refused, 401).await;
        for key in [revoked.as_str(), unknown] {
            assert_problem(
                send(desk.as_key(key, method.clone(), &path, body.as_ref())).await,
                401,
            )
            .await;
        }
        if admin_only && role == "editor" {
            assert_problem(
                send(desk.as_key(&desk.editor, method.clone(), &path, body.as_ref())).await,
                403,
            )
            .await;
        }
        assert_eq!(
            desk.state().await,
            before,
            "{method} {path} refused, yet something changed"
        );
        let caller = if admin_only { &desk.admin } else { &caller };
        let response = send(desk.as_key(caller, method.clone(), &path, body.as_ref())).await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{role}: {method} {path}"
        );
        if status == 201 {
            assert!(header(&response, "location").is_some(), "{method} {path}");
            assert!(header(&response, "etag").is_some(), "{method} {path}");
        }
    }
}

// Roles and keys

#[tokio::test]
async fn an_editor_may_make_every_write_but_delete_an_outlet_and_a_bad_key_changes_nothing() {
    each_role_may_make_the_writes_its_role_allows("editor").await;
}

#[tokio::test]
async fn an_admin_may_make_every_write() {
    each_role_may_make_the_writes_its_role_allows("admin").await;
}

#[tokio::test]
async fn writes_to_what_does_not_exist_are_404_and_change_nothing() {
    let desk = Desk::new().await;
    let before = desk.state().await;
    let order = json!({"ids": []});
    let cases = [
        (
            Method::POST,
            "/v1/articles/nope/excerpts",
            Some(new_excerpt("Orphan")),
        ),
        (
            Method::PATCH,
            "/v1/excerpts/999999",
            Some(json!({"headline": "x"})),
        ),
        (Method::DELETE, "/v1/excerpts/999999", None),
        (
            Method::PUT,
            "/v1/articles/nope/excerpts/order",
            Some(order.clone()),
        ),
        (
            Method::POST,
            "/v1/articles/nope/roundups",
            Some(json!({"title": "x"})),
        ),
        (
            Method::PATCH,
            "/v1/roundups/999999",
            Some(json!({"title": "x"})),
        ),
        (Method::DELETE, "/v1/roundups/999999", None),
        (
            Method::PUT,
            "/v1/articles/nope/roundups/order",
            Some(order.clone()),
        ),
        (
            Method::POST,
            "/v1/roundups/999999/links",
            Some(new_link("x")),
        ),
        (Method::GET, "/v1/roundup-links/999999", None),
        (
            Method::PATCH,
            "/v1/roundup-links/999999",
            Some(json!({"headline": "x"})),
        ),
        (Method::DELETE, "/v1/roundup-links/999999", None),
        (Method::PUT, "/v1/roundups/999999/links/order", Some(order)),
        (
            Method::PATCH,
            "/v1/outlets/nope",
            Some(json!({"name": "x"})),
        ),
        (
            Method::PATCH,
            "/v1/outlets/Not%20A%20Slug",
            Some(json!({"name": "x"})),
        ),
    ];
    for (method, path, body) in cases {
        assert_problem(desk.call(method, path, body.as_ref()).await, 404).await;
    }
    assert_problem(
        send(desk.as_key(&desk.admin, Method::DELETE, "/v1/outlets/nope", None)).await,
        404,
    )
    .await;
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn a_path_id_that_is_not_a_number_is_400() {
    let desk = Desk::new().await;
    let problem = assert_problem(
        desk.call(Method::PATCH, "/v1/excerpts/abc", Some(&json!({})))
            .await,
        400,
    )
    .await;
    assert_eq!(problem["errors"][0]["parameter"], "id");
}

// Reads

#[tokio::test]
async fn reads_have_strong_etags_304_and_are_private_under_a_key() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    for path in [
        format!("/v1/excerpts/{}", live.excerpts[0]),
        format!("/v1/roundups/{}", live.roundups[0]),
        format!("/v1/roundup-links/{}", live.links[0][0]),
        "/v1/outlets/dawn".to_string(),
    ] {
        let public = desk.app.get(&path).await;
        assert_eq!(public.status(), 200, "{path}");
        let etag = header(&public, "etag").expect("an ETag");
        assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
        let cache_control = header(&public, "cache-control").unwrap_or_default();
        assert!(
            cache_control.starts_with("public, "),
            "{path}: {cache_control}"
        );
        let again = send(
            desk.app
                .client
                .get(format!("{}{path}", desk.app.address))
                .header("If-None-Match", &etag),
        )
        .await;
        assert_eq!(again.status(), 304, "{path}");
        let keyed = desk.call(Method::GET, &path, None).await;
        assert_eq!(
            header(&keyed, "cache-control").as_deref(),
            Some("private, no-store")
        );
        assert_eq!(header(&keyed, "etag"), Some(etag), "{path}");
    }
}

#[tokio::test]
async fn a_press_link_reads_with_its_roundup_and_article() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let (status, link) = desk
        .app
        .get_json(&format!("/v1/roundup-links/{}", live.links[0][1]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(link["headline"], "Link two");
    assert_eq!(link["position"], 2);
    assert_eq!(link["outlet"]["slug"], "dawn");
    assert_eq!(link["roundup"]["id"], live.roundups[0]);
    assert_eq!(link["article"]["slug"], "live");
}

#[tokio::test]
async fn the_public_never_sees_what_drafts_and_scheduled_posts_hold_but_keys_do() {
    let desk = Desk::new().await;
    for slug in ["hidden", "soon"] {
        let ids = desk.ids(slug).await;
        let added = desk
            .expect(
                Method::POST,
                &format!("/v1/articles/{slug}/excerpts"),
                Some(&new_excerpt("Added")),
                201,
            )
            .await;
        let link = desk
            .expect(
                Method::POST,
                &format!("/v1/roundups/{}/links", ids.roundups[0]),
                Some(&new_link("Added")),
                201,
            )
            .await;
        for path in [
            format!("/v1/excerpts/{}", ids.excerpts[0]),
            format!("/v1/excerpts/{}", added["id"]),
            format!("/v1/roundups/{}", ids.roundups[0]),
            format!("/v1/roundup-links/{}", ids.links[0][0]),
            format!("/v1/roundup-links/{}", link["id"]),
        ] {
            assert_problem(desk.app.get(&path).await, 404).await;
            let keyed = desk.call(Method::GET, &path, None).await;
            assert_eq!(keyed.status(), 200, "{path}");
            assert_eq!(
                header(&keyed, "cache-control").as_deref(),
                Some("private, no-store")
            );
        }
    }
    let excerpts: Vec<Value> = desk.app.collect_pages("/v1/excerpts").await;
    assert_eq!(excerpts.len(), 3, "{excerpts:?}");
    assert!(excerpts.iter().all(|e| e["article"]["slug"] == "live"));
    let links: Vec<Value> = desk.app.collect_pages("/v1/roundup-links").await;
    assert!(
        links.iter().all(|l| l["article"]["slug"] == "live"),
        "{links:?}"
    );
    let (_, dawn) = desk.app.get_json("/v1/outlets/dawn").await;
    assert_eq!(
        (dawn["excerpt_count"].as_i64(), dawn["link_count"].as_i64()),
        (Some(1), Some(1))
    );
}

// Excerpts

#[tokio::test]
async fn an_excerpt_is_added_last_by_default_or_at_its_position() {
    let desk = Desk::new().await;
    let before = desk.ids("live").await;
    let response = desk
        .call(
            Method::POST,
            "/v1/articles/live/excerpts",
            Some(&new_excerpt("Appended")),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = header(&response, "location").expect("Location");
    let etag = header(&response, "etag").expect("ETag");
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("private, no-store")
    );
    let appended: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/excerpts/{}", appended["id"]));
    assert_eq!(appended["position"], 4);
    assert_eq!(appended["article"]["slug"], "live");
    assert_eq!(appended["outlet"]["slug"], "bloomberg");
    assert_eq!(desk.read(&location).await.1, etag);

    let first = desk
        .expect(
            Method::POST,
            "/v1/articles/live/excerpts",
            Some(&with(new_excerpt("First"), "position", json!(1))),
            201,
        )
        .await;
    assert_eq!(first["position"], 1);
    let article = desk.article("live").await;
    let mut expected = vec![first["id"].as_i64().unwrap()];
    expected.extend(&before.excerpts);
    expected.push(appended["id"].as_i64().unwrap());
    assert_eq!(ids_of(&article["excerpts"]), expected);
    assert_eq!(positions_of(&article["excerpts"]), one_to(5));

    let last = desk
        .expect(
            Method::POST,
            "/v1/articles/live/excerpts",
            Some(&with(new_excerpt("Sixth"), "position", json!(6))),
            201,
        )
        .await;
    assert_eq!(last["position"], 6);
}

#[tokio::test]
async fn a_position_out_of_range_is_a_422_naming_it() {
    let desk = Desk::new().await;
    let before = desk.state().await;
    let roundup = desk.ids("live").await.roundups[0];
    for position in [json!(0), json!(5), json!(-1), json!("1"), json!(1.5)] {
        let response = desk
            .call(
                Method::POST,
                "/v1/articles/live/excerpts",
                Some(&with(
                    new_excerpt("Misplaced"),
                    "position",
                    position.clone(),
                )),
            )
            .await;
        assert_pointers(response, &["/position"]).await;
    }
    let response = desk
        .call(
            Method::POST,
            "/v1/articles/live/roundups",
            Some(&json!({"title": "x", "position": 4})),
        )
        .await;
    assert_pointers(response, &["/position"]).await;
    let response = desk
        .call(
            Method::POST,
            &format!("/v1/roundups/{roundup}/links"),
            Some(&with(new_link("x"), "position", json!(5))),
        )
        .await;
    assert_pointers(response, &["/position"]).await;
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn an_excerpt_patch_merges_its_members_and_moves_the_articles_updated_at() {
    let desk = Desk::new().await;
    let id = desk.ids("live").await.excerpts[1];
    let before = desk.article("live").await;
    let (_, etag) = desk.read(&format!("/v1/excerpts/{id}")).await;
    let response = send(
        desk.request(Method::PATCH, &format!("/v1/excerpts/{id}"), None)
            .header("Content-Type", "application/merge-patch+json")
            .header("If-Match", &etag)
            .body(
                json!({
                    "headline": "A new headline",
                    "outlet": "the-news",
                    "call_to_action": null,
                    "bylines": ["One", "Two"],
                })
                .to_string(),
            ),
    )
    .await;
    assert_eq!(response.status(), 200);
    let new_etag = header(&response, "etag").expect("ETag");
    assert_ne!(new_etag, etag);
    let patched: Value = response.json().await.unwrap();
    assert_eq!(patched["headline"], "A new headline");
    assert_eq!(patched["outlet"]["slug"], "the-news");
    assert_eq!(patched["call_to_action"], Value::Null);
    assert_eq!(patched["bylines"], json!(["One", "Two"]));
    assert_eq!(patched["position"], 2);
    assert_eq!(
        patched["body_markdown"],
        before["excerpts"][1]["body_markdown"]
    );
    assert_eq!(desk.read(&format!("/v1/excerpts/{id}")).await.1, new_etag);
    let after = desk.article("live").await;
    assert!(updated_at(&after) > updated_at(&before), "{after}");
    assert_eq!(after["excerpts"][1]["headline"], "A new headline");

    // A patch that changes nothing writes nothing.
    let unchanged = desk
        .expect(
            Method::PATCH,
            &format!("/v1/excerpts/{id}"),
            Some(&json!({"headline": "A new headline"})),
            200,
        )
        .await;
    assert_eq!(unchanged, patched);
    assert_eq!(
        desk.article("live").await["updated_at"],
        after["updated_at"]
    );
}

#[tokio::test]
async fn deleting_an_excerpt_closes_the_gap() {
    let desk = Desk::new().await;
    let ids = desk.ids("live").await;
    let before = desk.article("live").await;
    let path = format!("/v1/excerpts/{}", ids.excerpts[1]);
    let response = desk.call(Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204);
    let article = desk.article("live").await;
    assert_eq!(
        ids_of(&article["excerpts"]),
        [ids.excerpts[0], ids.excerpts[2]]
    );
    assert_eq!(positions_of(&article["excerpts"]), one_to(2));
    assert!(updated_at(&article) > updated_at(&before));
    assert_problem(desk.call(Method::GET, &path, None).await, 404).await;
    assert_problem(desk.call(Method::DELETE, &path, None).await, 404).await;
}

#[tokio::test]
async fn excerpts_are_reordered_to_exactly_the_ids_given() {
    let desk = Desk::new().await;
    let ids = desk.ids("live").await.excerpts;
    let (_, etag) = desk.read("/v1/articles/live").await;
    let order = [ids[2], ids[0], ids[1]];
    let response = send(
        desk.request(
            Method::PUT,
            "/v1/articles/live/excerpts/order",
            Some(&json!({"ids": order})),
        )
        .header("If-Match", &etag),
    )
    .await;
    assert_eq!(response.status(), 200);
    let new_etag = header(&response, "etag").expect("ETag");
    let article: Value = response.json().await.unwrap();
    assert_eq!(ids_of(&article["excerpts"]), order);
    assert_eq!(positions_of(&article["excerpts"]), one_to(3));
    assert_eq!(desk.read("/v1/articles/live").await.1, new_etag);
    let (_, public) = desk.app.get_json("/v1/articles/live").await;
    assert_eq!(ids_of(&public["excerpts"]), order);
    let (_, single) = desk.app.get_json(&format!("/v1/excerpts/{}", ids[2])).await;
    assert_eq!(single["position"], 1);
}

#[tokio::test]
async fn a_reorder_that_is_not_exactly_the_siblings_is_a_422_and_changes_nothing() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let other = desk.ids("hidden").await.excerpts[0];
    let before = desk.state().await;
    let [a, b, c] = [live.excerpts[0], live.excerpts[1], live.excerpts[2]];
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"ids": [a, b]}), vec!["/ids"]),
        (json!({"ids": [a, b, c, other]}), vec!["/ids/3"]),
        (json!({"ids": [a, a, b, c]}), vec!["/ids/1"]),
        (json!({"ids": [a, a, b]}), vec!["/ids", "/ids/1"]),
        (json!({"ids": [a, "b", c]}), vec!["/ids", "/ids/1"]),
        (json!({"ids": a}), vec!["/ids"]),
        (json!({}), vec!["/ids"]),
        (json!({"ids": [a, b, c], "colour": "red"}), vec!["/colour"]),
    ];
    for (body, pointers) in cases {
        let response = desk
            .call(Method::PUT, "/v1/articles/live/excerpts/order", Some(&body))
            .await;
        assert_pointers(response, &pointers).await;
    }
    let response = desk
        .call(
            Method::PUT,
            &format!("/v1/roundups/{}/links/order", live.roundups[0]),
            Some(&json!({"ids": [live.links[0][0], live.links[0][1], live.links[1][0]]})),
        )
        .await;
    assert_pointers(response, &["/ids", "/ids/2"]).await;
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn each_invalid_member_is_a_422_pointing_at_it_and_nothing_is_written() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let before = desk.state().await;
    let cases: Vec<(Method, String, Value, Vec<&str>)> = vec![
        (
            Method::POST,
            "/v1/articles/live/excerpts".into(),
            json!({"headline": " ", "outlet": "nowhere", "source_url": "not a url", "body_markdown": "Text",
                   "source_published_on": "24 Oct", "position": 9, "colour": "red"}),
            vec![
                "/headline",
                "/outlet",
                "/source_url",
                "/source_published_on",
                "/position",
                "/colour",
            ],
        ),
        (
            Method::POST,
            "/v1/articles/live/excerpts".into(),
            json!({"bylines": "One"}),
            vec![
                "/headline",
                "/outlet",
                "/source_url",
                "/body_markdown",
                "/bylines",
            ],
        ),
        (
            Method::PATCH,
            format!("/v1/excerpts/{}", live.excerpts[0]),
            json!({"headline": null, "outlet": "nowhere", "bylines": [1], "position": 1}),
            vec!["/headline", "/outlet", "/bylines/0", "/position"],
        ),
        (
            Method::POST,
            "/v1/articles/live/roundups".into(),
            json!({"title": "", "links": [
                {"headline": "h", "outlet": "nowhere", "url": "https://example.org/"},
                {"headline": "h", "extra": 1},
            ]}),
            vec![
                "/title",
                "/links/0/outlet",
                "/links/1/outlet",
                "/links/1/url",
                "/links/1/extra",
            ],
        ),
        (
            Method::PATCH,
            format!("/v1/roundups/{}", live.roundups[0]),
            json!({"title": "  ", "links": []}),
            vec!["/title", "/links"],
        ),
        (
            Method::POST,
            format!("/v1/roundups/{}/links", live.roundups[0]),
            json!({"headline": "h", "outlet": "nowhere", "url": "ftp://example.org/"}),
            vec!["/outlet", "/url"],
        ),
        (
            Method::PATCH,
            format!("/v1/roundup-links/{}", live.links[0][0]),
            json!({"outlet": "Not a slug", "url": null, "roundup": 2}),
            vec!["/outlet", "/url", "/roundup"],
        ),
        (
            Method::POST,
            "/v1/outlets".into(),
            json!({"slug": "Not A Slug", "name": "", "home_url": "nope", "country_code": "pk", "extra": 1}),
            vec!["/slug", "/name", "/home_url", "/country_code", "/extra"],
        ),
        (
            Method::POST,
            "/v1/outlets".into(),
            json!({"slug": "a".repeat(101), "name": "Long", "home_url": "https://long.example/"}),
            vec!["/slug"],
        ),
        (
            Method::PATCH,
            "/v1/outlets/dawn".into(),
            json!({"slug": "a--b", "country_code": "PAK", "home_url": null}),
            vec!["/slug", "/country_code", "/home_url"],
        ),
    ];
    for (method, path, body, pointers) in cases {
        let response = desk.call(method.clone(), &path, Some(&body)).await;
        assert_eq!(response.status(), 422, "{method} {path} {body}");
        assert_pointers(response, &pointers).await;
    }
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn a_null_for_an_optional_member_of_a_create_counts_as_absent() {
    let desk = Desk::new().await;
    let created = desk
        .expect(
            Method::POST,
            "/v1/articles/live/excerpts",
            Some(&json!({"headline": "Sparse", "outlet": "dawn", "source_url": "https://www.dawn.com/",
                         "body_markdown": "Text", "bylines": null, "call_to_action": null, "position": null})),
            201,
        )
        .await;
    assert_eq!(created["bylines"], json!([]));
    assert_eq!(created["position"], 4);
    let roundup = desk
        .expect(
            Method::POST,
            "/v1/articles/live/roundups",
            Some(&json!({"title": "Empty", "links": null})),
            201,
        )
        .await;
    assert_eq!(roundup["links"], json!([]));
    let outlet = desk
        .expect(
            Method::POST,
            "/v1/outlets",
            Some(&json!({"slug": "afp", "name": "AFP", "home_url": "https://www.afp.com/", "country_code": null})),
            201,
        )
        .await;
    assert_eq!(outlet["country_code"], Value::Null);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415_and_an_oversized_one_413() {
    let desk = Desk::new().await;
    let before = desk.state().await;
    let response = send(
        desk.request(Method::POST, "/v1/articles/live/excerpts", None)
            .header("Content-Type", "text/plain")
            .body("headline=x"),
    )
    .await;
    assert_problem(response, 415).await;
    let huge = with(
        new_excerpt("Huge"),
        "body_markdown",
        json!("x".repeat(1024 * 1024 + 1)),
    );
    assert_problem(
        desk.call(Method::POST, "/v1/articles/live/excerpts", Some(&huge))
            .await,
        413,
    )
    .await;
    let id = desk.ids("live").await.excerpts[0];
    assert_problem(
        desk.call(Method::PATCH, &format!("/v1/excerpts/{id}"), Some(&huge))
            .await,
        413,
    )
    .await;
    assert_eq!(desk.state().await, before);
}

#[tokio::test]
async fn a_retried_create_with_one_idempotency_key_adds_one_excerpt() {
    let desk = Desk::new().await;
    let send_once = || {
        send(
            desk.request(
                Method::POST,
                "/v1/articles/live/excerpts",
                Some(&new_excerpt("Once")),
            )
            .header("Idempotency-Key", "excerpt-once"),
        )
    };
    let first = send_once().await;
    assert_eq!(first.status(), 201);
    let location = header(&first, "location");
    let body: Value = first.json().await.unwrap();
    let again = send_once().await;
    assert_eq!(again.status(), 201);
    assert_eq!(
        header(&again, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(header(&again, "location"), location);
    assert_eq!(again.json::<Value>().await.unwrap(), body);
    assert_eq!(desk.ids("live").await.excerpts.len(), 4);
}

// Roundups and links

#[tokio::test]
async fn a_roundup_is_added_with_its_links_at_its_position() {
    let desk = Desk::new().await;
    let before = desk.ids("live").await;
    let response = desk
        .call(
            Method::POST,
            "/v1/articles/live/roundups",
            Some(&json!({"title": "From UK Press", "position": 2, "links": [new_link("One"), new_link("Two")]})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = header(&response, "location").expect("Location");
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/roundups/{}", created["id"]));
    assert_eq!(created["position"], 2);
    assert_eq!(created["title"], "From UK Press");
    assert_eq!(positions_of(&created["links"]), one_to(2));
    let article = desk.article("live").await;
    assert_eq!(
        ids_of(&article["roundups"]),
        [
            before.roundups[0],
            created["id"].as_i64().unwrap(),
            before.roundups[1]
        ]
    );
    assert_eq!(positions_of(&article["roundups"]), one_to(3));
}

#[tokio::test]
async fn a_roundup_is_retitled_and_its_links_stay() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let path = format!("/v1/roundups/{}", live.roundups[0]);
    let (before, etag) = desk.read(&path).await;
    let response = send(
        desk.request(
            Method::PATCH,
            &path,
            Some(&json!({"title": "From the Pakistani Press"})),
        )
        .header("If-Match", &etag),
    )
    .await;
    assert_eq!(response.status(), 200);
    let after: Value = response.json().await.unwrap();
    assert_eq!(after["title"], "From the Pakistani Press");
    assert_eq!(after["links"], before["links"]);
}

#[tokio::test]
async fn deleting_a_roundup_takes_its_links_and_closes_the_gap() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    desk.expect(
        Method::DELETE,
        &format!("/v1/roundups/{}", live.roundups[0]),
        None,
        204,
    )
    .await;
    let article = desk.article("live").await;
    assert_eq!(ids_of(&article["roundups"]), [live.roundups[1]]);
    assert_eq!(positions_of(&article["roundups"]), [1]);
    for link in &live.links[0] {
        assert_problem(
            desk.call(Method::GET, &format!("/v1/roundup-links/{link}"), None)
                .await,
            404,
        )
        .await;
    }
}

#[tokio::test]
async fn links_are_added_deleted_and_reordered_within_their_roundup() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let roundup = live.roundups[0];
    let [one, two, three] = [live.links[0][0], live.links[0][1], live.links[0][2]];
    let response = desk
        .call(
            Method::POST,
            &format!("/v1/roundups/{roundup}/links"),
            Some(&with(new_link("Second"), "position", json!(2))),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = header(&response, "location").expect("Location");
    let added: Value = response.json().await.unwrap();
    let new = added["id"].as_i64().unwrap();
    assert_eq!(location, format!("/v1/roundup-links/{new}"));
    assert_eq!(added["roundup"]["id"], roundup);
    assert_eq!(added["position"], 2);
    let (links, _) = desk.read(&format!("/v1/roundups/{roundup}")).await;
    assert_eq!(ids_of(&links["links"]), [one, new, two, three]);
    assert_eq!(positions_of(&links["links"]), one_to(4));

    desk.expect(
        Method::DELETE,
        &format!("/v1/roundup-links/{two}"),
        None,
        204,
    )
    .await;
    let (links, etag) = desk.read(&format!("/v1/roundups/{roundup}")).await;
    assert_eq!(ids_of(&links["links"]), [one, new, three]);
    assert_eq!(positions_of(&links["links"]), one_to(3));

    let response = send(
        desk.request(
            Method::PUT,
            &format!("/v1/roundups/{roundup}/links/order"),
            Some(&json!({"ids": [three, one, new]})),
        )
        .header("If-Match", &etag),
    )
    .await;
    assert_eq!(response.status(), 200);
    let reordered: Value = response.json().await.unwrap();
    assert_eq!(reordered["id"], roundup);
    assert_eq!(ids_of(&reordered["links"]), [three, one, new]);
    assert_eq!(positions_of(&reordered["links"]), one_to(3));
    // The other roundup's links are untouched.
    let (other, _) = desk
        .read(&format!("/v1/roundups/{}", live.roundups[1]))
        .await;
    assert_eq!(ids_of(&other["links"]), live.links[1]);
}

#[tokio::test]
async fn roundups_are_reordered_and_a_link_is_patched() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let article = desk
        .expect(
            Method::PUT,
            "/v1/articles/live/roundups/order",
            Some(&json!({"ids": [live.roundups[1], live.roundups[0]]})),
            200,
        )
        .await;
    assert_eq!(
        ids_of(&article["roundups"]),
        [live.roundups[1], live.roundups[0]]
    );
    assert_eq!(positions_of(&article["roundups"]), one_to(2));
    let link = desk
        .expect(
            Method::PATCH,
            &format!("/v1/roundup-links/{}", live.links[0][0]),
            Some(&json!({"outlet": "bloomberg", "url": "https://www.bloomberg.com/a"})),
            200,
        )
        .await;
    assert_eq!(link["outlet"]["slug"], "bloomberg");
    assert_eq!(link["url"], "https://www.bloomberg.com/a");
    assert_eq!(link["headline"], "Link one");
    assert_eq!(link["roundup"]["id"], live.roundups[0]);
}

#[tokio::test]
async fn every_write_to_what_an_article_holds_moves_its_updated_at() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/v1/articles/live/excerpts".into(),
            Some(new_excerpt("x")),
        ),
        (
            Method::PATCH,
            format!("/v1/excerpts/{}", live.excerpts[0]),
            Some(json!({"headline": "y"})),
        ),
        (
            Method::DELETE,
            format!("/v1/excerpts/{}", live.excerpts[1]),
            None,
        ),
        (
            Method::POST,
            "/v1/articles/live/roundups".into(),
            Some(json!({"title": "t"})),
        ),
        (
            Method::PATCH,
            format!("/v1/roundups/{}", live.roundups[0]),
            Some(json!({"title": "u"})),
        ),
        (
            Method::POST,
            format!("/v1/roundups/{}/links", live.roundups[0]),
            Some(new_link("l")),
        ),
        (
            Method::PATCH,
            format!("/v1/roundup-links/{}", live.links[0][0]),
            Some(json!({"headline": "m"})),
        ),
        (
            Method::DELETE,
            format!("/v1/roundup-links/{}", live.links[0][1]),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/roundups/{}/links/order", live.roundups[1]),
            Some(json!({"ids": live.links[1]})),
        ),
        (
            Method::DELETE,
            format!("/v1/roundups/{}", live.roundups[1]),
            None,
        ),
    ];
    for (method, path, body) in writes {
        let before = updated_at(&desk.article("live").await);
        let response = desk.call(method.clone(), &path, body.as_ref()).await;
        assert!(
            response.status().is_success(),
            "{method} {path}: {}",
            response.status()
        );
        let after = updated_at(&desk.article("live").await);
        assert!(after > before, "{method} {path}: {before} then {after}");
    }
}

// Conditional writes

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing_then_the_fresh_one_works() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let excerpt = live.excerpts[0];
    let roundup = live.roundups[0];
    let link = live.links[0][0];
    // (what the ETag is of, how to change it behind the client's back, the write)
    let cases: Vec<(String, String, Method, String, Option<Value>)> = vec![
        (
            format!("/v1/excerpts/{excerpt}"),
            format!("UPDATE excerpts SET headline = 'Meanwhile' WHERE id = {excerpt}"),
            Method::PATCH,
            format!("/v1/excerpts/{excerpt}"),
            Some(json!({"headline": "Mine"})),
        ),
        (
            format!("/v1/roundups/{roundup}"),
            format!("UPDATE roundups SET title = 'Meanwhile' WHERE id = {roundup}"),
            Method::PATCH,
            format!("/v1/roundups/{roundup}"),
            Some(json!({"title": "Mine"})),
        ),
        (
            format!("/v1/roundup-links/{link}"),
            format!("UPDATE roundup_links SET headline = 'Meanwhile' WHERE id = {link}"),
            Method::PATCH,
            format!("/v1/roundup-links/{link}"),
            Some(json!({"headline": "Mine"})),
        ),
        (
            "/v1/outlets/dawn".into(),
            "UPDATE outlets SET name = 'Meanwhile' WHERE slug = 'dawn'".into(),
            Method::PATCH,
            "/v1/outlets/dawn".into(),
            Some(json!({"name": "Mine"})),
        ),
        (
            "/v1/articles/live".into(),
            "UPDATE articles SET updated_at = now() WHERE slug = 'live'".into(),
            Method::PUT,
            "/v1/articles/live/excerpts/order".into(),
            Some(json!({"ids": [live.excerpts[2], live.excerpts[1], live.excerpts[0]]})),
        ),
        (
            "/v1/articles/live".into(),
            "UPDATE articles SET updated_at = now() WHERE slug = 'live'".into(),
            Method::PUT,
            "/v1/articles/live/roundups/order".into(),
            Some(json!({"ids": [live.roundups[1], live.roundups[0]]})),
        ),
        (
            format!("/v1/roundups/{roundup}"),
            format!("UPDATE roundups SET title = 'Later' WHERE id = {roundup}"),
            Method::PUT,
            format!("/v1/roundups/{roundup}/links/order"),
            Some(json!({"ids": [live.links[0][2], live.links[0][1], live.links[0][0]]})),
        ),
        (
            format!("/v1/excerpts/{}", live.excerpts[1]),
            format!(
                "UPDATE excerpts SET headline = 'Meanwhile' WHERE id = {}",
                live.excerpts[1]
            ),
            Method::DELETE,
            format!("/v1/excerpts/{}", live.excerpts[1]),
            None,
        ),
        (
            format!("/v1/roundup-links/{}", live.links[1][0]),
            format!(
                "UPDATE roundup_links SET url = 'https://later.example/' WHERE id = {}",
                live.links[1][0]
            ),
            Method::DELETE,
            format!("/v1/roundup-links/{}", live.links[1][0]),
            None,
        ),
        (
            format!("/v1/roundups/{}", live.roundups[1]),
            format!(
                "UPDATE roundups SET title = 'Meanwhile' WHERE id = {}",
                live.roundups[1]
            ),
            Method::DELETE,
            format!("/v1/roundups/{}", live.roundups[1]),
            None,
        ),
    ];
    for (resource, change, method, path, body) in cases {
        let (_, stale) = desk.read(&resource).await;
        desk.app.sql(&change).await;
        let before = desk.state().await;
        let refused = send(
            desk.request(method.clone(), &path, body.as_ref())
                .header("If-Match", &stale),
        )
        .await;
        let problem = assert_problem(refused, 412).await;
        assert_eq!(
            problem["type"], "/problems/precondition-failed",
            "{method} {path}"
        );
        assert_eq!(
            desk.state().await,
            before,
            "{method} {path} refused, yet something changed"
        );
        let (_, fresh) = desk.read(&resource).await;
        let accepted = send(
            desk.request(method.clone(), &path, body.as_ref())
                .header("If-Match", &fresh),
        )
        .await;
        assert!(
            accepted.status().is_success(),
            "{method} {path}: {}",
            accepted.status()
        );
    }
    // An admin's outlet delete honours If-Match too.
    let (_, stale) = desk.read("/v1/outlets/unused").await;
    desk.app
        .sql("UPDATE outlets SET name = 'Renamed' WHERE slug = 'unused'")
        .await;
    let refused = send(
        desk.as_key(&desk.admin, Method::DELETE, "/v1/outlets/unused", None)
            .header("If-Match", &stale),
    )
    .await;
    assert_problem(refused, 412).await;
    assert_eq!(desk.app.get("/v1/outlets/unused").await.status(), 200);
}

/// Sends one write per body at once, all with `etag`; their statuses, sorted.
async fn race(desk: &Desk, method: Method, path: &str, bodies: &[Value], etag: &str) -> Vec<u16> {
    let racers: Vec<_> = bodies
        .iter()
        .map(|body| {
            let request = desk
                .request(method.clone(), path, Some(body))
                .header("If-Match", etag);
            tokio::spawn(async move { send(request).await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.expect("request task"));
    }
    statuses.sort();
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_writes_with_one_etag_exactly_one_wins() {
    let desk = Desk::new().await;
    let live = desk.ids("live").await;
    let excerpt = format!("/v1/excerpts/{}", live.excerpts[0]);
    let (_, etag) = desk.read(&excerpt).await;
    let bodies = [json!({"headline": "Left"}), json!({"headline": "Right"})];
    assert_eq!(
        race(&desk, Method::PATCH, &excerpt, &bodies, &etag).await,
        [200, 412]
    );
    let headline = desk.read(&excerpt).await.0["headline"].clone();
    assert!(headline == "Left" || headline == "Right", "{headline}");

    let link = format!("/v1/roundup-links/{}", live.links[0][0]);
    let (_, etag) = desk.read(&link).await;
    let bodies = [
        json!({"url": "https://a.example/"}),
        json!({"url": "https://b.example/"}),
    ];
    assert_eq!(
        race(&desk, Method::PATCH, &link, &bodies, &etag).await,
        [200, 412]
    );

    let (_, etag) = desk.read("/v1/outlets/dawn").await;
    let bodies = [json!({"name": "Dawn One"}), json!({"name": "Dawn Two"})];
    assert_eq!(
        race(&desk, Method::PATCH, "/v1/outlets/dawn", &bodies, &etag).await,
        [200, 412]
    );

    let (_, etag) = desk.read("/v1/articles/live").await;
    let [a, b, c] = [live.excerpts[0], live.excerpts[1], live.excerpts[2]];
    let bodies = [json!({"ids": [c, b, a]}), json!({"ids": [b, c, a]})];
    assert_eq!(
        race(
            &desk,
            Method::PUT,
            "/v1/articles/live/excerpts/order",
            &bodies,
            &etag
        )
        .await,
        [200, 412]
    );
    assert_eq!(
        positions_of(&desk.article("live").await["excerpts"]),
        one_to(3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_in_one_article_each_get_their_own_position() {
    let desk = Desk::new().await;
    let racers: Vec<_> = (0..6)
        .map(|n| {
            let request = desk.request(
                Method::POST,
                "/v1/articles/live/excerpts",
                Some(&new_excerpt(&format!("Racer {n}"))),
            );
            tokio::spawn(async move { send(request).await.status().as_u16() })
        })
        .collect();
    for racer in racers {
        assert_eq!(racer.await.expect("request task"), 201);
    }
    let article = desk.article("live").await;
    assert_eq!(positions_of(&article["excerpts"]), one_to(9));
}

// Outlets

#[tokio::test]
async fn an_outlet_is_created_and_renamed_and_what_cites_it_follows() {
    let desk = Desk::new().await;
    let response = desk
        .call(
            Method::POST,
            "/v1/outlets",
            Some(&json!({"slug": "express-tribune", "name": "Express Tribune", "home_url": "https://tribune.com.pk/", "country_code": "PK"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(
        header(&response, "location").as_deref(),
        Some("/v1/outlets/express-tribune")
    );
    let etag = header(&response, "etag").expect("ETag");
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["excerpt_count"], 0);
    assert_eq!(
        header(&desk.app.get("/v1/outlets/express-tribune").await, "etag"),
        Some(etag)
    );

    let taken = json!({"slug": "dawn", "name": "Again", "home_url": "https://again.example/"});
    assert_problem(
        desk.call(Method::POST, "/v1/outlets", Some(&taken)).await,
        409,
    )
    .await;

    let renamed = desk
        .expect(
            Method::PATCH,
            "/v1/outlets/dawn",
            Some(&json!({"slug": "dawn-news", "country_code": null})),
            200,
        )
        .await;
    assert_eq!(renamed["slug"], "dawn-news");
    assert_eq!(renamed["url"], "/v1/outlets/dawn-news");
    assert_eq!(renamed["country_code"], Value::Null);
    assert_eq!(renamed["name"], "Dawn");
    assert_eq!(renamed["excerpt_count"], 1);
    assert_problem(desk.app.get("/v1/outlets/dawn").await, 404).await;
    let article = desk.article("live").await;
    assert_eq!(article["excerpts"][1]["outlet"]["slug"], "dawn-news");

    assert_problem(
        desk.call(
            Method::PATCH,
            "/v1/outlets/dawn-news",
            Some(&json!({"slug": "bloomberg"})),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(desk.app.get("/v1/outlets/dawn-news").await.status(), 200);
}

#[tokio::test]
async fn an_outlet_is_deleted_only_by_an_admin_and_only_once_nothing_cites_it() {
    let desk = Desk::new().await;
    assert_problem(
        desk.call(Method::DELETE, "/v1/outlets/unused", None).await,
        403,
    )
    .await;
    assert_eq!(desk.app.get("/v1/outlets/unused").await.status(), 200);
    // Cited by a draft's excerpt and link only, which the public counts omit.
    let hidden = desk.ids("hidden").await;
    desk.app
        .sql("UPDATE outlets SET slug = 'only-drafts' WHERE slug = 'dawn'")
        .await;
    let live = desk.ids("live").await;
    desk.expect(
        Method::PATCH,
        &format!("/v1/excerpts/{}", live.excerpts[1]),
        Some(&json!({"outlet": "bloomberg"})),
        200,
    )
    .await;
    desk.expect(
        Method::PATCH,
        &format!("/v1/roundup-links/{}", live.links[0][1]),
        Some(&json!({"outlet": "bloomberg"})),
        200,
    )
    .await;
    let soon = desk.ids("soon").await;
    desk.expect(
        Method::PATCH,
        &format!("/v1/roundup-links/{}", soon.links[0][0]),
        Some(&json!({"outlet": "bloomberg"})),
        200,
    )
    .await;
    let (_, outlet) = desk.app.get_json("/v1/outlets/only-drafts").await;
    assert_eq!(
        (
            outlet["excerpt_count"].as_i64(),
            outlet["link_count"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let delete = || send(desk.as_key(&desk.admin, Method::DELETE, "/v1/outlets/only-drafts", None));
    let refused = assert_problem(delete().await, 409).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("1 excerpt"),
        "{refused}"
    );
    desk.expect(
        Method::DELETE,
        &format!("/v1/excerpts/{}", hidden.excerpts[0]),
        None,
        204,
    )
    .await;
    assert_problem(delete().await, 409).await;
    desk.expect(
        Method::DELETE,
        &format!("/v1/roundup-links/{}", hidden.links[0][0]),
        None,
        204,
    )
    .await;
    assert_eq!(delete().await.status(), 204);
    assert_problem(desk.app.get("/v1/outlets/only-drafts").await, 404).await;

    let response = send(desk.as_key(&desk.admin, Method::DELETE, "/v1/outlets/unused", None)).await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn an_order_path_answers_405_to_other_methods() {
    let desk = Desk::new().await;
    let response = desk
        .call(Method::GET, "/v1/articles/live/excerpts/order", None)
        .await;
    assert_eq!(header(&response, "allow").as_deref(), Some("PUT"));
    assert_problem(response, 405).await;
}
