//! The ETags a transaction's events carry: before it commits, each changed
//! resource the public can see is represented as the public would get it,
//! and its tag noted on the event, so that a mirror holding that tag knows
//! it has that version. Every transaction of the API that writes calls
//! `seal` last; a change made elsewhere (psql) is logged without tags.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::queries;
use super::ResourceKind;
use crate::editing::Positioned;
use crate::error::AppError;
use crate::excerpts::views::Excerpt;
use crate::representation::Representation;
use crate::roundups::views::{ListedLink, Roundup};
use crate::schema::{articles, outlets};
use crate::visibility::Viewer;

/// Notes the public ETag of everything this transaction changed that the
/// public can see. Runs inside the transaction, after its last write.
pub async fn seal(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> Result<(), AppError> {
    let staged = queries::staged(conn).await?;
    let (mut ids, mut etags) = (Vec::new(), Vec::new());
    for change in staged {
        let Some(kind) = ResourceKind::parse(&change.kind) else {
            continue;
        };
        if let Some(etag) = public_etag(conn, kind, change.resource_id, now).await? {
            ids.push(change.id);
            etags.push(etag);
        }
    }
    if !ids.is_empty() {
        diesel::sql_query(
            "UPDATE changes SET etag = tagged.etag \
               FROM unnest($1, $2) AS tagged (id, etag) WHERE changes.id = tagged.id",
        )
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Text>, _>(etags)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// The ETag of the resource's public representation, when the public can see it.
async fn public_etag(
    conn: &mut AsyncPgConnection,
    kind: ResourceKind,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<String>, AppError> {
    let viewer = Viewer::Public(now);
    let representation = match kind {
        ResourceKind::Article => {
            let Some(slug) = articles::table
                .find(id)
                .select(articles::slug)
                .first::<String>(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            let Some(row) = crate::articles::queries::find(conn, &slug, viewer).await? else {
                return Ok(None);
            };
            let view = crate::articles::load_view(conn, row, viewer, now).await?;
            Representation::of(&view)?
        }
        ResourceKind::Excerpt => match Excerpt::find(conn, id, viewer).await? {
            Some((view, _)) => Representation::of(&view)?,
            None => return Ok(None),
        },
        ResourceKind::Roundup => match Roundup::find(conn, id, viewer).await? {
            Some((view, _)) => Representation::of(&view)?,
            None => return Ok(None),
        },
        ResourceKind::RoundupLink => match ListedLink::find(conn, id, viewer).await? {
            Some((view, _)) => Representation::of(&view)?,
            None => return Ok(None),
        },
        ResourceKind::Outlet => {
            let Some(slug) = outlets::table
                .find(id)
                .select(outlets::slug)
                .first::<String>(conn)
                .await
                .optional()?
            else {
                return Ok(None);
            };
            match crate::outlets::queries::find(conn, &slug, now).await? {
                Some(row) => Representation::of(&crate::outlets::views::Outlet::from(row))?,
                None => return Ok(None),
            }
        }
    };
    Ok(Some(representation.etag().to_owned()))
}
