//! Layered configuration, loaded once in `main` and passed down (tests build
//! their own). See config/default.toml for every key.

use anyhow::{anyhow, Context};
use serde::Deserialize;
use std::net::SocketAddr;

const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub catalog: CatalogSettings,
    pub sales: SalesSettings,
    pub limits: LimitSettings,
    pub webhooks: jowi_actors::webhooks::WebhookSettings,
    pub maintenance: MaintenanceSettings,
    pub memory: MemorySettings,
    pub backoffice: BackofficeSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorySettings {
    pub budget_bytes: usize,
    pub receipt_ttl_s: u64,
}

/// Sign-in and sessions of the back-office web app (see `[backoffice]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackofficeSettings {
    pub session_idle_s: u64,
    pub session_absolute_s: u64,
    pub login_account_failures_max: i32,
    pub login_address_failures_max: i32,
    pub login_failure_window_s: u64,
    pub min_password_chars: usize,
}

impl BackofficeSettings {
    pub fn sessions(&self) -> jowi_actors::sessions::SessionSettings {
        use std::time::Duration;
        jowi_actors::sessions::SessionSettings {
            idle: Duration::from_secs(self.session_idle_s),
            absolute: Duration::from_secs(self.session_absolute_s),
            account_failures_max: self.login_account_failures_max,
            address_failures_max: self.login_address_failures_max,
            failure_window: Duration::from_secs(self.login_failure_window_s),
            min_password_chars: self.min_password_chars,
        }
    }
}

/// Rate limits; see `rate_limit` and config/default.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    pub enabled: bool,
    pub instances: u32,
    pub token_rps: u32,
    pub token_burst: u32,
    pub register_rps: u32,
    pub register_burst: u32,
    pub tenant_base_rps: u32,
    pub tenant_per_register_rps: u32,
    pub tenant_burst_s: u32,
    pub unknown_token_lookups_rps: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    /// host:port of a separate listener for /metrics; empty = on `listen`.
    pub metrics_listen: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub admin_token: String,
    pub shutdown_timeout_s: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For /
    /// X-Real-IP name the client; empty = the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_max: usize,
    pub wait_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub statement_cache: bool,
    pub migrate_on_start: bool,
    /// Hot standby for reports and receipt history; empty = none.
    pub replica_url: String,
    pub replica_max_lag_ms: u64,
    pub replica_check_interval_ms: u64,
    /// Report and receipt-history reads running at once, and how long one
    /// waits for a turn before a 503 (see `pg::replica`).
    pub history_reads_max: usize,
    pub history_reads_wait_ms: u64,
    pub slow_statement_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    pub url: String,
    pub channel: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogSettings {
    pub tenant_idle_evict_s: u64,
    pub evict_check_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesSettings {
    pub batch_max_receipts: usize,
    pub flush_interval_ms: u64,
    pub writer_concurrency: usize,
    pub writer_lanes_by: jowi_actors::writer::LaneKey,
    pub writer_queue: usize,
    pub store_mailbox_capacity: usize,
    pub offline_batch_max: usize,
    pub max_clock_skew_s: i64,
    pub ws_replay_events: usize,
    pub ws_queue_events: usize,
    pub running_totals: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSettings {
    pub partition_interval_ms: u64,
    pub partition_months_ahead: u32,
    pub partition_retention_months: u32,
    pub partition_lock_timeout_ms: u64,
    /// How often the points expiry job runs (`pg::points`).
    pub points_expiry_interval_ms: u64,
    /// With autovacuum off: how often the server vacuums and analyzes what
    /// autovacuum's thresholds say is due (`maintenance::vacuum`); 0 = never.
    pub vacuum_interval_ms: u64,
}

impl Settings {
    /// Defaults, then config/$JOWI_ENV.toml, then the environment.
    pub fn load() -> anyhow::Result<Self> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Ok(env) = std::env::var("JOWI_ENV") {
            let dir = std::env::var("JOWI_CONFIG_DIR").unwrap_or_else(|_| "config".into());
            builder =
                builder.add_source(config::File::with_name(&format!("{dir}/{env}")).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("JOWI")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("server.trusted_proxies"),
        );
        for (var, key) in [
            ("DATABASE_URL", "database.url"),
            ("REDIS_URL", "redis.url"),
            ("JOWI_LISTEN", "server.listen"),
            ("JOWI_ADMIN_TOKEN", "server.admin_token"),
        ] {
            if let Ok(value) = std::env::var(var) {
                builder = builder.set_override(key, value)?;
            }
        }
        let settings: Settings = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .map_err(|e| anyhow!("configuration error: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that values make sense; each message names its key.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        self.metrics_listen_addr()?;
        crate::client_addr::TrustedProxies::parse(&self.server.trusted_proxies)
            .map_err(|e| anyhow!("server.trusted_proxies: {e}"))?;
        self.database
            .url
            .parse::<tokio_postgres_config::Config>()
            .map_err(|e| anyhow!("database.url (DATABASE_URL) is not a PostgreSQL URL: {e}"))?;
        if !self.database.replica_url.is_empty() {
            self.database
                .replica_url
                .parse::<tokio_postgres_config::Config>()
                .map_err(|e| anyhow!("database.replica_url is not a PostgreSQL URL: {e}"))?;
        }
        let redis = &self.redis.url;
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(anyhow!(
                "redis.url (REDIS_URL) must start with redis:// or rediss://"
            ));
        }
        let positive = [
            ("database.pool_max", self.database.pool_max as u64),
            ("database.wait_timeout_ms", self.database.wait_timeout_ms),
            (
                "database.history_reads_max",
                self.database.history_reads_max as u64,
            ),
            (
                "database.connect_timeout_ms",
                self.database.connect_timeout_ms,
            ),
            ("server.max_body_bytes", self.server.max_body_bytes as u64),
            (
                "database.replica_check_interval_ms",
                self.database.replica_check_interval_ms,
            ),
            (
                "sales.batch_max_receipts",
                self.sales.batch_max_receipts as u64,
            ),
            (
                "sales.store_mailbox_capacity",
                self.sales.store_mailbox_capacity as u64,
            ),
            (
                "sales.offline_batch_max",
                self.sales.offline_batch_max as u64,
            ),
            ("sales.ws_replay_events", self.sales.ws_replay_events as u64),
            ("sales.ws_queue_events", self.sales.ws_queue_events as u64),
            ("memory.budget_bytes", self.memory.budget_bytes as u64),
            (
                "maintenance.partition_interval_ms",
                self.maintenance.partition_interval_ms,
            ),
            (
                "maintenance.partition_lock_timeout_ms",
                self.maintenance.partition_lock_timeout_ms,
            ),
            (
                "maintenance.points_expiry_interval_ms",
                self.maintenance.points_expiry_interval_ms,
            ),
            (
                "catalog.evict_check_interval_ms",
                self.catalog.evict_check_interval_ms,
            ),
            ("limits.instances", self.limits.instances.into()),
            ("limits.token_rps", self.limits.token_rps.into()),
            ("limits.token_burst", self.limits.token_burst.into()),
            ("limits.register_rps", self.limits.register_rps.into()),
            ("limits.register_burst", self.limits.register_burst.into()),
            ("limits.tenant_base_rps", self.limits.tenant_base_rps.into()),
            ("limits.tenant_burst_s", self.limits.tenant_burst_s.into()),
            (
                "limits.unknown_token_lookups_rps",
                self.limits.unknown_token_lookups_rps.into(),
            ),
            ("backoffice.session_idle_s", self.backoffice.session_idle_s),
            (
                "backoffice.session_absolute_s",
                self.backoffice.session_absolute_s,
            ),
            (
                "backoffice.min_password_chars",
                self.backoffice.min_password_chars as u64,
            ),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(anyhow!("{key} must be greater than 0"));
            }
        }
        self.webhooks.validate().map_err(|e| anyhow!(e))?;
        Ok(())
    }

    pub fn metrics_listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        let raw = &self.server.metrics_listen;
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse().map(Some).map_err(|e| {
            anyhow!("server.metrics_listen must be host:port or empty, got {raw:?}: {e}")
        })
    }

    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.listen.parse().map_err(|e| {
            anyhow!(
                "server.listen (JOWI_LISTEN) must be host:port, got {:?}: {e}",
                self.server.listen
            )
        })
    }
}

/// The parser of PostgreSQL URLs, re-exported by the actors crate.
mod tokio_postgres_config {
    pub use jowi_actors::pg::PgConfig as Config;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(extra: &str) -> anyhow::Result<Settings> {
        let s: Settings = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from_str(extra, config::FileFormat::Toml))
            .build()?
            .try_deserialize()
            .map_err(|e| anyhow!("configuration error: {e}"))?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn defaults_are_valid() {
        assert!(from_toml("").is_ok());
    }

    #[test]
    fn bad_values_name_their_key() {
        let err = |t: &str| {
            from_toml(t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err("[server]\nlisten = \"nowhere\"").contains("server.listen"));
        assert!(err("[database]\npool_max = 0").contains("database.pool_max"));
        assert!(err("[database]\nurl = \"mysql://x\"").contains("database.url"));
        assert!(err("[redis]\nurl = \"http://x\"").contains("redis.url"));
        assert!(err("[server]\nlisen = \"1.2.3.4:1\"").contains("lisen"));
        assert!(
            err("[server]\ntrusted_proxies = [\"10.0.0.0/40\"]").contains("server.trusted_proxies")
        );
        assert!(from_toml("[server]\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\"]").is_ok());
    }
}
