//! `GET /v1/articles` and `GET /v1/articles/{slug}`: what a reader may see,
//! in what order, page by page, and whole.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::helpers::*;

/// A published article dated well in the future: scheduled, not yet public.
fn scheduled(slug: &str) -> Value {
    published(slug, Utc::now() + Duration::days(30))
}

/// A draft, a draft that nevertheless has a past publication time, and a
/// scheduled article: none of them public.
fn hidden() -> Vec<Value> {
    vec![
        draft("unfinished"),
        with_fields(
            draft("drafted-with-a-date"),
            json!({"published_at": "2011-10-15T09:00:00Z"}),
        ),
        scheduled("next-month"),
    ]
}

/// `count` published articles `post-0`, `post-1`, ..., `every` of them sharing
/// each timestamp, so that many rows tie on `published_at`.
fn many(count: i64, every: i64) -> Vec<Value> {
    let start = at("2011-10-01T09:00:00.123456Z");
    (0..count)
        .map(|i| published(&format!("post-{i}"), start + Duration::hours(i / every)))
        .collect()
}

fn slugs(items: &[Value]) -> Vec<&str> {
    items
        .iter()
        .map(|item| item["slug"].as_str().expect("a slug"))
        .collect()
}

/// The slugs of the one page at `path`.
async fn page_slugs(app: &TestApp, path: &str) -> Vec<String> {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    let items = body["data"].as_array().expect("data is a list");
    slugs(items).into_iter().map(String::from).collect()
}

/// The target of a `Link: <...>; rel="next"` header, if the response has
/// one (besides the feeds' `rel="alternate"` links, which every page has).
fn next_link(response: &reqwest::Response) -> Option<String> {
    let mut next = response
        .headers()
        .get_all("link")
        .iter()
        .map(|link| link.to_str().expect("ASCII"))
        .filter(|link| !link.ends_with("; rel=\"alternate\"; type=\"application/atom+xml\""))
        .filter(|link| !link.ends_with("; rel=\"alternate\"; type=\"application/rss+xml\""))
        .filter(|link| !link.ends_with("; rel=\"alternate\"; type=\"application/feed+json\""));
    let link = next.next()?;
    assert!(next.next().is_none(), "one next link");
    let target = link
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("not a next link: {link}"));
    Some(target.to_string())
}

/// The query of `target` as decoded pairs, `cursor` included.
fn query_pairs(target: &str) -> Vec<(String, String)> {
    let (_, query) = target.split_once('?').expect("a query");
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn list_articles_shows_only_published_articles_whose_time_has_come_newest_first() {
    let app = TestApp::with_site(site_with(
        [
            vec![
                published("older", at("2011-10-01T09:00:00Z")),
                published("newer", at("2011-10-20T09:00:00Z")),
                published("just-now", Utc::now() - Duration::seconds(5)),
            ],
            hidden(),
        ]
        .concat(),
        vec![],
    ))
    .await;

    assert_eq!(
        page_slugs(&app, "/v1/articles").await,
        ["just-now", "newer", "older"]
    );
}

#[tokio::test]
async fn a_scheduled_article_appears_once_its_publication_time_has_passed() {
    let app = TestApp::with_site(site_with(vec![scheduled("embargoed")], vec![])).await;
    assert!(page_slugs(&app, "/v1/articles").await.is_empty());
    assert_problem(app.get("/v1/articles/embargoed").await, 404).await;

    app.sql("UPDATE articles SET published_at = now() - interval '1 minute'")
        .await;

    assert_eq!(page_slugs(&app, "/v1/articles").await, ["embargoed"]);
    let (status, _) = app.get_json("/v1/articles/embargoed").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn list_articles_serves_summaries_with_tags_and_url_but_no_bodies() {
    let article = with_fields(
        published("summarized", at("2011-10-25T09:00:00Z")),
        json!({
            "tags": ["pakistan", "economy"],
            "excerpts": [excerpt("Quoted", "bloomberg")],
            "roundups": [roundup("From Pakistan Press", &[("Linked", "dawn")])],
        }),
    );
    let app = TestApp::with_site(site_with(vec![article], vec![])).await;

    let (status, body) = app.get_json("/v1/articles").await;

    assert_eq!(status, 200, "{body}");
    let item = &body["data"][0];
    let mut keys: Vec<&str> = item
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "published_at",
            "slug",
            "status",
            "summary",
            "tags",
            "title",
            "updated_at",
            "url"
        ],
        "{item}"
    );
    assert_eq!(item["slug"], "summarized");
    assert_eq!(item["title"], "Title of summarized");
    assert_eq!(item["summary"], "Summary of summarized");
    assert_eq!(item["published_at"], "2011-10-25T09:00:00Z");
    assert_eq!(item["url"], "/v1/articles/summarized");
    assert_eq!(
        item["tags"],
        json!([
            {"slug": "economy", "name": "Economy"},
            {"slug": "pakistan", "name": "Pakistan"},
        ])
    );
    assert_eq!(body["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_articles_pages_to_the_end_over_more_rows_than_one_page() {
    // Three articles per timestamp, so page boundaries (20, 40) fall inside ties.
    let app = TestApp::with_site(site_with(many(45, 3), vec![])).await;
    let (_, whole) = app.get_json("/v1/articles?limit=100").await;
    let whole = whole["data"].as_array().expect("data").clone();

    let mut sizes = Vec::new();
    let mut paged = Vec::new();
    let mut path = "/v1/articles?limit=20".to_string();
    loop {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let items = body["data"].as_array().expect("data");
        sizes.push(items.len());
        paged.extend(items.iter().cloned());
        match body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/articles?limit=20&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(sizes, [20, 20, 5]);
    assert_eq!(slugs(&paged), slugs(&whole));
    let mut unique = slugs(&paged);
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 45, "every article exactly once");
    let times: Vec<DateTime<Utc>> = paged
        .iter()
        .map(|item| at(item["published_at"].as_str().expect("published_at")))
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first"
    );
    assert_eq!(times[0], at("2011-10-01T23:00:00.123456Z"));
}

#[tokio::test]
async fn list_articles_ends_on_a_full_last_page_without_promising_an_empty_one() {
    let app = TestApp::with_site(site_with(many(40, 1), vec![])).await;
    let (_, first) = app.get_json("/v1/articles?limit=20").await;
    let cursor = first["next_cursor"].as_str().expect("a second page");

    let response = app
        .get(&format!("/v1/articles?limit=20&cursor={cursor}"))
        .await;

    assert!(
        next_link(&response).is_none(),
        "no Link after the last page"
    );
    let last: Value = response.json().await.expect("JSON");
    assert_eq!(last["data"].as_array().expect("data").len(), 20);
    assert_eq!(last["data"][19]["slug"], "post-0");
    assert_eq!(last["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_articles_pages_through_articles_that_share_a_timestamp_without_skipping_or_repeating()
{
    let tie = at("2011-10-24T10:00:00.123456Z");
    let mut articles = vec![
        published("before", tie - Duration::microseconds(1)),
        published("after", tie + Duration::microseconds(1)),
    ];
    articles.extend((0..7).map(|i| published(&format!("tied-{i}"), tie)));
    let app = TestApp::with_site(site_with(articles, vec![])).await;

    for limit in 1..=4 {
        let items = app
            .collect_pages(&format!("/v1/articles?limit={limit}"))
            .await;
        let slugs = slugs(&items);
        assert_eq!(slugs.len(), 9, "limit {limit}: {slugs:?}");
        assert_eq!(slugs[0], "after", "limit {limit}");
        assert_eq!(slugs[8], "before", "limit {limit}");
        let mut tied: Vec<&str> = slugs[1..8].to_vec();
        tied.sort_unstable();
        let expected: Vec<String> = (0..7).map(|i| format!("tied-{i}")).collect();
        assert_eq!(tied, expected, "limit {limit}");
    }
}

#[tokio::test]
async fn list_articles_serves_twenty_by_default_and_up_to_a_hundred_on_request() {
    let app = TestApp::with_site(site_with(many(105, 1), vec![])).await;

    let (_, first) = app.get_json("/v1/articles").await;
    assert_eq!(first["data"].as_array().expect("data").len(), 20);
    assert!(first["next_cursor"].is_string());

    let (status, hundred) = app.get_json("/v1/articles?limit=100").await;
    assert_eq!(status, 200);
    assert_eq!(hundred["data"].as_array().expect("data").len(), 100);
    assert_eq!(hundred["data"][0]["slug"], "post-104");

    let (_, one) = app.get_json("/v1/articles?limit=1").await;
    assert_eq!(one["data"].as_array().expect("data").len(), 1);
}

#[tokio::test]
async fn the_link_header_points_at_the_next_page_with_the_same_filters_until_the_last_page() {
    let pakistan = |slug: &str, day: i64| {
        with_fields(
            published(slug, at("2011-10-01T09:00:00Z") + Duration::days(day)),
            json!({"tags": ["pakistan"]}),
        )
    };
    let app = TestApp::with_site(site_with(
        vec![
            pakistan("p1", 1),
            pakistan("p2", 2),
            pakistan("p3", 3),
            pakistan("p4", 4),
            pakistan("p5", 5),
            published("untagged", at("2011-10-03T12:00:00Z")),
        ],
        vec![],
    ))
    .await;

    let mut followed = Vec::new();
    let mut path = "/v1/articles?tag=pakistan&limit=2".to_string();
    for page in 1.. {
        let response = app.get(&path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let link = next_link(&response);
        let body: Value = response.json().await.expect("JSON");
        followed.extend(body["data"].as_array().expect("data").iter().cloned());
        match (link, body["next_cursor"].as_str()) {
            (Some(target), Some(cursor)) => {
                assert!(target.starts_with("/v1/articles?"), "{target}");
                let mut pairs = query_pairs(&target);
                pairs.sort();
                assert_eq!(
                    pairs,
                    [
                        ("cursor".to_string(), cursor.to_string()),
                        ("limit".into(), "2".into()),
                        ("tag".into(), "pakistan".into()),
                    ],
                    "page {page}: {target}"
                );
                path = target;
            }
            (None, None) => break,
            (link, cursor) => panic!("page {page}: Link {link:?} but next_cursor {cursor:?}"),
        }
        assert!(page < 3, "three pages of two at most");
    }
    assert_eq!(slugs(&followed), ["p5", "p4", "p3", "p2", "p1"]);
}

#[tokio::test]
async fn list_articles_filters_by_tag() {
    let app = TestApp::with_site(site_with(
        vec![
            with_fields(
                published("both", at("2011-10-03T09:00:00Z")),
                json!({"tags": ["pakistan", "economy"]}),
            ),
            with_fields(
                published("economy-only", at("2011-10-02T09:00:00Z")),
                json!({"tags": ["economy"]}),
            ),
            with_fields(
                published("pakistan-only", at("2011-10-01T09:00:00Z")),
                json!({"tags": ["pakistan"]}),
            ),
            published("untagged", at("2011-10-04T09:00:00Z")),
        ],
        vec![],
    ))
    .await;

    assert_eq!(
        page_slugs(&app, "/v1/articles?tag=pakistan").await,
        ["both", "pakistan-only"]
    );
    assert_eq!(
        page_slugs(&app, "/v1/articles?tag=economy").await,
        ["both", "economy-only"]
    );
}

#[tokio::test]
async fn list_articles_filters_by_outlet_quoted_in_an_excerpt_or_linked_in_a_roundup() {
    let app = TestApp::with_site(site_with(
        vec![
            with_fields(
                published("quotes-bloomberg", at("2011-10-05T09:00:00Z")),
                json!({"excerpts": [excerpt("Quoted", "dawn"), excerpt("Quoted too", "bloomberg")]}),
            ),
            with_fields(
                published("links-bloomberg", at("2011-10-04T09:00:00Z")),
                json!({"roundups": [roundup("Press", &[("One", "the-news"), ("Two", "bloomberg")])]}),
            ),
            with_fields(
                published("quotes-and-links-bloomberg-twice", at("2011-10-03T09:00:00Z")),
                json!({
                    "excerpts": [excerpt("A", "bloomberg"), excerpt("B", "bloomberg")],
                    "roundups": [roundup("Press", &[("C", "bloomberg"), ("D", "bloomberg")])],
                }),
            ),
            with_fields(
                published("quotes-dawn-only", at("2011-10-02T09:00:00Z")),
                json!({
                    "excerpts": [excerpt("E", "dawn")],
                    "roundups": [roundup("Press", &[("F", "the-news")])],
                }),
            ),
            published("cites-nothing", at("2011-10-01T09:00:00Z")),
        ],
        vec![],
    ))
    .await;

    assert_eq!(
        page_slugs(&app, "/v1/articles?outlet=bloomberg").await,
        [
            "quotes-bloomberg",
            "links-bloomberg",
            "quotes-and-links-bloomberg-twice"
        ]
    );
    assert_eq!(
        page_slugs(&app, "/v1/articles?outlet=the-news").await,
        ["links-bloomberg", "quotes-dawn-only"]
    );
    assert_eq!(
        page_slugs(&app, "/v1/articles?outlet=dawn").await,
        ["quotes-bloomberg", "quotes-dawn-only"]
    );
}

#[tokio::test]
async fn published_after_and_published_before_are_strict_bounds_given_as_timestamps_or_dates() {
    let app = TestApp::with_site(site_with(
        vec![
            published("day-23-noon", at("2011-10-23T12:00:00Z")),
            published("day-24-midnight", at("2011-10-24T00:00:00Z")),
            published("day-24-noon", at("2011-10-24T12:00:00Z")),
            published("day-25-midnight", at("2011-10-25T00:00:00Z")),
            published("day-26-noon", at("2011-10-26T12:00:00Z")),
        ],
        vec![],
    ))
    .await;
    let after_24 = ["day-26-noon", "day-25-midnight", "day-24-noon"];
    let before_25 = ["day-24-noon", "day-24-midnight", "day-23-noon"];

    for bound in [
        "2011-10-24",
        "2011-10-24T00:00:00Z",
        "2011-10-24T05:00:00%2B05:00",
    ] {
        assert_eq!(
            page_slugs(&app, &format!("/v1/articles?published_after={bound}")).await,
            after_24,
            "published_after={bound}"
        );
    }
    for bound in [
        "2011-10-25",
        "2011-10-25T00:00:00Z",
        "2011-10-24T19:00:00-05:00",
    ] {
        assert_eq!(
            page_slugs(&app, &format!("/v1/articles?published_before={bound}")).await,
            before_25,
            "published_before={bound}"
        );
    }
    assert_eq!(
        page_slugs(
            &app,
            "/v1/articles?published_after=2011-10-24&published_before=2011-10-25"
        )
        .await,
        ["day-24-noon"]
    );
    assert!(page_slugs(
        &app,
        "/v1/articles?published_after=2011-10-24T12:00:00Z&published_before=2011-10-24T12:00:00Z"
    )
    .await
    .is_empty());
}

/// Articles that differ in one respect each from `match`, which has tag
/// pakistan, quotes bloomberg and was published on 2011-10-24.
fn combination_site() -> Value {
    let article = |slug: &str, day: &str, tag: &str, outlet: &str| {
        with_fields(
            published(slug, at(&format!("2011-10-{day}T09:00:00Z"))),
            json!({"tags": [tag], "excerpts": [excerpt("Quoted", outlet)]}),
        )
    };
    site_with(
        vec![
            article("match", "24", "pakistan", "bloomberg"),
            article("also-match", "25", "pakistan", "bloomberg"),
            article("other-tag", "24", "economy", "bloomberg"),
            article("other-outlet", "24", "pakistan", "dawn"),
            article("too-early", "10", "pakistan", "bloomberg"),
            article("too-late", "28", "pakistan", "bloomberg"),
            with_fields(
                draft("draft-match"),
                json!({"tags": ["pakistan"], "excerpts": [excerpt("Quoted", "bloomberg")],
                       "published_at": "2011-10-24T10:00:00Z"}),
            ),
            with_fields(
                scheduled("scheduled-match"),
                json!({"tags": ["pakistan"], "excerpts": [excerpt("Quoted", "bloomberg")]}),
            ),
        ],
        vec![],
    )
}

#[tokio::test]
async fn list_articles_combines_filters_and_keeps_them_on_every_page() {
    let app = TestApp::with_site(combination_site()).await;
    let filters =
        "tag=pakistan&outlet=bloomberg&published_after=2011-10-20&published_before=2011-10-27";

    for limit in [1, 2, 20] {
        let items = app
            .collect_pages(&format!("/v1/articles?{filters}&limit={limit}"))
            .await;
        assert_eq!(slugs(&items), ["also-match", "match"], "limit {limit}");
    }
}

#[tokio::test]
async fn drafts_and_scheduled_articles_never_appear_through_any_filter() {
    let app = TestApp::with_site(combination_site()).await;
    let future = (Utc::now() + Duration::days(365)).format("%Y-%m-%d");

    for filters in [
        "tag=pakistan".to_string(),
        "outlet=bloomberg".to_string(),
        "published_after=2011-01-01".to_string(),
        format!("published_before={future}"),
        format!(
            "published_after=2011-01-01&published_before={future}&tag=pakistan&outlet=bloomberg"
        ),
    ] {
        let items = app
            .collect_pages(&format!("/v1/articles?{filters}&limit=1"))
            .await;
        let slugs = slugs(&items);
        assert!(!slugs.is_empty(), "{filters}");
        assert!(
            !slugs.contains(&"draft-match") && !slugs.contains(&"scheduled-match"),
            "{filters}: {slugs:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_tag_or_outlet_lists_no_articles() {
    let app = TestApp::with_site(combination_site()).await;
    for path in [
        "/v1/articles?tag=no-such-tag",
        "/v1/articles?outlet=no-such-outlet",
        "/v1/articles?tag=no-such-tag&outlet=bloomberg",
    ] {
        let response = app.get(path).await;
        assert!(next_link(&response).is_none(), "{path}");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body, json!({"data": [], "next_cursor": null}), "{path}");
    }
}

/// One article with two excerpts and two roundups of several links.
fn whole_post_site() -> Value {
    site_with(
        vec![with_fields(
            published("whole-post", at("2011-10-25T09:00:00Z")),
            json!({
                "tags": ["pakistan", "economy"],
                "excerpts": [excerpt("First quoted", "bloomberg"), excerpt("Second quoted", "dawn")],
                "roundups": [
                    roundup("From Pakistan Press", &[("One", "the-news"), ("Two", "dawn"), ("Three", "bloomberg")]),
                    roundup("Elsewhere", &[("Four", "dawn")]),
                ],
            }),
        )],
        vec![],
    )
}

fn field<'a>(items: &'a Value, path: &[&str]) -> Vec<&'a Value> {
    items
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| path.iter().fold(item, |value, key| &value[*key]))
        .collect()
}

#[tokio::test]
async fn get_article_serves_the_whole_post() {
    let app = TestApp::with_site(whole_post_site()).await;

    let (status, post) = app.get_json("/v1/articles/whole-post").await;

    assert_eq!(status, 200, "{post}");
    assert_eq!(post["slug"], "whole-post");
    assert_eq!(post["title"], "Title of whole-post");
    assert_eq!(post["summary"], "Summary of whole-post");
    assert_eq!(post["body_markdown"], "Commentary on **whole-post**.");
    assert_eq!(
        post["body_html"].as_str().map(str::trim),
        Some("<p>Commentary on <strong>whole-post</strong>.</p>")
    );
    assert_eq!(post["published_at"], "2011-10-25T09:00:00Z");
    assert!(post["created_at"].is_string() && post["updated_at"].is_string());
    assert_eq!(post["url"], "/v1/articles/whole-post");
    assert_eq!(
        post["tags"],
        json!([
            {"slug": "economy", "name": "Economy"},
            {"slug": "pakistan", "name": "Pakistan"},
        ])
    );

    let excerpts = &post["excerpts"];
    assert_eq!(
        field(excerpts, &["headline"]),
        ["First quoted", "Second quoted"]
    );
    assert_eq!(field(excerpts, &["position"]), [1, 2]);
    let first = &excerpts[0];
    assert_eq!(
        first["outlet"],
        json!({"slug": "bloomberg", "name": "Bloomberg", "home_url": "https://www.bloomberg.com/",
               "country_code": "US", "url": "/v1/outlets/bloomberg"})
    );
    assert_eq!(first["bylines"], json!(["A. Reporter"]));
    assert_eq!(first["source_published_on"], "2011-10-24");
    assert_eq!(first["source_url"], "https://example.org/source");
    assert_eq!(first["call_to_action"], "For complete article, click here");
    assert_eq!(
        first["body_markdown"],
        "## Sub-heading\n\nQuoted text of First quoted."
    );
    let html = first["body_html"].as_str().expect("body_html");
    assert!(html.contains("<h2>Sub-heading</h2>"), "{html}");
    assert!(
        html.contains("<p>Quoted text of First quoted.</p>"),
        "{html}"
    );
    assert_eq!(first["article"]["slug"], "whole-post");
    assert_eq!(first["article"]["url"], "/v1/articles/whole-post");
    assert_eq!(excerpts[1]["outlet"]["name"], "Dawn");

    let roundups = &post["roundups"];
    assert_eq!(
        field(roundups, &["title"]),
        ["From Pakistan Press", "Elsewhere"]
    );
    assert_eq!(field(roundups, &["position"]), [1, 2]);
    let press = &roundups[0];
    assert_eq!(press["url"], format!("/v1/roundups/{}", press["id"]));
    assert_eq!(press["article"]["slug"], "whole-post");
    assert_eq!(
        field(&press["links"], &["headline"]),
        ["One", "Two", "Three"]
    );
    assert_eq!(field(&press["links"], &["position"]), [1, 2, 3]);
    assert_eq!(
        field(&press["links"], &["outlet", "name"]),
        ["The News", "Dawn", "Bloomberg"]
    );
    assert_eq!(press["links"][0]["url"], "https://example.org/one");
    assert_eq!(press["links"][0]["outlet"]["url"], "/v1/outlets/the-news");
    assert_eq!(field(&roundups[1]["links"], &["headline"]), ["Four"]);
}

#[tokio::test]
async fn get_article_orders_excerpts_roundups_and_links_by_their_positions() {
    let app = TestApp::with_site(whole_post_site()).await;
    // Reverse every position, so that position order and insertion order disagree.
    app.sql(
        "UPDATE excerpts SET position = 3 - position;
         UPDATE roundups SET position = 3 - position;
         UPDATE roundup_links SET position = 4 - position
           WHERE roundup_id = (SELECT id FROM roundups WHERE title = 'From Pakistan Press');",
    )
    .await;

    let (status, post) = app.get_json("/v1/articles/whole-post").await;

    assert_eq!(status, 200, "{post}");
    assert_eq!(
        field(&post["excerpts"], &["headline"]),
        ["Second quoted", "First quoted"]
    );
    assert_eq!(field(&post["excerpts"], &["position"]), [1, 2]);
    assert_eq!(
        field(&post["roundups"], &["title"]),
        ["Elsewhere", "From Pakistan Press"]
    );
    assert_eq!(
        field(&post["roundups"][1]["links"], &["headline"]),
        ["Three", "Two", "One"]
    );
    assert_eq!(
        field(&post["roundups"][1]["links"], &["position"]),
        [1, 2, 3]
    );
}

#[tokio::test]
async fn get_article_sanitizes_the_html_of_its_body_and_excerpts() {
    let hostile = "Before.\n\n<script>alert('body')</script>\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1))\n\nAfter.";
    let mut quoted = excerpt("Hostile quote", "dawn");
    quoted["body_markdown"] = json!(hostile);
    let article = with_fields(
        published("hostile", at("2011-10-25T09:00:00Z")),
        json!({"body_markdown": hostile, "excerpts": [quoted]}),
    );
    let app = TestApp::with_site(site_with(vec![article], vec![])).await;

    let (status, post) = app.get_json("/v1/articles/hostile").await;

    assert_eq!(status, 200, "{post}");
    assert_eq!(
        post["body_markdown"], hostile,
        "the Markdown is kept as written"
    );
    for html in [&post["body_html"], &post["excerpts"][0]["body_html"]] {
        let html = html.as_str().expect("body_html");
        assert!(
            html.contains("<p>Before.</p>") && html.contains("<p>After.</p>"),
            "{html}"
        );
        for banned in ["<script", "alert('body')", "onerror", "javascript:"] {
            assert!(!html.contains(banned), "{banned} in {html}");
        }
    }
}

#[tokio::test]
async fn get_article_answers_404_for_drafts_scheduled_and_unknown_articles() {
    let app = TestApp::with_site(site_with(
        [
            vec![published("public", at("2011-10-25T09:00:00Z"))],
            hidden(),
        ]
        .concat(),
        vec![],
    ))
    .await;

    for slug in [
        "unfinished",
        "drafted-with-a-date",
        "next-month",
        "no-such-article",
    ] {
        let problem = assert_problem(app.get(&format!("/v1/articles/{slug}")).await, 404).await;
        assert_eq!(problem["type"], "/problems/not-found", "{slug}: {problem}");
    }
    let (status, _) = app.get_json("/v1/articles/public").await;
    assert_eq!(status, 200);
}

/// A cursor of `GET /v1/articles` (no filters) resuming after `at`, sealed with `secret`.
fn articles_cursor(secret: &[u8], at: DateTime<Utc>) -> String {
    use broadsheet::pagination::{CursorKey, Position, Scope};
    Scope::new(&CursorKey::new(secret), "articles", &[]).encode(Position::Published { at, id: 1 })
}

#[tokio::test]
async fn only_cursors_sealed_with_the_servers_secret_and_holding_a_servable_position_are_taken() {
    const SECRET: &[u8] = b"the cursor secret of this test, 32 bytes or more";
    let app = TestApp::spawn_configured(|config| {
        config.cursor_secret = Some(broadsheet::config::Secret::new(SECRET));
    })
    .await;
    app.load(site_with(
        vec![
            published("older", at("2011-10-24T09:00:00Z")),
            published("newer", at("2011-10-26T09:00:00Z")),
        ],
        vec![],
    ))
    .await;

    let sealed = articles_cursor(SECRET, at("2011-10-25T00:00:00Z"));
    assert_eq!(
        page_slugs(&app, &format!("/v1/articles?cursor={sealed}")).await,
        ["older"]
    );
    for cursor in [
        articles_cursor(SECRET, at("-200000-01-01T00:00:00Z")),
        articles_cursor(SECRET, at("9999-12-31T23:59:59-14:00")),
        articles_cursor(
            b"another secret, just as long as the first",
            at("2011-10-25T00:00:00Z"),
        ),
    ] {
        assert_invalid_parameter(&app, &format!("/v1/articles?cursor={cursor}"), "cursor").await;
    }
}
