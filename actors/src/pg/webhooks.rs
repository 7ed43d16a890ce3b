//! Webhook subscriptions, the delivery worker's claims and the delivery log.
//!
//! A subscription is a cursor over its tenant's event log: everything up to
//! `cursor_seq` has been delivered. A worker claims a subscription with
//! `FOR UPDATE SKIP LOCKED` and a lease, reads the events after the cursor
//! in pages and delivers them one at a time in order, and records a page of
//! consecutive 2xx answers at once (cursor, delivery log, lease: one
//! statement), so after a crash up to a page may be delivered again
//! (at-least-once). Every write the worker makes after a claim checks it
//! still holds the lease, so two instances never deliver for one
//! subscription at the same time.

use super::Db;
use crate::domain::TenantId;
use crate::error::{Code, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// A subscription as the tenant sees it (never with its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub url: String,
    /// Empty: every type.
    #[schema(value_type = Vec<crate::domain::events::EventType>)]
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// The tenant's switch.
    pub active: bool,
    /// `active`, `disabled` (by the tenant) or `paused` (by the server after
    /// a long run of failures; see `paused_reason`).
    pub status: &'static str,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_reason: Option<String>,
    /// Events up to this seq have been delivered.
    pub delivered_through: i64,
    /// Failed attempts in a row on the next event.
    pub failures: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, url, event_types, description, active, paused_at, paused_reason, \
     cursor_seq, failures, last_error, next_attempt_at, version, created_at, updated_at";

fn subscription_row(r: &tokio_postgres::Row) -> Subscription {
    let active: bool = r.get(4);
    let paused_at: Option<DateTime<Utc>> = r.get(5);
    Subscription {
        id: r.get(0),
        url: r.get(1),
        event_types: r.get(2),
        description: r.get(3),
        active,
        status: match (active, paused_at.is_some()) {
            (false, _) => "disabled",
            (true, true) => "paused",
            (true, false) => "active",
        },
        paused_at,
        paused_reason: r.get(6),
        delivered_through: r.get(7),
        failures: r.get(8),
        last_error: r.get(9),
        next_attempt_at: r.get(10),
        version: r.get(11),
        created_at: r.get(12),
        updated_at: r.get(13),
    }
}

/// A new subscription, already validated.
pub struct NewSubscription<'a> {
    pub id: Uuid,
    pub url: &'a str,
    pub host: &'a str,
    pub secret: &'a str,
    pub event_types: &'a [String],
    pub description: Option<&'a str>,
    pub active: bool,
}

/// Creates a subscription. It starts at the tenant's newest event: it gets
/// what happens from now on (the feed serves the past).
pub async fn create(db: &Db, tenant: TenantId, s: NewSubscription<'_>) -> Result<Subscription> {
    let rows = db
        .query(
            &format!(
                "INSERT INTO webhook_subscriptions \
                   (tenant_id, id, url, host, secret, event_types, description, active, cursor_seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                   COALESCE((SELECT last_seq FROM event_heads WHERE tenant_id = $1), 0)) \
                 RETURNING {COLUMNS}"
            ),
            &[
                &tenant,
                &s.id,
                &s.url,
                &s.host,
                &s.secret,
                &s.event_types,
                &s.description,
                &s.active,
            ],
        )
        .await?;
    rows.first()
        .map(subscription_row)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("insert returned no row")))
}

pub async fn list(db: &Db, tenant: TenantId) -> Result<Vec<Subscription>> {
    let rows = db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM webhook_subscriptions \
                 WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id"
            ),
            &[&tenant],
        )
        .await?;
    Ok(rows.iter().map(subscription_row).collect())
}

pub async fn get(db: &Db, tenant: TenantId, id: Uuid) -> Result<Subscription> {
    let rows = db
        .query(
            &format!(
                "SELECT {COLUMNS} FROM webhook_subscriptions \
                 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL"
            ),
            &[&tenant, &id],
        )
        .await?;
    rows.first()
        .map(subscription_row)
        .ok_or(Error::not_found("webhook"))
}

/// A change to a subscription; `None` leaves a field as it is.
#[derive(Default)]
pub struct SubscriptionEdit<'a> {
    pub url: Option<(&'a str, &'a str)>,
    pub event_types: Option<&'a [String]>,
    /// `Some(None)` clears it.
    pub description: Option<Option<&'a str>>,
    pub active: Option<bool>,
    pub expected_version: Option<i32>,
}

/// Applies an edit. Setting `active: true` also lifts a pause: the next
/// attempt is now, with the failure count reset.
pub async fn update(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    edit: SubscriptionEdit<'_>,
) -> Result<Subscription> {
    let (url, host) = edit.url.unzip();
    let set_description = edit.description.is_some();
    let description = edit.description.flatten();
    let rows = db
        .query(
            &format!(
                "UPDATE webhook_subscriptions SET \
                   url = COALESCE($3, url), host = COALESCE($4, host), \
                   event_types = COALESCE($5, event_types), \
                   description = CASE WHEN $6 THEN $7 ELSE description END, \
                   active = COALESCE($8, active), \
                   paused_at = CASE WHEN $8 THEN NULL ELSE paused_at END, \
                   paused_reason = CASE WHEN $8 THEN NULL ELSE paused_reason END, \
                   failures = CASE WHEN $8 THEN 0 ELSE failures END, \
                   first_failure_at = CASE WHEN $8 THEN NULL ELSE first_failure_at END, \
                   next_attempt_at = CASE WHEN $8 THEN now() ELSE next_attempt_at END, \
                   version = version + 1, updated_at = now() \
                 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
                   AND ($9::int IS NULL OR version = $9) \
                 RETURNING {COLUMNS}"
            ),
            &[
                &tenant,
                &id,
                &url,
                &host,
                &edit.event_types,
                &set_description,
                &description,
                &edit.active,
                &edit.expected_version,
            ],
        )
        .await?;
    match rows.first() {
        Some(r) => Ok(subscription_row(r)),
        None => {
            let current = get(db, tenant, id).await?;
            Err(Error::VersionConflict {
                expected: edit.expected_version.unwrap_or_default(),
                current: current.version,
            })
        }
    }
}

/// Soft delete: the worker stops at once; the delivery log stays readable
/// until retention removes it.
pub async fn delete(db: &Db, tenant: TenantId, id: Uuid) -> Result<()> {
    let rows = db
        .query(
            "UPDATE webhook_subscriptions SET deleted_at = now(), active = false, \
               lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id",
            &[&tenant, &id],
        )
        .await?;
    if rows.is_empty() {
        return Err(Error::not_found("webhook"));
    }
    Ok(())
}

/// Moves the cursor back so events from `from_seq` on are delivered again
/// (in order), and lifts a pause. `from_seq` must still be kept.
///
/// A worker delivering for it right now loses its claim (its next record
/// finds the lease gone and stops), and nobody may claim it again until
/// `hold` has passed, so that worker's request in flight (at most one, of
/// at most the attempt timeout) never overlaps the replay.
pub async fn redeliver(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    from_seq: i64,
    hold: Duration,
) -> Result<Subscription> {
    let head = db
        .query(
            "SELECT last_seq, pruned_through FROM event_heads WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?;
    let (last, pruned): (i64, i64) = head.first().map(|r| (r.get(0), r.get(1))).unwrap_or((0, 0));
    get(db, tenant, id).await?;
    if from_seq <= pruned {
        return Err(Error::Gone {
            code: Code::CursorExpired,
            message: format!(
                "events up to seq {pruned} are past the retention window; the oldest kept is {}",
                pruned + 1
            ),
        });
    }
    if from_seq > last {
        return Err(Error::invalid(
            "from_seq",
            format!("no event with seq {from_seq} yet; the newest is {last}"),
        ));
    }
    let rows = db
        .query(
            &format!(
                "UPDATE webhook_subscriptions SET cursor_seq = $3::int8 - 1, failures = 0, \
                   first_failure_at = NULL, next_attempt_at = now(), paused_at = NULL, \
                   paused_reason = NULL, version = version + 1, updated_at = now(), \
                   lease_owner = NULL, \
                   lease_until = CASE WHEN lease_until > now() \
                     THEN now() + make_interval(secs => $4) END \
                 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL \
                 RETURNING {COLUMNS}"
            ),
            &[&tenant, &id, &from_seq, &hold.as_secs_f64()],
        )
        .await?;
    rows.first()
        .map(subscription_row)
        .ok_or(Error::not_found("webhook"))
}

/// One logged attempt, or a run of successful first attempts recorded
/// together (`events` > 1).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// The event attempted; for a run, the last event of the run.
    pub event_seq: i64,
    /// The first event of a run (equal to `event_seq` for one attempt).
    pub first_event_seq: i64,
    /// Deliveries this row stands for: 1 for an attempt; for a run of
    /// consecutive successes recorded together, how many events of
    /// `first_event_seq..=event_seq` (those of the subscription's types)
    /// were each answered 2xx at their first attempt.
    pub events: i32,
    pub event_id: Uuid,
    #[schema(value_type = crate::domain::events::EventType)]
    pub event_type: String,
    pub attempt: i32,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<i32>,
    pub ok: bool,
    pub error: Option<String>,
    pub latency_ms: i32,
    pub attempted_at: DateTime<Utc>,
}

/// Attempts of one subscription, newest first, before delivery id `before`.
pub async fn deliveries(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Delivery>> {
    get(db, tenant, id).await?;
    let rows = db
        .query(
            "SELECT id, event_seq, event_id, event_type, attempt, status_code, ok, error, \
                    latency_ms, attempted_at, COALESCE(first_event_seq, event_seq), events \
             FROM webhook_deliveries \
             WHERE tenant_id = $1 AND subscription_id = $2 AND ($3::int8 IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4",
            &[&tenant, &id, &before, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Delivery {
            id: r.get(0),
            event_seq: r.get(1),
            event_id: r.get(2),
            event_type: r.get(3),
            attempt: r.get(4),
            status_code: r.get(5),
            ok: r.get(6),
            error: r.get(7),
            latency_ms: r.get(8),
            attempted_at: r.get(9),
            first_event_seq: r.get(10),
            events: r.get(11),
        })
        .collect())
}

// ---- the worker --------------------------------------------------------

/// A subscription claimed by one worker until `lease` runs out.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub url: String,
    pub host: String,
    pub secret: String,
    pub event_types: Vec<String>,
    pub cursor_seq: i64,
    pub failures: i32,
    pub first_failure_at: Option<DateTime<Utc>>,
}

/// Claims up to `limit` subscriptions that are due and have undelivered
/// events, skipping rows another worker is claiming right now and hosts
/// this worker has no room for.
pub async fn claim(
    db: &Db,
    owner: Uuid,
    limit: i64,
    lease: Duration,
    busy_hosts: &[String],
) -> Result<Vec<Claimed>> {
    let secs = lease.as_secs_f64();
    let rows = db
        .query(
            "UPDATE webhook_subscriptions s SET lease_owner = $1, \
               lease_until = now() + make_interval(secs => $3) \
             FROM (SELECT w.tenant_id, w.id FROM webhook_subscriptions w \
                   WHERE w.active AND w.paused_at IS NULL AND w.deleted_at IS NULL \
                     AND w.next_attempt_at <= now() \
                     AND (w.lease_until IS NULL OR w.lease_until < now()) \
                     AND NOT (w.host = ANY($4)) \
                     AND w.cursor_seq < COALESCE( \
                       (SELECT h.last_seq FROM event_heads h WHERE h.tenant_id = w.tenant_id), 0) \
                   ORDER BY w.next_attempt_at LIMIT $2 \
                   FOR UPDATE SKIP LOCKED) c \
             WHERE s.tenant_id = c.tenant_id AND s.id = c.id \
             RETURNING s.tenant_id, s.id, s.url, s.host, s.secret, s.event_types, s.cursor_seq, \
                       s.failures, s.first_failure_at",
            &[&owner, &limit, &secs, &busy_hosts],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Claimed {
            tenant_id: r.get(0),
            id: r.get(1),
            url: r.get(2),
            host: r.get(3),
            secret: r.get(4),
            event_types: r.get(5),
            cursor_seq: r.get(6),
            failures: r.get(7),
            first_failure_at: r.get(8),
        })
        .collect())
}

/// The next events after `after` for a claimed subscription (matching its types), and the
/// tenant's head read in the same snapshot: when no event matches, the
/// cursor may move to the head.
pub async fn next_events(
    db: &Db,
    c: &Claimed,
    after: i64,
    limit: i64,
) -> Result<(i64, Vec<Outgoing>)> {
    let rows = db
        .query(
            "SELECT h.head, e.seq, e.event_id, e.type, e.occurred_at, e.payload::text \
             FROM (SELECT COALESCE((SELECT last_seq FROM event_heads WHERE tenant_id = $1), 0) \
                   AS head) h \
             LEFT JOIN LATERAL (SELECT seq, event_id, type, occurred_at, payload FROM events \
                   WHERE tenant_id = $1 AND seq > $2 \
                     AND (cardinality($3::text[]) = 0 OR type = ANY($3)) \
                   ORDER BY seq LIMIT $4) e ON true",
            &[&c.tenant_id, &after, &c.event_types, &limit],
        )
        .await?;
    let head = rows.first().map_or(after, |r| r.get(0));
    let events = rows
        .iter()
        .filter(|r| r.get::<_, Option<i64>>(1).is_some())
        .map(|r| Outgoing {
            seq: r.get(1),
            event_id: r.get(2),
            event_type: r.get(3),
            occurred_at: r.get(4),
            data: r.get(5),
        })
        .collect();
    Ok((head, events))
}

/// An event on its way to a subscriber: the payload stays JSON text from
/// the database to the wire (no parse and re-serialize per delivery).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub seq: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The `data` object as JSON text.
    pub data: String,
}

impl Outgoing {
    /// The request body: the same JSON object as the feed's entry.
    pub fn body(&self, tenant: Uuid) -> Vec<u8> {
        let ty = serde_json::to_string(&self.event_type).unwrap_or_default();
        let at = serde_json::to_string(&self.occurred_at).unwrap_or_default();
        format!(
            "{{\"event_id\":\"{}\",\"type\":{ty},\"occurred_at\":{at},\"tenant_id\":\"{tenant}\",\"seq\":{},\"data\":{}}}",
            self.event_id, self.seq, self.data
        )
        .into_bytes()
    }
}

/// The result of one attempt, for the log.
pub struct Attempt<'a> {
    pub event: &'a Outgoing,
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub ok: bool,
    pub error: Option<&'a str>,
    pub latency_ms: i32,
}

const SQL_LOG: &str = "INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_seq, \
       event_id, event_type, attempt, status_code, ok, error, latency_ms, worker_id) \
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM upd";

/// A delivered event, waiting to be recorded.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub seq: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub attempt: i32,
    pub status_code: i32,
    pub latency_ms: i32,
}

/// One delivery-log row for successes: a run of first-attempt successes,
/// or one success after failures.
#[derive(Debug, PartialEq)]
struct SuccessRow<'a> {
    last_seq: i64,
    first_seq: i64,
    events: i32,
    /// Of the last event.
    event_id: Uuid,
    event_type: &'a str,
    attempt: i32,
    /// The last one's.
    status_code: i32,
    /// The slowest.
    latency_ms: i32,
}

/// Delivery-log rows for a page of successes, in order: the first-attempt
/// successes as runs (one row each), a success after failures on its own.
fn success_rows(done: &[Delivered]) -> Vec<SuccessRow<'_>> {
    let mut rows: Vec<SuccessRow<'_>> = Vec::new();
    let mut in_run = false;
    for d in done {
        match rows.last_mut() {
            Some(r) if in_run && d.attempt == 1 => {
                r.last_seq = d.seq;
                r.events += 1;
                r.event_id = d.event_id;
                r.event_type = d.event_type.as_str();
                r.status_code = d.status_code;
                r.latency_ms = r.latency_ms.max(d.latency_ms);
            }
            _ => {
                rows.push(SuccessRow {
                    last_seq: d.seq,
                    first_seq: d.seq,
                    events: 1,
                    event_id: d.event_id,
                    event_type: d.event_type.as_str(),
                    attempt: d.attempt,
                    status_code: d.status_code,
                    latency_ms: d.latency_ms,
                });
                in_run = d.attempt == 1;
            }
        }
    }
    rows
}

/// Logs delivered events (in order) and moves the cursor past the last,
/// renewing the lease, in one statement: the worker records a page of
/// successes together rather than one round trip per event (a crash before
/// this only means those events are sent again: at-least-once), and the
/// log gets one row per run of first-attempt successes ([`success_rows`]),
/// not one per event. With `release: Some(cursor)` it also ends the claim
/// in the same statement, the cursor moving on to `cursor` when that is
/// further (past events of other types): the end of a claim costs no
/// extra round trip. False when the lease was lost (the caller stops).
pub async fn record_successes(
    db: &Db,
    owner: Uuid,
    c: &Claimed,
    done: &[Delivered],
    lease: Duration,
    release: Option<i64>,
) -> Result<bool> {
    let Some(last) = done.last() else {
        return Ok(true);
    };
    let (ending, release_at) = (release.is_some(), release.unwrap_or(last.seq));
    let rows = success_rows(done);
    let seqs: Vec<i64> = rows.iter().map(|r| r.last_seq).collect();
    let firsts: Vec<i64> = rows.iter().map(|r| r.first_seq).collect();
    let counts: Vec<i32> = rows.iter().map(|r| r.events).collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.event_id).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.event_type).collect();
    let attempts: Vec<i32> = rows.iter().map(|r| r.attempt).collect();
    let statuses: Vec<i32> = rows.iter().map(|r| r.status_code).collect();
    let latencies: Vec<i32> = rows.iter().map(|r| r.latency_ms).collect();
    let rows = db
        .query(
            "WITH upd AS (UPDATE webhook_subscriptions SET \
               cursor_seq = GREATEST($3::int8, $14::int8), failures = 0, \
               first_failure_at = NULL, last_error = NULL, \
               lease_owner = CASE WHEN $15 THEN NULL ELSE lease_owner END, \
               lease_until = CASE WHEN $15 THEN NULL \
                 ELSE now() + make_interval(secs => $5) END \
             WHERE tenant_id = $1 AND id = $2 AND lease_owner = $4 AND lease_until > now() \
             RETURNING 1), \
             log AS (INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_seq, \
               event_id, event_type, attempt, status_code, ok, latency_ms, worker_id, \
               first_event_seq, events) \
             SELECT $1, $2, u.s, u.e, u.t, u.a, u.c, true, u.l, $4, u.f, u.n \
             FROM upd, UNNEST($6::int8[], $7::uuid[], $8::text[], $9::int4[], $10::int4[], \
               $11::int4[], $12::int8[], $13::int4[]) WITH ORDINALITY AS u(s, e, t, a, c, l, f, n, o) \
             ORDER BY u.o) \
             SELECT count(*) FROM upd",
            &[
                &c.tenant_id,
                &c.id,
                &last.seq,
                &owner,
                &lease.as_secs_f64(),
                &seqs,
                &ids,
                &types,
                &attempts,
                &statuses,
                &latencies,
                &firsts,
                &counts,
                &release_at,
                &ending,
            ],
        )
        .await?;
    Ok(rows.first().is_some_and(|r| r.get::<_, i64>(0) > 0))
}

/// Logs a failed attempt, schedules the retry and releases the claim;
/// with `pause` the subscription is paused with that reason instead.
pub async fn record_failure(
    db: &Db,
    owner: Uuid,
    c: &Claimed,
    a: &Attempt<'_>,
    retry_in: Duration,
    pause: Option<&str>,
) -> Result<()> {
    db.query(
        &format!(
            "WITH upd AS (UPDATE webhook_subscriptions SET failures = failures + 1, \
               first_failure_at = COALESCE(first_failure_at, now()), last_error = $9, \
               next_attempt_at = now() + make_interval(secs => $12), \
               paused_at = CASE WHEN $13::text IS NULL THEN NULL ELSE now() END, \
               paused_reason = $13, lease_owner = NULL, lease_until = NULL \
             WHERE tenant_id = $1 AND id = $2 AND lease_owner = $11 AND lease_until > now() \
             RETURNING 1), \
             log AS ({SQL_LOG}) SELECT count(*) FROM upd"
        ),
        &[
            &c.tenant_id,
            &c.id,
            &a.event.seq,
            &a.event.event_id,
            &a.event.event_type,
            &a.attempt,
            &a.status_code,
            &a.ok,
            &a.error,
            &a.latency_ms,
            &owner,
            &retry_in.as_secs_f64(),
            &pause,
        ],
    )
    .await?;
    Ok(())
}

/// Ends a claim with nothing (more) to do: the cursor moves to `cursor`
/// (past events the subscription does not want), due again at once.
pub async fn release(db: &Db, owner: Uuid, c: &Claimed, cursor: i64) -> Result<()> {
    db.query(
        "UPDATE webhook_subscriptions SET cursor_seq = GREATEST(cursor_seq, $3), \
           lease_owner = NULL, lease_until = NULL \
         WHERE tenant_id = $1 AND id = $2 AND lease_owner = $4",
        &[&c.tenant_id, &c.id, &cursor, &owner],
    )
    .await?;
    Ok(())
}

/// Cluster-wide backlog for metrics: (undelivered events over active
/// subscriptions, age in seconds of the oldest of them, paused count).
pub async fn backlog_stats(db: &Db) -> Result<(i64, f64, i64)> {
    let rows = db
        .query(
            "SELECT COALESCE(sum(h.last_seq - w.cursor_seq) FILTER (WHERE w.paused_at IS NULL), 0)::int8, \
                    COALESCE(max(EXTRACT(EPOCH FROM now() - e.recorded_at)) \
                      FILTER (WHERE w.paused_at IS NULL), 0)::float8, \
                    count(*) FILTER (WHERE w.paused_at IS NOT NULL) \
             FROM webhook_subscriptions w \
             JOIN event_heads h ON h.tenant_id = w.tenant_id \
             LEFT JOIN events e ON e.tenant_id = w.tenant_id AND e.seq = w.cursor_seq + 1 \
             WHERE w.active AND w.deleted_at IS NULL",
            &[],
        )
        .await?;
    Ok(rows
        .first()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap_or((0, 0.0, 0)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// First-attempt successes collapse into runs; a success after
    /// failures keeps its own row and starts a new run after it.
    #[test]
    fn successes_are_logged_as_runs() {
        let d = |seq: i64, attempt: i32, latency: i32| Delivered {
            seq,
            event_id: Uuid::from_u128(seq as u128),
            event_type: "t".into(),
            attempt,
            status_code: 200,
            latency_ms: latency,
        };
        let done = [d(1, 6, 5), d(2, 1, 3), d(4, 1, 9), d(5, 1, 1)];
        let rows: Vec<(i64, i64, i32, i32, i32)> = success_rows(&done)
            .iter()
            .map(|r| (r.last_seq, r.first_seq, r.events, r.attempt, r.latency_ms))
            .collect();
        assert_eq!(rows, [(1, 1, 1, 6, 5), (5, 2, 3, 1, 9)]);
        assert!(success_rows(&[]).is_empty());
    }

    /// The body built from JSON text is the documented object.
    #[test]
    fn outgoing_body_is_the_event_object() {
        let e = Outgoing {
            seq: 7,
            event_id: Uuid::from_u128(1),
            event_type: "receipt.created".into(),
            occurred_at: chrono::DateTime::from_timestamp(1_700_000_000, 5_000).unwrap(),
            data: r#"{"id": "x", "total": 100}"#.into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&e.body(Uuid::from_u128(2))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "event_id": Uuid::from_u128(1), "type": "receipt.created",
                "occurred_at": "2023-11-14T22:13:20.000005Z", "tenant_id": Uuid::from_u128(2),
                "seq": 7, "data": {"id": "x", "total": 100}
            })
        );
    }
}
