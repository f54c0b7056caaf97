//! Broadsheet serves a news-curation publication's content as JSON: articles
//! with the editor's commentary, the excerpts they quote, their press
//! roundups, outlets, tags and popular-post rankings.
//!
//! Start at `routes`, which lists every route, and `app`, which wires them
//! with errors, logging and the API docs; each resource lives in its own module (`articles`, `excerpts`,
//! `roundups`, `outlets`, `tags`, `popularity`, `search`) holding its handlers,
//! queries and wire types. `site` loads whole sites (the demo content).
//! `editing` is what every editorial write shares: locking and `If-Match`,
//! merge patches, creates with `Idempotency-Key`, and positions. The edge
//! every request passes is `request_id`, `cors`, `compression` and
//! `rate_limit`, layered in `app::build`.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod app;
pub mod articles;
pub mod body;
pub mod cache;
pub mod changes;
pub mod citations;
pub mod client;
pub mod compression;
pub mod config;
pub mod cors;
pub mod db;
pub mod editing;
pub mod error;
pub mod excerpts;
pub mod feeds;
pub mod fields;
#[cfg(test)]
mod fuzzing;
pub mod headers;
pub mod health;
pub mod idempotency;
pub mod index;
pub mod keys;
pub mod markdown;
pub mod openapi;
pub mod outlets;
pub mod pagination;
pub mod params;
pub mod popularity;
pub mod rate_limit;
pub mod representation;
pub mod request_id;
pub mod revisions;
pub mod roundups;
pub mod routes;
pub mod schema;
pub mod search;
pub mod site;
pub mod stored_html;
pub mod tags;
pub mod tally;
pub mod transfer;
pub mod validate;
pub mod visibility;
pub mod webhooks;
