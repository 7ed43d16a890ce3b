//! Wiring of the read replica (`database.replica_url`): its pool, the
//! router that reports and receipt history read through, and the health
//! checker task.

use crate::settings::Settings;
use crate::startup::pool_settings;
use jowi_actors::pg::replica::{ReadBudget, ReadRouter, ReplicaMetrics};
use jowi_actors::pg::{self, Db};
use std::time::Duration;

pub fn read_router(
    settings: &Settings,
    primary: &Db,
    registry: &prometheus::Registry,
) -> anyhow::Result<ReadRouter> {
    let metrics = ReplicaMetrics::register(registry)?;
    let replica = if settings.database.replica_url.is_empty() {
        None
    } else {
        let mut ps = pool_settings(settings);
        ps.url = settings.database.replica_url.clone();
        // Reads only, a few at a time; fail fast so the primary takes over.
        ps.max_size = ps.max_size.clamp(1, 8);
        ps.connect_timeout = ps.connect_timeout.min(Duration::from_millis(1000));
        ps.wait_timeout = ps.wait_timeout.min(Duration::from_millis(1000));
        Some(Db::new(
            pg::connect(&ps)?,
            settings.database.statement_cache,
        ))
    };
    Ok(ReadRouter::new(
        primary.clone(),
        replica,
        Duration::from_millis(settings.database.replica_max_lag_ms),
        ReadBudget {
            max: settings.database.history_reads_max,
            wait: Duration::from_millis(settings.database.history_reads_wait_ms),
        },
        metrics,
    ))
}

pub fn spawn_checker(reads: &ReadRouter, settings: &Settings) {
    if !reads.has_replica() {
        return;
    }
    let reads = reads.clone();
    let every = Duration::from_millis(settings.database.replica_check_interval_ms);
    actix_rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            reads.check().await;
        }
    });
}
