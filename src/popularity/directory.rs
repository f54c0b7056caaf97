//! Which slugs a beacon may count, without a query per view.
//!
//! A slug is looked up at its first view and remembered. The engine's clock
//! re-reads every remembered public article in one statement (`revalidate`),
//! so that a steady stream of views costs no statement of its own however
//! many articles it touches; slugs that named nothing public are forgotten
//! then, and looked up again at their next view (a flood of bad slugs costs
//! one query per slug per interval).

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::FastMap;
use crate::db::DbPool;
use crate::error::AppError;
use crate::params;
use crate::schema::articles;
use crate::visibility::PUBLISHED;

/// More remembered slugs than this and the directory starts again empty.
const MAX_ENTRIES: usize = 200_000;

/// A published article's id and publication time (which may be ahead: a
/// scheduled article counts from the moment it appears), or `None` for a
/// slug that names nothing published.
type Entry = Option<(i64, DateTime<Utc>)>;

#[derive(Default)]
pub struct Directory {
    entries: RwLock<FastMap<String, Entry>>,
    /// Held while a slug is looked up (by slug, in stripes), so that the
    /// views of a slug not yet known that arrive together (every connection
    /// of a busy client at start, say) send one lookup, not one each.
    looking_up: [tokio::sync::Mutex<()>; STRIPES],
}

const STRIPES: usize = 16;

impl Directory {
    /// The id of the article with this slug if it is public at `now`. Any
    /// text may be asked for: what is not a slug is never looked up.
    pub async fn public_id(
        &self,
        pool: &DbPool,
        slug: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, AppError> {
        let found = match self.known(slug) {
            Some(entry) => entry,
            // Checked only here: a remembered slug was checked when first seen.
            None if !params::is_slug(slug) => None,
            None => {
                let _one_lookup = self.looking_up[stripe(slug)].lock().await;
                match self.known(slug) {
                    Some(entry) => entry,
                    None => self.look_up(pool, slug).await?,
                }
            }
        };
        Ok(found
            .filter(|(_, published_at)| *published_at <= now)
            .map(|(id, _)| id))
    }

    fn known(&self, slug: &str) -> Option<Entry> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(slug).copied()
    }

    async fn look_up(&self, pool: &DbPool, slug: &str) -> Result<Entry, AppError> {
        let mut conn = pool.get().await?;
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
        entries.insert(slug.to_string(), found);
        Ok(found)
    }

    /// Re-reads every remembered public article in one statement: one
    /// unpublished, deleted or renamed since is forgotten, as are the slugs
    /// that named nothing (to be looked up again at their next view).
    pub async fn revalidate(&self, pool: &DbPool) -> Result<(), AppError> {
        let slugs: Vec<String> = {
            let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
            let found = entries.iter().filter(|(_, entry)| entry.is_some());
            found.map(|(slug, _)| slug.clone()).collect()
        };
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = if slugs.is_empty() {
            Vec::new()
        } else {
            let mut conn = pool.get().await?;
            articles::table
                .filter(articles::slug.eq_any(&slugs))
                .filter(articles::status.eq(PUBLISHED))
                .select((articles::slug, articles::id, articles::published_at))
                .load(&mut conn)
                .await?
        };
        let fresh: HashMap<String, Entry> = rows
            .into_iter()
            .filter_map(|(slug, id, at)| Some((slug, Some((id, at?)))))
            .collect();
        // Slugs first found while the statement ran stay as they were found.
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, entry| entry.is_some());
        for slug in &slugs {
            entries.remove(slug);
        }
        entries.extend(fresh);
        Ok(())
    }
}

fn stripe(slug: &str) -> usize {
    slug.bytes().fold(0usize, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(usize::from(byte))
    }) % STRIPES
}
