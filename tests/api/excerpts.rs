//! `GET /v1/excerpts` and `GET /v1/excerpts/{id}`. The fixtures and paging
//! helpers here are shared with the roundup, outlet and tag tests.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::*;

/// A published article dated `days` ago.
pub(crate) fn published_days_ago(slug: &str, days: i64) -> Value {
    published(slug, Utc::now() - Duration::days(days))
}

/// An article marked published whose publication time has not come yet.
pub(crate) fn scheduled(slug: &str) -> Value {
    published(slug, Utc::now() + Duration::days(1))
}

/// `article` with `field` (excerpts, roundups, tags) set to `value`.
pub(crate) fn with(mut article: Value, field: &str, value: Value) -> Value {
    article[field] = value;
    article
}

/// The ways a public article stops being public, as SQL assignments, so that
/// its excerpts and links keep the ids a reader already saw.
pub(crate) const HIDINGS: [&str; 2] = [
    "status = 'draft', published_at = NULL",
    "published_at = now() + interval '1 day'",
];

pub(crate) async fn hide(app: &TestApp, slug: &str, how: &str) {
    app.sql(&format!("UPDATE articles SET {how} WHERE slug = '{slug}'"))
        .await;
}

/// Two published articles citing the base outlets, a draft and a scheduled
/// post citing `dawn`, and an outlet nothing cites. Excerpt and link
/// headlines are unique, in id order as listed here.
pub(crate) fn newsroom() -> Value {
    let clinton = with(
        with(
            published_days_ago("clinton-visit", 2),
            "excerpts",
            json!([
                excerpt("Clinton presses Pakistan", "bloomberg"),
                excerpt("Dawn on the visit", "dawn"),
            ]),
        ),
        "roundups",
        json!([
            roundup(
                "From Pakistan Press",
                &[
                    ("Talks welcomed", "the-news"),
                    ("Army responds", "dawn"),
                    ("Editorial view", "the-news"),
                ],
            ),
            roundup("From US Press", &[("Washington view", "bloomberg")]),
        ]),
    );
    let budget = with(
        with(
            published_days_ago("budget-debate", 1),
            "excerpts",
            json!([
                excerpt("Dawn on the budget", "dawn"),
                excerpt("The News on the budget", "the-news"),
                excerpt("Bloomberg on the rupee", "bloomberg"),
            ]),
        ),
        "roundups",
        json!([roundup(
            "From Pakistan Press",
            &[("Budget passes", "dawn"), ("Markets react", "dawn")],
        )]),
    );
    let hidden = [
        (draft("unfinished-story"), "Draft"),
        (scheduled("embargoed-story"), "Embargoed"),
    ]
    .map(|(article, word)| {
        with(
            with(
                article,
                "excerpts",
                json!([excerpt(&format!("{word} excerpt"), "dawn")]),
            ),
            "roundups",
            json!([roundup(
                &format!("{word} roundup"),
                &[(&format!("{word} link"), "dawn")],
            )]),
        )
    });
    let [draft_post, scheduled_post] = hidden;
    let mut site = site_with(vec![clinton, draft_post, budget, scheduled_post], vec![]);
    site["outlets"].as_array_mut().unwrap().push(json!({
        "slug": "al-jazeera", "name": "Al Jazeera",
        "home_url": "https://www.aljazeera.com/", "country_code": null,
    }));
    site
}

/// Public excerpt headlines of `newsroom()`, in id order.
pub(crate) const EXCERPTS: [&str; 5] = [
    "Clinton presses Pakistan",
    "Dawn on the visit",
    "Dawn on the budget",
    "The News on the budget",
    "Bloomberg on the rupee",
];

/// 25 public excerpts and 25 public links (`Item 01` … `Item 25`, each
/// both an excerpt and a link) over two articles, with a draft's five
/// between them.
pub(crate) fn crowded_site() -> Value {
    let items = |prefix: &str, range: std::ops::RangeInclusive<usize>| {
        let outlets = ["bloomberg", "dawn", "the-news"];
        let pairs: Vec<(String, &str)> = range
            .map(|n| (format!("{prefix} {n:02}"), outlets[n % 3]))
            .collect();
        let excerpts: Vec<Value> = pairs.iter().map(|(h, o)| excerpt(h, o)).collect();
        let links: Vec<(&str, &str)> = pairs.iter().map(|(h, o)| (h.as_str(), *o)).collect();
        (json!(excerpts), json!([roundup("Press", &links)]))
    };
    let article = |base: Value, (excerpts, roundups): (Value, Value)| {
        with(with(base, "excerpts", excerpts), "roundups", roundups)
    };
    site_with(
        vec![
            article(published_days_ago("first", 2), items("Item", 1..=10)),
            article(draft("hidden"), items("Hidden", 1..=5)),
            article(published_days_ago("second", 1), items("Item", 11..=25)),
        ],
        vec![],
    )
}

/// `Item 01` … `Item 25`.
pub(crate) fn crowded_headlines() -> Vec<String> {
    (1..=25).map(|n| format!("Item {n:02}")).collect()
}

/// The string `key` of each item.
pub(crate) fn strings(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            item[key]
                .as_str()
                .unwrap_or_else(|| panic!("{key} in {item}"))
                .to_string()
        })
        .collect()
}

/// The `data` of the first page of `path`, asserting a 200.
pub(crate) async fn first_page(app: &TestApp, path: &str) -> Vec<Value> {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].as_array().expect("data is a list").clone()
}

/// Asserts that `path` lists exactly these headlines, in this order.
pub(crate) async fn assert_headlines(app: &TestApp, path: &str, expected: &[&str]) {
    let items = first_page(app, path).await;
    assert_eq!(strings(&items, "headline"), expected, "{path}");
}

/// Follows `Link: <…>; rel="next"` from `path` to the last page, asserting
/// that the header appears exactly when `next_cursor` does and carries it,
/// and that the pages have these sizes. Returns every item in order.
pub(crate) async fn assert_pages(app: &TestApp, path: &str, sizes: &[usize]) -> Vec<Value> {
    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut next = Some(path.to_string());
    while let Some(current) = next.take() {
        assert!(
            pages.len() <= sizes.len(),
            "{path}: more pages than {sizes:?}"
        );
        let response = app.get(&current).await;
        assert_eq!(response.status().as_u16(), 200, "{current}");
        let link = response
            .headers()
            .get("link")
            .map(|value| value.to_str().expect("Link is text").to_string());
        let body: Value = response.json().await.expect("page is JSON");
        match (&link, body["next_cursor"].as_str()) {
            (Some(link), Some(cursor)) => {
                let target = link
                    .strip_prefix('<')
                    .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("{current}: malformed Link {link}"));
                assert!(target.contains(cursor), "{link} lacks {cursor}");
                next = Some(target.to_string());
            }
            (None, None) => {}
            (link, _) => panic!("{current}: Link {link:?} disagrees with {body}"),
        }
        pages.push(body["data"].as_array().expect("data is a list").clone());
    }
    let found: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(found, sizes, "{path}: page sizes");
    pages.concat()
}

/// The ids of these items, asserting they strictly increase (so none repeats).
pub(crate) fn increasing_ids(items: &[Value]) -> Vec<i64> {
    let ids: Vec<i64> = items.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids {ids:?}");
    ids
}

/// Asserts that `path` answers a 404 not-found problem.
pub(crate) async fn assert_not_found(app: &TestApp, path: &str) {
    let body = assert_problem(app.get(path).await, 404).await;
    assert_eq!(body["type"], "/problems/not-found", "{path}: {body}");
}

/// Asserts that `endpoint` answers filters naming nothing public with an empty page.
pub(crate) async fn assert_unknown_filters_find_nothing(app: &TestApp, endpoint: &str) {
    for query in [
        "outlet=no-such-outlet",
        "article=no-such-article",
        "article=unfinished-story",
        "article=embargoed-story&outlet=dawn",
    ] {
        let path = format!("{endpoint}?{query}");
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body, json!({"data": [], "next_cursor": null}), "{path}");
    }
}

/// Asserts that `endpoint` pages `crowded_site()`'s `dawn` items three at a
/// time, the filter holding on every page.
pub(crate) async fn assert_dawn_pages(app: &TestApp, endpoint: &str) {
    let path = format!("{endpoint}?outlet=dawn&limit=3");
    let items = assert_pages(app, &path, &[3, 3, 3]).await;
    let expected: Vec<String> = (1..=25)
        .filter(|n| n % 3 == 1)
        .map(|n| format!("Item {n:02}"))
        .collect();
    assert_eq!(strings(&items, "headline"), expected);
    assert!(items.iter().all(|item| item["outlet"]["slug"] == "dawn"));
}

/// Asserts that `endpoint` refuses page sizes outside 1..=`max`, naming `limit`.
pub(crate) async fn assert_limit_range(app: &TestApp, endpoint: &str, max: u32) {
    let too_big = (max + 1).to_string();
    for limit in ["0", too_big.as_str(), "-1", "many", ""] {
        let path = format!("{endpoint}?limit={limit}");
        assert_invalid_parameter(app, &path, "limit").await;
    }
    for limit in [1, max] {
        let path = format!("{endpoint}?limit={limit}");
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

#[tokio::test]
async fn list_excerpts_shows_each_excerpt_with_its_article_outlet_and_source() {
    let app = TestApp::with_site(newsroom()).await;
    let items = first_page(&app, "/v1/excerpts").await;
    let first = &items[0];
    assert!(first["id"].as_i64().unwrap() > 0, "{first}");
    assert_eq!(first["position"], 1);
    assert_eq!(first["headline"], "Clinton presses Pakistan");
    assert_eq!(first["bylines"], json!(["A. Reporter"]));
    assert_eq!(
        first["outlet"],
        json!({
            "slug": "bloomberg", "name": "Bloomberg", "home_url": "https://www.bloomberg.com/",
            "country_code": "US", "url": "/v1/outlets/bloomberg",
        })
    );
    assert_eq!(first["source_published_on"], "2011-10-24");
    assert_eq!(first["source_url"], "https://example.org/source");
    assert_eq!(first["call_to_action"], "For complete article, click here");
    assert_eq!(
        first["body_markdown"],
        "## Sub-heading\n\nQuoted text of Clinton presses Pakistan."
    );
    let html = first["body_html"].as_str().unwrap();
    assert!(html.contains("<h2>Sub-heading</h2>"), "{html}");
    assert!(
        html.contains("<p>Quoted text of Clinton presses Pakistan.</p>"),
        "{html}"
    );
    assert_eq!(
        first["article"],
        json!({
            "slug": "clinton-visit", "title": "Title of clinton-visit",
            "url": "/v1/articles/clinton-visit",
        })
    );
    assert_eq!(items[1]["position"], 2);
    assert_eq!(items[2]["article"]["slug"], "budget-debate");
    assert_eq!(items[2]["position"], 1);
}

#[tokio::test]
async fn list_excerpts_never_shows_excerpts_of_drafts_or_scheduled_posts() {
    let app = TestApp::with_site(newsroom()).await;
    assert_headlines(&app, "/v1/excerpts", &EXCERPTS).await;
}

#[tokio::test]
async fn list_excerpts_filters_by_outlet() {
    let app = TestApp::with_site(newsroom()).await;
    let dawn = ["Dawn on the visit", "Dawn on the budget"];
    assert_headlines(&app, "/v1/excerpts?outlet=dawn", &dawn).await;
    let bloomberg = ["Clinton presses Pakistan", "Bloomberg on the rupee"];
    assert_headlines(&app, "/v1/excerpts?outlet=bloomberg", &bloomberg).await;
    assert_headlines(&app, "/v1/excerpts?outlet=al-jazeera", &[]).await;
}

#[tokio::test]
async fn list_excerpts_filters_by_article() {
    let app = TestApp::with_site(newsroom()).await;
    let budget = &EXCERPTS[2..];
    assert_headlines(&app, "/v1/excerpts?article=budget-debate", budget).await;
    let clinton = &EXCERPTS[..2];
    assert_headlines(&app, "/v1/excerpts?article=clinton-visit", clinton).await;
}

#[tokio::test]
async fn list_excerpts_filters_by_outlet_and_article_together() {
    let app = TestApp::with_site(newsroom()).await;
    let path = "/v1/excerpts?outlet=dawn&article=budget-debate";
    assert_headlines(&app, path, &["Dawn on the budget"]).await;
    let path = "/v1/excerpts?article=clinton-visit&outlet=the-news";
    assert_headlines(&app, path, &[]).await;
}

#[tokio::test]
async fn list_excerpts_answers_an_unknown_or_hidden_outlet_or_article_with_an_empty_page() {
    let app = TestApp::with_site(newsroom()).await;
    assert_unknown_filters_find_nothing(&app, "/v1/excerpts").await;
}

#[tokio::test]
async fn list_excerpts_pages_through_every_excerpt_exactly_once() {
    let app = TestApp::with_site(crowded_site()).await;
    let items = assert_pages(&app, "/v1/excerpts?limit=10", &[10, 10, 5]).await;
    increasing_ids(&items);
    assert_eq!(strings(&items, "headline"), crowded_headlines());
}

#[tokio::test]
async fn list_excerpts_serves_twenty_a_page_by_default() {
    let app = TestApp::with_site(crowded_site()).await;
    let items = assert_pages(&app, "/v1/excerpts", &[20, 5]).await;
    assert_eq!(strings(&items, "headline"), crowded_headlines());
}

#[tokio::test]
async fn list_excerpts_keeps_its_filters_on_every_page() {
    let app = TestApp::with_site(crowded_site()).await;
    assert_dawn_pages(&app, "/v1/excerpts").await;
}

#[tokio::test]
async fn list_excerpts_rejects_a_limit_outside_1_to_100() {
    let app = TestApp::with_site(newsroom()).await;
    assert_limit_range(&app, "/v1/excerpts", 100).await;
}

#[tokio::test]
async fn get_excerpt_returns_the_excerpt_as_listed() {
    let app = TestApp::with_site(newsroom()).await;
    for listed in first_page(&app, "/v1/excerpts").await {
        let (status, body) = app
            .get_json(&format!("/v1/excerpts/{}", listed["id"]))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, listed);
    }
}

#[tokio::test]
async fn get_excerpt_answers_404_for_an_unknown_id() {
    let app = TestApp::with_site(newsroom()).await;
    for unknown in [999_999, i64::MAX] {
        assert_not_found(&app, &format!("/v1/excerpts/{unknown}")).await;
    }
}

#[tokio::test]
async fn get_excerpt_answers_404_once_its_article_is_a_draft_or_scheduled() {
    let app = TestApp::with_site(newsroom()).await;
    let items = first_page(&app, "/v1/excerpts").await;
    for (slug, how) in ["clinton-visit", "budget-debate"].into_iter().zip(HIDINGS) {
        hide(&app, slug, how).await;
        let owned: Vec<&Value> = items
            .iter()
            .filter(|item| item["article"]["slug"] == slug)
            .collect();
        assert!(!owned.is_empty());
        for item in owned {
            assert_not_found(&app, &format!("/v1/excerpts/{}", item["id"])).await;
        }
    }
    assert_headlines(&app, "/v1/excerpts", &[]).await;
}
