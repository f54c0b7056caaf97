//! Excerpt queries: each row comes with its outlet and the article quoting it.

use std::future::Future;

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::{ArticleRefRow, ArticleSet, Prepared};
use crate::citations::CitationFilter;
use crate::outlets::queries::OutletRow;
use crate::schema::{articles, excerpts, outlets};
use crate::visibility::{is_public, Viewer};

/// Its fields in the order `load` selects them.
#[derive(Debug, Clone, Queryable)]
pub struct ExcerptRow {
    pub id: i64,
    pub article_id: i64,
    pub position: i32,
    pub headline: String,
    pub bylines: Vec<String>,
    pub source_published_on: Option<NaiveDate>,
    pub source_url: String,
    pub call_to_action: Option<String>,
    pub body: String,
    /// `body` rendered when it was written.
    pub body_html: String,
}

pub type ExcerptRecord = (ExcerptRow, OutletRow, ArticleRefRow);

/// Which excerpts to load.
#[derive(Debug)]
pub enum ExcerptSelection<'a> {
    /// The excerpts of one article, in their order.
    OfArticle(i64),
    /// The excerpts of these articles, by article then position.
    OfArticles(ArticleSet<'a>),
    /// One excerpt by id.
    One(i64),
    /// These excerpts, by id.
    Ids(&'a [i64]),
    /// A page of the public list, by ascending id; `limit + 1` rows.
    Page(&'a CitationFilter),
}

/// Excerpts of articles the viewer may see; without `markdown`, each body's
/// Markdown is left empty (the feeds print the stored HTML alone). The
/// future does not hold the connection: it can go out with other queries,
/// in one round trip.
pub fn load(
    conn: &mut AsyncPgConnection,
    selection: ExcerptSelection<'_>,
    viewer: Viewer,
    markdown: bool,
) -> impl Future<Output = QueryResult<Vec<ExcerptRecord>>> + Send {
    let row = (
        excerpts::id,
        excerpts::article_id,
        excerpts::position,
        excerpts::headline,
        excerpts::bylines,
        excerpts::source_published_on,
        excerpts::source_url,
        excerpts::call_to_action,
        // Not read at all when not wanted: a body is kilobytes, stored
        // compressed, and the feeds read twenty posts' worth a page.
        diesel::dsl::sql::<diesel::sql_types::Text>(if markdown { "excerpts.body" } else { "''" }),
        excerpts::body_html,
    );
    let mut query = excerpts::table
        .inner_join(outlets::table)
        .inner_join(articles::table)
        .select((row, OutletRow::as_select(), ArticleRefRow::as_select()))
        .into_boxed();
    if let Some(now) = viewer.public_at() {
        query = query.filter(is_public(now));
    }
    match selection {
        ExcerptSelection::OfArticle(article_id) => {
            query = query
                .filter(excerpts::article_id.eq(article_id))
                .order(excerpts::position);
        }
        ExcerptSelection::OfArticles(articles) => {
            query = query
                .filter(excerpts::article_id.eq_any(articles.ids()))
                .order((excerpts::article_id, excerpts::position));
        }
        ExcerptSelection::One(id) => query = query.filter(excerpts::id.eq(id)),
        ExcerptSelection::Ids(ids) => query = query.filter(excerpts::id.eq_any(ids.to_vec())),
        ExcerptSelection::Page(filter) => {
            if let Some(outlet) = &filter.outlet {
                query = query.filter(outlets::slug.eq(outlet.clone()));
            }
            if let Some(article) = &filter.article {
                query = query.filter(articles::slug.eq(article.clone()));
            }
            if let Some(after) = filter.after {
                query = query.filter(excerpts::id.gt(after));
            }
            query = query.order(excerpts::id).limit(i64::from(filter.limit) + 1);
        }
    }
    // Prepared: a page after a cursor names its articles with `dsl::sql`.
    Prepared(query).load(conn)
}
