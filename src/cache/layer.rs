//! The cache as a layer of the application, between the request budgets and
//! the handlers: anonymous reads of the public representations are answered
//! from memory, and what the handlers answer is kept. A handler knows
//! nothing of it: what an answer shows is its `Surrogate-Key`, and whether it
//! may be kept, its `Cache-Control`.
//!
//! Every answer through it says how it was served, in `Cache-Status`
//! (RFC 9211): `broadsheet; hit`, `broadsheet; fwd=miss; stored`,
//! `broadsheet; fwd=bypass` (a request with a key), or, while the database
//! fails, `broadsheet; fwd=stale; fwd-status=503` on a held answer.

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::HttpResponse;
use futures_util::future::Either;

use super::{Cache, Entry, Lookup, ANY_CHANGE};
use crate::compression::{self, Coding};
use crate::representation::unchanged;

static CACHE_STATUS: HeaderName = HeaderName::from_static("cache-status");
static SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");

const HIT: HeaderValue = HeaderValue::from_static("broadsheet; hit");
const STORED: HeaderValue = HeaderValue::from_static("broadsheet; fwd=miss; stored");
const MISS: HeaderValue = HeaderValue::from_static("broadsheet; fwd=miss");
const BYPASS: HeaderValue = HeaderValue::from_static("broadsheet; fwd=bypass");
const VARY_CODING: HeaderValue = HeaderValue::from_static("accept-encoding");

/// Longest request target kept: longer ones are read from the database.
const MAX_KEY: usize = 2048;

/// What a path's answers show, for what purges them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// One resource and what it embeds: purged by its `Surrogate-Key` alone.
    Resource,
    /// Many resources, or counts over them: purged by any change too.
    Aggregate,
}

/// Which public reads are kept, and how they are purged. Not the change
/// log, whose last page moves with every write, nor rankings and stats,
/// which views change and which the popularity engine holds in memory.
pub fn shows(path: &str) -> Option<Shows> {
    let rest = path.strip_prefix("/v1/")?;
    let mut segments = rest.split('/');
    let collection = segments.next()?;
    let item = segments.next();
    if segments.next().is_some() || item == Some("") {
        return None;
    }
    match (collection, item) {
        ("articles" | "excerpts" | "roundup-links" | "outlets" | "tags" | "search", None) => {
            Some(Shows::Aggregate)
        }
        ("feeds", Some("atom" | "rss" | "json")) => Some(Shows::Aggregate),
        // An outlet shows its counts of quotations and links.
        ("outlets", Some(_)) => Some(Shows::Aggregate),
        ("articles" | "excerpts" | "roundups" | "roundup-links", Some(_)) => Some(Shows::Resource),
        _ => None,
    }
}

/// Answers from `cache` what it holds, keeps what the handlers answer.
pub fn serve<S, B>(
    cache: &Option<Cache>,
    mut req: ServiceRequest,
    service: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let pass = |req, status: Option<HeaderValue>| {
        Either::Left(futures_util::FutureExt::map(
            service.call(req),
            move |result: Result<ServiceResponse<B>, actix_web::Error>| {
                result.map(|mut response| {
                    if let Some(status) = status {
                        response.headers_mut().insert(CACHE_STATUS.clone(), status);
                    }
                    response.map_into_left_body()
                })
            },
        ))
    };
    let Some(cache) = cache.as_ref() else {
        return pass(req, None);
    };
    let reading = req.method() == Method::GET || req.method() == Method::HEAD;
    if !reading {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return pass(req, None);
        }
        // An editor's write: its own next read must show it, so the log is
        // read before the answer goes.
        let response = service.call(req);
        let cache = cache.clone();
        return Either::Right(Either::Right(Box::pin(async move {
            let response = response.await?;
            if response.status().is_success() || response.status().is_redirection() {
                cache.catch_up().await;
            }
            Ok(response.map_into_left_body())
        }) as Boxed<B>));
    }
    let Some(shows) = shows(req.path()) else {
        return pass(req, None);
    };
    if req.headers().contains_key(header::AUTHORIZATION) {
        return pass(req, Some(BYPASS));
    }
    let key = req
        .uri()
        .path_and_query()
        .map_or("", |target| target.as_str());
    if key.len() > MAX_KEY {
        return pass(req, Some(MISS));
    }
    // The coding the edge would compress the answer with: a held answer is
    // sent in the form kept for it.
    let coding = match req.headers().get(header::ACCEPT_ENCODING) {
        Some(accept) if req.method() == Method::GET => compression::negotiate(accept.as_bytes()),
        _ => None,
    };
    let held = match cache.store.lookup(key) {
        Lookup::Fresh(entry) => {
            let coding = coding.filter(|_| entry.compressible);
            if let Some(coding) = coding
                .filter(|&coding| entry.encoded(coding).is_none() && !judge(&entry, req.headers()))
            {
                // The first client to ask for this coding: it is made once.
                let store = cache.store.clone();
                let key: Box<str> = key.into();
                return Either::Right(Either::Right(Box::pin(async move {
                    if entry.encode(coding).await.is_some() {
                        store.reweigh(&key, &entry);
                    }
                    let response = answer(&entry, req.headers(), HIT, Some(coding));
                    Ok(req.into_response(response).map_into_right_body())
                }) as Boxed<B>));
            }
            let response = answer(&entry, req.headers(), HIT, coding);
            return Either::Right(Either::Left(std::future::ready(Ok(req
                .into_response(response)
                .map_into_right_body()))));
        }
        Lookup::Stale(entry) => Some(entry),
        Lookup::Missing => None,
    };
    // The handler answers in full; the conditions are judged here, against
    // what is kept, so that a revalidation fills the cache too.
    let key: Box<str> = key.into();
    let conditions = take_conditions(req.headers_mut());
    let ticket = cache.store.ticket();
    let response = service.call(req);
    let cache = cache.clone();
    Either::Right(Either::Right(Box::pin(async move {
        let response = response.await?;
        let status = response.status();
        if status.is_server_error() {
            if let Some(entry) = held {
                let fwd = format!("broadsheet; fwd=stale; fwd-status={}", status.as_u16());
                let label = HeaderValue::from_str(&fwd).unwrap_or(MISS);
                let answer = answer(&entry, &conditions, label, None);
                return Ok(response.into_response(answer).map_into_right_body());
            }
        }
        if status != StatusCode::OK || !public(response.headers()) {
            return Ok(restore(response, &conditions));
        }
        let (request, response) = response.into_parts();
        let (head, body) = response.into_parts();
        let body = match body.size() {
            BodySize::Sized(_) => actix_web::body::to_bytes(body)
                .await
                .map_err(|error| actix_web::error::ErrorInternalServerError(error.into()))?,
            // A stream (none of the kept reads sends one) goes as it is.
            _ => {
                let response = head.set_body(body);
                return Ok(ServiceResponse::new(request, response).map_into_left_body());
            }
        };
        let headers = head.headers();
        let mut keys = headers
            .get(&SURROGATE_KEY)
            .and_then(|keys| keys.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if shows == Shows::Aggregate {
            keys.push(' ');
            keys.push_str(ANY_CHANGE);
        }
        let (etag, last_modified) = validators(headers);
        let entry = Entry::new(
            body,
            headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect(),
            etag,
            last_modified,
        );
        let ticket = ticket.answered_at(crate::db::replica::replayed(&request));
        let (entry, stored) = cache.store.store(&key, ticket, &keys, entry);
        let label = if stored { STORED } else { MISS };
        let coding = coding.filter(|_| stored && entry.compressible);
        if let Some(coding) = coding {
            if !judge(&entry, &conditions) && entry.encode(coding).await.is_some() {
                cache.store.reweigh(&key, &entry);
            }
        }
        let answer = answer(&entry, &conditions, label, coding);
        Ok(ServiceResponse::new(request, answer).map_into_right_body())
    })))
}

/// The slow paths' futures, boxed: they hold the handler's future across
/// awaits, and unboxed they would make every request's future as large.
type Boxed<B> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>>,
>;

/// An answer's `ETag`, and its `Last-Modified` in seconds since the epoch.
fn validators(headers: &HeaderMap) -> (Option<HeaderValue>, Option<i64>) {
    let last_modified = headers
        .get(header::LAST_MODIFIED)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<header::HttpDate>().ok())
        .and_then(|date| {
            std::time::SystemTime::from(date)
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
        })
        .and_then(|since| i64::try_from(since.as_secs()).ok());
    (headers.get(header::ETAG).cloned(), last_modified)
}

/// Whether shared caches may keep the answer: the handler said so.
fn public(headers: &HeaderMap) -> bool {
    headers
        .get(header::CACHE_CONTROL)
        .is_some_and(|value| value.as_bytes().starts_with(b"public"))
}

/// The request's `If-None-Match` and `If-Modified-Since`, taken out of it.
fn take_conditions(headers: &mut actix_web::http::header::HeaderMap) -> HeaderMap {
    let mut conditions = HeaderMap::new();
    for name in [header::IF_NONE_MATCH, header::IF_MODIFIED_SINCE] {
        if let Some(value) = headers.get(&name).cloned() {
            headers.remove(&name);
            conditions.insert(name, value);
        }
    }
    conditions
}

/// An answer the cache did not keep, judged against the request's
/// conditions as the handler would have.
fn restore<B>(
    response: ServiceResponse<B>,
    conditions: &HeaderMap,
) -> ServiceResponse<EitherBody<B>>
where
    B: MessageBody + 'static,
{
    let (etag, last_modified) = validators(response.headers());
    let current = etag
        .as_ref()
        .and_then(|etag| etag.to_str().ok())
        .is_some_and(|etag| unchanged(conditions, etag, last_modified));
    if response.status() == StatusCode::OK && current {
        let (request, response) = response.into_parts();
        let mut not_modified = HttpResponse::NotModified();
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                not_modified.append_header((name.clone(), value.clone()));
            }
        }
        return ServiceResponse::new(request, not_modified.finish()).map_into_right_body();
    }
    response.map_into_left_body()
}

/// Whether the request's conditions name the kept answer (a 304).
fn judge(entry: &Entry, conditions: &HeaderMap) -> bool {
    // Most requests have no condition: the tag is not read as text then.
    (conditions.contains_key(header::IF_NONE_MATCH)
        || conditions.contains_key(header::IF_MODIFIED_SINCE))
        && entry
            .etag
            .as_ref()
            .and_then(|etag| etag.to_str().ok())
            .is_some_and(|etag| unchanged(conditions, etag, entry.last_modified))
}

/// The kept answer for this request: 304 when its conditions name it, in
/// `coding` when its form in that coding has been made (otherwise as it is,
/// and the edge compresses it).
fn answer(
    entry: &Entry,
    conditions: &HeaderMap,
    label: HeaderValue,
    coding: Option<Coding>,
) -> HttpResponse {
    let not_modified = judge(entry, conditions);
    let encoded = coding
        .filter(|_| !not_modified)
        .and_then(|coding| Some((coding, entry.encoded(coding)?)));
    let mut response = HttpResponse::new(if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    });
    let headers = response.headers_mut();
    headers.reserve(entry.headers.len() + 3);
    for (name, value) in &entry.headers {
        if not_modified && name == header::CONTENT_TYPE {
            continue;
        }
        if encoded.is_some() && name == header::ETAG {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    headers.insert(CACHE_STATUS.clone(), label);
    if not_modified {
        return response;
    }
    match encoded {
        Some((coding, encoded)) => {
            // As the edge marks what it compresses: the coding, a tag of
            // the coded form's own, and that the answer varies by it.
            if let Some(etag) = &encoded.etag {
                headers.insert(header::ETAG, etag.clone());
            }
            headers.insert(header::CONTENT_ENCODING, coding.header_value());
            headers.append(header::VARY, VARY_CODING);
            response.set_body(actix_web::body::BoxBody::new(encoded.body.clone()))
        }
        None => response.set_body(actix_web::body::BoxBody::new(entry.body.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_reads_are_kept_and_purged_by_what_they_show() {
        for (path, expected) in [
            ("/v1/articles", Some(Shows::Aggregate)),
            ("/v1/articles/a-post", Some(Shows::Resource)),
            ("/v1/articles/a-post/views", None),
            ("/v1/articles/a-post/stats", None),
            ("/v1/articles/", None),
            ("/v1/excerpts/4", Some(Shows::Resource)),
            ("/v1/roundups/4", Some(Shows::Resource)),
            ("/v1/roundups", None),
            ("/v1/outlets/dawn", Some(Shows::Aggregate)),
            ("/v1/feeds/atom", Some(Shows::Aggregate)),
            ("/v1/feeds/other", None),
            ("/v1/search", Some(Shows::Aggregate)),
            ("/v1/changes", None),
            ("/v1/rankings/popular", None),
            ("/v1/webhooks", None),
            ("/healthz", None),
        ] {
            assert_eq!(shows(path), expected, "{path}");
        }
    }
}
