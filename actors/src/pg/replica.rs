//! Reads that may come from a hot standby: reports and receipt history.
//! With `database.replica_url` set, `ReadRouter::read` runs them on the
//! replica while it is healthy, else on the primary; everything else always
//! uses the primary.
//!
//! Healthy means: reachable, and it had replayed everything the primary had
//! written at most `max_lag` ago. A checker compares LSNs every
//! `check_interval` (the primary's current WAL position against the
//! replica's replay position), so an idle primary does not look like lag.
//! A read that fails on the replica for want of a connection is retried on
//! the primary at once. Each fallback is counted in
//! `jowi_replica_fallbacks_total{reason="down|lag"}`.
//!
//! These reads also have their own budget (`database.history_reads_max`
//! at once, wherever they run): a report over a year costs PostgreSQL far
//! more than a receipt, so without a bound a burst of them could take every
//! pooled connection and both cores' worth of PostgreSQL, and the memory
//! served requests and receipts would queue behind it. A read that waits
//! longer than the budget's wait is shed with a retryable 503 `busy`.

use super::Db;
use crate::error::{Error, Result};
use parking_lot::Mutex;
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct ReplicaMetrics {
    pub fallbacks: IntCounterVec,
    /// Milliseconds since the replica last had all of the primary's WAL.
    pub lag_ms: IntGauge,
    pub healthy: IntGauge,
    /// History reads running now (within `history_reads_max`).
    pub in_flight: IntGauge,
    /// History reads shed because the budget stayed full for its wait.
    pub shed: prometheus::IntCounter,
}

impl ReplicaMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let m = ReplicaMetrics {
            fallbacks: IntCounterVec::new(
                Opts::new(
                    "jowi_replica_fallbacks_total",
                    "Replica reads served by the primary, by reason (down, lag)",
                ),
                &["reason"],
            )?,
            lag_ms: IntGauge::new(
                "jowi_replica_lag_ms",
                "Milliseconds since the replica last had replayed all of the primary's WAL",
            )?,
            healthy: IntGauge::new(
                "jowi_replica_healthy",
                "1 while reports read from the replica",
            )?,
            in_flight: IntGauge::new(
                "jowi_history_reads_in_flight",
                "Report and receipt-history reads running now (bounded by database.history_reads_max)",
            )?,
            shed: prometheus::IntCounter::new(
                "jowi_history_reads_shed_total",
                "Report and receipt-history reads answered 503 because their budget stayed full",
            )?,
        };
        registry.register(Box::new(m.fallbacks.clone()))?;
        registry.register(Box::new(m.in_flight.clone()))?;
        registry.register(Box::new(m.shed.clone()))?;
        registry.register(Box::new(m.lag_ms.clone()))?;
        registry.register(Box::new(m.healthy.clone()))?;
        Ok(m)
    }
}

struct ReplicaState {
    db: Db,
    max_lag: Duration,
    /// Reachable and within the lag bound, as of the last check.
    healthy: AtomicBool,
    /// Why the last check found it unusable ("down" or "lag").
    reason: Mutex<&'static str>,
    caught_up_at: Mutex<Option<Instant>>,
}

#[derive(Clone)]
pub struct ReadRouter {
    primary: Db,
    replica: Option<Arc<ReplicaState>>,
    metrics: ReplicaMetrics,
    budget: Arc<Semaphore>,
    budget_wait: Duration,
}

struct InFlight<'a> {
    gauge: &'a IntGauge,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl<'a> InFlight<'a> {
    fn new(gauge: &'a IntGauge, permit: tokio::sync::SemaphorePermit<'a>) -> Self {
        gauge.inc();
        InFlight {
            gauge,
            _permit: permit,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// How many history reads may run at once, and how long one waits for a
/// turn before it is shed.
#[derive(Debug, Clone, Copy)]
pub struct ReadBudget {
    pub max: usize,
    pub wait: Duration,
}

impl ReadRouter {
    pub fn new(
        primary: Db,
        replica: Option<Db>,
        max_lag: Duration,
        budget: ReadBudget,
        metrics: ReplicaMetrics,
    ) -> Self {
        let replica = replica.map(|db| {
            Arc::new(ReplicaState {
                db,
                max_lag,
                // Unproven until the first check passes.
                healthy: AtomicBool::new(false),
                reason: Mutex::new("down"),
                caught_up_at: Mutex::new(None),
            })
        });
        ReadRouter {
            primary,
            replica,
            metrics,
            budget: Arc::new(Semaphore::new(budget.max.max(1))),
            budget_wait: budget.wait,
        }
    }

    pub fn primary(&self) -> &Db {
        &self.primary
    }

    /// Runs `f` within the history-read budget: on the replica when it is
    /// healthy, else (or when the replica turns out unreachable) on the
    /// primary.
    pub async fn read<'a, T, F, Fut>(&'a self, f: F) -> Result<T>
    where
        F: Fn(&'a Db) -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        let permit = match tokio::time::timeout(self.budget_wait, self.budget.acquire()).await {
            Ok(Ok(p)) => p,
            // Closed never happens (the semaphore is never closed); treat
            // it like a full budget rather than panic.
            Ok(Err(_)) | Err(_) => {
                self.metrics.shed.inc();
                return Err(Error::Busy(
                    "too many report and history reads at once (database.history_reads_max); retry shortly"
                        .into(),
                ));
            }
        };
        // A guard, so a read dropped mid-way (the client went away) still
        // leaves the gauge right.
        let _running = InFlight::new(&self.metrics.in_flight, permit);
        self.route(f).await
    }

    async fn route<'a, T, F, Fut>(&'a self, f: F) -> Result<T>
    where
        F: Fn(&'a Db) -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        let Some(rep) = &self.replica else {
            return f(&self.primary).await;
        };
        if !rep.healthy.load(Ordering::Relaxed) {
            let reason = *rep.reason.lock();
            self.metrics.fallbacks.with_label_values(&[reason]).inc();
            return f(&self.primary).await;
        }
        match f(&rep.db).await {
            Err(Error::Unavailable(e)) => {
                tracing::warn!(error = %e, "replica read failed; reading from the primary");
                rep.healthy.store(false, Ordering::Relaxed);
                *rep.reason.lock() = "down";
                self.metrics.healthy.set(0);
                self.metrics.fallbacks.with_label_values(&["down"]).inc();
                f(&self.primary).await
            }
            other => other,
        }
    }

    /// One health check; the server runs it every `check_interval`.
    pub async fn check(&self) {
        let Some(rep) = &self.replica else { return };
        let primary_lsn: Option<String> = match self
            .primary
            .query("SELECT pg_current_wal_lsn()::text", &[])
            .await
        {
            Ok(rows) => rows.first().map(|r| r.get(0)),
            // Primary down: nothing new can be written, so the replica is
            // as fresh as it gets; judge it on reachability alone.
            Err(_) => None,
        };
        let replayed = match &primary_lsn {
            Some(lsn) => rep
                .db
                .query(
                    "SELECT COALESCE(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::text::pg_lsn) >= 0, true)",
                    &[lsn],
                )
                .await
                .map(|rows| rows.first().map(|r| r.get::<_, bool>(0)).unwrap_or(false)),
            None => rep.db.query("SELECT true", &[]).await.map(|_| true),
        };
        let now = Instant::now();
        let (healthy, reason) = match replayed {
            Err(_) => (false, "down"),
            Ok(true) => {
                *rep.caught_up_at.lock() = Some(now);
                (true, "lag")
            }
            Ok(false) => {
                let since = rep.caught_up_at.lock().map(|t| now - t);
                match since {
                    Some(lag) if lag <= rep.max_lag => (true, "lag"),
                    _ => (false, "lag"),
                }
            }
        };
        let lag = rep
            .caught_up_at
            .lock()
            .map(|t| now - t)
            .unwrap_or(Duration::MAX);
        self.metrics
            .lag_ms
            .set(i64::try_from(lag.as_millis()).unwrap_or(i64::MAX));
        self.metrics.healthy.set(i64::from(healthy));
        *rep.reason.lock() = reason;
        rep.healthy.store(healthy, Ordering::Relaxed);
    }

    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }
}
