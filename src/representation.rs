//! How a single resource goes on the wire: serialized once, with a strong
//! `ETag` computed from exactly those bytes, `If-None-Match` answered with 304,
//! and `If-Match` checked before a write.
//!
//! Because the tag is a digest of the representation, every instance computes
//! the same tag for the same content without sharing any state.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// Who a response is for: shared caches may keep public answers, never
/// answers to authenticated requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Private,
}

/// A serialized representation and its strong entity tag.
#[derive(Debug, Clone)]
pub struct Representation {
    /// Shared, so that a representation held in memory is served without a copy.
    pub body: Bytes,
    /// Ready to send: a clone shares its bytes.
    etag: HeaderValue,
}

impl Representation {
    pub fn of<T: Serialize>(value: &T) -> Result<Self, AppError> {
        let body: Bytes = serde_json::to_vec(value)
            .map_err(AppError::internal)?
            .into();
        let etag = HeaderValue::from_str(&etag_of(&body))
            .map_err(|e| AppError::internal_because("an entity tag is not a header value", e))?;
        Ok(Self { body, etag })
    }

    /// A copy that shares no memory with this one. A clone shares its
    /// bytes, and with them a reference count that every thread serving a
    /// clone writes to.
    pub fn copied(&self) -> Self {
        let etag =
            HeaderValue::from_bytes(self.etag.as_bytes()).unwrap_or_else(|_| self.etag.clone());
        Self {
            body: Bytes::copy_from_slice(&self.body),
            etag,
        }
    }

    /// The strong entity tag, quotes included.
    pub fn etag(&self) -> &str {
        // Base64 between quotes: always visible ASCII.
        self.etag.to_str().unwrap_or_default()
    }

    /// The response: 304 when the client's `If-None-Match` already names this tag.
    pub fn respond(
        self,
        req: &HttpRequest,
        status: StatusCode,
        audience: Audience,
    ) -> HttpResponse {
        // The tag is read as text only when there is a tag to compare it with.
        let not_modified = status == StatusCode::OK
            && req
                .headers()
                .get(header::IF_NONE_MATCH)
                .is_some_and(|tags| matches_any(tags, self.etag()));
        let mut response = HttpResponse::build(status);
        response.insert_header((header::ETAG, self.etag));
        if audience == Audience::Private {
            response.insert_header((header::CACHE_CONTROL, "private, no-store"));
        }
        if not_modified {
            return response.status(StatusCode::NOT_MODIFIED).finish();
        }
        response.content_type("application/json").body(self.body)
    }
}

/// A strong entity tag: the first 128 bits of the SHA-256 of the bytes.
pub fn etag_of(body: &[u8]) -> String {
    format!(
        "\"{}\"",
        URL_SAFE_NO_PAD.encode(&Sha256::digest(body)[..16])
    )
}

fn matches_any(header: &HeaderValue, etag: &str) -> bool {
    let Ok(value) = header.to_str() else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate == etag || candidate.strip_prefix("W/") == Some(etag)
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
    pub fn check(&self, current_etag: &str) -> Result<(), AppError> {
        let Some(value) = &self.0 else { return Ok(()) };
        let names_current = value
            .split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate == current_etag);
        if names_current {
            Ok(())
        } else {
            Err(AppError::PreconditionFailed(format!(
                "the resource has changed: its ETag is now {current_etag}; fetch it again and reapply the change"
            )))
        }
    }
}
