//! Tax of one line. A rate is a percent in basis points, either included in
//! the price (VAT in most of the CIS: the shelf price is what is paid) or
//! added on top of it (US sales tax).

use super::{round_div, BP_100_PERCENT};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxMode {
    /// The price already holds the tax.
    Inclusive,
    /// The tax is added to the price.
    Exclusive,
}

impl TaxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxMode::Inclusive => "inclusive",
            TaxMode::Exclusive => "exclusive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "inclusive" => Some(TaxMode::Inclusive),
            "exclusive" => Some(TaxMode::Exclusive),
            _ => None,
        }
    }
}

/// A rate as applied to a line (resolved by effective time beforehand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AppliedRate {
    pub id: uuid::Uuid,
    /// Basis points of a percent: 12% = 1200.
    pub rate_bp: i32,
    pub mode: TaxMode,
}

/// (tax, line total) for a line whose net amount (after discounts) is `net`.
/// Inclusive: tax = round(net x bp / (10000 + bp)), total = net.
/// Exclusive: tax = round(net x bp / 10000), total = net + tax.
pub fn line_tax(net: i64, rate: Option<AppliedRate>) -> (i64, i64) {
    let Some(rate) = rate else {
        return (0, net);
    };
    let bp = i128::from(rate.rate_bp.max(0));
    let n = i128::from(net);
    match rate.mode {
        TaxMode::Inclusive => {
            // |tax| < |net|, so it fits in i64.
            let tax = round_div(n * bp, i128::from(BP_100_PERCENT) + bp) as i64;
            (tax, net)
        }
        TaxMode::Exclusive => {
            // bp <= 10000 (checked at the edge), so tax <= net.
            let tax = round_div(n * bp, i128::from(BP_100_PERCENT)) as i64;
            (tax, net.saturating_add(tax))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(bp: i32, mode: TaxMode) -> Option<AppliedRate> {
        Some(AppliedRate {
            id: uuid::Uuid::nil(),
            rate_bp: bp,
            mode,
        })
    }

    #[test]
    fn vat_12_inclusive() {
        // 11200 holds 1200 of VAT exactly.
        assert_eq!(
            line_tax(11_200, rate(1200, TaxMode::Inclusive)),
            (1200, 11_200)
        );
        // 1999 x 12/112 = 214.18 -> 214
        assert_eq!(line_tax(1999, rate(1200, TaxMode::Inclusive)), (214, 1999));
    }

    #[test]
    fn exclusive_adds_on_top_half_up() {
        // 1050 x 10% = 105; 1005 x 5% = 50.25 -> 50; 1010 x 5% = 50.5 -> 51
        assert_eq!(line_tax(1050, rate(1000, TaxMode::Exclusive)), (105, 1155));
        assert_eq!(line_tax(1005, rate(500, TaxMode::Exclusive)), (50, 1055));
        assert_eq!(line_tax(1010, rate(500, TaxMode::Exclusive)), (51, 1061));
    }

    #[test]
    fn no_rate_no_tax() {
        assert_eq!(line_tax(500, None), (0, 500));
    }
}
