//! Tags: the labels of articles, listed with their published-article counts.

pub mod queries;
pub mod views;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel_async::scoped_futures::ScopedFutureExt;

use crate::db::replica::Databases;
use crate::error::{responses, AppError};
use crate::fields::Fields;
use crate::pagination::{CursorKey, Page, Position, SlugPageQuery};
use crate::representation::{Audience, Provenance};
use crate::revisions;
use views::Tag;

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
    databases: web::Data<Databases>,
    query: web::Query<SlugPageQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let (scope, limit, after) = query.validate(&cursors, "tags")?;
    let fields = Fields::of::<Tag>(query.fields.as_deref())?;
    let after = after.as_deref();
    let (removed_at, rows) = databases
        .read(&req, move |conn| {
            let removed_at = revisions::removals(conn);
            let rows = queries::list_public(conn, after, limit, Utc::now());
            futures_util::future::try_join(removed_at, rows).scope_boxed_local()
        })
        .await?;
    let mut shown = Provenance::new();
    shown.list("tags").changed_by_removal(removed_at);
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |(tag, _, _)| Position::Slug(tag.slug.clone()),
        |(tag, count, revised_at)| {
            shown.key("tag", tag.id).revised(revised_at);
            Tag::from((tag, count))
        },
    );
    page.respond_fields(&req, Audience::Public, &shown, fields.as_ref())
}
