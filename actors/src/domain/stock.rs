//! Stock: levels after a commit, and stock documents (receiving, write-off,
//! transfer, inventory count) as validated and as posted.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

/// A stock level as PostgreSQL answered it after a commit (receipt batch,
/// stock document, or another instance's commit heard on the bus). Memory
/// only ever takes these values, so it never runs ahead of the database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelUpdate {
    pub tenant_id: Uuid,
    pub store_id: Uuid,
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    /// The level after the commit.
    pub quantity: Decimal,
    /// What this commit changed it by.
    pub delta: Decimal,
}

/// One (warehouse, variant) level as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Level {
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// Stock may go negative (goods were sold anyway); flagged for review.
    pub negative: bool,
}

impl Level {
    pub fn is_negative(quantity: Decimal) -> bool {
        quantity.is_sign_negative() && !quantity.is_zero()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Receiving,
    WriteOff,
    Transfer,
    /// Lines carry the counted quantity; the movement is counted - level.
    Inventory,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Receiving => "receiving",
            DocumentKind::WriteOff => "write_off",
            DocumentKind::Transfer => "transfer",
            DocumentKind::Inventory => "inventory",
        }
    }
}

/// A validated stock document.
#[derive(Debug, Clone)]
pub struct StockDocument {
    pub id: Uuid,
    pub kind: DocumentKind,
    pub warehouse_id: Uuid,
    pub to_warehouse_id: Option<Uuid>,
    /// (variant, quantity); quantity > 0 except inventory (>= 0).
    pub lines: Vec<(Uuid, Decimal)>,
    pub body_hash: [u8; 32],
}

pub fn document_hash(canonical: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical).into()
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Movement {
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    #[schema(value_type = String)]
    pub delta: Decimal,
    pub cause: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostedDocument {
    pub id: Uuid,
    pub kind: DocumentKind,
    pub movements: Vec<Movement>,
}
