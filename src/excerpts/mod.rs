//! Excerpts: passages quoted from source articles, served on their own.

pub mod queries;
pub mod views;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::citations::CitationQuery;
use crate::db::DbPool;
use crate::error::{responses, AppError};
use crate::pagination::{Page, Position};
use crate::params;
use crate::representation::Audience;
use crate::visibility::Viewer;
use queries::ExcerptSelection;
use views::Excerpt;

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_excerpts).service(find_excerpt);
}

/// List excerpts
///
/// Excerpts of published articles, oldest first (by id), each saying which
/// article quotes it.
#[utoipa::path(
    tag = "excerpts",
    params(CitationQuery),
    responses(
        (status = 200, description = "One page of excerpts", body = Page<Excerpt>,
            headers(("Link" = String, description = "RFC 8288 link to the next page, when there is one"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/excerpts")]
pub async fn list_excerpts(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    query: web::Query<CitationQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.validate("excerpts")?;
    let mut conn = pool.get().await?;
    let rows = queries::load(
        &mut conn,
        ExcerptSelection::Page(&filter),
        Viewer::Public(Utc::now()),
    )
    .await?;
    let page = Page::from_rows(
        rows,
        filter.limit,
        &filter.scope,
        |r| Position::Id(r.0.id),
        Excerpt::from,
    );
    Ok(page.respond(&req, Audience::Public))
}

/// Get an excerpt
///
/// One excerpt of a published article, with its source attribution and the article quoting it.
#[utoipa::path(
    tag = "excerpts",
    params(("id" = i64, Path, minimum = 1, description = "The excerpt's id", example = 1)),
    responses(
        (status = 200, description = "The excerpt", body = Excerpt),
        responses::BadRequest,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/excerpts/{id}")]
pub async fn find_excerpt(
    pool: web::Data<DbPool>,
    id: web::Path<String>,
) -> Result<web::Json<Excerpt>, AppError> {
    let id = params::id("id", &id)?;
    let mut conn = pool.get().await?;
    let record = queries::load(
        &mut conn,
        ExcerptSelection::One(id),
        Viewer::Public(Utc::now()),
    )
    .await?
    .pop()
    .ok_or_else(|| AppError::not_found("excerpt of a published article", id))?;
    Ok(web::Json(record.into()))
}
