//! `jowi-actors`: all hot state of the JOWi Shop server and the order in
//! which it is written. No HTTP here.
//!
//! Who owns what:
//! - `Directory` owns the set of loaded tenants; a `TenantActor` per tenant
//!   owns its `Catalog` (the only writer; HTTP handlers read it directly).
//! - `Authenticator` caches verified tokens.
//! - The bus (`bus`) tells other instances what changed; it is a hint, never
//!   the only copy: PostgreSQL is the system of record.
//!
//! Bounds: actor mailboxes (actix default 16 queued per sender, `send`
//! waits), the database pool (`database.pool_max`), bus queues (8,192 out,
//! 4,096 in), the token cache (100,000).

pub mod auth;
pub mod bus;
pub mod directory;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod pg;
pub mod store;
pub mod tenant;
pub mod writer;

pub use error::{Error, Result};
