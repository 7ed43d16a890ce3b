//! The money side of a receipt: what the request may ask (named and
//! receipt discounts, a customer by phone, the client's own totals), what
//! the server decides (tax per line and per rate, discounts, cash
//! rounding, points), and how a return gives back its share of the sale.
//! Pure: `receipt::prepare` calls it with a `MoneyContext` the caller
//! resolved (rules, store settings, the applier's role, the original sale).

use crate::domain::money_rules::discount::{ApplierRole, DiscountSpec, RuleBreach};
use crate::domain::money_rules::points::Program;
use crate::domain::money_rules::receipt::{settle, SettleError, Settled, TaxLine, Tender};
use crate::domain::money_rules::returns::share;
use crate::domain::money_rules::rules::RetailRules;
use crate::domain::store_settings::VersionedSettings;
use crate::domain::VariantId;
use crate::error::{Code, Error, Result};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// A discount on the whole receipt: a named one (its own value unless
/// `percent_bp`/`amount` is given, within its limits), or a free percent
/// or amount. It is spread over the lines by largest remainder.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiscountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_id: Option<Uuid>,
    /// Basis points of a percent: 5% = 500.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_bp: Option<i32>,
    /// Minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// The totals the register computed. Each field given must equal the
/// server's, else 409 `totals_mismatch` with the server's lines and totals.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientTotals {
    pub total: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payable: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points_earned: Option<i64>,
}

/// The receipt-level results of the money rules, stored and answered.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, ToSchema)]
pub struct ReceiptTotals {
    /// The receipt discount (also spread over the lines' `receipt_discount`).
    pub receipt_discount: i64,
    pub discount_id: Option<Uuid>,
    pub tax_total: i64,
    /// Per rate: the nets it applied to and its tax.
    pub taxes: Vec<TaxLine>,
    /// Cash rounding line: payable - total.
    pub rounding: i64,
    /// total + rounding: what was owed (a sale) or refunded (a return).
    pub payable: i64,
    /// Points this receipt earned (a sale) or took back (a return: negative).
    pub points_earned: i64,
    /// Points this receipt spent (a sale) or gave back (a return: negative).
    pub points_redeemed: i64,
}

/// The points a receipt moves, for the commit (ledger + balance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointsMove {
    pub customer_id: Uuid,
    /// Ledger `earn` (sale, > 0) or `reverse_earn` (return, < 0).
    pub earned: i64,
    /// Points spent: ledger `redeem` (sale, > 0, needs the balance) or
    /// `reverse_redeem` (return, < 0: given back).
    pub redeemed: i64,
}

/// One line of the original sale as a return sees it (summed per variant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoldLine {
    pub product_id: Uuid,
    pub quantity: Decimal,
    pub price: i64,
    pub gross: i64,
    pub discount: i64,
    pub receipt_discount: i64,
    pub tax: i64,
    pub total: i64,
    pub tax_rate_id: Option<Uuid>,
    pub tax_included: bool,
}

/// The sale a return names, as read before preparing the return. The
/// commit re-checks `returned` under the sale's lock (`return_basis`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginalSale {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub total: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub lines: HashMap<VariantId, SoldLine>,
    /// Already returned per variant.
    pub returned: HashMap<VariantId, Decimal>,
    /// Sum of earlier returns' totals, points taken back, points given back.
    pub refunded_total: i64,
    pub earned_reversed: i64,
    pub redeemed_given_back: i64,
}

/// What `prepare` needs beyond the catalog, resolved by the caller.
#[derive(Debug, Clone, Default)]
pub struct MoneyContext {
    pub rules: Arc<RetailRules>,
    pub settings: Arc<VersionedSettings>,
    pub role: Option<ApplierRole>,
    /// The customer `customer_phone` named, looked up by the caller.
    pub phone_customer: Option<Uuid>,
    /// Returns: the sale being returned.
    pub original: Option<Arc<OriginalSale>>,
}

/// A discount asked for on `base`, checked against its definition.
pub fn resolve_discount(
    field: &str,
    rules: &RetailRules,
    role: Option<ApplierRole>,
    discount_id: Option<Uuid>,
    explicit: Option<DiscountSpec>,
    base: i64,
) -> Result<Option<(i64, Option<Uuid>)>> {
    let rule = match discount_id {
        None => None,
        Some(id) => Some(
            rules
                .discounts
                .get(&id)
                .ok_or_else(|| Error::invalid(field, format!("discount {id} does not exist")))?,
        ),
    };
    let Some(spec) = explicit.or(rule.map(|r| r.spec)) else {
        return Ok(None);
    };
    let amount = spec
        .amount_on(base)
        .ok_or_else(|| Error::invalid(field, "exceeds the amount it applies to"))?;
    if let Some(rule) = rule {
        // A device token sells as a cashier.
        let role = role.unwrap_or(ApplierRole::Cashier);
        match rule.check(role, base, amount) {
            Ok(()) => {}
            Err(RuleBreach::RoleNotAllowed) => {
                return Err(Error::Forbidden(format!(
                    "a {} may not apply the discount {:?}",
                    role.as_str(),
                    rule.name
                )))
            }
            Err(RuleBreach::AboveMaximum { max, asked }) => {
                return Err(Error::invalid(
                    field,
                    format!("{:?} allows at most {max} here, not {asked}", rule.name),
                ))
            }
        }
    }
    Ok(Some((amount, discount_id)))
}

/// A return line's share of the sale: (gross, discount, receipt discount,
/// tax, total), each cumulative against what was returned before.
pub fn return_share(
    field: &str,
    sold: &SoldLine,
    before: Decimal,
    now: Decimal,
) -> Result<[i64; 5]> {
    let over = || {
        Error::conflict(
            Code::ReturnExceedsSale,
            format!("{field}: more than is left to return"),
        )
    };
    let s = |amount: i64| share(amount, sold.quantity, before, now).ok_or_else(over);
    Ok([
        s(sold.gross)?,
        s(sold.discount)?,
        s(sold.receipt_discount)?,
        s(sold.tax)?,
        s(sold.total)?,
    ])
}

pub fn tender(m: super::receipt::PaymentMethod) -> Tender {
    use super::receipt::PaymentMethod as P;
    match m {
        P::Cash => Tender::Cash,
        P::Card | P::Other => Tender::NonCash,
        P::Points => Tender::Points,
    }
}

/// Settles the payments or says why not, as a 422 on `payments`.
pub fn settle_payments(
    total: i64,
    tenders: &[(Tender, i64)],
    unit: i64,
    program: Option<&Program>,
    is_return: bool,
) -> Result<Settled> {
    settle(total, tenders, unit, program, is_return).map_err(|e| {
        let msg = match e {
            SettleError::ShortPaid { paid, payable } => {
                format!("paid {paid} is less than the amount due {payable}")
            }
            SettleError::NonCashExceedsTotal => {
                "card, other and points payments may not exceed the total".into()
            }
            SettleError::ChangeExceedsCash => "change exceeds the cash paid".into(),
            SettleError::RefundMismatch { payable, .. } => {
                format!("refunds must add up to {payable}")
            }
            SettleError::PointsNotWhole => {
                "points pay whole points at the program's point value (and need an active program)"
                    .into()
            }
            SettleError::OutOfRange => "total out of range".into(),
        };
        Error::invalid("payments", msg)
    })
}

/// Receipt discount request as a spec.
pub fn receipt_spec(d: &DiscountRequest) -> Result<Option<DiscountSpec>> {
    match (d.percent_bp, d.amount) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "discount",
            "give percent_bp or amount, not both",
        )),
        (Some(p), None) => Ok(Some(DiscountSpec::Percent(p))),
        (None, Some(a)) => Ok(Some(DiscountSpec::Amount(a))),
        (None, None) => Ok(None),
    }
}

/// The server's figures for a 409 `totals_mismatch`.
pub fn server_figures(
    lines: &[super::receipt::ReceiptLine],
    subtotal: i64,
    discount_total: i64,
    total: i64,
    totals: &ReceiptTotals,
) -> serde_json::Value {
    serde_json::json!({
        "items": lines,
        "subtotal": subtotal,
        "discount_total": discount_total,
        "total": total,
        "receipt_discount": totals.receipt_discount,
        "tax_total": totals.tax_total,
        "taxes": totals.taxes,
        "rounding": totals.rounding,
        "payable": totals.payable,
        "points_earned": totals.points_earned,
        "points_redeemed": totals.points_redeemed,
    })
}

/// Checks the client's totals against the server's.
pub fn check_client_totals(
    client: &ClientTotals,
    discount_total: i64,
    total: i64,
    t: &ReceiptTotals,
) -> bool {
    let eq = |c: Option<i64>, s: i64| c.is_none_or(|c| c == s);
    client.total == total
        && eq(client.tax_total, t.tax_total)
        && eq(client.discount_total, discount_total)
        && eq(client.rounding, t.rounding)
        && eq(client.payable, t.payable)
        && eq(client.points_earned, t.points_earned)
}

/// What was returned before, per variant of this return: the commit checks
/// it is still so under the sale's lock.
pub type ReturnBasis = BTreeMap<VariantId, Decimal>;
