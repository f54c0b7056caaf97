//! Which slugs a beacon may count, without a query per view: public articles
//! are looked up once and remembered briefly; slugs that name nothing public
//! are remembered too, so a flood of bad slugs costs one query per slug.

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
/// to this long after it disappears; a new one is found at its first view.
const FOUND_FOR: Duration = Duration::from_secs(60);
const MISSING_FOR: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 200_000;

type Entry = (Option<(i64, DateTime<Utc>)>, Instant);

#[derive(Default)]
pub struct Directory {
    entries: RwLock<HashMap<String, Entry>>,
}

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
            _ => {
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
                found
            }
        };
        Ok(found
            .filter(|(_, published_at)| *published_at <= now)
            .map(|(id, _)| id))
    }
}
