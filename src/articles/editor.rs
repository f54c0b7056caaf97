//! The editorial side of articles: create (with excerpts and roundups, in one
//! transaction), update by JSON merge patch, delete, revisions, and old slugs.
//!
//! Every write locks the article, recomputes its current representation and
//! checks `If-Match` against that representation's ETag before changing
//! anything, so two editors holding the same ETag cannot both win.

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::QueryResult;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::commands::{self, ArticlePatch, NewArticle};
use super::load_view;
use super::queries::{self, ArticleRow};
use super::views::{api_url, Article};
use super::writes::{self, RevisionRow, Snapshot};
use crate::body::JsonBody;
use crate::db::DbPool;
use crate::editing::operations::{create_operation, delete_operation, merge_patch_operation};
use crate::editing::{self, Created, Guarded, Parent};
use crate::error::{responses, AppError, InvalidInput};
use crate::idempotency::IdempotencyKey;
use crate::keys::{Admin, Authorized, Caller, Editor};
use crate::pagination::{CursorKey, Page, Position, Scope};
use crate::params::{self, ArticleSlug, Checker, OldSlug, ResourceId};
use crate::representation::{Audience, Provenance, Representation};
use crate::visibility::Viewer;

create_operation! {
    /// Create an article
    ///
    /// A new article, optionally with its excerpts and roundups, written in one
    /// transaction. `status` defaults to `draft`; `published` with a future
    /// `published_at` schedules it, and without a date publishes it now. Outlets
    /// are named by slug and must exist; unknown tags are created. Send an
    /// `Idempotency-Key` to make retries safe: a repeat returns the first
    /// response and creates nothing.
    create_article: POST "/v1/articles", tag "articles",
        body NewArticle "The article, optionally with its excerpts and roundups",
        creates Article "The new article's URL", also [],
        |req, pool, caller, key, body| {
            let now = Utc::now();
            let mut conn = pool.get().await?;
            let article = commands::parse_new_article(&mut conn, &body.value, now).await?;
            // Rendered before the transaction starts, off the async workers.
            let rendered = writes::render(&[&article])
                .await
                .map_err(|e| AppError::internal_because("rendering Markdown", e))?
                .pop()
                .ok_or_else(|| AppError::internal("rendering gave no HTML"))?;
            editing::create(&req, &mut conn, &caller, key, &body, |conn| {
                async move {
                    writes::create(conn, &article, &rendered).await?;
                    let representation = editor_view(conn, &article.slug, now).await?;
                    Ok(Created {
                        representation,
                        location: api_url(&article.slug),
                    })
                }
                .scope_boxed()
            })
            .await
        }
}

/// The article as editors see it.
async fn editor_article(
    conn: &mut AsyncPgConnection,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<Article, AppError> {
    let row = queries::find(conn, slug, Viewer::Editor)
        .await?
        .ok_or_else(|| editing::vanished("article", slug))?;
    Ok(load_view(conn, row, Viewer::Editor, now).await?)
}

/// The article as editors see it, serialized with its ETag.
async fn editor_view(
    conn: &mut AsyncPgConnection,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<Representation, AppError> {
    Representation::of(&editor_article(conn, slug, now).await?)
}

/// Writes lock the article by its slug and check `If-Match` against the
/// article as editors see it.
impl Guarded for ArticleRow {
    type Key = String;
    type View = Article;
    const WHAT: &'static str = "article";

    async fn lock(conn: &mut AsyncPgConnection, slug: &String) -> QueryResult<Option<Self>> {
        writes::lock(conn, slug).await
    }

    async fn view(
        &self,
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> Result<Article, AppError> {
        editor_article(conn, &self.slug, now).await
    }
}

/// An article holds its excerpts and roundups.
impl Parent for ArticleRow {
    fn id(&self) -> i64 {
        self.id
    }

    fn article_id(&self) -> i64 {
        self.id
    }
}

/// What an update does: apply a patch, or go back to a kept revision.
enum Change {
    Patch(ArticlePatch),
    Restore(i64),
}

/// Locks the article, checks `If-Match`, keeps a revision, applies the change.
async fn change_article(
    req: &HttpRequest,
    pool: &DbPool,
    caller: &Caller,
    slug: &str,
    change: Change,
) -> Result<HttpResponse, AppError> {
    editing::update::<ArticleRow, _>(req, pool, slug.to_owned(), |conn, row, current, now| {
        async move {
            let patch = match change {
                Change::Patch(patch) => patch,
                Change::Restore(id) => {
                    let revision = writes::revision(conn, row.id, id)
                        .await?
                        .ok_or_else(|| AppError::not_found("revision of this article", id))?;
                    let snapshot =
                        serde_json::from_value::<Snapshot>(revision.snapshot).map_err(|e| {
                            AppError::internal_because(format!("revision {id} is unreadable"), e)
                        })?;
                    // A revision kept before today's rule may hold Markdown
                    // no write would accept now: it is not rendered either.
                    crate::markdown::check(&snapshot.body_markdown).map_err(|detail| {
                        AppError::Unprocessable(vec![InvalidInput::field(
                            "/body_markdown",
                            format!("{detail} (as revision {id} keeps it)"),
                        )])
                    })?;
                    snapshot.into_patch()
                }
            };
            let slug = patch.slug.clone().unwrap_or_else(|| row.slug.clone());
            let tags = current.tags.iter().map(|tag| tag.slug.clone()).collect();
            writes::update(conn, &row, tags, patch, &caller.name, now).await?;
            editor_view(conn, &slug, now).await
        }
        .scope_boxed()
    })
    .await
}

merge_patch_operation! {
    /// Update an article
    ///
    /// A JSON merge patch (RFC 7396) of the article's own fields: `slug`,
    /// `title`, `summary`, `body_markdown`, `status`, `published_at`, `tags`.
    /// `null` removes `summary` or `published_at`. The previous version is kept
    /// as a revision. Renaming keeps the old slug, which then redirects here.
    /// Send `If-Match` with the ETag you edited, so that a concurrent change is
    /// refused (412) instead of overwritten.
    update_article: PATCH "/v1/articles/{slug}", tag "articles", key ArticleSlug,
        body ArticlePatch "A JSON merge patch of the article's fields",
        answers Article "The updated article", PatchErrors,
        |req, pool, caller, slug, body| {
            let patch = ArticlePatch::parse(&body.value)?;
            change_article(&req, &pool, &caller, &slug, Change::Patch(patch)).await
        }
}

delete_operation! {
    /// Delete an article
    ///
    /// Deletes the article with its excerpts, roundups, revisions, old slugs and
    /// view counts. Admins only. Honors `If-Match`.
    delete_article: DELETE "/v1/articles/{slug}", tag "articles", key ArticleSlug, by Admin,
        also [],
        |req, pool, slug| {
            editing::guarded::<ArticleRow, _, _>(&req, &pool, slug, |conn, row, _, _| {
                async move { Ok(writes::delete(conn, row.id).await?) }.scope_boxed()
            })
            .await?;
            Ok(HttpResponse::NoContent().finish())
        }
}

/// A kept version of an article, from before one of its updates.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revision {
    #[schema(example = 12)]
    pub id: i64,
    /// When the update that replaced this version happened.
    pub created_at: DateTime<Utc>,
    /// The name of the key that made that update.
    pub created_by: Option<String>,
    /// The article's fields as they were.
    pub article: Snapshot,
    /// POST here to restore this version.
    #[schema(example = "/v1/articles/a-slug/revisions/12/restore")]
    pub restore_url: String,
}

/// Query parameters of the revision list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevisionsQuery {
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List an article's revisions
///
/// The versions kept before each update, newest first. Editors only.
#[utoipa::path(
    tag = "articles",
    params(ArticleSlug, RevisionsQuery),
    responses(
        (status = 200, description = "One page of revisions", body = Page<Revision>),
        responses::BadRequest,
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::NotFound,
        responses::Unavailable,
    ),
    security(("api_key" = [])),
)]
#[get("/v1/articles/{slug}/revisions")]
pub async fn list_revisions(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(_caller, ArticleSlug(slug)): Editor<ArticleSlug>,
    query: web::Query<RevisionsQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let scope = Scope::new(&cursors, "revisions", &[("article", Some(&slug))]);
    let mut checker = Checker::new();
    let limit = checker.check(params::limit(query.limit.as_deref(), 20, 100));
    let before = checker
        .check(scope.after_id(query.cursor.as_deref()))
        .flatten();
    checker.finish()?;
    let limit = limit.unwrap_or_default();
    let mut conn = pool.get().await?;
    let article = queries::find(&mut conn, &slug, Viewer::Editor)
        .await?
        .ok_or_else(|| AppError::not_found("article", &slug))?;
    let rows = writes::revisions(&mut conn, article.id, before, limit).await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |row| Position::Id(row.id),
        |row: RevisionRow| Revision {
            restore_url: format!("{}/revisions/{}/restore", api_url(&slug), row.id),
            id: row.id,
            created_at: row.created_at,
            created_by: row.created_by,
            article: serde_json::from_value(row.snapshot)
                .unwrap_or_else(|_| Snapshot::of(&article, Vec::new())),
        },
    );
    page.respond(&req, Audience::Private, &Provenance::new())
}

/// Restore a revision
///
/// Brings the article's fields back to a kept revision; the version it
/// replaces is kept as a revision in turn. Honors `If-Match`.
#[utoipa::path(
    tag = "articles",
    params(ArticleSlug, ResourceId),
    responses(
        (status = 200, description = "The restored article", body = Article,
            headers(("ETag" = String, description = "Strong entity tag of the new representation"))),
        responses::GuardedErrors,
        responses::BadRequest,
        responses::Conflict,
    ),
    security(("api_key" = [])),
)]
#[post("/v1/articles/{slug}/revisions/{id}/restore")]
pub async fn restore_revision(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    Authorized(caller, (ArticleSlug(slug), ResourceId(id))): Editor<(ArticleSlug, ResourceId)>,
) -> Result<HttpResponse, AppError> {
    change_article(&req, &pool, &caller, &slug, Change::Restore(id)).await
}

/// Release an old slug
///
/// Frees a slug that an article had before it was renamed, so that another
/// article may take it; the old URL stops redirecting. Admins only.
#[utoipa::path(
    tag = "articles",
    params(OldSlug),
    responses(
        (status = 204, description = "Released"),
        responses::WriteErrors,
        responses::NotFound,
    ),
    security(("api_key" = [])),
)]
#[delete("/v1/old-slugs/{slug}")]
pub async fn release_old_slug(
    pool: web::Data<DbPool>,
    Authorized(_caller, OldSlug(slug)): Admin<OldSlug>,
) -> Result<HttpResponse, AppError> {
    let mut conn = pool.get().await?;
    if writes::release_slug(&mut conn, &slug).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AppError::not_found("old slug", slug))
    }
}
