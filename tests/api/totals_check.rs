//! The running totals equal their definition: snapshot every totals table,
//! recompute them with the set-based rebuild, and compare row for row.
//! Also the X/Z money block recomputed from raw receipts. Shared by the API
//! tests and the crash test (`#[path]`).

use jowi_actors::pg::totals::{rebuild, RebuildScope};
use jowi_actors::pg::{self, Db, PoolSettings};
use std::time::Duration;
use tokio_postgres::NoTls;

const TABLES: [&str; 7] = [
    "shift_totals",
    "shift_tax_totals",
    "sales_hourly",
    "sales_daily_employee",
    "sales_daily_variant",
    "sales_monthly_variant",
    "sales_daily_payment",
];

/// Every row of every totals table as text, sorted.
pub async fn snapshot(db_url: &str) -> Vec<String> {
    let (client, conn) = tokio_postgres::connect(db_url, NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let mut out = Vec::new();
    for t in TABLES {
        let rows = client
            .query(&format!("SELECT {t}::text FROM {t} ORDER BY 1"), &[])
            .await
            .expect("snapshot");
        out.extend(
            rows.iter()
                .map(|r| format!("{t} {}", r.get::<_, String>(0))),
        );
    }
    out.sort();
    out
}

pub async fn run_rebuild(db_url: &str) {
    let pool = pg::connect(&PoolSettings {
        url: db_url.to_owned(),
        max_size: 2,
        wait_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        statement_cache: true,
    })
    .expect("pool");
    rebuild(&Db::new(pool, true), &RebuildScope::default(), |_, _| {})
        .await
        .expect("rebuild");
}

/// Totals written by the commits == totals recomputed from the receipts.
pub async fn assert_totals_match_rebuild(db_url: &str) {
    let live = snapshot(db_url).await;
    run_rebuild(db_url).await;
    let rebuilt = snapshot(db_url).await;
    let only_live: Vec<_> = live.iter().filter(|r| !rebuilt.contains(r)).collect();
    let only_rebuilt: Vec<_> = rebuilt.iter().filter(|r| !live.contains(r)).collect();
    assert!(
        only_live.is_empty() && only_rebuilt.is_empty(),
        "running totals differ from the rebuild:\n live only: {only_live:#?}\n rebuilt only: {only_rebuilt:#?}"
    );
    assert!(!live.is_empty(), "no totals at all");
    // Idempotent: a second rebuild changes nothing.
    run_rebuild(db_url).await;
    assert_eq!(
        snapshot(db_url).await,
        rebuilt,
        "a second rebuild changed the totals"
    );
}

/// A shift's X/Z money block recomputed from its raw receipts and lines
/// (sales minus returns; points as stored), in the report's JSON shape.
/// The running totals (`shift_totals` money columns, `shift_tax_totals`)
/// must equal it.
#[allow(dead_code)] // the crash test includes this file and does not use it
pub async fn shift_money_from_receipts(
    db: &tokio_postgres::Client,
    shift: &str,
) -> serde_json::Value {
    let row = db
        .query_one(
            "SELECT COALESCE(sum(CASE WHEN kind = 'sale' THEN discount_total ELSE -discount_total END), 0)::int8, \
                COALESCE(sum(CASE WHEN kind = 'sale' THEN tax_total ELSE -tax_total END), 0)::int8, \
                COALESCE(sum(CASE WHEN kind = 'sale' THEN rounding ELSE -rounding END), 0)::int8, \
                COALESCE(sum(points_earned), 0)::int8, COALESCE(sum(points_redeemed), 0)::int8 \
             FROM receipts WHERE shift_id = $1::text::uuid",
            &[&shift],
        )
        .await
        .expect("money of a shift");
    let taxes: Vec<serde_json::Value> = db
        .query(
            "SELECT i.tax_rate_id::text, \
                sum(CASE WHEN r.kind = 'sale' THEN 1 ELSE -1 END \
                    * CASE WHEN i.tax_included THEN i.total ELSE i.total - i.tax END)::int8, \
                sum(CASE WHEN r.kind = 'sale' THEN i.tax ELSE -i.tax END)::int8 \
             FROM receipts r JOIN receipt_items i ON i.tenant_id = r.tenant_id \
               AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at \
             WHERE r.shift_id = $1::text::uuid AND i.tax_rate_id IS NOT NULL \
             GROUP BY 1 ORDER BY 1",
            &[&shift],
        )
        .await
        .expect("taxes of a shift")
        .iter()
        .map(|r| {
            serde_json::json!({
                "tax_rate_id": r.get::<_, String>(0),
                "taxable": r.get::<_, i64>(1),
                "tax": r.get::<_, i64>(2),
            })
        })
        .collect();
    serde_json::json!({
        "discount_total": row.get::<_, i64>(0),
        "tax_total": row.get::<_, i64>(1),
        "rounding": row.get::<_, i64>(2),
        "points_earned": row.get::<_, i64>(3),
        "points_redeemed": row.get::<_, i64>(4),
        "taxes": taxes,
    })
}
