//! Excerpts: passages quoted from source articles, served on their own.

pub mod commands;
pub mod editor;
pub mod queries;
pub mod views;
pub mod writes;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncPgConnection;

use crate::citations::CitationQuery;
use crate::db::replica::Databases;
use crate::editing::{self, Kind, Positioned};
use crate::error::{responses, AppError};
use crate::fields::{Fields, FieldsQuery};
use crate::keys::MaybeCaller;
use crate::pagination::{CursorKey, Page, Position};
use crate::representation::{Audience, Provenance};
use crate::revisions;
use crate::visibility::Viewer;
use queries::{ExcerptRecord, ExcerptSelection};
use views::Excerpt;

impl Positioned for Excerpt {
    const KIND: Kind = Kind::Excerpt;

    async fn find(
        conn: &mut AsyncPgConnection,
        id: i64,
        viewer: Viewer,
    ) -> QueryResult<Option<(Self, Provenance)>> {
        let now = viewer.public_at().unwrap_or_else(Utc::now);
        Ok(queries::load(conn, ExcerptSelection::One(id), viewer, true)
            .await?
            .pop()
            .map(|record| {
                let mut shown = Provenance::new();
                show(&mut shown, &record, now);
                (Excerpt::from(record), shown)
            }))
    }
}

/// What an excerpt shows: itself, its outlet and its article, revised with
/// the article (whose stamp moves with every change to its excerpts and to
/// the outlets they cite).
fn show(shown: &mut Provenance, (row, outlet, article): &ExcerptRecord, now: DateTime<Utc>) {
    shown
        .key("excerpt", row.id)
        .key("outlet", outlet.id)
        .article(article.id, article.revised_at, article.published_at, now);
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
    databases: web::Data<Databases>,
    query: web::Query<CitationQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let filter = query.validate(&cursors, "excerpts")?;
    let fields = Fields::of::<Excerpt>(query.fields.as_deref())?;
    let now = Utc::now();
    let filter = &filter;
    let (removed_at, rows) = databases
        .read(&req, move |conn| {
            let removed_at = revisions::removals(conn);
            let rows = queries::load(
                conn,
                ExcerptSelection::Page(filter),
                Viewer::Public(now),
                true,
            );
            futures_util::future::try_join(removed_at, rows).scope_boxed_local()
        })
        .await?;
    let mut shown = Provenance::new();
    shown.list("excerpts").changed_by_removal(removed_at);
    let page = Page::from_rows(
        rows,
        filter.limit,
        &filter.scope,
        |r| Position::Id(r.0.id),
        |record| {
            show(&mut shown, &record, now);
            Excerpt::from(record)
        },
    );
    page.respond_fields(&req, Audience::Public, &shown, fields.as_ref())
}

/// Get an excerpt
///
/// One excerpt of a published article, with its source attribution and the
/// article quoting it. With an API key, excerpts of drafts and scheduled
/// posts too (never cached by shared caches). The `ETag` is strong;
/// `If-None-Match` gets 304.
#[utoipa::path(
    tag = "excerpts",
    params(("id" = i64, Path, minimum = 1, description = "The excerpt's id", example = 1), FieldsQuery),
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
    databases: web::Data<Databases>,
    caller: MaybeCaller,
    id: web::Path<String>,
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, AppError> {
    editing::read::<Excerpt>(&req, &databases, &caller, &id, query.fields.as_deref()).await
}
