//! The running totals equal their definition: snapshot every totals table,
//! recompute them with the set-based rebuild, and compare row for row.
//! Shared by the API tests and the crash test (`#[path]`).

use jowi_actors::pg::totals::{rebuild, RebuildScope};
use jowi_actors::pg::{self, Db, PoolSettings};
use std::time::Duration;
use tokio_postgres::NoTls;

const TABLES: [&str; 6] = [
    "shift_totals",
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
