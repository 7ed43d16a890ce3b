//! Messages to a StoreActor.

use super::stock::{Start, StockEvent};
use crate::domain::commit::Posted;
use crate::domain::receipt::ReceiptRequest;
use crate::domain::stock::{Level, LevelUpdate};
use crate::error::Result;
use actix::Message;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Record a sale or return. Sent by `routes::receipts` (single and offline
/// batch). Idempotent per receipt id: a replay answers the stored receipt
/// (`Posted::Replayed`), a changed body answers `idempotency_conflict`.
/// Answered only after the receipt's batch has committed.
#[derive(Debug, Message)]
#[rtype(result = "Result<Posted>")]
pub struct CreateReceipt {
    pub receipt: ReceiptRequest,
    /// Set when the caller is a register token: it may post only its own.
    pub caller_register: Option<Uuid>,
    /// Rules, settings, role, customer and original sale for the money
    /// rules, resolved by the route (reads that may touch PostgreSQL).
    pub money: crate::domain::receipt_money::MoneyContext,
}

/// Start a live stock subscription. Sent by the WebSocket route.
#[derive(Debug, Message)]
#[rtype(result = "Subscription")]
pub struct Subscribe {
    pub resume: Option<super::stock::Resume>,
}

pub struct Subscription {
    /// The epoch of this store actor's sequence numbers.
    pub epoch: u32,
    pub start: Start,
    pub events: mpsc::Receiver<StockEvent>,
    /// True once the actor dropped this subscriber for being slow.
    pub lagged: Arc<AtomicBool>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Subscription")
    }
}

/// Levels committed elsewhere (stock documents, another instance). Idempotent:
/// a level already at that value changes nothing.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct ApplyLevels {
    pub levels: Vec<LevelUpdate>,
    pub cause: String,
    /// Tell other instances (false when the news came from the bus).
    pub publish: bool,
}

/// The store's levels, optionally for one variant.
#[derive(Debug, Message)]
#[rtype(result = "Vec<Level>")]
pub struct GetLevels {
    pub variant_id: Option<Uuid>,
}
