use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Money in integer minor units of the tenant's currency. Exact, never a
/// float; sums are checked so an absurd input cannot wrap around.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(pub i64);

/// Largest single amount we accept: 10^15 minor units. Far above any real
/// sale, and small enough that line totals (amount x quantity) fit in i64.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

impl Money {
    pub const ZERO: Money = Money(0);

    /// A non-negative amount within bounds.
    pub fn parse_non_negative(field: &str, raw: i64) -> Result<Money> {
        if !(0..=MAX_AMOUNT).contains(&raw) {
            return Err(Error::invalid(
                field,
                format!("must be between 0 and {MAX_AMOUNT} minor units"),
            ));
        }
        Ok(Money(raw))
    }

    /// A strictly positive amount within bounds.
    pub fn parse_positive(field: &str, raw: i64) -> Result<Money> {
        if !(1..=MAX_AMOUNT).contains(&raw) {
            return Err(Error::invalid(
                field,
                format!("must be between 1 and {MAX_AMOUNT} minor units"),
            ));
        }
        Ok(Money(raw))
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }
}
