//! Tags: the labels of articles, listed with their published-article counts.

pub mod queries;
pub mod views;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::DbPool;
use crate::error::{responses, AppError};
use crate::pagination::{Page, Position, Scope};
use crate::params::{self, Checker};
use views::Tag;

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_tags);
}

/// Query parameters of the slug-ordered lists (`/v1/tags`, `/v1/outlets`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlugPageQuery {
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl SlugPageQuery {
    /// The page size and the slug to resume after, for the list named `endpoint`.
    pub fn validate(&self, endpoint: &str) -> Result<(Scope, u32, Option<String>), AppError> {
        let scope = Scope::new(endpoint, &[]);
        let mut checker = Checker::new();
        let limit = checker.check(params::limit(self.limit.as_deref(), 20, 100));
        let after = checker
            .check(scope.after_slug(self.cursor.as_deref()))
            .flatten();
        checker.finish()?;
        Ok((scope, limit.unwrap_or_default(), after))
    }
}

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
    pool: web::Data<DbPool>,
    query: web::Query<SlugPageQuery>,
) -> Result<HttpResponse, AppError> {
    let (scope, limit, after) = query.validate("tags")?;
    let mut conn = pool.get().await?;
    let rows = queries::list_public(&mut conn, after.as_deref(), limit, Utc::now()).await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |(tag, _)| Position::Slug(tag.slug.clone()),
        Tag::from,
    );
    Ok(page.respond(&req))
}
