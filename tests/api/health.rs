use crate::helpers::{assert_problem, TestApp};

#[tokio::test]
async fn healthz_answers_ok_without_the_database() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_answers_ready_when_migrations_are_applied() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn readyz_answers_503_when_the_schema_is_behind() {
    let app = TestApp::spawn().await;
    app.sql("DELETE FROM __diesel_schema_migrations").await;
    let response = app.get("/readyz").await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503).await;
}
