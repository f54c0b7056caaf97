//! Outlet queries. Citation counts only count published, visible articles.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, sql};
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::revisions;
use crate::schema::{articles, excerpts, outlets, roundup_links, roundups};
use crate::visibility::is_public;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outlets, check_for_backend(diesel::pg::Pg))]
pub struct OutletRow {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub home_url: String,
    pub country_code: Option<String>,
}

#[derive(Debug)]
pub struct OutletWithCounts {
    pub outlet: OutletRow,
    pub excerpt_count: i64,
    pub link_count: i64,
    /// When the outlet itself was last written.
    pub updated_at: DateTime<Utc>,
    /// The latest effective time of a public article citing it: its counts
    /// grow only when such an article is revised or becomes public.
    pub cited_at: Option<DateTime<Utc>>,
}

impl OutletWithCounts {
    /// When what the outlet's view shows last grew or changed; a count that
    /// went down is caught by `revisions::removals`.
    pub fn revised_at(&self) -> DateTime<Utc> {
        self.cited_at
            .map_or(self.updated_at, |cited| cited.max(self.updated_at))
    }
}

/// The latest effective time (`revisions::effective`) among the public
/// articles of a group, computed with its counts.
fn latest_effective() -> SqlLiteral<Nullable<Timestamptz>> {
    sql(revisions::LATEST_PUBLIC_EFFECTIVE)
}

/// Outlets ordered by slug after `after`, `limit + 1` of them.
pub async fn list(
    conn: &mut AsyncPgConnection,
    after: Option<&str>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<OutletWithCounts>> {
    let mut query = outlets::table
        .select((OutletRow::as_select(), outlets::updated_at))
        .order(outlets::slug)
        .limit(i64::from(limit) + 1)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(outlets::slug.gt(after.to_owned()));
    }
    let rows = query.load(conn).await?;
    with_counts(conn, rows, now).await
}

pub async fn find(
    conn: &mut AsyncPgConnection,
    slug: &str,
    now: DateTime<Utc>,
) -> QueryResult<Option<OutletWithCounts>> {
    let rows = outlets::table
        .filter(outlets::slug.eq(slug))
        .select((OutletRow::as_select(), outlets::updated_at))
        .load(conn)
        .await?;
    Ok(with_counts(conn, rows, now).await?.pop())
}

/// The id of the outlet with this slug.
/// The slugs of the outlets with these ids.
pub async fn slugs_of(conn: &mut AsyncPgConnection, ids: &[i64]) -> QueryResult<Vec<String>> {
    outlets::table
        .filter(outlets::id.eq_any(ids))
        .select(outlets::slug)
        .load(conn)
        .await
}

pub async fn id_of(conn: &mut AsyncPgConnection, slug: &str) -> QueryResult<Option<i64>> {
    outlets::table
        .filter(outlets::slug.eq(slug))
        .select(outlets::id)
        .first(conn)
        .await
        .optional()
}

async fn with_counts(
    conn: &mut AsyncPgConnection,
    rows: Vec<(OutletRow, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<OutletWithCounts>> {
    type Counts = HashMap<i64, (i64, Option<DateTime<Utc>>)>;
    let ids: Vec<i64> = rows.iter().map(|(o, _)| o.id).collect();
    let excerpt_counts: Counts = excerpts::table
        .inner_join(articles::table)
        .filter(excerpts::outlet_id.eq_any(&ids))
        .filter(is_public(now))
        .group_by(excerpts::outlet_id)
        .select((excerpts::outlet_id, count_star(), latest_effective()))
        .load::<(i64, i64, Option<DateTime<Utc>>)>(conn)
        .await?
        .into_iter()
        .map(|(id, count, latest)| (id, (count, latest)))
        .collect();
    let link_counts: Counts = roundup_links::table
        .inner_join(roundups::table.inner_join(articles::table))
        .filter(roundup_links::outlet_id.eq_any(&ids))
        .filter(is_public(now))
        .group_by(roundup_links::outlet_id)
        .select((roundup_links::outlet_id, count_star(), latest_effective()))
        .load::<(i64, i64, Option<DateTime<Utc>>)>(conn)
        .await?
        .into_iter()
        .map(|(id, count, latest)| (id, (count, latest)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(outlet, updated_at)| {
            let (excerpt_count, quoted_at) =
                excerpt_counts.get(&outlet.id).copied().unwrap_or_default();
            let (link_count, linked_at) = link_counts.get(&outlet.id).copied().unwrap_or_default();
            OutletWithCounts {
                excerpt_count,
                link_count,
                updated_at,
                cited_at: quoted_at.max(linked_at),
                outlet,
            }
        })
        .collect())
}
