//! The server's own vacuuming: the sequencer vacuums the outbox queue after
//! moving rows, and a maintenance round vacuums and analyzes the tables
//! updated in place (what keeps a long day's latency flat where PostgreSQL
//! runs with autovacuum off, as on the CI machines).

use crate::helpers::{eventually, spawn_app_with};
use crate::webhooks::fast_webhooks;
use jowi_actors::pg::{self, Db, PoolSettings};
use reqwest::StatusCode;
use std::time::Duration;

/// One bigint of `table`'s row in `pg_stat_user_tables` (`expr` over its
/// columns), read from a fresh statistics snapshot.
async fn stat(client: &tokio_postgres::Client, table: &str, expr: &str) -> i64 {
    client
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .unwrap();
    client
        .query_one(
            &format!("SELECT ({expr})::int8 FROM pg_stat_user_tables WHERE relname = $1"),
            &[&table],
        )
        .await
        .unwrap()
        .get(0)
}

/// (vacuum_count, analyze_count) of `table`, by any vacuum: the server's or
/// autovacuum's.
async fn counts(client: &tokio_postgres::Client, table: &str) -> (i64, i64) {
    (
        stat(client, table, "vacuum_count + autovacuum_count").await,
        stat(client, table, "analyze_count + autoanalyze_count").await,
    )
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

/// A maintenance round vacuums and analyzes what autovacuum's thresholds
/// say is due — a table with many dead and changed rows — and leaves a
/// table nobody wrote alone.
#[actix_web::test]
async fn a_vacuum_round_does_what_autovacuum_would() {
    let app = spawn_app_with(|s| s.maintenance.vacuum_interval_ms = 0).await;
    let client = app.db().await;
    client
        .batch_execute(
            "CREATE TABLE vacuum_probe (id int PRIMARY KEY, v text); \
             INSERT INTO vacuum_probe SELECT g, 'x' FROM generate_series(1, 300) g; \
             DELETE FROM vacuum_probe WHERE id > 100;",
        )
        .await
        .unwrap();
    // The statistics views see a backend's counts about a second later.
    let seen = eventually(Duration::from_secs(10), || async {
        stat(&client, "vacuum_probe", "n_dead_tup").await >= 200
    })
    .await;
    assert!(seen, "the dead rows never showed in the statistics");
    let probe_before = counts(&client, "vacuum_probe").await;
    let untouched_before = counts(&client, "tax_rates").await;
    // One connection, so the check below sees the one the round used.
    let pool = pg::connect(&PoolSettings {
        url: app.db_url.clone(),
        max_size: 1,
        wait_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        statement_cache: true,
    })
    .expect("pool");
    let maintenance_db = Db::new(pool, true);
    let due = jowi_actors::maintenance::vacuum::run_round(&maintenance_db)
        .await
        .expect("vacuum round");
    // The round vacuums with autovacuum's throttle and gives the
    // connection back to the pool without it.
    let delay: String = maintenance_db
        .client()
        .await
        .unwrap()
        .query_one("SHOW vacuum_cost_delay", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(delay, "0", "the throttle leaked into the pool");
    assert!(
        due.vacuum.contains(&"public.vacuum_probe".to_owned()),
        "{due:?}"
    );
    assert!(
        due.analyze.contains(&"public.vacuum_probe".to_owned()),
        "{due:?}"
    );
    assert!(
        !due.vacuum.contains(&"public.tax_rates".to_owned()),
        "{due:?}"
    );
    let (v, a) = counts(&client, "vacuum_probe").await;
    assert!(v > probe_before.0, "vacuum_probe not vacuumed");
    assert!(a > probe_before.1, "vacuum_probe not analyzed");
    assert_eq!(counts(&client, "tax_rates").await, untouched_before);
    let dead = stat(&client, "vacuum_probe", "n_dead_tup").await;
    assert_eq!(dead, 0, "the vacuum removed the dead rows");
}
