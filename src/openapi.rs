//! The OpenAPI document, generated from the handlers' annotations.
//!
//! `utoipa-actix-web` collects every operation registered with `.service(…)`
//! in `app::api`, so the document cannot list a route the server lacks, nor
//! miss one it has.

use actix_web::App;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{Components, Object, Ref, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{RefOr, Required};
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
drafts and scheduled posts, answered `Cache-Control: private, no-store`.\n\n\
Public reads are cacheable: each sends a strong `ETag`, `Cache-Control` for browsers and shared \
caches, `Surrogate-Key` naming what it shows (purge keys such as `article-17`), and mostly \
`Last-Modified`; `If-None-Match` (or, without it, `If-Modified-Since`) gets a 304 without a body. \
Lists and single resources take `fields=a,b` to keep only those members.",
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

/// Documents HTTP caching on every public read, in one place rather than on
/// each of them: the validators and cache headers its 200 sends, the 304
/// it answers, and the conditional request headers that get one. Runs on
/// the assembled document (the operations are collected from the routes
/// after `ApiDoc`'s own modifiers run).
pub struct Caching;

/// Public GETs that caches must not keep: probes report on this instance now.
const PROBES: [&str; 2] = ["check_health", "check_readiness"];
/// Public GETs that send no `Last-Modified`: what they show changes without
/// a revision stamp (view counts) or only with a new version (the index).
const WITHOUT_LAST_MODIFIED: [&str; 2] = ["article_stats", "show_index"];

impl Modify for Caching {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut used = false;
        for item in openapi.paths.paths.values_mut() {
            let Some(operation) = item.get.as_mut() else {
                continue;
            };
            let public = operation
                .security
                .as_ref()
                .is_some_and(|options| options.contains(&SecurityRequirement::default()));
            let id = operation.operation_id.as_deref().unwrap_or_default();
            if !public || PROBES.contains(&id) {
                continue;
            }
            document_caching(operation, !WITHOUT_LAST_MODIFIED.contains(&id));
            used = true;
        }
        if used {
            declare_components(openapi.components.get_or_insert_with(Default::default));
        }
    }
}

/// The headers every cacheable answer may send, by name, with what they say.
const HEADERS: [(&str, &str); 4] = [
    (
        "ETag",
        "Strong entity tag of this representation: send it back in `If-None-Match`",
    ),
    (
        "Cache-Control",
        "`public, max-age=…, s-maxage=…, stale-while-revalidate=…, stale-if-error=86400`; \
`private, no-store` for a request with an API key",
    ),
    (
        "Last-Modified",
        "When anything this representation shows last changed (for a list page, also when an \
item last left it)",
    ),
    (
        "Surrogate-Key",
        "Space-separated purge keys of what it shows (`article-17`, `outlet-3`, `tag-5`, \
`excerpt-40`, `roundup-8`, `link-21`, and list names such as `articles`); absent for a \
request with an API key",
    ),
];

/// The conditional request headers, as the names of their components.
const CONDITIONS: [(&str, &str, &str); 2] = [
    (
        "IfNoneMatch",
        "If-None-Match",
        "`ETag`s of copies the client holds (`*`, weak forms and `-gzip`/`-br`/`-zstd` encoded \
forms match too): 304 when one is current",
    ),
    (
        "IfModifiedSince",
        "If-Modified-Since",
        "An HTTP date, ignored when `If-None-Match` is sent: 304 when nothing shown changed since",
    ),
];

fn component(kind: &str, name: &str) -> Ref {
    Ref::new(format!("#/components/{kind}/{name}"))
}

/// Declares the shared headers and parameters once.
fn declare_components(components: &mut Components) {
    for (name, description) in HEADERS {
        let header = HeaderBuilder::new()
            .schema(Some(Object::with_type(Type::String)))
            .description(Some(description))
            .build();
        components.headers.insert(name.into(), header.into());
    }
    for (id, name, description) in CONDITIONS {
        let parameter = ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(Object::with_type(Type::String)))
            .build();
        components.parameters.insert(id.into(), parameter.into());
    }
}

fn document_caching(operation: &mut Operation, dated: bool) {
    if let Some(RefOr::T(ok)) = operation.responses.responses.get_mut("200") {
        for (name, _) in HEADERS {
            if dated || name != "Last-Modified" {
                ok.headers
                    .insert(name.into(), RefOr::Ref(component("headers", name)));
            }
        }
    }
    // Inline, for its description to read on the operation itself.
    let mut not_modified = ResponseBuilder::new().description(if dated {
        "Not modified: `If-None-Match` names the current `ETag` or, without it, nothing shown \
changed since `If-Modified-Since`. No body."
    } else {
        "Not modified: `If-None-Match` names the current `ETag`. No body."
    });
    for (name, _) in HEADERS {
        if name != "Surrogate-Key" && (dated || name != "Last-Modified") {
            not_modified = not_modified.header_ref(name, component("headers", name));
        }
    }
    operation
        .responses
        .responses
        .insert("304".into(), not_modified.build().into());
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    for (id, _, _) in CONDITIONS {
        if dated || id != "IfModifiedSince" {
            parameters.push(RefOr::Ref(component("parameters", id)));
        }
    }
}

/// The complete document, built from the routes without starting a server.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, document) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::app::api)
        .split_for_parts();
    complete(document)
}

/// Adds to the operations collected from the routes what they share.
pub fn complete(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    Caching.modify(&mut document);
    document
}

/// The document as the server serves it and as `openapi/openapi.json` keeps it.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
