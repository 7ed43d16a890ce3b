//! Receipt reads: one stored receipt, a store's receipts page by page. The
//! write path is `commit` (one transaction per group commit).

use super::Db;
use crate::domain::receipt::{
    PaymentMethod, ReceiptKind, ReceiptLine, ReceiptPayment, StoredReceipt,
};
use crate::domain::receipt_money::ReceiptTotals;
use crate::domain::Quantity;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// A stored receipt by id.
pub async fn load_receipt(db: &Db, tenant: Uuid, id: Uuid) -> Result<Option<StoredReceipt>> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let r = load_receipt_on(&**tx, tenant, id).await?;
    tx.commit().await?;
    Ok(r)
}

/// A stored receipt with the body hash it was stored under (a replay's
/// answer when memory no longer has it).
pub async fn load_replay(
    db: &Db,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<(Vec<u8>, StoredReceipt)>> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let hash = tx
        .query_opt(
            "SELECT body_hash FROM receipt_keys WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &id],
        )
        .await?;
    let r = match hash {
        Some(row) => load_receipt_on(&**tx, tenant, id)
            .await?
            .map(|r| (row.get::<_, Vec<u8>>(0), r)),
        None => None,
    };
    tx.commit().await?;
    Ok(r)
}

pub(super) async fn load_receipt_on(
    tx: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<StoredReceipt>> {
    let stmt = "SELECT r.id, k.number, r.store_id, r.register_id, r.shift_id, r.kind, r.original_receipt_id, \
                    r.customer_id, r.occurred_at, r.created_at, r.subtotal, r.discount_total, r.total, r.paid, \
                    r.change_due, r.receipt_discount, r.discount_id, r.tax_total, r.taxes, r.rounding, \
                    r.points_earned, r.points_redeemed, r.employee_id \
             FROM receipt_keys k JOIN receipts r ON r.tenant_id = k.tenant_id AND r.id = k.id \
               AND r.occurred_at = k.occurred_at \
             WHERE k.tenant_id = $1 AND k.id = $2";
    let Some(row) = tx.query_opt(stmt, &[&tenant, &id]).await? else {
        return Ok(None);
    };
    let occurred: DateTime<Utc> = row.get(8);
    let items = "SELECT line_no, variant_id, product_id, quantity, price, discount, total, receipt_discount, \
                    tax, tax_rate_id, discount_id, tax_included FROM receipt_items \
             WHERE tenant_id = $1 AND receipt_id = $2 AND occurred_at = $3 ORDER BY line_no";
    let items = tx
        .query(items, &[&tenant, &id, &occurred])
        .await?
        .iter()
        .map(|i| ReceiptLine {
            line_no: i.get(0),
            variant_id: i.get(1),
            product_id: i.get(2),
            quantity: Quantity(i.get::<_, Decimal>(3).normalize()),
            price: i.get(4),
            discount: i.get(5),
            total: i.get(6),
            receipt_discount: i.get(7),
            tax: i.get(8),
            tax_rate_id: i.get(9),
            discount_id: i.get(10),
            tax_included: i.get(11),
        })
        .collect();
    let pays = "SELECT method, amount FROM payments WHERE tenant_id = $1 AND receipt_id = $2 \
             AND occurred_at = $3 ORDER BY line_no";
    let payments = tx
        .query(pays, &[&tenant, &id, &occurred])
        .await?
        .iter()
        .map(|p| ReceiptPayment {
            method: match p.get::<_, &str>(0) {
                "cash" => PaymentMethod::Cash,
                "card" => PaymentMethod::Card,
                "points" => PaymentMethod::Points,
                _ => PaymentMethod::Other,
            },
            amount: p.get(1),
        })
        .collect();
    Ok(Some(StoredReceipt {
        id: row.get(0),
        number: row.get(1),
        store_id: row.get(2),
        register_id: row.get(3),
        shift_id: row.get(4),
        kind: if row.get::<_, &str>(5) == "return" {
            ReceiptKind::Return
        } else {
            ReceiptKind::Sale
        },
        original_receipt_id: row.get(6),
        customer_id: row.get(7),
        employee_id: row.get(22),
        occurred_at: occurred,
        created_at: row.get(9),
        subtotal: row.get(10),
        discount_total: row.get(11),
        total: row.get(12),
        paid: row.get(13),
        change: row.get(14),
        money: ReceiptTotals {
            receipt_discount: row.get(15),
            discount_id: row.get(16),
            tax_total: row.get(17),
            taxes: row
                .get::<_, Option<serde_json::Value>>(18)
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default(),
            rounding: row.get(19),
            payable: row.get::<_, i64>(12) + row.get::<_, i64>(19),
            points_earned: row.get(20),
            points_redeemed: row.get(21),
        },
        items,
        payments,
    }))
}

/// A receipt in a listing (the full receipt is GET /receipts/{id}).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiptSummary {
    pub id: Uuid,
    pub number: String,
    pub register_id: Uuid,
    pub shift_id: Uuid,
    /// The cashier (the shift's employee); null for an anonymous shift.
    pub employee_id: Option<Uuid>,
    pub kind: ReceiptKind,
    pub occurred_at: DateTime<Utc>,
    pub total: i64,
}

/// One page of a store's receipts, newest first, keyset-paged by
/// (occurred_at, id); the time bounds let PostgreSQL prune partitions.
/// Which receipts of a store a listing asks for.
#[derive(Debug, Clone)]
pub struct ReceiptFilter {
    pub store: Uuid,
    /// Only this register's (register tokens see their own only).
    pub register: Option<Uuid>,
    /// Only this employee's (the cashier who opened the receipt's shift).
    pub employee: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Keyset cursor: (occurred_at, id) of the last row seen.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: i64,
}

pub async fn list_receipts(
    db: &Db,
    tenant: Uuid,
    f: &ReceiptFilter,
) -> Result<Vec<ReceiptSummary>> {
    let (store, register, employee, from, to, limit) =
        (f.store, f.register, f.employee, f.from, f.to, f.limit);
    let (cur_t, cur_id) = match f.after {
        Some((t, id)) => (Some(t), Some(id)),
        None => (None, None),
    };
    let rows = db
        .query(
            "SELECT r.id, k.number, r.register_id, r.shift_id, r.kind, r.occurred_at, r.total, r.employee_id \
             FROM receipts r \
             JOIN receipt_keys k ON k.tenant_id = r.tenant_id AND k.id = r.id \
             WHERE r.tenant_id = $1 AND r.store_id = $2 \
               AND ($3::timestamptz IS NULL OR r.occurred_at >= $3) \
               AND ($4::timestamptz IS NULL OR r.occurred_at < $4) \
               AND ($5::timestamptz IS NULL OR (r.occurred_at, r.id) < ($5, $6::uuid)) \
               AND ($8::uuid IS NULL OR r.register_id = $8) \
               AND ($9::uuid IS NULL OR r.employee_id = $9) \
             ORDER BY r.occurred_at DESC, r.id DESC LIMIT $7",
            &[
                &tenant, &store, &from, &to, &cur_t, &cur_id, &limit, &register, &employee,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ReceiptSummary {
            id: r.get(0),
            number: r.get(1),
            register_id: r.get(2),
            shift_id: r.get(3),
            employee_id: r.get(7),
            kind: if r.get::<_, &str>(4) == "return" {
                ReceiptKind::Return
            } else {
                ReceiptKind::Sale
            },
            occurred_at: r.get(5),
            total: r.get(6),
        })
        .collect())
}
