//! The rules the API and the import apply (`validate::STORED`) and the
//! database's CHECK constraints are one rule: for every constrained text
//! column, each edge value is accepted by both or refused by both. Each
//! value is inserted in a savepoint that is rolled back, so the values do
//! not meet each other's unique constraints.

use broadsheet::validate::{Rule, STORED};
use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::helpers::TestApp;

/// Values around a length cap and the blank rule, in one- and multi-byte
/// characters.
fn text_edges(max: usize) -> Vec<String> {
    let mut values: Vec<String> = [
        "",
        " ",
        "  ",
        "\t",
        "\n",
        "\r\n",
        "\u{b}",
        "\u{c}",
        "\u{85}",
        "\u{a0}",
        "\u{1680}",
        "\u{2000}",
        "\u{200a}",
        "\u{2028}",
        "\u{2029}",
        "\u{202f}",
        "\u{205f}",
        "\u{3000}",
        " \u{a0}\u{3000}\t",
        "\u{200b}",
        "\u{feff}",
        "\u{180e}",
        "a",
        " a ",
        "\u{a0}a\u{3000}",
    ]
    .map(String::from)
    .to_vec();
    for unit in ["x", "é", "€", "😀"] {
        values.push(unit.repeat(max));
        values.push(unit.repeat(max + 1));
    }
    values.push(format!(" {}", "x".repeat(max - 1)));
    values.push(format!("{} ", "x".repeat(max)));
    values
}

fn slug_edges(max: usize) -> Vec<String> {
    let mut values: Vec<String> = [
        "a", "a-b", "a1-2b", "-a", "a-", "a--b", "A", "a_b", "a b", "é", "", " a", "a\u{a0}",
    ]
    .map(String::from)
    .to_vec();
    values.push("a".repeat(max));
    values.push("a".repeat(max + 1));
    values.push(format!("{}-b", "a".repeat(max - 2)));
    values.push(format!("{}-b", "a".repeat(max - 1)));
    values
}

/// Links that both sides judge by their shape alone. (The parser also
/// refuses hosts that the database's pattern cannot tell from good ones,
/// such as `https://%`: for those the rule is stricter, which
/// `links_the_rule_accepts_the_database_accepts` covers.)
fn link_edges() -> Vec<String> {
    let base = "https://example.org/";
    let room = broadsheet::validate::STORED_URL_MAX - base.len();
    let mut values: Vec<String> = [
        "https://example.org/",
        "http://example.org/a?b=c#d",
        "https://example.org/a b",
        "https://example.org/\t",
        "https://example.org/\u{a0}",
        "https://example.org/é",
        "http://bücher.de/",
        "ftp://example.org/",
        "https:",
        "https://",
        "HTTP://example.org/",
        "",
        " ",
    ]
    .map(String::from)
    .to_vec();
    values.push(format!("{base}{}", "a".repeat(room)));
    values.push(format!("{base}{}", "a".repeat(room + 1)));
    values.push(format!("{base}{}", "%C3%A9".repeat(room / 6)));
    values
}

fn country_edges() -> Vec<String> {
    ["PK", "US", "pk", "P", "PAK", "", "P1", "ÉU"]
        .map(String::from)
        .to_vec()
}

fn edges(rule: Rule) -> Vec<String> {
    match rule {
        Rule::Text { max } | Rule::Any { max } | Rule::Texts { max } => text_edges(max),
        Rule::Slug { max } => slug_edges(max),
        Rule::Link => link_edges(),
        Rule::CountryCode => country_edges(),
    }
}

/// An insert of one row of `table` with `column` bound to `$1` and every
/// other column a value that passes (the rows it needs exist: see `base`).
fn insert(table: &str, column: &str) -> String {
    let defaults: &[(&str, &str)] = match table {
        "outlets" => &[
            ("slug", "'walk-outlet'"),
            ("name", "'Name'"),
            ("home_url", "'https://example.org/'"),
            ("country_code", "NULL"),
        ],
        "tags" => &[("slug", "'walk-tag'"), ("name", "'Name'")],
        "articles" => &[
            ("slug", "'walk-article'"),
            ("title", "'Title'"),
            ("summary", "NULL"),
            ("body", "''"),
            ("body_html", "''"),
        ],
        "article_slug_history" => &[
            ("slug", "'walk-old'"),
            (
                "article_id",
                "(SELECT id FROM articles WHERE slug = 'base')",
            ),
        ],
        "excerpts" => &[
            (
                "article_id",
                "(SELECT id FROM articles WHERE slug = 'base')",
            ),
            ("position", "1"),
            ("headline", "'Headline'"),
            ("bylines", "'{}'::text[]"),
            ("outlet_id", "(SELECT id FROM outlets WHERE slug = 'base')"),
            ("source_url", "'https://example.org/'"),
            ("call_to_action", "NULL"),
            ("body", "'Quoted'"),
            ("body_html", "'<p>Quoted</p>'"),
        ],
        "roundups" => &[
            (
                "article_id",
                "(SELECT id FROM articles WHERE slug = 'base')",
            ),
            ("position", "1"),
            ("title", "'Title'"),
        ],
        "roundup_links" => &[
            (
                "roundup_id",
                "(SELECT id FROM roundups WHERE position = 99)",
            ),
            ("position", "1"),
            ("headline", "'Headline'"),
            ("outlet_id", "(SELECT id FROM outlets WHERE slug = 'base')"),
            ("url", "'https://example.org/'"),
        ],
        "webhooks" => &[
            ("url", "'https://example.org/'"),
            ("secret", "'a-secret-of-at-least-24-chars'"),
            ("last_delivered_event_id", "0"),
        ],
        other => panic!("no insert for table {other}"),
    };
    assert!(
        defaults.iter().any(|(name, _)| *name == column),
        "{table}.{column} is not in the insert"
    );
    let names: Vec<&str> = defaults.iter().map(|(name, _)| *name).collect();
    let values: Vec<&str> = defaults
        .iter()
        .map(|(name, value)| if *name == column { "$1" } else { value })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        values.join(", ")
    )
}

async fn base(conn: &mut AsyncPgConnection) {
    conn.batch_execute(
        "INSERT INTO outlets (slug, name, home_url) VALUES ('base', 'Base', 'https://example.org/');
         INSERT INTO articles (slug, title, body, body_html) VALUES ('base', 'Base', '', '');
         INSERT INTO roundups (article_id, position, title)
             SELECT id, 99, 'Base' FROM articles WHERE slug = 'base';",
    )
    .await
    .unwrap();
}

/// Whether the database stores `value` in `table.column`, the rest of the
/// row being good.
async fn database_accepts(
    conn: &mut AsyncPgConnection,
    table: &str,
    column: &str,
    rule: Rule,
    value: &str,
) -> bool {
    conn.batch_execute("SAVEPOINT walk").await.unwrap();
    let statement = insert(table, column);
    let outcome = if matches!(rule, Rule::Texts { .. }) {
        diesel::sql_query(statement)
            .bind::<Array<Text>, _>(vec![value.to_string()])
            .execute(conn)
            .await
    } else {
        diesel::sql_query(statement)
            .bind::<Text, _>(value)
            .execute(conn)
            .await
    };
    conn.batch_execute("ROLLBACK TO SAVEPOINT walk")
        .await
        .unwrap();
    match outcome {
        Ok(_) => true,
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::CheckViolation,
            _,
        )) => false,
        Err(other) => panic!("{table}.{column} = {value:?}: not a CHECK refusal: {other}"),
    }
}

async fn connect(app: &TestApp) -> AsyncPgConnection {
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    conn.batch_execute("BEGIN").await.unwrap();
    base(&mut conn).await;
    conn
}

#[tokio::test]
async fn every_constrained_column_accepts_exactly_what_its_rule_accepts() {
    let app = TestApp::spawn().await;
    let mut conn = connect(&app).await;
    let mut disagreements = Vec::new();
    for &(table, column, rule) in STORED {
        for value in edges(rule) {
            let rule_says = rule.accepts(&value);
            let database_says = database_accepts(&mut conn, table, column, rule, &value).await;
            if rule_says != database_says {
                let shown: String = value.chars().take(24).collect();
                disagreements.push(format!(
                    "{table}.{column} = {shown:?}… ({} chars): rule {rule_says}, database {database_says}",
                    value.chars().count()
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[tokio::test]
async fn links_the_rule_accepts_the_database_accepts() {
    let app = TestApp::spawn().await;
    let mut conn = connect(&app).await;
    for value in [
        "https://%",
        "http://exa mple.org/",
        "https://example.org/a/../b",
        "http://xn--bcher-kva.de/",
        "https://example.org:8080/?q=%C3%A9",
    ] {
        for &(table, column, rule) in STORED.iter().filter(|(_, _, rule)| *rule == Rule::Link) {
            if rule.accepts(value) {
                assert!(
                    database_accepts(&mut conn, table, column, rule, value).await,
                    "{table}.{column} refuses {value:?}, which the rule accepts"
                );
            }
        }
    }
}

/// A CHECK added to a text column later has to come with a rule here, or
/// the walk above would not see it.
#[tokio::test]
async fn every_checked_text_column_has_a_rule() {
    #[derive(diesel::QueryableByName)]
    struct Checked {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let app = TestApp::spawn().await;
    let mut conn = AsyncPgConnection::establish(&app.database_url)
        .await
        .unwrap();
    let checked: Vec<Checked> = diesel::sql_query(
        "SELECT DISTINCT c.conrelid::regclass::text || '.' || a.attname AS name
         FROM pg_constraint c
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
         WHERE c.contype = 'c'
           AND c.conrelid::regclass::text IN
               ('outlets', 'tags', 'articles', 'article_slug_history', 'excerpts',
                'roundups', 'roundup_links', 'webhooks')
           AND a.atttypid IN ('text'::regtype, 'text[]'::regtype)
           AND c.conname <> 'published_articles_have_a_date'
           AND a.attname NOT IN ('status', 'audience')
         ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let ruled: Vec<String> = STORED.iter().map(|(t, c, _)| format!("{t}.{c}")).collect();
    for Checked { name } in checked {
        assert!(
            ruled.contains(&name),
            "{name} has a CHECK but no rule in validate::STORED"
        );
    }
}
