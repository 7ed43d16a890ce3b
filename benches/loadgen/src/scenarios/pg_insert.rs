//! `pg-insert`: the write ceiling of this PostgreSQL on this machine. The
//! rows a receipt writes — 1 receipt_keys, 1 receipts, 3 receipt_items,
//! 1 payments, 3 stock_movements and the stock_levels upserts (coalesced
//! per (warehouse, variant) within a batch, as the server's group commit
//! does) — inserted straight into PostgreSQL, one transaction per batch of
//! receipts, with one set-based UNNEST statement per table, pipelined.

use super::{Ctx, ScenarioResult};
use crate::cli::ScenarioName;
use crate::db;
use crate::fixture::{Fixture, RegisterRef};
use crate::sampler::Sampler;
use crate::stats::{Latency, Live, Recorder};
use anyhow::Context;
use futures_util::future::try_join_all;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

const SQL_KEYS: &str = "INSERT INTO receipt_keys (tenant_id, id, store_id, register_id, number, body_hash, occurred_at) \
    SELECT u.t, u.id, u.s, u.r, u.n, u.h, now() \
    FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::bytea[]) AS u(t, id, s, r, n, h)";
// The receipt number lives in receipt_keys only (as in the server).
const SQL_RECEIPTS: &str = "INSERT INTO receipts (tenant_id, id, occurred_at, store_id, register_id, shift_id, kind, \
    subtotal, discount_total, total, paid, change_due) \
    SELECT u.t, u.id, now(), u.s, u.r, u.sh, 'sale', u.tot, 0, u.tot, u.paid, u.paid - u.tot \
    FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int8[], $7::int8[]) \
    AS u(t, id, s, r, sh, tot, paid)";
const SQL_ITEMS: &str = "INSERT INTO receipt_items (tenant_id, receipt_id, line_no, occurred_at, variant_id, product_id, \
    quantity, price, discount, total) \
    SELECT u.t, u.rid, u.ln, now(), u.v, u.p, 1, u.price, 0, u.price \
    FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[], $4::uuid[], $5::uuid[], $6::int8[]) AS u(t, rid, ln, v, p, price)";
const SQL_PAYMENTS: &str = "INSERT INTO payments (tenant_id, receipt_id, line_no, occurred_at, method, amount) \
    SELECT u.t, u.rid, 1, now(), 'cash', u.a FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[]) AS u(t, rid, a)";
const SQL_MOVEMENTS: &str = "INSERT INTO stock_movements (tenant_id, warehouse_id, variant_id, delta, cause, document_id) \
    SELECT u.t, u.w, u.v, -1, 'sale', u.d FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[]) AS u(t, w, v, d)";
const SQL_LEVELS: &str = "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity, updated_at) \
    SELECT u.t, u.w, u.v, u.q, now() FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int8[]) AS u(t, w, v, q) \
    ON CONFLICT (tenant_id, warehouse_id, variant_id) \
    DO UPDATE SET quantity = stock_levels.quantity + EXCLUDED.quantity, updated_at = now()";
const SQL_REGISTERS: &str = "UPDATE registers r SET last_receipt_seq = r.last_receipt_seq + u.n \
    FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[]) AS u(t, id, n) WHERE r.tenant_id = u.t AND r.id = u.id";

struct Statements {
    keys: Statement,
    receipts: Statement,
    items: Statement,
    payments: Statement,
    movements: Statement,
    levels: Statement,
    registers: Statement,
}

impl Statements {
    async fn prepare(c: &Client) -> anyhow::Result<Self> {
        Ok(Self {
            keys: c
                .prepare(SQL_KEYS)
                .await
                .context("preparing receipt_keys")?,
            receipts: c
                .prepare(SQL_RECEIPTS)
                .await
                .context("preparing receipts")?,
            items: c
                .prepare(SQL_ITEMS)
                .await
                .context("preparing receipt_items")?,
            payments: c
                .prepare(SQL_PAYMENTS)
                .await
                .context("preparing payments")?,
            movements: c
                .prepare(SQL_MOVEMENTS)
                .await
                .context("preparing stock_movements")?,
            levels: c
                .prepare(SQL_LEVELS)
                .await
                .context("preparing stock_levels")?,
            registers: c
                .prepare(SQL_REGISTERS)
                .await
                .context("preparing registers")?,
        })
    }
}

/// Column arrays of one batch.
#[derive(Default)]
struct Batch {
    // receipts (receipt_keys share them)
    r_tenant: Vec<Uuid>,
    r_id: Vec<Uuid>,
    r_store: Vec<Uuid>,
    r_register: Vec<Uuid>,
    r_shift: Vec<Uuid>,
    r_number: Vec<String>,
    r_hash: Vec<Vec<u8>>,
    r_total: Vec<i64>,
    r_paid: Vec<i64>,
    // receipt_items and stock_movements
    i_tenant: Vec<Uuid>,
    i_receipt: Vec<Uuid>,
    i_line: Vec<i32>,
    i_variant: Vec<Uuid>,
    i_product: Vec<Uuid>,
    i_price: Vec<i64>,
    i_warehouse: Vec<Uuid>,
    // coalesced stock deltas and register sequence bumps (sorted: lock order)
    levels: BTreeMap<(Uuid, Uuid, Uuid), i64>,
    registers: BTreeMap<(Uuid, Uuid), i64>,
}

impl Batch {
    fn rows(&self, with_registers: bool) -> u64 {
        let regs = if with_registers {
            self.registers.len()
        } else {
            0
        };
        (self.r_id.len() * 2
            + self.i_receipt.len() * 2
            + self.r_id.len()
            + self.levels.len()
            + regs) as u64
    }
}

struct Source {
    fixture: Arc<Fixture>,
    registers: Vec<RegisterRef>,
    nonce: u64,
    counter: AtomicU64,
}

impl Source {
    fn batch(&self, rng: &mut StdRng, size: usize) -> Batch {
        let mut b = Batch::default();
        for _ in 0..size {
            let reg = self.registers[rng.gen_range(0..self.registers.len())];
            let t = &self.fixture.tenants[reg.tenant];
            let store = &t.stores[reg.store];
            let r = &store.registers[reg.register];
            let id = Uuid::now_v7();
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let mut total = 0;
            for (line, vi) in sample(rng, t.variants.len(), 3).into_iter().enumerate() {
                let v = &t.variants[vi];
                total += v.price;
                b.i_tenant.push(t.id);
                b.i_receipt.push(id);
                b.i_line.push(line as i32 + 1);
                b.i_variant.push(v.id);
                b.i_product.push(v.product_id);
                b.i_price.push(v.price);
                b.i_warehouse.push(store.warehouse_id);
                *b.levels
                    .entry((t.id, store.warehouse_id, v.id))
                    .or_default() -= 1;
            }
            b.r_tenant.push(t.id);
            b.r_id.push(id);
            b.r_store.push(store.id);
            b.r_register.push(r.id);
            b.r_shift.push(r.shift_id);
            b.r_number
                .push(format!("pg{}-{}-{n}", self.nonce, r.number));
            b.r_hash.push(Sha256::digest(id.as_bytes()).to_vec());
            b.r_total.push(total);
            b.r_paid.push((total + 999) / 1000 * 1000);
            *b.registers.entry((t.id, r.id)).or_default() += 1;
        }
        b
    }
}

async fn write(
    client: &mut Client,
    st: &Statements,
    b: &Batch,
    with_registers: bool,
) -> anyhow::Result<()> {
    let (l_t, l_w, l_v, l_q) = unzip4(b.levels.iter().map(|((t, w, v), q)| (*t, *w, *v, *q)));
    let (g_t, g_id, g_n) = unzip3(b.registers.iter().map(|((t, id), n)| (*t, *id, *n)));
    let tx = client.transaction().await?;
    {
        let mut work: Vec<(&Statement, Vec<&(dyn ToSql + Sync)>)> = vec![
            (
                &st.keys,
                vec![
                    &b.r_tenant,
                    &b.r_id,
                    &b.r_store,
                    &b.r_register,
                    &b.r_number,
                    &b.r_hash,
                ],
            ),
            (
                &st.receipts,
                vec![
                    &b.r_tenant,
                    &b.r_id,
                    &b.r_store,
                    &b.r_register,
                    &b.r_shift,
                    &b.r_total,
                    &b.r_paid,
                ],
            ),
            (
                &st.items,
                vec![
                    &b.i_tenant,
                    &b.i_receipt,
                    &b.i_line,
                    &b.i_variant,
                    &b.i_product,
                    &b.i_price,
                ],
            ),
            (&st.payments, vec![&b.r_tenant, &b.r_id, &b.r_paid]),
            (
                &st.movements,
                vec![&b.i_tenant, &b.i_warehouse, &b.i_variant, &b.i_receipt],
            ),
            (&st.levels, vec![&l_t, &l_w, &l_v, &l_q]),
        ];
        if with_registers {
            work.push((&st.registers, vec![&g_t, &g_id, &g_n]));
        }
        // Polled together, the statements are pipelined on the connection.
        try_join_all(work.iter().map(|(s, p)| tx.execute(*s, p.as_slice()))).await?;
    }
    tx.commit().await?;
    Ok(())
}

type Four = (Vec<Uuid>, Vec<Uuid>, Vec<Uuid>, Vec<i64>);

fn unzip4(it: impl Iterator<Item = (Uuid, Uuid, Uuid, i64)>) -> Four {
    let mut out: Four = Default::default();
    for (a, b, c, d) in it {
        out.0.push(a);
        out.1.push(b);
        out.2.push(c);
        out.3.push(d);
    }
    out
}

fn unzip3(it: impl Iterator<Item = (Uuid, Uuid, i64)>) -> (Vec<Uuid>, Vec<Uuid>, Vec<i64>) {
    let mut out: (Vec<Uuid>, Vec<Uuid>, Vec<i64>) = Default::default();
    for (a, b, c) in it {
        out.0.push(a);
        out.1.push(b);
        out.2.push(c);
    }
    out
}

#[derive(Default)]
struct WriterOut {
    rec: Recorder,
    receipts: u64,
    rows: u64,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<ScenarioResult> {
    let url = ctx
        .args
        .database_url
        .clone()
        .context("pg-insert needs --database-url (or DATABASE_URL) of the bench database")?;
    let spec = ctx.spec();
    let batch = ctx.args.pg_batch.unwrap_or(ctx.server_batch).max(1);
    let writers = ctx.args.pg_writers.max(1);
    let with_registers = ctx.args.pg_register_seq;
    let source = Arc::new(Source {
        registers: ctx.fixture.registers(),
        fixture: ctx.fixture.clone(),
        nonce: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        counter: AtomicU64::new(0),
    });

    // Connect and prepare before the clock starts.
    let mut clients = Vec::with_capacity(writers);
    for _ in 0..writers {
        let c = db::connect(&url).await?;
        let st = Statements::prepare(&c).await?;
        clients.push((c, st));
    }
    let sampler = Sampler::start(&ctx.sampler).await;
    let live = Arc::new(Live::default());
    let bar = crate::load::spawn_progress("pg-insert", spec.duration, live.clone());
    let start = Instant::now();
    let end = start + spec.duration;
    let mut tasks = Vec::new();
    for (w, (mut client, st)) in clients.into_iter().enumerate() {
        let source = source.clone();
        let live = live.clone();
        let seed = spec.seed.wrapping_add(w as u64);
        tasks.push(tokio::spawn(async move {
            let mut out = WriterOut::default();
            let mut rng = StdRng::seed_from_u64(seed);
            while Instant::now() < end {
                let b = source.batch(&mut rng, batch);
                let t0 = Instant::now();
                match write(&mut client, &st, &b, with_registers).await {
                    Ok(()) => {
                        out.rec.success("batch", t0.elapsed());
                        out.receipts += b.r_id.len() as u64;
                        out.rows += b.rows(with_registers);
                        for _ in 0..b.r_id.len() {
                            live.ok();
                        }
                    }
                    Err(e) => {
                        out.rec.error("batch", &e);
                        live.failed();
                        if client.is_closed() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            out
        }));
    }
    let mut rec = Recorder::default();
    let (mut receipts, mut rows) = (0u64, 0u64);
    for t in tasks {
        match t.await {
            Ok(o) => {
                rec.merge(&o.rec);
                receipts += o.receipts;
                rows += o.rows;
            }
            Err(e) => rec.error("batch", &anyhow::anyhow!("writer task failed: {e}")),
        }
    }
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    let samples = sampler.finish().await;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let total = rec.total();
    let tables = if with_registers {
        "receipt_keys, receipts, receipt_items, payments, stock_movements, stock_levels upsert, registers seq"
    } else {
        "receipt_keys, receipts, receipt_items, payments, stock_movements, stock_levels upsert"
    };
    Ok(ScenarioResult {
        name: ScenarioName::PgInsert.as_str().to_owned(),
        mode: format!(
            "{writers} writer connections, {batch} receipts per transaction, closed loop"
        ),
        connections: writers,
        duration_s: secs,
        ok: receipts,
        per_s: receipts as f64 / secs,
        unit: "receipts/s".to_owned(),
        non_2xx: 0,
        errors: total.errors,
        latency: Latency::of(&total.hist),
        latency_of: format!("one batch transaction of {batch} receipts, BEGIN to COMMIT"),
        kinds: vec![],
        samples,
        extra: json!({
            "writers": writers,
            "batch_receipts": batch,
            "batches": total.ok,
            "receipts": receipts,
            "rows": rows,
            "rows_per_s": rows as f64 / secs,
            "tables": tables,
            "error_samples": total.error_samples,
        }),
        notes: vec![format!(
            "pg-insert: {:.0} rows/s ({tables}); stock_levels rows are counted after coalescing",
            rows as f64 / secs
        )],
    })
}
