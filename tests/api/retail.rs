//! Retail rules and back-office management through the API.
use crate::helpers::*;
use crate::sales::shop;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

/// Store settings: defaults, PATCH with version, 409 on a stale version,
/// 422 on a bad value, 428 without a version; the cached copy follows.
#[actix_web::test]
async fn store_settings_are_versioned() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let path = format!("/api/v1/stores/{}/settings", s.store);
    let r = app.get(&path, &s.owner).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["cash_rounding_unit"], 1);
    assert_eq!(r.body["negative_stock"], "allow");
    let r = app
        .patch(
            &path,
            &s.owner,
            json!({"version": 1, "cash_rounding_unit": 100, "receipt_footer": "Rahmat!"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    let r = app.get(&path, &s.register_token).await;
    assert_eq!(
        (
            r.body["cash_rounding_unit"].as_i64(),
            r.body["receipt_footer"].as_str()
        ),
        (Some(100), Some("Rahmat!"))
    );
    let r = app
        .patch(&path, &s.owner, json!({"version": 1, "currency": "USD"}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "version_conflict")
    );
    let r = app
        .patch(
            &path,
            &s.owner,
            json!({"version": 2, "cash_rounding_unit": 0}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
    );
    assert_eq!(r.body["error"]["field"], "cash_rounding_unit");
    let r = app
        .patch(&path, &s.owner, json!({"version": 2, "colour": "red"}))
        .await;
    assert_eq!(r.code(), "validation_failed");
    let r = app.patch(&path, &s.owner, json!({"currency": "USD"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PRECONDITION_REQUIRED, "version_required")
    );
    let r = app
        .patch(
            &path,
            &s.register_token,
            json!({"version": 2, "currency": "USD"}),
        )
        .await;
    assert_eq!(r.code(), "forbidden");
    // Another tenant's store is not found.
    let other = app.create_tenant("other").await;
    assert_eq!(app.get(&path, &other.token).await.code(), "not_found");
}

/// A deactivated register's token stops working at once; reactivated, it
/// works again. Stores and registers are edited with versions.
#[actix_web::test]
async fn deactivated_register_token_stops_working() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let me = format!("/api/v1/stores/{}", s.store);
    assert_eq!(app.get(&me, &s.register_token).await.status, StatusCode::OK);
    let reg = format!("/api/v1/registers/{}", s.register);
    let r = app
        .patch(&reg, &s.owner, json!({"version": 1, "active": false}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let r = app.get(&me, &s.register_token).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let r = app
        .patch(&reg, &s.owner, json!({"version": 1, "name": "x"}))
        .await;
    assert_eq!(r.code(), "version_conflict");
    let r = app
        .patch(
            &reg,
            &s.owner,
            json!({"version": 2, "active": true, "name": "Till A"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.get(&me, &s.register_token).await.status, StatusCode::OK);
    // Store edit, a second warehouse, then deactivation.
    let r = app
        .patch(
            &me,
            &s.owner,
            json!({"version": 1, "name": "Central", "address": null}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (StatusCode::OK, Some("Central"))
    );
    let r = app
        .post(
            &format!("{me}/warehouses"),
            &s.owner,
            json!({"name": "Back room"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let w = r.body["id"].as_str().unwrap().to_owned();
    let r = app.get(&me, &s.owner).await;
    assert_eq!(r.body["warehouse_ids"].as_array().map(|a| a.len()), Some(2));
    assert!(r.body["warehouse_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == w.as_str()));
    assert_eq!(
        app.delete(&me, &s.owner).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&me, &s.owner).await.code(), "not_found");
    assert_eq!(app.get(&me, &s.register_token).await.code(), "unauthorized");
}

/// A retried cash-in with the same client id counts once; another body
/// with that id is 409; the X report shows one.
#[actix_web::test]
async fn cash_in_is_idempotent_by_client_id() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let path = format!("/api/v1/shifts/{}/cash", s.shift);
    let body = json!({"id": Uuid::new_v4(), "kind": "in", "amount": 700, "note": "float"});
    let first = app.post(&path, &s.register_token, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = app.post(&path, &s.register_token, body.clone()).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    let mut other = body.clone();
    other["amount"] = json!(701);
    let r = app.post(&path, &s.register_token, other).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "idempotency_conflict")
    );
    let report = app
        .get(
            &format!("/api/v1/shifts/{}/report", s.shift),
            &s.register_token,
        )
        .await;
    assert_eq!(report.body["cash_in"], 700);
    assert_eq!(app.count("cash_movements").await, 1);
}

/// A receipt by its number; an unknown number is 404; a list still needs
/// its store.
#[actix_web::test]
async fn receipt_by_number() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "2")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let number = r.body["number"].as_str().unwrap().to_owned();
    let got = app
        .get(&format!("/api/v1/receipts?number={number}"), &s.owner)
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.body["id"], r.body["id"]);
    let missing = app.get("/api/v1/receipts?number=99-1", &s.owner).await;
    assert_eq!(missing.code(), "not_found");
    let bare = app.get("/api/v1/receipts", &s.owner).await;
    assert_eq!(bare.code(), "validation_failed");
    let other = app.create_tenant("other").await;
    assert_eq!(
        app.get(&format!("/api/v1/receipts?number={number}"), &other.token)
            .await
            .code(),
        "not_found"
    );
}

/// Customers: E.164 whatever the spelling (national number included), PATCH
/// with version, search by name and phone prefix with a cursor.
#[actix_web::test]
async fn customers_e164_patch_and_search() {
    let app = spawn_app().await;
    let t = app.create_tenant("crm").await;
    let r = app
        .post(
            "/api/v1/customers",
            &t.token,
            json!({"name": "Dilnoza", "phone": "90 123 45 67"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["phone"], "+998901234567");
    assert_eq!(r.body["points"], 0);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let dup = app
        .post(
            "/api/v1/customers",
            &t.token,
            json!({"name": "D", "phone": "+998 (90) 123-45-67"}),
        )
        .await;
    assert_eq!(dup.code(), "duplicate_phone");
    for (i, name) in ["Dilshod", "Diyor", "Aziz"].iter().enumerate() {
        let r = app
            .post(
                "/api/v1/customers",
                &t.token,
                json!({"name": name, "phone": format!("+99891000000{i}")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // Name prefix, two per page.
    let p1 = app
        .get("/api/v1/customers/search?q=dil&limit=2", &t.token)
        .await;
    assert_eq!(p1.status, StatusCode::OK, "{}", p1.body);
    assert_eq!(p1.body["items"].as_array().unwrap().len(), 2);
    let cursor = p1.body["next_cursor"].as_str().unwrap().to_owned();
    let p2 = app
        .get(
            &format!("/api/v1/customers/search?q=dil&limit=2&cursor={cursor}"),
            &t.token,
        )
        .await;
    assert_eq!(p2.body["items"].as_array().unwrap().len(), 0);
    // Phone prefix, national spelling.
    let by_phone = app
        .get("/api/v1/customers/search?q=91%20000", &t.token)
        .await;
    assert_eq!(by_phone.body["items"].as_array().unwrap().len(), 3);
    let by_phone = app
        .get("/api/v1/customers/search?q=%2B99890", &t.token)
        .await;
    assert_eq!(by_phone.body["items"][0]["id"], id.as_str());
    // PATCH: phone in another spelling, stale version refused.
    let path = format!("/api/v1/customers/{id}");
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"version": 1, "phone": "0901112233", "email": "d@x.uz"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["phone"].as_str(), r.body["version"].as_i64()),
        (Some("+998901112233"), Some(2))
    );
    let r = app
        .patch(&path, &t.token, json!({"version": 1, "name": "X"}))
        .await;
    assert_eq!(r.code(), "version_conflict");
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"version": 2, "phone": "+998910000000"}),
        )
        .await;
    assert_eq!(r.code(), "duplicate_phone");
}

/// Employees are edited with versions.
#[actix_web::test]
async fn employee_patch_is_versioned() {
    let app = spawn_app().await;
    let t = app.create_tenant("staff").await;
    let r = app
        .post(
            "/api/v1/employees",
            &t.token,
            json!({"name": "Aziza", "role": "cashier"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let path = format!("/api/v1/employees/{}", r.body["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &t.token,
            json!({"version": 1, "role": "manager", "phone": null}),
        )
        .await;
    assert_eq!(
        (
            r.status,
            r.body["role"].as_str(),
            r.body["version"].as_i64()
        ),
        (StatusCode::OK, Some("manager"), Some(2))
    );
    let r = app
        .patch(&path, &t.token, json!({"version": 1, "name": "B"}))
        .await;
    assert_eq!(r.code(), "version_conflict");
    let r = app
        .patch(&path, &t.token, json!({"version": 2, "role": "boss"}))
        .await;
    assert_eq!(r.code(), "validation_failed");
}

/// Token listing shows every token and never a secret or hash.
#[actix_web::test]
async fn token_list_never_shows_secrets() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    let manager = app.issue_token(&s.owner, "manager").await;
    let r = app.get("/api/v1/tokens", &s.owner).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let text = r.body.to_string();
    assert_eq!(r.body.as_array().unwrap().len(), 3);
    for secret in [&s.owner, &s.register_token, &manager] {
        let tail = secret.rsplit('_').next().unwrap();
        assert!(!text.contains(tail), "a secret leaked");
    }
    assert!(!text.contains("token_hash"));
    assert_eq!(
        app.get("/api/v1/tokens", &manager).await.code(),
        "forbidden"
    );
}

/// Tax rates with history, assignments, named discounts, the points
/// program and a manual points adjustment (balance = ledger, never < 0,
/// idempotent by id).
#[actix_web::test]
async fn taxes_discounts_and_points_program() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let r = app
        .post(
            "/api/v1/tax-rates",
            &s.owner,
            json!({"name": "VAT", "rate_bp": 1200, "mode": "inclusive"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let vat = r.body["id"].as_str().unwrap().to_owned();
    let bad = app
        .post(
            "/api/v1/tax-rates",
            &s.owner,
            json!({"name": "X", "rate_bp": 10001, "mode": "inclusive"}),
        )
        .await;
    assert_eq!(bad.body["error"]["field"], "rate_bp");
    let later = "2099-01-01T00:00:00Z";
    let r = app
        .patch(
            &format!("/api/v1/tax-rates/{vat}"),
            &s.owner,
            json!({"version": 1, "rate_bp": 1500, "effective_from": later}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["history"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["history"][0]["rate_bp"], 1200);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/tax-assignments",
            Some(&s.owner),
            Some(&json!({"target": "variant", "target_id": s.variants[0].0, "tax_rate_id": vat})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .send(
            Method::PUT,
            "/api/v1/tax-assignments",
            Some(&s.owner),
            Some(&json!({"target": "variant", "target_id": Uuid::new_v4(), "tax_rate_id": vat})),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "target_id");

    let r = app
        .post("/api/v1/discounts", &s.owner, json!({"name": "Staff", "kind": "percent", "value": 1000, "max_percent_bp": 1500, "roles": ["manager"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let d = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/api/v1/discounts/{d}"),
            &s.owner,
            json!({"version": 1, "active": false}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["active"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let r = app
        .post(
            "/api/v1/discounts",
            &s.owner,
            json!({"name": "Bad", "kind": "percent", "value": 10, "roles": ["janitor"]}),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "roles");

    let r = app.get("/api/v1/loyalty/program", &s.owner).await;
    assert_eq!(r.body["version"], 0);
    let program = json!({"version": 0, "active": true, "earn_points": 1, "earn_per_amount": 1000, "point_value": 100, "expiry_days": null});
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&program),
        )
        .await;
    assert_eq!(
        (r.status, r.body["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{}",
        r.body
    );
    let r = app
        .send(
            Method::PUT,
            "/api/v1/loyalty/program",
            Some(&s.owner),
            Some(&program),
        )
        .await;
    assert_eq!(r.code(), "version_conflict");

    let c = app
        .post(
            "/api/v1/customers",
            &s.owner,
            json!({"name": "Olim", "phone": "+998935550000"}),
        )
        .await;
    let cid = c.body["id"].as_str().unwrap().to_owned();
    let adj = format!("/api/v1/customers/{cid}/points/adjustments");
    let body = json!({"id": Uuid::new_v4(), "points": 50, "reason": "welcome"});
    assert_eq!(
        app.post(&adj, &s.owner, body.clone()).await.status,
        StatusCode::CREATED
    );
    let again = app.post(&adj, &s.owner, body.clone()).await;
    assert_eq!(
        (again.status, again.body["balance"].as_i64()),
        (StatusCode::OK, Some(50))
    );
    let r = app
        .post(
            &adj,
            &s.owner,
            json!({"id": Uuid::new_v4(), "points": -51, "reason": "oops"}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "insufficient_points")
    );
    let r = app
        .post(
            &adj,
            &s.owner,
            json!({"id": Uuid::new_v4(), "points": -20, "reason": "fix"}),
        )
        .await;
    assert_eq!(r.body["balance"], 30);
    assert_points_match_ledger(&app).await;

    // Per-store price.
    let r = app
        .post(
            &format!("/api/v1/stores/{}/prices", s.store),
            &s.owner,
            json!({"variant_id": s.variants[0].0, "price": 777}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .get(&format!("/api/v1/stores/{}/prices", s.store), &s.owner)
        .await;
    assert_eq!(r.body[0]["price"], 777);
}

/// Every customer's balance equals the sum of their ledger.
pub async fn assert_points_match_ledger(app: &TestApp) {
    let db = app.db().await;
    let off: i64 = db
        .query_one(
            "SELECT count(*) FROM loyalty_accounts a WHERE a.balance <> COALESCE((SELECT sum(points) \
             FROM points_ledger l WHERE l.tenant_id = a.tenant_id AND l.customer_id = a.customer_id), 0)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(off, 0, "a points balance differs from its ledger");
}

/// Receiving with a cost moves the warehouse's moving average cost:
/// 10 at 100 then 10 at 200 -> 150; only receiving may carry a cost; the
/// variant's own cost price is back-office only.
#[actix_web::test]
async fn receiving_moves_the_average_cost() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let v = &s.variants[0].0;
    for cost in [100, 200] {
        let r = app
            .post("/api/v1/stock/movements", &s.owner, json!({"id": Uuid::new_v4(), "kind": "receiving",
                "warehouse_id": s.warehouse, "lines": [{"variant_id": v, "quantity": "10", "unit_cost": cost}]}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let levels = app
        .get(&format!("/api/v1/stores/{}/stock", s.store), &s.owner)
        .await;
    assert_eq!(levels.status, StatusCode::OK, "{}", levels.body);
    let row = levels
        .body
        .as_array()
        .and_then(|a| a.first())
        .cloned()
        .or_else(|| {
            levels.body["items"]
                .as_array()
                .and_then(|a| a.first())
                .cloned()
        })
        .expect("a level");
    assert_eq!(
        (row["quantity"].as_str(), row["avg_cost"].as_i64()),
        (Some("20.000"), Some(150))
    );
    let r = app
        .post("/api/v1/stock/movements", &s.owner, json!({"id": Uuid::new_v4(), "kind": "write_off",
            "warehouse_id": s.warehouse, "lines": [{"variant_id": v, "quantity": "1", "unit_cost": 5}]}))
        .await;
    assert_eq!(r.body["error"]["field"], "lines[0].unit_cost");
    let path = format!("/api/v1/variants/{v}/cost-price");
    let r = app
        .send(
            Method::PUT,
            &path,
            Some(&s.owner),
            Some(&json!({"cost_price": 120})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.get(&path, &s.owner).await.body["cost_price"], 120);
    assert_eq!(app.get(&path, &s.register_token).await.code(), "forbidden");
}

/// Two instances: settings changed through A are served by B (which had
/// them cached), and a register deactivated through A is refused by B
/// (which had its token cached).
#[actix_web::test]
async fn settings_and_deactivation_reach_the_other_instance() {
    let (a, b) = crate::bus::pair(&crate::bus::redis_url()).await;
    let s = shop(&a, 0).await;
    let path = format!("/api/v1/stores/{}/settings", s.store);
    assert_eq!(
        b.get(&path, &s.register_token).await.body["cash_rounding_unit"],
        1
    );
    let r = a
        .patch(
            &path,
            &s.owner,
            json!({"version": 1, "cash_rounding_unit": 50}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            b.get(&path, &s.register_token).await.body["cash_rounding_unit"] == 50
        })
        .await,
        "B kept stale settings"
    );
    // B's copy is current, so a PATCH through B with version 2 works.
    let r = b
        .patch(
            &path,
            &s.owner,
            json!({"version": 2, "negative_stock": "refuse"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = a
        .patch(
            &format!("/api/v1/registers/{}", s.register),
            &s.owner,
            json!({"version": 1, "active": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        eventually(std::time::Duration::from_secs(5), || async {
            b.get(&path, &s.register_token).await.status == StatusCode::UNAUTHORIZED
        })
        .await,
        "B still accepts the deactivated register's token"
    );
}

/// The OpenAPI document describes the retail endpoints and the receipt's
/// new fields.
#[actix_web::test]
async fn openapi_describes_the_retail_fields() {
    let app = spawn_app().await;
    let r = app
        .send(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.body.to_string();
    for needle in [
        "/api/v1/stores/{id}/settings",
        "/api/v1/tax-rates",
        "/api/v1/discounts",
        "/api/v1/loyalty/program",
        "/api/v1/customers/search",
        "/api/v1/registers/{id}",
        "\"customer_phone\"",
        "\"discount_percent_bp\"",
        "\"ClientTotals\"",
        "\"DiscountRequest\"",
        "\"tax_total\"",
        "\"rounding\"",
        "\"points_earned\"",
        "\"unit_cost\"",
        "\"negative_stock\"",
    ] {
        assert!(doc.contains(needle), "OpenAPI lacks {needle}");
    }
    // Sales reports show tax, cost and margin; the points program its expiry.
    let schemas = &r.body["components"]["schemas"];
    for (schema, field) in [
        ("ReportRow", "tax"),
        ("ReportRow", "cost"),
        ("ReportRow", "margin"),
        ("Totals", "tax"),
        ("Totals", "cost"),
        ("Totals", "margin"),
        ("LoyaltyProgram", "expiry_days"),
        ("ProgramBody", "expiry_days"),
    ] {
        assert!(
            schemas[schema]["properties"][field].is_object(),
            "OpenAPI lacks {schema}.{field}"
        );
    }
    assert!(
        schemas["ProgramBody"]["properties"]["expiry_days"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("oldest first")),
        "expiry_days undocumented"
    );
    let methods = &r.body["components"]["schemas"]["PaymentMethod"]["enum"];
    assert!(
        methods
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "points")),
        "{methods}"
    );
}

/// A store without a settings row reads the defaults at version 0 and
/// its first PATCH (version 0) creates the row.
#[actix_web::test]
async fn store_without_settings_row_gets_defaults() {
    let app = spawn_app().await;
    let s = shop(&app, 0).await;
    app.db()
        .await
        .execute("DELETE FROM store_settings", &[])
        .await
        .unwrap();
    let path = format!("/api/v1/stores/{}/settings", s.store);
    // This instance cached nothing for the store yet.
    let r = app.get(&path, &s.owner).await;
    assert_eq!(
        (r.status, r.body["version"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{}",
        r.body
    );
    let r = app
        .patch(
            &path,
            &s.owner,
            json!({"version": 0, "cash_rounding_unit": 10}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["version"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{}",
        r.body
    );
    let r = app
        .patch(
            &path,
            &s.owner,
            json!({"version": 0, "cash_rounding_unit": 20}),
        )
        .await;
    assert_eq!(r.code(), "version_conflict");
}
