//! `broadsheet keys create|list|revoke`: the real binary against a test
//! app's database, and the keys it makes used against that app's server.

use std::process::{Command, Output};

use chrono::{NaiveDateTime, Utc};
use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// Runs `broadsheet keys <args>` with `DATABASE_URL` pointing at the app's database.
async fn keys(app: &TestApp, args: &[&str]) -> Output {
    let url = app.database_url.clone();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_broadsheet"))
            .arg("keys")
            .args(&args)
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the broadsheet binary runs")
    })
    .await
    .expect("the command finishes")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command failed, and that it printed no key.
fn assert_failed(output: &Output, what: &str) {
    assert!(!output.status.success(), "{what} should fail");
    assert!(
        !stdout(output).contains("bsk_"),
        "{what} printed a key: {}",
        stdout(output)
    );
    assert!(!stderr(output).trim().is_empty(), "{what} says why");
}

/// Creates a key through the command, which prints it alone on stdout.
async fn create_key(app: &TestApp, name: &str, role: &str) -> String {
    let output = keys(app, &["create", "--name", name, "--role", role]).await;
    assert!(
        output.status.success(),
        "create {name}: {}",
        stderr(&output)
    );
    let printed = stdout(&output);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "only the key on stdout: {printed}");
    let key = lines[0].to_string();
    assert!(key.starts_with("bsk_"), "{key}");
    assert!(
        !stderr(&output).contains(&key),
        "the key is printed once, on stdout"
    );
    key
}

/// `keys list`, as rows of whitespace-separated columns, header skipped.
async fn listed(app: &TestApp) -> (String, Vec<Vec<String>>) {
    let output = keys(app, &["list"]).await;
    assert!(output.status.success(), "list: {}", stderr(&output));
    let printed = stdout(&output);
    let mut lines = printed.lines();
    let header = lines.next().expect("a header line");
    for column in ["name", "role", "created", "last used", "revoked"] {
        assert!(header.contains(column), "{header}");
    }
    let rows = lines
        .map(|line| line.split_whitespace().map(String::from).collect())
        .collect();
    (printed, rows)
}

/// The listed row of the key named `name`.
fn row<'a>(rows: &'a [Vec<String>], name: &str) -> &'a [String] {
    rows.iter()
        .find(|row| row[0] == name)
        .unwrap_or_else(|| panic!("{name} is not listed in {rows:?}"))
}

/// Asserts `date time` columns name a moment within the last few minutes.
fn assert_recent(date: &str, time: &str) {
    let at = NaiveDateTime::parse_from_str(&format!("{date} {time}"), "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("{date} {time}: {e}"))
        .and_utc();
    let age = Utc::now() - at;
    assert!(
        age >= chrono::Duration::seconds(-5) && age <= chrono::Duration::minutes(5),
        "{at} is not recent"
    );
}

/// The status of a request with `key` that needs a valid key (listing drafts).
async fn keyed_status(app: &TestApp, key: &str) -> u16 {
    app.with_key(Method::GET, "/v1/articles?status=draft", key)
        .send()
        .await
        .expect("request reaches the server")
        .status()
        .as_u16()
}

#[tokio::test]
async fn keys_create_prints_a_key_once_that_then_works_against_the_server() {
    let app = TestApp::with_site(base_site()).await;
    let key = create_key(&app, "desktop-editor", "editor").await;
    assert_eq!(keyed_status(&app, &key).await, 200);
    let created = app
        .with_key(Method::POST, "/v1/articles", &key)
        .json(&json!({"slug": "by-cli-key", "title": "Written with a CLI key"}))
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(created.status(), 201);
    let revisions = app
        .with_key(Method::GET, "/v1/articles/by-cli-key/revisions", &key)
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(revisions.status(), 200);
}

#[tokio::test]
async fn keys_create_stores_the_role_it_is_given() {
    let app = TestApp::with_site(base_site()).await;
    let editor = create_key(&app, "an-editor", "editor").await;
    let admin = create_key(&app, "an-admin", "admin").await;
    for slug in ["kept", "removed"] {
        let created = app
            .with_key(Method::POST, "/v1/articles", &editor)
            .json(&json!({"slug": slug, "title": slug}))
            .send()
            .await
            .expect("request reaches the server");
        assert_eq!(created.status(), 201);
    }
    let by_editor = app
        .with_key(Method::DELETE, "/v1/articles/kept", &editor)
        .send()
        .await
        .expect("request reaches the server");
    assert_problem(by_editor, 403).await;
    let by_admin = app
        .with_key(Method::DELETE, "/v1/articles/removed", &admin)
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(by_admin.status(), 204);
}

#[tokio::test]
async fn keys_create_refuses_a_name_that_is_taken() {
    let app = TestApp::spawn().await;
    let first = create_key(&app, "night-desk", "editor").await;
    let again = keys(&app, &["create", "--name", "night-desk", "--role", "admin"]).await;
    assert_failed(&again, "a second night-desk");
    assert!(stderr(&again).contains("night-desk"), "{}", stderr(&again));
    let (_, rows) = listed(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(row(&rows, "night-desk")[1], "editor");
    assert_eq!(keyed_status(&app, &first).await, 200);
}

#[tokio::test]
async fn keys_create_refuses_an_unknown_role_or_a_blank_name() {
    let app = TestApp::spawn().await;
    let boss = keys(&app, &["create", "--name", "the-boss", "--role", "boss"]).await;
    assert_failed(&boss, "role boss");
    let blank = keys(&app, &["create", "--name", "  ", "--role", "editor"]).await;
    assert_failed(&blank, "a blank name");
    let (_, rows) = listed(&app).await;
    assert!(rows.is_empty(), "nothing stored: {rows:?}");
}

#[tokio::test]
async fn keys_list_shows_name_role_and_dates_but_never_the_key() {
    let app = TestApp::spawn().await;
    let used = create_key(&app, "used-key", "editor").await;
    let unused = create_key(&app, "unused-key", "admin").await;
    assert_eq!(keyed_status(&app, &used).await, 200);

    let (printed, rows) = listed(&app).await;
    for key in [&used, &unused] {
        // `bsk_<lookup>_<secret>`: the secret itself may contain `_`.
        let secret = key.splitn(3, '_').nth(2).expect("a secret half");
        assert!(!printed.contains(secret), "a secret is listed: {printed}");
    }
    assert!(!printed.contains("bsk_"), "{printed}");
    assert_eq!(rows.len(), 2, "{rows:?}");

    let used = row(&rows, "used-key");
    assert_eq!(used[1], "editor");
    assert_recent(&used[2], &used[3]);
    assert_recent(&used[4], &used[5]);
    assert_eq!(used[6..], ["-"], "not revoked");

    let unused = row(&rows, "unused-key");
    assert_eq!(unused[1], "admin");
    assert_recent(&unused[2], &unused[3]);
    assert_eq!(unused[4..], ["-", "-"], "never used, not revoked");
}

#[tokio::test]
async fn keys_revoke_makes_the_key_401_from_then_on() {
    let app = TestApp::spawn().await;
    let leaving = create_key(&app, "leaving", "editor").await;
    let staying = create_key(&app, "staying", "editor").await;
    assert_eq!(keyed_status(&app, &leaving).await, 200);

    let revoked = keys(&app, &["revoke", "leaving"]).await;
    assert!(revoked.status.success(), "{}", stderr(&revoked));

    let refused = app
        .with_key(Method::POST, "/v1/articles", &leaving)
        .json(&json!({"slug": "too-late", "title": "Too late"}))
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer realm=\"broadsheet\""
    );
    assert_problem(refused, 401).await;
    assert_eq!(keyed_status(&app, &leaving).await, 401);
    assert_eq!(keyed_status(&app, &staying).await, 200);

    let (_, rows) = listed(&app).await;
    let leaving = row(&rows, "leaving");
    assert_recent(&leaving[leaving.len() - 2], &leaving[leaving.len() - 1]);
    assert_eq!(row(&rows, "staying").last().map(String::as_str), Some("-"));

    let again = keys(&app, &["revoke", "leaving"]).await;
    assert_failed(&again, "revoking twice");
}

#[tokio::test]
async fn keys_revoke_fails_for_a_name_no_key_has() {
    let app = TestApp::spawn().await;
    let output = keys(&app, &["revoke", "nobody"]).await;
    assert_failed(&output, "revoking nobody");
    assert!(stderr(&output).contains("nobody"), "{}", stderr(&output));
}
