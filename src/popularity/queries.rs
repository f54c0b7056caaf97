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
///
/// The windows are those of `view_windows`, counted back from the hour of
/// its clock: `advance` moves them to the hour of `now` first.
pub async fn rankings(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: u32,
    trending_floor: i64,
) -> QueryResult<Vec<RankingRow>> {
    AllRankings {
        now,
        limit: i64::from(limit),
        trending_floor,
    }
    .load(conn)
    .await
}

/// Moves the stored windows to the hour of `now` (nothing when they are
/// there already): once an hour, one instance's refresh pays for it.
pub async fn advance(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::sql_query("SELECT advance_view_windows($1)")
        .bind::<Timestamptz, _>(now)
        .execute(conn)
        .await
        .map(drop)
}

/// The ranking statement as a query type of its own, so that each connection
/// prepares it once (diesel never keeps a `sql_query` prepared).
struct AllRankings {
    now: DateTime<Utc>,
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

impl AllRankings {
    /// `a` (joined on `w.article_id`) is public now.
    fn public<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(" AND a.status = ");
        out.push_bind_param::<Text, _>(PUBLISHED)?;
        out.push_sql(" AND a.published_at <= ");
        out.push_bind_param::<Timestamptz, _>(&self.now)
    }

    /// The articles of the scope: all (`g` is NULL) or tagged `g`.
    fn scope(tagged: bool) -> &'static str {
        if tagged {
            "view_windows w JOIN article_tags at ON at.article_id = w.article_id AND at.tag_id = g.id \
             JOIN articles a ON a.id = w.article_id"
        } else {
            "view_windows w JOIN articles a ON a.id = w.article_id"
        }
    }

    /// One popular ranking of every scope (untagged, or one per tag): the
    /// top `limit` of the window's index, each with its previous rank.
    fn popular<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        window: Window,
        tagged: bool,
    ) -> QueryResult<()> {
        let (name, column) = (window.name(), window.column());
        let scopes = if tagged {
            "tags g"
        } else {
            "(SELECT NULL::bigint AS id, NULL::text AS slug) g"
        };
        let before = match window {
            Window::All => "0::int8".to_string(),
            _ => format!("w.{column}_before"),
        };
        out.push_sql(&format!(
            "SELECT '{name}'::text AS ranking, g.slug AS tag, t.article_id, t.views, t.before, \
                t.published_at, p.previous_rank FROM {scopes} CROSS JOIN LATERAL (\
                SELECT w.article_id, w.{column} AS views, {before} AS before, a.published_at \
                FROM {} WHERE w.{column} > 0",
            Self::scope(tagged)
        ));
        self.public(out)?;
        // Ties in views go to the newer article: the index gives the views'
        // order and only the last tie is sorted further.
        out.push_sql(&format!(
            " ORDER BY w.{column} DESC, a.published_at DESC, w.article_id DESC LIMIT "
        ));
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") t CROSS JOIN LATERAL (");
        match window {
            Window::All => out.push_sql("SELECT NULL::int8 AS previous_rank"),
            _ => {
                // The competition rank among the scope's articles seen then:
                // one more than those seen more, read from the index's top.
                out.push_sql(&format!(
                    "SELECT CASE WHEN t.before > 0 THEN 1 + count(*) END AS previous_rank \
                     FROM {} WHERE t.before > 0 AND w.{column}_before > t.before",
                    Self::scope(tagged)
                ));
                self.public(out)?;
            }
        }
        out.push_sql(") p");
        Ok(())
    }
}

impl QueryFragment<Pg> for AllRankings {
    // Each ranking reads only the top of its window's index; its ranks come
    // from the entries themselves (a competition rank is one more than the
    // count of the entries before it with more views), its previous ranks
    // from the top of the previous window's index.
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH top AS (");
        let mut first = true;
        for window in Window::ALL {
            for tagged in [false, true] {
                if !first {
                    out.push_sql(" UNION ALL ");
                }
                first = false;
                self.popular(&mut out, window, tagged)?;
            }
        }
        // Ties share a competition rank; within one, the newer article comes
        // first.
        out.push_sql(
            "), ranked AS (SELECT ranking, tag, article_id, views, before, previous_rank, \
                row_number() OVER (PARTITION BY ranking, tag \
                    ORDER BY views DESC, published_at DESC, article_id DESC) AS place, \
                rank() OVER (PARTITION BY ranking, tag ORDER BY views DESC) AS rank \
             FROM top), \
             trending AS (SELECT article_id, trend_recent, trend_base, \
                row_number() OVER (ORDER BY ratio DESC, article_id DESC) AS place \
             FROM (SELECT w.article_id, w.day AS trend_recent, w.trend_base, \
                w.day::float8 / GREATEST(w.trend_base / ",
        );
        out.push_sql(&format!("{}.0", TREND_BASE.num_days()));
        out.push_sql(", 1.0) AS ratio FROM ");
        out.push_sql(Self::scope(false));
        out.push_sql(" WHERE w.day >= ");
        out.push_bind_param::<BigInt, _>(&self.trending_floor)?;
        self.public(&mut out)?;
        out.push_sql(" ORDER BY ratio DESC, w.article_id DESC LIMIT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(
            ") candidates), entries AS (\
                SELECT ranking, tag, place, rank, previous_rank, views, before, article_id \
                FROM ranked \
                UNION ALL SELECT 'trending', NULL, place, place, NULL, trend_recent, trend_base, article_id \
                FROM trending",
        );
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
