//! Ranking queries over the stored view counts.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Untyped};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::views::Window;
use crate::articles::queries::ArticleSummaryRow;
use crate::tags::queries::TAG_ARRAYS;
use crate::visibility::PUBLISHED;

/// Trending compares the views of this span…
pub const TREND_RECENT: TimeDelta = TimeDelta::hours(24);
/// …with the daily average over this span before it.
pub const TREND_BASE: TimeDelta = TimeDelta::days(7);

/// One entry of a ranking, with the article it ranks.
#[derive(Debug, QueryableByName)]
pub struct RankingRow {
    /// A window's name (`24h`, `7d`, `30d`, `all`) or `trending`.
    #[diesel(sql_type = Text)]
    pub ranking: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub tag: Option<String>,
    /// Competition rank in the window ("1224"); for trending, the place.
    #[diesel(sql_type = BigInt)]
    pub rank: i64,
    /// Competition rank in the previous window of the same length, if ranked there.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub previous_rank: Option<i64>,
    /// Views in the window (for trending, in the last 24 hours).
    #[diesel(sql_type = BigInt)]
    pub views: i64,
    /// For trending: views in the 7 days before the last 24 hours.
    #[diesel(sql_type = BigInt)]
    pub before: i64,
    #[diesel(embed)]
    pub article: ArticleSummaryRow,
    /// The article's tag ids, slugs and names, in the order of the slugs.
    #[diesel(sql_type = Array<BigInt>)]
    pub tag_ids: Vec<i64>,
    #[diesel(sql_type = Array<Text>)]
    pub tag_slugs: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    pub tag_names: Vec<String>,
}

/// Every ranking at once, in one statement: the popular ranking of each
/// window, untagged and within each tag that has viewed public articles,
/// with ranks in the previous window of the same length, and trending. At
/// most `limit` entries each; rows come ordered by ranking, tag (untagged
/// first) and place.
pub async fn rankings(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: u32,
    trending_floor: i64,
) -> QueryResult<Vec<RankingRow>> {
    let start = |window: Window, lengths: i32| window.length().map(|length| now - length * lengths);
    AllRankings {
        now,
        bounds: Window::ALL.map(|window| (start(window, 1), start(window, 2))),
        trending_since: now - TREND_RECENT,
        trending_base_since: now - TREND_RECENT - TREND_BASE,
        limit: i64::from(limit),
        trending_floor,
    }
    .load(conn)
    .await
}

/// Where a window starts; `None` for all time.
type Since = Option<DateTime<Utc>>;

/// The ranking statement as a query type of its own, so that each connection
/// prepares it once (diesel never keeps a `sql_query` prepared).
struct AllRankings {
    now: DateTime<Utc>,
    /// For each of `Window::ALL`: where it starts, and where the window of
    /// the same length before it starts.
    bounds: [(Since, Since); 4],
    trending_since: DateTime<Utc>,
    trending_base_since: DateTime<Utc>,
    limit: i64,
    trending_floor: i64,
}

impl QueryId for AllRankings {
    type QueryId = AllRankings;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for AllRankings {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for AllRankings {
    // One pass over the view counts sums every window of every public
    // article; each ranking is then a window function over those sums.
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH sums AS (SELECT a.id AS article_id, a.published_at");
        for (window, (current, previous)) in Window::ALL.iter().zip(&self.bounds) {
            let column = window.column();
            out.push_sql(", COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > COALESCE(");
            out.push_bind_param::<Nullable<Timestamptz>, _>(current)?;
            out.push_sql(&format!(", '-infinity')), 0)::int8 AS {column}"));
            out.push_sql(", COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > ");
            out.push_bind_param::<Nullable<Timestamptz>, _>(previous)?;
            out.push_sql(" AND v.bucket_start <= ");
            out.push_bind_param::<Nullable<Timestamptz>, _>(current)?;
            out.push_sql(&format!("), 0)::int8 AS {column}_before"));
        }
        out.push_sql(", COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > ");
        out.push_bind_param::<Timestamptz, _>(&self.trending_since)?;
        out.push_sql(
            "), 0)::int8 AS trend_recent, \
             COALESCE(SUM(v.views) FILTER (WHERE v.bucket_start > ",
        );
        out.push_bind_param::<Timestamptz, _>(&self.trending_base_since)?;
        out.push_sql(" AND v.bucket_start <= ");
        out.push_bind_param::<Timestamptz, _>(&self.trending_since)?;
        out.push_sql(
            "), 0)::int8 AS trend_base \
             FROM view_counts v JOIN articles a ON a.id = v.article_id \
             WHERE a.status = ",
        );
        out.push_bind_param::<Text, _>(PUBLISHED)?;
        out.push_sql(" AND a.published_at <= ");
        out.push_bind_param::<Timestamptz, _>(&self.now)?;
        out.push_sql(
            " GROUP BY a.id), scoped AS (SELECT NULL::text AS tag, s.* FROM sums s \
             UNION ALL SELECT t.slug, s.* FROM sums s \
             JOIN article_tags at ON at.article_id = s.article_id \
             JOIN tags t ON t.id = at.tag_id), windowed AS (SELECT sc.tag, sc.article_id, sc.published_at, w.* \
             FROM scoped sc CROSS JOIN LATERAL (VALUES ",
        );
        for (index, window) in Window::ALL.iter().enumerate() {
            let (name, column) = (window.name(), window.column());
            let separator = if index == 0 { "" } else { ", " };
            out.push_sql(&format!(
                "{separator}('{name}', sc.{column}, sc.{column}_before)"
            ));
        }
        // Ties share a competition rank; within one, the newer article comes
        // first. The previous rank is taken among articles seen then.
        out.push_sql(
            ") AS w(ranking, views, before)), \
             ranked AS (SELECT ranking, tag, article_id, views, before, \
                row_number() OVER (PARTITION BY ranking, tag \
                    ORDER BY views DESC, published_at DESC, article_id DESC) AS place, \
                rank() OVER (PARTITION BY ranking, tag ORDER BY views DESC) AS rank, \
                rank() OVER (PARTITION BY ranking, tag, before > 0 ORDER BY before DESC) AS previous_rank \
             FROM windowed WHERE views > 0 OR before > 0), \
             trending AS (SELECT article_id, trend_recent, trend_base, \
                row_number() OVER (ORDER BY trend_recent::float8 / GREATEST(trend_base / ",
        );
        out.push_sql(&format!("{}.0", TREND_BASE.num_days()));
        out.push_sql(", 1.0) DESC, article_id DESC) AS place FROM sums WHERE trend_recent >= ");
        out.push_bind_param::<BigInt, _>(&self.trending_floor)?;
        out.push_sql(
            "), entries AS (\
                SELECT ranking, tag, place, rank, \
                    CASE WHEN before > 0 THEN previous_rank END AS previous_rank, \
                    views, before, article_id \
                FROM ranked WHERE views > 0 AND place <= ",
        );
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            " UNION ALL SELECT 'trending', NULL, place, place, NULL, trend_recent, trend_base, article_id \
                FROM trending WHERE place <= ",
        );
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            ") SELECT e.ranking, e.tag, e.rank, e.previous_rank, e.views, e.before, \
                a.id, a.slug, a.title, a.summary, a.status, a.published_at, a.updated_at, a.revised_at, \
",
        );
        out.push_sql(TAG_ARRAYS);
        out.push_sql(
            " FROM entries e JOIN articles a ON a.id = e.article_id \
             ORDER BY e.ranking, e.tag NULLS FIRST, e.place",
        );
        Ok(())
    }
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
