//! The `broadsheet` command: serve the API, migrate the database, load the
//! demo, move content in and out.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use broadsheet::app::{prepare_database, Application};
use broadsheet::config::Config;
use broadsheet::{db, keys, site, transfer};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "broadsheet",
    version,
    about = "A headless JSON content API for news-curation publications"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database if needed, apply pending migrations, and serve the API.
    Serve {
        /// Address to listen on (overrides BROADSHEET_LISTEN).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Load the demo content before serving.
        #[arg(long)]
        seed: bool,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Create and migrate the database if needed, then load the demo content (idempotent).
    Seed,
    /// Print the OpenAPI document (the source of `openapi/openapi.json`).
    Openapi,
    /// Write the whole site to standard output as one JSON document (docs/site-format.md).
    Export,
    /// Load a site document in one transaction: all of it or nothing; re-runnable.
    Import {
        /// The document to load; `-` reads standard input.
        #[arg(value_name = "FILE")]
        file: String,
        /// Check everything, the database's own constraints included, then roll back.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage the API keys that writes need.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it once; only a digest of it is stored.
    Create {
        /// A unique name for the key's holder, e.g. `desktop-editor`.
        #[arg(long)]
        name: String,
        /// `editor` writes content and previews drafts; `admin` may also delete and release old slugs.
        #[arg(long, value_parser = ["editor", "admin"])]
        role: String,
    },
    /// List keys: name, role, created, last used, revoked (never the key).
    List,
    /// Revoke the named key; requests with it get 401 from then on.
    Revoke { name: String },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,tokio_postgres=warn"),
    )
    .init();
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        print!("{}", broadsheet::openapi::document_json());
        return ExitCode::SUCCESS;
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
            Command::Seed => seed_demo(&config).await,
            Command::Export => export_site(&config).await,
            Command::Import { file, dry_run } => import_site(&config, &file, dry_run).await,
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
    let pool = prepare_database(&config, true)
        .await
        .map_err(|e| e.to_string())?;
    if seed {
        seed_demo(&config).await?;
    }
    let app = Application::build(&config, pool)
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    log::info!("serving on http://{} (docs at /docs/)", config.listen);
    app.run().await.map_err(|e| e.to_string())
}

async fn seed_demo(config: &Config) -> Result<(), String> {
    prepare_database(config, true)
        .await
        .map_err(|e| e.to_string())?;
    let demo = site::Site::parse(site::DEMO).map_err(|e| e.to_string())?;
    let mut conn = db::connect(&config.database_url)
        .await
        .map_err(|e| e.to_string())?;
    let loaded = site::load(&mut conn, &demo)
        .await
        .map_err(|e| e.to_string())?;
    log::info!(
        "demo content loaded: {} articles, {} excerpts, {} press links, {} outlets",
        loaded.articles,
        loaded.excerpts,
        loaded.links,
        loaded.outlets
    );
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

async fn import_site(config: &Config, file: &str, dry_run: bool) -> Result<(), String> {
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
    let document = site::Site::parse(&json).map_err(|e| format!("{name}: {}", one_line(&e)))?;
    let mut conn = if dry_run {
        connect_migrated(config).await?
    } else {
        prepare_database(config, true)
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
    prepare_database(config, true)
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
            keys::queries::create(&mut conn, &name, role, &key)
                .await
                .map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => {
                        format!("a key named `{name}` exists already")
                    }
                    other => other.to_string(),
                })?;
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
