//! Cashier shifts: open (one per register, enforced by a unique index),
//! cash in/out, X report (running totals) and Z report (on close).

use super::{Db, Tx};
use crate::error::{constraint, Code, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// Who opened it (PIN checked); every receipt of the shift is theirs.
    pub employee_id: Option<Uuid>,
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
        employee_id: r.get(7),
    }
}

const SHIFT_COLS: &str =
    "id, store_id, register_id, opened_at, closed_at, opening_cash, counted_cash, employee_id";

pub async fn open(
    db: &Db,
    tenant: Uuid,
    store: Uuid,
    register: Uuid,
    opening_cash: i64,
    employee: Option<Uuid>,
) -> Result<Shift> {
    let id = crate::domain::new_id();
    // The shift's totals row is born with it: the X report always has one.
    let sql = format!(
        "WITH s AS (INSERT INTO shifts (tenant_id, id, store_id, register_id, opening_cash, employee_id) \
           VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SHIFT_COLS}), \
         t AS (INSERT INTO shift_totals (tenant_id, shift_id) SELECT $1, id FROM s) \
         SELECT {SHIFT_COLS} FROM s"
    );
    match db
        .query(
            &sql,
            &[&tenant, &id, &store, &register, &opening_cash, &employee],
        )
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
            let z = report_in(&tx, tenant, id).await?;
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
            &format!(
                "WITH moved AS (INSERT INTO cash_movements (tenant_id, id, shift_id, kind, amount, note) \
                 SELECT $1, $2, s.id, $4, $5, $6 FROM shifts s \
                 WHERE s.tenant_id = $1 AND s.id = $3 AND s.closed_at IS NULL \
                 RETURNING tenant_id, id, shift_id, kind, amount), \
                 totals AS ({}) SELECT id FROM moved",
                super::totals::SQL_CASH_MOVEMENT_TOTALS
            ),
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
    /// Sales before discounts, and the discounts given.
    pub gross: i64,
    pub discounts: i64,
    /// sales_total - returns_total.
    pub net: i64,
    /// The cashier who opened the shift.
    pub employee_name: Option<String>,
    /// Paid amounts by method ("cash", "card", "other", "points").
    pub by_method: BTreeMap<String, MethodTotals>,
    pub cash_in: i64,
    pub cash_out: i64,
    /// opening + cash sales - change given - cash refunds + in - out.
    pub expected_cash: i64,
    pub counted_cash: Option<i64>,
    /// counted - expected (negative: cash missing).
    pub difference: Option<i64>,
    /// Sales minus returns: discounts given (line + receipt), tax, cash
    /// rounding, points earned and spent (the money rules' lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub money: Option<ShiftMoney>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ShiftMoney {
    pub discount_total: i64,
    pub tax_total: i64,
    pub rounding: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    /// Per tax rate: net amounts taxed and their tax.
    pub taxes: Vec<ShiftTax>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShiftTax {
    pub tax_rate_id: Uuid,
    pub taxable: i64,
    pub tax: i64,
}

/// A shift's taxes as `SQL_REPORT` reads them: `[[rate, taxable, tax], ...]`.
fn shift_taxes(v: Option<serde_json::Value>) -> Result<Vec<ShiftTax>> {
    let rows: Vec<(Uuid, i64, i64)> = match v {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| Error::Internal(anyhow::anyhow!("shift_tax_totals row: {e}")))?,
        None => Vec::new(),
    };
    Ok(rows
        .into_iter()
        .map(|(tax_rate_id, taxable, tax)| ShiftTax {
            tax_rate_id,
            taxable,
            tax,
        })
        .collect())
}

/// The shift, its running totals (one row, written by each receipt commit
/// and cash movement), its per-tax-rate totals (a row per rate) and its
/// cashier's name: primary-key reads, in one statement — the X report
/// costs the same at any shift size and never reads the receipts.
const SQL_REPORT: &str = "SELECT s.id, s.store_id, s.register_id, s.opened_at, s.closed_at, \
       s.opening_cash, s.counted_cash, s.employee_id, \
       COALESCE(t.sales_count, 0), COALESCE(t.returns_count, 0), COALESCE(t.gross, 0), \
       COALESCE(t.discounts, 0), COALESCE(t.sales, 0), COALESCE(t.returns, 0), \
       COALESCE(t.change_given, 0), COALESCE(t.cash_sales, 0), COALESCE(t.card_sales, 0), \
       COALESCE(t.other_sales, 0), COALESCE(t.points_sales, 0), COALESCE(t.cash_refunds, 0), \
       COALESCE(t.card_refunds, 0), COALESCE(t.other_refunds, 0), COALESCE(t.points_refunds, 0), \
       COALESCE(t.cash_in, 0), COALESCE(t.cash_out, 0), e.name, \
       COALESCE(t.money_discounts, 0), COALESCE(t.money_tax, 0), COALESCE(t.money_rounding, 0), \
       COALESCE(t.points_earned, 0), COALESCE(t.points_redeemed, 0), \
       (SELECT jsonb_agg(jsonb_build_array(x.tax_rate_id, x.taxable, x.tax) ORDER BY x.tax_rate_id) \
          FROM shift_tax_totals x WHERE x.tenant_id = s.tenant_id AND x.shift_id = s.id) \
     FROM shifts s \
     LEFT JOIN shift_totals t ON t.tenant_id = s.tenant_id AND t.shift_id = s.id \
     LEFT JOIN employees e ON e.tenant_id = s.tenant_id AND e.id = s.employee_id \
     WHERE s.tenant_id = $1 AND s.id = $2";

pub async fn report(db: &Db, tenant: Uuid, id: Uuid) -> Result<ShiftReport> {
    // One short read-only transaction (statements prepared as the pool
    // says: fresh per transaction behind a transaction-mode PgBouncer).
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let report = report_in(&tx, tenant, id).await?;
    tx.commit().await?;
    Ok(report)
}

/// The X or Z report of shift `id`, read in `tx` (the closing transaction
/// for the Z report of the `shift.closed` event).
async fn report_in(tx: &Tx<'_>, tenant: Uuid, id: Uuid) -> Result<ShiftReport> {
    let stmt = tx.prepare(SQL_REPORT).await?;
    let rows = tx.query(&stmt, &[&tenant, &id]).await?;
    let r = rows.first().ok_or(Error::not_found("shift"))?;
    let t = super::totals::ShiftTotals {
        sales_count: r.get(8),
        returns_count: r.get(9),
        gross: r.get(10),
        discounts: r.get(11),
        sales: r.get(12),
        returns: r.get(13),
        change_given: r.get(14),
        paid: [r.get(15), r.get(16), r.get(17), r.get(18)],
        refunded: [r.get(19), r.get(20), r.get(21), r.get(22)],
        cash_in: r.get(23),
        cash_out: r.get(24),
    };
    let mut report = report_from_totals(shift_row(r), &t, r.get(25));
    report.money = Some(ShiftMoney {
        discount_total: r.get(26),
        tax_total: r.get(27),
        rounding: r.get(28),
        points_earned: r.get(29),
        points_redeemed: r.get(30),
        taxes: shift_taxes(r.get(31))?,
    });
    Ok(report)
}

/// X/Z figures from a shift's totals (pure).
pub fn report_from_totals(
    shift: Shift,
    t: &super::totals::ShiftTotals,
    employee_name: Option<String>,
) -> ShiftReport {
    let mut by_method = BTreeMap::new();
    for (i, method) in ["cash", "card", "other", "points"].into_iter().enumerate() {
        if t.paid[i] != 0 || t.refunded[i] != 0 {
            by_method.insert(
                method.to_owned(),
                MethodTotals {
                    sales: t.paid[i],
                    returns: t.refunded[i],
                },
            );
        }
    }
    let expected_cash =
        shift.opening_cash + t.paid[0] - t.change_given - t.refunded[0] + t.cash_in - t.cash_out;
    ShiftReport {
        kind: if shift.closed_at.is_some() { "z" } else { "x" }.into(),
        receipts: t.sales_count + t.returns_count,
        sales_count: t.sales_count,
        returns_count: t.returns_count,
        gross: t.gross,
        discounts: t.discounts,
        sales_total: t.sales,
        returns_total: t.returns,
        net: t.sales - t.returns,
        by_method,
        cash_in: t.cash_in,
        cash_out: t.cash_out,
        expected_cash,
        counted_cash: shift.counted_cash,
        difference: shift.counted_cash.map(|c| c - expected_cash),
        employee_name,
        money: None,
        shift,
    }
}
