//! `GET /v1/tags`.

use serde_json::{json, Value};

use crate::excerpts::{
    assert_limit_range, first_page, published_days_ago, scheduled, strings, with,
};
use crate::helpers::*;
use crate::outlets::assert_45_slugs_page;

/// Two published articles tagged `pakistan` (one also `economy`), a draft
/// and a scheduled post carrying those and `secret`, and `unused` on nothing.
fn tagged_site() -> Value {
    let mut site = site_with(
        vec![
            with(
                published_days_ago("older", 3),
                "tags",
                json!(["pakistan", "economy"]),
            ),
            with(published_days_ago("newer", 2), "tags", json!(["pakistan"])),
            with(
                draft("secret-draft"),
                "tags",
                json!(["pakistan", "economy", "secret"]),
            ),
            with(
                scheduled("secret-scheduled"),
                "tags",
                json!(["pakistan", "secret"]),
            ),
        ],
        vec![],
    );
    let tags = site["tags"].as_array_mut().unwrap();
    tags.push(json!({"slug": "secret", "name": "Secret"}));
    tags.push(json!({"slug": "unused", "name": "Unused"}));
    site
}

#[tokio::test]
async fn list_tags_counts_only_published_articles() {
    let app = TestApp::with_site(tagged_site()).await;
    let (status, body) = app.get_json("/v1/tags").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "data": [
                {"slug": "economy", "name": "Economy", "article_count": 1,
                 "articles_url": "/v1/articles?tag=economy"},
                {"slug": "pakistan", "name": "Pakistan", "article_count": 2,
                 "articles_url": "/v1/articles?tag=pakistan"},
            ],
            "next_cursor": null,
        })
    );
}

#[tokio::test]
async fn list_tags_omits_a_tag_until_a_published_article_carries_it() {
    let app = TestApp::with_site(tagged_site()).await;
    let slugs = strings(&first_page(&app, "/v1/tags").await, "slug");
    assert_eq!(slugs, ["economy", "pakistan"]);

    app.sql(
        "UPDATE articles SET status = 'published', published_at = now() - interval '1 hour' \
         WHERE slug = 'secret-draft'",
    )
    .await;
    let tags = first_page(&app, "/v1/tags").await;
    assert_eq!(strings(&tags, "slug"), ["economy", "pakistan", "secret"]);
    let counts: Vec<&Value> = tags.iter().map(|t| &t["article_count"]).collect();
    assert_eq!(counts, [2, 3, 1]);
}

#[tokio::test]
async fn tag_articles_url_lists_the_published_articles_counted() {
    let app = TestApp::with_site(tagged_site()).await;
    let expected = [
        ("economy", vec!["older"]),
        ("pakistan", vec!["newer", "older"]),
    ];
    let tags = first_page(&app, "/v1/tags").await;
    assert_eq!(tags.len(), expected.len());
    for (tag, (slug, articles)) in tags.iter().zip(expected) {
        assert_eq!(tag["slug"], slug);
        let listed = first_page(&app, tag["articles_url"].as_str().unwrap()).await;
        assert_eq!(strings(&listed, "slug"), articles, "{tag}");
        assert_eq!(tag["article_count"], listed.len(), "{tag}");
    }
}

#[tokio::test]
async fn list_tags_pages_through_more_tags_than_one_page() {
    let app = TestApp::spawn().await;
    let slugs: Vec<String> = (1..=45).map(|n| format!("topic-{n:02}")).collect();
    let hidden: Vec<String> = (1..=5).map(|n| format!("topic-{n:02}-draft")).collect();
    let tags: Vec<Value> = slugs
        .iter()
        .chain(&hidden)
        .rev()
        .map(|slug| json!({"slug": slug, "name": slug.to_uppercase()}))
        .collect();
    app.load(json!({
        "tags": tags,
        "articles": [
            with(published_days_ago("everything", 1), "tags", json!(slugs)),
            with(draft("drafted"), "tags", json!(hidden)),
        ],
    }))
    .await;
    assert_45_slugs_page(&app, "/v1/tags", &slugs).await;
    let first = first_page(&app, "/v1/tags").await;
    assert!(first.iter().all(|t| t["article_count"] == 1), "{first:?}");
}

#[tokio::test]
async fn list_tags_rejects_a_limit_outside_1_to_100() {
    let app = TestApp::with_site(tagged_site()).await;
    assert_limit_range(&app, "/v1/tags", 100).await;
}
