//! What an operator meets at the command line: the databases a command may
//! create, the error lines that name the fix, `--help`, and a clean stop on
//! Ctrl-C.

use std::process::Output;
use std::sync::atomic::{AtomicU32, Ordering};

use broadsheet::db::{self, SetupError};
use serde_json::Value;

use crate::cluster::{Cluster, POSTGRES_BIN};
use crate::helpers::*;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the command failed with an error line containing each of `words`.
fn assert_fails_saying(output: &Output, what: &str, words: &[&str]) {
    let said = stderr(output);
    assert!(!output.status.success(), "{what} should fail: {said}");
    for word in words {
        assert!(said.contains(word), "{what} should say `{word}`: {said}");
    }
}

/// A database name nothing has created.
fn missing_database() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "broadsheet_missing_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    database_url(&name)
}

/// Asserts the database at `url` still does not exist.
async fn assert_not_created(url: &str) {
    match db::connect(url).await {
        Err(SetupError::NoDatabase { .. }) => {}
        Err(other) => panic!("unexpected failure connecting to {url}: {other}"),
        Ok(_) => panic!("{url} was created"),
    }
}

#[tokio::test]
async fn commands_other_than_serve_and_migrate_refuse_a_missing_database_and_create_none() {
    let url = missing_database();
    let file = std::env::temp_dir().join(format!("broadsheet-cli-{}.json", std::process::id()));
    std::fs::write(&file, "{}").unwrap();
    let file = file.display().to_string();
    for args in [
        &["keys", "list"][..],
        &["keys", "create", "--name", "desk", "--role", "editor"],
        &["keys", "revoke", "desk"],
        &["export"],
        &["import", &file],
        &["import", "--dry-run", &file],
        &["seed"],
    ] {
        let output = run_broadsheet(args, &[("DATABASE_URL", &url)]).await;
        assert_fails_saying(
            &output,
            &args.join(" "),
            &["does not exist", "broadsheet migrate", "serve"],
        );
        assert_not_created(&url).await;
    }
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn an_unknown_role_is_reported_as_a_role_or_password_to_check() {
    let app = TestApp::spawn().await;
    let mut url = url::Url::parse(&app.database_url).unwrap();
    url.set_username("no_such_role").unwrap();
    let output = run_broadsheet(&["keys", "list"], &[("DATABASE_URL", url.as_str())]).await;
    assert_fails_saying(
        &output,
        "a role that does not exist",
        &["no_such_role", "password", "postgres://ROLE:PASSWORD@"],
    );
    assert!(!stderr(&output).contains("start PostgreSQL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_password_names_the_password_in_database_url() {
    let hba = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n";
    let Some(cluster) = tokio::task::block_in_place(|| Cluster::start_with(&[], Some(hba))) else {
        eprintln!("skipped: {POSTGRES_BIN}/initdb is absent, so no throwaway cluster can be made");
        return;
    };
    tokio::task::block_in_place(|| {
        cluster.psql("CREATE ROLE desk LOGIN CREATEDB PASSWORD 'p@ss:w/rd'");
    });
    let url = |credentials: &str| cluster.url("desk").replace("postgres@", credentials);
    for (credentials, what) in [("desk@", "no password"), ("desk:wrong@", "a wrong one")] {
        let output = run_broadsheet(&["migrate"], &[("DATABASE_URL", &url(credentials))]).await;
        assert_fails_saying(
            &output,
            what,
            &[
                "`desk`",
                "password",
                "postgres://ROLE:PASSWORD@",
                "percent-encoded",
            ],
        );
        assert!(!stderr(&output).contains("start PostgreSQL"));
    }
    let right = url("desk:p%40ss%3Aw%2Frd@");
    let output = run_broadsheet(&["migrate"], &[("DATABASE_URL", &right)]).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

#[tokio::test]
async fn serve_refuses_a_listen_address_that_is_not_host_and_port_before_touching_the_database() {
    let url = missing_database();
    let by_flag = run_broadsheet(&["serve", "--listen", ":8081"], &[("DATABASE_URL", &url)]).await;
    assert_fails_saying(&by_flag, "--listen :8081", &[":8081", "HOST:PORT"]);
    let by_variable = run_broadsheet(
        &["serve", "--seed"],
        &[("DATABASE_URL", &url), ("BROADSHEET_LISTEN", "8081")],
    )
    .await;
    assert_fails_saying(
        &by_variable,
        "BROADSHEET_LISTEN=8081",
        &["`8081`", "HOST:PORT", "BROADSHEET_LISTEN"],
    );
    assert_not_created(&url).await;
}

#[tokio::test]
async fn serve_on_a_taken_port_names_listen_and_its_variable_before_touching_the_database() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let url = missing_database();
    let output = run_broadsheet(
        &["serve", "--seed"],
        &[("DATABASE_URL", &url), ("BROADSHEET_LISTEN", &address)],
    )
    .await;
    assert_fails_saying(
        &output,
        "serving on a taken port",
        &[&address, "--listen", "BROADSHEET_LISTEN"],
    );
    assert_not_created(&url).await;
}

#[tokio::test]
async fn keys_create_explains_a_blank_name_and_a_name_a_revoked_key_had() {
    let app = TestApp::spawn().await;
    let env = [("DATABASE_URL", app.database_url.as_str())];
    let blank = run_broadsheet(&["keys", "create", "--name", "", "--role", "editor"], &env).await;
    assert_fails_saying(&blank, "an empty name", &["name", "not blank"]);
    assert!(!stderr(&blank).contains("violates"), "{}", stderr(&blank));

    let created = run_broadsheet(
        &["keys", "create", "--name", "night", "--role", "editor"],
        &env,
    );
    assert!(created.await.status.success());
    assert!(run_broadsheet(&["keys", "revoke", "night"], &env)
        .await
        .status
        .success());
    let again = run_broadsheet(
        &["keys", "create", "--name", "night", "--role", "admin"],
        &env,
    )
    .await;
    assert_fails_saying(
        &again,
        "reusing a revoked key's name",
        &["`night`", "belonged to a key revoked"],
    );
}

#[tokio::test]
async fn help_lists_the_environment_variables_each_command_reads() {
    for args in [&["--help"][..], &["serve", "--help"]] {
        let output = run_broadsheet(args, &[]).await;
        assert!(output.status.success());
        let help = String::from_utf8_lossy(&output.stdout);
        for variable in ["DATABASE_URL", "BROADSHEET_LISTEN", "sslmode"] {
            assert!(help.contains(variable), "{args:?} lacks {variable}: {help}");
        }
    }
    // `serve` reads every variable of the configuration table in src/config.rs.
    let serve = run_broadsheet(&["serve", "--help"], &[]).await;
    let help = String::from_utf8_lossy(&serve.stdout);
    let table = include_str!("../../src/config.rs");
    let variables: Vec<&str> = table
        .lines()
        .filter_map(|line| line.strip_prefix("//! | `")?.split('`').next())
        .collect();
    assert!(variables.len() >= 15, "{variables:?}");
    for variable in variables {
        assert!(
            help.contains(variable),
            "serve --help lacks {variable}: {help}"
        );
    }
    for args in [
        &["migrate", "--help"][..],
        &["seed", "--help"],
        &["export", "--help"],
        &["import", "--help"],
        &["keys", "create", "--help"],
        &["keys", "revoke", "--help"],
    ] {
        let output = run_broadsheet(args, &[]).await;
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("DATABASE_URL"), "{args:?}: {help}");
    }
    let revoke = run_broadsheet(&["keys", "revoke", "--help"], &[]).await;
    let help = String::from_utf8_lossy(&revoke.stdout);
    assert!(
        help.contains("Revoke a key") && help.contains("<NAME>  The name"),
        "{help}"
    );
}

#[tokio::test]
async fn ctrl_c_stops_serve_gracefully_and_writes_the_pending_views() {
    let app = TestApp::with_site(site_with(
        vec![published(
            "first",
            chrono::Utc::now() - chrono::Duration::days(1),
        )],
        vec![],
    ))
    .await;
    // Nothing is written before the stop: the stop itself must write it.
    let mut served = Served::start(&[
        ("DATABASE_URL", &app.database_url),
        ("BROADSHEET_FLUSH_INTERVAL_MS", "60000"),
    ])
    .await;
    let client = reqwest::Client::new();
    for visitor in 0..3 {
        let response = client
            .post(format!("{}/v1/articles/first/views", served.address))
            .header(
                "User-Agent",
                format!("Mozilla/5.0 (X11; Linux) Firefox/14{visitor}.0"),
            )
            .send()
            .await
            .expect("beacon answered");
        assert_eq!(response.status(), 202);
    }

    served.signal("INT");
    assert!(
        served.wait_for_exit().await,
        "exit 0: {}",
        served.log_text()
    );

    let log = served.log_text();
    assert!(log.contains("SIGINT received"), "{log}");
    assert!(log.contains("3 pending views written"), "{log}");
    app.refresh_rankings().await;
    let (_, ranking) = app.get_json("/v1/rankings/popular?window=all").await;
    assert_eq!(ranking["data"][0]["views"], Value::from(3), "{ranking}");
}
