//! Migrations apply, revert and re-apply cleanly, and `src/schema.rs` names
//! what they create.

use broadsheet::db::{self, MIGRATIONS};
use broadsheet::schema::*;
use diesel::prelude::*;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::MigrationHarness;

use crate::helpers::ScratchDatabase;

fn user_tables(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tablename: String,
    }
    diesel::sql_query(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load::<Table>(conn)
    .unwrap()
    .into_iter()
    .map(|t| t.tablename)
    .collect()
}

#[tokio::test]
async fn every_migration_reverts_and_reapplies_cleanly() {
    let scratch = ScratchDatabase::create("migrations");
    db::migrate(&scratch.url).await.unwrap();
    let conn = db::connect(&scratch.url).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        let migrated = user_tables(&mut conn);
        assert!(migrated.contains(&"articles".to_string()), "{migrated:?}");
        conn.revert_all_migrations(MIGRATIONS).unwrap();
        assert_eq!(
            user_tables(&mut conn),
            Vec::<String>::new(),
            "down.sql leaves tables behind"
        );
        conn.run_pending_migrations(MIGRATIONS).unwrap();
        assert_eq!(user_tables(&mut conn), migrated);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn schema_rs_names_every_column_the_migrations_create() {
    let scratch = ScratchDatabase::create("schema");
    db::migrate(&scratch.url).await.unwrap();
    let conn = db::connect(&scratch.url).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        // Each query names every column schema.rs declares; PostgreSQL refuses unknown ones.
        macro_rules! select_every_column {
            ($($table:ident),* $(,)?) => {$(
                $table::table
                    .select($table::all_columns)
                    .limit(0)
                    .execute(&mut conn)
                    .unwrap_or_else(|e| panic!("{}: {e}", stringify!($table)));
            )*};
        }
        select_every_column!(
            outlets,
            articles,
            tags,
            article_tags,
            excerpts,
            roundups,
            roundup_links,
            api_keys,
            article_slug_history,
            article_revisions,
            idempotent_requests,
            view_counts,
            view_flushes,
            publication_removals,
            changes,
            webhooks,
            webhook_deliveries,
            webhook_redeliveries,
        );
    })
    .await
    .unwrap();
}

/// The search documents' time (`article_public_from`) and the change log's
/// rule (`article_is_public`) say the same of every status, time and moment.
#[tokio::test]
async fn the_time_an_article_is_public_from_agrees_with_whether_it_is_public() {
    #[derive(QueryableByName)]
    struct Disagreements {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let scratch = ScratchDatabase::create("public_from");
    db::migrate(&scratch.url).await.unwrap();
    let conn = db::connect(&scratch.url).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        let found = diesel::sql_query(
            "SELECT count(*) AS count \
               FROM unnest(ARRAY['draft', 'published', 'scheduled', 'archived']) AS s (status), \
                    unnest(ARRAY[NULL, '2011-10-24T09:00:00Z', '2030-01-01T00:00:00Z']::timestamptz[]) \
                        AS p (published_at), \
                    unnest(ARRAY['2011-10-24T08:59:59Z', '2011-10-24T09:00:00Z', \
                                 '2026-11-28T00:00:00Z']::timestamptz[]) AS t (at) \
              WHERE article_is_public(s.status, p.published_at, t.at) \
                    IS DISTINCT FROM \
                    coalesce(article_public_from(s.status, p.published_at) <= t.at, false)",
        )
        .get_result::<Disagreements>(&mut conn)
        .unwrap();
        assert_eq!(found.count, 0);
    })
    .await
    .unwrap();
}
