//! Which slugs a beacon may count, without a query per view: public articles
//! are looked up once and remembered briefly; slugs that name nothing public
//! are remembered too, so a flood of bad slugs costs one query per slug. An
//! entry that expires under load is looked up once, not once per request in
//! flight: the others go on with what was known until the lookup lands.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::DbPool;
use crate::error::AppError;
use crate::schema::articles;
use crate::visibility::PUBLISHED;

/// How long a lookup is trusted. An unpublished article may be counted for up
/// to this long after it disappears (and while the lookup replacing the entry
/// runs); a new one is found at its first view.
const FOUND_FOR: Duration = Duration::from_secs(60);
const MISSING_FOR: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 200_000;

type Entry = (Option<(i64, DateTime<Utc>)>, Instant);

#[derive(Default)]
pub struct Directory {
    entries: RwLock<HashMap<String, Entry>>,
    /// Held while an expired entry is looked up again (by slug, in stripes):
    /// under load an entry expires with many requests for it in flight, and
    /// those that find the lookup under way go on with what was known rather
    /// than each sending the same query.
    refreshing: [tokio::sync::Mutex<()>; STRIPES],
}

const STRIPES: usize = 16;

impl Directory {
    /// The id of the article with this slug if it is public at `now`.
    pub async fn public_id(
        &self,
        pool: &DbPool,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, AppError> {
        let cached = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(slug)
            .copied();
        let found = match cached {
            Some((found, at))
                if at.elapsed()
                    < if found.is_some() {
                        FOUND_FOR
                    } else {
                        MISSING_FOR
                    } =>
            {
                found
            }
            Some((known, _)) => match self.refreshing[stripe(slug)].try_lock() {
                Ok(_refreshing) => self.look_up(pool, slug).await?,
                Err(_) => known,
            },
            None => self.look_up(pool, slug).await?,
        };
        Ok(found
            .filter(|(_, published_at)| *published_at <= now)
            .map(|(id, _)| id))
    }

    async fn look_up(
        &self,
        pool: &DbPool,
        slug: &str,
    ) -> Result<Option<(i64, DateTime<Utc>)>, AppError> {
        let mut conn = pool.get().await?;
        // Scheduled articles are kept with their time, so that they
        // count from the moment they appear.
        let found: Option<(i64, Option<DateTime<Utc>>)> = articles::table
            .filter(articles::slug.eq(slug))
            .filter(articles::status.eq(PUBLISHED))
            .select((articles::id, articles::published_at))
            .first(&mut conn)
            .await
            .optional()?;
        let found = found.and_then(|(id, at)| at.map(|at| (id, at)));
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(slug.to_string(), (found, Instant::now()));
        Ok(found)
    }
}

fn stripe(slug: &str) -> usize {
    slug.bytes().fold(0usize, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(usize::from(byte))
    }) % STRIPES
}
