//! Loyalty points: earned on money spent, redeemed as a payment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant's points program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Program {
    pub active: bool,
    /// Points earned per `earn_per_amount` minor units paid in money.
    pub earn_points: i64,
    pub earn_per_amount: i64,
    /// Minor units one point is worth when redeemed.
    pub point_value: i64,
    /// Points expire this many days after they were earned (None: never).
    pub expiry_days: Option<i32>,
}

impl Program {
    /// Points earned on `paid_in_money` (what was not paid with points),
    /// rounded down: a fraction of a point is never given.
    pub fn earned(&self, paid_in_money: i64) -> i64 {
        if !self.active || self.earn_per_amount <= 0 || paid_in_money <= 0 {
            return 0;
        }
        (i128::from(paid_in_money) * i128::from(self.earn_points.max(0))
            / i128::from(self.earn_per_amount)) as i64
    }

    /// Points a `points` payment of `amount` minor units spends, when it is
    /// a whole number of points.
    pub fn points_for(&self, amount: i64) -> Option<i64> {
        if self.point_value <= 0 || amount <= 0 || amount % self.point_value != 0 {
            return None;
        }
        Some(amount / self.point_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Program = Program {
        active: true,
        earn_points: 1,
        earn_per_amount: 1000,
        point_value: 100,
        expiry_days: None,
    };

    #[test]
    fn earn_rounds_down_and_redeem_is_whole_points() {
        assert_eq!(P.earned(12_999), 12);
        assert_eq!(P.earned(999), 0);
        assert_eq!(P.points_for(500), Some(5));
        assert_eq!(P.points_for(550), None);
        let off = Program { active: false, ..P };
        assert_eq!(off.earned(1_000_000), 0);
    }
}
