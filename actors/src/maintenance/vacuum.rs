//! The vacuum task: when the database's autovacuum is off, does what it
//! would have done — every `interval`, vacuums and analyzes the tables past
//! autovacuum's default thresholds (`pg::vacuum::due`). With autovacuum on
//! it does nothing: the database does it better.

use crate::pg::{vacuum, Db};
use std::time::Duration;

/// Starts the task on the current runtime (nothing when `interval` is 0).
pub fn spawn(db: Db, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        match vacuum::autovacuum_on(&db).await {
            Ok(true) => return,
            Ok(false) => tracing::warn!(
                interval_s = interval.as_secs(),
                "autovacuum is off in this PostgreSQL: the server vacuums and analyzes \
                 by autovacuum's default thresholds itself"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the autovacuum setting; vacuuming as if it were off")
            }
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = run_round(&db).await {
                tracing::warn!(error = %e, "vacuum round failed; retrying next round");
            }
        }
    });
}

/// One round: vacuum, then analyze, what is due. Answers what was due.
pub async fn run_round(db: &Db) -> crate::error::Result<vacuum::Due> {
    let due = vacuum::due(db).await?;
    vacuum::vacuum(db, &due.vacuum, false, true).await?;
    vacuum::analyze(db, &due.analyze, true).await?;
    Ok(due)
}
