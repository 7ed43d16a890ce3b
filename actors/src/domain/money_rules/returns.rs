//! What a return gives back of an original line: the same proportion of
//! its total, tax, discount and points as of its quantity, computed
//! cumulatively so the parts of several partial returns add up to at most
//! the original, and to exactly the original once everything is returned.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

/// The share of `amount` for returning `now` more of `sold`, when
/// `before` was already returned: round(amount x (before + now) / sold) -
/// round(amount x before / sold), rounded half away from zero. None when
/// the quantities make no sense (sold <= 0, more returned than sold).
pub fn share(amount: i64, sold: Decimal, before: Decimal, now: Decimal) -> Option<i64> {
    if sold <= Decimal::ZERO || before < Decimal::ZERO || now < Decimal::ZERO {
        return None;
    }
    let after = before + now;
    if after > sold {
        return None;
    }
    let part = |q: Decimal| -> Option<i64> {
        if q == sold {
            return Some(amount);
        }
        (Decimal::from(amount) * q / sold)
            .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
            .to_i64()
    };
    Some(part(after)? - part(before)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn thirds_add_up_to_the_whole() {
        // 100 over 3 pieces returned one at a time: 33, 34, 33.
        let a = share(100, d("3"), d("0"), d("1"));
        let b = share(100, d("3"), d("1"), d("1"));
        let c = share(100, d("3"), d("2"), d("1"));
        assert_eq!((a, b, c), (Some(33), Some(34), Some(33)));
        assert_eq!(share(100, d("3"), d("2"), d("2")), None);
    }
}
