//! Employee PINs: set (hashed) and checked with a lockout shared by every
//! instance. A check counts itself as a failure *before* verifying, so
//! parallel guesses cannot run past the limit; a right PIN resets the count.

use super::Db;
use crate::domain::pin::{Pin, LOCKOUT_S, MAX_FAILURES};
use crate::error::{Code, Error, Result};
use uuid::Uuid;

pub async fn set_pin(db: &Db, tenant: Uuid, employee: Uuid, pin: Pin) -> Result<()> {
    let hash = tokio::task::spawn_blocking(move || pin.hash())
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("PIN hashing task: {e}")))??;
    let rows = db
        .query(
            "UPDATE employees SET pin_hash = $3, pin_failures = 0, pin_locked_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id",
            &[&tenant, &employee, &hash],
        )
        .await?;
    if rows.is_empty() {
        return Err(Error::not_found("employee"));
    }
    Ok(())
}

fn locked(retry_after_s: i64) -> Error {
    Error::RateLimited {
        message: format!("too many wrong PINs; try again in {retry_after_s} s"),
        retry_after_s: retry_after_s.max(1).unsigned_abs(),
    }
}

/// Checks `pin` for an employee who may work at `store`. Errors:
/// `employee_id` invalid (unknown, or bound to another store), `pin_not_set`,
/// `wrong_pin` (403) and `too_many_attempts` (429) once locked out.
pub async fn check_pin(db: &Db, tenant: Uuid, employee: Uuid, store: Uuid, pin: Pin) -> Result<()> {
    let rows = db
        .query(
            "UPDATE employees SET pin_failures = CASE WHEN pin_locked_until > now() \
                 THEN pin_failures ELSE pin_failures + 1 END \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
             RETURNING pin_hash, store_id, pin_failures, \
                 COALESCE(ceil(extract(epoch FROM pin_locked_until - now())), 0)::bigint",
            &[&tenant, &employee],
        )
        .await?;
    let Some(row) = rows.first() else {
        return Err(Error::invalid("employee_id", "no such employee"));
    };
    let (hash, home, failures, lock_left): (Option<String>, Option<Uuid>, i32, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    if lock_left > 0 {
        return Err(locked(lock_left));
    }
    if home.is_some_and(|h| h != store) {
        reset(db, tenant, employee).await?;
        return Err(Error::invalid(
            "employee_id",
            "the employee works at another store",
        ));
    }
    let Some(hash) = hash else {
        reset(db, tenant, employee).await?;
        return Err(Error::conflict(
            Code::PinNotSet,
            "the employee has no PIN yet",
        ));
    };
    if failures > MAX_FAILURES {
        return Err(lock(db, tenant, employee).await?);
    }
    let ok = tokio::task::spawn_blocking(move || pin.verify(&hash))
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("PIN check task: {e}")))?;
    if ok {
        reset(db, tenant, employee).await?;
        return Ok(());
    }
    if failures >= MAX_FAILURES {
        return Err(lock(db, tenant, employee).await?);
    }
    Err(Error::Denied {
        code: Code::WrongPin,
        message: format!(
            "wrong PIN; {} attempts left before a lockout",
            MAX_FAILURES - failures
        ),
    })
}

async fn reset(db: &Db, tenant: Uuid, employee: Uuid) -> Result<()> {
    db.query(
        "UPDATE employees SET pin_failures = 0, pin_locked_until = NULL \
         WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &employee],
    )
    .await?;
    Ok(())
}

async fn lock(db: &Db, tenant: Uuid, employee: Uuid) -> Result<Error> {
    db.query(
        "UPDATE employees SET pin_failures = 0, \
             pin_locked_until = now() + make_interval(secs => $3) \
         WHERE tenant_id = $1 AND id = $2",
        &[&tenant, &employee, &(LOCKOUT_S as f64)],
    )
    .await?;
    Ok(locked(LOCKOUT_S))
}

/// Whether a shift at `store` must be opened by an employee with their PIN:
/// true once an active employee who may work there (bound to the store or
/// to no store) has a PIN. A tenant without such employees (none at all, or
/// only ones without a PIN, who could not open a shift anyway) still opens
/// shifts anonymously.
pub async fn store_needs_cashier(db: &Db, tenant: Uuid, store: Uuid) -> Result<bool> {
    let rows = db
        .query(
            "SELECT EXISTS (SELECT 1 FROM employees WHERE tenant_id = $1 AND deleted_at IS NULL \
               AND (store_id IS NULL OR store_id = $2) AND pin_hash IS NOT NULL)",
            &[&tenant, &store],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.get(0)))
}
