//! The events outbox: writers append in their own transaction; the
//! sequencer publishes committed rows into the per-tenant event log; the
//! feed and the webhook worker read the log.
//!
//! Why a sequencer and not a counter in the writing transaction: a
//! per-tenant counter row locked by every batch would serialize all writes
//! of a tenant (every store, every instance) behind one row lock, and a
//! global sequence taken in the transaction is not in commit order (a
//! reader could pass seq 11 while seq 10 is still uncommitted and then
//! never see it). Here writers take no shared lock at all; one sequencer
//! at a time (advisory lock) numbers what it sees committed, so a number,
//! once visible, never has a smaller one appear behind it. The price is
//! one extra move per event, off the writers' path, and a delay of one
//! sequencer tick (`webhooks.sequencer_interval_ms`).
//!
//! The sequencer also finishes `receipt.created` payloads: a server-given
//! receipt number is assigned last in the receipt transaction (under the
//! register lock), so the writer cannot know it; the sequencer reads it from
//! `receipt_keys` when it publishes the event, by then final.

use super::{Db, Tx};
use crate::domain::{new_id, TenantId};
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// Advisory lock keys: one sequencer and one pruner in the cluster.
const SEQUENCER_LOCK: i64 = 7220310;
const PRUNER_LOCK: i64 = 7220311;

const SQL_APPEND: &str = "INSERT INTO outbox_pending (tenant_id, event_id, type, payload) \
     VALUES ($1, $2, $3, $4::text::json)";

/// Appends one event in the caller's transaction: it exists if and only if
/// that transaction commits. Answers the event id.
pub async fn append<T: Serialize + ?Sized>(
    tx: &Tx<'_>,
    tenant: TenantId,
    event_type: &str,
    data: &T,
) -> Result<Uuid> {
    let id = new_id();
    let payload = serde_json::to_string(data)
        .map_err(|e| Error::Internal(anyhow::anyhow!("serializing a {event_type} event: {e}")))?;
    let stmt = tx.prepare(SQL_APPEND).await?;
    tx.execute(&stmt, &[&tenant, &id, &event_type, &payload])
        .await?;
    Ok(id)
}

/// Moves up to `$1` pending rows into `events`. A pending row is one event,
/// or — when its payload is a JSON array — a carrier of several events of
/// one type (the receipt path's `stock.changed`, one carrier per tenant per
/// batch), each element naming its own `event_id`. Carriers spare the
/// writer's transaction and this move a row per variant: the per-line cost
/// of the outbox halves, and what subscribers see is unchanged.
const SQL_SEQUENCE: &str = "WITH moved AS ( \
       DELETE FROM outbox_pending p \
       WHERE p.id IN (SELECT id FROM outbox_pending ORDER BY id LIMIT $1) \
       RETURNING p.id, p.tenant_id, p.event_id, p.type, p.occurred_at, p.payload::jsonb AS body), \
     items AS ( \
       SELECT m.id, 0::int8 AS ord, m.tenant_id, m.event_id, m.type, m.occurred_at, m.body \
       FROM moved m WHERE jsonb_typeof(m.body) <> 'array' \
       UNION ALL \
       SELECT m.id, e.ord, m.tenant_id, (e.v->>'event_id')::uuid, m.type, m.occurred_at, \
         e.v - 'event_id' \
       FROM moved m, jsonb_array_elements(m.body) WITH ORDINALITY AS e(v, ord) \
       WHERE jsonb_typeof(m.body) = 'array'), \
     numbered AS ( \
       SELECT i.*, COALESCE(h.last_seq, 0) \
              + row_number() OVER (PARTITION BY i.tenant_id ORDER BY i.id, i.ord) AS seq \
       FROM items i LEFT JOIN event_heads h ON h.tenant_id = i.tenant_id), \
     heads AS ( \
       INSERT INTO event_heads (tenant_id, last_seq) \
       SELECT tenant_id, max(seq) FROM numbered GROUP BY tenant_id \
       ON CONFLICT (tenant_id) DO UPDATE SET last_seq = EXCLUDED.last_seq) \
     INSERT INTO events (tenant_id, seq, event_id, type, occurred_at, payload) \
     SELECT n.tenant_id, n.seq, n.event_id, n.type, n.occurred_at, \
       CASE WHEN n.type = 'receipt.created' THEN n.body || jsonb_build_object('number', \
         (SELECT k.number FROM receipt_keys k \
          WHERE k.tenant_id = n.tenant_id AND k.id = (n.body->>'id')::uuid)) \
       ELSE n.body END \
     FROM numbered n";

/// One sequencer step: publishes up to `limit` committed pending events.
/// Answers how many were published, or `None` when another instance holds
/// the sequencer lock.
pub async fn sequence(db: &Db, limit: i64) -> Result<Option<u64>> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    // Taken in its own statement, so the move's snapshot is newer than the
    // previous holder's commit (it reads event_heads as that one left it).
    let lock = tx.prepare("SELECT pg_try_advisory_xact_lock($1)").await?;
    let got: bool = tx.query_one(&lock, &[&SEQUENCER_LOCK]).await?.get(0);
    if !got {
        return Ok(None);
    }
    let stmt = tx.prepare(SQL_SEQUENCE).await?;
    let n = tx.execute(&stmt, &[&limit]).await?;
    tx.commit().await?;
    Ok(Some(n))
}

/// Drops events (and delivery log rows) recorded before now - `keep`, at
/// most `limit` per call, and remembers per tenant what is gone so a feed
/// cursor behind it gets a clear error. Answers the events removed.
pub async fn prune(db: &Db, keep: Duration, limit: i64) -> Result<u64> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let got: bool = tx
        .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PRUNER_LOCK])
        .await?
        .get(0);
    if !got {
        return Ok(0);
    }
    let secs = keep.as_secs_f64();
    let n: i64 = tx
        .query_one(
            "WITH gone AS ( \
               DELETE FROM events e USING ( \
                 SELECT tenant_id, seq FROM events \
                 WHERE recorded_at < now() - make_interval(secs => $1) \
                 ORDER BY recorded_at LIMIT $2) o \
               WHERE e.tenant_id = o.tenant_id AND e.seq = o.seq \
               RETURNING e.tenant_id, e.seq), \
             heads AS ( \
               UPDATE event_heads h SET pruned_through = GREATEST(h.pruned_through, g.m) \
               FROM (SELECT tenant_id, max(seq) AS m FROM gone GROUP BY tenant_id) g \
               WHERE h.tenant_id = g.tenant_id) \
             SELECT count(*) FROM gone",
            &[&secs, &limit],
        )
        .await?
        .get(0);
    tx.execute(
        "DELETE FROM webhook_deliveries d USING ( \
           SELECT tenant_id, subscription_id, id FROM webhook_deliveries \
           WHERE attempted_at < now() - make_interval(secs => $1) \
           ORDER BY attempted_at LIMIT $2) o \
         WHERE d.tenant_id = o.tenant_id AND d.subscription_id = o.subscription_id AND d.id = o.id",
        &[&secs, &limit],
    )
    .await?;
    tx.commit().await?;
    Ok(n as u64)
}

/// One published event: the webhook body and a feed entry.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// Unique; receivers de-duplicate by it (delivery is at-least-once).
    pub event_id: Uuid,
    #[serde(rename = "type")]
    #[schema(value_type = crate::domain::events::EventType)]
    pub event_type: String,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: Uuid,
    /// Per-tenant, gapless, increasing: the feed cursor.
    pub seq: i64,
    /// The object the event is about, as the API shows it.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

pub(crate) fn event_row(tenant: TenantId, row: &tokio_postgres::Row, at: usize) -> Event {
    Event {
        seq: row.get(at),
        event_id: row.get(at + 1),
        event_type: row.get(at + 2),
        occurred_at: row.get(at + 3),
        data: row.get(at + 4),
        tenant_id: tenant,
    }
}

/// A page of the feed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page (the last seq of this page, or the
    /// cursor given when the page is empty).
    pub next_after: i64,
    /// Whether more events were available when this page was read.
    pub has_more: bool,
    /// The newest seq of the tenant at read time.
    pub head: i64,
}

/// Events of `tenant` after `after` (all of them when `None`: from the
/// oldest kept), optionally only of `types`, at most `limit`.
pub async fn feed(
    db: &Db,
    tenant: TenantId,
    after: Option<i64>,
    types: &[String],
    limit: i64,
) -> Result<FeedPage> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    // One snapshot for the head and the page.
    tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .await?;
    let head = tx
        .prepare("SELECT last_seq, pruned_through FROM event_heads WHERE tenant_id = $1")
        .await?;
    let (last, pruned): (i64, i64) = tx
        .query_opt(&head, &[&tenant])
        .await?
        .map(|r| (r.get(0), r.get(1)))
        .unwrap_or((0, 0));
    let after = match after {
        None => pruned,
        Some(a) if a < pruned => {
            return Err(Error::Gone {
                code: Code::CursorExpired,
                message: format!(
                    "events up to seq {pruned} are past the retention window; \
                     the oldest kept is {}: start again from after={pruned}",
                    pruned + 1
                ),
            })
        }
        Some(a) => a,
    };
    let stmt = tx
        .prepare(
            "SELECT seq, event_id, type, occurred_at, payload FROM events \
             WHERE tenant_id = $1 AND seq > $2 \
               AND (cardinality($3::text[]) = 0 OR type = ANY($3)) \
             ORDER BY seq LIMIT $4",
        )
        .await?;
    let rows = tx
        .query(&stmt, &[&tenant, &after, &types, &(limit + 1)])
        .await?;
    tx.commit().await?;
    let has_more = rows.len() as i64 > limit;
    let events: Vec<Event> = rows
        .iter()
        .take(limit as usize)
        .map(|r| event_row(tenant, r, 0))
        .collect();
    Ok(FeedPage {
        next_after: events.last().map_or(after, |e| e.seq),
        events,
        has_more,
        head: last,
    })
}

/// Outbox health for metrics: (pending rows, age of the oldest in seconds).
pub async fn pending_stats(db: &Db) -> Result<(i64, f64)> {
    let rows = db
        .query(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 \
             FROM outbox_pending",
            &[],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| (r.get(0), r.get(1)))
        .unwrap_or((0, 0.0)))
}

/// `stock.changed` events for levels a stock document moved (receiving,
/// write-off, transfer, inventory), in the document's transaction. Same
/// payload as the receipt path's, plus the document.
pub async fn append_stock_changes(
    tx: &Tx<'_>,
    tenant: TenantId,
    levels: &[crate::domain::stock::LevelUpdate],
    cause: &str,
    document: Uuid,
) -> Result<()> {
    if levels.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(levels.len());
    let mut payloads = Vec::with_capacity(levels.len());
    for l in levels {
        ids.push(new_id());
        payloads.push(
            serde_json::json!({
                "store_id": l.store_id,
                "warehouse_id": l.warehouse_id,
                "variant_id": l.variant_id,
                "quantity": l.quantity.normalize().to_string(),
                "delta": l.delta.normalize().to_string(),
                "cause": cause,
                "document_id": document,
            })
            .to_string(),
        );
    }
    let stmt = tx
        .prepare(
            "INSERT INTO outbox_pending (tenant_id, event_id, type, payload) \
             SELECT $1, u.e, $2, u.p::json \
             FROM UNNEST($3::uuid[], $4::text[]) WITH ORDINALITY AS u(e, p, o) ORDER BY u.o",
        )
        .await?;
    tx.execute(
        &stmt,
        &[
            &tenant,
            &crate::domain::events::STOCK_CHANGED,
            &ids,
            &payloads,
        ],
    )
    .await?;
    Ok(())
}

/// One movement of a customer's points balance, for `customer.points_changed`.
#[derive(Debug, Clone)]
pub struct PointsChange<'a> {
    pub customer_id: Uuid,
    /// Points added (positive) or taken (negative).
    pub delta: i64,
    /// Why: the ledger kind — `earn`, `redeem`, `reverse_earn`,
    /// `reverse_redeem`, `adjust` (and `expire` when expiry writes one).
    pub reason: &'a str,
    /// The receipt that moved them, if a receipt did.
    pub receipt_id: Option<Uuid>,
    /// A person's note (the reason text of a manual adjustment).
    pub note: Option<&'a str>,
}

/// The `customer.points_changed` payload, built by PostgreSQL from the
/// movement columns `u` and the account row `a` as this transaction left it:
/// `balance_after` is the balance once this movement and every earlier one
/// in the statement have applied (later movements of the same customer in
/// the statement are subtracted back out; `u.o` is their order).
pub(crate) const POINTS_PAYLOAD_SQL: &str = "json_build_object('customer_id', u.c, \
       'delta', u.p, \
       'balance_after', a.balance - COALESCE(sum(u.p) OVER (PARTITION BY u.t, u.c ORDER BY u.o \
         ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0), \
       'reason', u.k, 'receipt_id', u.r, 'note', u.n)";

/// `customer.points_changed` events for movements already applied to
/// `loyalty_accounts` in `tx` (one event per movement, in the order given),
/// in the caller's transaction. Reusable by every writer of the points
/// ledger: manual adjustments, expiry, anything that calls
/// [`super::manage::post_points`].
pub async fn append_points_changes(
    tx: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    changes: &[PointsChange<'_>],
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let n = changes.len();
    let tenants: Vec<Uuid> = vec![tenant; n];
    let customers: Vec<Uuid> = changes.iter().map(|c| c.customer_id).collect();
    let kinds: Vec<&str> = changes.iter().map(|c| c.reason).collect();
    let deltas: Vec<i64> = changes.iter().map(|c| c.delta).collect();
    let receipts: Vec<Option<Uuid>> = changes.iter().map(|c| c.receipt_id).collect();
    let notes: Vec<Option<&str>> = changes.iter().map(|c| c.note).collect();
    let ids: Vec<Uuid> = changes.iter().map(|_| new_id()).collect();
    tx.execute(
        POINTS_EVENTS_SQL.as_str(),
        &[
            &tenants,
            &customers,
            &kinds,
            &deltas,
            &receipts,
            &notes,
            &ids,
            &crate::domain::events::CUSTOMER_POINTS_CHANGED,
        ],
    )
    .await?;
    Ok(())
}

/// The statement behind [`append_points_changes`] and the receipt batch's
/// points events: parameters are column arrays (tenant, customer, kind,
/// delta, receipt, note, event id) and the event type.
pub(crate) static POINTS_EVENTS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO outbox_pending (tenant_id, event_id, type, payload) \
         SELECT u.t, u.e, $8::text, {POINTS_PAYLOAD_SQL} \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::uuid[], $6::text[], \
           $7::uuid[]) WITH ORDINALITY AS u(t, c, k, p, r, n, e, o) \
         JOIN loyalty_accounts a ON a.tenant_id = u.t AND a.customer_id = u.c \
         ORDER BY u.o"
    )
});
