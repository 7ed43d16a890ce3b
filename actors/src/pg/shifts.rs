//! Cashier shifts: open (one per register, enforced by a unique index),
//! cash in/out, X report (running totals) and Z report (on close).

use super::Db;
use crate::error::{constraint, Code, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use tokio_postgres::GenericClient;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shift {
    pub id: Uuid,
    pub store_id: Uuid,
    pub register_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub opening_cash: i64,
    pub counted_cash: Option<i64>,
}

fn shift_row(r: &tokio_postgres::Row) -> Shift {
    Shift {
        id: r.get(0),
        store_id: r.get(1),
        register_id: r.get(2),
        opened_at: r.get(3),
        closed_at: r.get(4),
        opening_cash: r.get(5),
        counted_cash: r.get(6),
    }
}

const SHIFT_COLS: &str =
    "id, store_id, register_id, opened_at, closed_at, opening_cash, counted_cash";

pub async fn open(
    db: &Db,
    tenant: Uuid,
    store: Uuid,
    register: Uuid,
    opening_cash: i64,
) -> Result<Shift> {
    let id = crate::domain::new_id();
    let sql = format!(
        "INSERT INTO shifts (tenant_id, id, store_id, register_id, opening_cash) VALUES ($1, $2, $3, $4, $5) \
         RETURNING {SHIFT_COLS}"
    );
    match db
        .query(&sql, &[&tenant, &id, &store, &register, &opening_cash])
        .await
    {
        Ok(rows) => rows
            .first()
            .map(shift_row)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("insert returned no row"))),
        Err(Error::Internal(e))
            if e.downcast_ref::<tokio_postgres::Error>()
                .and_then(constraint)
                == Some("shifts_one_open") =>
        {
            let open = current_open(db, tenant, register).await?;
            Err(Error::conflict(
                Code::ShiftAlreadyOpen,
                format!(
                    "register already has an open shift{}",
                    open.map(|s| format!(": {}", s.id)).unwrap_or_default()
                ),
            ))
        }
        Err(e) => Err(e),
    }
}

pub async fn current_open(db: &Db, tenant: Uuid, register: Uuid) -> Result<Option<Shift>> {
    let sql = format!("SELECT {SHIFT_COLS} FROM shifts WHERE tenant_id = $1 AND register_id = $2 AND closed_at IS NULL");
    Ok(db
        .query(&sql, &[&tenant, &register])
        .await?
        .first()
        .map(shift_row))
}

pub async fn get(db: &Db, tenant: Uuid, id: Uuid) -> Result<Shift> {
    let sql = format!("SELECT {SHIFT_COLS} FROM shifts WHERE tenant_id = $1 AND id = $2");
    db.query(&sql, &[&tenant, &id])
        .await?
        .first()
        .map(shift_row)
        .ok_or(Error::not_found("shift"))
}

/// Closes an open shift. Waits for receipt batches holding the shift (they
/// take it FOR SHARE), so the Z report sees every receipt acknowledged.
/// The `shift.closed` event, with the Z totals, commits with the close.
pub async fn close(db: &Db, tenant: Uuid, id: Uuid, counted_cash: i64) -> Result<Shift> {
    let sql = format!(
        "UPDATE shifts SET closed_at = now(), counted_cash = $3 WHERE tenant_id = $1 AND id = $2 \
         AND closed_at IS NULL RETURNING {SHIFT_COLS}"
    );
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let row = tx.query_opt(&sql, &[&tenant, &id, &counted_cash]).await?;
    match row {
        Some(r) => {
            let shift = shift_row(&r);
            let z = totals(&**tx, tenant, shift.clone()).await?;
            super::outbox::append(&tx, tenant, crate::domain::events::SHIFT_CLOSED, &z).await?;
            tx.commit().await?;
            Ok(shift)
        }
        None => {
            drop(tx);
            get(db, tenant, id).await?;
            Err(Error::conflict(
                Code::ShiftClosed,
                "the shift is already closed",
            ))
        }
    }
}

pub async fn cash_movement(
    db: &Db,
    tenant: Uuid,
    shift: Uuid,
    kind: &str,
    amount: i64,
    note: Option<&str>,
) -> Result<Uuid> {
    let id = crate::domain::new_id();
    let rows = db
        .query(
            "INSERT INTO cash_movements (tenant_id, id, shift_id, kind, amount, note) \
             SELECT $1, $2, s.id, $4, $5, $6 FROM shifts s \
             WHERE s.tenant_id = $1 AND s.id = $3 AND s.closed_at IS NULL RETURNING id",
            &[&tenant, &id, &shift, &kind, &amount, &note],
        )
        .await?;
    if rows.is_empty() {
        get(db, tenant, shift).await?;
        return Err(Error::conflict(Code::ShiftClosed, "the shift is closed"));
    }
    Ok(id)
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct MethodTotals {
    pub sales: i64,
    pub returns: i64,
}

/// X report while open, Z report once closed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftReport {
    /// "x" (running) or "z" (closed).
    pub kind: String,
    pub shift: Shift,
    pub receipts: i64,
    pub sales_count: i64,
    pub returns_count: i64,
    pub sales_total: i64,
    pub returns_total: i64,
    /// Paid amounts by method ("cash", "card", "other").
    pub by_method: BTreeMap<String, MethodTotals>,
    pub cash_in: i64,
    pub cash_out: i64,
    /// opening + cash sales - change given - cash refunds + in - out.
    pub expected_cash: i64,
    pub counted_cash: Option<i64>,
    /// counted - expected (negative: cash missing).
    pub difference: Option<i64>,
}

pub async fn report(db: &Db, tenant: Uuid, id: Uuid) -> Result<ShiftReport> {
    let shift = get(db, tenant, id).await?;
    let client = db.client().await?;
    totals(&**client, tenant, shift).await
}

/// The X or Z report of `shift`, read through `c` (inside the closing
/// transaction for the Z report of the `shift.closed` event).
async fn totals<C: GenericClient + Sync>(c: &C, tenant: Uuid, shift: Shift) -> Result<ShiftReport> {
    let id = shift.id;
    let mut report = ShiftReport {
        kind: if shift.closed_at.is_some() { "z" } else { "x" }.into(),
        receipts: 0,
        sales_count: 0,
        returns_count: 0,
        sales_total: 0,
        returns_total: 0,
        by_method: BTreeMap::new(),
        cash_in: 0,
        cash_out: 0,
        expected_cash: shift.opening_cash,
        counted_cash: shift.counted_cash,
        difference: None,
        shift,
    };
    let mut change_given = 0i64;
    for r in c
        .query(
            "SELECT kind, count(*), COALESCE(sum(total), 0)::bigint, COALESCE(sum(change_due), 0)::bigint \
             FROM receipts WHERE tenant_id = $1 AND shift_id = $2 GROUP BY kind",
            &[&tenant, &id],
        )
        .await?
    {
        let (kind, n, total, change): (String, i64, i64, i64) = (r.get(0), r.get(1), r.get(2), r.get(3));
        report.receipts += n;
        if kind == "sale" {
            report.sales_count = n;
            report.sales_total = total;
            change_given += change;
        } else {
            report.returns_count = n;
            report.returns_total = total;
        }
    }
    for r in c
        .query(
            "SELECT r.kind, p.method, COALESCE(sum(p.amount), 0)::bigint FROM receipts r JOIN payments p \
               ON p.tenant_id = r.tenant_id AND p.receipt_id = r.id AND p.occurred_at = r.occurred_at \
             WHERE r.tenant_id = $1 AND r.shift_id = $2 GROUP BY r.kind, p.method",
            &[&tenant, &id],
        )
        .await?
    {
        let (kind, method, amount): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
        let e = report.by_method.entry(method.clone()).or_default();
        if kind == "sale" {
            e.sales += amount;
            if method == "cash" {
                report.expected_cash += amount;
            }
        } else {
            e.returns += amount;
            if method == "cash" {
                report.expected_cash -= amount;
            }
        }
    }
    report.expected_cash -= change_given;
    for r in c
        .query(
            "SELECT kind, COALESCE(sum(amount), 0)::bigint FROM cash_movements WHERE tenant_id = $1 AND shift_id = $2 GROUP BY kind",
            &[&tenant, &id],
        )
        .await?
    {
        let (kind, amount): (String, i64) = (r.get(0), r.get(1));
        if kind == "in" {
            report.cash_in = amount;
            report.expected_cash += amount;
        } else {
            report.cash_out = amount;
            report.expected_cash -= amount;
        }
    }
    report.difference = report.counted_cash.map(|c| c - report.expected_cash);
    Ok(report)
}
