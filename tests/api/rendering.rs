//! Markdown is rendered when it is written, never on a read: bodies past the
//! nesting and size limits are refused on every write path, reads serve the
//! stored HTML, rows from before it was stored get theirs when the
//! migrations run, and heavy writes leave the probes answering.

use std::time::{Duration, Instant};

use broadsheet::db::{self, MIGRATIONS};
use broadsheet::markdown::{to_html, MAX_BYTES, MAX_DEPTH};
use broadsheet::site::Site;
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::MigrationHarness;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::*;

/// `n` block quotes, one inside the other.
fn quotes(n: usize) -> String {
    format!("{} x", ">".repeat(n))
}

/// A server with the base outlets and an editor's key.
async fn desk() -> (TestApp, String) {
    let app = TestApp::with_site(base_site()).await;
    let key = app.key("editor").await;
    (app, key)
}

async fn send(app: &TestApp, key: &str, method: Method, path: &str, body: &Value) -> Response {
    app.with_key(method, path, key)
        .json(body)
        .send()
        .await
        .expect("request reaches the server")
}

/// POST /v1/articles.
async fn create(app: &TestApp, key: &str, article: &Value) -> Response {
    send(app, key, Method::POST, "/v1/articles", article).await
}

/// Restores the article's newest revision.
async fn restore_newest_revision(app: &TestApp, key: &str, slug: &str) -> Response {
    let path = format!("/v1/articles/{slug}/revisions");
    let response = app.with_key(Method::GET, &path, key).send().await.unwrap();
    let revisions: Value = response.json().await.unwrap();
    let restore = revisions["data"][0]["restore_url"].as_str().unwrap();
    send(app, key, Method::POST, restore, &json!({})).await
}

fn article(slug: &str, body_markdown: &str) -> Value {
    json!({
        "slug": slug,
        "title": format!("Title of {slug}"),
        "body_markdown": body_markdown,
        "status": "published",
        "excerpts": [excerpt("Quoted", "dawn")],
    })
}

/// Asserts a 422 whose error at `pointer` names `limit`.
async fn assert_refused(response: Response, pointer: &str, limit: usize) {
    let problem = assert_problem(response, 422).await;
    let detail = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|error| error["pointer"] == pointer)
        .and_then(|error| error["detail"].as_str())
        .unwrap_or_else(|| panic!("no error at {pointer} in {problem}"));
    assert!(
        detail.contains(&limit.to_string()),
        "{pointer}: `{detail}` does not name {limit}"
    );
}

#[tokio::test]
async fn markdown_nested_too_deeply_is_refused_on_every_write_naming_the_field_and_limit() {
    let (app, key) = desk().await;
    let deep = quotes(40_000);

    let response = create(&app, &key, &article("a", &deep)).await;
    assert_refused(response, "/body_markdown", MAX_DEPTH).await;
    let mut nested = article("a", "Fine.");
    nested["excerpts"][0]["body_markdown"] = json!(deep);
    let response = create(&app, &key, &nested).await;
    assert_refused(response, "/excerpts/0/body_markdown", MAX_DEPTH).await;

    let response = create(&app, &key, &article("a", "Fine.")).await;
    assert_eq!(response.status(), 201);
    let patch = json!({"body_markdown": deep});
    let response = send(&app, &key, Method::PATCH, "/v1/articles/a", &patch).await;
    assert_refused(response, "/body_markdown", MAX_DEPTH).await;

    let mut added = excerpt("Added", "dawn");
    added["body_markdown"] = json!(deep);
    let response = send(&app, &key, Method::POST, "/v1/articles/a/excerpts", &added).await;
    assert_refused(response, "/body_markdown", MAX_DEPTH).await;
    let (_, stored) = app.get_json("/v1/articles/a").await;
    let excerpt_path = format!("/v1/excerpts/{}", stored["excerpts"][0]["id"]);
    let response = send(&app, &key, Method::PATCH, &excerpt_path, &patch).await;
    assert_refused(response, "/body_markdown", MAX_DEPTH).await;

    // A revision kept before the rule is not restored, nor rendered.
    app.sql(
        "INSERT INTO article_revisions (article_id, snapshot) \
         SELECT id, jsonb_build_object('slug', 'a', 'title', 'Old', 'summary', null, \
             'body_markdown', repeat('>', 40000) || ' x', 'status', 'draft', \
             'published_at', null, 'tags', '[]'::jsonb) FROM articles",
    )
    .await;
    let response = restore_newest_revision(&app, &key, "a").await;
    assert_refused(response, "/body_markdown", MAX_DEPTH).await;
}

#[tokio::test]
async fn markdown_over_the_size_limit_is_refused_naming_the_field_and_limit() {
    let (app, key) = desk().await;
    let large = "a".repeat(MAX_BYTES + 1);
    let response = create(&app, &key, &article("a", &large)).await;
    assert_refused(response, "/body_markdown", MAX_BYTES).await;
    let just = "a".repeat(MAX_BYTES);
    let response = create(&app, &key, &article("a", &just)).await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn markdown_at_the_depth_limit_is_accepted_and_rendered_quickly() {
    let (app, key) = desk().await;
    let started = Instant::now();
    let body = article("deep", &quotes(MAX_DEPTH));
    let response = create(&app, &key, &body).await;
    assert_eq!(response.status(), 201);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let (status, stored) = app.get_json("/v1/articles/deep").await;
    assert_eq!(status, 200);
    let html = stored["body_html"].as_str().unwrap();
    assert_eq!(html.matches("<blockquote>").count(), MAX_DEPTH, "{html}");
}

/// How long `/healthz` takes to answer, at the longest of `times`.
async fn slowest_probe(app: &TestApp, times: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for _ in 0..times {
        let started = Instant::now();
        assert_eq!(app.get("/healthz").await.status(), 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_keep_answering_while_heavy_bodies_are_written() {
    // One worker, which a rendering on it would hold from the probes.
    let app = TestApp::spawn_configured(|config| config.workers = Some(1)).await;
    app.load(base_site()).await;
    let key = app.key("editor").await;
    // What the machine adds by itself (other tests run alongside).
    let ambient = slowest_probe(&app, 5).await;
    let app = std::sync::Arc::new(app);
    // Refused ones, and accepted ones that take long to render for little
    // checking: tables of thousands of rows, all elements to sanitize.
    let mut bodies: Vec<Value> = (0..4)
        .map(|i| article(&format!("refused-{i}"), &quotes(40_000)))
        .collect();
    for i in 0..4 {
        let heavy = format!("|a|b|\n|-|-|\n{}", "|x|y|\n".repeat(3_300));
        bodies.push(article(&format!("heavy-{i}"), &heavy));
    }
    let writes: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (app, key) = (app.clone(), key.clone());
            tokio::spawn(async move { create(&app, &key, &body).await.status().as_u16() })
        })
        .collect();

    let mut slowest = Duration::ZERO;
    while !writes.iter().all(|write| write.is_finished()) {
        slowest = slowest.max(slowest_probe(&app, 1).await);
    }
    let mut statuses = Vec::new();
    for write in writes {
        statuses.push(write.await.unwrap());
    }
    assert_eq!(statuses, [422, 422, 422, 422, 201, 201, 201, 201]);
    let budget = Duration::from_millis(200) + ambient;
    assert!(slowest < budget, "{slowest:?}, over {budget:?}");
}

#[tokio::test]
async fn reads_serve_the_stored_html_and_writes_render_it_again() {
    let (app, key) = desk().await;
    let first = "Commentary on **talks**.";
    let response = create(&app, &key, &article("a", first)).await;
    assert_eq!(response.status(), 201);

    // What is stored is what is served: nothing renders on a read.
    app.sql(
        "UPDATE articles SET body_html = '<p>stored</p>'; \
         UPDATE excerpts SET body_html = '<p>stored excerpt</p>'",
    )
    .await;
    let (_, stored) = app.get_json("/v1/articles/a").await;
    assert_eq!(stored["body_markdown"], first);
    assert_eq!(stored["body_html"], "<p>stored</p>");
    assert_eq!(stored["excerpts"][0]["body_html"], "<p>stored excerpt</p>");
    let excerpt_path = format!("/v1/excerpts/{}", stored["excerpts"][0]["id"]);
    let (_, excerpt) = app.get_json(&excerpt_path).await;
    assert_eq!(excerpt["body_html"], "<p>stored excerpt</p>");

    // A write renders what it writes.
    let second = "New *view*.";
    let patch = json!({"body_markdown": second});
    let response = send(&app, &key, Method::PATCH, "/v1/articles/a", &patch).await;
    assert_eq!(response.status(), 200);
    let (_, patched) = app.get_json("/v1/articles/a").await;
    assert_eq!(patched["body_html"], to_html(second));
    let response = send(&app, &key, Method::PATCH, &excerpt_path, &patch).await;
    assert_eq!(response.status(), 200);
    let (_, excerpt) = app.get_json(&excerpt_path).await;
    assert_eq!(excerpt["body_html"], to_html(second));

    // So does a restore, from the revision's Markdown.
    let response = restore_newest_revision(&app, &key, "a").await;
    assert_eq!(response.status(), 200);
    let (_, restored) = app.get_json("/v1/articles/a").await;
    assert_eq!(restored["body_markdown"], first);
    assert_eq!(restored["body_html"], to_html(first));
}

/// The migration that added the stored HTML columns.
const HTML_COLUMNS: &str = "20261128000004";

#[tokio::test]
async fn rows_stored_without_html_get_it_when_the_migrations_run() {
    let old_body = "Old **bold** commentary.";
    let old_excerpt = "## Sub\n\nQuoted *text*.";
    let app = TestApp::spawn_configured(|config| {
        // Before the server migrates: turn its database into one from before
        // HTML was stored, holding rows written then.
        let url = config.database_url.clone();
        let fixture = format!(
            "INSERT INTO outlets (slug, name, home_url) VALUES ('dawn', 'Dawn', 'https://www.dawn.com/'); \
             INSERT INTO articles (slug, title, body, status, published_at) \
                 VALUES ('old-post', 'Old', '{old_body}', 'published', now() - interval '1 day'); \
             INSERT INTO excerpts (article_id, position, headline, outlet_id, source_url, body) \
                 SELECT a.id, 1, 'Quoted', o.id, 'https://example.org/', E'{}' \
                 FROM articles a, outlets o; \
             INSERT INTO articles (slug, title, body) \
                 SELECT 'old-' || i, 'Old ' || i, 'Body *' || i || '*' FROM generate_series(1, 450) i",
            old_excerpt.replace('\n', "\\n")
        );
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let conn = db::connect(&url).await.unwrap();
                    tokio::task::spawn_blocking(move || {
                        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
                        // Back to before the migration that added the HTML
                        // columns, whatever came after it.
                        while conn
                            .applied_migrations()
                            .unwrap()
                            .iter()
                            .any(|version| version.to_string().replace('-', "").as_str() >= HTML_COLUMNS)
                        {
                            conn.revert_last_migration(MIGRATIONS).unwrap();
                        }
                        diesel::connection::SimpleConnection::batch_execute(&mut conn, &fixture)
                            .unwrap();
                    })
                    .await
                    .unwrap();
                })
        })
        .join()
        .unwrap();
    })
    .await;

    let (status, article) = app.get_json("/v1/articles/old-post").await;
    assert_eq!(status, 200, "{article}");
    assert_eq!(article["body_html"], to_html(old_body));
    assert_eq!(article["excerpts"][0]["body_html"], to_html(old_excerpt));

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        body: String,
        #[diesel(sql_type = Text)]
        body_html: String,
        #[diesel(sql_type = BigInt)]
        required: i64,
    }
    let mut conn = db::connect(&app.database_url).await.unwrap();
    let rows: Vec<Row> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT body, body_html, \
                 (SELECT count(*) FROM information_schema.columns \
                  WHERE column_name = 'body_html' AND is_nullable = 'NO') AS required \
             FROM articles",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 451);
    for row in rows {
        assert_eq!(row.body_html, to_html(&row.body));
        assert_eq!(row.required, 2, "articles and excerpts require body_html");
    }
}

#[tokio::test]
async fn an_import_with_markdown_nested_too_deeply_is_refused_in_one_line_naming_the_article() {
    let app = TestApp::spawn().await;
    let mut conn = db::connect(&app.database_url).await.unwrap();
    let mut deep_body = published("deep-post", chrono::Utc::now());
    deep_body["body_markdown"] = json!(quotes(40_000));
    let mut deep_excerpt = published("quoting-post", chrono::Utc::now());
    let mut quoted = excerpt("Quoted", "dawn");
    quoted["body_markdown"] = json!(quotes(MAX_DEPTH + 1));
    deep_excerpt["excerpts"] = json!([quoted]);
    for (article, expected) in [
        (
            deep_body,
            "article `deep-post`: body_markdown must not nest",
        ),
        (
            deep_excerpt,
            "article `quoting-post`: excerpt 1: body_markdown must not nest",
        ),
    ] {
        let document = site_with(vec![article], vec![]);
        let site = Site::parse(&document.to_string()).unwrap();
        let error = broadsheet::site::load(&mut conn, &site)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(expected) && error.contains("32") && !error.contains('\n'),
            "{error}"
        );
    }
}
