//! API key storage. Only digests of secrets are ever stored.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{NewKey, Role};
use crate::schema::api_keys;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(Pg))]
pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub secret_hash: Vec<u8>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_keys, check_for_backend(Pg))]
pub struct KeyListing {
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The unrevoked key with this lookup half.
pub async fn find_active(
    conn: &mut AsyncPgConnection,
    lookup: &str,
) -> QueryResult<Option<KeyRow>> {
    api_keys::table
        .filter(api_keys::lookup.eq(lookup))
        .filter(api_keys::revoked_at.is_null())
        .select(KeyRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Records use, at most once a minute per key, so that reads do not become writes.
pub async fn touch(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    let stale = diesel::dsl::sql::<diesel::sql_types::Bool>(
        "(last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
    );
    diesel::update(api_keys::table.filter(api_keys::id.eq(id)).filter(stale))
        .set(api_keys::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    name: &str,
    role: Role,
    key: &NewKey,
) -> QueryResult<()> {
    diesel::insert_into(api_keys::table)
        .values((
            api_keys::name.eq(name),
            api_keys::role.eq(role.as_str()),
            api_keys::lookup.eq(&key.lookup),
            api_keys::secret_hash.eq(&key.secret_hash),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// When the key named `name` was revoked; `None` when it is active or absent.
pub async fn revoked_at(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> QueryResult<Option<DateTime<Utc>>> {
    api_keys::table
        .filter(api_keys::name.eq(name))
        .select(api_keys::revoked_at)
        .first::<Option<DateTime<Utc>>>(conn)
        .await
        .optional()
        .map(Option::flatten)
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<KeyListing>> {
    api_keys::table
        .select(KeyListing::as_select())
        .order(api_keys::name)
        .load(conn)
        .await
}

/// Revokes the named key; false when no unrevoked key has that name.
pub async fn revoke(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<bool> {
    diesel::update(
        api_keys::table
            .filter(api_keys::name.eq(name))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
    .map(|n| n == 1)
}
