//! One `TenantActor` per loaded tenant per instance. It owns the tenant's
//! in-memory `Catalog` and is its only writer: each write goes to PostgreSQL
//! first (one transaction under the tenant's advisory lock), then to memory,
//! then to the bus. Writes are serialized by the actor (`AtomicResponse`),
//! reads never pass through it: handlers read the catalog's maps directly.
//!
//! On restart nothing is lost: the catalog is rebuilt from PostgreSQL on the
//! next request for the tenant.

pub mod catalog;
pub mod manage;
pub mod messages;
pub mod retail;

use crate::auth::Authenticator;
use crate::bus::{Bus, BusEvent, Entity};
use crate::domain::catalog::{Category, Product, Register, Store, VariantInput};
use crate::domain::{events, new_id, Role, TenantId};
use crate::error::{Code, Error, Result};
use crate::pg::{self, Db, Tx};
use actix::prelude::*;
use catalog::Catalog;
use messages::*;
use std::collections::HashSet;
use std::sync::Arc;

/// The state and logic behind the actor; the actor only orders calls.
pub struct TenantCore {
    pub tenant: TenantId,
    pub catalog: Arc<Catalog>,
    pub db: Db,
    pub bus: Arc<dyn Bus>,
    pub auth: Arc<Authenticator>,
}

pub struct TenantActor {
    core: Arc<TenantCore>,
}

impl TenantActor {
    pub fn new(core: Arc<TenantCore>) -> Self {
        Self { core }
    }
}

impl Actor for TenantActor {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        tracing::debug!(tenant_id = %self.core.tenant, "tenant actor started");
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        tracing::debug!(tenant_id = %self.core.tenant, "tenant actor stopped");
    }
}

/// Runs `f` on the core and keeps the actor busy until it finishes, so
/// writes of one tenant apply one at a time, in arrival order.
macro_rules! serialized {
    ($self:ident, $msg:ident, $method:ident) => {{
        let core = Arc::clone(&$self.core);
        AtomicResponse::new(Box::pin(
            async move { core.$method($msg).await }.into_actor($self),
        ))
    }};
}

impl Handler<CreateCategory> for TenantActor {
    type Result = AtomicResponse<Self, Result<Category>>;
    fn handle(&mut self, msg: CreateCategory, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, create_category)
    }
}

impl Handler<UpdateCategory> for TenantActor {
    type Result = AtomicResponse<Self, Result<Category>>;
    fn handle(&mut self, msg: UpdateCategory, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, update_category)
    }
}

impl Handler<DeleteCategory> for TenantActor {
    type Result = AtomicResponse<Self, Result<()>>;
    fn handle(&mut self, msg: DeleteCategory, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, delete_category)
    }
}

impl Handler<CreateProduct> for TenantActor {
    type Result = AtomicResponse<Self, Result<Product>>;
    fn handle(&mut self, msg: CreateProduct, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, create_product)
    }
}

impl Handler<UpdateProduct> for TenantActor {
    type Result = AtomicResponse<Self, Result<Product>>;
    fn handle(&mut self, msg: UpdateProduct, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, update_product)
    }
}

impl Handler<DeleteProduct> for TenantActor {
    type Result = AtomicResponse<Self, Result<()>>;
    fn handle(&mut self, msg: DeleteProduct, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, delete_product)
    }
}

impl Handler<CreateStore> for TenantActor {
    type Result = AtomicResponse<Self, Result<Store>>;
    fn handle(&mut self, msg: CreateStore, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, create_store)
    }
}

impl Handler<CreateRegister> for TenantActor {
    type Result = AtomicResponse<Self, Result<(Register, String)>>;
    fn handle(&mut self, msg: CreateRegister, _: &mut Context<Self>) -> Self::Result {
        serialized!(self, msg, create_register)
    }
}

impl Handler<ReloadEntity> for TenantActor {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, msg: ReloadEntity, _: &mut Context<Self>) -> Self::Result {
        let core = Arc::clone(&self.core);
        AtomicResponse::new(Box::pin(
            async move {
                if let Err(e) = core.reload(msg.entity, msg.id).await {
                    tracing::warn!(error = %e, "reload after bus event failed");
                }
            }
            .into_actor(self),
        ))
    }
}

impl Handler<ResyncCatalog> for TenantActor {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, _: ResyncCatalog, _: &mut Context<Self>) -> Self::Result {
        let core = Arc::clone(&self.core);
        AtomicResponse::new(Box::pin(
            async move {
                if let Err(e) = core.resync().await {
                    tracing::warn!(error = %e, "catalog resync failed");
                }
            }
            .into_actor(self),
        ))
    }
}

impl TenantCore {
    /// Brings memory up to PostgreSQL: applies every live entity, drops the
    /// ones that are gone.
    pub async fn resync(&self) -> Result<()> {
        let fresh = Catalog::from_rows(pg::catalog::load(&self.db, self.tenant).await?);
        self.catalog.replace_with(&fresh);
        Ok(())
    }

    fn announce(&self, entity: Entity, id: uuid::Uuid, version: i64) {
        self.bus.publish(BusEvent::CatalogChanged {
            tenant_id: self.tenant,
            entity,
            id,
            version,
        });
    }

    fn check_category(&self, field: &str, id: Option<uuid::Uuid>) -> Result<()> {
        match id {
            Some(id) if self.catalog.category(id).is_none() => Err(Error::invalid(
                field,
                format!("category {id} does not exist"),
            )),
            _ => Ok(()),
        }
    }

    /// Fast-path checks before touching PostgreSQL (its unique index stays
    /// the last word): no barcode twice in the request, none owned by
    /// another product.
    fn check_barcodes(&self, product: Option<uuid::Uuid>, variants: &[VariantInput]) -> Result<()> {
        let mut seen = HashSet::new();
        for (i, v) in variants.iter().enumerate() {
            if !seen.insert(v.barcode.as_str()) {
                return Err(Error::invalid(
                    format!("variants[{i}].barcode"),
                    format!("barcode {} appears twice", v.barcode),
                ));
            }
            if let Some(owner) = self.catalog.barcode_owner(&v.barcode) {
                if Some(owner.product_id) != product {
                    return Err(Error::conflict(
                        Code::DuplicateBarcode,
                        format!(
                            "barcode {} is already used by product {}",
                            v.barcode, owner.product_id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The catalog write sequence: a transaction under the tenant's lock
    /// (`pg::catalog::begin_write`), `write` in it, COMMIT, then memory,
    /// then the bus. Memory and the bus only ever see committed changes.
    async fn write<T: Change>(&self, write: impl AsyncFnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&self.db, &mut client, self.tenant).await?;
        let change = write(&tx).await?;
        tx.commit().await?;
        let (entity, id, version) = change.apply(&self.catalog);
        self.announce(entity, id, version);
        Ok(change)
    }

    async fn create_category(&self, msg: CreateCategory) -> Result<Category> {
        self.check_category("parent_id", msg.parent_id)?;
        let id = new_id();
        self.write(async |tx| {
            pg::catalog::insert_category(tx, self.tenant, id, &msg.name, msg.parent_id).await?;
            fetch_category(tx, self.tenant, id).await
        })
        .await
    }

    async fn update_category(&self, msg: UpdateCategory) -> Result<Category> {
        if let Some(Some(parent)) = msg.parent_id {
            self.check_category("parent_id", Some(parent))?;
            // Walk up from the new parent: the category must not become
            // its own ancestor.
            let mut cursor = Some(parent);
            let mut hops = 0;
            while let Some(c) = cursor {
                if c == msg.id {
                    return Err(Error::invalid(
                        "parent_id",
                        "a category cannot be inside itself",
                    ));
                }
                hops += 1;
                if hops > 1000 {
                    break;
                }
                cursor = self.catalog.category(c).and_then(|c| c.parent_id);
            }
        }
        self.write(async |tx| {
            pg::catalog::update_category(
                tx,
                self.tenant,
                msg.id,
                msg.version,
                msg.name.as_deref(),
                msg.parent_id,
            )
            .await?;
            fetch_category(tx, self.tenant, msg.id).await
        })
        .await
    }

    async fn delete_category(&self, msg: DeleteCategory) -> Result<()> {
        if self.catalog.category(msg.id).is_none() {
            return Err(Error::not_found("category"));
        }
        if self.catalog.category_in_use(msg.id) {
            return Err(Error::conflict(
                Code::CategoryInUse,
                "the category still holds products or categories",
            ));
        }
        self.write(async |tx| {
            pg::catalog::delete_category(tx, self.tenant, msg.id).await?;
            Ok(Removed(Entity::Category, msg.id))
        })
        .await
        .map(drop)
    }

    async fn create_product(&self, msg: CreateProduct) -> Result<Product> {
        self.check_category("category_id", msg.category_id)?;
        self.check_barcodes(None, &msg.variants)?;
        let id = new_id();
        self.write(async |tx| {
            pg::catalog::insert_product(
                tx,
                self.tenant,
                id,
                &msg.name,
                msg.category_id,
                &msg.variants,
            )
            .await?;
            let product = fetch_product(tx, self.tenant, id).await?;
            pg::outbox::append(tx, self.tenant, events::PRODUCT_CREATED, &product).await?;
            Ok(product)
        })
        .await
    }

    async fn update_product(&self, msg: UpdateProduct) -> Result<Product> {
        if let Some(Some(c)) = msg.category_id {
            self.check_category("category_id", Some(c))?;
        }
        if let Some(v) = &msg.variants {
            self.check_barcodes(Some(msg.id), v)?;
        }
        self.write(async |tx| {
            pg::catalog::update_product(
                tx,
                self.tenant,
                pg::catalog::ProductEdit {
                    id: msg.id,
                    expected_version: msg.version,
                    name: msg.name.as_deref(),
                    category_id: msg.category_id,
                    variants: msg.variants.as_deref(),
                },
            )
            .await?;
            let product = fetch_product(tx, self.tenant, msg.id).await?;
            pg::outbox::append(tx, self.tenant, events::PRODUCT_UPDATED, &product).await?;
            Ok(product)
        })
        .await
    }

    async fn delete_product(&self, msg: DeleteProduct) -> Result<()> {
        let current = self
            .catalog
            .product(msg.id)
            .ok_or(Error::not_found("product"))?;
        if let Some(expected) = msg.version {
            if expected != current.version {
                return Err(Error::VersionConflict {
                    expected,
                    current: current.version,
                });
            }
        }
        self.write(async |tx| {
            pg::catalog::delete_product(tx, self.tenant, msg.id).await?;
            let gone =
                serde_json::json!({"id": msg.id, "version": current.version + 1, "deleted": true});
            pg::outbox::append(tx, self.tenant, events::PRODUCT_DELETED, &gone).await?;
            Ok(Removed(Entity::Product, msg.id))
        })
        .await
        .map(drop)
    }

    async fn create_store(&self, msg: CreateStore) -> Result<Store> {
        self.write(async |tx| {
            pg::org::insert_store(tx, self.tenant, &msg.name, msg.address.as_deref()).await
        })
        .await
    }

    async fn create_register(&self, msg: CreateRegister) -> Result<(Register, String)> {
        if self.catalog.store(msg.store_id).is_none() {
            return Err(Error::not_found("store"));
        }
        self.write(async |tx| {
            let register =
                pg::org::insert_register(tx, self.tenant, msg.store_id, &msg.name).await?;
            let (_, token) = self
                .auth
                .issue(
                    tx,
                    self.tenant,
                    Role::Register,
                    Some(register.id),
                    Some(&msg.name),
                )
                .await?;
            Ok((register, token))
        })
        .await
    }

    /// Re-reads one entity after another instance changed it.
    pub async fn reload(&self, entity: Entity, id: uuid::Uuid) -> Result<()> {
        let mut client = self.db.client().await?;
        let tx = self.db.begin(&mut client).await?;
        match entity {
            Entity::Product => match pg::catalog::fetch_product(&tx, self.tenant, id).await? {
                Some((p, None)) => self.catalog.apply_product(p),
                _ => self.catalog.remove_product(id),
            },
            Entity::Category => match pg::catalog::fetch_category(&tx, self.tenant, id).await? {
                Some((c, false)) => self.catalog.apply_category(c),
                _ => self.catalog.remove_category(id),
            },
            Entity::Store | Entity::Register => {
                // Rare: rebuild the store and register maps wholesale.
                self.reload_org().await?;
            }
            Entity::StoreSettings => self.catalog.retail.invalidate_settings(id),
            Entity::RetailRules => self.catalog.retail.invalidate_rules(),
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A live category just written (read back inside the write).
async fn fetch_category(tx: &Tx<'_>, tenant: TenantId, id: uuid::Uuid) -> Result<Category> {
    pg::catalog::fetch_category(tx, tenant, id)
        .await?
        .map(|(c, _)| c)
        .ok_or(Error::not_found("category"))
}

/// A product just written (read back inside the write).
async fn fetch_product(tx: &Tx<'_>, tenant: TenantId, id: uuid::Uuid) -> Result<Product> {
    pg::catalog::fetch_product(tx, tenant, id)
        .await?
        .map(|(p, _)| p)
        .ok_or(Error::not_found("product"))
}

/// What a committed catalog write changes in memory, and the news of it
/// for other instances: (entity, id, version).
trait Change {
    fn apply(&self, catalog: &Catalog) -> (Entity, uuid::Uuid, i64);
}

impl Change for Category {
    fn apply(&self, catalog: &Catalog) -> (Entity, uuid::Uuid, i64) {
        catalog.apply_category(self.clone());
        (Entity::Category, self.id, self.version.into())
    }
}

impl Change for Product {
    fn apply(&self, catalog: &Catalog) -> (Entity, uuid::Uuid, i64) {
        catalog.apply_product(self.clone());
        (Entity::Product, self.id, self.change_seq)
    }
}

impl Change for Store {
    fn apply(&self, catalog: &Catalog) -> (Entity, uuid::Uuid, i64) {
        catalog.apply_store(self.clone());
        (Entity::Store, self.id, 1)
    }
}

/// A new register and its device token (the token is not kept).
impl Change for (Register, String) {
    fn apply(&self, catalog: &Catalog) -> (Entity, uuid::Uuid, i64) {
        catalog.apply_register(self.0.clone());
        (Entity::Register, self.0.id, 1)
    }
}

/// A soft-deleted product or category: gone from memory; the highest
/// version, so no older news brings it back.
struct Removed(Entity, uuid::Uuid);

impl Change for Removed {
    fn apply(&self, catalog: &Catalog) -> (Entity, uuid::Uuid, i64) {
        match self.0 {
            Entity::Product => catalog.remove_product(self.1),
            Entity::Category => catalog.remove_category(self.1),
            Entity::Store | Entity::Register | Entity::StoreSettings | Entity::RetailRules => {}
        }
        (self.0, self.1, i64::MAX)
    }
}
