//! The tenant's retail rules as plain data: tax rates with their history,
//! tax assignments, named discounts, the points program, per-store prices.
//! Loaded by `pg::retail`, cached by the tenant (`tenant::retail`), read by
//! receipt preparation.

use super::discount::DiscountRule;
use super::points::Program;
use super::tax::{AppliedRate, TaxMode};
use crate::domain::{StoreId, VariantId};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
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

/// A store's prices of one variant: (effective from, price), oldest first.
pub type PriceHistory = Vec<(DateTime<Utc>, i64)>;

#[derive(Debug, Clone, Default)]
pub struct RetailRules {
    /// Versions sorted by `from`, oldest first.
    pub tax_rates: HashMap<Uuid, Vec<RateVersion>>,
    pub assignments: HashMap<TaxTarget, Uuid>,
    /// Active named discounts.
    pub discounts: HashMap<Uuid, DiscountRule>,
    pub program: Option<Program>,
    /// (store, variant) -> prices sorted by effective time.
    pub store_prices: HashMap<(StoreId, VariantId), PriceHistory>,
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
    /// `category` is the product's; `parent_of` walks up the tree.
    pub fn tax_for(
        &self,
        product: Uuid,
        variant: Uuid,
        category: Option<Uuid>,
        parent_of: impl Fn(Uuid) -> Option<Uuid>,
        store_default: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Option<AppliedRate> {
        if self.assignments.is_empty() && store_default.is_none() {
            return None;
        }
        let mut chain = vec![TaxTarget::Variant(variant), TaxTarget::Product(product)];
        let mut category = category;
        // Bounded walk: categories cannot loop, but a bound costs nothing.
        for _ in 0..64 {
            let Some(c) = category else { break };
            chain.push(TaxTarget::Category(c));
            category = parent_of(c);
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
