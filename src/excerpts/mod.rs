//! Excerpts: passages quoted from source articles, served on their own.

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
use queries::ExcerptSelection;
use views::Excerpt;

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_excerpts).service(find_excerpt);
}

/// Query parameters of the excerpt and press-link lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CitationQuery {
    /// Only those citing this outlet (an outlet slug).
    #[param(example = "bloomberg")]
    pub outlet: Option<String>,
    /// Only those of this article (an article slug).
    #[param(example = "secretary-clintons-message-to-pakistan")]
    pub article: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated `CitationQuery`.
pub struct CitationFilter {
    pub outlet: Option<String>,
    pub article: Option<String>,
    pub after: Option<i64>,
    pub limit: u32,
    pub scope: Scope,
}

impl CitationQuery {
    /// Validates the filters of the list named `endpoint`, naming every bad parameter.
    pub fn validate(&self, endpoint: &str) -> Result<CitationFilter, AppError> {
        let mut checker = Checker::new();
        let outlet = checker
            .check(params::slug("outlet", self.outlet.as_deref()))
            .flatten();
        let article = checker
            .check(params::slug("article", self.article.as_deref()))
            .flatten();
        let limit = checker.check(params::limit(self.limit.as_deref(), 20, 100));
        let scope = Scope::new(
            endpoint,
            &[
                ("outlet", self.outlet.as_deref()),
                ("article", self.article.as_deref()),
            ],
        );
        let after = checker
            .check(scope.after_id(self.cursor.as_deref()))
            .flatten();
        checker.finish()?;
        Ok(CitationFilter {
            outlet,
            article,
            after,
            limit: limit.unwrap_or_default(),
            scope,
        })
    }
}

/// List excerpts
///
/// Excerpts of published articles, oldest first (by id), each saying which
/// article quotes it.
#[utoipa::path(
    tag = "excerpts",
    params(CitationQuery),
    responses(
        (status = 200, description = "One page of excerpts", body = Page<Excerpt>,
            headers(("Link" = String, description = "RFC 8288 link to the next page, when there is one"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/excerpts")]
pub async fn list_excerpts(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    query: web::Query<CitationQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.validate("excerpts")?;
    let mut conn = pool.get().await?;
    let selection = ExcerptSelection::Page {
        outlet: filter.outlet,
        article: filter.article,
        after: filter.after,
        limit: filter.limit,
    };
    let rows = queries::load(&mut conn, selection, Utc::now()).await?;
    let page = Page::from_rows(
        rows,
        filter.limit,
        &filter.scope,
        |r| Position::Id(r.0.id),
        Excerpt::from,
    );
    Ok(page.respond(&req))
}

/// Get an excerpt
///
/// One excerpt of a published article, with its source attribution and the article quoting it.
#[utoipa::path(
    tag = "excerpts",
    params(("id" = i64, Path, minimum = 1, description = "The excerpt's id", example = 1)),
    responses(
        (status = 200, description = "The excerpt", body = Excerpt),
        responses::BadRequest,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/excerpts/{id}")]
pub async fn find_excerpt(
    pool: web::Data<DbPool>,
    id: web::Path<String>,
) -> Result<web::Json<Excerpt>, AppError> {
    let id = params::id("id", &id)?;
    let mut conn = pool.get().await?;
    let record = queries::load(&mut conn, ExcerptSelection::One(id), Utc::now())
        .await?
        .pop()
        .ok_or_else(|| AppError::not_found("excerpt of a published article", id))?;
    Ok(web::Json(record.into()))
}
