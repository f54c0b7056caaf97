//! Configuration, read once from the environment at start-up.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/broadsheet` | the PostgreSQL database, with libpq's `sslmode` and `sslrootcert` (see `db`); `serve` and `migrate` create it when missing |
//! | `BROADSHEET_REPLICA_URL` | none | a streaming replica of `DATABASE_URL`'s database (same form, `sslmode` and `sslrootcert` too; one replica, not an address balancing over several); public reads go to it while it is up and caught up (see `db::replica`) |
//! | `BROADSHEET_REPLICA_MAX_LAG_MS` | `1000` | how far behind the primary the replica may be (the age of the oldest change it has not replayed) and still answer public reads |
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
//! | `BROADSHEET_RATE_LIMIT_READS` | `1200` | GET and HEAD requests one client address, or IPv6 /64, may make a minute (a burst of that many, then refilled evenly); `0` turns the budget off |
//! | `BROADSHEET_RATE_LIMIT_BEACONS` | `120` | view beacons (`POST /v1/articles/{slug}/views`) one client address, or IPv6 /64, may send a minute; `0` turns the budget off |
//! | `BROADSHEET_RATE_LIMIT_WRITES` | `120` | other requests (POST, PUT, PATCH, DELETE, …) one client address, or IPv6 /64, may make a minute; `0` turns the budget off |
//! | `BROADSHEET_CORS_WRITE_ORIGINS` | none | comma-separated origins (`https://admin.example`) whose pages may send writes and requests with `Authorization`; reads are open to every origin |
//! | `BROADSHEET_PUBLIC_URL` | `http://` and the address listened on | the API's public base URL (scheme, host, optional port and path prefix), for the absolute links of the feeds and their autodiscovery `Link` headers, and the served OpenAPI document's server |
//! | `BROADSHEET_SITE_TITLE` | `Broadsheet` | the publication's name: the title of its feeds |
//! | `BROADSHEET_CACHE_MAX_AGE` | `60` | seconds browsers may keep a public answer (`Cache-Control: max-age`) |
//! | `BROADSHEET_CACHE_S_MAXAGE` | `300` | seconds shared caches (CDNs) may keep a public answer (`s-maxage`); also how long they may serve it stale while revalidating |
//! | `BROADSHEET_CACHE_SIZE_MB` | `64` | memory for this instance's response cache of public reads (articles, lists, search, feeds), shared by its workers; `0` turns it off |
//! | `BROADSHEET_CACHE_SYNC_MS` | `1000` | how often the cache reads the change log even without a notification: the longest another instance's write can stay unseen when a notification is lost; held answers are served only while the log was read within twice this |
//! | `BROADSHEET_WEBHOOK_ALLOW_PRIVATE_TARGETS` | `false` | `true` lets webhooks target loopback, private, link-local and other internal addresses (for tests and closed networks); otherwise such an IP literal is refused at create and a host resolving only inward at delivery |
//! | `BROADSHEET_WEBHOOK_CONNECT_TIMEOUT_MS` | `5000` | time to connect to a webhook's receiver |
//! | `BROADSHEET_WEBHOOK_TIMEOUT_MS` | `10000` | time for a whole webhook delivery; a slower receiver's attempt fails (`timeout`) and is retried |
//! | `BROADSHEET_WEBHOOK_RETRY_BASE_MS` | `1000` | a failed delivery is retried after a random time up to this, doubled with each further failure (full jitter) |
//! | `BROADSHEET_WEBHOOK_RETRY_MAX_MS` | `3600000` | the longest wait between retries of a webhook delivery |
//! | `BROADSHEET_WEBHOOK_GIVE_UP_AFTER_MS` | `86400000` | how long an event may keep failing before its webhook is marked `failing` and deliveries stop until an admin reactivates it |
//! | `BROADSHEET_WEBHOOK_POLL_MS` | `1000` | how often an instance looks for webhooks with events to deliver |
//! | `BROADSHEET_BENCH_CEILING` | `false` | `true` serves `GET /bench/ceiling?bytes=N`, N bytes (at most 1 MiB) of a fixed body through the whole middleware stack, the yardstick `bench/reads` measures reads against; for benchmarks only, never in production |
//! | `RUST_LOG` | `info` | log filter (env_logger syntax) |

use std::time::Duration;

use crate::body::BodyLimits;
use crate::popularity::settings::PopularitySettings;
use crate::webhooks::WebhookSettings;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/broadsheet";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_FAILED_AUTHS_PER_MINUTE: u32 = 10;
pub const DEFAULT_SITE_TITLE: &str = "Broadsheet";

/// Reads a client address may make a minute. A page of the site costs a
/// browser a handful of API reads and a reader rarely opens more than a few
/// pages a minute, so 1,200 (20 a second) leaves room for a whole office or
/// a school behind one NAT address, and for a front-end server rendering
/// pages without a trusted-proxy setting, while one scraper hammering the
/// lists still meets the limit within the first minute.
pub const DEFAULT_READS_PER_MINUTE: u32 = 1200;
/// View beacons a client address may send a minute: one per page view, so
/// 120 is two page views a second from one address; past that the views
/// would not count anyway (one per visitor per article per 30 minutes).
pub const DEFAULT_BEACONS_PER_MINUTE: u32 = 120;
/// Writes a client address may make a minute: editors type, and an import
/// goes through the command line, not the API; 120 is generous for people
/// and tooling and still bounds what a leaked key can do per minute.
pub const DEFAULT_WRITES_PER_MINUTE: u32 = 120;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    /// A streaming replica for public reads; `None` means every read goes to the primary.
    pub replica_url: Option<String>,
    /// How stale the replica may be and still answer public reads.
    pub replica_max_lag: Duration,
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
    /// Requests per minute per client address, by kind; 0 turns one off.
    pub rate_limits: RateLimits,
    /// Origins whose pages may write (exact `scheme://host[:port]`).
    pub cors_write_origins: Vec<String>,
    /// The API's public base URL; `None` means `http://` and the bound address.
    pub public_url: Option<String>,
    /// The publication's name, as its feeds are titled.
    pub site_title: String,
    /// Seconds browsers may keep a public answer. Short: a browser cannot be
    /// told that something changed, it can only ask again (and get a 304).
    pub cache_max_age: u32,
    /// Seconds shared caches may keep a public answer. Longer: a CDN that
    /// purges by `Surrogate-Key` when content changes could keep answers far
    /// longer (hours); 5 minutes bounds staleness behind a CDN that does not.
    pub cache_s_maxage: u32,
    /// How webhooks are delivered.
    pub webhooks: WebhookSettings,
    /// Bytes of answers the response cache may hold; 0 turns it off.
    pub cache_bytes: u64,
    /// How often the response cache reads the change log without being told to.
    pub cache_sync_interval: Duration,
    /// Whether `GET /bench/ceiling` is served (`health::serve_ceiling`).
    pub bench_ceiling: bool,
}

/// Requests per minute a client address may make, per budget; `0` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub reads: u32,
    pub beacons: u32,
    pub writes: u32,
}

impl RateLimits {
    /// No budget at all, for tests that send storms from one address.
    pub const OFF: Self = Self {
        reads: 0,
        beacons: 0,
        writes: 0,
    };
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            reads: DEFAULT_READS_PER_MINUTE,
            beacons: DEFAULT_BEACONS_PER_MINUTE,
            writes: DEFAULT_WRITES_PER_MINUTE,
        }
    }
}

pub const DEFAULT_CACHE_MAX_AGE: u32 = 60;
pub const DEFAULT_CACHE_S_MAXAGE: u32 = 300;
/// Enough for the hot set of a large site (a whole post is about 6 KB, so
/// some ten thousand of them), small enough that an instance stays well
/// under 150 MB resident.
pub const DEFAULT_CACHE_SIZE_MB: u64 = 64;
pub const DEFAULT_CACHE_SYNC: Duration = Duration::from_secs(1);
/// A second of staleness: less than a reader notices, more than a healthy
/// streaming replica on the same network ever lags.
pub const DEFAULT_REPLICA_MAX_LAG: Duration = Duration::from_secs(1);

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
            replica_url: var("BROADSHEET_REPLICA_URL"),
            replica_max_lag: number("BROADSHEET_REPLICA_MAX_LAG_MS", 10..=3_600_000)?
                .map_or(DEFAULT_REPLICA_MAX_LAG, |ms| {
                    Duration::from_millis(ms as u64)
                }),
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
            rate_limits: RateLimits {
                reads: per_minute("BROADSHEET_RATE_LIMIT_READS", DEFAULT_READS_PER_MINUTE)?,
                beacons: per_minute("BROADSHEET_RATE_LIMIT_BEACONS", DEFAULT_BEACONS_PER_MINUTE)?,
                writes: per_minute("BROADSHEET_RATE_LIMIT_WRITES", DEFAULT_WRITES_PER_MINUTE)?,
            },
            cors_write_origins: origins("BROADSHEET_CORS_WRITE_ORIGINS")?,
            public_url: var("BROADSHEET_PUBLIC_URL")
                .map(|value| public_url("BROADSHEET_PUBLIC_URL", &value))
                .transpose()?,
            site_title: var("BROADSHEET_SITE_TITLE").map_or_else(
                || DEFAULT_SITE_TITLE.into(),
                |title| title.trim().to_string(),
            ),
            cache_max_age: number("BROADSHEET_CACHE_MAX_AGE", 0..=31_536_000)?
                .unwrap_or(DEFAULT_CACHE_MAX_AGE as usize) as u32,
            cache_s_maxage: number("BROADSHEET_CACHE_S_MAXAGE", 0..=31_536_000)?
                .unwrap_or(DEFAULT_CACHE_S_MAXAGE as usize) as u32,
            webhooks: webhook_settings()?,
            cache_bytes: number("BROADSHEET_CACHE_SIZE_MB", 0..=1 << 20)?
                .map_or(DEFAULT_CACHE_SIZE_MB, |mb| mb as u64)
                << 20,
            cache_sync_interval: number("BROADSHEET_CACHE_SYNC_MS", 10..=60_000)?
                .map_or(DEFAULT_CACHE_SYNC, |ms| Duration::from_millis(ms as u64)),
            bench_ceiling: flag("BROADSHEET_BENCH_CEILING")?.unwrap_or(false),
        })
    }

    /// A configuration for the given database with every other setting at its default.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            replica_url: None,
            replica_max_lag: DEFAULT_REPLICA_MAX_LAG,
            listen: DEFAULT_LISTEN.into(),
            pool_size: 8,
            pool_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            workers: None,
            body_limits: BodyLimits::default(),
            popularity: PopularitySettings::default(),
            cursor_secret: None,
            max_failed_auths_per_minute: DEFAULT_MAX_FAILED_AUTHS_PER_MINUTE,
            rate_limits: RateLimits::default(),
            cors_write_origins: Vec::new(),
            public_url: None,
            site_title: DEFAULT_SITE_TITLE.into(),
            cache_max_age: DEFAULT_CACHE_MAX_AGE,
            cache_s_maxage: DEFAULT_CACHE_S_MAXAGE,
            webhooks: WebhookSettings::default(),
            cache_bytes: DEFAULT_CACHE_SIZE_MB << 20,
            cache_sync_interval: DEFAULT_CACHE_SYNC,
            bench_ceiling: false,
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

/// An `http` or `https` URL with a host and no query or fragment, as links
/// are built on it: without its trailing slash.
fn public_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    match url::Url::parse(value) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.has_host()
                && url.query().is_none()
                && url.fragment().is_none() =>
        {
            Ok(url.as_str().trim_end_matches('/').to_string())
        }
        _ => Err(ConfigError {
            variable,
            expected:
                "an http or https URL without query or fragment, e.g. https://api.example.org"
                    .into(),
            value: value.to_string(),
        }),
    }
}

fn webhook_settings() -> Result<WebhookSettings, ConfigError> {
    let defaults = WebhookSettings::default();
    let millis = |variable: &'static str, default: Duration, max: usize| {
        Ok::<_, ConfigError>(
            number(variable, 1..=max)?.map_or(default, |ms| Duration::from_millis(ms as u64)),
        )
    };
    Ok(WebhookSettings {
        allow_private_targets: flag("BROADSHEET_WEBHOOK_ALLOW_PRIVATE_TARGETS")?
            .unwrap_or(defaults.allow_private_targets),
        connect_timeout: millis(
            "BROADSHEET_WEBHOOK_CONNECT_TIMEOUT_MS",
            defaults.connect_timeout,
            600_000,
        )?,
        timeout: millis("BROADSHEET_WEBHOOK_TIMEOUT_MS", defaults.timeout, 600_000)?,
        retry_base: millis(
            "BROADSHEET_WEBHOOK_RETRY_BASE_MS",
            defaults.retry_base,
            86_400_000,
        )?,
        retry_max: millis(
            "BROADSHEET_WEBHOOK_RETRY_MAX_MS",
            defaults.retry_max,
            604_800_000,
        )?,
        give_up_after: millis(
            "BROADSHEET_WEBHOOK_GIVE_UP_AFTER_MS",
            defaults.give_up_after,
            2_592_000_000,
        )?,
        poll: millis("BROADSHEET_WEBHOOK_POLL_MS", defaults.poll, 3_600_000)?,
    })
}

/// `true` or `false` (also `1`/`0`, `yes`/`no`), in any case.
fn flag(variable: &'static str) -> Result<Option<bool>, ConfigError> {
    let Some(value) = var(variable) else {
        return Ok(None);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(Some(true)),
        "false" | "0" | "no" => Ok(Some(false)),
        _ => Err(ConfigError {
            variable,
            expected: "true or false".into(),
            value,
        }),
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

/// A budget in requests per minute, `0` for none.
fn per_minute(variable: &'static str, default: u32) -> Result<u32, ConfigError> {
    Ok(number(variable, 0..=1_000_000)?.map_or(default, |n| n as u32))
}

/// Origins as a browser sends them in `Origin`: `scheme://host[:port]`,
/// lowercase, no path and no trailing slash, so that an exact comparison
/// with the header is right.
fn origins(variable: &'static str) -> Result<Vec<String>, ConfigError> {
    let Some(value) = var(variable) else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            parse_origin(part).ok_or_else(|| ConfigError {
                variable,
                expected: "a comma-separated list of origins like https://admin.example \
                       (scheme, host and optional port; no path)"
                    .into(),
                value: value.clone(),
            })
        })
        .collect()
}

fn parse_origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    // Anything beyond the origin (a path, a query, user info) is a mistake
    // the operator should hear about, not something to drop in silence.
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    (bare && matches!(url.scheme(), "http" | "https")).then(|| url.origin().ascii_serialization())
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
    fn a_public_url_is_an_http_url_kept_without_its_trailing_slash() {
        let url = |value| public_url("BROADSHEET_PUBLIC_URL", value);
        assert_eq!(
            url("https://api.example.org/").unwrap(),
            "https://api.example.org"
        );
        assert_eq!(
            url("http://localhost:8080/api/").unwrap(),
            "http://localhost:8080/api"
        );
        for bad in [
            "api.example.org",
            "ftp://example.org",
            "https://x/?a=1",
            "http://",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

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

    #[test]
    fn a_write_origin_is_a_scheme_a_host_and_a_port_as_browsers_send_it() {
        assert_eq!(
            parse_origin("https://Admin.Example/").as_deref(),
            Some("https://admin.example")
        );
        assert_eq!(
            parse_origin("http://localhost:3000").as_deref(),
            Some("http://localhost:3000")
        );
        assert_eq!(
            parse_origin("https://admin.example:443").as_deref(),
            Some("https://admin.example")
        );
        for wrong in [
            "admin.example",
            "https://admin.example/app",
            "ftp://x.example",
            "*",
        ] {
            assert_eq!(parse_origin(wrong), None, "{wrong}");
        }
    }
}
