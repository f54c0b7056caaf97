//! Outlets: the publications that excerpts quote and roundups link to.

pub mod commands;
pub mod editor;
pub mod queries;
pub mod views;
pub mod writes;

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel_async::scoped_futures::ScopedFutureExt;

use crate::db::replica::Databases;
use crate::error::{responses, AppError};
use crate::fields::{Fields, FieldsQuery};
use crate::keys::MaybeCaller;
use crate::pagination::{CursorKey, Page, Position, SlugPageQuery};
use crate::params;
use crate::representation::{Audience, Provenance, Representation};
use crate::revisions;
use views::Outlet;

/// List outlets
///
/// Every outlet, ordered by slug, with how many excerpts and press links of
/// published articles cite it.
#[utoipa::path(
    tag = "outlets",
    params(SlugPageQuery),
    responses(
        (status = 200, description = "One page of outlets", body = Page<Outlet>,
            headers(("Link" = String, description = "RFC 8288 link to the next page"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/outlets")]
pub async fn list_outlets(
    req: HttpRequest,
    databases: web::Data<Databases>,
    query: web::Query<SlugPageQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let (scope, limit, after) = query.validate(&cursors, "outlets")?;
    let fields = Fields::of::<Outlet>(query.fields.as_deref())?;
    let after = after.as_deref();
    let (removed_at, rows) = databases
        .read(&req, move |conn| {
            let removed_at = revisions::removals(conn);
            let rows = queries::list(conn, after, limit, Utc::now());
            futures_util::future::try_join(removed_at, rows).scope_boxed_local()
        })
        .await?;
    let mut shown = Provenance::new();
    shown.list("outlets").changed_by_removal(removed_at);
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |o| Position::Slug(o.outlet.slug.clone()),
        |outlet| {
            shown
                .key("outlet", outlet.outlet.id)
                .revised(outlet.revised_at());
            Outlet::from(outlet)
        },
    );
    page.respond_fields(&req, Audience::Public, &shown, fields.as_ref())
}

/// Get an outlet
///
/// One outlet with how many excerpts and press links of published articles
/// cite it. The `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "outlets",
    params(("slug" = String, Path, description = "The outlet's slug", example = "bloomberg"), FieldsQuery),
    responses(
        (status = 200, description = "The outlet", body = Outlet,
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
#[get("/v1/outlets/{slug}")]
pub async fn find_outlet(
    req: HttpRequest,
    databases: web::Data<Databases>,
    caller: MaybeCaller,
    slug: web::Path<String>,
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, AppError> {
    let slug = params::path_slug("outlet", &slug)?;
    let fields = Fields::of::<Outlet>(query.fields.as_deref())?;
    let (removed_at, row) = databases
        .read(&req, move |conn| {
            let removed_at = revisions::removals(conn);
            let row = queries::find(conn, slug, Utc::now());
            futures_util::future::try_join(removed_at, row).scope_boxed_local()
        })
        .await?;
    let row = row.ok_or_else(|| AppError::not_found("outlet", slug))?;
    // Its counts go down when a citation leaves: the removal stamp keeps
    // `Last-Modified` from going back then.
    let mut shown = Provenance::new();
    shown
        .key("outlet", row.outlet.id)
        .revised(row.revised_at())
        .changed_by_removal(removed_at);
    Ok(
        Representation::of_fields(&Outlet::from(row), fields.as_ref())?
            .shows(&shown)
            .respond(&req, StatusCode::OK, caller.audience()),
    )
}
