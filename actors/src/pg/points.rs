//! Points expiry (`loyalty_programs.expiry_days`, null = never), as ledger
//! entries of kind `expire`, so a balance still equals the sum of its
//! ledger. The rule is FIFO: every debit (redeem, reverse_earn, a negative
//! adjustment) takes the oldest points first, so what is left of the points
//! credited before the cutoff (as of `T - expiry_days`) expires:
//!
//!   expire(T) = max(0, Σ credits before the cutoff − Σ debits ever)
//!               − Σ already expired
//!
//! (credits: every positive entry — earn, reverse_redeem, a positive
//! adjustment — at its `created_at`; never below zero). Running it twice
//! for the same T expires nothing more. Points leave only when the job
//! runs, so until then they can still be spent.
//!
//! Concurrency: the accounts to expire are locked (FOR UPDATE, key order,
//! the lock every commit and adjustment takes before moving points) in one
//! statement, and the amounts are computed in the next one, whose snapshot
//! is newer than every debit that committed before the lock. A redemption
//! waiting on the lock sees the balance after the expiry. Any number of
//! instances may run it: a transaction-scoped try-lock makes one do the
//! work per round, and a second one would find nothing left to expire.

use super::outbox::{append_points_changes, PointsChange};
use super::Db;
use crate::error::Result;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Advisory lock key of the expiry job (one at a time in the cluster).
const EXPIRY_LOCK: i64 = 7220320;

/// Per customer of a tenant with an expiry: Σ credits before the cutoff,
/// Σ debits (not expiry), Σ expired (negative). $1: as of, $2: tenant or
/// NULL; restricted by the caller.
macro_rules! due_amounts {
    ($restrict:literal) => {
        concat!(
            "SELECT l.tenant_id, l.customer_id, \
               (GREATEST(0, COALESCE(sum(l.points) FILTER (WHERE l.points > 0 \
                   AND l.created_at < $1::timestamptz - make_interval(days => p.expiry_days)), 0) \
                 + COALESCE(sum(l.points) FILTER (WHERE l.points < 0 AND l.kind <> 'expire'), 0)) \
               + COALESCE(sum(l.points) FILTER (WHERE l.kind = 'expire'), 0))::int8 AS amount \
             FROM points_ledger l \
             JOIN loyalty_programs p ON p.tenant_id = l.tenant_id AND p.expiry_days IS NOT NULL \
             WHERE ($2::uuid IS NULL OR l.tenant_id = $2) ",
            $restrict,
            " GROUP BY l.tenant_id, l.customer_id, p.expiry_days"
        )
    };
}

/// Round 1: the accounts with points due (a snapshot read of the ledger of
/// the tenants with an expiry), locked in key order, at most $3 of them.
const SQL_LOCK_DUE: &str = concat!(
    "SELECT a.tenant_id, a.customer_id FROM loyalty_accounts a \
     JOIN (",
    due_amounts!(""),
    ") d ON d.tenant_id = a.tenant_id AND d.customer_id = a.customer_id AND d.amount > 0 \
     ORDER BY 1, 2 LIMIT $3 FOR UPDATE OF a"
);

/// Round 2 (new snapshot, accounts locked): the exact amounts of the locked
/// accounts, written as `expire` entries and taken off the balances.
const SQL_EXPIRE: &str = concat!(
    "WITH due AS (",
    due_amounts!(
        "AND (l.tenant_id, l.customer_id) IN (SELECT * FROM UNNEST($3::uuid[], $4::uuid[]))"
    ),
    "), hit AS (SELECT * FROM due WHERE amount > 0), \
     ledger AS ( \
       INSERT INTO points_ledger (tenant_id, customer_id, created_at, kind, points, reason) \
       SELECT tenant_id, customer_id, $1::timestamptz, 'expire', -amount, 'expired' FROM hit), \
     moved AS ( \
       UPDATE loyalty_accounts a SET balance = a.balance - h.amount, updated_at = now() \
       FROM hit h WHERE a.tenant_id = h.tenant_id AND a.customer_id = h.customer_id) \
     SELECT tenant_id, customer_id, amount::int8 FROM hit ORDER BY 1, 2"
);

/// What one run expired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Accounts that lost points.
    pub accounts: i64,
    pub points: i64,
    /// Another instance held the job's lock; nothing was done.
    pub busy: bool,
}

/// Expires what is due as of `as_of` (None: the database clock,
/// `jowi_now()`), for one tenant or all, `chunk` accounts per transaction.
pub async fn expire(
    db: &Db,
    as_of: Option<DateTime<Utc>>,
    tenant: Option<Uuid>,
    chunk: i64,
) -> Result<Expired> {
    let mut done = Expired::default();
    loop {
        let mut client = db.client().await?;
        let tx = client.transaction().await?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&EXPIRY_LOCK])
            .await?
            .get(0);
        if !locked {
            done.busy = true;
            return Ok(done);
        }
        let at: DateTime<Utc> = match as_of {
            Some(t) => t,
            None => tx.query_one("SELECT jowi_now()", &[]).await?.get(0),
        };
        let rows = tx.query(SQL_LOCK_DUE, &[&at, &tenant, &chunk]).await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(done);
        }
        let (ts, cs): (Vec<Uuid>, Vec<Uuid>) = rows
            .iter()
            .map(|r| (r.get::<_, Uuid>(0), r.get::<_, Uuid>(1)))
            .unzip();
        let hit = tx.query(SQL_EXPIRE, &[&at, &tenant, &ts, &cs]).await?;
        // Integrations hear of expiry like any other movement: one
        // `customer.points_changed` per account, in this transaction.
        let mut accounts = 0i64;
        let mut start = 0;
        while start < hit.len() {
            let t: Uuid = hit[start].get(0);
            let end = hit[start..]
                .iter()
                .position(|r| r.get::<_, Uuid>(0) != t)
                .map_or(hit.len(), |n| start + n);
            let changes: Vec<PointsChange<'_>> = hit[start..end]
                .iter()
                .map(|r| PointsChange {
                    customer_id: r.get(1),
                    delta: -r.get::<_, i64>(2),
                    reason: "expire",
                    receipt_id: None,
                    note: None,
                })
                .collect();
            append_points_changes(&*tx, t, &changes).await?;
            for r in &hit[start..end] {
                done.points += r.get::<_, i64>(2);
            }
            accounts += (end - start) as i64;
            start = end;
        }
        tx.commit().await?;
        done.accounts += accounts;
        if (rows.len() as i64) < chunk || accounts == 0 {
            return Ok(done);
        }
    }
}
