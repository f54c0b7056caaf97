//! The test harness: each test gets its own database, cloned from a migrated
//! template, and its own server on a random port, and talks HTTP to it.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use broadsheet::app::{prepare_database, Application};
use broadsheet::config::Config;
use broadsheet::{db, site};
use chrono::{DateTime, Utc};
use diesel_async::SimpleAsyncConnection;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The server the tests use; any database on it works as a maintenance database.
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The URL of the database `name` on the test server.
pub fn database_url(name: &str) -> String {
    let mut url = url::Url::parse(&server_url()).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Runs async set-up work on a runtime of its own, off the test's runtime.
fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
    .join()
    .expect("set-up thread")
}

async fn execute(url: &str, statement: &str) -> Result<(), diesel::result::Error> {
    let mut conn = db::connect(url)
        .await
        .expect("test PostgreSQL is reachable");
    conn.batch_execute(statement).await
}

/// The name of the migrated template, created once per migration set.
fn template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let mut hasher = Sha256::new();
        let mut files: Vec<_> = walk(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations"
        )));
        files.sort();
        for file in files {
            hasher.update(file.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(&file).expect("migration file"));
        }
        let digest = hasher.finalize();
        let name = format!(
            "broadsheet_template_{:x}",
            u64::from_be_bytes(digest[..8].try_into().unwrap())
        );
        let created = name.clone();
        on_own_runtime(async move { create_template(&created).await });
        name
    })
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("migrations directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

async fn create_template(name: &str) {
    let server = server_url();
    let mut conn = db::connect(&server)
        .await
        .expect("test PostgreSQL is reachable");
    // Test binaries run in parallel: one creates the template, the others wait.
    conn.batch_execute("SELECT pg_advisory_lock(7201)")
        .await
        .expect("lock");
    let exists = db::connect(&database_url(name)).await.is_ok();
    if !exists {
        let staging = format!("{name}_staging");
        for statement in [
            format!("DROP DATABASE IF EXISTS {staging} WITH (FORCE)"),
            format!("CREATE DATABASE {staging}"),
        ] {
            conn.batch_execute(&statement)
                .await
                .expect("create staging database");
        }
        db::migrate(&database_url(&staging))
            .await
            .expect("migrate template");
        conn.batch_execute(&format!("ALTER DATABASE {staging} RENAME TO {name}"))
            .await
            .expect("publish template");
    }
    conn.batch_execute("SELECT pg_advisory_unlock(7201)")
        .await
        .expect("unlock");
}

/// A running Broadsheet on its own database.
pub struct TestApp {
    pub address: String,
    /// The server's popularity engine, to flush views and refresh rankings
    /// at the moments a test chooses rather than on the server's intervals.
    pub engine: std::sync::Arc<broadsheet::popularity::Popularity>,
    pub pool: broadsheet::db::DbPool,
    pub cache: Option<broadsheet::cache::Cache>,
    pub client: reqwest::Client,
    pub database_url: String,
    database: String,
}

impl TestApp {
    /// A server on an empty, migrated database.
    pub async fn spawn() -> Self {
        Self::spawn_configured(|_| {}).await
    }

    /// Like `spawn`, with the configuration adjusted first.
    pub async fn spawn_configured(adjust: impl FnOnce(&mut Config)) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let template = template();
        let database = format!(
            "broadsheet_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            Utc::now().timestamp_micros() % 1_000_000
        );
        let statement = format!("CREATE DATABASE {database} TEMPLATE {template}");
        on_own_runtime(async move {
            // The template may still show the connection that built it closing.
            for attempt in 0.. {
                match execute(&server_url(), &statement).await {
                    Ok(()) => break,
                    Err(e)
                        if attempt < 50
                            && e.to_string().contains("being accessed by other users") =>
                    {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("cannot create test database: {e}"),
                }
            }
        });
        let database_url = database_url(&database);
        let mut config = Config::for_database(&database_url);
        config.listen = "127.0.0.1:0".into();
        config.pool_size = 4;
        config.workers = Some(1);
        // A roll-up in the background would change stored buckets under a
        // test's feet; tests that want one call it.
        config.popularity.roll_up_interval = None;
        // Tests that try many bad keys on purpose would be throttled; the
        // throttle's own tests set the limit back.
        config.max_failed_auths_per_minute = 1000;
        // Tests send storms from 127.0.0.1; the rate limits' own tests set
        // budgets.
        config.rate_limits = broadsheet::config::RateLimits::OFF;
        adjust(&mut config);
        let pool = prepare_database(&config, false)
            .await
            .expect("database ready");
        let app = Application::build(&config, pool).expect("server binds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let (engine, pool, cache) = (app.popularity(), app.pool(), app.cache());
        tokio::spawn(app.run());
        Self {
            address,
            engine,
            pool,
            cache,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                // Well within the server's keep-alive (5 s): a connection
                // reused just as the server closes it for idleness fails
                // the request with an incomplete message, which a loaded
                // machine hits now and then.
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("client"),
            database_url,
            database,
        }
    }

    /// A server whose database holds this site (see `broadsheet::site`).
    pub async fn with_site(site: Value) -> Self {
        let app = Self::spawn().await;
        app.load(site).await;
        app
    }

    /// Loads a site document into this app's database.
    pub async fn load(&self, site: Value) {
        load_into(&self.database_url, site).await;
        self.catch_up().await;
        self.refresh_rankings().await;
    }

    /// Has the server's response cache read the change log to its end, as
    /// it does within a second anyway, so that a test reads what it wrote
    /// behind the server's back.
    pub async fn catch_up(&self) {
        if let Some(cache) = &self.cache {
            cache.catch_up().await;
        }
    }

    /// Recomputes the rankings now, as the server's refresher would.
    pub async fn refresh_rankings(&self) {
        self.engine
            .rankings
            .refresh(&self.pool)
            .await
            .expect("rankings refresh");
    }

    /// Writes counted views now, as the server's flusher would.
    pub async fn flush_views(&self) {
        assert!(
            self.engine.counter.flush(&self.pool).await.is_complete(),
            "views flushed"
        );
    }

    /// A new API key with this role (`editor` or `admin`), as a client would hold it.
    pub async fn key(&self, role: &str) -> String {
        key_in(&self.database_url, role).await
    }

    /// A request builder for `method path` carrying `key` as a bearer token.
    pub fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.address, path))
            .bearer_auth(key)
    }

    /// Runs SQL against this app's database, for fixtures the site format cannot express.
    pub async fn sql(&self, statement: &str) {
        execute(&self.database_url, statement)
            .await
            .expect("fixture SQL");
        self.catch_up().await;
        self.refresh_rankings().await;
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request reaches the server")
    }

    /// GET `path`, returning the status and the body parsed as JSON.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Follows `next_cursor` from `path` to the last page, collecting every item.
    pub async fn collect_pages(&self, path: &str) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut next = path.to_string();
        for _ in 0..1000 {
            let (status, body) = self.get_json(&next).await;
            assert_eq!(status, 200, "{next}: {body}");
            items.extend(
                body["data"]
                    .as_array()
                    .expect("data is a list")
                    .iter()
                    .cloned(),
            );
            match body["next_cursor"].as_str() {
                Some(cursor) => next = format!("{path}{separator}cursor={cursor}"),
                None => return items,
            }
        }
        panic!("paging {path} did not end");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        on_own_runtime(async move {
            let _ = execute(&server_url(), &statement).await;
        });
    }
}

/// An empty database of its own, dropped at the end of the test.
pub struct ScratchDatabase {
    pub url: String,
    name: String,
}

impl ScratchDatabase {
    pub fn create(purpose: &str) -> Self {
        let name = format!("broadsheet_scratch_{purpose}_{}", std::process::id());
        let statements = [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ];
        on_own_runtime(async move {
            for statement in statements {
                execute(&server_url(), &statement)
                    .await
                    .expect("scratch database");
            }
        });
        Self {
            url: database_url(&name),
            name,
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        on_own_runtime(async move {
            let _ = execute(&server_url(), &statement).await;
        });
    }
}

/// A new API key with this role, stored in the database at `database_url`.
pub async fn key_in(database_url: &str, role: &str) -> String {
    static KEYS: AtomicU32 = AtomicU32::new(0);
    let role = broadsheet::keys::Role::parse(role).expect("editor or admin");
    let key = broadsheet::keys::NewKey::generate().expect("randomness");
    let name = format!("{}-{}", role.as_str(), KEYS.fetch_add(1, Ordering::Relaxed));
    let mut conn = db::connect(database_url).await.expect("connect");
    broadsheet::keys::queries::create(&mut conn, &name, role, &key)
        .await
        .expect("key stored");
    key.text
}

/// Loads a site document into the database at `database_url`, without
/// refreshing any server's rankings (see `TestApp::load` for that).
pub async fn load_into(database_url: &str, site: Value) {
    let site = site::Site::parse(&site.to_string()).expect("valid site document");
    let mut conn = db::connect(database_url).await.expect("connect");
    site::load(&mut conn, &site).await.expect("site loads");
}

/// Asserts an RFC 9457 problem response with this status, returning its body.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// Asserts a 400 whose `errors` name `parameter`.
pub async fn assert_invalid_parameter(app: &TestApp, path: &str, parameter: &str) {
    let body = assert_problem(app.get(path).await, 400).await;
    let named: Vec<&str> = body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["parameter"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        named.contains(&parameter),
        "{path}: expected `{parameter}` named in {body}"
    );
}

/// A time written as RFC 3339.
pub fn at(timestamp: &str) -> DateTime<Utc> {
    timestamp.parse().expect("an RFC 3339 timestamp")
}

/// `article` with these fields set (tags, excerpts, roundups, ...).
pub fn with_fields(mut article: Value, fields: Value) -> Value {
    for (name, value) in fields.as_object().expect("an object of fields") {
        article[name] = value.clone();
    }
    article
}

/// Outlets and tags that fixtures below refer to.
pub fn base_site() -> Value {
    json!({
        "outlets": [
            {"slug": "bloomberg", "name": "Bloomberg", "home_url": "https://www.bloomberg.com/", "country_code": "US"},
            {"slug": "dawn", "name": "Dawn", "home_url": "https://www.dawn.com/", "country_code": "PK"},
            {"slug": "the-news", "name": "The News", "home_url": "https://www.thenews.com.pk/", "country_code": "PK"}
        ],
        "tags": [
            {"slug": "pakistan", "name": "Pakistan"},
            {"slug": "economy", "name": "Economy"}
        ]
    })
}

/// A published article with no excerpts or roundups.
pub fn published(slug: &str, published_at: DateTime<Utc>) -> Value {
    json!({
        "slug": slug,
        "title": format!("Title of {slug}"),
        "summary": format!("Summary of {slug}"),
        "body_markdown": format!("Commentary on **{slug}**."),
        "status": "published",
        "published_at": published_at,
    })
}

/// A draft article.
pub fn draft(slug: &str) -> Value {
    json!({
        "slug": slug,
        "title": format!("Draft {slug}"),
        "body_markdown": "Not ready.",
        "status": "draft",
        "published_at": null,
    })
}

/// An excerpt quoting `outlet`.
pub fn excerpt(headline: &str, outlet: &str) -> Value {
    json!({
        "headline": headline,
        "bylines": ["A. Reporter"],
        "outlet": outlet,
        "source_published_on": "2011-10-24",
        "source_url": "https://example.org/source",
        "call_to_action": "For complete article, click here",
        "body_markdown": format!("## Sub-heading\n\nQuoted text of {headline}."),
    })
}

/// A roundup with one link per `(headline, outlet)`.
pub fn roundup(title: &str, links: &[(&str, &str)]) -> Value {
    json!({
        "title": title,
        "links": links.iter().map(|(headline, outlet)| json!({
            "headline": headline,
            "outlet": outlet,
            "url": format!("https://example.org/{}", headline.to_lowercase().replace(' ', "-")),
        })).collect::<Vec<_>>(),
    })
}

/// `base_site()` with these articles and view counts.
pub fn site_with(articles: Vec<Value>, views: Vec<Value>) -> Value {
    let mut site = base_site();
    site["articles"] = Value::Array(articles);
    site["views"] = Value::Array(views);
    site
}

/// Runs the `broadsheet` binary to completion with these arguments and
/// variables, off the test's runtime (whose thread may also serve a TestApp).
pub async fn run_broadsheet(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_broadsheet"))
            .args(&args)
            .envs(env)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the broadsheet binary runs")
    })
    .await
    .expect("the command finishes")
}

/// `broadsheet serve` running as a child process; killed if the test ends first.
pub struct Served {
    child: Child,
    log: std::path::PathBuf,
    pub address: String,
}

impl Served {
    /// Starts `serve` on a free port with one worker, logging at `info`
    /// (`env` may change either), and waits until `/healthz` answers.
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let port = crate::cluster::free_port();
        let log = std::env::temp_dir().join(format!(
            "broadsheet-served-{}-{port}.log",
            std::process::id()
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_broadsheet"))
            .arg("serve")
            .env("BROADSHEET_LISTEN", format!("127.0.0.1:{port}"))
            .env("BROADSHEET_WORKERS", "1")
            .env("RUST_LOG", "info")
            // No request budgets unless a test sets one.
            .env("BROADSHEET_RATE_LIMIT_READS", "0")
            .env("BROADSHEET_RATE_LIMIT_BEACONS", "0")
            .env("BROADSHEET_RATE_LIMIT_WRITES", "0")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("the binary starts");
        let mut served = Self {
            child,
            log,
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = reqwest::get(format!("{}/healthz", served.address)).await {
                if response.status() == 200 {
                    return served;
                }
            }
            if let Some(status) = served.child.try_wait().expect("process state") {
                panic!("serve exited with {status}: {}", served.log_text());
            }
            assert!(Instant::now() < deadline, "serve did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal`, e.g. `INT` or `TERM`.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIG{signal} sent");
    }

    /// Waits up to a minute for the process to exit; true when it exited with success.
    pub async fn wait_for_exit(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("process state") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit; its log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.log);
    }
}
