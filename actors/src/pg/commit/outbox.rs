//! Derived writer: the batch's integration events, appended to the outbox
//! in the batch's transaction (they exist if and only if it commits).
//!
//! - `receipt.created`: one per accepted receipt, the receipt as the API
//!   answers it. A server-given number is assigned after this statement
//!   (numbering runs last), so the payload carries the placeholder and the
//!   sequencer fills in the final number when it publishes the event.
//! - `stock.changed`: one per (tenant, warehouse, variant) the batch moved,
//!   with the batch's summed delta and the level after it, read from
//!   `stock_levels` right after the stock writer's upsert (rows this
//!   transaction already holds). Written as one pending carrier row per
//!   tenant (a JSON array, each element with its own event id) that the
//!   sequencer expands into one event per element: a pending row per
//!   variant cost an insert and a delete per receipt line.
//!
//! Payloads are serialized here, off the database; the outbox column is
//! `json`, so PostgreSQL only checks them.

use super::pipeline::{Param, Sql};
use super::{BatchWriter, Effects};
use crate::domain::events::{RECEIPT_CREATED, STOCK_CHANGED};
use crate::domain::new_id;
use crate::domain::receipt::{PreparedReceipt, ReceiptKind};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use tokio_postgres::Row;
use uuid::Uuid;

const SQL_RECEIPTS: &str = "INSERT INTO outbox_pending (tenant_id, event_id, type, payload) \
     SELECT u.t, u.e, $4::text, u.p::json \
     FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) WITH ORDINALITY AS u(t, e, p, o) \
     ORDER BY u.o";

const SQL_LEVELS: &str = "INSERT INTO outbox_pending (tenant_id, event_id, type, payload) \
     SELECT u.t, gen_random_uuid(), $7::text, json_agg(json_build_object('event_id', u.e, \
       'store_id', u.s, 'warehouse_id', u.w, 'variant_id', u.v, \
       'quantity', trim_scale(l.quantity)::text, 'delta', trim_scale(u.d)::text, \
       'cause', 'receipts') ORDER BY u.o) \
     FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[], $5::uuid[], $6::uuid[]) \
       WITH ORDINALITY AS u(t, w, v, d, s, e, o) \
     JOIN stock_levels l ON l.tenant_id = u.t AND l.warehouse_id = u.w AND l.variant_id = u.v \
     GROUP BY u.t ORDER BY min(u.o)";

#[derive(Debug, Default)]
pub struct OutboxWriter {
    created_at: DateTime<Utc>,
    r_tenant: Vec<Uuid>,
    r_event: Vec<Uuid>,
    r_payload: Vec<String>,
    /// Summed delta and store per (tenant, warehouse, variant).
    levels: BTreeMap<(Uuid, Uuid, Uuid), (Decimal, Uuid)>,
    l_tenant: Vec<Uuid>,
    l_warehouse: Vec<Uuid>,
    l_variant: Vec<Uuid>,
    l_delta: Vec<Decimal>,
    l_store: Vec<Uuid>,
    l_event: Vec<Uuid>,
}

impl OutboxWriter {
    pub fn new(created_at: DateTime<Utc>, receipts: usize) -> Self {
        OutboxWriter {
            created_at,
            r_tenant: Vec::with_capacity(receipts),
            r_event: Vec::with_capacity(receipts),
            r_payload: Vec::with_capacity(receipts),
            ..Default::default()
        }
    }

    /// Adds an accepted receipt (with the number it is stored under and the
    /// employee of its shift).
    pub fn push(&mut self, r: &PreparedReceipt, number: String, employee: Option<Uuid>) {
        let payload = serde_json::to_string(&r.stored(number, self.created_at, employee))
            .unwrap_or_else(|_| format!("{{\"id\":\"{}\"}}", r.id));
        self.r_tenant.push(r.tenant_id);
        self.r_event.push(new_id());
        self.r_payload.push(payload);
        let sign = match r.kind {
            ReceiptKind::Sale => Decimal::NEGATIVE_ONE,
            ReceiptKind::Return => Decimal::ONE,
        };
        for l in &r.lines {
            self.levels
                .entry((r.tenant_id, r.warehouse_id, l.variant_id))
                .or_insert((Decimal::ZERO, r.store_id))
                .0 += l.quantity.decimal() * sign;
        }
    }

    /// Lays the coalesced levels out as column arrays (after the last push).
    pub fn seal(&mut self) {
        for ((tenant, warehouse, variant), (delta, store)) in &self.levels {
            self.l_tenant.push(*tenant);
            self.l_warehouse.push(*warehouse);
            self.l_variant.push(*variant);
            self.l_delta.push(*delta);
            self.l_store.push(*store);
            self.l_event.push(new_id());
        }
    }
}

impl BatchWriter for OutboxWriter {
    fn statements(&self) -> Vec<Sql<'_>> {
        let receipts: Vec<Param> = vec![
            &self.r_tenant,
            &self.r_event,
            &self.r_payload,
            &RECEIPT_CREATED,
        ];
        let levels: Vec<Param> = vec![
            &self.l_tenant,
            &self.l_warehouse,
            &self.l_variant,
            &self.l_delta,
            &self.l_store,
            &self.l_event,
            &STOCK_CHANGED,
        ];
        vec![
            Sql::new(SQL_RECEIPTS, receipts),
            Sql::new(SQL_LEVELS, levels),
        ]
    }

    fn collect(&self, _rows: Vec<Vec<Row>>, _effects: &mut Effects) {}
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::receipt::{PaymentMethod, ReceiptLine, ReceiptPayment};
    use crate::domain::Quantity;

    fn receipt(id: u128, kind: ReceiptKind, lines: &[(u128, i64)]) -> PreparedReceipt {
        PreparedReceipt {
            tenant_id: Uuid::from_u128(1),
            id: Uuid::from_u128(id),
            body_hash: [0; 32],
            store_id: Uuid::from_u128(2),
            warehouse_id: Uuid::from_u128(3),
            register_id: Uuid::from_u128(4),
            register_number: 1,
            shift_id: Uuid::from_u128(5),
            kind,
            original_receipt_id: None,
            customer_id: None,
            client_seq: None,
            occurred_at: Utc::now(),
            lines: lines
                .iter()
                .map(|(v, q)| ReceiptLine {
                    line_no: 1,
                    variant_id: Uuid::from_u128(*v),
                    product_id: Uuid::nil(),
                    quantity: Quantity(Decimal::from(*q)),
                    price: 100,
                    discount: 0,
                    receipt_discount: 0,
                    tax: 11 * q,
                    tax_rate_id: Some(Uuid::from_u128(9)),
                    discount_id: None,
                    total: 100 * q,
                    tax_included: true,
                })
                .collect(),
            payments: vec![ReceiptPayment {
                method: PaymentMethod::Cash,
                amount: 100,
            }],
            subtotal: 100,
            discount_total: 0,
            total: 100,
            paid: 100,
            change: 0,
            money: crate::domain::receipt_money::ReceiptTotals {
                tax_total: 11,
                payable: 100,
                ..Default::default()
            },
            points: None,
            return_basis: None,
        }
    }

    /// One receipt event per receipt (the receipt as answered); one stock
    /// event per warehouse and variant, with the batch's summed delta.
    #[test]
    fn one_event_per_receipt_and_per_level() {
        let mut w = OutboxWriter::new(Utc::now(), 3);
        let cashier = Uuid::from_u128(42);
        w.push(
            &receipt(10, ReceiptKind::Sale, &[(7, 2), (8, 1)]),
            "1-1".into(),
            Some(cashier),
        );
        w.push(
            &receipt(11, ReceiptKind::Sale, &[(7, 3)]),
            "1-2".into(),
            None,
        );
        w.push(
            &receipt(12, ReceiptKind::Return, &[(7, 1)]),
            "~x".into(),
            None,
        );
        w.seal();
        assert_eq!(w.r_payload.len(), 3);
        let first: serde_json::Value = serde_json::from_str(&w.r_payload[0]).unwrap();
        assert_eq!(first["number"], "1-1");
        assert_eq!(first["employee_id"], cashier.to_string());
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        // The money rules' fields travel with the receipt.
        assert_eq!(first["tax_total"], 11);
        assert_eq!(first["payable"], 100);
        assert_eq!(first["items"][0]["tax"], 22);
        assert_eq!(w.l_variant, vec![Uuid::from_u128(7), Uuid::from_u128(8)]);
        assert_eq!(w.l_delta, vec![Decimal::from(-4), Decimal::from(-1)]);
        assert_eq!(w.l_store, vec![Uuid::from_u128(2); 2]);
        let ids: std::collections::HashSet<_> = w.r_event.iter().chain(&w.l_event).collect();
        assert_eq!(ids.len(), 5, "event ids are unique");
        let sql = w.statements();
        assert_eq!(sql.len(), 2);
        assert_eq!(sql[0].params.len(), 4);
        assert_eq!(sql[1].params.len(), 7);
    }
}
