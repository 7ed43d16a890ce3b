//! The receipt write path (one transaction per group commit) and receipt
//! reads. The transaction is the last word on everything that must hold
//! across instances: idempotency (receipt_keys), numbering (register rows),
//! open shifts, return limits. Locks are always taken in the same order —
//! registers, shifts, original receipts, stock levels, each sorted — so two
//! batches never deadlock on each other.

use super::Db;
use crate::domain::business_day::BusinessClock;
use crate::domain::Quantity;
use crate::error::{Error, Result};
use crate::pg::totals_writer::{self, ReceiptFacts, TotalsDelta, TotalsStatements};
use crate::store::receipt::{
    PaymentMethod, PreparedReceipt, ReceiptKind, ReceiptLine, ReceiptPayment, StoredReceipt,
};
use crate::writer::batch::ReceiptBatch;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// What happened to one receipt of a batch.
#[derive(Debug)]
pub enum Outcome {
    Created(StoredReceipt),
    /// Already stored (by an earlier request, another instance, before a
    /// restart): the stored receipt, answered as a replay.
    Duplicate(StoredReceipt),
    Rejected(Error),
}

/// A stock level after the batch, for live subscribers.
#[derive(Debug, Clone)]
pub struct LevelUpdate {
    pub tenant_id: Uuid,
    pub store_id: Uuid,
    pub warehouse_id: Uuid,
    pub variant_id: Uuid,
    pub quantity: Decimal,
    pub delta: Decimal,
}

pub struct BatchResult {
    /// One per input receipt, same order.
    pub outcomes: Vec<Outcome>,
    pub levels: Vec<LevelUpdate>,
}

/// (register, opened_at, closed_at) of a shift, and what its receipts'
/// totals need (employee, store clock). The store row is held FOR SHARE so
/// a change of its business clock waits for batches that read the old one
/// (`totals::set_store_clock`).
type ShiftState = (Uuid, DateTime<Utc>, Option<DateTime<Utc>>, ReceiptFacts);

fn unique_pairs(pairs: impl Iterator<Item = (Uuid, Uuid)>) -> (Vec<Uuid>, Vec<Uuid>) {
    let set: BTreeSet<(Uuid, Uuid)> = pairs.collect();
    set.into_iter().unzip()
}

const SQL_KEYS: &str = "SELECT k.tenant_id, k.id, k.body_hash FROM receipt_keys k \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON k.tenant_id = u.t AND k.id = u.id";
const SQL_SHIFTS: &str =
    "SELECT s.tenant_id, s.id, s.register_id, s.opened_at, s.closed_at, s.employee_id, \
        COALESCE(st.time_zone, tn.time_zone), COALESCE(st.business_day_start_hour, tn.business_day_start_hour) \
     FROM shifts s \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON s.tenant_id = u.t AND s.id = u.id \
     JOIN stores st ON st.tenant_id = s.tenant_id AND st.id = s.store_id \
     JOIN tenants tn ON tn.id = s.tenant_id \
     ORDER BY s.tenant_id, s.id FOR SHARE OF s, st";
const SQL_TAKEN: &str = "SELECT k.tenant_id, k.number FROM receipt_keys k \
     JOIN UNNEST($1::uuid[], $2::text[]) AS u(t, n) ON k.tenant_id = u.t AND k.number = u.n";
const SQL_LOCK_REGISTERS: &str = "SELECT 1 FROM registers r \
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS u(t, id) ON r.tenant_id = u.t AND r.id = u.id \
     ORDER BY r.tenant_id, r.id FOR UPDATE OF r";
/// Raises each register's counter past its client numbers and its count of
/// server-numbered receipts, and writes those numbers over the
/// placeholders, in batch order.
const SQL_NUMBER: &str = "WITH bump AS ( \
       UPDATE registers r SET last_receipt_seq = GREATEST(r.last_receipt_seq, u.maxc) + u.n \
       FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int8[]) AS u(t, id, maxc, n) \
       WHERE r.tenant_id = u.t AND r.id = u.id \
       RETURNING r.tenant_id, r.id, r.number AS regno, r.last_receipt_seq - u.n AS base) \
     UPDATE receipt_keys k SET number = b.regno || '-' || (b.base + x.ord) \
     FROM bump b, UNNEST($5::uuid[], $6::uuid[], $7::uuid[], $8::int8[]) AS x(t, rid, reg, ord) \
     WHERE b.tenant_id = x.t AND b.id = x.reg AND k.tenant_id = x.t AND k.id = x.rid \
     RETURNING k.tenant_id, k.id, k.number";

/// Writes a batch in one transaction, in two pipelined round trips (three
/// when it holds returns): reads and checks; then every insert, the stock
/// upsert, the register locks, the numbering and COMMIT. The register rows
/// — the only locks every batch of a store shares — are taken last, so they
/// are held only while PostgreSQL finishes the pipeline and commits.
/// Receipts that break a rule are answered `Rejected` and left out; the rest
/// commit together or not at all.
pub async fn commit_batch(db: &Db, batch: &[PreparedReceipt]) -> Result<BatchResult> {
    let client = db.client().await?;
    let c: &deadpool_postgres::ClientWrapper = &client;
    let result = commit_on(db, c, batch).await;
    if result.is_err() {
        // Leave the connection clean whatever state the pipeline left.
        let _ = c.batch_execute("ROLLBACK").await;
    }
    result
}

async fn commit_on(
    db: &Db,
    c: &deadpool_postgres::ClientWrapper,
    batch: &[PreparedReceipt],
) -> Result<BatchResult> {
    let now = crate::store::receipt::micros(Utc::now());
    let mut outcomes: Vec<Option<Outcome>> = (0..batch.len()).map(|_| None).collect();
    // Behind a transaction-mode PgBouncer statements are prepared inside
    // the transaction, so BEGIN goes first on its own.
    if !db.statement_cache {
        c.batch_execute("BEGIN").await?;
    }
    let s_keys = db.prepare_on(c, SQL_KEYS).await?;
    let s_shifts = db.prepare_on(c, SQL_SHIFTS).await?;
    let s_taken = db.prepare_on(c, SQL_TAKEN).await?;

    // Round trip 1: BEGIN and the reads, pipelined.
    let (ids_t, ids) = unique_pairs(batch.iter().map(|r| (r.tenant_id, r.id)));
    let (sh_t, sh_id) = unique_pairs(batch.iter().map(|r| (r.tenant_id, r.shift_id)));
    let (cn_t, cn_n): (Vec<Uuid>, Vec<String>) = batch
        .iter()
        .filter_map(|r| {
            r.client_seq
                .map(|s| (r.tenant_id, format!("{}-{}", r.register_number, s)))
        })
        .unzip();
    let begin = async {
        if db.statement_cache {
            c.batch_execute("BEGIN").await
        } else {
            Ok(())
        }
    };
    type P<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let (kp, sp, tp): ([P; 2], [P; 2], [P; 2]) = ([&ids_t, &ids], [&sh_t, &sh_id], [&cn_t, &cn_n]);
    let (begun, key_rows, shift_rows, taken_rows) = futures::join!(
        begin,
        c.query(&s_keys, &kp),
        c.query(&s_shifts, &sp),
        c.query(&s_taken, &tp),
    );
    begun?;
    let stored: HashMap<(Uuid, Uuid), Vec<u8>> = key_rows?
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect();
    let shifts: HashMap<(Uuid, Uuid), ShiftState> = shift_rows?
        .iter()
        .map(|row| {
            (
                (row.get(0), row.get(1)),
                (
                    row.get(2),
                    row.get(3),
                    row.get(4),
                    ReceiptFacts {
                        employee: row.get(5),
                        clock: BusinessClock::from_settings(row.get(6), row.get(7)),
                    },
                ),
            )
        })
        .collect();
    let mut taken: BTreeSet<(Uuid, String)> = taken_rows?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();

    // Decide each receipt; returns are checked against what was sold.
    let mut seen_in_batch: HashMap<(Uuid, Uuid), usize> = HashMap::new();
    let mut returnable: HashMap<(Uuid, Uuid), Option<HashMap<Uuid, Decimal>>> = HashMap::new();
    for (i, r) in batch.iter().enumerate() {
        let key = (r.tenant_id, r.id);
        if let Some(hash) = stored.get(&key) {
            outcomes[i] = Some(if hash.as_slice() == r.body_hash {
                match load_receipt_on(&**c, r.tenant_id, r.id).await? {
                    Some(s) => Outcome::Duplicate(s),
                    None => {
                        Outcome::Rejected(Error::Unavailable("receipt being stored; retry".into()))
                    }
                }
            } else {
                Outcome::Rejected(id_conflict())
            });
            continue;
        }
        if let Some(&first) = seen_in_batch.get(&key) {
            // The same id twice in one batch: the first wins.
            let same = batch[first].body_hash == r.body_hash;
            outcomes[i] = Some(Outcome::Rejected(if same {
                Error::Unavailable("the same receipt is being stored; retry".into())
            } else {
                id_conflict()
            }));
            continue;
        }
        match shifts.get(&(r.tenant_id, r.shift_id)) {
            None => {
                outcomes[i] = Some(Outcome::Rejected(Error::invalid(
                    "shift_id",
                    "no such shift",
                )));
                continue;
            }
            Some((register, _, _, _)) if *register != r.register_id => {
                outcomes[i] = Some(Outcome::Rejected(Error::invalid(
                    "shift_id",
                    "the shift belongs to another register",
                )));
                continue;
            }
            Some((_, _, Some(closed), _)) if r.occurred_at > *closed => {
                outcomes[i] = Some(Outcome::Rejected(Error::conflict(
                    "shift_closed",
                    "the shift is closed; open a new one",
                )));
                continue;
            }
            _ => {}
        }
        if let Some(seq) = r.client_seq {
            let number = (r.tenant_id, format!("{}-{}", r.register_number, seq));
            if !taken.insert(number.clone()) {
                outcomes[i] = Some(Outcome::Rejected(Error::conflict(
                    "number_taken",
                    format!(
                        "receipt number {} is already used by another receipt",
                        number.1
                    ),
                )));
                continue;
            }
        }
        if let (ReceiptKind::Return, Some(original)) = (r.kind, r.original_receipt_id) {
            let okey = (r.tenant_id, original);
            if let std::collections::hash_map::Entry::Vacant(e) = returnable.entry(okey) {
                e.insert(returnable_quantities(&**c, r.tenant_id, original).await?);
            }
            let Some(Some(left)) = returnable.get_mut(&okey) else {
                outcomes[i] = Some(Outcome::Rejected(Error::invalid(
                    "original_receipt_id",
                    "no such sale to return",
                )));
                continue;
            };
            if let Err(e) = take_return(left, &r.lines) {
                outcomes[i] = Some(Outcome::Rejected(e));
                continue;
            }
        }
        seen_in_batch.insert(key, i);
    }

    // Placeholder numbers for server-numbered receipts; per register the
    // highest client number and the order of the server-numbered ones.
    let accepted: Vec<usize> = (0..batch.len())
        .filter(|i| outcomes[*i].is_none())
        .collect();
    let mut cols = ReceiptBatch::with_capacity(accepted.len(), accepted.len() * 4);
    let mut per_register: BTreeMap<(Uuid, Uuid), (i64, i64)> = BTreeMap::new();
    let mut numbering = Numbering::default();
    let mut numbers: HashMap<(Uuid, Uuid), String> = HashMap::new();
    let mut totals = TotalsDelta::default();
    for &i in &accepted {
        let r = &batch[i];
        let facts = shifts.get(&(r.tenant_id, r.shift_id)).map(|s| s.3);
        if let Some(facts) = facts {
            totals.add(r, &facts);
        }
        cols.r_employee.push(facts.and_then(|f| f.employee));
        let reg = per_register
            .entry((r.tenant_id, r.register_id))
            .or_insert((0, 0));
        let number = match r.client_seq {
            Some(s) => {
                reg.0 = reg.0.max(s);
                let n = format!("{}-{}", r.register_number, s);
                numbers.insert((r.tenant_id, r.id), n.clone());
                n
            }
            None => {
                reg.1 += 1;
                numbering.x_tenant.push(r.tenant_id);
                numbering.x_receipt.push(r.id);
                numbering.x_register.push(r.register_id);
                numbering.x_ord.push(reg.1);
                format!("~{}", r.id)
            }
        };
        cols.push(r, number);
    }
    for ((t, id), (max_client, count)) in &per_register {
        numbering.reg_tenant.push(*t);
        numbering.reg_id.push(*id);
        numbering.max_client.push(*max_client);
        numbering.count.push(*count);
    }
    let mut levels = Vec::new();
    if cols.is_empty() {
        c.batch_execute("COMMIT").await?;
    } else {
        let (updates, numbered) = insert_and_commit(db, c, &cols, now, &numbering, &totals).await?;
        levels = updates;
        for row in numbered {
            numbers.insert((row.get(0), row.get(1)), row.get(2));
        }
    }

    for &i in &accepted {
        let r = &batch[i];
        outcomes[i] = Some(match numbers.remove(&(r.tenant_id, r.id)) {
            Some(n) => Outcome::Created(r.stored(n, now)),
            None => Outcome::Rejected(Error::invalid("register_id", "no such register")),
        });
    }
    Ok(BatchResult {
        outcomes: outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Outcome::Rejected(Error::Unavailable("not decided; retry".into()))
                })
            })
            .collect(),
        levels,
    })
}

fn id_conflict() -> Error {
    Error::conflict(
        "idempotency_conflict",
        "this receipt id was already used with a different body",
    )
}

/// Subtracts a return's lines from what is left to return on its sale.
fn take_return(left: &mut HashMap<Uuid, Decimal>, lines: &[ReceiptLine]) -> Result<()> {
    let mut want: HashMap<Uuid, Decimal> = HashMap::new();
    for l in lines {
        *want.entry(l.variant_id).or_default() += l.quantity.decimal();
    }
    for (variant, qty) in &want {
        let have = left.get(variant).copied().unwrap_or_default();
        if *qty > have {
            return Err(Error::conflict(
                "return_exceeds_sale",
                format!(
                    "variant {variant}: returning {qty}, only {have} left to return on that sale"
                ),
            ));
        }
    }
    for (variant, qty) in want {
        if let Some(h) = left.get_mut(&variant) {
            *h -= qty;
        }
    }
    Ok(())
}

/// Per variant: sold on the original sale minus already returned. None when
/// the original is not a sale of this tenant. Locks the original's key row
/// so concurrent returns of one sale (any instance) go one at a time.
async fn returnable_quantities(
    tx: &impl GenericClient,
    tenant: Uuid,
    original: Uuid,
) -> Result<Option<HashMap<Uuid, Decimal>>> {
    let stmt =
        "SELECT k.occurred_at FROM receipt_keys k WHERE k.tenant_id = $1 AND k.id = $2 FOR UPDATE";
    let Some(row) = tx.query_opt(stmt, &[&tenant, &original]).await? else {
        return Ok(None);
    };
    let occurred: DateTime<Utc> = row.get(0);
    let stmt = "SELECT kind FROM receipts WHERE tenant_id = $1 AND id = $2 AND occurred_at = $3";
    let kind: Option<String> = tx
        .query_opt(stmt, &[&tenant, &original, &occurred])
        .await?
        .map(|r| r.get(0));
    if kind.as_deref() != Some("sale") {
        return Ok(None);
    }
    let stmt = "SELECT variant_id, sum(quantity) FROM receipt_items \
             WHERE tenant_id = $1 AND receipt_id = $2 AND occurred_at = $3 GROUP BY variant_id";
    let mut left: HashMap<Uuid, Decimal> = HashMap::new();
    for row in tx.query(stmt, &[&tenant, &original, &occurred]).await? {
        left.insert(row.get(0), row.get(1));
    }
    let stmt = "SELECT ri.variant_id, sum(ri.quantity) FROM receipts r JOIN receipt_items ri \
               ON ri.tenant_id = r.tenant_id AND ri.receipt_id = r.id AND ri.occurred_at = r.occurred_at \
             WHERE r.tenant_id = $1 AND r.original_receipt_id = $2 GROUP BY ri.variant_id";
    for row in tx.query(stmt, &[&tenant, &original]).await? {
        let v: Uuid = row.get(0);
        let q: Decimal = row.get(1);
        if let Some(l) = left.get_mut(&v) {
            *l -= q;
        }
    }
    Ok(Some(left))
}

/// Round trip 2: every insert, the stock upsert, the register locks, the
/// numbering and COMMIT, sent back to back. All statements are prepared
/// first: a request goes out when its future is first polled, so the order
/// of the `join!` below is the order PostgreSQL runs them in.
async fn insert_and_commit(
    db: &Db,
    tx: &deadpool_postgres::ClientWrapper,
    c: &ReceiptBatch,
    now: DateTime<Utc>,
    numbering: &Numbering,
    totals: &TotalsDelta,
) -> Result<(Vec<LevelUpdate>, Vec<tokio_postgres::Row>)> {
    let keys = db
        .prepare_on(
            tx,
            "INSERT INTO receipt_keys (tenant_id, id, store_id, register_id, number, body_hash, occurred_at) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::bytea[], $7::timestamptz[])",
        )
        .await?;
    let receipts = db
        .prepare_on(
            tx,
            "INSERT INTO receipts (tenant_id, id, occurred_at, store_id, register_id, shift_id, kind, \
                original_receipt_id, customer_id, subtotal, discount_total, total, paid, change_due, employee_id, \
                created_at) \
             SELECT u.*, $15::timestamptz FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $5::uuid[], \
                $6::uuid[], $7::text[], $8::uuid[], $9::uuid[], $10::bigint[], $11::bigint[], \
                $12::bigint[], $13::bigint[], $14::bigint[], $16::uuid[]) AS u",
        )
        .await?;
    let items = db
        .prepare_on(
            tx,
            "INSERT INTO receipt_items (tenant_id, receipt_id, line_no, occurred_at, variant_id, product_id, \
                quantity, price, discount, total) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::timestamptz[], $5::uuid[], $6::uuid[], \
                $7::numeric[], $8::bigint[], $9::bigint[], $10::bigint[])",
        )
        .await?;
    let payments = db
        .prepare_on(
            tx,
            "INSERT INTO payments (tenant_id, receipt_id, line_no, occurred_at, method, amount) \
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::timestamptz[], $5::text[], $6::bigint[])",
        )
        .await?;
    let movements = db
        .prepare_on(
            tx,
            "INSERT INTO stock_movements (tenant_id, created_at, warehouse_id, variant_id, delta, cause, document_id) \
             SELECT u.t, $7::timestamptz, u.w, u.v, u.d, u.c, u.doc \
             FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[], $5::text[], $6::uuid[]) AS u(t, w, v, d, c, doc)",
        )
        .await?;
    // Pipelined: the statements go out together on one connection.
    type P<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let kp: [P; 7] = [
        &c.r_tenant,
        &c.r_id,
        &c.r_store,
        &c.r_register,
        &c.r_number,
        &c.r_hash,
        &c.r_occurred,
    ];
    let rp: [P; 16] = [
        &c.r_tenant,
        &c.r_id,
        &c.r_occurred,
        &c.r_store,
        &c.r_register,
        &c.r_shift,
        &c.r_kind,
        &c.r_original,
        &c.r_customer,
        &c.r_subtotal,
        &c.r_discount,
        &c.r_total,
        &c.r_paid,
        &c.r_change,
        &now,
        &c.r_employee,
    ];
    let ip: [P; 10] = [
        &c.i_tenant,
        &c.i_receipt,
        &c.i_line,
        &c.i_occurred,
        &c.i_variant,
        &c.i_product,
        &c.i_quantity,
        &c.i_price,
        &c.i_discount,
        &c.i_total,
    ];
    let pp: [P; 6] = [
        &c.p_tenant,
        &c.p_receipt,
        &c.p_line,
        &c.p_occurred,
        &c.p_method,
        &c.p_amount,
    ];
    let mp: [P; 7] = [
        &c.m_tenant,
        &c.m_warehouse,
        &c.m_variant,
        &c.m_delta,
        &c.m_cause,
        &c.m_document,
        &now,
    ];
    let levels = db.prepare_on(tx, SQL_LEVELS).await?;
    let totals_st = TotalsStatements::prepare(db, tx).await?;
    let totals_cols = totals.columns();
    let lock = db.prepare_on(tx, SQL_LOCK_REGISTERS).await?;
    let number = db.prepare_on(tx, SQL_NUMBER).await?;
    let (lt, lw, lv, ld) = c.level_columns();
    let levp: [P; 4] = [&lt, &lw, &lv, &ld];
    let n = numbering;
    let lockp: [P; 2] = [&n.reg_tenant, &n.reg_id];
    let nump: [P; 8] = [
        &n.reg_tenant,
        &n.reg_id,
        &n.max_client,
        &n.count,
        &n.x_tenant,
        &n.x_receipt,
        &n.x_register,
        &n.x_ord,
    ];
    let (k, r, i, p, m, l, t, locked, numbered, committed) = futures::join!(
        tx.execute(&keys, &kp),
        tx.execute(&receipts, &rp),
        tx.execute(&items, &ip),
        tx.execute(&payments, &pp),
        tx.execute(&movements, &mp),
        tx.query(&levels, &levp),
        // Derived data: the running totals, in this transaction.
        totals_writer::write(tx, &totals_st, &totals_cols),
        tx.query(&lock, &lockp),
        tx.query(&number, &nump),
        // A failed statement aborts the transaction: COMMIT then rolls back.
        tx.batch_execute("COMMIT"),
    );
    k?;
    r?;
    i?;
    p?;
    m?;
    let level_rows = l?;
    t?;
    locked?;
    let numbered = numbered?;
    committed?;
    let updates = level_rows
        .iter()
        .filter_map(|row| {
            let key: (Uuid, Uuid, Uuid) = (row.get(0), row.get(1), row.get(2));
            let (delta, store) = c.levels.get(&key)?;
            Some(LevelUpdate {
                tenant_id: key.0,
                store_id: *store,
                warehouse_id: key.1,
                variant_id: key.2,
                quantity: row.get(3),
                delta: *delta,
            })
        })
        .collect();
    Ok((updates, numbered))
}

/// Inputs of SQL_NUMBER: per register (sorted) and per server-numbered receipt.
#[derive(Default)]
struct Numbering {
    reg_tenant: Vec<Uuid>,
    reg_id: Vec<Uuid>,
    max_client: Vec<i64>,
    count: Vec<i64>,
    x_tenant: Vec<Uuid>,
    x_receipt: Vec<Uuid>,
    x_register: Vec<Uuid>,
    x_ord: Vec<i64>,
}

/// One upsert for all levels of the batch, in key order (lock order);
/// answers the new quantities.
const SQL_LEVELS: &str = "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity, updated_at) \
     SELECT u.t, u.w, u.v, u.d, now() FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::numeric[]) \
       AS u(t, w, v, d) ORDER BY 1, 2, 3 \
     ON CONFLICT (tenant_id, warehouse_id, variant_id) \
     DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now() \
     RETURNING tenant_id, warehouse_id, variant_id, quantity";

/// A stored receipt by id.
pub async fn load_receipt(db: &Db, tenant: Uuid, id: Uuid) -> Result<Option<StoredReceipt>> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let r = load_receipt_on(&*tx, tenant, id).await?;
    tx.commit().await?;
    Ok(r)
}

async fn load_receipt_on(
    tx: &impl GenericClient,
    tenant: Uuid,
    id: Uuid,
) -> Result<Option<StoredReceipt>> {
    let stmt = "SELECT r.id, k.number, r.store_id, r.register_id, r.shift_id, r.kind, r.original_receipt_id, \
                    r.customer_id, r.occurred_at, r.created_at, r.subtotal, r.discount_total, r.total, r.paid, \
                    r.change_due \
             FROM receipt_keys k JOIN receipts r ON r.tenant_id = k.tenant_id AND r.id = k.id \
               AND r.occurred_at = k.occurred_at \
             WHERE k.tenant_id = $1 AND k.id = $2";
    let Some(row) = tx.query_opt(stmt, &[&tenant, &id]).await? else {
        return Ok(None);
    };
    let occurred: DateTime<Utc> = row.get(8);
    let items = "SELECT line_no, variant_id, product_id, quantity, price, discount, total FROM receipt_items \
             WHERE tenant_id = $1 AND receipt_id = $2 AND occurred_at = $3 ORDER BY line_no";
    let items = tx
        .query(items, &[&tenant, &id, &occurred])
        .await?
        .iter()
        .map(|i| ReceiptLine {
            line_no: i.get(0),
            variant_id: i.get(1),
            product_id: i.get(2),
            quantity: Quantity(i.get::<_, Decimal>(3).normalize()),
            price: i.get(4),
            discount: i.get(5),
            total: i.get(6),
        })
        .collect();
    let pays = "SELECT method, amount FROM payments WHERE tenant_id = $1 AND receipt_id = $2 \
             AND occurred_at = $3 ORDER BY line_no";
    let payments = tx
        .query(pays, &[&tenant, &id, &occurred])
        .await?
        .iter()
        .map(|p| ReceiptPayment {
            method: match p.get::<_, &str>(0) {
                "cash" => PaymentMethod::Cash,
                "card" => PaymentMethod::Card,
                _ => PaymentMethod::Other,
            },
            amount: p.get(1),
        })
        .collect();
    Ok(Some(StoredReceipt {
        id: row.get(0),
        number: row.get(1),
        store_id: row.get(2),
        register_id: row.get(3),
        shift_id: row.get(4),
        kind: if row.get::<_, &str>(5) == "return" {
            ReceiptKind::Return
        } else {
            ReceiptKind::Sale
        },
        original_receipt_id: row.get(6),
        customer_id: row.get(7),
        occurred_at: occurred,
        created_at: row.get(9),
        subtotal: row.get(10),
        discount_total: row.get(11),
        total: row.get(12),
        paid: row.get(13),
        change: row.get(14),
        items,
        payments,
    }))
}

/// A receipt in a listing (the full receipt is GET /receipts/{id}).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiptSummary {
    pub id: Uuid,
    pub number: String,
    pub register_id: Uuid,
    pub shift_id: Uuid,
    pub kind: ReceiptKind,
    pub occurred_at: DateTime<Utc>,
    pub total: i64,
}

/// One page of a store's receipts, newest first, keyset-paged by
/// (occurred_at, id); the time bounds let PostgreSQL prune partitions.
pub async fn list_receipts(
    db: &Db,
    tenant: Uuid,
    store: Uuid,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ReceiptSummary>> {
    let (cur_t, cur_id) = match after {
        Some((t, id)) => (Some(t), Some(id)),
        None => (None, None),
    };
    let rows = db
        .query(
            "SELECT r.id, k.number, r.register_id, r.shift_id, r.kind, r.occurred_at, r.total FROM receipts r \
             JOIN receipt_keys k ON k.tenant_id = r.tenant_id AND k.id = r.id \
             WHERE r.tenant_id = $1 AND r.store_id = $2 \
               AND ($3::timestamptz IS NULL OR r.occurred_at >= $3) \
               AND ($4::timestamptz IS NULL OR r.occurred_at < $4) \
               AND ($5::timestamptz IS NULL OR (r.occurred_at, r.id) < ($5, $6::uuid)) \
             ORDER BY r.occurred_at DESC, r.id DESC LIMIT $7",
            &[&tenant, &store, &from, &to, &cur_t, &cur_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ReceiptSummary {
            id: r.get(0),
            number: r.get(1),
            register_id: r.get(2),
            shift_id: r.get(3),
            kind: if r.get::<_, &str>(4) == "return" {
                ReceiptKind::Return
            } else {
                ReceiptKind::Sale
            },
            occurred_at: r.get(5),
            total: r.get(6),
        })
        .collect())
}
