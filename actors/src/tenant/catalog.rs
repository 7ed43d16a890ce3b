//! The in-memory catalog of one tenant: plain data and indexes, no actor and
//! no I/O, so it is unit-tested and benchmarked on its own.
//!
//! Readers (HTTP handlers on any worker thread) read the maps directly.
//! Only the tenant's `TenantActor` calls the `apply_*` methods, and only
//! after the change is committed in PostgreSQL.

use crate::domain::catalog::{Category, Product, Register, Store, Variant};
use crate::domain::receipt::PriceList;
use crate::domain::{CategoryId, ProductId, StoreId, VariantId};
use crate::pg::catalog::CatalogRows;
use dashmap::DashMap;
use parking_lot::RwLock;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a barcode points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarcodeRef {
    pub product_id: ProductId,
    pub variant_id: VariantId,
}

#[derive(Default)]
pub struct Catalog {
    products: DashMap<ProductId, Arc<Product>>,
    barcodes: DashMap<String, BarcodeRef>,
    variants: DashMap<VariantId, ProductId>,
    categories: DashMap<CategoryId, Arc<Category>>,
    stores: DashMap<StoreId, Arc<Store>>,
    registers: DashMap<Uuid, Arc<Register>>,
    /// Live product ids; ids are UUIDv7, so reverse order is newest first.
    order: RwLock<BTreeSet<ProductId>>,
    /// (lower-cased name, id) for name-prefix search.
    names: RwLock<BTreeSet<(String, ProductId)>>,
    /// Taxes, discounts, points, store prices and store settings.
    pub retail: super::retail::RetailState,
}

/// A page of products, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    #[schema(value_type = Vec<Product>)]
    pub items: Vec<Arc<Product>>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<Uuid>,
}

/// Filters of a product listing.
#[derive(Debug, Default, Clone)]
pub struct ListQuery {
    pub limit: usize,
    pub cursor: Option<ProductId>,
    pub category_id: Option<CategoryId>,
    /// Lower-cased name prefix.
    pub name_prefix: Option<String>,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// A catalog holding exactly `rows` (as loaded from PostgreSQL).
    pub fn from_rows(rows: CatalogRows) -> Self {
        let catalog = Catalog::new();
        for c in rows.categories {
            catalog.apply_category(c);
        }
        for p in rows.products {
            catalog.apply_product(p);
        }
        for s in rows.stores {
            catalog.apply_store(s);
        }
        for r in rows.registers {
            catalog.apply_register(r);
        }
        catalog
    }

    // ---- reads -------------------------------------------------------

    pub fn product(&self, id: ProductId) -> Option<Arc<Product>> {
        self.products.get(&id).map(|p| Arc::clone(&p))
    }

    pub fn by_barcode(&self, barcode: &str) -> Option<(Arc<Product>, Variant)> {
        let r = *self.barcodes.get(barcode)?;
        let product = self.product(r.product_id)?;
        let variant = product
            .variants
            .iter()
            .find(|v| v.id == r.variant_id)?
            .clone();
        Some((product, variant))
    }

    /// The product and variant of a variant id (receipt validation).
    pub fn variant(&self, id: VariantId) -> Option<(Arc<Product>, Variant)> {
        let pid = *self.variants.get(&id)?;
        let product = self.product(pid)?;
        let variant = product.variants.iter().find(|v| v.id == id)?.clone();
        Some((product, variant))
    }

    pub fn barcode_owner(&self, barcode: &str) -> Option<BarcodeRef> {
        self.barcodes.get(barcode).map(|r| *r)
    }

    pub fn category(&self, id: CategoryId) -> Option<Arc<Category>> {
        self.categories.get(&id).map(|c| Arc::clone(&c))
    }

    pub fn categories(&self) -> Vec<Arc<Category>> {
        let mut all: Vec<_> = self.categories.iter().map(|c| Arc::clone(&c)).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        all
    }

    pub fn store(&self, id: StoreId) -> Option<Arc<Store>> {
        self.stores.get(&id).map(|s| Arc::clone(&s))
    }

    pub fn stores(&self) -> Vec<Arc<Store>> {
        let mut all: Vec<_> = self.stores.iter().map(|s| Arc::clone(&s)).collect();
        all.sort_by_key(|s| s.id);
        all
    }

    pub fn register(&self, id: Uuid) -> Option<Arc<Register>> {
        self.registers.get(&id).map(|r| Arc::clone(&r))
    }

    pub fn registers_of(&self, store: StoreId) -> Vec<Arc<Register>> {
        let mut all: Vec<_> = self
            .registers
            .iter()
            .filter(|r| r.store_id == store)
            .map(|r| Arc::clone(&r))
            .collect();
        all.sort_by_key(|r| r.number);
        all
    }

    /// Number of live products and of barcodes (for /health/cache).
    pub fn entries(&self) -> usize {
        self.products.len() + self.barcodes.len() + self.categories.len()
    }

    pub fn product_count(&self) -> usize {
        self.products.len()
    }

    /// True when some live product is in this category or a live category
    /// has it as parent (a category in use cannot be deleted).
    pub fn category_in_use(&self, id: CategoryId) -> bool {
        self.products.iter().any(|p| p.category_id == Some(id))
            || self.categories.iter().any(|c| c.parent_id == Some(id))
    }

    /// Newest first, keyset-paged by product id.
    pub fn list(&self, q: &ListQuery) -> ProductPage {
        let limit = q.limit.max(1);
        let mut items = Vec::with_capacity(limit.min(256));
        let matches = |p: &Product| {
            q.category_id.is_none_or(|c| p.category_id == Some(c))
                && q.name_prefix
                    .as_deref()
                    .is_none_or(|pre| p.name.to_lowercase().starts_with(pre))
        };
        if let Some(prefix) = q.name_prefix.as_deref() {
            // Few products share a typed prefix: take them from the name
            // index, then order newest first.
            let names = self.names.read();
            let mut ids: Vec<ProductId> = names
                .range((prefix.to_owned(), Uuid::nil())..)
                .take_while(|(n, _)| n.starts_with(prefix))
                .map(|(_, id)| *id)
                .filter(|id| q.cursor.is_none_or(|c| *id < c))
                .collect();
            drop(names);
            ids.sort_unstable_by(|a, b| b.cmp(a));
            for id in ids {
                if let Some(p) = self.product(id) {
                    if matches(&p) {
                        items.push(p);
                        if items.len() > limit {
                            break;
                        }
                    }
                }
            }
        } else {
            let order = self.order.read();
            let iter: Box<dyn Iterator<Item = &ProductId>> = match q.cursor {
                Some(c) => Box::new(order.range(..c).rev()),
                None => Box::new(order.iter().rev()),
            };
            for id in iter {
                if let Some(p) = self.products.get(id) {
                    if matches(&p) {
                        items.push(Arc::clone(&p));
                        if items.len() > limit {
                            break;
                        }
                    }
                }
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|p| p.id)
        } else {
            None
        };
        ProductPage { items, next_cursor }
    }

    // ---- writes (TenantActor only, after commit) -------------------------

    pub fn apply_product(&self, product: Product) {
        self.remove_product(product.id);
        for v in &product.variants {
            self.barcodes.insert(
                v.barcode.clone(),
                BarcodeRef {
                    product_id: product.id,
                    variant_id: v.id,
                },
            );
            self.variants.insert(v.id, product.id);
        }
        self.order.write().insert(product.id);
        self.names
            .write()
            .insert((product.name.to_lowercase(), product.id));
        self.products.insert(product.id, Arc::new(product));
    }

    /// Removes a product and its barcodes (soft delete or replacement).
    pub fn remove_product(&self, id: ProductId) {
        if let Some((_, old)) = self.products.remove(&id) {
            for v in &old.variants {
                // Only drop the barcode if it still points at this product.
                self.barcodes
                    .remove_if(&v.barcode, |_, r| r.product_id == id);
                self.variants.remove(&v.id);
            }
            self.order.write().remove(&id);
            self.names.write().remove(&(old.name.to_lowercase(), id));
        }
    }

    /// Makes this catalog equal to `fresh` (resync after lost bus events).
    pub fn replace_with(&self, fresh: &Catalog) {
        // Missed bus events may have changed retail rules too.
        self.retail.invalidate_all();
        let stale: Vec<ProductId> = self
            .products
            .iter()
            .filter(|p| {
                fresh
                    .products
                    .get(p.key())
                    .is_none_or(|f| f.version != p.version)
            })
            .map(|p| *p.key())
            .collect();
        for id in stale {
            self.remove_product(id);
        }
        for p in fresh.products.iter() {
            let changed = self
                .products
                .get(p.key())
                .is_none_or(|mine| mine.version != p.version);
            if changed {
                self.apply_product((**p).clone());
            }
        }
        self.categories
            .retain(|id, _| fresh.categories.contains_key(id));
        for c in fresh.categories.iter() {
            self.categories.insert(*c.key(), Arc::clone(&c));
        }
        for s in fresh.stores.iter() {
            self.stores.insert(*s.key(), Arc::clone(&s));
        }
        for r in fresh.registers.iter() {
            self.registers.insert(*r.key(), Arc::clone(&r));
        }
    }

    pub fn apply_category(&self, category: Category) {
        self.categories.insert(category.id, Arc::new(category));
    }

    pub fn remove_category(&self, id: CategoryId) {
        self.categories.remove(&id);
    }

    pub fn apply_store(&self, store: Store) {
        self.stores.insert(store.id, Arc::new(store));
    }

    pub fn apply_register(&self, register: Register) {
        self.registers.insert(register.id, Arc::new(register));
    }

    /// Stores and registers exactly as in `fresh` (a store deactivated
    /// elsewhere disappears).
    pub fn replace_org(&self, stores: Vec<Store>, registers: Vec<Register>) {
        let live: std::collections::HashSet<Uuid> = stores.iter().map(|s| s.id).collect();
        self.stores.retain(|id, _| live.contains(id));
        for s in stores {
            self.apply_store(s);
        }
        let live: std::collections::HashSet<Uuid> = registers.iter().map(|r| r.id).collect();
        self.registers.retain(|id, _| live.contains(id));
        for r in registers {
            self.apply_register(r);
        }
    }
}

impl PriceList for Catalog {
    fn price_of(&self, variant: VariantId) -> Option<(ProductId, i64)> {
        let pid = *self.variants.get(&variant)?;
        let product = self.products.get(&pid)?;
        let price = product.variants.iter().find(|v| v.id == variant)?.price;
        Some((pid, price))
    }

    fn category_of(&self, product: ProductId) -> Option<CategoryId> {
        self.products.get(&product)?.category_id
    }

    fn parent_of(&self, category: CategoryId) -> Option<CategoryId> {
        self.categories.get(&category)?.parent_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::JsonCache;
    use chrono::Utc;

    fn product(name: &str, barcode: &str, category: Option<Uuid>) -> Product {
        Product {
            id: Uuid::now_v7(),
            name: name.into(),
            category_id: category,
            version: 1,
            change_seq: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            variants: vec![Variant {
                id: Uuid::now_v7(),
                barcode: barcode.into(),
                sku: None,
                price: 100,
            }],
            json: JsonCache::default(),
        }
    }

    #[test]
    fn barcode_lookup_follows_updates_and_removal() {
        let c = Catalog::new();
        let mut p = product("Milk", "4780000000011", None);
        c.apply_product(p.clone());
        assert_eq!(c.by_barcode("4780000000011").map(|(x, _)| x.id), Some(p.id));
        p.variants[0].barcode = "4780000000028".into();
        c.apply_product(p.clone());
        assert!(c.by_barcode("4780000000011").is_none());
        assert!(c.by_barcode("4780000000028").is_some());
        c.remove_product(p.id);
        assert!(c.by_barcode("4780000000028").is_none());
        assert_eq!(
            c.list(&ListQuery {
                limit: 10,
                ..Default::default()
            })
            .items
            .len(),
            0
        );
    }

    #[test]
    fn list_pages_newest_first_with_filters() {
        let c = Catalog::new();
        let cat = Uuid::now_v7();
        let ids: Vec<_> = (0..5)
            .map(|i| {
                let p = product(
                    &format!("Bread {i}"),
                    &format!("b{i}"),
                    (i % 2 == 0).then_some(cat),
                );
                let id = p.id;
                c.apply_product(p);
                id
            })
            .collect();
        let first = c.list(&ListQuery {
            limit: 2,
            ..Default::default()
        });
        assert_eq!(
            first.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            vec![ids[4], ids[3]]
        );
        let second = c.list(&ListQuery {
            limit: 2,
            cursor: first.next_cursor,
            ..Default::default()
        });
        assert_eq!(
            second.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            vec![ids[2], ids[1]]
        );
        let third = c.list(&ListQuery {
            limit: 2,
            cursor: second.next_cursor,
            ..Default::default()
        });
        assert_eq!(third.items.len(), 1);
        assert!(third.next_cursor.is_none());
        let in_cat = c.list(&ListQuery {
            limit: 10,
            category_id: Some(cat),
            ..Default::default()
        });
        assert_eq!(in_cat.items.len(), 3);
        let by_name = c.list(&ListQuery {
            limit: 10,
            name_prefix: Some("bread 3".into()),
            ..Default::default()
        });
        assert_eq!(
            by_name.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            vec![ids[3]]
        );
    }
}
