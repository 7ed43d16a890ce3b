//! The money rules through the API: the README's worked example end to
//! end, returns, retries, offline receipts, totals_mismatch, named
//! discount limits, the negative-stock policy, and concurrent redemptions
//! of one customer's points on two instances.
use crate::helpers::*;
use crate::retail::assert_points_match_ledger;
use crate::sales::{assert_stock_matches_ledger, shop, Shop};
use crate::totals_check::{assert_totals_match_rebuild, shift_money_from_receipts};
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// VAT 12% inclusive for the tenant, cash rounding to 100, the points
/// program (1 point per 1000, a point pays 100) and a customer with 10
/// points. Answers (product A variant, product B variant, customer id).
pub async fn retail_shop(app: &TestApp, s: &Shop) -> (String, String, String) {
    let a = app.create_product(&s.owner, "Tea", "tea-1", 15_000).await;
    let b = app.create_product(&s.owner, "Cups", "cups-1", 9_999).await;
    let vat = app
        .post(
            "/api/v1/tax-rates",
            &s.owner,
            json!({"name": "VAT 12%", "rate_bp": 1200, "mode": "inclusive",
            "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(vat.status, StatusCode::CREATED, "{}", vat.body);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/tax-assignments",
            Some(&s.owner),
            Some(&json!({"target": "tenant", "tax_rate_id": vat.body["id"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .patch(
            &format!("/api/v1/stores/{}/settings", s.store),
            &s.owner,
            json!({"version": 1, "cash_rounding_unit": 100}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&json!({"version": 0, "active": true,
            "earn_points": 1, "earn_per_amount": 1000, "point_value": 100, "expiry_days": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = app
        .post(
            "/api/v1/customers",
            &s.owner,
            json!({"name": "Malika", "phone": "+998 90 555 44 33"}),
        )
        .await;
    let cid = c.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/customers/{cid}/points/adjustments"),
            &s.owner,
            json!({"id": Uuid::new_v4(), "points": 10, "reason": "welcome"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        a["variants"][0]["id"].as_str().unwrap().to_owned(),
        b["variants"][0]["id"].as_str().unwrap().to_owned(),
        cid,
    )
}

pub fn example(s: &Shop, a: &str, b: &str) -> Value {
    json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "sale", "customer_phone": "90-555-44-33",
        "items": [
            {"variant_id": a, "quantity": "2", "discount_percent_bp": 1000},
            {"variant_id": b, "quantity": 1}
        ],
        "discount": {"percent_bp": 500},
        "payments": [{"method": "points", "amount": 500}, {"method": "cash", "amount": 35000}],
        "totals": {"total": 35149, "tax_total": 3766, "rounding": -49, "payable": 35100, "points_earned": 34}
    })
}

async fn balance(app: &TestApp, token: &str, customer: &str) -> i64 {
    app.get(&format!("/api/v1/customers/{customer}/points"), token)
        .await
        .body["balance"]
        .as_i64()
        .unwrap_or(i64::MIN)
}

/// The README's worked example: tax inside per line and per rate, line and
/// receipt discounts spread exactly, cash rounding as its own line, points
/// redeemed and earned in the same commit; a replay answers the same; a
/// partial return gives back its share of money, tax and points.
#[actix_web::test]
async fn worked_example_sale_replay_and_return() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let (a, b, customer) = retail_shop(&app, &s).await;
    let sale = example(&s, &a, &b);
    let r = app
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let got = &r.body;
    assert_eq!(got["customer_id"], customer.as_str());
    assert_eq!(
        (got["subtotal"].as_i64(), got["discount_total"].as_i64()),
        (Some(39_999), Some(4_850))
    );
    assert_eq!(
        (got["receipt_discount"].as_i64(), got["tax_total"].as_i64()),
        (Some(1_850), Some(3_766))
    );
    assert_eq!(
        (
            got["total"].as_i64(),
            got["rounding"].as_i64(),
            got["payable"].as_i64()
        ),
        (Some(35_149), Some(-49), Some(35_100))
    );
    assert_eq!(
        (got["paid"].as_i64(), got["change"].as_i64()),
        (Some(35_500), Some(400))
    );
    assert_eq!(
        (
            got["points_earned"].as_i64(),
            got["points_redeemed"].as_i64()
        ),
        (Some(34), Some(5))
    );
    let items = got["items"].as_array().unwrap();
    assert_eq!(
        (
            items[0]["discount"].as_i64(),
            items[0]["receipt_discount"].as_i64()
        ),
        (Some(3_000), Some(1_350))
    );
    assert_eq!(
        (items[0]["tax"].as_i64(), items[0]["total"].as_i64()),
        (Some(2_748), Some(25_650))
    );
    assert_eq!(
        (
            items[1]["receipt_discount"].as_i64(),
            items[1]["tax"].as_i64()
        ),
        (Some(500), Some(1_018))
    );
    assert_eq!(got["taxes"][0]["tax"], 3_766);
    assert_eq!(got["taxes"][0]["taxable"], 35_149);
    assert_eq!(balance(&app, &s.owner, &customer).await, 10 - 5 + 34);

    // A retry (lost answer) gets the same receipt and moves nothing twice.
    let again = app
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, r.body);
    assert_eq!(balance(&app, &s.owner, &customer).await, 39);
    // And the stored receipt reads back the same.
    let stored = app
        .get(
            &format!("/api/v1/receipts/{}", got["id"].as_str().unwrap()),
            &s.owner,
        )
        .await;
    assert_eq!(stored.body, r.body);

    // Return one of the two teas: half of that line (25_650 -> 12_825,
    // tax 1_374), refunded in cash rounded to 12_800; points taken back
    // round(34 x 12_825 / 35_149) = 12.
    let ret = json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "return", "original_receipt_id": got["id"],
        "items": [{"variant_id": a, "quantity": "1"}],
        "payments": [{"method": "cash", "amount": 12_800}]
    });
    let rr = app
        .post("/api/v1/receipts", &s.register_token, ret.clone())
        .await;
    assert_eq!(rr.status, StatusCode::CREATED, "{}", rr.body);
    assert_eq!(
        (rr.body["total"].as_i64(), rr.body["tax_total"].as_i64()),
        (Some(12_825), Some(1_374))
    );
    assert_eq!(
        (rr.body["rounding"].as_i64(), rr.body["payable"].as_i64()),
        (Some(-25), Some(12_800))
    );
    assert_eq!(rr.body["discount_total"], 1_500 + 675);
    assert_eq!(rr.body["points_earned"], -12);
    assert_eq!(rr.body["customer_id"], customer.as_str());
    assert_eq!(balance(&app, &s.owner, &customer).await, 39 - 12);
    // Retried return: same answer, nothing twice.
    let again = app.post("/api/v1/receipts", &s.register_token, ret).await;
    assert_eq!((again.status, &again.body), (StatusCode::OK, &rr.body));
    // The second tea: the rest of the line exactly (12_825), all tax left.
    let ret2 = json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "return", "original_receipt_id": got["id"],
        "items": [{"variant_id": a, "quantity": "1"}],
        "payments": [{"method": "card", "amount": 12_825}]
    });
    let rr2 = app.post("/api/v1/receipts", &s.register_token, ret2).await;
    assert_eq!(rr2.status, StatusCode::CREATED, "{}", rr2.body);
    assert_eq!(
        (rr2.body["total"].as_i64(), rr2.body["tax_total"].as_i64()),
        (Some(12_825), Some(2_748 - 1_374))
    );
    // A third is more than was sold.
    let ret3 = json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "return", "original_receipt_id": got["id"],
        "items": [{"variant_id": a, "quantity": "1"}],
        "payments": [{"method": "card", "amount": 1}]
    });
    let r3 = app.post("/api/v1/receipts", &s.register_token, ret3).await;
    assert_eq!(
        (r3.status, r3.code()),
        (StatusCode::CONFLICT, "return_exceeds_sale")
    );
    // The X report's money block: running totals, equal to the receipts.
    let x = app
        .get(
            &format!("/api/v1/shifts/{}/report", s.shift),
            &s.register_token,
        )
        .await;
    assert_eq!(x.body["kind"], "x");
    let db = app.db().await;
    assert_eq!(
        x.body["money"],
        shift_money_from_receipts(&db, &s.shift).await
    );
    let close = app
        .post(
            &format!("/api/v1/shifts/{}/close", s.shift),
            &s.register_token,
            json!({"counted_cash": 0}),
        )
        .await;
    assert_eq!(close.status, StatusCode::OK, "{}", close.body);
    // The Z report nets the money rules: discounts, tax, rounding, points.
    let z = app
        .get(
            &format!("/api/v1/shifts/{}/report", s.shift),
            &s.register_token,
        )
        .await;
    let m = &z.body["money"];
    assert_eq!(
        (m["discount_total"].as_i64(), m["tax_total"].as_i64()),
        (Some(4_850 - 2 * 2_175), Some(3_766 - 2 * 1_374)),
        "{}",
        z.body
    );
    assert_eq!(
        (
            m["rounding"].as_i64(),
            m["points_earned"].as_i64(),
            m["points_redeemed"].as_i64()
        ),
        (Some(-49 + 25), Some(34 - 12 - 13), Some(5))
    );
    assert_eq!(m["taxes"][0]["tax"], 3_766 - 2 * 1_374);
    assert_eq!(z.body["by_method"]["points"]["sales"], 500);
    assert_eq!(*m, shift_money_from_receipts(&db, &s.shift).await);
    assert_totals_match_rebuild(&app.db_url).await;

    // Reports = receipts: taxes and discounts in the items add up to the receipts.
    let off: i64 = db
        .query_one(
            "SELECT count(*) FROM receipts r WHERE r.tax_total <> (SELECT sum(tax) FROM receipt_items i \
               WHERE i.tenant_id = r.tenant_id AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at) \
             OR r.total <> (SELECT sum(total) FROM receipt_items i \
               WHERE i.tenant_id = r.tenant_id AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at) \
             OR r.discount_total <> (SELECT sum(discount + receipt_discount) FROM receipt_items i \
               WHERE i.tenant_id = r.tenant_id AND i.receipt_id = r.id AND i.occurred_at = r.occurred_at)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(off, 0, "a receipt's totals differ from its lines");
    assert_points_match_ledger(&app).await;
    assert_stock_matches_ledger(&app).await;
}

/// Client totals that differ: 409 totals_mismatch with the server's lines
/// and totals; nothing is stored.
#[actix_web::test]
async fn client_totals_that_differ_are_refused_with_the_servers_figures() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let (a, b, _) = retail_shop(&app, &s).await;
    let mut sale = example(&s, &a, &b);
    sale["totals"]["total"] = json!(35_150);
    let r = app
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "totals_mismatch"),
        "{}",
        r.body
    );
    let server = &r.body["error"]["server"];
    assert_eq!(
        (server["total"].as_i64(), server["payable"].as_i64()),
        (Some(35_149), Some(35_100))
    );
    assert_eq!(server["items"][0]["tax"], 2_748);
    assert_eq!(app.count("receipts").await, 0);
    // The same receipt with the server's totals goes through.
    sale["totals"]["total"] = json!(35_149);
    sale["id"] = json!(Uuid::new_v4());
    let r = app.post("/api/v1/receipts", &s.register_token, sale).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// A named discount: only its roles, at most its maximum; a free
/// discount above the line is 422.
#[actix_web::test]
async fn named_discount_limits() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let d = app
        .post(
            "/api/v1/discounts",
            &s.owner,
            json!({"name": "Staff", "kind": "percent", "value": 1000,
            "max_percent_bp": 1500, "roles": ["manager", "owner"]}),
        )
        .await;
    let did = d.body["id"].as_str().unwrap().to_owned();
    let with = |line: Value| {
        json!({"id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
            "kind": "sale", "items": [line], "payments": [{"method": "cash", "amount": 1000}]})
    };
    let v = &s.variants[0].0;
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            with(json!({"variant_id": v, "quantity": 1, "discount_id": did})),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        r.body
    );
    let r = app.post("/api/v1/receipts", &s.owner, with(json!({"variant_id": v, "quantity": 1, "discount_id": did, "discount_percent_bp": 2000}))).await;
    assert_eq!(
        (r.code(), r.body["error"]["field"].as_str()),
        ("validation_failed", Some("items[0].discount"))
    );
    let r = app
        .post(
            "/api/v1/receipts",
            &s.owner,
            with(json!({"variant_id": v, "quantity": 1, "discount_id": did})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        (
            r.body["items"][0]["discount"].as_i64(),
            r.body["total"].as_i64()
        ),
        (Some(100), Some(900))
    );
    assert_eq!(r.body["items"][0]["discount_id"], did.as_str());
    let r = app
        .post(
            "/api/v1/receipts",
            &s.register_token,
            with(json!({"variant_id": v, "quantity": 1, "discount": 1001})),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "items[0].discount");
}

/// Refuse negative stock: an online sale past the level is 409
/// insufficient_stock; the same sale uploaded offline is taken and the
/// level goes negative (flagged).
#[actix_web::test]
async fn negative_stock_policy_refuses_online_only() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    // The offline sales below are dated back: their shift opened before
    // them (a receipt must lie within its shift).
    crate::sales::backdate_shift(&app, &s, "2024-01-01T00:00:00Z").await;
    let r = app
        .patch(
            &format!("/api/v1/stores/{}/settings", s.store),
            &s.owner,
            json!({"version": 1, "negative_stock": "refuse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "insufficient_stock"),
        "{}",
        r.body
    );
    let mut offline = s.sale(&[(0, "1")]);
    offline["number"] = json!(format!("{}-1", s.register_number));
    offline["occurred_at"] = json!("2024-01-01T10:00:00Z");
    let r = app
        .post("/api/v1/receipts", &s.register_token, offline)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let levels = app
        .get(&format!("/api/v1/stores/{}/stock", s.store), &s.owner)
        .await;
    assert_eq!(levels.body[0]["negative"], true, "{}", levels.body);
    // Received stock makes the online sale possible.
    let r = app
        .post("/api/v1/stock/movements", &s.owner, json!({"id": Uuid::new_v4(), "kind": "receiving",
            "warehouse_id": s.warehouse, "lines": [{"variant_id": s.variants[0].0, "quantity": "5"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            app.post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
                .await
                .status
                == StatusCode::CREATED
        })
        .await
    );
    assert_stock_matches_ledger(&app).await;
}

/// Two registers on two instances redeem the same customer's 10 points at
/// once: exactly one gets them; the balance never goes below zero and
/// equals the ledger.
#[actix_web::test]
async fn concurrent_redemptions_on_two_instances_never_overdraw() {
    let (a, b) = crate::bus::pair(&crate::bus::redis_url()).await;
    let s = shop(&a, 1).await;
    let r = a
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&json!({"version": 0, "active": true,
            "earn_points": 0, "earn_per_amount": 1000, "point_value": 100, "expiry_days": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = a
        .post(
            "/api/v1/customers",
            &s.owner,
            json!({"name": "Jasur", "phone": "+998977770000"}),
        )
        .await;
    let cid = c.body["id"].as_str().unwrap().to_owned();
    a.post(
        &format!("/api/v1/customers/{cid}/points/adjustments"),
        &s.owner,
        json!({"id": Uuid::new_v4(), "points": 10, "reason": "gift"}),
    )
    .await;
    let (reg2, token2) = a.create_register(&s.owner, &s.store, "Till 2").await;
    let shift2 = a
        .post(
            "/api/v1/shifts",
            &token2,
            json!({"register_id": reg2["id"]}),
        )
        .await;
    assert_eq!(shift2.status, StatusCode::CREATED, "{}", shift2.body);
    let price = s.variants[0].1;
    let body = |register: &Value, shift: &Value| {
        json!({"id": Uuid::new_v4(), "store_id": s.store, "register_id": register, "shift_id": shift,
            "kind": "sale", "customer_id": cid,
            "items": [{"variant_id": s.variants[0].0, "quantity": 2}],
            "payments": [{"method": "points", "amount": 1000}, {"method": "cash", "amount": 2 * price - 1000}]})
    };
    for round in 0..3 {
        let one = body(&json!(s.register), &json!(s.shift));
        let two = body(&reg2["id"], &shift2.body["id"]);
        let answers = join_all([
            a.post("/api/v1/receipts", &s.register_token, one),
            b.post("/api/v1/receipts", &token2, two),
        ])
        .await;
        let created = answers
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        let refused: Vec<&str> = answers
            .iter()
            .filter(|r| r.status != StatusCode::CREATED)
            .map(|r| r.code())
            .collect();
        if round == 0 {
            assert_eq!(
                created,
                1,
                "{:?}",
                answers.iter().map(|r| &r.body).collect::<Vec<_>>()
            );
            assert_eq!(refused, vec!["insufficient_points"]);
        } else {
            assert_eq!(created, 0);
            assert_eq!(refused, vec!["insufficient_points", "insufficient_points"]);
        }
        assert_eq!(balance(&a, &s.owner, &cid).await, 0);
    }
    assert_points_match_ledger(&a).await;
}

/// A new rate applies from its effective time: an offline receipt from
/// before the change keeps the old rate, one after it takes the new one,
/// and the stored receipt is never rewritten. A store's own price wins
/// over the catalog price from its time on. Offline uploads go through the
/// batch endpoint with the same rules, and a retried batch moves nothing twice.
#[actix_web::test]
async fn rate_changes_store_prices_and_offline_batches() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    // The offline sales below are dated back: their shift opened before
    // them (a receipt must lie within its shift).
    crate::sales::backdate_shift(&app, &s, "2024-01-01T00:00:00Z").await;
    let v = s.variants[0].0.clone();
    let vat = app
        .post(
            "/api/v1/tax-rates",
            &s.owner,
            json!({"name": "VAT", "rate_bp": 1000, "mode": "exclusive",
            "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    let vat_id = vat.body["id"].as_str().unwrap().to_owned();
    app.send(
        Method::PUT,
        "/api/v1/tax-assignments",
        Some(&s.owner),
        Some(&json!({"target": "variant", "target_id": v, "tax_rate_id": vat_id})),
    )
    .await;
    let offline = |seq: i64, at: &str, pay: i64| {
        json!({"id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
            "kind": "sale", "number": format!("{}-{seq}", s.register_number), "occurred_at": at,
            "items": [{"variant_id": v, "quantity": 1}], "payments": [{"method": "card", "amount": pay}]})
    };
    // 1000 + 10% on top.
    let before = offline(1, "2024-06-01T10:00:00Z", 1_100);
    let r = app
        .post("/api/v1/receipts", &s.register_token, before)
        .await;
    assert_eq!(
        (
            r.status,
            r.body["tax_total"].as_i64(),
            r.body["total"].as_i64()
        ),
        (StatusCode::CREATED, Some(100), Some(1_100)),
        "{}",
        r.body
    );
    let first = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/api/v1/tax-rates/{vat_id}"),
            &s.owner,
            json!({"version": 1, "rate_bp": 1500, "effective_from": "2025-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = offline(2, "2025-06-01T10:00:00Z", 1_150);
    let r = app.post("/api/v1/receipts", &s.register_token, after).await;
    assert_eq!(
        (r.status, r.body["tax_total"].as_i64()),
        (StatusCode::CREATED, Some(150)),
        "{}",
        r.body
    );
    let old = app
        .get(&format!("/api/v1/receipts/{first}"), &s.owner)
        .await;
    assert_eq!(old.body["tax_total"], 100);
    // An old-rate offline receipt uploaded now still takes the old rate.
    let late = offline(3, "2024-07-01T10:00:00Z", 1_100);
    assert_eq!(
        app.post("/api/v1/receipts", &s.register_token, late)
            .await
            .status,
        StatusCode::CREATED
    );

    // The store's own price from now on.
    let r = app
        .post(
            &format!("/api/v1/stores/{}/prices", s.store),
            &s.owner,
            json!({"variant_id": v, "price": 800}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut sale = s.sale(&[(0, "1")]);
    sale["payments"] = json!([{"method": "cash", "amount": 920}]);
    let r = app.post("/api/v1/receipts", &s.register_token, sale).await;
    assert_eq!(
        (
            r.status,
            r.body["items"][0]["price"].as_i64(),
            r.body["total"].as_i64()
        ),
        (StatusCode::CREATED, Some(800), Some(920)),
        "{}",
        r.body
    );

    // An offline batch: two receipts with discounts; retried whole.
    let batch = json!({"receipts": [
        {"id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
         "kind": "sale", "number": format!("{}-10", s.register_number), "occurred_at": "2025-07-01T09:00:00Z",
         "items": [{"variant_id": v, "quantity": 3, "discount_percent_bp": 1000}],
         "discount": {"amount": 100},
         "payments": [{"method": "cash", "amount": 3_000}]},
        {"id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
         "kind": "sale", "number": format!("{}-11", s.register_number), "occurred_at": "2025-07-01T09:05:00Z",
         "items": [{"variant_id": v, "quantity": 1}], "totals": {"total": 1},
         "payments": [{"method": "cash", "amount": 1_000}]}
    ]});
    let r = app
        .post("/api/v1/receipts/batch", &s.register_token, batch.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    // Store price 800 from now, but these happened before it: 1000 each.
    // 3000 - 300 (10%) - 100 = 2600, + 15% = 390 -> 2990.
    assert_eq!(results[0]["status"], "created", "{}", r.body);
    assert_eq!(
        (
            results[0]["receipt"]["total"].as_i64(),
            results[0]["receipt"]["tax_total"].as_i64()
        ),
        (Some(2_990), Some(390))
    );
    assert_eq!(results[1]["error"]["code"], "totals_mismatch", "{}", r.body);
    assert_eq!(results[1]["error"]["server"]["total"], 1_150);
    let again = app
        .post("/api/v1/receipts/batch", &s.register_token, batch)
        .await;
    assert_eq!(
        again.body["results"][0]["status"], "duplicate",
        "{}",
        again.body
    );
    assert_eq!(again.body["results"][0]["receipt"], results[0]["receipt"]);
    assert_stock_matches_ledger(&app).await;
}

/// A replay answered from memory is rebuilt from the request and today's
/// rules; when the rules changed since (here the points earned), the
/// rebuilt receipt would differ from the stored one in a money field, so
/// the stored receipt (from PostgreSQL) is the answer, not the rebuild.
#[actix_web::test]
async fn replay_after_a_rule_change_answers_the_stored_money() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let (a, b, _customer) = retail_shop(&app, &s).await;
    let mut sale = example(&s, &a, &b);
    // No register totals: the server's figures are taken as they come.
    sale.as_object_mut().unwrap().remove("totals");
    let r = app
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["points_earned"], 34);
    let program = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&json!({"version": 1, "active": true,
            "earn_points": 2, "earn_per_amount": 1000, "point_value": 100, "expiry_days": null})),
        )
        .await;
    assert_eq!(program.status, StatusCode::OK, "{}", program.body);
    let again = app
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, r.body);
}

/// A replay of a sale that took the last unit, under "refuse negative
/// stock": the stock it used is gone, yet the replay is answered as the
/// stored receipt, both from this instance's memory and from a fresh
/// instance that never saw it (idempotency before the stock rule).
#[actix_web::test]
async fn replay_of_a_sale_that_emptied_the_stock_is_answered() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let r = app
        .patch(
            &format!("/api/v1/stores/{}/settings", s.store),
            &s.owner,
            json!({"version": 1, "negative_stock": "refuse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post("/api/v1/stock/movements", &s.owner, json!({"id": Uuid::new_v4(), "kind": "receiving",
            "warehouse_id": s.warehouse, "lines": [{"variant_id": s.variants[0].0, "quantity": "1"}]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let sale = s.sale(&[(0, "1")]);
    // The received unit reaches the store actor shortly after the commit;
    // until then the sale is refused and nothing is stored.
    let first = std::cell::RefCell::new(None);
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            let r = app
                .post("/api/v1/receipts", &s.register_token, sale.clone())
                .await;
            let ok = r.status == StatusCode::CREATED;
            if ok {
                *first.borrow_mut() = Some(r.body);
            }
            ok
        })
        .await
    );
    let first = first.into_inner().unwrap();
    // Stock is now 0: a new sale of the same unit is refused ...
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.code(), "insufficient_stock", "{}", r.body);
    // ... the replay is not.
    let again = app
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, first);
    let second = spawn_with_settings(app.settings.clone()).await;
    let again = second
        .post("/api/v1/receipts", &s.register_token, sale.clone())
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body, first);
    assert_stock_matches_ledger(&app).await;
}

/// An upgraded database reports the same money block: V11's backfill (run
/// here on a shift whose money totals are gone, as before V11, one of them
/// without its totals row at all, as before V8) recomputes it from the
/// receipts, exclusive taxes, rounding and points included.
#[actix_web::test]
async fn v11_backfills_the_shift_money_totals() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let (a, b, _) = retail_shop(&app, &s).await;
    // An exclusive rate on B: its lines are taxed on their total less tax.
    let excise = app
        .post(
            "/api/v1/tax-rates",
            &s.owner,
            json!({"name": "Excise 5%", "rate_bp": 500, "mode": "exclusive",
            "effective_from": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(excise.status, StatusCode::CREATED, "{}", excise.body);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/tax-assignments",
            Some(&s.owner),
            Some(&json!({"target": "variant", "target_id": b, "tax_rate_id": excise.body["id"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let sale = json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "sale",
        "items": [{"variant_id": a, "quantity": "2", "discount_percent_bp": 1000},
                  {"variant_id": b, "quantity": 3}],
        "payments": [{"method": "cash", "amount": 100_000}]
    });
    let r = app.post("/api/v1/receipts", &s.register_token, sale).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ret = json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": s.register, "shift_id": s.shift,
        "kind": "return", "original_receipt_id": r.body["id"],
        "items": [{"variant_id": b, "quantity": 1}],
        // A third of the line, rounded half away from zero.
        "payments": [{"method": "card", "amount": (2 * r.body["items"][1]["total"].as_i64().unwrap() + 3) / 6}]
    });
    let rr = app.post("/api/v1/receipts", &s.register_token, ret).await;
    assert_eq!(rr.status, StatusCode::CREATED, "{}", rr.body);
    let report = format!("/api/v1/shifts/{}/report", s.shift);
    let before = app.get(&report, &s.owner).await.body["money"].clone();
    let db = app.db().await;
    assert_eq!(before, shift_money_from_receipts(&db, &s.shift).await);
    assert_eq!(
        before["taxes"].as_array().map(Vec::len),
        Some(2),
        "{before}"
    );
    assert_ne!(before["rounding"], 0, "{before}");

    // As before V11: no money totals. And a second shift without a row.
    let (reg2, token2) = app.create_register(&s.owner, &s.store, "Till 2").await;
    let opened = app
        .post(
            "/api/v1/shifts",
            &token2,
            json!({"register_id": reg2["id"], "opening_cash": 0}),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.body);
    let shift2 = opened.body["id"].as_str().unwrap().to_owned();
    let sale2 = json!({
        "id": Uuid::new_v4(), "store_id": s.store, "register_id": reg2["id"], "shift_id": shift2,
        "kind": "sale", "items": [{"variant_id": b, "quantity": 1}, {"variant_id": a, "quantity": 1}],
        "payments": [{"method": "cash", "amount": 100_000}]
    });
    let r2 = app.post("/api/v1/receipts", &token2, sale2).await;
    assert_eq!(r2.status, StatusCode::CREATED, "{}", r2.body);
    let before2 = app
        .get(&format!("/api/v1/shifts/{shift2}/report"), &s.owner)
        .await
        .body["money"]
        .clone();
    assert_eq!(before2, shift_money_from_receipts(&db, &shift2).await);
    db.batch_execute(&format!(
        "UPDATE shift_totals SET money_discounts = 0, money_tax = 0, money_rounding = 0, \
           points_earned = 0, points_redeemed = 0; \
         DELETE FROM shift_tax_totals; \
         DELETE FROM shift_totals WHERE shift_id = '{shift2}'"
    ))
    .await
    .unwrap();
    let gone = app.get(&report, &s.owner).await.body["money"].clone();
    assert_ne!(gone, before, "the totals were emptied");
    let migration = include_str!("../../migrations/V11__shift_money_totals.sql");
    let backfill = migration
        .split_once("-- Backfill")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, rest)| rest)
        .expect("V11 has a backfill section");
    db.batch_execute(backfill).await.unwrap();
    assert_eq!(app.get(&report, &s.owner).await.body["money"], before);
    let after2 = app
        .get(&format!("/api/v1/shifts/{shift2}/report"), &s.owner)
        .await
        .body["money"]
        .clone();
    assert_eq!(after2, before2);
}
