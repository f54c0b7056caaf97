//! Popularity: counting views (the beacon), and rankings of published
//! articles by them (popular, trending, per-article stats).
//!
//! Views are counted in memory and written in batches (`counter`); visitors
//! are recognised without storing anything about them (`visitors`); rankings
//! are computed on an interval and served from memory (`snapshot`).

pub mod beacon;
pub mod bots;
pub mod counter;
pub mod directory;
pub mod queries;
pub mod schedule;
pub mod settings;
pub mod snapshot;
pub mod views;
pub mod visitors;

pub use settings::PopularitySettings;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};

use crate::representation::{Audience, Provenance, Representation};
use bots::Bots;
use counter::Counter;
use directory::Directory;
use schedule::{Job, Schedule};
use snapshot::Rankings;
use visitors::Visitors;

/// Everything the popularity engine keeps in memory, shared by all workers.
pub struct Popularity {
    pub counter: Counter,
    pub visitors: Visitors,
    pub directory: Directory,
    pub rankings: Rankings,
    bots: Bots,
}

impl Popularity {
    pub fn new(settings: &PopularitySettings) -> Self {
        Self {
            counter: Counter::new(settings.max_pending),
            visitors: Visitors::new(
                settings.trusted_proxies.clone(),
                settings.max_visitors_per_address,
            ),
            directory: Directory::default(),
            rankings: Rankings::default(),
            bots: Bots::default(),
        }
    }

    /// Starts the engine's clock (see `schedule`): the flush of counted
    /// views, the ranking refresh, the directory's re-reading and the roll-up
    /// of old hours, one a tick.
    pub fn start(self: &Arc<Self>, pool: DbPool, settings: &PopularitySettings) {
        let engine = self.clone();
        let mut schedule = Schedule::new(settings);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(schedule.tick());
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let now = ticks.tick().await.into_std();
                match schedule.next(now) {
                    Job::Flush => {
                        engine.counter.flush(&pool).await;
                    }
                    Job::Refresh => {
                        if let Err(error) = engine.rankings.refresh(&pool).await {
                            log::warn!("rankings not refreshed: {error}");
                        }
                    }
                    Job::Revalidate => {
                        if let Err(error) = engine.directory.revalidate(&pool).await {
                            log::warn!("beacon directory not re-read: {error}");
                        }
                    }
                    Job::RollUp => engine.roll_up(&pool).await,
                }
            }
        });
    }

    async fn roll_up(&self, pool: &DbPool) {
        match counter::roll_up(pool, chrono::TimeDelta::days(ROLL_UP_AFTER_DAYS)).await {
            Ok(0) => {}
            Ok(rows) => log::info!("rolled {rows} hourly view buckets into days"),
            Err(error) => log::warn!("view roll-up failed: {error}"),
        }
    }
}

/// Hourly buckets older than this many days are rolled into daily ones; the
/// 24-hour window always has hourly resolution.
pub const ROLL_UP_AFTER_DAYS: i64 = 8;

/// The maps a view or a ranking request passes through (directory, pending
/// counts, held rankings) hash with foldhash, seeded per map: SipHash, the
/// standard library's default, costs several times more. Their keys are
/// bounded in number.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use actix_web::{get, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::articles;
use crate::db::DbPool;
use crate::error::{responses, AppError, InvalidInput};
use crate::fields::Fields;
use crate::params::{self, Checker};
use views::{Ranking, Window};

/// The engine and the database pool, borrowed from the app. The beacon and
/// the rankings do not take them as extractors: each extraction clones an
/// `Arc`, a reference count that every worker writes on every request.
fn shared(req: &HttpRequest) -> Result<(&Popularity, &DbPool), AppError> {
    match (
        req.app_data::<web::Data<Popularity>>(),
        req.app_data::<web::Data<DbPool>>(),
    ) {
        (Some(engine), Some(pool)) => Ok((engine, pool)),
        _ => Err(AppError::internal(
            "the popularity engine is not configured",
        )),
    }
}

/// Query parameters of `GET /v1/rankings/popular`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PopularQuery {
    /// The span of time to count views over, ending now.
    #[param(value_type = Option<Window>, default = "7d")]
    window: Option<String>,
    /// How many articles to rank.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50, default = 10)]
    limit: Option<String>,
    /// Only articles with this tag (a tag slug). A tag that ranks nothing,
    /// unknown or without views, gives an empty ranking, not a 404.
    #[param(example = "pakistan")]
    tag: Option<String>,
    /// Comma-separated members of each item to keep (e.g. `rank,article`);
    /// all when absent. An unknown name is a 400 naming it.
    #[param(example = "rank,article")]
    fields: Option<String>,
}

/// List popular articles
///
/// The most viewed published articles in a window, with their rank and view
/// count. Articles with equal views share a rank. Every ranking, of every
/// tag, is recomputed every 10 seconds and answered from memory; a tag that
/// ranks nothing (unknown, or without views) answers an empty ranking.
#[utoipa::path(
    tag = "rankings",
    params(PopularQuery),
    responses(
        (status = 200, description = "The ranking", body = Ranking,
            headers(("ETag" = String, description = "Strong entity tag"))),
        (status = 304, description = "Not modified since the `If-None-Match` tag"),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/rankings/popular")]
pub async fn list_popular(
    req: HttpRequest,
    query: web::Query<PopularQuery>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let window = checker.check(match query.window.as_deref() {
        None => Ok(Window::Week),
        Some(value) => Window::parse(value).ok_or_else(|| {
            InvalidInput::new(
                "window",
                format!("must be one of {}", Window::NAMES.join(", ")),
            )
        }),
    });
    let limit = checker.check(params::limit(query.limit.as_deref(), 10, 50));
    let tag = checker
        .check(params::slug("tag", query.tag.as_deref()))
        .flatten();
    let fields = checker
        .check(Fields::parse::<views::RankedArticle>(
            query.fields.as_deref(),
        ))
        .flatten();
    checker.finish()?;
    let (window, limit) = (window.unwrap_or(Window::Week), limit.unwrap_or_default());

    let (engine, pool) = shared(&req)?;
    let ranking = engine
        .rankings
        .popular(pool, window, tag.as_deref(), limit)
        .await?;
    respond_ranking(&req, ranking, fields.as_ref())
}

/// A ranking as held, or trimmed to the asked members (serialized again,
/// for the clients that ask).
fn respond_ranking(
    req: &HttpRequest,
    ranking: Representation,
    fields: Option<&Fields>,
) -> Result<HttpResponse, AppError> {
    let ranking = match fields {
        None => ranking,
        Some(fields) => ranking.items_trimmed(fields)?,
    };
    Ok(ranking.respond(req, StatusCode::OK, Audience::Public))
}

/// Query parameters of `GET /v1/rankings/trending`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendingQuery {
    /// How many articles to rank.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50, default = 10)]
    limit: Option<String>,
    /// Comma-separated members of each item to keep (e.g. `rank,article`);
    /// all when absent. An unknown name is a 400 naming it.
    #[param(example = "rank,article")]
    fields: Option<String>,
}

/// List trending articles
///
/// Articles gaining fastest: views in the last 24 hours against their own
/// daily average over the 7 days before. Articles with fewer than
/// `min_views_24h` views in the last day do not trend.
#[utoipa::path(
    tag = "rankings",
    params(TrendingQuery),
    responses(
        (status = 200, description = "The trending articles", body = views::Trending,
            headers(("ETag" = String, description = "Strong entity tag"))),
        (status = 304, description = "Not modified since the `If-None-Match` tag"),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/rankings/trending")]
pub async fn list_trending(
    req: HttpRequest,
    query: web::Query<TrendingQuery>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let limit = checker.check(params::limit(query.limit.as_deref(), 10, 50));
    let fields = checker
        .check(Fields::parse::<views::TrendingArticle>(
            query.fields.as_deref(),
        ))
        .flatten();
    checker.finish()?;
    let (engine, pool) = shared(&req)?;
    let ranking = engine
        .rankings
        .trending(pool, limit.unwrap_or_default())
        .await?;
    respond_ranking(&req, ranking, fields.as_ref())
}

/// Query parameters of `GET /v1/articles/{slug}/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// How many days, ending today (UTC).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 365, default = 30)]
    days: Option<String>,
}

/// Get an article's daily views
///
/// Views per UTC day, oldest first, ending today; days without views are 0.
/// For charts.
#[utoipa::path(
    tag = "rankings",
    params(("slug" = String, Path, description = "The article's slug"), StatsQuery),
    responses(
        (status = 200, description = "The daily series", body = views::ArticleStats),
        responses::BadRequest,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles/{slug}/stats")]
pub async fn article_stats(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    slug: web::Path<String>,
    query: web::Query<StatsQuery>,
) -> Result<HttpResponse, AppError> {
    let slug = params::path_slug("published article", &slug)?;
    let days = match query.days.as_deref() {
        None => 30,
        Some(value) => match value.parse::<u32>() {
            Ok(days) if (1..=365).contains(&days) => days,
            _ => {
                return Err(AppError::invalid(
                    "days",
                    "must be a whole number from 1 to 365",
                ))
            }
        },
    };
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let article = articles::queries::find(&mut conn, slug, crate::visibility::Viewer::Public(now))
        .await?
        .ok_or_else(|| AppError::not_found("published article", slug))?;
    let today = now.date_naive();
    let first = today - chrono::Days::new(u64::from(days) - 1);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let counted: std::collections::HashMap<chrono::NaiveDate, i64> =
        queries::daily(&mut conn, article.id, since)
            .await?
            .into_iter()
            .map(|row| (row.day, row.views))
            .collect();
    let series = first
        .iter_days()
        .take(days as usize)
        .map(|day| views::DayViews {
            date: day,
            views: counted.get(&day).copied().unwrap_or(0),
        })
        .collect();
    let stats = views::ArticleStats {
        slug: article.slug,
        days: series,
    };
    // Views change it, not revisions: no `Last-Modified`, an exact `ETag`.
    let mut shown = Provenance::new();
    shown.key("article", article.id);
    Ok(Representation::of(&stats)?
        .shows(&shown)
        .respond(&req, StatusCode::OK, Audience::Public))
}
