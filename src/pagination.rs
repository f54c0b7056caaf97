//! Keyset pagination: opaque cursors, page envelopes and RFC 8288 `Link` headers.
//!
//! A cursor carries the sort key of the last row served and the query it was
//! issued for, sealed with an HMAC-SHA256 keyed by a server secret
//! (`CursorKey`), so that only a server holding the secret can issue one. A
//! cursor that was edited, forged, issued for another endpoint or other
//! filters, or that holds a position outside what the API stores, is refused
//! with a 400 naming `cursor` rather than silently answering a different
//! question or failing in the database.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, InvalidInput};
use crate::fields::Fields;
use crate::params::{self, is_slug, Checker};
use crate::representation::{Audience, Provenance, Representation};
use crate::validate;

/// Bytes of the HMAC kept in a cursor: 128 bits, past any guessing.
const SEAL_LEN: usize = 16;
/// Sealed ahead of every cursor, so that a seal made with the same secret
/// for anything else can never pass for one.
const SEAL_CONTEXT: &[u8] = b"broadsheet cursor v2\0";

/// The secret cursors are sealed with. Instances that share it accept each
/// other's cursors, and cursors outlive a restart only when it is configured.
#[derive(Clone)]
pub struct CursorKey(Hmac<Sha256>);

impl CursorKey {
    /// A key from a configured secret (HMAC takes a key of any length).
    pub fn new(secret: &[u8]) -> Self {
        match Hmac::new_from_slice(secret) {
            Ok(mac) => Self(mac),
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    /// A key of 32 random bytes, for a server given no secret.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut secret = [0; 32];
        getrandom::fill(&mut secret)?;
        Ok(Self::new(&secret))
    }

    fn seal(&self, payload: &[u8]) -> [u8; SEAL_LEN] {
        let tag = self.mac(payload).finalize().into_bytes();
        let mut seal = [0; SEAL_LEN];
        seal.copy_from_slice(&tag[..SEAL_LEN]);
        seal
    }

    /// Whether `seal` is this key's for `payload`, compared in constant time.
    fn verify(&self, payload: &[u8], seal: &[u8]) -> bool {
        seal.len() == SEAL_LEN && self.mac(payload).verify_truncated_left(seal).is_ok()
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        self.0
            .clone()
            .chain_update(SEAL_CONTEXT)
            .chain_update(payload)
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

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
    /// Best match first: the last row's search rank and id. The rank is kept
    /// as the bits of the `real` PostgreSQL computed, so that it comes back
    /// exactly equal and paging neither skips nor repeats a row.
    Rank { rank_bits: u32, id: i64 },
}

impl Position {
    /// Whether a query can resume here: a position the API could have
    /// issued. Checked even under a valid seal, so that no cursor can make a
    /// query fail (a timestamp PostgreSQL cannot store, a NUL in a slug).
    fn is_servable(&self) -> bool {
        match self {
            Self::Published { at, id } => validate::in_years(*at) && *id >= 1,
            Self::Id(id) => *id >= 1,
            Self::Slug(slug) => is_slug(slug),
            Self::Rank { rank_bits, id } => {
                let rank = f32::from_bits(*rank_bits);
                rank.is_finite() && rank >= 0.0 && *id >= 1
            }
        }
    }
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
pub struct Scope {
    scope: String,
    key: CursorKey,
}

/// `text` with each `\`, `&` and `=` escaped by a `\`, so that no value
/// can pass for more filters or another (`tag=a&outlet=b` is one filter
/// here). Text without them is unchanged, and so are the cursors issued
/// for it before.
fn escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '&' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl Scope {
    /// The scope of `endpoint` with these filters, whose cursors `key` seals.
    pub fn new(key: &CursorKey, endpoint: &str, filters: &[(&str, Option<&str>)]) -> Self {
        let mut scope = escaped(endpoint);
        for (name, value) in filters {
            if let Some(value) = value {
                scope.push_str(&format!("&{}={}", escaped(name), escaped(value)));
            }
        }
        Self {
            scope,
            key: key.clone(),
        }
    }

    /// The cursor of a page that resumes after `after`.
    pub fn encode(&self, after: Position) -> String {
        let sealed = Sealed {
            scope: self.scope.clone(),
            after,
        };
        let mut bytes = serde_json::to_vec(&sealed).unwrap_or_default();
        let seal = self.key.seal(&bytes);
        bytes.extend_from_slice(&seal);
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
        if bytes.len() <= SEAL_LEN {
            return Err(forged());
        }
        let (payload, seal) = bytes.split_at(bytes.len() - SEAL_LEN);
        if !self.key.verify(payload, seal) {
            return Err(forged());
        }
        let sealed: Sealed = serde_json::from_slice(payload).map_err(|_| forged())?;
        if sealed.scope != self.scope {
            return Err(InvalidInput::new(
                "cursor",
                "was issued for another endpoint or other filters; start again without it",
            ));
        }
        if !sealed.after.is_servable() {
            return Err(InvalidInput::new(
                "cursor",
                "holds a position outside what this API serves; start again without it",
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

    /// Where a best-match-first page resumes: the rank and the id.
    pub fn after_rank(&self, cursor: Option<&str>) -> Result<Option<(f32, i64)>, InvalidInput> {
        self.after(cursor, |p| match p {
            Position::Rank { rank_bits, id } => Some((f32::from_bits(rank_bits), id)),
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
    /// The JSON response, its validators renewed by every revision of what
    /// it shows, with a `Link: <…>; rel="next"` header when there is a next page.
    pub fn respond(
        &self,
        req: &HttpRequest,
        audience: Audience,
        shown: &Provenance,
    ) -> Result<HttpResponse, AppError> {
        self.respond_fields(req, audience, shown, None)
    }

    /// As `respond`, keeping only the members `fields` names of each item.
    pub fn respond_fields(
        &self,
        req: &HttpRequest,
        audience: Audience,
        shown: &Provenance,
        fields: Option<&Fields>,
    ) -> Result<HttpResponse, AppError> {
        let representation = match fields {
            None => Representation::of(self)?,
            Some(fields) => {
                let mut page = serde_json::to_value(self).map_err(AppError::internal)?;
                fields.keep_items(&mut page);
                Representation::of(&page)?
            }
        };
        let mut response =
            representation
                .shows_revisions(shown)
                .respond(req, StatusCode::OK, audience);
        if let Some(cursor) = &self.next_cursor {
            if let Ok(link) =
                HeaderValue::from_str(&format!("<{}>; rel=\"next\"", next_url(req, cursor)))
            {
                response.headers_mut().insert(header::LINK, link);
            }
        }
        Ok(response)
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
    /// Comma-separated members of each item to keep (e.g. `slug,name`); all
    /// when absent. An unknown name is a 400 naming it.
    pub fields: Option<String>,
}

impl SlugPageQuery {
    /// The page size and the slug to resume after, for the list named `endpoint`.
    pub fn validate(
        &self,
        key: &CursorKey,
        endpoint: &str,
    ) -> Result<(Scope, u32, Option<String>), AppError> {
        let scope = Scope::new(key, endpoint, &[]);
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

    fn key() -> CursorKey {
        CursorKey::new(b"a test secret of at least 32 bytes..")
    }

    #[test]
    fn a_cursor_round_trips_within_its_scope() {
        let scope = Scope::new(&key(), "articles", &[("tag", Some("pakistan"))]);
        for position in [
            Position::Id(42),
            Position::Slug("dawn".into()),
            Position::Rank {
                rank_bits: 0.607_927_1_f32.to_bits(),
                id: 3,
            },
            Position::Published {
                at: "2011-10-25T09:00:00Z".parse().unwrap(),
                id: 7,
            },
        ] {
            let cursor = scope.encode(position.clone());
            assert_eq!(scope.decode(&cursor).unwrap(), position);
        }
    }

    #[test]
    fn a_cursor_from_other_filters_is_refused() {
        let cursor = Scope::new(&key(), "articles", &[("tag", Some("a"))]).encode(Position::Id(1));
        let other = Scope::new(&key(), "articles", &[("tag", Some("b"))]);
        assert!(other.decode(&cursor).is_err());
    }

    #[test]
    fn a_filter_value_cannot_pass_for_more_filters() {
        let one = Scope::new(&key(), "articles", &[("tag", Some("&tag="))]);
        let two = Scope::new(&key(), "articles", &[("tag", Some("")), ("tag", Some(""))]);
        assert!(two.decode(&one.encode(Position::Id(1))).is_err());
        let one = Scope::new(&key(), "search", &[("q", Some("a&tag=b"))]);
        let two = Scope::new(&key(), "search", &[("q", Some("a")), ("tag", Some("b"))]);
        assert!(two.decode(&one.encode(Position::Id(1))).is_err());
        assert!(one.decode(&two.encode(Position::Id(1))).is_err());
        // An escape cannot be forged either.
        let one = Scope::new(&key(), "search", &[("q", Some("a\\&tag=b"))]);
        let two = Scope::new(&key(), "search", &[("q", Some("a\\")), ("tag", Some("b"))]);
        assert!(two.decode(&one.encode(Position::Id(1))).is_err());
    }

    #[test]
    fn an_edited_cursor_is_refused() {
        let scope = Scope::new(&key(), "excerpts", &[]);
        let cursor = scope.encode(Position::Id(7));
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        let digit = bytes.iter().position(|b| *b == b'7').unwrap();
        bytes[digit] = b'8';
        assert!(scope.decode(&URL_SAFE_NO_PAD.encode(bytes)).is_err());
        assert!(scope.decode("not a cursor").is_err());
        assert!(scope.decode("").is_err());
    }

    #[test]
    fn a_cursor_sealed_with_another_secret_is_refused() {
        let other = CursorKey::new(b"another secret of at least 32 bytes");
        let cursor = Scope::new(&other, "excerpts", &[]).encode(Position::Id(7));
        assert!(Scope::new(&key(), "excerpts", &[]).decode(&cursor).is_err());
        // Nor does a random key open what another random key sealed.
        let first = Scope::new(&CursorKey::random().unwrap(), "excerpts", &[]);
        let second = Scope::new(&CursorKey::random().unwrap(), "excerpts", &[]);
        assert!(second.decode(&first.encode(Position::Id(7))).is_err());
    }

    #[test]
    fn a_sealed_cursor_outside_what_the_api_serves_is_refused() {
        let scope = Scope::new(&key(), "articles", &[]);
        for position in [
            Position::Published {
                at: "-200000-01-01T00:00:00Z".parse().unwrap(),
                id: 1,
            },
            Position::Published {
                at: "9999-12-31T23:59:59-14:00".parse().unwrap(),
                id: 1,
            },
            Position::Published {
                at: "2011-10-25T09:00:00Z".parse().unwrap(),
                id: 0,
            },
            Position::Id(-5),
            Position::Rank {
                rank_bits: f32::NAN.to_bits(),
                id: 1,
            },
            Position::Rank {
                rank_bits: (-1.0_f32).to_bits(),
                id: 1,
            },
            Position::Slug("../etc".into()),
            Position::Slug("a\0b".into()),
        ] {
            let problem = scope.decode(&scope.encode(position.clone())).unwrap_err();
            assert_eq!(problem.parameter.as_deref(), Some("cursor"), "{position:?}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use proptest::sample::select;

    use super::*;
    use crate::fuzzing::{config, hostile_text};

    fn key() -> CursorKey {
        CursorKey::new(b"a fuzzing secret")
    }

    /// Times from far outside what PostgreSQL stores to the edges of what
    /// the API serves.
    fn time() -> impl Strategy<Value = DateTime<Utc>> {
        prop_oneof![
            // Years 1 to 9999, and a little past each end.
            -62_135_596_900i64..253_402_300_900,
            // Anything chrono holds.
            -8_210_266_876_800i64..8_210_266_876_800,
        ]
        .prop_filter_map("chrono holds it", |seconds| {
            DateTime::from_timestamp(seconds, 0)
        })
    }

    fn position() -> impl Strategy<Value = Position> {
        let id = prop_oneof![1i64..1_000_000, any::<i64>()];
        prop_oneof![
            (time(), id.clone()).prop_map(|(at, id)| Position::Published { at, id }),
            id.clone().prop_map(Position::Id),
            prop_oneof!["[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,3}", hostile_text()]
                .prop_map(Position::Slug),
            (
                prop_oneof![
                    any::<u32>(),
                    (0.0f32..100.0).prop_map(f32::to_bits),
                    Just(f32::INFINITY.to_bits()),
                    Just((-0.0f32).to_bits()),
                ],
                id
            )
                .prop_map(|(rank_bits, id)| Position::Rank { rank_bits, id }),
        ]
    }

    /// Filters as endpoints give them, their values heavy in what could
    /// make one list of filters read as another.
    fn filters() -> impl Strategy<Value = Vec<(&'static str, Option<String>)>> {
        let value = prop_oneof![
            proptest::collection::vec(
                select(&["a", "&", "=", "&tag=", "&q=", "\\", "%", "b"][..]),
                0..6
            )
            .prop_map(|pieces| pieces.concat()),
            hostile_text(),
        ];
        proptest::collection::vec((select(NAMES), proptest::option::of(value)), 0..4)
    }

    fn scope(endpoint: &str, filters: &[(&'static str, Option<String>)]) -> Scope {
        let filters: Vec<(&str, Option<&str>)> = filters
            .iter()
            .map(|(name, value)| (*name, value.as_deref()))
            .collect();
        Scope::new(&key(), endpoint, &filters)
    }

    const ENDPOINTS: &[&str] = &["articles", "search", "excerpts"];
    const NAMES: &[&str] = &["tag", "outlet", "q", "status", "article"];

    /// The filters a scope's text reads as when each `&` and `=` in it
    /// separates: other filters for the same text, when their values hold
    /// those.
    fn misread(filters: &[(&'static str, Option<String>)]) -> Vec<(&'static str, Option<String>)> {
        let text: String = filters
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|value| format!("&{name}={value}")))
            .collect();
        text.split('&')
            .skip(1)
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                let name = NAMES.iter().find(|known| **known == name)?;
                Some((*name, Some(value.to_string())))
            })
            .collect()
    }

    /// The filters that are given, which is what a query asks.
    fn given(filters: &[(&'static str, Option<String>)]) -> Vec<(&'static str, String)> {
        filters
            .iter()
            .filter_map(|(name, value)| value.clone().map(|value| (*name, value)))
            .collect()
    }

    /// Cursors that are not: any text, base64 of any bytes, a sealed
    /// payload under a guessed seal.
    fn forged() -> impl Strategy<Value = String> {
        prop_oneof![
            hostile_text(),
            proptest::collection::vec(any::<u8>(), 0..200)
                .prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
            (position(), proptest::collection::vec(any::<u8>(), SEAL_LEN)).prop_map(
                |(after, seal)| {
                    let mut bytes = serde_json::to_vec(&Sealed {
                        scope: "articles".into(),
                        after,
                    })
                    .unwrap();
                    bytes.extend(seal);
                    URL_SAFE_NO_PAD.encode(bytes)
                }
            ),
        ]
    }

    proptest! {
        #![proptest_config(config(256))]

        /// Whatever a client sends as `cursor`, each kind of list refuses
        /// it with a problem naming `cursor` (a 400), and nothing panics.
        #[test]
        fn fuzz_a_forged_cursor_is_refused_naming_cursor(cursor in forged()) {
            let scope = Scope::new(&key(), "articles", &[]);
            let cursor = Some(cursor.as_str());
            for problem in [
                scope.after_published(cursor).err(),
                scope.after_id(cursor).map(drop).err(),
                scope.after_slug(cursor).map(drop).err(),
                scope.after_rank(cursor).map(drop).err(),
            ] {
                prop_assert_eq!(problem.and_then(|p| p.parameter), Some("cursor".to_string()));
            }
        }

        /// A sealed cursor opens in its scope as the position it was sealed
        /// with, through the accessor of its kind only, when the position is
        /// one the API serves; else it is refused naming `cursor`. The
        /// cursor needs no escaping in a query string.
        #[test]
        fn fuzz_a_sealed_cursor_round_trips_or_is_refused(
            after in position(),
            filters in filters(),
        ) {
            let scope = scope("articles", &filters);
            let cursor = scope.encode(after.clone());
            prop_assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            match scope.decode(&cursor) {
                Ok(opened) => {
                    prop_assert!(after.is_servable());
                    prop_assert_eq!(&opened, &after);
                    let cursor = Some(cursor.as_str());
                    let kinds = [
                        scope.after_published(cursor).is_ok(),
                        scope.after_id(cursor).is_ok(),
                        scope.after_slug(cursor).is_ok(),
                        scope.after_rank(cursor).is_ok(),
                    ];
                    let kind = match after {
                        Position::Published { .. } => 0,
                        Position::Id(_) => 1,
                        Position::Slug(_) => 2,
                        Position::Rank { .. } => 3,
                    };
                    for (index, opens) in kinds.into_iter().enumerate() {
                        prop_assert_eq!(opens, index == kind);
                    }
                }
                Err(problem) => {
                    prop_assert!(!after.is_servable(), "{after:?} refused: {}", problem.detail);
                    prop_assert_eq!(problem.parameter.as_deref(), Some("cursor"));
                }
            }
        }

        /// A cursor sealed for one endpoint and filters opens for no other
        /// (filters that are absent are no filters).
        #[test]
        fn fuzz_a_cursor_opens_in_no_other_scope(
            (first, second) in (select(ENDPOINTS), filters()).prop_flat_map(|first| {
                let misread = (first.0, misread(&first.1));
                (Just(first), prop_oneof![(select(ENDPOINTS), filters()), Just(misread)])
            }),
            id in 1i64..1000,
        ) {
            let cursor = scope(first.0, &first.1).encode(Position::Id(id));
            let opened = scope(second.0, &second.1).decode(&cursor);
            let same = first.0 == second.0 && given(&first.1) == given(&second.1);
            prop_assert_eq!(opened.is_ok(), same, "{:?} and {:?}", first, second);
        }

        /// Any one character of a cursor changed, any bit of what it
        /// encodes flipped, or the cursor cut short or extended: refused.
        #[test]
        fn fuzz_a_tampered_cursor_is_refused(
            after in position().prop_filter("servable", Position::is_servable),
            at in any::<proptest::sample::Index>(),
            replacement in any::<char>(),
            bit in 0u8..8,
            extra in "[A-Za-z0-9_-]{1,4}",
        ) {
            let scope = Scope::new(&key(), "articles", &[("tag", Some("a"))]);
            let cursor = scope.encode(after);
            let chars: Vec<char> = cursor.chars().collect();
            let index = at.index(chars.len());
            if chars[index] != replacement {
                let mut edited = chars.clone();
                edited[index] = replacement;
                let edited: String = edited.into_iter().collect();
                prop_assert!(scope.decode(&edited).is_err(), "{cursor} became {edited}");
            }
            let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
            let byte = at.index(bytes.len());
            bytes[byte] ^= 1 << bit;
            prop_assert!(scope.decode(&URL_SAFE_NO_PAD.encode(&bytes)).is_err());
            prop_assert!(scope.decode(&cursor[..index]).is_err());
            let extended = format!("{cursor}{extra}");
            prop_assert!(scope.decode(&extended).is_err());
        }
    }
}
