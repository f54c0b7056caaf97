//! Rankings served from memory. A refresher recomputes them on a short
//! interval (10 s by default) and keeps every answer serialized, with its
//! ETag, so a ranking request costs no query and no serialization.
//!
//! Each instance refreshes its own copy from the shared database, so
//! instances agree to within one interval and share no state.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;

use super::queries;
use super::views::{rank, RankedArticle, Ranking, Trending, TrendingArticle, Window};
use crate::articles;
use crate::db::DbPool;
use crate::error::AppError;
use crate::representation::Representation;

pub const MAX_LIMIT: u32 = 50;
/// A tag's ranking stops being refreshed when nobody asked for it this long.
const TAG_IDLE: Duration = Duration::from_secs(600);
/// How deep the previous window is ranked to find where today's leaders were.
const PREVIOUS_DEPTH: u32 = 1000;
/// Fewer views than this in the last day cannot trend: one stray view is not a trend.
pub const TRENDING_FLOOR: i64 = 10;

/// One computed ranking, serialized for every limit from 1 to `MAX_LIMIT`.
struct Computed {
    bodies: Vec<Representation>,
    /// When the computation started; an older one never replaces a newer one.
    as_of: DateTime<Utc>,
    last_asked: Instant,
}

#[derive(Default)]
pub struct Rankings {
    popular: RwLock<HashMap<(Window, Option<String>), Computed>>,
    trending: RwLock<Option<(DateTime<Utc>, Vec<Representation>)>>,
}

impl Rankings {
    /// The popular ranking, serialized; computed now if it is not held yet.
    pub async fn popular(
        &self,
        pool: &DbPool,
        window: Window,
        tag: Option<String>,
        limit: u32,
    ) -> Result<Representation, AppError> {
        let key = (window, tag);
        if let Some(found) = self.held(&key, limit) {
            return Ok(found);
        }
        let mut conn = pool.get().await?;
        let computed = compute_popular(&mut conn, window, key.1.as_deref(), Utc::now()).await?;
        let body = pick(&computed.bodies, limit);
        self.keep(key, computed);
        Ok(body)
    }

    fn held(&self, key: &(Window, Option<String>), limit: u32) -> Option<Representation> {
        let mut held = self.popular.write().unwrap_or_else(|e| e.into_inner());
        let computed = held.get_mut(key)?;
        computed.last_asked = Instant::now();
        Some(pick(&computed.bodies, limit))
    }

    /// The trending ranking, serialized; computed now if it is not held yet.
    pub async fn trending(&self, pool: &DbPool, limit: u32) -> Result<Representation, AppError> {
        if let Some((_, bodies)) = &*self.trending.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(pick(bodies, limit));
        }
        let mut conn = pool.get().await?;
        let now = Utc::now();
        let bodies = compute_trending(&mut conn, now).await?;
        let body = pick(&bodies, limit);
        self.keep_trending(now, bodies);
        Ok(body)
    }

    /// Stores a ranking unless a newer computation of it got there first.
    fn keep(&self, key: (Window, Option<String>), mut computed: Computed) {
        let mut held = self.popular.write().unwrap_or_else(|e| e.into_inner());
        match held.get(&key) {
            Some(old) if old.as_of > computed.as_of => {}
            old => {
                if let Some(old) = old {
                    computed.last_asked = computed.last_asked.max(old.last_asked);
                }
                held.insert(key, computed);
            }
        }
    }

    fn keep_trending(&self, as_of: DateTime<Utc>, bodies: Vec<Representation>) {
        let mut held = self.trending.write().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_none_or(|(old, _)| *old <= as_of) {
            *held = Some((as_of, bodies));
        }
    }

    /// Recomputes every held ranking (and the untagged ones always); drops
    /// tag rankings nobody asked for lately.
    pub async fn refresh(&self, pool: &DbPool) -> Result<(), AppError> {
        let now = Utc::now();
        let mut keys: Vec<(Window, Option<String>)> = {
            let mut held = self.popular.write().unwrap_or_else(|e| e.into_inner());
            held.retain(|(_, tag), computed| {
                tag.is_none() || computed.last_asked.elapsed() < TAG_IDLE
            });
            held.keys().cloned().collect()
        };
        for window in Window::ALL {
            if !keys.contains(&(window, None)) {
                keys.push((window, None));
            }
        }
        let mut conn = pool.get().await?;
        let mut fresh = HashMap::with_capacity(keys.len());
        for (window, tag) in keys {
            let computed = compute_popular(&mut conn, window, tag.as_deref(), now).await?;
            fresh.insert((window, tag), computed);
        }
        let trending = compute_trending(&mut conn, now).await?;
        for (key, computed) in fresh {
            self.keep(key, computed);
        }
        self.keep_trending(now, trending);
        Ok(())
    }
}

fn pick(bodies: &[Representation], limit: u32) -> Representation {
    let index = (limit.clamp(1, MAX_LIMIT) - 1) as usize;
    let body = &bodies[index.min(bodies.len() - 1)];
    Representation {
        body: body.body.clone(),
        etag: body.etag.clone(),
    }
}

/// Serializes `make(limit)` for every limit.
fn serialize_all<T: serde::Serialize>(
    make: impl Fn(usize) -> T,
) -> Result<Vec<Representation>, AppError> {
    (1..=MAX_LIMIT as usize)
        .map(|limit| Representation::of(&make(limit)))
        .collect()
}

async fn compute_popular(
    conn: &mut AsyncPgConnection,
    window: Window,
    tag: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Computed, AppError> {
    let rows = queries::top(conn, window.since(now), None, tag, MAX_LIMIT, now).await?;
    let previous = match window.length() {
        Some(length) => {
            let until = now - length;
            let earlier = queries::top(
                conn,
                Some(until - length),
                Some(until),
                tag,
                PREVIOUS_DEPTH,
                now,
            )
            .await?;
            let views: Vec<i64> = earlier.iter().map(|(_, views)| *views).collect();
            earlier
                .iter()
                .zip(competition_ranks(&views))
                .map(|((row, _), rank)| (row.id, rank))
                .collect()
        }
        None => HashMap::new(),
    };
    let ids: Vec<i64> = rows.iter().map(|(row, _)| row.id).collect();
    let (rows, views): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let summaries = articles::summarize(conn, rows, now).await?;
    let ranked: Vec<RankedArticle> = rank(summaries.into_iter().zip(views).collect())
        .into_iter()
        .zip(ids)
        .map(|(mut entry, id)| {
            entry.previous_rank = previous.get(&id).copied();
            entry.rank_change = entry
                .previous_rank
                .map(|before| before as i64 - entry.rank as i64);
            entry
        })
        .collect();
    let tag = tag.map(str::to_string);
    let bodies = serialize_all(|limit| Ranking {
        window,
        tag: tag.clone(),
        generated_at: now,
        data: ranked.iter().take(limit).cloned().collect(),
    })?;
    Ok(Computed {
        bodies,
        as_of: now,
        last_asked: Instant::now(),
    })
}

async fn compute_trending(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
) -> Result<Vec<Representation>, AppError> {
    let rows = queries::trending(conn, TRENDING_FLOOR, MAX_LIMIT, now).await?;
    let ids: Vec<i64> = rows.iter().map(|row| row.article_id).collect();
    let mut found: HashMap<i64, _> = articles::queries::summaries_by_id(conn, &ids)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    // Keep the ranking's order; an article unpublished since the query drops out.
    let (rows, found): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .filter_map(|row| found.remove(&row.article_id).map(|summary| (row, summary)))
        .unzip();
    let summaries = articles::summarize(conn, found, now).await?;
    let entries: Vec<TrendingArticle> = rows
        .into_iter()
        .zip(summaries)
        .enumerate()
        .map(|(index, (row, article))| {
            let average = row.before as f64 / 7.0;
            TrendingArticle {
                rank: index as u32 + 1,
                views_24h: row.recent,
                daily_average_before: (average * 100.0).round() / 100.0,
                ratio: (row.recent as f64 / average.max(1.0) * 100.0).round() / 100.0,
                article,
            }
        })
        .collect();
    serialize_all(|limit| Trending {
        generated_at: now,
        min_views_24h: TRENDING_FLOOR,
        data: entries.iter().take(limit).cloned().collect(),
    })
}

/// Competition ranks ("1224") of a list sorted by views, most first.
pub fn competition_ranks(views: &[i64]) -> Vec<u32> {
    let mut ranks: Vec<u32> = Vec::with_capacity(views.len());
    for (index, count) in views.iter().enumerate() {
        let rank = match (index.checked_sub(1), ranks.last()) {
            (Some(previous), Some(rank)) if views[previous] == *count => *rank,
            _ => index as u32 + 1,
        };
        ranks.push(rank);
    }
    ranks
}
