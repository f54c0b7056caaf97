//! `GET /v1/feeds/{atom,rss,json}`, read by the parsers feed readers use:
//! Python's `feedparser` for Atom and RSS, `atoma` for JSON Feed. Also the
//! list's `include=` and the feeds' autodiscovery `Link` headers.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// The parsers, pinned, installed once into `target/feed-parsers`.
const REQUIREMENTS: &str = "feedparser==6.0.14 atoma==0.0.17";

/// Reads a feed on standard input with the parser named by its argument and
/// prints what it understood as JSON. Dates are printed as feedparser and
/// atoma parsed them, in UTC, so that a date they misread shows.
const PARSE_SCRIPT: &str = r#"
import calendar, datetime, json, sys

data = sys.stdin.buffer.read()

def utc(parsed):
    if parsed is None:
        return None
    return datetime.datetime.fromtimestamp(calendar.timegm(parsed), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

if sys.argv[1] == "feedparser":
    import feedparser
    feed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    print(json.dumps({
        "bozo": int(feed.bozo),
        "bozo_exception": str(feed.get("bozo_exception", "")),
        "version": feed.version,
        "title": feed.feed.get("title"),
        "updated": utc(feed.feed.get("updated_parsed")),
        "links": [{"rel": l.get("rel"), "href": l.get("href"), "type": l.get("type")} for l in feed.feed.get("links", [])],
        "entries": [{
            "id": e.get("id"),
            "title": e.get("title"),
            "link": e.get("link"),
            "published": utc(e.get("published_parsed")),
            "updated": utc(e.get("updated_parsed")),
            "html": e.content[0].value if e.get("content") else e.get("summary"),
            "tags": [t.get("term") for t in e.get("tags", [])],
        } for e in feed.entries],
    }))
else:
    import atoma
    feed = atoma.parse_json_feed_bytes(data)
    def iso(at):
        return at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None
    print(json.dumps({
        "version": feed.version,
        "title": feed.title,
        "home_page_url": feed.home_page_url,
        "feed_url": feed.feed_url,
        "next_url": feed.next_url,
        "entries": [{
            "id": i.id_,
            "title": i.title,
            "link": i.url,
            "published": iso(i.date_published),
            "updated": iso(i.date_modified),
            "html": i.content_html,
            "tags": i.tags,
        } for i in feed.items],
    }))
"#;

/// The Python of a virtual environment holding the parsers, created on
/// first use. Tests run in parallel threads (the `OnceLock`) and test
/// binaries may run in parallel processes: each process that finds no
/// environment builds one in a directory of its own and renames it into
/// place, which is atomic; a process that loses the race drops its copy.
/// (A venv moved whole keeps working for `python -m` and scripts; only its
/// console-script shebangs would point at the old place.)
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/feed-parsers");
        std::fs::create_dir_all(&dir).expect("target/feed-parsers");
        let venv = dir.join(format!("venv-{}", REQUIREMENTS.replace([' ', '='], "-")));
        let python = venv.join("bin/python");
        if !python.exists() {
            let staging = dir.join(format!("staging-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&staging);
            run(Command::new("python3").args(["-m", "venv"]).arg(&staging));
            run(Command::new(staging.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(REQUIREMENTS.split(' ')));
            if std::fs::rename(&staging, &venv).is_err() {
                assert!(python.exists(), "the parsers' environment is in place");
                let _ = std::fs::remove_dir_all(&staging);
            }
        }
        // Written by each process, under a name of its own, then renamed:
        // never read half-written.
        let script = dir.join(format!("parse_feed-{}.py", std::process::id()));
        std::fs::write(&script, PARSE_SCRIPT).expect("script");
        std::fs::rename(&script, dir.join("parse_feed.py")).expect("script in place");
        python
    })
}

fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What `parser` (`feedparser` or `atoma`) reads in `feed`.
async fn parse(parser: &'static str, feed: Vec<u8>) -> Value {
    tokio::task::spawn_blocking(move || {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/feed-parsers/parse_feed.py");
        let mut child = Command::new(python())
            .arg(script)
            .arg(parser)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&feed)
            .expect("feed written");
        let output = child.wait_with_output().expect("parser finishes");
        assert!(
            output.status.success(),
            "{parser}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("the script prints JSON")
    })
    .await
    .expect("parser thread")
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Atom,
    Rss,
    Json,
}

const KINDS: [Kind; 3] = [Kind::Atom, Kind::Rss, Kind::Json];

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Atom => "/v1/feeds/atom",
            Kind::Rss => "/v1/feeds/rss",
            Kind::Json => "/v1/feeds/json",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Kind::Atom => "application/atom+xml; charset=utf-8",
            Kind::Rss => "application/rss+xml; charset=utf-8",
            Kind::Json => "application/feed+json",
        }
    }
}

/// The feed at `path_and_query` of this kind, as its parser reads it; a
/// feedparser read must be clean (`bozo == 0`).
async fn read(app: &TestApp, kind: Kind, path_and_query: &str) -> Value {
    let response = app.get(path_and_query).await;
    assert_eq!(response.status().as_u16(), 200, "{path_and_query}");
    assert_eq!(
        response.headers()["content-type"],
        kind.content_type(),
        "{path_and_query}"
    );
    let body = response.bytes().await.expect("body").to_vec();
    match kind {
        Kind::Atom | Kind::Rss => {
            let feed = parse("feedparser", body).await;
            assert_eq!(feed["bozo"], 0, "{path_and_query}: {feed}");
            let version = feed["version"].as_str().expect("a version");
            match kind {
                Kind::Atom => assert_eq!(version, "atom10"),
                _ => assert_eq!(version, "rss20"),
            }
            feed
        }
        Kind::Json => {
            // The fields JSON Feed 1.1 requires, checked here as well since
            // atoma is lenient about them.
            let document: Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(document["version"], "https://jsonfeed.org/version/1.1");
            assert!(document["title"].is_string(), "{document}");
            for item in document["items"].as_array().expect("items") {
                assert!(item["id"].is_string(), "{item}");
                assert!(item["content_html"].is_string(), "{item}");
            }
            parse("atoma", body).await
        }
    }
}

/// The `rel="next"` link of a feed, as its parser read it.
fn next_of(kind: Kind, feed: &Value) -> Option<String> {
    match kind {
        Kind::Json => feed["next_url"].as_str().map(String::from),
        _ => feed["links"]
            .as_array()
            .expect("links")
            .iter()
            .find(|link| link["rel"] == "next")
            .map(|link| link["href"].as_str().expect("href").to_string()),
    }
}

fn self_of(kind: Kind, feed: &Value) -> String {
    match kind {
        Kind::Json => feed["feed_url"].as_str().expect("feed_url").to_string(),
        _ => feed["links"]
            .as_array()
            .expect("links")
            .iter()
            .find(|link| link["rel"] == "self")
            .and_then(|link| link["href"].as_str())
            .expect("a self link")
            .to_string(),
    }
}

fn titles(feed: &Value) -> Vec<&str> {
    feed["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["title"].as_str().expect("a title"))
        .collect()
}

/// A whole post (tagged, quoting Bloomberg, with a roundup of two links),
/// an older plain one, a draft and a scheduled post.
fn newsroom() -> Value {
    site_with(
        vec![
            with_fields(
                published("clinton-in-islamabad", at("2011-10-24T09:30:00Z")),
                json!({
                    "title": "Clinton in Islamabad: \"talk & fight\"",
                    "tags": ["pakistan"],
                    "excerpts": [excerpt("Clinton Pressing Pakistan", "bloomberg")],
                    "roundups": [roundup("From Pakistan Press", &[("Talks offered", "dawn"), ("Army says no", "the-news")])],
                }),
            ),
            published("older-post", at("2011-10-01T08:00:00Z")),
            draft("unfinished"),
            published("next-month", Utc::now() + Duration::days(30)),
        ],
        vec![],
    )
}

#[tokio::test]
async fn each_feed_carries_the_published_articles_newest_first_as_whole_posts() {
    let app = TestApp::with_site(newsroom()).await;
    app.sql(
        "UPDATE articles SET updated_at = CASE slug WHEN 'clinton-in-islamabad' \
         THEN timestamptz '2011-10-26T12:00:00Z' ELSE coalesce(published_at, updated_at) END",
    )
    .await;
    let (_, whole) = app.get_json("/v1/articles/clinton-in-islamabad").await;

    for kind in KINDS {
        let feed = read(&app, kind, kind.path()).await;
        assert_eq!(feed["title"], "Broadsheet", "{kind:?}");
        assert_eq!(
            titles(&feed),
            [
                "Clinton in Islamabad: \"talk & fight\"",
                "Title of older-post"
            ],
            "{kind:?}: drafts and scheduled posts are absent"
        );
        assert_eq!(
            self_of(kind, &feed),
            format!("{}{}", app.address, kind.path())
        );
        assert_eq!(next_of(kind, &feed), None, "{kind:?}");
        let entry = &feed["entries"][0];
        assert_eq!(
            entry["link"],
            format!("{}/v1/articles/clinton-in-islamabad", app.address),
            "{kind:?}"
        );
        let id = entry["id"].as_str().expect("an id");
        assert!(
            id.starts_with("urn:uuid:") && id.len() == 45,
            "{kind:?}: {id}"
        );
        assert_ne!(entry["id"], feed["entries"][1]["id"]);
        assert_eq!(entry["published"], "2011-10-24T09:30:00Z", "{kind:?}");
        assert_eq!(entry["updated"], "2011-10-26T12:00:00Z", "{kind:?}");
        assert_eq!(
            feed["entries"][1]["published"], "2011-10-01T08:00:00Z",
            "{kind:?}"
        );
        assert_eq!(
            feed["entries"][1]["updated"], "2011-10-01T08:00:00Z",
            "{kind:?}"
        );
        if let Kind::Atom | Kind::Rss = kind {
            assert_eq!(
                feed["updated"], "2011-10-26T12:00:00Z",
                "{kind:?}: the latest entry"
            );
        }

        let html = entry["html"].as_str().expect("HTML");
        assert!(
            html.starts_with(whole["body_html"].as_str().unwrap()),
            "{kind:?}: {html}"
        );
        for part in [
            "<blockquote cite=\"https://example.org/source\">",
            whole["excerpts"][0]["body_html"].as_str().unwrap(),
            ">Clinton Pressing Pakistan</a>",
            "by A. Reporter",
            "<cite>Bloomberg</cite>",
            "24 October 2011",
            "<a href=\"https://example.org/source\">For complete article, click here</a>",
            "<h3>From Pakistan Press</h3>",
            "<a href=\"https://example.org/talks-offered\">Talks offered</a> — Dawn",
            "<a href=\"https://example.org/army-says-no\">Army says no</a> — The News",
        ] {
            assert!(html.contains(part), "{kind:?}: {part} not in {html}");
        }
        let quote = html.find("<blockquote").unwrap();
        assert!(
            quote < html.find("<h3>").unwrap(),
            "excerpts come before roundups"
        );
    }
}

#[tokio::test]
async fn the_three_feeds_agree_on_entry_ids() {
    let app = TestApp::with_site(newsroom()).await;
    let mut ids = Vec::new();
    for kind in KINDS {
        let feed = read(&app, kind, kind.path()).await;
        let of_kind: Vec<Value> = feed["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["id"].clone())
            .collect();
        ids.push(of_kind);
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0], ids[2]);
}

#[tokio::test]
async fn a_filtered_feed_has_only_its_articles_and_says_what_it_is_filtered_by() {
    let app = TestApp::with_site(newsroom()).await;
    for kind in KINDS {
        let tagged = read(&app, kind, &format!("{}?tag=pakistan", kind.path())).await;
        assert_eq!(tagged["title"], "Broadsheet — tag: pakistan", "{kind:?}");
        assert_eq!(titles(&tagged), ["Clinton in Islamabad: \"talk & fight\""]);
        assert_eq!(
            self_of(kind, &tagged),
            format!("{}{}?tag=pakistan", app.address, kind.path())
        );

        let linking = read(&app, kind, &format!("{}?outlet=the-news", kind.path())).await;
        assert_eq!(
            linking["title"], "Broadsheet — outlet: the-news",
            "{kind:?}"
        );
        assert_eq!(titles(&linking), ["Clinton in Islamabad: \"talk & fight\""]);

        let before = read(
            &app,
            kind,
            &format!("{}?published_before=2011-10-10", kind.path()),
        )
        .await;
        assert_eq!(titles(&before), ["Title of older-post"], "{kind:?}");

        let none = read(&app, kind, &format!("{}?tag=economy", kind.path())).await;
        assert!(titles(&none).is_empty(), "{kind:?}");
    }
}

#[tokio::test]
async fn an_entry_keeps_its_id_when_the_slug_changes_and_its_link_follows_the_new_slug() {
    let app = TestApp::with_site(newsroom()).await;
    let before: Vec<Value> = {
        let mut feeds = Vec::new();
        for kind in KINDS {
            feeds.push(read(&app, kind, kind.path()).await["entries"][0].clone());
        }
        feeds
    };

    let key = app.key("editor").await;
    let response = app
        .with_key(Method::PATCH, "/v1/articles/clinton-in-islamabad", &key)
        .header("content-type", "application/merge-patch+json")
        .body(json!({"slug": "clinton-talks-in-islamabad"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    for (kind, before) in KINDS.into_iter().zip(before) {
        let entry = read(&app, kind, kind.path()).await["entries"][0].clone();
        assert_eq!(entry["id"], before["id"], "{kind:?}");
        assert_eq!(
            entry["link"],
            format!("{}/v1/articles/clinton-talks-in-islamabad", app.address),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn paging_through_the_next_links_walks_every_entry_once() {
    let articles: Vec<Value> = (0..5)
        .map(|i| {
            published(
                &format!("post-{i}"),
                at("2011-10-01T09:00:00Z") + Duration::hours(i),
            )
        })
        .collect();
    let app = TestApp::with_site(site_with(articles, vec![])).await;
    for kind in KINDS {
        let mut seen = Vec::new();
        let mut next = Some(format!("{}{}?limit=2", app.address, kind.path()));
        let mut pages = 0;
        while let Some(url) = next {
            let path = url
                .strip_prefix(&app.address)
                .expect("a link to this server");
            let feed = read(&app, kind, path).await;
            assert_eq!(self_of(kind, &feed), url, "{kind:?}");
            seen.extend(titles(&feed).into_iter().map(String::from));
            next = next_of(kind, &feed);
            pages += 1;
            assert!(pages <= 3, "{kind:?}: paging did not end");
        }
        assert_eq!(
            seen,
            (0..5)
                .rev()
                .map(|i| format!("Title of post-{i}"))
                .collect::<Vec<_>>(),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn a_feed_answers_if_none_match_with_304_and_is_cacheable() {
    let app = TestApp::with_site(newsroom()).await;
    for kind in KINDS {
        let response = app.get(&format!("{}?tag=pakistan", kind.path())).await;
        let headers = response.headers().clone();
        let etag = headers["etag"].to_str().unwrap();
        assert!(headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public"));
        assert!(headers.contains_key("last-modified"));
        let keys: Vec<&str> = headers["surrogate-key"]
            .to_str()
            .unwrap()
            .split(' ')
            .collect();
        assert!(keys.contains(&"articles"), "{keys:?}");
        assert!(keys.iter().any(|key| key.starts_with("tag-")), "{keys:?}");
        assert_eq!(
            keys.iter()
                .filter(|key| key.starts_with("article-"))
                .count(),
            1,
            "{keys:?}"
        );

        let again = app
            .client
            .get(format!("{}{}?tag=pakistan", app.address, kind.path()))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304, "{kind:?}");
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_control_character_in_a_stored_title_does_not_break_the_feed() {
    let app = TestApp::with_site(newsroom()).await;
    app.sql(
        "UPDATE articles SET title = 'Bell' || chr(7) || ' & tab' || chr(11) || '<ok>', \
         summary = 'Escape' || chr(27) || 'd' WHERE slug = 'older-post'",
    )
    .await;
    app.sql(
        "UPDATE excerpts SET headline = 'Form' || chr(12) || 'feed', \
         bylines = ARRAY['Null' || chr(1) || 'ish']",
    )
    .await;
    for kind in [Kind::Atom, Kind::Rss] {
        let feed = read(&app, kind, kind.path()).await;
        assert_eq!(titles(&feed)[1], "Bell & tab<ok>", "{kind:?}");
        let html = feed["entries"][0]["html"].as_str().unwrap();
        assert!(
            html.contains(">Formfeed</a>, by Nullish"),
            "{kind:?}: {html}"
        );
    }
    let feed = read(&app, Kind::Json, Kind::Json.path()).await;
    assert_eq!(titles(&feed).len(), 2);
}

#[tokio::test]
async fn feeds_refuse_unknown_parameters_and_bad_filters() {
    let app = TestApp::spawn().await;
    for kind in KINDS {
        let path = kind.path();
        assert_invalid_parameter(&app, &format!("{path}?status=draft"), "status").await;
        assert_invalid_parameter(&app, &format!("{path}?include=excerpts"), "include").await;
        assert_invalid_parameter(&app, &format!("{path}?limit=101"), "limit").await;
        assert_invalid_parameter(&app, &format!("{path}?tag=Not%20A%20Slug"), "tag").await;
        assert_invalid_parameter(
            &app,
            &format!("{path}?published_after=yesterday"),
            "published_after",
        )
        .await;
        assert_invalid_parameter(&app, &format!("{path}?cursor=forged"), "cursor").await;
    }
    // A cursor of the article list is not a feed's.
    let articles = site_with(
        (0..3)
            .map(|i| {
                published(
                    &format!("p-{i}"),
                    at("2011-10-01T09:00:00Z") + Duration::hours(i),
                )
            })
            .collect(),
        vec![],
    );
    app.load(articles).await;
    let (_, page) = app.get_json("/v1/articles?limit=1").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    assert_invalid_parameter(
        &app,
        &format!("/v1/feeds/atom?limit=1&cursor={cursor}"),
        "cursor",
    )
    .await;
}

#[tokio::test]
async fn a_configured_public_url_and_site_title_make_the_links_and_titles() {
    let app = TestApp::spawn_configured(|config| {
        config.public_url = Some("https://news.example.org/api".into());
        config.site_title = "Pakistan Press Review".into();
    })
    .await;
    app.load(newsroom()).await;
    for kind in KINDS {
        let feed = read(&app, kind, &format!("{}?tag=pakistan&limit=1", kind.path())).await;
        assert_eq!(
            feed["title"], "Pakistan Press Review — tag: pakistan",
            "{kind:?}"
        );
        assert_eq!(
            self_of(kind, &feed),
            format!(
                "https://news.example.org/api{}?tag=pakistan&limit=1",
                kind.path()
            )
        );
        assert_eq!(
            feed["entries"][0]["link"],
            "https://news.example.org/api/v1/articles/clinton-in-islamabad"
        );
    }
    let response = app.get("/v1/articles").await;
    let links: Vec<&str> = response
        .headers()
        .get_all("link")
        .iter()
        .map(|link| link.to_str().unwrap())
        .collect();
    assert!(
        links.contains(&"<https://news.example.org/api/v1/feeds/atom>; rel=\"alternate\"; type=\"application/atom+xml\""),
        "{links:?}"
    );
}

/// The `Link` header values of a response.
fn links(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("link")
        .iter()
        .map(|link| link.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_list_and_the_article_name_the_three_feeds_in_link_headers() {
    let app = TestApp::with_site(newsroom()).await;
    let feeds: Vec<String> = [
        ("atom", "application/atom+xml"),
        ("rss", "application/rss+xml"),
        ("json", "application/feed+json"),
    ]
    .iter()
    .map(|(name, media_type)| {
        format!(
            "<{}/v1/feeds/{name}>; rel=\"alternate\"; type=\"{media_type}\"",
            app.address
        )
    })
    .collect();

    let article = app.get("/v1/articles/clinton-in-islamabad").await;
    assert_eq!(links(&article), feeds);

    let first = app.get("/v1/articles?limit=1").await;
    let first_links = links(&first);
    assert_eq!(first_links.len(), 4, "{first_links:?}");
    assert!(
        first_links[0].ends_with(">; rel=\"next\""),
        "{first_links:?}"
    );
    assert_eq!(first_links[1..], feeds[..]);

    let last = app.get("/v1/articles").await;
    assert_eq!(links(&last), feeds, "no next page, the feeds still");

    // The feeds the links name are there.
    for kind in KINDS {
        read(&app, kind, kind.path()).await;
    }
}

#[tokio::test]
async fn list_items_with_include_carry_the_excerpts_and_roundups_of_the_single_article() {
    let mut site = newsroom();
    site["articles"].as_array_mut().unwrap().push(with_fields(
        published("second-quote", at("2011-10-20T09:00:00Z")),
        json!({
            "excerpts": [excerpt("Second source", "dawn"), excerpt("Third source", "bloomberg")],
            "roundups": [roundup("Abroad", &[("One", "bloomberg")]), roundup("At home", &[("Two", "dawn"), ("Three", "the-news")])],
        }),
    ));
    let app = TestApp::with_site(site).await;

    let (status, page) = app.get_json("/v1/articles?include=excerpts,roundups").await;
    assert_eq!(status, 200, "{page}");
    let items = page["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for item in items {
        let slug = item["slug"].as_str().unwrap();
        let (_, whole) = app.get_json(&format!("/v1/articles/{slug}")).await;
        assert_eq!(item["excerpts"], whole["excerpts"], "{slug}");
        assert_eq!(item["roundups"], whole["roundups"], "{slug}");
        assert!(item.get("body_html").is_none(), "summaries stay summaries");
    }
    assert_eq!(items[1]["excerpts"].as_array().unwrap().len(), 2);
    assert_eq!(
        items[1]["roundups"][1]["links"].as_array().unwrap().len(),
        2
    );
    assert_eq!(items[2]["excerpts"], json!([]));

    let (_, only_excerpts) = app.get_json("/v1/articles?include=excerpts").await;
    assert!(only_excerpts["data"][0]["excerpts"].is_array());
    assert!(only_excerpts["data"][0].get("roundups").is_none());

    let (_, plain) = app.get_json("/v1/articles").await;
    assert!(plain["data"][0].get("excerpts").is_none());
    assert!(plain["data"][0].get("roundups").is_none());
}

#[tokio::test]
async fn an_unknown_include_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    let body = assert_problem(
        app.get("/v1/articles?include=excerpts,body,tags").await,
        400,
    )
    .await;
    let detail = body["errors"][0]["detail"].as_str().unwrap();
    assert_eq!(body["errors"][0]["parameter"], "include");
    assert!(
        detail.contains("`body`") && detail.contains("`tags`"),
        "{detail}"
    );
    assert!(!detail.contains("`excerpts`"), "{detail}");
    assert_invalid_parameter(&app, "/v1/articles?include=", "include").await;
    assert_invalid_parameter(&app, "/v1/articles?include=Excerpts", "include").await;
}
