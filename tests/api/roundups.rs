//! `GET /v1/roundup-links` and `GET /v1/roundups/{id}`.

use serde_json::{json, Value};

use crate::excerpts::{
    assert_dawn_pages, assert_headlines, assert_limit_range, assert_not_found, assert_pages,
    assert_unknown_filters_find_nothing, crowded_headlines, crowded_site, first_page, hide,
    increasing_ids, newsroom, strings, HIDINGS,
};
use crate::helpers::*;

/// Public link headlines of `newsroom()`, in id order.
const LINKS: [&str; 6] = [
    "Talks welcomed",
    "Army responds",
    "Editorial view",
    "Washington view",
    "Budget passes",
    "Markets react",
];

/// The listed link with this headline.
async fn listed(app: &TestApp, headline: &str) -> Value {
    first_page(app, "/v1/roundup-links")
        .await
        .into_iter()
        .find(|link| link["headline"] == headline)
        .unwrap_or_else(|| panic!("{headline} is listed"))
}

/// The path of the roundup holding the listed link with this headline.
async fn roundup_of(app: &TestApp, headline: &str) -> String {
    let link = listed(app, headline).await;
    link["roundup"]["url"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn list_roundup_links_shows_each_link_with_its_roundup_and_article() {
    let app = TestApp::with_site(newsroom()).await;
    let link = listed(&app, "Army responds").await;
    assert!(link["id"].as_i64().unwrap() > 0, "{link}");
    assert_eq!(link["position"], 2);
    assert_eq!(link["url"], "https://example.org/army-responds");
    assert_eq!(
        link["outlet"],
        json!({
            "slug": "dawn", "name": "Dawn", "home_url": "https://www.dawn.com/",
            "country_code": "PK", "url": "/v1/outlets/dawn",
        })
    );
    let roundup_id = link["roundup"]["id"].as_i64().unwrap();
    assert_eq!(
        link["roundup"],
        json!({
            "id": roundup_id, "title": "From Pakistan Press",
            "url": format!("/v1/roundups/{roundup_id}"),
        })
    );
    assert_eq!(
        link["article"],
        json!({
            "slug": "clinton-visit", "title": "Title of clinton-visit",
            "url": "/v1/articles/clinton-visit",
        })
    );
    let other = listed(&app, "Washington view").await;
    assert_eq!(other["roundup"]["title"], "From US Press");
    assert_ne!(other["roundup"]["id"], roundup_id);
}

#[tokio::test]
async fn list_roundup_links_never_shows_links_of_drafts_or_scheduled_posts() {
    let app = TestApp::with_site(newsroom()).await;
    assert_headlines(&app, "/v1/roundup-links", &LINKS).await;
}

#[tokio::test]
async fn list_roundup_links_filters_by_outlet() {
    let app = TestApp::with_site(newsroom()).await;
    let dawn = ["Army responds", "Budget passes", "Markets react"];
    assert_headlines(&app, "/v1/roundup-links?outlet=dawn", &dawn).await;
    let the_news = ["Talks welcomed", "Editorial view"];
    assert_headlines(&app, "/v1/roundup-links?outlet=the-news", &the_news).await;
}

#[tokio::test]
async fn list_roundup_links_filters_by_article() {
    let app = TestApp::with_site(newsroom()).await;
    let clinton = &LINKS[..4];
    assert_headlines(&app, "/v1/roundup-links?article=clinton-visit", clinton).await;
    let budget = &LINKS[4..];
    assert_headlines(&app, "/v1/roundup-links?article=budget-debate", budget).await;
}

#[tokio::test]
async fn list_roundup_links_filters_by_outlet_and_article_together() {
    let app = TestApp::with_site(newsroom()).await;
    let path = "/v1/roundup-links?outlet=dawn&article=clinton-visit";
    assert_headlines(&app, path, &["Army responds"]).await;
    let path = "/v1/roundup-links?article=budget-debate&outlet=the-news";
    assert_headlines(&app, path, &[]).await;
}

#[tokio::test]
async fn list_roundup_links_answers_an_unknown_or_hidden_outlet_or_article_with_an_empty_page() {
    let app = TestApp::with_site(newsroom()).await;
    assert_unknown_filters_find_nothing(&app, "/v1/roundup-links").await;
}

#[tokio::test]
async fn list_roundup_links_pages_through_every_link_exactly_once() {
    let app = TestApp::with_site(crowded_site()).await;
    let items = assert_pages(&app, "/v1/roundup-links?limit=10", &[10, 10, 5]).await;
    increasing_ids(&items);
    assert_eq!(strings(&items, "headline"), crowded_headlines());
}

#[tokio::test]
async fn list_roundup_links_serves_twenty_a_page_by_default() {
    let app = TestApp::with_site(crowded_site()).await;
    let items = assert_pages(&app, "/v1/roundup-links", &[20, 5]).await;
    assert_eq!(strings(&items, "headline"), crowded_headlines());
}

#[tokio::test]
async fn list_roundup_links_keeps_its_filters_on_every_page() {
    let app = TestApp::with_site(crowded_site()).await;
    assert_dawn_pages(&app, "/v1/roundup-links").await;
}

#[tokio::test]
async fn list_roundup_links_rejects_a_limit_outside_1_to_100() {
    let app = TestApp::with_site(newsroom()).await;
    assert_limit_range(&app, "/v1/roundup-links", 100).await;
}

#[tokio::test]
async fn get_roundup_returns_its_article_and_its_links_with_their_outlets() {
    let app = TestApp::with_site(newsroom()).await;
    let path = roundup_of(&app, "Talks welcomed").await;
    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(path, format!("/v1/roundups/{id}"));
    assert_eq!(body["url"], path);
    assert_eq!(body["position"], 1);
    assert_eq!(body["title"], "From Pakistan Press");
    assert_eq!(body["article"]["slug"], "clinton-visit");
    assert_eq!(body["article"]["url"], "/v1/articles/clinton-visit");
    let links = body["links"].as_array().unwrap();
    assert_eq!(
        strings(links, "headline"),
        ["Talks welcomed", "Army responds", "Editorial view"]
    );
    let positions: Vec<&Value> = links.iter().map(|l| &l["position"]).collect();
    assert_eq!(positions, [1, 2, 3]);
    let outlets: Vec<&Value> = links.iter().map(|l| &l["outlet"]["slug"]).collect();
    assert_eq!(outlets, ["the-news", "dawn", "the-news"]);
    assert_eq!(links[1]["outlet"]["name"], "Dawn");
    assert_eq!(links[1]["url"], "https://example.org/army-responds");
    // A link inside a roundup says nothing of the roundup it is already in.
    assert!(links[0].get("roundup").is_none(), "{}", links[0]);

    let (_, second) = app
        .get_json(&roundup_of(&app, "Washington view").await)
        .await;
    assert_eq!(second["position"], 2);
    assert_eq!(
        strings(second["links"].as_array().unwrap(), "headline"),
        ["Washington view"]
    );
}

#[tokio::test]
async fn get_roundup_orders_links_by_position_not_by_age() {
    let app = TestApp::with_site(newsroom()).await;
    let path = roundup_of(&app, "Talks welcomed").await;
    let id = path.rsplit('/').next().unwrap();
    app.sql(&format!(
        "UPDATE roundup_links SET position = 4 - position WHERE roundup_id = {id}"
    ))
    .await;
    let (status, body) = app.get_json(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        strings(body["links"].as_array().unwrap(), "headline"),
        ["Editorial view", "Army responds", "Talks welcomed"]
    );
}

#[tokio::test]
async fn get_roundup_answers_404_for_an_unknown_id() {
    let app = TestApp::with_site(newsroom()).await;
    for unknown in [999_999, i64::MAX] {
        assert_not_found(&app, &format!("/v1/roundups/{unknown}")).await;
    }
}

#[tokio::test]
async fn get_roundup_answers_404_once_its_article_is_a_draft_or_scheduled() {
    let app = TestApp::with_site(newsroom()).await;
    let clinton = roundup_of(&app, "Talks welcomed").await;
    let budget = roundup_of(&app, "Budget passes").await;
    for ((slug, path), how) in [("clinton-visit", clinton), ("budget-debate", budget)]
        .into_iter()
        .zip(HIDINGS)
    {
        hide(&app, slug, how).await;
        assert_not_found(&app, &path).await;
    }
    assert_headlines(&app, "/v1/roundup-links", &[]).await;
}
