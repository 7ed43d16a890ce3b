#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The history-read budget against a real PostgreSQL: while reports and
//! receipt history fill their budget, the next one is shed with `busy`, and
//! the rest of the pool (receipts, shifts, loads) still gets connections.

use jowi_actors::error::Error;
use jowi_actors::pg::replica::{ReadBudget, ReadRouter, ReplicaMetrics};
use jowi_actors::pg::{self, Db, PoolSettings};
use std::time::Duration;

fn db() -> Db {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let pool = pg::connect(&PoolSettings {
        url,
        max_size: 4,
        wait_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(3),
        statement_cache: true,
    })
    .expect("pool settings");
    Db::new(pool, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_budget_sheds_history_reads_and_leaves_the_pool_to_others() {
    let primary = db();
    let registry = prometheus::Registry::new();
    let metrics = ReplicaMetrics::register(&registry).expect("metrics");
    let reads = ReadRouter::new(
        primary.clone(),
        None,
        Duration::from_secs(5),
        ReadBudget {
            max: 1,
            wait: Duration::from_millis(150),
        },
        metrics.clone(),
    );

    // One slow "report" holds the whole budget of 1.
    let slow = {
        let reads = reads.clone();
        tokio::spawn(async move {
            reads
                .read(|db| async move { db.query("SELECT pg_sleep(1.0)", &[]).await })
                .await
                .map(|_| ())
        })
    };
    // Wait until it is really running.
    for _ in 0..100 {
        if metrics.in_flight.get() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(metrics.in_flight.get(), 1, "the slow read never started");

    // A second history read waits its 150 ms and is shed, retryably.
    let shed = reads
        .read(|db| async move { db.query("SELECT 1", &[]).await })
        .await;
    match shed {
        Err(e @ Error::Busy(_)) => assert!(e.is_retryable()),
        other => panic!("expected busy, got {other:?}"),
    }
    assert_eq!(metrics.shed.get(), 1);

    // Everything else still gets a connection at once: the budget bounds
    // history reads, not the pool.
    let rows = tokio::time::timeout(Duration::from_millis(500), primary.query("SELECT 2", &[]))
        .await
        .expect("a non-history query waited behind the history budget")
        .expect("query");
    assert_eq!(rows.len(), 1);

    slow.await.expect("join").expect("slow read");
    assert_eq!(metrics.in_flight.get(), 0, "the gauge returns to idle");

    // With the budget free again, a read runs.
    let rows = reads
        .read(|db| async move { db.query("SELECT 3", &[]).await })
        .await
        .expect("read after the budget freed");
    assert_eq!(rows.len(), 1);
    assert_eq!(metrics.shed.get(), 1);
}
