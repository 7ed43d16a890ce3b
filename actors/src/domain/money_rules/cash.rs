//! Cash rounding: where the smallest coins are out of use, the part of a
//! receipt paid in cash is rounded to the store's unit and the difference
//! shown as its own line.

/// The adjustment that rounds `amount` to a multiple of `unit`, half up
/// (away from zero). `unit` <= 1 means no rounding.
/// E.g. unit 100: 12_349 -> -49 (12_300), 12_350 -> +50 (12_400).
pub fn rounding(amount: i64, unit: i64) -> i64 {
    if unit <= 1 {
        return 0;
    }
    let rounded = super::round_div(i128::from(amount), i128::from(unit)) * i128::from(unit);
    (rounded - i128::from(amount)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_the_nearest_unit_half_up() {
        assert_eq!(rounding(12_349, 100), -49);
        assert_eq!(rounding(12_350, 100), 50);
        assert_eq!(rounding(12_300, 100), 0);
        assert_eq!(rounding(12_349, 1), 0);
        assert_eq!(rounding(12_349, 0), 0);
    }
}
