//! Ranking queries over the stored view counts.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::ArticleSummaryRow;
use crate::schema::{article_tags, articles, tags, view_counts};
use crate::visibility::is_public;

/// The most viewed public articles since `since` (all time when `None`), most
/// viewed first; ties go to the newer article.
pub async fn top(
    conn: &mut AsyncPgConnection,
    since: Option<DateTime<Utc>>,
    tag: Option<&str>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<(ArticleSummaryRow, i64)>> {
    let mut query = view_counts::table
        .inner_join(articles::table)
        .filter(is_public(now))
        .group_by(articles::id)
        .select((
            ArticleSummaryRow::as_select(),
            sql::<BigInt>("SUM(view_counts.views)::int8"),
        ))
        .order((
            sql::<BigInt>("SUM(view_counts.views)").desc(),
            articles::published_at.desc(),
            articles::id.desc(),
        ))
        .limit(i64::from(limit))
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(view_counts::bucket_start.gt(since));
    }
    if let Some(tag) = tag {
        query = query.filter(
            articles::id.eq_any(
                article_tags::table
                    .inner_join(tags::table)
                    .filter(tags::slug.eq(tag.to_owned()))
                    .select(article_tags::article_id),
            ),
        );
    }
    query.load(conn).await
}
