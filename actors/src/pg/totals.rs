//! Running sales totals (migration V8): the set-based rebuild, which is the
//! reference definition of every figure, and the reads of shift totals.
//!
//! Figures, for one group of receipts:
//! - `sales_count`, `returns_count`: receipts of each kind;
//! - `gross`: sales before discounts (Σ subtotal of sales, = Σ round(price ×
//!   quantity) of their lines); `discounts`: Σ discounts of sales;
//!   `sales` = gross - discounts; `returns`: Σ totals of returns;
//!   net (computed by readers) = sales - returns;
//! - per variant the same at line level (gross = round(price × quantity),
//!   discounts = the line's own + its share of the receipt discount), plus
//!   `qty_sold` / `qty_returned`, `tax` / `returns_tax` (tax inside sales
//!   and returns), `cost` / `returns_cost` (Σ `receipt_items.cost` of sold
//!   and returned lines) and `uncosted_lines` (lines without a cost);
//! - per payment method: `paid` on sales, `refunded` on returns, and the
//!   sales' change on the cash row (`change_given`);
//! - per shift, the X/Z report's money block (V11): `money_discounts`,
//!   `money_tax`, `money_rounding` = Σ over sales - Σ over returns of the
//!   receipts' discount_total, tax_total, rounding; `points_earned`,
//!   `points_redeemed` = Σ as stored (a return's earned points are
//!   negative); and per tax rate (`shift_tax_totals`) the lines' net
//!   amount taxed (total, less the tax when it was added on top) and tax,
//!   sales - returns.
//!
//! The rebuild locks the totals tables (EXCLUSIVE: reads go on, writers
//! wait) one chunk — a tenant's month — at a time, so live commits and a
//! rebuild never double-count or lose a receipt: a commit that wrote its
//! deltas first is seen by the chunk's reads (taken after the lock), one
//! that comes later adds its deltas after the chunk commits.

use super::Db;
use crate::error::Result;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

/// What `jowi reports rebuild` recomputes.
#[derive(Debug, Clone, Default)]
pub struct RebuildScope {
    /// One tenant, or all.
    pub tenant: Option<Uuid>,
    /// One store of that tenant (used after a store's business clock changes).
    pub store: Option<Uuid>,
    /// Business days, inclusive; open ends mean "from the first / to the
    /// last receipt". With a range, shift totals are rebuilt for shifts
    /// opened in it.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// One unit of work, committed on its own.
#[derive(Debug, Clone)]
enum Chunk {
    Days {
        tenant: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    },
    Shifts {
        tenant: Uuid,
    },
}

#[derive(Debug, Default, Clone, Copy)]
pub struct RebuildReport {
    pub chunks: usize,
    pub receipts: u64,
    pub shifts: u64,
}

const LOCK: &str =
    "LOCK TABLE shift_totals, shift_tax_totals, sales_hourly, sales_daily_employee, \
     sales_daily_variant, sales_monthly_variant, sales_daily_payment IN EXCLUSIVE MODE";

/// UTC bounds that contain every receipt of business days [from, to] in any
/// zone (offsets -12..+14 h) with any start hour (0..23 h).
fn utc_window(from: NaiveDate, to: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let at = |d: NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
    (at(from) - Duration::days(1), at(to) + Duration::days(3))
}

/// Recomputes the totals in `scope` from receipts, payments and cash
/// movements. Idempotent; `progress(done, total)` is called after each chunk.
pub async fn rebuild(
    db: &Db,
    scope: &RebuildScope,
    mut progress: impl FnMut(usize, usize),
) -> Result<RebuildReport> {
    let chunks = plan(db, scope).await?;
    let mut report = RebuildReport::default();
    progress(0, chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        let (receipts, shifts) = run_chunk(db, chunk, scope.store, scope).await?;
        report.receipts += receipts;
        report.shifts += shifts;
        report.chunks += 1;
        progress(i + 1, chunks.len());
    }
    Ok(report)
}

/// Per tenant: its months between the scope's ends (or the first and last
/// receipt), then its shifts.
async fn plan(db: &Db, scope: &RebuildScope) -> Result<Vec<Chunk>> {
    let rows = db
        .query(
            "SELECT t.id, (SELECT min(occurred_at) FROM receipts r WHERE r.tenant_id = t.id), \
                    (SELECT max(occurred_at) FROM receipts r WHERE r.tenant_id = t.id) \
             FROM tenants t WHERE $1::uuid IS NULL OR t.id = $1 ORDER BY t.id",
            &[&scope.tenant],
        )
        .await?;
    let mut chunks = Vec::new();
    for row in rows {
        let tenant: Uuid = row.get(0);
        let first: Option<DateTime<Utc>> = row.get(1);
        let last: Option<DateTime<Utc>> = row.get(2);
        // A day either side: the business day may differ from the UTC date.
        let from = scope
            .from
            .or(first.map(|t| t.date_naive() - Duration::days(1)));
        let to = scope
            .to
            .or(last.map(|t| t.date_naive() + Duration::days(1)));
        if let (Some(from), Some(to)) = (from, to) {
            let mut start = from;
            while start <= to {
                let month_end = next_month(start) - Duration::days(1);
                let end = month_end.min(to);
                chunks.push(Chunk::Days {
                    tenant,
                    from: start,
                    to: end,
                });
                start = end + Duration::days(1);
            }
        }
        if scope.store.is_none() {
            chunks.push(Chunk::Shifts { tenant });
        }
    }
    Ok(chunks)
}

fn next_month(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(d + Duration::days(31))
}

/// The receipts of a tenant's business days [$2, $3] with their day and
/// hour, into a temporary table the per-table inserts read.
const SQL_CHUNK_RECEIPTS: &str = "CREATE TEMP TABLE rebuild_receipts ON COMMIT DROP AS \
     SELECT r.tenant_id, r.id, r.occurred_at, r.store_id, r.register_id, r.kind, \
            COALESCE(r.employee_id, '00000000-0000-0000-0000-000000000000'::uuid) AS employee_id, \
            r.subtotal, r.discount_total, r.total, r.change_due, \
            jowi_business_day(r.occurred_at, c.zone, c.start_hour) AS business_day, \
            jowi_local_hour(r.occurred_at, c.zone) AS hour \
     FROM receipts r \
     JOIN (SELECT s.tenant_id, s.id, COALESCE(s.time_zone, t.time_zone) AS zone, \
                  COALESCE(s.business_day_start_hour, t.business_day_start_hour) AS start_hour \
           FROM stores s JOIN tenants t ON t.id = s.tenant_id WHERE s.tenant_id = $1) c \
       ON c.tenant_id = r.tenant_id AND c.id = r.store_id \
     WHERE r.tenant_id = $1 AND r.occurred_at >= $4 AND r.occurred_at < $5 \
       AND ($6::uuid IS NULL OR r.store_id = $6) \
       AND jowi_business_day(r.occurred_at, c.zone, c.start_hour) BETWEEN $2 AND $3";

const RECEIPT_FIGURES: &str = "count(*) FILTER (WHERE kind = 'sale'), \
     count(*) FILTER (WHERE kind = 'return'), \
     COALESCE(sum(subtotal) FILTER (WHERE kind = 'sale'), 0), \
     COALESCE(sum(discount_total) FILTER (WHERE kind = 'sale'), 0), \
     COALESCE(sum(total) FILTER (WHERE kind = 'sale'), 0), \
     COALESCE(sum(total) FILTER (WHERE kind = 'return'), 0)";

/// The statements of a days chunk, in order; `true`: takes ($1 tenant, $2
/// from, $3 to, $4 store), else reads only the chunk's temporary table.
fn chunk_statements() -> Vec<(String, bool)> {
    let scope = "tenant_id = $1 AND business_day BETWEEN $2 AND $3 \
                 AND ($4::uuid IS NULL OR store_id = $4)";
    let months = "tenant_id = $1 AND ($4::uuid IS NULL OR store_id = $4)";
    let with_params = [
        format!("DELETE FROM sales_hourly WHERE {scope}"),
        format!("DELETE FROM sales_daily_employee WHERE {scope}"),
        format!("DELETE FROM sales_daily_variant WHERE {scope}"),
        format!("DELETE FROM sales_daily_payment WHERE {scope}"),
    ];
    // Months are rebuilt whole from the daily rows (a chunk may cover part
    // of a month; the month's other days are already right).
    let month_rows = [
        format!(
            "DELETE FROM sales_monthly_variant WHERE {months} \
             AND month BETWEEN date_trunc('month', $2::date)::date AND date_trunc('month', $3::date)::date"
        ),
        format!(
            "INSERT INTO sales_monthly_variant (tenant_id, store_id, month, variant_id, product_id, \
                qty_sold, qty_returned, gross, discounts, sales, returns, tax, returns_tax, cost, \
                returns_cost, uncosted_lines) \
             SELECT tenant_id, store_id, date_trunc('month', business_day)::date, variant_id, \
                min(product_id::text)::uuid, sum(qty_sold), sum(qty_returned), sum(gross), sum(discounts), \
                sum(sales), sum(returns), sum(tax), sum(returns_tax), sum(cost), sum(returns_cost), \
                sum(uncosted_lines) \
             FROM sales_daily_variant WHERE {months} \
               AND business_day >= date_trunc('month', $2::date)::date \
               AND business_day < (date_trunc('month', $3::date) + interval '1 month')::date \
             GROUP BY 1, 2, 3, 4"
        ),
    ];
    let from_temp = vec![
        format!(
            "INSERT INTO sales_hourly (tenant_id, store_id, business_day, hour, register_id, \
                sales_count, returns_count, gross, discounts, sales, returns) \
             SELECT tenant_id, store_id, business_day, hour, register_id, {RECEIPT_FIGURES} \
             FROM rebuild_receipts GROUP BY 1, 2, 3, 4, 5"
        ),
        format!(
            "INSERT INTO sales_daily_employee (tenant_id, store_id, business_day, employee_id, register_id, \
                sales_count, returns_count, gross, discounts, sales, returns) \
             SELECT tenant_id, store_id, business_day, employee_id, register_id, {RECEIPT_FIGURES} \
             FROM rebuild_receipts GROUP BY 1, 2, 3, 4, 5"
        ),
        "INSERT INTO sales_daily_variant (tenant_id, store_id, business_day, variant_id, product_id, \
            qty_sold, qty_returned, gross, discounts, sales, returns, tax, returns_tax, cost, returns_cost, \
            uncosted_lines) \
         SELECT r.tenant_id, r.store_id, r.business_day, i.variant_id, min(i.product_id::text)::uuid, \
            COALESCE(sum(i.quantity) FILTER (WHERE r.kind = 'sale'), 0), \
            COALESCE(sum(i.quantity) FILTER (WHERE r.kind = 'return'), 0), \
            COALESCE(sum(i.total + i.discount + i.receipt_discount \
                         - CASE WHEN i.tax_included THEN 0 ELSE i.tax END) FILTER (WHERE r.kind = 'sale'), 0), \
            COALESCE(sum(i.discount + i.receipt_discount) FILTER (WHERE r.kind = 'sale'), 0), \
            COALESCE(sum(i.total) FILTER (WHERE r.kind = 'sale'), 0), \
            COALESCE(sum(i.total) FILTER (WHERE r.kind = 'return'), 0), \
            COALESCE(sum(i.tax) FILTER (WHERE r.kind = 'sale'), 0), \
            COALESCE(sum(i.tax) FILTER (WHERE r.kind = 'return'), 0), \
            COALESCE(sum(i.cost) FILTER (WHERE r.kind = 'sale'), 0), \
            COALESCE(sum(i.cost) FILTER (WHERE r.kind = 'return'), 0), \
            count(*) FILTER (WHERE i.cost IS NULL) \
         FROM rebuild_receipts r JOIN receipt_items i \
           ON i.tenant_id = r.tenant_id AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at \
         GROUP BY 1, 2, 3, 4"
            .into(),
        "INSERT INTO sales_daily_payment (tenant_id, store_id, business_day, method, register_id, \
            paid, refunded, change_given) \
         SELECT tenant_id, store_id, business_day, method, register_id, \
            sum(paid), sum(refunded), sum(change_given) FROM ( \
              SELECT r.tenant_id, r.store_id, r.business_day, p.method, r.register_id, \
                 CASE WHEN r.kind = 'sale' THEN p.amount ELSE 0 END AS paid, \
                 CASE WHEN r.kind = 'return' THEN p.amount ELSE 0 END AS refunded, \
                 0::bigint AS change_given \
              FROM rebuild_receipts r JOIN payments p \
                ON p.tenant_id = r.tenant_id AND p.receipt_id = r.id AND p.occurred_at = r.occurred_at \
              UNION ALL \
              SELECT tenant_id, store_id, business_day, 'cash', register_id, 0, 0, change_due \
              FROM rebuild_receipts WHERE kind = 'sale' AND change_due <> 0) x \
         GROUP BY 1, 2, 3, 4, 5"
            .into(),
    ];
    with_params
        .into_iter()
        .map(|s| (s, true))
        .chain(from_temp.into_iter().map(|s| (s, false)))
        .chain(month_rows.into_iter().map(|s| (s, true)))
        .collect()
}

/// Shift totals of a tenant (shifts opened in the window, or all).
const SQL_SHIFT_DELETE: &str = "DELETE FROM shift_totals st USING shifts s \
     WHERE st.tenant_id = $1 AND s.tenant_id = $1 AND s.id = st.shift_id \
       AND ($2::timestamptz IS NULL OR s.opened_at >= $2) AND ($3::timestamptz IS NULL OR s.opened_at < $3)";
const SQL_SHIFT_INSERT: &str = "WITH sh AS ( \
       SELECT tenant_id, id FROM shifts WHERE tenant_id = $1 \
         AND ($2::timestamptz IS NULL OR opened_at >= $2) AND ($3::timestamptz IS NULL OR opened_at < $3)), \
     rc AS ( \
       SELECT r.tenant_id, r.shift_id, \
         count(*) FILTER (WHERE r.kind = 'sale') AS sales_count, \
         count(*) FILTER (WHERE r.kind = 'return') AS returns_count, \
         COALESCE(sum(r.subtotal) FILTER (WHERE r.kind = 'sale'), 0) AS gross, \
         COALESCE(sum(r.discount_total) FILTER (WHERE r.kind = 'sale'), 0) AS discounts, \
         COALESCE(sum(r.total) FILTER (WHERE r.kind = 'sale'), 0) AS sales, \
         COALESCE(sum(r.total) FILTER (WHERE r.kind = 'return'), 0) AS returns, \
         COALESCE(sum(r.change_due) FILTER (WHERE r.kind = 'sale'), 0) AS change_given, \
         sum(CASE WHEN r.kind = 'sale' THEN r.discount_total ELSE -r.discount_total END) AS money_discounts, \
         sum(CASE WHEN r.kind = 'sale' THEN r.tax_total ELSE -r.tax_total END) AS money_tax, \
         sum(CASE WHEN r.kind = 'sale' THEN r.rounding ELSE -r.rounding END) AS money_rounding, \
         sum(r.points_earned) AS points_earned, sum(r.points_redeemed) AS points_redeemed \
       FROM receipts r JOIN sh ON r.tenant_id = sh.tenant_id AND r.shift_id = sh.id GROUP BY 1, 2), \
     pm AS ( \
       SELECT r.tenant_id, r.shift_id, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'sale' AND p.method = 'cash'), 0) AS cash_sales, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'sale' AND p.method = 'card'), 0) AS card_sales, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'sale' AND p.method = 'other'), 0) AS other_sales, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'sale' AND p.method = 'points'), 0) AS points_sales, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'return' AND p.method = 'cash'), 0) AS cash_refunds, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'return' AND p.method = 'card'), 0) AS card_refunds, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'return' AND p.method = 'other'), 0) AS other_refunds, \
         COALESCE(sum(p.amount) FILTER (WHERE r.kind = 'return' AND p.method = 'points'), 0) AS points_refunds \
       FROM receipts r JOIN sh ON r.tenant_id = sh.tenant_id AND r.shift_id = sh.id \
       JOIN payments p ON p.tenant_id = r.tenant_id AND p.receipt_id = r.id AND p.occurred_at = r.occurred_at \
       GROUP BY 1, 2), \
     cm AS ( \
       SELECT m.tenant_id, m.shift_id, \
         COALESCE(sum(m.amount) FILTER (WHERE m.kind = 'in'), 0) AS cash_in, \
         COALESCE(sum(m.amount) FILTER (WHERE m.kind = 'out'), 0) AS cash_out \
       FROM cash_movements m JOIN sh ON m.tenant_id = sh.tenant_id AND m.shift_id = sh.id GROUP BY 1, 2) \
     INSERT INTO shift_totals (tenant_id, shift_id, sales_count, returns_count, gross, discounts, sales, \
        returns, change_given, cash_sales, card_sales, other_sales, cash_refunds, card_refunds, \
        other_refunds, points_sales, points_refunds, cash_in, cash_out, money_discounts, money_tax, \
        money_rounding, points_earned, points_redeemed) \
     SELECT sh.tenant_id, sh.id, COALESCE(rc.sales_count, 0), COALESCE(rc.returns_count, 0), \
        COALESCE(rc.gross, 0), COALESCE(rc.discounts, 0), COALESCE(rc.sales, 0), COALESCE(rc.returns, 0), \
        COALESCE(rc.change_given, 0), COALESCE(pm.cash_sales, 0), COALESCE(pm.card_sales, 0), \
        COALESCE(pm.other_sales, 0), COALESCE(pm.cash_refunds, 0), COALESCE(pm.card_refunds, 0), \
        COALESCE(pm.other_refunds, 0), COALESCE(pm.points_sales, 0), COALESCE(pm.points_refunds, 0), \
        COALESCE(cm.cash_in, 0), COALESCE(cm.cash_out, 0), COALESCE(rc.money_discounts, 0), \
        COALESCE(rc.money_tax, 0), COALESCE(rc.money_rounding, 0), COALESCE(rc.points_earned, 0), \
        COALESCE(rc.points_redeemed, 0) \
     FROM sh LEFT JOIN rc ON rc.tenant_id = sh.tenant_id AND rc.shift_id = sh.id \
     LEFT JOIN pm ON pm.tenant_id = sh.tenant_id AND pm.shift_id = sh.id \
     LEFT JOIN cm ON cm.tenant_id = sh.tenant_id AND cm.shift_id = sh.id";

/// Per shift and tax rate (V11), for the same shifts.
const SQL_SHIFT_TAX_DELETE: &str = "DELETE FROM shift_tax_totals st USING shifts s \
     WHERE st.tenant_id = $1 AND s.tenant_id = $1 AND s.id = st.shift_id \
       AND ($2::timestamptz IS NULL OR s.opened_at >= $2) AND ($3::timestamptz IS NULL OR s.opened_at < $3)";
const SQL_SHIFT_TAX_INSERT: &str = "INSERT INTO shift_tax_totals (tenant_id, shift_id, tax_rate_id, taxable, tax) \
     SELECT r.tenant_id, r.shift_id, i.tax_rate_id, \
       sum(CASE WHEN r.kind = 'sale' THEN 1 ELSE -1 END \
           * CASE WHEN i.tax_included THEN i.total ELSE i.total - i.tax END), \
       sum(CASE WHEN r.kind = 'sale' THEN i.tax ELSE -i.tax END) \
     FROM shifts s \
     JOIN receipts r ON r.tenant_id = s.tenant_id AND r.shift_id = s.id \
     JOIN receipt_items i ON i.tenant_id = r.tenant_id AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at \
     WHERE s.tenant_id = $1 AND i.tax_rate_id IS NOT NULL \
       AND ($2::timestamptz IS NULL OR s.opened_at >= $2) AND ($3::timestamptz IS NULL OR s.opened_at < $3) \
     GROUP BY 1, 2, 3";

async fn run_chunk(
    db: &Db,
    chunk: &Chunk,
    store: Option<Uuid>,
    scope: &RebuildScope,
) -> Result<(u64, u64)> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.batch_execute(LOCK).await?;
    let counted = match chunk {
        Chunk::Days { tenant, from, to } => {
            let (lo, hi) = utc_window(*from, *to);
            let receipts = tx
                .execute(SQL_CHUNK_RECEIPTS, &[tenant, from, to, &lo, &hi, &store])
                .await?;
            for (sql, params) in chunk_statements() {
                if params {
                    tx.execute(sql.as_str(), &[tenant, from, to, &store])
                        .await?;
                } else {
                    tx.execute(sql.as_str(), &[]).await?;
                }
            }
            (receipts, 0)
        }
        Chunk::Shifts { tenant } => {
            let (lo, hi) = match (scope.from, scope.to) {
                (Some(f), Some(t)) => {
                    let (lo, hi) = utc_window(f, t);
                    (Some(lo), Some(hi))
                }
                (Some(f), None) => (Some(utc_window(f, f).0), None),
                (None, Some(t)) => (None, Some(utc_window(t, t).1)),
                (None, None) => (None, None),
            };
            tx.execute(SQL_SHIFT_DELETE, &[tenant, &lo, &hi]).await?;
            let n = tx.execute(SQL_SHIFT_INSERT, &[tenant, &lo, &hi]).await?;
            tx.execute(SQL_SHIFT_TAX_DELETE, &[tenant, &lo, &hi])
                .await?;
            tx.execute(SQL_SHIFT_TAX_INSERT, &[tenant, &lo, &hi])
                .await?;
            (0, n)
        }
    };
    tx.commit().await?;
    Ok(counted)
}

/// A shift's running totals (zeros before its first receipt).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShiftTotals {
    pub sales_count: i64,
    pub returns_count: i64,
    pub gross: i64,
    pub discounts: i64,
    pub sales: i64,
    pub returns: i64,
    pub change_given: i64,
    /// cash, card, other.
    /// By method: cash, card, other, points.
    pub paid: [i64; 4],
    pub refunded: [i64; 4],
    pub cash_in: i64,
    pub cash_out: i64,
}

/// Adds a cash movement to its shift's totals; runs in the movement's own
/// statement (a CTE), see `shifts::cash_movement`.
pub const SQL_CASH_MOVEMENT_TOTALS: &str = "INSERT INTO shift_totals (tenant_id, shift_id, cash_in, cash_out) \
     SELECT tenant_id, shift_id, CASE WHEN kind = 'in' THEN amount ELSE 0 END, \
            CASE WHEN kind = 'out' THEN amount ELSE 0 END FROM moved \
     ON CONFLICT (tenant_id, shift_id) DO UPDATE SET cash_in = shift_totals.cash_in + EXCLUDED.cash_in, \
        cash_out = shift_totals.cash_out + EXCLUDED.cash_out";

/// Sets a store's business clock (None: the tenant's default) and rebuilds
/// the store's totals under it. The UPDATE waits for commits that read the
/// old clock (they hold the store row FOR SHARE) and later commits read the
/// new one, so after the rebuild every row follows the new clock.
pub async fn set_store_clock(
    db: &Db,
    tenant: Uuid,
    store: Uuid,
    zone: Option<&str>,
    start_hour: Option<i16>,
) -> Result<RebuildReport> {
    let rows = db
        .query(
            "UPDATE stores SET time_zone = $3, business_day_start_hour = $4 \
             WHERE tenant_id = $1 AND id = $2 RETURNING id",
            &[&tenant, &store, &zone, &start_hour],
        )
        .await?;
    if rows.is_empty() {
        return Err(crate::error::Error::not_found("store"));
    }
    rebuild(
        db,
        &RebuildScope {
            tenant: Some(tenant),
            store: Some(store),
            from: None,
            to: None,
        },
        |_, _| {},
    )
    .await
}

/// A store's effective clock settings: (zone, start hour).
pub async fn store_clock(db: &Db, tenant: Uuid, store: Uuid) -> Result<(String, i16)> {
    db.query(
        "SELECT COALESCE(s.time_zone, t.time_zone), \
            COALESCE(s.business_day_start_hour, t.business_day_start_hour) \
         FROM stores s JOIN tenants t ON t.id = s.tenant_id WHERE s.tenant_id = $1 AND s.id = $2",
        &[&tenant, &store],
    )
    .await?
    .first()
    .map(|r| (r.get(0), r.get(1)))
    .ok_or(crate::error::Error::not_found("store"))
}
