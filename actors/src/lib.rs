//! `jowi-actors`: all hot state of the JOWi Shop server and the order in
//! which it is written. No HTTP here.
//!
//! Layers (imports only point down; `tests/layers.rs` checks it):
//! ```text
//! directory                      spawns actors; routes bus events to them
//! store  tenant  writer  auth    actors and the write order;
//! maintenance import sessions   upkeep and back-office services beside them
//! pg     bus                     queries and rows; transport between instances
//! domain                         plain types, rules as pure functions
//! error  metrics  memory         leaves
//! ```
//! One receipt, top to bottom: `store::StoreActor` (idempotency fast path,
//! `domain::receipt::prepare`) -> `writer` (group commit) ->
//! `pg::sales::commit_batch` (read facts, `domain::commit::decide`, write).
//!
//! Who owns what:
//! - `Directory` owns the set of loaded tenants; a `TenantActor` per tenant
//!   owns its `Catalog` (the only writer; HTTP handlers read it directly).
//! - A `StoreActor` per store orders that store's receipts and owns its
//!   stock levels in memory and its live subscribers.
//! - The `writer` group-commits receipts of all stores; PostgreSQL decides
//!   what must hold across instances (ids, numbers, shifts, return limits).
//! - `Authenticator` caches verified tokens.
//! - The bus (`bus`) tells other instances what changed; it is a hint, never
//!   the only copy: PostgreSQL is the system of record.
//!
//! Bounds: store mailboxes (`sales.store_mailbox_capacity`), the writer
//! queue (`sales.writer_queue`, then 503), batch size and window, the
//! database pool (`database.pool_max`), subscriber queues
//! (`sales.ws_queue_events`) and replay windows, bus queues (8,192 out,
//! 4,096 in), the token cache (100,000). Recent receipts, loaded catalogs
//! and replay buffers share one instance-wide byte budget
//! (`memory.budget_bytes`, `memory`), least recently used out first.

pub mod auth;
pub mod bus;
pub mod directory;
pub mod domain;
pub mod error;
pub mod import;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod pg;
pub mod sessions;
pub mod store;
pub mod tenant;
pub mod webhooks;
pub mod writer;

pub use error::{Error, Result};
