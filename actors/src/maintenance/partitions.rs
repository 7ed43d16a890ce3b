//! The partition maintainer: every `interval` it asks PostgreSQL what the
//! partitioned tables need (months ahead of `jowi_now()`, rows stranded in a
//! default partition, months past retention) and does it step by step. Any
//! number of instances may run it: each step takes a transaction-scoped
//! try-lock, so one does the work and the others skip that round.

use crate::error::Result;
use crate::pg::partitions::{self, Action, Done};
use crate::pg::Db;
use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PartitionSettings {
    pub interval: Duration,
    /// Months kept ready after the current one.
    pub months_ahead: i32,
    /// Detach months older than this many months; 0 keeps everything.
    pub retention_months: i32,
    /// Longest wait for a table lock per step (sales queue at most this).
    pub lock_timeout_ms: u64,
}

#[derive(Clone)]
pub struct PartitionMetrics {
    /// Rows in each default partition (0 when healthy; alerted on).
    pub default_rows: IntGaugeVec,
    /// Rows moved from a default partition into their month's partition.
    pub rows_moved: IntCounterVec,
    /// Steps done, by action and result.
    pub steps: IntCounterVec,
    /// Runs by result: done, busy (another instance had the lock), failed.
    pub runs: IntCounterVec,
}

impl PartitionMetrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let m = PartitionMetrics {
            default_rows: IntGaugeVec::new(
                Opts::new(
                    "jowi_partition_default_rows",
                    "Rows in the default partition of each partitioned table",
                ),
                &["table"],
            )?,
            rows_moved: IntCounterVec::new(
                Opts::new(
                    "jowi_partition_rows_moved_total",
                    "Rows moved out of a default partition into their month's partition",
                ),
                &["table"],
            )?,
            steps: IntCounterVec::new(
                Opts::new(
                    "jowi_partition_steps_total",
                    "Partition maintenance steps by action and result",
                ),
                &["action", "result"],
            )?,
            runs: IntCounterVec::new(
                Opts::new(
                    "jowi_partition_runs_total",
                    "Partition maintenance runs by result",
                ),
                &["result"],
            )?,
        };
        registry.register(Box::new(m.default_rows.clone()))?;
        registry.register(Box::new(m.rows_moved.clone()))?;
        registry.register(Box::new(m.steps.clone()))?;
        registry.register(Box::new(m.runs.clone()))?;
        Ok(m)
    }
}

/// Starts the maintainer on the current runtime; it runs until the runtime
/// stops. The first run is immediate.
pub fn spawn(db: Db, settings: PartitionSettings, metrics: PartitionMetrics) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(settings.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let result = match run_once(&db, &settings, &metrics).await {
                Ok(RunResult::Done) => "done",
                Ok(RunResult::Busy) => "busy",
                Err(e) => {
                    tracing::warn!(error = %e, "partition maintenance failed; retrying next round");
                    "failed"
                }
            };
            metrics.runs.with_label_values(&[result]).inc();
            match partitions::default_rows(&db).await {
                Ok(rows) => {
                    for (table, n) in rows {
                        metrics.default_rows.with_label_values(&[&table]).set(n);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "counting default partition rows failed"),
            }
        }
    });
}

pub enum RunResult {
    Done,
    /// Another instance was doing the work.
    Busy,
}

/// One round: plan, then each step in its own transaction. Stops at the
/// first failing step (a lock timeout, say); the next round resumes.
pub async fn run_once(
    db: &Db,
    settings: &PartitionSettings,
    metrics: &PartitionMetrics,
) -> Result<RunResult> {
    let steps = partitions::plan(db, settings.months_ahead, settings.retention_months).await?;
    for step in &steps {
        let action = match step.action {
            Action::Attach => "attach",
            Action::Detach => "detach",
        };
        let done = match partitions::run_step(db, step, settings.lock_timeout_ms).await {
            Ok(done) => done,
            Err(e) => {
                metrics.steps.with_label_values(&[action, "failed"]).inc();
                return Err(e);
            }
        };
        match done {
            Done::Busy => {
                metrics.steps.with_label_values(&[action, "busy"]).inc();
                return Ok(RunResult::Busy);
            }
            Done::Attached { moved } => {
                metrics.steps.with_label_values(&[action, "done"]).inc();
                if moved > 0 {
                    metrics
                        .rows_moved
                        .with_label_values(&[&step.parent])
                        .inc_by(moved as u64);
                    tracing::warn!(table = %step.parent, month = %step.month, moved,
                        "rows moved out of the default partition");
                } else {
                    tracing::info!(table = %step.parent, month = %step.month, "partition created");
                }
            }
            Done::Detached { kept_as } => {
                metrics.steps.with_label_values(&[action, "done"]).inc();
                if let Some(name) = kept_as {
                    tracing::info!(table = %step.parent, month = %step.month, kept_as = %name,
                        "partition detached (retention)");
                }
            }
        }
    }
    Ok(RunResult::Done)
}
