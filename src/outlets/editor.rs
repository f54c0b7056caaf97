//! The editorial side of outlets: add one, change it (its slug too), and,
//! for admins, delete one that nothing cites.

use actix_web::{delete, patch, post, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel_async::scoped_futures::ScopedFutureExt;

use super::commands;
use super::queries::OutletRow;
use super::views::Outlet;
use super::writes;
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::{self, Created};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Admin, Authorized, Editor};
use crate::params::OutletSlug;

/// Add an outlet
///
/// A new outlet for excerpts and press links to cite: `slug` (at most 100
/// characters), `name`, `home_url`, and optionally `country_code` (ISO
/// 3166-1 alpha-2). Send an `Idempotency-Key` to make retries safe: a
/// repeat returns the first response and adds nothing.
#[utoipa::path(
    tag = "outlets",
    request_body(content = super::commands::NewOutlet, description = "The outlet", content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = Outlet,
            headers(("Location" = String, description = "The new outlet's URL"), ("ETag" = String, description = "Strong entity tag"))),
        responses::CreateErrors,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/outlets")]
pub async fn create_outlet(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(caller, ()): Editor,
    key: IdempotencyKey,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    let now = Utc::now();
    let value = &body.value;
    let mut conn = pool.get().await?;
    editing::create(&req, &mut conn, &caller, key, &body, |conn| {
        async move {
            let outlet = commands::parse_new_outlet(conn, value).await?;
            writes::insert(conn, &outlet).await?;
            let created = writes::view(conn, &outlet.slug, now).await?;
            Created::new(&created, format!("/v1/outlets/{}", outlet.slug))
        }
        .scope_boxed()
    })
    .await
}

/// Update an outlet
///
/// A JSON merge patch (RFC 7396) of the outlet's `slug`, `name`, `home_url`
/// and `country_code`; `null` removes `country_code`. A new slug moves the
/// outlet's URL; excerpts and links keep citing it. Send `If-Match` with the
/// ETag you edited, so that a concurrent change is refused (412) instead of
/// overwritten.
#[utoipa::path(
    tag = "outlets",
    params(OutletSlug),
    request_body(content = super::commands::OutletPatch, description = "A JSON merge patch of the outlet's members", content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The updated outlet", body = Outlet,
            headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
        responses::PatchErrors,
    ),
    security(("api_key" = [])),
)]
#[patch("/v1/outlets/{slug}")]
pub async fn update_outlet(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, OutletSlug(slug)): Editor<OutletSlug>,
    body: JsonBody,
) -> Result<HttpResponse, AppError> {
    editing::patch::<OutletRow>(&req, &pool, slug, &body).await
}

/// Delete an outlet
///
/// Deletes an outlet that no excerpt or press link cites, in any article;
/// while one does, the answer is 409. Admins only. Honors `If-Match`.
#[utoipa::path(
    tag = "outlets",
    params(OutletSlug),
    responses(
        (status = 204, description = "Deleted"),
        responses::GuardedErrors,
        responses::Conflict,
    ),
    security(("api_key" = [])),
)]
#[delete("/v1/outlets/{slug}")]
pub async fn delete_outlet(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, OutletSlug(slug)): Admin<OutletSlug>,
) -> Result<HttpResponse, AppError> {
    editing::guarded::<OutletRow, _, _>(&req, &pool, slug, |conn, row, _, _| {
        async move { writes::delete_uncited(conn, &row).await }.scope_boxed()
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
