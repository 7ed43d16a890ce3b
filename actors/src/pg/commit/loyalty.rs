//! Derived writer: the points a batch moves. One `points_ledger` row per
//! movement (earn, redeem, reverse_earn, reverse_redeem) and the balances
//! moved by the same amounts, coalesced per customer in key order. The
//! account rows were created and locked in round trip 1 and `decide`
//! checked every redemption against them, so the balance equals the sum
//! of the ledger and never goes below zero through a redemption.
//!
//! Each movement is also a `customer.points_changed` event
//! ([`PointsEvents`], after the receipt events in the pipeline so a
//! receiver sees the receipt first), with the balance after it read from
//! the account rows this transaction just moved.

use super::pipeline::{Param, Sql};
use super::{BatchWriter, Effects};
use crate::domain::events::CUSTOMER_POINTS_CHANGED;
use crate::domain::new_id;
use crate::domain::receipt::PreparedReceipt;
use crate::pg::outbox::POINTS_EVENTS_SQL;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tokio_postgres::Row;
use uuid::Uuid;

const SQL_LEDGER: &str =
    "INSERT INTO points_ledger (tenant_id, customer_id, created_at, kind, points, receipt_id) \
     SELECT u.t, u.c, $6::timestamptz, u.k, u.p, u.r \
     FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[]) AS u(t, c, k, p, r)";
const SQL_BALANCES: &str =
    "UPDATE loyalty_accounts a SET balance = a.balance + u.d, updated_at = $4::timestamptz \
     FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[]) AS u(t, c, d) \
     WHERE a.tenant_id = u.t AND a.customer_id = u.c";

#[derive(Debug)]
pub struct LoyaltyWriter {
    created_at: DateTime<Utc>,
    l_tenant: Vec<Uuid>,
    l_customer: Vec<Uuid>,
    l_kind: Vec<&'static str>,
    l_points: Vec<i64>,
    l_receipt: Vec<Uuid>,
    /// Per movement: its event id, and no note (receipts carry none).
    l_event: Vec<Uuid>,
    l_note: Vec<Option<String>>,
    deltas: BTreeMap<(Uuid, Uuid), i64>,
    b_tenant: Vec<Uuid>,
    b_customer: Vec<Uuid>,
    b_delta: Vec<i64>,
}

impl LoyaltyWriter {
    pub fn new(created_at: DateTime<Utc>) -> Self {
        LoyaltyWriter {
            created_at,
            l_tenant: Vec::new(),
            l_customer: Vec::new(),
            l_kind: Vec::new(),
            l_points: Vec::new(),
            l_receipt: Vec::new(),
            l_event: Vec::new(),
            l_note: Vec::new(),
            deltas: BTreeMap::new(),
            b_tenant: Vec::new(),
            b_customer: Vec::new(),
            b_delta: Vec::new(),
        }
    }

    /// Adds an accepted receipt's points, if it moves any.
    pub fn push(&mut self, r: &PreparedReceipt) {
        let Some(p) = r.points else {
            return;
        };
        let (earn_kind, redeem_kind) = if p.earned < 0 || p.redeemed < 0 {
            ("reverse_earn", "reverse_redeem")
        } else {
            ("earn", "redeem")
        };
        for (kind, points) in [(earn_kind, p.earned), (redeem_kind, -p.redeemed)] {
            if points != 0 {
                self.l_tenant.push(r.tenant_id);
                self.l_customer.push(p.customer_id);
                self.l_kind.push(kind);
                self.l_points.push(points);
                self.l_receipt.push(r.id);
                self.l_event.push(new_id());
                self.l_note.push(None);
                *self.deltas.entry((r.tenant_id, p.customer_id)).or_default() += points;
            }
        }
    }

    /// Lays the coalesced balances out in key order (after the last push).
    pub fn seal(&mut self) {
        for ((t, c), d) in &self.deltas {
            self.b_tenant.push(*t);
            self.b_customer.push(*c);
            self.b_delta.push(*d);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.l_tenant.is_empty()
    }
}

impl BatchWriter for LoyaltyWriter {
    fn statements(&self) -> Vec<Sql<'_>> {
        if self.is_empty() {
            return Vec::new();
        }
        let ledger: Vec<Param> = vec![
            &self.l_tenant,
            &self.l_customer,
            &self.l_kind,
            &self.l_points,
            &self.l_receipt,
            &self.created_at,
        ];
        let balances: Vec<Param> = vec![
            &self.b_tenant,
            &self.b_customer,
            &self.b_delta,
            &self.created_at,
        ];
        vec![
            Sql::new(SQL_LEDGER, ledger),
            Sql::new(SQL_BALANCES, balances),
        ]
    }

    fn collect(&self, _rows: Vec<Vec<Row>>, _effects: &mut Effects) {}
}

/// The batch's `customer.points_changed` events: one per ledger row of the
/// [`LoyaltyWriter`], written after its balance update (and after the
/// receipt events) in the same transaction.
pub struct PointsEvents<'a>(pub &'a LoyaltyWriter);

impl BatchWriter for PointsEvents<'_> {
    fn statements(&self) -> Vec<Sql<'_>> {
        let w = self.0;
        if w.is_empty() {
            return Vec::new();
        }
        let params: Vec<Param> = vec![
            &w.l_tenant,
            &w.l_customer,
            &w.l_kind,
            &w.l_points,
            &w.l_receipt,
            &w.l_note,
            &w.l_event,
            &CUSTOMER_POINTS_CHANGED,
        ];
        vec![Sql::new(POINTS_EVENTS_SQL.as_str(), params)]
    }

    fn collect(&self, _rows: Vec<Vec<Row>>, _effects: &mut Effects) {}
}
