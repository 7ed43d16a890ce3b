//! A whole receipt through the rules: lines (steps 1-4 of the module doc),
//! then settlement (cash rounding, points).

use super::cash;
use super::discount::{distribute, DiscountSpec};
use super::points::Program;
use super::tax::{line_tax, AppliedRate, TaxMode};
use serde::Serialize;
use utoipa::ToSchema;

/// One line before the rules: its gross (price x quantity, rounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInput {
    pub gross: i64,
    pub discount: Option<DiscountSpec>,
    pub tax: Option<AppliedRate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PricedLine {
    pub gross: i64,
    pub line_discount: i64,
    /// This line's share of the receipt discount.
    pub receipt_discount: i64,
    /// gross - both discounts.
    pub net: i64,
    pub tax: i64,
    /// net (inclusive tax or none) or net + tax (exclusive).
    pub total: i64,
}

/// Tax of one rate over the receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct TaxLine {
    pub tax_rate_id: uuid::Uuid,
    pub rate_bp: i32,
    pub mode: TaxMode,
    /// Sum of the nets of the lines under this rate.
    pub taxable: i64,
    pub tax: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Priced {
    pub lines: Vec<PricedLine>,
    /// Sum of gross.
    pub subtotal: i64,
    /// Sum of line and receipt discounts.
    pub discount_total: i64,
    /// The receipt discount alone (also spread over the lines).
    pub receipt_discount: i64,
    pub tax_total: i64,
    /// Sum of line totals.
    pub total: i64,
    /// One per rate used, in first-use order.
    pub taxes: Vec<TaxLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceError {
    /// Line `index`'s discount is out of range.
    LineDiscount(usize),
    ReceiptDiscount,
    OutOfRange,
}

/// Steps 1-4: discounts, the receipt discount's spread, tax per line.
pub fn price(
    lines: &[LineInput],
    receipt_discount: Option<DiscountSpec>,
) -> Result<Priced, PriceError> {
    let mut after_line = Vec::with_capacity(lines.len());
    let mut line_discounts = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let d = match l.discount {
            None => 0,
            Some(spec) => spec.amount_on(l.gross).ok_or(PriceError::LineDiscount(i))?,
        };
        line_discounts.push(d);
        after_line.push(l.gross - d);
    }
    let base = after_line
        .iter()
        .try_fold(0i64, |acc, v| acc.checked_add(*v))
        .ok_or(PriceError::OutOfRange)?;
    let rd = match receipt_discount {
        None => 0,
        Some(spec) => spec.amount_on(base).ok_or(PriceError::ReceiptDiscount)?,
    };
    let shares = distribute(rd, &after_line);
    let mut out = Priced {
        lines: Vec::with_capacity(lines.len()),
        receipt_discount: rd,
        ..Priced::default()
    };
    for (i, l) in lines.iter().enumerate() {
        let net = after_line[i] - shares[i];
        let (tax, total) = line_tax(net, l.tax);
        out.subtotal = out
            .subtotal
            .checked_add(l.gross)
            .ok_or(PriceError::OutOfRange)?;
        out.discount_total += line_discounts[i] + shares[i];
        out.tax_total += tax;
        out.total = out.total.checked_add(total).ok_or(PriceError::OutOfRange)?;
        if let Some(rate) = l.tax {
            match out.taxes.iter_mut().find(|t| t.tax_rate_id == rate.id) {
                Some(t) => {
                    t.taxable += net;
                    t.tax += tax;
                }
                None => out.taxes.push(TaxLine {
                    tax_rate_id: rate.id,
                    rate_bp: rate.rate_bp,
                    mode: rate.mode,
                    taxable: net,
                    tax,
                }),
            }
        }
        out.lines.push(PricedLine {
            gross: l.gross,
            line_discount: line_discounts[i],
            receipt_discount: shares[i],
            net,
            tax,
            total,
        });
    }
    Ok(out)
}

/// How a payment is made, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tender {
    Cash,
    /// Card, transfer, other: paid exactly, never rounded, no change.
    NonCash,
    /// Loyalty points at the program's point value.
    Points,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settled {
    /// Cash rounding line (negative: rounded down).
    pub rounding: i64,
    /// total + rounding: what the customer owes (or is refunded).
    pub payable: i64,
    pub paid: i64,
    pub change: i64,
    /// Minor units paid with points, and the points that is.
    pub points_amount: i64,
    pub points_redeemed: i64,
    /// Points earned by a sale.
    pub points_earned: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleError {
    ShortPaid {
        paid: i64,
        payable: i64,
    },
    NonCashExceedsTotal,
    ChangeExceedsCash,
    RefundMismatch {
        paid: i64,
        payable: i64,
    },
    /// A points payment that is not a whole number of points, or points
    /// without an active program.
    PointsNotWhole,
    OutOfRange,
}

/// Step 5 and 6: cash rounding of the part paid in cash, change (cash
/// only), points redeemed and earned. `is_return`: payments are refunds
/// and must add up to the payable exactly; nothing is earned.
pub fn settle(
    total: i64,
    payments: &[(Tender, i64)],
    cash_unit: i64,
    program: Option<&Program>,
    is_return: bool,
) -> Result<Settled, SettleError> {
    let (mut cash, mut non_cash, mut points_amount) = (0i64, 0i64, 0i64);
    for (t, a) in payments {
        let slot = match t {
            Tender::Cash => &mut cash,
            Tender::NonCash => &mut non_cash,
            Tender::Points => &mut points_amount,
        };
        *slot = slot.checked_add(*a).ok_or(SettleError::OutOfRange)?;
    }
    let points_redeemed = if points_amount > 0 {
        program
            .filter(|p| p.active)
            .and_then(|p| p.points_for(points_amount))
            .ok_or(SettleError::PointsNotWhole)?
    } else {
        0
    };
    if non_cash.saturating_add(points_amount) > total {
        return Err(SettleError::NonCashExceedsTotal);
    }
    // Only the part left for cash is rounded; a card pays to the unit.
    let rounding = if cash > 0 {
        cash::rounding(total - non_cash - points_amount, cash_unit)
    } else {
        0
    };
    let payable = total + rounding;
    let paid = cash + non_cash + points_amount;
    let change = if is_return {
        if paid != payable {
            return Err(SettleError::RefundMismatch { paid, payable });
        }
        0
    } else {
        if paid < payable {
            return Err(SettleError::ShortPaid { paid, payable });
        }
        if paid - payable > cash {
            return Err(SettleError::ChangeExceedsCash);
        }
        paid - payable
    };
    let points_earned = match (program, is_return) {
        (Some(p), false) => p.earned(payable - points_amount),
        _ => 0,
    };
    Ok(Settled {
        rounding,
        payable,
        paid,
        change,
        points_amount,
        points_redeemed,
        points_earned,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// The README's worked example, step by step.
    #[test]
    fn worked_example() {
        let vat = AppliedRate {
            id: Uuid::nil(),
            rate_bp: 1200,
            mode: TaxMode::Inclusive,
        };
        let lines = [
            // 2 x 15_000 = 30_000, 10% off the line
            LineInput {
                gross: 30_000,
                discount: Some(DiscountSpec::Percent(1000)),
                tax: Some(vat),
            },
            // 1 x 9_999, no line discount
            LineInput {
                gross: 9_999,
                discount: None,
                tax: Some(vat),
            },
        ];
        // 5% off the receipt: 5% of 36_999 = 1849.95 -> 1850, spread 27:9.999
        let p = price(&lines, Some(DiscountSpec::Percent(500))).unwrap();
        assert_eq!(p.lines[0].line_discount, 3_000);
        assert_eq!(p.receipt_discount, 1_850);
        assert_eq!(
            (p.lines[0].receipt_discount, p.lines[1].receipt_discount),
            (1_350, 500)
        );
        assert_eq!((p.lines[0].net, p.lines[1].net), (25_650, 9_499));
        // VAT inside: 25_650 x 12/112 = 2748.2 -> 2748; 9_499 x 12/112 = 1017.7 -> 1018
        assert_eq!((p.lines[0].tax, p.lines[1].tax), (2_748, 1_018));
        assert_eq!(p.total, 35_149);
        assert_eq!(p.taxes[0].tax, 3_766);
        let program = Program {
            active: true,
            earn_points: 1,
            earn_per_amount: 1_000,
            point_value: 100,
            expiry_days: None,
        };
        // 500 paid with 5 points, the rest in cash: 34_649 rounds to 34_600.
        let s = settle(
            p.total,
            &[(Tender::Points, 500), (Tender::Cash, 35_000)],
            100,
            Some(&program),
            false,
        )
        .unwrap();
        assert_eq!(s.rounding, -49);
        assert_eq!(s.payable, 35_100);
        assert_eq!(s.change, 400);
        assert_eq!(s.points_redeemed, 5);
        // Earned on 34_600 paid in money: 34 points.
        assert_eq!(s.points_earned, 34);
    }

    #[test]
    fn card_is_never_rounded_and_cannot_overpay() {
        assert_eq!(
            settle(12_349, &[(Tender::NonCash, 12_349)], 100, None, false).map(|s| s.rounding),
            Ok(0)
        );
        assert_eq!(
            settle(12_349, &[(Tender::NonCash, 12_400)], 100, None, false),
            Err(SettleError::NonCashExceedsTotal)
        );
        assert_eq!(
            settle(100, &[(Tender::Points, 100)], 1, None, false),
            Err(SettleError::PointsNotWhole)
        );
    }
}
