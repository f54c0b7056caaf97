//! `GET /v1/rankings/popular`.

use chrono::Utc;
use serde_json::{json, Value};

use crate::excerpts::{assert_limit_range, scheduled, with};
use crate::helpers::*;

/// A published article from 2020, `day` of January, with these tags.
fn article(slug: &str, day: u32, tags: &[&str]) -> Value {
    let published_at = at(&format!("2020-01-{day:02}T09:00:00Z"));
    with(published(slug, published_at), "tags", json!(tags))
}

fn hourly(slug: &str, hours_ago: u32, views: i64) -> Value {
    json!({"article": slug, "hours_ago": hours_ago, "views": views})
}

/// Adds a day-granularity bucket of views, starting at UTC midnight `days_ago` days back.
async fn add_daily(app: &TestApp, slug: &str, days_ago: u32, views: i64) {
    app.sql(&format!(
        "INSERT INTO view_counts (article_id, granularity, bucket_start, views) \
         SELECT id, 'day', \
                (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '{days_ago} days') \
                AT TIME ZONE 'UTC', \
                {views} \
         FROM articles WHERE slug = '{slug}'"
    ))
    .await;
}

/// Views at 2 hours, 25 hours, 3 days, 20 days and 100 days ago, so that each
/// window ranks differently:
///
/// | article  | 2h | 25h | 3d  | 20d  | 100d  |
/// |----------|----|-----|-----|------|-------|
/// | steady   | 50 | 7   |     |      |       |
/// | rising   | 10 |     | 100 |      |       |
/// | monthly  |    |     | 5   | 1000 |       |
/// | classic  |    |     |     |      | 10000 |
///
/// A draft and a scheduled post, both tagged `pakistan`, have a million
/// views in every window.
async fn viewed_app() -> TestApp {
    let hidden = ["hidden-draft", "hidden-scheduled"];
    let mut views = vec![
        hourly("steady", 2, 50),
        hourly("steady", 25, 7),
        hourly("rising", 2, 10),
        hourly("rising", 72, 100),
        hourly("monthly", 72, 5),
    ];
    views.extend(hidden.map(|slug| hourly(slug, 2, 1_000_000)));
    let app = TestApp::with_site(site_with(
        vec![
            article("steady", 4, &["pakistan"]),
            article("rising", 3, &["economy"]),
            article("monthly", 2, &["pakistan"]),
            article("classic", 1, &["pakistan", "economy"]),
            with(draft("hidden-draft"), "tags", json!(["pakistan"])),
            with(scheduled("hidden-scheduled"), "tags", json!(["pakistan"])),
        ],
        views,
    ))
    .await;
    add_daily(&app, "monthly", 20, 1000).await;
    add_daily(&app, "classic", 100, 10_000).await;
    for slug in hidden {
        add_daily(&app, slug, 20, 1_000_000).await;
        add_daily(&app, slug, 100, 1_000_000).await;
    }
    app
}

/// The ranking at `path`, asserting a 200.
async fn ranking(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// `(rank, slug, views)` of each entry.
fn entries(ranking: &Value) -> Vec<(u64, String, i64)> {
    ranking["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|entry| {
            (
                entry["rank"].as_u64().unwrap(),
                entry["article"]["slug"].as_str().unwrap().to_string(),
                entry["views"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Asserts that `path` ranks exactly these articles with these views, ranks 1, 2, 3….
async fn assert_ranks(app: &TestApp, path: &str, expected: &[(&str, i64)]) -> Value {
    let body = ranking(app, path).await;
    let expected: Vec<(u64, String, i64)> = expected
        .iter()
        .zip(1..)
        .map(|((slug, views), rank)| (rank, slug.to_string(), *views))
        .collect();
    assert_eq!(entries(&body), expected, "{path}");
    body
}

#[tokio::test]
async fn popular_counts_the_last_7_days_by_default() {
    let app = viewed_app().await;
    let expected = [("rising", 110), ("steady", 57), ("monthly", 5)];
    let body = assert_ranks(&app, "/v1/rankings/popular", &expected).await;
    assert_eq!(body["window"], "7d");
}

#[tokio::test]
async fn popular_over_24h_counts_only_the_last_day() {
    let app = viewed_app().await;
    let expected = [("steady", 50), ("rising", 10)];
    let body = assert_ranks(&app, "/v1/rankings/popular?window=24h", &expected).await;
    assert_eq!(body["window"], "24h");
}

#[tokio::test]
async fn popular_over_7d_counts_the_last_week() {
    let app = viewed_app().await;
    let expected = [("rising", 110), ("steady", 57), ("monthly", 5)];
    let body = assert_ranks(&app, "/v1/rankings/popular?window=7d", &expected).await;
    assert_eq!(body["window"], "7d");
}

#[tokio::test]
async fn popular_over_30d_counts_daily_buckets_of_the_last_month() {
    let app = viewed_app().await;
    let expected = [("monthly", 1005), ("rising", 110), ("steady", 57)];
    let body = assert_ranks(&app, "/v1/rankings/popular?window=30d", &expected).await;
    assert_eq!(body["window"], "30d");
}

#[tokio::test]
async fn popular_over_all_time_counts_every_view() {
    let app = viewed_app().await;
    let expected = [
        ("classic", 10_000),
        ("monthly", 1005),
        ("rising", 110),
        ("steady", 57),
    ];
    let body = assert_ranks(&app, "/v1/rankings/popular?window=all", &expected).await;
    assert_eq!(body["window"], "all");
}

#[tokio::test]
async fn popular_never_ranks_drafts_or_scheduled_posts() {
    let app = viewed_app().await;
    for query in [
        "",
        "?window=24h",
        "?window=30d",
        "?window=all&tag=pakistan&limit=50",
    ] {
        let body = ranking(&app, &format!("/v1/rankings/popular{query}")).await;
        let ranked = entries(&body);
        assert!(
            ranked
                .iter()
                .all(|(_, slug, views)| !slug.starts_with("hidden") && *views < 1_000_000),
            "{query}: {ranked:?}"
        );
        assert_eq!(ranked.first().map(|(rank, _, _)| *rank), Some(1), "{query}");
    }
}

#[tokio::test]
async fn popular_filters_by_tag_and_ranks_from_one() {
    let app = viewed_app().await;
    let path = "/v1/rankings/popular?tag=pakistan&window=30d";
    let body = assert_ranks(&app, path, &[("monthly", 1005), ("steady", 57)]).await;
    assert_eq!(body["tag"], "pakistan");
    assert_eq!(body["window"], "30d");
    let path = "/v1/rankings/popular?window=all&tag=economy";
    assert_ranks(&app, path, &[("classic", 10_000), ("rising", 110)]).await;
    let path = "/v1/rankings/popular?window=all&tag=pakistan&limit=1";
    assert_ranks(&app, path, &[("classic", 10_000)]).await;
    let body = assert_ranks(&app, "/v1/rankings/popular?tag=no-such-tag", &[]).await;
    assert_eq!(body["tag"], "no-such-tag");
}

#[tokio::test]
async fn popular_describes_its_window_tag_time_and_articles() {
    let app = viewed_app().await;
    let before = Utc::now();
    let body = ranking(&app, "/v1/rankings/popular").await;
    let after = Utc::now();
    assert_eq!(body["window"], "7d");
    assert_eq!(body["tag"], Value::Null);
    let generated_at = at(body["generated_at"].as_str().expect("generated_at"));
    assert!(
        before - chrono::Duration::seconds(1) <= generated_at
            && generated_at <= after + chrono::Duration::seconds(1),
        "{generated_at} outside {before}..{after}"
    );
    let first = &body["data"][0];
    assert_eq!(first["rank"], 1);
    assert_eq!(first["views"], 110);
    let summary = &first["article"];
    assert_eq!(summary["slug"], "rising");
    assert_eq!(summary["title"], "Title of rising");
    assert_eq!(summary["summary"], "Summary of rising");
    assert_eq!(summary["url"], "/v1/articles/rising");
    assert_eq!(
        summary["tags"],
        json!([{"slug": "economy", "name": "Economy"}])
    );
    let published_at = at(summary["published_at"].as_str().expect("published_at"));
    assert_eq!(published_at, at("2020-01-03T09:00:00Z"));
    assert!(summary["updated_at"].is_string(), "{summary}");
    assert!(summary.get("body_markdown").is_none(), "{summary}");
}

/// Twelve articles with 10, 20, … 120 views in the last day.
async fn twelve_app() -> TestApp {
    let slugs: Vec<String> = (1..=12).map(|n| format!("post-{n:02}")).collect();
    TestApp::with_site(site_with(
        slugs
            .iter()
            .zip(1..)
            .map(|(s, day)| article(s, day, &[]))
            .collect(),
        slugs
            .iter()
            .zip(1..)
            .map(|(s, n)| hourly(s, 2, n * 10))
            .collect(),
    ))
    .await
}

/// The most viewed of `twelve_app()`'s posts, most viewed first.
fn top_of_twelve(count: i64) -> Vec<(String, i64)> {
    (0..count)
        .map(|i| (format!("post-{:02}", 12 - i), (12 - i) * 10))
        .collect()
}

#[tokio::test]
async fn popular_ranks_ten_articles_unless_a_limit_is_given() {
    let app = twelve_app().await;
    for (query, count) in [
        ("", 10),
        ("?limit=3", 3),
        ("?limit=1", 1),
        ("?limit=50", 12),
    ] {
        let expected = top_of_twelve(count);
        let expected: Vec<(&str, i64)> = expected.iter().map(|(s, v)| (s.as_str(), *v)).collect();
        assert_ranks(&app, &format!("/v1/rankings/popular{query}"), &expected).await;
    }
}

#[tokio::test]
async fn popular_rejects_a_limit_outside_1_to_50() {
    let app = twelve_app().await;
    assert_limit_range(&app, "/v1/rankings/popular", 50).await;
}

#[tokio::test]
async fn popular_gives_equal_views_the_same_rank_and_skips_the_next() {
    let views = [("a", 30), ("b", 30), ("c", 10), ("d", 10), ("e", 5)];
    let app = TestApp::with_site(site_with(
        views
            .iter()
            .zip(1..)
            .map(|((s, _), day)| article(s, day, &[]))
            .collect(),
        views.iter().map(|(s, v)| hourly(s, 2, *v)).collect(),
    ))
    .await;
    let body = ranking(&app, "/v1/rankings/popular").await;
    let ranks: Vec<(u64, i64)> = entries(&body).into_iter().map(|(r, _, v)| (r, v)).collect();
    assert_eq!(ranks, [(1, 30), (1, 30), (3, 10), (3, 10), (5, 5)]);
    // Among equals, the newer article comes first.
    let slugs: Vec<String> = entries(&body).into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(slugs, ["b", "a", "d", "c", "e"]);
}

#[tokio::test]
async fn popular_rejects_an_unknown_window() {
    let app = viewed_app().await;
    for window in ["1w", "24H", "week", "90d", ""] {
        let path = format!("/v1/rankings/popular?window={window}");
        assert_invalid_parameter(&app, &path, "window").await;
    }
}

#[tokio::test]
async fn popular_names_every_bad_parameter_at_once() {
    let app = viewed_app().await;
    let path = "/v1/rankings/popular?window=1w&limit=0&tag=Not%20A%20Slug";
    for parameter in ["window", "limit", "tag"] {
        assert_invalid_parameter(&app, path, parameter).await;
    }
}

/// Runs SQL against the app's database without refreshing its rankings.
async fn sql_behind_its_back(app: &TestApp, statement: &str) {
    use diesel_async::SimpleAsyncConnection;
    let mut conn = broadsheet::db::connect(&app.database_url)
        .await
        .expect("connect");
    conn.batch_execute(statement).await.expect("fixture SQL");
}

#[tokio::test]
async fn tagged_rankings_are_answered_from_memory_whatever_tag_is_named() {
    let app = viewed_app().await;
    // With the view counts gone, any ranking query fails: what answers
    // below was computed at the last refresh, for every tag at once.
    sql_behind_its_back(&app, "ALTER TABLE view_counts RENAME TO view_counts_away").await;
    let path = "/v1/rankings/popular?tag=pakistan&window=30d";
    assert_ranks(&app, path, &[("monthly", 1005), ("steady", 57)]).await;
    let path = "/v1/rankings/popular?window=all&tag=economy&limit=1";
    assert_ranks(&app, path, &[("classic", 10_000)]).await;
    for n in 0..20 {
        let tag = format!("made-up-{n}");
        let body = assert_ranks(&app, &format!("/v1/rankings/popular?tag={tag}"), &[]).await;
        assert_eq!(body["tag"], tag);
        assert_eq!(body["window"], "7d");
    }
    let (status, _) = app.get_json("/v1/rankings/trending").await;
    assert_eq!(status, 200);
    sql_behind_its_back(&app, "ALTER TABLE view_counts_away RENAME TO view_counts").await;
}

#[tokio::test]
async fn a_tag_gets_its_ranking_at_the_next_refresh() {
    let app = viewed_app().await;
    app.sql(
        "INSERT INTO tags (slug, name) VALUES ('new-tag', 'New tag'); \
         INSERT INTO article_tags (article_id, tag_id) \
         SELECT a.id, t.id FROM articles a, tags t WHERE a.slug = 'rising' AND t.slug = 'new-tag'",
    )
    .await;
    assert_ranks(&app, "/v1/rankings/popular?tag=new-tag", &[("rising", 110)]).await;
}
