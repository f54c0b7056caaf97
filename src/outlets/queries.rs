//! Outlet queries. Citation counts only count published, visible articles.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::dsl::count_star;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

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
}

/// Outlets ordered by slug after `after`, `limit + 1` of them.
pub async fn list(
    conn: &mut AsyncPgConnection,
    after: Option<&str>,
    limit: u32,
    now: DateTime<Utc>,
) -> QueryResult<Vec<OutletWithCounts>> {
    let mut query = outlets::table
        .select(OutletRow::as_select())
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
        .select(OutletRow::as_select())
        .load(conn)
        .await?;
    Ok(with_counts(conn, rows, now).await?.pop())
}

/// The id of the outlet with this slug.
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
    rows: Vec<OutletRow>,
    now: DateTime<Utc>,
) -> QueryResult<Vec<OutletWithCounts>> {
    let ids: Vec<i64> = rows.iter().map(|o| o.id).collect();
    let excerpt_counts: HashMap<i64, i64> = excerpts::table
        .inner_join(articles::table)
        .filter(excerpts::outlet_id.eq_any(&ids))
        .filter(is_public(now))
        .group_by(excerpts::outlet_id)
        .select((excerpts::outlet_id, count_star()))
        .load::<(i64, i64)>(conn)
        .await?
        .into_iter()
        .collect();
    let link_counts: HashMap<i64, i64> = roundup_links::table
        .inner_join(roundups::table.inner_join(articles::table))
        .filter(roundup_links::outlet_id.eq_any(&ids))
        .filter(is_public(now))
        .group_by(roundup_links::outlet_id)
        .select((roundup_links::outlet_id, count_star()))
        .load::<(i64, i64)>(conn)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|outlet| OutletWithCounts {
            excerpt_count: excerpt_counts.get(&outlet.id).copied().unwrap_or(0),
            link_count: link_counts.get(&outlet.id).copied().unwrap_or(0),
            outlet,
        })
        .collect())
}
