//! The demo content: the seed post served word for word as originally
//! published, its popular posts ranked, and loading it twice changing nothing.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::helpers::*;

const SEED: &str = "/v1/articles/secretary-clintons-message-to-pakistan";

/// The post as it was published, line by line.
const ORIGINAL: &str = include_str!("../fixtures/seed-post.txt");

const ROUNDUP_LABEL: &str = "Related: ";
const POPULAR_LABEL: &str = "Popular posts from this blog";

fn demo() -> Value {
    serde_json::from_str(broadsheet::site::DEMO).expect("the demo is JSON")
}

async fn demo_app() -> TestApp {
    TestApp::with_site(demo()).await
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// The original post cut into the parts the API serves in different places.
struct Original<'a> {
    /// "By {byline}, {outlet}, {date}".
    byline: &'a str,
    /// The roundup's title, after "Related: ".
    roundup_title: &'a str,
    /// "{headline} - {outlet}" lines.
    links: Vec<&'a str>,
    /// The titles under "Popular posts from this blog".
    popular: Vec<&'a str>,
    /// Every other non-empty line: text of the article itself.
    text: Vec<&'a str>,
}

fn original() -> Original<'static> {
    let mut parts = Original {
        byline: "",
        roundup_title: "",
        links: Vec::new(),
        popular: Vec::new(),
        text: Vec::new(),
    };
    #[derive(PartialEq)]
    enum Section {
        Post,
        Links,
        Popular,
    }
    let mut section = Section::Post;
    for line in ORIGINAL.lines() {
        if line.trim().is_empty() {
            if section == Section::Links {
                section = Section::Post;
            }
        } else if let Some(title) = line.strip_prefix(ROUNDUP_LABEL) {
            parts.roundup_title = title;
            section = Section::Links;
        } else if line == POPULAR_LABEL {
            section = Section::Popular;
        } else if section == Section::Links {
            parts.links.push(line);
        } else if section == Section::Popular {
            parts.popular.push(line);
        } else if line.starts_with("By ") {
            parts.byline = line;
        } else {
            parts.text.push(line);
        }
    }
    parts
}

/// Every string anywhere in `value`.
fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(fields) => fields.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The string at the JSON `pointer` in each item of the list `items`.
fn texts<'a>(items: &'a Value, pointer: &str) -> Vec<&'a str> {
    let item_text = |item: &'a Value| item.pointer(pointer).and_then(Value::as_str);
    let list = items.as_array().expect("a list");
    list.iter()
        .map(|item| item_text(item).expect(pointer))
        .collect()
}

fn ranked_titles(ranking: &Value) -> Vec<&str> {
    texts(&ranking["data"], "/article/title")
}

#[tokio::test]
async fn the_seed_post_is_served_with_its_excerpt_roundup_and_commentary() {
    let app = demo_app().await;
    let post = get_ok(&app, SEED).await;

    assert_eq!(
        post["title"],
        "Secretary Clinton's Message to Pakistan: Help us Negotiate with Taliban and Haqqani Group"
    );
    assert_eq!(post["published_at"], "2011-10-25T09:00:00Z");
    assert!(post["body_markdown"]
        .as_str()
        .expect("body_markdown")
        .starts_with("Our relationship with USA should be on equal basis"));
    assert_eq!(
        texts(&post["tags"], "/slug"),
        ["afghanistan", "pakistan", "united-states"]
    );

    let excerpts = post["excerpts"].as_array().expect("excerpts");
    assert_eq!(excerpts.len(), 1);
    let excerpt = &excerpts[0];
    assert_eq!(
        excerpt["headline"],
        "Clinton Pressing Pakistan for Joint Covert Action on Islamic Insurgents"
    );
    assert_eq!(excerpt["bylines"], json!(["Indira A.R. Lakshmanan"]));
    assert_eq!(excerpt["outlet"]["name"], "Bloomberg");
    assert_eq!(excerpt["outlet"]["slug"], "bloomberg");
    assert_eq!(excerpt["source_published_on"], "2011-10-24");
    assert_eq!(
        excerpt["call_to_action"],
        "For complete article, click here"
    );
    let html = excerpt["body_html"].as_str().expect("body_html");
    assert!(html.contains("<h2>Recent Cooperation</h2>"), "{html}");

    let roundups = post["roundups"].as_array().expect("roundups");
    assert_eq!(roundups.len(), 1);
    assert_eq!(roundups[0]["title"], "From Pakistan Press");
    assert_eq!(
        texts(&roundups[0]["links"], "/outlet/name"),
        ["The News", "Express Tribune", "Daily Times", "Dawn"]
    );
}

#[tokio::test]
async fn the_seed_post_says_every_line_of_the_original_word_for_word() {
    let app = demo_app().await;
    let post = get_ok(&app, SEED).await;
    let ranking = get_ok(&app, "/v1/rankings/popular").await;
    let original = original();
    assert_eq!(
        (
            original.text.len(),
            original.links.len(),
            original.popular.len()
        ),
        (16, 4, 3),
        "the fixture is cut as expected"
    );

    let served = strings(&post);
    for line in &original.text {
        assert!(
            served.iter().any(|s| s.contains(line)),
            "not served word for word: {line:?}"
        );
    }

    let (by, rest) = original
        .byline
        .strip_prefix("By ")
        .and_then(|rest| rest.split_once(','))
        .expect("By {byline}, ...");
    let (outlet, date) = rest.split_once(',').expect("{outlet}, {date}");
    let date = NaiveDate::parse_from_str(date.trim(), "%b %d, %Y").expect("a date");
    let excerpt = &post["excerpts"][0];
    assert_eq!(excerpt["bylines"], json!([by]));
    assert_eq!(excerpt["outlet"]["name"], outlet.trim());
    assert_eq!(excerpt["source_published_on"], date.to_string());

    let roundup = &post["roundups"][0];
    assert_eq!(roundup["title"], original.roundup_title);
    let links = &roundup["links"];
    let served_links: Vec<(&str, &str)> = texts(links, "/headline")
        .into_iter()
        .zip(texts(links, "/outlet/name"))
        .collect();
    // The original separates headline and outlet with "- " after a space or a no-break space.
    let original_links: Vec<(&str, &str)> = original
        .links
        .iter()
        .map(|line| {
            let (headline, outlet) = line.rsplit_once("- ").expect("{headline} - {outlet}");
            (headline.trim_end_matches([' ', '\u{a0}']), outlet)
        })
        .collect();
    assert_eq!(served_links, original_links);

    assert_eq!(&ranked_titles(&ranking)[..3], original.popular.as_slice());
}

#[tokio::test]
async fn the_popular_ranking_puts_the_three_popular_posts_first_and_the_seed_post_fourth() {
    let app = demo_app().await;
    let ranking = get_ok(&app, "/v1/rankings/popular").await;

    let entries = ranking["data"].as_array().expect("data");
    let ranks: Vec<&Value> = entries.iter().map(|e| &e["rank"]).collect();
    assert_eq!(ranks, [1, 2, 3, 4]);
    assert_eq!(
        ranked_titles(&ranking),
        [
            "What happened between Musharraf & Mahmood after 9/11 attacks",
            "\"Society can survive with kufr (infidelity), but not injustice\":",
            "How to build an effective counter-narrative to extremism in Pakistan?",
            "Secretary Clinton's Message to Pakistan: Help us Negotiate with Taliban and Haqqani Group",
        ]
    );
    let views: Vec<&Value> = entries.iter().map(|e| &e["views"]).collect();
    assert_eq!(views, [1840, 1275, 960, 310]);
}

/// `value` without the ids and timestamps that a reload may renew.
fn stable(value: &Value) -> Value {
    match value {
        Value::Array(items) => items.iter().map(stable).collect(),
        Value::Object(fields) => fields
            .iter()
            .filter(|(name, value)| {
                !["id", "created_at", "updated_at"].contains(&name.as_str())
                    && !value
                        .as_str()
                        .is_some_and(|s| s.starts_with("/v1/roundups/"))
            })
            .map(|(name, value)| (name.clone(), stable(value)))
            .collect(),
        other => other.clone(),
    }
}

/// Everything a reader can list or read of the demo, by endpoint.
async fn content(app: &TestApp) -> Value {
    let mut seen = serde_json::Map::new();
    for list in [
        "/v1/articles",
        "/v1/excerpts",
        "/v1/roundup-links",
        "/v1/tags",
        "/v1/outlets",
    ] {
        let items = app.collect_pages(list).await;
        seen.insert(list.into(), stable(&Value::from(items)));
    }
    let ranking = get_ok(app, "/v1/rankings/popular?window=all").await;
    seen.insert("ranking".into(), stable(&ranking["data"]));
    seen.insert(SEED.into(), stable(&get_ok(app, SEED).await));
    Value::Object(seen)
}

#[tokio::test]
async fn loading_the_demo_twice_leaves_the_same_content() {
    let app = demo_app().await;
    let once = content(&app).await;
    let count = |list: &str| once[list].as_array().map(Vec::len);
    assert_eq!(count("/v1/articles"), Some(4));
    assert_eq!(count("/v1/excerpts"), Some(1));
    assert_eq!(count("/v1/roundup-links"), Some(4));

    app.load(demo()).await;

    assert_eq!(content(&app).await, once);
}

/// `broadsheet seed` against the app's database; returns what it logged.
async fn seed(app: &TestApp) -> String {
    let env = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("RUST_LOG", "info"),
    ];
    let output = run_broadsheet(&["seed"], &env).await;
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "seed failed: {log}");
    app.refresh_rankings().await;
    log
}

/// Views of each ranked article over all time, by slug.
async fn views_by_slug(app: &TestApp) -> Vec<(String, i64)> {
    let ranking = get_ok(app, "/v1/rankings/popular?window=all").await;
    let entries = ranking["data"].as_array().expect("data");
    entries
        .iter()
        .map(|e| {
            let slug = e["article"]["slug"].as_str().expect("slug").to_string();
            (slug, e["views"].as_i64().expect("views"))
        })
        .collect()
}

#[tokio::test]
async fn seeding_again_keeps_an_edited_demo_article_and_its_views() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    app.sql(
        "UPDATE articles SET title = 'Edited by the desk' \
         WHERE slug = 'secretary-clintons-message-to-pakistan'; \
         UPDATE view_counts SET views = views + 1000 WHERE article_id = \
         (SELECT id FROM articles WHERE slug = 'secretary-clintons-message-to-pakistan')",
    )
    .await;
    let before = views_by_slug(&app).await;
    let edited = ("secretary-clintons-message-to-pakistan".to_string(), 1310);
    assert!(before.contains(&edited), "{before:?}");

    seed(&app).await;

    assert_eq!(get_ok(&app, SEED).await["title"], "Edited by the desk");
    assert_eq!(views_by_slug(&app).await, before);
}

#[tokio::test]
async fn seeding_twice_adds_nothing_the_second_time() {
    let app = TestApp::spawn().await;
    let first = seed(&app).await;
    assert!(first.contains("demo content added"), "{first}");
    let once = content(&app).await;

    let second = seed(&app).await;

    assert!(second.contains("nothing added"), "{second}");
    assert_eq!(content(&app).await, once);
    let views: Vec<i64> = views_by_slug(&app)
        .await
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(views, [1840, 1275, 960, 310]);
}

#[tokio::test]
async fn seeding_brings_back_a_deleted_demo_article_and_leaves_the_others_as_edited() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let original = get_ok(&app, SEED).await;
    let admin = app.key("admin").await;
    let deleted = app
        .with_key(reqwest::Method::DELETE, SEED, &admin)
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(deleted.status(), 204);
    app.sql(
        "UPDATE articles SET title = 'Retitled' \
         WHERE slug = 'what-happened-between-musharraf-and-mahmood-after-9-11-attacks'",
    )
    .await;
    assert_eq!(app.get(SEED).await.status(), 404);

    seed(&app).await;

    let back = get_ok(&app, SEED).await;
    assert_eq!(
        stable(&back),
        stable(&original),
        "with its excerpt and roundup"
    );
    let views = views_by_slug(&app).await;
    assert!(
        views.contains(&("secretary-clintons-message-to-pakistan".into(), 310)),
        "with its views: {views:?}"
    );
    let listed = Value::from(app.collect_pages("/v1/articles").await);
    let titles = texts(&listed, "/title");
    assert!(titles.contains(&"Retitled"), "{titles:?}");
}
