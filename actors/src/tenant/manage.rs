//! Tenant actor messages for store settings and the org edits that change
//! what the actor holds in memory (stores, registers, warehouses). Each
//! goes to PostgreSQL first, then memory, then the bus, one at a time per
//! tenant like every other catalog write.

use super::{TenantActor, TenantCore};
use crate::bus::{BusEvent, Entity};
use crate::domain::catalog::{Register, Store};
use crate::domain::store_settings::VersionedSettings;
use crate::domain::StoreId;
use crate::error::{Error, Result};
use crate::pg::{self, manage::Warehouse};
use actix::prelude::*;
use std::sync::Arc;
use uuid::Uuid;

/// Replace a store's settings (PATCH merged by the route). Sent by
/// `routes::store_settings`; refused with `VersionConflict` when stale, so
/// a replay fails instead of applying twice.
#[derive(Debug, Message)]
#[rtype(result = "Result<VersionedSettings>")]
pub struct UpdateStoreSettings {
    pub store_id: StoreId,
    pub version: i32,
    /// The PATCH body's fields (without `version`).
    pub patch: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Store>")]
pub struct UpdateStore {
    pub id: StoreId,
    pub version: i32,
    pub name: Option<String>,
    pub address: Option<Option<String>>,
}

/// Deactivates a store and its registers (their tokens stop working).
#[derive(Debug, Message)]
#[rtype(result = "Result<()>")]
pub struct DeactivateStore {
    pub id: StoreId,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Register>")]
pub struct UpdateRegister {
    pub id: Uuid,
    pub version: i32,
    pub name: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Message)]
#[rtype(result = "Result<Warehouse>")]
pub struct CreateWarehouse {
    pub store_id: StoreId,
    pub name: String,
}

macro_rules! serialized_handler {
    ($msg:ty, $out:ty, $method:ident) => {
        impl Handler<$msg> for TenantActor {
            type Result = AtomicResponse<Self, Result<$out>>;
            fn handle(&mut self, msg: $msg, _: &mut Context<Self>) -> Self::Result {
                let core = Arc::clone(&self.core);
                AtomicResponse::new(Box::pin(
                    async move { core.$method(msg).await }.into_actor(self),
                ))
            }
        }
    };
}

serialized_handler!(
    UpdateStoreSettings,
    VersionedSettings,
    update_store_settings
);
serialized_handler!(UpdateStore, Store, update_store);
serialized_handler!(DeactivateStore, (), deactivate_store);
serialized_handler!(UpdateRegister, Register, update_register);
serialized_handler!(CreateWarehouse, Warehouse, create_warehouse);

impl TenantCore {
    async fn update_store_settings(&self, msg: UpdateStoreSettings) -> Result<VersionedSettings> {
        let current = self
            .catalog
            .retail
            .settings(&self.db, self.tenant, msg.store_id)
            .await?;
        let next = current.settings.patched(&msg.patch)?;
        if let Some(rate) = next.default_tax_rate_id {
            pg::retail::get_tax_rate(&self.db, self.tenant, rate)
                .await
                .map_err(|_| Error::invalid("default_tax_rate_id", "no such tax rate"))?;
        }
        let saved = pg::retail::update_store_settings(
            &self.db,
            self.tenant,
            msg.store_id,
            msg.version,
            &next,
        )
        .await;
        let saved = match saved {
            Err(e @ Error::VersionConflict { .. }) => {
                // Our copy may be the stale one: read it again next time.
                self.catalog.retail.invalidate_settings(msg.store_id);
                return Err(e);
            }
            other => other?,
        };
        self.catalog.retail.put_settings(saved.clone());
        self.announce(Entity::StoreSettings, msg.store_id, saved.version.into());
        Ok(saved)
    }

    async fn update_store(&self, msg: UpdateStore) -> Result<Store> {
        let current = self
            .catalog
            .store(msg.id)
            .ok_or(Error::not_found("store"))?;
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&self.db, &mut client, self.tenant).await?;
        let version = pg::manage::update_store(
            &tx,
            self.tenant,
            msg.id,
            msg.version,
            msg.name.as_deref(),
            msg.address.as_ref().map(|a| a.as_deref()),
        )
        .await?;
        tx.commit().await?;
        let mut store = (*current).clone();
        if let Some(n) = msg.name {
            store.name = n;
        }
        if let Some(a) = msg.address {
            store.address = a;
        }
        store.version = version;
        self.catalog.apply_store(store.clone());
        self.announce(Entity::Store, store.id, version.into());
        Ok(store)
    }

    async fn deactivate_store(&self, msg: DeactivateStore) -> Result<()> {
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&self.db, &mut client, self.tenant).await?;
        let hashes = pg::manage::deactivate_store(&tx, self.tenant, msg.id).await?;
        tx.commit().await?;
        self.forget_tokens(&hashes);
        self.reload_org().await?;
        self.announce(Entity::Store, msg.id, i64::MAX);
        Ok(())
    }

    async fn update_register(&self, msg: UpdateRegister) -> Result<Register> {
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&self.db, &mut client, self.tenant).await?;
        let (register, hashes) = pg::manage::update_register(
            &tx,
            self.tenant,
            msg.id,
            msg.version,
            msg.name.as_deref(),
            msg.active,
        )
        .await?;
        tx.commit().await?;
        self.forget_tokens(&hashes);
        self.catalog.apply_register(register.clone());
        self.announce(Entity::Register, register.id, register.version.into());
        Ok(register)
    }

    async fn create_warehouse(&self, msg: CreateWarehouse) -> Result<Warehouse> {
        let current = self
            .catalog
            .store(msg.store_id)
            .ok_or(Error::not_found("store"))?;
        let mut client = self.db.client().await?;
        let tx = pg::catalog::begin_write(&self.db, &mut client, self.tenant).await?;
        let w = pg::manage::insert_warehouse(&tx, self.tenant, msg.store_id, &msg.name).await?;
        tx.commit().await?;
        let mut store = (*current).clone();
        store.warehouse_ids.push(w.id);
        store.warehouse_ids.sort();
        self.catalog.apply_store(store);
        self.announce(Entity::Store, msg.store_id, i64::MAX);
        Ok(w)
    }

    /// Drops cached principals here and on every other instance.
    fn forget_tokens(&self, hashes: &[Vec<u8>]) {
        for h in hashes {
            if let Ok(hash) = <[u8; 32]>::try_from(h.as_slice()) {
                self.auth.forget(&hash);
                self.bus.publish(BusEvent::TokenRevoked {
                    tenant_id: self.tenant,
                    token_hash: hex::encode(hash),
                });
            }
        }
    }

    /// Stores and registers as PostgreSQL has them.
    pub(super) async fn reload_org(&self) -> Result<()> {
        let fresh = pg::catalog::load(&self.db, self.tenant).await?;
        self.catalog.replace_org(fresh.stores, fresh.registers);
        Ok(())
    }
}
