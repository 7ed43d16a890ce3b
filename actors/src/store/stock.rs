//! A store's stock levels in memory and its live subscribers. Owned by the
//! StoreActor; levels change only to values PostgreSQL returned after a
//! commit (or another instance reported), so memory never runs ahead of the
//! database.

use crate::domain::stock::Level;
use crate::memory::{Holder, MemoryBudget, Part};
use parking_lot::Mutex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

/// One change of one (warehouse, variant) level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct StockChange {
    pub variant_id: Uuid,
    pub warehouse_id: Uuid,
    /// The level after the change.
    #[schema(value_type = String)]
    pub quantity: Decimal,
    #[schema(value_type = String)]
    pub delta: Decimal,
    pub cause: String,
    /// Per-store sequence on this instance: subscribers see changes in
    /// this order and resubscribe with `since_seq`.
    pub seq: u64,
}

/// What a subscriber receives.
#[derive(Debug, Clone)]
pub enum StockEvent {
    Change(StockChange),
}

/// The start of a subscription: either the missed changes or a snapshot.
pub enum Start {
    Replay(Vec<StockChange>),
    Snapshot { seq: u64, levels: Vec<Level> },
}

/// Where a subscriber left off: sequence numbers are per store actor, so
/// they only mean something with the `epoch` of the actor that gave them
/// (another instance, or this one after a restart, has another epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub epoch: u32,
    pub seq: u64,
}

struct Subscriber {
    tx: mpsc::Sender<StockEvent>,
    /// Set when the subscriber is dropped for being slow, so its socket can
    /// say why it was closed.
    lagged: Arc<AtomicBool>,
}

pub struct StockBook {
    /// Random per book: names this sequence of `seq` numbers.
    epoch: u32,
    /// Quantity and version (commit order) per (warehouse, variant).
    levels: HashMap<(Uuid, Uuid), (Decimal, i64)>,
    seq: u64,
    /// Shared with the memory budget's evictor, which may empty it (a
    /// resume then gets a snapshot instead of the missed changes).
    replay: Arc<Mutex<VecDeque<StockChange>>>,
    replay_cap: usize,
    /// The replay buffer's place under the memory budget, once attached.
    holder: Option<Arc<Holder>>,
    subscribers: Vec<Subscriber>,
}

/// Estimated bytes of one buffered change (its `cause` is a short word).
const CHANGE_BYTES: usize = std::mem::size_of::<StockChange>() + 16;

impl StockBook {
    pub fn new(levels: HashMap<(Uuid, Uuid), (Decimal, i64)>, replay_cap: usize) -> Self {
        Self {
            epoch: rand::random(),
            levels,
            seq: 0,
            replay: Arc::new(Mutex::new(VecDeque::new())),
            replay_cap,
            holder: None,
            subscribers: Vec::new(),
        }
    }

    /// Puts the replay buffer under `budget`: its size is counted and the
    /// budget may empty it when it is the least recently used item.
    pub fn under_budget(mut self, budget: &MemoryBudget) -> Self {
        let buffer = Arc::downgrade(&self.replay);
        let len = self.replay.lock().len();
        let holder = budget.hold(Part::Replay, len * CHANGE_BYTES, move || {
            if let Some(b) = buffer.upgrade() {
                let mut b = b.lock();
                b.clear();
                b.shrink_to_fit();
            }
            true
        });
        self.holder = Some(holder);
        self
    }

    /// Keeps the budget's view of the buffer current after a change.
    fn account(&self, len: usize) {
        if let Some(h) = &self.holder {
            h.set_bytes(len * CHANGE_BYTES);
            h.touch();
        }
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The level this book holds (0 when it holds none).
    pub fn quantity(&self, warehouse: Uuid, variant: Uuid) -> Decimal {
        self.levels
            .get(&(warehouse, variant))
            .map(|(q, _)| *q)
            .unwrap_or_default()
    }

    pub fn subscriber_count(&self) -> usize {
        self.subscribers.len()
    }

    pub fn levels(&self, variant: Option<Uuid>) -> Vec<Level> {
        let mut out: Vec<Level> = self
            .levels
            .iter()
            .filter(|((_, v), _)| variant.is_none_or(|x| x == *v))
            .map(|((w, v), (q, _))| Level {
                warehouse_id: *w,
                variant_id: *v,
                quantity: *q,
                negative: Level::is_negative(*q),
                // Cost is a back-office figure: read from PostgreSQL only.
                avg_cost: None,
            })
            .collect();
        out.sort_by_key(|l| (l.variant_id, l.warehouse_id));
        out
    }

    /// Sets a level to what the database says at `version`; broadcasts if
    /// it changed. A version not newer than the one held is an older
    /// commit's answer arriving late: ignored. Answers how many subscribers
    /// were dropped for being slow.
    pub fn set(
        &mut self,
        warehouse: Uuid,
        variant: Uuid,
        quantity: Decimal,
        delta: Decimal,
        version: i64,
        cause: &str,
    ) -> usize {
        let key = (warehouse, variant);
        let old = self.levels.get(&key).copied();
        if old.is_some_and(|(_, v)| v >= version) {
            return 0;
        }
        self.levels.insert(key, (quantity, version));
        if old.map(|(q, _)| q) == Some(quantity) {
            return 0;
        }
        self.seq += 1;
        let change = StockChange {
            variant_id: variant,
            warehouse_id: warehouse,
            quantity,
            delta,
            cause: cause.to_owned(),
            seq: self.seq,
        };
        let len = {
            let mut replay = self.replay.lock();
            if replay.len() >= self.replay_cap {
                replay.pop_front();
            }
            replay.push_back(change.clone());
            replay.len()
        };
        self.account(len);
        let mut slow = 0;
        // Never wait on a subscriber: a full queue means it is too slow.
        // Only those count as dropped here: a closed one was counted off by
        // its socket when it closed.
        self.subscribers.retain(
            |s| match s.tx.try_send(StockEvent::Change(change.clone())) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.lagged.store(true, Ordering::SeqCst);
                    slow += 1;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            },
        );
        slow
    }

    /// Subscribers whose socket is still open (closed ones wait for the
    /// next change or subscription to be pruned).
    pub fn open_subscriber_count(&self) -> usize {
        self.subscribers
            .iter()
            .filter(|s| !s.tx.is_closed())
            .count()
    }

    /// Registers a subscriber with a queue of `queue` events. Resuming this
    /// book's epoch inside the replay window gives the missed changes;
    /// anything else gives a snapshot.
    pub fn subscribe(
        &mut self,
        resume: Option<Resume>,
        queue: usize,
    ) -> (Start, mpsc::Receiver<StockEvent>, Arc<AtomicBool>) {
        let since_seq = resume.filter(|r| r.epoch == self.epoch).map(|r| r.seq);
        // Prune the closed ones here too: a store without sales would keep
        // every subscriber that ever left.
        self.subscribers.retain(|s| !s.tx.is_closed());
        let (tx, rx) = mpsc::channel(queue.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        self.subscribers.push(Subscriber {
            tx,
            lagged: Arc::clone(&lagged),
        });
        let replay = self.replay.lock();
        let oldest = replay.front().map_or(self.seq + 1, |c| c.seq);
        let start = match since_seq {
            // Everything after `since` is still in the window (or nothing
            // happened since).
            Some(since) if since <= self.seq && since + 1 >= oldest => {
                Start::Replay(replay.iter().filter(|c| c.seq > since).cloned().collect())
            }
            _ => Start::Snapshot {
                seq: self.seq,
                levels: self.levels(None),
            },
        };
        let len = replay.len();
        drop(replay);
        self.account(len);
        (start, rx, lagged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_subscriber_is_dropped_and_flagged() {
        let mut book = StockBook::new(HashMap::new(), 100);
        let (_, mut fast, _) = book.subscribe(None, 10);
        let (_, _slow, lagged) = book.subscribe(None, 1);
        let (w, v) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(
            book.set(w, v, Decimal::from(5), Decimal::from(5), 1, "receiving"),
            0
        );
        assert_eq!(
            book.set(w, v, Decimal::from(4), Decimal::NEGATIVE_ONE, 2, "sale"),
            1
        );
        assert!(lagged.load(Ordering::SeqCst));
        assert_eq!(book.subscriber_count(), 1);
        assert!(fast.try_recv().is_ok() && fast.try_recv().is_ok());
    }

    #[test]
    fn resubscribe_replays_or_snapshots() {
        let mut book = StockBook::new(HashMap::new(), 2);
        let (w, v) = (Uuid::now_v7(), Uuid::now_v7());
        for q in 1..=3 {
            book.set(w, v, Decimal::from(q), Decimal::ONE, q, "receiving");
        }
        let epoch = book.epoch();
        let at = |seq| Some(Resume { epoch, seq });
        match book.subscribe(at(1), 10).0 {
            Start::Replay(c) => assert_eq!(c.iter().map(|c| c.seq).collect::<Vec<_>>(), vec![2, 3]),
            Start::Snapshot { .. } => panic!("expected replay"),
        }
        // Older than the window: snapshot.
        assert!(matches!(
            book.subscribe(at(0), 10).0,
            Start::Snapshot { seq: 3, .. }
        ));
        // Another epoch's numbers never replay.
        let other = Some(Resume {
            epoch: epoch.wrapping_add(1),
            seq: 2,
        });
        assert!(matches!(
            book.subscribe(other, 10).0,
            Start::Snapshot { .. }
        ));
    }

    /// Two commits' answers arriving swapped: the older level (lower
    /// version) is ignored, so a sale never shows as raising a level.
    #[test]
    fn older_level_never_overwrites_a_newer_one() {
        let mut book = StockBook::new(HashMap::new(), 100);
        let (_, mut sub, _) = book.subscribe(None, 10);
        let (w, v) = (Uuid::now_v7(), Uuid::now_v7());
        // Commit 2 (version 2: 8) reaches the actor before commit 1 (9).
        book.set(w, v, Decimal::from(8), Decimal::NEGATIVE_ONE, 2, "sale");
        book.set(w, v, Decimal::from(9), Decimal::NEGATIVE_ONE, 1, "sale");
        assert_eq!(book.levels(None)[0].quantity, Decimal::from(8));
        assert_eq!(book.seq, 1);
        assert!(
            matches!(sub.try_recv(), Ok(StockEvent::Change(c)) if c.quantity == Decimal::from(8))
        );
        assert!(sub.try_recv().is_err());
        // A snapshot's version counts too.
        let mut book = StockBook::new(HashMap::from([((w, v), (Decimal::from(3), 7))]), 10);
        book.set(w, v, Decimal::from(4), Decimal::ONE, 6, "return");
        assert_eq!(book.levels(None)[0].quantity, Decimal::from(3));
    }
}
