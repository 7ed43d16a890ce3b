//! Property tests of the money rules: many random receipts from a fixed
//! seed (reproducible; a failure prints the case). Hand-rolled on `rand`
//! rather than proptest to keep the dependency tree as it is.

use super::discount::{distribute, DiscountSpec};
use super::points::Program;
use super::receipt::{price, settle, LineInput, Tender};
use super::returns::share;
use super::tax::{AppliedRate, TaxMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

const CASES: usize = 20_000;

fn rng() -> StdRng {
    StdRng::seed_from_u64(0x6a6f_7769)
}

fn spec(r: &mut StdRng, base: i64) -> Option<DiscountSpec> {
    match r.gen_range(0..3) {
        0 => None,
        1 => Some(DiscountSpec::Percent(r.gen_range(0..=10_000))),
        _ => Some(DiscountSpec::Amount(r.gen_range(0..=base.max(0)))),
    }
}

fn rate(r: &mut StdRng) -> Option<AppliedRate> {
    let ids = [uuid::Uuid::from_u128(1), uuid::Uuid::from_u128(2)];
    match r.gen_range(0..3) {
        0 => None,
        n => Some(AppliedRate {
            id: ids[n - 1],
            rate_bp: r.gen_range(0..=3_000),
            mode: if n == 1 {
                TaxMode::Inclusive
            } else {
                TaxMode::Exclusive
            },
        }),
    }
}

#[test]
fn shares_sum_exactly_and_never_exceed_their_line() {
    let mut r = rng();
    for _ in 0..CASES {
        let n = r.gen_range(1..12);
        let weights: Vec<i64> = (0..n).map(|_| r.gen_range(0..1_000_000)).collect();
        let sum: i64 = weights.iter().sum();
        let total = r.gen_range(0..=sum);
        let shares = distribute(total, &weights);
        let case = format!("total {total} weights {weights:?} shares {shares:?}");
        assert_eq!(
            shares.iter().sum::<i64>(),
            if sum == 0 { 0 } else { total },
            "{case}"
        );
        for (s, w) in shares.iter().zip(&weights) {
            assert!(*s >= 0 && s <= w, "{case}");
        }
    }
}

#[test]
fn lines_always_sum_to_the_totals() {
    let mut r = rng();
    for _ in 0..CASES {
        let n = r.gen_range(1..10);
        let lines: Vec<LineInput> = (0..n)
            .map(|_| {
                let gross = r.gen_range(0..10_000_000);
                LineInput {
                    gross,
                    discount: spec(&mut r, gross),
                    tax: rate(&mut r),
                }
            })
            .collect();
        let receipt_spec = match r.gen_range(0..3) {
            0 => None,
            1 => Some(DiscountSpec::Percent(r.gen_range(0..=10_000))),
            _ => Some(DiscountSpec::Amount(r.gen_range(0..1_000_000))),
        };
        let Ok(p) = price(&lines, receipt_spec) else {
            // Only an amount above what is left may be refused.
            assert!(matches!(receipt_spec, Some(DiscountSpec::Amount(_))));
            continue;
        };
        let case = format!("{lines:?} {receipt_spec:?} -> {p:?}");
        assert_eq!(
            p.lines.iter().map(|l| l.total).sum::<i64>(),
            p.total,
            "{case}"
        );
        assert_eq!(
            p.lines.iter().map(|l| l.tax).sum::<i64>(),
            p.tax_total,
            "{case}"
        );
        assert_eq!(
            p.taxes.iter().map(|t| t.tax).sum::<i64>(),
            p.tax_total,
            "{case}"
        );
        assert_eq!(
            p.lines.iter().map(|l| l.receipt_discount).sum::<i64>(),
            p.receipt_discount,
            "{case}"
        );
        assert_eq!(
            p.subtotal - p.discount_total,
            p.lines.iter().map(|l| l.net).sum::<i64>(),
            "{case}"
        );
        for l in &p.lines {
            assert!(l.net >= 0 && l.tax >= 0 && l.tax <= l.total, "{case}");
        }
    }
}

#[test]
fn returns_never_give_back_more_than_was_taken() {
    let mut r = rng();
    for _ in 0..CASES {
        let amount = r.gen_range(0..10_000_000);
        let sold = Decimal::new(r.gen_range(1..100_000), 3);
        let mut before = Decimal::ZERO;
        let mut given = 0i64;
        while before < sold {
            let left = sold - before;
            let now = if r.gen_bool(0.3) {
                left
            } else {
                Decimal::new(
                    r.gen_range(1..=(left * Decimal::from(1000)).trunc().mantissa() as i64),
                    3,
                )
            };
            let part = share(amount, sold, before, now);
            let case = format!("{amount} sold {sold} before {before} now {now}");
            let part = part.unwrap_or_else(|| panic!("{case}"));
            assert!(part >= 0, "{case}");
            given += part;
            before += now;
            assert!(given <= amount, "{case}");
        }
        assert_eq!(given, amount);
        assert_eq!(share(amount, sold, sold, Decimal::new(1, 3)), None);
    }
}

#[test]
fn settlement_balances() {
    let mut r = rng();
    let program = Program {
        active: true,
        earn_points: 3,
        earn_per_amount: 1_000,
        point_value: 50,
        expiry_days: None,
    };
    for _ in 0..CASES {
        let total = r.gen_range(0..5_000_000);
        let unit = [1, 50, 100, 1000][r.gen_range(0..4)];
        let card = if r.gen_bool(0.3) {
            r.gen_range(0..=total)
        } else {
            0
        };
        let points = if r.gen_bool(0.3) {
            r.gen_range(0..=(total - card) / 50) * 50
        } else {
            0
        };
        let cash = r.gen_range(0..=total + 10_000);
        let mut pays = vec![];
        for (t, a) in [
            (Tender::NonCash, card),
            (Tender::Points, points),
            (Tender::Cash, cash),
        ] {
            if a > 0 {
                pays.push((t, a));
            }
        }
        let Ok(s) = settle(total, &pays, unit, Some(&program), false) else {
            continue;
        };
        let case = format!("{total} {unit} {pays:?} -> {s:?}");
        assert_eq!(s.paid - s.change, s.payable, "{case}");
        assert!(2 * s.rounding.abs() <= unit, "{case}");
        assert!(s.change <= cash, "{case}");
        assert_eq!(s.points_redeemed * 50, points, "{case}");
        assert!(s.points_earned >= 0, "{case}");
    }
}
