//! Roundup and press-link queries, always through articles a reader may see.

use std::future::Future;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::{ArticleRefRow, ArticleSet, Prepared};
use crate::citations::CitationFilter;
use crate::outlets::queries::OutletRow;
use crate::schema::{articles, outlets, roundup_links, roundups};
use crate::visibility::{is_public, Viewer};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roundups, check_for_backend(Pg))]
pub struct RoundupRow {
    pub id: i64,
    pub article_id: i64,
    pub position: i32,
    pub title: String,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roundup_links, check_for_backend(Pg))]
pub struct LinkRow {
    pub id: i64,
    pub roundup_id: i64,
    pub position: i32,
    pub headline: String,
    pub url: String,
}

pub type RoundupRecord = (RoundupRow, ArticleRefRow);
pub type LinkRecord = (LinkRow, OutletRow, RoundupRow, ArticleRefRow);

/// Which roundups to load.
#[derive(Debug, Clone, Copy)]
pub enum RoundupSelection<'a> {
    /// The roundups of one article, in their order.
    OfArticle(i64),
    /// The roundups of these articles, by article then position.
    OfArticles(ArticleSet<'a>),
    /// One roundup by id.
    One(i64),
    /// These roundups, by id.
    Ids(&'a [i64]),
}

/// Which press links to load.
#[derive(Debug)]
pub enum LinkSelection<'a> {
    /// The links of the selected roundups, by roundup then link position.
    Of(RoundupSelection<'a>),
    /// One link by id.
    One(i64),
    /// These links, by id.
    Ids(&'a [i64]),
    /// A page of the public list, by ascending id; `limit + 1` rows.
    Page(&'a CitationFilter),
}

/// Roundups of articles the viewer may see. The future does not hold the
/// connection: it can go out with other queries, in one round trip.
pub fn load_roundups(
    conn: &mut AsyncPgConnection,
    selection: RoundupSelection<'_>,
    viewer: Viewer,
) -> impl Future<Output = QueryResult<Vec<RoundupRecord>>> + Send {
    let query = roundups::table
        .inner_join(articles::table)
        .select((RoundupRow::as_select(), ArticleRefRow::as_select()))
        .order((roundups::article_id, roundups::position))
        .into_boxed();
    let query = match viewer.public_at() {
        Some(now) => query.filter(is_public(now)),
        None => query,
    };
    let query = match selection {
        RoundupSelection::OfArticle(article_id) => {
            query.filter(roundups::article_id.eq(article_id))
        }
        RoundupSelection::OfArticles(articles) => {
            query.filter(roundups::article_id.eq_any(articles.ids()))
        }
        RoundupSelection::One(id) => query.filter(roundups::id.eq(id)),
        RoundupSelection::Ids(ids) => query.filter(roundups::id.eq_any(ids.to_vec())),
    };
    // Prepared: a page after a cursor names its articles with `dsl::sql`.
    Prepared(query).load(conn)
}

/// Press links of articles the viewer may see. The future does not hold
/// the connection: it can go out with other queries, in one round trip.
pub fn load_links(
    conn: &mut AsyncPgConnection,
    selection: LinkSelection<'_>,
    viewer: Viewer,
) -> impl Future<Output = QueryResult<Vec<LinkRecord>>> + Send {
    let mut query = roundup_links::table
        .inner_join(outlets::table)
        .inner_join(roundups::table.inner_join(articles::table))
        .select((
            LinkRow::as_select(),
            OutletRow::as_select(),
            RoundupRow::as_select(),
            ArticleRefRow::as_select(),
        ))
        .into_boxed();
    if let Some(now) = viewer.public_at() {
        query = query.filter(is_public(now));
    }
    match selection {
        LinkSelection::Of(roundups) => {
            query = match roundups {
                RoundupSelection::OfArticle(article_id) => {
                    query.filter(roundups::article_id.eq(article_id))
                }
                RoundupSelection::OfArticles(articles) => {
                    query.filter(roundups::article_id.eq_any(articles.ids()))
                }
                RoundupSelection::One(id) => query.filter(roundups::id.eq(id)),
                RoundupSelection::Ids(ids) => query.filter(roundups::id.eq_any(ids.to_vec())),
            }
            .order((
                roundups::article_id,
                roundups::position,
                roundup_links::position,
            ));
        }
        LinkSelection::One(id) => query = query.filter(roundup_links::id.eq(id)),
        LinkSelection::Ids(ids) => {
            query = query.filter(roundup_links::id.eq_any(ids.to_vec()));
        }
        LinkSelection::Page(filter) => {
            if let Some(outlet) = &filter.outlet {
                query = query.filter(outlets::slug.eq(outlet.clone()));
            }
            if let Some(article) = &filter.article {
                query = query.filter(articles::slug.eq(article.clone()));
            }
            if let Some(after) = filter.after {
                query = query.filter(roundup_links::id.gt(after));
            }
            query = query
                .order(roundup_links::id)
                .limit(i64::from(filter.limit) + 1);
        }
    }
    // Prepared: a page after a cursor names its articles with `dsl::sql`.
    Prepared(query).load(conn)
}
