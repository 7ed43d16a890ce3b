//! Discounts: per line and per receipt, by percent or amount, and the limits
//! of named discount definitions.

use super::{round_div, BP_100_PERCENT};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A discount as asked for: exactly one of percent or amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum DiscountSpec {
    /// Basis points of a percent (10% = 1000), 0..=10000.
    Percent(i32),
    /// Minor units, >= 0.
    Amount(i64),
}

impl DiscountSpec {
    /// The discount on `base` (>= 0): a percent is rounded half up; an
    /// amount above `base` is an error (None), a percent never exceeds it.
    pub fn amount_on(self, base: i64) -> Option<i64> {
        match self {
            DiscountSpec::Percent(bp) if (0..=10_000).contains(&bp) => Some(round_div(
                i128::from(base) * i128::from(bp),
                i128::from(BP_100_PERCENT),
            ) as i64),
            DiscountSpec::Percent(_) => None,
            DiscountSpec::Amount(a) if a >= 0 && a <= base => Some(a),
            DiscountSpec::Amount(_) => None,
        }
    }
}

/// Splits `total` (0 <= total <= sum of weights) over lines in proportion
/// to their `weights` (each >= 0) by largest remainder: each line first
/// gets floor(total x w / W), then the units left over go one each to the
/// lines with the largest remainders (ties: the earlier line). The shares
/// add up to `total` exactly and no share exceeds its weight.
pub fn distribute(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if sum == 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let t = i128::from(total.min(sum as i64));
    let mut shares = Vec::with_capacity(weights.len());
    let mut rems: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for (i, w) in weights.iter().enumerate() {
        let p = t * i128::from((*w).max(0));
        shares.push((p / sum) as i64);
        given += p / sum;
        rems.push((p % sum, i));
    }
    // Largest remainder first; equal remainders keep line order.
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let left = (t - given) as usize;
    for (_, i) in rems.into_iter().take(left) {
        shares[i] += 1;
    }
    shares
}

/// Who may apply a named discount, by the role of whoever rings it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApplierRole {
    Cashier,
    Manager,
    Owner,
}

impl ApplierRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ApplierRole::Cashier => "cashier",
            ApplierRole::Manager => "manager",
            ApplierRole::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "cashier" => Some(ApplierRole::Cashier),
            "manager" => Some(ApplierRole::Manager),
            "owner" => Some(ApplierRole::Owner),
            _ => None,
        }
    }
}

/// A named discount of the tenant ("Staff 10%", "Pensioner").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DiscountRule {
    pub id: uuid::Uuid,
    pub name: String,
    /// The discount it gives when the cashier names no value.
    pub spec: DiscountSpec,
    /// Upper bound, in basis points of what it applies to.
    pub max_percent_bp: i32,
    pub roles: Vec<ApplierRole>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleBreach {
    RoleNotAllowed,
    AboveMaximum { max: i64, asked: i64 },
}

impl DiscountRule {
    /// Checks an applied discount `amount` on `base` against the rule.
    pub fn check(&self, role: ApplierRole, base: i64, amount: i64) -> Result<(), RuleBreach> {
        if !self.roles.contains(&role) {
            return Err(RuleBreach::RoleNotAllowed);
        }
        // Largest allowed: floor, so a limit of 10% never lets 10.4% through.
        let max = (i128::from(base) * i128::from(self.max_percent_bp.max(0))
            / i128::from(BP_100_PERCENT)) as i64;
        if amount > max {
            return Err(RuleBreach::AboveMaximum { max, asked: amount });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirds_go_to_the_largest_remainders() {
        // 100 over three equal lines: 34, 33, 33 (tie -> first line).
        assert_eq!(distribute(100, &[100, 100, 100]), vec![34, 33, 33]);
        // 10 over 1:2:3 (weights 100, 200, 300): 1.67, 3.33, 5 -> 2, 3, 5.
        assert_eq!(distribute(10, &[100, 200, 300]), vec![2, 3, 5]);
        assert_eq!(distribute(0, &[1, 2]), vec![0, 0]);
        assert_eq!(distribute(5, &[0, 0]), vec![0, 0]);
    }

    #[test]
    fn percent_rounds_half_up_and_amount_is_bounded() {
        assert_eq!(DiscountSpec::Percent(1000).amount_on(1995), Some(200)); // 199.5
        assert_eq!(DiscountSpec::Amount(50).amount_on(40), None);
        assert_eq!(DiscountSpec::Percent(10_001).amount_on(40), None);
    }

    #[test]
    fn rule_limits_role_and_percent() {
        let rule = DiscountRule {
            id: uuid::Uuid::nil(),
            name: "Staff".into(),
            spec: DiscountSpec::Percent(1000),
            max_percent_bp: 1000,
            roles: vec![ApplierRole::Manager],
        };
        assert_eq!(
            rule.check(ApplierRole::Cashier, 1000, 10),
            Err(RuleBreach::RoleNotAllowed)
        );
        assert_eq!(rule.check(ApplierRole::Manager, 1000, 100), Ok(()));
        assert_eq!(
            rule.check(ApplierRole::Manager, 1000, 101),
            Err(RuleBreach::AboveMaximum {
                max: 100,
                asked: 101
            })
        );
    }
}
