//! Round trip 1 of a batch: BEGIN and every read `decide` needs, pipelined.
//! Locks are taken here in a fixed order, each set sorted: the shifts
//! (FOR SHARE, so a close waits for the batch), then the sales the batch
//! returns from (FOR UPDATE, so returns of one sale go one batch at a time
//! on any instance), then the loyalty accounts whose points the batch moves
//! (FOR UPDATE: redemptions of one customer go one batch at a time).
//! Stock levels and registers are locked in the write.

use super::pipeline::Param;
use super::BatchTx;
use crate::domain::business_day::BusinessClock;
use crate::domain::commit::{client_number, Facts, ShiftFacts};
use crate::domain::receipt::{PreparedReceipt, ReceiptKind};
use crate::domain::totals::ShiftContext;
use crate::error::Result;
use rust_decimal::Decimal;
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

const SQL_KEYS: &str = "SELECT k.tenant_id, k.id, k.body_hash FROM receipt_keys k \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON k.tenant_id = u.t AND k.id = u.id";
/// With each shift: its opening (for the shift window check), its employee
/// and its store's business clock (for the running totals). The store row is
/// held FOR SHARE too, so a change of the store's clock waits for batches
/// that read the old one (`pg::totals::set_store_clock`).
const SQL_SHIFTS: &str = "SELECT s.tenant_id, s.id, s.register_id, s.closed_at, s.employee_id, \
        COALESCE(st.time_zone, tn.time_zone), \
        COALESCE(st.business_day_start_hour, tn.business_day_start_hour), s.opened_at \
     FROM shifts s \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON s.tenant_id = u.t AND s.id = u.id \
     JOIN stores st ON st.tenant_id = s.tenant_id AND st.id = s.store_id \
     JOIN tenants tn ON tn.id = s.tenant_id \
     ORDER BY s.tenant_id, s.id FOR SHARE OF s, st";
const SQL_TAKEN: &str = "SELECT k.tenant_id, k.number FROM receipt_keys k \
     JOIN UNNEST($1::uuid[], $2::text[]) AS u(t, n) ON k.tenant_id = u.t AND k.number = u.n";
/// The sales returned from: locked, and answered only if they are sales.
const SQL_ORIGINALS: &str = "SELECT k.tenant_id, k.id, r.kind FROM receipt_keys k \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON k.tenant_id = u.t AND k.id = u.id \
     LEFT JOIN receipts r ON r.tenant_id = k.tenant_id AND r.id = k.id AND r.occurred_at = k.occurred_at \
     ORDER BY k.tenant_id, k.id FOR UPDATE OF k";
const SQL_SOLD: &str = "SELECT k.tenant_id, k.id, ri.variant_id, sum(ri.quantity), \
        CASE WHEN bool_and(ri.cost IS NOT NULL) THEN sum(ri.cost)::int8 END FROM receipt_keys k \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON k.tenant_id = u.t AND k.id = u.id \
     JOIN receipt_items ri ON ri.tenant_id = k.tenant_id AND ri.receipt_id = k.id AND ri.occurred_at = k.occurred_at \
     GROUP BY 1, 2, 3";
const SQL_RETURNED: &str = "SELECT r.tenant_id, r.original_receipt_id, ri.variant_id, sum(ri.quantity) FROM receipts r \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON r.tenant_id = u.t AND r.original_receipt_id = u.id \
     JOIN receipt_items ri ON ri.tenant_id = r.tenant_id AND ri.receipt_id = r.id AND ri.occurred_at = r.occurred_at \
     GROUP BY 1, 2, 3";

/// The unit cost of each (warehouse, variant) the batch sells: the moving
/// average cost, else the variant's cost price. Not locked: a receiving
/// that commits meanwhile changes the cost of later sales, not this one.
const SQL_COSTS: &str = "SELECT u.t, u.w, u.v, COALESCE(sl.avg_cost, pv.cost_price) \
     FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[]) AS u(t, w, v) \
     LEFT JOIN stock_levels sl ON sl.tenant_id = u.t AND sl.warehouse_id = u.w AND sl.variant_id = u.v \
     LEFT JOIN product_variants pv ON pv.tenant_id = u.t AND pv.id = u.v \
     WHERE COALESCE(sl.avg_cost, pv.cost_price) IS NOT NULL";

/// Accounts of the batch's customers: created if missing (in key order),
/// then locked, so concurrent redemptions on any instance go one at a time.
const SQL_ENSURE_ACCOUNTS: &str = "INSERT INTO loyalty_accounts (tenant_id, customer_id) \
     SELECT c.tenant_id, c.id FROM customers c \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON c.tenant_id = u.t AND c.id = u.id \
     ORDER BY 1, 2 ON CONFLICT DO NOTHING";
const SQL_BALANCES: &str = "SELECT a.tenant_id, a.customer_id, a.balance FROM loyalty_accounts a \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON a.tenant_id = u.t AND a.customer_id = u.id \
     ORDER BY 1, 2 FOR UPDATE OF a";

fn unique_pairs(pairs: impl Iterator<Item = (Uuid, Uuid)>) -> (Vec<Uuid>, Vec<Uuid>) {
    let set: BTreeSet<(Uuid, Uuid)> = pairs.collect();
    set.into_iter().unzip()
}

impl BatchTx {
    /// BEGIN and the facts of `batch`, in one round trip (the three return
    /// reads join it only when the batch holds returns).
    pub async fn begin_and_read(&self, batch: &[PreparedReceipt]) -> Result<Facts> {
        let c = &self.client;
        // Behind a transaction-mode PgBouncer statements are prepared inside
        // the transaction, so BEGIN goes first on its own.
        if !self.statement_cache {
            c.batch_execute("BEGIN").await?;
        }
        let s_keys = self.prepare(SQL_KEYS).await?;
        let s_shifts = self.prepare(SQL_SHIFTS).await?;
        let s_taken = self.prepare(SQL_TAKEN).await?;
        let s_costs = self.prepare(SQL_COSTS).await?;
        let has_returns = batch.iter().any(|r| r.kind == ReceiptKind::Return);
        let returns = if has_returns {
            Some((
                self.prepare(SQL_ORIGINALS).await?,
                self.prepare(SQL_SOLD).await?,
                self.prepare(SQL_RETURNED).await?,
            ))
        } else {
            None
        };

        let (ids_t, ids) = unique_pairs(batch.iter().map(|r| (r.tenant_id, r.id)));
        let (sh_t, sh_id) = unique_pairs(batch.iter().map(|r| (r.tenant_id, r.shift_id)));
        let (cn_t, cn_n): (Vec<Uuid>, Vec<String>) = batch
            .iter()
            .filter_map(|r| client_number(r).map(|n| (r.tenant_id, n)))
            .unzip();
        let (or_t, or_id) = unique_pairs(batch.iter().filter_map(|r| match r.kind {
            ReceiptKind::Return => r.original_receipt_id.map(|o| (r.tenant_id, o)),
            ReceiptKind::Sale => None,
        }));
        let begin = async {
            if self.statement_cache {
                c.batch_execute("BEGIN").await
            } else {
                Ok(())
            }
        };
        let costed: BTreeSet<(Uuid, Uuid, Uuid)> = batch
            .iter()
            .filter(|r| r.kind == ReceiptKind::Sale)
            .flat_map(|r| {
                r.lines
                    .iter()
                    .map(|l| (r.tenant_id, r.warehouse_id, l.variant_id))
            })
            .collect();
        let (mut co_t, mut co_w, mut co_v) = (Vec::new(), Vec::new(), Vec::new());
        for (t, w, v) in costed {
            co_t.push(t);
            co_w.push(w);
            co_v.push(v);
        }
        let cp: [Param; 3] = [&co_t, &co_w, &co_v];
        let (kp, sp, tp, op): ([Param; 2], [Param; 2], [Param; 2], [Param; 2]) = (
            [&ids_t, &ids],
            [&sh_t, &sh_id],
            [&cn_t, &cn_n],
            [&or_t, &or_id],
        );
        let return_reads = async {
            match &returns {
                None => Ok((Vec::new(), Vec::new(), Vec::new())),
                Some((originals, sold, returned)) => {
                    let (o, s, r) = futures::join!(
                        c.query(originals, &op),
                        c.query(sold, &op),
                        c.query(returned, &op),
                    );
                    Ok::<_, tokio_postgres::Error>((o?, s?, r?))
                }
            }
        };
        // Polled in this order: BEGIN, keys, shifts, taken, the return reads,
        // the points accounts, then the unit costs.
        let (pc_t, pc_id) = unique_pairs(
            batch
                .iter()
                .filter_map(|r| r.points.map(|p| (r.tenant_id, p.customer_id))),
        );
        let points = if pc_t.is_empty() {
            None
        } else {
            Some((
                self.prepare(SQL_ENSURE_ACCOUNTS).await?,
                self.prepare(SQL_BALANCES).await?,
            ))
        };
        let pp: [Param; 2] = [&pc_t, &pc_id];
        let point_reads = async {
            match &points {
                None => Ok(Vec::new()),
                Some((ensure, balances)) => {
                    let (e, b) = futures::join!(c.query(ensure, &pp), c.query(balances, &pp));
                    e?;
                    b
                }
            }
        };
        let (begun, key_rows, shift_rows, taken_rows, return_rows, balance_rows, cost_rows) = futures::join!(
            begin,
            c.query(&s_keys, &kp),
            c.query(&s_shifts, &sp),
            c.query(&s_taken, &tp),
            return_reads,
            point_reads,
            c.query(&s_costs, &cp),
        );
        begun?;
        let mut facts = Facts::default();
        for row in key_rows? {
            facts.stored.insert((row.get(0), row.get(1)), row.get(2));
        }
        for row in shift_rows? {
            facts.sold_by.insert(
                (row.get(0), row.get(1)),
                ShiftContext {
                    employee_id: row.get(4),
                    clock: BusinessClock::from_settings(row.get(5), row.get(6)),
                },
            );
            facts.shifts.insert(
                (row.get(0), row.get(1)),
                ShiftFacts {
                    register_id: row.get(2),
                    opened_at: row.get(7),
                    closed_at: row.get(3),
                },
            );
        }
        for row in taken_rows? {
            facts.taken.insert((row.get(0), row.get(1)));
        }
        let (originals, sold, returned) = return_rows?;
        for row in originals {
            if row.get::<_, Option<&str>>(2) == Some(ReceiptKind::Sale.as_str()) {
                facts
                    .returnable
                    .insert((row.get(0), row.get(1)), HashMap::new());
            }
        }
        for row in cost_rows? {
            facts
                .unit_costs
                .insert((row.get(0), row.get(1), row.get(2)), row.get(3));
        }
        for row in sold {
            let key = (row.get(0), row.get(1));
            facts
                .sold_costs
                .entry(key)
                .or_default()
                .insert(row.get(2), row.get(4));
            if let Some(left) = facts.returnable.get_mut(&key) {
                left.insert(row.get(2), row.get(3));
                facts
                    .sold
                    .entry(key)
                    .or_default()
                    .insert(row.get(2), row.get(3));
            }
        }
        for row in balance_rows? {
            facts.balances.insert((row.get(0), row.get(1)), row.get(2));
        }
        for row in returned {
            if let Some(left) = facts.returnable.get_mut(&(row.get(0), row.get(1))) {
                let q: Decimal = row.get(3);
                if let Some(l) = left.get_mut(&row.get::<_, Uuid>(2)) {
                    *l -= q;
                }
            }
        }
        Ok(facts)
    }
}
