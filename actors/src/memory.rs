//! The instance-wide memory budget: one bound in bytes (`memory.budget_bytes`)
//! over everything this instance keeps only to be fast — recent receipts
//! for the idempotency fast path, loaded tenant catalogs and the stock
//! replay buffers of live subscribers. All three can be rebuilt from
//! PostgreSQL, so when the sum passes the budget the least recently used
//! item of any part, any store, any tenant is dropped.
//!
//! Recent receipts live here (not in their store actor) so that their
//! order is one instance-wide LRU. Catalogs and replay buffers stay with
//! their owners; each registers a [`Holder`] that carries its size, its last
//! use and how to drop it. Sizes are estimates of heap bytes (what a part
//! holds times a per-item cost), not allocator measurements.

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use uuid::Uuid;

/// Estimated bytes of one fast-path entry besides its number's text: the
/// key, the entry, its place in the order map and the hash table's slack.
const RECEIPT_ENTRY_BYTES: usize =
    std::mem::size_of::<((Uuid, Uuid), (u64, u32, ReplayInfo))>() * 8 / 7 + 64;

/// What is kept of a committed receipt to answer its replay without the
/// database: enough to check the body and to rebuild the stored receipt from
/// the replayed request, and to notice when a rebuild would differ.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayInfo {
    pub body_hash: [u8; 32],
    pub number: String,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub subtotal: i64,
    pub discount_total: i64,
    pub total: i64,
    pub paid: i64,
    pub change: i64,
    /// The shift's employee (not part of the request).
    pub employee_id: Option<Uuid>,
    /// Digest of the whole stored receipt (lines, payments, taxes,
    /// discounts, rounding, points): a rebuild must match it exactly.
    pub digest: u64,
}

/// The parts of the budget (metric label `part`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Receipts,
    Catalogs,
    Replay,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Receipts => "receipts",
            Part::Catalogs => "catalogs",
            Part::Replay => "replay",
        }
    }
}

#[derive(Clone)]
struct BudgetMetrics {
    limit: IntGauge,
    bytes: IntGaugeVec,
    evictions: IntCounterVec,
}

impl BudgetMetrics {
    fn new() -> prometheus::Result<Self> {
        Ok(Self {
            limit: IntGauge::new("jowi_memory_budget_bytes", "The configured memory budget")?,
            bytes: IntGaugeVec::new(
                Opts::new(
                    "jowi_memory_bytes",
                    "Estimated bytes held under the memory budget, by part",
                ),
                &["part"],
            )?,
            evictions: IntCounterVec::new(
                Opts::new(
                    "jowi_memory_evictions_total",
                    "Items dropped to keep the memory budget, by part",
                ),
                &["part"],
            )?,
        })
    }
}

/// The shared accounting; holders keep a reference so their size changes
/// and their drop reach the totals.
struct Ledger {
    clock: AtomicU64,
    total: AtomicI64,
    metrics: BudgetMetrics,
}

impl Ledger {
    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    fn add(&self, part: Part, bytes: i64) {
        if bytes != 0 {
            self.total.fetch_add(bytes, Ordering::Relaxed);
            self.metrics
                .bytes
                .with_label_values(&[part.as_str()])
                .add(bytes);
        }
    }
}

/// A catalog or a replay buffer under the budget. Its owner keeps the
/// `Arc`; dropping it takes its bytes off the budget.
pub struct Holder {
    part: Part,
    bytes: AtomicI64,
    last_used: AtomicU64,
    ledger: Arc<Ledger>,
    /// Drops the item; answers false when it is in use and must stay.
    evict: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Holder {
    /// Marks a use (moves it to the most recently used end).
    pub fn touch(&self) {
        self.last_used.store(self.ledger.tick(), Ordering::Relaxed);
    }

    /// Sets the item's estimated size.
    pub fn set_bytes(&self, bytes: usize) {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        let old = self.bytes.swap(bytes, Ordering::Relaxed);
        self.ledger.add(self.part, bytes - old);
    }

    pub fn bytes(&self) -> usize {
        usize::try_from(self.bytes.load(Ordering::Relaxed)).unwrap_or(0)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        self.ledger
            .add(self.part, -self.bytes.load(Ordering::Relaxed));
    }
}

#[derive(Default)]
struct RecentReceipts {
    /// (store, receipt id) -> (last use, its second, what is kept).
    map: HashMap<(Uuid, Uuid), (u64, u32, ReplayInfo)>,
    /// Last use -> key: the front is the least recently used.
    order: BTreeMap<u64, (Uuid, Uuid)>,
}

fn receipt_bytes(info: &ReplayInfo) -> i64 {
    (RECEIPT_ENTRY_BYTES + info.number.len()) as i64
}

/// Sizes for /health and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BudgetStats {
    pub budget_bytes: u64,
    pub receipts_bytes: u64,
    pub receipts: u64,
    pub catalogs_bytes: u64,
    pub replay_bytes: u64,
    pub evictions: u64,
}

pub struct MemoryBudget {
    limit: i64,
    /// Recent receipts unused this long are dropped even under the budget:
    /// registers retry within seconds, and PostgreSQL answers later
    /// replays, so the steady state stays small and flat.
    receipt_ttl_s: u32,
    epoch: std::time::Instant,
    ledger: Arc<Ledger>,
    receipts: Mutex<RecentReceipts>,
    holders: Mutex<Vec<Weak<Holder>>>,
    /// One evictor at a time; others go on (the budget is a soft bound for
    /// the moment one eviction pass takes).
    evicting: AtomicBool,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, recent receipts kept at most
    /// `receipt_ttl` after their last use; metrics go to `registry`.
    pub fn new(
        limit: usize,
        receipt_ttl: std::time::Duration,
        registry: Option<&Registry>,
    ) -> prometheus::Result<Arc<Self>> {
        let metrics = BudgetMetrics::new()?;
        if let Some(r) = registry {
            r.register(Box::new(metrics.limit.clone()))?;
            r.register(Box::new(metrics.bytes.clone()))?;
            r.register(Box::new(metrics.evictions.clone()))?;
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        metrics.limit.set(limit);
        for p in [Part::Receipts, Part::Catalogs, Part::Replay] {
            metrics.bytes.with_label_values(&[p.as_str()]).set(0);
            metrics.evictions.with_label_values(&[p.as_str()]).reset();
        }
        Ok(Arc::new(Self {
            limit,
            receipt_ttl_s: u32::try_from(receipt_ttl.as_secs()).unwrap_or(u32::MAX),
            epoch: std::time::Instant::now(),
            ledger: Arc::new(Ledger {
                clock: AtomicU64::new(1),
                total: AtomicI64::new(0),
                metrics,
            }),
            receipts: Mutex::new(RecentReceipts::default()),
            holders: Mutex::new(Vec::new()),
            evicting: AtomicBool::new(false),
        }))
    }

    /// The fast-path entry of a receipt of `store`, marked as used.
    pub fn recent_receipt(&self, store: Uuid, id: Uuid) -> Option<ReplayInfo> {
        let mut r = self.receipts.lock();
        let tick = self.ledger.tick();
        let RecentReceipts { map, order } = &mut *r;
        let now = self.second();
        let (used, at, info) = map.get_mut(&(store, id))?;
        order.remove(used);
        *used = tick;
        *at = now;
        order.insert(tick, (store, id));
        Some(info.clone())
    }

    /// Remembers a committed receipt, then keeps the budget.
    pub fn remember_receipt(&self, store: Uuid, id: Uuid, info: ReplayInfo) {
        {
            let mut r = self.receipts.lock();
            let tick = self.ledger.tick();
            let added = receipt_bytes(&info);
            let now = self.second();
            let RecentReceipts { map, order } = &mut *r;
            if let Some((used, _, old)) = map.insert((store, id), (tick, now, info)) {
                order.remove(&used);
                self.ledger.add(Part::Receipts, -receipt_bytes(&old));
            }
            order.insert(tick, (store, id));
            self.ledger.add(Part::Receipts, added);
            // Expire from the least recently used end (also the oldest).
            let mut expired = 0;
            while let Some((&used, &key)) = order.iter().next() {
                match map.get(&key) {
                    Some((_, at, _)) if now.saturating_sub(*at) < self.receipt_ttl_s => break,
                    _ => {}
                }
                order.remove(&used);
                if let Some((_, _, info)) = map.remove(&key) {
                    self.ledger.add(Part::Receipts, -receipt_bytes(&info));
                }
                expired += 1;
            }
            if expired > 0 {
                self.ledger
                    .metrics
                    .evictions
                    .with_label_values(&[Part::Receipts.as_str()])
                    .inc_by(expired);
            }
        }
        self.enforce();
    }

    fn second(&self) -> u32 {
        u32::try_from(self.epoch.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// Registers a catalog or replay buffer of `bytes`; `evict` drops it
    /// (false when it is in use). Keeps the budget.
    pub fn hold(
        &self,
        part: Part,
        bytes: usize,
        evict: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Arc<Holder> {
        let h = Arc::new(Holder {
            part,
            bytes: AtomicI64::new(0),
            last_used: AtomicU64::new(self.ledger.tick()),
            ledger: Arc::clone(&self.ledger),
            evict: Box::new(evict),
        });
        h.set_bytes(bytes);
        {
            let mut hs = self.holders.lock();
            // Forget owners that are gone, so the list stays as long as the
            // set of live items.
            hs.retain(|w| w.strong_count() > 0);
            hs.push(Arc::downgrade(&h));
        }
        self.enforce();
        h
    }

    pub fn total_bytes(&self) -> usize {
        usize::try_from(self.ledger.total.load(Ordering::Relaxed)).unwrap_or(0)
    }

    pub fn limit_bytes(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }

    pub fn stats(&self) -> BudgetStats {
        let m = &self.ledger.metrics;
        let g = |p: Part| m.bytes.with_label_values(&[p.as_str()]).get().max(0) as u64;
        let e = |p: Part| m.evictions.with_label_values(&[p.as_str()]).get();
        BudgetStats {
            budget_bytes: self.limit.max(0) as u64,
            receipts_bytes: g(Part::Receipts),
            receipts: self.receipts.lock().map.len() as u64,
            catalogs_bytes: g(Part::Catalogs),
            replay_bytes: g(Part::Replay),
            evictions: e(Part::Receipts) + e(Part::Catalogs) + e(Part::Replay),
        }
    }

    fn evicted(&self, part: Part) {
        self.ledger
            .metrics
            .evictions
            .with_label_values(&[part.as_str()])
            .inc();
    }

    /// Drops least recently used items until the total is 5% under the
    /// budget (the slack makes passes rare). Callers hold no other lock.
    pub fn enforce(&self) {
        if self.ledger.total.load(Ordering::Relaxed) <= self.limit {
            return;
        }
        if self.evicting.swap(true, Ordering::Acquire) {
            return;
        }
        let low = self.limit - self.limit / 20;
        let mut holders: Vec<(u64, Arc<Holder>)> = self
            .holders
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|h| h.bytes() > 0)
            .map(|h| (h.last_used.load(Ordering::Relaxed), h))
            .collect();
        holders.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        while self.ledger.total.load(Ordering::Relaxed) > low {
            let next_holder = holders.last().map(|(used, _)| *used);
            // Receipts older than the oldest holder go first, in one lock.
            let dropped = {
                let mut r = self.receipts.lock();
                let RecentReceipts { map, order } = &mut *r;
                let mut dropped = 0u64;
                while self.ledger.total.load(Ordering::Relaxed) > low {
                    let Some((&used, &key)) = order.iter().next() else {
                        break;
                    };
                    if next_holder.is_some_and(|h| h < used) {
                        break;
                    }
                    order.remove(&used);
                    if let Some((_, _, info)) = map.remove(&key) {
                        self.ledger.add(Part::Receipts, -receipt_bytes(&info));
                    }
                    dropped += 1;
                }
                dropped
            };
            if dropped > 0 {
                self.ledger
                    .metrics
                    .evictions
                    .with_label_values(&[Part::Receipts.as_str()])
                    .inc_by(dropped);
                continue;
            }
            // The oldest item is a holder (or no receipts are left).
            let Some((_, h)) = holders.pop() else {
                break;
            };
            if (h.evict)() {
                self.evicted(h.part);
            }
        }
        self.evicting.store(false, Ordering::Release);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    const HOUR: Duration = Duration::from_secs(3600);

    fn info(n: u32) -> ReplayInfo {
        ReplayInfo {
            body_hash: [0; 32],
            number: format!("1-{n:04}"),
            occurred_at: Utc::now(),
            created_at: Utc::now(),
            subtotal: 1,
            discount_total: 0,
            total: 1,
            paid: 1,
            change: 0,
            employee_id: None,
            digest: 0,
        }
    }

    #[test]
    fn receipts_are_dropped_least_recently_used_first() {
        let per = receipt_bytes(&info(1)) as usize;
        let budget = MemoryBudget::new(per * 20, HOUR, None).unwrap();
        let store = Uuid::now_v7();
        let ids: Vec<Uuid> = (0..20).map(|_| Uuid::now_v7()).collect();
        for (n, id) in ids.iter().enumerate() {
            budget.remember_receipt(store, *id, info(n as u32));
        }
        assert!(
            budget.recent_receipt(store, ids[0]).is_some(),
            "touch the first"
        );
        budget.remember_receipt(store, Uuid::now_v7(), info(99));
        assert!(budget.total_bytes() <= per * 20);
        assert!(budget.recent_receipt(store, ids[0]).is_some());
        assert!(budget.recent_receipt(store, ids[1]).is_none());
        assert!(budget.stats().evictions >= 1);
    }

    #[test]
    fn unused_receipts_expire_even_under_the_budget() {
        let budget = MemoryBudget::new(1 << 20, Duration::ZERO, None).unwrap();
        let store = Uuid::now_v7();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        budget.remember_receipt(store, a, info(1));
        budget.remember_receipt(store, b, info(2));
        // A zero time to live keeps nothing past its own insert.
        assert!(budget.recent_receipt(store, a).is_none());
        assert!(budget.recent_receipt(store, b).is_none());
        assert_eq!(budget.stats().receipts, 0);
        assert_eq!(budget.stats().receipts_bytes, 0);
        assert!(budget.stats().evictions >= 2);
    }

    #[test]
    fn an_idle_holder_goes_before_recent_receipts_and_one_in_use_stays() {
        let per = receipt_bytes(&info(1)) as usize;
        let budget = MemoryBudget::new(per * 10, HOUR, None).unwrap();
        let asked = Arc::new(AtomicUsize::new(0));
        let a = Arc::clone(&asked);
        let busy = budget.hold(Part::Catalogs, per * 3, move || {
            a.fetch_add(1, Ordering::SeqCst);
            false
        });
        let slot: Arc<Mutex<Option<Arc<Holder>>>> = Arc::new(Mutex::new(None));
        let s = Arc::clone(&slot);
        let idle = budget.hold(Part::Replay, per * 3, move || s.lock().take().is_some());
        *slot.lock() = Some(idle);
        let store = Uuid::now_v7();
        for n in 0..6 {
            budget.remember_receipt(store, Uuid::now_v7(), info(n));
        }
        // Over budget: the busy catalog is asked first (oldest) and stays;
        // the idle replay buffer goes next.
        assert!(asked.load(Ordering::SeqCst) >= 1);
        assert!(slot.lock().is_none());
        assert_eq!(budget.stats().replay_bytes, 0);
        assert_eq!(busy.bytes(), per * 3);
        assert!(budget.total_bytes() <= per * 10);
    }
}
