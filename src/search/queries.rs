//! Search queries over `article_search`, the one document per article that
//! the database's triggers keep current (see the `search` migration).
//!
//! The SQL is written out rather than built with diesel's DSL: `tsvector`,
//! `websearch_to_tsquery` and ranking have no DSL, and the rank is computed
//! once and then ordered, compared and returned by name. Every value the
//! caller gives is a bound parameter.

use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Float4, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::{ArticleFilter, ArticleSummaryRow};
use crate::tags::queries::{TagRow, TAG_ARRAYS};

/// The most matches ranked for one search: the most recently published
/// ones. Ranking reads each match's whole document, so a word found in every
/// article of a large site would otherwise cost a read of the whole site per
/// request; older matches past these are not returned.
pub const MAX_RANKED: i64 = 1000;

/// Weights of the document's classes, in PostgreSQL's order {D, C, B, A}:
/// excerpt bodies, the commentary, the summary and excerpt headlines, the
/// title. `ts_rank` counts a word's best-weighted occurrence in full and its
/// repeats ever less, so a word in the title outranks any number of mentions
/// in the bodies.
const WEIGHTS: &str = "{0.1, 0.2, 0.4, 1.0}";

/// Marks `ts_headline` puts around each match: private-use characters,
/// removed from the text first, so that every one in its output is a mark.
pub const START_MARK: char = '\u{E000}';
pub const STOP_MARK: char = '\u{E001}';

/// The most characters of an article's text that a snippet is chosen from:
/// `ts_headline` parses all it is given, on every request.
const SNIPPET_SOURCE_CHARS: i32 = 32_768;

/// A matching article, how well it matches, and what its result shows
/// besides its summary: the snippet and the tags.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(check_for_backend(Pg))]
pub struct SearchRow {
    #[diesel(embed)]
    pub article: ArticleSummaryRow,
    #[diesel(sql_type = Float4)]
    pub rank: f32,
    /// The passages of its text that best match, with each match between
    /// `START_MARK` and `STOP_MARK`: chosen from the summary, the commentary
    /// and the excerpts (headline and body), in that order, up to
    /// `SNIPPET_SOURCE_CHARS` characters.
    #[diesel(sql_type = Text)]
    pub snippet: String,
    /// Its tags, ordered by slug, as three arrays.
    #[diesel(sql_type = Array<BigInt>)]
    tag_ids: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    tag_slugs: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    tag_names: Vec<String>,
}

impl SearchRow {
    /// Its tags, ordered by slug.
    pub fn take_tags(&mut self) -> Vec<TagRow> {
        let ids = std::mem::take(&mut self.tag_ids);
        let slugs = std::mem::take(&mut self.tag_slugs);
        let names = std::mem::take(&mut self.tag_names);
        ids.into_iter()
            .zip(slugs)
            .zip(names)
            .map(|((id, slug), name)| TagRow { id, slug, name })
            .collect()
    }
}

/// Published articles matching `text` (web-search syntax), best first, ties
/// by id descending, resuming after `after`; `limit + 1` rows, each with its
/// snippet and tags. One statement, whose future does not hold the
/// connection: it goes out beside the list's context.
pub fn search(
    conn: &mut AsyncPgConnection,
    text: &str,
    filter: &ArticleFilter,
    after: Option<(f32, i64)>,
    limit: u32,
    now: DateTime<Utc>,
) -> impl Future<Output = QueryResult<Vec<SearchRow>>> + Send {
    // $1 the query text, $2 now, $3 the snippet options, $4 the snippet's
    // source length, $5 the marks; then the filters.
    let mut next = 6;
    let mut placeholder = || {
        let name = format!("${next}");
        next += 1;
        name
    };
    let mut conditions = String::new();
    if filter.tag.is_some() {
        let tag = placeholder();
        conditions.push_str(&format!(
            " AND s.article_id IN (SELECT at.article_id FROM article_tags at \
             JOIN tags t ON t.id = at.tag_id WHERE t.slug = {tag})"
        ));
    }
    if filter.outlet.is_some() {
        let outlet = placeholder();
        conditions.push_str(&format!(
            " AND (s.article_id IN (SELECT e.article_id FROM excerpts e \
                  JOIN outlets o ON o.id = e.outlet_id WHERE o.slug = {outlet}) \
               OR s.article_id IN (SELECT r.article_id FROM roundups r \
                  JOIN roundup_links l ON l.roundup_id = r.id \
                  JOIN outlets o ON o.id = l.outlet_id WHERE o.slug = {outlet}))"
        ));
    }
    if filter.published_after.is_some() {
        conditions.push_str(&format!(" AND s.published_at > {}", placeholder()));
    }
    if filter.published_before.is_some() {
        conditions.push_str(&format!(" AND s.published_at < {}", placeholder()));
    }
    let resume = match after {
        Some(_) => format!(
            "WHERE (r.rank, r.id) < ({}, {})",
            placeholder(),
            placeholder()
        ),
        None => String::new(),
    };
    let limit_at = placeholder();
    // The matches are found in `article_search` alone, whose `published_at`
    // is set only while the article is published (the `search_recency`
    // migration): with `<= now`, that is `visibility::is_public`. The
    // planner walks its recency index for a word most documents hold and
    // goes through the GIN index for a rarer one; either way only the
    // newest `MAX_RANKED` are ranked, after the limit, their documents
    // carried up rather than read again (ranked in the same query level,
    // every match the GIN index found would be). The snippets and
    // tags are computed for the page's rows only, after its limit:
    // `ts_headline` parses the text again.
    let sql = format!(
        "WITH candidates AS ( \
             SELECT s.article_id, s.document FROM article_search s \
              WHERE s.document @@ websearch_to_tsquery('english', $1) \
                AND s.published_at <= $2{conditions} \
              ORDER BY s.published_at DESC, s.article_id DESC \
              LIMIT {MAX_RANKED} \
         ), ranked AS ( \
             SELECT c.article_id AS id, \
                    ts_rank('{WEIGHTS}', c.document, websearch_to_tsquery('english', $1)) AS rank \
               FROM candidates c \
         ), page AS ( \
             SELECT r.id, r.rank FROM ranked r \
             {resume} \
              ORDER BY r.rank DESC, r.id DESC \
              LIMIT {limit_at} \
         ) \
         SELECT a.id, a.slug, a.title, a.summary, a.status, a.published_at, a.updated_at, a.revised_at, p.rank, \
                ts_headline('english', \
                    translate(left(concat_ws(E'\\n\\n', a.summary, a.body, x.excerpts), $4), $5, ''), \
                    websearch_to_tsquery('english', $1), $3) AS snippet, \
                {TAG_ARRAYS} \
           FROM page p JOIN articles a ON a.id = p.id \
           CROSS JOIN LATERAL ( \
               SELECT string_agg(e.headline || E'\\n' || e.body, E'\\n\\n' ORDER BY e.position) \
                      AS excerpts \
                 FROM (SELECT headline, body, position FROM excerpts \
                        WHERE article_id = a.id ORDER BY position LIMIT 100) e \
           ) x \
          ORDER BY p.rank DESC, p.id DESC"
    );
    let options = format!(
        "StartSel={START_MARK}, StopSel={STOP_MARK}, MaxFragments=2, MaxWords=30, \
         MinWords=12, FragmentDelimiter=\" … \""
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Text, _>(text.to_owned())
        .bind::<Timestamptz, _>(now)
        .bind::<Text, _>(options)
        .bind::<Integer, _>(SNIPPET_SOURCE_CHARS)
        .bind::<Text, _>(String::from_iter([START_MARK, STOP_MARK]));
    if let Some(tag) = &filter.tag {
        query = query.bind::<Text, _>(tag.clone());
    }
    if let Some(outlet) = &filter.outlet {
        query = query.bind::<Text, _>(outlet.clone());
    }
    if let Some(at) = filter.published_after {
        query = query.bind::<Timestamptz, _>(at);
    }
    if let Some(at) = filter.published_before {
        query = query.bind::<Timestamptz, _>(at);
    }
    if let Some((rank, id)) = after {
        query = query.bind::<Float4, _>(rank).bind::<BigInt, _>(id);
    }
    // Not `Prepared`: each search is planned for its own words. A word most
    // documents hold is found fastest down the recency index, a rare one
    // through the GIN index, and a statement kept prepared would soon run
    // one generic plan for every word (PostgreSQL cannot tell the words
    // apart in it). Planning it each time costs far less than one ranking.
    query.bind::<BigInt, _>(i64::from(limit) + 1).load(conn)
}
