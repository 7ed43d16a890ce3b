//! Live stock in commit order: with batches committing concurrently, a
//! subscriber never sees a sale raise a level.

use crate::helpers::*;
use crate::sales::shop;
use crate::ws::{connect, next_json};
use futures::future::join_all;
use reqwest::StatusCode;
use rust_decimal::Decimal;

/// 32 clients sell one product at once (several batches in flight): the
/// socket's levels only go down, and the last one is the database's.
#[actix_web::test]
async fn concurrent_batches_never_show_a_level_going_up() {
    let app = spawn_app_with(|s| {
        s.sales.writer_concurrency = 4;
        s.sales.batch_max_receipts = 4;
    })
    .await;
    let s = shop(&app, 1).await;
    let mut ws = connect(&app, &s.store, &s.owner, "").await;
    assert_eq!(next_json(&mut ws).await["type"], "snapshot");
    let per_client = 10;
    join_all((0..32).map(|_| async {
        for _ in 0..per_client {
            let r = app
                .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        }
    }))
    .await;
    let total = Decimal::from(32 * per_client);
    let mut last = Decimal::ZERO;
    while last != -total {
        let c = next_json(&mut ws).await;
        let q: Decimal = c["quantity"].as_str().unwrap().parse().unwrap();
        assert!(q < last, "a sale raised the level from {last} to {q}");
        last = q;
    }
}
