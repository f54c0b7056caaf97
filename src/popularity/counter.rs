//! Counting views at line rate: views are added up in memory and written in
//! one additive upsert per flush interval, never one statement per view.
//!
//! Because every write adds to what is stored, any number of instances can
//! flush into one database and the totals are exact sums. A flush that fails
//! because the database is away keeps its batch, under the same id, to be
//! sent again until it is written exactly once; past a bound, new counts are
//! dropped and the drop is counted and logged rather than growing memory
//! without limit. Only a batch the database refuses for what it is (see
//! `Outcome`) is ever dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Text, Timestamptz};
use diesel::QueryResult;
use diesel_async::RunQueryDsl as _;

use super::FastMap;
use crate::db::{DbPool, Failure};

type Batch = Vec<((i64, DateTime<Utc>), i64)>;

/// Pending counts, by article and hour.
pub struct Counter {
    pending: Mutex<FastMap<(i64, DateTime<Utc>), i64>>,
    /// A batch sent but not known to be written, to send again as it is.
    in_doubt: Mutex<Option<InDoubt>>,
    /// One flush at a time, so that a batch in doubt is never sent twice at once.
    flushing: tokio::sync::Mutex<()>,
    max_keys: usize,
    dropped: AtomicU64,
    written: AtomicU64,
}

impl Counter {
    pub fn new(max_keys: usize) -> Self {
        Self {
            pending: Mutex::new(FastMap::default()),
            in_doubt: Mutex::new(None),
            flushing: tokio::sync::Mutex::new(()),
            max_keys,
            dropped: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// Adds one view of the article in the current hour.
    pub fn add(&self, article_id: i64, at: DateTime<Utc>) {
        let hour = at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let len = pending.len();
        match pending.get_mut(&(article_id, hour)) {
            Some(views) => *views += 1,
            None if len < self.max_keys => {
                pending.insert((article_id, hour), 1);
            }
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Views that could not be kept because the pending bound was reached.
    pub fn dropped(&self) -> u64 {
        AtomicU64::load(&self.dropped, Ordering::Relaxed)
    }

    /// Views written to the database so far by this instance.
    pub fn written(&self) -> u64 {
        AtomicU64::load(&self.written, Ordering::Relaxed)
    }

    /// Writes everything pending in one statement (after sending again a
    /// batch in doubt, if any). A batch that fails for a reason retrying can
    /// fix stays in doubt for the next flush, under its id; one the database
    /// refuses for what it holds is dropped and logged (see `Outcome`).
    pub async fn flush(&self, pool: &DbPool) -> Flushed {
        let _one_at_a_time = self.flushing.lock().await;
        let mut flushed = Flushed::default();
        let retry = self
            .in_doubt
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(doubt) = retry {
            if !self.send(pool, doubt, &mut flushed).await {
                let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
                flushed.unwritten += pending.values().sum::<i64>() as u64;
                return flushed;
            }
        }
        let mut batch: Batch = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if pending.is_empty() {
                return flushed;
            }
            std::mem::take(&mut *pending).into_iter().collect()
        };
        // Instances that upsert shared rows in one order cannot deadlock on them.
        batch.sort_unstable_by_key(|(key, _)| *key);
        let doubt = InDoubt {
            id: batch_id(),
            batch,
            conflicts: 0,
        };
        self.send(pool, doubt, &mut flushed).await;
        flushed
    }

    /// Sends one batch, adding its views to what `flushed` wrote or did not;
    /// true when written.
    async fn send(&self, pool: &DbPool, mut doubt: InDoubt, flushed: &mut Flushed) -> bool {
        let total: i64 = doubt.batch.iter().map(|(_, views)| views).sum();
        let rows = doubt.batch.len();
        let cause = match write(pool, &doubt.id, &doubt.batch).await {
            Ok(()) => {
                self.written.fetch_add(total as u64, Ordering::Relaxed);
                flushed.written += total as u64;
                return true;
            }
            Err(Outcome::Retry(cause)) => cause,
            Err(Outcome::Conflict(cause)) if doubt.conflicts < MAX_CONFLICTS => {
                doubt.conflicts += 1;
                cause
            }
            Err(Outcome::Conflict(cause) | Outcome::Refused(cause)) => {
                log::error!(
                    "dropping {total} views ({rows} article-hours) of batch {} that the \
                     database refuses: {cause}",
                    doubt.id
                );
                self.dropped.fetch_add(total as u64, Ordering::Relaxed);
                flushed.unwritten += total as u64;
                return false;
            }
        };
        log::warn!(
            "views not written yet, keeping {total} ({rows} article-hours) of batch {} \
             for the next flush: {cause}",
            doubt.id
        );
        *self.in_doubt.lock().unwrap_or_else(|e| e.into_inner()) = Some(doubt);
        flushed.unwritten += total as u64;
        false
    }
}

/// What one flush did, in views.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flushed {
    /// Written to the database.
    pub written: u64,
    /// Not written: kept for the next flush, or dropped when the database refused them.
    pub unwritten: u64,
}

impl Flushed {
    /// True when nothing that was pending is left unwritten.
    pub fn is_complete(self) -> bool {
        self.unwritten == 0
    }
}

/// A batch that was sent and may or may not have been written. Its id makes
/// sending it again safe: the statement that adds its counts also claims the
/// id in `view_flushes`, so a batch that was written adds nothing the second time.
struct InDoubt {
    id: String,
    batch: Batch,
    /// How many times the database has answered it with a conflict.
    conflicts: u32,
}

/// How often a batch answered with a conflict is sent again before it is dropped.
const MAX_CONFLICTS: u32 = 3;

/// Why a batch was not written, and so whether to send it again.
enum Outcome {
    /// Sending again can succeed: no connection, a connection lost mid-write
    /// (whether the batch was written is unknown), the database stopping,
    /// restarting or out of resources, a statement timeout, a deadlock or a
    /// serialization failure. Kept for as long as it takes.
    Retry(Cause),
    /// An integrity conflict: an article deleted while its views were being
    /// written breaks the foreign key, and the next attempt leaves it out.
    /// Sent again a few times, then dropped: a conflict that persists would
    /// hold back every later batch.
    Conflict(Cause),
    /// The database refuses the statement for what it is: a value it cannot
    /// take (a CHECK, NOT NULL or data exception, such as a count overflowing
    /// a bigint) or a bug (a schema that does not match this build). The same
    /// statement would be refused again, so the batch is dropped.
    Refused(Cause),
}

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A batch id unique across instances and restarts.
fn batch_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without randomness, time and address still make a collision unlikely.
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        bytes[..8].copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn write(
    pool: &DbPool,
    id: &str,
    batch: &[((i64, DateTime<Utc>), i64)],
) -> Result<(), Outcome> {
    // Nothing was sent without a connection, whatever the reason.
    let mut conn = pool
        .get()
        .await
        .map_err(|error| Outcome::Retry(error.into()))?;
    // One statement: the batch id is claimed and the counts added together,
    // so a retried batch that already committed adds nothing.
    AddViews {
        batch: id,
        articles: batch.iter().map(|((id, _), _)| *id).collect(),
        hours: batch.iter().map(|((_, hour), _)| *hour).collect(),
        views: batch.iter().map(|(_, views)| *views).collect(),
    }
    .execute(&mut conn)
    .await
    .map(drop)
    .map_err(|error| match Failure::of(&error) {
        Failure::Unavailable => Outcome::Retry(error.into()),
        Failure::Conflict => Outcome::Conflict(error.into()),
        Failure::Invalid | Failure::BadInput | Failure::Bug => Outcome::Refused(error.into()),
    })
}

/// The flush statement as a query type of its own, so that each connection
/// prepares it once. diesel never keeps a `sql_query` prepared: every flush
/// would be prepared again first, two round trips and two transactions
/// instead of one.
struct AddViews<'a> {
    batch: &'a str,
    articles: Vec<i64>,
    hours: Vec<DateTime<Utc>>,
    views: Vec<i64>,
}

impl QueryId for AddViews<'_> {
    type QueryId = AddViews<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for AddViews<'_> {
    // The join drops counts of articles deleted since they were viewed,
    // which would otherwise fail the whole batch on the foreign key.
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("WITH claimed AS (INSERT INTO view_flushes (batch) VALUES (");
        out.push_bind_param::<Text, _>(self.batch)?;
        out.push_sql(
            ") ON CONFLICT DO NOTHING RETURNING batch) \
             INSERT INTO view_counts (article_id, granularity, bucket_start, views) \
             SELECT t.article_id, 'hour', t.bucket_start, t.views FROM unnest(",
        );
        out.push_bind_param::<Array<BigInt>, _>(&self.articles)?;
        out.push_sql("::int8[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.hours)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<BigInt>, _>(&self.views)?;
        out.push_sql(
            "::int8[]) AS t(article_id, bucket_start, views) \
             JOIN articles ON articles.id = t.article_id \
             WHERE EXISTS (SELECT 1 FROM claimed) \
             ON CONFLICT (article_id, granularity, bucket_start) \
             DO UPDATE SET views = view_counts.views + EXCLUDED.views",
        );
        Ok(())
    }
}

/// Rolls hourly buckets older than `keep_hours_for` into daily ones, so that
/// storage grows with days rather than views. Additive, so safe to run from
/// several instances at once: each hourly row is deleted exactly once.
pub async fn roll_up(
    pool: &DbPool,
    keep_hours_for: TimeDelta,
) -> Result<usize, crate::error::AppError> {
    let mut conn = pool.get().await?;
    let cutoff = (Utc::now() - keep_hours_for)
        .duration_trunc(TimeDelta::days(1))
        .unwrap_or_else(|_| Utc::now() - keep_hours_for);
    // One statement; the unreferenced `forgotten` runs all the same, and
    // forgets batch ids: a batch is retried within seconds, a day is ample.
    let moved = diesel::sql_query(
        "WITH forgotten AS (DELETE FROM view_flushes WHERE flushed_at < now() - interval '1 day'), \
         moved AS ( \
             DELETE FROM view_counts WHERE granularity = 'hour' AND bucket_start < $1 \
             RETURNING article_id, date_trunc('day', bucket_start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS day, views) \
         INSERT INTO view_counts (article_id, granularity, bucket_start, views) \
         SELECT article_id, 'day', day, SUM(views) FROM moved GROUP BY article_id, day \
         ON CONFLICT (article_id, granularity, bucket_start) \
         DO UPDATE SET views = view_counts.views + EXCLUDED.views",
    )
    .bind::<Timestamptz, _>(cutoff)
    .execute(&mut conn)
    .await?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_add_up_per_article_and_hour_and_the_bound_drops_new_keys() {
        let counter = Counter::new(2);
        let now = Utc::now();
        counter.add(1, now);
        counter.add(1, now);
        counter.add(2, now);
        counter.add(3, now);
        let pending = counter.pending.lock().unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(pending.values().sum::<i64>(), 3);
        assert_eq!(counter.dropped(), 1);
    }
}
