//! Article queries. Every public query filters through `is_public`.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{
    article_slug_history, article_tags, articles, excerpts, outlets, publication_removals,
    roundup_links, roundups, tags,
};
use crate::visibility::{is_public, Viewer, PUBLISHED};

/// The fields of a list item: everything but the bodies.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleSummaryRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: Option<String>,
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// When anything the article shows last changed (kept by the database).
    pub revised_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: String,
    /// `body` rendered when it was written.
    pub body_html: String,
    pub status: String,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When anything the article shows last changed (kept by the database).
    pub revised_at: DateTime<Utc>,
}

/// What an excerpt or a link says of the article it belongs to.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = articles, check_for_backend(Pg))]
pub struct ArticleRefRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    /// With `revised_at`, when the article was last seen to change: what
    /// refers to it is revised with it.
    pub published_at: Option<DateTime<Utc>>,
    pub revised_at: DateTime<Utc>,
}

/// Which articles a list shows. Only `Published` is open to the public.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    Published,
    Scheduled,
    Draft,
    All,
}

impl StatusFilter {
    pub const NAMES: [&'static str; 4] = ["published", "scheduled", "draft", "all"];

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "published" => Some(Self::Published),
            "scheduled" => Some(Self::Scheduled),
            "draft" => Some(Self::Draft),
            "all" => Some(Self::All),
            _ => None,
        }
    }

    /// Published and scheduled lists run newest publication first; drafts
    /// (which may have no date) and `all` run most recently updated first.
    pub fn by_publication(self) -> bool {
        matches!(self, Self::Published | Self::Scheduled)
    }
}

/// The filters of the article list.
#[derive(Debug, Default)]
pub struct ArticleFilter {
    pub status: StatusFilter,
    pub tag: Option<String>,
    pub outlet: Option<String>,
    pub published_after: Option<DateTime<Utc>>,
    pub published_before: Option<DateTime<Utc>>,
}

/// Articles in the filter's order, resuming after `after`; `limit + 1` rows.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ArticleFilter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<ArticleSummaryRow>> {
    let mut query = articles::table
        .select(ArticleSummaryRow::as_select())
        .limit(i64::from(limit) + 1)
        .into_boxed();
    query = match filter.status {
        StatusFilter::Published => query.filter(is_public(now)),
        StatusFilter::Scheduled => query
            .filter(articles::status.eq(PUBLISHED))
            .filter(articles::published_at.gt(now)),
        StatusFilter::Draft => query.filter(articles::status.ne(PUBLISHED)),
        StatusFilter::All => query,
    };
    let key = if filter.status.by_publication() {
        query = query.order((articles::published_at.desc(), articles::id.desc()));
        "articles.published_at"
    } else {
        query = query.order((articles::updated_at.desc(), articles::id.desc()));
        "articles.updated_at"
    };
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
        // A row comparison, so that PostgreSQL walks the (key, id) index.
        query = query.filter(
            diesel::dsl::sql::<Bool>(&format!("({key}, articles.id) < ("))
                .bind::<Timestamptz, _>(at)
                .sql(", ")
                .bind::<BigInt, _>(id)
                .sql(")"),
        );
    }
    query.load(conn).await
}

/// The whole rows of these articles with their feed entry ids (a UUID as
/// text), in no particular order.
pub async fn with_entry_ids(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<(ArticleRow, String)>> {
    articles::table
        .filter(articles::id.eq_any(ids))
        .select((
            ArticleRow::as_select(),
            // Read as text: the feeds only ever print it.
            diesel::dsl::sql::<Text>("articles.entry_id::text"),
        ))
        .load(conn)
        .await
}

/// What a page of the list depends on besides its rows: when something last
/// left a list (`revisions::removals`), and the ids of the tag and outlet it
/// is filtered by (for their purge keys). One statement, which does not hold
/// the connection: it goes out with the page's own query.
pub fn list_context(
    conn: &mut AsyncPgConnection,
    filter: &ArticleFilter,
) -> impl std::future::Future<Output = QueryResult<(DateTime<Utc>, Option<i64>, Option<i64>)>> + Send
{
    let tag = tags::table
        .filter(tags::slug.nullable().eq(filter.tag.clone()))
        .select(tags::id)
        .single_value();
    let outlet = outlets::table
        .filter(outlets::slug.nullable().eq(filter.outlet.clone()))
        .select(outlets::id)
        .single_value();
    publication_removals::table
        .select((publication_removals::removed_at, tag, outlet))
        .get_result(conn)
}

/// The article with this slug, if the viewer may see it.
pub async fn find(
    conn: &mut AsyncPgConnection,
    slug: &str,
    viewer: Viewer,
) -> QueryResult<Option<ArticleRow>> {
    let mut query = articles::table
        .filter(articles::slug.eq(slug.to_owned()))
        .select(ArticleRow::as_select())
        .into_boxed();
    if let Some(now) = viewer.public_at() {
        query = query.filter(is_public(now));
    }
    query.first(conn).await.optional()
}

/// The articles with these ids that the viewer may see.
pub async fn by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
    viewer: Viewer,
) -> QueryResult<Vec<ArticleRow>> {
    let mut query = articles::table
        .filter(articles::id.eq_any(ids))
        .select(ArticleRow::as_select())
        .into_boxed();
    if let Some(now) = viewer.public_at() {
        query = query.filter(is_public(now));
    }
    query.load(conn).await
}

/// The current slug of the article that once answered to `old_slug`, if the viewer may see it.
pub async fn current_slug(
    conn: &mut AsyncPgConnection,
    old_slug: &str,
    viewer: Viewer,
) -> QueryResult<Option<String>> {
    let mut query = article_slug_history::table
        .inner_join(articles::table)
        .filter(article_slug_history::slug.eq(old_slug.to_owned()))
        .select(articles::slug)
        .into_boxed();
    if let Some(now) = viewer.public_at() {
        query = query.filter(is_public(now));
    }
    query.first(conn).await.optional()
}
