//! The receipt tables of a batch: `receipt_keys`, `receipts`,
//! `receipt_items`, `payments`. Every accepted receipt becomes a slot in
//! these column arrays, sent as UNNEST parameters: one statement per table
//! whatever the batch size. Plain data, benchmarked on its own.

use super::pipeline::{Param, Sql};
use super::{BatchWriter, Effects};
use crate::domain::commit::Number;
use crate::domain::receipt::PreparedReceipt;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::Row;
use uuid::Uuid;

const SQL_KEYS: &str = "INSERT INTO receipt_keys (tenant_id, id, store_id, register_id, number, body_hash, occurred_at) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::bytea[], $7::timestamptz[])";
const SQL_RECEIPTS: &str = "INSERT INTO receipts (tenant_id, id, occurred_at, store_id, register_id, shift_id, kind, \
        original_receipt_id, customer_id, subtotal, discount_total, total, paid, change_due, \
        receipt_discount, discount_id, tax_total, taxes, rounding, points_earned, points_redeemed, employee_id, \
        created_at) \
     SELECT u.*, $22::timestamptz FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $5::uuid[], \
        $6::uuid[], $7::text[], $8::uuid[], $9::uuid[], $10::bigint[], $11::bigint[], \
        $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::uuid[], $17::bigint[], \
        $18::jsonb[], $19::bigint[], $20::bigint[], $21::bigint[], $23::uuid[]) AS u";
const SQL_ITEMS: &str = "INSERT INTO receipt_items (tenant_id, receipt_id, line_no, occurred_at, variant_id, product_id, \
        quantity, price, discount, total, receipt_discount, tax, tax_rate_id, discount_id, tax_included, cost) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::timestamptz[], $5::uuid[], $6::uuid[], \
        $7::numeric[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], \
        $13::uuid[], $14::uuid[], $15::bool[], $16::bigint[])";
const SQL_PAYMENTS: &str = "INSERT INTO payments (tenant_id, receipt_id, line_no, occurred_at, method, amount) \
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::timestamptz[], $5::text[], $6::bigint[])";

#[derive(Debug)]
pub struct ReceiptTables {
    created_at: DateTime<Utc>,
    // receipt_keys and receipts
    r_tenant: Vec<Uuid>,
    r_id: Vec<Uuid>,
    r_occurred: Vec<DateTime<Utc>>,
    r_store: Vec<Uuid>,
    r_register: Vec<Uuid>,
    r_shift: Vec<Uuid>,
    /// The client's number, or a placeholder the numbering replaces.
    r_number: Vec<String>,
    r_kind: Vec<&'static str>,
    r_original: Vec<Option<Uuid>>,
    r_customer: Vec<Option<Uuid>>,
    r_subtotal: Vec<i64>,
    r_discount: Vec<i64>,
    r_total: Vec<i64>,
    r_paid: Vec<i64>,
    r_change: Vec<i64>,
    r_rdiscount: Vec<i64>,
    r_discount_id: Vec<Option<Uuid>>,
    r_tax: Vec<i64>,
    r_taxes: Vec<Option<serde_json::Value>>,
    r_rounding: Vec<i64>,
    r_earned: Vec<i64>,
    r_redeemed: Vec<i64>,
    r_hash: Vec<Vec<u8>>,
    /// The shift's employee (who sold it).
    r_employee: Vec<Option<Uuid>>,
    // receipt_items
    i_tenant: Vec<Uuid>,
    i_receipt: Vec<Uuid>,
    i_line: Vec<i32>,
    i_occurred: Vec<DateTime<Utc>>,
    i_variant: Vec<Uuid>,
    i_product: Vec<Uuid>,
    i_quantity: Vec<Decimal>,
    i_price: Vec<i64>,
    i_discount: Vec<i64>,
    i_total: Vec<i64>,
    i_rdiscount: Vec<i64>,
    i_tax: Vec<i64>,
    i_tax_rate: Vec<Option<Uuid>>,
    i_discount_id: Vec<Option<Uuid>>,
    i_tax_included: Vec<bool>,
    i_cost: Vec<Option<i64>>,
    // payments
    p_tenant: Vec<Uuid>,
    p_receipt: Vec<Uuid>,
    p_line: Vec<i32>,
    p_occurred: Vec<DateTime<Utc>>,
    p_method: Vec<&'static str>,
    p_amount: Vec<i64>,
}

/// The number stored with a receipt before the numbering statement runs:
/// the client's, or a placeholder unique to the receipt.
pub fn stored_number(r: &PreparedReceipt, n: &Number) -> String {
    match n {
        Number::Client(c) => c.clone(),
        Number::Server { .. } => format!("~{}", r.id),
    }
}

impl ReceiptTables {
    pub fn new(created_at: DateTime<Utc>, receipts: usize, lines: usize) -> Self {
        let mut t = ReceiptTables {
            created_at,
            r_tenant: Vec::with_capacity(receipts),
            r_id: Vec::with_capacity(receipts),
            r_occurred: Vec::with_capacity(receipts),
            r_store: Vec::with_capacity(receipts),
            r_register: Vec::with_capacity(receipts),
            r_shift: Vec::with_capacity(receipts),
            r_number: Vec::with_capacity(receipts),
            r_kind: Vec::with_capacity(receipts),
            r_original: Vec::with_capacity(receipts),
            r_customer: Vec::with_capacity(receipts),
            r_subtotal: Vec::with_capacity(receipts),
            r_discount: Vec::with_capacity(receipts),
            r_total: Vec::with_capacity(receipts),
            r_paid: Vec::with_capacity(receipts),
            r_change: Vec::with_capacity(receipts),
            r_rdiscount: Vec::with_capacity(receipts),
            r_discount_id: Vec::with_capacity(receipts),
            r_tax: Vec::with_capacity(receipts),
            r_taxes: Vec::with_capacity(receipts),
            r_rounding: Vec::with_capacity(receipts),
            r_earned: Vec::with_capacity(receipts),
            r_redeemed: Vec::with_capacity(receipts),
            r_hash: Vec::with_capacity(receipts),
            r_employee: Vec::with_capacity(receipts),
            i_tenant: Vec::new(),
            i_receipt: Vec::new(),
            i_line: Vec::new(),
            i_occurred: Vec::new(),
            i_variant: Vec::new(),
            i_product: Vec::new(),
            i_quantity: Vec::new(),
            i_price: Vec::new(),
            i_discount: Vec::new(),
            i_total: Vec::new(),
            i_rdiscount: Vec::new(),
            i_tax: Vec::new(),
            i_tax_rate: Vec::new(),
            i_discount_id: Vec::new(),
            i_tax_included: Vec::new(),
            i_cost: Vec::new(),
            p_tenant: Vec::new(),
            p_receipt: Vec::new(),
            p_line: Vec::new(),
            p_occurred: Vec::new(),
            p_method: Vec::new(),
            p_amount: Vec::new(),
        };
        t.i_receipt.reserve(lines);
        t
    }

    /// Adds an accepted receipt stored under `number` (no employee, no
    /// line costs).
    pub fn push(&mut self, r: &PreparedReceipt, number: String) {
        self.push_sold_by(r, number, None, &[]);
    }

    /// Adds an accepted receipt stored under `number`, sold by `employee`;
    /// `costs[i]` is line i's cost (`Facts::line_costs`; missing = unknown).
    pub fn push_sold_by(
        &mut self,
        r: &PreparedReceipt,
        number: String,
        employee: Option<Uuid>,
        costs: &[Option<i64>],
    ) {
        self.r_employee.push(employee);
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
        let m = &r.money;
        self.r_rdiscount.push(m.receipt_discount);
        self.r_discount_id.push(m.discount_id);
        self.r_tax.push(m.tax_total);
        // No taxes: NULL rather than a JSON document per plain receipt.
        self.r_taxes.push(if m.taxes.is_empty() {
            None
        } else {
            serde_json::to_value(&m.taxes).ok()
        });
        self.r_rounding.push(m.rounding);
        self.r_earned.push(m.points_earned);
        self.r_redeemed.push(m.points_redeemed);
        self.r_hash.push(r.body_hash.to_vec());
        for (i, l) in r.lines.iter().enumerate() {
            self.i_cost.push(costs.get(i).copied().flatten());
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
            self.i_rdiscount.push(l.receipt_discount);
            self.i_tax.push(l.tax);
            self.i_tax_rate.push(l.tax_rate_id);
            self.i_discount_id.push(l.discount_id);
            self.i_tax_included.push(l.tax_included);
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
}

impl BatchWriter for ReceiptTables {
    fn statements(&self) -> Vec<Sql<'_>> {
        let keys: Vec<Param> = vec![
            &self.r_tenant,
            &self.r_id,
            &self.r_store,
            &self.r_register,
            &self.r_number,
            &self.r_hash,
            &self.r_occurred,
        ];
        let receipts: Vec<Param> = vec![
            &self.r_tenant,
            &self.r_id,
            &self.r_occurred,
            &self.r_store,
            &self.r_register,
            &self.r_shift,
            &self.r_kind,
            &self.r_original,
            &self.r_customer,
            &self.r_subtotal,
            &self.r_discount,
            &self.r_total,
            &self.r_paid,
            &self.r_change,
            &self.r_rdiscount,
            &self.r_discount_id,
            &self.r_tax,
            &self.r_taxes,
            &self.r_rounding,
            &self.r_earned,
            &self.r_redeemed,
            &self.created_at,
            &self.r_employee,
        ];
        let items: Vec<Param> = vec![
            &self.i_tenant,
            &self.i_receipt,
            &self.i_line,
            &self.i_occurred,
            &self.i_variant,
            &self.i_product,
            &self.i_quantity,
            &self.i_price,
            &self.i_discount,
            &self.i_total,
            &self.i_rdiscount,
            &self.i_tax,
            &self.i_tax_rate,
            &self.i_discount_id,
            &self.i_tax_included,
            &self.i_cost,
        ];
        let payments: Vec<Param> = vec![
            &self.p_tenant,
            &self.p_receipt,
            &self.p_line,
            &self.p_occurred,
            &self.p_method,
            &self.p_amount,
        ];
        vec![
            Sql::new(SQL_KEYS, keys),
            Sql::new(SQL_RECEIPTS, receipts),
            Sql::new(SQL_ITEMS, items),
            Sql::new(SQL_PAYMENTS, payments),
        ]
    }

    fn collect(&self, _rows: Vec<Vec<Row>>, _effects: &mut Effects) {}
}
