//! The change log: one event for each resource whose representation a write
//! changed, in commit order, written by the write's own transaction (the
//! `changes` migration keeps it, so every writer does). Mirrors sync from
//! `GET /v1/changes`, webhooks deliver from it, and other instances of the
//! server can follow it to learn what changed.

pub mod announcer;
pub mod queries;
pub mod seal;

use actix_web::http::{header, StatusCode};
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::DbPool;
use crate::error::{responses, AppError, InvalidInput};
use crate::keys::MaybeCaller;
use crate::params::{self, Checker};
use crate::representation::{Provenance, Representation};
use queries::ChangeRow;

/// What kind of resource changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Article,
    Excerpt,
    Roundup,
    RoundupLink,
    Outlet,
}

impl ResourceKind {
    /// As the log stores it.
    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "article" => Self::Article,
            "excerpt" => Self::Excerpt,
            "roundup" => Self::Roundup,
            "roundup_link" => Self::RoundupLink,
            "outlet" => Self::Outlet,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Article => "article",
            Self::Excerpt => "excerpt",
            Self::Roundup => "roundup",
            Self::RoundupLink => "roundup_link",
            Self::Outlet => "outlet",
        }
    }
}

/// What happened to it. `published` and `unpublished` are as the public sees
/// them: an article (or what it holds) becoming visible, or no longer, which
/// includes a scheduled post whose time came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Published,
    Unpublished,
    Renamed,
    Deleted,
}

impl Action {
    pub fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "published" => Self::Published,
            "unpublished" => Self::Unpublished,
            "renamed" => Self::Renamed,
            "deleted" => Self::Deleted,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Published => "published",
            Self::Unpublished => "unpublished",
            Self::Renamed => "renamed",
            Self::Deleted => "deleted",
        }
    }
}

/// Every event type, `kind.action`, as webhooks subscribe to them.
pub fn event_types() -> impl Iterator<Item = String> {
    use Action::*;
    use ResourceKind::*;
    [Article, Excerpt, Roundup, RoundupLink, Outlet]
        .into_iter()
        .flat_map(|kind| {
            [Created, Updated, Published, Unpublished, Renamed, Deleted]
                .into_iter()
                .map(move |action| format!("{}.{}", kind.as_str(), action.as_str()))
        })
}

/// One event of the change log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Change {
    /// The event's id: its position in commit order. Receivers of webhooks
    /// dedupe by it; pass the last one applied as `since`.
    #[schema(example = 42)]
    pub id: i64,
    /// `kind.action`.
    #[serde(rename = "type")]
    #[schema(example = "article.published")]
    pub event_type: String,
    pub kind: ResourceKind,
    pub action: Action,
    /// The resource's id.
    #[schema(example = 7)]
    pub resource_id: i64,
    /// An article's or outlet's slug after the change (before it, for a deletion).
    #[schema(example = "secretary-clintons-message-to-pakistan")]
    pub slug: Option<String>,
    /// The slug an article or outlet had before this change renamed it.
    pub previous_slug: Option<String>,
    /// The article an excerpt, roundup or press link belongs to, and an article's own id.
    #[schema(example = 7)]
    pub article_id: Option<i64>,
    /// True when the resource is gone for whoever reads the log: deleted, or
    /// (for the public) unpublished. A mirror removes it.
    pub tombstone: bool,
    /// Where its representation is now; absent for a tombstone.
    #[schema(example = "/v1/articles/secretary-clintons-message-to-pakistan")]
    pub url: Option<String>,
    /// The ETag of the public representation right after the change, when
    /// the API made it and the public can see the result: a mirror holding
    /// this tag already has this version.
    #[schema(example = "\"4f1c2a9e3b7d6058\"")]
    pub etag: Option<String>,
    /// When the change was committed.
    pub occurred_at: DateTime<Utc>,
}

impl Change {
    /// The event as `reader` may see it; `None` for an event the log holds
    /// in a shape no migration writes.
    pub fn of(row: ChangeRow, reader: Reader) -> Option<Self> {
        let kind = ResourceKind::parse(&row.kind)?;
        let action = Action::parse(row.action.as_deref()?)?;
        let visible = row.visible?;
        let tombstone = action == Action::Deleted || (reader == Reader::Public && !visible);
        // The public knows a resource by the slugs it saw: a post renamed
        // as it is published keeps its draft slug to the editors, and one
        // renamed as it is unpublished is buried under the slug the public
        // knew, not the one it now has out of sight.
        let (slug, previous_slug) = match (reader, action) {
            (Reader::Editor, _) | (Reader::Public, Action::Renamed) => {
                (row.slug, row.previous_slug)
            }
            (Reader::Public, Action::Unpublished) => (row.previous_slug.or(row.slug), None),
            (Reader::Public, _) => (row.slug, None),
        };
        let url = (!tombstone).then(|| match kind {
            ResourceKind::Article => format!("/v1/articles/{}", slug.as_deref().unwrap_or("")),
            ResourceKind::Excerpt => format!("/v1/excerpts/{}", row.resource_id),
            ResourceKind::Roundup => format!("/v1/roundups/{}", row.resource_id),
            ResourceKind::RoundupLink => format!("/v1/roundup-links/{}", row.resource_id),
            ResourceKind::Outlet => format!("/v1/outlets/{}", slug.as_deref().unwrap_or("")),
        });
        Some(Self {
            id: row.seq?,
            event_type: format!("{}.{}", kind.as_str(), action.as_str()),
            kind,
            action,
            resource_id: row.resource_id,
            slug,
            previous_slug,
            article_id: row.article_id,
            tombstone,
            url,
            etag: if tombstone { None } else { row.etag },
            occurred_at: row.committed_at?,
        })
    }
}

/// Who reads the log: the public sees the events of what it could see
/// before or after each change; editors see every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Public,
    Editor,
}

/// One page of the change log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    /// Events after `since`, oldest first.
    pub data: Vec<Change>,
    /// Pass as `since` for the next page: the id of the last event here, or
    /// `since` itself when there was none.
    #[schema(example = 42)]
    pub last_id: i64,
    /// Whether more events followed this page when it was read.
    pub has_more: bool,
}

/// Query parameters of the change log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The id of the last event already applied; `0` (the default) starts
    /// from the beginning of the log.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9_223_372_036_854_775_807_i64, example = 0)]
    since: Option<String>,
    /// Page size.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000, default = 100)]
    limit: Option<String>,
}

/// Most events one page gives.
pub const MAX_PAGE: u32 = 1000;

/// List changes
///
/// The change log, oldest first: one event for each resource a write changed
/// (created, updated, published, unpublished, renamed, deleted), in the order
/// the writes committed. An event never appears before one with a smaller id,
/// so a client that remembers the last id it applied and passes it as `since`
/// misses nothing, however writes interleave. Deletions, and for the public
/// unpublications, are tombstones. Without a key you see the events of
/// published content only (a draft's edits do not show); with one, every event.
/// A mirror that applies the log from the start holds what the API publishes.
#[utoipa::path(
    tag = "changes",
    params(ChangesQuery),
    responses(
        (status = 200, description = "Events after `since`", body = ChangePage,
            headers(("Link" = String, description = "RFC 8288 link to the next page (`rel=\"next\"`), given even when this one is empty, to poll"))),
        (status = 304, description = "Not modified since the `If-None-Match` tag"),
        responses::BadRequest,
        responses::Unauthorized,
        responses::TooManyRequests,
        responses::Unavailable,
    ),
    security(()),
)]
#[get("/v1/changes")]
pub async fn list_changes(
    req: HttpRequest,
    pool: web::Data<DbPool>,
    caller: MaybeCaller,
    query: web::Query<ChangesQuery>,
) -> Result<HttpResponse, AppError> {
    let mut checker = Checker::new();
    let since = checker.check(since(query.since.as_deref()));
    let limit = checker.check(params::limit(query.limit.as_deref(), 100, MAX_PAGE));
    checker.finish()?;
    let (since, limit) = (since.unwrap_or_default(), limit.unwrap_or_default());
    let reader = match caller.0 {
        Some(_) => Reader::Editor,
        None => Reader::Public,
    };
    let mut conn = pool.get().await?;
    let mut rows = queries::walk(&mut conn, queries::Walk::after(since, reader), limit + 1).await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let data: Vec<Change> = rows
        .into_iter()
        .filter_map(|row| Change::of(row, reader))
        .collect();
    let last_id = data.last().map_or(since, |change| change.id);
    let page = ChangePage {
        data,
        last_id,
        has_more,
    };
    let mut shown = Provenance::new();
    shown.list("changes");
    let mut response =
        Representation::of(&page)?
            .shows(&shown)
            .respond(&req, StatusCode::OK, caller.audience());
    // Committed events never change: a full page is the same forever. The
    // last page grows, so it is revalidated (its ETag answers 304).
    if reader == Reader::Public {
        let policy = if has_more {
            "public, max-age=31536000, immutable"
        } else {
            "public, no-cache"
        };
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static(policy),
        );
    }
    let next = format!("</v1/changes?since={last_id}&limit={limit}>; rel=\"next\"");
    if let Ok(next) = header::HeaderValue::from_str(&next) {
        response.headers_mut().append(header::LINK, next);
    }
    Ok(response)
}

/// `since`: an event id, 0 or more.
fn since(raw: Option<&str>) -> Result<i64, InvalidInput> {
    match raw {
        None => Ok(0),
        Some(value) => value
            .parse::<i64>()
            .ok()
            .filter(|since| *since >= 0)
            .ok_or_else(|| {
                InvalidInput::new(
                    "since",
                    "must be the id of an event (an integer, 0 or more)",
                )
            }),
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::{config, hostile_text, number_text};

    proptest! {
        #![proptest_config(config(256))]

        /// `since`: an event id, 0 or more, which the next page's link
        /// prints back as the same; refused naming `since`. `limit` is the
        /// one limit parser, up to a page of the log.
        #[test]
        fn fuzz_since_and_limit_follow_their_rules(raw in number_text(), limit in number_text()) {
            match since(Some(&raw)) {
                Ok(n) => {
                    prop_assert!(n >= 0);
                    prop_assert_eq!(since(Some(&n.to_string())).ok(), Some(n));
                }
                Err(problem) => prop_assert_eq!(problem.parameter.as_deref(), Some("since")),
            }
            if let Ok(n) = params::limit(Some(&limit), 100, MAX_PAGE) {
                prop_assert!((1..=MAX_PAGE).contains(&n));
            }
        }

        /// The kinds and actions the log stores read back as the names
        /// they print, and nothing else reads as one.
        #[test]
        fn fuzz_kinds_and_actions_read_only_their_names(raw in hostile_text()) {
            if let Some(kind) = ResourceKind::parse(&raw) {
                prop_assert_eq!(kind.as_str(), raw.as_str());
            }
            if let Some(action) = Action::parse(&raw) {
                prop_assert_eq!(action.as_str(), raw.as_str());
            }
        }
    }

    #[test]
    fn every_event_type_reads_back() {
        for event_type in event_types() {
            let (kind, action) = event_type.split_once('.').unwrap();
            assert!(ResourceKind::parse(kind).is_some() && Action::parse(action).is_some());
        }
    }
}
