//! Metrics of the outbox and the webhook worker.

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

#[derive(Clone)]
pub struct WebhookMetrics {
    pub delivered: IntCounter,
    pub failed: IntCounter,
    pub delivery_seconds: Histogram,
    /// Events not yet delivered over active, unpaused subscriptions.
    pub backlog: IntGauge,
    pub oldest_undelivered_seconds: Gauge,
    pub paused: IntGauge,
    /// Committed or in-flight events the sequencer has not published yet.
    pub outbox_pending: IntGauge,
    pub outbox_oldest_seconds: Gauge,
    pub sequenced: IntCounter,
}

impl WebhookMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let attempts = IntCounterVec::new(
            Opts::new(
                "jowi_webhook_deliveries_total",
                "Webhook delivery attempts by result",
            ),
            &["result"],
        )?;
        registry.register(Box::new(attempts.clone()))?;
        let m = WebhookMetrics {
            delivered: attempts.with_label_values(&["ok"]),
            failed: attempts.with_label_values(&["failed"]),
            delivery_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "jowi_webhook_delivery_seconds",
                    "Duration of one webhook attempt",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            )?,
            backlog: IntGauge::new(
                "jowi_webhook_queue_depth",
                "Events not yet delivered, summed over active subscriptions",
            )?,
            oldest_undelivered_seconds: Gauge::new(
                "jowi_webhook_oldest_undelivered_seconds",
                "Age of the oldest event an active subscription has not received",
            )?,
            paused: IntGauge::new(
                "jowi_webhook_paused_subscriptions",
                "Subscriptions paused after a long run of failures",
            )?,
            outbox_pending: IntGauge::new(
                "jowi_outbox_pending",
                "Outbox rows not yet published to the event log",
            )?,
            outbox_oldest_seconds: Gauge::new(
                "jowi_outbox_oldest_pending_seconds",
                "Age of the oldest unpublished outbox row",
            )?,
            sequenced: IntCounter::new(
                "jowi_outbox_sequenced_total",
                "Events published to the event log by this instance",
            )?,
        };
        registry.register(Box::new(m.delivery_seconds.clone()))?;
        registry.register(Box::new(m.backlog.clone()))?;
        registry.register(Box::new(m.oldest_undelivered_seconds.clone()))?;
        registry.register(Box::new(m.paused.clone()))?;
        registry.register(Box::new(m.outbox_pending.clone()))?;
        registry.register(Box::new(m.outbox_oldest_seconds.clone()))?;
        registry.register(Box::new(m.sequenced.clone()))?;
        Ok(m)
    }
}
