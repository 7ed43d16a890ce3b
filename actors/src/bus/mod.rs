//! The event bus between instances. Redis pub/sub when configured, else an
//! in-process bus (a single instance has nobody else to tell). Delivery is
//! at most once: every consumer treats events as hints and has a backstop
//! (versions, reload on reconnect), never as the only copy of anything.

use crate::domain::stock::LevelUpdate;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use uuid::Uuid;

pub mod redis_bus;

/// What changed. `version` lets a receiver skip stale or duplicate news.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BusEvent {
    CatalogChanged {
        tenant_id: Uuid,
        entity: Entity,
        id: Uuid,
        version: i64,
    },
    /// Levels another instance committed (receipts or a stock document).
    /// No sequence numbers: those belong to one store actor on one instance.
    StockChanged {
        tenant_id: Uuid,
        store_id: Uuid,
        cause: String,
        levels: Vec<LevelUpdate>,
    },
    TokenRevoked {
        tenant_id: Uuid,
        /// Hex sha256 of the revoked token.
        token_hash: String,
    },
    /// Sent by a bus to its own subscribers after it (re)connects: whatever
    /// was published meanwhile is lost, so every cache must re-check.
    Resync,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Product,
    Category,
    Store,
    Register,
    /// A store's settings (id: the store).
    StoreSettings,
    /// Taxes, discounts, the points program or store prices (id: the tenant).
    RetailRules,
}

/// An event with the instance that sent it, so an instance ignores its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub origin: Uuid,
    pub event: BusEvent,
}

pub trait Bus: Send + Sync {
    /// Fire and forget; never blocks the caller (bounded internal queue,
    /// overflow is dropped and counted: receivers resync anyway).
    fn publish(&self, event: BusEvent);
    /// Events from other instances (and `Resync`).
    fn subscribe(&self) -> broadcast::Receiver<Envelope>;
    /// Connected to the shared transport (always true in-process).
    fn connected(&self) -> bool;
    /// This instance's id.
    fn origin(&self) -> Uuid;
    fn kind(&self) -> &'static str;
}

/// Single instance: nothing to tell anyone.
pub struct InProcessBus {
    origin: Uuid,
    tx: broadcast::Sender<Envelope>,
}

impl Default for InProcessBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            origin: Uuid::new_v4(),
            tx,
        }
    }
}

impl Bus for InProcessBus {
    fn publish(&self, event: BusEvent) {
        // Own events are ignored by the dispatcher; sending them keeps the
        // in-process bus observable in tests.
        let _ = self.tx.send(Envelope {
            origin: self.origin,
            event,
        });
    }
    fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.tx.subscribe()
    }
    fn connected(&self) -> bool {
        true
    }
    fn origin(&self) -> Uuid {
        self.origin
    }
    fn kind(&self) -> &'static str {
        "in_process"
    }
}
