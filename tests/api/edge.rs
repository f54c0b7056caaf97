//! The HTTP edge: CORS for browsers on other origins, content codings,
//! `X-Request-Id`, and the request budgets per client address.

use std::io::Read;

use chrono::{Duration, Utc};
use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::*;

const FRONTEND: &str = "https://frontend.example";
const ADMIN: &str = "https://admin.example";

fn header(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_string())
}

/// Every value of a list header, lowercased, whichever lines they came on.
fn list(response: &Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .flat_map(|line| line.to_str().unwrap().split(','))
        .map(|item| item.trim().to_ascii_lowercase())
        .filter(|item| !item.is_empty())
        .collect()
}

async fn send(request: reqwest::RequestBuilder) -> Response {
    request.send().await.expect("request reaches the server")
}

fn request(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    app.client.request(method, format!("{}{path}", app.address))
}

async fn with_write_origin() -> TestApp {
    TestApp::spawn_configured(|config| config.cors_write_origins = vec![ADMIN.into()]).await
}

// --- CORS -----------------------------------------------------------------

#[tokio::test]
async fn a_browsers_preflight_for_a_read_is_answered_204_with_what_it_may_send() {
    let app = TestApp::spawn().await;
    let response = send(
        request(&app, Method::OPTIONS, "/v1/articles")
            .header("origin", FRONTEND)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "if-none-match"),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let methods = list(&response, "access-control-allow-methods");
    assert!(methods.contains(&"get".into()), "{methods:?}");
    assert!(!methods.contains(&"post".into()), "{methods:?}");
    let headers = list(&response, "access-control-allow-headers");
    for name in ["if-none-match", "if-modified-since", "x-request-id"] {
        assert!(headers.contains(&name.into()), "{name}: {headers:?}");
    }
    assert!(!headers.contains(&"authorization".into()), "{headers:?}");
    assert_eq!(
        header(&response, "access-control-max-age").as_deref(),
        Some("86400")
    );
    assert!(header(&response, "x-request-id").is_some());
}

#[tokio::test]
async fn a_read_from_another_origin_may_be_read_problems_included() {
    let app = TestApp::with_site(site_with(vec![published("read-me", Utc::now())], vec![])).await;
    for (path, status) in [
        ("/v1/articles/read-me", 200),
        ("/v1/articles/nothing-here", 404),
    ] {
        let response = send(request(&app, Method::GET, path).header("origin", FRONTEND)).await;
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            header(&response, "access-control-allow-origin").as_deref(),
            Some("*"),
            "{path}"
        );
        let exposed = list(&response, "access-control-expose-headers");
        for name in [
            "etag",
            "last-modified",
            "link",
            "location",
            "retry-after",
            "ratelimit",
            "ratelimit-policy",
            "x-request-id",
        ] {
            assert!(exposed.contains(&name.into()), "{path} {name}: {exposed:?}");
        }
        assert!(
            !list(&response, "vary").contains(&"origin".into()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_write_preflight_from_an_origin_not_configured_is_refused() {
    let app = with_write_origin().await;
    for (method, asked) in [
        ("POST", "authorization, content-type"),
        ("GET", "authorization"),
    ] {
        let response = send(
            request(&app, Method::OPTIONS, "/v1/articles")
                .header("origin", FRONTEND)
                .header("access-control-request-method", method)
                .header("access-control-request-headers", asked),
        )
        .await;
        assert!(header(&response, "access-control-allow-origin").is_none());
        assert!(header(&response, "access-control-allow-methods").is_none());
        let problem = assert_problem(response, 403).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("https://frontend.example"),
            "{problem}"
        );
    }
}

#[tokio::test]
async fn a_configured_origin_may_write_with_a_key() {
    let app = with_write_origin().await;
    let preflight = send(
        request(&app, Method::OPTIONS, "/v1/articles")
            .header("origin", ADMIN)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key",
            ),
    )
    .await;
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some(ADMIN)
    );
    assert!(list(&preflight, "vary").contains(&"origin".into()));
    let methods = list(&preflight, "access-control-allow-methods");
    assert!(methods.contains(&"post".into()), "{methods:?}");
    let headers = list(&preflight, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
        "if-none-match",
    ] {
        assert!(headers.contains(&name.into()), "{name}: {headers:?}");
    }

    // The write itself: the origin is echoed to the configured origin only.
    let key = app.key("editor").await;
    for (origin, granted) in [(ADMIN, true), (FRONTEND, false)] {
        let response = send(
            app.with_key(Method::POST, "/v1/articles", &key)
                .header("origin", origin)
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
        assert_eq!(response.status(), 422, "{origin}");
        let allowed = header(&response, "access-control-allow-origin");
        if granted {
            assert_eq!(allowed.as_deref(), Some(ADMIN));
            assert!(list(&response, "vary").contains(&"origin".into()));
        } else {
            assert_eq!(allowed, None, "{origin}");
        }
    }
    // A read with a key is a keyed request: not `*`.
    let keyed = send(
        app.with_key(Method::GET, "/v1/articles", &key)
            .header("origin", FRONTEND),
    )
    .await;
    assert_eq!(keyed.status(), 200);
    assert_eq!(header(&keyed, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_preflight_on_an_unknown_path_is_a_404_and_a_plain_options_a_405() {
    let app = TestApp::spawn().await;
    let unknown = send(
        request(&app, Method::OPTIONS, "/v1/nothing")
            .header("origin", FRONTEND)
            .header("access-control-request-method", "GET"),
    )
    .await;
    assert_problem(unknown, 404).await;
    let plain = send(request(&app, Method::OPTIONS, "/v1/articles")).await;
    assert!(header(&plain, "allow").is_some());
    assert_problem(plain, 405).await;
}

#[tokio::test]
async fn any_origin_may_send_the_view_beacon() {
    let app = TestApp::with_site(site_with(vec![published("read-me", Utc::now())], vec![])).await;
    let preflight = send(
        request(&app, Method::OPTIONS, "/v1/articles/read-me/views")
            .header("origin", FRONTEND)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await;
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        header(&preflight, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    let beacon = send(
        request(&app, Method::POST, "/v1/articles/read-me/views")
            .header("origin", FRONTEND)
            .header("accept-encoding", "gzip"),
    )
    .await;
    assert_eq!(beacon.status(), 202);
    assert_eq!(
        header(&beacon, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(header(&beacon, "content-encoding"), None);
    assert!(!list(&beacon, "vary").contains(&"accept-encoding".into()));
}

// --- Compression ----------------------------------------------------------

/// `bytes` decoded from the content coding `coding`.
pub(crate) fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(bytes).unwrap(),
        other => panic!("no decoder for {other}"),
    }
    out
}

#[tokio::test]
async fn a_large_response_decodes_to_the_identity_bytes_in_every_coding() {
    let app = TestApp::spawn().await;
    let identity = send(request(&app, Method::GET, "/openapi.json")).await;
    assert_eq!(header(&identity, "content-encoding"), None);
    assert!(list(&identity, "vary").contains(&"accept-encoding".into()));
    let identity = identity.bytes().await.unwrap();
    assert!(identity.len() > 10_000);
    for coding in ["gzip", "br", "zstd"] {
        let response =
            send(request(&app, Method::GET, "/openapi.json").header("accept-encoding", coding))
                .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "content-encoding").as_deref(),
            Some(coding)
        );
        assert!(list(&response, "vary").contains(&"accept-encoding".into()));
        let body = response.bytes().await.unwrap();
        assert!(body.len() < identity.len() / 2, "{coding}: {}", body.len());
        assert_eq!(decode(coding, &body), identity, "{coding}");
    }
    // A browser's list: brotli first.
    let browser = send(
        request(&app, Method::GET, "/openapi.json")
            .header("accept-encoding", "gzip, deflate, br, zstd"),
    )
    .await;
    assert_eq!(header(&browser, "content-encoding").as_deref(), Some("br"));
    // Nothing acceptable: the identity coding, not a 406.
    let refused = send(
        request(&app, Method::GET, "/openapi.json")
            .header("accept-encoding", "identity;q=0, deflate"),
    )
    .await;
    assert_eq!(refused.status(), 200);
    assert_eq!(header(&refused, "content-encoding"), None);
}

#[tokio::test]
async fn small_bodies_head_requests_and_304s_are_not_compressed() {
    let app = TestApp::spawn().await;
    let small =
        send(request(&app, Method::GET, "/healthz").header("accept-encoding", "gzip")).await;
    assert_eq!(small.status(), 200);
    assert_eq!(header(&small, "content-encoding"), None);
    let problem =
        send(request(&app, Method::GET, "/v1/nothing").header("accept-encoding", "gzip")).await;
    assert_eq!(header(&problem, "content-encoding"), None);
    assert_problem(problem, 404).await;

    let head =
        send(request(&app, Method::HEAD, "/openapi.json").header("accept-encoding", "gzip")).await;
    assert_eq!(head.status(), 200);
    assert_eq!(header(&head, "content-encoding"), None);
    assert!(header(&head, "content-length").is_some());
}

/// An article whose JSON is well over a kilobyte.
async fn big_article() -> TestApp {
    let mut article = published("long-read", Utc::now() - Duration::hours(1));
    article["excerpts"] = Value::Array(
        (0..6)
            .map(|i| excerpt(&format!("Headline number {i}"), "dawn"))
            .collect(),
    );
    TestApp::with_site(site_with(vec![article], vec![])).await
}

#[tokio::test]
async fn a_compressed_representation_has_its_own_strong_etag() {
    let app = big_article().await;
    let path = "/v1/articles/long-read";
    let identity = send(request(&app, Method::GET, path)).await;
    assert_eq!(identity.status(), 200);
    let base = header(&identity, "etag").expect("an ETag");
    let bytes = identity.bytes().await.unwrap();
    assert!(bytes.len() > 1024, "{}", bytes.len());
    let inner = base.trim_matches('"');
    for coding in ["gzip", "br", "zstd"] {
        let response =
            send(request(&app, Method::GET, path).header("accept-encoding", coding)).await;
        assert_eq!(
            header(&response, "content-encoding").as_deref(),
            Some(coding)
        );
        assert_eq!(
            header(&response, "etag"),
            Some(format!("\"{inner}-{coding}\""))
        );
        assert_eq!(decode(coding, &response.bytes().await.unwrap()), bytes);
    }
    // Revalidating the identity bytes: the 304 keeps the tag the client has.
    let not_modified = send(
        request(&app, Method::GET, path)
            .header("accept-encoding", "gzip")
            .header("if-none-match", &base),
    )
    .await;
    assert_eq!(not_modified.status(), 304);
    assert_eq!(header(&not_modified, "etag"), Some(base.clone()));
    assert!(list(&not_modified, "vary").contains(&"accept-encoding".into()));
}

#[tokio::test]
async fn revalidating_a_compressed_representation_is_a_304_with_its_tag() {
    let app = big_article().await;
    let path = "/v1/articles/long-read";
    let base = header(&send(request(&app, Method::GET, path)).await, "etag").unwrap();
    let gzip_tag = format!("\"{}-gzip\"", base.trim_matches('"'));
    let response = send(
        request(&app, Method::GET, path)
            .header("accept-encoding", "gzip")
            .header("if-none-match", &gzip_tag),
    )
    .await;
    assert_eq!(response.status(), 304);
    assert_eq!(header(&response, "etag"), Some(gzip_tag));
}

// --- X-Request-Id ---------------------------------------------------------

#[tokio::test]
async fn a_request_id_is_echoed_when_safe_and_replaced_otherwise() {
    let app = TestApp::spawn().await;
    let valid = "0af7651916cd43dd8448eb211c80319c:edge/1";
    for path in ["/healthz", "/v1/nothing"] {
        let response = send(request(&app, Method::GET, path).header("x-request-id", valid)).await;
        assert_eq!(
            header(&response, "x-request-id").as_deref(),
            Some(valid),
            "{path}"
        );
    }
    let is_generated = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let long = "a".repeat(500);
    for sent in [Some(long.as_str()), Some("has a space"), None] {
        let mut builder = request(&app, Method::GET, "/v1/articles");
        if let Some(sent) = sent {
            builder = builder.header("x-request-id", sent);
        }
        let response = send(builder).await;
        let id = header(&response, "x-request-id").expect("an id");
        assert!(is_generated(&id), "{sent:?} -> {id}");
    }
    let first = header(
        &send(request(&app, Method::GET, "/healthz")).await,
        "x-request-id",
    );
    let second = header(
        &send(request(&app, Method::GET, "/healthz")).await,
        "x-request-id",
    );
    assert_ne!(first, second);
}

#[tokio::test]
async fn the_access_log_line_carries_the_request_id() {
    let app = TestApp::spawn().await;
    let served = Served::start(&[("DATABASE_URL", &app.database_url)]).await;
    let client = reqwest::Client::new();
    let sent = "find-me-in-the-log-42";
    let response = client
        .get(format!("{}/v1/nothing", served.address))
        .header("x-request-id", sent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let generated = header(
        &client
            .get(format!("{}/v1/articles", served.address))
            .send()
            .await
            .unwrap(),
        "x-request-id",
    )
    .unwrap();
    // The access line is written once the response is done.
    let mut log = String::new();
    for _ in 0..50 {
        log = served.log_text();
        if log.contains(sent) && log.contains(&generated) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let line = log
        .lines()
        .find(|line| line.contains(sent))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("/v1/nothing") && line.contains(" 404 "),
        "{line}"
    );
    assert!(
        log.lines()
            .any(|line| line.contains(&generated) && line.contains("/v1/articles")),
        "{log}"
    );
}

// --- Rate limits ----------------------------------------------------------

async fn limited(reads: u32, beacons: u32, writes: u32, trusted: bool) -> TestApp {
    TestApp::spawn_configured(|config| {
        config.rate_limits = broadsheet::config::RateLimits {
            reads,
            beacons,
            writes,
        };
        if trusted {
            config.popularity.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        }
    })
    .await
}

#[tokio::test]
async fn the_read_past_the_budget_is_a_429_with_retry_after_and_the_budget_headers() {
    let app = limited(3, 0, 0, false).await;
    for left in (0..3).rev() {
        let response = app.get("/v1/articles").await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(&response, "ratelimit-policy").as_deref(),
            Some("\"reads\";q=3;w=60")
        );
        let standing = header(&response, "ratelimit").unwrap();
        assert!(
            standing.starts_with(&format!("\"reads\";r={left};t=")),
            "{standing}"
        );
    }
    let response =
        send(request(&app, Method::GET, "/v1/articles").header("origin", FRONTEND)).await;
    let retry_after: u32 = header(&response, "retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    let standing = header(&response, "ratelimit").unwrap();
    assert!(standing.starts_with("\"reads\";r=0;t="), "{standing}");
    assert_eq!(
        header(&response, "ratelimit-policy").as_deref(),
        Some("\"reads\";q=3;w=60")
    );
    // A browser may read the 429, and the client can quote its id.
    assert_eq!(
        header(&response, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert!(header(&response, "x-request-id").is_some());
    let problem = assert_problem(response, 429).await;
    assert_eq!(problem["type"], "/problems/too-many-requests");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("3 reads a minute"),
        "{problem}"
    );

    // HEAD counts as a read too.
    let head = send(request(&app, Method::HEAD, "/v1/articles")).await;
    assert_eq!(head.status(), 429);
}

#[tokio::test]
async fn reads_beacons_and_writes_have_budgets_of_their_own() {
    let app = TestApp::spawn_configured(|config| {
        config.rate_limits = broadsheet::config::RateLimits {
            reads: 1,
            beacons: 2,
            writes: 1,
        };
    })
    .await;
    app.load(site_with(vec![published("read-me", Utc::now())], vec![]))
        .await;
    assert_eq!(app.get("/v1/tags").await.status(), 200);
    assert_eq!(app.get("/v1/tags").await.status(), 429);
    // Reads spent: a write still goes through (to its 401 without a key).
    let write = send(request(&app, Method::POST, "/v1/outlets").json(&serde_json::json!({}))).await;
    assert_eq!(write.status(), 401);
    assert_eq!(
        header(&write, "ratelimit-policy").as_deref(),
        Some("\"writes\";q=1;w=60")
    );
    let beacon = || send(request(&app, Method::POST, "/v1/articles/read-me/views"));
    assert_eq!(beacon().await.status(), 202);
    assert_eq!(beacon().await.status(), 202);
    let over = beacon().await;
    assert_eq!(
        header(&over, "ratelimit-policy").as_deref(),
        Some("\"beacons\";q=2;w=60")
    );
    assert_problem(over, 429).await;
    let write = send(request(&app, Method::DELETE, "/v1/outlets/dawn")).await;
    assert_problem(write, 429).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = limited(1, 0, 0, true).await;
    let from = |client: &'static str| {
        send(request(&app, Method::GET, "/v1/tags").header("x-forwarded-for", client))
    };
    assert_eq!(from("203.0.113.1").await.status(), 200);
    assert_eq!(from("203.0.113.1").await.status(), 429);
    assert_eq!(from("203.0.113.2").await.status(), 200);
    // One IPv6 host's /64 is one client.
    assert_eq!(from("2001:db8:1:2::a").await.status(), 200);
    assert_eq!(from("2001:db8:1:2::b").await.status(), 429);
}

#[tokio::test]
async fn an_untrusted_peer_cannot_pass_for_another_client() {
    let app = limited(1, 0, 0, false).await;
    let from = |client: &'static str| {
        send(request(&app, Method::GET, "/v1/tags").header("x-forwarded-for", client))
    };
    assert_eq!(from("203.0.113.1").await.status(), 200);
    assert_eq!(from("203.0.113.2").await.status(), 429);
}

#[tokio::test]
async fn the_probes_are_never_limited() {
    let app = limited(1, 1, 1, false).await;
    assert_eq!(app.get("/v1/tags").await.status(), 200);
    assert_eq!(app.get("/v1/tags").await.status(), 429);
    for _ in 0..5 {
        for probe in ["/healthz", "/readyz"] {
            let response = app.get(probe).await;
            assert_eq!(response.status(), 200, "{probe}");
            assert_eq!(header(&response, "ratelimit"), None, "{probe}");
        }
    }
}

#[tokio::test]
async fn an_internal_errors_log_line_names_the_request() {
    let app = TestApp::spawn().await;
    let served = Served::start(&[("DATABASE_URL", &app.database_url)]).await;
    // A schema the code does not expect: a bug, answered with an opaque 500.
    app.sql("ALTER TABLE outlets RENAME COLUMN name TO renamed")
        .await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/outlets", served.address))
        .header("x-request-id", "the-failed-one")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "x-request-id").as_deref(),
        Some("the-failed-one")
    );
    assert_problem(response, 500).await;
    let mut log = String::new();
    for _ in 0..50 {
        log = served.log_text();
        if log.contains("internal error (request the-failed-one)") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no internal error line names the request: {log}");
}
