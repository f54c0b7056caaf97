//! Scheduled posts reach the log when their time comes: a post published
//! for later is an editors' event when it is written, and a public
//! `published` event (with what it holds) once it is visible. Every instance
//! runs this; the database hands each due post to one of them.

use std::time::Duration;

use chrono::Utc;
use diesel_async::scoped_futures::ScopedFutureExt;
use diesel_async::AsyncConnection;

use super::{queries, seal};
use crate::db::DbPool;
use crate::error::AppError;

/// How often an instance looks for scheduled posts whose time has come: the
/// public log learns of a post at most this long after it is visible.
pub const EVERY: Duration = Duration::from_secs(1);

/// Starts looking, every `EVERY`, for as long as the runtime lives.
pub fn start(pool: DbPool) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match announce(&pool).await {
                Ok(0) => {}
                Ok(announced) => log::info!("{announced} scheduled posts announced"),
                Err(error) => log::warn!("scheduled posts not announced: {error}"),
            }
        }
    });
}

/// Announces the posts whose time has come; how many.
pub async fn announce(pool: &DbPool) -> Result<i32, AppError> {
    let mut conn = pool.get().await?;
    if !queries::any_due(&mut conn).await? {
        return Ok(0);
    }
    conn.transaction::<_, AppError, _>(|conn| {
        async move {
            let announced = queries::announce_due(conn).await?;
            seal::seal(conn, Utc::now()).await?;
            Ok(announced)
        }
        .scope_boxed()
    })
    .await
}
