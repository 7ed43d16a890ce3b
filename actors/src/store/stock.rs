//! Stock changes as they are broadcast.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One change of one (warehouse, variant) level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StockChange {
    pub variant_id: Uuid,
    pub warehouse_id: Uuid,
    /// The level after the change.
    pub quantity: Decimal,
    pub delta: Decimal,
    pub cause: String,
    /// Per-store sequence: subscribers see changes in this order.
    pub seq: u64,
}
