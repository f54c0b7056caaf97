//! The database: the connection pool, the embedded migrations, creating the
//! database on first start, and the one way every part of Broadsheet opens a
//! connection (`Target`), TLS included.
//!
//! Connections are checked out without a health query (`RecyclingMethod::Fast`):
//! the per-checkout `SELECT 1` cost 15–17% of throughput, and a connection that
//! fails a real query is marked broken and discarded by the pool anyway.
//!
//! TLS follows libpq's `sslmode` (`disable`, `prefer` by default, `require`,
//! `verify-ca`, `verify-full`) and `sslrootcert` in `DATABASE_URL`, with
//! rustls: `prefer` and `require` encrypt without verifying the server
//! (`require` verifies the chain when `sslrootcert` is given, as libpq does);
//! the `verify-*` modes trust the CA in `sslrootcert`, else the platform's
//! roots. tokio-postgres knows only the first three modes and no
//! `sslrootcert`, so `Target` reads both itself.
//!
//! Public reads may go to a streaming replica instead: `replica` decides
//! where each read goes.

pub mod replica;

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::Config;
use crate::error::{chain, AppError, InvalidInput};

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
    #[error("cannot reach PostgreSQL at {target} ({cause}); start PostgreSQL or point {variable} at a running server")]
    Unreachable {
        target: String,
        cause: String,
        /// The setting that names the server: `DATABASE_URL` or the replica's.
        variable: &'static str,
    },
    #[error("database `{name}` does not exist on {server}; `broadsheet migrate` (or `broadsheet serve`) creates it")]
    NoDatabase { server: String, name: String },
    #[error("PostgreSQL at {target} refused role `{role}` ({cause}); check that the role exists, its password in {variable} (postgres://ROLE:PASSWORD@HOST:PORT/DATABASE, special characters percent-encoded), and that pg_hba.conf admits it from this host{hint}")]
    Refused {
        target: String,
        role: String,
        cause: String,
        variable: &'static str,
        /// What else may be at fault, e.g. a server that takes only TLS connections.
        hint: String,
    },
    #[error("no TLS connection to PostgreSQL at {target} with sslmode={mode} ({cause}); {fix}")]
    Tls {
        target: String,
        mode: &'static str,
        cause: String,
        fix: &'static str,
    },
    #[error("database setup failed: {0}")]
    Failed(String),
}

/// Builds the pool. No connection is opened until the first request needs one.
pub fn pool(config: &Config) -> Result<DbPool, SetupError> {
    pool_of(
        &config.database_url,
        "DATABASE_URL",
        config,
        config.pool_timeout,
        config.pool_timeout,
    )
}

/// A pool of `config.pool_size` connections to `url`, each with the
/// statement timeout, waiting `wait` for a free one and `create` for a new one.
fn pool_of(
    url: &str,
    variable: &'static str,
    config: &Config,
    wait: Duration,
    create: Duration,
) -> Result<DbPool, SetupError> {
    let statement_timeout_ms = config.statement_timeout.as_millis();
    let target = Arc::new(Target::parse(url)?.named_by(variable));
    let mut manager_config = ManagerConfig::default();
    manager_config.recycling_method = RecyclingMethod::Fast;
    // The URL the manager passes is `url`, which `target` has read already.
    manager_config.custom_setup = Box::new(move |_| {
        let target = target.clone();
        async move {
            let mut conn = target
                .establish()
                .await
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            // No JIT: every statement here runs in milliseconds, while the
            // planner prices some (the rankings' correlated counts, a search's
            // ranked candidates) past the threshold where PostgreSQL compiles
            // a plan to machine code, which took 8 s at 100,000 articles.
            conn.batch_execute(&format!(
                "SET statement_timeout = {statement_timeout_ms}; SET TIME ZONE 'UTC'; SET jit = off"
            ))
            .await
            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::new_with_config(url.to_string(), manager_config);
    Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(create))
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
            SetupError::Unreachable {
                cause, variable, ..
            } => SetupError::Unreachable {
                target: describe_target(database_url),
                cause,
                variable,
            },
            SetupError::NoDatabase { server, .. } => SetupError::Failed(format!(
                "cannot create database `{name}`: {server} has no `postgres` database to \
                 connect to first; create `{name}` with psql, then run `broadsheet migrate`"
            )),
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
    Target::parse(database_url)?.establish().await
}

/// How a connection is secured, as libpq's `sslmode` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, unverified; else plain.
    Prefer,
    /// TLS, unverified (verify-ca when `sslrootcert` is given).
    Require,
    /// TLS with a certificate signed by a trusted CA, for any host name.
    VerifyCa,
    /// TLS with a certificate signed by a trusted CA and issued for the host.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A database to connect to: DATABASE_URL read once, its TLS settings
/// turned into a rustls connector. The pool, the migrations, the CLI and the
/// view flusher all connect through one.
pub struct Target {
    config: tokio_postgres::Config,
    mode: SslMode,
    /// `None` when `sslmode=disable`.
    tls: Option<MakeRustlsConnect>,
    /// `host:port/database`, for messages.
    described: String,
    /// The setting that names it, for messages.
    variable: &'static str,
}

impl Target {
    /// Reads a `postgres://` URL, with libpq's `sslmode` and `sslrootcert`
    /// among its parameters; a CA file is read here, once.
    pub fn parse(database_url: &str) -> Result<Self, SetupError> {
        let bad = |problem: String| SetupError::BadUrl(problem);
        let (rest, query) = database_url.split_once('?').unwrap_or((database_url, ""));
        let mut mode = None;
        let mut root_cert = None;
        let mut kept = Vec::new();
        // Other parameters go to tokio-postgres as written: re-encoding them
        // could change what it decodes.
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "sslmode" => {
                    mode = Some(SslMode::parse(&value).ok_or_else(|| {
                        bad(format!(
                            "sslmode must be disable, prefer, require, verify-ca or verify-full, \
                             not `{value}`"
                        ))
                    })?)
                }
                "sslrootcert" => root_cert = Some(value),
                _ => kept.push(pair),
            }
        }
        let mode = mode.unwrap_or(SslMode::Prefer);
        let url = if kept.is_empty() {
            rest.to_string()
        } else {
            format!("{rest}?{}", kept.join("&"))
        };
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                bad(e.source().map_or(e.to_string(), ToString::to_string))
            })?;
        config.ssl_mode(match mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(MakeRustlsConnect::new(tls_config(
                mode,
                root_cert.as_deref(),
            )?)),
        };
        Ok(Self {
            config,
            mode,
            tls,
            described: describe_target(database_url),
            variable: "DATABASE_URL",
        })
    }

    /// The same server, named in messages by `variable`, the setting that
    /// holds its URL.
    pub fn named_by(self, variable: &'static str) -> Self {
        Self { variable, ..self }
    }

    /// Opens a connection within 10 s; a failure says what to fix.
    pub async fn establish(&self) -> Result<AsyncPgConnection, SetupError> {
        let connecting = async {
            match &self.tls {
                Some(tls) => {
                    let (client, connection) = self.config.connect(tls.clone()).await?;
                    Ok(AsyncPgConnection::try_from_client_and_connection(client, connection).await)
                }
                None => {
                    let (client, connection) = self.config.connect(tokio_postgres::NoTls).await?;
                    Ok(AsyncPgConnection::try_from_client_and_connection(client, connection).await)
                }
            }
        };
        match tokio::time::timeout(Duration::from_secs(10), connecting).await {
            Ok(Ok(Ok(conn))) => Ok(conn),
            Ok(Ok(Err(e))) => Err(SetupError::Failed(format!(
                "{}: setting up the connection failed: {e}",
                self.described
            ))),
            Ok(Err(e)) => Err(self.explain(&e)),
            Err(_) => Err(SetupError::Unreachable {
                target: self.described.clone(),
                cause: "no answer within 10 s".into(),
                variable: self.variable,
            }),
        }
    }

    /// Opens a connection of its own that listens on `channel`, for as long
    /// as the returned client lives: each notification, and the connection's
    /// end, wakes `wake`. Named `application_name` in `pg_stat_activity`; its
    /// statements time out like the pool's.
    pub async fn listen(
        &self,
        channel: &str,
        application_name: &str,
        statement_timeout: Duration,
        wake: Arc<tokio::sync::Notify>,
    ) -> Result<tokio_postgres::Client, SetupError> {
        let mut config = self.config.clone();
        config
            .application_name(application_name)
            .connect_timeout(Duration::from_secs(5));
        let connected = match &self.tls {
            Some(tls) => config
                .connect(tls.clone())
                .await
                .map(|(client, connection)| {
                    tokio::spawn(deliver(connection, wake));
                    client
                }),
            None => config
                .connect(tokio_postgres::NoTls)
                .await
                .map(|(client, connection)| {
                    tokio::spawn(deliver(connection, wake));
                    client
                }),
        };
        let client = connected.map_err(|e| self.explain(&e))?;
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}; SET TIME ZONE 'UTC'; LISTEN {channel}",
                statement_timeout.as_millis()
            ))
            .await
            .map_err(|e| self.explain(&e))?;
        Ok(client)
    }

    /// Names the fix for a failed connect: by SQLSTATE when the server
    /// answered, by the TLS layer's error when the handshake failed.
    fn explain(&self, error: &tokio_postgres::Error) -> SetupError {
        let target = self.described.clone();
        if let Some(db) = error.as_db_error() {
            let cause = format!("{}: {}", db.code().code(), db.message());
            let code = db.code();
            if *code == tokio_postgres::error::SqlState::INVALID_CATALOG_NAME {
                return SetupError::NoDatabase {
                    server: target.split('/').next().unwrap_or_default().to_string(),
                    name: self.config.get_dbname().unwrap_or_default().to_string(),
                };
            }
            if *code == tokio_postgres::error::SqlState::INVALID_PASSWORD
                || *code == tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                let hint = if self.mode == SslMode::Disable {
                    "; if the server accepts only TLS connections (hostssl in pg_hba.conf), \
                     use sslmode=require instead of sslmode=disable"
                } else {
                    ""
                };
                return SetupError::Refused {
                    target,
                    role: self.config.get_user().unwrap_or_default().to_string(),
                    cause,
                    variable: self.variable,
                    hint: hint.into(),
                };
            }
            return SetupError::Failed(format!("{target}: {cause}"));
        }
        let tls_error = tls_error(error);
        let message = error.to_string();
        // tokio-postgres names the kind of failure; its source says why:
        // refused, timed out, a name that does not resolve, a missing password.
        let cause = match error.source().map(ToString::to_string) {
            Some(source) if !message.contains(&source) => format!("{message}: {source}"),
            _ => message.clone(),
        };
        let cause = cause.lines().next().unwrap_or_default().to_string();
        if message == "authentication error" || cause.ends_with("password missing") {
            return SetupError::Refused {
                target,
                role: self.config.get_user().unwrap_or_default().to_string(),
                cause,
                variable: self.variable,
                hint: String::new(),
            };
        }
        if tls_error.is_none() && message != "error performing TLS handshake" {
            return SetupError::Unreachable {
                target,
                cause,
                variable: self.variable,
            };
        }
        let fix = match tls_error {
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => {
                "the certificate is not issued for this host name: connect by a name it \
                 names, or use sslmode=verify-ca to check only who signed it"
            }
            Some(rustls::Error::InvalidCertificate(_)) => {
                "the server's certificate is not signed by a CA this client trusts: name \
                 the CA's certificate file with sslrootcert=PATH, or use sslmode=require to \
                 encrypt without verifying the server"
            }
            None if cause.ends_with("server does not support TLS") => {
                "the server does not accept TLS: turn ssl on in its configuration, or use \
                 sslmode=prefer or sslmode=disable"
            }
            _ => {
                "check the server's TLS settings, or choose another sslmode (disable, \
                 prefer, require, verify-ca, verify-full)"
            }
        };
        let cause = tls_error.map_or(cause, ToString::to_string);
        SetupError::Tls {
            target,
            mode: self.mode.as_str(),
            cause,
            fix,
        }
    }
}

/// The rustls error behind a failed handshake, if that is what failed.
fn tls_error(error: &tokio_postgres::Error) -> Option<&rustls::Error> {
    let mut source = error.source();
    while let Some(current) = source {
        let found = current.downcast_ref::<rustls::Error>().or_else(|| {
            current
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if found.is_some() {
            return found;
        }
        source = current.source();
    }
    None
}

/// The rustls client configuration for a mode: what it verifies, and against which roots.
fn tls_config(mode: SslMode, root_cert: Option<&str>) -> Result<rustls::ClientConfig, SetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Failed(format!("TLS set-up: {e}")))?;
    // As libpq: `require` with a CA file given verifies the chain.
    let mode = match (mode, root_cert) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => Arc::new(Lenient {
            provider,
            chain: None,
        }),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let roots = match root_cert {
                Some(path) if path != "system" => roots_from_file(path)?,
                _ => platform_roots()?,
            };
            let full =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| SetupError::Failed(format!("TLS set-up: {e}")))?;
            if mode == SslMode::VerifyFull {
                full
            } else {
                Arc::new(Lenient {
                    provider,
                    chain: Some(full),
                })
            }
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

fn roots_from_file(path: &str) -> Result<RootCertStore, SetupError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        SetupError::BadUrl(format!(
            "sslrootcert `{path}` cannot be read as PEM certificates: {e}"
        ))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
        let cert = cert.map_err(|e| unreadable(&e))?;
        roots.add(cert).map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"the file holds no certificate"));
    }
    Ok(roots)
}

/// The platform's trusted CAs, read once per process.
fn platform_roots() -> Result<RootCertStore, SetupError> {
    static ROOTS: std::sync::OnceLock<Result<RootCertStore, String>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let errors: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
                Err(format!(
                    "sslmode verifies the server, but no sslrootcert is given and the \
                     platform has no trusted CA certificates ({}); install ca-certificates \
                     or give sslrootcert=PATH",
                    errors.join("; ")
                ))
            } else {
                Ok(roots)
            }
        })
        .clone()
        .map_err(SetupError::Failed)
}

/// What `prefer` and `require` (no `chain`) and `verify-ca` (a `chain` whose
/// host name is not checked) verify of the server; `verify-full` uses
/// rustls's own verifier. Every mode checks that the server holds its key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            // libpq's `prefer` and `require` trust whatever certificate is shown.
            return Ok(ServerCertVerified::assertion());
        };
        // The name is checked only after the chain, so this error means the chain is good.
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
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

// How a database failure answers a request: classified once, by `Failure`,
// whichever room the query ran in.

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        let info = match &error {
            diesel::result::Error::NotFound => return Self::NotFound("no such resource".into()),
            diesel::result::Error::DatabaseError(_, info) => Some(info.as_ref()),
            _ => None,
        };
        let constraint = info.and_then(|info| info.constraint_name());
        match Failure::of(&error) {
            Failure::Unavailable => {
                // The request id lets an operator match the client's 503 to its cause.
                log::warn!(
                    "database unavailable{}: {}",
                    crate::request_id::in_log(),
                    chain(&error)
                );
                Self::Unavailable(unavailable_detail(SqlState::of(&error)).into())
            }
            Failure::Conflict => Self::Conflict(conflict_detail(constraint)),
            // Validation should have refused the value before the database
            // did; the client still sent it, so it is still the client's.
            Failure::Invalid => {
                log::warn!(
                    "the database refused what validation let through{}: {}",
                    crate::request_id::in_log(),
                    chain(&error)
                );
                let table = info.and_then(|info| info.table_name());
                let column = info.and_then(|info| info.column_name());
                Self::Unprocessable(vec![refused_value(table, constraint, column)])
            }
            Failure::BadInput => Self::BadRequest(match SqlState::of(&error) {
                Some(SqlState::CHARACTER_NOT_IN_REPERTOIRE) => {
                    "the request contains bytes that are not valid text".into()
                }
                _ => "a value in the request cannot be stored (out of range or malformed)".into(),
            }),
            Failure::Bug => Self::Internal(Box::new(error)),
        }
    }
}

/// Why the database could not answer, in the API's words.
fn unavailable_detail(state: Option<SqlState>) -> &'static str {
    match state {
        Some(SqlState::QUERY_CANCELED) => {
            "the database is too busy to answer in time; retry shortly"
        }
        Some(SqlState::DEADLOCK_DETECTED | SqlState::SERIALIZATION_FAILURE) => {
            "concurrent writes collided; retry shortly"
        }
        _ => "the database is unavailable; retry shortly",
    }
}

/// Names the member a CHECK or NOT NULL violation is about: the column the
/// server names (NOT NULL), else the one in the constraint's name
/// (`excerpts_source_url_check` → `source_url`), with the rule it broke.
fn refused_value(
    table: Option<&str>,
    constraint: Option<&str>,
    column: Option<&str>,
) -> InvalidInput {
    /// Constraints whose name does not say the member, and columns the API
    /// calls otherwise.
    const MEMBERS: &[(&str, &str)] = &[
        ("published_articles_have_a_date", "published_at"),
        ("body", "body_markdown"),
    ];
    // PostgreSQL names a column's CHECK `<table>_<column>_check`.
    let from_name = constraint.and_then(|name| {
        name.strip_suffix("_check")?
            .strip_prefix(table?)?
            .strip_prefix('_')
    });
    let renamed = |name: &str| {
        MEMBERS
            .iter()
            .find(|(stored, _)| *stored == name)
            .map(|(_, api)| *api)
    };
    let member = column
        .or(from_name)
        .map(|column| renamed(column).unwrap_or(column))
        .or_else(|| constraint.and_then(renamed));
    let detail = match constraint {
        Some(name) if name.ends_with("url_check") => "must be an absolute http(s) URL",
        Some(name) if name.ends_with("slug_check") => {
            "must be a slug: lowercase letters and digits separated by single hyphens"
        }
        Some("published_articles_have_a_date") => "a published article needs a date",
        _ if column.is_some() => "is required",
        _ => "is not a value the stored content allows",
    };
    match member {
        Some(member) => InvalidInput::field(format!("/{member}"), detail),
        None => InvalidInput {
            parameter: None,
            pointer: None,
            detail: detail.into(),
        },
    }
}

/// Says which uniqueness rule a write broke, in the API's words.
fn conflict_detail(constraint: Option<&str>) -> String {
    match constraint {
        Some("articles_slug_key") => "another article has this slug".into(),
        Some("article_slug_history_pkey") => {
            "this slug is an old slug of another article; an admin can release it".into()
        }
        Some("outlets_slug_key") => "another outlet has this slug".into(),
        Some("excerpts_outlet_id_fkey" | "roundup_links_outlet_id_fkey") => {
            "an outlet this write names was deleted meanwhile, or one it deletes is still cited"
                .into()
        }
        Some("tags_slug_key") => "another tag has this slug".into(),
        Some("api_keys_name_key") => "a key with this name exists".into(),
        _ => "the write conflicts with stored content".into(),
    }
}

impl From<PoolError> for AppError {
    fn from(error: PoolError) -> Self {
        log::warn!(
            "no database connection available{}: {}",
            crate::request_id::in_log(),
            chain(&error)
        );
        Self::Unavailable("no database connection is available; retry shortly".into())
    }
}

/// Drives a listening connection: wakes `wake` at each notification and
/// once more when the connection ends.
async fn deliver<S, T>(
    mut connection: tokio_postgres::Connection<S, T>,
    wake: Arc<tokio::sync::Notify>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
        match message {
            Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => wake.notify_one(),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    wake.notify_one();
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
