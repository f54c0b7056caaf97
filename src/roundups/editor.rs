//! The editorial side of press roundups and their links: add, retitle or
//! change, delete, and reorder. Each request is one transaction that locks
//! the article first; each also moves the article's `updated_at`.

use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};

use super::views::{ListedLink, Roundup};
use crate::articles::queries::ArticleRow;
use crate::articles::views::Article;
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::{self, Kind, Locked};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Authorized, Editor};
use crate::params::{ArticleSlug, ResourceId};

/// Add a roundup
///
/// A new press roundup in the article (a draft, scheduled or published),
/// with its `title` and optionally its `links`, each as in an article
/// created with roundups; outlets are named by slug and must exist.
/// `position` (from 1) puts it there and moves those at and after it down
/// one; without it the roundup goes last. Send an `Idempotency-Key` to make
/// retries safe: a repeat returns the first response and adds nothing.
#[utoipa::path(
    tag = "roundups",
    params(ArticleSlug),
    request_body(content = super::commands::NewRoundup, description = "The roundup with its links, and optionally where it goes", content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Roundup,
            headers(("Location" = String, description = "The new roundup's URL"), ("ETag" = String, description = "Strong entity tag"))),
        responses::CreateErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/articles/{slug}/roundups")]
pub async fn create_roundup(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(caller, ArticleSlug(slug)): Editor<ArticleSlug>,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::add::<Roundup>(&req, &pool, &caller, key, slug, &body).await
}

/// Retitle a roundup
///
/// A JSON merge patch (RFC 7396) of the roundup's `title`; its links have
/// endpoints of their own. Send `If-Match` with the ETag you edited, so that
/// a concurrent change is refused (412) instead of overwritten.
#[utoipa::path(
    tag = "roundups",
    params(ResourceId),
    request_body(content = super::commands::RoundupPatch, description = "A JSON merge patch of the roundup's title", content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated roundup", body = Roundup,
            headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
        responses::EditErrors,
    ),
    security(("api_key" = [])),
)]
#[patch("/v1/roundups/{id}")]
pub async fn update_roundup(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::patch::<Locked<Roundup>>(&req, &pool, id, &body).await
}

/// Delete a roundup
///
/// Deletes the roundup with its links; the roundups after it move up one
/// place. Honors `If-Match`.
#[utoipa::path(
    tag = "roundups",
    params(ResourceId),
    responses(
        (status = 204, description = "Deleted"),
        responses::GuardedErrors,
        responses::BadRequest,
    ),
    security(("api_key" = [])),
)]
#[delete("/v1/roundups/{id}")]
pub async fn delete_roundup(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
) -> Result<HttpResponse, AppError> {
    editing::delete::<Roundup>(&req, &pool, id).await
}

/// Reorder an article's roundups
///
/// Puts the article's roundups in the order of `ids`, which must list each
/// of them exactly once. Answers with the article. `If-Match` is checked
/// against the article's ETag.
#[utoipa::path(
    tag = "roundups",
    params(ArticleSlug),
    request_body(content = crate::editing::Order, description = "Every roundup id of the article, in the new order", content_type = "application/json"),
    responses(
        (status = 200, description = "The article, its roundups in the new order", body = Article,
            headers(("ETag" = String, description = "Strong entity tag of the article's new representation"))),
        responses::EditErrors,
    ),
    security(("api_key" = [])),
)]
#[put("/v1/articles/{slug}/roundups/order")]
pub async fn order_roundups(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ArticleSlug(slug)): Editor<ArticleSlug>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::reorder::<ArticleRow>(&req, &pool, slug, Kind::Roundup, &body).await
}

/// Add a press link
///
/// A new link in the roundup: `headline`, `outlet` (a slug, which must
/// exist) and `url`. `position` (from 1) puts it there and moves those at
/// and after it down one; without it the link goes last. Send an
/// `Idempotency-Key` to make retries safe: a repeat returns the first
/// response and adds nothing.
#[utoipa::path(
    tag = "roundups",
    params(ResourceId),
    request_body(content = super::commands::NewLink, description = "The link, and optionally where it goes", content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = ListedLink,
            headers(("Location" = String, description = "The new link's URL"), ("ETag" = String, description = "Strong entity tag"))),
        responses::CreateErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/roundups/{id}/links")]
pub async fn create_link(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(caller, ResourceId(roundup)): Editor<ResourceId>,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::add::<ListedLink>(&req, &pool, &caller, key, roundup, &body).await
}

/// Update a press link
///
/// A JSON merge patch (RFC 7396) of the link's `headline`, `outlet` (a
/// slug) and `url`, checked as a new link would be. Send `If-Match` with
/// the ETag you edited, so that a concurrent change is refused (412)
/// instead of overwritten.
#[utoipa::path(
    tag = "roundups",
    params(ResourceId),
    request_body(content = super::commands::LinkPatch, description = "A JSON merge patch of the link's members", content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated link", body = ListedLink,
            headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
        responses::PatchErrors,
    ),
    security(("api_key" = [])),
)]
#[patch("/v1/roundup-links/{id}")]
pub async fn update_link(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::patch::<Locked<ListedLink>>(&req, &pool, id, &body).await
}

/// Delete a press link
///
/// Deletes the link; those after it in its roundup move up one place.
/// Honors `If-Match`.
#[utoipa::path(
    tag = "roundups",
    params(ResourceId),
    responses(
        (status = 204, description = "Deleted"),
        responses::GuardedErrors,
        responses::BadRequest,
    ),
    security(("api_key" = [])),
)]
#[delete("/v1/roundup-links/{id}")]
pub async fn delete_link(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
) -> Result<HttpResponse, AppError> {
    editing::delete::<ListedLink>(&req, &pool, id).await
}

/// Reorder a roundup's links
///
/// Puts the roundup's links in the order of `ids`, which must list each of
/// them exactly once. Answers with the roundup. `If-Match` is checked
/// against the roundup's ETag.
#[utoipa::path(
    tag = "roundups",
    params(ResourceId),
    request_body(content = crate::editing::Order, description = "Every link id of the roundup, in the new order", content_type = "application/json"),
    responses(
        (status = 200, description = "The roundup, its links in the new order", body = Roundup,
            headers(("ETag" = String, description = "Strong entity tag of the roundup's new representation"))),
        responses::EditErrors,
    ),
    security(("api_key" = [])),
)]
#[put("/v1/roundups/{id}/links/order")]
pub async fn order_links(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::reorder::<Locked<Roundup>>(&req, &pool, id, Kind::Link, &body).await
}
