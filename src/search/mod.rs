//! Search: `GET /v1/search`, full-text search over published articles and
//! their excerpts, backed by PostgreSQL full-text search.
//!
//! The index (`article_search`, one document per article) is kept by the
//! database's triggers, so this module only reads it; it never shows what
//! `visibility::is_public` hides, whoever asks.

pub mod queries;
pub mod views;

use std::collections::HashMap;

use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::Utc;
use diesel_async::scoped_futures::ScopedFutureExt;

use crate::articles::filtered_query;
use crate::articles::queries::StatusFilter;
use crate::articles::{Include, Parts};
use crate::db::replica::Databases;
use crate::error::{responses, AppError, InvalidInput};
use crate::fields::Fields;
use crate::pagination::{CursorKey, Page, Position, Scope};
use crate::params::{self, Checker};
use crate::representation::{Audience, Provenance};
use crate::revisions;
use views::SearchResult;

/// The longest search accepted, in characters: far beyond what anyone types
/// into a search box, and short enough that parsing it costs nothing.
pub const MAX_QUERY_CHARS: usize = 256;

filtered_query! {
    /// Query parameters of `GET /v1/search`.
    pub struct SearchQuery {
        /// What to look for, in web-search syntax: words (stemmed in English, so
        /// `elections` also finds `election`), `"quoted phrases"` whose words
        /// must be adjacent, `-word` to leave out articles that mention it
        /// anywhere, and `or` between alternatives. Case does not matter; common
        /// words such as `the` are ignored, so a query of only those finds nothing.
        #[param(
            required = true,
            min_length = 1,
            max_length = 256,
            example = "haqqani -taliban"
        )]
        q: Option<String>,
        ..filters,
        /// Page size.
        #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
        limit: Option<String>,
        /// The `next_cursor` of the previous page.
        cursor: Option<String>,
        /// Comma-separated members of each result to keep (e.g. `slug,snippet_html`);
        /// all when absent. An unknown name is a 400 naming it.
        #[param(example = "slug,snippet_html")]
        fields: Option<String>,
    }
}

/// Search articles
///
/// Published articles whose title, summary, commentary or excerpts
/// (headlines and bodies) match `q`, best match first: a match in the title
/// ranks above one in the summary or an excerpt's headline, which ranks above
/// one in the commentary, then in an excerpt's body. Equal ranks come newest
/// id first. Each result is the article's summary (as in `GET /v1/articles`)
/// with its `rank` and a `snippet_html` of its text around the matches.
///
/// Only the 1,000 most recently published matches (after the filters) are
/// ranked, so that a word found everywhere costs no more than that: a query
/// matching more leaves the older ones out. Of a very long article, the
/// first 131,072 characters of the commentary and the first 100 excerpts
/// are searched (of their bodies, 16,384 characters each and 262,144 in
/// all). Paged by an opaque cursor: follow
/// `next_cursor` (or the `Link: rel="next"` header) until it is null.
#[utoipa::path(
    tag = "search",
    params(SearchQuery),
    responses(
        (status = 200, description = "One page of matching articles, best first", body = Page<SearchResult>,
            headers(("Link" = String, description = "RFC 8288 link to the next page, when there is one"))),
        responses::BadRequest,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/search")]
pub async fn search_articles(
    req: HttpRequest,
    databases: web::Data<Databases>,
    query: web::Query<SearchQuery>,
    cursors: web::Data<CursorKey>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let text = checker.check(search_text(query.q.as_deref(), req.query_string()));
    let filters = query.filters();
    // Search finds published articles only, whoever asks.
    let filter = filters.filter(&mut checker, StatusFilter::Published);
    let limit = checker.check(params::limit(query.limit.as_deref(), 20, 100));
    let fields = checker
        .check(Fields::parse::<SearchResult>(query.fields.as_deref()))
        .flatten();
    // `q` is percent-encoded in the scope, so that no text in it can pass
    // for another filter.
    let q: Option<String> = query
        .q
        .as_deref()
        .map(|q| url::form_urlencoded::byte_serialize(q.as_bytes()).collect());
    let mut scoped = vec![("q", q.as_deref())];
    scoped.extend(filters.as_scoped());
    let scope = Scope::new(&cursors, "search", &scoped);
    let after = checker.check(scope.after_rank(filters.cursor)).flatten();
    checker.finish()?;
    // `finish` has refused the request if it is missing.
    let Some(filter) = filter else {
        return Err(AppError::BadRequest("invalid parameters".into()));
    };
    let (text, limit) = (text.unwrap_or_default(), limit.unwrap_or_default());

    let now = Utc::now();
    let (text, filter) = (&text, &filter);
    let (removed_at, rows) = databases
        .read(&req, move |conn| {
            // One round trip: the removal watermark goes out with the search,
            // which brings each result's snippet and tags along.
            let removed = revisions::removals(conn);
            let rows = queries::search(conn, text, filter, after, limit, now);
            futures_util::future::try_join(removed, rows).scope_boxed_local()
        })
        .await?;
    let page = Page::from_rows(
        rows,
        limit,
        &scope,
        |row| Position::Rank {
            rank_bits: row.rank.to_bits(),
            id: row.article.id,
        },
        |row| row,
    );
    let mut shown = Provenance::new();
    shown.list("articles").changed_by_removal(removed_at);
    for row in &page.data {
        let article = &row.article;
        shown.article(article.id, article.revised_at, article.published_at, now);
    }
    let data = page
        .data
        .into_iter()
        .map(|mut row| {
            let tags = HashMap::from([(row.article.id, row.take_tags())]);
            let summary =
                Parts::with_tags(tags).summary(row.article, Include::default(), now, &mut shown);
            SearchResult {
                article: summary,
                rank: row.rank,
                snippet_html: views::snippet_html(&row.snippet),
            }
        })
        .collect();
    let page = Page {
        data,
        next_cursor: page.next_cursor,
    };
    page.respond_fields(&req, Audience::Public, &shown, fields.as_ref())
}

/// The search text: present, not blank, at most `MAX_QUERY_CHARS`
/// characters, and text PostgreSQL takes (UTF-8 without NUL).
fn search_text(q: Option<&str>, query_string: &str) -> Result<String, InvalidInput> {
    // actix decodes the query string lossily, an invalid byte becoming
    // U+FFFD, so the raw bytes are checked here.
    if !raw_q_is_utf8(query_string) {
        return Err(InvalidInput::new(
            "q",
            "must be UTF-8 text: its percent-encoded bytes are not",
        ));
    }
    let Some(q) = q else {
        return Err(InvalidInput::new(
            "q",
            "is required: the words to search for",
        ));
    };
    if q.contains('\0') {
        return Err(InvalidInput::new("q", "must not contain NUL characters"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(InvalidInput::new(
            "q",
            format!("must be at most {MAX_QUERY_CHARS} characters"),
        ));
    }
    let q = q.trim();
    if q.is_empty() {
        return Err(InvalidInput::new(
            "q",
            "must not be empty: give the words to search for",
        ));
    }
    Ok(q.to_string())
}

/// Whether every `q` in a raw query string decodes to UTF-8.
fn raw_q_is_utf8(query_string: &str) -> bool {
    query_string.split('&').all(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        percent_decode(name) != b"q" || std::str::from_utf8(&percent_decode(value)).is_ok()
    })
}

/// `application/x-www-form-urlencoded` decoding to bytes, as actix does it
/// but without replacing what is not UTF-8.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                std::str::from_utf8(&[*high, *low])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            }
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                decoded.push(byte);
                i += 3;
            }
            (None, b'+') => {
                decoded.push(b' ');
                i += 1;
            }
            (None, byte) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    decoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoded_bytes_that_are_not_utf8_are_refused() {
        assert!(raw_q_is_utf8("q=caf%C3%A9+au+lait&tag=x"));
        assert!(raw_q_is_utf8("tag=%FF&q=ok"));
        assert!(raw_q_is_utf8("q=100%25&q=%"));
        assert!(!raw_q_is_utf8("q=%FF"));
        assert!(!raw_q_is_utf8("limit=2&%71=a%C3"));
    }

    #[test]
    fn the_search_text_is_bounded_and_never_blank() {
        assert_eq!(search_text(Some("  elections "), "").unwrap(), "elections");
        for bad in [None, Some(""), Some("   "), Some("a\0b")] {
            assert!(search_text(bad, "").is_err(), "{bad:?}");
        }
        let longest = "é".repeat(MAX_QUERY_CHARS);
        assert!(search_text(Some(&longest), "").is_ok());
        assert!(search_text(Some(&format!("{longest}e")), "").is_err());
    }
}
