//! The view beacon: what counts, what does not, and when counts show.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::helpers::*;

const BROWSER: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

async fn beacon(app: &TestApp, slug: &str, user_agent: &str) -> u16 {
    app.client
        .post(format!("{}/v1/articles/{slug}/views", app.address))
        .header("user-agent", user_agent)
        .header("content-type", "text/plain")
        .body("")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn stored_views(app: &TestApp, slug: &str) -> i64 {
    app.flush_views().await;
    app.refresh_rankings().await;
    let (_, body) = app
        .get_json("/v1/rankings/popular?window=24h&limit=50")
        .await;
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["article"]["slug"] == slug)
        .map(|entry| entry["views"].as_i64().unwrap())
        .unwrap_or(0)
}

fn one_article() -> serde_json::Value {
    site_with(
        vec![
            published("read-me", Utc::now() - Duration::days(1)),
            draft("not-yet"),
            published("later", Utc::now() + Duration::days(1)),
        ],
        vec![],
    )
}

#[tokio::test]
async fn a_beacon_is_accepted_at_once_and_counts_after_a_flush() {
    let app = TestApp::with_site(one_article()).await;
    assert_eq!(beacon(&app, "read-me", BROWSER).await, 202);
    assert_eq!(stored_views(&app, "read-me").await, 1);
}

#[tokio::test]
async fn the_same_visitor_counts_once_per_half_hour_but_another_browser_counts() {
    let app = TestApp::with_site(one_article()).await;
    for _ in 0..5 {
        assert_eq!(beacon(&app, "read-me", BROWSER).await, 202);
    }
    assert_eq!(
        beacon(&app, "read-me", "Mozilla/5.0 (Macintosh) Safari/605.1.15").await,
        202
    );
    assert_eq!(stored_views(&app, "read-me").await, 2);
}

#[tokio::test]
async fn bots_and_crawlers_count_nothing() {
    let app = TestApp::with_site(one_article()).await;
    for bot in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
        "python-requests/2.31.0",
        "facebookexternalhit/1.1",
    ] {
        assert_eq!(beacon(&app, "read-me", bot).await, 202, "{bot}");
    }
    assert_eq!(stored_views(&app, "read-me").await, 0);
}

#[tokio::test]
async fn unknown_draft_and_scheduled_slugs_are_404_and_count_nothing() {
    let app = TestApp::with_site(one_article()).await;
    for slug in ["no-such-article", "not-yet", "later"] {
        let response = app
            .client
            .post(format!("{}/v1/articles/{slug}/views", app.address))
            .header("user-agent", BROWSER)
            .send()
            .await
            .unwrap();
        assert_problem(response, 404).await;
    }
    app.flush_views().await;
    let key = app.key("editor").await;
    let (_, body) = app.get_json("/v1/rankings/popular?window=all").await;
    assert_eq!(body["data"], json!([]), "{body} ({key})");
}

#[tokio::test]
async fn json_and_empty_beacon_bodies_are_accepted() {
    let app = TestApp::with_site(one_article()).await;
    let json = app
        .client
        .post(format!("{}/v1/articles/read-me/views", app.address))
        .header("user-agent", BROWSER)
        .json(&json!({"referrer": "https://news.example/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 202);
    let empty = app
        .client
        .post(format!("{}/v1/articles/read-me/views", app.address))
        .header("user-agent", "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 202);
    assert_eq!(stored_views(&app, "read-me").await, 2);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_visitor_is_the_address_it_appended_not_what_the_client_sent() {
    let app = TestApp::spawn_configured(|config| {
        config.popularity.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.load(one_article()).await;
    let view = |forwarded: String| {
        app.client
            .post(format!("{}/v1/articles/read-me/views", app.address))
            .header("user-agent", BROWSER)
            .header("x-forwarded-for", forwarded)
            .send()
    };
    // One client behind the proxy (203.0.113.7) that makes up a new address
    // in front of the proxy's entry on every view: it is one visitor.
    for n in 0..5 {
        let response = view(format!("198.51.100.{n}, 203.0.113.7")).await.unwrap();
        assert_eq!(response.status(), 202);
    }
    // Another client behind the same proxy is another visitor.
    assert_eq!(view("203.0.113.8".into()).await.unwrap().status(), 202);
    assert_eq!(stored_views(&app, "read-me").await, 2);
}

#[tokio::test]
async fn beacons_with_bodies_keep_the_connection_open_for_the_next_one() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::with_site(one_article()).await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // What navigator.sendBeacon sends, twice on one connection, as a page
    // that fires a beacon per view does.
    for (n, agent) in ["Firefox/128.0", "Chrome/126.0"].iter().enumerate() {
        let body = r#"{"referrer": "https://news.example/"}"#;
        let request = format!(
            "POST /v1/articles/read-me/views HTTP/1.1\r\nHost: localhost\r\n\
             User-Agent: Mozilla/5.0 (X11; Linux x86_64) {agent}\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = vec![0u8; 1024];
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
                .await
                .expect("the server answers")
                .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]).to_ascii_lowercase();
        assert!(answer.starts_with("http/1.1 202"), "beacon {n}: {answer}");
        assert!(
            !answer.contains("connection: close"),
            "beacon {n}: {answer}"
        );
    }
    assert_eq!(stored_views(&app, "read-me").await, 2);
}

#[tokio::test]
async fn a_beacon_body_over_4096_bytes_is_413_and_counts_nothing() {
    let app = TestApp::with_site(one_article()).await;
    for body in [
        reqwest::Body::from("x".repeat(4097)),
        // Streamed, so that no Content-Length announces it.
        reqwest::Body::wrap_stream(futures_util::stream::iter(
            (0..5).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 1000])),
        )),
    ] {
        let response = app
            .client
            .post(format!("{}/v1/articles/read-me/views", app.address))
            .header("user-agent", BROWSER)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_problem(response, 413).await;
    }
    assert_eq!(stored_views(&app, "read-me").await, 0);
}

#[tokio::test]
async fn an_article_unpublished_or_renamed_stops_counting_once_the_directory_is_reread() {
    let a_day_ago = Utc::now() - Duration::days(1);
    let site = site_with(
        vec![
            published("read-me", a_day_ago),
            published("old-name", a_day_ago),
        ],
        vec![],
    );
    let app = TestApp::with_site(site).await;
    assert_eq!(beacon(&app, "read-me", BROWSER).await, 202);
    assert_eq!(beacon(&app, "old-name", BROWSER).await, 202);

    app.sql("UPDATE articles SET status = 'draft' WHERE slug = 'read-me'")
        .await;
    app.sql("UPDATE articles SET slug = 'new-name' WHERE slug = 'old-name'")
        .await;
    // As the engine's clock does once per snapshot interval.
    app.engine
        .directory
        .revalidate(&app.pool)
        .await
        .expect("directory re-read");

    let safari = "Mozilla/5.0 (Macintosh) Safari/605.1.15";
    assert_eq!(beacon(&app, "read-me", safari).await, 404);
    assert_eq!(beacon(&app, "old-name", safari).await, 404);
    assert_eq!(beacon(&app, "new-name", safari).await, 202);
    assert_eq!(stored_views(&app, "new-name").await, 2);
}

#[tokio::test]
async fn a_bot_agent_with_bytes_that_are_not_utf8_is_still_a_bot() {
    let app = TestApp::with_site(one_article()).await;
    let mut agent =
        b"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)".to_vec();
    agent.push(0xFF);
    for agent in [agent.clone(), [&[0xFE, b' '], agent.as_slice()].concat()] {
        let response = app
            .client
            .post(format!("{}/v1/articles/read-me/views", app.address))
            .header(
                "user-agent",
                reqwest::header::HeaderValue::from_bytes(&agent).unwrap(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    assert_eq!(stored_views(&app, "read-me").await, 0);
}

#[tokio::test]
async fn one_address_sending_a_new_user_agent_each_time_counts_at_most_its_cap() {
    let app = TestApp::spawn_configured(|config| {
        config.popularity.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    app.load(one_article()).await;
    let view = |client: &str, agent: String| {
        app.client
            .post(format!("{}/v1/articles/read-me/views", app.address))
            .header("user-agent", agent)
            .header("x-forwarded-for", client.to_string())
            .send()
    };
    for n in 0..50 {
        let response = view("203.0.113.7", format!("{BROWSER} Build/{n}"))
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    // An IPv6 client taking a new address of its /64 every time is one client.
    for n in 0..50 {
        let client = format!("2001:db8:7:7::{n:x}");
        let response = view(&client, format!("{BROWSER} Build/{n}")).await.unwrap();
        assert_eq!(response.status(), 202);
    }
    // Other clients still count, each up to the cap.
    for n in 0..3 {
        let response = view(&format!("198.51.100.{n}"), BROWSER.into())
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    let cap = broadsheet::popularity::PopularitySettings::default().max_visitors_per_address;
    assert_eq!(cap, 8);
    assert_eq!(stored_views(&app, "read-me").await, 2 * i64::from(cap) + 3);
}

#[tokio::test]
async fn the_per_address_cap_is_configurable() {
    let app = TestApp::spawn_configured(|config| {
        config.popularity.max_visitors_per_address = 2;
    })
    .await;
    app.load(one_article()).await;
    for n in 0..5 {
        assert_eq!(
            beacon(&app, "read-me", &format!("{BROWSER} Build/{n}")).await,
            202
        );
    }
    assert_eq!(stored_views(&app, "read-me").await, 2);
}
