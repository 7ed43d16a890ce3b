//! The tenant's retail rules in memory: tax rates (with their history),
//! tax assignments, named discounts, the points program, per-store prices
//! and store settings. Loaded from PostgreSQL on first use, dropped when a
//! write here or on another instance (bus `retail_rules` /
//! `store_settings`) changes them; a generation counter keeps a load that
//! raced with a change from installing stale rules.

pub use crate::domain::money_rules::rules::{RateVersion, RetailRules, TaxTarget};
use crate::domain::store_settings::VersionedSettings;
use crate::domain::StoreId;
use crate::error::Result;
use crate::pg::{self, Db};
use dashmap::DashMap;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Default)]
pub struct RetailState {
    rules: RwLock<Option<Arc<RetailRules>>>,
    generation: AtomicU64,
    settings: DashMap<StoreId, Arc<VersionedSettings>>,
}

impl RetailState {
    /// The rules, loading them on first use.
    pub async fn rules(&self, db: &Db, tenant: Uuid) -> Result<Arc<RetailRules>> {
        if let Some(r) = self.rules.read().as_ref() {
            return Ok(Arc::clone(r));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let fresh = Arc::new(pg::retail::load_rules(db, tenant).await?);
        let mut slot = self.rules.write();
        if self.generation.load(Ordering::Acquire) == generation {
            *slot = Some(Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    /// Drop the rules after a change (here or on another instance).
    pub fn invalidate_rules(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        *self.rules.write() = None;
    }

    /// A store's settings, loading them on first use.
    pub async fn settings(
        &self,
        db: &Db,
        tenant: Uuid,
        store: StoreId,
    ) -> Result<Arc<VersionedSettings>> {
        if let Some(s) = self.settings.get(&store) {
            return Ok(Arc::clone(&s));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let fresh = Arc::new(pg::retail::load_store_settings(db, tenant, store).await?);
        if self.generation.load(Ordering::Acquire) == generation {
            self.settings.insert(store, Arc::clone(&fresh));
        }
        Ok(fresh)
    }

    /// Only the tenant actor calls this, after the change committed.
    pub fn put_settings(&self, s: VersionedSettings) {
        self.settings.insert(s.store_id, Arc::new(s));
    }

    /// After a bus resync: anything may have changed.
    pub fn invalidate_all(&self) {
        self.invalidate_rules();
        self.settings.clear();
    }

    pub fn invalidate_settings(&self, store: StoreId) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.settings.remove(&store);
    }
}
