//! The view beacon: `POST /v1/articles/{slug}/views`, fired on every page view.

use actix_web::dev::{AppService, HttpServiceFactory, Payload};
use actix_web::http::{header, Method};
use actix_web::{guard, web, HttpRequest, HttpResponse};
use chrono::Utc;
use utoipa_actix_web::OpenApiFactory;

use crate::body::{self, BodyLimits};
use crate::error::{responses, AppError, Problem};

/// The beacon's route. actix-web matches a pattern with a parameter, such as
/// `/v1/articles/{slug}/views`, by running a regex with captures over the
/// path, the largest part of routing a beacon (some 2,700 of the 36,000
/// instructions a counted view costs the server). The beacon is instead a
/// scope on the literal prefix `/v1/articles` that only a `POST` to
/// `…/{slug}/views` enters, every other request going on to the routes after
/// it, and its handler reads the slug from the path.
pub struct Beacon;

impl HttpServiceFactory for Beacon {
    fn register(self, config: &mut AppService) {
        web::scope("/v1/articles")
            .guard(guard::fn_guard(|ctx| {
                ctx.head().method == Method::POST && viewed_slug(ctx.head().uri.path()).is_some()
            }))
            .default_service(web::to(record_view))
            .register(config);
    }
}

impl OpenApiFactory for Beacon {
    fn paths(&self) -> utoipa::openapi::path::Paths {
        __path_record_view.paths()
    }

    fn schemas(
        &self,
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        __path_record_view.schemas(schemas);
    }
}

/// The `{slug}` of `/v1/articles/{slug}/views`, any one segment.
fn viewed_slug(path: &str) -> Option<&str> {
    let slug = path.strip_prefix("/v1/articles/")?.strip_suffix("/views")?;
    (!slug.is_empty() && !slug.contains('/')).then_some(slug)
}

/// Record a view
///
/// The beacon a page fires on every view (`navigator.sendBeacon` works: an
/// empty, `text/plain` or JSON body is accepted and ignored, JSON may carry a
/// `referrer`). Answers 202 at once; the view is written with others in the
/// next batch. What counts: not requests whose `User-Agent` is a known bot or
/// crawler (read with any byte that is not UTF-8 replaced), and one view per
/// visitor per article per 30 minutes. A visitor is a keyed hash of client
/// address and user agent whose key lives only in memory and changes daily:
/// nothing personal is stored. One client address (an IPv6 client's /64)
/// brings at most 8 visitors (configurable) to an article per 30 minutes,
/// however many user agents it sends. Unknown, draft and scheduled slugs
/// answer 404 and count nothing.
#[utoipa::path(
    post,
    path = "/v1/articles/{slug}/views",
    tag = "rankings",
    params(("slug" = String, Path, description = "The viewed article's slug")),
    request_body(content = Option<String>, description = "Ignored: empty, text/plain or JSON `{\"referrer\": …}`, at most 4096 bytes", content_type = "text/plain"),
    responses(
        (status = 202, description = "Accepted (whether or not it counted)"),
        responses::NotFound,
        (status = 408, description = "The body did not arrive in time", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than 4096 bytes", body = Problem,
            content_type = "application/problem+json"),
        responses::Unavailable,
    ),
    security(()),
)]
pub async fn record_view(
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    // Fired on every page view: the slug and the shared state are read from
    // the request as they are, not through extractors that copy them.
    let (engine, pool) = super::shared(&req)?;
    discard(&req, payload).await?;
    let slug = viewed_slug(req.path()).unwrap_or_default();
    let now = Utc::now();
    let article = engine
        .directory
        .public_id(pool, slug, now)
        .await?
        .ok_or_else(|| AppError::not_found("published article", slug.escape_default()))?;
    // Hashed as the bytes it is; read as text only for the bot patterns.
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    // A repeat counts nothing whoever sends it, so bots and the per-address
    // cap are looked at on first views only. Bytes that are not UTF-8 are
    // read as U+FFFD, so a bot's name stays readable around them (borrowed,
    // not copied, when the agent is valid text).
    let address = engine.visitors.client_address(&req);
    if engine
        .visitors
        .first_view(address, user_agent, article, now)
        && !engine.bots.is_bot(&String::from_utf8_lossy(user_agent))
        && engine.visitors.admit(address, article)
    {
        engine.counter.add(article, now);
    }
    Ok(HttpResponse::Accepted().finish())
}

/// The most a beacon's body may hold; it is ignored, so it need not be large.
pub const MAX_BODY: usize = 4096;

/// Reads the body to its end and drops it: a request whose body is left
/// unread closes its connection, and the page's next beacon would pay for a
/// new one. Bounded in size and time like every body; an empty one, what
/// most beacons send, costs nothing.
async fn discard(req: &HttpRequest, payload: web::Payload) -> Result<(), AppError> {
    match payload.into_inner() {
        Payload::None => Ok(()),
        payload => {
            let limits = BodyLimits {
                max_bytes: MAX_BODY,
                ..body::limits(req)
            };
            body::collect(req, payload, limits).await.map(drop)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::viewed_slug;

    #[test]
    fn only_one_segment_between_articles_and_views_is_a_slug() {
        assert_eq!(viewed_slug("/v1/articles/a-b/views"), Some("a-b"));
        for other in [
            "/v1/articles/views",
            "/v1/articles//views",
            "/v1/articles/a/b/views",
            "/v1/articles/a/views/",
            "/v1/articles/a/stats",
            "/v2/articles/a/views",
        ] {
            assert_eq!(viewed_slug(other), None, "{other}");
        }
    }
}

#[cfg(test)]
mod fuzz {
    use actix_web::http::{header, StatusCode};
    use actix_web::test::TestRequest;
    use actix_web::{FromRequest, ResponseError};
    use proptest::prelude::*;

    use super::{discard, viewed_slug, MAX_BODY};
    use crate::fuzzing::{config, hostile_text};

    proptest! {
        #![proptest_config(config(128))]

        /// The beacon's path: one segment or none, never a panic; the slug
        /// found is the one segment that the path is made from.
        #[test]
        fn fuzz_a_beacon_path_names_one_segment(
            path in prop_oneof![
                hostile_text().prop_map(|slug| format!("/v1/articles/{slug}/views")),
                hostile_text(),
            ],
        ) {
            if let Some(slug) = viewed_slug(&path) {
                prop_assert!(!slug.is_empty() && !slug.contains('/'));
                prop_assert_eq!(format!("/v1/articles/{slug}/views"), path);
            }
        }

        /// Any beacon body, under any content type and declared length, is
        /// read and dropped, or refused with 413 past 4096 bytes (announced
        /// or sent): never a panic, never anything else.
        #[test]
        fn fuzz_any_beacon_body_is_dropped_or_too_large(
            body in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64),
                hostile_text().prop_map(String::into_bytes),
                (0..3 * MAX_BODY).prop_map(|n| vec![b'x'; n]),
            ],
            content_type in hostile_text(),
            declared in proptest::option::of(prop_oneof![
                (0..3 * MAX_BODY).prop_map(|n| n.to_string()),
                hostile_text(),
            ]),
        ) {
            let mut request = TestRequest::post()
                .uri("/v1/articles/a/views")
                .set_payload(body.clone());
            if let Ok(value) = header::HeaderValue::from_str(&content_type) {
                request = request.insert_header((header::CONTENT_TYPE, value));
            }
            if let Some(value) = declared.and_then(|d| header::HeaderValue::from_str(&d).ok()) {
                request = request.insert_header((header::CONTENT_LENGTH, value));
            }
            let (req, mut payload) = request.to_http_parts();
            let announced = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            let dropped = actix_web::rt::System::new().block_on(async {
                let payload = actix_web::web::Payload::from_request(&req, &mut payload)
                    .await
                    .expect("a payload is always there to take");
                discard(&req, payload).await
            });
            let too_large = body.len() > MAX_BODY || announced.is_some_and(|n| n > MAX_BODY);
            match dropped {
                Ok(()) => prop_assert!(!too_large),
                Err(error) => {
                    prop_assert!(too_large);
                    prop_assert_eq!(error.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
                }
            }
        }
    }
}
