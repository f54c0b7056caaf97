//! Article queries. Every public query filters through `is_public`.

use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::FutureExt;

use crate::schema::{
    article_slug_history, article_tags, articles, excerpts, outlets, publication_removals,
    roundup_links, roundups, tags,
};
use crate::visibility::{is_public, Viewer, PUBLISHED};

/// A statement whose SQL text the code fixes, never the data: every value
/// in it is a bound parameter. diesel will not keep the prepared statement
/// of a query with `dsl::sql` or `sql_query` in it, so diesel-async would
/// prepare it again on every run: a round trip of its own before the query
/// can go out, and one at a time, the statement cache being locked
/// meanwhile. Wrapped here, it is prepared once per connection, like any
/// other query, and goes out with the queries sent beside it.
#[derive(Debug, Clone)]
pub struct Prepared<Q>(pub Q);

impl<Q: QueryFragment<Pg>> QueryFragment<Pg> for Prepared<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &Pg) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for Prepared<Q> {
    // Cached by its SQL text, which the code alone decides.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

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

/// A query of `articles` with its conditions set and its selection still to
/// choose: the rows themselves, or only their ids, for a query of their
/// parts that goes out beside it.
type ArticlesQuery = diesel::dsl::IntoBoxed<'static, articles::table, Pg>;

/// The articles of one page of the list, in the filter's order, resuming
/// after `after`: `limit` of them.
fn page(
    filter: &ArticleFilter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
    now: DateTime<Utc>,
) -> ArticlesQuery {
    let mut query = articles::table.limit(limit).into_boxed();
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
    query
}

/// Articles in the filter's order, resuming after `after`; `limit + 1` rows.
/// The future does not hold the connection: it goes out with the page's
/// context and parts (see `ArticleSet::Page`).
pub fn list(
    conn: &mut AsyncPgConnection,
    filter: &ArticleFilter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: u32,
    now: DateTime<Utc>,
) -> impl Future<Output = QueryResult<Vec<ArticleSummaryRow>>> + Send {
    Prepared(page(filter, after, i64::from(limit) + 1, now).select(ArticleSummaryRow::as_select()))
        .load(conn)
}

/// The article with this slug, if the viewer may see it.
fn by_slug(slug: &str, viewer: Viewer) -> ArticlesQuery {
    let mut query = articles::table
        .filter(articles::slug.eq(slug.to_owned()))
        .into_boxed();
    if let Some(now) = viewer.public_at() {
        query = query.filter(is_public(now));
    }
    query
}

/// The articles whose parts (tags, excerpts, roundups and their links) a
/// query reads. Named by a query rather than by ids, the parts need not
/// wait for the articles' own rows: both go out in one round trip, and
/// PostgreSQL picks the same articles for each, as long as none is written
/// in between.
#[derive(Debug, Clone, Copy)]
pub enum ArticleSet<'a> {
    /// These articles.
    Ids(&'a [i64]),
    /// The article `find` reads.
    Slug(&'a str, Viewer),
    /// The articles of the page `list` reads, without the one past its end.
    Page {
        filter: &'a ArticleFilter,
        after: Option<(DateTime<Utc>, i64)>,
        limit: u32,
        now: DateTime<Utc>,
    },
}

/// The ids of a set of articles, as a subquery.
pub type ArticleIds =
    diesel::dsl::IntoBoxed<'static, diesel::dsl::Select<articles::table, articles::id>, Pg>;

impl ArticleSet<'_> {
    /// The ids of these articles, as a subquery of the parts' queries.
    pub fn ids(self) -> ArticleIds {
        match self {
            Self::Ids(ids) => articles::table
                .select(articles::id)
                .filter(articles::id.eq_any(ids.to_vec()))
                .into_boxed(),
            Self::Slug(slug, viewer) => by_slug(slug, viewer).select(articles::id),
            Self::Page {
                filter,
                after,
                limit,
                now,
            } => page(filter, after, i64::from(limit), now).select(articles::id),
        }
    }
}

/// The whole rows of these articles with their feed entry ids (a UUID as
/// text), the Markdown of each body left empty: the feeds print its stored
/// HTML. The future does not hold the connection: it goes out with the
/// query that picks the articles.
pub fn with_entry_ids(
    conn: &mut AsyncPgConnection,
    articles: ArticleSet<'_>,
) -> impl Future<Output = QueryResult<Vec<(ArticleRow, String)>>> + Send {
    Prepared(
        articles::table
            .filter(articles::id.eq_any(articles.ids()))
            .order((articles::published_at.desc(), articles::id.desc()))
            .select((
                // `ArticleRow`'s fields in order, the body not read.
                (
                    articles::id,
                    articles::slug,
                    articles::title,
                    articles::summary,
                    diesel::dsl::sql::<Text>("''"),
                    articles::body_html,
                    articles::status,
                    articles::published_at,
                    articles::created_at,
                    articles::updated_at,
                    articles::revised_at,
                ),
                // Read as text: the feeds only ever print it.
                diesel::dsl::sql::<Text>("articles.entry_id::text"),
            )),
    )
    .load(conn)
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

/// The article with this slug, if the viewer may see it. The future does
/// not hold the connection: the article's parts go out with it.
pub fn find(
    conn: &mut AsyncPgConnection,
    slug: &str,
    viewer: Viewer,
) -> impl Future<Output = QueryResult<Option<ArticleRow>>> + Send {
    by_slug(slug, viewer)
        .select(ArticleRow::as_select())
        .first(conn)
        .map(OptionalExtension::optional)
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
