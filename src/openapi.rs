//! The OpenAPI document, generated from the handlers' annotations.
//!
//! `utoipa-actix-web` collects every operation registered with `.service(…)`
//! in `app::api`, so the document cannot list a route the server lacks, nor
//! miss one it has.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{InvalidInput, Problem};

/// The document's fixed parts; paths and schemas are collected from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Broadsheet",
        description = "A headless JSON content API for news-curation publications: articles with the \
editor's commentary, excerpts quoted from source articles, press roundups, outlets, tags and \
popular-post rankings.\n\nEvery error is an RFC 9457 problem (`application/problem+json`). Lists \
are keyset-paged: follow `next_cursor` (or the `Link: rel=\"next\"` header) until it is null. \
Drafts and articles scheduled for the future never appear, nor do their excerpts, links or counts.\n\n\
Reads and the view beacon need no key. Writes need an API key (`Authorization: Bearer <key>`); the \
operations that take one are marked with the `api_key` scheme. A read sent with a key also shows \
drafts and scheduled posts, answered `Cache-Control: private, no-store`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, InvalidInput)),
    modifiers(&BearerKeys),
    tags(
        (name = "articles", description = "Posts: the editor's commentary with excerpts and roundups"),
        (name = "excerpts", description = "Passages quoted from source articles"),
        (name = "roundups", description = "Press roundups and their links"),
        (name = "outlets", description = "The publications that excerpts and links cite"),
        (name = "tags", description = "Labels on articles"),
        (name = "rankings", description = "Popular articles by views"),
        (name = "feeds", description = "Atom, RSS and JSON Feed of the published articles, whole posts in each entry"),
        (name = "health", description = "Probes for orchestrators"),
    ),
)]
pub struct ApiDoc;

/// Declares the `api_key` scheme: `Authorization: Bearer <key>`, keys made by
/// `broadsheet keys create`.
struct BearerKeys;

impl Modify for BearerKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key made with `broadsheet keys create --name NAME --role editor|admin`. \
Writes need one; reads stay public, and with a key also show drafts and scheduled posts.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The complete document, built from the routes without starting a server.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, document) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::app::api)
        .split_for_parts();
    document
}

/// The document as the server serves it and as `openapi/openapi.json` keeps it.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
