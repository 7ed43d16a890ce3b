//! Text that may be stored: no control characters. PostgreSQL refuses NUL
//! in `text` outright (a 500 if it reached it); the other C0/C1 controls
//! are refused too because no name, note or address needs them and they
//! break receipts printed on a till, CSV exports and logs.

use crate::error::{Error, Result};

/// Refuses any control character (NUL, tabs, newlines, DEL, C1) in `value`.
pub fn check_text(field: &str, value: &str) -> Result<()> {
    match value.chars().position(char::is_control) {
        None => Ok(()),
        Some(at) => Err(Error::invalid(
            field,
            format!("must not contain control characters (one at character {at})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_other_controls_are_refused_with_the_field() {
        for bad in ["a\0b", "tab\there", "line\nbreak", "\u{7f}", "\u{85}"] {
            match check_text("name", bad) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "name"),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(check_text("name", "Café «Ёлка» 🍞").is_ok());
    }
}
