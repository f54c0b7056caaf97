//! Outlet writes. Each runs inside the caller's transaction; none commits.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use serde_json::Value;

use super::commands::NewOutlet;
use super::queries::{self, OutletRow};
use super::views::Outlet;
use crate::editing::{self, Check, Guarded, Patchable};
use crate::error::AppError;
use crate::schema::{excerpts, outlets, roundup_links};

/// Writes lock the outlet by its slug, which keeps excerpts and links from
/// starting to cite it meanwhile, and check `If-Match` against the outlet.
impl Guarded for OutletRow {
    type Key = String;
    type View = Outlet;
    const WHAT: &'static str = "outlet";

    async fn lock(conn: &mut AsyncPgConnection, slug: &String) -> QueryResult<Option<Self>> {
        outlets::table
            .filter(outlets::slug.eq(slug))
            .select(OutletRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()
    }

    async fn view(
        &self,
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
    ) -> Result<Outlet, AppError> {
        view(conn, &self.slug, now).await
    }
}

/// A patch may change every member of an outlet, its slug too.
impl Patchable for OutletRow {
    type Members = NewOutlet;
    type Cites = editing::CitesNothing;
    const FIELDS: &'static [&'static str] = &super::commands::FIELDS;
    const CHECK: Check = NewOutlet::check;

    fn members(current: &Outlet) -> Result<Value, AppError> {
        NewOutlet::document(current)
    }

    async fn write(
        &self,
        conn: &mut AsyncPgConnection,
        outlet: NewOutlet,
        now: DateTime<Utc>,
    ) -> Result<Outlet, AppError> {
        diesel::update(outlets::table.find(self.id))
            .set((
                outlets::slug.eq(&outlet.slug),
                outlets::name.eq(&outlet.name),
                outlets::home_url.eq(&outlet.home_url),
                // Spelled out: the derived changeset would skip a null.
                outlets::country_code.eq(&outlet.country_code),
                outlets::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        view(conn, &outlet.slug, now).await
    }
}

/// The outlet with its citation counts, inside the transaction that wrote it.
pub async fn view(
    conn: &mut AsyncPgConnection,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<Outlet, AppError> {
    queries::find(conn, slug, now)
        .await?
        .map(Outlet::from)
        .ok_or_else(|| editing::vanished("outlet", slug))
}

pub async fn insert(conn: &mut AsyncPgConnection, outlet: &NewOutlet) -> QueryResult<()> {
    diesel::insert_into(outlets::table)
        .values(outlet)
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes the outlet, unless an excerpt or a press link of any article
/// cites it (409). The outlet is locked, so nothing starts citing it meanwhile.
pub async fn delete_uncited(
    conn: &mut AsyncPgConnection,
    outlet: &OutletRow,
) -> Result<(), AppError> {
    let excerpts: i64 = excerpts::table
        .filter(excerpts::outlet_id.eq(outlet.id))
        .count()
        .get_result(conn)
        .await?;
    let links: i64 = roundup_links::table
        .filter(roundup_links::outlet_id.eq(outlet.id))
        .count()
        .get_result(conn)
        .await?;
    if excerpts + links > 0 {
        return Err(AppError::Conflict(format!(
            "`{}` is cited by {excerpts} excerpt(s) and {links} press link(s); \
             change or delete those first",
            outlet.slug
        )));
    }
    diesel::delete(outlets::table.find(outlet.id))
        .execute(conn)
        .await?;
    Ok(())
}

/// The id of the outlet with this slug, which the body was checked to cite;
/// a conflict when it was deleted since.
pub async fn cited_id(conn: &mut AsyncPgConnection, slug: &str) -> Result<i64, AppError> {
    super::queries::id_of(conn, slug)
        .await?
        .ok_or_else(|| AppError::Conflict(format!("the outlet `{slug}` was deleted meanwhile")))
}
