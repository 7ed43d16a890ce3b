//! Receipts as the client sends them, as validated, and as stored.
//! `prepare` is pure: it checks a request against the tenant's prices and
//! computes totals with exact arithmetic, so it is unit-tested and
//! benchmarked without a database.

use crate::domain::money_rules::discount::DiscountSpec;
use crate::domain::money_rules::receipt::{price as price_lines, LineInput, PricedLine, TaxLine};
use crate::domain::money_rules::returns::share;
use crate::domain::money_rules::tax::AppliedRate;
use crate::domain::receipt_money::{
    check_client_totals, receipt_spec, resolve_discount, return_share, server_figures,
    settle_payments, tender, ClientTotals, DiscountRequest, MoneyContext, PointsMove,
    ReceiptTotals, ReturnBasis,
};
use crate::domain::{CategoryId, JsonDecimal, Money, ProductId, Quantity, VariantId};
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
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
    /// Loyalty points at the program's point value (the receipt names its
    /// customer); on a return, points given back.
    Points,
}

impl PaymentMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::Card => "card",
            PaymentMethod::Other => "other",
            PaymentMethod::Points => "points",
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
    #[schema(pattern = "^[0-9]+-[0-9]+$", max_length = 32)]
    pub number: Option<String>,
    /// Offline receipts: when the sale happened (client clock).
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    /// Loyalty: the customer's phone in any spelling (instead of customer_id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_phone: Option<String>,
    #[schema(min_items = 1, max_items = 500)]
    pub items: Vec<ItemRequest>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub payments: Vec<PaymentRequest>,
    /// A discount on the whole receipt, spread over the lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<DiscountRequest>,
    /// The register's own totals; any that differ: 409 `totals_mismatch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<ClientTotals>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    pub variant_id: Uuid,
    /// Number or decimal string, at most 3 decimals (weighed goods).
    #[schema(schema_with = crate::domain::decimal_input_schema)]
    pub quantity: JsonDecimal,
    /// Unit price in minor units; defaults to the catalog price.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000000_i64)]
    pub price: Option<i64>,
    /// Line discount in minor units.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000000000000_i64)]
    pub discount: i64,
    /// Line discount as basis points of the line (10% = 1000), instead of `discount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_percent_bp: Option<i32>,
    /// A named discount (its own value unless one is given, within its limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    pub method: PaymentMethod,
    /// Minor units, > 0.
    #[schema(minimum = 1, maximum = 1000000000000000_i64)]
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
    /// The line's own discount.
    pub discount: i64,
    /// The line's share of the receipt discount.
    pub receipt_discount: i64,
    /// Tax of the line (inside `total` when inclusive, added when exclusive).
    pub tax: i64,
    pub tax_rate_id: Option<Uuid>,
    pub discount_id: Option<Uuid>,
    /// round(price x quantity) - discount - receipt_discount (+ tax when
    /// the rate is exclusive).
    pub total: i64,
    /// Whether `total` holds the tax (inclusive rate or none).
    #[serde(skip)]
    pub tax_included: bool,
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
    pub money: ReceiptTotals,
    /// The points this receipt moves (commits with it).
    pub points: Option<PointsMove>,
    /// Returns: quantities returned before, as priced; re-checked under lock.
    pub return_basis: Option<ReturnBasis>,
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
    /// The cashier: the employee who opened the receipt's shift (PIN
    /// checked); null for a shift opened without an employee.
    pub employee_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub total: i64,
    pub paid: i64,
    pub change: i64,
    #[serde(flatten)]
    pub money: ReceiptTotals,
    pub items: Vec<ReceiptLine>,
    pub payments: Vec<ReceiptPayment>,
}

impl PreparedReceipt {
    /// The stored form once a number, commit time and the shift's employee
    /// are known.
    pub fn stored(
        &self,
        number: String,
        created_at: DateTime<Utc>,
        employee_id: Option<Uuid>,
    ) -> StoredReceipt {
        StoredReceipt {
            id: self.id,
            number,
            store_id: self.store_id,
            register_id: self.register_id,
            shift_id: self.shift_id,
            kind: self.kind,
            original_receipt_id: self.original_receipt_id,
            customer_id: self.customer_id,
            employee_id,
            occurred_at: self.occurred_at,
            created_at,
            subtotal: self.subtotal,
            discount_total: self.discount_total,
            total: self.total,
            paid: self.paid,
            change: self.change,
            money: self.money.clone(),
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
    /// The product's category (tax assignments inherit down the tree).
    fn category_of(&self, _product: ProductId) -> Option<CategoryId> {
        None
    }
    fn parent_of(&self, _category: CategoryId) -> Option<CategoryId> {
        None
    }
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
    ctx: &MoneyContext,
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

    let customer_id = match (req.customer_id, ctx.phone_customer) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::invalid(
                "customer_phone",
                "names another customer than customer_id",
            ))
        }
        (a, b) => a.or(b),
    };
    if req.customer_phone.is_some() && customer_id.is_none() {
        return Err(Error::invalid(
            "customer_phone",
            "no customer has this phone",
        ));
    }
    let (lines, priced, return_basis) = match req.kind {
        ReceiptKind::Sale => {
            let (lines, priced) = price_sale(req, prices, ctx, occurred_at)?;
            (lines, priced, None)
        }
        ReceiptKind::Return => price_return(req, ctx)?,
    };
    let mut lines = lines;
    for (l, p) in lines.iter_mut().zip(&priced.lines) {
        l.discount = p.line_discount;
        l.receipt_discount = p.receipt_discount;
        l.tax = p.tax;
        l.total = p.total;
    }
    let (subtotal, discount_total, total) = (priced.subtotal, priced.discount_total, priced.total);

    let mut payments = Vec::with_capacity(req.payments.len());
    let mut tenders = Vec::with_capacity(req.payments.len());
    for (i, p) in req.payments.iter().enumerate() {
        let amount = Money::parse_positive(&format!("payments[{i}].amount"), p.amount)?.0;
        tenders.push((tender(p.method), amount));
        payments.push(ReceiptPayment {
            method: p.method,
            amount,
        });
    }
    let is_return = req.kind == ReceiptKind::Return;
    let program = ctx.rules.program.as_ref();
    let settled = settle_payments(
        total,
        &tenders,
        ctx.settings.settings.cash_rounding_unit,
        program,
        is_return,
    );
    // Client totals that differ explain a payment that does not fit: the
    // register gets the server's figures rather than a payment error.
    if let (Some(client), Err(_)) = (&req.totals, &settled) {
        let bare = ReceiptTotals {
            receipt_discount: priced.receipt_discount,
            tax_total: priced.tax_total,
            taxes: priced.taxes.clone(),
            payable: total,
            ..ReceiptTotals::default()
        };
        let same = client.total == total
            && client.tax_total.is_none_or(|t| t == priced.tax_total)
            && client.discount_total.is_none_or(|d| d == discount_total);
        if !same {
            return Err(Error::TotalsMismatch {
                server: Box::new(server_figures(
                    &lines,
                    subtotal,
                    discount_total,
                    total,
                    &bare,
                )),
            });
        }
    }
    let settled = settled?;
    let points = match req.kind {
        ReceiptKind::Sale => {
            if settled.points_redeemed > 0 && customer_id.is_none() {
                return Err(Error::invalid(
                    "payments",
                    "paying with points names the customer",
                ));
            }
            let earned = if customer_id.is_some() {
                settled.points_earned
            } else {
                0
            };
            customer_id
                .filter(|_| earned > 0 || settled.points_redeemed > 0)
                .map(|c| PointsMove {
                    customer_id: c,
                    earned,
                    redeemed: settled.points_redeemed,
                })
        }
        ReceiptKind::Return => {
            let o = ctx
                .original
                .as_deref()
                .ok_or_else(|| Error::invalid("original_receipt_id", "no such sale to return"))?;
            let reversed = if o.total > 0 {
                share(
                    o.points_earned,
                    Decimal::from(o.total),
                    Decimal::from(o.refunded_total.min(o.total)),
                    Decimal::from(total.min(o.total - o.refunded_total.min(o.total))),
                )
                .unwrap_or(0)
            } else {
                0
            };
            let give_back = settled.points_redeemed;
            if give_back > o.points_redeemed - o.redeemed_given_back {
                return Err(Error::invalid(
                    "payments",
                    "gives back more points than the sale spent",
                ));
            }
            o.customer_id
                .filter(|_| reversed > 0 || give_back > 0)
                .map(|c| PointsMove {
                    customer_id: c,
                    earned: -reversed,
                    redeemed: -give_back,
                })
        }
    };
    let money = ReceiptTotals {
        receipt_discount: priced.receipt_discount,
        discount_id: req.discount.as_ref().and_then(|d| d.discount_id),
        tax_total: priced.tax_total,
        taxes: priced.taxes.clone(),
        rounding: settled.rounding,
        payable: settled.payable,
        points_earned: points.map(|p| p.earned).unwrap_or(0),
        points_redeemed: points.map(|p| p.redeemed).unwrap_or(0),
    };
    if let Some(client) = &req.totals {
        if !check_client_totals(client, discount_total, total, &money) {
            return Err(Error::TotalsMismatch {
                server: Box::new(server_figures(
                    &lines,
                    subtotal,
                    discount_total,
                    total,
                    &money,
                )),
            });
        }
    }

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
        customer_id: match req.kind {
            ReceiptKind::Sale => customer_id,
            ReceiptKind::Return => {
                customer_id.or(ctx.original.as_ref().and_then(|o| o.customer_id))
            }
        },
        client_seq,
        occurred_at,
        lines,
        payments,
        subtotal,
        discount_total,
        total,
        paid: settled.paid,
        change: settled.change,
        money,
        points,
        return_basis,
    })
}

type Priced = crate::domain::money_rules::receipt::Priced;

fn price_error(e: crate::domain::money_rules::receipt::PriceError) -> Error {
    use crate::domain::money_rules::receipt::PriceError as P;
    match e {
        P::LineDiscount(i) => {
            Error::invalid(format!("items[{i}].discount"), "exceeds the line amount")
        }
        P::ReceiptDiscount => Error::invalid("discount", "exceeds the receipt amount"),
        P::OutOfRange => Error::invalid("items", "total out of range"),
    }
}

/// Steps 1-4 of the money rules for a sale.
fn price_sale(
    req: &ReceiptRequest,
    prices: &impl PriceList,
    ctx: &MoneyContext,
    at: DateTime<Utc>,
) -> Result<(Vec<ReceiptLine>, Priced)> {
    let rules = &*ctx.rules;
    let store_default = ctx.settings.settings.default_tax_rate_id;
    let mut lines = Vec::with_capacity(req.items.len());
    let mut inputs = Vec::with_capacity(req.items.len());
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
            None => rules
                .store_price(req.store_id, item.variant_id, at)
                .unwrap_or(catalog_price),
        };
        let gross = money_times(price, quantity.decimal(), &field("price"))?;
        let explicit = match (item.discount, item.discount_percent_bp) {
            (0, None) => None,
            (d, None) => Some(DiscountSpec::Amount(
                Money::parse_non_negative(&field("discount"), d)?.0,
            )),
            (0, Some(bp)) => Some(DiscountSpec::Percent(bp)),
            _ => {
                return Err(Error::invalid(
                    field("discount_percent_bp"),
                    "give discount or discount_percent_bp, not both",
                ))
            }
        };
        let discount = resolve_discount(
            &field("discount"),
            rules,
            ctx.role,
            item.discount_id,
            explicit,
            gross,
        )?;
        let tax = rules.tax_for(
            product_id,
            item.variant_id,
            prices.category_of(product_id),
            |c| prices.parent_of(c),
            store_default,
            at,
        );
        inputs.push(LineInput {
            gross,
            discount: discount.map(|(a, _)| DiscountSpec::Amount(a)),
            tax,
        });
        lines.push(line(
            i,
            item.variant_id,
            product_id,
            quantity,
            price,
            tax,
            discount.and_then(|d| d.1),
        ));
    }
    let after_lines: i64 = inputs
        .iter()
        .map(|l| l.gross - l.discount.and_then(|d| d.amount_on(l.gross)).unwrap_or(0))
        .sum();
    let receipt_discount = match &req.discount {
        None => None,
        Some(d) => resolve_discount(
            "discount",
            rules,
            ctx.role,
            d.discount_id,
            receipt_spec(d)?,
            after_lines,
        )?
        .map(|(a, _)| DiscountSpec::Amount(a)),
    };
    let priced = price_lines(&inputs, receipt_discount).map_err(price_error)?;
    Ok((lines, priced))
}

fn line(
    i: usize,
    variant_id: Uuid,
    product_id: Uuid,
    quantity: Quantity,
    price: i64,
    tax: Option<AppliedRate>,
    discount_id: Option<Uuid>,
) -> ReceiptLine {
    ReceiptLine {
        line_no: i as i32 + 1,
        variant_id,
        product_id,
        quantity,
        price,
        discount: 0,
        receipt_discount: 0,
        tax: 0,
        tax_rate_id: tax.map(|t| t.id),
        discount_id,
        total: 0,
        tax_included: tax
            .is_none_or(|t| t.mode == crate::domain::money_rules::tax::TaxMode::Inclusive),
    }
}

/// A return: each line gives back its share of the sale's line (amounts,
/// discounts and tax in proportion to quantity, cumulatively).
fn price_return(
    req: &ReceiptRequest,
    ctx: &MoneyContext,
) -> Result<(Vec<ReceiptLine>, Priced, Option<ReturnBasis>)> {
    let o = ctx
        .original
        .as_deref()
        .ok_or_else(|| Error::invalid("original_receipt_id", "no such sale to return"))?;
    if req.discount.is_some() {
        return Err(Error::invalid(
            "discount",
            "a return gives back the sale's discounts",
        ));
    }
    let mut lines = Vec::with_capacity(req.items.len());
    let mut priced = Priced::default();
    let mut basis = ReturnBasis::new();
    // Several lines of one variant: each takes its share after the previous.
    let mut running: HashMap<VariantId, Decimal> = HashMap::new();
    for (i, item) in req.items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        if item.price.is_some()
            || item.discount != 0
            || item.discount_percent_bp.is_some()
            || item.discount_id.is_some()
        {
            return Err(Error::invalid(
                field("price"),
                "a return takes its prices and discounts from the sale",
            ));
        }
        let sold = o.lines.get(&item.variant_id).ok_or_else(|| {
            Error::conflict(
                Code::ReturnExceedsSale,
                format!("variant {} was not sold on that receipt", item.variant_id),
            )
        })?;
        let quantity = Quantity::parse(&field("quantity"), item.quantity.0, false)?;
        let before_sale = o
            .returned
            .get(&item.variant_id)
            .copied()
            .unwrap_or_default();
        basis.entry(item.variant_id).or_insert(before_sale);
        let before = running.entry(item.variant_id).or_insert(before_sale);
        let [gross, discount, receipt_discount, tax, total] =
            return_share(&field("quantity"), sold, *before, quantity.decimal())?;
        *before += quantity.decimal();
        priced.subtotal += gross;
        priced.discount_total += discount + receipt_discount;
        priced.receipt_discount += receipt_discount;
        priced.tax_total += tax;
        priced.total += total;
        if let Some(rate) = sold.tax_rate_id {
            let net = if sold.tax_included {
                total
            } else {
                total - tax
            };
            match priced.taxes.iter_mut().find(|t| t.tax_rate_id == rate) {
                Some(t) => {
                    t.taxable += net;
                    t.tax += tax;
                }
                None => {
                    let (rate_bp, mode) = ctx
                        .rules
                        .tax_rates
                        .get(&rate)
                        .and_then(|v| v.last())
                        .map(|v| (v.rate_bp, v.mode))
                        .unwrap_or((0, crate::domain::money_rules::tax::TaxMode::Inclusive));
                    priced.taxes.push(TaxLine {
                        tax_rate_id: rate,
                        rate_bp,
                        mode,
                        taxable: net,
                        tax,
                    })
                }
            }
        }
        priced.lines.push(PricedLine {
            gross,
            line_discount: discount,
            receipt_discount,
            net: gross - discount - receipt_discount,
            tax,
            total,
        });
        let mut l = line(
            i,
            item.variant_id,
            sold.product_id,
            quantity,
            sold.price,
            None,
            None,
        );
        l.tax_rate_id = sold.tax_rate_id;
        l.tax_included = sold.tax_included;
        lines.push(l);
    }
    Ok((lines, priced, Some(basis)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
            customer_phone: None,
            discount: None,
            totals: None,
            items: vec![ItemRequest {
                variant_id: vid,
                quantity: JsonDecimal(qty.parse().unwrap_or_default()),
                price: None,
                discount: 0,
                discount_percent_bp: None,
                discount_id: None,
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
        let p = prepare(
            Uuid::nil(),
            &r,
            &c,
            &TILL,
            &MoneyContext::default(),
            Utc::now(),
            300,
        )
        .map_err(|e| e.to_string());
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
            prepare(
                Uuid::nil(),
                &r,
                &c,
                &TILL,
                &MoneyContext::default(),
                Utc::now(),
                300
            ),
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
            prepare(
                Uuid::nil(),
                &r,
                &c,
                &TILL,
                &MoneyContext::default(),
                Utc::now(),
                300
            ),
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
            prepare(
                Uuid::nil(),
                &r,
                &c,
                &TILL,
                &MoneyContext::default(),
                Utc::now(),
                300
            )
            .ok()
            .and_then(|p| p.client_seq),
            Some(17)
        );
        r.number = Some("4-17".into());
        assert!(prepare(
            Uuid::nil(),
            &r,
            &c,
            &TILL,
            &MoneyContext::default(),
            Utc::now(),
            300
        )
        .is_err());
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
