//! VACUUM and ANALYZE of the tables the server churns.
//!
//! Two reasons the server does some of this itself instead of leaving it
//! all to autovacuum:
//!
//! - `outbox_pending` is a queue: every receipt batch inserts into it and
//!   the sequencer deletes what it moves, thousands of rows a second, while
//!   its live size stays near zero. Autovacuum looks at a table at most once
//!   a `autovacuum_naptime` (1 min), so the dead rows of a minute (a quarter
//!   of a million at full load) lie in the heap and the primary key that
//!   the sequencer's `ORDER BY id LIMIT` scans. The sequencer vacuums it
//!   every `webhooks.pending_vacuum_interval_ms` instead.
//! - A PostgreSQL can run with `autovacuum = off` (this project's CI
//!   machines do). Then nothing removes dead row versions of the rows
//!   updated in place by every batch (stock levels, register numbers,
//!   running totals), and the planner never learns table sizes. The
//!   maintenance task (`maintenance::vacuum`) does both when it finds
//!   autovacuum off.

use super::Db;
use crate::error::Result;

/// The queue table the sequencer drains.
pub const QUEUE: &[&str] = &["outbox_pending"];

/// Tables whose rows are updated in place on the receipt path or by the
/// background workers (their dead versions accumulate between vacuums).
pub const UPDATED_IN_PLACE: &[&str] = &[
    "outbox_pending",
    "stock_levels",
    "registers",
    "loyalty_accounts",
    "event_heads",
    "webhook_subscriptions",
    "shift_totals",
    "shift_tax_totals",
    "sales_hourly",
    "sales_daily_payment",
    "sales_daily_employee",
    "sales_daily_variant",
    "sales_monthly_variant",
    "sessions",
];

/// Whether the database's autovacuum daemon runs.
pub async fn autovacuum_on(db: &Db) -> Result<bool> {
    let client = db.client().await?;
    let row = client.query_one("SHOW autovacuum", &[]).await?;
    let v: String = row.get(0);
    Ok(v == "on")
}

/// `VACUUM (SKIP_LOCKED[, ANALYZE])` of `tables`, in one statement (outside
/// a transaction, as VACUUM must be). A table another vacuum holds is
/// skipped, not waited for.
pub async fn vacuum(db: &Db, tables: &[&str], analyze: bool) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let options = if analyze {
        "SKIP_LOCKED, ANALYZE"
    } else {
        "SKIP_LOCKED"
    };
    let client = db.client().await?;
    client
        .batch_execute(&format!("VACUUM ({options}) {}", tables.join(", ")))
        .await?;
    Ok(())
}

/// `ANALYZE (SKIP_LOCKED)` of every table of the database: fresh row counts
/// and distributions for the planner (sampled, so cheap on big tables).
pub async fn analyze_all(db: &Db) -> Result<()> {
    let client = db.client().await?;
    client.batch_execute("ANALYZE (SKIP_LOCKED)").await?;
    Ok(())
}
