//! Search queries over `article_search`, the one document per article that
//! the database's triggers keep current (see the `search` migration).
//!
//! The SQL is written out rather than built with diesel's DSL: `tsvector`,
//! `websearch_to_tsquery` and ranking have no DSL, and the rank is computed
//! once and then ordered, compared and returned by name. Every value the
//! caller gives is a bound parameter.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Float4, Integer, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::{ArticleFilter, ArticleSummaryRow};
use crate::visibility::PUBLISHED;

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

/// A matching article and how well it matches.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(check_for_backend(Pg))]
pub struct SearchRow {
    #[diesel(embed)]
    pub article: ArticleSummaryRow,
    #[diesel(sql_type = Float4)]
    pub rank: f32,
}

/// Published articles matching `text` (web-search syntax), best first, ties
/// by id descending, resuming after `after`; `limit + 1` rows.
pub async fn search(
    conn: &mut AsyncPgConnection,
    text: &str,
    filter: &ArticleFilter,
    after: Option<(f32, i64)>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<SearchRow>> {
    // $1 the query text, $2 the published status, $3 now; then the filters.
    let mut next = 4;
    let mut placeholder = || {
        let name = format!("${next}");
        next += 1;
        name
    };
    let mut conditions = String::new();
    if filter.tag.is_some() {
        let tag = placeholder();
        conditions.push_str(&format!(
            " AND a.id IN (SELECT at.article_id FROM article_tags at \
             JOIN tags t ON t.id = at.tag_id WHERE t.slug = {tag})"
        ));
    }
    if filter.outlet.is_some() {
        let outlet = placeholder();
        conditions.push_str(&format!(
            " AND (a.id IN (SELECT e.article_id FROM excerpts e \
                  JOIN outlets o ON o.id = e.outlet_id WHERE o.slug = {outlet}) \
               OR a.id IN (SELECT r.article_id FROM roundups r \
                  JOIN roundup_links l ON l.roundup_id = r.id \
                  JOIN outlets o ON o.id = l.outlet_id WHERE o.slug = {outlet}))"
        ));
    }
    if filter.published_after.is_some() {
        conditions.push_str(&format!(" AND a.published_at > {}", placeholder()));
    }
    if filter.published_before.is_some() {
        conditions.push_str(&format!(" AND a.published_at < {}", placeholder()));
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
    // The match goes through the GIN index; the visibility rule is
    // `visibility::is_public`, spelled in SQL.
    let sql = format!(
        "WITH candidates AS ( \
             SELECT a.id FROM article_search s JOIN articles a ON a.id = s.article_id \
              WHERE s.document @@ websearch_to_tsquery('english', $1) \
                AND a.status = $2 AND a.published_at <= $3{conditions} \
              ORDER BY a.published_at DESC, a.id DESC \
              LIMIT {MAX_RANKED} \
         ), ranked AS ( \
             SELECT s.article_id AS id, \
                    ts_rank('{WEIGHTS}', s.document, websearch_to_tsquery('english', $1)) AS rank \
               FROM candidates c JOIN article_search s ON s.article_id = c.id \
         ) \
         SELECT a.id, a.slug, a.title, a.summary, a.status, a.published_at, a.updated_at, a.revised_at, r.rank \
           FROM ranked r JOIN articles a ON a.id = r.id \
         {resume} \
          ORDER BY r.rank DESC, r.id DESC \
          LIMIT {limit_at}"
    );
    let mut query = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<Text, _>(text.to_owned())
        .bind::<Text, _>(PUBLISHED)
        .bind::<Timestamptz, _>(now);
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
    query
        .bind::<BigInt, _>(i64::from(limit) + 1)
        .load(conn)
        .await
}

#[derive(QueryableByName)]
struct SnippetRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    snippet: String,
}

/// For each of these articles, the passages of its text that best match
/// `text`, with each match between `START_MARK` and `STOP_MARK`: chosen from
/// the summary, the commentary and the excerpts (headline and body), in that
/// order, up to `SNIPPET_SOURCE_CHARS` characters. Run for one page only:
/// `ts_headline` parses the text again.
pub async fn snippets(
    conn: &mut AsyncPgConnection,
    text: &str,
    ids: &[i64],
) -> QueryResult<HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let options = format!(
        "StartSel={START_MARK}, StopSel={STOP_MARK}, MaxFragments=2, MaxWords=30, \
         MinWords=12, FragmentDelimiter=\" … \""
    );
    let rows: Vec<SnippetRow> = diesel::sql_query(
        "SELECT a.id, \
                ts_headline('english', \
                    translate(left(concat_ws(E'\\n\\n', a.summary, a.body, x.excerpts), $4), \
                              $5, ''), \
                    websearch_to_tsquery('english', $1), $2) AS snippet \
           FROM articles a \
           CROSS JOIN LATERAL ( \
               SELECT string_agg(e.headline || E'\\n' || e.body, E'\\n\\n' ORDER BY e.position) \
                      AS excerpts \
                 FROM (SELECT headline, body, position FROM excerpts \
                        WHERE article_id = a.id ORDER BY position LIMIT 100) e \
           ) x \
          WHERE a.id = ANY ($3)",
    )
    .bind::<Text, _>(text.to_owned())
    .bind::<Text, _>(options)
    .bind::<Array<BigInt>, _>(ids.to_vec())
    .bind::<Integer, _>(SNIPPET_SOURCE_CHARS)
    .bind::<Text, _>(String::from_iter([START_MARK, STOP_MARK]))
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.snippet)).collect())
}
