//! The delivery engine, which every instance runs: it claims webhooks with
//! events waiting (a lease in the row, `FOR UPDATE SKIP LOCKED`), delivers
//! each webhook's events one at a time in log order, and records every
//! attempt and the cursor's move in one transaction that checks the claim
//! is still its own. Nothing lives only in one instance: a killed
//! instance's claims run out and any instance resumes from the cursor, so
//! delivery is at least once and in order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use tokio::sync::watch;

use super::outbound::{Attempt, Headers, Outbound};
use super::queries::{self, ClaimedRedelivery, DeliveryRow, WebhookRow};
use super::settings::WebhookSettings;
use super::WebhookAudience;
use crate::changes::queries::{self as changes_log, Walk};
use crate::changes::Change;
use crate::db::DbPool;
use crate::error::AppError;

/// Webhooks one instance claims per look.
const CLAIMS_PER_POLL: i64 = 16;

/// The running engine; dropping it (or `stop`) ends its work.
pub struct Engine {
    stop: watch::Sender<bool>,
}

impl Engine {
    /// Stops claiming; deliveries in flight finish or are abandoned with
    /// their claims, which run out for another instance to resume.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts looking for work every `settings.poll`.
pub fn start(pool: DbPool, settings: WebhookSettings) -> Engine {
    let (stop, stopped) = watch::channel(false);
    match Outbound::new(&settings) {
        Ok(outbound) => {
            tokio::spawn(run(pool, settings, outbound, stopped));
        }
        Err(error) => log::error!("webhooks will not be delivered: no HTTP client: {error}"),
    }
    Engine { stop }
}

async fn run(
    pool: DbPool,
    settings: WebhookSettings,
    outbound: Outbound,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(settings.poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        let worker = Worker {
            pool: pool.clone(),
            settings,
            outbound: outbound.clone(),
            token: match token() {
                Ok(token) => token,
                Err(error) => {
                    log::warn!("webhooks: no randomness for a claim: {error}");
                    continue;
                }
            },
        };
        match worker.claim().await {
            Ok(claimed) => {
                for webhook in claimed {
                    let worker = worker.clone();
                    let stopped = stopped.clone();
                    tokio::spawn(async move {
                        let id = webhook.id;
                        if let Err(error) = worker.deliver_in_order(webhook, stopped).await {
                            log::warn!("webhook {id}: delivery stopped: {error}");
                        }
                    });
                }
            }
            Err(error) => log::warn!("webhooks: cannot claim work: {error}"),
        }
        match worker.claim_redeliveries().await {
            Ok(claimed) => {
                for redelivery in claimed {
                    let worker = worker.clone();
                    tokio::spawn(async move {
                        let id = redelivery.id;
                        if let Err(error) = worker.redeliver(redelivery).await {
                            log::warn!("webhook redelivery {id}: {error}");
                        }
                    });
                }
            }
            Err(error) => log::warn!("webhooks: cannot claim redeliveries: {error}"),
        }
    }
}

/// A random claim token.
fn token() -> Result<i64, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(i64::from_le_bytes(bytes))
}

/// How long to wait before attempt `attempts + 1`: a random time up to
/// `base × 2^(attempts-1)`, capped (exponential backoff, full jitter).
pub fn backoff(settings: &WebhookSettings, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let ceiling = settings
        .retry_base
        .saturating_mul(1u32 << exponent)
        .min(settings.retry_max);
    let mut bytes = [0u8; 8];
    let fraction = match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 1.0,
    };
    ceiling.mul_f64(fraction)
}

#[derive(Clone)]
struct Worker {
    pool: DbPool,
    settings: WebhookSettings,
    outbound: Outbound,
    token: i64,
}

impl Worker {
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings.lease().as_millis()).unwrap_or(i64::MAX)
    }

    async fn claim(&self) -> Result<Vec<WebhookRow>, AppError> {
        let mut conn = self.pool.get().await?;
        Ok(queries::claim(&mut conn, self.token, self.lease_ms(), CLAIMS_PER_POLL).await?)
    }

    async fn claim_redeliveries(&self) -> Result<Vec<ClaimedRedelivery>, AppError> {
        let mut conn = self.pool.get().await?;
        Ok(
            queries::claim_redeliveries(&mut conn, self.token, self.lease_ms(), CLAIMS_PER_POLL)
                .await?,
        )
    }

    /// Delivers the claimed webhook's events from its cursor, one at a
    /// time, until none is left, one fails, or the claim is lost.
    async fn deliver_in_order(
        &self,
        mut webhook: WebhookRow,
        stopped: watch::Receiver<bool>,
    ) -> Result<(), AppError> {
        let audience = WebhookAudience::parse(&webhook.audience);
        loop {
            if *stopped.borrow() || !webhook.active || webhook.given_up_at.is_some() {
                let mut conn = self.pool.get().await?;
                return Ok(queries::release(&mut conn, webhook.id, self.token).await?);
            }
            let mut conn = self.pool.get().await?;
            // Every event up to the head is visible once the head is read:
            // positions are handed out in commit order.
            let head = changes_log::latest(&mut conn).await?;
            let walk = Walk {
                since: webhook.last_delivered_event_id,
                reader: audience.reader(),
                until: Some(head),
                types: &webhook.event_types,
            };
            let next = changes_log::walk(&mut conn, walk, 1).await?.pop();
            let Some(row) = next else {
                queries::skip_to(&mut conn, webhook.id, self.token, head).await?;
                return Ok(queries::release(&mut conn, webhook.id, self.token).await?);
            };
            let seq = row.seq.unwrap_or(head);
            let Some(change) = Change::of(row, audience.reader()) else {
                // A shape no migration writes: nothing a receiver could use.
                if !queries::skip_to(&mut conn, webhook.id, self.token, seq).await? {
                    return Ok(());
                }
                webhook.last_delivered_event_id = seq;
                continue;
            };
            let delivery_id = queries::next_delivery_id(&mut conn).await?;
            drop(conn);
            let attempt = self.attempt(&webhook, &change, delivery_id).await?;
            match self
                .settle(&webhook, &change, delivery_id, &attempt)
                .await?
            {
                Some(updated) => webhook = updated,
                None => return Ok(()),
            }
        }
    }

    /// One POST of `change` to the webhook.
    async fn attempt(
        &self,
        webhook: &WebhookRow,
        change: &Change,
        delivery_id: i64,
    ) -> Result<Attempt, AppError> {
        let body = serde_json::to_vec(change).map_err(AppError::internal)?;
        let headers = Headers {
            id: change.id,
            event_type: &change.event_type,
            delivery_id,
        };
        Ok(self
            .outbound
            .deliver(&webhook.url, &webhook.secret, &body, headers)
            .await)
    }

    /// Records an attempt of the event after the cursor and moves the
    /// cursor, or schedules the retry, or gives up, in one transaction
    /// that holds the claim. `Some` (the webhook now) to go on delivering.
    async fn settle(
        &self,
        webhook: &WebhookRow,
        change: &Change,
        delivery_id: i64,
        attempt: &Attempt,
    ) -> Result<Option<WebhookRow>, AppError> {
        let settings = self.settings;
        let (token, lease_ms) = (self.token, self.lease_ms());
        let now = Utc::now();
        let mut conn = self.pool.get().await?;
        conn.transaction::<_, AppError, _>(|conn| {
            async move {
                let Some(current) = queries::lock_claimed(conn, webhook.id, token).await? else {
                    // Deleted, or another instance took over after our
                    // claim ran out: it delivers from the cursor.
                    return Ok(None);
                };
                let attempts = current.attempts + 1;
                if attempt.delivered {
                    record(conn, current.id, change, delivery_id, attempts, "succeeded", attempt, now, false).await?;
                    let updated = queries::delivered(conn, current.id, change.id, lease_ms).await?;
                    return Ok(Some(updated));
                }
                let error = attempt.error.clone().unwrap_or_else(|| "failed".into());
                let failing_since = current.failing_since.unwrap_or(now);
                let failing_for = (now - failing_since).to_std().unwrap_or_default();
                let (outcome, next, given_up) = if failing_for >= settings.give_up_after {
                    ("given_up", None, Some(now))
                } else {
                    let wait = chrono::Duration::from_std(backoff(&settings, attempts))
                        .unwrap_or(chrono::Duration::zero());
                    ("failed", Some(now + wait), None)
                };
                record(conn, current.id, change, delivery_id, attempts, outcome, attempt, now, false).await?;
                queries::failed(conn, current.id, attempts, failing_since, &error, next, given_up).await?;
                if given_up.is_some() {
                    log::warn!(
                        "webhook {}: gave up on event {} after failing since {failing_since}: {error}",
                        current.id,
                        change.id
                    );
                }
                Ok(None)
            }
            .scope_boxed()
        })
        .await
    }

    /// Delivers a redelivery's event once, outside the ordered stream.
    async fn redeliver(&self, redelivery: ClaimedRedelivery) -> Result<(), AppError> {
        let mut conn = self.pool.get().await?;
        let webhook = queries::find(&mut conn, redelivery.webhook_id).await?;
        let event = changes_log::event(&mut conn, redelivery.event_id).await?;
        let (Some(webhook), Some(row)) = (webhook, event) else {
            queries::finish_redelivery(&mut conn, redelivery.id, self.token).await?;
            return Ok(());
        };
        let audience = WebhookAudience::parse(&webhook.audience);
        let Some(change) = Change::of(row, audience.reader()) else {
            queries::finish_redelivery(&mut conn, redelivery.id, self.token).await?;
            return Ok(());
        };
        let delivery_id = queries::next_delivery_id(&mut conn).await?;
        drop(conn);
        let attempt = self.attempt(&webhook, &change, delivery_id).await?;
        let token = self.token;
        let now = Utc::now();
        let mut conn = self.pool.get().await?;
        conn.transaction::<_, AppError, _>(|conn| {
            async move {
                if queries::finish_redelivery(conn, redelivery.id, token).await? {
                    let outcome = if attempt.delivered {
                        "succeeded"
                    } else {
                        "failed"
                    };
                    record(
                        conn,
                        webhook.id,
                        &change,
                        delivery_id,
                        1,
                        outcome,
                        &attempt,
                        now,
                        true,
                    )
                    .await?;
                }
                Ok(())
            }
            .scope_boxed()
        })
        .await
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "one row's columns, named at the call"
)]
async fn record(
    conn: &mut AsyncPgConnection,
    webhook: i64,
    change: &Change,
    delivery_id: i64,
    attempt_number: i32,
    outcome: &str,
    attempt: &Attempt,
    at: DateTime<Utc>,
    redelivery: bool,
) -> Result<(), AppError> {
    let row = DeliveryRow {
        id: delivery_id,
        webhook_id: webhook,
        event_id: change.id,
        event_type: change.event_type.clone(),
        attempt: attempt_number,
        outcome: outcome.into(),
        status_code: attempt.status_code.map(i32::from),
        error: attempt.error.clone(),
        duration_ms: i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX),
        attempted_at: at,
        redelivery,
    };
    Ok(queries::record(conn, &row).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_grows_with_attempts() {
        let settings = WebhookSettings {
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(1),
            ..WebhookSettings::default()
        };
        for attempts in 1..40 {
            let wait = backoff(&settings, attempts);
            let exponent = (attempts - 1).min(30) as u32;
            let ceiling = Duration::from_millis(100)
                .saturating_mul(1 << exponent)
                .min(Duration::from_secs(1));
            assert!(wait <= ceiling, "{attempts}: {wait:?}");
        }
    }
}
