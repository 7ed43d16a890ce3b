//! Points expiry (README "Money rules"): FIFO, written as `expire` ledger
//! entries by the maintenance job, idempotent, and the balance left after
//! it is all a register can spend.

use crate::helpers::*;
use crate::retail::assert_points_match_ledger;
use crate::sales::{shop, Shop};
use chrono::{DateTime, Duration, Utc};
use jowi_actors::pg::{points, Db};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

async fn job_db(app: &TestApp) -> Db {
    let pool = jowi_actors::pg::connect(&jowi::startup::pool_settings(&app.settings)).unwrap();
    Db::new(pool, true)
}

async fn balance(app: &TestApp, s: &Shop, customer: &str) -> i64 {
    let r = app
        .get(&format!("/api/v1/customers/{customer}/points"), &s.owner)
        .await;
    r.body["balance"].as_i64().unwrap_or(i64::MIN)
}

/// Σ of the customer's `expire` entries (negative).
async fn expired(app: &TestApp, customer: Uuid) -> i64 {
    app.db()
        .await
        .query_one(
            "SELECT COALESCE(sum(points), 0)::int8 FROM points_ledger WHERE customer_id = $1 AND kind = 'expire'",
            &[&customer],
        )
        .await
        .unwrap()
        .get(0)
}

/// A sale of the first variant paying `points` points (100 minor units
/// each) and at least 2,000 in cash (which earns points).
fn sale(s: &Shop, customer: &str, points: i64) -> Value {
    let price = s.variants[0].1;
    let quantity = (points * 100 + 2000) / price + 1;
    let mut payments = vec![json!({"method": "cash", "amount": quantity * price - points * 100})];
    if points > 0 {
        payments.push(json!({"method": "points", "amount": points * 100}));
    }
    json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "sale", "customer_id": customer,
        "items": [{"variant_id": s.variants[0].0, "quantity": quantity.to_string()}],
        "payments": payments,
    })
}

/// 100 points credited 40 days ago, 30 spent since (they take the oldest
/// first), some earned now; with a 30-day expiry the job writes off the 70
/// old points left, once; the recent ones expire only 30 days later; the
/// balance always equals the ledger; spending more than is left after
/// expiry is refused.
#[actix_web::test]
async fn points_expire_oldest_first_once() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&json!({"version": 0, "active": true, "earn_points": 1,
                "earn_per_amount": 1000, "point_value": 100, "expiry_days": 30})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["expiry_days"], 30);
    let r = app.get("/api/v1/loyalty/program", &s.owner).await;
    assert_eq!(r.body["expiry_days"], 30);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&json!({"version": 1, "active": true, "earn_points": 1,
                "earn_per_amount": 1000, "point_value": 100, "expiry_days": 0})),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "expiry_days", "{}", r.body);

    let c = app
        .post(
            "/api/v1/customers",
            &s.owner,
            json!({"name": "Dilnoza", "phone": "+998935551122"}),
        )
        .await;
    let cid = c.body["id"].as_str().unwrap().to_owned();
    let customer: Uuid = cid.parse().unwrap();
    let r = app
        .post(
            &format!("/api/v1/customers/{cid}/points/adjustments"),
            &s.owner,
            json!({"id": Uuid::new_v4(), "points": 100, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // ... credited 40 days ago.
    app.db()
        .await
        .execute(
            "UPDATE points_ledger SET created_at = now() - interval '40 days' WHERE customer_id = $1",
            &[&customer],
        )
        .await
        .unwrap();
    // Spend 30 of them on a sale; the cash part earns new points.
    let r = app
        .post("/api/v1/receipts", &s.register_token, sale(&s, &cid, 30))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let earned = r.body["points_earned"].as_i64().unwrap();
    assert_eq!(r.body["points_redeemed"], 30);
    assert!(earned > 0, "the test needs points earned now: {}", r.body);
    assert_eq!(balance(&app, &s, &cid).await, 70 + earned);

    let db = job_db(&app).await;
    let now: DateTime<Utc> = Utc::now();
    // Nothing is 30 days old a day before the cutoff of the old credit.
    let e = points::expire(&db, Some(now - Duration::days(11)), None, 100)
        .await
        .unwrap();
    assert_eq!((e.accounts, e.points), (0, 0));
    // Now: 100 old - 30 spent = 70 expire; the recent points stay.
    let e = points::expire(&db, Some(now), None, 100).await.unwrap();
    assert_eq!((e.accounts, e.points, e.busy), (1, 70, false));
    assert_eq!(expired(&app, customer).await, -70);
    assert_eq!(balance(&app, &s, &cid).await, earned);
    assert_points_match_ledger(&app).await;
    // Integrations hear of it: one customer.points_changed, written with
    // the expiry (still pending, or already sequenced into the feed).
    let db_rows = app
        .db()
        .await
        .query(
            "SELECT (payload->>'delta')::int8, (payload->>'balance_after')::int8 FROM (                SELECT type, payload::jsonb AS payload FROM outbox_pending                UNION ALL SELECT type, payload FROM events) e              WHERE type = 'customer.points_changed' AND payload->>'reason' = 'expire'                AND payload->>'customer_id' = $1",
            &[&customer.to_string()],
        )
        .await
        .unwrap();
    let seen: Vec<(i64, i64)> = db_rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        seen,
        vec![(-70, earned)],
        "one expiry event, with the balance after it"
    );
    // Twice: nothing more.
    let e = points::expire(&db, Some(now), None, 100).await.unwrap();
    assert_eq!((e.accounts, e.points), (0, 0));
    assert_eq!(expired(&app, customer).await, -70);
    // The ledger shows the expiry.
    let r = app
        .get(&format!("/api/v1/customers/{cid}/points"), &s.owner)
        .await;
    let kinds: Vec<&str> = r.body["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"expire"), "{}", r.body);

    // Spending more than is left after the expiry is refused.
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            sale(&s, &cid, earned + 1),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "insufficient_points"),
        "{}",
        r.body
    );
    assert_eq!(balance(&app, &s, &cid).await, earned);

    // 31 days on, the points earned with the sale expire too; the job with
    // the database clock moved does the same.
    app.db()
        .await
        .execute(
            "INSERT INTO jowi_clock (singleton, shift) VALUES (true, interval '31 days') \
             ON CONFLICT (singleton) DO UPDATE SET shift = EXCLUDED.shift",
            &[],
        )
        .await
        .unwrap();
    let e = points::expire(&db, None, None, 100).await.unwrap();
    assert_eq!((e.accounts, e.points), (1, earned));
    assert_eq!(balance(&app, &s, &cid).await, 0);
    assert_eq!(expired(&app, customer).await, -70 - earned);
    let e = points::expire(&db, None, None, 100).await.unwrap();
    assert_eq!((e.accounts, e.points), (0, 0));
    assert_points_match_ledger(&app).await;
}

/// Without an expiry nothing ever expires; debits larger than the old
/// credits leave nothing to expire (never below zero).
#[actix_web::test]
async fn no_expiry_and_fully_spent_points_expire_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let program = |version: i32, days: Value| {
        json!({"version": version, "active": true, "earn_points": 1,
            "earn_per_amount": 1000, "point_value": 100, "expiry_days": days})
    };
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&program(0, Value::Null)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = app
        .post(
            "/api/v1/customers",
            &s.owner,
            json!({"name": "Aziz", "phone": "+998935553344"}),
        )
        .await;
    let cid = c.body["id"].as_str().unwrap().to_owned();
    let adj = format!("/api/v1/customers/{cid}/points/adjustments");
    for points in [40, -25] {
        let r = app
            .post(
                &adj,
                &s.owner,
                json!({"id": Uuid::new_v4(), "points": points, "reason": "test"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    app.db()
        .await
        .execute(
            "UPDATE points_ledger SET created_at = now() - interval '400 days'",
            &[],
        )
        .await
        .unwrap();
    let db = job_db(&app).await;
    let e = points::expire(&db, None, None, 100).await.unwrap();
    assert_eq!((e.accounts, e.points), (0, 0), "no expiry configured");
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&program(1, json!(365))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A recent debit larger than what is left of the old credit: 40 old,
    // 25 + 10 spent -> 5 expire.
    let r = app
        .post(
            &adj,
            &s.owner,
            json!({"id": Uuid::new_v4(), "points": -10, "reason": "test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let e = points::expire(&db, None, None, 1).await.unwrap();
    assert_eq!((e.accounts, e.points), (1, 5));
    assert_eq!(balance(&app, &s, &cid).await, 0);
    let e = points::expire(&db, None, None, 1).await.unwrap();
    assert_eq!((e.accounts, e.points), (0, 0));
    assert_points_match_ledger(&app).await;
}
