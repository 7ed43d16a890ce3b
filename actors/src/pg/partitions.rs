//! Monthly partitions: the SQL side of the maintainer (the functions live in
//! migrations/V6__operations.sql). Each step runs in its own short
//! transaction under `pg_try_advisory_xact_lock`, so of many instances one
//! does the work, and nothing here holds a session-level lock (safe behind
//! PgBouncer in transaction mode).

use crate::error::Result;
use crate::pg::Db;
use chrono::NaiveDate;

/// The transaction-scoped advisory lock key of partition work (the same key
/// `jowi_ensure_partitions` waits on during `jowi migrate`).
pub const LOCK_KEY: i64 = 7_220_301;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Create the month's partition, moving its rows out of the default one.
    Attach,
    /// Detach the month's partition (kept as a renamed table).
    Detach,
}

/// One unit of work of a maintenance run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub parent: String,
    pub month: NaiveDate,
}

/// What a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Another instance holds the lock: it is doing this work.
    Busy,
    /// Attached; this many rows moved out of the default partition.
    Attached { moved: i64 },
    /// Detached under this name (None: it was no longer attached).
    Detached { kept_as: Option<String> },
}

/// The steps a run should take now (by `jowi_now()`).
pub async fn plan(db: &Db, months_ahead: i32, retention_months: i32) -> Result<Vec<Step>> {
    let rows = db
        .query(
            "SELECT action, parent, month FROM jowi_partition_plan($1, $2)",
            &[&months_ahead, &retention_months],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Step {
            action: if r.get::<_, &str>(0) == "detach" {
                Action::Detach
            } else {
                Action::Attach
            },
            parent: r.get(1),
            month: r.get(2),
        })
        .collect())
}

/// Runs one step in its own transaction. `lock_timeout_ms` bounds how long
/// it may wait for a table lock (and so how long sales can queue behind
/// it); a timeout fails the step, which the next run retries.
pub async fn run_step(db: &Db, step: &Step, lock_timeout_ms: u64) -> Result<Done> {
    let name = match step.action {
        Action::Attach => "partitions.attach",
        Action::Detach => "partitions.detach",
    };
    db.timed(name, "", run_step_on(db, step, lock_timeout_ms))
        .await
}

async fn run_step_on(db: &Db, step: &Step, lock_timeout_ms: u64) -> Result<Done> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let locked: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?
        .get(0);
    if !locked {
        tx.rollback().await?;
        return Ok(Done::Busy);
    }
    tx.execute(
        "SELECT set_config('lock_timeout', $1, true)",
        &[&format!("{lock_timeout_ms}ms")],
    )
    .await?;
    let done = match step.action {
        Action::Attach => {
            let moved: i64 = tx
                .query_one(
                    "SELECT jowi_attach_month($1, $2)",
                    &[&step.parent, &step.month],
                )
                .await?
                .get(0);
            Done::Attached { moved }
        }
        Action::Detach => {
            let kept_as: Option<String> = tx
                .query_one(
                    "SELECT jowi_detach_month($1, $2)",
                    &[&step.parent, &step.month],
                )
                .await?
                .get(0);
            Done::Detached { kept_as }
        }
    };
    tx.commit().await?;
    Ok(done)
}

/// Rows waiting in each default partition, by parent table.
pub async fn default_rows(db: &Db) -> Result<Vec<(String, i64)>> {
    let rows = db
        .query(
            "SELECT parent, row_count FROM jowi_default_partition_rows()",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
