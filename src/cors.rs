//! Cross-origin requests from browsers. Reads (GET, HEAD) and the view
//! beacon are public: any page may make them and read the answer, problems
//! included, so `Access-Control-Allow-Origin: *` goes on every one of them,
//! with or without an `Origin` header: a shared cache that stored the
//! answer to a request without `Origin` hands the same bytes to browsers,
//! and they need the header in them (the alternative, `Vary: Origin`, would
//! split the cache by origin). Writes and requests carrying `Authorization`
//! are allowed only from the origins in `BROADSHEET_CORS_WRITE_ORIGINS`:
//! for those the origin is echoed, with `Vary: Origin`; for any other,
//! nothing, and the browser keeps the answer from the page.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! is answered here, before the rate limits, on every path the API serves;
//! an unknown path stays a 404, and a plain `OPTIONS` goes on to the 405
//! with `Allow`.
//!
//! Our own middleware rather than actix-cors: actix-cors has one list of
//! methods and headers for every origin and echoes the origin it allows,
//! while here anyone may read with `*` and only some origins may write,
//! with more headers. A request that is not a preflight costs a method
//! compare, one header lookup and, on reads, two static header values.

use std::future::Future;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse, ResponseError};
use futures_util::future::{ready, Either};

use crate::error::AppError;
use crate::routes::RouteTable;

/// What a page may read of an answer besides the CORS-safelisted headers.
/// `Surrogate-Key` is for the CDN only.
const EXPOSED: &str =
    "ETag, Last-Modified, Link, Location, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id";
/// Headers any origin may send with a read.
const READ_HEADERS: &[&str] = &["if-none-match", "if-modified-since", "x-request-id"];
/// Headers any origin may send with a view beacon (its body may be JSON).
const BEACON_HEADERS: &[&str] = &["content-type", "x-request-id"];
/// Headers a write origin may send, with any method.
const WRITE_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "x-request-id",
];
/// How long a browser may keep a preflight's answer (browsers cap it lower).
const MAX_AGE: &str = "86400";

/// The origins that may write, and the paths the API serves.
pub struct Cors {
    write_origins: Vec<HeaderValue>,
    routes: web::Data<RouteTable>,
}

/// What goes on the answer to a request that is not a preflight.
enum Grant {
    /// A public request: `*`.
    Anyone,
    /// A write or keyed request from a write origin: the origin itself.
    Origin(HeaderValue),
    /// Nothing: no origin, or one that may not make this request.
    Nothing,
}

impl Cors {
    pub fn new(write_origins: &[String], routes: web::Data<RouteTable>) -> Self {
        Self {
            write_origins: write_origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok())
                .collect(),
            routes,
        }
    }

    fn may_write(&self, origin: &HeaderValue) -> bool {
        self.write_origins.iter().any(|allowed| allowed == origin)
    }

    fn grant(&self, req: &ServiceRequest) -> Grant {
        let headers = req.headers();
        if is_public(req.method(), req.path()) && !headers.contains_key(header::AUTHORIZATION) {
            return Grant::Anyone;
        }
        match headers.get(header::ORIGIN) {
            Some(origin) if self.may_write(origin) => Grant::Origin(origin.clone()),
            _ => Grant::Nothing,
        }
    }

    /// The answer to a preflight, or `None` when the request is not one or
    /// its path is unknown (the 404 comes from the app).
    fn preflight(&self, req: &ServiceRequest) -> Option<HttpResponse> {
        let headers = req.headers();
        let origin = headers.get(header::ORIGIN)?;
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        let path = req.path();
        let allow = self.routes.allowed(path)?;
        let write_origin = self.may_write(origin);
        let method = requested.to_str().ok().filter(|method| {
            allow.split(", ").any(|m| m == *method && m != "OPTIONS")
                && (write_origin
                    || Method::from_bytes(method.as_bytes()).is_ok_and(|m| is_public(&m, path)))
        });
        let Some(method) = method else {
            return Some(refuse(format!(
                "pages from {} may not send {} requests to {path}",
                show(origin),
                show(requested)
            )));
        };
        let allowed_headers = if write_origin {
            WRITE_HEADERS
        } else if method == "POST" {
            BEACON_HEADERS
        } else {
            READ_HEADERS
        };
        let asked = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .flat_map(|line| line.to_str().unwrap_or("\u{0}").split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty());
        for name in asked {
            if !allowed_headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                return Some(refuse(format!(
                    "pages from {} may not send the header {} with {method} requests to {path}",
                    show(origin),
                    name.escape_debug()
                )));
            }
        }
        let mut response = HttpResponse::NoContent();
        if write_origin {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
                .insert_header((header::VARY, "Origin"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    allow.trim_end_matches(", OPTIONS"),
                ));
        } else {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_METHODS,
                    if method == "POST" {
                        "POST"
                    } else {
                        "GET, HEAD"
                    },
                ));
        }
        Some(
            response
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    allowed_headers.join(", "),
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, MAX_AGE))
                .finish(),
        )
    }
}

/// A refused preflight is a 403 problem, not a 204 without the allow
/// headers: the browser blocks the request either way and shows the page
/// nothing of the answer, but the developer looking at the network panel,
/// the operator reading the access log (403 against 204) and anyone trying
/// with curl see at once which origin, method or header was refused.
fn refuse(detail: String) -> HttpResponse {
    let response = AppError::Forbidden(detail).error_response();
    debug_assert_eq!(response.status(), StatusCode::FORBIDDEN);
    response
}

/// A header's value for a problem's detail, whatever bytes it holds.
fn show(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes())
        .escape_debug()
        .to_string()
}

/// Reads and the view beacon: what any page may do.
fn is_public(method: &Method, path: &str) -> bool {
    method == Method::GET
        || method == Method::HEAD
        || (method == Method::POST && crate::rate_limit::is_beacon(path))
}

fn stamp(headers: &mut HeaderMap, grant: Grant) {
    let origin = match grant {
        Grant::Nothing => return,
        Grant::Anyone => HeaderValue::from_static("*"),
        Grant::Origin(origin) => {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
            origin
        }
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED),
    );
}

/// The middleware: answers preflights, and grants what the request's
/// origin may read of every other answer.
pub fn cross_origin<S, B>(
    cors: &Cors,
    req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    if req.method() == Method::OPTIONS {
        if let Some(answer) = cors.preflight(&req) {
            return Either::Right(ready(Ok(req.into_response(answer).map_into_right_body())));
        }
    }
    let grant = cors.grant(&req);
    let response = service.call(req);
    Either::Left(async move {
        let mut response = response.await?;
        stamp(response.headers_mut(), grant);
        Ok(response.map_into_left_body())
    })
}
