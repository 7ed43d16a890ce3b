//! Applies what other instances announce on the bus to the actors this
//! instance runs: catalog reloads, token revocations, stock levels, and a
//! full resync after the bus (re)connects or this listener fell behind.
//! Events are hints (at most once); each receiver re-reads PostgreSQL or
//! takes committed values, so a lost or repeated event does no harm.

use super::Directory;
use crate::bus::{BusEvent, Envelope};
use crate::store::messages::ApplyLevels;
use crate::tenant::messages::{ReloadEntity, ResyncCatalog};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

impl Directory {
    /// Listens to the bus until it closes. Spawned once per instance.
    pub async fn follow_bus(self: Arc<Self>) {
        let mut rx = self.bus.subscribe();
        let me = self.bus.origin();
        loop {
            let env = match rx.recv().await {
                Ok(env) => env,
                // Fell behind: treat like a reconnect, re-check everything.
                Err(RecvError::Lagged(_)) => Envelope {
                    origin: Uuid::nil(),
                    event: BusEvent::Resync,
                },
                Err(RecvError::Closed) => break,
            };
            if env.origin == me {
                continue;
            }
            self.dispatch(env.event).await;
        }
    }

    async fn dispatch(&self, event: BusEvent) {
        match event {
            BusEvent::CatalogChanged {
                tenant_id,
                entity,
                id,
                ..
            } => {
                if let Some(handle) = self.loaded(tenant_id) {
                    let _ = handle.actor.send(ReloadEntity { entity, id }).await;
                }
            }
            BusEvent::TokenRevoked { token_hash, .. } => {
                if let Some(hash) = crate::auth::parse_token_hash(&token_hash) {
                    self.auth.forget(&hash);
                }
            }
            BusEvent::StockChanged {
                tenant_id,
                store_id,
                cause,
                levels,
            } => {
                // Another instance committed: show it to our subscribers.
                if let Some(store) = self.running_store(tenant_id, store_id) {
                    let _ = store
                        .send(ApplyLevels {
                            levels,
                            cause,
                            publish: false,
                        })
                        .await;
                }
            }
            BusEvent::Resync => {
                for handle in self.loaded_tenants() {
                    let _ = handle.actor.send(ResyncCatalog).await;
                }
            }
        }
    }
}
