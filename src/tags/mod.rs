//! Tags: the labels of articles, listed with their published-article counts.

pub mod queries;
pub mod views;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::DbPool;
use crate::error::{responses, AppError};
use crate::pagination::{CursorKey, Page, Position, SlugPageQuery};
use crate::representation::{Audience, Provenance};
use views::Tag;

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_tags);
}

/// List tags
///
/// Tags that at least one published article carries, ordered by slug, with
/// their published-article counts.
#[utoipa::path(
    tag = "tags",
    params(SlugPageQuery),
    responses(
        (status = 200, description = "One page of tags", body = Page<Tag>,
            headers(("Link" = String, description = "RFC 8288 link to the next page, when there is one"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/tags")]
pub async fn list_tags(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    query: web::Query<SlugPageQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let (scope, limit, after) = query.validate(&cursors, "tags")?;
    let mut conn = pool.get().await?;
    let rows = queries::list_public(&mut conn, after.as_deref(), limit, Utc::now()).await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |(tag, _)| Position::Slug(tag.slug.clone()),
        Tag::from,
    );
    page.respond(&req, Audience::Public, &Provenance::new())
}
