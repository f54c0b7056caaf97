//! The `broadsheet` command: serve the API, migrate the database, load the
//! demo, move content in and out.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use broadsheet::app::{prepare_database, Application};
use broadsheet::config::Config;
use broadsheet::{config, db, keys, site, transfer};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "broadsheet",
    version,
    about = "A headless JSON content API for news-curation publications",
    after_help = environment(&[DATABASE_VARIABLES, SERVER_VARIABLES])
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed, apply pending migrations, and serve the API.
    #[command(after_help = environment(&[DATABASE_VARIABLES, SERVER_VARIABLES]))]
    Serve {
        /// Address to listen on, HOST:PORT (e.g. 0.0.0.0:8080).
        #[arg(long, value_name = "HOST:PORT", env = "BROADSHEET_LISTEN", value_parser = config::listen_address)]
        listen: Option<String>,
        /// Add the demo content that is missing before serving; never changes what exists.
        #[arg(long)]
        seed: bool,
    },
    /// Create the database if needed and apply pending migrations.
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Migrate,
    /// Add the demo content that is missing (by slug), never changing what exists; re-running it adds nothing.
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Seed,
    /// Print the OpenAPI document (the source of `openapi/openapi.json`).
    Openapi,
    /// Write the whole site to standard output as one JSON document (docs/site-format.md).
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Export,
    /// Load a site document in one transaction: all of it or nothing; upserts by slug, re-runnable.
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Import {
        /// The document to load; `-` reads standard input.
        #[arg(value_name = "FILE")]
        file: String,
        /// Check everything, the database's own constraints included, then roll back.
        #[arg(long)]
        dry_run: bool,
        /// Repair what old content breaks and can be repaired deterministically
        /// (over-long text shortened, blank optional text dropped), saying each
        /// repair; without it such a document is refused.
        #[arg(long)]
        lenient: bool,
    },
    /// Manage the API keys that writes need.
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it once; only a digest of it is stored.
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Create {
        /// A unique name for the key's holder, e.g. `desktop-editor` (at most 100 characters).
        #[arg(long)]
        name: String,
        /// `editor` writes content and previews drafts; `admin` may also delete and release old slugs.
        #[arg(long, value_parser = ["editor", "admin"])]
        role: String,
    },
    /// List keys: name, role, created, last used, revoked (never the key).
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    List,
    /// Revoke a key: requests with it get 401 from then on; its name stays taken.
    #[command(after_help = environment(&[DATABASE_VARIABLES]))]
    Revoke {
        /// The name the key was created with (`keys list` shows them).
        name: String,
    },
}

/// What every command that opens the database reads from the environment.
const DATABASE_VARIABLES: &[(&str, &str)] = &[
    (
        "DATABASE_URL",
        "postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=FILE] \
         (default postgres://postgres@127.0.0.1:5432/broadsheet); sslmode is disable, prefer \
         (default), require, verify-ca or verify-full; sslrootcert names the CA to trust \
         instead of the platform's",
    ),
    ("RUST_LOG", "log filter, env_logger syntax (default info)"),
];

/// What `serve` reads besides the database's variables.
const SERVER_VARIABLES: &[(&str, &str)] = &[
    (
        "BROADSHEET_LISTEN",
        "HOST:PORT to listen on (default 127.0.0.1:8080); --listen overrides it",
    ),
    (
        "BROADSHEET_POOL_SIZE",
        "database connections per instance (default 8)",
    ),
    (
        "BROADSHEET_POOL_TIMEOUT_MS",
        "wait for a connection before a 503 (default 5000)",
    ),
    (
        "BROADSHEET_STATEMENT_TIMEOUT_MS",
        "PostgreSQL statement_timeout (default 5000)",
    ),
    ("BROADSHEET_WORKERS", "HTTP worker threads (default: CPUs)"),
    (
        "BROADSHEET_REPLICA_URL",
        "a streaming replica of the database for public reads (default: none)",
    ),
    (
        "BROADSHEET_REPLICA_MAX_LAG_MS",
        "staleness beyond which public reads leave the replica for the primary (default 1000)",
    ),
    (
        "BROADSHEET_FLUSH_INTERVAL_MS",
        "how often counted views are written (default 1000)",
    ),
    (
        "BROADSHEET_SNAPSHOT_INTERVAL_MS",
        "how often rankings are recomputed (default 10000)",
    ),
    (
        "BROADSHEET_MAX_PENDING_VIEWS",
        "view counts kept while the database is away (default 100000)",
    ),
    (
        "BROADSHEET_TRUSTED_PROXIES",
        "comma-separated proxy addresses whose Forwarded headers are believed",
    ),
    (
        "BROADSHEET_BODY_LIMIT_BYTES",
        "largest request body (default 1048576)",
    ),
    (
        "BROADSHEET_BODY_TIMEOUT_MS",
        "time to send a whole body (default 10000)",
    ),
    (
        "BROADSHEET_MAX_VISITORS_PER_ADDRESS",
        "new visitors one address may bring to an article per 30 minutes (default 8)",
    ),
    (
        "BROADSHEET_MAX_FAILED_AUTHS_PER_MINUTE",
        "failed authentications one address may make a minute before 429s (default 10)",
    ),
    (
        "BROADSHEET_CURSOR_SECRET",
        "at least 32 bytes sealing list cursors (default: random at each start)",
    ),
    (
        "BROADSHEET_RATE_LIMIT_READS",
        "GET/HEAD requests per minute per client address, 0 for no limit (default 1200)",
    ),
    (
        "BROADSHEET_RATE_LIMIT_BEACONS",
        "view beacons per minute per client address, 0 for no limit (default 120)",
    ),
    (
        "BROADSHEET_RATE_LIMIT_WRITES",
        "other requests per minute per client address, 0 for no limit (default 120)",
    ),
    (
        "BROADSHEET_CORS_WRITE_ORIGINS",
        "comma-separated origins whose pages may write (default: none)",
    ),
    (
        "BROADSHEET_PUBLIC_URL",
        "the API's public base URL, for feed links (default: http:// and the listen address)",
    ),
    (
        "BROADSHEET_SITE_TITLE",
        "the publication's name, titling its feeds (default Broadsheet)",
    ),
    (
        "BROADSHEET_CACHE_MAX_AGE",
        "seconds browsers may keep a public answer (default 60)",
    ),
    (
        "BROADSHEET_CACHE_S_MAXAGE",
        "seconds shared caches (CDNs) may keep a public answer (default 300)",
    ),
    (
        "BROADSHEET_CACHE_SIZE_MB",
        "memory for the response cache of public reads; 0 turns it off (default 64)",
    ),
    (
        "BROADSHEET_CACHE_SYNC_MS",
        "how often the response cache reads the change log without a notification (default 1000)",
    ),
    (
        "BROADSHEET_BENCH_CEILING",
        "true serves GET /bench/ceiling?bytes=N, a fixed body for benchmarks (default false)",
    ),
    (
        "BROADSHEET_WEBHOOK_ALLOW_PRIVATE_TARGETS",
        "true lets webhooks target internal addresses (default false)",
    ),
    (
        "BROADSHEET_WEBHOOK_CONNECT_TIMEOUT_MS",
        "time to connect to a webhook receiver (default 5000)",
    ),
    (
        "BROADSHEET_WEBHOOK_TIMEOUT_MS",
        "time for a whole webhook delivery (default 10000)",
    ),
    (
        "BROADSHEET_WEBHOOK_RETRY_BASE_MS",
        "first webhook retry waits up to this (default 1000)",
    ),
    (
        "BROADSHEET_WEBHOOK_RETRY_MAX_MS",
        "longest wait between webhook retries (default 3600000)",
    ),
    (
        "BROADSHEET_WEBHOOK_GIVE_UP_AFTER_MS",
        "how long an event may fail before its webhook stops (default 86400000)",
    ),
    (
        "BROADSHEET_WEBHOOK_POLL_MS",
        "how often webhooks with work are looked for (default 1000)",
    ),
];

/// The `Environment:` section of a command's `--help`.
fn environment(groups: &[&[(&str, &str)]]) -> String {
    let mut text = String::from("Environment:");
    for (name, meaning) in groups.iter().copied().flatten() {
        text.push_str(&format!("\n  {name}\n          {meaning}"));
    }
    text
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tokio_postgres=warn"),
    )
    .init();
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        // A reader that stops early (`| head`) is not a failure to report.
        let document = broadsheet::openapi::document_json();
        return match std::io::Write::write_all(&mut std::io::stdout(), document.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(error) => fail(error),
        };
    }
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    let runtime = actix_web::rt::System::new();
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve { listen, seed } => {
                if let Some(listen) = listen {
                    config.listen = listen;
                }
                serve(config, seed).await
            }
            Command::Migrate => prepare_database(&config, true)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Command::Seed => match prepare_database(&config, false).await {
                Ok(_) => seed_demo(&config).await,
                Err(error) => Err(error.to_string()),
            },
            Command::Export => export_site(&config).await,
            Command::Import {
                file,
                dry_run,
                lenient,
            } => import_site(&config, &file, dry_run, lenient).await,
            Command::Openapi => Ok(()),
            Command::Keys { command } => manage_keys(&config, command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

async fn serve(config: Config, seed: bool) -> Result<(), String> {
    // Bound before any database work, so that a taken address is refused
    // before a database is created, migrated or seeded.
    let listener = std::net::TcpListener::bind(&config.listen).map_err(|e| {
        let held = if e.kind() == std::io::ErrorKind::AddrInUse {
            "another process is listening there; "
        } else {
            ""
        };
        format!(
            "cannot listen on {}: {e}; {held}choose another address with --listen HOST:PORT \
             or BROADSHEET_LISTEN",
            config.listen
        )
    })?;
    let pool = prepare_database(&config, true)
        .await
        .map_err(|e| e.to_string())?;
    if seed {
        seed_demo(&config).await?;
    }
    let app = Application::build_on(listener, &config, pool)
        .map_err(|e| format!("cannot serve on {}: {e}", config.listen))?;
    log::info!("serving on http://{} (docs at /docs/)", config.listen);
    app.run().await.map_err(|e| e.to_string())
}

/// Adds the demo content the database lacks, changing nothing that exists.
async fn seed_demo(config: &Config) -> Result<(), String> {
    let demo = site::Site::parse(site::DEMO).map_err(|e| e.to_string())?;
    let mut conn = db::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let mut quiet = |_: &'static str, _: usize| {};
    let added = site::load_with(&mut conn, &demo, site::Mode::AddMissing, &mut quiet)
        .await
        .map_err(|e| one_line(&e))?;
    if added == site::Loaded::default() {
        log::info!("demo content: nothing missing, nothing added");
    } else {
        log::info!("demo content added: {added}");
    }
    Ok(())
}

/// A connection to a database that is already migrated: export and dry runs
/// must not create or change one.
async fn connect_migrated(config: &Config) -> Result<diesel_async::AsyncPgConnection, String> {
    let mut conn = db::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let ready = db::is_ready(&mut conn, &db::latest_migration_version())
        .await
        .unwrap_or(false);
    if !ready {
        return Err(
            "the database lacks Broadsheet's tables or newest migrations; \
             run `broadsheet migrate` first"
                .into(),
        );
    }
    Ok(conn)
}

async fn export_site(config: &Config) -> Result<(), String> {
    let mut conn = connect_migrated(config).await?;
    let site = transfer::export(&mut conn)
        .await
        .map_err(|e| one_line(&e))?;
    // Written whole only once read whole: a failed export leaves no half file.
    let json = site.to_json().map_err(|e| one_line(&e))?;
    std::io::stdout()
        .lock()
        .write_all(json.as_bytes())
        .map_err(|e| format!("cannot write the export: {e}"))?;
    eprintln!(
        "exported {} outlets, {} tags, {} articles, {} view buckets",
        site.outlets.len(),
        site.tags.len(),
        site.articles.len(),
        site.views.len()
    );
    Ok(())
}

async fn import_site(
    config: &Config,
    file: &str,
    dry_run: bool,
    lenient: bool,
) -> Result<(), String> {
    let (name, json) = if file == "-" {
        let mut json = String::new();
        std::io::stdin()
            .read_to_string(&mut json)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        ("standard input".to_string(), json)
    } else {
        let json = std::fs::read_to_string(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        (file.to_string(), json)
    };
    let mut document = site::Site::parse(&json).map_err(|e| format!("{name}: {}", one_line(&e)))?;
    if lenient {
        for repair in document.repair() {
            eprintln!("repaired {repair}");
        }
    }
    let mut conn = if dry_run {
        connect_migrated(config).await?
    } else {
        prepare_database(config, false)
            .await
            .map_err(|e| e.to_string())?;
        db::connect(&config.database_url)
            .await
            .map_err(|e| e.to_string())?
    };
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(document.rows() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {pos}/{len} rows, {elapsed}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mode = if dry_run {
        site::Mode::DryRun
    } else {
        site::Mode::Write
    };
    let progress_bar = bar.clone();
    let mut progress = move |stage: &'static str, rows: usize| {
        progress_bar.set_message(stage);
        progress_bar.inc(rows as u64);
    };
    let loaded = site::load_with(&mut conn, &document, mode, &mut progress).await;
    bar.finish_and_clear();
    let loaded = loaded.map_err(|e| format!("{name}: {}", one_line(&e)))?;
    if dry_run {
        eprintln!("dry run of {name}: would write {loaded}; nothing was written");
    } else {
        eprintln!("imported {name}: {loaded}");
        // What was loaded stays loaded; stale statistics only slow reads down.
        if let Err(e) = site::analyze(&mut conn).await {
            eprintln!("warning: ANALYZE after the import failed: {}", one_line(&e));
        }
    }
    Ok(())
}

/// Errors end the command in one line, whatever the database said.
fn one_line(error: &impl std::fmt::Display) -> String {
    error
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

async fn manage_keys(config: &Config, command: KeysCommand) -> Result<(), String> {
    if let KeysCommand::Create { name, .. } = &command {
        keys::check_name(name)?;
    }
    prepare_database(config, false)
        .await
        .map_err(|e| e.to_string())?;
    let mut conn = db::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    match command {
        KeysCommand::Create { name, role } => {
            let role = keys::Role::parse(&role).ok_or("role must be editor or admin")?;
            let key =
                keys::NewKey::generate().map_err(|e| format!("no randomness available: {e}"))?;
            if let Err(error) = keys::queries::create(&mut conn, &name, role, &key).await {
                return Err(match error {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => match keys::queries::revoked_at(&mut conn, &name).await {
                        Ok(Some(revoked)) => format!(
                            "the name `{name}` belonged to a key revoked on {}; the names of \
                             revoked keys stay taken, so that `keys list` still tells them \
                             apart: choose another name",
                            revoked.format("%Y-%m-%d %H:%M:%S UTC")
                        ),
                        _ => format!("a key named `{name}` exists already"),
                    },
                    other => one_line(&other),
                });
            }
            eprintln!(
                "created {} key `{name}`; it is shown only this once:",
                role.as_str()
            );
            println!("{}", key.text);
        }
        KeysCommand::List => {
            let listed = keys::queries::list(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:<24} {:<7} {:<20} {:<20} revoked",
                "name", "role", "created", "last used"
            );
            let when = |at: Option<chrono::DateTime<chrono::Utc>>| {
                at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            for key in listed {
                println!(
                    "{:<24} {:<7} {:<20} {:<20} {}",
                    key.name,
                    key.role,
                    when(Some(key.created_at)),
                    when(key.last_used_at),
                    when(key.revoked_at)
                );
            }
        }
        KeysCommand::Revoke { name } => {
            if !keys::queries::revoke(&mut conn, &name)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no active key is named `{name}`"));
            }
            eprintln!("revoked key `{name}`");
        }
    }
    Ok(())
}
