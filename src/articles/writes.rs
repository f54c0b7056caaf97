//! Article writes. Each runs inside the caller's transaction; none commits.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::commands::{ArticlePatch, NewArticle};
use super::queries::ArticleRow;
use crate::error::AppError;
use crate::excerpts::commands::ExcerptMembers;
use crate::markdown;
use crate::roundups::commands::RoundupMembers;
use crate::schema::{
    article_revisions, article_slug_history, articles, excerpts, roundup_links, roundups,
};
use crate::tags;
use crate::visibility::PUBLISHED;

/// Inserts a new article with its tags, excerpts and roundups, and the HTML
/// their Markdown renders to; returns its id.
pub async fn create(
    conn: &mut AsyncPgConnection,
    article: &NewArticle,
    rendered: &Rendered,
) -> Result<i64, AppError> {
    let id: i64 = diesel::insert_into(articles::table)
        .values(columns(article, &rendered.body))
        .returning(articles::id)
        .get_result(conn)
        .await?;
    tags::queries::set_tags(conn, id, &article.tags).await?;
    let outlets = crate::outlets::commands::ids(conn).await?;
    write_children(
        conn,
        id,
        &article.excerpts,
        &article.roundups,
        rendered,
        &outlets,
    )
    .await?;
    Ok(id)
}

/// An article's own columns, as written on insert.
pub type ArticleColumns<'a> = (
    diesel::dsl::Eq<articles::slug, &'a String>,
    diesel::dsl::Eq<articles::title, &'a String>,
    diesel::dsl::Eq<articles::summary, &'a Option<String>>,
    diesel::dsl::Eq<articles::body, &'a String>,
    diesel::dsl::Eq<articles::body_html, &'a String>,
    diesel::dsl::Eq<articles::status, &'a String>,
    diesel::dsl::Eq<articles::published_at, Option<DateTime<Utc>>>,
);

/// The article's own columns, for an insert of it with its rendered body.
pub fn columns<'a>(article: &'a NewArticle, body_html: &'a String) -> ArticleColumns<'a> {
    (
        articles::slug.eq(&article.slug),
        articles::title.eq(&article.title),
        articles::summary.eq(&article.summary),
        articles::body.eq(&article.body_markdown),
        articles::body_html.eq(body_html),
        articles::status.eq(&article.status),
        articles::published_at.eq(article.published_at),
    )
}

/// The HTML of an article's Markdown: its body's and each excerpt's, in order.
#[derive(Debug)]
pub struct Rendered {
    pub body: String,
    pub excerpts: Vec<String>,
}

/// Renders the Markdown of these articles, all on one blocking thread.
pub async fn render(articles: &[&NewArticle]) -> Result<Vec<Rendered>, tokio::task::JoinError> {
    let texts = articles
        .iter()
        .flat_map(|a| {
            let excerpts = a.excerpts.iter().map(|e| e.body_markdown.clone());
            std::iter::once(a.body_markdown.clone()).chain(excerpts)
        })
        .collect();
    let mut html = markdown::render(texts).await?.into_iter();
    Ok(articles
        .iter()
        .map(|a| Rendered {
            body: html.next().unwrap_or_default(),
            excerpts: html.by_ref().take(a.excerpts.len()).collect(),
        })
        .collect())
}

/// Writes a new article's excerpts and roundups, in their order. A row the
/// database refuses is named by its JSON pointer into the article; an
/// outlet that the body was checked to cite and is gone now was deleted
/// meanwhile (409).
async fn write_children(
    conn: &mut AsyncPgConnection,
    id: i64,
    excerpt_list: &[ExcerptMembers],
    roundup_list: &[RoundupMembers],
    rendered: &Rendered,
    outlet_ids: &HashMap<String, i64>,
) -> Result<(), AppError> {
    let at = |pointer: String, error: diesel::result::Error| match AppError::from(error) {
        AppError::Unprocessable(inputs) => AppError::Unprocessable(
            inputs
                .into_iter()
                .map(|input| input.within(&pointer))
                .collect(),
        ),
        other => other,
    };
    let outlet_id = |slug: &str| {
        outlet_ids
            .get(slug)
            .copied()
            .ok_or_else(|| AppError::Conflict(format!("the outlet `{slug}` was deleted meanwhile")))
    };
    for ((index, excerpt), html) in excerpt_list.iter().enumerate().zip(&rendered.excerpts) {
        diesel::insert_into(excerpts::table)
            .values((
                excerpts::article_id.eq(id),
                excerpts::position.eq(index as i32 + 1),
                crate::excerpts::writes::Columns::new(excerpt, outlet_id(&excerpt.outlet)?, html),
            ))
            .execute(conn)
            .await
            .map_err(|error| at(format!("/excerpts/{index}"), error))?;
    }
    for (index, roundup) in roundup_list.iter().enumerate() {
        let roundup_id: i64 = diesel::insert_into(roundups::table)
            .values((
                roundups::article_id.eq(id),
                roundups::position.eq(index as i32 + 1),
                roundups::title.eq(&roundup.title),
            ))
            .returning(roundups::id)
            .get_result(conn)
            .await
            .map_err(|error| at(format!("/roundups/{index}"), error))?;
        for (position, link) in (1..).zip(&roundup.links) {
            diesel::insert_into(roundup_links::table)
                .values((
                    roundup_links::roundup_id.eq(roundup_id),
                    roundup_links::position.eq(position),
                    roundup_links::headline.eq(&link.headline),
                    roundup_links::outlet_id.eq(outlet_id(&link.outlet)?),
                    roundup_links::url.eq(&link.url),
                ))
                .execute(conn)
                .await
                .map_err(|error| at(format!("/roundups/{index}/links/{}", position - 1), error))?;
        }
    }
    Ok(())
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
        tags::queries::set_tags(conn, row.id, tags).await?;
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
