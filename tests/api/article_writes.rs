//! The editorial write API for articles, over HTTP with real keys.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

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
