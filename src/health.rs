//! Liveness and readiness probes for orchestrators and load balancers.

use actix_web::{get, web};
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
