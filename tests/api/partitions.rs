//! The partition maintainer: 14 months of sales through the API while the
//! maintainer runs on two instances and the database clock (`jowi_clock`)
//! moves a month at a time; a default partition is filled on purpose and
//! emptied by the maintainer; months past retention are detached, not
//! dropped. Every acknowledged receipt is found exactly once at the end.

use crate::helpers::*;
use crate::sales::{shop, Shop};
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const LOCK_KEY: i64 = 7_220_301;

fn add_months(m: NaiveDate, n: i32) -> NaiveDate {
    let total = m.year() * 12 + m.month0() as i32 + n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap()
}

fn at(month: NaiveDate, day: i64, minute: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0).unwrap())
        + Days::days(day)
        + Days::minutes(minute)
}

async fn attached(db: &tokio_postgres::Client, table: &str, month: NaiveDate) -> bool {
    db.query_one(
        "SELECT $2 IN (SELECT jowi_attached_months($1))",
        &[&table, &month],
    )
    .await
    .unwrap()
    .get(0)
}

/// Posts one sale of variant 0 at `when` (None: now); answers its id when 201.
async fn sell(app: &TestApp, s: &Shop, when: Option<DateTime<Utc>>) -> Option<Uuid> {
    let id = Uuid::new_v4();
    let mut body = json!({
        "id": id, "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "sale",
        "items": [{"variant_id": s.variants[0].0, "quantity": 1},
                  {"variant_id": s.variants[1].0, "quantity": "0.5"}],
        "payments": [{"method": "cash", "amount": 5000}]
    });
    if let Some(w) = when {
        body["occurred_at"] = json!(w);
    }
    let r = app.post("/api/v1/receipts", &s.owner, body).await;
    (r.status == StatusCode::CREATED).then_some(id)
}

async fn metric(app: &TestApp, line_start: &str) -> Option<f64> {
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[actix_rt::test]
async fn fourteen_months_of_sales_with_the_maintainer_lose_no_row() {
    let app = Arc::new(
        spawn_app_with(|s| {
            s.maintenance.partition_interval_ms = 100;
            s.maintenance.partition_months_ahead = 1;
            s.maintenance.partition_retention_months = 12;
        })
        .await,
    );
    // A second instance on the same database runs its own maintainer.
    let other = Arc::new(spawn_with_settings(app.settings.clone()).await);
    let s = Arc::new(shop(&app, 2).await);
    let db = app.db().await;
    let this_month: NaiveDate = db
        .query_one(
            "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    // The shift was opened before the sales the test dates back (a
    // receipt must lie within its shift).
    let opened = format!("{}T00:00:00Z", add_months(this_month, -15));
    crate::sales::backdate_shift(&app, &s, &opened).await;

    // Sales at real time go on throughout, through both instances.
    let stop = Arc::new(AtomicBool::new(false));
    let acked: Arc<Mutex<Vec<Uuid>>> = Arc::default();
    let background = {
        let (stop, acked) = (Arc::clone(&stop), Arc::clone(&acked));
        let (a, b, s) = (Arc::clone(&app), Arc::clone(&other), Arc::clone(&s));
        actix_rt::spawn(async move {
            let mut k = 0u32;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                let via = if k.is_multiple_of(2) { &a } else { &b };
                if let Some(id) = sell(via, &s, None).await {
                    acked.lock().unwrap().push(id);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let mut in_default = Vec::new();
    for i in 0..14 {
        let back = 14 - i;
        let month = add_months(this_month, -back);
        db.execute(
            "INSERT INTO jowi_clock (shift) VALUES (make_interval(months => -$1::int)) \
             ON CONFLICT (singleton) DO UPDATE SET shift = EXCLUDED.shift",
            &[&back],
        )
        .await
        .unwrap();
        // The maintainer follows the clock: this month and the next exist.
        for table in ["receipts", "receipt_items", "payments", "stock_movements"] {
            let next = add_months(month, 1);
            assert!(
                eventually(Duration::from_secs(20), || attached(&db, table, next)).await,
                "{table} partition for {next} not created"
            );
        }
        for k in 0..3 {
            let id = sell(&app, &s, Some(at(month, 9, k))).await.expect("sale");
            acked.lock().unwrap().push(id);
        }
        if i == 5 {
            // On purpose: hold the maintainers off and sell in a month that
            // has no partition (beyond months_ahead): rows go to default.
            let (holder, conn) = tokio_postgres::connect(&app.db_url, tokio_postgres::NoTls)
                .await
                .unwrap();
            actix_rt::spawn(conn);
            holder
                .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
                .await
                .unwrap();
            let far = add_months(month, 3);
            assert!(!attached(&db, "receipts", far).await);
            for k in 0..4 {
                let id = sell(&app, &s, Some(at(far, 3, k))).await.expect("sale");
                acked.lock().unwrap().push(id);
                in_default.push(id);
            }
            assert_eq!(app.count("receipts_default").await, 4);
            assert_eq!(app.count("receipt_items_default").await, 8);
            assert_eq!(app.count("payments_default").await, 4);
            assert!(
                eventually(Duration::from_secs(10), || async {
                    metric(&app, "jowi_partition_default_rows{table=\"receipts\"}").await
                        == Some(4.0)
                })
                .await,
                "the default-rows gauge shows the stranded rows"
            );
            holder
                .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
                .await
                .unwrap();
            assert!(
                eventually(Duration::from_secs(20), || async {
                    app.count("receipts_default").await == 0
                        && app.count("receipt_items_default").await == 0
                        && app.count("payments_default").await == 0
                })
                .await,
                "the maintainer empties the default partitions"
            );
            assert!(attached(&db, "receipts", far).await);
            let table = format!("receipts_{}", far.format("%Y%m"));
            assert_eq!(
                app.count(&table).await,
                4,
                "the stranded rows are in {table}"
            );
            let moved = metric(&app, "jowi_partition_rows_moved_total{table=\"receipts\"}")
                .await
                .unwrap_or(0.0)
                + metric(
                    &other,
                    "jowi_partition_rows_moved_total{table=\"receipts\"}",
                )
                .await
                .unwrap_or(0.0);
            assert_eq!(moved, 4.0, "exactly the stranded rows were moved, once");
        }
    }
    // Retention 12 at a clock of last month: the two oldest months go.
    let clock_month = add_months(this_month, -1);
    for back in [14, 15] {
        let old = add_months(this_month, -back);
        assert!(old < add_months(clock_month, -12));
        for table in ["receipts", "receipt_items", "payments", "stock_movements"] {
            assert!(
                eventually(Duration::from_secs(20), || async {
                    !attached(&db, table, old).await
                })
                .await,
                "{table} {old} detached"
            );
            let kept: i64 = db
                .query_one(
                    "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE $1",
                    &[&format!("{table}_{}_detached_%", old.format("%Y%m"))],
                )
                .await
                .unwrap()
                .get(0);
            assert_eq!(kept, 1, "{table} {old} kept as a table");
        }
    }
    assert!(attached(&db, "receipts", add_months(this_month, -13)).await);

    stop.store(true, Ordering::SeqCst);
    background.await.unwrap();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() > 14 * 3 + 4);

    // Every acknowledged receipt, its lines and payment: once, attached or
    // in a detached table.
    let everywhere = |table: &str| {
        format!(
            "SELECT string_agg(format('SELECT * FROM %I', relname), ' UNION ALL ') \
             FROM pg_class WHERE relkind IN ('r', 'p') AND (relname = '{table}' OR relname LIKE '{table}\\_______\\_detached\\_%')"
        )
    };
    let mut totals = Vec::new();
    for (table, id_col) in [
        ("receipts", "id"),
        ("receipt_items", "receipt_id"),
        ("payments", "receipt_id"),
    ] {
        let union: String = db.query_one(&everywhere(table), &[]).await.unwrap().get(0);
        let rows = db
            .query(
                &format!("SELECT {id_col}, count(*) FROM ({union}) t GROUP BY 1"),
                &[],
            )
            .await
            .unwrap();
        let found: std::collections::HashMap<Uuid, i64> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let per = if table == "receipt_items" { 2 } else { 1 };
        for id in &acked {
            assert_eq!(found.get(id), Some(&per), "{table} rows of receipt {id}");
        }
        totals.push(found.len());
    }
    assert_eq!(
        totals,
        vec![acked.len(); 3],
        "nothing unacknowledged stored"
    );
    for id in &in_default {
        assert!(acked.contains(id));
    }
    let stranded: i64 = db
        .query_one(
            "SELECT coalesce(sum(row_count), 0)::bigint FROM jowi_default_partition_rows()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stranded, 0);
    let bad: i64 = db
        .query_one(
            "SELECT count(*) FROM stock_levels l FULL JOIN \
               (SELECT tenant_id, warehouse_id, variant_id, sum(delta) AS s FROM stock_movements GROUP BY 1, 2, 3) m \
               USING (tenant_id, warehouse_id, variant_id) WHERE COALESCE(l.quantity, 0) <> COALESCE(m.s, 0)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(bad, 0, "stock levels equal the ledger");
}
