//! Moving content in and out: the real `broadsheet export` and `broadsheet
//! import` binaries against real databases, on a generated site of a
//! thousand articles with everything the format carries.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use broadsheet::db;
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use serde_json::{json, Value};

use crate::helpers::*;

/// Runs the built binary against `database_url`, with `stdin` as its input.
async fn broadsheet(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let database_url = database_url.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.map(str::to_string);
    // Off the test's runtime, whose thread also serves the TestApp.
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_broadsheet"))
            .args(&args)
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "warn")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the broadsheet binary starts");
        let writer = stdin.map(|input| {
            let mut pipe = child.stdin.take().unwrap();
            std::thread::spawn(move || pipe.write_all(input.as_bytes()))
        });
        let output = child.wait_with_output().unwrap();
        if let Some(writer) = writer {
            writer.join().unwrap().unwrap();
        }
        output
    })
    .await
    .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_ok(output: &Output, what: &str) {
    assert!(output.status.success(), "{what} failed: {}", stderr(output));
}

/// `broadsheet export` of this database.
async fn export(database_url: &str) -> String {
    let output = broadsheet(database_url, &["export"], None).await;
    assert_ok(&output, "export");
    String::from_utf8(output.stdout).expect("the export is UTF-8")
}

/// Asserts two exports are the same bytes, showing the first line that differs.
fn assert_same(first: &str, second: &str) {
    if first != second {
        let line = first
            .lines()
            .zip(second.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| first.lines().count().min(second.lines().count()));
        panic!(
            "exports differ at line {}: {:?} then {:?}",
            line + 1,
            first.lines().nth(line),
            second.lines().nth(line)
        );
    }
}

/// A document written to a file of its own, removed afterwards.
struct DocumentFile(PathBuf);

impl DocumentFile {
    fn new(name: &str, document: &Value) -> Self {
        let path = std::env::temp_dir().join(format!(
            "broadsheet-transfer-{}-{name}.json",
            std::process::id()
        ));
        std::fs::write(&path, document.to_string()).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for DocumentFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Rows in every content table, by table.
async fn row_counts(database_url: &str) -> Vec<(String, i64)> {
    // Imported here only: its `load` would shadow `TestApp::load`.
    use diesel_async::RunQueryDsl;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        rows: i64,
    }
    let tables = [
        "outlets",
        "tags",
        "articles",
        "article_tags",
        "article_slug_history",
        "excerpts",
        "roundups",
        "roundup_links",
        "view_counts",
    ];
    let query = tables
        .iter()
        .map(|t| format!("SELECT '{t}' AS name, count(*) AS rows FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut conn = db::connect(database_url).await.unwrap();
    diesel::sql_query(query)
        .load::<Count>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.name, c.rows))
        .collect()
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A site of `count` articles written as `export` writes it: sorted, every
/// field present, so that exporting what it loads gives it back. It has
/// drafts, scheduled posts, excerpts, roundups, tags, old slugs, hour and day
/// view buckets, timestamps with microseconds and text that JSON escapes.
fn generated_site(count: usize) -> Value {
    let outlets: Vec<Value> = (0..12)
        .map(|o| {
            json!({
                "slug": format!("outlet-{o:02}"),
                "name": format!("Outlet № {o}"),
                "home_url": format!("https://outlet-{o}.example.org/"),
                "country_code": if o % 4 == 0 { Value::Null } else { json!(["PK", "US", "GB"][o % 3]) },
            })
        })
        .collect();
    let mut tags: Vec<Value> = (0..20)
        .map(|t| json!({"slug": format!("tag-{t:02}"), "name": format!("Tag {t}")}))
        .collect();
    tags.push(json!({"slug": "unused", "name": "Used by no article"}));

    let epoch = Utc.with_ymd_and_hms(2020, 1, 1, 9, 0, 0).unwrap();
    let far_future = Utc.with_ymd_and_hms(2099, 1, 1, 9, 0, 0).unwrap();
    let mut views = Vec::new();
    let articles: Vec<Value> = (0..count)
        .map(|i| {
            let slug = format!("article-{i:04}");
            let (status, published_at) = if i % 10 == 3 {
                ("draft", Value::Null)
            } else if i % 7 == 5 {
                ("published", json!(at(far_future + Duration::hours(i as i64))))
            } else {
                let micros = if i % 11 == 0 { 123_456 } else { 0 };
                let when = epoch + Duration::hours(i as i64) + Duration::microseconds(micros);
                ("published", json!(at(when)))
            };
            let created = epoch + Duration::minutes(i as i64) + Duration::microseconds((i as i64 * 7919) % 1_000_000);
            let updated = created + Duration::days(3) + Duration::microseconds(i as i64);
            let mut article_tags: Vec<String> = (0..i % 4)
                .map(|k| format!("tag-{:02}", (i + k * 7) % 20))
                .collect();
            article_tags.sort();
            article_tags.dedup();
            let old_slugs: Vec<String> = if i % 5 == 0 {
                vec![format!("{slug}-first-draft"), format!("old-{i:04}")]
            } else {
                Vec::new()
            };
            let excerpts: Vec<Value> = (0..i % 4)
                .map(|e| {
                    json!({
                        "headline": format!("Headline {e} of “{slug}”"),
                        "bylines": (0..(i + e) % 3).map(|b| format!("Zoë Ångström {b}")).collect::<Vec<_>>(),
                        "outlet": format!("outlet-{:02}", (i + e) % 12),
                        "source_published_on": if e == 1 { Value::Null } else { json!(format!("2019-{:02}-{:02}", 1 + i % 12, 1 + e)) },
                        "source_url": format!("https://outlet-{}.example.org/{slug}/{e}", (i + e) % 12),
                        "call_to_action": if e == 2 { Value::Null } else { json!("For complete article, click here") },
                        "body_markdown": format!("## Part {e}\n\n\"Quoted\" text\twith a back\\slash, ünïcode and 🗞 of {slug}."),
                    })
                })
                .collect();
            let roundups: Vec<Value> = (0..i % 3)
                .map(|r| {
                    json!({
                        "title": format!("From the press {r}"),
                        "links": (0..1 + (i + r) % 4).map(|l| json!({
                            "headline": format!("Link {l} of roundup {r}"),
                            "outlet": format!("outlet-{:02}", (i + r + l) % 12),
                            "url": format!("https://outlet-{}.example.org/links/{i}/{r}/{l}", (i + r + l) % 12),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            if i % 2 == 0 {
                let day = Utc.with_ymd_and_hms(2026, 1, 1 + (i % 28) as u32, 0, 0, 0).unwrap();
                let hour = Utc.with_ymd_and_hms(2026, 3, 1, (i % 24) as u32, 0, 0).unwrap();
                for (granularity, start) in [
                    ("day", day),
                    ("day", day + Duration::days(1)),
                    ("hour", hour),
                    ("hour", hour + Duration::hours(1)),
                    ("hour", hour + Duration::hours(2)),
                ] {
                    views.push(json!({
                        "article": slug,
                        "granularity": granularity,
                        "bucket_start": at(start),
                        "views": (i as i64 * 37 + start.timestamp() / 3600) % 1000,
                    }));
                }
            }
            json!({
                "slug": slug,
                "old_slugs": old_slugs,
                "title": format!("Article {i}: “what happened”"),
                "summary": if i % 4 == 0 { Value::Null } else { json!(format!("Résumé of {i}")) },
                "body_markdown": format!("Commentary on **{i}**.\n\n> quoted\n"),
                "status": status,
                "published_at": published_at,
                "created_at": at(created),
                "updated_at": at(updated),
                "tags": article_tags,
                "excerpts": excerpts,
                "roundups": roundups,
            })
        })
        .collect();
    json!({"outlets": outlets, "tags": tags, "articles": articles, "views": views})
}

#[tokio::test]
async fn a_thousand_articles_export_import_and_export_to_the_same_bytes() {
    let site = generated_site(1000);
    let file = DocumentFile::new("round-trip", &site);
    let source = TestApp::spawn().await;

    let started = Instant::now();
    let imported = broadsheet(&source.database_url, &["import", file.path()], None).await;
    assert_ok(&imported, "import");
    let import_time = started.elapsed();
    assert_eq!(
        stderr(&imported).lines().count(),
        1,
        "without a terminal, one summary line: {}",
        stderr(&imported)
    );
    assert!(stderr(&imported).contains("1000 articles (1000 new)"));

    let started = Instant::now();
    let first = export(&source.database_url).await;
    let export_time = started.elapsed();
    assert!(first.ends_with("}\n") && first.starts_with("{\n  \"outlets\": [\n"));
    assert_eq!(
        serde_json::from_str::<Value>(&first).unwrap(),
        site,
        "the export says what was imported"
    );

    // Into a database that does not exist yet, from standard input.
    let target = ScratchDatabase::create("transfer_round_trip");
    let started = Instant::now();
    let reimported = broadsheet(&target.url, &["import", "-"], Some(&first)).await;
    assert_ok(&reimported, "import of the export");
    let reimport_time = started.elapsed();
    let second = export(&target.url).await;
    assert_same(&first, &second);
    eprintln!(
        "1000 articles: import {import_time:?}, export {export_time:?}, \
         import of the export into an empty database {reimport_time:?}"
    );

    // What the API serves from it: old slugs redirect, drafts stay hidden.
    let (status, article) = source.get_json("/v1/articles/article-0010").await;
    assert_eq!(status, 200);
    assert_eq!(article["excerpts"].as_array().unwrap().len(), 2);
    let redirect = source.get("/v1/articles/old-0010").await;
    assert_eq!(redirect.status().as_u16(), 308);
    assert_eq!(source.get("/v1/articles/article-0003").await.status(), 404);
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let file = DocumentFile::new("twice", &generated_site(120));
    let first = broadsheet(&app.database_url, &["import", file.path()], None).await;
    assert_ok(&first, "first import");
    let counts = row_counts(&app.database_url).await;
    let exported = export(&app.database_url).await;

    let second = broadsheet(&app.database_url, &["import", file.path()], None).await;
    assert_ok(&second, "second import");
    assert!(
        stderr(&second).contains("120 articles (0 new)"),
        "{}",
        stderr(&second)
    );
    assert_eq!(row_counts(&app.database_url).await, counts);
    assert_same(&exported, &export(&app.database_url).await);
}

#[tokio::test]
async fn the_demo_seeds_twice_and_its_relative_views_export_as_hour_buckets() {
    let app = TestApp::spawn().await;
    assert_ok(
        &broadsheet(&app.database_url, &["seed"], None).await,
        "seed",
    );
    let counts = row_counts(&app.database_url).await;
    let before: Value = serde_json::from_str(&export(&app.database_url).await).unwrap();
    assert_ok(
        &broadsheet(&app.database_url, &["seed"], None).await,
        "seed again",
    );
    assert_eq!(row_counts(&app.database_url).await, counts);
    let after: Value = serde_json::from_str(&export(&app.database_url).await).unwrap();
    for (old, new) in before["articles"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["articles"].as_array().unwrap())
    {
        assert_eq!(
            old["created_at"], new["created_at"],
            "seeding keeps creation times"
        );
        assert_eq!(old["excerpts"], new["excerpts"]);
    }

    let views = after["views"].as_array().unwrap();
    assert_eq!(views.len(), 4);
    for entry in views {
        assert_eq!(entry["granularity"], "hour");
        let start: DateTime<Utc> = entry["bucket_start"].as_str().unwrap().parse().unwrap();
        assert!(start > Utc::now() - Duration::hours(5) && start < Utc::now());
        assert!(entry.get("hours_ago").is_none());
    }

    // The export of the demo reads back as itself.
    let exported = export(&app.database_url).await;
    let copy = ScratchDatabase::create("transfer_demo_copy");
    assert_ok(
        &broadsheet(&copy.url, &["import", "-"], Some(&exported)).await,
        "import of the demo's export",
    );
    assert_same(&exported, &export(&copy.url).await);
}

#[tokio::test]
async fn an_unknown_outlet_in_the_900th_article_writes_nothing_at_all() {
    let mut site = generated_site(1000);
    site["articles"][899]["excerpts"] = json!([excerpt("Quoted from nowhere", "nowhere")]);
    let file = DocumentFile::new("unknown-outlet", &site);
    let app = TestApp::spawn().await;

    let output = broadsheet(&app.database_url, &["import", file.path()], None).await;
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(
        message.starts_with("error: ")
            && message.contains("article `article-0899`")
            && message.contains("unknown outlet `nowhere`"),
        "{message}"
    );
    // Outlets, tags and 750 articles were written before the error: all rolled back.
    for (table, rows) in row_counts(&app.database_url).await {
        assert_eq!(rows, 0, "{table} kept rows of a failed import");
    }
}

#[tokio::test]
async fn a_dry_run_checks_against_the_database_reports_and_writes_nothing() {
    let app = TestApp::with_site(serde_json::from_str(broadsheet::site::DEMO).unwrap()).await;
    let before = export(&app.database_url).await;
    let counts = row_counts(&app.database_url).await;

    let file = DocumentFile::new("dry-run", &generated_site(200));
    let output = broadsheet(
        &app.database_url,
        &["import", "--dry-run", file.path()],
        None,
    )
    .await;
    assert_ok(&output, "dry run");
    let report = stderr(&output);
    assert!(
        report.starts_with("dry run of ")
            && report.contains("would write 12 outlets, 21 tags, 200 articles (200 new)")
            && report.contains("nothing was written"),
        "{report}"
    );
    assert_same(&before, &export(&app.database_url).await);
    assert_eq!(row_counts(&app.database_url).await, counts);

    // What only the database can tell: an old slug that an article already
    // stored answers to, and views of an article it does not have.
    let taken = json!({"articles": [{
        "slug": "renamed-post", "old_slugs": ["secretary-clintons-message-to-pakistan"],
        "title": "Renamed", "status": "draft", "published_at": null,
    }]});
    let unknown = json!({"views": [{
        "article": "no-such-post", "granularity": "day",
        "bucket_start": "2026-01-01T00:00:00Z", "views": 3,
    }]});
    for (document, expected) in [
        (taken, "article `renamed-post`: old slug `secretary-clintons-message-to-pakistan` is the slug of an article this document does not list"),
        (unknown, "views of article `no-such-post`: no such article"),
    ] {
        let output = broadsheet(
            &app.database_url,
            &["import", "--dry-run", "-"],
            Some(&document.to_string()),
        )
        .await;
        assert!(!output.status.success());
        assert_eq!(
            stderr(&output),
            format!("error: standard input: {expected}\n")
        );
    }
    assert_eq!(row_counts(&app.database_url).await, counts);
}

#[tokio::test]
async fn bad_documents_are_refused_in_one_line_naming_the_item_at_fault() {
    let app = TestApp::spawn().await;
    let article = |extra: Value| {
        let mut article = draft("a-post");
        for (key, value) in extra.as_object().unwrap() {
            article[key] = value.clone();
        }
        article
    };
    let views = |entry: Value| site_with(vec![draft("a-post")], vec![entry]);
    let cases = [
        (
            site_with(vec![article(json!({"colour": "red"}))], vec![]),
            "unknown field `colour`",
        ),
        (
            site_with(
                vec![article(json!({"excerpts": [excerpt("Quoted", "bloomberg")]}))],
                vec![],
            )
            .tap(|s| s["articles"][0]["excerpts"][0]["source_url"] = json!("ftp://x")),
            "article `a-post`: excerpt 1: source_url `ftp://x` is not an absolute http(s) URL",
        ),
        (
            site_with(
                vec![article(json!({"roundups": [roundup("Press", &[("Link", "dawn")])]}))],
                vec![],
            )
            .tap(|s| s["articles"][0]["roundups"][0]["links"][0]["url"] = json!("http://a b/")),
            "article `a-post`: roundup 1: link 1: url `http://a b/` is not an absolute http(s) URL",
        ),
        (
            base_site().tap(|s| s["outlets"][0]["home_url"] = json!("https:")),
            "outlet `bloomberg`: home_url `https:` is not an absolute http(s) URL",
        ),
        (
            site_with(
                vec![article(json!({"status": "published", "published_at": "9999-12-31T23:59:59-14:00"}))],
                vec![],
            ),
            "article `a-post`: published_at +10000-01-01T13:59:59Z is outside the years 1 to 9999 (in UTC)",
        ),
        (
            site_with(
                vec![article(json!({"status": "published", "published_at": "0001-01-01T00:00:00+01:00"}))],
                vec![],
            ),
            "article `a-post`: published_at 0000-12-31T23:00:00Z is outside the years 1 to 9999 (in UTC)",
        ),
        (
            site_with(vec![draft("a-post"), draft("a-post")], vec![]),
            "article `a-post`: listed twice",
        ),
        (
            site_with(
                vec![draft("a-post"), article(json!({"slug": "b-post", "old_slugs": ["a-post"]}))],
                vec![],
            ),
            "article `b-post`: old slug `a-post` is the slug of another article in this document",
        ),
        (
            site_with(vec![article(json!({"status": "live"}))], vec![]),
            "article `a-post`: status is `live`, not `draft` or `published`",
        ),
        (
            views(json!({"article": "a-post", "granularity": "day", "bucket_start": "2026-01-01T05:00:00Z", "views": 1})),
            "views of article `a-post`: bucket_start 2026-01-01T05:00:00Z is not the start of a UTC day",
        ),
        (
            views(json!({"article": "a-post", "hours_ago": 2, "granularity": "hour", "views": 1})),
            "views of article `a-post`: needs either hours_ago, or both granularity and bucket_start",
        ),
        (
            views(json!({"article": "a-post", "granularity": "week", "bucket_start": "2026-01-01T00:00:00Z", "views": 1})),
            "unknown variant `week`, expected `hour` or `day`",
        ),
        (
            views(json!({"article": "a-post", "hours_ago": 1, "views": -5})),
            "views of article `a-post`: views -5 is negative",
        ),
    ];
    for (document, expected) in cases {
        let output = broadsheet(
            &app.database_url,
            &["import", "-"],
            Some(&document.to_string()),
        )
        .await;
        let message = stderr(&output);
        assert!(!output.status.success(), "accepted: {document}");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
    for (table, rows) in row_counts(&app.database_url).await {
        assert_eq!(rows, 0, "{table} kept rows of a refused document");
    }
}

#[tokio::test]
async fn old_slugs_follow_the_document() {
    let app = TestApp::spawn().await;
    let now = Utc::now() - Duration::days(1);
    let with_old = |slug: &str, old: &[&str]| {
        let mut article = published(slug, now);
        article["old_slugs"] = json!(old);
        article
    };
    app.load(site_with(vec![with_old("renamed", &["original"])], vec![]))
        .await;
    let redirect = app.get("/v1/articles/original").await;
    assert_eq!(redirect.status().as_u16(), 308);
    assert_eq!(redirect.headers()["location"], "/v1/articles/renamed");

    // Another article takes the old slug over: it moves.
    app.load(site_with(
        vec![with_old("renamed", &[]), with_old("other", &["original"])],
        vec![],
    ))
    .await;
    let redirect = app.get("/v1/articles/original").await;
    assert_eq!(redirect.headers()["location"], "/v1/articles/other");

    // Dropped from the document: released, and free to become an article's slug.
    app.load(site_with(
        vec![with_old("other", &[]), published("original", now)],
        vec![],
    ))
    .await;
    let (status, body) = app.get_json("/v1/articles/original").await;
    assert_eq!((status, body["slug"].as_str()), (200, Some("original")));
}

/// Edits a value in place within an expression.
trait Tap: Sized {
    fn tap(self, edit: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
    fn tap(mut self, edit: impl FnOnce(&mut Self)) -> Self {
        edit(&mut self);
        self
    }
}

#[tokio::test]
async fn an_import_analyzes_the_tables_it_loaded_and_a_dry_run_does_not() {
    use diesel_async::RunQueryDsl;

    #[derive(QueryableByName)]
    struct Estimate {
        #[diesel(sql_type = BigInt)]
        rows: i64,
    }
    // The planner's row estimate: -1 until the table is first analyzed.
    let estimate = |database_url: String| async move {
        let mut conn = db::connect(&database_url).await.unwrap();
        diesel::sql_query(
            "SELECT reltuples::bigint AS rows FROM pg_class WHERE oid = 'articles'::regclass",
        )
        .get_result::<Estimate>(&mut conn)
        .await
        .unwrap()
        .rows
    };
    let app = TestApp::spawn().await;
    let file = DocumentFile::new("analyze", &generated_site(200));

    let dry = broadsheet(
        &app.database_url,
        &["import", "--dry-run", file.path()],
        None,
    )
    .await;
    assert_ok(&dry, "dry run");
    assert_eq!(estimate(app.database_url.clone()).await, -1);

    let imported = broadsheet(&app.database_url, &["import", file.path()], None).await;
    assert_ok(&imported, "import");
    assert_eq!(estimate(app.database_url.clone()).await, 200);
}

/// Content the rules refuse: a headline past the cap, a title of no-break
/// spaces only (blank to Broadsheet, not to `btrim`), a blank call to action.
fn old_content() -> Value {
    let mut quoted = excerpt("Quoted", "bloomberg");
    quoted["headline"] = json!(format!("{} ", "Long ".repeat(120)));
    quoted["call_to_action"] = json!("\u{3000}");
    quoted["bylines"] = json!(["Ann Author", "\t"]);
    let mut article = draft("old-post");
    article["title"] = json!("T".repeat(501));
    article["excerpts"] = json!([quoted]);
    site_with(vec![article], vec![])
}

#[tokio::test]
async fn an_import_refuses_what_the_api_refuses_by_default() {
    let app = TestApp::spawn().await;
    for (change, expected) in [
        (
            json!({"title": "T".repeat(501)}),
            "article `a-post`: title is 501 characters long, more than 500",
        ),
        (
            json!({"title": "\u{a0}\u{3000}"}),
            "article `a-post`: title is blank",
        ),
        (
            json!({"summary": "é".repeat(2001)}),
            "article `a-post`: summary is 2001 characters long, more than 2000",
        ),
    ] {
        let document = site_with(vec![with_fields(draft("a-post"), change)], vec![]);
        let output = broadsheet(
            &app.database_url,
            &["import", "-"],
            Some(&document.to_string()),
        )
        .await;
        assert!(!output.status.success(), "accepted: {document}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
    let output = broadsheet(
        &app.database_url,
        &["import", "-"],
        Some(&old_content().to_string()),
    )
    .await;
    assert!(!output.status.success());
    for (table, rows) in row_counts(&app.database_url).await {
        assert_eq!(rows, 0, "{table} kept rows of a refused document");
    }
}

#[tokio::test]
async fn a_lenient_import_repairs_old_content_and_says_each_repair() {
    let app = TestApp::spawn().await;
    let output = broadsheet(
        &app.database_url,
        &["import", "--lenient", "-"],
        Some(&old_content().to_string()),
    )
    .await;
    assert_ok(&output, "lenient import");
    let report = stderr(&output);
    for repair in [
        "repaired article `old-post`: title shortened from 501 to 500 characters",
        "repaired article `old-post`: excerpt 1: headline shortened from 601 to 500 characters",
        "repaired article `old-post`: excerpt 1: blank bylines dropped",
        "repaired article `old-post`: excerpt 1: blank call_to_action dropped",
    ] {
        assert!(report.contains(repair), "{repair:?} not in {report}");
    }
    let key = app.key("editor").await;
    let article: Value = app
        .with_key(reqwest::Method::GET, "/v1/articles/old-post", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let title = article["title"].as_str().unwrap();
    assert_eq!(title.chars().count(), 500);
    assert!(title.ends_with('…'), "{title}");
    let excerpt = &article["excerpts"][0];
    assert_eq!(excerpt["headline"].as_str().unwrap().chars().count(), 500);
    assert_eq!(excerpt["bylines"], json!(["Ann Author"]));
    assert_eq!(excerpt["call_to_action"], json!(null));

    // What was repaired can now be patched like any other excerpt.
    let id = excerpt["id"].as_i64().unwrap();
    let patched = app
        .with_key(reqwest::Method::PATCH, &format!("/v1/excerpts/{id}"), &key)
        .header("Content-Type", "application/merge-patch+json")
        .body(json!({"bylines": ["Another Author"]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status().as_u16(), 200);

    // A lenient import still refuses what it cannot repair.
    let blank = site_with(
        vec![with_fields(draft("blank-post"), json!({"title": "\u{a0}"}))],
        vec![],
    );
    let output = broadsheet(
        &app.database_url,
        &["import", "--lenient", "-"],
        Some(&blank.to_string()),
    )
    .await;
    assert!(!output.status.success());
    assert!(stderr(&output).contains("article `blank-post`: title is blank"));
}
