//! The instance-wide memory budget: it evicts (receipts, catalogs) and what
//! it evicted still answers correctly from PostgreSQL.

use crate::helpers::*;
use crate::sales::shop;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn memory(stats: &Value) -> (u64, u64, u64) {
    let m = &stats["memory"];
    let held = m["receipts_bytes"].as_u64().unwrap()
        + m["catalogs_bytes"].as_u64().unwrap()
        + m["replay_bytes"].as_u64().unwrap();
    (
        held,
        m["budget_bytes"].as_u64().unwrap(),
        m["evictions"].as_u64().unwrap(),
    )
}

/// A budget of a few dozen receipts: posting many evicts the oldest, the
/// total stays within the budget, and every replay — evicted or not —
/// answers exactly the first answer; a changed body still conflicts.
#[actix_web::test]
async fn budget_evicts_receipts_and_replays_after_eviction_are_correct() {
    let app = spawn_app_with(|s| s.memory.budget_bytes = 40 * 1024).await;
    let s = shop(&app, 3).await;
    let mut posted = Vec::new();
    for i in 0..120 {
        let body = s.sale(&[(i % 3, "1"), ((i + 1) % 3, "2")]);
        let r = app
            .post("/api/v1/receipts", &s.register_token, body.clone())
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        posted.push((body, r.body));
    }
    let stats = app.cache_stats().await;
    let (held, budget, evictions) = memory(&stats);
    assert_eq!(budget, 40 * 1024);
    assert!(held <= budget, "held {held} > budget {budget}: {stats}");
    assert!(evictions > 0, "nothing evicted: {stats}");
    let kept = stats["memory"]["receipts"].as_u64().unwrap();
    assert!(kept > 0 && kept < 120, "receipts kept: {kept}");

    // Oldest (evicted) and newest (in memory) alike answer the stored receipt.
    for (body, first) in posted.iter().rev() {
        let r = app
            .post("/api/v1/receipts", &s.register_token, body.clone())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(&r.body, first);
    }
    for (body, _) in [&posted[0], &posted[119]] {
        let mut changed = body.clone();
        changed["items"][0]["quantity"] = json!("5");
        let r = app
            .post("/api/v1/receipts", &s.register_token, changed)
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(r.code(), "idempotency_conflict");
    }
    assert_eq!(app.count("receipts").await, 120);
    let (held, budget, _) = memory(&app.cache_stats().await);
    assert!(held <= budget);
}

/// The fast path keeps only numbers and totals and rebuilds a replay from
/// the request; after a price change the rebuild would differ, so the
/// replay must still answer the stored receipt (the old price).
#[actix_web::test]
async fn replay_after_a_price_change_answers_the_stored_price() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let body = s.sale(&[(0, "2")]);
    let first = app
        .post("/api/v1/receipts", &s.register_token, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["items"][0]["price"], 1000);
    let b = app.get("/api/v1/products/barcode/bc0", &s.owner).await;
    let path = format!(
        "/api/v1/products/{}",
        b.body["product"]["id"].as_str().unwrap()
    );
    let r = app
        .patch(
            &path,
            &s.owner,
            json!({"version": b.body["product"]["version"],
                   "variants": [{"id": s.variants[0].0, "barcode": "bc0", "price": 1500}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let again = app.post("/api/v1/receipts", &s.register_token, body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, first.body);
}

/// Catalogs are under the same budget: with room for about one catalog,
/// using a second tenant evicts the first (least recently used), and the
/// first reloads on its next request with its data intact.
#[actix_web::test]
async fn budget_evicts_the_least_recently_used_catalog() {
    let app = spawn_app_with(|s| {
        s.memory.budget_bytes = 40 * 600;
        s.catalog.evict_check_interval_ms = 50;
    })
    .await;
    let a = app.create_tenant("a").await;
    let b = app.create_tenant("b").await;
    for i in 0..15 {
        app.create_product(&a.token, &format!("A{i}"), &format!("a{i}"), 100)
            .await;
        app.create_product(&b.token, &format!("B{i}"), &format!("b{i}"), 100)
            .await;
    }
    // Catalog sizes are refreshed on the eviction tick; a lookup of each
    // tenant makes the other the least recently used.
    let before = app.cache_stats().await;
    for _ in 0..3 {
        let r = app.get("/api/v1/products/barcode/a1", &a.token).await;
        assert_eq!(r.status, StatusCode::OK);
        let r = app.get("/api/v1/products/barcode/b1", &b.token).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let ok = eventually(std::time::Duration::from_secs(5), || async {
        let s = app.cache_stats().await;
        s["memory"]["evictions"].as_u64() > before["memory"]["evictions"].as_u64()
            && s["tenants_loaded"].as_u64() == Some(1)
    })
    .await;
    assert!(ok, "no catalog evicted: {}", app.cache_stats().await);
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| l.starts_with("jowi_memory_evictions_total{part=\"catalogs\"}"))
        .unwrap_or_default()
        .to_owned();
    let n: f64 = line
        .rsplit(' ')
        .next()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0.0);
    assert!(n >= 1.0, "{line}");
    let (held, budget, _) = memory(&app.cache_stats().await);
    assert!(held <= budget);
    let r = app.get("/api/v1/products/barcode/a14", &a.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["product"]["name"], "A14");
}
