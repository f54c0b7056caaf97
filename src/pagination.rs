//! Keyset pagination: opaque cursors, page envelopes and RFC 8288 `Link` headers.
//!
//! A cursor carries the sort key of the last row served and the query it was
//! issued for, sealed with a checksum. A cursor that was edited, or that was
//! issued for another endpoint or other filters, is refused with a 400 rather
//! than silently answering a different question.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, InvalidInput};
use crate::params::{self, Checker};
use crate::representation::Audience;

const CHECKSUM_LEN: usize = 8;
const CHECKSUM_CONTEXT: &[u8] = b"broadsheet cursor v1\0";

/// Where the previous page ended, in the order of the endpoint that issued it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Newest first: the last row's publication time and id.
    Published { at: DateTime<Utc>, id: i64 },
    /// Ascending ids.
    Id(i64),
    /// Ascending slugs.
    Slug(String),
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The endpoint and filters the cursor belongs to.
    scope: String,
    after: Position,
}

/// The endpoint and filters that a page answers, which a cursor must match.
///
/// `limit` is not part of the scope: a client may change page size mid-way.
#[derive(Debug, Clone)]
pub struct Scope(String);

impl Scope {
    pub fn new(endpoint: &str, filters: &[(&str, Option<&str>)]) -> Self {
        let mut scope = endpoint.to_string();
        for (name, value) in filters {
            if let Some(value) = value {
                scope.push_str(&format!("&{name}={value}"));
            }
        }
        Self(scope)
    }

    pub fn encode(&self, after: Position) -> String {
        let sealed = Sealed {
            scope: self.0.clone(),
            after,
        };
        let mut bytes = serde_json::to_vec(&sealed).unwrap_or_default();
        let sum = checksum(&bytes);
        bytes.extend_from_slice(&sum);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Opens a cursor issued for this scope.
    fn decode(&self, cursor: &str) -> Result<Position, InvalidInput> {
        let forged = || {
            InvalidInput::new(
                "cursor",
                "is not a cursor this API issued; start again without it",
            )
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor.trim())
            .map_err(|_| forged())?;
        if bytes.len() <= CHECKSUM_LEN {
            return Err(forged());
        }
        let (payload, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if checksum(payload) != sum {
            return Err(forged());
        }
        let sealed: Sealed = serde_json::from_slice(payload).map_err(|_| forged())?;
        if sealed.scope != self.0 {
            return Err(InvalidInput::new(
                "cursor",
                "was issued for another endpoint or other filters; start again without it",
            ));
        }
        Ok(sealed.after)
    }

    /// Where a newest-first page resumes, from its optional `cursor` parameter.
    pub fn after_published(
        &self,
        cursor: Option<&str>,
    ) -> Result<Option<(DateTime<Utc>, i64)>, InvalidInput> {
        self.after(cursor, |p| match p {
            Position::Published { at, id } => Some((at, id)),
            _ => None,
        })
    }

    /// Where an id-ordered page resumes.
    pub fn after_id(&self, cursor: Option<&str>) -> Result<Option<i64>, InvalidInput> {
        self.after(cursor, |p| match p {
            Position::Id(id) => Some(id),
            _ => None,
        })
    }

    /// Where a slug-ordered page resumes.
    pub fn after_slug(&self, cursor: Option<&str>) -> Result<Option<String>, InvalidInput> {
        self.after(cursor, |p| match p {
            Position::Slug(slug) => Some(slug),
            _ => None,
        })
    }

    fn after<T>(
        &self,
        cursor: Option<&str>,
        pick: impl FnOnce(Position) -> Option<T>,
    ) -> Result<Option<T>, InvalidInput> {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let position = self.decode(cursor)?;
        pick(position).map(Some).ok_or_else(|| {
            InvalidInput::new(
                "cursor",
                "was issued for another endpoint; start again without it",
            )
        })
    }
}

fn checksum(payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha256::new()
        .chain_update(CHECKSUM_CONTEXT)
        .chain_update(payload)
        .finalize();
    let mut sum = [0; CHECKSUM_LEN];
    sum.copy_from_slice(&digest[..CHECKSUM_LEN]);
    sum
}

/// One page of a list, with the cursor of the next page when there is one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page, in the endpoint's order.
    pub data: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `limit + 1`: the extra row only
    /// proves that a next page exists.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        limit: u32,
        scope: &Scope,
        position: impl Fn(&R) -> Position,
        view: impl FnMut(R) -> T,
    ) -> Self {
        let has_more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if has_more {
            rows.last().map(|last| scope.encode(position(last)))
        } else {
            None
        };
        Self {
            data: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

impl<T: Serialize> Page<T> {
    /// The JSON response, with a `Link: <…>; rel="next"` header when there is a next page.
    pub fn respond(&self, req: &HttpRequest, audience: Audience) -> HttpResponse {
        let mut response = HttpResponse::Ok();
        if audience == Audience::Private {
            response.insert_header((header::CACHE_CONTROL, "private, no-store"));
        }
        if let Some(cursor) = &self.next_cursor {
            response.insert_header((
                header::LINK,
                format!("<{}>; rel=\"next\"", next_url(req, cursor)),
            ));
        }
        response.json(self)
    }
}

/// The request's own path and query with `cursor` replaced.
fn next_url(req: &HttpRequest, cursor: &str) -> String {
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .filter(|(name, _)| name != "cursor")
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
    pairs.push(("cursor".into(), cursor.into()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}?{}", req.path(), query)
}

/// Query parameters of the slug-ordered lists (`/v1/tags`, `/v1/outlets`).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SlugPageQuery {
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl SlugPageQuery {
    /// The page size and the slug to resume after, for the list named `endpoint`.
    pub fn validate(&self, endpoint: &str) -> Result<(Scope, u32, Option<String>), AppError> {
        let scope = Scope::new(endpoint, &[]);
        let mut checker = Checker::new();
        let limit = checker.check(params::limit(self.limit.as_deref(), 20, 100));
        let after = checker
            .check(scope.after_slug(self.cursor.as_deref()))
            .flatten();
        checker.finish()?;
        Ok((scope, limit.unwrap_or_default(), after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_within_its_scope() {
        let scope = Scope::new("articles", &[("tag", Some("pakistan"))]);
        let position = Position::Id(42);
        let cursor = scope.encode(position.clone());
        assert_eq!(scope.decode(&cursor).unwrap(), position);
    }

    #[test]
    fn a_cursor_from_other_filters_is_refused() {
        let cursor = Scope::new("articles", &[("tag", Some("a"))]).encode(Position::Id(1));
        let other = Scope::new("articles", &[("tag", Some("b"))]);
        assert!(other.decode(&cursor).is_err());
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let scope = Scope::new("excerpts", &[]);
        let cursor = scope.encode(Position::Id(7));
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        let digit = bytes.iter().position(|b| *b == b'7').unwrap();
        bytes[digit] = b'8';
        assert!(scope.decode(&URL_SAFE_NO_PAD.encode(bytes)).is_err());
        assert!(scope.decode("not a cursor").is_err());
    }
}
