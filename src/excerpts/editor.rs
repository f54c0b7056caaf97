//! The editorial side of excerpts: add one to an article, change it, delete
//! it, and put an article's excerpts in order. Each request is one
//! transaction that locks the article first; each also moves the article's
//! `updated_at`.

use actix_web::{delete, patch, post, put, web, HttpRequest, HttpResponse};

use super::views::Excerpt;
use crate::articles::queries::ArticleRow;
use crate::articles::views::Article;
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::{self, Kind, Locked};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Authorized, Editor};
use crate::params::{ArticleSlug, ResourceId};

/// Add an excerpt
///
/// A new excerpt quoted by the article (a draft, scheduled or published),
/// with the members an excerpt has when an article is created with it; its
/// outlet is named by slug and must exist. `position` (from 1) puts it
/// there and moves those at and after it down one; without it the excerpt
/// goes last. Send an `Idempotency-Key` to make retries safe: a repeat
/// returns the first response and adds nothing.
#[utoipa::path(
    tag = "excerpts",
    params(ArticleSlug),
    request_body(content = super::commands::NewExcerpt, description = "The excerpt, and optionally where it goes", content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Excerpt,
            headers(("Location" = String, description = "The new excerpt's URL"), ("ETag" = String, description = "Strong entity tag"))),
        responses::CreateErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/articles/{slug}/excerpts")]
pub async fn create_excerpt(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(caller, ArticleSlug(slug)): Editor<ArticleSlug>,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::add::<Excerpt>(&req, &pool, &caller, key, slug, &body).await
}

/// Update an excerpt
///
/// A JSON merge patch (RFC 7396) of the excerpt's members: `headline`,
/// `bylines`, `outlet` (a slug), `source_published_on`, `source_url`,
/// `call_to_action`, `body_markdown`. `null` removes `source_published_on`
/// or `call_to_action`. The result is checked as a new excerpt would be.
/// Send `If-Match` with the ETag you edited, so that a concurrent change is
/// refused (412) instead of overwritten.
#[utoipa::path(
    tag = "excerpts",
    params(ResourceId),
    request_body(content = super::commands::ExcerptPatch, description = "A JSON merge patch of the excerpt's members", content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated excerpt", body = Excerpt,
            headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
        responses::PatchErrors,
    ),
    security(("api_key" = [])),
)]
#[patch("/v1/excerpts/{id}")]
pub async fn update_excerpt(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::patch::<Locked<Excerpt>>(&req, &pool, id, &body).await
}

/// Delete an excerpt
///
/// Deletes the excerpt; those after it move up one place. Honors `If-Match`.
#[utoipa::path(
    tag = "excerpts",
    params(ResourceId),
    responses(
        (status = 204, description = "Deleted"),
        responses::GuardedErrors,
        responses::BadRequest,
    ),
    security(("api_key" = [])),
)]
#[delete("/v1/excerpts/{id}")]
pub async fn delete_excerpt(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ResourceId(id)): Editor<ResourceId>,
) -> Result<HttpResponse, AppError> {
    editing::delete::<Excerpt>(&req, &pool, id).await
}

/// Reorder an article's excerpts
///
/// Puts the article's excerpts in the order of `ids`, which must list each
/// of them exactly once. Answers with the article. `If-Match` is checked
/// against the article's ETag.
#[utoipa::path(
    tag = "excerpts",
    params(ArticleSlug),
    request_body(content = crate::editing::Order, description = "Every excerpt id of the article, in the new order", content_type = "application/json"),
    responses(
        (status = 200, description = "The article, its excerpts in the new order", body = Article,
            headers(("ETag" = String, description = "Strong entity tag of the article's new representation"))),
        responses::EditErrors,
    ),
    security(("api_key" = [])),
)]
#[put("/v1/articles/{slug}/excerpts/order")]
pub async fn order_excerpts(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ArticleSlug(slug)): Editor<ArticleSlug>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::reorder::<ArticleRow>(&req, &pool, slug, Kind::Excerpt, &body).await
}
