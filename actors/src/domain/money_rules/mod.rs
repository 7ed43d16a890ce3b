//! The money rules of a receipt, as pure functions. The server decides
//! money (ARCHITECTURE rule 11): a register that computes offline runs the
//! same rules and must reach the same numbers, so everything here is exact
//! integer arithmetic in minor units with ONE rounding rule:
//!
//! **Every computed amount is rounded once, to the minor unit, half away
//! from zero** (`round_div`), at the step named below, and sums are taken
//! over rounded amounts (never rounded again).
//!
//! The steps, in order (`receipt::price`):
//! 1. gross = price x quantity (rounded);
//! 2. line discount: an amount, or a percent of gross (rounded), at most gross;
//! 3. receipt discount: an amount, or a percent of the lines' sum after step 2
//!    (rounded), spread over the lines in proportion to that sum by largest
//!    remainder (`discount::distribute`), so the shares add up exactly;
//! 4. tax per line on what is left (net): inclusive — the tax inside net is
//!    net x r / (1 + r) (rounded), the line total stays net; exclusive — tax
//!    = net x r (rounded), added on top. Tax per rate = sum of line taxes;
//! 5. cash rounding: the part paid in cash is rounded to the store's unit
//!    (e.g. 100), half up; the difference is its own line, not hidden in a
//!    line's price;
//! 6. points: redeemed as a payment (`points` x point value); earned on what
//!    was paid in money, rounded down (a fraction of a point is never given).
//!
//! Returns give back shares of the original lines computed cumulatively
//! (`returns::share`), so partial returns never add up to more than was
//! taken and a full return gives back exactly what was taken.

pub mod cash;
pub mod discount;
pub mod points;
pub mod receipt;
pub mod returns;
pub mod rules;
pub mod tax;

#[cfg(test)]
mod props;

/// Rates are in basis points of a percent: 12% = 1200, 100% = 10_000.
pub const BP_100_PERCENT: i64 = 10_000;

/// `num / den` rounded to the nearest integer, half away from zero.
/// `den` must be positive (callers pass rates and counts).
pub fn round_div(num: i128, den: i128) -> i128 {
    debug_assert!(den > 0);
    let q = num / den;
    let r = num % den;
    if 2 * r.abs() >= den {
        q + num.signum()
    } else {
        q
    }
}

/// An i128 result back in i64 range, or None (callers turn that into a 422).
pub fn to_i64(v: i128) -> Option<i64> {
    i64::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round_div(5, 2), 3);
        assert_eq!(round_div(-5, 2), -3);
        assert_eq!(round_div(4, 3), 1);
        assert_eq!(round_div(5, 3), 2);
        assert_eq!(round_div(0, 7), 0);
        assert_eq!(round_div(149, 100), 1);
        assert_eq!(round_div(150, 100), 2);
    }
}
