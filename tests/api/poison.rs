//! One bad receipt fails alone: a receipt PostgreSQL refuses is isolated
//! from its group-commit batch-mates, so other tenants keep selling.

use crate::helpers::*;
use crate::sales::{assert_stock_matches_ledger, shop};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

/// While one tenant keeps posting receipts the database refuses (here: a
/// CHECK constraint added for the test stands in for any value validation
/// missed), every receipt of another tenant, committed in the same batches,
/// succeeds; each poison receipt gets a non-retryable 422 and nothing of it
/// is stored.
#[actix_web::test]
async fn poison_receipts_fail_alone() {
    let app = spawn_app_with(|s| {
        // A wide window so poison and good receipts share batches.
        s.sales.flush_interval_ms = 20;
    })
    .await;
    let bad = shop(&app, 1).await;
    let good = shop(&app, 2).await;
    app.db()
        .await
        .batch_execute("ALTER TABLE receipt_items ADD CONSTRAINT poison CHECK (price <> 13)")
        .await
        .unwrap();
    let poison = || {
        json!({
            "id": Uuid::new_v4(), "store_id": bad.store, "register_id": bad.register,
            "shift_id": bad.shift, "kind": "sale",
            "items": [{"variant_id": bad.variants[0].0, "quantity": "1", "price": 13}],
            "payments": [{"method": "cash", "amount": 13}]
        })
    };
    for round in 0..3 {
        let poisoned = (0..20).map(|_| app.post("/api/v1/receipts", &bad.register_token, poison()));
        let sold = (0..40).map(|i| {
            app.post(
                "/api/v1/receipts",
                &good.register_token,
                good.sale(&[(i % 2, "1")]),
            )
        });
        let (poisoned, sold) = futures::join!(join_all(poisoned), join_all(sold));
        for r in &sold {
            assert_eq!(r.status, StatusCode::CREATED, "round {round}: {}", r.body);
        }
        for r in &poisoned {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
            assert_eq!(r.code(), "validation_failed");
            assert_eq!(r.body["error"]["field"], "receipt");
        }
    }
    assert_eq!(app.count("receipts").await, 120);
    assert_eq!(app.count("receipt_keys").await, 120);
    // A poison receipt retried is refused again, not stored.
    let p = poison();
    let again = app
        .post("/api/v1/receipts", &bad.register_token, p.clone())
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = app.post("/api/v1/receipts", &bad.register_token, p).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_stock_matches_ledger(&app).await;
}
