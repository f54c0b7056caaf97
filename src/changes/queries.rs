//! The change log's queries. Positions (`seq`) are handed out at commit, so
//! a reader sees an event only once every smaller position is visible too.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::Reader;
use crate::schema::changes;

/// A committed event, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = changes)]
pub struct ChangeRow {
    pub seq: Option<i64>,
    pub kind: String,
    pub resource_id: i64,
    pub article_id: Option<i64>,
    pub slug: Option<String>,
    pub previous_slug: Option<String>,
    pub action: Option<String>,
    pub visible: Option<bool>,
    pub etag: Option<String>,
    pub committed_at: Option<DateTime<Utc>>,
}

/// Which events a walk along the log reads: those after `since` that
/// `reader` may see, up to `until` when it is given, of `types` when any
/// are named (`kind.action`).
#[derive(Debug, Clone, Copy)]
pub struct Walk<'a> {
    pub since: i64,
    pub reader: Reader,
    pub until: Option<i64>,
    pub types: &'a [String],
}

impl Walk<'_> {
    /// Every event after `since` that `reader` may see.
    pub fn after(since: i64, reader: Reader) -> Self {
        Self {
            since,
            reader,
            until: None,
            types: &[],
        }
    }
}

/// Up to `limit` events of the walk, in commit order. The public's walk
/// uses the index of public events, so the editors' own events cost it
/// nothing.
pub async fn walk(
    conn: &mut AsyncPgConnection,
    walk: Walk<'_>,
    limit: u32,
) -> QueryResult<Vec<ChangeRow>> {
    let mut query = changes::table
        .filter(changes::seq.gt(walk.since))
        .order(changes::seq)
        .limit(i64::from(limit))
        .select(ChangeRow::as_select())
        .into_boxed();
    if walk.reader == Reader::Public {
        query = query.filter(changes::public.eq(true));
    }
    if let Some(until) = walk.until {
        query = query.filter(changes::seq.le(until));
    }
    if !walk.types.is_empty() {
        query = query.filter(
            diesel::dsl::sql::<Bool>("(kind || '.' || action) = ANY(")
                .bind::<Array<Text>, _>(walk.types.to_vec())
                .sql(")"),
        );
    }
    query.load(conn).await
}

/// One committed event, by its id.
pub async fn event(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<ChangeRow>> {
    changes::table
        .filter(changes::seq.eq(id))
        .select(ChangeRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The id of the latest event: where a reader that wants only what happens
/// from now on starts.
pub async fn latest(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT last_seq FROM change_log_head")
        .get_result::<LastSeq>(conn)
        .await
        .map(|head| head.last_seq)
}

#[derive(QueryableByName)]
struct LastSeq {
    #[diesel(sql_type = BigInt)]
    last_seq: i64,
}

/// A resource this transaction changed, staged until commit.
#[derive(Debug, QueryableByName)]
pub struct Staged {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub resource_id: i64,
}

/// What this transaction has changed so far.
pub async fn staged(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Staged>> {
    diesel::sql_query(
        "SELECT id, kind, resource_id FROM changes \
          WHERE tx = pg_current_xact_id() AND seq IS NULL ORDER BY id",
    )
    .load(conn)
    .await
}

/// Notes the public representations' ETags on staged events, each at the
/// same index as its event's id, in one statement.
pub async fn set_etags(
    conn: &mut AsyncPgConnection,
    ids: Vec<i64>,
    etags: Vec<String>,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE changes SET etag = tagged.etag \
           FROM unnest($1, $2) AS tagged (id, etag) WHERE changes.id = tagged.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Text>, _>(etags)
    .execute(conn)
    .await
    .map(drop)
}

/// Stages the publication of every scheduled post whose time has come; how
/// many. Runs in the caller's transaction.
pub async fn announce_due(conn: &mut AsyncPgConnection) -> QueryResult<i32> {
    diesel::sql_query("SELECT announce_due_publications() AS announced")
        .get_result::<Announced>(conn)
        .await
        .map(|row| row.announced)
}

/// Whether a scheduled post's time has come, so the announcer has work.
pub async fn any_due(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM scheduled_publications \
                         WHERE due_at <= clock_timestamp()) AS due",
    )
    .get_result::<Due>(conn)
    .await
    .map(|row| row.due)
}

#[derive(QueryableByName)]
struct Announced {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    announced: i32,
}

#[derive(QueryableByName)]
struct Due {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    due: bool,
}
