//! Running sales totals of one batch, coalesced per totals row (pure: the
//! derived writer `pg::commit::totals` lays these out as column arrays).
//! The figures are defined by the rebuild SQL in `pg::totals`; a batch adds
//! exactly what the rebuild would count for its receipts.

use super::business_day::BusinessClock;
use super::receipt::{PaymentMethod, PreparedReceipt, ReceiptKind, ReceiptLine};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use uuid::Uuid;

/// What the commit reads about a receipt's shift besides the shift rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftContext {
    /// Who opened the shift (None for shifts from before employees had PINs).
    pub employee_id: Option<Uuid>,
    /// The store's business clock.
    pub clock: BusinessClock,
}

/// Receipt-level figures of one totals row.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    pub sales_count: i64,
    pub returns_count: i64,
    pub gross: i64,
    pub discounts: i64,
    pub sales: i64,
    pub returns: i64,
}

impl Figures {
    fn add(&mut self, r: &PreparedReceipt) {
        match r.kind {
            ReceiptKind::Sale => {
                self.sales_count += 1;
                self.gross += r.subtotal;
                self.discounts += r.discount_total;
                self.sales += r.total;
            }
            ReceiptKind::Return => {
                self.returns_count += 1;
                self.returns += r.total;
            }
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ShiftDelta {
    pub figures: Figures,
    pub change_given: i64,
    /// By method: cash, card, other, points.
    pub paid: [i64; 4],
    pub refunded: [i64; 4],
    /// The money rules' lines of the X/Z report (sales - returns).
    pub money: MoneyFigures,
}

/// The X/Z report's money block of a group of receipts: a sale adds its
/// discount_total, tax_total and rounding, a return subtracts them; points
/// add as stored (a return's `points_earned` is already negative).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MoneyFigures {
    pub discounts: i64,
    pub tax: i64,
    pub rounding: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
}

impl MoneyFigures {
    fn add(&mut self, r: &PreparedReceipt) {
        let sign = sign(r.kind);
        self.discounts += sign * r.discount_total;
        self.tax += sign * r.money.tax_total;
        self.rounding += sign * r.money.rounding;
        self.points_earned += r.money.points_earned;
        self.points_redeemed += r.money.points_redeemed;
    }
}

/// Per tax rate of a shift: the net amount taxed and the tax (sales - returns).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TaxDelta {
    pub taxable: i64,
    pub tax: i64,
}

/// +1 for a sale, -1 for a return.
fn sign(kind: ReceiptKind) -> i64 {
    match kind {
        ReceiptKind::Sale => 1,
        ReceiptKind::Return => -1,
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VariantDelta {
    pub product_id: Uuid,
    pub qty_sold: Decimal,
    pub qty_returned: Decimal,
    pub gross: i64,
    pub discounts: i64,
    pub sales: i64,
    pub returns: i64,
    /// Tax inside `sales` and inside `returns`.
    pub tax: i64,
    pub returns_tax: i64,
    /// Cost of the goods sold and of the goods returned (lines with a cost).
    pub cost: i64,
    pub returns_cost: i64,
    /// Lines (sold or returned) without a known cost.
    pub uncosted_lines: i64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PaymentDelta {
    pub paid: i64,
    pub refunded: i64,
    pub change_given: i64,
}

fn method_index(m: PaymentMethod) -> usize {
    match m {
        PaymentMethod::Cash => 0,
        PaymentMethod::Card => 1,
        PaymentMethod::Other => 2,
        PaymentMethod::Points => 3,
    }
}

/// A line before discounts: round(price x quantity) = total + both
/// discounts, less the tax when it was added on top (exclusive rate).
pub fn line_gross(l: &ReceiptLine) -> i64 {
    let added_tax = if l.tax_included { 0 } else { l.tax };
    l.total + l.discount + l.receipt_discount - added_tax
}

/// round(amount x numerator / denominator), half away from zero (the money
/// rounding rule); None when the denominator is zero or it overflows.
fn share(amount: Decimal, numerator: Decimal, denominator: Decimal) -> Option<i64> {
    if denominator.is_zero() {
        return None;
    }
    let v = amount.checked_mul(numerator)?.checked_div(denominator)?;
    v.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        .try_into()
        .ok()
}

/// The cost of each line of an accepted receipt. A sale line costs
/// round(unit cost x quantity) at the unit cost of its warehouse
/// (`unit_cost(variant)`: moving average, else the variant's cost price);
/// a return line costs its share by quantity of what the original sale's
/// lines of that variant cost (`sold(variant)`: their quantity and cost,
/// None when one of them had no cost). None: unknown.
pub fn line_costs(
    r: &PreparedReceipt,
    unit_cost: impl Fn(Uuid) -> Option<i64>,
    sold: impl Fn(Uuid) -> Option<(Decimal, i64)>,
) -> Vec<Option<i64>> {
    r.lines
        .iter()
        .map(|l| match r.kind {
            ReceiptKind::Sale => unit_cost(l.variant_id)
                .and_then(|c| share(Decimal::from(c), l.quantity.decimal(), Decimal::ONE)),
            ReceiptKind::Return => sold(l.variant_id)
                .and_then(|(qty, cost)| share(Decimal::from(cost), l.quantity.decimal(), qty)),
        })
        .collect()
}

/// The nil uuid stands for "no employee" in keys.
pub const NO_EMPLOYEE: Uuid = Uuid::nil();

/// (tenant, shift)
pub type ShiftKey = (Uuid, Uuid);
/// (tenant, shift, tax rate)
pub type ShiftTaxKey = (Uuid, Uuid, Uuid);
/// (tenant, store, business day, local hour, register)
pub type HourKey = (Uuid, Uuid, NaiveDate, i16, Uuid);
/// (tenant, store, business day, employee, register)
pub type EmployeeKey = (Uuid, Uuid, NaiveDate, Uuid, Uuid);
/// (tenant, store, business day, variant)
pub type VariantKey = (Uuid, Uuid, NaiveDate, Uuid);
/// (tenant, store, first day of the business month, variant)
pub type MonthVariantKey = (Uuid, Uuid, NaiveDate, Uuid);
/// (tenant, store, business day, method, register)
pub type PaymentKey = (Uuid, Uuid, NaiveDate, &'static str, Uuid);

/// A batch's deltas, one entry per totals row. BTreeMaps: rows come out in
/// key order, the lock order every batch shares.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SalesDelta {
    pub shifts: BTreeMap<ShiftKey, ShiftDelta>,
    pub shift_taxes: BTreeMap<ShiftTaxKey, TaxDelta>,
    pub hours: BTreeMap<HourKey, Figures>,
    pub employees: BTreeMap<EmployeeKey, Figures>,
    pub variants: BTreeMap<VariantKey, VariantDelta>,
    pub month_variants: BTreeMap<MonthVariantKey, VariantDelta>,
    pub payments: BTreeMap<PaymentKey, PaymentDelta>,
}

impl SalesDelta {
    /// Adds an accepted receipt; `costs[i]` is the cost of line i (None:
    /// unknown), as `line_costs` computed it and the receipt stores it.
    pub fn add(&mut self, r: &PreparedReceipt, ctx: &ShiftContext, costs: &[Option<i64>]) {
        let slot = ctx.clock.slot(r.occurred_at);
        let (t, s, d) = (r.tenant_id, r.store_id, slot.day);
        let sale = r.kind == ReceiptKind::Sale;
        let shift = self.shifts.entry((t, r.shift_id)).or_default();
        shift.figures.add(r);
        shift.money.add(r);
        if sale {
            shift.change_given += r.change;
        }
        for p in &r.payments {
            let i = method_index(p.method);
            let row = self
                .payments
                .entry((t, s, d, p.method.as_str(), r.register_id))
                .or_default();
            if sale {
                shift.paid[i] += p.amount;
                row.paid += p.amount;
            } else {
                shift.refunded[i] += p.amount;
                row.refunded += p.amount;
            }
        }
        // Change is handed back in cash.
        if sale && r.change != 0 {
            self.payments
                .entry((t, s, d, PaymentMethod::Cash.as_str(), r.register_id))
                .or_default()
                .change_given += r.change;
        }
        self.hours
            .entry((t, s, d, slot.hour, r.register_id))
            .or_default()
            .add(r);
        self.employees
            .entry((
                t,
                s,
                d,
                ctx.employee_id.unwrap_or(NO_EMPLOYEE),
                r.register_id,
            ))
            .or_default()
            .add(r);
        let month = d.with_day(1).unwrap_or(d);
        for (i, l) in r.lines.iter().enumerate() {
            let cost = costs.get(i).copied().flatten();
            if let Some(rate) = l.tax_rate_id {
                let row = self.shift_taxes.entry((t, r.shift_id, rate)).or_default();
                // The net amount: an exclusive tax sits on top of the total.
                let taxable = if l.tax_included {
                    l.total
                } else {
                    l.total - l.tax
                };
                row.taxable += sign(r.kind) * taxable;
                row.tax += sign(r.kind) * l.tax;
            }
            for v in [
                self.variants.entry((t, s, d, l.variant_id)).or_default(),
                self.month_variants
                    .entry((t, s, month, l.variant_id))
                    .or_default(),
            ] {
                v.product_id = l.product_id;
                if cost.is_none() {
                    v.uncosted_lines += 1;
                }
                if sale {
                    v.qty_sold += l.quantity.decimal();
                    v.gross += line_gross(l);
                    v.discounts += l.discount + l.receipt_discount;
                    v.sales += l.total;
                    v.tax += l.tax;
                    v.cost += cost.unwrap_or(0);
                } else {
                    v.qty_returned += l.quantity.decimal();
                    v.returns += l.total;
                    v.returns_tax += l.tax;
                    v.returns_cost += cost.unwrap_or(0);
                }
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.shifts.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::domain::business_day::parse_zone;
    use crate::domain::receipt::ReceiptPayment;
    use crate::domain::Quantity;
    use chrono::{DateTime, Utc};

    fn receipt(
        kind: ReceiptKind,
        at: &str,
        lines: &[(Uuid, &str, i64, i64)],
        pay: &[(PaymentMethod, i64)],
    ) -> PreparedReceipt {
        let lines: Vec<ReceiptLine> = lines
            .iter()
            .enumerate()
            .map(|(i, (v, q, price, discount))| {
                let qty: Decimal = q.parse().unwrap_or_default();
                let gross = (Decimal::from(*price) * qty)
                    .round()
                    .try_into()
                    .unwrap_or(0i64);
                ReceiptLine {
                    line_no: i as i32 + 1,
                    variant_id: *v,
                    product_id: *v,
                    quantity: Quantity(qty),
                    price: *price,
                    discount: *discount,
                    receipt_discount: 0,
                    tax: 0,
                    tax_rate_id: None,
                    discount_id: None,
                    total: gross - discount,
                    tax_included: true,
                }
            })
            .collect();
        let subtotal: i64 = lines.iter().map(|l| l.total + l.discount).sum();
        let discount_total: i64 = lines.iter().map(|l| l.discount).sum();
        let total = subtotal - discount_total;
        let paid: i64 = pay.iter().map(|p| p.1).sum();
        PreparedReceipt {
            tenant_id: Uuid::from_u128(1),
            id: Uuid::new_v4(),
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
            occurred_at: at.parse::<DateTime<Utc>>().unwrap_or_default(),
            lines,
            payments: pay
                .iter()
                .map(|(method, amount)| ReceiptPayment {
                    method: *method,
                    amount: *amount,
                })
                .collect(),
            subtotal,
            discount_total,
            total,
            paid,
            change: if kind == ReceiptKind::Sale {
                paid - total
            } else {
                0
            },
            money: Default::default(),
            points: None,
            return_basis: None,
        }
    }

    /// Two sales and a return in one batch coalesce into one row per key;
    /// the business day follows the store's clock.
    #[test]
    fn a_batch_coalesces_per_row_and_day() {
        let Ok(zone) = parse_zone("z", "Asia/Tashkent") else {
            panic!()
        };
        let ctx = ShiftContext {
            employee_id: Some(Uuid::from_u128(9)),
            clock: BusinessClock::new(zone, 4),
        };
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let mut d = SalesDelta::default();
        // 22:00 UTC = 03:00 local on the 2nd: business day of the 1st.
        d.add(
            &receipt(
                ReceiptKind::Sale,
                "2026-03-01T22:00:00Z",
                &[(a, "2", 1000, 100), (b, "0.5", 999, 0)],
                &[(PaymentMethod::Cash, 3000)],
            ),
            &ctx,
            &[Some(1200), None],
        );
        d.add(
            &receipt(
                ReceiptKind::Sale,
                "2026-03-01T22:30:00Z",
                &[(a, "1", 1000, 0)],
                &[(PaymentMethod::Card, 1000)],
            ),
            &ctx,
            &[Some(600)],
        );
        d.add(
            &receipt(
                ReceiptKind::Return,
                "2026-03-01T21:30:00Z",
                &[(a, "1", 1000, 0)],
                &[(PaymentMethod::Cash, 1000)],
            ),
            &ctx,
            &[Some(600)],
        );
        let day: NaiveDate = "2026-03-01".parse().unwrap_or_default();
        let (t, s, reg) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(4));
        let shift = d.shifts[&(t, Uuid::from_u128(5))];
        assert_eq!(shift.figures.sales_count, 2);
        assert_eq!(shift.figures.returns_count, 1);
        // 2000 + 500 (999 x 0.5 = 499.5 -> 500) + 1000 gross; 100 discount.
        assert_eq!(shift.figures.gross, 3500);
        assert_eq!(shift.figures.sales, 3400);
        assert_eq!(shift.figures.returns, 1000);
        assert_eq!(shift.change_given, 3000 - 2400);
        assert_eq!(shift.paid, [3000, 1000, 0, 0]);
        assert_eq!(shift.refunded, [1000, 0, 0, 0]);
        assert_eq!(d.hours.len(), 2, "local hours 2 and 3");
        assert_eq!(d.hours[&(t, s, day, 3, reg)].sales_count, 2);
        assert_eq!(d.hours[&(t, s, day, 2, reg)].returns_count, 1);
        assert_eq!(d.employees.len(), 1);
        let va = d.variants[&(t, s, day, a)];
        assert_eq!(va.qty_sold, Decimal::from(3));
        assert_eq!(va.qty_returned, Decimal::ONE);
        assert_eq!(
            (va.gross, va.discounts, va.sales, va.returns),
            (3000, 100, 2900, 1000)
        );
        assert_eq!(
            (
                va.tax,
                va.returns_tax,
                va.cost,
                va.returns_cost,
                va.uncosted_lines
            ),
            (0, 0, 1800, 600, 0)
        );
        assert_eq!(d.variants[&(t, s, day, b)].uncosted_lines, 1);
        let month: NaiveDate = "2026-03-01".parse().unwrap_or_default();
        assert_eq!(d.month_variants[&(t, s, month, a)], va);
        let cash = d.payments[&(t, s, day, "cash", reg)];
        assert_eq!(
            (cash.paid, cash.refunded, cash.change_given),
            (3000, 1000, 600)
        );
        assert_eq!(d.payments[&(t, s, day, "card", reg)].paid, 1000);
    }

    /// The money block: a sale adds discounts, tax and rounding and a return
    /// subtracts them; points add as stored; tax per rate nets the same way,
    /// an exclusive tax's line taxed on its total less the tax.
    #[test]
    fn money_lines_net_sales_minus_returns() {
        let Ok(zone) = parse_zone("z", "Asia/Tashkent") else {
            panic!()
        };
        let ctx = ShiftContext {
            employee_id: None,
            clock: BusinessClock::new(zone, 0),
        };
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let (vat, excise) = (Uuid::from_u128(20), Uuid::from_u128(21));
        let mut sale = receipt(
            ReceiptKind::Sale,
            "2026-03-01T10:00:00Z",
            &[(a, "2", 1000, 100), (b, "1", 500, 0)],
            &[(PaymentMethod::Cash, 3000)],
        );
        sale.lines[0].tax_rate_id = Some(vat);
        sale.lines[0].tax = 204;
        sale.lines[1].tax_rate_id = Some(excise);
        sale.lines[1].tax_included = false;
        sale.lines[1].tax = 50;
        sale.lines[1].total += 50;
        sale.money.tax_total = 254;
        sale.money.rounding = -40;
        sale.money.points_earned = 2;
        sale.money.points_redeemed = 3;
        let mut ret = receipt(
            ReceiptKind::Return,
            "2026-03-01T11:00:00Z",
            &[(a, "1", 1000, 50)],
            &[(PaymentMethod::Cash, 900)],
        );
        ret.lines[0].tax_rate_id = Some(vat);
        ret.lines[0].tax = 102;
        ret.money.tax_total = 102;
        ret.money.rounding = -50;
        ret.money.points_earned = -1;
        let mut d = SalesDelta::default();
        d.add(&sale, &ctx, &[]);
        d.add(&ret, &ctx, &[]);
        let t = Uuid::from_u128(1);
        let shift = Uuid::from_u128(5);
        assert_eq!(
            d.shifts[&(t, shift)].money,
            MoneyFigures {
                discounts: 100 - 50,
                tax: 254 - 102,
                rounding: -40 + 50,
                points_earned: 2 - 1,
                points_redeemed: 3,
            }
        );
        assert_eq!(
            d.shift_taxes[&(t, shift, vat)],
            TaxDelta {
                taxable: 1900 - 950,
                tax: 204 - 102
            }
        );
        assert_eq!(
            d.shift_taxes[&(t, shift, excise)],
            TaxDelta {
                taxable: 500,
                tax: 50
            }
        );
    }

    /// A sale line costs round(unit x quantity); a return line its share of
    /// the sale's cost; unknown stays unknown.
    #[test]
    fn line_costs_of_sales_and_returns() {
        let (a, b) = (Uuid::from_u128(10), Uuid::from_u128(11));
        let sale = receipt(
            ReceiptKind::Sale,
            "2026-03-01T10:00:00Z",
            &[(a, "0.5", 1000, 0), (b, "1", 500, 0)],
            &[],
        );
        let costs = line_costs(&sale, |v| (v == a).then_some(333), |_| None);
        assert_eq!(costs, vec![Some(167), None]);
        let ret = receipt(
            ReceiptKind::Return,
            "2026-03-01T11:00:00Z",
            &[(a, "1", 1000, 0)],
            &[],
        );
        let costs = line_costs(&ret, |_| Some(1), |_| Some((Decimal::from(3), 1000)));
        assert_eq!(costs, vec![Some(333)]);
        assert_eq!(line_costs(&ret, |_| Some(1), |_| None), vec![None]);
    }
}
