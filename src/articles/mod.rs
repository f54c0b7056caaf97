//! Articles: the editor's posts, listed as summaries and served whole.

pub mod commands;
pub mod editor;
pub mod queries;
pub mod views;
pub mod writes;

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::db::DbPool;
use crate::error::{responses, AppError, InvalidInput};
use crate::excerpts::queries::ExcerptSelection;
use crate::fields::{Fields, FieldsQuery};
use crate::keys::MaybeCaller;
use crate::pagination::{CursorKey, Page, Position, Scope};
use crate::params::{self, Checker};
use crate::representation::{Provenance, Representation};
use crate::roundups::queries::{LinkSelection, RoundupSelection};
use crate::visibility::Viewer;
use crate::{excerpts, revisions, roundups, tags};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use queries::{ArticleFilter, ArticleRow, ArticleSummaryRow, StatusFilter};
use views::{Article, ArticleSummary};

pub fn configure(config: &mut ServiceConfig) {
    config.service(list_articles).service(find_article);
    editor::configure(config);
}

/// Query parameters of `GET /v1/articles`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListArticlesQuery {
    /// Which articles: `published` (the default, and the only one open without
    /// a key), `scheduled`, `draft` or `all`. Drafts and `all` list the most
    /// recently updated first.
    #[param(value_type = Option<String>, example = "published")]
    status: Option<String>,
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
    /// Comma-separated members of each item to keep (e.g. `slug,title`); all
    /// when absent. An unknown name is a 400 naming it.
    #[param(example = "slug,title")]
    fields: Option<String>,
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
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles")]
pub async fn list_articles(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    caller: MaybeCaller,
    query: web::Query<ListArticlesQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let status = checker.check(match query.status.as_deref() {
        None => Ok(StatusFilter::Published),
        Some(value) => StatusFilter::parse(value).ok_or_else(|| {
            InvalidInput::new(
                "status",
                format!("must be one of {}", StatusFilter::NAMES.join(", ")),
            )
        }),
    });
    let filter = ArticleFilter {
        status: status.unwrap_or_default(),
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
    let fields = checker
        .check(Fields::parse::<ArticleSummary>(query.fields.as_deref()))
        .flatten();
    let scope = Scope::new(
        &cursors,
        "articles",
        &[
            ("status", query.status.as_deref()),
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
    if filter.status != StatusFilter::Published && caller.0.is_none() {
        return Err(AppError::Unauthorized(
            "listing drafts or scheduled articles needs an API key".into(),
        ));
    }
    let limit = limit.unwrap_or_default();

    let now = Utc::now();
    let mut conn = pool.get().await?;
    // One round trip: the context is sent along with the page's query.
    let context = queries::list_context(&mut conn, &filter);
    let rows = queries::list(&mut conn, &filter, after, limit, now);
    let ((removed_at, tag_id, outlet_id), rows) =
        futures_util::future::try_join(context, rows).await?;
    let by_publication = filter.status.by_publication();
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |row| Position::Published {
            at: match row.published_at {
                Some(at) if by_publication => at,
                _ => row.updated_at,
            },
            id: row.id,
        },
        |row| row,
    );
    let mut shown = Provenance::new();
    shown.list("articles").changed_by_removal(removed_at);
    if let Some(id) = tag_id {
        shown.key("tag", id);
    }
    if let Some(id) = outlet_id {
        shown.key("outlet", id);
    }
    for row in &page.data {
        shown.key("article", row.id).revised(revisions::effective(
            row.revised_at,
            row.published_at,
            now,
        ));
    }
    let data = summarize(&mut conn, page.data, now).await?;
    let page = Page {
        data,
        next_cursor: page.next_cursor,
    };
    page.respond_fields(&req, caller.audience(), &shown, fields.as_ref())
}

/// Summaries of these rows, in their order, with their tags (one query for all).
pub async fn summarize(
    conn: &mut AsyncPgConnection,
    rows: Vec<ArticleSummaryRow>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<ArticleSummary>> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut tags = tags::queries::of_articles(conn, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let tags = tags.remove(&row.id).unwrap_or_default();
            ArticleSummary::new(row, tags.into_iter().map(Into::into).collect(), now)
        })
        .collect())
}

/// The whole representation of an article row, as the viewer may see it.
pub async fn load_view(
    conn: &mut AsyncPgConnection,
    row: ArticleRow,
    viewer: Viewer,
    now: DateTime<Utc>,
) -> QueryResult<Article> {
    Ok(load_shown(conn, row, viewer, now).await?.0)
}

/// The whole representation of an article row, and what it shows: the
/// article, its tags and the outlets it cites, last changed at its
/// effective time.
pub async fn load_shown(
    conn: &mut AsyncPgConnection,
    row: ArticleRow,
    viewer: Viewer,
    now: DateTime<Utc>,
) -> QueryResult<(Article, Provenance)> {
    let tags = tags::queries::of_articles(conn, &[row.id])
        .await?
        .remove(&row.id)
        .unwrap_or_default();
    let excerpts =
        excerpts::queries::load(conn, ExcerptSelection::OfArticle(row.id), viewer).await?;
    let roundups = RoundupSelection::OfArticle(row.id);
    let links = roundups::queries::load_links(conn, LinkSelection::Of(roundups), viewer).await?;
    let roundups = roundups::queries::load_roundups(conn, roundups, viewer).await?;
    let mut shown = Provenance::new();
    shown.key("article", row.id).revised(revisions::effective(
        row.revised_at,
        row.published_at,
        now,
    ));
    for tag in &tags {
        shown.key("tag", tag.id);
    }
    for (_, outlet, _) in &excerpts {
        shown.key("outlet", outlet.id);
    }
    for (_, outlet, _, _) in &links {
        shown.key("outlet", outlet.id);
    }
    let article = Article::new(
        row,
        tags.into_iter().map(Into::into).collect(),
        excerpts.into_iter().map(Into::into).collect(),
        roundups::views::assemble(roundups, links),
        now,
    );
    Ok((article, shown))
}

/// Get an article
///
/// The whole post in one response: the commentary as Markdown and sanitized
/// HTML, its tags, its excerpts in order with their sources and outlets, and
/// its press roundups in order with their links and outlets. With an API key,
/// drafts and scheduled posts too (a preview, never cached by shared caches).
/// A slug the article had before it was renamed answers 308 with the current
/// URL. The `ETag` is strong; `If-None-Match` gets 304.
#[utoipa::path(
    tag = "articles",
    params(("slug" = String, Path, description = "The article's slug", example = "secretary-clintons-message-to-pakistan"), FieldsQuery),
    responses(
        (status = 200, description = "The article", body = Article,
            headers(("ETag" = String, description = "Strong entity tag of this representation"))),
        (status = 304, description = "Not modified since the `If-None-Match` tag"),
        (status = 308, description = "An old slug: `Location` names the current URL",
            headers(("Location" = String, description = "The article's current URL"))),
        responses::BadRequest,
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/articles/{slug}")]
pub async fn find_article(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    caller: MaybeCaller,
    slug: web::Path<String>,
    query: web::Query<FieldsQuery>,
) -> Result<HttpResponse, AppError> {
    let slug = params::path_slug("article", &slug)?;
    let fields = Fields::of::<Article>(query.fields.as_deref())?;
    let now = Utc::now();
    let viewer = caller.viewer(now);
    let mut conn = pool.get().await?;
    let Some(row) = queries::find(&mut conn, slug, viewer).await? else {
        return match queries::current_slug(&mut conn, slug, viewer).await? {
            Some(current) => Ok(HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, views::api_url(&current)))
                .finish()),
            None => Err(AppError::not_found("published article", slug)),
        };
    };
    let (article, shown) = load_shown(&mut conn, row, viewer, now).await?;
    Ok(Representation::of_fields(&article, fields.as_ref())?
        .shows(&shown)
        .respond(&req, StatusCode::OK, caller.audience()))
}
