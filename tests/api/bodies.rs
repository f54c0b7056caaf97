//! Request bodies are bounded in size and in time.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::TestApp;

#[tokio::test]
async fn a_body_that_stalls_is_cut_off_with_408_instead_of_holding_the_connection() {
    let app = TestApp::spawn_configured(|config| {
        config.body_limits.timeout = Duration::from_millis(500);
    })
    .await;
    let key = app.key("editor").await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/articles HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the server answers before the client gives up")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_body_over_the_configured_limit_is_413_whether_announced_or_streamed() {
    let app = TestApp::spawn_configured(|config| config.body_limits.max_bytes = 1000).await;
    let key = app.key("editor").await;
    let big = format!("{{\"slug\": \"big\", \"title\": \"{}\"}}", "x".repeat(2000));
    let announced = app
        .with_key(reqwest::Method::POST, "/v1/articles", &key)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(announced.status(), 413);
    let chunks = futures_util::stream::iter(
        big.into_bytes()
            .chunks(100)
            .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
            .collect::<Vec<_>>(),
    );
    let streamed = app
        .with_key(reqwest::Method::POST, "/v1/articles", &key)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
}
