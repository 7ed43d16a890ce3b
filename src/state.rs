//! What every handler can reach. Built once per server (tests build their own).

use crate::settings::Settings;
use jowi_actors::auth::Authenticator;
use jowi_actors::bus::Bus;
use jowi_actors::directory::Directory;
use jowi_actors::metrics::Metrics;
use jowi_actors::pg::replica::ReadRouter;
use jowi_actors::pg::Db;
use jowi_actors::sessions::Sessions;
use std::sync::Arc;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub directory: Arc<Directory>,
    pub auth: Arc<Authenticator>,
    pub bus: Arc<dyn Bus>,
    pub metrics: Metrics,
    pub limits: Arc<crate::rate_limit::RateLimits>,
    /// Wakes the outbox sequencer after a write.
    pub webhooks: jowi_actors::webhooks::WebhookHandle,
    /// Reports and receipt history: the replica when healthy, else `db`.
    pub reads: ReadRouter,
    /// Tripped on SIGTERM: live subscriptions close with a reason.
    pub shutdown: crate::shutdown::Shutdown,
    /// Back-office sign-in and sessions (cookie auth).
    pub sessions: Arc<Sessions>,
    /// `server.trusted_proxies`: whose forwarding headers name the client.
    pub proxies: crate::client_addr::TrustedProxies,
}
