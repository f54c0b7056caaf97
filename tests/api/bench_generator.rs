//! The benchmark's generator (`bench/generate`) copies rows into the tables
//! with their triggers off and fills in what the triggers would have
//! written. What it loads must serve exactly what `broadsheet import` of the
//! same content serves, or the benchmark measures a site no server makes.

use std::path::Path;
use std::process::{Command, Output};

use chrono::{DurationRound, TimeDelta, Utc};
use serde_json::Value;

use crate::helpers::TestApp;

const ARTICLES: usize = 30;
/// One secret for both servers, so that their list cursors are the same bytes.
const SECRET: &[u8] = b"bench-generator-equivalence-cursor-secret";

fn generator() -> Command {
    let mut command = Command::new("python3");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/generate"))
        .env("BROADSHEET_BIN", env!("CARGO_BIN_EXE_broadsheet"));
    command
}

fn succeeded(output: std::io::Result<Output>, what: &str) -> Output {
    let output = output.unwrap_or_else(|e| panic!("{what} runs: {e}"));
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn spawn() -> TestApp {
    TestApp::spawn_configured(|config| {
        config.cursor_secret = Some(broadsheet::config::Secret::new(SECRET));
        config.public_url = Some("https://news.example.org".into());
    })
    .await
}

/// GET `path` on both servers: same status, same body once `redact` has
/// removed what legitimately differs.
async fn assert_same(copied: &TestApp, imported: &TestApp, path: &str, redact: fn(&str) -> String) {
    let (a, b) = (copied.get(path).await, imported.get(path).await);
    assert_eq!(a.status(), b.status(), "{path}");
    assert_eq!(a.status().as_u16(), 200, "{path}");
    let (a, b) = (a.text().await.expect("body"), b.text().await.expect("body"));
    assert_eq!(redact(&a), redact(&b), "{path}");
}

fn as_is(body: &str) -> String {
    body.to_owned()
}

/// Feed entries carry the article's random entry id, drawn at insert.
fn without_entry_ids(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("urn:uuid:") {
        out.push_str(&rest[..at + 9]);
        rest = &rest[at + 9..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
            .unwrap_or(rest.len());
        out.push('…');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The change log as the public reads it: an import notes each event's ETag
/// (the generator, like any write outside the API, notes none) and commits
/// at another moment.
fn without_commit_details(body: &str) -> String {
    let mut page: Value = serde_json::from_str(body).expect("JSON");
    for event in page["data"].as_array_mut().expect("a list of events") {
        let event = event.as_object_mut().expect("an event");
        event.remove("etag");
        event.remove("occurred_at");
    }
    page.to_string()
}

/// Rankings say when they were computed, which no two servers share.
fn without_generated_at(body: &str) -> String {
    let mut ranking: Value = serde_json::from_str(body).expect("JSON");
    ranking
        .as_object_mut()
        .expect("a ranking")
        .remove("generated_at");
    ranking.to_string()
}

#[tokio::test]
async fn the_benchmark_generator_loads_what_an_import_of_the_same_site_serves() {
    let hour = || {
        Utc::now()
            .duration_trunc(TimeDelta::hours(1))
            .expect("hour")
    };
    let loaded_in = hour();
    let now = loaded_in.to_rfc3339();
    let (copied, imported) = (spawn().await, spawn().await);

    let (server, database) = copied
        .database_url
        .rsplit_once('/')
        .expect("a database URL");
    succeeded(
        generator()
            .env("BENCH_PG_URL", server)
            .args(["--existing", "--now", &now, &ARTICLES.to_string(), database])
            .output(),
        "bench/generate",
    );
    let site = succeeded(
        generator()
            .args(["--site", "--now", &now, &ARTICLES.to_string()])
            .output(),
        "bench/generate --site",
    );
    let document = std::env::temp_dir().join(format!("bench-site-{}.json", std::process::id()));
    std::fs::write(&document, &site.stdout).expect("site document written");
    for args in [
        vec!["seed"],
        vec!["import", document.to_str().expect("path")],
    ] {
        succeeded(
            Command::new(env!("CARGO_BIN_EXE_broadsheet"))
                .args(&args)
                .env("DATABASE_URL", &imported.database_url)
                .env("RUST_LOG", "warn")
                .output(),
            "broadsheet",
        );
    }
    let _ = std::fs::remove_file(&document);
    // The demo's articles carry no times of their own: each `seed` dates
    // them when it runs. Both databases get the same dates.
    for app in [&copied, &imported] {
        app.sql(
            "UPDATE articles SET created_at = '2026-01-01T00:00:00Z', \
             updated_at = '2026-01-01T00:00:00Z' WHERE slug NOT LIKE 'bench-%'",
        )
        .await;
    }

    for n in 1..=ARTICLES {
        assert_same(
            &copied,
            &imported,
            &format!("/v1/articles/bench-{n}"),
            as_is,
        )
        .await;
    }
    let words = succeeded(generator().arg("--search-words").output(), "search words");
    let words = String::from_utf8(words.stdout).expect("text");
    let mut paths: Vec<String> = [
        "/v1/articles",
        "/v1/articles?limit=7&include=excerpts,roundups",
        "/v1/articles?tag=economy",
        "/v1/excerpts?outlet=bench-herald",
        "/v1/outlets",
        "/v1/tags",
    ]
    .map(String::from)
    .into();
    paths.extend(
        words
            .split_whitespace()
            .map(|w| format!("/v1/search?q={w}")),
    );
    for path in &paths {
        assert_same(&copied, &imported, path, as_is).await;
    }
    // Every list page, cursors included (the servers seal them alike).
    let mut next = Some("/v1/articles?limit=4".to_owned());
    while let Some(path) = next {
        assert_same(&copied, &imported, &path, as_is).await;
        let (_, page) = copied.get_json(&path).await;
        next = page["next_cursor"]
            .as_str()
            .map(|cursor| format!("/v1/articles?limit=4&cursor={cursor}"));
    }
    for feed in ["/v1/feeds/atom", "/v1/feeds/rss", "/v1/feeds/json"] {
        assert_same(&copied, &imported, feed, without_entry_ids).await;
    }
    assert_same(
        &copied,
        &imported,
        "/v1/changes?limit=1000",
        without_commit_details,
    )
    .await;
    // The demo's view counts count back from the hour `seed` ran in: the
    // rankings agree when both loads ran in one hour.
    if hour() == loaded_in {
        for path in [
            "/v1/rankings/popular",
            "/v1/rankings/popular?window=24h",
            "/v1/rankings/popular?window=30d&limit=50",
            "/v1/rankings/popular?window=all&limit=50",
            "/v1/rankings/popular?window=7d&tag=economy&limit=50",
            "/v1/rankings/trending?limit=50",
        ] {
            assert_same(&copied, &imported, path, without_generated_at).await;
        }
        // What the view-count triggers keep for the rankings, row for row.
        assert_eq!(view_windows(&copied).await, view_windows(&imported).await);
    }
}

/// Every article's views per ranking window, as the database keeps them.
async fn view_windows(app: &TestApp) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        windows: String,
    }
    let sql = "SELECT concat_ws(' ', a.slug, w.all_time, w.day, w.day_before, w.week, \
               w.week_before, w.month, w.month_before, w.trend_base) AS windows \
               FROM view_windows w JOIN articles a ON a.id = w.article_id ORDER BY a.slug";
    let rows: Vec<Row> = crate::storms::rows(&app.database_url, sql).await;
    rows.into_iter().map(|row| row.windows).collect()
}
