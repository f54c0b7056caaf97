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

#[tokio::test]
async fn every_database_read_answers_503_with_retry_after_while_the_database_is_unreachable() {
    // Nothing listens on port 1: the pool's connections fail like a server that is down.
    let mut config =
        broadsheet::config::Config::for_database("postgres://postgres@127.0.0.1:1/broadsheet");
    config.listen = "127.0.0.1:0".into();
    config.workers = Some(1);
    config.pool_timeout = std::time::Duration::from_millis(500);
    let pool = broadsheet::db::pool(&config).unwrap();
    let app = broadsheet::app::Application::build(&config, pool).unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let client = reqwest::Client::new();
    for path in [
        "/readyz",
        "/v1/articles",
        "/v1/articles/any-slug",
        "/v1/rankings/popular",
    ] {
        let response = client.get(format!("{address}{path}")).send().await.unwrap();
        assert_eq!(response.headers()["retry-after"], "5", "{path}");
        let problem = assert_problem(response, 503).await;
        assert!(
            !problem["detail"].as_str().unwrap().contains("127.0.0.1"),
            "{problem}"
        );
    }
    let live = client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
}
