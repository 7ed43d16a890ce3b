//! One `TenantActor` per loaded tenant per instance. It owns the tenant's
//! in-memory `Catalog` and is its only writer: each write goes to PostgreSQL
//! first (one transaction under the tenant's advisory lock), then to memory,
//! then to the bus. Writes are serialized by the actor (`AtomicResponse`),
//! reads never pass through it: handlers read the catalog's maps directly.
//!
//! On restart nothing is lost: the catalog is rebuilt from PostgreSQL on the
//! next request for the tenant.

pub mod catalog;
pub mod messages;

use crate::auth::Authenticator;
use crate::bus::{Bus, BusEvent, Entity};
use crate::domain::catalog::{Category, Product, Register, Store, VariantInput};
use crate::domain::{events, new_id, Role, TenantId};
use crate::error::{Error, Result};
use crate::pg::{self, Db};
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
                        "duplicate_barcode",
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

    async fn create_category(&self, msg: CreateCategory) -> Result<Category> {
        self.check_category("parent_id", msg.parent_id)?;
        let id = new_id();
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        pg::catalog::insert_category(&self.db, &tx, self.tenant, id, &msg.name, msg.parent_id)
            .await?;
        let (category, _) = pg::catalog::fetch_category(&self.db, &tx, self.tenant, id)
            .await?
            .ok_or(Error::not_found("category"))?;
        tx.commit().await?;
        self.catalog.apply_category(category.clone());
        self.announce(Entity::Category, id, category.version.into());
        Ok(category)
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
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        pg::catalog::update_category(
            &self.db,
            &tx,
            self.tenant,
            msg.id,
            msg.version,
            msg.name.as_deref(),
            msg.parent_id,
        )
        .await?;
        let (category, _) = pg::catalog::fetch_category(&self.db, &tx, self.tenant, msg.id)
            .await?
            .ok_or(Error::not_found("category"))?;
        tx.commit().await?;
        self.catalog.apply_category(category.clone());
        self.announce(Entity::Category, msg.id, category.version.into());
        Ok(category)
    }

    async fn delete_category(&self, msg: DeleteCategory) -> Result<()> {
        if self.catalog.category(msg.id).is_none() {
            return Err(Error::not_found("category"));
        }
        if self.catalog.category_in_use(msg.id) {
            return Err(Error::conflict(
                "category_in_use",
                "the category still holds products or categories",
            ));
        }
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        pg::catalog::delete_category(&self.db, &tx, self.tenant, msg.id).await?;
        tx.commit().await?;
        self.catalog.remove_category(msg.id);
        self.announce(Entity::Category, msg.id, i64::MAX);
        Ok(())
    }

    async fn create_product(&self, msg: CreateProduct) -> Result<Product> {
        self.check_category("category_id", msg.category_id)?;
        self.check_barcodes(None, &msg.variants)?;
        let id = new_id();
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        pg::catalog::insert_product(
            &self.db,
            &tx,
            self.tenant,
            id,
            &msg.name,
            msg.category_id,
            &msg.variants,
        )
        .await?;
        let (product, _) = pg::catalog::fetch_product(&self.db, &tx, self.tenant, id)
            .await?
            .ok_or(Error::not_found("product"))?;
        pg::outbox::append(
            &self.db,
            &tx,
            self.tenant,
            events::PRODUCT_CREATED,
            &product,
        )
        .await?;
        tx.commit().await?;
        self.catalog.apply_product(product.clone());
        self.announce(Entity::Product, id, product.change_seq);
        Ok(product)
    }

    async fn update_product(&self, msg: UpdateProduct) -> Result<Product> {
        if let Some(Some(c)) = msg.category_id {
            self.check_category("category_id", Some(c))?;
        }
        if let Some(v) = &msg.variants {
            self.check_barcodes(Some(msg.id), v)?;
        }
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        pg::catalog::update_product(
            &self.db,
            &tx,
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
        let (product, _) = pg::catalog::fetch_product(&self.db, &tx, self.tenant, msg.id)
            .await?
            .ok_or(Error::not_found("product"))?;
        pg::outbox::append(
            &self.db,
            &tx,
            self.tenant,
            events::PRODUCT_UPDATED,
            &product,
        )
        .await?;
        tx.commit().await?;
        self.catalog.apply_product(product.clone());
        self.announce(Entity::Product, msg.id, product.change_seq);
        Ok(product)
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
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        pg::catalog::delete_product(&self.db, &tx, self.tenant, msg.id).await?;
        let gone =
            serde_json::json!({"id": msg.id, "version": current.version + 1, "deleted": true});
        pg::outbox::append(&self.db, &tx, self.tenant, events::PRODUCT_DELETED, &gone).await?;
        tx.commit().await?;
        self.catalog.remove_product(msg.id);
        self.announce(Entity::Product, msg.id, i64::MAX);
        Ok(())
    }

    async fn create_store(&self, msg: CreateStore) -> Result<Store> {
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        let store = pg::org::insert_store(
            &self.db,
            &tx,
            self.tenant,
            &msg.name,
            msg.address.as_deref(),
        )
        .await?;
        tx.commit().await?;
        self.catalog.apply_store(store.clone());
        self.announce(Entity::Store, store.id, 1);
        Ok(store)
    }

    async fn create_register(&self, msg: CreateRegister) -> Result<(Register, String)> {
        if self.catalog.store(msg.store_id).is_none() {
            return Err(Error::not_found("store"));
        }
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&mut client, self.tenant).await?;
        let register =
            pg::org::insert_register(&self.db, &tx, self.tenant, msg.store_id, &msg.name).await?;
        let (_, token) = self
            .auth
            .issue(
                &tx,
                self.tenant,
                Role::Register,
                Some(register.id),
                Some(&msg.name),
            )
            .await?;
        tx.commit().await?;
        self.catalog.apply_register(register.clone());
        self.announce(Entity::Register, register.id, 1);
        Ok((register, token))
    }

    /// Re-reads one entity after another instance changed it.
    pub async fn reload(&self, entity: Entity, id: uuid::Uuid) -> Result<()> {
        let mut client = self.db.client().await?;
        let tx = client.transaction().await?;
        match entity {
            Entity::Product => {
                match pg::catalog::fetch_product(&self.db, &tx, self.tenant, id).await? {
                    Some((p, None)) => self.catalog.apply_product(p),
                    _ => self.catalog.remove_product(id),
                }
            }
            Entity::Category => {
                match pg::catalog::fetch_category(&self.db, &tx, self.tenant, id).await? {
                    Some((c, false)) => self.catalog.apply_category(c),
                    _ => self.catalog.remove_category(id),
                }
            }
            Entity::Store | Entity::Register => {
                // Rare: rebuild the store and register maps wholesale.
                let fresh = pg::catalog::load(&self.db, self.tenant).await?;
                for s in fresh.stores {
                    self.catalog.apply_store(s);
                }
                for r in fresh.registers {
                    self.catalog.apply_register(r);
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
