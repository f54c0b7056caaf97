//! Tag queries: the labels of articles, and per-tag counts of published articles.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Timestamptz;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::TryFutureExt;

use crate::articles::queries::{ArticleSet, Prepared};

use crate::revisions;
use crate::schema::{article_tags, articles, tags};
use crate::visibility::is_public;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tags, check_for_backend(Pg))]
pub struct TagRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

/// The tags of each of these articles, by article id, each list ordered by
/// slug. The future does not hold the connection: it goes out with the
/// query that reads the articles themselves.
pub fn of_articles(
    conn: &mut AsyncPgConnection,
    articles: ArticleSet<'_>,
) -> impl Future<Output = QueryResult<HashMap<i64, Vec<TagRow>>>> + Send {
    // Prepared: a page after a cursor names its articles with `dsl::sql`.
    Prepared(
        article_tags::table
            .inner_join(tags::table)
            .filter(article_tags::article_id.eq_any(articles.ids()))
            .order((article_tags::article_id, tags::slug))
            .select((article_tags::article_id, TagRow::as_select())),
    )
    .load::<(i64, TagRow)>(conn)
    .map_ok(|rows| {
        let mut by_article: HashMap<i64, Vec<TagRow>> = HashMap::new();
        for (article_id, tag) in rows {
            by_article.entry(article_id).or_default().push(tag);
        }
        by_article
    })
}

/// Tags with at least one published article, ordered by slug after `after`;
/// `limit + 1` rows, each with its count of public articles and their
/// latest effective time (`revisions::effective`): a tag's name, slug and
/// count change only with a revision of one of them, or when one becomes
/// public (or leaves: `revisions::removals`). A tag used only by drafts
/// stays hidden: its name alone could announce an unpublished story.
pub async fn list_public(
    conn: &mut AsyncPgConnection,
    after: Option<&str>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(TagRow, i64, DateTime<Utc>)>> {
    let mut query = tags::table
        .inner_join(article_tags::table.inner_join(articles::table))
        .filter(is_public(now))
        .group_by((tags::id, tags::slug, tags::name))
        .select((
            TagRow::as_select(),
            count_star(),
            sql::<Timestamptz>(revisions::LATEST_PUBLIC_EFFECTIVE),
        ))
        .order(tags::slug)
        .limit(i64::from(limit) + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(tags::slug.gt(after.to_owned()));
    }
    query.load(conn).await
}

/// Replaces an article's tags, creating tags that do not exist yet (named
/// after their slug: `united-states` becomes "United states").
pub async fn set_tags(
    conn: &mut AsyncPgConnection,
    article_id: i64,
    slugs: &[String],
) -> QueryResult<()> {
    diesel::delete(article_tags::table.filter(article_tags::article_id.eq(article_id)))
        .execute(conn)
        .await?;
    let slugs: Vec<&String> = slugs.iter().collect::<HashSet<_>>().into_iter().collect();
    if slugs.is_empty() {
        return Ok(());
    }
    let new_tags: Vec<_> = slugs
        .iter()
        .map(|slug| (tags::slug.eq(*slug), tags::name.eq(name_from_slug(slug))))
        .collect();
    diesel::insert_into(tags::table)
        .values(&new_tags)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let tag_ids: Vec<i64> = tags::table
        .filter(tags::slug.eq_any(&slugs))
        .select(tags::id)
        .load(conn)
        .await?;
    let rows: Vec<_> = tag_ids
        .into_iter()
        .map(|tag_id| {
            (
                article_tags::article_id.eq(article_id),
                article_tags::tag_id.eq(tag_id),
            )
        })
        .collect();
    diesel::insert_into(article_tags::table)
        .values(&rows)
        .execute(conn)
        .await
        .map(drop)
}

pub fn name_from_slug(slug: &str) -> String {
    let spaced = slug.replace('-', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// The tags of each article `a` of a select list, in slug order, as three
/// arrays (`tag_ids`, `tag_slugs`, `tag_names`): the rankings and search
/// read a page and its tags in one statement.
pub const TAG_ARRAYS: &str = "\
    ARRAY(SELECT t.id FROM article_tags at JOIN tags t ON t.id = at.tag_id \
           WHERE at.article_id = a.id ORDER BY t.slug) AS tag_ids, \
    ARRAY(SELECT t.slug FROM article_tags at JOIN tags t ON t.id = at.tag_id \
           WHERE at.article_id = a.id ORDER BY t.slug) AS tag_slugs, \
    ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id \
           WHERE at.article_id = a.id ORDER BY t.slug) AS tag_names";
