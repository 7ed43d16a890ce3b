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
//!   running totals), and the planner's statistics stay as they were when
//!   a table was last analyzed — empty, for a new database. The maintenance
//!   task (`maintenance::vacuum`) then applies autovacuum's own default
//!   rules itself, once a minute (`due`).

use super::Db;
use crate::error::Result;

/// The queue table the sequencer drains.
pub const QUEUE: &[&str] = &["outbox_pending"];

/// Tables (schema-qualified, quoted) that autovacuum's default rules would
/// vacuum and analyze now, from the statistics views: vacuum past
/// `50 + 20%` dead rows or `1000 + 20%` rows inserted since the last
/// vacuum; analyze past `50 + 10%` rows changed since the last analyze.
/// What the maintenance task does where autovacuum is off.
pub async fn due(db: &Db) -> Result<Due> {
    let client = db.client().await?;
    let rows = client
        .query(
            "SELECT quote_ident(s.schemaname) || '.' || quote_ident(s.relname), \
               s.n_dead_tup > 50 + 0.2 * GREATEST(c.reltuples, 0) \
                 OR s.n_ins_since_vacuum > 1000 + 0.2 * GREATEST(c.reltuples, 0), \
               s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0) \
             FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE c.relkind = 'r' ORDER BY 1",
            &[],
        )
        .await?;
    let mut due = Due::default();
    for r in rows {
        let name: String = r.get(0);
        if r.get::<_, bool>(1) {
            due.vacuum.push(name.clone());
        }
        if r.get::<_, bool>(2) {
            due.analyze.push(name);
        }
    }
    Ok(due)
}

/// What `due` found.
#[derive(Debug, Default)]
pub struct Due {
    pub vacuum: Vec<String>,
    pub analyze: Vec<String>,
}

/// Whether the database's autovacuum daemon runs.
pub async fn autovacuum_on(db: &Db) -> Result<bool> {
    let client = db.client().await?;
    let row = client.query_one("SHOW autovacuum", &[]).await?;
    let v: String = row.get(0);
    Ok(v == "on")
}

/// `VACUUM (SKIP_LOCKED, TRUNCATE false[, ANALYZE])` of `tables`, in one
/// statement (outside a transaction, as VACUUM must be). A table another
/// vacuum holds is skipped, not waited for. `throttled`: see `throttled`.
pub async fn vacuum<T: AsRef<str>>(
    db: &Db,
    tables: &[T],
    analyze: bool,
    throttled: bool,
) -> Result<()> {
    // TRUNCATE false: giving a queue's empty tail pages back to the file
    // system takes an exclusive lock that every writer of the table (each
    // receipt batch, for the outbox) would queue behind, for pages it needs
    // again a moment later.
    let options = if analyze {
        "SKIP_LOCKED, TRUNCATE false, ANALYZE"
    } else {
        "SKIP_LOCKED, TRUNCATE false"
    };
    run_on(db, "VACUUM", options, tables, throttled).await
}

/// `ANALYZE (SKIP_LOCKED)` of `tables` (sampled: 30,000 rows a table).
pub async fn analyze<T: AsRef<str>>(db: &Db, tables: &[T], throttled: bool) -> Result<()> {
    run_on(db, "ANALYZE", "SKIP_LOCKED", tables, throttled).await
}

/// Runs `command (options) tables` on one pooled connection. `throttled`:
/// with autovacuum's cost-based delay (2 ms per 200 page costs), which a
/// manual VACUUM or ANALYZE otherwise runs without: unthrottled, the
/// vacuum of a big insert-only table took a core, and an ANALYZE of the
/// big tables read pages fast enough to hold COMMIT fsyncs up for a second
/// (seen in the soaks of 2026-11-29). Behind a transaction-mode PgBouncer
/// (no statement cache) a session setting may land on another server
/// connection, so there it runs unthrottled.
async fn run_on<T: AsRef<str>>(
    db: &Db,
    command: &str,
    options: &str,
    tables: &[T],
    throttled: bool,
) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let client = db.client().await?;
    let throttled = throttled && db.statement_cache;
    // Separate statements: VACUUM refuses to run in a multi-command string.
    if throttled {
        client
            .batch_execute("SET vacuum_cost_delay = '2ms'")
            .await?;
    }
    let result = client
        .batch_execute(&format!(
            "{command} ({options}) {}",
            tables
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .await;
    if throttled {
        // The connection goes back to the pool: leave it as it came.
        client.batch_execute("RESET vacuum_cost_delay").await?;
    }
    result?;
    Ok(())
}
