//! Every query of webhooks: the admin's reads and writes, the engine's
//! claims on a webhook (a lease in its row, never a transaction held across
//! a delivery) and its records of attempts. The change log itself is read
//! through its own queries (`changes::queries::walk`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::schema::{webhook_deliveries, webhook_redeliveries, webhooks};

/// A webhook as stored.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<String>,
    pub audience: String,
    pub secret: String,
    pub active: bool,
    pub last_delivered_event_id: i64,
    pub attempts: i32,
    pub failing_since: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub given_up_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub lease_token: Option<i64>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a create stores.
#[derive(Debug, Insertable)]
#[diesel(table_name = webhooks)]
pub struct NewWebhookRow {
    pub url: String,
    pub event_types: Vec<String>,
    pub audience: String,
    pub secret: String,
    pub active: bool,
    pub last_delivered_event_id: i64,
}

/// What a patch changes; `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhooks)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub audience: Option<String>,
    pub secret: Option<String>,
    pub active: Option<bool>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One attempt as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub attempt: i32,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
    pub attempted_at: DateTime<Utc>,
    pub redelivery: bool,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewWebhookRow) -> QueryResult<WebhookRow> {
    diesel::insert_into(webhooks::table)
        .values(new)
        .returning(WebhookRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// The webhook, locked until the transaction ends.
pub async fn lock(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Up to `limit` webhooks after id `after`, by id.
pub async fn page(
    conn: &mut AsyncPgConnection,
    after: Option<i64>,
    limit: u32,
) -> QueryResult<Vec<WebhookRow>> {
    webhooks::table
        .filter(webhooks::id.gt(after.unwrap_or(0)))
        .order(webhooks::id)
        .limit(i64::from(limit) + 1)
        .select(WebhookRow::as_select())
        .load(conn)
        .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: i64,
    changes: &WebhookChanges,
) -> QueryResult<WebhookRow> {
    diesel::update(webhooks::table.find(id))
        .set(changes)
        .returning(WebhookRow::as_returning())
        .get_result(conn)
        .await
}

/// Activates a webhook that gave up: the event it held is tried again now,
/// counting attempts afresh.
pub async fn resume(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::given_up_at.eq(None::<DateTime<Utc>>),
            webhooks::failing_since.eq(None::<DateTime<Utc>>),
            webhooks::next_attempt_at.eq(None::<DateTime<Utc>>),
            webhooks::attempts.eq(0),
        ))
        .execute(conn)
        .await
        .map(drop)
}

pub async fn delete(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<usize> {
    diesel::delete(webhooks::table.find(id)).execute(conn).await
}

/// Up to `limit` + 1 attempts of a webhook before id `before`, newest first.
pub async fn deliveries(
    conn: &mut AsyncPgConnection,
    webhook: i64,
    before: Option<i64>,
    limit: u32,
) -> QueryResult<Vec<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::id.lt(before.unwrap_or(i64::MAX)))
        .order(webhook_deliveries::id.desc())
        .limit(i64::from(limit) + 1)
        .select(DeliveryRow::as_select())
        .load(conn)
        .await
}

pub async fn find_delivery(
    conn: &mut AsyncPgConnection,
    webhook: i64,
    id: i64,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook))
        .filter(webhook_deliveries::id.eq(id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Queues one more delivery of an event, outside the ordered stream.
pub async fn queue_redelivery(
    conn: &mut AsyncPgConnection,
    webhook: i64,
    event: i64,
) -> QueryResult<()> {
    diesel::insert_into(webhook_redeliveries::table)
        .values((
            webhook_redeliveries::webhook_id.eq(webhook),
            webhook_redeliveries::event_id.eq(event),
        ))
        .execute(conn)
        .await
        .map(drop)
}

// The engine's side.

/// Claims up to `limit` webhooks that have events to deliver, are due, and
/// that no live claim holds: each is then this instance's until `lease_ms`
/// from now, under `token`. Rows another instance is claiming are skipped,
/// not waited for.
pub async fn claim(
    conn: &mut AsyncPgConnection,
    token: i64,
    lease_ms: i64,
    limit: i64,
) -> QueryResult<Vec<WebhookRow>> {
    diesel::sql_query(
        "UPDATE webhooks w
            SET lease_token = $1,
                lease_until = clock_timestamp() + $2 * interval '1 millisecond'
          WHERE w.id IN (
                SELECT id FROM webhooks
                 WHERE active AND given_up_at IS NULL
                   AND (lease_until IS NULL OR lease_until < clock_timestamp())
                   AND (next_attempt_at IS NULL OR next_attempt_at <= clock_timestamp())
                   AND last_delivered_event_id < (SELECT last_seq FROM change_log_head)
                 ORDER BY id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
        RETURNING w.*",
    )
    .bind::<BigInt, _>(token)
    .bind::<BigInt, _>(lease_ms)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// The webhook, locked, if `token` still holds its claim.
pub async fn lock_claimed(
    conn: &mut AsyncPgConnection,
    id: i64,
    token: i64,
) -> QueryResult<Option<WebhookRow>> {
    webhooks::table
        .find(id)
        .filter(webhooks::lease_token.eq(token))
        .select(WebhookRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Gives up the claim, if `token` still holds it.
pub async fn release(conn: &mut AsyncPgConnection, id: i64, token: i64) -> QueryResult<()> {
    diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::lease_token.eq(token)),
    )
    .set((
        webhooks::lease_token.eq(None::<i64>),
        webhooks::lease_until.eq(None::<DateTime<Utc>>),
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// Moves the cursor past events that do not concern the webhook, while
/// `token` holds its claim.
pub async fn skip_to(
    conn: &mut AsyncPgConnection,
    id: i64,
    token: i64,
    event: i64,
) -> QueryResult<bool> {
    diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::lease_token.eq(token))
            .filter(webhooks::last_delivered_event_id.lt(event)),
    )
    .set(webhooks::last_delivered_event_id.eq(event))
    .execute(conn)
    .await
    .map(|updated| updated == 1)
}

/// The id the next recorded attempt will have.
pub async fn next_delivery_id(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    diesel::sql_query("SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id')) AS id")
        .get_result::<Next>(conn)
        .await
        .map(|next| next.id)
}

pub async fn record(conn: &mut AsyncPgConnection, delivery: &DeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(delivery)
        .execute(conn)
        .await
        .map(drop)
}

/// After a delivery of the event after the cursor succeeded: the cursor
/// moves to it and the webhook is healthy; the claim is renewed.
pub async fn delivered(
    conn: &mut AsyncPgConnection,
    id: i64,
    event: i64,
    lease_ms: i64,
) -> QueryResult<WebhookRow> {
    diesel::sql_query(
        "UPDATE webhooks
            SET last_delivered_event_id = greatest(last_delivered_event_id, $2),
                attempts = 0, failing_since = NULL, next_attempt_at = NULL, last_error = NULL,
                lease_until = clock_timestamp() + $3 * interval '1 millisecond'
          WHERE id = $1
        RETURNING *",
    )
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(event)
    .bind::<BigInt, _>(lease_ms)
    .get_result(conn)
    .await
}

/// After a failed attempt: when the next one is due, or that the webhook
/// gave up (`given_up`); the claim is released either way.
pub async fn failed(
    conn: &mut AsyncPgConnection,
    id: i64,
    attempts: i32,
    failing_since: DateTime<Utc>,
    error: &str,
    next_attempt_at: Option<DateTime<Utc>>,
    given_up: Option<DateTime<Utc>>,
) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::attempts.eq(attempts),
            webhooks::failing_since.eq(Some(failing_since)),
            webhooks::last_error.eq(Some(error)),
            webhooks::next_attempt_at.eq(next_attempt_at),
            webhooks::given_up_at.eq(given_up),
            webhooks::active.eq(given_up.is_none()),
            webhooks::lease_token.eq(None::<i64>),
            webhooks::lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
        .await
        .map(drop)
}

/// A redelivery asked for, with the webhook it goes to.
#[derive(Debug, Clone, QueryableByName)]
pub struct ClaimedRedelivery {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub webhook_id: i64,
    #[diesel(sql_type = BigInt)]
    pub event_id: i64,
}

/// Claims up to `limit` redeliveries no live claim holds.
pub async fn claim_redeliveries(
    conn: &mut AsyncPgConnection,
    token: i64,
    lease_ms: i64,
    limit: i64,
) -> QueryResult<Vec<ClaimedRedelivery>> {
    diesel::sql_query(
        "UPDATE webhook_redeliveries r
            SET lease_token = $1,
                lease_until = clock_timestamp() + $2 * interval '1 millisecond'
          WHERE r.id IN (
                SELECT id FROM webhook_redeliveries
                 WHERE lease_until IS NULL OR lease_until < clock_timestamp()
                 ORDER BY id
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED)
        RETURNING r.id, r.webhook_id, r.event_id",
    )
    .bind::<BigInt, _>(token)
    .bind::<BigInt, _>(lease_ms)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Removes a redelivery made, if `token` still holds it; whether it did.
pub async fn finish_redelivery(
    conn: &mut AsyncPgConnection,
    id: i64,
    token: i64,
) -> QueryResult<bool> {
    diesel::delete(
        webhook_redeliveries::table
            .find(id)
            .filter(webhook_redeliveries::lease_token.eq(token)),
    )
    .execute(conn)
    .await
    .map(|deleted| deleted == 1)
}
