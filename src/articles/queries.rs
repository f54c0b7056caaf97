//! Article queries. Every public query filters through `is_public`.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{article_tags, articles, excerpts, outlets, roundup_links, roundups, tags};
use crate::visibility::is_public;

/// The fields of a list item: everything but the bodies.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleSummaryRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: String,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an excerpt or a link says of the article it belongs to.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleRefRow {
    pub slug: String,
    pub title: String,
}

/// The filters of the public article list.
#[derive(Debug, Default)]
pub struct ArticleFilter {
    pub tag: Option<String>,
    pub outlet: Option<String>,
    pub published_after: Option<DateTime<Utc>>,
    pub published_before: Option<DateTime<Utc>>,
}

/// Published articles, newest first, resuming after `after`; `limit + 1` rows.
pub async fn list_public(
    conn: &mut AsyncPgConnection,
    filter: &ArticleFilter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<ArticleSummaryRow>> {
    let mut query = articles::table
        .filter(is_public(now))
        .select(ArticleSummaryRow::as_select())
        .order((articles::published_at.desc(), articles::id.desc()))
        .limit(i64::from(limit) + 1)
        .into_boxed();
    if let Some(tag) = &filter.tag {
        query = query.filter(
            articles::id.eq_any(
                article_tags::table
                    .inner_join(tags::table)
                    .filter(tags::slug.eq(tag.clone()))
                    .select(article_tags::article_id),
            ),
        );
    }
    if let Some(outlet) = &filter.outlet {
        let quoting = excerpts::table
            .inner_join(outlets::table)
            .filter(outlets::slug.eq(outlet.clone()))
            .select(excerpts::article_id);
        let linking = roundup_links::table
            .inner_join(roundups::table)
            .inner_join(outlets::table)
            .filter(outlets::slug.eq(outlet.clone()))
            .select(roundups::article_id);
        query = query.filter(
            articles::id
                .eq_any(quoting)
                .or(articles::id.eq_any(linking)),
        );
    }
    if let Some(after) = filter.published_after {
        query = query.filter(articles::published_at.gt(after));
    }
    if let Some(before) = filter.published_before {
        query = query.filter(articles::published_at.lt(before));
    }
    if let Some((at, id)) = after {
        // A row comparison, so that PostgreSQL walks the (published_at, id) index.
        query = query.filter(
            diesel::dsl::sql::<Bool>("(articles.published_at, articles.id) < (")
                .bind::<Timestamptz, _>(at)
                .sql(", ")
                .bind::<BigInt, _>(id)
                .sql(")"),
        );
    }
    query.load(conn).await
}

/// The published article with this slug, if a reader may see it at `now`.
pub async fn find_public(
    conn: &mut AsyncPgConnection,
    slug: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<ArticleRow>> {
    articles::table
        .filter(articles::slug.eq(slug))
        .filter(is_public(now))
        .select(ArticleRow::as_select())
        .first(conn)
        .await
        .optional()
}
