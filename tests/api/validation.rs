//! One rule for what is stored: a link or a date that a write or an import
//! accepts is one the database's checks accept and the API serves back. The
//! property test asks the real PostgreSQL, with the checks read from the
//! schema, so it cannot drift from the migrations.

use std::sync::atomic::{AtomicUsize, Ordering};

use broadsheet::validate::http_url;
use diesel::sql_types::{Array, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Links that passed validation as given but failed the database's check
/// (a 500), with the form each is now stored in.
const LINKS: [(&str, &str); 4] = [
    ("HTTP://example.org/", "http://example.org/"),
    ("http:example.org", "http://example.org/"),
    ("http:/example.org", "http://example.org/"),
    ("https:\\\\example.org\\x", "https://example.org/x"),
];

/// A link column's CHECK as PostgreSQL holds it.
#[derive(QueryableByName)]
struct LinkCheck {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    expression: String,
}

#[derive(QueryableByName)]
struct Refused {
    #[diesel(sql_type = Text)]
    link: String,
}

/// The CHECK constraint of every link column, read from the catalog.
async fn link_checks(conn: &mut AsyncPgConnection) -> Vec<LinkCheck> {
    diesel::sql_query(
        "SELECT c.conrelid::regclass::text AS table_name, a.attname::text AS column_name, \
                pg_get_expr(c.conbin, c.conrelid) AS expression \
         FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'c' AND (c.conrelid::regclass::text, a.attname::text) IN \
               (('outlets', 'home_url'), ('excerpts', 'source_url'), ('roundup_links', 'url')) \
         ORDER BY 1",
    )
    .load(conn)
    .await
    .expect("the catalog answers")
}

/// The links among `stored` that `check` refuses, evaluated by PostgreSQL
/// with the constraint's own expression, all in one statement.
async fn refused_by(
    conn: &mut AsyncPgConnection,
    check: &LinkCheck,
    stored: &[String],
) -> Vec<String> {
    // The expression names its column: give the batch that name. A CHECK
    // passes unless its expression is false.
    let column = &check.column_name;
    diesel::sql_query(format!(
        "SELECT {column} AS link FROM unnest($1::text[]) AS given ({column}) \
         WHERE ({expression}) IS FALSE",
        expression = check.expression
    ))
    .bind::<Array<Text>, _>(stored)
    .load::<Refused>(conn)
    .await
    .expect("the check evaluates")
    .into_iter()
    .map(|r| r.link)
    .collect()
}

/// Nothing, `odds` times out of `odds + 1`; else one of `choices`.
fn mostly_empty(
    odds: u32,
    choices: Vec<&'static str>,
) -> impl Strategy<Value = &'static str> + Clone {
    prop_oneof![odds => Just(""), 1 => select(choices)]
}

/// Strings shaped like links, and like the ways links are mistyped: schemes
/// in mixed case, missing, doubled or backward slashes, userinfo, ports,
/// IP literals, unicode, whitespace and control characters anywhere.
fn link_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        8 => "[hH][tT][tT][pP][sS]?",
        1 => "[a-zA-Z][a-zA-Z0-9+.-]{0,5}",
        1 => Just(String::new()),
    ];
    let separator = prop_oneof![
        4 => Just("://"),
        4 => select(vec![":", ":/", ":\\\\", ":\\/", ":/\\", ":///", ":\\"]),
        1 => select(vec!["//", ": //", "", "://\t", ":\n//"]),
    ];
    let userinfo = mostly_empty(
        8,
        vec!["user@", "user:pass@", "@", ":@", "a b@", "%40@", "ü@"],
    );
    let host = prop_oneof![
        12 => "[a-zA-Z0-9][a-zA-Z0-9.-]{0,12}",
        1 => "[0-9]{1,4}(\\.[0-9]{1,4}){0,4}",
        1 => "\\[[0-9a-fA-F:.]{0,12}\\]",
        1 => "\\PC{0,6}",
        1 => "[a-z.%\\x00\\t\\n\\x0B\\x0C\\r \\x{85}\\x{A0}\\x{2028}\\x{3000}\\x7F]{0,6}",
    ];
    let port = mostly_empty(6, vec![":", ":80", ":443", ":65535", ":65536", ":-1", ":x"]);
    let rest = prop_oneof![
        6 => "[/\\\\?#%a-zA-Z0-9.~:@!$&'()*+,;=_-]{0,16}",
        1 => "[/\\\\?#% a-zé中\\x00\\t\\n\\x0B\\x0C\\r\\x1F\\x7F\\x{85}\\x{A0}\\x{2028}\\x{3000}]{0,12}",
    ];
    let edge = mostly_empty(12, vec![" ", "\t", "\n", "\x0B", "\u{A0}"]);
    let structured = (
        edge.clone(),
        scheme,
        separator,
        userinfo,
        host,
        port,
        rest,
        edge,
    )
        .prop_map(|(lead, scheme, sep, user, host, port, rest, trail)| {
            format!("{lead}{scheme}{sep}{user}{host}{port}{rest}{trail}")
        });
    prop_oneof![9 => structured, 1 => any::<String>()]
}

#[test]
fn every_link_the_validator_accepts_is_stored_in_a_form_the_database_checks_accept() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(TestApp::spawn());
    let checks = runtime.block_on(async {
        let mut conn = app.pool.get().await.expect("a connection");
        link_checks(&mut conn).await
    });
    let columns: Vec<String> = checks
        .iter()
        .map(|c| format!("{}.{}", c.table_name, c.column_name))
        .collect();
    assert_eq!(
        columns,
        [
            "excerpts.source_url",
            "outlets.home_url",
            "roundup_links.url"
        ],
        "one CHECK per link column"
    );

    let (tried, accepted) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&prop::collection::vec(link_like(), 1..64), |given| {
        let stored: Vec<String> = given.iter().filter_map(|text| http_url(text)).collect();
        tried.fetch_add(given.len(), Ordering::Relaxed);
        accepted.fetch_add(stored.len(), Ordering::Relaxed);
        for link in &stored {
            // A stored link passes the rule unchanged, so that a merge patch
            // or an export read back changes nothing.
            prop_assert_eq!(http_url(link), Some(link.clone()));
        }
        runtime.block_on(async {
            let mut conn = app.pool.get().await.expect("a connection");
            for check in &checks {
                let refused = refused_by(&mut conn, check, &stored).await;
                if !refused.is_empty() {
                    return Err(TestCaseError::fail(format!(
                        "{}.{} refuses {refused:?}, accepted from {given:?}",
                        check.table_name, check.column_name
                    )));
                }
            }
            Ok(())
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    // The strings must exercise both sides of the rule.
    let (tried, accepted) = (tried.into_inner(), accepted.into_inner());
    assert!(
        accepted * 10 > tried && accepted * 10 < tried * 9,
        "{accepted} of {tried} accepted"
    );
    drop(app);
}

/// An app with the base outlets and an editor's key.
async fn desk() -> (TestApp, String) {
    let app = TestApp::with_site(base_site()).await;
    let key = app.key("editor").await;
    (app, key)
}

/// Sends `body` as the editor; the status and the JSON answer.
async fn send(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.with_key(method, path, key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request reaches the server");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts a 422 naming exactly `pointer`.
fn assert_names(status: u16, body: &Value, pointer: &str) {
    assert_eq!(status, 422, "{body}");
    let named: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(named, [pointer], "{body}");
}

fn article_citing(slug: &str, link: &str) -> Value {
    json!({
        "slug": slug,
        "title": "A post",
        "excerpts": [{"headline": "Quoted", "outlet": "dawn", "source_url": link, "body_markdown": "Text."}],
        "roundups": [{"title": "Press", "links": [{"headline": "A link", "outlet": "dawn", "url": link}]}],
    })
}

/// Creates a resource with `body` at `path` as the editor, and asserts that
/// the members at `pointers` hold `stored`, both in the 201 and in what the
/// new resource's URL (`Location`) serves; the created resource.
async fn assert_created_with(
    app: &TestApp,
    key: &str,
    path: &str,
    body: Value,
    pointers: &[&str],
    stored: &str,
) -> Value {
    let response = app
        .with_key(Method::POST, path, key)
        .json(&body)
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status().as_u16();
    let location = response.headers().get("location").cloned();
    let created: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "{path} {body}: {created}");
    let location = location.expect("a Location").to_str().unwrap().to_string();
    let (_, served) = send(app, key, Method::GET, &location, None).await;
    for pointer in pointers {
        for answer in [&created, &served] {
            assert_eq!(answer.pointer(pointer), Some(&json!(stored)), "{body}");
        }
    }
    created
}

#[tokio::test]
async fn links_the_database_would_refuse_as_given_are_stored_and_served_as_the_parser_writes_them()
{
    let (app, key) = desk().await;
    for (index, (given, stored)) in LINKS.into_iter().enumerate() {
        let outlet = format!("outlet-{index}");
        let body = json!({"slug": outlet, "name": "An outlet", "home_url": given});
        assert_created_with(&app, &key, "/v1/outlets", body, &["/home_url"], stored).await;
        // A merge patch stores the link as a create does.
        let patch = json!({"home_url": given.replace("example.org", "example.net")});
        let path = format!("/v1/outlets/{outlet}");
        let (status, patched) = send(&app, &key, Method::PATCH, &path, Some(patch)).await;
        let expected = stored.replace("example.org", "example.net");
        assert_eq!(
            (status, patched["home_url"].as_str()),
            (200, Some(&*expected))
        );

        let slug = format!("post-{index}");
        let pointers = ["/excerpts/0/source_url", "/roundups/0/links/0/url"];
        let body = article_citing(&slug, given);
        let article =
            assert_created_with(&app, &key, "/v1/articles", body, &pointers, stored).await;

        let path = format!("/v1/articles/{slug}/excerpts");
        let body = json!({"headline": "More", "outlet": "dawn", "source_url": given, "body_markdown": "More."});
        assert_created_with(&app, &key, &path, body, &["/source_url"], stored).await;

        let path = format!("/v1/roundups/{}/links", article["roundups"][0]["id"]);
        let body = json!({"headline": "Another", "outlet": "dawn", "url": given});
        assert_created_with(&app, &key, &path, body, &["/url"], stored).await;
    }
}

#[tokio::test]
async fn links_without_a_host_or_with_spaces_are_422s_naming_the_member() {
    let (app, key) = desk().await;
    let (_, article) = send(
        &app,
        &key,
        Method::POST,
        "/v1/articles",
        Some(article_citing("post", "https://example.org/")),
    )
    .await;
    let roundup_links = format!("/v1/roundups/{}/links", article["roundups"][0]["id"]);
    for bad in [
        "https:",
        "http://exa mple.org/",
        "ftp://example.org/",
        "http://[::1/",
    ] {
        let body = json!({"slug": "outlet", "name": "An outlet", "home_url": bad});
        let (status, problem) = send(&app, &key, Method::POST, "/v1/outlets", Some(body)).await;
        assert_names(status, &problem, "/home_url");

        let mut body = article_citing("another", "https://example.org/");
        body["roundups"][0]["links"][0]["url"] = json!(bad);
        let (status, problem) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
        assert_names(status, &problem, "/roundups/0/links/0/url");

        let body = json!({"headline": "More", "outlet": "dawn", "source_url": bad, "body_markdown": "More."});
        let path = "/v1/articles/post/excerpts";
        let (status, problem) = send(&app, &key, Method::POST, path, Some(body)).await;
        assert_names(status, &problem, "/source_url");

        let body = json!({"headline": "Another", "outlet": "dawn", "url": bad});
        let (status, problem) = send(&app, &key, Method::POST, &roundup_links, Some(body)).await;
        assert_names(status, &problem, "/url");
    }
}

#[tokio::test]
async fn publication_times_are_bounded_in_utc_on_create_and_on_update() {
    let (app, key) = desk().await;
    let article = |slug: &str, published_at: &str| json!({"slug": slug, "title": "A post", "status": "published", "published_at": published_at});
    for (index, outside) in ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00"]
        .into_iter()
        .enumerate()
    {
        let body = article(&format!("post-{index}"), outside);
        let (status, problem) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
        assert_names(status, &problem, "/published_at");
        let body = article(&format!("post-{index}"), "2011-10-24T09:00:00Z");
        let (status, _) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
        assert_eq!(status, 201);
        let path = format!("/v1/articles/post-{index}");
        let patch = json!({"published_at": outside});
        let (status, problem) = send(&app, &key, Method::PATCH, &path, Some(patch)).await;
        assert_names(status, &problem, "/published_at");
    }
    // The bounds are UTC's: these are inside them.
    for (slug, inside, served) in [
        ("first", "0001-01-01T00:00:00-01:00", "0001-01-01T01:00:00Z"),
        ("last", "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
    ] {
        let body = article(slug, inside);
        let (status, created) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
        assert_eq!(
            (status, created["published_at"].as_str()),
            (201, Some(served))
        );
    }
}

#[tokio::test]
async fn an_import_stores_links_as_the_api_does() {
    let (given, stored) = LINKS[3];
    let mut site = site_with(vec![article_citing("post", given)], vec![]);
    site["articles"][0]["status"] = json!("published");
    site["articles"][0]["published_at"] = json!("2011-10-24T09:00:00Z");
    site["outlets"][0]["home_url"] = json!(LINKS[0].0);
    let app = TestApp::with_site(site).await;
    let (_, article) = app.get_json("/v1/articles/post").await;
    assert_eq!(article["excerpts"][0]["source_url"], stored);
    assert_eq!(article["roundups"][0]["links"][0]["url"], stored);
    let (_, outlet) = app.get_json("/v1/outlets/bloomberg").await;
    assert_eq!(outlet["home_url"], LINKS[0].1);
}

#[tokio::test]
async fn blank_means_unicode_whitespace_as_the_database_now_says_too() {
    let (app, key) = desk().await;
    for blank in ["\u{a0}", "\u{3000}", "\t\n", " \u{2028} "] {
        let body = json!({"slug": "blank-title", "title": blank});
        let (status, problem) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
        assert_names(status, &problem, "/title");
        assert_eq!(problem["errors"][0]["detail"], "must not be empty");
    }
    // Not whitespace to Unicode, so not blank to either side.
    let body = json!({"slug": "zero-width", "title": "\u{200b}"});
    let (status, created) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
    assert_eq!(status, 201, "{created}");
}

#[tokio::test]
async fn lengths_are_capped_in_characters_whatever_their_bytes() {
    let (app, key) = desk().await;
    let excerpt = |headline: String| {
        json!({"slug": "capped", "title": "Capped", "excerpts": [{
            "headline": headline, "outlet": "dawn",
            "source_url": "https://www.dawn.com/", "body_markdown": "Text.",
        }]})
    };
    let (status, problem) = send(
        &app,
        &key,
        Method::POST,
        "/v1/articles",
        Some(excerpt("😀".repeat(501))),
    )
    .await;
    assert_names(status, &problem, "/excerpts/0/headline");
    assert_eq!(
        problem["errors"][0]["detail"],
        "must be at most 500 characters"
    );
    let (status, created) = send(
        &app,
        &key,
        Method::POST,
        "/v1/articles",
        Some(excerpt("😀".repeat(500))),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["excerpts"][0]["headline"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        500
    );
}

/// Every write publishes the command it takes: a named schema that lists
/// its members and refuses others, as the server does.
#[tokio::test]
async fn every_write_body_is_a_typed_schema_that_refuses_unknown_members() {
    let app = TestApp::spawn().await;
    let (status, document) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    let mut bodies = 0;
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            for (media, body) in content {
                if !media.contains("json") {
                    continue;
                }
                bodies += 1;
                let reference = body["schema"]["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: {} is untyped", body["schema"]));
                let name = reference.trim_start_matches("#/components/schemas/");
                let schema = &document["components"]["schemas"][name];
                assert_eq!(schema["additionalProperties"], json!(false), "{name}");
                assert!(
                    !schema["properties"].as_object().unwrap().is_empty(),
                    "{name}"
                );
                if method == "patch" {
                    assert_eq!(media, "application/merge-patch+json", "{path}");
                    assert!(schema.get("required").is_none(), "{name}: {schema}");
                }
            }
        }
    }
    assert_eq!(bodies, 15, "the write operations");
}

/// A link of the longest length a client may send is stored in the parser's
/// form even when that form is one longer (a `/` for the empty path), and
/// the resource holding it can still be patched on its other members; one
/// character more as sent is refused.
#[tokio::test]
async fn a_link_of_the_longest_length_sent_is_stored_and_stays_patchable() {
    let (app, key) = desk().await;
    let longest = broadsheet::validate::URL_MAX;
    // A link with no path, `length` characters long: a host of 40-letter
    // labels (one dot every 41 characters, never first or last).
    let host = |length: usize| {
        let host_length = length - "https://".len() - ".org".len();
        let host: String = (1..=host_length)
            .map(|i| if i % 41 == 0 { '.' } else { 'a' })
            .collect();
        format!("https://{host}.org")
    };
    let given = host(longest);
    assert_eq!(given.chars().count(), longest);

    let body = json!({"slug": "far-away", "name": "Far away", "home_url": given});
    let stored = format!("{given}/");
    assert_created_with(&app, &key, "/v1/outlets", body, &["/home_url"], &stored).await;
    let (status, patched) = send(
        &app,
        &key,
        Method::PATCH,
        "/v1/outlets/far-away",
        Some(json!({"name": "Further away"})),
    )
    .await;
    assert_eq!(
        (status, patched["home_url"].as_str()),
        (200, Some(&*stored))
    );

    let too_long = json!({"slug": "too-far", "name": "Too far", "home_url": host(longest + 1)});
    let (status, refused) = send(&app, &key, Method::POST, "/v1/outlets", Some(too_long)).await;
    assert_names(status, &refused, "/home_url");
}

/// On a create, `null` means absent for every member the schema marks
/// optional, as it publishes.
#[tokio::test]
async fn a_create_reads_null_as_absent() {
    let (app, key) = desk().await;
    let body = json!({
        "slug": "nulls", "title": "Nulls", "summary": null, "body_markdown": null,
        "status": null, "tags": null, "excerpts": null, "roundups": null,
    });
    let (status, created) = send(&app, &key, Method::POST, "/v1/articles", Some(body)).await;
    assert_eq!(
        (status, created["status"].as_str()),
        (201, Some("draft")),
        "{created}"
    );
    let excerpt = json!({
        "headline": "Quoted", "outlet": "dawn", "source_url": "https://example.org/",
        "body_markdown": "Text.", "bylines": null, "call_to_action": null, "position": null,
    });
    let (status, added) = send(
        &app,
        &key,
        Method::POST,
        "/v1/articles/nulls/excerpts",
        Some(excerpt),
    )
    .await;
    assert_eq!(
        (status, added["position"].as_i64()),
        (201, Some(1)),
        "{added}"
    );
}
