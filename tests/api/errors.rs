//! Bad input of every kind: each is answered with an `application/problem+json`
//! naming what is wrong, and none of them with a 500.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const LIST_ENDPOINTS: [&str; 6] = [
    "/v1/articles",
    "/v1/excerpts",
    "/v1/roundup-links",
    "/v1/outlets",
    "/v1/tags",
    "/v1/rankings/popular",
];

/// Three articles tagged pakistan and economy, each quoting and linking to
/// outlets, so that every paged list has a second page and a cursor.
async fn app_with_pages() -> TestApp {
    let articles = (1..=3)
        .map(|i| {
            let mut article = published(
                &format!("post-{i}"),
                format!("2011-10-2{i}T09:00:00Z").parse().expect("a time"),
            );
            article["tags"] = json!(["pakistan", "economy"]);
            article["excerpts"] = json!([excerpt(&format!("Quote {i}"), "bloomberg")]);
            article["roundups"] = json!([roundup("Press", &[("Link", "dawn")])]);
            article
        })
        .collect();
    TestApp::with_site(site_with(articles, vec![])).await
}

/// The `next_cursor` of the first page of `path` (which asks for `limit=1`).
async fn cursor_of(app: &TestApp, path: &str) -> String {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has a next page: {body}"))
        .to_string()
}

async fn send(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, format!("{}{}", app.address, path))
        .send()
        .await
        .expect("request reaches the server")
}

fn allow_header(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The parameters a 400 names, in order.
fn named(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .expect("errors is a list")
        .iter()
        .map(|e| e["parameter"].as_str().expect("parameter"))
        .collect()
}

#[tokio::test]
async fn a_limit_outside_its_range_or_not_a_number_is_refused_on_every_list() {
    let app = TestApp::spawn().await;
    for endpoint in LIST_ENDPOINTS {
        for limit in ["0", "10000", "abc", "-1", "", "1.5", "4294967296"] {
            assert_invalid_parameter(&app, &format!("{endpoint}?limit={limit}"), "limit").await;
        }
    }
    // Rankings stop at 50, lists at 100.
    assert_invalid_parameter(&app, "/v1/rankings/popular?limit=51", "limit").await;
    assert_invalid_parameter(&app, "/v1/articles?limit=101", "limit").await;
}

#[tokio::test]
async fn an_unknown_ranking_window_is_refused() {
    let app = TestApp::spawn().await;
    for window in ["1y", "", "7D", "week"] {
        assert_invalid_parameter(
            &app,
            &format!("/v1/rankings/popular?window={window}"),
            "window",
        )
        .await;
    }
}

#[tokio::test]
async fn a_tampered_or_made_up_cursor_is_refused() {
    let app = app_with_pages().await;
    let cursor = cursor_of(&app, "/v1/articles?limit=1").await;
    let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).expect("cursor is base64");
    // Point the cursor at another id without resealing it.
    let id_at = bytes
        .windows(5)
        .position(|w| w == b"\"id\":")
        .expect("the cursor holds an id")
        + 5;
    bytes[id_at] = if bytes[id_at] == b'9' { b'8' } else { b'9' };
    let edited = URL_SAFE_NO_PAD.encode(&bytes);
    let truncated = &cursor[..cursor.len() - 4];

    for bad in [
        edited.as_str(),
        truncated,
        "not-a-cursor",
        "AAAAAAAAAAAAAAAA",
        "%FF%FE",
    ] {
        assert_invalid_parameter(
            &app,
            &format!("/v1/articles?limit=1&cursor={bad}"),
            "cursor",
        )
        .await;
    }
}

#[tokio::test]
async fn a_cursor_issued_by_another_endpoint_is_refused() {
    let app = app_with_pages().await;
    let excerpts = cursor_of(&app, "/v1/excerpts?limit=1").await;
    let links = cursor_of(&app, "/v1/roundup-links?limit=1").await;
    let articles = cursor_of(&app, "/v1/articles?limit=1").await;
    let tags = cursor_of(&app, "/v1/tags?limit=1").await;

    for path in [
        format!("/v1/articles?cursor={excerpts}"),
        format!("/v1/articles?cursor={tags}"),
        format!("/v1/excerpts?cursor={links}"),
        format!("/v1/roundup-links?cursor={excerpts}"),
        format!("/v1/excerpts?cursor={articles}"),
        format!("/v1/outlets?cursor={tags}"),
        format!("/v1/tags?cursor={articles}"),
    ] {
        assert_invalid_parameter(&app, &path, "cursor").await;
    }
}

#[tokio::test]
async fn a_cursor_issued_for_other_filters_is_refused() {
    let app = app_with_pages().await;
    let pakistan = cursor_of(&app, "/v1/articles?tag=pakistan&limit=1").await;
    let bloomberg = cursor_of(&app, "/v1/excerpts?outlet=bloomberg&limit=1").await;

    for path in [
        format!("/v1/articles?tag=economy&cursor={pakistan}"),
        format!("/v1/articles?cursor={pakistan}"),
        format!("/v1/articles?tag=pakistan&outlet=bloomberg&cursor={pakistan}"),
        format!("/v1/articles?tag=pakistan&published_after=2011-01-01&cursor={pakistan}"),
        format!("/v1/excerpts?outlet=dawn&cursor={bloomberg}"),
    ] {
        assert_invalid_parameter(&app, &path, "cursor").await;
    }
    // The same filters and another page size are fine.
    let (status, _) = app
        .get_json(&format!(
            "/v1/articles?tag=pakistan&limit=2&cursor={pakistan}"
        ))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_id_that_is_not_a_positive_number_is_refused_naming_the_id() {
    let app = TestApp::spawn().await;
    for resource in ["excerpts", "roundups"] {
        for id in ["x", "0", "-1", "1.0", "99999999999999999999", "%201"] {
            assert_invalid_parameter(&app, &format!("/v1/{resource}/{id}"), "id").await;
        }
    }
}

#[tokio::test]
async fn an_unknown_query_parameter_is_refused_on_every_list() {
    let app = TestApp::spawn().await;
    for endpoint in LIST_ENDPOINTS {
        let problem = assert_problem(
            app.get(&format!("{endpoint}?limit=5&sort=title")).await,
            400,
        )
        .await;
        assert_eq!(named(&problem), ["sort"], "{endpoint}: {problem}");
    }
    // A parameter of another endpoint is unknown here.
    assert_invalid_parameter(&app, "/v1/tags?outlet=dawn", "outlet").await;
    assert_invalid_parameter(&app, "/v1/articles?window=7d", "window").await;
}

#[tokio::test]
async fn a_repeated_parameter_is_refused() {
    let app = TestApp::spawn().await;
    for (path, parameter) in [
        ("/v1/articles?limit=1&limit=2", "limit"),
        ("/v1/articles?tag=pakistan&tag=economy", "tag"),
        ("/v1/excerpts?outlet=dawn&outlet=dawn", "outlet"),
        ("/v1/rankings/popular?window=7d&window=24h", "window"),
    ] {
        assert_invalid_parameter(&app, path, parameter).await;
    }
}

#[tokio::test]
async fn a_time_that_is_neither_rfc_3339_nor_a_date_is_refused() {
    let app = TestApp::spawn().await;
    for bound in ["published_after", "published_before"] {
        for value in [
            "yesterday",
            "2011-13-01",
            "2011-02-30",
            "2011-10-24T25:00:00Z",
            "2011-10-24T10:00:00",
            "24/10/2011",
            "",
        ] {
            assert_invalid_parameter(&app, &format!("/v1/articles?{bound}={value}"), bound).await;
        }
    }
}

#[tokio::test]
async fn a_date_before_what_the_database_can_hold_is_refused_rather_than_failing() {
    // PostgreSQL keeps timestamps from 4713 BC; chrono parses signed years far beyond.
    let app = TestApp::spawn().await;
    for bound in ["published_after", "published_before"] {
        assert_invalid_parameter(&app, &format!("/v1/articles?{bound}=-5000-01-01"), bound).await;
    }
}

#[tokio::test]
async fn a_tag_or_outlet_that_is_not_a_slug_is_refused() {
    let app = TestApp::spawn().await;
    for value in ["Pakistan", "a--b", "-a", "a_b", "a%20b", "", "%C3%A9"] {
        assert_invalid_parameter(&app, &format!("/v1/articles?tag={value}"), "tag").await;
        assert_invalid_parameter(&app, &format!("/v1/articles?outlet={value}"), "outlet").await;
        assert_invalid_parameter(&app, &format!("/v1/excerpts?outlet={value}"), "outlet").await;
        assert_invalid_parameter(&app, &format!("/v1/rankings/popular?tag={value}"), "tag").await;
    }
    let long = "a".repeat(201);
    assert_invalid_parameter(&app, &format!("/v1/articles?tag={long}"), "tag").await;
}

#[tokio::test]
async fn several_bad_parameters_are_all_named_in_one_problem() {
    let app = TestApp::spawn().await;
    for (path, expected) in [
        (
            "/v1/articles?limit=0&tag=Bad&outlet=a_b&published_after=soon\
             &published_before=later&cursor=junk",
            &[
                "cursor",
                "limit",
                "outlet",
                "published_after",
                "published_before",
                "tag",
            ][..],
        ),
        (
            "/v1/rankings/popular?window=1y&limit=0&tag=X",
            &["limit", "tag", "window"],
        ),
        (
            "/v1/excerpts?outlet=X&article=Y&limit=abc&cursor=junk",
            &["article", "cursor", "limit", "outlet"],
        ),
        ("/v1/tags?limit=0&cursor=junk", &["cursor", "limit"]),
    ] {
        let problem = assert_problem(app.get(path).await, 400).await;
        let mut parameters = named(&problem);
        parameters.sort_unstable();
        assert_eq!(parameters, expected, "{path}: {problem}");
    }
}

#[tokio::test]
async fn odd_slugs_in_a_path_answer_404_and_never_500() {
    let app = TestApp::with_site(site_with(
        vec![published(
            "secretary-clintons-message",
            "2011-10-25T09:00:00Z".parse().expect("a time"),
        )],
        vec![],
    ))
    .await;
    let long = "a".repeat(300);
    let longest_valid = "a".repeat(200);
    for resource in ["articles", "outlets"] {
        for slug in [
            "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "%00",
            "a%00b",
            "%FF",
            "%zz",
            "%",
            "caf%C3%A9",
            "Secretary-Clintons-Message",
            "secretary clintons message",
            "secretary_clintons_message",
            "'%20OR%201=1--",
            long.as_str(),
            longest_valid.as_str(),
        ] {
            let path = format!("/v1/{resource}/{slug}");
            let problem = assert_problem(app.get(&path).await, 404).await;
            assert_eq!(problem["type"], "/problems/not-found", "{path}: {problem}");
        }
    }
}

#[tokio::test]
async fn an_unknown_path_answers_a_404_problem() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1",
        "/v1/nothing",
        "/v2/articles",
        "/v1/articles/some-slug/comments",
        "/v1/articles/",
        "/v1/articles/some-slug/",
        "/v1/excerpts/",
        "/v1/rankings",
        "/v1/tags/pakistan",
        "/%FF",
    ] {
        let problem = assert_problem(app.get(path).await, 404).await;
        assert_eq!(problem["type"], "/problems/not-found", "{path}: {problem}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_answers_405_with_the_allowed_methods() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::PUT, "/v1/articles"),
        (Method::DELETE, "/v1/articles"),
        (Method::PUT, "/v1/articles/some-slug"),
        (Method::PUT, "/v1/excerpts/1"),
        (Method::PUT, "/v1/roundups/1"),
        (Method::PUT, "/v1/outlets/dawn"),
        (Method::POST, "/v1/rankings/popular"),
        (Method::OPTIONS, "/v1/tags"),
    ] {
        let response = send(&app, method.clone(), path).await;
        let allow = allow_header(&response);
        let problem = assert_problem(response, 405).await;
        assert_eq!(problem["type"], "/problems/method-not-allowed", "{problem}");
        let allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
        assert!(allowed.contains(&"GET"), "{method} {path}: Allow: {allow}");
        assert!(
            !allowed.contains(&method.as_str()),
            "{method} {path}: Allow: {allow}"
        );
    }
}

#[tokio::test]
async fn every_method_the_allow_header_lists_is_answered() {
    let app = TestApp::spawn().await;
    let allow = allow_header(&send(&app, Method::PUT, "/v1/articles").await);
    assert!(!allow.is_empty(), "a 405 lists the allowed methods");
    for method in allow.split(',').map(str::trim) {
        let method = Method::from_bytes(method.as_bytes()).expect("a method");
        let response = send(&app, method.clone(), "/v1/articles").await;
        // Writes answer 401 without a key: routed, unlike a 404 or 405.
        let expected = if method == Method::POST { 401 } else { 200 };
        assert_eq!(
            response.status().as_u16(),
            expected,
            "{method} /v1/articles is listed in Allow: {allow}"
        );
    }
}

#[tokio::test]
async fn an_address_that_keeps_presenting_bad_keys_gets_429_without_a_lookup() {
    let app = TestApp::spawn_configured(|config| {
        config.popularity.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        config.max_failed_auths_per_minute =
            broadsheet::config::DEFAULT_MAX_FAILED_AUTHS_PER_MINUTE;
    })
    .await;
    let good = app.key("editor").await;
    let from = |client: &'static str, key: String| {
        app.with_key(Method::GET, "/v1/articles?status=all", &key)
            .header("x-forwarded-for", client)
            .send()
    };
    let attacker = "203.0.113.7";
    for n in 0..10 {
        let response = from(attacker, format!("bsk_nosuch{n}_secret"))
            .await
            .unwrap();
        assert_problem(response, 401).await;
    }
    // From the eleventh on, no key from there is looked up, not even a good
    // one: with the keys' table gone, a lookup would fail.
    app.sql("ALTER TABLE api_keys RENAME TO api_keys_away")
        .await;
    for key in ["bsk_nosuch_secret".to_string(), good.clone()] {
        let refused = from(attacker, key).await.unwrap();
        let retry_after: u32 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        let body = assert_problem(refused, 429).await;
        assert_eq!(body["type"], "/problems/too-many-requests");
    }
    // Requests without a key are not throttled.
    let public = app
        .client
        .get(format!("{}/v1/articles", app.address))
        .header("x-forwarded-for", attacker)
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    app.sql("ALTER TABLE api_keys_away RENAME TO api_keys")
        .await;
    let elsewhere = from("198.51.100.9", good).await.unwrap();
    assert_eq!(elsewhere.status(), 200);
}

/// A 500 tells the client nothing, so its log line must tell the operator
/// everything: the request id the client can quote, what failed, and each
/// cause under it, down to the one that started it.
#[tokio::test]
async fn a_500s_log_line_names_the_request_and_every_cause() {
    let app = TestApp::with_site(site_with(vec![draft("kept")], vec![])).await;
    let key = app.key("editor").await;
    let response = app
        .with_key(Method::PATCH, "/v1/articles/kept", &key)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"title": "Retitled"}).to_string())
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    let (status, page) = {
        let response = app
            .with_key(Method::GET, "/v1/articles/kept/revisions", &key)
            .send()
            .await
            .expect("answered");
        (
            response.status(),
            response.json::<Value>().await.expect("JSON"),
        )
    };
    assert_eq!(status, 200, "{page}");
    let revision = page["data"][0]["id"].clone();
    // A revision no release of Broadsheet wrote: restoring it is a bug to log.
    app.sql("UPDATE article_revisions SET snapshot = '{\"slug\": 1}'")
        .await;

    let served = Served::start(&[("DATABASE_URL", &app.database_url)]).await;
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/articles/kept/revisions/{revision}/restore",
            served.address
        ))
        .bearer_auth(&key)
        .header("x-request-id", "the-unreadable-one")
        .send()
        .await
        .expect("answered");
    let problem = assert_problem(response, 500).await;
    assert!(
        !problem.to_string().contains("unreadable"),
        "nothing of the cause reaches the client: {problem}"
    );
    let expected = format!(
        "internal error (request the-unreadable-one): revision {revision} is unreadable: \
         invalid type: integer `1`, expected a string"
    );
    let mut log = String::new();
    for _ in 0..50 {
        log = served.log_text();
        if log.contains(&expected) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no log line says `{expected}`: {log}");
}
