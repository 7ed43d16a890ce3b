//! Integration event types: the names integrations subscribe to and filter
//! the feed by. Adding a type is adding a line here (and writing it in the
//! transaction of its cause).

use crate::error::{Error, Result};

pub const PRODUCT_CREATED: &str = "product.created";
pub const PRODUCT_UPDATED: &str = "product.updated";
pub const PRODUCT_DELETED: &str = "product.deleted";
pub const CUSTOMER_CREATED: &str = "customer.created";
pub const CUSTOMER_UPDATED: &str = "customer.updated";
pub const RECEIPT_CREATED: &str = "receipt.created";
pub const STOCK_CHANGED: &str = "stock.changed";
pub const SHIFT_CLOSED: &str = "shift.closed";

/// Every type the server emits.
pub const ALL: &[&str] = &[
    PRODUCT_CREATED,
    PRODUCT_UPDATED,
    PRODUCT_DELETED,
    CUSTOMER_CREATED,
    CUSTOMER_UPDATED,
    RECEIPT_CREATED,
    STOCK_CHANGED,
    SHIFT_CLOSED,
];

/// A list of event types as given by a client: each must be known;
/// duplicates are dropped, order kept. Empty means "every type".
pub fn parse_types(field: &str, raw: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, t) in raw.iter().enumerate() {
        let t = t.trim();
        if !ALL.contains(&t) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                format!("unknown event type {t:?}; known types: {}", ALL.join(", ")),
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_are_refused_by_index() {
        let ok = parse_types("t", &["receipt.created".into(), "receipt.created".into()]);
        assert_eq!(ok.ok(), Some(vec!["receipt.created".to_owned()]));
        match parse_types("t", &["stock.changed".into(), "nope".into()]) {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, "t[1]"),
            other => panic!("expected invalid, got {other:?}"),
        }
    }
}
