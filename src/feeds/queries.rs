//! What the feeds ask the database beyond the article list.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::ArticleFilter;
use crate::schema::{outlets, tags};

/// The ids of the filter's tag and outlet, where they exist: a feed names
/// them among the keys a CDN purges it by.
pub async fn filter_ids(
    conn: &mut AsyncPgConnection,
    filter: &ArticleFilter,
) -> QueryResult<(Option<i64>, Option<i64>)> {
    let tag = match &filter.tag {
        Some(slug) => tags::table
            .filter(tags::slug.eq(slug.clone()))
            .select(tags::id)
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    let outlet = match &filter.outlet {
        Some(slug) => outlets::table
            .filter(outlets::slug.eq(slug.clone()))
            .select(outlets::id)
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    Ok((tag, outlet))
}
