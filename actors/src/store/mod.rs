//! One `StoreActor` per store per instance. It orders the store's receipt
//! writes: the idempotency fast path (recent ids in memory), validation
//! against the catalog, hand-off to the group-commit writer. It does not
//! wait for one commit before taking the next receipt, and it answers each
//! receipt only after its commit. Stock levels in memory change only to the
//! values the commit returned, so a failed commit leaves nothing to undo.
//! It fans stock changes out to live subscribers and to the bus.
//!
//! Committed receipts are remembered in the instance-wide memory budget
//! (`crate::memory`), which may forget them; a replay of a forgotten one
//! (or after a restart) goes to the writer and PostgreSQL's receipt_keys
//! answers it. Levels reload from stock_levels.

pub mod messages;
pub mod stock;

use crate::bus::{Bus, BusEvent};
use crate::domain::commit::{Posted, Rejection};
use crate::domain::receipt::{
    body_hash, prepare, PreparedReceipt, ReceiptKind, StoredReceipt, Till,
};
use crate::domain::stock::LevelUpdate;
use crate::domain::store_settings::NegativeStock;
use crate::error::{Code, Error, Result};
use crate::memory::{MemoryBudget, ReplayInfo};
use crate::metrics::Metrics;
use crate::pg::{self, Db};
use crate::tenant::catalog::Catalog;
use crate::writer::Writer;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use messages::*;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use stock::StockBook;
use tokio::sync::oneshot;
use uuid::Uuid;

/// A receipt handed to the writer and not yet answered; a replay arriving
/// meanwhile waits for the same answer.
struct Pending {
    hash: [u8; 32],
    waiters: Vec<oneshot::Sender<Result<StoredReceipt>>>,
}

/// Digest of the whole stored receipt. A rebuild comes from the catalog and
/// the money context of the replay (rules, customer balance, the original
/// sale's returns), any of which may have changed since: taxes, discounts,
/// rounding and points as well as lines and payments must come out the
/// same, else PostgreSQL answers the replay.
fn receipt_digest(r: &StoredReceipt) -> u64 {
    let bytes = serde_json::to_vec(r).unwrap_or_default();
    let d = Sha256::digest(&bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_le_bytes(first)
}

fn replay_info(hash: [u8; 32], r: &StoredReceipt) -> ReplayInfo {
    ReplayInfo {
        body_hash: hash,
        number: r.number.clone(),
        occurred_at: r.occurred_at,
        created_at: r.created_at,
        subtotal: r.subtotal,
        discount_total: r.discount_total,
        total: r.total,
        paid: r.paid,
        change: r.change,
        employee_id: r.employee_id,
        digest: receipt_digest(r),
    }
}

pub struct StoreSettings {
    pub max_clock_skew_s: i64,
    pub ws_queue_events: usize,
    pub mailbox_capacity: usize,
}

pub struct StoreActor {
    tenant: Uuid,
    store: Uuid,
    catalog: Arc<Catalog>,
    writer: Writer,
    bus: Arc<dyn Bus>,
    metrics: Metrics,
    settings: Arc<StoreSettings>,
    budget: Arc<MemoryBudget>,
    db: Db,
    pending: HashMap<Uuid, Pending>,
    book: StockBook,
}

impl StoreActor {
    #[allow(clippy::too_many_arguments)] // wiring only; called from one place
    pub fn new(
        tenant: Uuid,
        store: Uuid,
        catalog: Arc<Catalog>,
        writer: Writer,
        bus: Arc<dyn Bus>,
        metrics: Metrics,
        settings: Arc<StoreSettings>,
        budget: Arc<MemoryBudget>,
        db: Db,
        book: StockBook,
    ) -> Self {
        Self {
            tenant,
            store,
            catalog,
            writer,
            bus,
            metrics,
            settings,
            budget,
            db,
            pending: HashMap::new(),
            book,
        }
    }

    /// The stored receipt of a replay, rebuilt from the replayed request and
    /// what the budget kept; None when the rebuild would not be exactly what
    /// was stored (the catalog changed since), so PostgreSQL answers it.
    fn rebuild(&self, msg: &CreateReceipt, info: &ReplayInfo) -> Option<StoredReceipt> {
        let prepared = self.validate(msg, info.occurred_at).ok()?;
        let r = prepared.stored(info.number.clone(), info.created_at, info.employee_id);
        let same = r.occurred_at == info.occurred_at
            && (r.subtotal, r.discount_total, r.total, r.paid, r.change)
                == (
                    info.subtotal,
                    info.discount_total,
                    info.total,
                    info.paid,
                    info.change,
                )
            && receipt_digest(&r) == info.digest;
        same.then_some(r)
    }

    /// Applies committed levels and tells subscribers and other instances.
    fn apply_levels(&mut self, levels: Vec<LevelUpdate>, cause: &str, publish: bool) {
        for l in &levels {
            let dropped = self.book.set(
                l.warehouse_id,
                l.variant_id,
                l.quantity,
                l.delta,
                l.version,
                cause,
            );
            if dropped > 0 {
                self.metrics.ws_subscribers.sub(dropped as i64);
            }
        }
        // The replay buffer grew: keep the budget (cheap when under it).
        self.budget.enforce();
        if publish && !levels.is_empty() {
            self.bus.publish(BusEvent::StockChanged {
                tenant_id: self.tenant,
                store_id: self.store,
                cause: cause.to_owned(),
                levels,
            });
        }
    }

    fn validate(&self, msg: &CreateReceipt, now: DateTime<Utc>) -> Result<PreparedReceipt> {
        let req = &msg.receipt;
        let store = self
            .catalog
            .store(self.store)
            .ok_or(Error::not_found("store"))?;
        let register = self
            .catalog
            .register(req.register_id)
            .filter(|r| r.store_id == self.store)
            .ok_or_else(|| Error::invalid("register_id", "no such register in this store"))?;
        if let Some(own) = msg.caller_register {
            if own != register.id {
                return Err(Error::Forbidden(
                    "a register token may only post its own receipts".into(),
                ));
            }
        }
        let till = Till {
            warehouse_id: store.default_warehouse_id,
            register_number: register.number,
        };
        let prepared = prepare(
            self.tenant,
            req,
            &*self.catalog,
            &till,
            &msg.money,
            now,
            self.settings.max_clock_skew_s,
        )?;
        // Refuse an online sale that would take stock below zero when the
        // store says so; an offline upload (client-numbered) happened
        // already and is always taken.
        let refuse = msg.money.settings.settings.negative_stock == NegativeStock::Refuse;
        if refuse && prepared.kind == ReceiptKind::Sale && prepared.client_seq.is_none() {
            let mut want: HashMap<Uuid, Decimal> = HashMap::new();
            for l in &prepared.lines {
                *want.entry(l.variant_id).or_default() += l.quantity.decimal();
            }
            for (variant, qty) in want {
                let have = self.book.quantity(prepared.warehouse_id, variant);
                if have < qty {
                    return Err(Error::conflict(
                        Code::InsufficientStock,
                        format!("variant {variant}: selling {qty}, {have} in stock"),
                    ));
                }
            }
        }
        Ok(prepared)
    }
}

impl StoreActor {
    /// The stored receipt `id` from PostgreSQL: a replay when stored with
    /// this body, a conflict with another, else `otherwise` (or unavailable).
    fn replay_from_db(
        &self,
        id: Uuid,
        hash: [u8; 32],
        otherwise: Option<Error>,
    ) -> impl std::future::Future<Output = Result<Posted>> + 'static {
        let (db, tenant) = (self.db.clone(), self.tenant);
        async move {
            match pg::receipts::load_replay(&db, tenant, id).await? {
                Some((h, r)) if h.as_slice() == hash.as_slice() => Ok(Posted::Replayed(r)),
                Some(_) => Err(Rejection::IdConflict.into()),
                None => Err(otherwise
                    .unwrap_or_else(|| Error::Unavailable("receipt being stored; retry".into()))),
            }
        }
    }
}

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.settings.mailbox_capacity);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.metrics
            .ws_subscribers
            .sub(self.book.open_subscriber_count() as i64);
    }
}

impl Handler<CreateReceipt> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Posted>>;

    fn handle(&mut self, msg: CreateReceipt, _: &mut Context<Self>) -> Self::Result {
        let id = msg.receipt.id;
        let hash = body_hash(&msg.receipt);
        // Fast path: a replay of something this store committed recently.
        if let Some(info) = self.budget.recent_receipt(self.store, id) {
            if info.body_hash != hash {
                return Box::pin(fut::ready(Err(Rejection::IdConflict.into())));
            }
            if let Some(r) = self.rebuild(&msg, &info) {
                return Box::pin(fut::ready(Ok(Posted::Replayed(r))));
            }
            // Stored, but the catalog changed since: the database answers.
            return Box::pin(self.replay_from_db(id, hash, None).into_actor(self));
        }
        if let Some(Pending { hash: h, waiters }) = self.pending.get_mut(&id) {
            if *h != hash {
                return Box::pin(fut::ready(Err(Rejection::IdConflict.into())));
            }
            let (tx, rx) = oneshot::channel();
            waiters.push(tx);
            return Box::pin(
                async move {
                    match rx.await {
                        Ok(r) => r.map(Posted::Replayed),
                        Err(_) => Err(Error::Unavailable("retry".into())),
                    }
                }
                .into_actor(self),
            );
        }
        let prepared = match self.validate(&msg, Utc::now()) {
            Ok(p) => p,
            // Idempotency comes before validation: a stored receipt the
            // catalog or the money rules no longer take (a price or register
            // changed, the stock or points it used are gone, and memory
            // forgot it) is still answered as the replay it is.
            Err(
                e @ (Error::Invalid { .. }
                | Error::NotFound { .. }
                | Error::Conflict { .. }
                | Error::TotalsMismatch { .. }),
            ) => return Box::pin(self.replay_from_db(id, hash, Some(e)).into_actor(self)),
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        let cause = prepared.kind.as_str();
        let pending = match self.writer.submit(prepared) {
            Ok(rx) => rx,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        self.pending.insert(
            id,
            Pending {
                hash,
                waiters: Vec::new(),
            },
        );
        Box::pin(
            async move {
                match pending.await {
                    Ok(r) => r,
                    Err(_) => Err(Error::Unavailable("the writer went away; retry".into())),
                }
            }
            .into_actor(self)
            .map(move |committed, act, _| {
                let waiters = act
                    .pending
                    .remove(&id)
                    .map(|p| p.waiters)
                    .unwrap_or_default();
                let result = match committed {
                    Ok(c) => {
                        act.apply_levels(c.levels, cause, true);
                        c.posted
                    }
                    Err(e) => Err(e),
                };
                match &result {
                    Ok(p) => {
                        let stored = p.receipt();
                        act.budget
                            .remember_receipt(act.store, id, replay_info(hash, stored));
                        for w in waiters {
                            let _ = w.send(Ok(stored.clone()));
                        }
                    }
                    Err(e) => {
                        // Nothing stored: waiters retry like the first caller.
                        for w in waiters {
                            let _ = w.send(Err(e.for_waiter()));
                        }
                    }
                }
                result
            }),
        )
    }
}

impl Handler<Subscribe> for StoreActor {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _: &mut Context<Self>) -> Self::Result {
        let (start, rx, lagged) = self
            .book
            .subscribe(msg.resume, self.settings.ws_queue_events);
        self.metrics.ws_subscribers.inc();
        MessageResult(Subscription {
            epoch: self.book.epoch(),
            start,
            events: rx,
            lagged,
        })
    }
}

impl Handler<ApplyLevels> for StoreActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyLevels, _: &mut Context<Self>) {
        self.apply_levels(msg.levels, &msg.cause, msg.publish);
    }
}

impl Handler<GetLevels> for StoreActor {
    type Result = MessageResult<GetLevels>;

    fn handle(&mut self, msg: GetLevels, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.book.levels(msg.variant_id))
    }
}
