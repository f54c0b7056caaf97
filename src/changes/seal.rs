//! The ETags a transaction's events carry: before it commits, each changed
//! resource the public can see is represented as the public would get it,
//! and its tag noted on the event, so that a mirror holding that tag knows
//! it has that version. Every transaction of the API that writes calls
//! `seal` last; a change made elsewhere (psql) is logged without tags.
//!
//! Resources are represented a batch at a time, a few queries per kind
//! and batch, so that an import of thousands of articles costs a few
//! hundred queries here, not one per row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use serde::Serialize;

use super::queries;
use super::ResourceKind;
use crate::error::AppError;
use crate::excerpts::queries::{self as excerpt_queries, ExcerptSelection};
use crate::excerpts::views::Excerpt;
use crate::representation::Representation;
use crate::roundups::queries::{self as roundup_queries, LinkSelection, RoundupSelection};
use crate::roundups::views::{self as roundup_views, ListedLink};
use crate::visibility::Viewer;

/// Resources represented per round of queries.
const BATCH: usize = 500;

/// Notes the public ETag of everything this transaction changed that the
/// public can see. Runs inside the transaction, after its last write.
pub async fn seal(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<(), AppError> {
    let staged = queries::staged(conn).await?;
    if staged.is_empty() {
        return Ok(());
    }
    let mut events: HashMap<ResourceKind, Vec<(i64, i64)>> = HashMap::new();
    for change in staged {
        if let Some(kind) = ResourceKind::parse(&change.kind) {
            events
                .entry(kind)
                .or_default()
                .push((change.resource_id, change.id));
        }
    }
    let (mut ids, mut etags) = (Vec::new(), Vec::new());
    for (kind, events) in events {
        for batch in events.chunks(BATCH) {
            let resources: Vec<i64> = batch.iter().map(|(resource, _)| *resource).collect();
            let tags = public_etags(conn, kind, &resources, now).await?;
            for (resource, event) in batch {
                if let Some(etag) = tags.get(resource) {
                    ids.push(*event);
                    etags.push(etag.clone());
                }
            }
        }
    }
    if !ids.is_empty() {
        queries::set_etags(conn, ids, etags).await?;
    }
    Ok(())
}

/// The ETags of the public representations of those of these resources
/// the public can see, by id.
async fn public_etags(
    conn: &mut AsyncPgConnection,
    kind: ResourceKind,
    ids: &[i64],
    now: DateTime<Utc>,
) -> Result<HashMap<i64, String>, AppError> {
    let viewer = Viewer::Public(now);
    match kind {
        ResourceKind::Article => {
            let rows = crate::articles::queries::by_ids(conn, ids, viewer).await?;
            let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
            let views = crate::articles::load_views(conn, rows, viewer, now).await?;
            tagged(ids.into_iter().zip(views.into_iter().map(|(view, _)| view)))
        }
        ResourceKind::Excerpt => {
            let records =
                excerpt_queries::load(conn, ExcerptSelection::Ids(ids), viewer, true).await?;
            tagged(records.into_iter().map(|record| {
                let view = Excerpt::from(record);
                (view.id, view)
            }))
        }
        ResourceKind::Roundup => {
            let selection = RoundupSelection::Ids(ids);
            let roundups = roundup_queries::load_roundups(conn, selection, viewer).await?;
            let links =
                roundup_queries::load_links(conn, LinkSelection::Of(selection), viewer).await?;
            tagged(
                roundup_views::assemble(roundups, links)
                    .into_iter()
                    .map(|view| (view.id, view)),
            )
        }
        ResourceKind::RoundupLink => {
            let records =
                roundup_queries::load_links(conn, LinkSelection::Ids(ids), viewer).await?;
            tagged(records.into_iter().map(|record| {
                let view = ListedLink::from(record);
                (view.link.id, view)
            }))
        }
        ResourceKind::Outlet => {
            // Outlets change one at a time, or a few in an import.
            let mut tags = HashMap::new();
            for slug in crate::outlets::queries::slugs_of(conn, ids).await? {
                if let Some(row) = crate::outlets::queries::find(conn, &slug, now).await? {
                    let id = row.outlet.id;
                    tags.extend(tagged([(id, crate::outlets::views::Outlet::from(row))])?);
                }
            }
            Ok(tags)
        }
    }
}

/// Each view's ETag, as a GET of it would answer.
fn tagged<T: Serialize>(
    views: impl IntoIterator<Item = (i64, T)>,
) -> Result<HashMap<i64, String>, AppError> {
    views
        .into_iter()
        .map(|(id, view)| Ok((id, Representation::of(&view)?.etag().to_owned())))
        .collect()
}
