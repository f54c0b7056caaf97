//! Ranking queries over the stored view counts.

use chrono::{DateTime, TimeDelta, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Untyped};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

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
    let rankings = AllRankings {
        now,
        limit: i64::from(limit),
        trending_floor,
    };
    rankings.load(conn).await
}

/// How long moving the windows may take. Crossing midnight moves every
/// article viewed on the days 14, 30 and 60 days back out of a window (at
/// 100,000 articles viewed daily, 3.5 s on a loaded 2-core machine): once a
/// day, past the statement timeout a request gets. Flushes wait meanwhile
/// (or time out and are sent again).
const ADVANCE_TIMEOUT: &str = "60s";

/// Moves the stored windows to the hour of `now` (nothing when they are
/// there already): once an hour, one instance's refresh pays for it.
pub async fn advance(conn: &mut AsyncPgConnection, now: DateTime<Utc>) -> QueryResult<()> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        async move {
            diesel::sql_query(format!("SET LOCAL statement_timeout = '{ADVANCE_TIMEOUT}'"))
                .execute(conn)
                .await?;
            diesel::sql_query("SELECT advance_view_windows($1)")
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await
                .map(drop)
        }
        .scope_boxed()
    })
    .await
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

/// Which articles a ranking ranks.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Untagged,
    /// Tags with at least `SMALL_TAG` articles: read down the window's index,
    /// keeping the tag's articles, as the untagged ranking is read.
    LargeTag,
    /// Tags with fewer: their articles are read and sorted. Read down the
    /// index, a tag of a few articles would be looked for in every row.
    SmallTag,
}

/// Where a tag's articles are few enough to sort rather than to look for.
const SMALL_TAG: i64 = 2000;

/// How far down the previous window's index previous ranks are read; an
/// article that climbed from further down has its previous rank counted
/// over the whole scope.
const COUNTED_DOWN: i64 = 1000;

impl Scope {
    const ALL: [Self; 3] = [Self::Untagged, Self::LargeTag, Self::SmallTag];

    /// The scopes (`g`, with the tag's `id` and `slug`) this ranks.
    fn scopes(self) -> &'static str {
        match self {
            Self::Untagged => "(SELECT NULL::bigint AS id, NULL::text AS slug) g",
            Self::LargeTag => "(SELECT id, slug FROM scopes WHERE NOT small) g",
            Self::SmallTag => "(SELECT id, slug FROM scopes WHERE small) g",
        }
    }

    /// The scope's articles with their windows (`w`) and themselves (`a`).
    fn articles(self) -> &'static str {
        match self {
            Self::Untagged => "view_windows w JOIN articles a ON a.id = w.article_id",
            Self::LargeTag => {
                "view_windows w JOIN article_tags at ON at.article_id = w.article_id AND at.tag_id = g.id \
                 JOIN articles a ON a.id = w.article_id"
            }
            // Each OFFSET 0 keeps a subquery whole: the tag's articles are
            // read first, then each one's row, never a whole table.
            Self::SmallTag => {
                "(SELECT at.article_id FROM article_tags at WHERE at.tag_id = g.id OFFSET 0) m \
                 CROSS JOIN LATERAL (SELECT * FROM view_windows w \
                    WHERE w.article_id = m.article_id OFFSET 0) w \
                 CROSS JOIN LATERAL (SELECT a.status, a.published_at FROM articles a \
                    WHERE a.id = m.article_id OFFSET 0) a"
            }
        }
    }
}

impl AllRankings {
    /// `a` is public now.
    fn public<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(" AND a.status = ");
        out.push_bind_param::<Text, _>(PUBLISHED)?;
        out.push_sql(" AND a.published_at <= ");
        out.push_bind_param::<Timestamptz, _>(&self.now)
    }

    /// `part` of each window in `windows` and each kind of scope, joined by
    /// `UNION ALL`.
    fn union_all<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        windows: impl Iterator<Item = Window>,
        part: fn(&'b Self, &mut AstPass<'_, 'b, Pg>, Window, Scope) -> QueryResult<()>,
    ) -> QueryResult<()> {
        let mut first = true;
        for window in windows {
            for scope in Scope::ALL {
                if !first {
                    out.push_sql(" UNION ALL ");
                }
                first = false;
                part(self, out, window, scope)?;
            }
        }
        Ok(())
    }

    /// One popular ranking of every scope of a kind: the top `limit` of the
    /// window.
    fn popular<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        window: Window,
        scope: Scope,
    ) -> QueryResult<()> {
        let (name, column) = (window.name(), window.column());
        let before = match window {
            Window::All => "0::int8".to_string(),
            _ => format!("w.{column}_before"),
        };
        out.push_sql(&format!(
            "SELECT '{name}'::text AS ranking, g.id AS tag_id, g.slug AS tag, t.* \
             FROM {} CROSS JOIN LATERAL (\
                SELECT w.article_id, w.{column} AS views, {before} AS before, a.published_at \
                FROM {} WHERE w.{column} > 0",
            scope.scopes(),
            scope.articles(),
        ));
        self.public(out)?;
        // Ties in views go to the newer article: read down the index, only
        // the last tie is sorted further.
        out.push_sql(&format!(
            " ORDER BY w.{column} DESC, a.published_at DESC, w.article_id DESC LIMIT "
        ));
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(") t");
        Ok(())
    }

    /// The previous ranks of a window's articles in every scope of a kind
    /// (`f`: each ranking's lowest previous views among its entries): the
    /// competition ranks of the previous window, read down its index as far
    /// as the lowest entry or `COUNTED_DOWN`, whichever comes first; for a
    /// small tag, among all of its articles.
    fn previous<'b>(
        &'b self,
        out: &mut AstPass<'_, 'b, Pg>,
        window: Window,
        scope: Scope,
    ) -> QueryResult<()> {
        let (name, column) = (window.name(), window.column());
        let tag = match scope {
            Scope::Untagged => "f.tag_id IS NULL",
            Scope::LargeTag => "f.tag_id IS NOT NULL AND NOT f.small",
            Scope::SmallTag => "f.tag_id IS NOT NULL AND f.small",
        };
        // A tag's articles are told apart row by row (an EXISTS with an
        // OFFSET is never made a join): as a join, the planner reads all of
        // the tag's articles first.
        let (articles, member) = match scope {
            Scope::Untagged => (Scope::Untagged.articles(), ""),
            Scope::LargeTag => (
                Scope::Untagged.articles(),
                " AND EXISTS (SELECT 1 FROM article_tags at \
                 WHERE at.article_id = w.article_id AND at.tag_id = g.id OFFSET 0)",
            ),
            Scope::SmallTag => (Scope::SmallTag.articles(), ""),
        };
        out.push_sql(&format!(
            "SELECT g.ranking, g.tag_id, p.article_id, \
                rank() OVER (PARTITION BY g.tag_id ORDER BY p.before DESC) AS previous_rank \
             FROM (SELECT f.ranking, f.tag_id, f.tag_id AS id, f.floor FROM floors f \
                WHERE f.ranking = '{name}' AND {tag}) g \
             CROSS JOIN LATERAL (SELECT w.article_id, w.{column}_before AS before FROM {articles} \
                WHERE w.{column}_before > 0"
        ));
        if scope != Scope::SmallTag {
            out.push_sql(&format!(" AND w.{column}_before >= g.floor{member}"));
        }
        self.public(out)?;
        if scope != Scope::SmallTag {
            out.push_sql(&format!(
                " ORDER BY w.{column}_before DESC LIMIT {COUNTED_DOWN}"
            ));
        }
        out.push_sql(") p");
        Ok(())
    }

    /// The previous rank of an entry `e` read further down than `previous`
    /// does: one more than the articles of its scope seen more then.
    fn counted<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("CASE");
        for window in Window::ALL {
            if window == Window::All {
                continue;
            }
            let (name, column) = (window.name(), window.column());
            for tagged in [false, true] {
                let (test, join) = if tagged {
                    (
                        "IS NOT NULL",
                        " JOIN article_tags at ON at.article_id = w.article_id AND at.tag_id = e.tag_id",
                    )
                } else {
                    ("IS NULL", "")
                };
                out.push_sql(&format!(
                    " WHEN e.ranking = '{name}' AND e.tag_id {test} THEN 1 + (SELECT count(*) \
                     FROM view_windows w{join} JOIN articles a ON a.id = w.article_id \
                     WHERE w.{column}_before > e.before"
                ));
                self.public(out)?;
                out.push_sql(")");
            }
        }
        out.push_sql(" END");
        Ok(())
    }
}

impl QueryFragment<Pg> for AllRankings {
    // Each ranking reads only the top of its window's index; its ranks come
    // from the entries themselves (a competition rank is one more than the
    // count of the entries before it with more views), its previous ranks
    // from the top of the previous window's index, down to its lowest
    // entry. What it reads grows with the rankings' length and the number of
    // tags, not with the articles or their view history.
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(&format!(
            "WITH scopes AS (SELECT g.id, g.slug, (SELECT count(*) FROM \
                (SELECT 1 FROM article_tags at WHERE at.tag_id = g.id LIMIT {SMALL_TAG}) n) \
                < {SMALL_TAG} AS small FROM tags g), top AS ("
        ));
        self.union_all(&mut out, Window::ALL.into_iter(), Self::popular)?;
        // Ties share a competition rank; within one, the newer article comes
        // first.
        out.push_sql(
            "), floors AS (SELECT t.ranking, t.tag_id, min(t.before) AS floor, \
                bool_or(s.small) AS small FROM top t LEFT JOIN scopes s ON s.id = t.tag_id \
                WHERE t.before > 0 GROUP BY t.ranking, t.tag_id), previous AS (",
        );
        let windowed = Window::ALL.into_iter().filter(|&w| w != Window::All);
        self.union_all(&mut out, windowed, Self::previous)?;
        out.push_sql(
            "), ranked AS (SELECT e.ranking, e.tag, e.article_id, e.views, e.before, \
                CASE WHEN e.before > 0 THEN COALESCE(p.previous_rank, ",
        );
        self.counted(&mut out)?;
        out.push_sql(
            ") END AS previous_rank, \
                row_number() OVER (PARTITION BY e.ranking, e.tag \
                    ORDER BY e.views DESC, e.published_at DESC, e.article_id DESC) AS place, \
                rank() OVER (PARTITION BY e.ranking, e.tag ORDER BY e.views DESC) AS rank \
             FROM top e LEFT JOIN previous p ON p.ranking = e.ranking \
                AND p.tag_id IS NOT DISTINCT FROM e.tag_id AND p.article_id = e.article_id), \
             trending AS (SELECT article_id, trend_recent, trend_base, \
                row_number() OVER (ORDER BY ratio DESC, article_id DESC) AS place \
             FROM (SELECT w.article_id, w.day AS trend_recent, w.trend_base, \
                w.day::float8 / GREATEST(w.trend_base / ",
        );
        out.push_sql(&format!("{}.0", TREND_BASE.num_days()));
        out.push_sql(", 1.0) AS ratio FROM ");
        out.push_sql(Scope::Untagged.articles());
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
