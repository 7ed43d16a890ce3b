//! Column arrays for one group commit: every receipt of a batch becomes a
//! slot in a handful of arrays, sent as UNNEST parameters (one statement per
//! table, whatever the batch size). Plain data, benchmarked on its own.

use crate::store::receipt::PreparedReceipt;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Key of one stock level: (tenant, warehouse, variant). Ordered, so the
/// upsert locks rows in the same order in every transaction (no deadlocks
/// between concurrent batches).
pub type LevelKey = (Uuid, Uuid, Uuid);

#[derive(Debug, Default)]
pub struct ReceiptBatch {
    // receipts and receipt_keys
    pub r_tenant: Vec<Uuid>,
    pub r_id: Vec<Uuid>,
    pub r_occurred: Vec<DateTime<Utc>>,
    pub r_store: Vec<Uuid>,
    pub r_register: Vec<Uuid>,
    pub r_shift: Vec<Uuid>,
    pub r_number: Vec<String>,
    pub r_kind: Vec<&'static str>,
    pub r_original: Vec<Option<Uuid>>,
    pub r_customer: Vec<Option<Uuid>>,
    pub r_subtotal: Vec<i64>,
    pub r_discount: Vec<i64>,
    pub r_total: Vec<i64>,
    pub r_paid: Vec<i64>,
    pub r_change: Vec<i64>,
    pub r_hash: Vec<Vec<u8>>,
    /// The shift's employee; pushed by the commit beside `push`.
    pub r_employee: Vec<Option<Uuid>>,
    // receipt_items
    pub i_tenant: Vec<Uuid>,
    pub i_receipt: Vec<Uuid>,
    pub i_line: Vec<i32>,
    pub i_occurred: Vec<DateTime<Utc>>,
    pub i_variant: Vec<Uuid>,
    pub i_product: Vec<Uuid>,
    pub i_quantity: Vec<Decimal>,
    pub i_price: Vec<i64>,
    pub i_discount: Vec<i64>,
    pub i_total: Vec<i64>,
    // payments
    pub p_tenant: Vec<Uuid>,
    pub p_receipt: Vec<Uuid>,
    pub p_line: Vec<i32>,
    pub p_occurred: Vec<DateTime<Utc>>,
    pub p_method: Vec<&'static str>,
    pub p_amount: Vec<i64>,
    // stock_movements (one per line)
    pub m_tenant: Vec<Uuid>,
    pub m_warehouse: Vec<Uuid>,
    pub m_variant: Vec<Uuid>,
    pub m_delta: Vec<Decimal>,
    pub m_cause: Vec<&'static str>,
    pub m_document: Vec<Uuid>,
    /// Coalesced deltas per level, and the store each warehouse belongs to.
    pub levels: BTreeMap<LevelKey, (Decimal, Uuid)>,
}

impl ReceiptBatch {
    pub fn with_capacity(receipts: usize, lines: usize) -> Self {
        let mut b = ReceiptBatch::default();
        b.r_id.reserve(receipts);
        b.i_receipt.reserve(lines);
        b.m_variant.reserve(lines);
        b
    }

    /// Adds a receipt that was given `number`.
    pub fn push(&mut self, r: &PreparedReceipt, number: String) {
        self.r_tenant.push(r.tenant_id);
        self.r_id.push(r.id);
        self.r_occurred.push(r.occurred_at);
        self.r_store.push(r.store_id);
        self.r_register.push(r.register_id);
        self.r_shift.push(r.shift_id);
        self.r_number.push(number);
        self.r_kind.push(r.kind.as_str());
        self.r_original.push(r.original_receipt_id);
        self.r_customer.push(r.customer_id);
        self.r_subtotal.push(r.subtotal);
        self.r_discount.push(r.discount_total);
        self.r_total.push(r.total);
        self.r_paid.push(r.paid);
        self.r_change.push(r.change);
        self.r_hash.push(r.body_hash.to_vec());
        let sign = match r.kind {
            crate::store::receipt::ReceiptKind::Sale => Decimal::NEGATIVE_ONE,
            crate::store::receipt::ReceiptKind::Return => Decimal::ONE,
        };
        for l in &r.lines {
            self.i_tenant.push(r.tenant_id);
            self.i_receipt.push(r.id);
            self.i_line.push(l.line_no);
            self.i_occurred.push(r.occurred_at);
            self.i_variant.push(l.variant_id);
            self.i_product.push(l.product_id);
            self.i_quantity.push(l.quantity.decimal());
            self.i_price.push(l.price);
            self.i_discount.push(l.discount);
            self.i_total.push(l.total);
            let delta = l.quantity.decimal() * sign;
            self.m_tenant.push(r.tenant_id);
            self.m_warehouse.push(r.warehouse_id);
            self.m_variant.push(l.variant_id);
            self.m_delta.push(delta);
            self.m_cause.push(r.kind.as_str());
            self.m_document.push(r.id);
            let e = self
                .levels
                .entry((r.tenant_id, r.warehouse_id, l.variant_id))
                .or_insert((Decimal::ZERO, r.store_id));
            e.0 += delta;
        }
        for (i, p) in r.payments.iter().enumerate() {
            self.p_tenant.push(r.tenant_id);
            self.p_receipt.push(r.id);
            self.p_line.push(i as i32 + 1);
            self.p_occurred.push(r.occurred_at);
            self.p_method.push(p.method.as_str());
            self.p_amount.push(p.amount);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.r_id.is_empty()
    }

    /// The coalesced level deltas as sorted column arrays.
    pub fn level_columns(&self) -> (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, Vec<Decimal>) {
        let n = self.levels.len();
        let (mut t, mut w, mut v, mut d) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for ((tenant, warehouse, variant), (delta, _)) in &self.levels {
            t.push(*tenant);
            w.push(*warehouse);
            v.push(*variant);
            d.push(*delta);
        }
        (t, w, v, d)
    }
}
