//! Rankings served from memory. A refresher recomputes them on a short
//! interval (10 s by default) and keeps every answer serialized, with its
//! ETag, so a ranking request costs no query and no serialization.
//!
//! Each instance refreshes its own copy from the shared database, so
//! instances agree to within one interval and share no state.
//!
//! Within an instance, each worker thread serves the untagged rankings (the
//! ones every frontend asks for) from copies of its own (`Local`): answering
//! from the shared ones took a shared lock and bumped the shared reference
//! counts of the answer's bytes, two cache lines the workers handed back and
//! forth on every request.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::queries::{self, TREND_BASE};
use super::views::{RankedArticle, Ranking, Trending, TrendingArticle, Window};
use super::FastMap;
use crate::articles::views::ArticleSummary;
use crate::db::DbPool;
use crate::error::AppError;
use crate::representation::Representation;
use crate::tags::queries::TagRow;

pub const MAX_LIMIT: u32 = 50;
/// A tag's ranking stops being refreshed when nobody asked for it this long.
const TAG_IDLE: Duration = Duration::from_secs(600);
/// At most this many tags' rankings are held (and refreshed).
const MAX_TAGS: usize = 1000;
/// Fewer views than this in the last day cannot trend: one stray view is not a trend.
pub const TRENDING_FLOOR: i64 = 10;

/// One computed ranking, serialized for every limit from 1 to `MAX_LIMIT`
/// (or to its length, when shorter).
struct Computed {
    bodies: Vec<Representation>,
    /// When the computation started; an older one never replaces a newer one.
    as_of: DateTime<Utc>,
    last_asked: Instant,
}

pub struct Rankings {
    popular: RwLock<FastMap<(Window, Option<String>), Computed>>,
    trending: RwLock<Option<(DateTime<Utc>, Vec<Representation>)>>,
    /// Tells the workers' copies apart from those of another `Rankings` in
    /// the same process (tests run several servers in one).
    id: u64,
    /// Bumped whenever an untagged ranking is stored: the workers' copies
    /// of an older generation are stale.
    generation: AtomicU64,
}

impl Default for Rankings {
    fn default() -> Self {
        static IDS: AtomicU64 = AtomicU64::new(0);
        Self {
            popular: RwLock::default(),
            trending: RwLock::default(),
            id: IDS.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }
}

/// An untagged ranking a worker keeps a copy of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Untagged {
    Popular(Window),
    Trending,
}

/// One worker thread's copies of the untagged answers it has served, all of
/// one generation of one `Rankings`.
#[derive(Default)]
struct Local {
    owner: Option<(u64, u64)>,
    answers: FastMap<(Untagged, u32), Representation>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::default();
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
        // Every window of this tag (or the untagged ones) in one statement.
        let tags: Vec<String> = key.1.iter().cloned().collect();
        self.compute(pool, &tags, key.1.is_none()).await?;
        self.held(&key, limit)
            .ok_or_else(|| AppError::internal("a computed ranking was not kept"))
    }

    fn held(&self, key: &(Window, Option<String>), limit: u32) -> Option<Representation> {
        if key.1.is_none() {
            // Untagged rankings are always held, so nobody needs to know
            // when they were last asked for.
            return self.local(Untagged::Popular(key.0), limit, || {
                let held = self.popular.read().unwrap_or_else(|e| e.into_inner());
                held.get(key).map(|computed| pick(&computed.bodies, limit))
            });
        }
        let mut held = self.popular.write().unwrap_or_else(|e| e.into_inner());
        let computed = held.get_mut(key)?;
        computed.last_asked = Instant::now();
        Some(pick(&computed.bodies, limit))
    }

    /// The trending ranking, serialized; computed now if it is not held yet.
    pub async fn trending(&self, pool: &DbPool, limit: u32) -> Result<Representation, AppError> {
        if let Some(found) = self.held_trending(limit) {
            return Ok(found);
        }
        self.compute(pool, &[], true).await?;
        self.held_trending(limit)
            .ok_or_else(|| AppError::internal("a computed ranking was not kept"))
    }

    fn held_trending(&self, limit: u32) -> Option<Representation> {
        self.local(Untagged::Trending, limit, || {
            let held = self.trending.read().unwrap_or_else(|e| e.into_inner());
            held.as_ref().map(|(_, bodies)| pick(bodies, limit))
        })
    }

    /// This worker's copy of an untagged answer, taken from `shared` when
    /// it has none of the current generation.
    fn local(
        &self,
        ranking: Untagged,
        limit: u32,
        shared: impl FnOnce() -> Option<Representation>,
    ) -> Option<Representation> {
        // Read before the shared answer is: a store that lands in between
        // only makes the copy newer than its generation, never older.
        let owner = Some((self.id, self.generation.load(Ordering::Acquire)));
        LOCAL.with_borrow_mut(|local| {
            if local.owner != owner {
                local.owner = owner;
                local.answers.clear();
            }
            if let Some(answer) = local.answers.get(&(ranking, limit)) {
                return Some(answer.clone());
            }
            let answer = shared()?.copied();
            local.answers.insert((ranking, limit), answer.clone());
            Some(answer)
        })
    }

    /// Recomputes every held ranking (and the untagged ones always) in one
    /// statement; drops tag rankings nobody asked for lately.
    pub async fn refresh(&self, pool: &DbPool) -> Result<(), AppError> {
        let tags: Vec<String> = {
            let mut held = self.popular.write().unwrap_or_else(|e| e.into_inner());
            let tags = tags_to_keep(
                held.iter()
                    .filter_map(|((_, tag), computed)| Some((tag.as_ref()?, computed.last_asked))),
                Instant::now(),
            );
            held.retain(|(_, tag), _| tag.as_ref().is_none_or(|tag| tags.contains(tag)));
            tags.into_iter().collect::<Vec<_>>()
        };
        self.compute(pool, &tags, true).await
    }

    /// Computes the rankings of these tags (and the untagged ones and
    /// trending when `untagged`) and keeps them.
    async fn compute(
        &self,
        pool: &DbPool,
        tags: &[String],
        untagged: bool,
    ) -> Result<(), AppError> {
        let now = Utc::now();
        let rows = {
            let mut conn = pool.get().await?;
            queries::rankings(&mut conn, now, tags, untagged, MAX_LIMIT, TRENDING_FLOOR).await?
        };
        let scopes = untagged
            .then_some(None)
            .into_iter()
            .chain(tags.iter().cloned().map(Some));
        let mut popular: HashMap<(Window, Option<String>), Vec<RankedArticle>> = scopes
            .flat_map(|tag| Window::ALL.map(|window| ((window, tag.clone()), Vec::new())))
            .collect();
        let mut trending = Vec::new();
        for row in rows {
            let tags = row.tag_slugs.into_iter().zip(row.tag_names);
            let tags = tags
                .map(|(slug, name)| TagRow { slug, name }.into())
                .collect();
            let article = ArticleSummary::new(row.article, tags, now);
            let rank = u32::try_from(row.rank).unwrap_or(u32::MAX);
            match Window::parse(&row.ranking) {
                Some(window) => popular
                    .entry((window, row.tag))
                    .or_default()
                    .push(RankedArticle {
                        rank,
                        views: row.views,
                        previous_rank: row.previous_rank.and_then(|r| u32::try_from(r).ok()),
                        rank_change: row.previous_rank.map(|before| before - row.rank),
                        article,
                    }),
                None => {
                    let average = row.before as f64 / TREND_BASE.num_days() as f64;
                    trending.push(TrendingArticle {
                        rank,
                        views_24h: row.views,
                        daily_average_before: (average * 100.0).round() / 100.0,
                        ratio: (row.views as f64 / average.max(1.0) * 100.0).round() / 100.0,
                        article,
                    });
                }
            }
        }
        let computed = popular
            .into_iter()
            .map(|((window, tag), ranked)| {
                let bodies = serialize_all(ranked.len(), |limit| Ranking {
                    window,
                    tag: tag.clone(),
                    generated_at: now,
                    data: ranked.iter().take(limit).cloned().collect(),
                })?;
                let computed = Computed {
                    bodies,
                    as_of: now,
                    last_asked: Instant::now(),
                };
                Ok(((window, tag), computed))
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        self.keep(computed);
        if untagged {
            let bodies = serialize_all(trending.len(), |limit| Trending {
                generated_at: now,
                min_views_24h: TRENDING_FLOOR,
                data: trending.iter().take(limit).cloned().collect(),
            })?;
            self.keep_trending(now, bodies);
        }
        Ok(())
    }

    /// Stores rankings, each unless a newer computation of it got there
    /// first, under one hold of the lock that ranking requests read under.
    fn keep(&self, computed: Vec<((Window, Option<String>), Computed)>) {
        let mut held = self.popular.write().unwrap_or_else(|e| e.into_inner());
        let mut untagged = false;
        for (key, mut computed) in computed {
            match held.get(&key) {
                Some(old) if old.as_of > computed.as_of => {}
                old => {
                    if let Some(old) = old {
                        computed.last_asked = computed.last_asked.max(old.last_asked);
                    }
                    untagged |= key.1.is_none();
                    held.insert(key, computed);
                }
            }
        }
        if untagged {
            self.generation.fetch_add(1, Ordering::Release);
        }
    }

    fn keep_trending(&self, as_of: DateTime<Utc>, bodies: Vec<Representation>) {
        let mut held = self.trending.write().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_none_or(|(old, _)| *old <= as_of) {
            *held = Some((as_of, bodies));
            self.generation.fetch_add(1, Ordering::Release);
        }
    }
}

/// The tags whose rankings stay held: those asked for lately, the most
/// recently asked first, at most `MAX_TAGS` (any client can name any tag).
fn tags_to_keep<'a>(
    asked: impl Iterator<Item = (&'a String, Instant)>,
    now: Instant,
) -> BTreeSet<String> {
    let mut latest: HashMap<&String, Instant> = HashMap::new();
    for (tag, at) in asked.filter(|(_, at)| now.saturating_duration_since(*at) < TAG_IDLE) {
        let entry = latest.entry(tag).or_insert(at);
        *entry = (*entry).max(at);
    }
    let mut latest: Vec<(&String, Instant)> = latest.into_iter().collect();
    latest.sort_unstable_by_key(|(_, at)| std::cmp::Reverse(*at));
    latest
        .into_iter()
        .take(MAX_TAGS)
        .map(|(tag, _)| tag.clone())
        .collect()
}

fn pick(bodies: &[Representation], limit: u32) -> Representation {
    let index = (limit.clamp(1, MAX_LIMIT) - 1) as usize;
    bodies[index.min(bodies.len() - 1)].clone()
}

/// Serializes `make(limit)` for every limit up to `entries`: beyond it the
/// answer is the same, and `pick` serves the last one.
fn serialize_all<T: serde::Serialize>(
    entries: usize,
    make: impl Fn(usize) -> T,
) -> Result<Vec<Representation>, AppError> {
    (1..=entries.clamp(1, MAX_LIMIT as usize))
        .map(|limit| Representation::of(&make(limit)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_recently_asked_tags_stay_and_idle_ones_go() {
        // Far enough ahead that every time below is a valid Instant.
        let now = Instant::now() + 2 * TAG_IDLE;
        let names: Vec<String> = (0..MAX_TAGS + 10).map(|n| format!("tag-{n}")).collect();
        // tag-n was last asked n milliseconds ago; one more was asked too long ago.
        let mut asked: Vec<(&String, Instant)> = names
            .iter()
            .enumerate()
            .map(|(n, tag)| (tag, now - Duration::from_millis(n as u64)))
            .collect();
        let idle = "idle".to_string();
        asked.push((&idle, now - TAG_IDLE - Duration::from_secs(1)));
        // A tag held for several windows counts by its latest request.
        asked.push((&names[MAX_TAGS + 5], now));
        let kept = tags_to_keep(asked.into_iter(), now);
        assert_eq!(kept.len(), MAX_TAGS);
        assert!(kept.contains("tag-0") && kept.contains(&names[MAX_TAGS + 5]));
        assert!(!kept.contains("idle"));
        assert!(!kept.contains(&names[MAX_TAGS + 9]));
    }
}
