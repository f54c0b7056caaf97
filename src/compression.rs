//! Content codings: answers worth compressing are sent gzip, br or zstd, as
//! the request's `Accept-Encoding` prefers (br, then zstd, then gzip when
//! it ranks them equally), with actix-http's encoders.
//!
//! Our own middleware rather than actix-web's `Compress`, which
//! - compresses every size: a body under `MIN_SIZE` already fits one TCP
//!   segment with its headers (a 1 KiB excerpt of the OpenAPI document
//!   gzips to 627 bytes, a 117-byte problem to 118), so coding it saves no
//!   packet and costs CPU and the `Content-Length`;
//! - answers `Accept-Encoding: identity;q=0` with a 406 in plain text,
//!   where we send the identity coding (RFC 9110 §12.5.3 allows it) rather
//!   than a body that is not a problem document;
//! - sends `Vary: Accept-Encoding` only on what it compressed, while every
//!   answer that another request could get compressed must say it varies;
//! - cannot give a compressed representation its own strong `ETag`.
//!
//! A strong `ETag` `"X"` becomes `"X-gzip"`, `"X-br"` or `"X-zstd"` on a
//! compressed answer: a different representation needs a different strong
//! tag (RFC 9110 §8.8.3). `If-None-Match` and `If-Match` accept a suffixed
//! tag as naming its base (`representation`). A 304 keeps the suffix of the
//! tag the client revalidates with when it asks for the same coding, so
//! that the client's stored tag stays the one its stored bytes go with.
//!
//! Never compressed: HEAD (its headers are those of the identity
//! representation), 204, 206 and 304 answers, the view beacon (a 202
//! without a body, and nothing is added to it), images other than SVG,
//! audio, video and fonts.

use std::future::Future;

use actix_http::encoding::Encoder;
use actix_http::ResponseHead;
use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, ContentEncoding, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::Bytes;
use futures_util::future::Either;

/// Bodies shorter than this are sent as they are.
pub const MIN_SIZE: u64 = 1024;

/// A content coding the server produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Zstd,
    Gzip,
}

impl Coding {
    /// In the order preferred at equal quality.
    const ALL: [Self; 3] = [Self::Brotli, Self::Zstd, Self::Gzip];
    /// How many there are: `index` is below it.
    pub const COUNT: usize = Self::ALL.len();

    /// A number of its own, from 0, for tables of codings.
    pub fn index(self) -> usize {
        match self {
            Self::Brotli => 0,
            Self::Zstd => 1,
            Self::Gzip => 2,
        }
    }

    fn token(self) -> &'static str {
        match self {
            Self::Brotli => "br",
            Self::Zstd => "zstd",
            Self::Gzip => "gzip",
        }
    }

    /// Its `Content-Encoding` value.
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.token())
    }

    fn encoding(self) -> ContentEncoding {
        match self {
            Self::Brotli => ContentEncoding::Brotli,
            Self::Zstd => ContentEncoding::Zstd,
            Self::Gzip => ContentEncoding::Gzip,
        }
    }
}

/// The coding to send for this `Accept-Encoding`, if any: the one of
/// highest quality above zero, `*` standing for those not named. Parsed in
/// place, without allocating: it runs on every request that sends one.
pub fn negotiate(accept: &[u8]) -> Option<Coding> {
    // Quality in thousandths; `None` where the coding is not named.
    let mut named: [Option<u16>; 3] = [None; 3];
    let mut any: Option<u16> = None;
    for item in accept.split(|&b| b == b',') {
        let mut parts = item.split(|&b| b == b';');
        let token = parts.next().map(trim).unwrap_or_default();
        let quality = parts
            .filter_map(|param| {
                let param = trim(param);
                let value = param
                    .strip_prefix(b"q=")
                    .or_else(|| param.strip_prefix(b"Q="))?;
                Some(parse_quality(value))
            })
            .next()
            .unwrap_or(1000);
        if token == b"*" {
            any = Some(quality);
        } else if let Some(i) = Coding::ALL
            .iter()
            .position(|c| token.eq_ignore_ascii_case(c.token().as_bytes()))
        {
            named[i] = Some(quality);
        }
    }
    let mut best: Option<(Coding, u16)> = None;
    for (coding, quality) in Coding::ALL.into_iter().zip(named) {
        let quality = quality.or(any).unwrap_or(0);
        if quality > 0 && best.is_none_or(|(_, q)| quality > q) {
            best = Some((coding, quality));
        }
    }
    best.map(|(coding, _)| coding)
}

fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

/// `1`, `0.5`, `0.125` as thousandths; anything unreadable as 0 (not acceptable).
fn parse_quality(value: &[u8]) -> u16 {
    let mut digits = value.iter();
    let whole = match digits.next() {
        Some(b'1') => 1000,
        Some(b'0') => 0,
        _ => return 0,
    };
    let mut fraction = 0u16;
    let mut scale = 100u16;
    if digits.next() == Some(&b'.') {
        for &digit in digits.take(3) {
            if !digit.is_ascii_digit() {
                return 0;
            }
            fraction += u16::from(digit - b'0') * scale;
            scale /= 10;
        }
    }
    (whole + fraction).min(1000)
}

/// Whether an answer with this status, head and body size could be sent
/// compressed, to this request or another.
fn worth_compressing(status: StatusCode, headers: &HeaderMap, size: BodySize) -> bool {
    let length = match size {
        BodySize::None => return false,
        BodySize::Sized(length) => length,
        BodySize::Stream => u64::MAX,
    };
    status != StatusCode::NO_CONTENT
        && status != StatusCode::PARTIAL_CONTENT
        && !status.is_informational()
        && worth_encoding(
            headers.get(header::CONTENT_TYPE),
            headers.get(header::CONTENT_ENCODING),
            length,
        )
}

/// Whether a body of this type and length, in no coding yet, is sent
/// compressed to a client that accepts a coding.
pub fn worth_encoding(
    content_type: Option<&HeaderValue>,
    content_encoding: Option<&HeaderValue>,
    length: u64,
) -> bool {
    length >= MIN_SIZE
        && content_encoding.is_none()
        && content_type.is_none_or(|kind| compressible_type(kind.as_bytes()))
}

/// `body` in `coding`, made by the same encoders as the middleware's answers.
pub async fn encode(coding: Coding, body: Bytes) -> Result<Bytes, actix_web::Error> {
    let mut head = ResponseHead::new(StatusCode::OK);
    actix_web::body::to_bytes(Encoder::response(coding.encoding(), &mut head, body))
        .await
        .map_err(|error| actix_web::error::ErrorInternalServerError(error.to_string()))
}

fn compressible_type(kind: &[u8]) -> bool {
    let starts = |prefix: &[u8]| {
        kind.len() >= prefix.len() && kind[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if starts(b"image/svg") {
        return true;
    }
    !(starts(b"image/") || starts(b"audio/") || starts(b"video/") || starts(b"font/woff"))
}

/// `"X"` with the coding's suffix inside the quotes; weak tags stay as
/// they are (a weak tag already names every coding of the content).
pub fn suffixed(etag: &HeaderValue, coding: Coding) -> Option<HeaderValue> {
    let inner = etag.as_bytes().strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut tag = Vec::with_capacity(inner.len() + 8);
    tag.push(b'"');
    tag.extend_from_slice(inner);
    tag.push(b'-');
    tag.extend_from_slice(coding.token().as_bytes());
    tag.push(b'"');
    HeaderValue::from_bytes(&tag).ok()
}

/// Whether `If-None-Match` names `tag` (weakly, as `If-None-Match` compares).
fn names(if_none_match: &HeaderValue, tag: &HeaderValue) -> bool {
    if_none_match
        .as_bytes()
        .split(|&b| b == b',')
        .map(|entry| {
            let entry = trim(entry);
            entry.strip_prefix(b"W/").unwrap_or(entry)
        })
        .any(|entry| entry == tag.as_bytes())
}

fn vary(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
}

/// The middleware.
pub fn compress<S, B>(
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B, Encoder<B>>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    let method = req.method();
    if method == Method::POST && crate::rate_limit::is_beacon(req.path()) {
        return Either::Left(futures_util::FutureExt::map(service.call(req), |result| {
            result.map(|response| response.map_body(|_, body| EitherBody::left(body)))
        }));
    }
    let coding = match req.headers().get(header::ACCEPT_ENCODING) {
        Some(accept) if method != Method::HEAD => negotiate(accept.as_bytes()),
        _ => None,
    };
    let if_none_match = coding.and_then(|_| req.headers().get(header::IF_NONE_MATCH).cloned());
    let response = service.call(req);
    Either::Right(async move {
        let response = response.await?;
        Ok(response.map_body(move |head, body| {
            if head.status == StatusCode::NOT_MODIFIED {
                vary(head.headers_mut());
                if let (Some(coding), Some(if_none_match)) = (coding, if_none_match) {
                    let tag = head
                        .headers()
                        .get(header::ETAG)
                        .and_then(|t| suffixed(t, coding));
                    if let Some(tag) = tag.filter(|tag| names(&if_none_match, tag)) {
                        head.headers_mut().insert(header::ETAG, tag);
                    }
                }
                return EitherBody::left(body);
            }
            if !worth_compressing(head.status, head.headers(), body.size()) {
                return EitherBody::left(body);
            }
            let Some(coding) = coding else {
                vary(head.headers_mut());
                return EitherBody::left(body);
            };
            if let Some(tag) = head
                .headers()
                .get(header::ETAG)
                .and_then(|t| suffixed(t, coding))
            {
                head.headers_mut().insert(header::ETAG, tag);
            }
            // Sets `Content-Encoding` and appends `Vary: accept-encoding`.
            EitherBody::right(Encoder::response(coding.encoding(), head, body))
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_acceptable_coding_wins_and_br_breaks_ties() {
        let cases: &[(&str, Option<Coding>)] = &[
            ("gzip", Some(Coding::Gzip)),
            ("gzip, deflate, br, zstd", Some(Coding::Brotli)),
            ("gzip, zstd", Some(Coding::Zstd)),
            ("br;q=0.5, gzip", Some(Coding::Gzip)),
            ("br;q=0.5, gzip;q=0.25", Some(Coding::Brotli)),
            ("GZIP ; Q=0.9", Some(Coding::Gzip)),
            ("*", Some(Coding::Brotli)),
            ("*;q=0.1, br;q=0", Some(Coding::Zstd)),
            ("identity", None),
            ("gzip;q=0", None),
            ("gzip;q=0.000", None),
            ("identity;q=0", None),
            ("", None),
            ("deflate", None),
            ("gzip;q=bogus", None),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(accept.as_bytes()), *expected, "{accept}");
        }
    }

    #[test]
    fn a_strong_tag_takes_the_codings_suffix_and_a_weak_one_does_not() {
        let tag = HeaderValue::from_static("\"abc123\"");
        assert_eq!(suffixed(&tag, Coding::Gzip).unwrap(), "\"abc123-gzip\"");
        assert_eq!(suffixed(&tag, Coding::Brotli).unwrap(), "\"abc123-br\"");
        assert_eq!(suffixed(&tag, Coding::Zstd).unwrap(), "\"abc123-zstd\"");
        assert!(suffixed(&HeaderValue::from_static("W/\"abc\""), Coding::Gzip).is_none());
    }

    #[test]
    fn if_none_match_names_a_tag_in_its_list_weakly() {
        let tag = HeaderValue::from_static("\"abc-gzip\"");
        for list in [
            "\"abc-gzip\"",
            "\"x\", W/\"abc-gzip\"",
            " \"abc-gzip\" ,\"y\"",
        ] {
            assert!(names(&HeaderValue::from_static(list), &tag), "{list}");
        }
        for list in ["\"abc\"", "*", "\"abc-br\""] {
            assert!(!names(&HeaderValue::from_static(list), &tag), "{list}");
        }
    }

    #[test]
    fn only_big_enough_compressible_bodies_are_worth_it() {
        let json = {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers
        };
        let ok = StatusCode::OK;
        assert!(worth_compressing(ok, &json, BodySize::Sized(1024)));
        assert!(worth_compressing(ok, &json, BodySize::Stream));
        assert!(!worth_compressing(ok, &json, BodySize::Sized(1023)));
        assert!(!worth_compressing(
            StatusCode::NO_CONTENT,
            &json,
            BodySize::None
        ));
        let mut png = HeaderMap::new();
        png.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
        assert!(!worth_compressing(ok, &png, BodySize::Sized(5000)));
        png.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("image/svg+xml"),
        );
        assert!(worth_compressing(ok, &png, BodySize::Sized(5000)));
    }
}
