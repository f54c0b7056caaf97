//! Excerpts: passages quoted from source articles, served on their own.

pub mod commands;
pub mod editor;
pub mod queries;
pub mod views;
pub mod writes;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::citations::CitationQuery;
use crate::db::DbPool;
use crate::editing::{self, Kind, Positioned};
use crate::error::{responses, AppError};
use crate::keys::MaybeCaller;
use crate::pagination::{CursorKey, Page, Position};
use crate::representation::{Audience, Provenance};
use crate::visibility::Viewer;
use queries::ExcerptSelection;
use views::Excerpt;

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_excerpts).service(find_excerpt);
    editor::configure(config);
}

impl Positioned for Excerpt {
    const KIND: Kind = Kind::Excerpt;

    async fn find(
        conn: &mut AsyncPgConnection,
        id: i64,
        viewer: Viewer,
    ) -> QueryResult<Option<Self>> {
        Ok(queries::load(conn, ExcerptSelection::One(id), viewer)
            .await?
            .pop()
            .map(Excerpt::from))
    }
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
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let filter = query.validate(&cursors, "excerpts")?;
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
    page.respond(&req, Audience::Public, &Provenance::new())
}

/// Get an excerpt
///
/// One excerpt of a published article, with its source attribution and the
/// article quoting it. With an API key, excerpts of drafts and scheduled
/// posts too (never cached by shared caches). The `ETag` is strong;
/// `If-None-Match` gets 304.
#[utoipa::path(
    tag = "excerpts",
    params(("id" = i64, Path, minimum = 1, description = "The excerpt's id", example = 1)),
    responses(
        (status = 200, description = "The excerpt", body = Excerpt,
            headers(("ETag" = String, description = "Strong entity tag of this representation"))),
        (status = 304, description = "Not modified since the `If-None-Match` tag"),
        responses::BadRequest,
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/excerpts/{id}")]
pub async fn find_excerpt(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    caller: MaybeCaller,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    editing::read::<Excerpt>(&req, &pool, &caller, &id).await
}
