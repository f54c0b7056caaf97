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
        outlets::table
            .select(outlets::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        articles::table
            .select(articles::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        tags::table
            .select(tags::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        article_tags::table
            .select(article_tags::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        excerpts::table
            .select(excerpts::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        roundups::table
            .select(roundups::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        roundup_links::table
            .select(roundup_links::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        api_keys::table
            .select(api_keys::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        article_slug_history::table
            .select(article_slug_history::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        article_revisions::table
            .select(article_revisions::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        idempotent_requests::table
            .select(idempotent_requests::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
        view_counts::table
            .select(view_counts::all_columns)
            .limit(0)
            .execute(&mut conn)
            .unwrap();
    })
    .await
    .unwrap();
}
