//! Headers every response carries, and those of the API reference at
//! `/docs/`. Every response says `X-Content-Type-Options: nosniff`, so that
//! no browser reads a JSON or problem body as something else. The reference
//! page (Swagger UI, served from the binary) may run only its own scripts
//! and styles and connect only to this server, may not be framed, and sends
//! no referrer; a file it does not have is a 404 problem like every other.
//!
//! One middleware around the whole app does both, with no allocation
//! outside `/docs`: one layer less on every request than actix-web's
//! `DefaultHeaders` beside a wrap for the reference.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::ResponseError;
use futures_util::future::{Either, FutureExt, LocalBoxFuture};

use crate::error::AppError;

/// No handler sets it, so it is inserted without looking first.
fn nosniff<B>(mut response: ServiceResponse<B>) -> ServiceResponse<B> {
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// What the reference page may load: Swagger UI's own files, its inline
/// styles (React sets some) and data: images (its icons), and the OpenAPI
/// document, all from this server; nothing else, and no one may frame it.
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn is_docs(path: &str) -> bool {
    path.strip_prefix("/docs")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `X-Content-Type-Options: nosniff` on every response; the reference's
/// headers on everything under `/docs`, and its bare 404s (a file Swagger
/// UI does not have) made problem details.
#[expect(
    clippy::type_complexity,
    reason = "the future type of a wrap_fn middleware, spelled out once"
)]
pub fn every_response<S, B>(
    req: ServiceRequest,
    service: &S,
) -> Either<
    futures_util::future::Map<
        S::Future,
        fn(
            Result<ServiceResponse<B>, actix_web::Error>,
        ) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error>,
    >,
    LocalBoxFuture<'static, Result<ServiceResponse<EitherBody<B>>, actix_web::Error>>,
>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: MessageBody + 'static,
{
    if !is_docs(req.path()) {
        let left: fn(_) -> _ = |result: Result<ServiceResponse<B>, _>| {
            result.map(|response| nosniff(response).map_into_left_body())
        };
        return Either::Left(service.call(req).map(left));
    }
    let path = req.path().to_string();
    let response = service.call(req);
    Either::Right(Box::pin(async move {
        let response = response.await?;
        let bare_404 = response.status() == StatusCode::NOT_FOUND
            && !response.headers().contains_key(header::CONTENT_TYPE);
        let mut response = nosniff(if bare_404 {
            let problem = AppError::NotFound(format!("no resource at {path}")).error_response();
            response.into_response(problem).map_into_right_body()
        } else {
            response.map_into_left_body()
        });
        let headers = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_SECURITY_POLICY, DOCS_POLICY),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        Ok(response)
    }))
}

#[cfg(test)]
mod tests {
    use super::is_docs;

    #[test]
    fn only_the_docs_and_what_is_under_them_are_the_docs() {
        for path in ["/docs", "/docs/", "/docs/swagger-ui.css", "/docs/a/b"] {
            assert!(is_docs(path), "{path}");
        }
        for path in ["/", "/docsx", "/v1/docs", "/openapi.json"] {
            assert!(!is_docs(path), "{path}");
        }
    }
}
