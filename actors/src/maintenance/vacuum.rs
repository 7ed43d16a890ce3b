//! The vacuum task: when the database's autovacuum is off, vacuums and
//! analyzes the tables the server updates in place every `interval`, and
//! analyzes the whole database every tenth round (see `pg::vacuum` for
//! why). With autovacuum on it does nothing: the database does it better.

use crate::pg::{vacuum, Db};
use std::time::Duration;

/// Rounds between two whole-database ANALYZEs.
const ANALYZE_ALL_EVERY: u32 = 10;

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
                "autovacuum is off in this PostgreSQL: the server vacuums the tables it \
                 updates in place and analyzes the database itself"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the autovacuum setting; vacuuming as if it were off")
            }
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut round: u32 = 0;
        loop {
            tick.tick().await;
            if let Err(e) = run_round(&db, round).await {
                tracing::warn!(error = %e, "vacuum round failed; retrying next round");
            }
            round = round.wrapping_add(1);
        }
    });
}

/// One round: vacuum (and analyze) the tables updated in place; every
/// `ANALYZE_ALL_EVERY`th round (the first included) analyze everything.
pub async fn run_round(db: &Db, round: u32) -> crate::error::Result<()> {
    vacuum::vacuum(db, vacuum::UPDATED_IN_PLACE, true).await?;
    if round % ANALYZE_ALL_EVERY == 0 {
        vacuum::analyze_all(db).await?;
    }
    Ok(())
}
