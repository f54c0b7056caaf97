//! The route index: every operation of the API, its method, path and
//! handler, in one list. The server (`app`) and the OpenAPI document
//! (`openapi`) both register from it, and a test holds each line's method
//! and path to what its handler's annotation publishes, so the index cannot
//! say one thing while the code does another.
//!
//! actix-web tries routes in the order they are registered, running the
//! pattern of each dynamic one (`/v1/articles/{slug}/…`) until one matches,
//! so the routes called on every page view come first: probes, the view
//! beacon and the rankings. No two patterns overlap, so order changes speed
//! only, never which handler answers.

use actix_web::dev::ResourceDef;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{
    articles, changes, excerpts, feeds, health, index, outlets, popularity, roundups, search, tags,
    webhooks,
};

/// One line of the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The handler as written in the index; its last segment is the
    /// operation id, but for the beacon, a service factory.
    pub handler: &'static str,
}

/// Writes `api` (the registrations) and `ROUTES` (the table) from one list.
macro_rules! index {
    ($($method:ident $path:literal => $handler:path,)*) => {
        /// Registers every operation, in the index's order.
        pub fn api(config: &mut ServiceConfig) {
            $(config.service($handler);)*
        }

        /// Every operation, in the order it is registered.
        pub const ROUTES: &[Route] = &[$(Route {
            method: stringify!($method),
            path: $path,
            handler: stringify!($handler),
        },)*];
    };
}

index! {
    // Probes: orchestrators call them every few seconds.
    GET "/healthz" => health::check_health,
    GET "/readyz" => health::check_readiness,

    // Popularity: the beacon fires on every page view, the widget reads a ranking.
    POST "/v1/articles/{slug}/views" => popularity::beacon::Beacon,
    GET "/v1/rankings/popular" => popularity::list_popular,
    GET "/v1/rankings/trending" => popularity::list_trending,
    GET "/v1/articles/{slug}/stats" => popularity::article_stats,

    // Articles.
    GET "/v1/articles" => articles::list_articles,
    GET "/v1/articles/{slug}" => articles::find_article,
    POST "/v1/articles" => articles::editor::create_article,
    PATCH "/v1/articles/{slug}" => articles::editor::update_article,
    DELETE "/v1/articles/{slug}" => articles::editor::delete_article,
    GET "/v1/articles/{slug}/revisions" => articles::editor::list_revisions,
    POST "/v1/articles/{slug}/revisions/{id}/restore" => articles::editor::restore_revision,
    DELETE "/v1/old-slugs/{slug}" => articles::editor::release_old_slug,

    // Excerpts.
    GET "/v1/excerpts" => excerpts::list_excerpts,
    GET "/v1/excerpts/{id}" => excerpts::find_excerpt,
    POST "/v1/articles/{slug}/excerpts" => excerpts::editor::create_excerpt,
    PATCH "/v1/excerpts/{id}" => excerpts::editor::update_excerpt,
    DELETE "/v1/excerpts/{id}" => excerpts::editor::delete_excerpt,
    PUT "/v1/articles/{slug}/excerpts/order" => excerpts::editor::order_excerpts,

    // Roundups and their links.
    GET "/v1/roundup-links" => roundups::list_roundup_links,
    GET "/v1/roundups/{id}" => roundups::find_roundup,
    GET "/v1/roundup-links/{id}" => roundups::find_roundup_link,
    POST "/v1/articles/{slug}/roundups" => roundups::editor::create_roundup,
    PATCH "/v1/roundups/{id}" => roundups::editor::update_roundup,
    DELETE "/v1/roundups/{id}" => roundups::editor::delete_roundup,
    PUT "/v1/articles/{slug}/roundups/order" => roundups::editor::order_roundups,
    POST "/v1/roundups/{id}/links" => roundups::editor::create_link,
    PATCH "/v1/roundup-links/{id}" => roundups::editor::update_link,
    DELETE "/v1/roundup-links/{id}" => roundups::editor::delete_link,
    PUT "/v1/roundups/{id}/links/order" => roundups::editor::order_links,

    // Outlets.
    GET "/v1/outlets" => outlets::list_outlets,
    GET "/v1/outlets/{slug}" => outlets::find_outlet,
    POST "/v1/outlets" => outlets::editor::create_outlet,
    PATCH "/v1/outlets/{slug}" => outlets::editor::update_outlet,
    DELETE "/v1/outlets/{slug}" => outlets::editor::delete_outlet,

    // The change log.
    GET "/v1/changes" => changes::list_changes,

    // Webhooks, delivered from the change log.
    GET "/v1/webhooks" => webhooks::list_webhooks,
    POST "/v1/webhooks" => webhooks::create_webhook,
    GET "/v1/webhooks/{id}" => webhooks::find_webhook,
    PATCH "/v1/webhooks/{id}" => webhooks::update_webhook,
    DELETE "/v1/webhooks/{id}" => webhooks::delete_webhook,
    GET "/v1/webhooks/{id}/deliveries" => webhooks::list_deliveries,
    POST "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver" => webhooks::redeliver,

    // Tags, search, feeds and the index.
    GET "/v1/tags" => tags::list_tags,
    GET "/v1/search" => search::search_articles,
    GET "/v1/feeds/atom" => feeds::atom_feed,
    GET "/v1/feeds/rss" => feeds::rss_feed,
    GET "/v1/feeds/json" => feeds::json_feed,
    GET "/" => index::show_index,
}

/// The paths the API serves and their methods, read from the OpenAPI
/// document, so that a known path with the wrong method gets 405 and `Allow`.
pub struct RouteTable(Vec<(ResourceDef, String)>);

impl RouteTable {
    pub(crate) fn from_document(document: &utoipa::openapi::OpenApi) -> Self {
        let mut routes: Vec<(ResourceDef, String)> = document
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, present)| present.then_some(name))
                .collect();
                (ResourceDef::new(path.as_str()), methods.join(", "))
            })
            .collect();
        for path in ["/openapi.json", "/docs"] {
            routes.push((ResourceDef::new(path), "GET, HEAD".into()));
        }
        Self(routes)
    }

    /// The methods `path` answers (`Allow`), or `None` for an unknown path.
    /// OPTIONS is not among them: a plain OPTIONS gets 405; only a CORS
    /// preflight, which browsers send whatever `Allow` says, is answered
    /// (`cors`), and listing OPTIONS would make the 405 contradict itself.
    pub(crate) fn allowed(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, allow)| allow.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// What the handlers registered publish: method, path and operation id.
    fn published() -> BTreeSet<(String, String, String)> {
        let document = crate::openapi::document();
        let mut operations = BTreeSet::new();
        for (path, item) in &document.paths.paths {
            for (method, operation) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ] {
                if let Some(operation) = operation {
                    let id = operation.operation_id.clone().unwrap_or_default();
                    operations.insert((method.to_string(), path.clone(), id));
                }
            }
        }
        operations
    }

    #[test]
    fn the_index_lists_exactly_what_the_handlers_publish() {
        let indexed: BTreeSet<(String, String, String)> = ROUTES
            .iter()
            .map(|route| {
                let name = route.handler.rsplit("::").next().unwrap_or_default().trim();
                let id = if name == "Beacon" {
                    "record_view"
                } else {
                    name
                };
                (route.method.into(), route.path.into(), id.into())
            })
            .collect();
        assert_eq!(indexed, published());
        assert_eq!(indexed.len(), ROUTES.len(), "a route is listed twice");
    }
}
