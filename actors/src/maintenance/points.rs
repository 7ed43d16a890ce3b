//! The points expiry job (`pg::points`): every `interval` each instance
//! tries it; the one that gets the transaction-scoped lock expires what is
//! due as of the database clock, the others skip the round.

use crate::pg::{points, Db};
use std::time::Duration;

/// Accounts per transaction (each locks its accounts until it commits).
const CHUNK: i64 = 500;

/// Starts the job on the current runtime; it runs until the runtime stops.
/// The first run is immediate.
pub fn spawn(db: Db, interval: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match points::expire(&db, None, None, CHUNK).await {
                Ok(e) if e.points > 0 => {
                    tracing::info!(accounts = e.accounts, points = e.points, "points expired")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "points expiry failed; retrying next round")
                }
            }
        }
    });
}
