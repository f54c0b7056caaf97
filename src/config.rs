//! Configuration, read once from the environment at start-up.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/broadsheet` | the PostgreSQL database, with libpq's `sslmode` and `sslrootcert` (see `db`); `serve` and `migrate` create it when missing |
//! | `BROADSHEET_LISTEN` | `127.0.0.1:8080` | address to listen on (`serve --listen` overrides it) |
//! | `BROADSHEET_POOL_SIZE` | `8` | database connections per instance |
//! | `BROADSHEET_POOL_TIMEOUT_MS` | `5000` | how long a request waits for a free connection before a 503 |
//! | `BROADSHEET_STATEMENT_TIMEOUT_MS` | `5000` | PostgreSQL `statement_timeout` on every connection |
//! | `BROADSHEET_WORKERS` | number of CPUs | HTTP worker threads |
//! | `BROADSHEET_FLUSH_INTERVAL_MS` | `1000` | how often counted views are written (one statement per flush) |
//! | `BROADSHEET_SNAPSHOT_INTERVAL_MS` | `10000` | how often rankings are recomputed |
//! | `BROADSHEET_MAX_PENDING_VIEWS` | `100000` | (article, hour) counts kept while the database is away; beyond, views are dropped and counted |
//! | `BROADSHEET_MAX_VISITORS_PER_ADDRESS` | `8` | new visitors (user agents) one client address, or IPv6 /64, may bring to one article per 30 minutes; beyond, its views count nothing |
//! | `BROADSHEET_TRUSTED_PROXIES` | none | comma-separated proxy addresses; behind them, the client is the nearest address in `Forwarded`/`X-Forwarded-For` that is not one of them |
//! | `BROADSHEET_BODY_LIMIT_BYTES` | `1048576` | largest request body accepted (413 beyond) |
//! | `BROADSHEET_BODY_TIMEOUT_MS` | `10000` | time a client has to send a whole body (408 beyond) |
//! | `BROADSHEET_CURSOR_SECRET` | random at start | at least 32 bytes (e.g. `openssl rand -hex 32`) sealing list cursors; set it so cursors survive restarts and every instance accepts the others' |
//! | `BROADSHEET_MAX_FAILED_AUTHS_PER_MINUTE` | `10` | failed authentications one client address, or IPv6 /64, may make in a minute; beyond, its requests with a key get 429 without a lookup until the minute from its first failure has passed |
//! | `BROADSHEET_CACHE_MAX_AGE` | `60` | seconds browsers may keep a public answer (`Cache-Control: max-age`) |
//! | `BROADSHEET_CACHE_S_MAXAGE` | `300` | seconds shared caches (CDNs) may keep a public answer (`s-maxage`); also how long they may serve it stale while revalidating |
//! | `RUST_LOG` | `info` | log filter (env_logger syntax) |

use std::time::Duration;

use crate::body::BodyLimits;
use crate::popularity::PopularitySettings;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/broadsheet";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_FAILED_AUTHS_PER_MINUTE: u32 = 10;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    pub pool_size: usize,
    pub pool_timeout: Duration,
    pub statement_timeout: Duration,
    pub workers: Option<usize>,
    pub body_limits: BodyLimits,
    pub popularity: PopularitySettings,
    /// Seals list cursors; `None` means a random one per start.
    pub cursor_secret: Option<Secret>,
    /// Failed authentications a client address may make per minute.
    pub max_failed_auths_per_minute: u32,
    /// Seconds browsers may keep a public answer. Short: a browser cannot be
    /// told that something changed, it can only ask again (and get a 304).
    pub cache_max_age: u32,
    /// Seconds shared caches may keep a public answer. Longer: a CDN that
    /// purges by `Surrogate-Key` when content changes could keep answers far
    /// longer (hours); 5 minutes bounds staleness behind a CDN that does not.
    pub cache_s_maxage: u32,
}

pub const DEFAULT_CACHE_MAX_AGE: u32 = 60;
pub const DEFAULT_CACHE_S_MAXAGE: u32 = 300;

/// A secret setting, never shown by `Debug`.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The shortest secret accepted: 256 bits, if it is random bytes.
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{variable} must be {expected}, not `{value}`")]
pub struct ConfigError {
    variable: &'static str,
    expected: String,
    value: String,
}

impl Config {
    /// Reads every variable in the table above; unset ones take their defaults.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            listen: var("BROADSHEET_LISTEN").unwrap_or_else(|| DEFAULT_LISTEN.into()),
            pool_size: number("BROADSHEET_POOL_SIZE", 1..=1000)?.unwrap_or(8),
            pool_timeout: Duration::from_millis(
                number("BROADSHEET_POOL_TIMEOUT_MS", 1..=600_000)?.unwrap_or(5000) as u64,
            ),
            statement_timeout: Duration::from_millis(
                number("BROADSHEET_STATEMENT_TIMEOUT_MS", 1..=3_600_000)?.unwrap_or(5000) as u64,
            ),
            workers: number("BROADSHEET_WORKERS", 1..=1024)?,
            popularity: PopularitySettings {
                flush_interval: Duration::from_millis(
                    number("BROADSHEET_FLUSH_INTERVAL_MS", 10..=600_000)?.unwrap_or(1000) as u64,
                ),
                snapshot_interval: Duration::from_millis(
                    number("BROADSHEET_SNAPSHOT_INTERVAL_MS", 10..=3_600_000)?.unwrap_or(10_000)
                        as u64,
                ),
                max_pending: number("BROADSHEET_MAX_PENDING_VIEWS", 1..=100_000_000)?
                    .unwrap_or(100_000),
                trusted_proxies: addresses("BROADSHEET_TRUSTED_PROXIES")?,
                max_visitors_per_address: number("BROADSHEET_MAX_VISITORS_PER_ADDRESS", 1..=1000)?
                    .unwrap_or(8) as u32,
                ..PopularitySettings::default()
            },
            body_limits: BodyLimits {
                max_bytes: number("BROADSHEET_BODY_LIMIT_BYTES", 1..=1 << 30)?.unwrap_or(1 << 20),
                timeout: Duration::from_millis(
                    number("BROADSHEET_BODY_TIMEOUT_MS", 1..=600_000)?.unwrap_or(10_000) as u64,
                ),
            },
            cursor_secret: secret("BROADSHEET_CURSOR_SECRET")?,
            max_failed_auths_per_minute: number("BROADSHEET_MAX_FAILED_AUTHS_PER_MINUTE", 1..=1000)?
                .unwrap_or(DEFAULT_MAX_FAILED_AUTHS_PER_MINUTE as usize)
                as u32,
            cache_max_age: number("BROADSHEET_CACHE_MAX_AGE", 0..=31_536_000)?
                .unwrap_or(DEFAULT_CACHE_MAX_AGE as usize) as u32,
            cache_s_maxage: number("BROADSHEET_CACHE_S_MAXAGE", 0..=31_536_000)?
                .unwrap_or(DEFAULT_CACHE_S_MAXAGE as usize) as u32,
        })
    }

    /// A configuration for the given database with every other setting at its default.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            listen: DEFAULT_LISTEN.into(),
            pool_size: 8,
            pool_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            workers: None,
            body_limits: BodyLimits::default(),
            popularity: PopularitySettings::default(),
            cursor_secret: None,
            max_failed_auths_per_minute: DEFAULT_MAX_FAILED_AUTHS_PER_MINUTE,
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            cache_s_maxage: DEFAULT_CACHE_S_MAXAGE,
        }
    }
}

/// Checks an address to listen on, `--listen` or `BROADSHEET_LISTEN`:
/// HOST:PORT, HOST an IP address (IPv6 in brackets) or a host name.
pub fn listen_address(value: &str) -> Result<String, String> {
    if value.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(value.to_string());
    }
    let is_name = |host: &str| {
        !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    };
    match value.rsplit_once(':') {
        Some((host, port)) if is_name(host) && port.parse::<u16>().is_ok() => Ok(value.to_string()),
        _ => Err(format!(
            "`{value}` is not HOST:PORT (--listen or BROADSHEET_LISTEN), \
             e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::]:8080 or localhost:8080"
        )),
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number(
    variable: &'static str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<Option<usize>, ConfigError> {
    let Some(value) = var(variable) else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ConfigError {
            variable,
            expected: format!("a whole number from {} to {}", range.start(), range.end()),
            value,
        }),
    }
}

/// A secret of at least `Secret::MIN_LEN` bytes, spaces around it ignored;
/// an error never repeats it.
fn secret(variable: &'static str) -> Result<Option<Secret>, ConfigError> {
    var(variable)
        .map(|value| parse_secret(variable, &value))
        .transpose()
}

fn parse_secret(variable: &'static str, value: &str) -> Result<Secret, ConfigError> {
    let value = value.trim();
    if value.len() < Secret::MIN_LEN {
        return Err(ConfigError {
            variable,
            expected: format!(
                "at least {} bytes (e.g. the output of `openssl rand -hex 32`)",
                Secret::MIN_LEN
            ),
            value: format!("a secret of {} bytes", value.len()),
        });
    }
    Ok(Secret::new(value))
}

fn addresses(variable: &'static str) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    let Some(value) = var(variable) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(|part| {
            part.trim().parse().map_err(|_| ConfigError {
                variable,
                expected: "a comma-separated list of IP addresses".into(),
                value: value.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_secret_needs_32_bytes_and_is_never_repeated() {
        let short = parse_secret("BROADSHEET_CURSOR_SECRET", "hunter2").unwrap_err();
        let message = short.to_string();
        assert!(message.contains("at least 32 bytes"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");

        let hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let secret = parse_secret("BROADSHEET_CURSOR_SECRET", &format!(" {hex}\n")).unwrap();
        assert_eq!(secret.expose(), hex.as_bytes());
        assert_eq!(format!("{secret:?}"), "Secret(64 bytes)");
    }
}
