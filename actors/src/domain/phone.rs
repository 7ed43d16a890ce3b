//! Phone numbers in E.164 (`+998901234567`), so a customer typed as
//! `90 123-45-67` at one till and `+998 (90) 1234567` at another is one
//! customer.

use crate::error::{Error, Result};

/// Normalizes `raw` to E.164. Accepted spellings: `+<digits>`,
/// `00<digits>` (international prefix), `<calling code><national>` and a
/// national number (a leading trunk `0` is dropped), which gets
/// `calling_code` (the tenant's, digits only, e.g. `998`). Spaces, dashes,
/// dots and brackets are ignored. E.164 allows 8 to 15 digits.
pub fn to_e164(field: &str, raw: &str, calling_code: &str) -> Result<String> {
    let bad = || {
        Error::invalid(
            field,
            "a phone number of digits with an optional leading + (8 to 15 digits in E.164)",
        )
    };
    let trimmed = raw.trim();
    let (plus, rest) = match trimmed.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, trimmed),
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return Err(bad()),
        }
    }
    let international = if plus {
        digits
    } else if let Some(d) = digits.strip_prefix("00") {
        d.to_owned()
    } else if digits.starts_with(calling_code) && digits.len() >= calling_code.len() + 8 {
        digits
    } else {
        format!(
            "{calling_code}{}",
            digits.strip_prefix('0').unwrap_or(&digits)
        )
    };
    if !(8..=15).contains(&international.len()) || international.starts_with('0') {
        return Err(bad());
    }
    Ok(format!("+{international}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_number_agree() {
        for raw in [
            "+998 90 123-45-67",
            "998901234567",
            "90 123 45 67",
            "(90) 1234567",
            "00998901234567",
        ] {
            assert_eq!(
                to_e164("phone", raw, "998").ok().as_deref(),
                Some("+998901234567"),
                "{raw}"
            );
        }
    }

    #[test]
    fn junk_is_refused() {
        assert!(to_e164("phone", "12ab", "998").is_err());
        assert!(to_e164("phone", "+1234", "998").is_err());
        assert!(to_e164("phone", "+1234567890123456", "998").is_err());
        assert!(to_e164("phone", "", "998").is_err());
    }
}
