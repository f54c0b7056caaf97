//! Ranking queries over the stored view counts.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::articles::queries::ArticleSummaryRow;
use crate::schema::{article_tags, articles, tags, view_counts};
use crate::visibility::is_public;

/// The most viewed public articles with views in (`since`, `until`] (open
/// ends when `None`), most viewed first; ties go to the newer article.
pub async fn top(
    conn: &mut AsyncPgConnection,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
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
    if let Some(until) = until {
        query = query.filter(view_counts::bucket_start.le(until));
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

/// Views in the last day and in the seven days before it, for articles with
/// at least `floor` views in the last day.
#[derive(Debug, QueryableByName)]
pub struct TrendRow {
    #[diesel(sql_type = BigInt)]
    pub article_id: i64,
    #[diesel(sql_type = BigInt)]
    pub recent: i64,
    #[diesel(sql_type = BigInt)]
    pub before: i64,
}

/// Articles gaining fastest: views in the last 24 hours against their own
/// daily average over the 7 days before, highest ratio first.
pub async fn trending(
    conn: &mut AsyncPgConnection,
    floor: i64,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<TrendRow>> {
    diesel::sql_query(
        "SELECT v.article_id, \
                COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > $1 - interval '24 hours'), 0)::int8 AS recent, \
                COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start <= $1 - interval '24 hours'), 0)::int8 AS before \
         FROM view_counts v JOIN articles a ON a.id = v.article_id \
         WHERE v.bucket_start > $1 - interval '8 days' \
           AND a.status = 'published' AND a.published_at <= $1 \
         GROUP BY v.article_id \
         HAVING COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > $1 - interval '24 hours'), 0) >= $2 \
         ORDER BY COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > $1 - interval '24 hours'), 0)::float8 \
                  / GREATEST(COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start <= $1 - interval '24 hours'), 0) / 7.0, 1.0) DESC, \
                  v.article_id DESC \
         LIMIT $3",
    )
    .bind::<Timestamptz, _>(now)
    .bind::<BigInt, _>(floor)
    .bind::<BigInt, _>(i64::from(limit))
    .load(conn)
    .await
}

/// One day of an article's views.
#[derive(Debug, QueryableByName)]
pub struct DayRow {
    #[diesel(sql_type = diesel::sql_types::Date)]
    pub day: chrono::NaiveDate,
    #[diesel(sql_type = BigInt)]
    pub views: i64,
}

/// An article's views per UTC day since `since` (days without views absent).
pub async fn daily(
    conn: &mut AsyncPgConnection,
    article_id: i64,
    since: DateTime<Utc>,
) -> QueryResult<Vec<DayRow>> {
    diesel::sql_query(
        "SELECT (bucket_start AT TIME ZONE 'UTC')::date AS day, SUM(views)::int8 AS views \
         FROM view_counts WHERE article_id = $1 AND bucket_start >= $2 \
         GROUP BY 1 ORDER BY 1",
    )
    .bind::<BigInt, _>(article_id)
    .bind::<Timestamptz, _>(since)
    .load(conn)
    .await
}
