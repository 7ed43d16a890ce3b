//! Messages to a TenantActor. All are catalog writes sent by the HTTP
//! routes (or the bus dispatcher for reloads); none is idempotent by itself
//! except where noted: the versions on updates make replays fail with 409
//! instead of applying twice.

use crate::bus::Entity;
use crate::domain::catalog::{Category, Product, Register, Store, VariantInput};
use crate::domain::{CategoryId, ProductId, StoreId};
use crate::error::Result;
use actix::Message;
use uuid::Uuid;

#[derive(Debug, Message)]
#[rtype(result = "Result<Category>")]
pub struct CreateCategory {
    pub name: String,
    pub parent_id: Option<CategoryId>,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Category>")]
pub struct UpdateCategory {
    pub id: CategoryId,
    pub version: i32,
    pub name: Option<String>,
    /// `Some(None)` moves the category to the top level.
    pub parent_id: Option<Option<CategoryId>>,
}

/// Soft delete; refused while products or child categories use it.
#[derive(Debug, Message)]
#[rtype(result = "Result<()>")]
pub struct DeleteCategory {
    pub id: CategoryId,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Product>")]
pub struct CreateProduct {
    pub name: String,
    pub category_id: Option<CategoryId>,
    pub variants: Vec<VariantInput>,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Product>")]
pub struct UpdateProduct {
    pub id: ProductId,
    pub version: i32,
    pub name: Option<String>,
    pub category_id: Option<Option<CategoryId>>,
    pub variants: Option<Vec<VariantInput>>,
}

/// Soft delete: hidden from lookups and lists, kept for history and the
/// change feed. With a version, refused if stale.
#[derive(Debug, Message)]
#[rtype(result = "Result<()>")]
pub struct DeleteProduct {
    pub id: ProductId,
    pub version: Option<i32>,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Store>")]
pub struct CreateStore {
    pub name: String,
    pub address: Option<String>,
}

/// Adds a register to a store and issues its device token (shown once).
#[derive(Debug, Message)]
#[rtype(result = "Result<(Register, String)>")]
pub struct CreateRegister {
    pub store_id: StoreId,
    pub name: String,
}

/// Another instance changed an entity: re-read it from PostgreSQL.
/// Idempotent (reads the current row).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ReloadEntity {
    pub entity: Entity,
    pub id: Uuid,
}

/// Re-read the whole catalog (after the bus reconnects: events sent while it
/// was down are lost). Idempotent.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ResyncCatalog;
