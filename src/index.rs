//! The front door: `GET /` names the API's entry points, so that someone who
//! only knows the host (a newcomer with curl, a generated client's first call)
//! can find the rest by following links.
//!
//! The index is fixed for a build, so its `ETag` changes only with a new
//! version, and a client that keeps it gets 304s.

use actix_web::http::StatusCode;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{responses, AppError};
use crate::representation::{Audience, Representation};

/// What the API is and where its parts are.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiIndex {
    #[schema(example = "Broadsheet")]
    pub name: &'static str,
    /// The version of the server answering.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    pub description: &'static str,
    /// The interactive reference (Swagger UI; works offline).
    #[schema(example = "/docs/")]
    pub docs_url: &'static str,
    /// The OpenAPI 3.1 document this server implements.
    #[schema(example = "/openapi.json")]
    pub openapi_url: &'static str,
    /// Each collection and probe, by name.
    pub links: Vec<IndexLink>,
}

/// One entry point of the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexLink {
    /// What the link leads to.
    #[schema(example = "articles")]
    pub rel: &'static str,
    #[schema(example = "/v1/articles")]
    pub href: &'static str,
    #[schema(example = "Published articles, newest first")]
    pub title: &'static str,
}

#[rustfmt::skip]
const LINKS: [(&str, &str, &str); 14] = [
    ("articles", "/v1/articles", "Published articles, newest first"),
    ("excerpts", "/v1/excerpts", "Passages quoted from source articles"),
    ("roundup-links", "/v1/roundup-links", "Press links of the roundups"),
    ("outlets", "/v1/outlets", "The publications that excerpts and links cite"),
    ("tags", "/v1/tags", "Tags with their published-article counts"),
    ("popular", "/v1/rankings/popular", "Most viewed articles"),
    ("trending", "/v1/rankings/trending", "Articles gaining views fastest"),
    ("search", "/v1/search", "Full-text search over published articles (`?q=`)"),
    ("feed-atom", "/v1/feeds/atom", "Published articles as an Atom feed, whole posts"),
    ("feed-rss", "/v1/feeds/rss", "Published articles as an RSS feed, whole posts"),
    ("feed-json", "/v1/feeds/json", "Published articles as a JSON Feed, whole posts"),
    ("health", "/healthz", "Liveness probe"),
    ("ready", "/readyz", "Readiness probe: database reachable and migrated"),
    ("openapi", "/openapi.json", "The OpenAPI document"),
];

/// The index takes no parameters; like the lists, it refuses unknown ones
/// rather than ignore a typo.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParameters {}

impl ApiIndex {
    pub fn new() -> Self {
        Self {
            name: "Broadsheet",
            version: env!("CARGO_PKG_VERSION"),
            description: env!("CARGO_PKG_DESCRIPTION"),
            docs_url: "/docs/",
            openapi_url: "/openapi.json",
            links: LINKS
                .iter()
                .map(|&(rel, href, title)| IndexLink { rel, href, title })
                .collect(),
        }
    }
}

impl Default for ApiIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// Show the API index
///
/// The API's entry points with links to its reference (`/docs/`) and its
/// OpenAPI document.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The entry points of the API", body = ApiIndex,
            headers(("ETag" = String, description = "Strong entity tag of the index"))),
        (status = 304, description = "The `If-None-Match` tag is current"),
        responses::BadRequest,
    ),
    security(()),
)]
#[get("/")]
pub async fn show_index(
    req: HttpRequest,
    _: web::Query<NoParameters>,
) -> Result<HttpResponse, AppError> {
    Ok(Representation::of(&ApiIndex::new())?.respond(&req, StatusCode::OK, Audience::Public))
}
