//! OpenAPI links (3.1 § 4.8.20): from what a write answers to the operations
//! that can act on it next, naming the values to carry over (the new slug or
//! id, and the `ETag` that `If-Match` needs).
//!
//! They let a client, or a stateful fuzzer such as schemathesis, chain calls
//! the way an editor does: create an article, read it, patch it with the
//! `ETag` the create returned, add an excerpt to it. Declared on the assembled
//! document, by operation id, so the handlers' annotations stay about one
//! operation each.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi, RefOr};
use utoipa::Modify;

/// Where a link's values come from in the response it starts at.
const SLUG: &str = "$response.body#/slug";
const ID: &str = "$response.body#/id";
const ETAG: &str = "$response.header.ETag";

/// A link: its name, the operation it leads to, and its (parameter, value) pairs.
type Target = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// What an article's answer leads to; the create and every change answer one.
const ARTICLE: &[Target] = &[
    ("FindArticle", "find_article", &[("path.slug", SLUG)]),
    (
        "UpdateArticle",
        "update_article",
        &[("path.slug", SLUG), ("header.If-Match", ETAG)],
    ),
    (
        "DeleteArticle",
        "delete_article",
        &[("path.slug", SLUG), ("header.If-Match", ETAG)],
    ),
    ("CreateExcerpt", "create_excerpt", &[("path.slug", SLUG)]),
    ("CreateRoundup", "create_roundup", &[("path.slug", SLUG)]),
    ("ListRevisions", "list_revisions", &[("path.slug", SLUG)]),
    ("ArticleStats", "article_stats", &[("path.slug", SLUG)]),
];

const EXCERPT: &[Target] = &[
    ("FindExcerpt", "find_excerpt", &[("path.id", ID)]),
    (
        "UpdateExcerpt",
        "update_excerpt",
        &[("path.id", ID), ("header.If-Match", ETAG)],
    ),
    (
        "DeleteExcerpt",
        "delete_excerpt",
        &[("path.id", ID), ("header.If-Match", ETAG)],
    ),
];

const ROUNDUP: &[Target] = &[
    ("FindRoundup", "find_roundup", &[("path.id", ID)]),
    (
        "UpdateRoundup",
        "update_roundup",
        &[("path.id", ID), ("header.If-Match", ETAG)],
    ),
    (
        "DeleteRoundup",
        "delete_roundup",
        &[("path.id", ID), ("header.If-Match", ETAG)],
    ),
    ("CreateLink", "create_link", &[("path.id", ID)]),
];

const LINK: &[Target] = &[
    ("FindRoundupLink", "find_roundup_link", &[("path.id", ID)]),
    (
        "UpdateLink",
        "update_link",
        &[("path.id", ID), ("header.If-Match", ETAG)],
    ),
    (
        "DeleteLink",
        "delete_link",
        &[("path.id", ID), ("header.If-Match", ETAG)],
    ),
];

const OUTLET: &[Target] = &[
    ("FindOutlet", "find_outlet", &[("path.slug", SLUG)]),
    (
        "UpdateOutlet",
        "update_outlet",
        &[("path.slug", SLUG), ("header.If-Match", ETAG)],
    ),
    (
        "DeleteOutlet",
        "delete_outlet",
        &[("path.slug", SLUG), ("header.If-Match", ETAG)],
    ),
];

/// Each operation whose success answers a resource, with that answer's status
/// and where it leads.
const SOURCES: [(&str, &str, &[Target]); 12] = [
    ("create_article", "201", ARTICLE),
    ("update_article", "200", ARTICLE),
    ("restore_revision", "200", ARTICLE),
    ("order_excerpts", "200", ARTICLE),
    ("order_roundups", "200", ARTICLE),
    ("create_excerpt", "201", EXCERPT),
    ("update_excerpt", "200", EXCERPT),
    ("create_roundup", "201", ROUNDUP),
    ("update_roundup", "200", ROUNDUP),
    ("create_link", "201", LINK),
    ("update_link", "200", LINK),
    ("create_outlet", "201", OUTLET),
];

/// Adds the links to the responses of `SOURCES`.
pub struct Links;

impl Modify for Links {
    fn modify(&self, openapi: &mut OpenApi) {
        let operations = openapi.paths.paths.values_mut().flat_map(super::operations);
        for operation in operations {
            let id = operation.operation_id.clone().unwrap_or_default();
            let Some((_, status, targets)) = SOURCES.iter().find(|(source, ..)| *source == id)
            else {
                continue;
            };
            let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status) else {
                continue;
            };
            for (name, target, parameters) in *targets {
                let link = parameters
                    .iter()
                    .fold(
                        LinkBuilder::new().operation_id(*target),
                        |link, (name, value)| link.parameter(*name, *value),
                    )
                    .build();
                response.links.insert((*name).into(), link.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use utoipa::openapi::path::{Parameter, ParameterIn};

    use super::*;

    /// Every link starts at an operation the document has and leads to one,
    /// with parameters it takes: a renamed operation or parameter would
    /// otherwise lose its links silently.
    #[test]
    fn links_lead_to_existing_operations_and_parameters() {
        let document = crate::openapi::document();
        let shared = document
            .components
            .as_ref()
            .map(|components| components.parameters.clone())
            .unwrap_or_default();
        // A shared parameter (`If-Match`, …) is a reference to its component.
        let resolve = |parameter: &RefOr<Parameter>| match parameter {
            RefOr::T(parameter) => Some(parameter.clone()),
            RefOr::Ref(reference) => {
                let name = reference.ref_location.rsplit('/').next()?;
                match shared.get(name)? {
                    RefOr::T(parameter) => Some(parameter.clone()),
                    RefOr::Ref(_) => None,
                }
            }
        };
        let mut parameters = BTreeMap::new();
        for (path, item) in &document.paths.paths {
            let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
            for operation in operations.into_iter().flatten() {
                let names: BTreeSet<String> = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(resolve)
                    .map(|parameter| {
                        let location = match parameter.parameter_in {
                            ParameterIn::Path => "path",
                            ParameterIn::Query => "query",
                            ParameterIn::Header => "header",
                            ParameterIn::Cookie => "cookie",
                            ParameterIn::QueryString => "querystring",
                        };
                        format!("{location}.{}", parameter.name)
                    })
                    .collect();
                let id = operation.operation_id.clone().unwrap_or_default();
                parameters.insert(id, (path.clone(), names));
            }
        }
        for (source, _, targets) in SOURCES {
            assert!(parameters.contains_key(source), "no operation {source}");
            for (name, target, pairs) in targets {
                let (path, names) = parameters
                    .get(*target)
                    .unwrap_or_else(|| panic!("{name}: no operation {target}"));
                for (parameter, _) in *pairs {
                    assert!(
                        names.contains(*parameter),
                        "{name}: {target} ({path}) takes no {parameter}"
                    );
                }
            }
        }
    }
}
