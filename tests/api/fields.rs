//! `fields=`: sparse fieldsets on lists and single resources.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::excerpts::with;
use crate::helpers::*;

fn site() -> serde_json::Value {
    site_with(
        vec![with(
            with(
                published("quoted", Utc::now() - Duration::days(1)),
                "excerpts",
                json!([excerpt("Quoted passage", "bloomberg")]),
            ),
            "roundups",
            json!([roundup("From Pakistan Press", &[("A link", "dawn")])]),
        )],
        vec![],
    )
}

#[tokio::test]
async fn fields_keeps_only_the_members_named_on_lists_and_single_resources() {
    let app = TestApp::with_site(site()).await;
    let (status, page) = app.get_json("/v1/articles?fields=slug,title").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["data"],
        json!([{"slug": "quoted", "title": "Title of quoted"}])
    );
    assert_eq!(page["next_cursor"], json!(null));

    let (status, article) = app.get_json("/v1/articles/quoted?fields=slug,url").await;
    assert_eq!(status, 200, "{article}");
    assert_eq!(
        article,
        json!({"slug": "quoted", "url": "/v1/articles/quoted"})
    );

    let (_, excerpts) = app.get_json("/v1/excerpts?fields=headline").await;
    assert_eq!(excerpts["data"], json!([{"headline": "Quoted passage"}]));
    let (_, links) = app.get_json("/v1/roundup-links?fields=id,outlet").await;
    let link = links["data"][0].clone();
    assert_eq!(link["outlet"]["slug"], "dawn");
    assert_eq!(link.as_object().unwrap().len(), 2, "{link}");
    let id = link["id"].as_i64().unwrap();
    let (_, one) = app
        .get_json(&format!("/v1/roundup-links/{id}?fields=headline"))
        .await;
    assert_eq!(one, json!({"headline": "A link"}));
    let (_, outlet) = app
        .get_json("/v1/outlets/bloomberg?fields=name,excerpt_count")
        .await;
    assert_eq!(outlet, json!({"name": "Bloomberg", "excerpt_count": 1}));
    let (_, outlets) = app.get_json("/v1/outlets?fields=slug").await;
    assert_eq!(outlets["data"][0], json!({"slug": "bloomberg"}));

    // A sparse answer has its own ETag, and answers If-None-Match with 304.
    let full = app.get("/v1/articles/quoted").await;
    let sparse = app.get("/v1/articles/quoted?fields=slug").await;
    let etag = sparse.headers()["etag"].clone();
    assert_ne!(full.headers()["etag"], etag);
    let again = app
        .client
        .get(format!("{}/v1/articles/quoted?fields=slug", app.address))
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[tokio::test]
async fn unknown_fields_are_a_400_naming_them() {
    let app = TestApp::with_site(site()).await;
    for path in [
        "/v1/articles?fields=slug,nope",
        "/v1/articles/quoted?fields=nope",
        "/v1/excerpts?fields=nope",
        "/v1/outlets/dawn?fields=nope",
        "/v1/tags?fields=nope",
        "/v1/articles?fields=,",
    ] {
        let problem = assert_problem(app.get(path).await, 400).await;
        assert_eq!(
            problem["errors"][0]["parameter"], "fields",
            "{path}: {problem}"
        );
        if path.contains("nope") {
            let detail = problem["errors"][0]["detail"].as_str().unwrap();
            assert!(detail.contains("nope"), "{path}: {detail}");
        }
    }
}

#[tokio::test]
async fn fields_applies_to_search_results_and_rankings() {
    let mut site = site();
    site["views"] = json!([{"article": "quoted", "hours_ago": 2, "views": 5}]);
    let app = TestApp::with_site(site).await;
    app.refresh_rankings().await;

    let (status, results) = app
        .get_json("/v1/search?q=commentary&fields=slug,rank")
        .await;
    assert_eq!(status, 200, "{results}");
    let result = &results["data"][0];
    assert_eq!(result["slug"], "quoted", "{results}");
    assert_eq!(result.as_object().unwrap().len(), 2, "{result}");

    let (status, ranking) = app
        .get_json("/v1/rankings/popular?window=24h&fields=rank,views")
        .await;
    assert_eq!(status, 200, "{ranking}");
    assert_eq!(ranking["data"], json!([{"rank": 1, "views": 5}]));
    assert_eq!(ranking["window"], "24h", "the ranking's own members stay");
    let whole = app.get("/v1/rankings/popular?window=24h").await;
    let sparse = app.get("/v1/rankings/popular?window=24h&fields=rank").await;
    assert_ne!(whole.headers()["etag"], sparse.headers()["etag"]);
    assert_eq!(
        whole.headers()["surrogate-key"],
        sparse.headers()["surrogate-key"]
    );
    let (status, trending) = app.get_json("/v1/rankings/trending?fields=rank").await;
    assert_eq!(status, 200, "{trending}");

    for path in [
        "/v1/search?q=commentary&fields=nope",
        "/v1/rankings/popular?fields=nope",
        "/v1/rankings/trending?fields=nope",
    ] {
        let problem = assert_problem(app.get(path).await, 400).await;
        assert_eq!(
            problem["errors"][0]["parameter"], "fields",
            "{path}: {problem}"
        );
    }
}

#[tokio::test]
async fn a_single_resource_refuses_parameters_it_does_not_take() {
    let app = TestApp::with_site(site()).await;
    let problem = assert_problem(app.get("/v1/articles/quoted?field=slug").await, 400).await;
    assert_eq!(problem["errors"][0]["parameter"], "field", "{problem}");
}
