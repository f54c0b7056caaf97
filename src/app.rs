//! The HTTP application: the routes of `routes::api` and every
//! cross-cutting behaviour (errors, logging, docs, and the edge: request
//! ids, CORS, compression, request budgets), wired in `build`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Logger;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::body::BodyLimits;
use crate::cache::Cache;
use crate::config::Config;
use crate::cors::Cors;
use crate::db::replica::{Databases, Replica};
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::feeds::Publication;
use crate::keys::throttle::AuthThrottle;
use crate::openapi::ApiDoc;
use crate::pagination::CursorKey;
use crate::popularity::Popularity;
use crate::rate_limit::RateLimiter;
use crate::representation::{Audience, CachePolicy, Representation};
use crate::routes::RouteTable;
use crate::{compression, cors, headers, rate_limit, request_id, routes};

/// A running server, bound to its port.
pub struct Application {
    port: u16,
    server: Server,
    pool: DbPool,
    popularity: Arc<Popularity>,
    webhooks: crate::webhooks::engine::Engine,
    cache: Option<Cache>,
    replica: Option<Arc<Replica>>,
}

impl Application {
    /// Binds the listener and prepares the server; nothing is served until `run`.
    pub fn build(config: &Config, pool: DbPool) -> std::io::Result<Self> {
        Self::build_on(TcpListener::bind(&config.listen)?, config, pool)
    }

    /// Prepares the server on a listener bound already, so that a command
    /// can refuse a taken address before it does any database work.
    pub fn build_on(listener: TcpListener, config: &Config, pool: DbPool) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        let routes = web::Data::new(RouteTable::from_document(&crate::openapi::document()));
        let popularity = Arc::new(Popularity::new(&config.popularity));
        let cursors = match &config.cursor_secret {
            Some(secret) => CursorKey::new(secret.expose()),
            None => {
                log::info!(
                    "BROADSHEET_CURSOR_SECRET is not set: list cursors are sealed with a random \
                     key, so they stop working when this instance restarts and other instances \
                     refuse them"
                );
                CursorKey::random().map_err(std::io::Error::other)?
            }
        };
        let cache = Cache::start(config).map_err(std::io::Error::other)?;
        let replica = Replica::start(
            config,
            pool.clone(),
            cache.as_ref().map(|cache| cache.store.clone()),
        )
        .map_err(std::io::Error::other)?;
        popularity.start(pool.clone(), &config.popularity);
        crate::changes::announcer::start(pool.clone());
        let webhooks = crate::webhooks::engine::start(pool.clone(), config.webhooks);
        let limiter = Arc::new(RateLimiter::new(
            config.rate_limits,
            config.popularity.trusted_proxies.clone(),
        ));
        limiter.start();
        let public_url = match &config.public_url {
            Some(url) => url.clone(),
            None => default_public_url(listener.local_addr()?),
        };
        let shared = Shared {
            cors: Arc::new(Cors::new(&config.cors_write_origins, routes.clone())),
            limiter,
            pool: web::Data::new(pool.clone()),
            databases: web::Data::new(Databases::new(pool.clone(), replica.clone())),
            routes,
            body_limits: web::Data::new(config.body_limits),
            popularity: web::Data::from(popularity.clone()),
            docs_page: web::Data::new(DocsPage::new()),
            cursors: web::Data::new(cursors),
            throttle: web::Data::new(AuthThrottle::new(
                config.popularity.trusted_proxies.clone(),
                config.max_failed_auths_per_minute,
            )),
            publication: web::Data::new(Publication::new(&public_url, &config.site_title)),
            cache_policy: web::Data::new(CachePolicy::new(
                config.cache_max_age,
                config.cache_s_maxage,
            )),
            public_url: config.public_url.as_deref().map(Arc::from),
            webhook_targets: web::Data::new(crate::webhooks::TargetPolicy {
                allow_private: config.webhooks.allow_private_targets,
            }),
            cache: cache.clone(),
            bench_ceiling: config.bench_ceiling,
        };
        let mut server = HttpServer::new(move || build(shared.clone()))
            .listen(listener)?
            .client_request_timeout(Duration::from_secs(10))
            .shutdown_timeout(10)
            // In place of actix-web's own signal handling (which also
            // disables it), where SIGINT would drop requests in flight.
            .shutdown_signal(stop_signal());
        if let Some(workers) = config.workers {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            pool,
            popularity,
            webhooks,
            cache,
            replica,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The popularity engine this server counts views into and ranks from.
    pub fn popularity(&self) -> Arc<Popularity> {
        self.popularity.clone()
    }

    /// The server's response cache, when it has one.
    pub fn cache(&self) -> Option<Cache> {
        self.cache.clone()
    }

    /// The server's connection pool.
    pub fn pool(&self) -> DbPool {
        self.pool.clone()
    }

    /// The read replica public reads go to, when one is configured.
    pub fn replica(&self) -> Option<Arc<Replica>> {
        self.replica.clone()
    }

    /// Serves until SIGINT or SIGTERM, drains in-flight requests, then
    /// writes the views they counted: nothing answered 202 is lost on a clean stop.
    pub async fn run(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.webhooks.stop();
        // A flush that meets a lost connection (a restarting database, a
        // terminated backend) keeps its batch; a fresh connection a moment
        // later usually writes it. Bounded, so that a database that is away
        // delays the exit by a few pool timeouts at most.
        let mut written = 0;
        for attempt in 1..=SHUTDOWN_FLUSHES {
            let flushed = self.popularity.counter.flush(&self.pool).await;
            written += flushed.written;
            if flushed.is_complete() {
                log::info!("stopped; {written} pending views written");
                return served;
            }
            if attempt < SHUTDOWN_FLUSHES {
                tokio::time::sleep(Duration::from_millis(500)).await;
            } else {
                log::error!(
                    "stopped; {written} pending views written, {} could not be written",
                    flushed.unwritten
                );
            }
        }
        served
    }
}

/// Resolves at the first SIGINT (Ctrl-C) or SIGTERM: both stop the server
/// gracefully, finishing the requests in flight.
async fn stop_signal() {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "SIGINT",
            Err(error) => {
                log::warn!("SIGINT cannot be watched: {error}");
                std::future::pending().await
            }
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
                "SIGTERM"
            }
            Err(error) => {
                log::warn!("SIGTERM cannot be watched: {error}");
                std::future::pending().await
            }
        }
    };
    let name = tokio::select! {
        name = interrupt => name,
        name = terminate => name,
    };
    log::info!("{name} received; finishing the requests in flight, then stopping");
}

/// `http://` and the address bound, when no public URL is configured; a
/// wildcard address (all interfaces) is reachable here as `localhost`.
fn default_public_url(bound: std::net::SocketAddr) -> String {
    if bound.ip().is_unspecified() {
        format!("http://localhost:{}", bound.port())
    } else {
        format!("http://{bound}")
    }
}

/// How many times the views pending at shutdown are sent before giving up.
const SHUTDOWN_FLUSHES: u32 = 3;

/// What every worker's app shares.
#[derive(Clone)]
struct Shared {
    cors: Arc<Cors>,
    limiter: Arc<RateLimiter>,
    pool: web::Data<DbPool>,
    /// Where reads go: the pool, or the replica for public ones.
    databases: web::Data<Databases>,
    routes: web::Data<RouteTable>,
    body_limits: web::Data<BodyLimits>,
    popularity: web::Data<Popularity>,
    docs_page: web::Data<DocsPage>,
    cursors: web::Data<CursorKey>,
    throttle: web::Data<AuthThrottle>,
    publication: web::Data<Publication>,
    cache_policy: web::Data<CachePolicy>,
    /// What the document names as its server, when configured.
    public_url: Option<Arc<str>>,
    webhook_targets: web::Data<crate::webhooks::TargetPolicy>,
    cache: Option<Cache>,
    /// Whether `GET /bench/ceiling` is served (`BROADSHEET_BENCH_CEILING`).
    bench_ceiling: bool,
}

fn build(
    shared: Shared,
) -> App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let bench_ceiling = shared.bench_ceiling;
    let (app, document) = App::new()
        // First, as routes are tried in order: the ceiling should cost what
        // the HTTP layer costs, not a walk past every other route.
        .configure(|config| {
            if bench_ceiling {
                config.route(
                    "/bench/ceiling",
                    web::get().to(crate::health::serve_ceiling),
                );
            }
        })
        .app_data(shared.pool)
        .app_data(shared.databases)
        .app_data(shared.routes)
        .app_data(shared.body_limits)
        .app_data(shared.popularity)
        .app_data(shared.cursors)
        .app_data(shared.throttle)
        .app_data(shared.publication)
        .app_data(shared.cache_policy)
        .app_data(shared.webhook_targets)
        .app_data(web::QueryConfig::default().error_handler(|error, _| query_error(&error).into()))
        .app_data(web::PathConfig::default().error_handler(|error, _| {
            AppError::BadRequest(format!("invalid path: {error}")).into()
        }))
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::api)
        .split_for_parts();
    let document = crate::openapi::complete(document, shared.public_url.as_deref());
    let document_json = web::Data::new(Representation::new(
        crate::openapi::to_json(&document).into(),
        header::HeaderValue::from_static("application/json"),
    ));
    let (cors, limiter, cache) = (shared.cors, shared.limiter, shared.cache);
    app.app_data(document_json)
        .app_data(shared.docs_page)
        .route("/openapi.json", web::get().to(serve_document))
        .route("/docs", web::get().to(redirect_to_docs))
        .route("/docs/", web::get().to(serve_docs_page))
        .route("/docs/index.html", web::get().to(serve_docs_page))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .url("/docs/openapi.json", document)
                .config(utoipa_swagger_ui::Config::default().validator_url("none")),
        )
        .default_service(web::to(unrouted))
        // The layers, innermost first (the last `wrap` sees a request
        // first): HEAD as GET; the response cache; the request budgets; compression; CORS, which
        // answers preflights before they reach the budgets; the access log;
        // `nosniff` and the reference's headers; and outermost the request
        // id, so that every response, whichever layer made it, carries it.
        .wrap_fn(|mut req, service| {
            // HEAD is GET without a body: the HTTP codec drops the body of a
            // response to a HEAD request, headers (Content-Length too) stay.
            if req.method() == Method::HEAD {
                req.head_mut().method = Method::GET;
            }
            service.call(req)
        })
        .wrap_fn(move |req, service| crate::cache::layer::serve(&cache, req, service))
        .wrap_fn(move |req, service| rate_limit::limit(&limiter, req, service))
        .wrap_fn(compression::compress)
        .wrap_fn(move |req, service| cors::cross_origin(&cors, req, service))
        .wrap(
            // The request id is the client's or the one `request_id::tag`
            // put in its place, the one the response carries.
            Logger::new("%{method}xi %U %s %Dms id=%{x-request-id}i")
                .custom_request_replace("method", |req| req.method().to_string())
                .log_target("access"),
        )
        .wrap_fn(headers::every_response)
        .wrap_fn(request_id::tag)
}

/// The OpenAPI document, fixed for a build: its `ETag` changes only with a
/// new version, and caches may keep it like any public answer.
async fn serve_document(req: HttpRequest, document: web::Data<Representation>) -> HttpResponse {
    document
        .get_ref()
        .clone()
        .respond(&req, StatusCode::OK, Audience::Public)
}

/// The reference page: Swagger UI's own page, titled for Broadsheet.
async fn serve_docs_page(page: web::Data<DocsPage>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.0.clone())
}

/// Swagger UI's `index.html` with Broadsheet's name in the browser's tab.
#[derive(Clone)]
struct DocsPage(web::Bytes);

impl DocsPage {
    fn new() -> Self {
        let config = Arc::new(utoipa_swagger_ui::Config::default());
        let page = match utoipa_swagger_ui::serve("index.html", config) {
            Ok(Some(file)) => String::from_utf8_lossy(&file.bytes).replace(
                "<title>Swagger UI</title>",
                "<title>Broadsheet API reference</title>",
            ),
            _ => String::new(),
        };
        Self(page.into())
    }
}

async fn redirect_to_docs() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

async fn unrouted(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<HttpResponse, AppError> {
    Err(match routes.allowed(req.path()) {
        Some(allow) => AppError::MethodNotAllowed {
            method: req.method().to_string(),
            path: req.path().to_string(),
            allow: allow.to_string(),
        },
        None => AppError::NotFound(format!("no resource at {}", req.path())),
    })
}

/// Names the parameter at fault in serde's message, e.g. "unknown field `foo`, expected …".
fn query_error(error: &actix_web::error::QueryPayloadError) -> AppError {
    let message = error.to_string();
    let name = message.split('`').nth(1).unwrap_or("query").to_string();
    if message.contains("unknown field") {
        let expected = message
            .split("expected ")
            .nth(1)
            .unwrap_or("none")
            .replace('`', "");
        AppError::invalid(
            name,
            format!("is not a parameter of this endpoint (expected {expected})"),
        )
    } else if message.contains("duplicate field") {
        AppError::invalid(name, "is given more than once")
    } else {
        AppError::invalid("query", format!("cannot be parsed: {message}"))
    }
}

/// Applies migrations and returns the pool, creating the database first when asked.
pub async fn prepare_database(config: &Config, create: bool) -> Result<DbPool, db::SetupError> {
    if create {
        db::ensure_database(&config.database_url).await?;
    }
    let applied = db::migrate(&config.database_url).await?;
    for version in applied {
        log::info!("applied migration {version}");
    }
    db::pool(config)
}
