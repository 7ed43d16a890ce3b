//! The server's own vacuuming: the sequencer vacuums the outbox queue after
//! moving rows, and a maintenance round vacuums and analyzes the tables
//! updated in place (what keeps a long day's latency flat where PostgreSQL
//! runs with autovacuum off, as on the CI machines).

use crate::helpers::{eventually, spawn_app_with};
use crate::webhooks::fast_webhooks;
use jowi_actors::pg::{self, Db, PoolSettings};
use reqwest::StatusCode;
use std::time::Duration;

/// (vacuum_count, analyze_count) of `table`, by any vacuum: the server's or
/// autovacuum's (read from a fresh stats snapshot).
async fn counts(client: &tokio_postgres::Client, table: &str) -> (i64, i64) {
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT vacuum_count + autovacuum_count, analyze_count + autoanalyze_count \
             FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Receipts leave moved rows behind in `outbox_pending`; the sequencer
/// vacuums the queue once it has moved them, and the queue ends empty.
#[actix_web::test]
async fn the_sequencer_vacuums_the_outbox_queue_after_moving_rows() {
    let app = spawn_app_with(|s| {
        fast_webhooks(s);
        s.webhooks.pending_vacuum_interval_ms = 50;
        s.maintenance.vacuum_interval_ms = 0;
    })
    .await;
    let db = app.db().await;
    let s = crate::sales::shop(&app, 2).await;
    let before = counts(&db, "outbox_pending").await;
    for _ in 0..5 {
        let r = app
            .post(
                "/api/v1/receipts",
                &s.register_token,
                s.sale(&[(0, "1"), (1, "1")]),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let vacuumed = eventually(Duration::from_secs(20), || async {
        counts(&db, "outbox_pending").await.0 > before.0
    })
    .await;
    assert!(vacuumed, "outbox_pending was not vacuumed");
    let published = eventually(Duration::from_secs(10), || async {
        app.count("outbox_pending").await == 0
    })
    .await;
    assert!(published, "the queue did not drain");
}

/// A maintenance round vacuums and analyzes every table updated in place,
/// and its first round analyzes the whole database.
#[actix_web::test]
async fn a_vacuum_round_vacuums_and_analyzes_the_tables_updated_in_place() {
    let app = spawn_app_with(|s| s.maintenance.vacuum_interval_ms = 0).await;
    let client = app.db().await;
    let tables = jowi_actors::pg::vacuum::UPDATED_IN_PLACE;
    let mut before = Vec::new();
    for t in tables {
        before.push(counts(&client, t).await);
    }
    let (_, receipts_analyzed) = counts(&client, "receipts_default").await;
    let pool = pg::connect(&PoolSettings {
        url: app.db_url.clone(),
        max_size: 2,
        wait_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        statement_cache: true,
    })
    .expect("pool");
    jowi_actors::maintenance::vacuum::run_round(&Db::new(pool, true), 0)
        .await
        .expect("vacuum round");
    for (t, (vacuums, analyzes)) in tables.iter().zip(before) {
        let (v, a) = counts(&client, t).await;
        assert!(v > vacuums, "{t} not vacuumed");
        assert!(a > analyzes, "{t} not analyzed");
    }
    let (_, a) = counts(&client, "receipts_default").await;
    assert!(
        a > receipts_analyzed,
        "the first round analyzes every table"
    );
}
