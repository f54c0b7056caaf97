//! How a resource goes on the wire: serialized once, with a strong `ETag`
//! computed from exactly those bytes, `Last-Modified` from what it shows,
//! `Cache-Control` a CDN can use, `Surrogate-Key` naming what it shows,
//! `If-None-Match` and `If-Modified-Since` answered with 304, and `If-Match`
//! checked before a write.
//!
//! Because the tag is a digest of the representation (and, for lists, of the
//! revision stamps of what they show), every instance computes the same
//! validators for the same content without sharing any state.

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::{Duration, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderName, HeaderValue, HttpDate};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{DEFAULT_CACHE_MAX_AGE, DEFAULT_CACHE_S_MAXAGE};
use crate::error::AppError;
use crate::fields::Fields;

/// Who a response is for: shared caches may keep public answers, never
/// answers to authenticated requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Private,
}

/// How long caches may keep public answers, as one `Cache-Control` value
/// built once at start-up.
///
/// Its text is static (made once per server and kept for its life), so that
/// sending it copies a pointer: a header value built at run time shares a
/// reference count, which every worker serving a public answer would write.
#[derive(Debug, Clone)]
pub struct CachePolicy(HeaderValue);

impl CachePolicy {
    /// Browsers keep an answer `max_age` seconds, shared caches (CDNs)
    /// `s_maxage`; both may serve it stale for as long again while they
    /// revalidate, and for a day when the origin fails.
    pub fn new(max_age: u32, s_maxage: u32) -> Self {
        let value = format!(
            "public, max-age={max_age}, s-maxage={s_maxage}, \
             stale-while-revalidate={s_maxage}, stale-if-error=86400"
        );
        // Digits, letters, commas, spaces, `=` and `-`: a valid header value.
        Self(HeaderValue::from_static(Box::leak(value.into_boxed_str())))
    }

    pub fn header(&self) -> &HeaderValue {
        &self.0
    }
}

impl Default for CachePolicy {
    fn default() -> Self {
        Self::new(DEFAULT_CACHE_MAX_AGE, DEFAULT_CACHE_S_MAXAGE)
    }
}

static SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

/// What a representation shows: the revision stamps of its content, for
/// `Last-Modified`, and the keys a CDN purges it by (`Surrogate-Key`).
///
/// Keys name resources by id, which never changes: `article-17`,
/// `outlet-3`, `tag-5`, `excerpt-40`, `roundup-8`, `link-21`, and a list
/// name (`articles`, `excerpts`, …) on every page of that list, purged when
/// something joins it.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    keys: String,
    latest: Option<DateTime<Utc>>,
    stamps: Vec<i64>,
}

impl Provenance {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a purge key, e.g. `key("article", 17)`, unless it is there already.
    pub fn key(&mut self, kind: &str, id: impl std::fmt::Display) -> &mut Self {
        let start = self.keys.len();
        if start > 0 {
            self.keys.push(' ');
        }
        let _ = write!(self.keys, "{kind}-{id}");
        self.keep_unless_repeated(start)
    }

    /// Adds a list's key, e.g. `list("articles")`.
    pub fn list(&mut self, name: &str) -> &mut Self {
        let start = self.keys.len();
        if start > 0 {
            self.keys.push(' ');
        }
        self.keys.push_str(name);
        self.keep_unless_repeated(start)
    }

    /// Drops the key just written from `start` if an earlier one is the
    /// same: a page of excerpts names each outlet and article once.
    fn keep_unless_repeated(&mut self, start: usize) -> &mut Self {
        let added = self.keys[start..].trim_start();
        // Searched as a substring bounded by spaces rather than by splitting
        // the keys: a feed page adds some forty keys, each checked against
        // all before it.
        let before = &self.keys[..start];
        let repeated = !added.is_empty()
            && before.match_indices(added).any(|(at, _)| {
                let end = at + added.len();
                (at == 0 || before.as_bytes()[at - 1] == b' ')
                    && (end == before.len() || before.as_bytes()[end] == b' ')
            })
            || added.is_empty() && before.split(' ').any(str::is_empty);
        if repeated {
            self.keys.truncate(start);
        }
        self
    }

    /// Adds the keys of `other`: a page showing whole posts names what each shows.
    pub fn include_keys(&mut self, other: &Provenance) -> &mut Self {
        for key in other.keys.split(' ').filter(|key| !key.is_empty()) {
            self.list(key);
        }
        self
    }

    /// Whether the keys name this one (for tests and assertions).
    pub fn names(&self, key: &str) -> bool {
        self.keys.split(' ').any(|candidate| candidate == key)
    }

    /// Adds an article: its key, and its revision as a reader sees it
    /// (`revisions::effective`), which every change to what it shows moves.
    pub fn article(
        &mut self,
        id: i64,
        revised_at: DateTime<Utc>,
        published_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> &mut Self {
        self.key("article", id)
            .revised(crate::revisions::effective(revised_at, published_at, now))
    }

    /// Adds the time something shown last changed.
    pub fn revised(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.latest = Some(self.latest.map_or(at, |latest| latest.max(at)));
        self.stamps.push(at.timestamp_micros());
        self
    }

    /// A time the page may have changed at without showing it: an item left
    /// it (see `revisions::removals`). It counts for `Last-Modified` only:
    /// the `ETag` changes anyway, with the body that lost the item.
    pub fn changed_by_removal(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.latest = Some(self.latest.map_or(at, |latest| latest.max(at)));
        self
    }

    /// The latest revision shown.
    pub fn last_modified(&self) -> Option<DateTime<Utc>> {
        self.latest
    }
}

/// A serialized representation and its validators.
#[derive(Debug, Clone)]
pub struct Representation {
    /// Shared, so that a representation held in memory is served without a copy.
    pub body: Bytes,
    /// Ready to send: a clone shares its bytes.
    etag: HeaderValue,
    content_type: HeaderValue,
    /// In whole seconds since the epoch, as HTTP dates carry it, and as sent.
    last_modified: Option<(i64, HeaderValue)>,
    surrogate_keys: Option<HeaderValue>,
}

impl Representation {
    /// A JSON representation of `value`.
    pub fn of<T: Serialize>(value: &T) -> Result<Self, AppError> {
        let body: Bytes = serde_json::to_vec(value)
            .map_err(AppError::internal)?
            .into();
        Ok(Self::new(
            body,
            HeaderValue::from_static("application/json"),
        ))
    }

    /// A JSON representation of `value` with only the members `fields`
    /// keeps (all of them without `fields`).
    pub fn of_fields<T: Serialize>(value: &T, fields: Option<&Fields>) -> Result<Self, AppError> {
        let Some(fields) = fields else {
            return Self::of(value);
        };
        let mut json = serde_json::to_value(value).map_err(AppError::internal)?;
        fields.keep(&mut json);
        Self::of(&json)
    }

    /// This list, held serialized (a ranking), with only the asked members in
    /// each item of its `data`, showing what it showed.
    pub fn items_trimmed(&self, fields: &Fields) -> Result<Self, AppError> {
        let mut list: serde_json::Value =
            serde_json::from_slice(&self.body).map_err(AppError::internal)?;
        fields.keep_items(&mut list);
        Ok(Self {
            last_modified: self.last_modified.clone(),
            surrogate_keys: self.surrogate_keys.clone(),
            ..Self::of(&list)?
        })
    }

    /// A representation of any media type (feeds: Atom, RSS, JSON Feed).
    pub fn new(body: Bytes, content_type: HeaderValue) -> Self {
        let etag = tag_header(&etag_of(&body));
        Self {
            body,
            etag,
            content_type,
            last_modified: None,
            surrogate_keys: None,
        }
    }

    /// Sets `Last-Modified` and `Surrogate-Key` from what the body shows. The
    /// `ETag` stays the digest of the body: use this where the body shows
    /// everything whose change should renew it (a single resource).
    pub fn shows(mut self, provenance: &Provenance) -> Self {
        if let Some(latest) = provenance.latest {
            let seconds = latest.timestamp();
            let when = UNIX_EPOCH + Duration::from_secs(seconds.max(0).unsigned_abs());
            if let Ok(value) = HeaderValue::from_str(&HttpDate::from(when).to_string()) {
                self.last_modified = Some((seconds, value));
            }
        }
        if !provenance.keys.is_empty() {
            self.surrogate_keys = HeaderValue::from_str(&provenance.keys).ok();
        }
        self
    }

    /// As `shows`, and folds every revision stamp into the `ETag`, for a body
    /// that does not show all it depends on: a list of summaries does not
    /// show an article's excerpts, yet an edit to one renews the page.
    pub fn shows_revisions(mut self, provenance: &Provenance) -> Self {
        if !provenance.stamps.is_empty() {
            let mut digest = Sha256::new();
            digest.update(self.etag.as_bytes());
            for stamp in &provenance.stamps {
                digest.update(stamp.to_be_bytes());
            }
            self.etag = tag_header(&tag_of_digest(&digest.finalize()));
        }
        self.shows(provenance)
    }

    /// A copy that shares no memory with this one. A clone shares its
    /// bytes, and with them a reference count that every thread serving a
    /// clone writes to.
    pub fn copied(&self) -> Self {
        let copy = |value: &HeaderValue| {
            HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone())
        };
        Self {
            body: Bytes::copy_from_slice(&self.body),
            etag: copy(&self.etag),
            content_type: copy(&self.content_type),
            last_modified: self
                .last_modified
                .as_ref()
                .map(|(seconds, value)| (*seconds, copy(value))),
            surrogate_keys: self.surrogate_keys.as_ref().map(copy),
        }
    }

    /// The strong entity tag, quotes included.
    pub fn etag(&self) -> &str {
        // Base64 between quotes: always visible ASCII.
        self.etag.to_str().unwrap_or_default()
    }

    /// The response: 304 when the client's `If-None-Match` already names
    /// this tag or, without `If-None-Match`, when nothing shown has changed
    /// since its `If-Modified-Since`.
    pub fn respond(
        self,
        req: &HttpRequest,
        status: StatusCode,
        audience: Audience,
    ) -> HttpResponse {
        let mut response = HttpResponse::build(status);
        response.insert_header((header::ETAG, self.etag.clone()));
        // A request with credentials is never answered for shared caches,
        // even where the key changes nothing: a CDN would otherwise keep an
        // answer to `Authorization`, which `public` allows it to.
        let audience = if req.headers().contains_key(header::AUTHORIZATION) {
            Audience::Private
        } else {
            audience
        };
        match audience {
            Audience::Private => {
                response.insert_header((header::CACHE_CONTROL, "private, no-store"));
            }
            Audience::Public => {
                let policy = req.app_data::<web::Data<CachePolicy>>();
                response.insert_header((
                    header::CACHE_CONTROL,
                    match policy {
                        Some(policy) => policy.header().clone(),
                        None => {
                            static DEFAULT: LazyLock<CachePolicy> =
                                LazyLock::new(CachePolicy::default);
                            DEFAULT.header().clone()
                        }
                    },
                ));
                if let Some(keys) = self.surrogate_keys.clone() {
                    response.insert_header((SURROGATE_KEY.clone(), keys));
                }
            }
        }
        if let Some((_, value)) = &self.last_modified {
            response.insert_header((header::LAST_MODIFIED, value.clone()));
        }
        if status == StatusCode::OK && self.unchanged_for(req) {
            return response.status(StatusCode::NOT_MODIFIED).finish();
        }
        response
            .insert_header((header::CONTENT_TYPE, self.content_type))
            .body(self.body)
    }

    /// Whether the client's copy is current: see `unchanged`.
    fn unchanged_for(&self, req: &HttpRequest) -> bool {
        req.method() == Method::GET
            && unchanged(
                req.headers(),
                self.etag(),
                self.last_modified.as_ref().map(|(seconds, _)| *seconds),
            )
    }
}

/// Whether the copy a request's conditional headers describe is current
/// (RFC 9110 §13.2.2): an `If-None-Match` decides alone; `If-Modified-Since`
/// counts only without it, against `last_modified` in seconds since the epoch.
pub fn unchanged(headers: &header::HeaderMap, etag: &str, last_modified: Option<i64>) -> bool {
    // The tag is read as text only when there is a tag to compare it with.
    if let Some(tags) = headers.get(header::IF_NONE_MATCH) {
        return tags.to_str().is_ok_and(|tags| {
            tags.split(',')
                .map(str::trim)
                .any(|candidate| candidate == "*" || names(candidate, etag))
        });
    }
    let (Some(modified), Some(since)) = (last_modified, headers.get(header::IF_MODIFIED_SINCE))
    else {
        return false;
    };
    since
        .to_str()
        .ok()
        .and_then(|since| since.parse::<HttpDate>().ok())
        .is_some_and(|since| {
            std::time::SystemTime::from(since)
                .duration_since(UNIX_EPOCH)
                .is_ok_and(|since| modified <= i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
        })
}

/// A strong entity tag: the first 128 bits of the SHA-256 of the bytes.
pub fn etag_of(body: &[u8]) -> String {
    tag_of_digest(&Sha256::digest(body))
}

fn tag_of_digest(digest: &[u8]) -> String {
    format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]))
}

fn tag_header(tag: &str) -> HeaderValue {
    // Base64url between quotes: always a valid header value.
    HeaderValue::from_str(tag).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The content codings the edge may compress a representation with; it
/// marks the tag of each encoded form with one of these suffixes, inside
/// the quotes, since an encoded form is another representation.
const CODING_SUFFIXES: [&str; 3] = ["-gzip\"", "-br\"", "-zstd\""];

/// Whether `candidate`, a tag from a request, names `etag`: itself, its weak
/// form (for `If-None-Match`, which compares weakly), or an encoded form.
fn names(candidate: &str, etag: &str) -> bool {
    let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
    candidate == etag || same_but_encoded(candidate, etag)
}

fn same_but_encoded(candidate: &str, etag: &str) -> bool {
    CODING_SUFFIXES.iter().any(|suffix| {
        candidate
            .strip_suffix(suffix)
            .is_some_and(|base| etag.strip_suffix('"') == Some(base))
    })
}

/// A write's `If-Match`, read from the request up front so that it can be
/// checked inside the write's transaction.
#[derive(Debug, Clone, Default)]
pub struct IfMatch(Option<String>);

impl IfMatch {
    pub fn of(req: &HttpRequest) -> Self {
        Self(
            req.headers()
                .get(header::IF_MATCH)
                .map(|value| value.to_str().unwrap_or("\u{0}").to_string()),
        )
    }

    /// Refuses the write (412) unless `If-Match` names the current
    /// representation; a request without `If-Match` writes unconditionally.
    /// The comparison is strong: a weak tag never matches.
    pub fn check(&self, current_etag: &str) -> Result<(), AppError> {
        let Some(value) = &self.0 else { return Ok(()) };
        let names_current = value.split(',').map(str::trim).any(|candidate| {
            candidate == "*"
                || candidate == current_etag
                || same_but_encoded(candidate, current_etag)
        });
        if names_current {
            Ok(())
        } else {
            Err(AppError::PreconditionFailed(format!(
                "the resource has changed: its ETag is now {current_etag}; fetch it again and reapply the change"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "\"AAAAAAAAAAAAAAAAAAAAAA\"";

    #[test]
    fn a_tag_names_itself_its_weak_form_and_its_encoded_forms() {
        assert!(names(TAG, TAG));
        assert!(names("W/\"AAAAAAAAAAAAAAAAAAAAAA\"", TAG));
        for coding in ["gzip", "br", "zstd"] {
            assert!(names(&format!("\"AAAAAAAAAAAAAAAAAAAAAA-{coding}\""), TAG));
        }
        assert!(!names("\"AAAAAAAAAAAAAAAAAAAAAA-deflate\"", TAG));
        assert!(!names("\"AAAAAAAAAAAAAAAAAAAAAB\"", TAG));
    }

    #[test]
    fn if_match_is_strong_but_accepts_encoded_forms() {
        let check = |value: &str| IfMatch(Some(value.into())).check(TAG).is_ok();
        assert!(check(TAG));
        assert!(check("\"AAAAAAAAAAAAAAAAAAAAAA-br\""));
        assert!(check("*"));
        assert!(!check("W/\"AAAAAAAAAAAAAAAAAAAAAA\""));
        assert!(IfMatch(None).check(TAG).is_ok());
    }

    #[test]
    fn keys_are_named_once_and_a_removal_dates_without_retagging() {
        let at = |seconds| DateTime::from_timestamp(seconds, 0).unwrap_or_default();
        let mut shown = Provenance::new();
        shown
            .list("excerpts")
            .key("article", 1)
            .key("outlet", 2)
            .key("article", 1)
            .key("article", 11)
            .list("excerpts")
            .revised(at(100));
        assert_eq!(shown.keys, "excerpts article-1 outlet-2 article-11");
        assert!(shown.names("article-11") && !shown.names("article-"));

        let body = || {
            Representation::new(
                Bytes::from_static(b"[]"),
                HeaderValue::from_static("application/json"),
            )
        };
        let mut removed = shown.clone();
        removed.changed_by_removal(at(200));
        assert_eq!(removed.last_modified(), Some(at(200)));
        assert_eq!(
            body().shows_revisions(&removed).etag(),
            body().shows_revisions(&shown).etag(),
            "a removal elsewhere leaves the tag of this page as it was"
        );
        // An older removal changes nothing.
        removed.changed_by_removal(at(50));
        assert_eq!(removed.last_modified(), Some(at(200)));
    }

    #[test]
    fn a_key_is_repeated_only_when_a_whole_key_is_the_same() {
        let mut shown = Provenance::new();
        shown
            .key("article", 11)
            .key("article", 1)
            .list("xtag-1")
            .key("tag", 1)
            .key("article", 111)
            .key("article", 1)
            .list("tag-1")
            .key("article", 11);
        assert_eq!(shown.keys, "article-11 article-1 xtag-1 tag-1 article-111");
    }

    #[test]
    fn revisions_renew_the_tag_and_set_last_modified() {
        let body = Representation::new(
            Bytes::from_static(b"[]"),
            HeaderValue::from_static("application/json"),
        );
        let plain = body.etag().to_string();
        let mut shown = Provenance::new();
        shown.revised(DateTime::from_timestamp(1_000_000, 5).unwrap_or_default());
        let revised = body.shows_revisions(&shown);
        assert_ne!(revised.etag(), plain);
        assert_eq!(
            revised.last_modified.map(|(seconds, _)| seconds),
            Some(1_000_000)
        );
    }
}
