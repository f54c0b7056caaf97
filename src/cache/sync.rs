//! Following the change log, so that the cache never serves what a write
//! changed: in this instance before the write is answered, in every other
//! within moments.
//!
//! Each instance keeps one connection of its own that `LISTEN`s on
//! `broadsheet_changes`, which the log notifies when a transaction commits
//! events (the notification is sent with the commit, and only if it
//! commits). A notification, a write answered by this instance, or
//! `every` passing without either, makes the follower read the log past its
//! position and purge what each event shows. A missed notification (a lost
//! connection, a restart of the database) costs at most `every`: the log,
//! not the notification, says what changed. Should the log go back (a
//! restored database), everything is purged.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, Notify};

use super::ResponseCache;
use crate::db::Target;

/// The channel the change log notifies (see the `changes_notify` migration).
pub const CHANNEL: &str = "broadsheet_changes";
/// How the follower's connection is named in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "broadsheet-cache";
/// Events read per statement.
const BATCH: i64 = 1000;

pub struct Follower {
    cache: Arc<ResponseCache>,
    target: Target,
    every: Duration,
    wake: Arc<Notify>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<tokio_postgres::Client>,
    /// The last position read; `None` until the log is first read.
    position: Option<i64>,
    /// Whether the last attempt failed, so that an outage is logged once.
    failing: bool,
}

impl Follower {
    /// Follows the log into `cache` for as long as the runtime lives,
    /// reading it at least every `every`.
    pub fn start(cache: Arc<ResponseCache>, target: Target, every: Duration) -> Arc<Self> {
        let follower = Arc::new(Self {
            cache,
            target,
            every,
            wake: Arc::new(Notify::new()),
            state: Mutex::new(State::default()),
        });
        let running = follower.clone();
        tokio::spawn(async move {
            loop {
                running.follow().await;
                tokio::select! {
                    () = running.wake.notified() => {}
                    () = tokio::time::sleep(running.every) => {}
                }
            }
        });
        follower
    }

    /// Reads the log to its end now: after a write this instance made, so
    /// that its own next read is current. If the log cannot be read,
    /// everything held is dropped instead.
    pub async fn catch_up(&self) {
        if !self.follow().await {
            self.cache.purge_all();
        }
    }

    /// Reads the log past the position and purges what it names; whether
    /// it could.
    async fn follow(&self) -> bool {
        let mut state = self.state.lock().await;
        let result = self.read(&mut state).await;
        match result {
            Ok(()) => {
                if state.failing {
                    log::info!("following the change log again; the response cache serves");
                }
                state.failing = false;
                true
            }
            Err(error) => {
                if !state.failing {
                    log::warn!(
                        "cannot follow the change log ({error}); the response cache is bypassed \
                         until it can, and serves what it holds only when the database fails"
                    );
                }
                state.failing = true;
                // Reconnect next time: the connection may be the fault.
                state.client = None;
                false
            }
        }
    }

    async fn read(&self, state: &mut State) -> Result<(), String> {
        if state
            .client
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            state.client = None;
            let client = self
                .target
                .listen(CHANNEL, APPLICATION_NAME, self.every * 5, self.wake.clone())
                .await
                .map_err(|error| error.to_string())?;
            state.client = Some(client);
        }
        let Some(client) = state.client.as_ref() else {
            return Err("no connection".into());
        };
        // One snapshot for both: a post announced after it is still named
        // as due, so its entries are not served until its events are read.
        let row = client
            .query_one(
                "SELECT (SELECT (extract(epoch FROM min(due_at)) * 1000000)::bigint \
                           FROM scheduled_publications), \
                        (SELECT last_seq FROM change_log_head)",
                &[],
            )
            .await
            .map_err(|error| error.to_string())?;
        let next_publication: Option<i64> = row.get(0);
        let head: i64 = row.get(1);
        match state.position {
            Some(position) if position <= head => {
                let mut position = position;
                while position < head {
                    let rows = client
                        .query(
                            "SELECT seq, kind, resource_id, parent_id, article_id FROM changes \
                              WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                            &[&position, &head, &BATCH],
                        )
                        .await
                        .map_err(|error| error.to_string())?;
                    let Some(last) = rows.last() else { break };
                    position = last.get(0);
                    let mut keys = vec![super::ANY_CHANGE.to_string()];
                    for row in &rows {
                        keys.extend(purge_keys(row.get(1), row.get(2), row.get(3), row.get(4)));
                    }
                    self.cache.purging_to(position);
                    self.cache.purge(keys.iter().map(String::as_str));
                    state.position = Some(position);
                }
                self.cache.purging_to(head);
                state.position = Some(head);
            }
            // The first read, or a log that went back.
            _ => {
                self.cache.purging_to(head);
                self.cache.purge_all();
                state.position = Some(head);
            }
        }
        self.cache
            .synced(next_publication.and_then(DateTime::<Utc>::from_timestamp_micros));
        Ok(())
    }
}

/// The `Surrogate-Key`s of what an event changed: the resource, and the
/// article (and roundup) that embeds it.
pub fn purge_keys(
    kind: &str,
    id: i64,
    parent: Option<i64>,
    article: Option<i64>,
) -> impl Iterator<Item = String> {
    let own = match kind {
        "roundup_link" => "link",
        other => other,
    };
    let roundup = (kind == "roundup_link").then_some(parent).flatten();
    let article = article.filter(|_| kind != "article" && kind != "outlet");
    [
        Some(format!("{own}-{id}")),
        roundup.map(|id| format!("roundup-{id}")),
        article.map(|id| format!("article-{id}")),
    ]
    .into_iter()
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_purges_its_resource_and_what_embeds_it() {
        let keys =
            |kind, id, parent, article| purge_keys(kind, id, parent, article).collect::<Vec<_>>();
        assert_eq!(keys("article", 3, None, Some(3)), ["article-3"]);
        assert_eq!(
            keys("excerpt", 7, Some(3), Some(3)),
            ["excerpt-7", "article-3"]
        );
        assert_eq!(
            keys("roundup", 8, Some(3), Some(3)),
            ["roundup-8", "article-3"]
        );
        assert_eq!(
            keys("roundup_link", 21, Some(8), Some(3)),
            ["link-21", "roundup-8", "article-3"]
        );
        assert_eq!(keys("outlet", 2, None, None), ["outlet-2"]);
    }
}
