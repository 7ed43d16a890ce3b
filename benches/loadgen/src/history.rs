//! `jowi-bench history`: a year (by default) of sales history for the
//! fixture's tenants, written set-based inside PostgreSQL — a closed shift
//! per register and day, then per (tenant, week) one statement per table
//! generating that week's receipts, 3 lines each, and one payment — at
//! `--receipts` receipts in total (5,000,000 by default). Monthly partitions
//! are created first, so history does not pile up in the default partition.
//! The report totals are then computed by `jowi reports rebuild` (the same
//! set-based SQL that repairs them), which `benches/reports.sh` runs next.
//!
//! History holds sales only (no returns, no stock movements: stock levels
//! stay those of setup), paid by card or cash exactly, by the shift's
//! register; its receipt numbers are `{register}-h{id}` so they never meet
//! the server's numbers.

use crate::cli::HistoryArgs;
use crate::db;
use crate::fixture::Fixture;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use uuid::Uuid;

const PARTITIONS: &str = "DO $$ DECLARE t text; m date; BEGIN \
   FOREACH t IN ARRAY ARRAY['receipts', 'receipt_items', 'payments'] LOOP \
     FOR i IN 0..14 LOOP \
       m := (date_trunc('month', now()) - make_interval(months => i))::date; \
       IF to_regclass(t || '_' || to_char(m, 'YYYYMM')) IS NULL THEN \
         BEGIN \
           EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', \
             t || '_' || to_char(m, 'YYYYMM'), t, m, (m + interval '1 month')::date); \
         EXCEPTION WHEN check_violation OR invalid_object_definition THEN NULL; \
         END; \
       END IF; \
     END LOOP; \
   END LOOP; END $$";

/// One closed shift per register and day of the range.
const SHIFTS: &str =
    "INSERT INTO shifts (tenant_id, id, store_id, register_id, opened_at, closed_at, \
     opening_cash, counted_cash) \
   SELECT r.tenant_id, gen_random_uuid(), r.store_id, r.id, d + interval '3 hours', \
     d + interval '20 hours', 0, 0 \
   FROM registers r, generate_series($2::text::date, $3::text::date, interval '1 day') d \
   WHERE r.tenant_id = $1";

/// The week's receipts: $4 per shift, at random times of the shift.
const RECEIPTS_TMP: &str = "CREATE TEMP TABLE h_receipts ON COMMIT DROP AS \
   SELECT gen_random_uuid() AS id, s.tenant_id, s.store_id, s.register_id, s.id AS shift_id, r.number, \
     date_trunc('milliseconds', s.opened_at + random() * (s.closed_at - s.opened_at)) AS occurred_at \
   FROM shifts s JOIN registers r ON r.tenant_id = s.tenant_id AND r.id = s.register_id, \
     generate_series(1, $4::int) g \
   WHERE s.tenant_id = $1 AND s.closed_at IS NOT NULL AND s.counted_cash = 0 \
     AND s.opened_at >= $2::text::date AND s.opened_at < $3::text::date";

/// 3 lines per receipt, random variants of the tenant ($1 ids, $2 products, $3 prices).
const ITEMS_TMP: &str = "CREATE TEMP TABLE h_items ON COMMIT DROP AS \
   SELECT h.tenant_id, h.id AS receipt_id, k AS line_no, h.occurred_at, \
     ($1::uuid[])[x.i] AS variant_id, ($2::uuid[])[x.i] AS product_id, \
     x.q AS quantity, ($3::int8[])[x.i] AS price, ($3::int8[])[x.i] * x.q::int8 AS total \
   FROM h_receipts h, generate_series(1, 3) k, \
     LATERAL (SELECT 1 + floor(random() * cardinality($1::uuid[]))::int AS i, \
                     (1 + floor(random() * 3))::numeric AS q OFFSET 0 * k) x";

const INSERTS: [&str; 4] = [
    "INSERT INTO receipt_items (tenant_id, receipt_id, line_no, occurred_at, variant_id, product_id, \
       quantity, price, discount, total) \
     SELECT tenant_id, receipt_id, line_no, occurred_at, variant_id, product_id, quantity, price, 0, total \
     FROM h_items",
    "INSERT INTO receipts (tenant_id, id, occurred_at, store_id, register_id, shift_id, kind, subtotal, \
       discount_total, total, paid, change_due, created_at) \
     SELECT h.tenant_id, h.id, h.occurred_at, h.store_id, h.register_id, h.shift_id, 'sale', t.total, 0, \
       t.total, t.total, 0, h.occurred_at \
     FROM h_receipts h JOIN (SELECT receipt_id, sum(total)::int8 AS total FROM h_items GROUP BY 1) t \
       ON t.receipt_id = h.id",
    "INSERT INTO payments (tenant_id, receipt_id, line_no, occurred_at, method, amount) \
     SELECT h.tenant_id, h.id, 1, h.occurred_at, CASE WHEN random() < 0.5 THEN 'cash' ELSE 'card' END, t.total \
     FROM h_receipts h JOIN (SELECT receipt_id, sum(total)::int8 AS total FROM h_items GROUP BY 1) t \
       ON t.receipt_id = h.id",
    "INSERT INTO receipt_keys (tenant_id, id, store_id, register_id, number, body_hash, occurred_at) \
     SELECT tenant_id, id, store_id, register_id, number || '-h' || replace(id::text, '-', ''), \
       sha256(id::text::bytea), occurred_at FROM h_receipts",
];

pub async fn run(args: &HistoryArgs) -> anyhow::Result<()> {
    let fixture = Arc::new(Fixture::load(&args.fixture)?);
    let registers = fixture.registers().len().max(1);
    let days = args.days.max(7);
    let per_shift = (args.receipts / (registers * days as usize)).max(1);
    let today = chrono::Utc::now().date_naive();
    let first = today - chrono::Duration::days(days);
    let weeks: Vec<(chrono::NaiveDate, chrono::NaiveDate)> = (0..days)
        .step_by(7)
        .map(|d| {
            let from = first + chrono::Duration::days(d);
            (from, (from + chrono::Duration::days(7)).min(today))
        })
        .collect();
    let client = db::connect(&args.database_url).await?;
    client
        .batch_execute(PARTITIONS)
        .await
        .context("creating partitions")?;
    let total = (fixture.tenants.len() * weeks.len()) as u64;
    let bar = Arc::new(ProgressBar::new(total));
    bar.set_style(
        ProgressStyle::with_template(
            "history {bar:40} {pos}/{len} tenant-weeks ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(args.parallel.max(1)));
    let mut tasks = Vec::new();
    for t in &fixture.tenants {
        let (url, weeks, bar, sem) = (
            args.database_url.clone(),
            weeks.clone(),
            bar.clone(),
            sem.clone(),
        );
        let tenant = t.id;
        let ids: Vec<Uuid> = t.variants.iter().map(|v| v.id).collect();
        let products: Vec<Uuid> = t.variants.iter().map(|v| v.product_id).collect();
        let prices: Vec<i64> = t.variants.iter().map(|v| v.price).collect();
        let per_shift = per_shift as i32;
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await?;
            let mut c = db::connect(&url).await?;
            let (lo, hi) = (
                first.to_string(),
                (today - chrono::Duration::days(1)).to_string(),
            );
            c.execute(SHIFTS, &[&tenant, &lo, &hi])
                .await
                .context("shifts")?;
            for (from, to) in weeks {
                let (from, to) = (from.to_string(), to.to_string());
                let tx = c.transaction().await?;
                tx.execute(RECEIPTS_TMP, &[&tenant, &from, &to, &per_shift])
                    .await
                    .context("receipts")?;
                tx.execute(ITEMS_TMP, &[&ids, &products, &prices])
                    .await
                    .context("items")?;
                for sql in INSERTS {
                    tx.execute(sql, &[]).await.context("history insert")?;
                }
                tx.commit().await?;
                bar.inc(1);
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("history task panicked")??;
    }
    bar.finish();
    let n: i64 = client
        .query_one("SELECT count(*) FROM receipts", &[])
        .await?
        .get(0);
    client.batch_execute("ANALYZE").await?;
    println!(
        "history: {n} receipts over {days} days for {} tenants in {:.1} s",
        fixture.tenants.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
