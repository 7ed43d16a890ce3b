//! The tenant's retail rules in memory: tax rates (with their history),
//! tax assignments, named discounts, the points program, per-store prices
//! and store settings. Loaded from PostgreSQL on first use, dropped when a
//! write here or on another instance (bus `retail_rules` /
//! `store_settings`) changes them; a generation counter keeps a load that
//! raced with a change from installing stale rules.

use crate::domain::money_rules::discount::DiscountRule;
use crate::domain::money_rules::points::Program;
use crate::domain::money_rules::tax::{AppliedRate, TaxMode};
use crate::domain::store_settings::VersionedSettings;
use crate::domain::{StoreId, VariantId};
use crate::error::Result;
use crate::pg::{self, Db};
use crate::tenant::catalog::Catalog;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use uuid::Uuid;

/// One version of a tax rate, in force from `from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateVersion {
    pub from: DateTime<Utc>,
    pub rate_bp: i32,
    pub mode: TaxMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxTarget {
    Tenant,
    Category(Uuid),
    Product(Uuid),
    Variant(Uuid),
}

#[derive(Debug, Clone, Default)]
pub struct RetailRules {
    /// Versions sorted by `from`, oldest first.
    pub tax_rates: HashMap<Uuid, Vec<RateVersion>>,
    pub assignments: HashMap<TaxTarget, Uuid>,
    /// Active named discounts.
    pub discounts: HashMap<Uuid, DiscountRule>,
    pub program: Option<Program>,
    /// (store, variant) -> prices sorted by effective time.
    pub store_prices: HashMap<(StoreId, VariantId), Vec<(DateTime<Utc>, i64)>>,
    /// For national phone numbers, e.g. "998".
    pub calling_code: String,
}

impl RetailRules {
    /// The version of `rate` in force at `at`.
    pub fn rate_at(&self, rate: Uuid, at: DateTime<Utc>) -> Option<AppliedRate> {
        let v = self
            .tax_rates
            .get(&rate)?
            .iter()
            .rev()
            .find(|v| v.from <= at)?;
        Some(AppliedRate {
            id: rate,
            rate_bp: v.rate_bp,
            mode: v.mode,
        })
    }

    /// The rate of a line: variant, product, category and its ancestors,
    /// the store's default, the tenant's default; at `at`.
    pub fn tax_for(
        &self,
        catalog: &Catalog,
        product: Uuid,
        variant: Uuid,
        store_default: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Option<AppliedRate> {
        if self.assignments.is_empty() && store_default.is_none() {
            return None;
        }
        let mut chain = vec![TaxTarget::Variant(variant), TaxTarget::Product(product)];
        let mut category = catalog.product(product).and_then(|p| p.category_id);
        // Bounded walk: categories cannot loop, but a bound costs nothing.
        for _ in 0..64 {
            let Some(c) = category else { break };
            chain.push(TaxTarget::Category(c));
            category = catalog.category(c).and_then(|c| c.parent_id);
        }
        let assigned = chain.iter().find_map(|t| self.assignments.get(t)).copied();
        let rate = assigned
            .or(store_default)
            .or_else(|| self.assignments.get(&TaxTarget::Tenant).copied())?;
        self.rate_at(rate, at)
    }

    /// The store's own price of a variant at `at`, if it has one.
    pub fn store_price(
        &self,
        store: StoreId,
        variant: VariantId,
        at: DateTime<Utc>,
    ) -> Option<i64> {
        self.store_prices
            .get(&(store, variant))?
            .iter()
            .rev()
            .find(|(from, _)| *from <= at)
            .map(|(_, p)| *p)
    }
}

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
