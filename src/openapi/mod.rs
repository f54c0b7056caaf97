//! The OpenAPI document, generated from the handlers' annotations.
//!
//! `utoipa-actix-web` collects every operation registered with `.service(…)`
//! in `routes::api`, the list the server registers too, so the document
//! cannot list a route the server lacks, nor miss one it has.

mod links;

use std::collections::BTreeSet;

use actix_web::App;
use serde_json::Value;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AnyOfBuilder, Components, KnownFormat, Object, ObjectBuilder, Ref, Schema, SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{RefOr, Required};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::articles::queries::StatusFilter;
use crate::articles::Include;
use crate::error::{responses, InvalidInput, Problem};
use crate::search::MAX_QUERY_CHARS;
use crate::validate::{SLUG_MAX, SLUG_PATTERN};

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
Every response carries `X-Request-Id`: the client's own when it sent one of 1 to 128 characters \
from `A-Z a-z 0-9 . _ : @ / + = -`, otherwise a new one of 32 hex digits. The server's access log \
prints it, so quote it when reporting a failure.\n\n\
Each client address (an IPv6 client's /64) has three budgets a minute: reads (GET and HEAD, 1200 by \
default), view beacons (120) and other requests (120); the probes `/healthz` and `/readyz` are not \
counted. Every counted response says where the client stands, in the headers of \
draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: \"reads\";q=1200;w=60` and \
`RateLimit: \"reads\";r=1199;t=1` (`r` requests left, `t` seconds until the budget is whole \
again). Over a budget, the answer is a 429 problem with `Retry-After`.\n\n\
Responses of 1 KiB or more are compressed as `Accept-Encoding` asks (`br`, `zstd` or `gzip`; \
`Vary: Accept-Encoding`); a compressed response's strong `ETag` carries the coding as a suffix \
(`\"X\"` becomes `\"X-gzip\"`), and `If-None-Match` and `If-Match` accept either form.\n\n\
Browsers on other origins may make every read and send the view beacon \
(`Access-Control-Allow-Origin: *`); writes and requests with `Authorization` only from the \
origins the server is configured with. CORS preflights (`OPTIONS` with `Origin` and \
`Access-Control-Request-Method`) are answered on every path the API serves: 204 with the \
`Access-Control-Allow-*` headers, or 403 with a problem naming what the origin may not send; a \
plain `OPTIONS` is a 405.\n\n\
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
        (name = "search", description = "Full-text search over published articles and their excerpts"),
        (name = "feeds", description = "Atom, RSS and JSON Feed of the published articles, whole posts in each entry"),
        (name = "changes", description = "The change log: every create, update, publication and deletion, in commit order, for mirrors to sync from"),
        (name = "webhooks", description = "Signed deliveries of the change log to subscribed URLs, in order, at least once (admins)"),
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
const HEADERS: [(&str, &str); 5] = [
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
    (
        "Cache-Status",
        "How this instance's response cache answered (RFC 9211), on the reads it holds (articles, \
lists, search, feeds, excerpts, roundups, links, outlets, tags): `broadsheet; hit`, `broadsheet; \
fwd=miss; stored`, `broadsheet; fwd=bypass` for a request with an API key, or `broadsheet; \
fwd=stale; fwd-status=503` for a held answer served while the database fails",
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

/// The complete document, built from the routes without starting a server,
/// with the server at `/` (relative to where the document is read).
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, document) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::api)
        .split_for_parts();
    complete(document, None)
}

/// What applies to every operation, added once the routes have put their
/// operations in (a `Modify` on `ApiDoc` runs before they are there): the
/// exact parameters (`Contract`), caching, and the 429 of the rate limits
/// (`rate_limit`) on every operation but the probes, which are never
/// limited. The server is `public_url` when one is configured, otherwise
/// `/`, which clients resolve against the document's own URL.
pub fn complete(
    mut document: utoipa::openapi::OpenApi,
    public_url: Option<&str>,
) -> utoipa::openapi::OpenApi {
    use utoipa::IntoResponses;
    document.servers = Some(vec![Server::new(public_url.unwrap_or("/"))]);
    Contract.modify(&mut document);
    Caching.modify(&mut document);
    links::Links.modify(&mut document);
    let too_many = responses::TooManyRequests::responses();
    for (path, item) in document.paths.paths.iter_mut() {
        if path == "/healthz" || path == "/readyz" {
            continue;
        }
        for operation in operations(item) {
            for (status, response) in &too_many {
                operation
                    .responses
                    .responses
                    .entry(status.clone())
                    .or_insert_with(|| response.clone());
            }
        }
    }
    drop_unused_schemas(&mut document);
    document
}

/// The operations of a path, whatever their methods.
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// The document as `openapi/openapi.json` keeps it.
pub fn document_json() -> String {
    to_json(&document())
}

/// A document as it is served and checked in: pretty JSON, one final newline.
pub fn to_json(document: &utoipa::openapi::OpenApi) -> String {
    let mut json = document.to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// Removes the schema components nothing refers to: a generic page such as
/// `Page<Tag>` writes its item type out in place, which leaves that type
/// declared but unused.
fn drop_unused_schemas(document: &mut utoipa::openapi::OpenApi) {
    let Some(components) = document.components.as_mut() else {
        return;
    };
    loop {
        let schemas = std::mem::take(&mut components.schemas);
        let mut text = serde_json::to_string(&document.paths).unwrap_or_default();
        text.push_str(&serde_json::to_string(&*components).unwrap_or_default());
        text.push_str(&serde_json::to_string(&schemas).unwrap_or_default());
        let before = schemas.len();
        components.schemas = schemas
            .into_iter()
            .filter(|(name, _)| text.contains(&format!("\"#/components/schemas/{name}\"")))
            .collect();
        if components.schemas.len() == before {
            return;
        }
    }
}

/// States on every parameter what the server enforces, from the constants
/// it enforces them with, so that a request the document allows is one the
/// server takes: slugs, ids and timestamps by shared schema components,
/// the request headers `If-Match` and `Idempotency-Key` as shared parameter
/// components on the operations that read them (those that can answer 412,
/// and the creates).
pub struct Contract;

/// The shared parameter schemas, by component name.
fn parameter_schemas() -> [(&'static str, Schema); 4] {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    [
        (
            "Slug",
            string()
                .description(Some(
                    "Lowercase letters and digits in runs separated by single hyphens",
                ))
                .pattern(Some(SLUG_PATTERN))
                .min_length(Some(1))
                .max_length(Some(SLUG_MAX))
                .examples(["secretary-clintons-message-to-pakistan"])
                .into(),
        ),
        (
            "Id",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(Some(1))
                .maximum(Some(i64::MAX))
                .into(),
        ),
        (
            "Timestamp",
            AnyOfBuilder::new()
                .description(Some(
                    "An RFC 3339 timestamp, or a date meaning its midnight UTC, in years 1 to 9999",
                ))
                .item(
                    string()
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                        .pattern(Some(YEARS_1_TO_9999)),
                )
                .item(
                    string()
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
                        .pattern(Some(YEARS_1_TO_9999)),
                )
                .into(),
        ),
        (
            "Cursor",
            string()
                .description(Some(
                    "The `next_cursor` of the previous page, as issued: URL-safe base64",
                ))
                .pattern(Some("^[A-Za-z0-9_-]+$"))
                .into(),
        ),
    ]
}

/// Year 0000 parses as RFC 3339 but is not stored (`validate::YEARS`).
const YEARS_1_TO_9999: &str = "^(?!0000)[0-9]{4}-";

/// The schema of a parameter, by where it is and its name; `None` keeps
/// the one its annotation gives (limits, `window`, `days` state theirs there).
fn contract(location: &ParameterIn, name: &str) -> Option<RefOr<Schema>> {
    let shared = |name: &str| Some(RefOr::Ref(Ref::from_schema_name(name)));
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let list = |names: &[&str]| {
        let one = format!("({})", names.join("|"));
        format!("^{one}(,{one})*$")
    };
    match (location, name) {
        (ParameterIn::Path, "slug") | (ParameterIn::Query, "tag" | "outlet" | "article") => {
            shared("Slug")
        }
        (ParameterIn::Path, "id") => shared("Id"),
        (ParameterIn::Query, "published_after" | "published_before") => shared("Timestamp"),
        (ParameterIn::Query, "cursor") => shared("Cursor"),
        (ParameterIn::Query, "status") => {
            Some(string().enum_values(Some(StatusFilter::NAMES)).into())
        }
        (ParameterIn::Query, "include") => {
            Some(string().pattern(Some(list(&Include::NAMES))).into())
        }
        (ParameterIn::Query, "q") => Some(
            string()
                .pattern(Some("^[^\\u0000]*\\S[^\\u0000]*$"))
                .min_length(Some(1))
                .max_length(Some(MAX_QUERY_CHARS))
                .into(),
        ),
        _ => None,
    }
}

/// `fields` of an operation: a comma-separated list of the members of what
/// its 200 answers, or of each item of its `data` for a list, found as
/// `fields::Fields` finds them (through references and `allOf`).
fn fields_of(schemas: &Value, operation: &Operation) -> Vec<String> {
    let answer = serde_json::to_value(&operation.responses.responses)
        .map(|responses| responses["200"]["content"]["application/json"]["schema"].clone())
        .unwrap_or_default();
    let resolve = |schema: &Value| match schema["$ref"].as_str() {
        Some(reference) => schemas[reference.rsplit('/').next().unwrap_or_default()].clone(),
        None => schema.clone(),
    };
    let whole = resolve(&answer);
    let items = &whole["properties"]["data"]["items"];
    let mut members = BTreeSet::new();
    let mut pending = vec![if items.is_null() {
        whole.clone()
    } else {
        resolve(items)
    }];
    // References among a type's own members are shallow; bound them anyway.
    for _ in 0..32 {
        let Some(schema) = pending.pop() else { break };
        if let Some(properties) = schema["properties"].as_object() {
            members.extend(properties.keys().cloned());
        }
        for part in schema["allOf"].as_array().into_iter().flatten() {
            pending.push(resolve(part));
        }
    }
    members.into_iter().collect()
}

fn fields_schema(members: &[String]) -> RefOr<Schema> {
    let one = format!("({})", members.join("|"));
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("Members to keep, separated by commas"))
        .pattern(Some(format!("^{one}(,{one})*$")))
        .into()
}

/// The example `FieldsQuery` gives (`slug,title`) fits articles, not every
/// resource that takes `fields`: elsewhere, its first two members.
fn keep_valid_example(parameter: &mut Parameter, members: &[String]) {
    let example = serde_json::to_value(&*parameter).unwrap_or_default()["example"].clone();
    let fits = example.as_str().is_some_and(|names| {
        names
            .split(',')
            .all(|name| members.iter().any(|member| member == name))
    });
    if !fits {
        let example = members
            .iter()
            .take(2)
            .cloned()
            .collect::<Vec<_>>()
            .join(",");
        *parameter = ParameterBuilder::from(parameter.clone())
            .example(Some(Value::from(example)))
            .build();
    }
}

/// The shared request headers: (component, header, description, schema).
fn request_headers() -> [(&'static str, &'static str, &'static str, Schema); 2] {
    [
        (
            "IfMatch",
            "If-Match",
            "The `ETag` this change was decided against: when it is no longer current, the \
change is refused with 412 instead of overwriting someone else's",
            ObjectBuilder::new().schema_type(Type::String).into(),
        ),
        (
            "IdempotencyKey",
            "Idempotency-Key",
            "1 to 255 visible ASCII characters: a retried create with the same key returns the \
first response instead of creating twice",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[!-~]+$"))
                .min_length(Some(1))
                .max_length(Some(255))
                .into(),
        ),
    ]
}

impl Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let schemas = serde_json::to_value(&openapi.components)
            .map(|components| components["schemas"].clone())
            .unwrap_or_default();
        for operation in openapi.paths.paths.values_mut().flat_map(operations) {
            let members = fields_of(&schemas, operation);
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter {
                    let schema = match (&parameter.parameter_in, parameter.name.as_str()) {
                        (ParameterIn::Query, "fields") => {
                            keep_valid_example(parameter, &members);
                            Some(fields_schema(&members))
                        }
                        (location, name) => contract(location, name),
                    };
                    if let Some(schema) = schema {
                        parameter.schema = Some(schema);
                    }
                }
            }
            let answers = |status: &str| operation.responses.responses.contains_key(status);
            let headers = [
                ("IfMatch", answers("412")),
                ("IdempotencyKey", answers("201")),
            ];
            for (id, read) in headers {
                if read {
                    let parameters = operation.parameters.get_or_insert_with(Vec::new);
                    parameters.push(RefOr::Ref(component("parameters", id)));
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in parameter_schemas() {
            components.schemas.insert(name.into(), schema.into());
        }
        for (id, name, description, schema) in request_headers() {
            let parameter = ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(description))
                .schema(Some(schema))
                .build();
            components.parameters.insert(id.into(), parameter.into());
        }
    }
}
