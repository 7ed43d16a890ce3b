//! Catalog entities shared by every layer: what PostgreSQL stores, what the
//! tenant's in-memory catalog indexes, what the API answers. Plain data.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Variant {
    pub id: Uuid,
    pub barcode: String,
    pub sku: Option<String>,
    /// Minor units.
    pub price: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Product {
    pub id: Uuid,
    pub name: String,
    pub category_id: Option<Uuid>,
    /// Bumped by every change; PATCH must name the current one.
    pub version: i32,
    /// Position in the tenant's change feed.
    pub change_seq: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub variants: Vec<Variant>,
    /// This product's JSON, made on first read (reads outnumber writes by
    /// orders of magnitude; a change replaces the whole product).
    #[serde(skip)]
    #[schema(ignore)]
    pub json: JsonCache,
}

/// Lazily serialized JSON of a value. A clone starts empty (clones are made
/// to be changed), and it never takes part in equality.
#[derive(Default)]
pub struct JsonCache(std::sync::OnceLock<bytes::Bytes>);

impl Clone for JsonCache {
    fn clone(&self) -> Self {
        JsonCache::default()
    }
}

impl PartialEq for JsonCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for JsonCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonCache")
    }
}

impl Product {
    /// The product as JSON, serialized once.
    pub fn json(&self) -> bytes::Bytes {
        self.json
            .0
            .get_or_init(|| {
                serde_json::to_vec(self)
                    .map(bytes::Bytes::from)
                    .unwrap_or_default()
            })
            .clone()
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Register {
    pub id: Uuid,
    pub store_id: Uuid,
    pub number: i32,
    pub name: String,
    /// False once deactivated: its tokens stop authenticating.
    pub active: bool,
    pub version: i32,
}

#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct Store {
    pub id: Uuid,
    pub name: String,
    pub address: Option<String>,
    pub default_warehouse_id: Uuid,
    pub warehouse_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

/// A variant as sent by the client, already validated (create and edit).
#[derive(Debug, Clone)]
pub struct VariantInput {
    /// Present when editing an existing variant.
    pub id: Option<Uuid>,
    pub barcode: String,
    pub sku: Option<String>,
    pub price: i64,
}
