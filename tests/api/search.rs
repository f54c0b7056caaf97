//! `GET /v1/search`: what a reader finds, in what order, page by page, with
//! which snippet; that edits are found at once; and that no input breaks it.

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// A published article with this title and commentary, and more fields.
fn article(slug: &str, title: &str, body: &str, fields: Value) -> Value {
    let mut article = published(slug, at("2011-10-10T09:00:00Z"));
    article["title"] = json!(title);
    article["summary"] = Value::Null;
    article["body_markdown"] = json!(body);
    for (name, value) in fields.as_object().expect("an object of fields") {
        article[name] = value.clone();
    }
    article
}

/// An excerpt quoting `outlet` with this headline and body.
fn quoting(headline: &str, body: &str, outlet: &str) -> Value {
    let mut excerpt = excerpt(headline, outlet);
    excerpt["body_markdown"] = json!(body);
    excerpt
}

/// A small newsroom: every test below searches it.
fn newsroom() -> Value {
    site_with(
        vec![
            article(
                "vote",
                "Polling day in Karachi",
                "The election was held on Sunday under heavy security.",
                json!({"tags": ["pakistan"], "published_at": "2011-10-01T09:00:00Z"}),
            ),
            article(
                "taliban-talks",
                "Washington and Islamabad",
                "Both sides want taliban talks to begin soon.",
                json!({"published_at": "2011-10-02T09:00:00Z"}),
            ),
            article(
                "talks-scattered",
                "Kabul diplomacy",
                "The taliban refused; the talks went nowhere.",
                json!({"published_at": "2011-10-03T09:00:00Z"}),
            ),
            article(
                "budget",
                "A budget for hard times",
                "The finance ministry cut spending again.",
                json!({
                    "tags": ["economy"],
                    "published_at": "2011-10-04T09:00:00Z",
                    "excerpts": [quoting(
                        "Ministers defend the cuts",
                        "Critics say the cuts fall on schools and on the monsoon relief fund.",
                        "dawn",
                    )],
                }),
            ),
            article(
                "relief",
                "Relief after the floods",
                "Aid is slow to arrive.",
                json!({
                    "published_at": "2011-10-05T09:00:00Z",
                    "excerpts": [quoting(
                        "Monsoon rains return to Sindh",
                        "Villagers wait for help as the water rises.",
                        "bloomberg",
                    )],
                }),
            ),
            article(
                "cricket",
                "Cricket and the monsoon",
                "Rain stopped play.",
                json!({"published_at": "2011-10-06T09:00:00Z"}),
            ),
            article(
                "unsafe",
                "Markup in a body",
                "The hostage <img src=x onerror=alert(1)> report <script>alert('x')</script> \
                 & more.",
                json!({"published_at": "2011-10-07T09:00:00Z"}),
            ),
            // Neither is public, yet both mention the monsoon.
            {
                let mut hidden = draft("monsoon-draft");
                hidden["title"] = json!("Monsoon draft");
                hidden
            },
            article(
                "monsoon-scheduled",
                "Monsoon forecast",
                "Coming soon.",
                json!({"published_at": Utc::now() + Duration::days(30)}),
            ),
        ],
        vec![],
    )
}

/// The slugs of the whole result of `path`, page by page.
async fn found(app: &TestApp, path: &str) -> Vec<String> {
    app.collect_pages(path)
        .await
        .iter()
        .map(|item| item["slug"].as_str().expect("a slug").to_string())
        .collect()
}

fn sorted(mut slugs: Vec<String>) -> Vec<String> {
    slugs.sort();
    slugs
}

#[tokio::test]
async fn words_are_stemmed_so_elections_finds_an_election() {
    let app = TestApp::with_site(newsroom()).await;
    assert_eq!(found(&app, "/v1/search?q=elections").await, ["vote"]);
    assert_eq!(found(&app, "/v1/search?q=ELECTED").await, ["vote"]);
}

#[tokio::test]
async fn a_quoted_phrase_matches_only_adjacent_words() {
    let app = TestApp::with_site(newsroom()).await;
    assert_eq!(
        sorted(found(&app, "/v1/search?q=taliban%20talks").await),
        ["taliban-talks", "talks-scattered"]
    );
    assert_eq!(
        found(&app, "/v1/search?q=%22taliban%20talks%22").await,
        ["taliban-talks"]
    );
}

#[tokio::test]
async fn a_minus_word_excludes_articles_whose_excerpts_mention_it() {
    let app = TestApp::with_site(newsroom()).await;
    assert_eq!(
        sorted(found(&app, "/v1/search?q=monsoon").await),
        ["budget", "cricket", "relief"]
    );
    // `budget` mentions the monsoon only in its excerpt's body, `relief` in
    // its excerpt's headline: both are left out.
    assert_eq!(
        found(&app, "/v1/search?q=monsoon%20-cuts").await,
        ["cricket", "relief"]
    );
    assert_eq!(
        found(&app, "/v1/search?q=monsoon+-sindh").await,
        ["cricket", "budget"]
    );
}

#[tokio::test]
async fn or_finds_either_word() {
    let app = TestApp::with_site(newsroom()).await;
    assert_eq!(
        sorted(found(&app, "/v1/search?q=election%20or%20budget").await),
        ["budget", "vote"]
    );
    assert!(found(&app, "/v1/search?q=election%20budget")
        .await
        .is_empty());
}

#[tokio::test]
async fn a_title_match_ranks_above_a_body_match() {
    let app = TestApp::with_site(newsroom()).await;
    // `cricket` has the monsoon in its title; `relief` in an excerpt's
    // headline; `budget` only in an excerpt's body.
    let (status, body) = app.get_json("/v1/search?q=monsoon").await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_array().unwrap();
    let slugs: Vec<&str> = data.iter().map(|r| r["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["cricket", "relief", "budget"]);
    let ranks: Vec<f64> = data.iter().map(|r| r["rank"].as_f64().unwrap()).collect();
    assert!(ranks[0] > ranks[1] && ranks[1] > ranks[2], "{ranks:?}");
}

#[tokio::test]
async fn excerpt_headlines_and_bodies_find_their_article() {
    let app = TestApp::with_site(newsroom()).await;
    assert_eq!(found(&app, "/v1/search?q=ministers").await, ["budget"]);
    assert_eq!(found(&app, "/v1/search?q=schools").await, ["budget"]);
    assert_eq!(found(&app, "/v1/search?q=villagers").await, ["relief"]);
}

#[tokio::test]
async fn a_result_is_the_list_summary_with_a_rank_and_a_marked_snippet() {
    let app = TestApp::with_site(newsroom()).await;
    let (status, body) = app.get_json("/v1/search?q=villagers").await;
    assert_eq!(status, 200, "{body}");
    let result = &body["data"][0];
    let (_, list) = app.get_json("/v1/articles?limit=100").await;
    let summary = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["slug"] == "relief")
        .unwrap();
    for (name, value) in summary.as_object().unwrap() {
        assert_eq!(&result[name], value, "{name}");
    }
    assert!(result["rank"].as_f64().unwrap() > 0.0);
    let snippet = result["snippet_html"].as_str().unwrap();
    assert!(snippet.contains("<mark>Villagers</mark> wait"), "{snippet}");
}

#[tokio::test]
async fn the_snippet_escapes_the_text_and_marks_only_the_matches() {
    let app = TestApp::with_site(newsroom()).await;
    let (status, body) = app.get_json("/v1/search?q=hostage").await;
    assert_eq!(status, 200, "{body}");
    let snippet = body["data"][0]["snippet_html"].as_str().unwrap();
    assert!(snippet.contains("<mark>hostage</mark>"), "{snippet}");
    assert!(
        snippet.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{snippet}"
    );
    assert!(snippet.contains("&amp; more"), "{snippet}");
    let markup: String = snippet.replace("<mark>", "").replace("</mark>", "");
    assert!(!markup.contains('<') && !markup.contains('>'), "{snippet}");
}

#[tokio::test]
async fn filters_apply_as_in_the_article_list() {
    let app = TestApp::with_site(newsroom()).await;
    let q = "monsoon%20or%20election";
    assert_eq!(
        sorted(found(&app, &format!("/v1/search?q={q}")).await),
        ["budget", "cricket", "relief", "vote"]
    );
    assert_eq!(
        found(&app, &format!("/v1/search?q={q}&tag=pakistan")).await,
        ["vote"]
    );
    assert_eq!(
        found(&app, &format!("/v1/search?q={q}&outlet=dawn")).await,
        ["budget"]
    );
    assert_eq!(
        sorted(
            found(
                &app,
                &format!("/v1/search?q={q}&published_after=2011-10-04")
            )
            .await
        ),
        ["budget", "cricket", "relief"]
    );
    assert_eq!(
        found(
            &app,
            &format!(
                "/v1/search?q={q}&published_after=2011-10-04T09:00:00Z&published_before=2011-10-06"
            )
        )
        .await,
        ["relief"]
    );
    assert_invalid_parameter(&app, &format!("/v1/search?q={q}&tag=Not%20A%20Slug"), "tag").await;
}

#[tokio::test]
async fn drafts_and_scheduled_articles_are_never_found() {
    let app = TestApp::with_site(newsroom()).await;
    let everything = found(&app, "/v1/search?q=monsoon%20or%20forecast%20or%20draft").await;
    assert!(
        !everything.iter().any(|slug| slug.starts_with("monsoon-")),
        "{everything:?}"
    );
    // Not even for an editor.
    let key = app.key("editor").await;
    let response = app
        .with_key(Method::GET, "/v1/search?q=forecast", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], json!([]));
}

/// A PATCH of `monsoon-draft` by an editor, which must succeed.
async fn patch_draft(app: &TestApp, key: &str, patch: Value) {
    let response = app
        .with_key(Method::PATCH, "/v1/articles/monsoon-draft", key)
        .header("Content-Type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn publishing_scheduling_and_unpublishing_change_what_is_found_at_once() {
    let app = TestApp::with_site(newsroom()).await;
    let key = app.key("editor").await;
    assert!(found(&app, "/v1/search?q=draft").await.is_empty());

    patch_draft(
        &app,
        &key,
        json!({"status": "published", "published_at": "2011-10-08T09:00:00Z"}),
    )
    .await;
    assert_eq!(found(&app, "/v1/search?q=draft").await, ["monsoon-draft"]);
    // Newest first among equal matches, and the date filters see the new time.
    assert_eq!(
        found(
            &app,
            "/v1/search?q=draft&published_after=2011-10-07T00:00:00Z"
        )
        .await,
        ["monsoon-draft"]
    );

    // Moved to a time still to come: hidden until then.
    let later = (Utc::now() + Duration::days(3)).to_rfc3339();
    patch_draft(&app, &key, json!({"published_at": later})).await;
    assert!(found(&app, "/v1/search?q=draft").await.is_empty());

    // Back in the past, then back to a draft.
    patch_draft(&app, &key, json!({"published_at": "2011-10-09T09:00:00Z"})).await;
    assert_eq!(found(&app, "/v1/search?q=draft").await, ["monsoon-draft"]);
    assert!(found(
        &app,
        "/v1/search?q=draft&published_before=2011-10-09T00:00:00Z"
    )
    .await
    .is_empty());
    patch_draft(&app, &key, json!({"status": "draft"})).await;
    assert!(found(&app, "/v1/search?q=draft").await.is_empty());
}

#[tokio::test]
async fn paging_walks_every_result_once() {
    let start = at("2011-10-01T09:00:00Z");
    let articles: Vec<Value> = (0..23)
        .map(|i| {
            // Three kinds of match, so that ranks tie within each kind.
            let (title, body) = match i % 3 {
                0 => ("Floods in the north", "Water everywhere."),
                1 => ("A report", "The floods are receding."),
                _ => ("Another report", "Floods, floods and more floods."),
            };
            article(
                &format!("post-{i}"),
                title,
                body,
                json!({"published_at": start + Duration::hours(i)}),
            )
        })
        .collect();
    let app = TestApp::with_site(site_with(articles, vec![])).await;
    let all = app.collect_pages("/v1/search?q=flood&limit=4").await;
    let mut slugs: Vec<&str> = all.iter().map(|r| r["slug"].as_str().unwrap()).collect();
    let in_order: Vec<(f64, &str)> = all
        .iter()
        .map(|r| (r["rank"].as_f64().unwrap(), r["slug"].as_str().unwrap()))
        .collect();
    assert!(
        in_order.windows(2).all(|pair| pair[0].0 >= pair[1].0),
        "best first: {in_order:?}"
    );
    assert_eq!(slugs.len(), 23);
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 23, "no result twice");
    // One big page says the same.
    let (_, one_page) = app.get_json("/v1/search?q=flood&limit=100").await;
    let one_page: Vec<&str> = one_page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["slug"].as_str().unwrap())
        .collect();
    let paged: Vec<&str> = in_order.iter().map(|(_, slug)| *slug).collect();
    assert_eq!(paged, one_page);
}

#[tokio::test]
async fn a_cursor_from_elsewhere_or_edited_is_refused() {
    let app = TestApp::with_site(newsroom()).await;
    let (_, body) = app.get_json("/v1/search?q=monsoon&limit=1").await;
    let cursor = body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (status, next) = app
        .get_json(&format!("/v1/search?q=monsoon&limit=1&cursor={cursor}"))
        .await;
    assert_eq!(status, 200, "{next}");
    for path in [
        format!("/v1/search?q=monsoon&cursor={cursor}x"),
        "/v1/search?q=monsoon&cursor=bm90IGEgY3Vyc29y".to_string(),
        format!("/v1/search?q=floods&cursor={cursor}"),
        format!("/v1/search?q=monsoon&tag=economy&cursor={cursor}"),
    ] {
        assert_invalid_parameter(&app, &path, "cursor").await;
    }
    // Nor does a cursor of the article list open a search page.
    let (_, list) = app.get_json("/v1/articles?limit=1").await;
    let list_cursor = list["next_cursor"].as_str().unwrap();
    assert_invalid_parameter(
        &app,
        &format!("/v1/search?q=monsoon&cursor={list_cursor}"),
        "cursor",
    )
    .await;
}

#[tokio::test]
async fn edits_through_the_api_are_found_at_once() {
    let app = TestApp::with_site(newsroom()).await;
    let key = app.key("editor").await;
    assert_eq!(found(&app, "/v1/search?q=cricket").await, ["cricket"]);

    let response = app
        .with_key(Method::PATCH, "/v1/articles/cricket", &key)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"title": "Squash under a grey sky"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert!(found(&app, "/v1/search?q=cricket").await.is_empty());
    assert_eq!(found(&app, "/v1/search?q=squash").await, ["cricket"]);

    let response = app
        .with_key(Method::POST, "/v1/articles/vote/excerpts", &key)
        .json(&quoting(
            "Turnout surprises observers",
            "Queues of voters stretched past the pavilion.",
            "the-news",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    assert_eq!(found(&app, "/v1/search?q=pavilion").await, ["vote"]);
    assert_eq!(found(&app, "/v1/search?q=turnout").await, ["vote"]);
    assert_eq!(
        found(&app, "/v1/search?q=turnout&outlet=the-news").await,
        ["vote"]
    );

    // Restoring the title from before the patch.
    let response = app
        .with_key(Method::GET, "/v1/articles/cricket/revisions", &key)
        .send()
        .await
        .unwrap();
    let revisions: Value = response.json().await.unwrap();
    let revision = &revisions["data"][0]["id"];
    let path = format!("/v1/articles/cricket/revisions/{revision}/restore");
    let response = app
        .with_key(Method::POST, &path, &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(found(&app, "/v1/search?q=cricket").await, ["cricket"]);
    assert!(found(&app, "/v1/search?q=squash").await.is_empty());

    // Deleting an excerpt.
    let (_, relief) = app.get_json("/v1/articles/relief").await;
    let excerpt = &relief["excerpts"][0]["id"];
    let response = app
        .with_key(Method::DELETE, &format!("/v1/excerpts/{excerpt}"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    assert!(found(&app, "/v1/search?q=villagers").await.is_empty());
    assert_eq!(found(&app, "/v1/search?q=aid").await, ["relief"]);
}

#[tokio::test]
async fn an_excerpt_moved_to_another_article_is_found_there() {
    let app = TestApp::with_site(newsroom()).await;
    app.sql(
        "UPDATE excerpts SET article_id = (SELECT id FROM articles WHERE slug = 'cricket') \
         WHERE article_id = (SELECT id FROM articles WHERE slug = 'relief')",
    )
    .await;
    assert_eq!(found(&app, "/v1/search?q=villagers").await, ["cricket"]);
    assert_eq!(
        found(&app, "/v1/search?q=monsoon%20-sindh").await,
        ["budget"],
        "relief no longer mentions Sindh, cricket now does"
    );
}

#[tokio::test]
async fn an_article_too_big_to_index_whole_can_still_be_written_and_found() {
    let app = TestApp::with_site(newsroom()).await;
    // 100 excerpts of distinct two-character words, more than a tsvector
    // holds (1 MB): the document drops what does not fit instead of failing
    // the write.
    app.sql(
        "INSERT INTO excerpts (article_id, position, headline, outlet_id, source_url, body, body_html) \
         SELECT (SELECT id FROM articles WHERE slug = 'relief'), p + 1, 'Bulletin ' || p, \
                (SELECT id FROM outlets WHERE slug = 'dawn'), 'https://example.org/', \
                (SELECT string_agg(chr(131072 + p * 300 + i / 200) || chr(131072 + i % 200), ' ') \
                   FROM generate_series(1, 5461) i), '' \
           FROM generate_series(1, 100) p",
    )
    .await;
    let key = app.key("editor").await;
    let response = app
        .with_key(Method::PATCH, "/v1/articles/relief", &key)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"title": "Relief after the deluge"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(found(&app, "/v1/search?q=deluge").await, ["relief"]);
    assert_eq!(found(&app, "/v1/search?q=bulletin").await, ["relief"]);
    let (status, body) = app.get_json("/v1/search?q=deluge").await;
    assert_eq!(status, 200);
    assert!(body["data"][0]["snippet_html"].is_string());
}

#[tokio::test]
async fn hostile_queries_get_a_200_or_a_400_never_a_5xx() {
    let app = TestApp::with_site(newsroom()).await;
    let long = "a".repeat(10 * 1024);
    for (path, expected) in [
        ("/v1/search".to_string(), 400),
        ("/v1/search?q=".to_string(), 400),
        ("/v1/search?q=%20%20".to_string(), 400),
        (format!("/v1/search?q={long}"), 400),
        (
            "/v1/search?q=%27%3B%20DROP%20TABLE%20articles%3B%20--".to_string(),
            200,
        ),
        ("/v1/search?q=%22unbalanced".to_string(), 200),
        ("/v1/search?q=(((".to_string(), 200),
        ("/v1/search?q=!%26|%3C-%3E:*".to_string(), 200),
        ("/v1/search?q=--monsoon%20-".to_string(), 200),
        ("/v1/search?q=a%00b".to_string(), 400),
        ("/v1/search?q=%FF".to_string(), 400),
        ("/v1/search?q=caf%C3".to_string(), 400),
        (
            "/v1/search?q=%F0%9F%98%80%20%E4%B8%AD%E6%96%87%20%F0%A0%80%80".to_string(),
            200,
        ),
        ("/v1/search?q=%F0%9D%90%80%F0%9D%90%81".to_string(), 200),
        ("/v1/search?q=the".to_string(), 200),
        ("/v1/search?q=monsoon&q=floods".to_string(), 400),
    ] {
        let response = app.get(&path).await;
        let status = response.status().as_u16();
        let shown: String = path.chars().take(80).collect();
        assert_eq!(
            status,
            expected,
            "{shown}: {}",
            response.text().await.unwrap()
        );
        if expected == 400 {
            let body = assert_problem(app.get(&path).await, 400).await;
            assert!(body.to_string().contains("\"q\""), "{shown}: {body}");
        }
    }
    let body = assert_problem(app.get(&format!("/v1/search?q={long}")).await, 400).await;
    assert!(body.to_string().contains("256 characters"), "{body}");
    let (_, only_stop_words) = app.get_json("/v1/search?q=the").await;
    assert_eq!(only_stop_words["data"], json!([]));
    // Still searchable after all that.
    assert_eq!(found(&app, "/v1/search?q=elections").await, ["vote"]);
}

#[tokio::test]
async fn text_in_any_script_is_searched() {
    let mut site = newsroom();
    site["articles"].as_array_mut().unwrap().push(article(
        "unicode",
        "Café culture 中文 𠀀",
        "Emoji 🎉 and 𝐀𝐁 mathematical letters.",
        json!({}),
    ));
    let app = TestApp::with_site(site).await;
    assert_eq!(found(&app, "/v1/search?q=caf%C3%A9").await, ["unicode"]);
    assert_eq!(
        found(&app, "/v1/search?q=%E4%B8%AD%E6%96%87").await,
        ["unicode"]
    );
    assert_eq!(found(&app, "/v1/search?q=%F0%A0%80%80").await, ["unicode"]);
    let (status, _) = app.get_json("/v1/search?q=%F0%9F%8E%89").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_parameters_and_bad_limits_are_refused() {
    let app = TestApp::with_site(newsroom()).await;
    assert_invalid_parameter(&app, "/v1/search?q=monsoon&sort=new", "sort").await;
    assert_invalid_parameter(&app, "/v1/search?q=monsoon&status=draft", "status").await;
    assert_invalid_parameter(&app, "/v1/search?q=monsoon&limit=0", "limit").await;
    assert_invalid_parameter(&app, "/v1/search?q=monsoon&limit=101", "limit").await;
    assert_invalid_parameter(
        &app,
        "/v1/search?q=monsoon&published_after=soon",
        "published_after",
    )
    .await;
}
