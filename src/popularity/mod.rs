//! Popularity: rankings of published articles by their stored view counts.
//!
//! This module reads counts; it never writes them.

pub mod queries;
pub mod views;

use actix_web::{get, web};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::articles;
use crate::db::DbPool;
use crate::error::{responses, AppError, InvalidInput};
use crate::params::{self, Checker};
use views::{Ranking, Window};

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_popular);
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
    /// Only articles with this tag (a tag slug).
    #[param(example = "pakistan")]
    tag: Option<String>,
}

/// List popular articles
///
/// The most viewed published articles in a window, with their rank and view
/// count. Articles with equal views share a rank.
#[utoipa::path(
    tag = "rankings",
    params(PopularQuery),
    responses(
        (status = 200, description = "The ranking", body = Ranking),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/rankings/popular")]
pub async fn list_popular(
    pool: web::Data<DbPool>,
    query: web::Query<PopularQuery>,
) -> Result<web::Json<Ranking>, AppError> {
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
    checker.finish()?;
    let (window, limit) = (window.unwrap_or(Window::Week), limit.unwrap_or_default());

    let now = Utc::now();
    let mut conn = pool.get().await?;
    let rows = queries::top(&mut conn, window.since(now), tag.as_deref(), limit, now).await?;
    let (rows, views): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let summaries = articles::summarize(&mut conn, rows, now).await?;
    Ok(web::Json(Ranking {
        window,
        tag,
        generated_at: now,
        data: views::rank(summaries.into_iter().zip(views).collect()),
    }))
}
