//! Integrations: the outbox sequencer and the webhook delivery worker. Both
//! run in every instance; the sequencer works in one at a time (advisory
//! lock), deliveries are spread over all of them (claims with
//! `FOR UPDATE SKIP LOCKED` and a lease per subscription).
//!
//! Bounds: `max_concurrent` deliveries per instance, `per_host_concurrency`
//! per destination host, one in flight per subscription (that is what keeps
//! its order), `timeout_ms` per attempt, a separate pool of `pool_max`
//! connections so a backlog never takes connections from receipts.
//! Restart: nothing lives only in memory; an expired lease lets any
//! instance pick a subscription up where its cursor says.

pub mod metrics;
pub mod signing;
pub mod ssrf;
mod worker;

use serde::Deserialize;

pub use worker::{start, WebhookHandle};

/// `[webhooks]` in the configuration; see config/default.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Run the sequencer, the delivery worker and retention here.
    pub enabled: bool,
    /// Accept and call URLs on loopback/private/link-local addresses.
    pub allow_private_urls: bool,
    pub timeout_ms: u64,
    pub max_concurrent: usize,
    pub per_host_concurrency: usize,
    pub poll_interval_ms: u64,
    pub sequencer_interval_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// A subscription whose next event has failed this long is paused.
    pub retry_window_s: u64,
    pub lease_s: u64,
    pub events_per_claim: usize,
    pub retention_h: u64,
    pub pool_max: usize,
    /// When nothing in this instance signals a commit, the sequencer still
    /// looks for committed outbox rows this often (other instances' writes).
    #[serde(default = "default_sequencer_idle_ms")]
    pub sequencer_idle_ms: u64,
    /// A PEM file of extra CA certificates trusted for https:// receivers
    /// (private CAs), on top of the operating system's root store.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The sequencer vacuums `outbox_pending` (a queue: every row it moves
    /// is a dead row left behind) at most this often, after it moved rows;
    /// 0: never (autovacuum only). See `pg::vacuum`.
    #[serde(default = "default_pending_vacuum_interval_ms")]
    pub pending_vacuum_interval_ms: u64,
}

fn default_sequencer_idle_ms() -> u64 {
    1000
}

fn default_pending_vacuum_interval_ms() -> u64 {
    10_000
}

impl WebhookSettings {
    /// Each message names its key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("webhooks.timeout_ms", self.timeout_ms),
            ("webhooks.max_concurrent", self.max_concurrent as u64),
            (
                "webhooks.per_host_concurrency",
                self.per_host_concurrency as u64,
            ),
            ("webhooks.poll_interval_ms", self.poll_interval_ms),
            ("webhooks.sequencer_interval_ms", self.sequencer_interval_ms),
            ("webhooks.sequencer_idle_ms", self.sequencer_idle_ms),
            ("webhooks.backoff_base_ms", self.backoff_base_ms),
            ("webhooks.events_per_claim", self.events_per_claim as u64),
            ("webhooks.retention_h", self.retention_h),
            ("webhooks.pool_max", self.pool_max as u64),
        ] {
            if v == 0 {
                return Err(format!("{key} must be greater than 0"));
            }
        }
        if self.lease_s * 1000 <= self.timeout_ms * 2 {
            return Err(
                "webhooks.lease_s must exceed twice webhooks.timeout_ms: a claim must \
                        outlive the attempt it covers"
                    .into(),
            );
        }
        if self.retention_h * 3600 < self.retry_window_s {
            return Err(
                "webhooks.retention_h must cover webhooks.retry_window_s: events being retried \
                 must still be kept"
                    .into(),
            );
        }
        Ok(())
    }
}
