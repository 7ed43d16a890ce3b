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
pub const CUSTOMER_POINTS_CHANGED: &str = "customer.points_changed";
pub const STORE_SETTINGS_UPDATED: &str = "store.settings_updated";

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
    CUSTOMER_POINTS_CHANGED,
    STORE_SETTINGS_UPDATED,
];

/// The event types as an OpenAPI enum: the schema of an event's `type` and
/// of a subscription's `event_types` (a test keeps it equal to [`ALL`]).
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "product.created")]
    ProductCreated,
    #[serde(rename = "product.updated")]
    ProductUpdated,
    #[serde(rename = "product.deleted")]
    ProductDeleted,
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "receipt.created")]
    ReceiptCreated,
    #[serde(rename = "stock.changed")]
    StockChanged,
    #[serde(rename = "shift.closed")]
    ShiftClosed,
    #[serde(rename = "customer.points_changed")]
    CustomerPointsChanged,
    #[serde(rename = "store.settings_updated")]
    StoreSettingsUpdated,
}

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

    /// The OpenAPI enum names exactly the types the server emits.
    #[test]
    fn the_openapi_enum_is_the_list() {
        use EventType::*;
        let all = [
            ProductCreated,
            ProductUpdated,
            ProductDeleted,
            CustomerCreated,
            CustomerUpdated,
            ReceiptCreated,
            StockChanged,
            ShiftClosed,
            CustomerPointsChanged,
            StoreSettingsUpdated,
        ];
        let names: Vec<String> = all
            .iter()
            .map(|t| {
                serde_json::to_value(t)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            })
            .map(Option::unwrap_or_default)
            .collect();
        assert_eq!(names, ALL);
    }

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
