//! Press roundups ("From Pakistan Press") and their links, served on their own.

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
use queries::{LinkRecord, LinkSelection, RoundupSelection};
use views::{ListedLink, Roundup};

impl Positioned for Roundup {
    const KIND: Kind = Kind::Roundup;

    async fn find(
        conn: &mut AsyncPgConnection,
        id: i64,
        viewer: Viewer,
    ) -> QueryResult<Option<(Self, Provenance)>> {
        let now = viewer.public_at().unwrap_or_else(Utc::now);
        let selection = RoundupSelection::One(id);
        let roundups = queries::load_roundups(conn, selection, viewer).await?;
        let links = queries::load_links(conn, LinkSelection::Of(selection), viewer).await?;
        let mut shown = Provenance::new();
        for (roundup, article) in &roundups {
            shown.key("roundup", roundup.id).article(
                article.id,
                article.revised_at,
                article.published_at,
                now,
            );
        }
        for (link, outlet, _, _) in &links {
            shown.key("link", link.id).key("outlet", outlet.id);
        }
        Ok(views::assemble(roundups, links)
            .pop()
            .map(|roundup| (roundup, shown)))
    }
}

impl Positioned for ListedLink {
    const KIND: Kind = Kind::Link;

    async fn find(
        conn: &mut AsyncPgConnection,
        id: i64,
        viewer: Viewer,
    ) -> QueryResult<Option<(Self, Provenance)>> {
        let now = viewer.public_at().unwrap_or_else(Utc::now);
        Ok(queries::load_links(conn, LinkSelection::One(id), viewer)
            .await?
            .pop()
            .map(|record| {
                let mut shown = Provenance::new();
                show(&mut shown, &record, now);
                (ListedLink::from(record), shown)
            }))
    }
}

/// What a press link shows: itself, its outlet, its roundup and its
/// article, revised with the article (whose stamp moves with every change
/// to its roundups, their links and the outlets they cite).
fn show(shown: &mut Provenance, (link, outlet, roundup, article): &LinkRecord, now: DateTime<Utc>) {
    shown
        .key("link", link.id)
        .key("roundup", roundup.id)
        .key("outlet", outlet.id)
        .article(article.id, article.revised_at, article.published_at, now);
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
    databases: web::Data<Databases>,
    query: web::Query<CitationQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let filter = query.validate(&cursors, "roundup-links")?;
    let fields = Fields::of::<ListedLink>(query.fields.as_deref())?;
    let now = Utc::now();
    let filter = &filter;
    let (removed_at, rows) = databases
        .read(&req, move |conn| {
            let removed_at = revisions::removals(conn);
            let rows = queries::load_links(conn, LinkSelection::Page(filter), Viewer::Public(now));
            futures_util::future::try_join(removed_at, rows).scope_boxed_local()
        })
        .await?;
    let mut shown = Provenance::new();
    shown.list("roundup-links").changed_by_removal(removed_at);
    let page = Page::from_rows(
        rows,
        filter.limit,
        &filter.scope,
        |r| Position::Id(r.0.id),
        |record| {
            show(&mut shown, &record, now);
            ListedLink::from(record)
        },
    );
    page.respond_fields(&req, Audience::Public, &shown, fields.as_ref())
}

/// Get a roundup
///
/// One press roundup of a published article, with its links in order. With
/// an API key, roundups of drafts and scheduled posts too (never cached by
/// shared caches). The `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "roundups",
    params(("id" = i64, Path, minimum = 1, description = "The roundup's id", example = 1), FieldsQuery),
    responses(
        (status = 200, description = "The roundup", body = Roundup,
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
#[get("/v1/roundups/{id}")]
pub async fn find_roundup(
    req: HttpRequest,
    databases: web::Data<Databases>,
    caller: MaybeCaller,
    id: web::Path<String>,
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, AppError> {
    editing::read::<Roundup>(&req, &databases, &caller, &id, query.fields.as_deref()).await
}

/// Get a press link
///
/// One link from a press roundup of a published article, saying which
/// roundup and article it belongs to. With an API key, links of drafts and
/// scheduled posts too (never cached by shared caches). The `ETag` is
/// strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "roundups",
    params(("id" = i64, Path, minimum = 1, description = "The link's id", example = 1), FieldsQuery),
    responses(
        (status = 200, description = "The press link", body = ListedLink,
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
#[get("/v1/roundup-links/{id}")]
pub async fn find_roundup_link(
    req: HttpRequest,
    databases: web::Data<Databases>,
    caller: MaybeCaller,
    id: web::Path<String>,
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, AppError> {
    editing::read::<ListedLink>(&req, &databases, &caller, &id, query.fields.as_deref()).await
}
