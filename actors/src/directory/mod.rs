//! The live tenants of this instance: spawns a tenant's actor and loads its
//! catalog on first use, counts cache hits and misses, and evicts tenants
//! idle longer than the configured time (they reload on demand). It sits
//! on top of the crate: `dispatch` routes bus events to its actors.

mod dispatch;
pub mod stock_documents;

use crate::auth::Authenticator;
use crate::bus::Bus;
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::memory::{BudgetStats, Holder, MemoryBudget, Part};
use crate::metrics::Metrics;
use crate::pg::{self, Db};
use crate::store::stock::StockBook;
use crate::store::{StoreActor, StoreSettings};
use crate::tenant::catalog::Catalog;
use crate::tenant::{TenantActor, TenantCore};
use crate::writer::Writer;
use actix::{Actor, Addr, ArbiterHandle};
use dashmap::DashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// A loaded tenant: its catalog for reads, its actor for writes.
pub struct TenantHandle {
    pub tenant: TenantId,
    pub catalog: Arc<Catalog>,
    pub actor: Addr<TenantActor>,
    /// The tenant's store actors, started on first use.
    stores: DashMap<Uuid, Arc<OnceCell<Addr<StoreActor>>>>,
    /// Milliseconds since the directory's epoch at the last use.
    last_used_ms: AtomicU64,
    /// The catalog's place under the memory budget.
    memory: Arc<Holder>,
}

/// Estimated heap bytes of one catalog entry (product with its variants
/// and name index, barcode, or category), measured roughly as RSS after
/// loading a 100,000-product tenant divided by its entries.
const CATALOG_ENTRY_BYTES: usize = 600;

type Slot = Arc<OnceCell<Arc<TenantHandle>>>;
type Tenants = DashMap<TenantId, Slot>;

/// Drops a tenant unless a request holds its handle (then a reload could
/// race the request's write). Answers whether it was dropped.
fn drop_unused(tenants: &Tenants, metrics: &Metrics, tenant: TenantId) -> bool {
    let removed = tenants.remove_if(&tenant, |_, slot| match slot.get() {
        Some(h) => Arc::strong_count(h) == 1 && Arc::strong_count(slot) == 1,
        None => false,
    });
    match removed.as_ref().and_then(|(_, slot)| slot.get()) {
        Some(h) => {
            metrics.tenants_loaded.dec();
            metrics.catalog_entries.sub(h.catalog.entries() as i64);
            true
        }
        None => false,
    }
}

pub struct Directory {
    db: Db,
    bus: Arc<dyn Bus>,
    auth: Arc<Authenticator>,
    metrics: Metrics,
    arbiter: ArbiterHandle,
    tenants: Arc<Tenants>,
    idle_evict: Duration,
    epoch: Instant,
    writer: Writer,
    store_settings: Arc<StoreSettings>,
    replay_events: usize,
    budget: Arc<MemoryBudget>,
}

/// What the directory needs to start store actors.
pub struct SalesWiring {
    pub writer: Writer,
    pub store_settings: Arc<StoreSettings>,
    pub replay_events: usize,
    /// The instance's memory budget (catalogs, recent receipts, replay).
    pub budget: Arc<MemoryBudget>,
}

impl Directory {
    pub fn new(
        db: Db,
        bus: Arc<dyn Bus>,
        auth: Arc<Authenticator>,
        metrics: Metrics,
        arbiter: ArbiterHandle,
        idle_evict: Duration,
        sales: SalesWiring,
    ) -> Self {
        Self {
            db,
            bus,
            auth,
            metrics,
            arbiter,
            tenants: Arc::new(DashMap::new()),
            idle_evict,
            epoch: Instant::now(),
            writer: sales.writer,
            store_settings: sales.store_settings,
            replay_events: sales.replay_events,
            budget: sales.budget,
        }
    }

    pub fn budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    /// The store's actor, started (with its levels loaded) on first use.
    pub async fn store(&self, tenant: &TenantHandle, store: Uuid) -> Result<Addr<StoreActor>> {
        // Fast path (every receipt): a shard read lock, not the entry API.
        if let Some(addr) = tenant.stores.get(&store).and_then(|s| s.get().cloned()) {
            return Ok(addr);
        }
        let info = tenant
            .catalog
            .store(store)
            .ok_or(Error::not_found("store"))?;
        let slot = tenant
            .stores
            .entry(store)
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let addr = slot
            .get_or_try_init(|| async {
                let levels =
                    pg::stock::load_levels(&self.db, tenant.tenant, &info.warehouse_ids).await?;
                let book = StockBook::new(levels, self.replay_events).under_budget(&self.budget);
                let actor = StoreActor::new(
                    tenant.tenant,
                    store,
                    Arc::clone(&tenant.catalog),
                    self.writer.clone(),
                    Arc::clone(&self.bus),
                    self.metrics.clone(),
                    Arc::clone(&self.store_settings),
                    Arc::clone(&self.budget),
                    self.db.clone(),
                    book,
                );
                Ok::<_, Error>(StoreActor::start_in_arbiter(&self.arbiter, move |_| actor))
            })
            .await?;
        Ok(addr.clone())
    }

    /// The store's actor if it runs here (bus updates go only to those).
    pub fn running_store(&self, tenant: TenantId, store: Uuid) -> Option<Addr<StoreActor>> {
        let handle = self.loaded(tenant)?;
        let slot = handle.stores.get(&store)?;
        slot.get().cloned()
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The tenant's handle, loading it on first use. Counts a hit when the
    /// catalog was already in memory and a miss when it had to be loaded.
    pub async fn tenant(&self, tenant: TenantId) -> Result<Arc<TenantHandle>> {
        // Fast path under a shard read lock; the entry API takes a write lock.
        if let Some(h) = self.tenants.get(&tenant).and_then(|s| s.get().cloned()) {
            self.metrics.catalog_hits.inc();
            h.last_used_ms.store(self.now_ms(), Ordering::Relaxed);
            h.memory.touch();
            return Ok(h);
        }
        let slot = self
            .tenants
            .entry(tenant)
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone();
        let handle = if let Some(h) = slot.get() {
            self.metrics.catalog_hits.inc();
            Arc::clone(h)
        } else {
            let h = slot
                .get_or_try_init(|| async {
                    self.metrics.catalog_misses.inc();
                    self.load(tenant).await
                })
                .await?;
            Arc::clone(h)
        };
        handle.last_used_ms.store(self.now_ms(), Ordering::Relaxed);
        handle.memory.touch();
        Ok(handle)
    }

    /// The handle if the tenant is loaded; never loads, never counts.
    pub fn loaded(&self, tenant: TenantId) -> Option<Arc<TenantHandle>> {
        self.tenants.get(&tenant).and_then(|s| s.get().cloned())
    }

    pub fn loaded_tenants(&self) -> Vec<Arc<TenantHandle>> {
        self.tenants
            .iter()
            .filter_map(|s| s.get().cloned())
            .collect()
    }

    async fn load(&self, tenant: TenantId) -> Result<Arc<TenantHandle>> {
        let started = Instant::now();
        let catalog = Arc::new(Catalog::from_rows(
            pg::catalog::load(&self.db, tenant).await?,
        ));
        let core = Arc::new(TenantCore {
            tenant,
            catalog: Arc::clone(&catalog),
            db: self.db.clone(),
            bus: Arc::clone(&self.bus),
            auth: Arc::clone(&self.auth),
        });
        let actor = TenantActor::start_in_arbiter(&self.arbiter, move |_| TenantActor::new(core));
        tracing::info!(
            tenant_id = %tenant,
            products = catalog.product_count(),
            ms = started.elapsed().as_millis() as u64,
            "tenant catalog loaded"
        );
        self.metrics.tenants_loaded.inc();
        self.metrics.catalog_entries.add(catalog.entries() as i64);
        let (tenants, metrics) = (Arc::downgrade(&self.tenants), self.metrics.clone());
        let memory = self.budget.hold(
            Part::Catalogs,
            catalog.entries() * CATALOG_ENTRY_BYTES,
            move || {
                tenants
                    .upgrade()
                    .is_some_and(|t| drop_unused(&t, &metrics, tenant))
            },
        );
        Ok(Arc::new(TenantHandle {
            tenant,
            catalog,
            actor,
            stores: DashMap::new(),
            last_used_ms: AtomicU64::new(self.now_ms()),
            memory,
        }))
    }

    /// Drops tenants idle for longer than the configured time. A tenant
    /// whose handle is held by an in-flight request stays: dropping it then
    /// could let a reload race the request's write.
    pub fn evict_idle(&self) -> usize {
        let now = self.now_ms();
        let idle_ms = u64::try_from(self.idle_evict.as_millis()).unwrap_or(u64::MAX);
        // Catalogs grow and shrink with edits: refresh their size under the
        // budget here rather than on every edit.
        for h in self.loaded_tenants() {
            h.memory
                .set_bytes(h.catalog.entries() * CATALOG_ENTRY_BYTES);
        }
        self.budget.enforce();
        let mut evicted = 0;
        self.tenants.retain(|_, slot| match slot.get() {
            Some(h) => {
                let idle = now.saturating_sub(h.last_used_ms.load(Ordering::Relaxed)) >= idle_ms;
                if idle && Arc::strong_count(h) == 1 && Arc::strong_count(slot) == 1 {
                    self.metrics.tenants_loaded.dec();
                    self.metrics.catalog_entries.sub(h.catalog.entries() as i64);
                    evicted += 1;
                    false
                } else {
                    true
                }
            }
            // A failed load leaves an empty slot behind; drop it.
            None => Arc::strong_count(slot) > 1,
        });
        if evicted > 0 {
            tracing::info!(evicted, "idle tenants evicted");
        }
        evicted
    }

    /// Hit/miss counters and sizes for /health/cache.
    pub fn stats(&self) -> CacheStats {
        let hits = self.metrics.catalog_hits.get();
        let misses = self.metrics.catalog_misses.get();
        let loaded = self.loaded_tenants();
        CacheStats {
            hits,
            misses,
            hit_rate: if hits + misses == 0 {
                0.0
            } else {
                hits as f64 / (hits + misses) as f64
            },
            tenants_loaded: loaded.len(),
            entries: loaded.iter().map(|h| h.catalog.entries()).sum(),
            memory: self.budget.stats(),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub hit_rate: f64,
    pub tenants_loaded: usize,
    pub entries: usize,
    /// The instance's memory budget and what each part holds.
    pub memory: BudgetStats,
}

impl From<actix::MailboxError> for Error {
    fn from(e: actix::MailboxError) -> Self {
        Error::Unavailable(format!("actor unavailable: {e}"))
    }
}
