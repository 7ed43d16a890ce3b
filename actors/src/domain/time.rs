//! Timestamps a client may send. PostgreSQL's `timestamptz` spans 4713 BC
//! to 294276 AD, chrono's a wider range, and RFC 3339 only four-digit
//! years: we accept years 1 to 9999, which all three agree on, so a date
//! never reaches the database out of its range (that was a 500).

use crate::error::{Error, Result};
use chrono::{DateTime, Datelike, Utc};

pub const MIN_YEAR: i32 = 1;
pub const MAX_YEAR: i32 = 9999;

/// `value` if its year is within `MIN_YEAR..=MAX_YEAR`.
pub fn check_timestamp(field: &str, value: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if (MIN_YEAR..=MAX_YEAR).contains(&value.year()) {
        Ok(value)
    } else {
        Err(Error::invalid(
            field,
            format!("must be a date in the years {MIN_YEAR} to {MAX_YEAR}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_outside_one_to_9999_are_refused() {
        let parse = |s: &str| s.parse::<DateTime<Utc>>().ok();
        let early = parse("-4714-11-23T00:00:00Z");
        assert!(early.is_some(), "chrono reads negative years");
        assert!(early
            .map(|t| check_timestamp("from", t))
            .is_some_and(|r| r.is_err()));
        let late = DateTime::from_timestamp(300_000_000_000, 0);
        assert!(late
            .map(|t| check_timestamp("to", t))
            .is_some_and(|r| r.is_err()));
        let ok = parse("2024-02-29T12:00:00Z");
        assert!(ok
            .map(|t| check_timestamp("to", t))
            .is_some_and(|r| r.is_ok()));
    }
}
