//! The popularity engine end to end: exact counts across instances, across a
//! graceful stop and across a database outage; windows, rank changes,
//! trending, daily stats and the roll-up on hand-made data with known answers;
//! rankings served from the refreshed snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use broadsheet::config::Config;
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel::QueryableByName;
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::excerpts::{scheduled, with};
use crate::helpers::*;
use crate::storms::*;

// ---------------------------------------------------------------------------
// Servers that trust the test as a proxy
// ---------------------------------------------------------------------------

/// A `TestApp` that trusts the test as a proxy, holding `site`.
async fn proxied_app(site: Value, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let app = TestApp::spawn_configured(|config| {
        config.popularity.trusted_proxies = vec![LOCALHOST];
        adjust(config);
    })
    .await;
    app.load(site).await;
    app
}

#[derive(Debug, PartialEq, QueryableByName)]
struct Bucket {
    #[diesel(sql_type = Text)]
    slug: String,
    #[diesel(sql_type = Text)]
    granularity: String,
    #[diesel(sql_type = Timestamptz)]
    bucket_start: DateTime<Utc>,
    #[diesel(sql_type = BigInt)]
    views: i64,
}

/// Every stored bucket, in a stable order.
async fn stored_buckets(app: &TestApp) -> Vec<Bucket> {
    let sql = "SELECT a.slug, v.granularity, v.bucket_start, v.views \
               FROM view_counts v JOIN articles a ON a.id = v.article_id \
               ORDER BY a.slug, v.bucket_start, v.granularity";
    rows(&app.database_url, sql).await
}

// ---------------------------------------------------------------------------
// Hand-made view counts
// ---------------------------------------------------------------------------

/// The start of the hour that began `hours` hours before the current one.
fn hours_ago(hours: i64) -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now) - TimeDelta::hours(hours)
}

/// Midnight UTC of `date`, plus `hour` hours.
fn at_hour(date: NaiveDate, hour: u32) -> DateTime<Utc> {
    date.and_hms_opt(hour, 0, 0).expect("valid hour").and_utc()
}

fn days_before(date: NaiveDate, days: u64) -> NaiveDate {
    date - chrono::Days::new(days)
}

/// Stores buckets `(slug, granularity, bucket_start, views)` in one statement.
async fn add_buckets(app: &TestApp, buckets: &[(&str, &str, DateTime<Utc>, i64)]) {
    let values: Vec<String> = buckets
        .iter()
        .map(|(slug, granularity, start, views)| {
            format!(
                "('{slug}', '{granularity}', '{}'::timestamptz, {views}::int8)",
                start.to_rfc3339()
            )
        })
        .collect();
    app.sql(&format!(
        "INSERT INTO view_counts (article_id, granularity, bucket_start, views) \
         SELECT a.id, b.granularity, b.bucket_start, b.views \
         FROM (VALUES {}) AS b(slug, granularity, bucket_start, views) \
         JOIN articles a ON a.slug = b.slug",
        values.join(", ")
    ))
    .await;
}

/// A published article from 2020, `day` of January, with these tags.
fn article(slug: &str, day: u32, tags: &[&str]) -> Value {
    let published_at = format!("2020-01-{day:02}T09:00:00Z")
        .parse()
        .expect("timestamp");
    with(published(slug, published_at), "tags", json!(tags))
}

/// The ranking or document at `path`, asserting a 200.
async fn ok_json(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

/// `(slug, views, previous_rank, rank_change)` of each entry, asserting ranks 1, 2, 3….
fn ranked(body: &Value) -> Vec<(String, i64, Value, Value)> {
    let data = body["data"].as_array().expect("data is a list");
    data.iter()
        .zip(1..)
        .map(|(entry, rank)| {
            assert_eq!(entry["rank"], rank, "{body}");
            (
                entry["article"]["slug"].as_str().expect("slug").to_string(),
                entry["views"].as_i64().expect("views"),
                entry["previous_rank"].clone(),
                entry["rank_change"].clone(),
            )
        })
        .collect()
}

fn row(slug: &str, views: i64, previous: Value, change: Value) -> (String, i64, Value, Value) {
    (slug.to_string(), views, previous, change)
}

// ---------------------------------------------------------------------------
// 1. Several instances on one database
// ---------------------------------------------------------------------------

fn three_articles() -> Value {
    site_with(
        vec![
            article("first", 1, &[]),
            article("second", 2, &[]),
            article("third", 3, &[]),
        ],
        vec![],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_store_the_exact_sum_of_their_views() {
    let app = proxied_app(three_articles(), |_| {}).await;
    let other = Instance::start(&app.database_url, |_| {}).await;
    let slugs: Vec<String> = ["first", "second", "third"].map(String::from).into();
    let visitors = 60;
    // Each instance sees its own visitors, every (visitor, article) pair twice.
    let plan = |first_visitor| Storm {
        slugs: slugs.clone(),
        first_visitor,
        visitors,
        beacons: slugs.len() * visitors as usize * 2,
        stop_on_error: false,
    };
    let counter = Arc::new(AtomicUsize::new(0));
    let (here, there) = tokio::join!(
        storm(Endpoint::of(&app), plan(0), 6, counter.clone()),
        storm(other.endpoint.clone(), plan(visitors), 6, counter.clone()),
    );
    for tally in [&here, &there] {
        assert!(
            tally.other_statuses.is_empty() && tally.unanswered == 0,
            "every beacon is answered 202: {tally:?}"
        );
        assert_eq!(tally.accepted_total(), 2 * 3 * i64::from(visitors));
    }
    let distinct = 2 * 3 * i64::from(visitors);
    let engines = [(&*app.engine, &app.pool), (&*other.engine, &other.pool)];
    let stored = flush_until(&app.database_url, &engines, distinct).await;
    let expected: BTreeMap<String, i64> = slugs
        .iter()
        .map(|slug| (slug.clone(), 2 * i64::from(visitors)))
        .collect();
    assert_eq!(stored, expected, "each distinct (visitor, article) once");
    let written = app.engine.counter.written() + other.engine.counter.written();
    assert_eq!(written, distinct as u64, "the instances' own write counts");
    assert_eq!(
        app.engine.counter.dropped() + other.engine.counter.dropped(),
        0
    );
}

// ---------------------------------------------------------------------------
// 2. A graceful stop in the middle of a storm
// ---------------------------------------------------------------------------

/// Serves `database_url` with the `broadsheet` binary (settings in `env`
/// added), fires beacons from new visitors until it stops answering, sends
/// SIGTERM once 300 are answered 202, and waits for a clean exit. Returns
/// the answers and the server's log.
async fn storm_until_sigterm(database_url: &str, env: &[(&str, &str)]) -> (Tally, String) {
    let settings = [
        ("DATABASE_URL", database_url),
        ("BROADSHEET_SNAPSHOT_INTERVAL_MS", "60000"),
        ("BROADSHEET_TRUSTED_PROXIES", "127.0.0.1"),
        ("BROADSHEET_WORKERS", "2"),
        ("RUST_LOG", "warn"),
    ];
    let mut server = Served::start(&[&settings[..], env].concat()).await;
    let endpoint = Endpoint::at(server.address.clone());

    // Every beacon comes from a new visitor, so every 202 is a counted view;
    // the workers keep going until the server stops answering.
    let plan = Storm {
        slugs: vec!["first".into(), "second".into()],
        first_visitor: 0,
        visitors: u32::MAX,
        beacons: 200_000,
        stop_on_error: true,
    };
    let accepted = Arc::new(AtomicUsize::new(0));
    let storming = tokio::spawn(storm(endpoint, plan, 16, accepted.clone()));
    eventually("300 beacons answered", Duration::from_secs(60), || async {
        accepted.load(Ordering::Relaxed) >= 300
    })
    .await;
    server.signal("TERM");
    let tally = storming.await.expect("storm");
    let clean = server.wait_for_exit().await;
    let log = server.log_text();
    assert!(
        clean,
        "the server exits cleanly on SIGTERM; its log:\n{log}"
    );
    assert!(
        tally.unanswered > 0,
        "SIGTERM arrived after the storm ended: {tally:?}"
    );
    (tally, log)
}

/// Two published articles, `first` and `second`.
pub(crate) fn two_articles() -> Value {
    site_with(
        vec![article("first", 1, &[]), article("second", 2, &[])],
        vec![],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_beacon_storm_loses_no_view_answered_202() {
    let app = TestApp::with_site(two_articles()).await;
    // Nothing is written before the stop: the stop itself must write it all.
    let env = [("BROADSHEET_FLUSH_INTERVAL_MS", "60000")];
    let (tally, log) = storm_until_sigterm(&app.database_url, &env).await;
    let stored = stored_views(&app.database_url).await;
    assert_eq!(
        stored.values().sum::<i64>(),
        tally.accepted_total(),
        "stored views equal the beacons answered 202 ({tally:?}); server log:\n{log}"
    );
    assert_eq!(stored, tally.accepted, "per article");
}

/// With the flusher writing every 10 ms, a stop lands while a batch is being
/// written; that batch must be written once, neither lost nor repeated. The
/// race is timing-dependent, so the stop is repeated a few times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_flusher_is_writing_counts_each_view_once() {
    let app = TestApp::with_site(two_articles()).await;
    let env = [("BROADSHEET_FLUSH_INTERVAL_MS", "10")];
    let mut answered: BTreeMap<String, i64> = BTreeMap::new();
    for round in 1..=ROUNDS {
        let (tally, log) = storm_until_sigterm(&app.database_url, &env).await;
        for (slug, count) in tally.accepted {
            *answered.entry(slug).or_default() += count;
        }
        let stored = stored_views(&app.database_url).await;
        assert_eq!(
            stored, answered,
            "after stop {round}, stored views (left) equal the beacons answered 202 \
             (right); server log:\n{log}"
        );
    }
}

/// How many stops `sigterm_while_the_flusher_is_writing_counts_each_view_once` makes.
const ROUNDS: u32 = 8;

// ---------------------------------------------------------------------------
// 3. A database outage
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_counted_while_the_database_is_away_are_written_when_it_returns() {
    let Some(cluster) = Cluster::throwaway() else {
        return;
    };
    let url = cluster.url("broadsheet_outage");
    // `roomy` flushes on its own every 100 ms with the default bound; `tight`
    // keeps at most 2 (article, hour) counts and is flushed only by the test.
    let roomy = Instance::start(&url, |config| {
        config.popularity.flush_interval = Duration::from_millis(100);
    })
    .await;
    let tight = Instance::start(&url, |config| {
        config.popularity.flush_interval = Duration::from_secs(3600);
        config.popularity.max_pending = 2;
    })
    .await;
    let site = site_with(
        ["roomy-a", "roomy-b", "tight-a", "tight-b", "tight-c"]
            .into_iter()
            .zip(1..)
            .map(|(slug, day)| article(slug, day, &[]))
            .collect(),
        vec![],
    );
    load_into(&url, site).await;

    // Up: every article is viewed through its instance (which also teaches
    // the instance the slug) and written; `tight` writes after each article,
    // since it holds only two.
    let (roomy_at, tight_at) = (&roomy.endpoint, &tight.endpoint);
    let mut roomy_counted = 0;
    for slug in ["roomy-a", "roomy-b"] {
        roomy_counted += roomy_at.beacons(slug, 0..10).await;
    }
    for slug in ["tight-a", "tight-b", "tight-c"] {
        tight_at.beacons(slug, 0..1).await;
        assert!(
            tight.engine.counter.flush(&tight.pool).await.is_complete(),
            "written while up"
        );
    }
    assert_eq!(tight.engine.counter.dropped(), 0);
    eventually(
        "views written while up",
        Duration::from_secs(30),
        || async {
            let stored = stored_views(&url).await;
            sum_of(&stored, "roomy-") == roomy_counted && sum_of(&stored, "tight-") == 3
        },
    )
    .await;

    // Down: beacons are still accepted and counted in memory.
    tokio::task::block_in_place(|| cluster.stop());
    wait_for_status(roomy_at, "/readyz", 503, Duration::from_secs(30)).await;
    for slug in ["roomy-a", "roomy-b"] {
        roomy_counted += roomy_at.beacons(slug, 10..40).await;
    }
    let hour_before = hours_ago(0);
    let mut tight_counted = 0;
    for (slug, visitors) in [("tight-a", 3), ("tight-b", 2), ("tight-c", 4)] {
        tight_counted += tight_at.beacons(slug, 1..1 + visitors).await;
    }
    let same_hour = hours_ago(0) == hour_before;
    // tight-a and tight-b fill the bound of two keys; tight-c's 4 are dropped.
    let dropped = tight.engine.counter.dropped();
    if same_hour {
        assert_eq!(dropped, 4, "the third article's views are over the bound");
    } else {
        assert!(dropped >= 4, "over the bound across an hour: {dropped}");
    }
    assert!(
        !tight.engine.counter.flush(&tight.pool).await.is_complete(),
        "no write while down"
    );
    assert_eq!(
        tight.engine.counter.dropped(),
        dropped,
        "a failed flush keeps what it held"
    );
    assert_eq!(
        roomy.engine.counter.dropped(),
        0,
        "within the bound nothing is dropped"
    );
    assert_eq!(roomy_at.status("/readyz").await, Some(503));
    assert_eq!(roomy_at.status("/healthz").await, Some(200));

    // Up again: everything kept is written, exactly once.
    tokio::task::block_in_place(|| cluster.pg_ctl_start());
    wait_for_status(roomy_at, "/readyz", 200, Duration::from_secs(30)).await;
    let tight_kept = 3 + tight_counted - dropped as i64;
    let stored = flush_until(
        &url,
        &[(&roomy.engine, &roomy.pool), (&tight.engine, &tight.pool)],
        roomy_counted + tight_kept,
    )
    .await;
    assert_eq!(
        sum_of(&stored, "roomy-"),
        roomy_counted,
        "nothing lost within the bound: {stored:?}"
    );
    assert_eq!(
        sum_of(&stored, "tight-"),
        tight_kept,
        "all but the dropped: {stored:?}"
    );
    assert_eq!(tight.engine.counter.dropped(), dropped);
    // Both still serve and count.
    assert_eq!(tight_at.beacons("tight-c", 100..101).await, 1);
    assert!(tight.engine.counter.flush(&tight.pool).await.is_complete());
    assert_eq!(
        sum_of(&stored_views(&url).await, "tight-c"),
        stored["tight-c"] + 1
    );
    drop(cluster);
}

// ---------------------------------------------------------------------------
// 4. Windows, tags, rank changes, trending and daily stats
// ---------------------------------------------------------------------------

/// Views 2 hours ago (this 24 h), 30 hours ago (the 24 h before) and 10 days
/// ago (the 7 days before this week):
///
/// | article | tag      | 2h | 30h | 10d |
/// |---------|----------|----|-----|-----|
/// | alpha   | pakistan | 90 | 10  |     |
/// | beta    | economy  | 60 | 50  | 4   |
/// | gamma   | pakistan | 30 | 85  |     |
/// | delta   | pakistan | 20 |     | 500 |
///
/// A draft tagged `pakistan` has 1000 views at 2h and 30h: were it counted,
/// every previous rank would be off by one.
async fn moving_app() -> TestApp {
    let app = TestApp::with_site(site_with(
        vec![
            article("alpha", 1, &["pakistan"]),
            article("beta", 2, &["economy"]),
            article("gamma", 3, &["pakistan"]),
            article("delta", 4, &["pakistan"]),
            with(draft("hidden"), "tags", json!(["pakistan"])),
        ],
        vec![],
    ))
    .await;
    let (now, before) = (hours_ago(2), hours_ago(30));
    let ten_days = at_hour(days_before(Utc::now().date_naive(), 10), 0);
    add_buckets(
        &app,
        &[
            ("alpha", "hour", now, 90),
            ("alpha", "hour", before, 10),
            ("beta", "hour", now, 60),
            ("beta", "hour", before, 50),
            ("beta", "day", ten_days, 4),
            ("gamma", "hour", now, 30),
            ("gamma", "hour", before, 85),
            ("delta", "hour", now, 20),
            ("delta", "day", ten_days, 500),
            ("hidden", "hour", now, 1000),
            ("hidden", "hour", before, 1000),
        ],
    )
    .await;
    app
}

#[tokio::test]
async fn rank_change_compares_with_the_previous_window_of_the_same_length() {
    let app = moving_app().await;
    let null = Value::Null;
    let body = ok_json(&app, "/v1/rankings/popular?window=24h").await;
    assert_eq!(
        ranked(&body),
        [
            row("alpha", 90, json!(3), json!(2)),
            row("beta", 60, json!(2), json!(0)),
            row("gamma", 30, json!(1), json!(-2)),
            row("delta", 20, null.clone(), null.clone()),
        ],
        "24h: the previous ranks are those of the 24 hours before"
    );
    let body = ok_json(&app, "/v1/rankings/popular?window=7d").await;
    assert_eq!(
        ranked(&body),
        [
            row("gamma", 115, null.clone(), null.clone()),
            row("beta", 110, json!(2), json!(0)),
            row("alpha", 100, null.clone(), null.clone()),
            row("delta", 20, json!(1), json!(-3)),
        ],
        "7d: the previous ranks are those of the 7 days before"
    );
    let body = ok_json(&app, "/v1/rankings/popular?window=all").await;
    assert_eq!(
        ranked(&body),
        [
            row("delta", 520, null.clone(), null.clone()),
            row("gamma", 115, null.clone(), null.clone()),
            row("beta", 114, null.clone(), null.clone()),
            row("alpha", 100, null.clone(), null.clone()),
        ],
        "all: there is no previous window"
    );
}

#[tokio::test]
async fn a_tag_ranking_ranks_its_previous_window_within_the_tag_too() {
    let app = moving_app().await;
    let null = Value::Null;
    let body = ok_json(&app, "/v1/rankings/popular?window=24h&tag=pakistan").await;
    assert_eq!(body["tag"], "pakistan");
    assert_eq!(
        ranked(&body),
        [
            row("alpha", 90, json!(2), json!(1)),
            row("gamma", 30, json!(1), json!(-1)),
            row("delta", 20, null.clone(), null.clone()),
        ]
    );
    let body = ok_json(&app, "/v1/rankings/popular?window=30d&tag=economy").await;
    assert_eq!(
        ranked(&body),
        [row("beta", 114, null.clone(), null.clone())],
        "nothing was viewed in the 30 days before the last 30"
    );
}

#[tokio::test]
async fn trending_ranks_growth_against_an_articles_own_average() {
    let app = TestApp::with_site(site_with(
        vec![
            article("surging", 1, &[]),
            article("big", 2, &[]),
            article("at-floor", 3, &[]),
            article("trickle", 4, &[]),
            draft("hidden"),
            with(scheduled("coming"), "tags", json!([])),
        ],
        vec![],
    ))
    .await;
    let (recent, earlier) = (hours_ago(2), hours_ago(72));
    add_buckets(
        &app,
        &[
            // 200 against 70 in the 7 days before, 10 a day: 20 times usual.
            ("surging", "hour", recent, 200),
            ("surging", "hour", earlier, 70),
            // 300 against 700, 100 a day: 3 times usual.
            ("big", "hour", recent, 300),
            ("big", "hour", earlier, 700),
            // Exactly the floor, never seen before: the average counts as 1.
            ("at-floor", "hour", recent, 10),
            // Below the floor of 10 views in the last 24 hours.
            ("trickle", "hour", recent, 5),
            ("hidden", "hour", recent, 1000),
            ("coming", "hour", recent, 1000),
        ],
    )
    .await;
    let body = ok_json(&app, "/v1/rankings/trending").await;
    assert_eq!(body["min_views_24h"], 10);
    assert!(body["generated_at"].is_string(), "{body}");
    let entries: Vec<(u64, &str, i64, f64, f64)> = body["data"]
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|entry| {
            (
                entry["rank"].as_u64().expect("rank"),
                entry["article"]["slug"].as_str().expect("slug"),
                entry["views_24h"].as_i64().expect("views_24h"),
                entry["daily_average_before"].as_f64().expect("average"),
                entry["ratio"].as_f64().expect("ratio"),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (1, "surging", 200, 10.0, 20.0),
            (2, "at-floor", 10, 0.0, 10.0),
            (3, "big", 300, 100.0, 3.0),
        ],
        "{body}"
    );
    let body = ok_json(&app, "/v1/rankings/trending?limit=1").await;
    assert_eq!(body["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn stats_give_every_day_oldest_first_with_zeros_filled() {
    let app = TestApp::with_site(site_with(
        vec![article("charted", 1, &[]), draft("hidden")],
        vec![],
    ))
    .await;
    let today = Utc::now().date_naive();
    let day = |days| days_before(today, days);
    add_buckets(
        &app,
        &[
            ("charted", "hour", at_hour(day(0), 0), 3),
            ("charted", "hour", at_hour(day(1), 5), 7),
            ("charted", "hour", at_hour(day(1), 23), 8),
            ("charted", "day", at_hour(day(3), 0), 100),
            ("charted", "hour", at_hour(day(6), 12), 2),
            // The day before the first of 7: not in the series.
            ("charted", "hour", at_hour(day(7), 12), 1000),
            ("hidden", "hour", at_hour(day(0), 0), 50),
        ],
    )
    .await;
    let by_date: BTreeMap<NaiveDate, i64> = [
        (day(0), 3),
        (day(1), 15),
        (day(3), 100),
        (day(6), 2),
        (day(7), 1000),
    ]
    .into();
    let body = ok_json(&app, "/v1/articles/charted/stats?days=7").await;
    let today_after = Utc::now().date_naive();
    assert_eq!(body["slug"], "charted");
    let series: Vec<(NaiveDate, i64)> = body["days"]
        .as_array()
        .expect("days is a list")
        .iter()
        .map(|entry| {
            let date = entry["date"]
                .as_str()
                .expect("date")
                .parse()
                .expect("a date");
            (date, entry["views"].as_i64().expect("views"))
        })
        .collect();
    // The series ends today, as the server saw it (the test may straddle midnight).
    let last = series.last().expect("a day").0;
    assert!(last == today || last == today_after, "{body}");
    let expected: Vec<(NaiveDate, i64)> = (0..7)
        .rev()
        .map(|back| days_before(last, back))
        .map(|date| (date, by_date.get(&date).copied().unwrap_or(0)))
        .collect();
    assert_eq!(series, expected, "{body}");
    if last == today {
        assert_eq!(series.iter().map(|(_, views)| views).sum::<i64>(), 120);
    }
    let body = ok_json(&app, "/v1/articles/charted/stats?days=1").await;
    assert_eq!(body["days"].as_array().map(Vec::len), Some(1), "{body}");
    let body = ok_json(&app, "/v1/articles/charted/stats").await;
    assert_eq!(
        body["days"].as_array().map(Vec::len),
        Some(30),
        "30 days by default"
    );
}

#[tokio::test]
async fn stats_reject_a_day_count_outside_1_to_365_and_unknown_or_hidden_articles() {
    let app = TestApp::with_site(site_with(
        vec![
            article("charted", 1, &[]),
            draft("hidden"),
            scheduled("coming"),
        ],
        vec![],
    ))
    .await;
    for days in ["0", "366", "-1", "seven", ""] {
        let path = format!("/v1/articles/charted/stats?days={days}");
        assert_invalid_parameter(&app, &path, "days").await;
    }
    let body = ok_json(&app, "/v1/articles/charted/stats?days=365").await;
    assert_eq!(body["days"].as_array().map(Vec::len), Some(365));
    for slug in ["no-such-article", "hidden", "coming"] {
        let path = format!("/v1/articles/{slug}/stats?days=7");
        assert_problem(app.get(&path).await, 404).await;
    }
}

// ---------------------------------------------------------------------------
// 5. The roll-up of old hourly buckets
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_roll_up_turns_old_hours_into_exact_days_once() {
    let app = TestApp::with_site(site_with(
        vec![article("old", 1, &[]), article("other", 2, &[])],
        vec![],
    ))
    .await;
    let today = Utc::now().date_naive();
    let day = |days| days_before(today, days);
    add_buckets(
        &app,
        &[
            ("old", "hour", at_hour(day(20), 6), 40),
            ("old", "day", at_hour(day(10), 0), 100),
            ("old", "hour", at_hour(day(10), 1), 5),
            ("old", "hour", at_hour(day(10), 13), 7),
            ("old", "hour", at_hour(day(10), 23), 11),
            ("old", "hour", at_hour(day(9), 0), 2),
            ("old", "hour", at_hour(day(9), 22), 3),
            // Within 8 days: kept by the hour.
            ("old", "hour", at_hour(day(7), 12), 9),
            ("old", "hour", hours_ago(2), 1),
            ("other", "hour", at_hour(day(10), 4), 50),
        ],
    )
    .await;
    let all_time = [("old", 178), ("other", 50)].map(|(slug, views)| (slug.to_string(), views));
    let totals = |body: &Value| -> Vec<(String, i64)> {
        ranked(body)
            .into_iter()
            .map(|(slug, views, _, _)| (slug, views))
            .collect()
    };
    let body = ok_json(&app, "/v1/rankings/popular?window=all").await;
    assert_eq!(totals(&body), all_time);

    let keep = TimeDelta::days(broadsheet::popularity::ROLL_UP_AFTER_DAYS);
    assert_eq!(keep, TimeDelta::days(8));
    broadsheet::popularity::counter::roll_up(&app.pool, keep)
        .await
        .expect("roll-up");
    let bucket = |slug: &str, granularity: &str, bucket_start, views| Bucket {
        slug: slug.into(),
        granularity: granularity.into(),
        bucket_start,
        views,
    };
    let expected = vec![
        bucket("old", "day", at_hour(day(20), 0), 40),
        bucket("old", "day", at_hour(day(10), 0), 123),
        bucket("old", "day", at_hour(day(9), 0), 5),
        bucket("old", "hour", at_hour(day(7), 12), 9),
        bucket("old", "hour", hours_ago(2), 1),
        bucket("other", "day", at_hour(day(10), 0), 50),
    ];
    assert_eq!(stored_buckets(&app).await, expected);

    let again = broadsheet::popularity::counter::roll_up(&app.pool, keep)
        .await
        .expect("second roll-up");
    assert_eq!(again, 0, "nothing is left to roll up");
    assert_eq!(
        stored_buckets(&app).await,
        expected,
        "a second run changes nothing"
    );
    app.refresh_rankings().await;
    let body = ok_json(&app, "/v1/rankings/popular?window=all").await;
    assert_eq!(
        totals(&body),
        all_time,
        "all-time totals survive the roll-up"
    );
}

// ---------------------------------------------------------------------------
// 6. Rankings served from the snapshot
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rankings_change_when_the_snapshot_is_refreshed_not_before() {
    let site = site_with(
        vec![article("leader", 1, &[]), article("climber", 2, &[])],
        vec![],
    );
    // The server refreshes on its own only at start: the test decides when.
    let app = proxied_app(site, |config| {
        config.popularity.snapshot_interval = Duration::from_secs(3600);
    })
    .await;
    add_buckets(
        &app,
        &[
            ("leader", "hour", hours_ago(2), 5),
            ("climber", "hour", hours_ago(2), 3),
        ],
    )
    .await;
    let path = "/v1/rankings/popular?window=24h";
    let fetch = |if_none_match: Option<String>| {
        let mut request = app.client.get(format!("{}{path}", app.address));
        if let Some(etag) = if_none_match {
            request = request.header("if-none-match", etag);
        }
        async move {
            let response = request.send().await.expect("ranking answered");
            let status = response.status().as_u16();
            let etag = response
                .headers()
                .get("etag")
                .map(|v| v.to_str().expect("ascii").to_string());
            let body = response.text().await.expect("body");
            (status, etag.expect("an ETag"), body)
        }
    };
    let (status, etag, before) = fetch(None).await;
    assert_eq!(status, 200);
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "a strong ETag: {etag}"
    );
    let parsed: Value = serde_json::from_str(&before).expect("JSON");
    assert!(parsed["generated_at"].is_string(), "{parsed}");
    let views = |body: &str| -> Vec<(String, i64)> {
        let body: Value = serde_json::from_str(body).expect("JSON");
        ranked(&body)
            .into_iter()
            .map(|(slug, views, _, _)| (slug, views))
            .collect()
    };
    assert_eq!(
        views(&before),
        [("leader".to_string(), 5), ("climber".to_string(), 3)]
    );

    Endpoint::of(&app).beacons("climber", 0..4).await;
    app.flush_views().await;
    assert_eq!(
        stored_views(&app.database_url).await["climber"],
        7,
        "written"
    );
    let (status, same_etag, unchanged) = fetch(None).await;
    assert_eq!(status, 200);
    assert_eq!(
        (same_etag.as_str(), unchanged.as_str()),
        (etag.as_str(), before.as_str())
    );
    let (status, _, _) = fetch(Some(etag.clone())).await;
    assert_eq!(status, 304, "unchanged until the snapshot refreshes");

    app.refresh_rankings().await;
    let (status, new_etag, after) = fetch(Some(etag.clone())).await;
    assert_eq!(status, 200, "the old ETag no longer matches");
    assert_ne!(new_etag, etag);
    assert_eq!(
        views(&after),
        [("climber".to_string(), 7), ("leader".to_string(), 5)]
    );
    let generated = |body: &str| -> DateTime<Utc> {
        let body: Value = serde_json::from_str(body).expect("JSON");
        body["generated_at"]
            .as_str()
            .expect("generated_at")
            .parse()
            .expect("a time")
    };
    assert!(generated(&after) > generated(&before));
    let (status, etag_304, body) = fetch(Some(new_etag.clone())).await;
    assert_eq!(
        (status, etag_304.as_str(), body.as_str()),
        (304, new_etag.as_str(), "")
    );
}

/// Rows of `view_windows` that differ from the windows counted afresh from
/// `view_counts` at the hour of the windows' clock: none when they agree.
async fn windows_off_the_counts(app: &TestApp) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Off {
        #[diesel(sql_type = Text)]
        row: String,
    }
    let sql = "WITH afresh AS ( \
                 SELECT v.article_id, SUM(v.views)::int8 AS all_time, SUM(s.day)::int8 AS day, \
                        SUM(s.day_before)::int8 AS day_before, SUM(s.week)::int8 AS week, \
                        SUM(s.week_before)::int8 AS week_before, SUM(s.month)::int8 AS month, \
                        SUM(s.month_before)::int8 AS month_before, SUM(s.trend_base)::int8 AS trend_base \
                 FROM view_counts v CROSS JOIN view_windows_clock c \
                 CROSS JOIN LATERAL view_window_shares(c.as_of, v.bucket_start, v.views) s \
                 GROUP BY v.article_id), \
               kept AS (SELECT * FROM view_windows WHERE all_time <> 0) \
               SELECT format('%s', d) AS row FROM ((TABLE afresh EXCEPT TABLE kept) \
                   UNION ALL (TABLE kept EXCEPT TABLE afresh)) d";
    let rows: Vec<Off> = crate::storms::rows(&app.database_url, sql).await;
    rows.into_iter().map(|off| off.row).collect()
}

#[tokio::test]
async fn the_stored_windows_follow_every_write_and_every_hour_that_passes() {
    let app = TestApp::with_site(site_with(
        vec![article("a", 1, &[]), article("b", 2, &[])],
        vec![],
    ))
    .await;
    let today = Utc::now().date_naive();
    // Buckets on both sides of every window's edge, by the hour and by the day.
    let mut buckets = Vec::new();
    for hours in [
        0, 1, 23, 24, 25, 47, 48, 49, 167, 168, 169, 191, 192, 193, 200,
    ] {
        buckets.push(("a", "hour", hours_ago(hours), 1 + hours));
    }
    for days in [9, 13, 14, 15, 29, 30, 31, 59, 60, 61, 100] {
        buckets.push((
            "b",
            "day",
            at_hour(days_before(today, days), 0),
            1000 + days as i64,
        ));
    }
    add_buckets(&app, &buckets).await;
    assert_eq!(windows_off_the_counts(&app).await, Vec::<String>::new());

    // Added to, rolled up, removed: each write keeps them.
    app.sql(
        "UPDATE view_counts SET views = views + 3 WHERE article_id = (SELECT id FROM articles WHERE slug = 'a'); \
         DELETE FROM view_counts WHERE views = 1015",
    )
    .await;
    broadsheet::popularity::counter::roll_up(&app.pool, TimeDelta::days(8))
        .await
        .expect("roll-up");
    assert_eq!(windows_off_the_counts(&app).await, Vec::<String>::new());

    // Windows kept as of 70 days ago, moved on to now: as counted afresh.
    app.sql(
        "UPDATE view_windows_clock SET as_of = as_of - interval '1680 hours'; \
         UPDATE view_windows w SET day = s.day, day_before = s.day_before, week = s.week, \
             week_before = s.week_before, month = s.month, month_before = s.month_before, \
             trend_base = s.trend_base \
         FROM (SELECT v.article_id, SUM(f.day) AS day, SUM(f.day_before) AS day_before, \
                  SUM(f.week) AS week, SUM(f.week_before) AS week_before, SUM(f.month) AS month, \
                  SUM(f.month_before) AS month_before, SUM(f.trend_base) AS trend_base \
               FROM view_counts v CROSS JOIN view_windows_clock c \
               CROSS JOIN LATERAL view_window_shares(c.as_of, v.bucket_start, v.views) f \
               GROUP BY v.article_id) s WHERE s.article_id = w.article_id",
    )
    .await;
    assert_eq!(windows_off_the_counts(&app).await, Vec::<String>::new());
    let mut conn = app.pool.get().await.expect("connection");
    for hours in [1, 5, 24, 700, 1000] {
        let at = Utc::now() - TimeDelta::hours(1680 - hours);
        broadsheet::popularity::queries::advance(&mut conn, at)
            .await
            .expect("windows moved on");
        assert_eq!(
            windows_off_the_counts(&app).await,
            Vec::<String>::new(),
            "{hours}"
        );
    }
    broadsheet::popularity::queries::advance(&mut conn, Utc::now())
        .await
        .expect("windows moved on");
    assert_eq!(windows_off_the_counts(&app).await, Vec::<String>::new());
    // Never back.
    broadsheet::popularity::queries::advance(&mut conn, Utc::now() - TimeDelta::days(3))
        .await
        .expect("windows kept");
    assert_eq!(windows_off_the_counts(&app).await, Vec::<String>::new());
}
