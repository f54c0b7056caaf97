//! `GET /v1/outlets` and `GET /v1/outlets/{slug}`.

use serde_json::{json, Value};

use crate::excerpts::{
    assert_limit_range, assert_not_found, assert_pages, first_page, hide, newsroom, strings,
    HIDINGS,
};
use crate::helpers::*;

/// `(slug, excerpt_count, link_count)` of every outlet in `newsroom()`,
/// counting only its two published articles.
const COUNTS: [(&str, i64, i64); 4] = [
    ("al-jazeera", 0, 0),
    ("bloomberg", 2, 1),
    ("dawn", 2, 3),
    ("the-news", 1, 2),
];

fn counts(outlet: &Value) -> (i64, i64) {
    (
        outlet["excerpt_count"].as_i64().unwrap(),
        outlet["link_count"].as_i64().unwrap(),
    )
}

/// The counts `GET /v1/outlets/{slug}` answers.
async fn counts_of(app: &TestApp, slug: &str) -> (i64, i64) {
    let (status, body) = app.get_json(&format!("/v1/outlets/{slug}")).await;
    assert_eq!(status, 200, "{body}");
    counts(&body)
}

/// Asserts that `endpoint` lists these 45 slugs, in order, whatever the page size.
pub(crate) async fn assert_45_slugs_page(app: &TestApp, endpoint: &str, expected: &[String]) {
    assert_eq!(expected.len(), 45);
    for (query, sizes) in [
        ("", vec![20, 20, 5]),
        ("?limit=15", vec![15, 15, 15]),
        ("?limit=44", vec![44, 1]),
        ("?limit=100", vec![45]),
    ] {
        let path = format!("{endpoint}{query}");
        let items = assert_pages(app, &path, &sizes).await;
        assert_eq!(strings(&items, "slug"), expected, "{path}");
    }
}

#[tokio::test]
async fn list_outlets_orders_outlets_by_slug() {
    let app = TestApp::with_site(newsroom()).await;
    let outlets = first_page(&app, "/v1/outlets").await;
    let slugs = strings(&outlets, "slug");
    assert_eq!(slugs, COUNTS.map(|(slug, _, _)| slug));
}

#[tokio::test]
async fn list_outlets_counts_only_excerpts_and_links_of_published_articles() {
    let app = TestApp::with_site(newsroom()).await;
    let outlets = first_page(&app, "/v1/outlets").await;
    let found: Vec<(String, i64, i64)> = outlets
        .iter()
        .map(|o| {
            let (excerpts, links) = counts(o);
            (o["slug"].as_str().unwrap().to_string(), excerpts, links)
        })
        .collect();
    let expected: Vec<(String, i64, i64)> = COUNTS
        .iter()
        .map(|(slug, e, l)| (slug.to_string(), *e, *l))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        outlets[2],
        json!({
            "slug": "dawn", "name": "Dawn", "home_url": "https://www.dawn.com/",
            "country_code": "PK", "url": "/v1/outlets/dawn",
            "excerpt_count": 2, "link_count": 3,
        })
    );
    assert_eq!(outlets[0]["country_code"], Value::Null);
}

#[tokio::test]
async fn list_outlets_pages_through_more_outlets_than_one_page() {
    let app = TestApp::spawn().await;
    let outlets: Vec<Value> = (1..=45)
        .rev()
        .map(|n| {
            json!({
                "slug": format!("outlet-{n:02}"), "name": format!("Outlet {n}"),
                "home_url": format!("https://outlet-{n}.example/"), "country_code": null,
            })
        })
        .collect();
    app.load(json!({ "outlets": outlets })).await;
    let expected: Vec<String> = (1..=45).map(|n| format!("outlet-{n:02}")).collect();
    assert_45_slugs_page(&app, "/v1/outlets", &expected).await;
}

#[tokio::test]
async fn list_outlets_rejects_a_limit_outside_1_to_100() {
    let app = TestApp::with_site(newsroom()).await;
    assert_limit_range(&app, "/v1/outlets", 100).await;
}

#[tokio::test]
async fn get_outlet_returns_the_outlet_with_its_counts() {
    let app = TestApp::with_site(newsroom()).await;
    let listed = first_page(&app, "/v1/outlets").await;
    assert_eq!(listed.len(), COUNTS.len());
    for outlet in listed {
        let (status, body) = app.get_json(outlet["url"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, outlet);
    }
    assert_eq!(counts_of(&app, "the-news").await, (1, 2));
}

#[tokio::test]
async fn get_outlet_answers_404_for_an_unknown_slug() {
    let app = TestApp::with_site(newsroom()).await;
    for slug in ["no-such-outlet", "Dawn", "dawn-"] {
        assert_not_found(&app, &format!("/v1/outlets/{slug}")).await;
    }
}

#[tokio::test]
async fn outlet_counts_drop_when_an_article_becomes_a_draft_or_scheduled() {
    let app = TestApp::with_site(newsroom()).await;
    assert_eq!(counts_of(&app, "dawn").await, (2, 3));
    // clinton-visit quotes dawn once and links to it once; budget-debate once and twice.
    let remaining = [(1, 2), (0, 0)];
    for ((slug, how), left) in ["clinton-visit", "budget-debate"]
        .into_iter()
        .zip(HIDINGS)
        .zip(remaining)
    {
        hide(&app, slug, how).await;
        assert_eq!(counts_of(&app, "dawn").await, left, "after hiding {slug}");
    }
    let outlets = first_page(&app, "/v1/outlets").await;
    assert!(outlets.iter().all(|o| counts(o) == (0, 0)), "{outlets:?}");
}
