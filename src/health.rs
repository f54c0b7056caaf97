//! Liveness and readiness probes for orchestrators and load balancers.

use std::sync::LazyLock;

use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, DbPool, SqlState};
use crate::error::{responses, AppError};

/// The state of a probe.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Check liveness
///
/// 200 while the process serves HTTP; it does not touch the database.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The process is up", body = Health),
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/healthz")]
pub async fn check_health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Check readiness
///
/// 200 when the database answers and every migration this build embeds has
/// been applied; 503 otherwise.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/readyz")]
pub async fn check_readiness(pool: web::Data<DbPool>) -> Result<web::Json<Health>, AppError> {
    let mut conn = pool.get().await?;
    match db::is_ready(&mut conn, &db::latest_migration_version()).await {
        Ok(true) => Ok(web::Json(Health { status: "ready" })),
        Ok(false) => Err(behind()),
        // A database without the migrations table has never been migrated.
        Err(error) if SqlState::of(&error) == Some(SqlState::UNDEFINED_TABLE) => Err(behind()),
        Err(error) => Err(error.into()),
    }
}

fn behind() -> AppError {
    AppError::Unavailable(
        "the database schema is behind this build; run `broadsheet migrate`".into(),
    )
}

/// The largest body the ceiling serves.
pub const CEILING_MAX_BYTES: usize = 1 << 20;

/// The benchmark's ceiling, `GET /bench/ceiling?bytes=N` (served only with
/// `BROADSHEET_BENCH_CEILING`, and left out of the OpenAPI document): the
/// first N bytes of one buffer made at start, through every layer a read
/// passes, which is what the HTTP layer costs for an answer of that size. A
/// held answer costs that plus the cache's work, so a read is measured
/// against a ceiling of its own size: bytes cost, and a 15-byte probe is no
/// yardstick for a 30 KB feed page. Other parameters (`n=` to vary the path
/// as the endpoints' do) are ignored.
pub async fn serve_ceiling(req: HttpRequest) -> Result<HttpResponse, AppError> {
    static BODY: LazyLock<Bytes> = LazyLock::new(|| Bytes::from(vec![b'x'; CEILING_MAX_BYTES]));
    let bytes = req
        .query_string()
        .split('&')
        .find_map(|pair| pair.strip_prefix("bytes="))
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|bytes| *bytes <= CEILING_MAX_BYTES)
        .ok_or_else(|| {
            AppError::invalid(
                "bytes",
                format!("must be a number of bytes from 0 to {CEILING_MAX_BYTES}"),
            )
        })?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(BODY.slice(..bytes)))
}
