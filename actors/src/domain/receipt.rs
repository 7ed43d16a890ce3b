//! Receipts as the client sends them, as validated, and as stored.
//! `prepare` is pure: it checks a request against the tenant's prices and
//! computes totals with exact arithmetic, so it is unit-tested and
//! benchmarked without a database.

use crate::domain::{JsonDecimal, Money, ProductId, Quantity, VariantId};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// Bounds on one receipt.
pub const MAX_ITEMS: usize = 500;
pub const MAX_PAYMENTS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    Sale,
    Return,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Sale => "sale",
            ReceiptKind::Return => "return",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card,
    Other,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::Other => "other",
        }
    }
}

/// A receipt as posted by a register (online or from its offline backlog).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptRequest {
    /// Client-generated; the idempotency key.
    pub id: Uuid,
    pub store_id: Uuid,
    pub register_id: Uuid,
    pub shift_id: Uuid,
    pub kind: ReceiptKind,
    /// Returns only: the sale being returned.
    #[serde(default)]
    pub original_receipt_id: Option<Uuid>,
    /// Offline receipts: the number the register gave, `{register number}-{seq}`.
    #[serde(default)]
    pub number: Option<String>,
    /// Offline receipts: when the sale happened (client clock).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    pub items: Vec<ItemRequest>,
    #[serde(default)]
    pub payments: Vec<PaymentRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    pub variant_id: Uuid,
    /// Number or decimal string, at most 3 decimals (weighed goods).
    #[schema(value_type = String)]
    pub quantity: JsonDecimal,
    /// Unit price in minor units; defaults to the catalog price.
    #[serde(default)]
    pub price: Option<i64>,
    /// Line discount in minor units.
    #[serde(default)]
    pub discount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub method: PaymentMethod,
    /// Minor units, > 0.
    pub amount: i64,
}

/// A line after validation.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ReceiptLine {
    pub line_no: i32,
    pub variant_id: Uuid,
    pub product_id: Uuid,
    #[schema(value_type = String)]
    pub quantity: Quantity,
    pub price: i64,
    pub discount: i64,
    /// round(price x quantity) - discount.
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ReceiptPayment {
    pub method: PaymentMethod,
    pub amount: i64,
}

/// A validated receipt, ready for the writer. The number is given in the
/// commit transaction unless the client brought one.
#[derive(Debug, Clone)]
pub struct PreparedReceipt {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub body_hash: [u8; 32],
    pub store_id: Uuid,
    pub warehouse_id: Uuid,
    pub register_id: Uuid,
    pub register_number: i32,
    pub shift_id: Uuid,
    pub kind: ReceiptKind,
    pub original_receipt_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    /// Client number's sequence part, when the client numbered it.
    pub client_seq: Option<i64>,
    pub occurred_at: DateTime<Utc>,
    pub lines: Vec<ReceiptLine>,
    pub payments: Vec<ReceiptPayment>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub total: i64,
    pub paid: i64,
    pub change: i64,
}

/// What the server stored and answers (201 first time, 200 on replay).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct StoredReceipt {
    pub id: Uuid,
    pub number: String,
    pub store_id: Uuid,
    pub register_id: Uuid,
    pub shift_id: Uuid,
    pub kind: ReceiptKind,
    pub original_receipt_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub total: i64,
    pub paid: i64,
    pub change: i64,
    pub items: Vec<ReceiptLine>,
    pub payments: Vec<ReceiptPayment>,
}

impl PreparedReceipt {
    /// The stored form once a number and commit time are known.
    pub fn stored(&self, number: String, created_at: DateTime<Utc>) -> StoredReceipt {
        StoredReceipt {
            id: self.id,
            number,
            store_id: self.store_id,
            register_id: self.register_id,
            shift_id: self.shift_id,
            kind: self.kind,
            original_receipt_id: self.original_receipt_id,
            customer_id: self.customer_id,
            occurred_at: self.occurred_at,
            created_at,
            subtotal: self.subtotal,
            discount_total: self.discount_total,
            total: self.total,
            paid: self.paid,
            change: self.change,
            items: self.lines.clone(),
            payments: self.payments.clone(),
        }
    }
}

/// sha256 of the request's canonical JSON (parsed, then re-serialized), so
/// `1.5` and `"1.500"` hash alike and a replay matches its original.
pub fn body_hash(req: &ReceiptRequest) -> [u8; 32] {
    let bytes = serde_json::to_vec(req).unwrap_or_default();
    Sha256::digest(&bytes).into()
}

/// Truncates to whole microseconds (PostgreSQL's timestamp precision).
pub fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

fn money_times(price: i64, qty: Decimal, field: &str) -> Result<i64> {
    (Decimal::from(price) * qty)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .ok_or_else(|| Error::invalid(field, "amount out of range"))
}

/// What `prepare` needs of the catalog: a variant's product and its price
/// in minor units. The tenant's `Catalog` implements it; tests use a map.
pub trait PriceList {
    fn price_of(&self, variant: VariantId) -> Option<(ProductId, i64)>;
}

/// Where the receipt is rung up, resolved by the caller from the catalog.
pub struct Till {
    pub warehouse_id: Uuid,
    pub register_number: i32,
}

/// Validates `req` against the catalog and computes its totals.
pub fn prepare(
    tenant_id: Uuid,
    req: &ReceiptRequest,
    prices: &impl PriceList,
    till: &Till,
    now: DateTime<Utc>,
    max_skew_s: i64,
) -> Result<PreparedReceipt> {
    if req.items.is_empty() || req.items.len() > MAX_ITEMS {
        return Err(Error::invalid(
            "items",
            format!("a receipt has 1 to {MAX_ITEMS} items"),
        ));
    }
    if req.payments.len() > MAX_PAYMENTS {
        return Err(Error::invalid(
            "payments",
            format!("at most {MAX_PAYMENTS} payments"),
        ));
    }
    match (req.kind, req.original_receipt_id) {
        (ReceiptKind::Return, None) => {
            return Err(Error::invalid(
                "original_receipt_id",
                "a return names the receipt it returns",
            ))
        }
        (ReceiptKind::Sale, Some(_)) => {
            return Err(Error::invalid(
                "original_receipt_id",
                "only a return names an original receipt",
            ))
        }
        _ => {}
    }
    if req.original_receipt_id == Some(req.id) {
        return Err(Error::invalid(
            "original_receipt_id",
            "a receipt cannot return itself",
        ));
    }
    // PostgreSQL keeps microseconds: answer exactly what a replay will read.
    let occurred_at = micros(req.occurred_at.unwrap_or(now));
    if occurred_at > now + chrono::Duration::seconds(max_skew_s) {
        return Err(Error::invalid("occurred_at", "is in the future"));
    }
    let client_seq = match req.number.as_deref() {
        None => None,
        Some(n) => {
            let seq = n
                .strip_prefix(&format!("{}-", till.register_number))
                .and_then(|s| s.parse::<i64>().ok())
                .filter(|s| *s > 0 && n.len() <= 32);
            Some(seq.ok_or_else(|| {
                Error::invalid(
                    "number",
                    format!(
                        "must be \"{}-<sequence>\" for this register",
                        till.register_number
                    ),
                )
            })?)
        }
    };

    let mut lines = Vec::with_capacity(req.items.len());
    let (mut subtotal, mut discount_total) = (0i64, 0i64);
    for (i, item) in req.items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        let (product_id, catalog_price) = prices.price_of(item.variant_id).ok_or_else(|| {
            Error::invalid(
                field("variant_id"),
                format!("variant {} does not exist", item.variant_id),
            )
        })?;
        let quantity = Quantity::parse(&field("quantity"), item.quantity.0, false)?;
        let price = match item.price {
            Some(p) => Money::parse_non_negative(&field("price"), p)?.0,
            None => catalog_price,
        };
        let gross = money_times(price, quantity.decimal(), &field("price"))?;
        let discount = Money::parse_non_negative(&field("discount"), item.discount)?.0;
        if discount > gross {
            return Err(Error::invalid(field("discount"), "exceeds the line amount"));
        }
        subtotal = subtotal
            .checked_add(gross)
            .ok_or_else(|| Error::invalid("items", "total out of range"))?;
        discount_total += discount;
        lines.push(ReceiptLine {
            line_no: i as i32 + 1,
            variant_id: item.variant_id,
            product_id,
            quantity,
            price,
            discount,
            total: gross - discount,
        });
    }
    let total = subtotal - discount_total;

    let mut payments = Vec::with_capacity(req.payments.len());
    let (mut paid, mut cash, mut non_cash) = (0i64, 0i64, 0i64);
    for (i, p) in req.payments.iter().enumerate() {
        let amount = Money::parse_positive(&format!("payments[{i}].amount"), p.amount)?.0;
        paid = paid
            .checked_add(amount)
            .ok_or_else(|| Error::invalid("payments", "total out of range"))?;
        if p.method == PaymentMethod::Cash {
            cash += amount;
        } else {
            non_cash += amount;
        }
        payments.push(ReceiptPayment {
            method: p.method,
            amount,
        });
    }
    let change = match req.kind {
        ReceiptKind::Sale => {
            if paid < total {
                return Err(Error::invalid(
                    "payments",
                    format!("paid {paid} is less than the total {total}"),
                ));
            }
            if non_cash > total {
                return Err(Error::invalid(
                    "payments",
                    "card and other payments may not exceed the total",
                ));
            }
            // Change is given in cash only.
            if paid - total > cash {
                return Err(Error::invalid("payments", "change exceeds the cash paid"));
            }
            paid - total
        }
        ReceiptKind::Return => {
            if paid != total {
                return Err(Error::invalid(
                    "payments",
                    format!("refunds must add up to the total {total}"),
                ));
            }
            0
        }
    };

    Ok(PreparedReceipt {
        tenant_id,
        id: req.id,
        body_hash: body_hash(req),
        store_id: req.store_id,
        warehouse_id: till.warehouse_id,
        register_id: req.register_id,
        register_number: till.register_number,
        shift_id: req.shift_id,
        kind: req.kind,
        original_receipt_id: req.original_receipt_id,
        customer_id: req.customer_id,
        client_seq,
        occurred_at,
        lines,
        payments,
        subtotal,
        discount_total,
        total,
        paid,
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Prices(HashMap<VariantId, (ProductId, i64)>);

    impl PriceList for Prices {
        fn price_of(&self, variant: VariantId) -> Option<(ProductId, i64)> {
            self.0.get(&variant).copied()
        }
    }

    fn setup() -> (Prices, Uuid) {
        let vid = Uuid::now_v7();
        let prices = Prices(HashMap::from([(vid, (Uuid::now_v7(), 1999))]));
        (prices, vid)
    }

    fn req(vid: Uuid, qty: &str, payments: Vec<PaymentRequest>) -> ReceiptRequest {
        ReceiptRequest {
            id: Uuid::now_v7(),
            store_id: Uuid::nil(),
            register_id: Uuid::nil(),
            shift_id: Uuid::nil(),
            kind: ReceiptKind::Sale,
            original_receipt_id: None,
            number: None,
            occurred_at: None,
            customer_id: None,
            items: vec![ItemRequest {
                variant_id: vid,
                quantity: JsonDecimal(qty.parse().unwrap_or_default()),
                price: None,
                discount: 0,
            }],
            payments,
        }
    }

    const TILL: Till = Till {
        warehouse_id: Uuid::nil(),
        register_number: 3,
    };

    #[test]
    fn weighed_goods_round_half_up_and_change_is_cash() {
        let (c, vid) = setup();
        // 1999 x 0.125 = 249.875 -> 250
        let r = req(
            vid,
            "0.125",
            vec![PaymentRequest {
                method: PaymentMethod::Cash,
                amount: 1000,
            }],
        );
        let p = prepare(Uuid::nil(), &r, &c, &TILL, Utc::now(), 300).map_err(|e| e.to_string());
        let p = p.as_ref().map(|p| (p.total, p.change));
        assert_eq!(p, Ok((250, 750)));
    }

    #[test]
    fn card_overpay_and_short_pay_are_refused() {
        let (c, vid) = setup();
        let r = req(
            vid,
            "1",
            vec![PaymentRequest {
                method: PaymentMethod::Card,
                amount: 2000,
            }],
        );
        assert!(matches!(
            prepare(Uuid::nil(), &r, &c, &TILL, Utc::now(), 300),
            Err(Error::Invalid { .. })
        ));
        let r = req(
            vid,
            "1",
            vec![PaymentRequest {
                method: PaymentMethod::Cash,
                amount: 1998,
            }],
        );
        assert!(matches!(
            prepare(Uuid::nil(), &r, &c, &TILL, Utc::now(), 300),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn client_number_must_carry_the_register_prefix() {
        let (c, vid) = setup();
        let mut r = req(
            vid,
            "1",
            vec![PaymentRequest {
                method: PaymentMethod::Cash,
                amount: 1999,
            }],
        );
        r.number = Some("3-17".into());
        assert_eq!(
            prepare(Uuid::nil(), &r, &c, &TILL, Utc::now(), 300)
                .ok()
                .and_then(|p| p.client_seq),
            Some(17)
        );
        r.number = Some("4-17".into());
        assert!(prepare(Uuid::nil(), &r, &c, &TILL, Utc::now(), 300).is_err());
    }

    #[test]
    fn same_body_same_hash_whatever_the_number_spelling() {
        let (_, vid) = setup();
        let a = req(vid, "1.500", vec![]);
        let mut b = a.clone();
        b.items[0].quantity = JsonDecimal("1.5".parse().unwrap_or_default());
        let a_hash = body_hash(&ReceiptRequest {
            items: vec![ItemRequest {
                quantity: JsonDecimal(a.items[0].quantity.0.normalize()),
                ..a.items[0].clone()
            }],
            ..a.clone()
        });
        assert_eq!(a_hash, body_hash(&b));
        b.items[0].discount = 1;
        assert_ne!(a_hash, body_hash(&b));
    }
}
