//! Property tests of the money rules (proptest: random receipts, shrunk to
//! the smallest failing case).

use super::discount::{distribute, DiscountSpec};
use super::points::Program;
use super::receipt::{price, settle, LineInput, Tender};
use super::returns::share;
use super::tax::{AppliedRate, TaxMode};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn spec(max_amount: i64) -> impl Strategy<Value = Option<DiscountSpec>> {
    prop_oneof![
        Just(None),
        (0i32..=10_000).prop_map(|bp| Some(DiscountSpec::Percent(bp))),
        (0i64..=max_amount).prop_map(|a| Some(DiscountSpec::Amount(a))),
    ]
}

fn rate() -> impl Strategy<Value = Option<AppliedRate>> {
    prop_oneof![
        Just(None),
        (0i32..=3_000, any::<bool>()).prop_map(|(bp, incl)| Some(AppliedRate {
            id: uuid::Uuid::from_u128(if incl { 1 } else { 2 }),
            rate_bp: bp,
            mode: if incl {
                TaxMode::Inclusive
            } else {
                TaxMode::Exclusive
            },
        })),
    ]
}

fn line() -> impl Strategy<Value = LineInput> {
    (0i64..10_000_000)
        .prop_flat_map(|gross| (Just(gross), spec(gross), rate()))
        .prop_map(|(gross, discount, tax)| LineInput {
            gross,
            discount,
            tax,
        })
}

/// A partial-return plan: quantity sold (3 decimals) and cut points.
fn plan() -> impl Strategy<Value = (i64, Decimal, Vec<Decimal>)> {
    (0i64..10_000_000, 1i64..100_000).prop_flat_map(|(amount, milli)| {
        (
            Just(amount),
            Just(Decimal::new(milli, 3)),
            proptest::collection::vec(1i64..=milli, 0..6).prop_map(move |mut cuts| {
                cuts.sort_unstable();
                cuts.dedup();
                let mut parts = Vec::new();
                let mut last = 0;
                for c in cuts.into_iter().chain([milli]) {
                    if c > last {
                        parts.push(Decimal::new(c - last, 3));
                        last = c;
                    }
                }
                parts
            }),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Shares add up to the discount exactly and never exceed their line.
    #[test]
    fn shares_sum_exactly_and_never_exceed_their_line(
        weights in proptest::collection::vec(0i64..1_000_000, 1..12),
        pick in 0.0f64..=1.0,
    ) {
        let sum: i64 = weights.iter().sum();
        let total = (sum as f64 * pick) as i64;
        let shares = distribute(total, &weights);
        prop_assert_eq!(shares.iter().sum::<i64>(), if sum == 0 { 0 } else { total });
        for (s, w) in shares.iter().zip(&weights) {
            prop_assert!(*s >= 0 && s <= w);
        }
    }

    /// Lines always sum to the receipt's totals (total, tax, per-rate tax,
    /// receipt discount, subtotal - discounts = nets).
    #[test]
    fn lines_always_sum_to_the_totals(
        lines in proptest::collection::vec(line(), 1..10),
        receipt in spec(1_000_000),
    ) {
        let Ok(p) = price(&lines, receipt) else {
            // Only an amount above what is left may be refused.
            prop_assert!(matches!(receipt, Some(DiscountSpec::Amount(_))));
            return Ok(());
        };
        prop_assert_eq!(p.lines.iter().map(|l| l.total).sum::<i64>(), p.total);
        prop_assert_eq!(p.lines.iter().map(|l| l.tax).sum::<i64>(), p.tax_total);
        prop_assert_eq!(p.taxes.iter().map(|t| t.tax).sum::<i64>(), p.tax_total);
        prop_assert_eq!(p.lines.iter().map(|l| l.receipt_discount).sum::<i64>(), p.receipt_discount);
        prop_assert_eq!(p.subtotal - p.discount_total, p.lines.iter().map(|l| l.net).sum::<i64>());
        for l in &p.lines {
            prop_assert!(l.net >= 0 && l.tax >= 0 && l.tax <= l.total);
        }
    }

    /// However a line is returned in parts, the parts never add up to more
    /// than was taken, and all of it is given back when all is returned.
    #[test]
    fn returns_never_give_back_more_than_was_taken((amount, sold, parts) in plan()) {
        let mut before = Decimal::ZERO;
        let mut given = 0i64;
        for now in parts {
            let part = share(amount, sold, before, now);
            prop_assert!(part.is_some());
            let part = part.unwrap_or_default();
            prop_assert!(part >= 0);
            given += part;
            before += now;
            prop_assert!(given <= amount);
        }
        prop_assert_eq!(given, amount);
        prop_assert_eq!(share(amount, sold, sold, Decimal::new(1, 3)), None);
    }

    /// Payments balance: paid - change = payable; rounding within half a
    /// unit; change only from cash; points whole.
    #[test]
    fn settlement_balances(
        total in 0i64..5_000_000,
        unit in prop_oneof![Just(1i64), Just(50), Just(100), Just(1000)],
        card_pick in 0.0f64..=1.0,
        points_pick in 0.0f64..=1.0,
        cash_extra in 0i64..20_000,
        with_card in any::<bool>(),
        with_points in any::<bool>(),
    ) {
        let program = Program {
            active: true,
            earn_points: 3,
            earn_per_amount: 1_000,
            point_value: 50,
            expiry_days: None,
        };
        let card = if with_card { (total as f64 * card_pick) as i64 } else { 0 };
        let points = if with_points { ((total - card) as f64 * points_pick) as i64 / 50 * 50 } else { 0 };
        let cash = (total - card - points + cash_extra).max(0);
        let pays: Vec<(Tender, i64)> = [(Tender::NonCash, card), (Tender::Points, points), (Tender::Cash, cash)]
            .into_iter()
            .filter(|(_, a)| *a > 0)
            .collect();
        if let Ok(s) = settle(total, &pays, unit, Some(&program), false) {
            prop_assert_eq!(s.paid - s.change, s.payable);
            prop_assert!(2 * s.rounding.abs() <= unit);
            prop_assert!(s.change <= cash);
            prop_assert_eq!(s.points_redeemed * 50, points);
            prop_assert!(s.points_earned >= 0);
        }
    }
}
