//! The group-commit writer. Receipts from every store actor queue here, in
//! one of `concurrency` lanes chosen by store; each lane's collector closes
//! a batch at `batch_max` receipts or `flush_interval` after its first one
//! and commits one batch at a time (the next batch gathers while the
//! previous one commits). Lanes by store, because a batch locks rows keyed
//! by store, register and shift (shift and hourly totals, register
//! numbers, the store's stock levels) until COMMIT: two batches holding
//! receipts of the same registers queued on each other's row locks for
//! the other's whole commit (4.7 ms a statement in the profile of
//! 2026-11-29); two lanes never share a store. Each receipt's reply
//! is sent only after its batch's COMMIT — or its failure. A batch the
//! database refuses is split until the offending receipt fails alone (see
//! `settle`); when the database is unavailable every receipt of the batch
//! is told the outcome is unknown: retry with the same id.
//!
//! One batch, start to COMMIT (`commit` below): read the facts
//! (`pg::commit`, one round trip) -> decide every receipt
//! (`domain::commit::decide`, pure) -> write what was decided (one
//! pipelined round trip).

use crate::domain::commit::{decide, Posted};
use crate::domain::receipt::{micros, PreparedReceipt};
use crate::domain::stock::LevelUpdate;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::pg::commit::{answers, BatchTx, CommitError};
use crate::pg::Db;
use chrono::Utc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Semaphore};

#[derive(Debug, Clone)]
pub struct WriterSettings {
    pub batch_max: usize,
    pub flush_interval: Duration,
    /// Lanes, each committing one batch at a time (each holds one
    /// connection while it commits).
    pub concurrency: usize,
    /// What picks a receipt's lane.
    pub lanes_by: LaneKey,
    /// Receipts waiting for a batch (over all lanes) before submitters get
    /// "busy".
    pub queue: usize,
    /// How far a receipt may be dated before its shift opened.
    pub max_clock_skew: Duration,
    /// Write the report totals in each commit (off only to measure what
    /// they cost; reports are then stale until `jowi reports rebuild`).
    pub running_totals: bool,
    /// Signalled after every batch commit (the outbox sequencer listens:
    /// the batch appended events). None: nobody listens.
    pub on_commit: Option<Arc<tokio::sync::Notify>>,
}

/// What picks a receipt's lane. `Store`: two lanes never share a store's
/// rows, but two receipts of one tenant's customer in different stores may
/// meet on the customer's loyalty account, which round trip 1 locks until
/// COMMIT. `Tenant`: two lanes share no row at all (every locked row is
/// keyed by tenant), at the price that one tenant uses one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LaneKey {
    Store,
    Tenant,
}

impl LaneKey {
    /// The id that picks the lane of a receipt of `tenant` in `store`.
    fn of(self, tenant: uuid::Uuid, store: uuid::Uuid) -> uuid::Uuid {
        match self {
            LaneKey::Store => store,
            LaneKey::Tenant => tenant,
        }
    }
}

/// What a store actor hears back for one receipt whose batch committed.
pub struct Committed {
    /// The receipt's own answer (a rule it broke is an `Err` here).
    pub posted: Result<Posted>,
    /// Levels of the receipt's store that the batch changed.
    pub levels: Vec<LevelUpdate>,
}

struct Job {
    receipt: PreparedReceipt,
    reply: oneshot::Sender<Result<Committed>>,
}

#[derive(Clone)]
pub struct Writer {
    /// One sender per lane.
    lanes: Arc<[mpsc::Sender<Job>]>,
    lanes_by: LaneKey,
    /// Receipts submitted and not yet answered (queued or committing).
    pending: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts the lanes' collectors on the current runtime.
    pub fn start(db: Db, settings: WriterSettings, metrics: Metrics) -> Self {
        let lanes = settings.concurrency.max(1);
        let per_lane = (settings.queue / lanes).max(1);
        let pending = Arc::new(AtomicUsize::new(0));
        let senders: Vec<_> = (0..lanes)
            .map(|_| {
                let (tx, rx) = mpsc::channel(per_lane);
                tokio::spawn(collect(
                    db.clone(),
                    settings.clone(),
                    metrics.clone(),
                    rx,
                    Arc::clone(&pending),
                ));
                tx
            })
            .collect();
        Writer {
            lanes: senders.into(),
            lanes_by: settings.lanes_by,
            pending,
        }
    }

    fn lane(&self, r: &PreparedReceipt) -> &mpsc::Sender<Job> {
        &self.lanes[lane_of(self.lanes_by.of(r.tenant_id, r.store_id), self.lanes.len())]
    }

    /// Resolves once every submitted receipt has been answered (graceful
    /// shutdown waits for this; the caller bounds the wait).
    pub async fn drained(&self) {
        while self.pending.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Queues a receipt; the receiver resolves after its batch commits.
    /// Fails at once with `Unavailable` when the queue is full (shed load).
    pub fn submit(&self, receipt: PreparedReceipt) -> Result<oneshot::Receiver<Result<Committed>>> {
        let (reply, rx) = oneshot::channel();
        // Counted before sending so `drained` never misses a queued job.
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.lane(&receipt)
            .try_send(Job { receipt, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    self.pending.fetch_sub(1, Ordering::SeqCst);
                    Error::Busy("the receipt writer is busy; retry with the same id".into())
                }
                mpsc::error::TrySendError::Closed(_) => {
                    self.pending.fetch_sub(1, Ordering::SeqCst);
                    Error::Unavailable("the receipt writer stopped".into())
                }
            })?;
        Ok(rx)
    }
}

async fn collect(
    db: Db,
    settings: WriterSettings,
    metrics: Metrics,
    mut rx: mpsc::Receiver<Job>,
    pending: Arc<AtomicUsize>,
) {
    // One batch of this lane in flight: the next one gathers meanwhile.
    let permits = Arc::new(Semaphore::new(1));
    while let Some(first) = rx.recv().await {
        let mut jobs = Vec::with_capacity(settings.batch_max);
        jobs.push(first);
        let deadline = tokio::time::Instant::now() + settings.flush_interval;
        while jobs.len() < settings.batch_max {
            // Take what is already queued without waiting, then wait out the
            // rest of the window for more.
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(mpsc::error::TryRecvError::Empty) => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => jobs.push(job),
                        Ok(None) | Err(_) => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        }
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            break;
        };
        let db = db.clone();
        let metrics = metrics.clone();
        let pending = Arc::clone(&pending);
        let skew = chrono::Duration::from_std(settings.max_clock_skew).unwrap_or_default();
        let totals = settings.running_totals;
        let on_commit = settings.on_commit.clone();
        tokio::spawn(async move {
            let n = jobs.len();
            flush(&db, &metrics, skew, totals, jobs).await;
            if let Some(signal) = on_commit {
                signal.notify_one();
            }
            pending.fetch_sub(n, Ordering::SeqCst);
            drop(permit);
        });
    }
}

async fn flush(db: &Db, metrics: &Metrics, skew: chrono::Duration, totals: bool, jobs: Vec<Job>) {
    let (receipts, replies): (Vec<PreparedReceipt>, Vec<_>) =
        jobs.into_iter().map(|j| (j.receipt, j.reply)).unzip();
    metrics.writer_batch_receipts.observe(receipts.len() as f64);
    settle(db, metrics, skew, totals, receipts, replies).await;
}

type Reply = oneshot::Sender<Result<Committed>>;

/// Commits `receipts` and answers each. One bad receipt fails alone: when
/// the batch fails for a reason other than the database being unavailable
/// (a value PostgreSQL refuses that validation let through), the batch is
/// split in halves and each committed on its own, down to the offender,
/// which gets a non-retryable 422; its batch-mates (other tenants' too)
/// commit. Costs at most 2·log2(n) extra commits per offender.
fn settle<'a>(
    db: &'a Db,
    metrics: &'a Metrics,
    skew: chrono::Duration,
    totals: bool,
    mut receipts: Vec<PreparedReceipt>,
    mut replies: Vec<Reply>,
) -> futures::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        let started = Instant::now();
        let tenants = batch_tenants(&receipts);
        let mut result = db
            .timed(
                "receipts.commit_batch",
                &tenants,
                commit(db, skew, &receipts, totals),
            )
            .await;
        // Another instance took a number or id between our read and our write:
        // run the batch again, the read now sees it.
        if matches!(result, Err(CommitError::Raced)) {
            result = db
                .timed(
                    "receipts.commit_batch",
                    &tenants,
                    commit(db, skew, &receipts, totals),
                )
                .await;
        }
        metrics
            .writer_commit_seconds
            .observe(started.elapsed().as_secs_f64());
        let refused = match &result {
            Err(CommitError::Failed(e)) if !e.is_retryable() => Some(e.to_string()),
            _ => None,
        };
        if let Some(why) = refused {
            metrics.writer_failures.inc();
            if receipts.len() > 1 {
                tracing::warn!(receipts = receipts.len(), error = %why, "batch refused by the database; isolating the offender");
                let back = receipts.split_off(receipts.len() / 2);
                let back_replies = replies.split_off(replies.len() / 2);
                settle(db, metrics, skew, totals, receipts, replies).await;
                settle(db, metrics, skew, totals, back, back_replies).await;
            } else if let (Some(r), Some(reply)) = (receipts.first(), replies.pop()) {
                tracing::warn!(tenant_id = %r.tenant_id, receipt_id = %r.id, error = %why, "the database refused a receipt");
                let _ = reply.send(Err(Error::invalid(
                    "receipt",
                    "the database refused this receipt (a value outside what it stores); it was not stored and will not be on retry",
                )));
            }
            return;
        }
        match result {
            Ok(batch) => {
                for ((posted, reply), receipt) in
                    batch.posted.into_iter().zip(replies).zip(&receipts)
                {
                    let levels = batch
                        .levels
                        .iter()
                        .filter(|l| {
                            l.tenant_id == receipt.tenant_id && l.store_id == receipt.store_id
                        })
                        .cloned()
                        .collect();
                    let _ = reply.send(Ok(Committed { posted, levels }));
                }
            }
            Err(e) => {
                metrics.writer_failures.inc();
                tracing::warn!(receipts = receipts.len(), error = %e, "group commit failed");
                for reply in replies {
                    // The COMMIT may have reached the database before the
                    // connection broke: the client cannot know, only a retry
                    // with the same id tells (it replays if it was stored).
                    let _ = reply.send(Err(Error::Unavailable(
                        "the database is unavailable; the outcome is unknown — retry with the same id"
                            .into(),
                    )));
                }
            }
        }
    })
}

/// What a batch's commit answers.
struct BatchCommitted {
    /// One per input receipt, same order.
    posted: Vec<Result<Posted>>,
    /// Every stock level the batch changed.
    levels: Vec<LevelUpdate>,
}

/// Commits one batch: read the facts, decide, write. On any failure the
/// transaction is rolled back and nothing of the batch is stored.
async fn commit(
    db: &Db,
    skew: chrono::Duration,
    batch: &[PreparedReceipt],
    totals: bool,
) -> Result<BatchCommitted, CommitError> {
    let mut tx = BatchTx::connect(db).await?;
    tx.running_totals = totals;
    let result = async {
        let now = micros(Utc::now());
        let mut facts = tx.begin_and_read(batch).await?;
        facts.clock_skew = skew;
        let decisions = decide(batch, &facts);
        // Inside the transaction: behind a transaction-mode PgBouncer the
        // connection is only ours until COMMIT.
        let replays = tx.load_replays(batch, &decisions).await?;
        let mut effects = tx.write(batch, &facts, &decisions, now).await?;
        Ok(BatchCommitted {
            posted: answers(batch, &facts, decisions, &mut effects.numbers, replays, now),
            levels: effects.levels,
        })
    }
    .await;
    if result.is_err() {
        // Leave the connection clean whatever state the pipeline left.
        tx.rollback().await;
    }
    result
}

/// The lane of a store: every receipt of a store commits in one lane.
fn lane_of(key: uuid::Uuid, lanes: usize) -> usize {
    // Ids are random in their low bits (v4 and v7 alike).
    (key.as_u64_pair().1 % lanes.max(1) as u64) as usize
}

/// The tenants of a batch, for the slow-statement log (a few, then "...").
fn batch_tenants(receipts: &[PreparedReceipt]) -> String {
    let mut seen: Vec<uuid::Uuid> = Vec::new();
    for r in receipts {
        if !seen.contains(&r.tenant_id) {
            seen.push(r.tenant_id);
        }
    }
    let mut out: Vec<String> = seen.iter().take(3).map(|t| t.to_string()).collect();
    if seen.len() > 3 {
        out.push("...".into());
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::{lane_of, LaneKey};
    use uuid::Uuid;

    /// By tenant, every store of a tenant shares its lane (so two lanes
    /// never meet on the tenant's loyalty accounts); by store they spread.
    #[test]
    fn lanes_by_tenant_keep_a_tenant_together() {
        let tenant = Uuid::now_v7();
        let stores: Vec<Uuid> = (0..64).map(|_| Uuid::now_v7()).collect();
        let lane = |by: LaneKey, s: &Uuid| lane_of(by.of(tenant, *s), 4);
        let first = lane(LaneKey::Tenant, &stores[0]);
        assert!(stores.iter().all(|s| lane(LaneKey::Tenant, s) == first));
        let by_store: std::collections::HashSet<usize> =
            stores.iter().map(|s| lane(LaneKey::Store, s)).collect();
        assert!(by_store.len() > 1, "64 stores all in one lane by store");
    }

    /// A store always lands in the same lane, and stores spread over all
    /// lanes (v7 ids, as the server makes them).
    #[test]
    fn a_store_has_one_lane_and_stores_spread() {
        let stores: Vec<Uuid> = (0..4000).map(|_| Uuid::now_v7()).collect();
        let mut per_lane = [0usize; 4];
        for s in &stores {
            let lane = lane_of(*s, 4);
            assert_eq!(lane, lane_of(*s, 4));
            per_lane[lane] += 1;
        }
        assert!(per_lane.iter().all(|&n| n > 800), "{per_lane:?}");
        assert_eq!(lane_of(stores[0], 1), 0);
        assert_eq!(lane_of(stores[0], 0), 0, "no lanes configured means one");
    }
}
