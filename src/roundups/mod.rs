//! Press roundups ("From Pakistan Press") and their links, served on their own.

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
use queries::{LinkSelection, RoundupSelection};
use views::{ListedLink, Roundup};

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_roundup_links).service(find_roundup);
}

/// List press links
///
/// Links from the press roundups of published articles, oldest first (by id),
/// each saying which roundup and article it belongs to.
#[utoipa::path(
    tag = "roundups",
    params(CitationQuery),
    responses(
        (status = 200, description = "One page of press links", body = Page<ListedLink>,
            headers(("Link" = String, description = "RFC 8288 link to the next page, when there is one"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/roundup-links")]
pub async fn list_roundup_links(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    query: web::Query<CitationQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.validate("roundup-links")?;
    let mut conn = pool.get().await?;
    let rows = queries::load_links(
        &mut conn,
        LinkSelection::Page(&filter),
        Viewer::Public(Utc::now()),
    )
    .await?;
    let page = Page::from_rows(
        rows,
        filter.limit,
        &filter.scope,
        |r| Position::Id(r.0.id),
        ListedLink::from,
    );
    Ok(page.respond(&req, Audience::Public))
}

/// Get a roundup
///
/// One press roundup of a published article, with its links in order.
#[utoipa::path(
    tag = "roundups",
    params(("id" = i64, Path, minimum = 1, description = "The roundup's id", example = 1)),
    responses(
        (status = 200, description = "The roundup", body = Roundup),
        responses::BadRequest,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/roundups/{id}")]
pub async fn find_roundup(
    pool: web::Data<DbPool>,
    id: web::Path<String>,
) -> Result<web::Json<Roundup>, AppError> {
    let id = params::id("id", &id)?;
    let viewer = Viewer::Public(Utc::now());
    let mut conn = pool.get().await?;
    let selection = RoundupSelection::One(id);
    let roundups = queries::load_roundups(&mut conn, selection, viewer).await?;
    let links = queries::load_links(&mut conn, LinkSelection::Of(selection), viewer).await?;
    views::assemble(roundups, links)
        .pop()
        .map(web::Json)
        .ok_or_else(|| AppError::not_found("roundup of a published article", id))
}
