//! The SQL of a batch commit: one transaction, two pipelined round trips.
//!
//! ```text
//! writer::commit ──> BatchTx::begin_and_read   round trip 1: BEGIN + reads (facts.rs)
//!                ──> domain::commit::decide    pure: a verdict per receipt
//!                ──> BatchTx::write            round trip 2: every insert, the
//!                                              numbering and COMMIT (pipeline.rs)
//! ```
//!
//! The transaction is the last word on what must hold across instances:
//! idempotency (`receipt_keys`), numbering (register rows), open shifts,
//! return limits. Locks are taken in one order — shifts, returned sales
//! (round trip 1), stock levels, running totals, registers (round trip 2),
//! each sorted — so two batches never deadlock.
//!
//! # Adding derived data (the extension point)
//! Data derived from receipts (stock, loyalty points, running totals,
//! outbox events) commits in the same transaction as its
//! receipts. Each kind is a `BatchWriter` in its own module beside
//! `stock.rs`: it builds its column arrays from the accepted receipts
//! (`push`), gives its statements with those arrays as parameters
//! (`statements`), and reads what they returned into `Effects`
//! (`collect`), which the writer hands back with every receipt's answer.
//! To add one: write the module, push the accepted receipts into it in
//! `BatchTx::write`, and add it to the `writers` list there, between the
//! receipt tables and the numbering. It costs no extra round trip.

mod facts;
pub mod loyalty;
mod numbering;
pub mod outbox;
pub mod pipeline;
pub mod receipts;
pub mod stock;
pub mod totals;

use super::receipts::load_receipt_on;
use super::Db;
use crate::domain::commit::{Decisions, Facts, Posted, Verdict};
use crate::domain::receipt::{PreparedReceipt, StoredReceipt};
use crate::domain::stock::LevelUpdate;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use loyalty::{LoyaltyWriter, PointsEvents};
use numbering::{NumberWriter, Numbers};
use outbox::OutboxWriter;
use pipeline::Sql;
use receipts::{stored_number, ReceiptTables};
use stock::StockWriter;
use tokio_postgres::Row;
use totals::TotalsWriter;

/// A group of tables a batch writes: column arrays and their statements.
pub trait BatchWriter: Send + Sync {
    /// This writer's statements in pipeline order, with its arrays as
    /// parameters.
    fn statements(&self) -> Vec<Sql<'_>>;
    /// Reads what its statements returned (one entry per statement, same
    /// order) into the batch's effects.
    fn collect(&self, rows: Vec<Vec<Row>>, effects: &mut Effects);
}

/// What a batch's writers report after COMMIT.
#[derive(Debug, Default)]
pub struct Effects {
    /// Every stock level the batch changed, as PostgreSQL answered it.
    pub levels: Vec<LevelUpdate>,
    /// Server numbers given, by (tenant, receipt id).
    pub numbers: Numbers,
}

/// Why a batch was not written.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Another instance stored one of the batch's ids or client numbers
    /// between our read and our write (a unique index refused it). Nothing
    /// was written; running the batch again reads the new facts.
    #[error("another instance stored one of this batch's ids or numbers first")]
    Raced,
    #[error(transparent)]
    Failed(#[from] Error),
}

impl From<tokio_postgres::Error> for CommitError {
    fn from(err: tokio_postgres::Error) -> Self {
        if crate::error::sqlstate(&err) == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
        {
            CommitError::Raced
        } else {
            CommitError::Failed(err.into())
        }
    }
}

/// The connection a batch commits on, and how statements are prepared on
/// it. Its transaction runs by hand (BEGIN and COMMIT pipelined with the
/// statements); `rollback` leaves the connection clean after a failure.
pub struct BatchTx {
    client: deadpool_postgres::Object,
    statement_cache: bool,
    /// Write the running report totals (`sales.running_totals`).
    pub running_totals: bool,
}

impl BatchTx {
    pub async fn connect(db: &Db) -> Result<Self> {
        Ok(BatchTx {
            client: db.client().await?,
            statement_cache: db.statement_cache,
            running_totals: true,
        })
    }

    /// Cached per connection normally; fresh per transaction behind a
    /// transaction-mode PgBouncer.
    async fn prepare(&self, sql: &str) -> Result<tokio_postgres::Statement> {
        if self.statement_cache {
            Ok(self.client.prepare_cached(sql).await?)
        } else {
            Ok(self.client.prepare(sql).await?)
        }
    }

    pub async fn rollback(&self) {
        let _ = self.client.batch_execute("ROLLBACK").await;
    }

    /// Round trip 2: writes what `decisions` accepted and COMMITs. Answers
    /// the writers' effects.
    pub async fn write(
        &self,
        batch: &[PreparedReceipt],
        facts: &Facts,
        decisions: &Decisions,
        now: DateTime<Utc>,
    ) -> Result<Effects, CommitError> {
        let mut effects = Effects::default();
        let accepted: Vec<_> = decisions.accepted(batch).collect();
        if accepted.is_empty() {
            self.client.batch_execute("COMMIT").await?;
            return Ok(effects);
        }
        let lines = accepted.iter().map(|(r, _)| r.lines.len()).sum();
        let mut receipts = ReceiptTables::new(now, accepted.len(), lines);
        let mut stock = StockWriter::new(now, lines);
        let mut loyalty = LoyaltyWriter::new(now);
        let mut totals = TotalsWriter::default();
        let mut events = OutboxWriter::new(now, accepted.len());
        for (r, n) in &accepted {
            let sold_by = facts.sold_by.get(&(r.tenant_id, r.shift_id));
            let costs = facts.line_costs(r);
            receipts.push_sold_by(
                r,
                stored_number(r, n),
                sold_by.and_then(|c| c.employee_id),
                &costs,
            );
            stock.push(r);
            loyalty.push(r);
            if let (Some(ctx), true) = (sold_by, self.running_totals) {
                totals.push(r, ctx, &costs);
            }
            events.push(r, stored_number(r, n), sold_by.and_then(|c| c.employee_id));
        }
        stock.seal();
        loyalty.seal();
        totals.seal();
        events.seal();
        let numbering = NumberWriter::new(batch, decisions);
        // Pipeline order: receipt tables, derived data, then what locks
        // rows every batch of the same registers touches — the running
        // totals (per shift, per register-hour...) and the numbering — last,
        // so those locks are held for the shortest time before COMMIT.
        let points_events = PointsEvents(&loyalty);
        let writers: [&dyn BatchWriter; 7] = [
            &receipts,
            &stock,
            &loyalty,
            &events,
            &points_events,
            &totals,
            &numbering,
        ];
        let per_writer: Vec<Vec<Sql<'_>>> = writers.iter().map(|w| w.statements()).collect();
        let counts: Vec<usize> = per_writer.iter().map(Vec::len).collect();
        let statements: Vec<Sql<'_>> = per_writer.into_iter().flatten().collect();
        // Prepared before anything is sent (a cache hit costs nothing).
        let mut prepared = Vec::with_capacity(statements.len());
        for s in &statements {
            prepared.push(self.prepare(s.sql).await?);
        }
        let mut rows = pipeline::run_and_commit(&self.client, &prepared, &statements)
            .await?
            .into_iter();
        for (w, n) in writers.iter().zip(counts) {
            w.collect(rows.by_ref().take(n).collect(), &mut effects);
        }
        Ok(effects)
    }

    /// The stored receipts of the `Replay` verdicts (before the write; a
    /// round trip per replay, and replays rarely reach the writer: the store
    /// actor answers most from memory).
    pub async fn load_replays(
        &self,
        batch: &[PreparedReceipt],
        decisions: &Decisions,
    ) -> Result<Vec<Option<StoredReceipt>>> {
        let mut out = Vec::with_capacity(batch.len());
        for (r, v) in batch.iter().zip(&decisions.verdicts) {
            out.push(match v {
                Verdict::Replay => load_receipt_on(&**self.client, r.tenant_id, r.id).await?,
                _ => None,
            });
        }
        Ok(out)
    }
}

/// Each receipt's answer from its verdict, the numbers given and the
/// replays loaded.
pub fn answers(
    batch: &[PreparedReceipt],
    facts: &Facts,
    decisions: Decisions,
    numbers: &mut Numbers,
    replays: Vec<Option<StoredReceipt>>,
    now: DateTime<Utc>,
) -> Vec<Result<Posted>> {
    batch
        .iter()
        .zip(decisions.verdicts)
        .zip(replays)
        .map(|((r, verdict), replay)| match verdict {
            Verdict::Accept(n) => {
                let number = match n {
                    crate::domain::commit::Number::Client(c) => Some(c),
                    crate::domain::commit::Number::Server { .. } => {
                        numbers.remove(&(r.tenant_id, r.id))
                    }
                };
                match number {
                    Some(n) => {
                        let employee = facts
                            .sold_by
                            .get(&(r.tenant_id, r.shift_id))
                            .and_then(|c| c.employee_id);
                        Ok(Posted::Created(r.stored(n, now, employee)))
                    }
                    // Its register row is gone: nothing numbered it.
                    None => Err(Error::invalid("register_id", "no such register")),
                }
            }
            Verdict::Replay => match replay {
                Some(s) => Ok(Posted::Replayed(s)),
                None => Err(Error::Unavailable("receipt being stored; retry".into())),
            },
            Verdict::Reject(why) => Err(why.into()),
        })
        .collect()
}
