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
            // Another instance created it between our check and our CREATE
            // (42P04; 23505 when both inserted into pg_database at once).
            Err(e)
                if matches!(
                    SqlState::of(&e),
                    Some(SqlState::DUPLICATE_DATABASE | SqlState::UNIQUE_VIOLATION)
                ) => {}
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
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| SetupError::Failed(format!("applying migrations: {e}")));
        let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
            .bind::<BigInt, _>(MIGRATION_LOCK_KEY);
        let _ = diesel::RunQueryDsl::execute(unlock, &mut conn);
        applied
    })
    .await
    .map_err(|e| SetupError::Failed(e.to_string()))?
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

/// A PostgreSQL SQLSTATE, such as `57P01` or `23505`.
///
/// diesel's error information has no field for it, so the vendored
/// diesel-async writes it at the head of the message of every error the
/// server sent (`57P01: terminating connection …`; see vendor/README.md).
/// Reading the code rather than the message text keeps the classification
/// right on a server whose `lc_messages` is not English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SqlState([u8; 5]);

impl SqlState {
    pub const NOT_NULL_VIOLATION: Self = Self(*b"23502");
    pub const FOREIGN_KEY_VIOLATION: Self = Self(*b"23503");
    pub const UNIQUE_VIOLATION: Self = Self(*b"23505");
    pub const CHECK_VIOLATION: Self = Self(*b"23514");
    pub const SERIALIZATION_FAILURE: Self = Self(*b"40001");
    pub const DEADLOCK_DETECTED: Self = Self(*b"40P01");
    pub const UNDEFINED_TABLE: Self = Self(*b"42P01");
    pub const DUPLICATE_DATABASE: Self = Self(*b"42P04");
    pub const CHARACTER_NOT_IN_REPERTOIRE: Self = Self(*b"22021");
    pub const QUERY_CANCELED: Self = Self(*b"57014");

    /// The code of an error the server sent; `None` for any other error.
    pub fn of(error: &diesel::result::Error) -> Option<Self> {
        match error {
            diesel::result::Error::DatabaseError(_, info) => Self::parse(info.message()),
            _ => None,
        }
    }

    /// The code at the head of a message: five digits or capital letters and a colon.
    fn parse(message: &str) -> Option<Self> {
        let head = message.as_bytes().get(..6)?;
        let code: [u8; 5] = head[..5].try_into().ok()?;
        let valid = head[5] == b':'
            && code
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        valid.then_some(Self(code))
    }

    /// The code's class, its first two characters (`08`, `23`, `57`…).
    pub fn class(&self) -> &str {
        &self.as_str()[..2]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and capitals are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("?????")
    }
}

impl std::fmt::Display for SqlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failed query means for whoever sent it: the one classification of
/// database failures, for the HTTP layer and the view flusher alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The database is unreachable, stopping, out of resources, too slow
    /// (statement timeout), or the statement lost a race with another
    /// transaction (deadlock, serialization failure): the same work may
    /// succeed when sent again. SQLSTATE classes 08, 53, 57, codes 40001 and
    /// 40P01, and a connection that failed before the server said why.
    Unavailable,
    /// The write conflicts with stored content: a unique or foreign key
    /// violation (class 23 other than CHECK and NOT NULL).
    Conflict,
    /// A value the schema's CHECK or NOT NULL refuses: the client's, which
    /// validation should have caught.
    Invalid,
    /// A value the database cannot take at all (class 22, data exception:
    /// bytes that are not text, a date out of range, an overflow).
    BadInput,
    /// Anything else: a fault of Broadsheet or its schema, not of the client
    /// or the database's availability.
    Bug,
}

impl Failure {
    /// Classifies a diesel error by its SQLSTATE. `diesel::NotFound` is not a
    /// failure of the database; callers that expect it handle it first.
    pub fn of(error: &diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            // The commit's own error says what happened; the rollback after
            // it fails too whenever the connection is gone.
            Error::RollbackErrorOnCommit { commit_error, .. } => Self::of(commit_error),
            Error::DatabaseError(kind, info) => match (SqlState::parse(info.message()), kind) {
                // Sent by the server: its code says what it means.
                (Some(state), _) => Self::of_state(state),
                // The connection broke before the server could say why.
                (
                    None,
                    DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                ) => Self::Unavailable,
                (None, _) => Self::Bug,
            },
            _ => Self::Bug,
        }
    }

    fn of_state(state: SqlState) -> Self {
        match state.class() {
            "08" | "53" | "57" => Self::Unavailable,
            _ if state == SqlState::SERIALIZATION_FAILURE
                || state == SqlState::DEADLOCK_DETECTED =>
            {
                Self::Unavailable
            }
            _ if state == SqlState::CHECK_VIOLATION || state == SqlState::NOT_NULL_VIOLATION => {
                Self::Invalid
            }
            "23" => Self::Conflict,
            "22" => Self::BadInput,
            _ => Self::Bug,
        }
    }
}

#[cfg(test)]
mod failure_tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn sent(kind: DatabaseErrorKind, message: &str) -> Error {
        Error::DatabaseError(kind, Box::new(message.to_string()))
    }

    fn unknown(message: &str) -> Error {
        sent(DatabaseErrorKind::Unknown, message)
    }

    #[test]
    fn the_sqlstate_is_read_from_the_head_of_a_server_message_only() {
        let state = SqlState::of(&unknown("57P01: terminating connection"));
        assert_eq!(state.map(|s| s.to_string()), Some("57P01".into()));
        assert_eq!(state.map(|s| s.class().to_string()), Some("57".into()));
        for message in [
            "terminating connection due to administrator command",
            "57P0: short",
            "57p01: lower case",
            "57P01 no colon",
            "",
        ] {
            assert_eq!(SqlState::of(&unknown(message)), None, "{message:?}");
        }
        assert_eq!(SqlState::of(&Error::NotFound), None);
    }

    #[test]
    fn unavailability_and_lost_races_are_retryable_whatever_diesel_calls_them() {
        for message in [
            "08006: connection failure",
            "08P01: protocol violation",
            "57P01: terminating connection due to administrator command",
            "57P02: terminating connection due to crash of another server process",
            "57P03: the database system is starting up",
            "57014: canceling statement due to statement timeout",
            "53300: sorry, too many clients already",
            "53100: could not extend file: No space left on device",
            "40P01: deadlock detected",
        ] {
            assert_eq!(
                Failure::of(&unknown(message)),
                Failure::Unavailable,
                "{message}"
            );
        }
        let serialization = sent(
            DatabaseErrorKind::SerializationFailure,
            "40001: could not serialize access",
        );
        assert_eq!(Failure::of(&serialization), Failure::Unavailable);
        for kind in [
            DatabaseErrorKind::UnableToSendCommand,
            DatabaseErrorKind::ClosedConnection,
        ] {
            let broken = sent(kind, "connection closed");
            assert_eq!(Failure::of(&broken), Failure::Unavailable);
        }
    }

    #[test]
    fn integrity_violations_are_the_clients_conflict_or_invalid_value() {
        let cases = [
            (
                DatabaseErrorKind::UniqueViolation,
                "23505: duplicate key",
                Failure::Conflict,
            ),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "23503: violates foreign key",
                Failure::Conflict,
            ),
            (
                DatabaseErrorKind::Unknown,
                "23P01: conflicting key value violates exclusion constraint",
                Failure::Conflict,
            ),
            (
                DatabaseErrorKind::CheckViolation,
                "23514: violates check constraint",
                Failure::Invalid,
            ),
            (
                DatabaseErrorKind::NotNullViolation,
                "23502: null value in column",
                Failure::Invalid,
            ),
            (
                DatabaseErrorKind::Unknown,
                "22021: invalid byte sequence",
                Failure::BadInput,
            ),
            (
                DatabaseErrorKind::Unknown,
                "22008: date/time field value out of range",
                Failure::BadInput,
            ),
            (
                DatabaseErrorKind::Unknown,
                "22P02: invalid input syntax",
                Failure::BadInput,
            ),
        ];
        for (kind, message, expected) in cases {
            assert_eq!(Failure::of(&sent(kind, message)), expected, "{message}");
        }
    }

    #[test]
    fn everything_else_is_a_bug() {
        for error in [
            unknown("42P01: relation \"nowhere\" does not exist"),
            unknown("42703: column \"nothing\" does not exist"),
            unknown("XX000: internal error"),
            // Unknown without a code did not come from the server.
            unknown("something diesel made up"),
            Error::NotFound,
            Error::BrokenTransactionManager,
        ] {
            assert_eq!(Failure::of(&error), Failure::Bug, "{error}");
        }
    }

    #[test]
    fn a_failed_commit_is_classified_by_the_commits_own_error() {
        let error = Error::RollbackErrorOnCommit {
            rollback_error: Box::new(sent(DatabaseErrorKind::ClosedConnection, "closed")),
            commit_error: Box::new(unknown("40001: could not serialize access")),
        };
        assert_eq!(Failure::of(&error), Failure::Unavailable);
        let error = Error::RollbackErrorOnCommit {
            rollback_error: Box::new(sent(DatabaseErrorKind::ClosedConnection, "closed")),
            commit_error: Box::new(sent(DatabaseErrorKind::UniqueViolation, "23505: dup")),
        };
        assert_eq!(Failure::of(&error), Failure::Conflict);
    }
}
