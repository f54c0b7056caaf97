//! The editorial side of outlets: add one, change it (its slug too), and,
//! for admins, delete one that nothing cites.

use actix_web::{delete, patch, post, HttpResponse};
use chrono::Utc;
use diesel_async::scoped_futures::ScopedFutureExt;

use super::commands::{self, NewOutlet, OutletPatch};
use super::queries::OutletRow;
use super::views::Outlet;
use super::writes;
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::operations::{create_operation, delete_operation, merge_patch_operation};
use crate::editing::{self, Created};
use crate::error::{responses, AppError};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Admin, Authorized, Editor};
use crate::params::OutletSlug;

create_operation! {
    /// Add an outlet
    ///
    /// A new outlet for excerpts and press links to cite: `slug` (at most 100
    /// characters), `name`, `home_url`, and optionally `country_code` (ISO
    /// 3166-1 alpha-2). Send an `Idempotency-Key` to make retries safe: a
    /// repeat returns the first response and adds nothing.
    create_outlet: POST "/v1/outlets", tag "outlets",
        body NewOutlet "The outlet",
        creates Outlet "The new outlet's URL", also [],
        |req, pool, caller, key, body| {
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
}

merge_patch_operation! {
    /// Update an outlet
    ///
    /// A JSON merge patch (RFC 7396) of the outlet's `slug`, `name`, `home_url`
    /// and `country_code`; `null` removes `country_code`. A new slug moves the
    /// outlet's URL; excerpts and links keep citing it. Send `If-Match` with the
    /// ETag you edited, so that a concurrent change is refused (412) instead of
    /// overwritten.
    update_outlet: PATCH "/v1/outlets/{slug}", tag "outlets", key OutletSlug,
        body OutletPatch "A JSON merge patch of the outlet's members",
        answers Outlet "The updated outlet", PatchErrors,
        |req, pool, _caller, slug, body| editing::patch::<OutletRow>(&req, &pool, slug, &body).await
}

delete_operation! {
    /// Delete an outlet
    ///
    /// Deletes an outlet that no excerpt or press link cites, in any article;
    /// while one does, the answer is 409. Admins only. Honors `If-Match`.
    delete_outlet: DELETE "/v1/outlets/{slug}", tag "outlets", key OutletSlug, by Admin,
        also [Conflict],
        |req, pool, slug| {
            editing::guarded::<OutletRow, _, _>(&req, &pool, slug, |conn, row, _, _| {
                async move { writes::delete_uncited(conn, &row).await }.scope_boxed()
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
}
