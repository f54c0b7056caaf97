//! The database: the connection pool, the embedded migrations, and creating
//! the database on first start.
//!
//! Connections are checked out without a health query (`RecyclingMethod::Fast`):
//! the per-checkout `SELECT 1` cost 15–17% of throughput, and a connection that
//! fails a real query is marked broken and discarded by the pool anyway.

use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;

use crate::config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Serializes concurrent migrators (several instances starting at once).
const MIGRATION_LOCK_KEY: i64 = 0x6272_6f61_6473_6874; // "broadsht"

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

/// Why the service could not reach or prepare its database.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "DATABASE_URL is not a valid PostgreSQL URL (postgres://user@host:port/database): {0}"
    )]
    BadUrl(String),
    #[error("cannot reach PostgreSQL at {target} ({cause}); start PostgreSQL or point DATABASE_URL at a running server")]
    Unreachable { target: String, cause: String },
    #[error("database setup failed: {0}")]
    Failed(String),
}

/// Builds the pool. No connection is opened until the first request needs one.
pub fn pool(config: &Config) -> Result<DbPool, SetupError> {
    let statement_timeout_ms = config.statement_timeout.as_millis();
    let mut manager_config = ManagerConfig::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET TIME ZONE 'UTC'"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager =
        AsyncDieselConnectionManager::new_with_config(config.database_url.clone(), manager_config);
    Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(config.pool_timeout))
        .create_timeout(Some(config.pool_timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| SetupError::Failed(e.to_string()))
}

/// Creates the database named in the URL when it does not exist yet.
pub async fn ensure_database(database_url: &str) -> Result<(), SetupError> {
    let (maintenance_url, name) = split_database_url(database_url)?;
    let mut conn = connect(&maintenance_url)
        .await
        .map_err(|error| match error {
            // Name the server the user configured, not the maintenance database.
            SetupError::Unreachable { cause, .. } => SetupError::Unreachable {
                target: describe_target(database_url),
                cause,
            },
            other => other,
        })?;
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(&name)
            .get_result(&mut conn)
            .await
            .map_err(|e| SetupError::Failed(e.to_string()))?;
    if !found.exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match conn
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            Ok(()) => log::info!("created database {name}"),
            // Another instance created it between our check and our CREATE.
            Err(diesel::result::Error::DatabaseError(_, info))
                if info.message().contains("already exists") => {}
            Err(e) => return Err(SetupError::Failed(format!("creating database {name}: {e}"))),
        }
    }
    Ok(())
}

/// Applies pending migrations, holding an advisory lock so that instances
/// starting together apply each migration once.
pub async fn migrate(database_url: &str) -> Result<Vec<String>, SetupError> {
    let conn = connect(database_url).await?;
    tokio::task::spawn_blocking(move || {
        let mut conn: AsyncConnectionWrapper<AsyncPgConnection> = conn.into();
        let lock =
            diesel::sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(MIGRATION_LOCK_KEY);
        diesel::RunQueryDsl::execute(lock, &mut conn)
            .map_err(|e| SetupError::Failed(e.to_string()))?;
        let applied = apply_pending(&mut conn)
            .map_err(|e| SetupError::Failed(format!("applying migrations: {e}")));
        let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(MIGRATION_LOCK_KEY);
        let _ = diesel::RunQueryDsl::execute(unlock, &mut conn);
        applied
    })
    .await
    .map_err(|e| SetupError::Failed(e.to_string()))?
}

/// Applies each pending migration in order, rendering the HTML of rows that
/// have none before the migration that requires it.
fn apply_pending(
    conn: &mut AsyncConnectionWrapper<AsyncPgConnection>,
) -> diesel::migration::Result<Vec<String>> {
    let mut applied = Vec::new();
    for migration in conn.pending_migrations(MIGRATIONS)? {
        let version = migration.name().version().to_string();
        if version == crate::stored_html::REQUIRED_FROM {
            crate::stored_html::fill(conn)?;
        }
        conn.run_migration(&*migration)?;
        applied.push(version);
    }
    Ok(applied)
}

/// The version of the newest migration this binary embeds.
pub fn latest_migration_version() -> String {
    MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .ok()
        .and_then(|all| all.iter().map(|m| m.name().version().to_string()).max())
        .unwrap_or_default()
}

/// True when the database answers and has every embedded migration applied.
pub async fn is_ready(conn: &mut AsyncPgConnection, latest_version: &str) -> QueryResult<bool> {
    #[derive(QueryableByName)]
    struct Ready {
        #[diesel(sql_type = Bool)]
        ready: bool,
    }
    diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM __diesel_schema_migrations WHERE version = $1) AS ready",
    )
    .bind::<Text, _>(latest_version)
    .get_result::<Ready>(conn)
    .await
    .map(|r| r.ready)
}

/// Opens one connection, with a bounded wait, for start-up work.
pub async fn connect(database_url: &str) -> Result<AsyncPgConnection, SetupError> {
    let target = describe_target(database_url);
    match tokio::time::timeout(
        Duration::from_secs(10),
        AsyncPgConnection::establish(database_url),
    )
    .await
    {
        Ok(Ok(conn)) => Ok(conn),
        // The server answered: the fix is not to start it.
        Ok(Err(e)) if e.to_string().contains("does not exist") => Err(SetupError::Failed(format!(
            "{target}: {}; `broadsheet migrate` creates the database",
            e.to_string().lines().next().unwrap_or_default()
        ))),
        Ok(Err(e)) => Err(SetupError::Unreachable {
            target,
            cause: e.to_string().lines().next().unwrap_or_default().to_string(),
        }),
        Err(_) => Err(SetupError::Unreachable {
            target,
            cause: "no answer within 10 s".into(),
        }),
    }
}

/// Splits `postgres://…/name` into a URL of the `postgres` maintenance database and `name`.
fn split_database_url(database_url: &str) -> Result<(String, String), SetupError> {
    let mut url = url::Url::parse(database_url).map_err(|e| SetupError::BadUrl(e.to_string()))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(SetupError::BadUrl(format!("scheme `{}`", url.scheme())));
    }
    let name = url.path().trim_start_matches('/').to_string();
    if name.is_empty() {
        return Err(SetupError::BadUrl("no database name in the path".into()));
    }
    let name = percent_decode(&name);
    url.set_path("/postgres");
    Ok((url.to_string(), name))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

/// `host:port/database` of a URL, without credentials, for messages.
fn describe_target(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(url) => format!(
            "{}:{}{}",
            url.host_str().unwrap_or("localhost"),
            url.port().unwrap_or(5432),
            url.path()
        ),
        Err(_) => "DATABASE_URL".into(),
    }
}
