//! Article writes. Each runs inside the caller's transaction; none commits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands::ArticlePatch;
use super::queries::ArticleRow;
use crate::error::AppError;
use crate::markdown;
use crate::schema::{article_revisions, article_slug_history, articles};
use crate::site::{self, Rendered, SiteArticle};
use crate::visibility::PUBLISHED;

/// Inserts a new article with its tags, excerpts and roundups, and the HTML
/// their Markdown renders to; returns its id.
pub async fn create(
    conn: &mut AsyncPgConnection,
    article: &SiteArticle,
    rendered: &Rendered,
) -> Result<i64, AppError> {
    let id: i64 = diesel::insert_into(articles::table)
        .values(article.columns(&rendered.body))
        .returning(articles::id)
        .get_result(conn)
        .await?;
    site::set_tags(conn, id, &article.tags).await?;
    let outlets = site::outlet_ids(conn).await?;
    site::replace_children(conn, id, article, rendered, &outlets).await?;
    Ok(id)
}

/// The article with this slug, locked until the transaction ends, so that
/// concurrent writers to one article take turns.
pub async fn lock(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<ArticleRow>> {
    articles::table
        .filter(articles::slug.eq(slug))
        .select(ArticleRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The editable state of an article, kept before each update.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub slug: String,
    pub title: String,
    pub summary: Option<String>,
    pub body_markdown: String,
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
}

impl Snapshot {
    pub fn of(row: &ArticleRow, tags: Vec<String>) -> Self {
        Self {
            slug: row.slug.clone(),
            title: row.title.clone(),
            summary: row.summary.clone(),
            body_markdown: row.body.clone(),
            status: row.status.clone(),
            published_at: row.published_at,
            tags,
        }
    }

    /// The patch that brings an article back to this state.
    pub fn into_patch(self) -> ArticlePatch {
        ArticlePatch {
            slug: Some(self.slug),
            title: Some(self.title),
            summary: Some(self.summary),
            body_markdown: Some(self.body_markdown),
            status: Some(self.status),
            published_at: Some(self.published_at),
            tags: Some(self.tags),
        }
    }
}

/// Keeps the current state as a revision, then applies the patch. Renaming
/// keeps the old slug, so that links to it keep working.
pub async fn update(
    conn: &mut AsyncPgConnection,
    row: &ArticleRow,
    tags: Vec<String>,
    patch: ArticlePatch,
    editor: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    // An empty patch is not an edit: no revision, no new `updated_at`.
    if patch.is_empty() {
        return Ok(());
    }
    let snapshot = serde_json::to_value(Snapshot::of(row, tags)).map_err(AppError::internal)?;
    diesel::insert_into(article_revisions::table)
        .values((
            article_revisions::article_id.eq(row.id),
            article_revisions::created_by.eq(editor),
            article_revisions::snapshot.eq(snapshot),
        ))
        .execute(conn)
        .await?;

    if let Some(slug) = patch.slug.as_deref().filter(|slug| *slug != row.slug) {
        // Take both slugs' locks (in one order) before touching either, as the
        // slug triggers do for one: otherwise a create of the old slug can hold
        // its lock while waiting on our row, and we on its lock.
        let mut slugs = [row.slug.as_str(), slug];
        slugs.sort_unstable();
        for locked in slugs {
            diesel::sql_query(
                "SELECT pg_advisory_xact_lock(hashtext('broadsheet.slug'), hashtext($1))",
            )
            .bind::<diesel::sql_types::Text, _>(locked)
            .execute(conn)
            .await?;
        }
        // Renaming back to one of its own old slugs takes it out of the history.
        diesel::delete(
            article_slug_history::table
                .filter(article_slug_history::slug.eq(slug))
                .filter(article_slug_history::article_id.eq(row.id)),
        )
        .execute(conn)
        .await?;
        diesel::update(articles::table.find(row.id))
            .set(articles::slug.eq(slug))
            .execute(conn)
            .await?;
        diesel::insert_into(article_slug_history::table)
            .values((
                article_slug_history::slug.eq(&row.slug),
                article_slug_history::article_id.eq(row.id),
            ))
            .execute(conn)
            .await?;
    }
    // A new body is rendered now, so that reads serve HTML and render nothing.
    let body = patch.body_markdown.as_ref().unwrap_or(&row.body);
    let body_html = if *body == row.body {
        row.body_html.clone()
    } else {
        markdown::render_one(body).await?
    };
    let status = patch.status.clone().unwrap_or_else(|| row.status.clone());
    let mut published_at = patch.published_at.unwrap_or(row.published_at);
    // Publishing an article that has no date publishes it now.
    if status == PUBLISHED && published_at.is_none() {
        published_at = Some(now);
    }
    diesel::update(articles::table.find(row.id))
        .set((
            articles::title.eq(patch.title.as_ref().unwrap_or(&row.title)),
            articles::summary.eq(patch.summary.clone().unwrap_or_else(|| row.summary.clone())),
            articles::body.eq(body),
            articles::body_html.eq(body_html),
            articles::status.eq(&status),
            articles::published_at.eq(published_at),
            articles::updated_at.eq(now),
        ))
        .execute(conn)
        .await?;
    if let Some(tags) = &patch.tags {
        site::set_tags(conn, row.id, tags).await?;
    }
    Ok(())
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::delete(articles::table.find(id))
        .execute(conn)
        .await
        .map(drop)
}

/// A kept revision.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = article_revisions, check_for_backend(diesel::pg::Pg))]
pub struct RevisionRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<String>,
    pub snapshot: Value,
}

/// Revisions of an article, newest first, before `before`; `limit + 1` rows.
pub async fn revisions(
    conn: &mut AsyncPgConnection,
    article_id: i64,
    before: Option<i64>,
    limit: u32,
) -> QueryResult<Vec<RevisionRow>> {
    let mut query = article_revisions::table
        .filter(article_revisions::article_id.eq(article_id))
        .select(RevisionRow::as_select())
        .order(article_revisions::id.desc())
        .limit(i64::from(limit) + 1)
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(article_revisions::id.lt(before));
    }
    query.load(conn).await
}

pub async fn revision(
    conn: &mut AsyncPgConnection,
    article_id: i64,
    id: i64,
) -> QueryResult<Option<RevisionRow>> {
    article_revisions::table
        .filter(article_revisions::article_id.eq(article_id))
        .filter(article_revisions::id.eq(id))
        .select(RevisionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Frees an old slug for other articles; false when it is no one's old slug.
pub async fn release_slug(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<bool> {
    diesel::delete(article_slug_history::table.filter(article_slug_history::slug.eq(slug)))
        .execute(conn)
        .await
        .map(|n| n == 1)
}
