use crate::helpers::*;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use uuid::Uuid;

/// A tenant with one store, one register (token), an open shift and products.
pub struct Shop {
    pub owner: String,
    pub store: String,
    pub warehouse: String,
    pub register: String,
    pub register_number: i64,
    pub register_token: String,
    pub shift: String,
    /// (variant id, price)
    pub variants: Vec<(String, i64)>,
}

/// The shared fixture (`helpers::open_shop`) with one till, seen as one
/// register.
pub async fn shop(app: &TestApp, products: usize) -> Shop {
    let f = open_shop(&app.http, &app.base, &app.admin_token, 1, products).await;
    let till = f.tills[0].clone();
    Shop {
        owner: f.owner,
        store: f.store,
        warehouse: f.warehouse,
        register: till.register_id,
        register_number: till.number,
        register_token: till.token,
        shift: till.shift_id,
        variants: f.variants.into_iter().map(|v| (v.id, v.price)).collect(),
    }
}

impl Shop {
    /// A cash sale of `qty` of each listed variant, paid exactly.
    pub fn sale(&self, lines: &[(usize, &str)]) -> Value {
        let mut total = 0i64;
        let items: Vec<Value> = lines
            .iter()
            .map(|(i, q)| {
                let (v, price) = &self.variants[*i];
                let qd: f64 = q.parse().unwrap();
                total += (*price as f64 * qd).round() as i64;
                json!({"variant_id": v, "quantity": q})
            })
            .collect();
        json!({
            "id": Uuid::new_v4(), "store_id": self.store, "register_id": self.register, "shift_id": self.shift,
            "kind": "sale", "items": items, "payments": [{"method": "cash", "amount": total}]
        })
    }

    pub fn refund(&self, original: &str, lines: &[(usize, &str)]) -> Value {
        let mut r = self.sale(lines);
        r["kind"] = json!("return");
        r["original_receipt_id"] = json!(original);
        r
    }
}

/// Moves the shop's shift opening back to `at` (RFC 3339): a shift opened
/// before the receipts a test dates in the past (a receipt must lie within
/// its shift).
pub async fn backdate_shift(app: &TestApp, s: &Shop, at: &str) {
    let shift: Uuid = s.shift.parse().unwrap();
    let at: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    app.db()
        .await
        .execute(
            "UPDATE shifts SET opened_at = $2 WHERE id = $1",
            &[&shift, &at],
        )
        .await
        .unwrap();
}

/// Every (warehouse, variant) level equals the sum of its movements.
pub async fn assert_stock_matches_ledger(app: &TestApp) {
    assert_stock_equals_ledger(&app.db().await).await;
}

/// 201 first, 200 with the same receipt on replay, 409 on a changed body.
#[actix_web::test]
async fn receipt_is_idempotent() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let body = s.sale(&[(0, "2"), (1, "0.5")]);
    let first = app
        .post("/api/v1/receipts", &s.register_token, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["number"], format!("{}-1", s.register_number));
    assert_eq!(first.body["total"], 2000 + 1001 / 2 + 1); // 1001 x 0.5 = 500.5 -> 501
    let again = app
        .post("/api/v1/receipts", &s.register_token, body.clone())
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body);
    let mut changed = body.clone();
    changed["items"][0]["quantity"] = json!("3");
    changed["payments"][0]["amount"] = json!(3000 + 501);
    let r = app
        .post("/api/v1/receipts", &s.register_token, changed)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "idempotency_conflict");
    let got = app
        .get(
            &format!("/api/v1/receipts/{}", body["id"].as_str().unwrap()),
            &s.owner,
        )
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body, first.body);
    assert_stock_matches_ledger(&app).await;
}

/// Replays are answered from PostgreSQL after a restart (no memory).
#[actix_web::test]
async fn replay_after_restart_answers_stored_receipt() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let body = s.sale(&[(0, "1")]);
    let first = app
        .post("/api/v1/receipts", &s.register_token, body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let second = spawn_with_settings(app.settings.clone()).await;
    let r = second
        .post("/api/v1/receipts", &s.register_token, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, first.body);
    let mut changed = body;
    changed["items"][0]["quantity"] = json!(2);
    changed["payments"][0]["amount"] = json!(2000);
    let r = second
        .post("/api/v1/receipts", &s.register_token, changed)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

/// Many concurrent posts to one store: nothing lost or doubled, numbers
/// unique and gapless, stock equals the ledger.
#[actix_web::test]
async fn concurrent_receipts_are_all_stored_once() {
    let app = spawn_app().await;
    let s = shop(&app, 5).await;
    let n = 300;
    let bodies: Vec<Value> = (0..n)
        .map(|i| s.sale(&[(i % 5, "1"), ((i + 1) % 5, "0.250")]))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|b| app.post("/api/v1/receipts", &s.register_token, b.clone())),
    )
    .await;
    let mut numbers = HashSet::new();
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert!(numbers.insert(r.body["number"].as_str().unwrap().to_owned()));
    }
    let expected: HashSet<String> = (1..=n)
        .map(|k| format!("{}-{k}", s.register_number))
        .collect();
    assert_eq!(numbers, expected, "numbers must be 1..=n without gaps");
    let count = app.count("receipts").await;
    assert_eq!(count, n as i64);
    let items = app.count("receipt_items").await;
    assert_eq!(items, 2 * n as i64);
    assert_stock_matches_ledger(&app).await;
    // No opening stock: variant 0 sold 60 x 1 and 60 x 0.25, so -75.
    let level = app
        .get(
            &format!(
                "/api/v1/stores/{}/stock?variant_id={}",
                s.store, s.variants[0].0
            ),
            &s.owner,
        )
        .await;
    let q: f64 = level.body[0]["quantity"].as_str().unwrap().parse().unwrap();
    assert_eq!(q, -(60.0 + 60.0 * 0.25));
    assert_eq!(level.body[0]["negative"], true);
}

/// A retry storm of the same ids, concurrent: exactly one receipt each.
#[actix_web::test]
async fn retry_storm_stores_each_receipt_once() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let bodies: Vec<Value> = (0..40).map(|i| s.sale(&[(i % 2, "1")])).collect();
    let storm: Vec<Value> = bodies
        .iter()
        .flat_map(|b| std::iter::repeat_n(b.clone(), 5))
        .collect();
    let replies = join_all(
        storm
            .iter()
            .map(|b| app.post("/api/v1/receipts", &s.register_token, b.clone())),
    )
    .await;
    let mut created = 0;
    for r in &replies {
        assert!(
            r.status == StatusCode::CREATED || r.status == StatusCode::OK,
            "{} {}",
            r.status,
            r.body
        );
        if r.status == StatusCode::CREATED {
            created += 1;
        }
    }
    assert_eq!(created, 40);
    let count = app.count("receipts").await;
    assert_eq!(count, 40);
    assert_stock_matches_ledger(&app).await;
}

/// The writer's connection killed mid-batch: every receipt of the batch is
/// answered with a retryable error, none is half-written, retries succeed
/// and take the numbers in order.
#[actix_web::test]
async fn killed_writer_connection_fails_batch_cleanly() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let db = app.db().await;
    // Hold the register row so the batch blocks inside its transaction.
    let mut blocker = app.db().await;
    let tx = blocker.transaction().await.unwrap();
    tx.execute(
        "SELECT 1 FROM registers WHERE id = $1::text::uuid FOR UPDATE",
        &[&s.register],
    )
    .await
    .unwrap();
    let bodies: Vec<Value> = (0..5).map(|i| s.sale(&[(i % 2, "1")])).collect();
    let posts = join_all(
        bodies
            .iter()
            .map(|b| app.post("/api/v1/receipts", &s.register_token, b.clone())),
    );
    let killer = async {
        let dbname = app.db_url.rsplit('/').next().unwrap().to_owned();
        assert!(
            eventually(std::time::Duration::from_secs(10), || async {
                let n: i64 = db
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                        &[&dbname],
                    )
                    .await
                    .unwrap()
                    .get(0);
                n > 0
            })
            .await
        );
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            &[&dbname],
        )
        .await
        .unwrap();
        // Release the row: batches formed after the kill go through.
        tx.rollback().await.unwrap();
    };
    let (replies, ()) = futures::join!(posts, killer);
    let failed: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(
        !failed.is_empty(),
        "some receipts must have been in the killed batch"
    );
    for r in &failed {
        assert_eq!(r.code(), "unavailable");
    }
    let stored = app.count("receipts").await;
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .count() as i64;
    assert_eq!(stored, created, "nothing half-written");
    let keys = app.count("receipt_keys").await;
    assert_eq!(keys, created);
    // Retries of everything succeed, once each.
    let retries = join_all(
        bodies
            .iter()
            .map(|b| app.post("/api/v1/receipts", &s.register_token, b.clone())),
    )
    .await;
    let mut numbers: Vec<i64> = retries
        .iter()
        .map(|r| {
            assert!(r.status.is_success(), "{}", r.body);
            r.body["number"]
                .as_str()
                .unwrap()
                .split('-')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5]);
    let stored = app.count("receipts").await;
    assert_eq!(stored, 5);
    assert_stock_matches_ledger(&app).await;
}

/// Several partial returns of one sale never exceed what it sold.
#[actix_web::test]
async fn returns_cannot_exceed_the_sale() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let sale = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.sale(&[(0, "2"), (1, "1")]),
        )
        .await;
    assert_eq!(sale.status, StatusCode::CREATED);
    let sale_id = sale.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.refund(&sale_id, &[(0, "1.5")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.refund(&sale_id, &[(0, "1")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "return_exceeds_sale");
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.refund(&sale_id, &[(0, "0.5"), (1, "1")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.refund(&sale_id, &[(1, "0.001")]),
        )
        .await;
    assert_eq!(r.code(), "return_exceeds_sale");
    // A return of a return, of nothing, or of an unknown receipt is refused.
    let ret_id = Uuid::new_v4().to_string();
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            s.refund(&ret_id, &[(0, "1")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let level = app
        .get(
            &format!(
                "/api/v1/stores/{}/stock?variant_id={}",
                s.store, s.variants[0].0
            ),
            &s.owner,
        )
        .await;
    assert_eq!(level.body[0]["quantity"], "0.000");
    assert_stock_matches_ledger(&app).await;
}

/// Offline receipts keep their number and time; a taken number is 409.
#[actix_web::test]
async fn offline_receipts_keep_number_and_time() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    // The register opened its shift before it went offline.
    backdate_shift(&app, &s, "2026-11-01T08:00:00Z").await;
    let mut r = s.sale(&[(0, "1")]);
    r["number"] = json!(format!("{}-100", s.register_number));
    r["occurred_at"] = json!("2026-11-01T09:30:00Z");
    let first = app.post("/api/v1/receipts", &s.register_token, r).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["occurred_at"], "2026-11-01T09:30:00Z");
    let mut dup = s.sale(&[(0, "1")]);
    dup["number"] = json!(format!("{}-100", s.register_number));
    let r = app.post("/api/v1/receipts", &s.register_token, dup).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "number_taken");
    // Server numbering continues after the highest client number.
    let next = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(next.body["number"], format!("{}-101", s.register_number));
    let mut wrong = s.sale(&[(0, "1")]);
    wrong["number"] = json!("99-1");
    assert_eq!(
        app.post("/api/v1/receipts", &s.register_token, wrong)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// The offline batch answers per receipt; one bad receipt rejects no other.
#[actix_web::test]
async fn offline_batch_answers_each_receipt() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let good = s.sale(&[(0, "1")]);
    let stored = app
        .post("/api/v1/receipts", &s.register_token, good.clone())
        .await;
    assert_eq!(stored.status, StatusCode::CREATED);
    let mut bad = s.sale(&[(1, "1")]);
    bad["items"][0]["variant_id"] = json!(Uuid::new_v4());
    let fresh = s.sale(&[(1, "2")]);
    let ret = s.refund(stored.body["id"].as_str().unwrap(), &[(0, "1")]);
    let r = app
        .post(
            "/api/v1/receipts/batch",
            &s.register_token,
            json!({"receipts": [good, bad, fresh, ret]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let statuses: Vec<&str> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["duplicate", "rejected", "created", "created"]
    );
    assert_eq!(r.body["results"][1]["error"]["code"], "validation_failed");
    assert_eq!(r.body["results"][1]["error"]["retryable"], false);
    let r = app
        .post(
            "/api/v1/receipts/batch",
            &s.register_token,
            json!({"receipts": []}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Bad receipts: 4xx with a JSON error, nothing written.
#[actix_web::test]
async fn bad_receipts_are_rejected_cleanly() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let other_store = app.create_store(&s.owner, "Other").await;
    let (other_reg, other_token) = app
        .create_register(&s.owner, other_store["id"].as_str().unwrap(), "T2")
        .await;
    let base = s.sale(&[(0, "1")]);
    let with = |path: &str, v: Value| {
        let mut b = base.clone();
        b["id"] = json!(Uuid::new_v4());
        let mut cur = &mut b;
        let parts: Vec<&str> = path.split('.').collect();
        for p in &parts[..parts.len() - 1] {
            cur = match p.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*p],
            };
        }
        let last = parts[parts.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => cur[i] = v,
            Err(_) => cur[last] = v,
        }
        b
    };
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with("items", json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("items.0.quantity", json!("-1")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("items.0.quantity", json!("1.0001")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("items.0.quantity", json!("abc")),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            with("items.0.variant_id", json!(Uuid::new_v4())),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("items.0.price", json!(-5)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("items.0.discount", json!(999999)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("payments", json!([{"method": "card", "amount": 5000}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("payments", json!([{"method": "cash", "amount": 1}])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("payments", json!([{"method": "bitcoin", "amount": 1000}])),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            with("kind", json!("gift")),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            with("total", json!(1)),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            with("store_id", json!(Uuid::new_v4())),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            with("shift_id", json!(Uuid::new_v4())),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        // A register token names only itself (checked before anything
        // else, so a replay cannot bypass it).
        (
            with("register_id", other_reg["id"].clone()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            with("occurred_at", json!("2999-01-01T00:00:00Z")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            with("id", json!("not-a-uuid")),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (body, status, code) in cases {
        let r = app
            .post("/api/v1/receipts", &s.register_token, body.clone())
            .await;
        assert_eq!(r.status, status, "{body} -> {}", r.body);
        assert_eq!(r.code(), code, "{body}");
    }
    // Another register's token may not post for this register.
    let r = app
        .post("/api/v1/receipts", &other_token, base.clone())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let n = app.count("receipts").await;
    assert_eq!(n, 0);
    let m = app.count("stock_movements").await;
    assert_eq!(m, 0);
}

/// Shifts: one open per register, cash in/out, X and Z reports.
#[actix_web::test]
async fn shift_lifecycle_and_reports() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let r = app
        .post(
            "/api/v1/shifts",
            &s.register_token,
            json!({"register_id": s.register}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "shift_already_open");
    // Sale 1000 paid 1500 cash (500 change), sale 1000 by card, return 1000 cash.
    let mut cash_sale = s.sale(&[(0, "1")]);
    cash_sale["payments"] = json!([{"method": "cash", "amount": 1500}]);
    let first = app
        .post("/api/v1/receipts", &s.register_token, cash_sale)
        .await;
    assert_eq!(first.body["change"], 500);
    let mut card_sale = s.sale(&[(0, "1")]);
    card_sale["payments"] = json!([{"method": "card", "amount": 1000}]);
    assert_eq!(
        app.post("/api/v1/receipts", &s.register_token, card_sale)
            .await
            .status,
        StatusCode::CREATED
    );
    let ret = s.refund(first.body["id"].as_str().unwrap(), &[(0, "1")]);
    assert_eq!(
        app.post("/api/v1/receipts", &s.register_token, ret)
            .await
            .status,
        StatusCode::CREATED
    );
    let path = format!("/api/v1/shifts/{}", s.shift);
    let r = app
        .post(
            &format!("{path}/cash"),
            &s.register_token,
            json!({"kind": "in", "amount": 700}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            &format!("{path}/cash"),
            &s.register_token,
            json!({"kind": "out", "amount": 200}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            &format!("{path}/cash"),
            &s.register_token,
            json!({"kind": "sideways", "amount": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let x = app.get(&format!("{path}/report"), &s.register_token).await;
    assert_eq!(x.body["kind"], "x");
    assert_eq!(x.body["receipts"], 3);
    assert_eq!(x.body["sales_total"], 2000);
    assert_eq!(x.body["returns_total"], 1000);
    assert_eq!(x.body["by_method"]["card"]["sales"], 1000);
    // 5000 opening + 1500 cash - 500 change - 1000 refund + 700 - 200
    assert_eq!(x.body["expected_cash"], 5500);
    let z = app
        .post(
            &format!("{path}/close"),
            &s.register_token,
            json!({"counted_cash": 5400}),
        )
        .await;
    assert_eq!(z.status, StatusCode::OK, "{}", z.body);
    assert_eq!(z.body["kind"], "z");
    assert_eq!(z.body["difference"], -100);
    let again = app
        .post(
            &format!("{path}/close"),
            &s.register_token,
            json!({"counted_cash": 1}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // Sales on the closed shift are refused; a new shift can open.
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "shift_closed");
    let r = app
        .post(
            "/api/v1/shifts",
            &s.register_token,
            json!({"register_id": s.register}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            "/api/v1/shifts",
            &s.register_token,
            json!({"register_id": Uuid::new_v4()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "/api/v1/shifts",
            &s.owner,
            json!({"register_id": Uuid::new_v4(), "opening_cash": -1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Receipts list: newest first, keyset pages, time bounds.
#[actix_web::test]
async fn receipts_list_pages() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    backdate_shift(&app, &s, "2026-11-01T00:00:00Z").await;
    let mut ids = Vec::new();
    for day in 1..=5 {
        let mut r = s.sale(&[(0, "1")]);
        r["occurred_at"] = json!(format!("2026-11-0{day}T10:00:00Z"));
        let posted = app.post("/api/v1/receipts", &s.register_token, r).await;
        assert_eq!(posted.status, StatusCode::CREATED, "{}", posted.body);
        ids.push(posted.body["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .get(
                &format!("/api/v1/receipts?store_id={}&limit=2{cursor}", s.store),
                &s.owner,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        seen.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["id"].as_str().unwrap().to_owned()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
    let r = app
        .get(
            &format!(
                "/api/v1/receipts?store_id={}&from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z",
                s.store
            ),
            &s.owner,
        )
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let r = app
        .get(
            &format!("/api/v1/receipts?store_id={}&cursor=garbage", s.store),
            &s.owner,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get(
            &format!("/api/v1/receipts?store_id={}", Uuid::new_v4()),
            &s.owner,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Stock documents: receiving, write-off, transfer, inventory count; each
/// idempotent; levels equal the ledger.
#[actix_web::test]
async fn stock_documents_move_stock() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let second = app.create_store(&s.owner, "Second").await;
    let w2 = second["default_warehouse_id"].as_str().unwrap();
    let v0 = &s.variants[0].0;
    let receiving = json!({"id": Uuid::new_v4(), "kind": "receiving", "warehouse_id": s.warehouse,
        "lines": [{"variant_id": v0, "quantity": 10}]});
    let r = app
        .post("/api/v1/stock/movements", &s.owner, receiving.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post("/api/v1/stock/movements", &s.owner, receiving.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut changed = receiving.clone();
    changed["lines"][0]["quantity"] = json!(11);
    assert_eq!(
        app.post("/api/v1/stock/movements", &s.owner, changed)
            .await
            .status,
        StatusCode::CONFLICT
    );
    let docs = vec![
        json!({"id": Uuid::new_v4(), "kind": "write_off", "warehouse_id": s.warehouse, "lines": [{"variant_id": v0, "quantity": "1.5"}]}),
        json!({"id": Uuid::new_v4(), "kind": "transfer", "warehouse_id": s.warehouse, "to_warehouse_id": w2, "lines": [{"variant_id": v0, "quantity": 3}]}),
        json!({"id": Uuid::new_v4(), "kind": "inventory", "warehouse_id": s.warehouse, "lines": [{"variant_id": v0, "quantity": 5}]}),
    ];
    for d in docs {
        let r = app.post("/api/v1/stock/movements", &s.owner, d).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let level = app
        .get(
            &format!("/api/v1/stores/{}/stock?variant_id={v0}", s.store),
            &s.owner,
        )
        .await;
    assert_eq!(level.body[0]["quantity"], "5.000");
    let level = app
        .get(
            &format!(
                "/api/v1/stores/{}/stock?variant_id={v0}",
                second["id"].as_str().unwrap()
            ),
            &s.owner,
        )
        .await;
    assert_eq!(level.body[0]["quantity"], "3.000");
    // Bad documents.
    for bad in [
        json!({"id": Uuid::new_v4(), "kind": "receiving", "warehouse_id": Uuid::new_v4(), "lines": [{"variant_id": v0, "quantity": 1}]}),
        json!({"id": Uuid::new_v4(), "kind": "receiving", "warehouse_id": s.warehouse, "lines": [{"variant_id": v0, "quantity": -1}]}),
        json!({"id": Uuid::new_v4(), "kind": "transfer", "warehouse_id": s.warehouse, "lines": [{"variant_id": v0, "quantity": 1}]}),
        json!({"id": Uuid::new_v4(), "kind": "receiving", "warehouse_id": s.warehouse, "lines": []}),
        json!({"id": Uuid::new_v4(), "kind": "receiving", "warehouse_id": s.warehouse, "lines": [{"variant_id": Uuid::new_v4(), "quantity": 1}]}),
    ] {
        let r = app
            .post("/api/v1/stock/movements", &s.owner, bad.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad} -> {}",
            r.body
        );
    }
    let r = app
        .post("/api/v1/stock/movements", &s.register_token, receiving)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_stock_matches_ledger(&app).await;
}
