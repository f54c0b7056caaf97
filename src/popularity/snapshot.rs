//! Rankings served from memory. A refresher recomputes all of them on a
//! short interval (10 s by default), in one statement: the untagged ones,
//! trending, and the popular rankings of every tag with viewed public
//! articles. The statement reads each article's views per window as the
//! database keeps them (`view_windows`, current with every write of views),
//! so its cost follows the number of articles, not their view history; the
//! first refresh of an hour first moves those windows to the new hour. Each answer is serialized at its first request and kept, with
//! its ETag, until the next refresh, so a ranking request costs no query and,
//! but for the first, no serialization. A tag that ranks nothing (unknown,
//! or without views) answers an empty ranking made on the spot: whatever
//! tags a client names, it never costs a query nor leaves anything held.
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
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::queries::{self, TREND_BASE};
use super::views::{RankedArticle, Ranking, Trending, TrendingArticle, Window};
use super::FastMap;
use crate::articles::views::ArticleSummary;
use crate::db::DbPool;
use crate::error::AppError;
use crate::representation::{Provenance, Representation};
use crate::tags::queries::TagRow;

pub const MAX_LIMIT: u32 = 50;
/// Fewer views than this in the last day cannot trend: one stray view is not a trend.
pub const TRENDING_FLOOR: i64 = 10;

/// One computed ranking: its entries, and its answer for each limit from 1
/// to `MAX_LIMIT` (or to its length, when shorter), serialized with its
/// headers when first asked for and kept with them: a request for it then
/// builds nothing.
struct Held<T> {
    entries: Vec<T>,
    /// The id of each entry's article, for the answers' `Surrogate-Key`.
    articles: Vec<i64>,
    bodies: Box<[OnceLock<Representation>]>,
}

impl<T> Held<T> {
    fn new(ranked: Vec<(i64, T)>) -> Self {
        let answers = ranked.len().clamp(1, MAX_LIMIT as usize);
        let (articles, entries) = ranked.into_iter().unzip();
        Self {
            entries,
            articles,
            bodies: (0..answers).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The answer for `limit`: `make` of the entries it shows, serialized
    /// once, last modified when computed (`as_of`) and keyed by the
    /// articles it shows. Beyond the ranking's length every limit has the
    /// same answer.
    fn body<V: serde::Serialize>(
        &self,
        limit: u32,
        as_of: DateTime<Utc>,
        make: impl FnOnce(&[T]) -> V,
    ) -> Result<Representation, AppError> {
        let index = (limit.clamp(1, MAX_LIMIT) as usize - 1).min(self.bodies.len() - 1);
        let cell = &self.bodies[index];
        if let Some(body) = cell.get() {
            return Ok(body.clone());
        }
        let count = (index + 1).min(self.entries.len());
        let mut shown = computed_at(as_of);
        for id in &self.articles[..count] {
            shown.key("article", id);
        }
        let body = Representation::of(&make(&self.entries[..count]))?.shows(&shown);
        Ok(cell.get_or_init(|| body).clone())
    }
}

/// What every ranking shows: the rankings computed at `as_of`.
fn computed_at(as_of: DateTime<Utc>) -> Provenance {
    let mut shown = Provenance::new();
    shown.list("rankings").revised(as_of);
    shown
}

/// Every popular ranking of one scope, by `Window as usize`.
type Windows = [Held<RankedArticle>; 4];

/// All the rankings of one computation.
struct Snapshot {
    as_of: DateTime<Utc>,
    untagged: Windows,
    tagged: FastMap<String, Windows>,
    trending: Held<TrendingArticle>,
}

impl Snapshot {
    fn popular(
        &self,
        window: Window,
        tag: Option<&str>,
        limit: u32,
    ) -> Result<Representation, AppError> {
        let make = |data: &[RankedArticle]| Ranking {
            window,
            tag: tag.map(str::to_string),
            generated_at: self.as_of,
            data: data.to_vec(),
        };
        let windows = match tag {
            None => Some(&self.untagged),
            Some(tag) => self.tagged.get(tag),
        };
        match windows {
            Some(windows) => windows[window as usize].body(limit, self.as_of, make),
            // Made on the spot and not kept: any client can name any tag.
            None => Ok(Representation::of(&make(&[]))?.shows(&computed_at(self.as_of))),
        }
    }

    fn trending(&self, limit: u32) -> Result<Representation, AppError> {
        self.trending.body(limit, self.as_of, |data| Trending {
            generated_at: self.as_of,
            min_views_24h: TRENDING_FLOOR,
            data: data.to_vec(),
        })
    }
}

pub struct Rankings {
    snapshot: RwLock<Option<Snapshot>>,
    /// Tells the workers' copies apart from those of another `Rankings` in
    /// the same process (tests run several servers in one).
    id: u64,
    /// Bumped whenever a snapshot is stored: the workers' copies of an
    /// older generation are stale.
    generation: AtomicU64,
    /// Held by a request computing the first snapshot, so that the requests
    /// arriving before the refresher's first run send one statement at a
    /// time, not one each.
    first: tokio::sync::Mutex<()>,
    /// The hour (in seconds since the epoch) this instance last moved the
    /// stored windows to: moving them costs a statement, and is needed only
    /// once an hour.
    advanced: AtomicI64,
}

impl Default for Rankings {
    fn default() -> Self {
        static IDS: AtomicU64 = AtomicU64::new(0);
        Self {
            snapshot: RwLock::default(),
            id: IDS.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            first: tokio::sync::Mutex::new(()),
            advanced: AtomicI64::new(i64::MIN),
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
    /// The popular ranking, serialized. Computed now only when no snapshot
    /// is held yet (before the refresher's first run).
    pub async fn popular(
        &self,
        pool: &DbPool,
        window: Window,
        tag: Option<&str>,
        limit: u32,
    ) -> Result<Representation, AppError> {
        if let Some(found) = self.held_popular(window, tag, limit)? {
            return Ok(found);
        }
        self.first_snapshot(pool).await?;
        self.held_popular(window, tag, limit)?
            .ok_or_else(|| AppError::internal("a computed ranking was not kept"))
    }

    fn held_popular(
        &self,
        window: Window,
        tag: Option<&str>,
        limit: u32,
    ) -> Result<Option<Representation>, AppError> {
        let read = |snapshot: &Snapshot| snapshot.popular(window, tag, limit);
        match tag {
            None => self.local(Untagged::Popular(window), limit, || self.read(read)),
            Some(_) => self.read(read),
        }
    }

    /// The trending ranking, serialized; computed now only when no snapshot
    /// is held yet.
    pub async fn trending(&self, pool: &DbPool, limit: u32) -> Result<Representation, AppError> {
        if let Some(found) = self.held_trending(limit)? {
            return Ok(found);
        }
        self.first_snapshot(pool).await?;
        self.held_trending(limit)?
            .ok_or_else(|| AppError::internal("a computed ranking was not kept"))
    }

    fn held_trending(&self, limit: u32) -> Result<Option<Representation>, AppError> {
        self.local(Untagged::Trending, limit, || {
            self.read(|snapshot| snapshot.trending(limit))
        })
    }

    /// `read` of the held snapshot; `None` when none is held yet.
    fn read(
        &self,
        read: impl FnOnce(&Snapshot) -> Result<Representation, AppError>,
    ) -> Result<Option<Representation>, AppError> {
        let held = self.snapshot.read().unwrap_or_else(|e| e.into_inner());
        held.as_ref().map(read).transpose()
    }

    /// This worker's copy of an untagged answer, taken from `shared` when
    /// it has none of the current generation.
    fn local(
        &self,
        ranking: Untagged,
        limit: u32,
        shared: impl FnOnce() -> Result<Option<Representation>, AppError>,
    ) -> Result<Option<Representation>, AppError> {
        // Read before the shared answer is: a store that lands in between
        // only makes the copy newer than its generation, never older.
        let owner = Some((self.id, self.generation.load(Ordering::Acquire)));
        LOCAL.with_borrow_mut(|local| {
            if local.owner != owner {
                local.owner = owner;
                local.answers.clear();
            }
            if let Some(answer) = local.answers.get(&(ranking, limit)) {
                return Ok(Some(answer.clone()));
            }
            let Some(answer) = shared()? else {
                return Ok(None);
            };
            let answer = answer.copied();
            local.answers.insert((ranking, limit), answer.clone());
            Ok(Some(answer))
        })
    }

    /// Computes the first snapshot, unless another request did meanwhile.
    async fn first_snapshot(&self, pool: &DbPool) -> Result<(), AppError> {
        let _one_at_a_time = self.first.lock().await;
        let held = self
            .snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some();
        if held {
            return Ok(());
        }
        self.refresh(pool).await
    }

    /// Recomputes every ranking in one statement and keeps them.
    pub async fn refresh(&self, pool: &DbPool) -> Result<(), AppError> {
        let now = Utc::now();
        let rows = {
            let mut conn = pool.get().await?;
            let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
            if self.advanced.load(Ordering::Relaxed) != hour.timestamp() {
                queries::advance(&mut conn, now).await?;
                self.advanced.store(hour.timestamp(), Ordering::Relaxed);
            }
            queries::rankings(&mut conn, now, MAX_LIMIT, TRENDING_FLOOR).await?
        };
        let mut untagged: [Vec<(i64, RankedArticle)>; 4] = Default::default();
        let mut tagged: FastMap<String, [Vec<(i64, RankedArticle)>; 4]> = FastMap::default();
        let mut trending = Vec::new();
        for row in rows {
            let tags = row
                .tag_ids
                .into_iter()
                .zip(row.tag_slugs)
                .zip(row.tag_names);
            let tags = tags
                .map(|((id, slug), name)| TagRow { id, slug, name }.into())
                .collect();
            let id = row.article.id;
            let article = ArticleSummary::new(row.article, tags, now);
            let rank = u32::try_from(row.rank).unwrap_or(u32::MAX);
            match Window::parse(&row.ranking) {
                Some(window) => {
                    let scope = match row.tag {
                        None => &mut untagged,
                        Some(tag) => tagged.entry(tag).or_default(),
                    };
                    scope[window as usize].push((
                        id,
                        RankedArticle {
                            rank,
                            views: row.views,
                            previous_rank: row.previous_rank.and_then(|r| u32::try_from(r).ok()),
                            rank_change: row.previous_rank.map(|before| before - row.rank),
                            article,
                        },
                    ));
                }
                None => {
                    let average = row.before as f64 / TREND_BASE.num_days() as f64;
                    trending.push((
                        id,
                        TrendingArticle {
                            rank,
                            views_24h: row.views,
                            daily_average_before: (average * 100.0).round() / 100.0,
                            ratio: (row.views as f64 / average.max(1.0) * 100.0).round() / 100.0,
                            article,
                        },
                    ));
                }
            }
        }
        self.keep(Snapshot {
            as_of: now,
            untagged: untagged.map(Held::new),
            tagged: tagged
                .into_iter()
                .map(|(tag, windows)| (tag, windows.map(Held::new)))
                .collect(),
            trending: Held::new(trending),
        });
        Ok(())
    }

    /// Stores a snapshot unless a newer computation got there first.
    fn keep(&self, snapshot: Snapshot) {
        let replaced = {
            let mut held = self.snapshot.write().unwrap_or_else(|e| e.into_inner());
            if held.as_ref().is_some_and(|old| old.as_of > snapshot.as_of) {
                return;
            }
            let replaced = held.replace(snapshot);
            self.generation.fetch_add(1, Ordering::Release);
            replaced
        };
        // Freed after the lock is let go, not while ranking requests wait.
        drop(replaced);
    }
}
