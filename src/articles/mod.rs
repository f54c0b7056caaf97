//! Articles: the editor's posts, listed as summaries and served whole.

pub mod queries;
pub mod views;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::DbPool;
use crate::error::{responses, AppError};
use crate::excerpts::queries::ExcerptSelection;
use crate::pagination::{Page, Position, Scope};
use crate::params::{self, Checker};
use crate::roundups::queries::{LinkSelection, RoundupSelection};
use crate::{excerpts, roundups, tags};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use queries::{ArticleFilter, ArticleSummaryRow};
use views::{Article, ArticleSummary};

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_articles).service(find_article);
}

/// Query parameters of `GET /v1/articles`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListArticlesQuery {
    /// Only articles with this tag (a tag slug).
    #[param(example = "pakistan")]
    tag: Option<String>,
    /// Only articles that quote or link to this outlet (an outlet slug).
    #[param(example = "dawn")]
    outlet: Option<String>,
    /// Only articles published strictly after this time (RFC 3339, or a date meaning its midnight UTC).
    #[param(value_type = Option<String>, format = DateTime, example = "2011-10-01T00:00:00Z")]
    published_after: Option<String>,
    /// Only articles published strictly before this time (RFC 3339, or a date meaning its midnight UTC).
    #[param(value_type = Option<String>, format = DateTime, example = "2011-11-01")]
    published_before: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List articles
///
/// Published articles, newest first, as summaries without bodies. Paged by an
/// opaque cursor: follow `next_cursor` (or the `Link: rel="next"` header)
/// until it is null.
#[utoipa::path(
    tag = "articles",
    params(ListArticlesQuery),
    responses(
        (status = 200, description = "One page of articles", body = Page<ArticleSummary>,
            headers(("Link" = String, description = "RFC 8288 link to the next page, when there is one"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles")]
pub async fn list_articles(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    query: web::Query<ListArticlesQuery>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let filter = ArticleFilter {
        tag: checker
            .check(params::slug("tag", query.tag.as_deref()))
            .flatten(),
        outlet: checker
            .check(params::slug("outlet", query.outlet.as_deref()))
            .flatten(),
        published_after: checker
            .check(params::timestamp(
                "published_after",
                query.published_after.as_deref(),
            ))
            .flatten(),
        published_before: checker
            .check(params::timestamp(
                "published_before",
                query.published_before.as_deref(),
            ))
            .flatten(),
    };
    let limit = checker.check(params::limit(query.limit.as_deref(), 20, 100));
    let scope = Scope::new(
        "articles",
        &[
            ("tag", query.tag.as_deref()),
            ("outlet", query.outlet.as_deref()),
            ("published_after", query.published_after.as_deref()),
            ("published_before", query.published_before.as_deref()),
        ],
    );
    let after = checker
        .check(scope.after_published(query.cursor.as_deref()))
        .flatten();
    checker.finish()?;
    let limit = limit.unwrap_or_default();

    let mut conn = pool.get().await?;
    let rows = queries::list_public(&mut conn, &filter, after, limit, Utc::now()).await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |row| Position::Published {
            at: row.published_at.unwrap_or(row.updated_at),
            id: row.id,
        },
        |row| row,
    );
    let data = summarize(&mut conn, page.data).await?;
    let page = Page {
        data,
        next_cursor: page.next_cursor,
    };
    Ok(page.respond(&req))
}

/// Summaries of these rows, in their order, with their tags (one query for all).
pub async fn summarize(
    conn: &mut AsyncPgConnection,
    rows: Vec<ArticleSummaryRow>,
) -> QueryResult<Vec<ArticleSummary>> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut tags = tags::queries::of_articles(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let tags = tags.remove(&row.id).unwrap_or_default();
            ArticleSummary::new(row, tags.into_iter().map(Into::into).collect())
        })
        .collect())
}

/// Get an article
///
/// The whole post in one response: the commentary as Markdown and sanitized
/// HTML, its tags, its excerpts in order with their sources and outlets, and
/// its press roundups in order with their links and outlets.
#[utoipa::path(
    tag = "articles",
    params(("slug" = String, Path, description = "The article's slug", example = "secretary-clintons-message-to-pakistan")),
    responses(
        (status = 200, description = "The article", body = Article),
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles/{slug}")]
pub async fn find_article(
    pool: web::Data<DbPool>,
    slug: web::Path<String>,
) -> Result<web::Json<Article>, AppError> {
    let slug = params::path_slug("article", &slug)?;
    let now = Utc::now();
    let mut conn = pool.get().await?;
    let row = queries::find_public(&mut conn, slug, now)
        .await?
        .ok_or_else(|| AppError::not_found("published article", slug))?;
    let tags = tags::queries::of_articles(&mut conn, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    let excerpts =
        excerpts::queries::load(&mut conn, ExcerptSelection::OfArticle(row.id), now).await?;
    let roundups = RoundupSelection::OfArticle(row.id);
    let links = roundups::queries::load_links(&mut conn, LinkSelection::Of(roundups), now).await?;
    let roundups = roundups::queries::load_roundups(&mut conn, roundups, now).await?;
    Ok(web::Json(Article::new(
        row,
        tags.into_iter().map(Into::into).collect(),
        excerpts.into_iter().map(Into::into).collect(),
        roundups::views::assemble(roundups, links),
    )))
}
