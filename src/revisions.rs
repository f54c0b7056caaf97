//! Revision stamps: when what a representation shows last changed. The
//! database keeps them (triggers in the `revisions` migration), so every
//! writer does; handlers read them with the rows they fetch anyway and fold
//! them into a `Provenance`. Nothing here knows HTTP.

use std::future::Future;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::publication_removals;

/// When a reader last saw an article change: its latest revision, or its
/// publication when that came later (a scheduled post becomes visible at its
/// time, with no write). A publication time still to come does not count:
/// only editors see such an article, and no date they are sent may lie in
/// the future.
pub fn effective(
    revised_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    match published_at {
        Some(published) if published <= now => revised_at.max(published),
        _ => revised_at,
    }
}

/// `effective` as SQL, aggregated over a group of `articles` rows that are
/// all public (so every publication time is past): the latest time a reader
/// saw any of them change, for a view computed from the group (an outlet's
/// or a tag's counts).
pub const LATEST_PUBLIC_EFFECTIVE: &str =
    "max(greatest(articles.revised_at, articles.published_at))";

/// When something last left the public articles or one of their filtered
/// lists (a tag's, an outlet's): every list page folds it in, so that its
/// `Last-Modified` never goes back when an item leaves it.
///
/// The returned future does not hold the connection: it can be sent
/// together with the page's own query, in one round trip (diesel-async
/// pipelines queries sent on one connection at once).
pub fn removals(
    conn: &mut AsyncPgConnection,
) -> impl Future<Output = QueryResult<DateTime<Utc>>> + Send {
    publication_removals::table
        .select(publication_removals::removed_at)
        .get_result(conn)
}
