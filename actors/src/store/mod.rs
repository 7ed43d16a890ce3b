//! One `StoreActor` per store per instance. It orders the store's receipt
//! writes: the idempotency fast path (recent ids in memory), validation
//! against the catalog, hand-off to the group-commit writer. It does not
//! wait for one commit before taking the next receipt, and it answers each
//! receipt only after its commit. Stock levels in memory change only to the
//! values the commit returned, so a failed commit leaves nothing to undo.
//! It fans stock changes out to live subscribers and to the bus.
//!
//! On restart: recent ids are gone, PostgreSQL's receipt_keys still answers
//! replays; levels reload from stock_levels.

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
use crate::metrics::Metrics;
use crate::tenant::catalog::Catalog;
use crate::writer::Writer;
use actix::prelude::*;
use chrono::Utc;
use messages::*;
use rust_decimal::Decimal;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use stock::StockBook;
use tokio::sync::oneshot;
use uuid::Uuid;

/// Recent receipt ids kept for the idempotency fast path.
const RECENT_MAX: usize = 50_000;

enum Recent {
    Pending {
        hash: [u8; 32],
        waiters: Vec<oneshot::Sender<Result<StoredReceipt>>>,
    },
    Done {
        hash: [u8; 32],
        receipt: Arc<StoredReceipt>,
    },
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
    recent: HashMap<Uuid, Recent>,
    recent_order: VecDeque<Uuid>,
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
            recent: HashMap::new(),
            recent_order: VecDeque::new(),
            book,
        }
    }

    fn remember(&mut self, id: Uuid, entry: Recent) {
        if self.recent.insert(id, entry).is_none() {
            self.recent_order.push_back(id);
            while self.recent_order.len() > RECENT_MAX {
                if let Some(old) = self.recent_order.pop_front() {
                    // Never forget a pending one: its waiters need it.
                    if matches!(self.recent.get(&old), Some(Recent::Done { .. })) {
                        self.recent.remove(&old);
                    } else {
                        self.recent_order.push_back(old);
                        break;
                    }
                }
            }
        }
    }

    /// Applies committed levels and tells subscribers and other instances.
    fn apply_levels(&mut self, levels: Vec<LevelUpdate>, cause: &str, publish: bool) {
        for l in &levels {
            let dropped = self
                .book
                .set(l.warehouse_id, l.variant_id, l.quantity, l.delta, cause);
            if dropped > 0 {
                self.metrics.ws_subscribers.sub(dropped as i64);
            }
        }
        if publish && !levels.is_empty() {
            self.bus.publish(BusEvent::StockChanged {
                tenant_id: self.tenant,
                store_id: self.store,
                cause: cause.to_owned(),
                levels,
            });
        }
    }

    fn validate(&self, msg: &CreateReceipt) -> Result<PreparedReceipt> {
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
            Utc::now(),
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

impl Actor for StoreActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.settings.mailbox_capacity);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.metrics
            .ws_subscribers
            .sub(self.book.subscriber_count() as i64);
    }
}

impl Handler<CreateReceipt> for StoreActor {
    type Result = ResponseActFuture<Self, Result<Posted>>;

    fn handle(&mut self, msg: CreateReceipt, _: &mut Context<Self>) -> Self::Result {
        let id = msg.receipt.id;
        let hash = body_hash(&msg.receipt);
        // Fast path: a replay of something this actor has seen.
        match self.recent.get_mut(&id) {
            Some(Recent::Done { hash: h, receipt }) => {
                let r = if *h == hash {
                    Ok(Posted::Replayed((**receipt).clone()))
                } else {
                    Err(Rejection::IdConflict.into())
                };
                return Box::pin(fut::ready(r));
            }
            Some(Recent::Pending { hash: h, waiters }) => {
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
            None => {}
        }
        let prepared = match self.validate(&msg) {
            Ok(p) => p,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        let cause = prepared.kind.as_str();
        let pending = match self.writer.submit(prepared) {
            Ok(rx) => rx,
            Err(e) => return Box::pin(fut::ready(Err(e))),
        };
        self.remember(
            id,
            Recent::Pending {
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
                let waiters = match act.recent.remove(&id) {
                    Some(Recent::Pending { waiters, .. }) => waiters,
                    _ => Vec::new(),
                };
                let result = match committed {
                    Ok(c) => {
                        act.apply_levels(c.levels, cause, true);
                        c.posted
                    }
                    Err(e) => Err(e),
                };
                match &result {
                    Ok(p) => {
                        let stored = p.receipt().clone();
                        act.remember(
                            id,
                            Recent::Done {
                                hash,
                                receipt: Arc::new(stored.clone()),
                            },
                        );
                        for w in waiters {
                            let _ = w.send(Ok(stored.clone()));
                        }
                    }
                    Err(e) => {
                        // Nothing stored: waiters retry like the first caller.
                        act.recent_order.retain(|x| *x != id);
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
