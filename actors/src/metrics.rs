//! Counters and gauges of the actors, registered on the app's registry
//! (no global registry: each test app has its own).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

#[derive(Clone)]
pub struct Metrics {
    pub catalog_hits: IntCounter,
    pub catalog_misses: IntCounter,
    pub tenants_loaded: IntGauge,
    pub catalog_entries: IntGauge,
    pub writer_batch_receipts: Histogram,
    pub writer_commit_seconds: Histogram,
    pub writer_failures: IntCounter,
    pub ws_subscribers: IntGauge,
    pub bus_connected: IntGauge,
    pub bus_events: IntCounterVec,
    pub db_pool_size: IntGauge,
    pub db_pool_available: IntGauge,
    pub db_pool_max: IntGauge,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let lookups = IntCounterVec::new(
            Opts::new(
                "jowi_catalog_lookups_total",
                "Catalog reads by whether the tenant was in memory",
            ),
            &["result"],
        )?;
        registry.register(Box::new(lookups.clone()))?;
        let m = Metrics {
            catalog_hits: lookups.with_label_values(&["hit"]),
            catalog_misses: lookups.with_label_values(&["miss"]),
            tenants_loaded: IntGauge::new(
                "jowi_catalog_tenants_loaded",
                "Tenants whose catalog is in memory",
            )?,
            catalog_entries: IntGauge::new(
                "jowi_catalog_entries",
                "Products, barcodes and categories in memory",
            )?,
            writer_batch_receipts: Histogram::with_opts(
                HistogramOpts::new("jowi_writer_batch_receipts", "Receipts per group commit")
                    .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            )?,
            writer_commit_seconds: Histogram::with_opts(
                HistogramOpts::new("jowi_writer_commit_seconds", "Duration of one group commit")
                    .buckets(vec![
                        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
                    ]),
            )?,
            writer_failures: IntCounter::new(
                "jowi_writer_failed_batches_total",
                "Group commits that rolled back",
            )?,
            ws_subscribers: IntGauge::new(
                "jowi_ws_subscribers",
                "Open stock WebSocket subscriptions",
            )?,
            bus_connected: IntGauge::new(
                "jowi_bus_connected",
                "1 when the cross-instance bus is connected",
            )?,
            bus_events: IntCounterVec::new(
                Opts::new(
                    "jowi_bus_events_total",
                    "Bus events published (out) and received (in)",
                ),
                &["direction"],
            )?,
            db_pool_size: IntGauge::new("jowi_db_pool_size", "Open PostgreSQL connections")?,
            db_pool_available: IntGauge::new(
                "jowi_db_pool_available",
                "Idle PostgreSQL connections",
            )?,
            db_pool_max: IntGauge::new("jowi_db_pool_max", "PostgreSQL pool bound")?,
        };
        registry.register(Box::new(m.tenants_loaded.clone()))?;
        registry.register(Box::new(m.catalog_entries.clone()))?;
        registry.register(Box::new(m.writer_batch_receipts.clone()))?;
        registry.register(Box::new(m.writer_commit_seconds.clone()))?;
        registry.register(Box::new(m.writer_failures.clone()))?;
        registry.register(Box::new(m.ws_subscribers.clone()))?;
        registry.register(Box::new(m.bus_connected.clone()))?;
        registry.register(Box::new(m.bus_events.clone()))?;
        registry.register(Box::new(m.db_pool_size.clone()))?;
        registry.register(Box::new(m.db_pool_available.clone()))?;
        registry.register(Box::new(m.db_pool_max.clone()))?;
        Ok(m)
    }
}
