//! Who may write comes before what the path names: a request without a key,
//! or with a key whose role may not, is refused as such whatever its path
//! says; only then is the path read, as the reads read theirs.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

async fn problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_write_without_a_key_is_a_401_whatever_its_path_says() {
    let app = TestApp::spawn().await;
    for (method, path) in [
        (Method::PATCH, "/v1/excerpts/abc"),
        (Method::DELETE, "/v1/roundup-links/0"),
        (Method::DELETE, "/v1/articles/Not-A-Slug"),
        (Method::POST, "/v1/articles/NO/revisions/x/restore"),
        (Method::DELETE, "/v1/old-slugs/..%2F..%2Fetc"),
    ] {
        let response = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        problem(response, 401).await;
    }
}

#[tokio::test]
async fn an_editor_key_on_an_admin_write_is_a_403_before_its_path_is_read() {
    let app = TestApp::spawn().await;
    let editor = app.key("editor").await;
    for path in [
        "/v1/articles/Not-A-Slug",
        "/v1/outlets/-",
        "/v1/old-slugs/a--b",
    ] {
        let response = app.with_key(Method::DELETE, path, &editor).send().await;
        problem(response.unwrap(), 403).await;
    }
}

#[tokio::test]
async fn with_a_key_that_may_a_bad_slug_is_a_404_and_a_bad_id_a_400_naming_it() {
    let app = TestApp::spawn().await;
    let admin = app.key("admin").await;
    for path in [
        "/v1/articles/Not-A-Slug",
        "/v1/outlets/a_b",
        "/v1/old-slugs/a--b",
    ] {
        let response = app.with_key(Method::DELETE, path, &admin).send().await;
        problem(response.unwrap(), 404).await;
    }
    for (method, path) in [
        (Method::DELETE, "/v1/excerpts/0"),
        (Method::PATCH, "/v1/roundups/abc"),
        (Method::POST, "/v1/articles/a-slug/revisions/-3/restore"),
        (Method::PUT, "/v1/roundups/99999999999999999999/links/order"),
    ] {
        let response = app
            .with_key(method.clone(), path, &admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let problem = problem(response, 400).await;
        assert_eq!(problem["errors"][0]["parameter"], "id", "{method} {path}");
    }
}
