//! Hostile input: control characters, dates and cursors out of range, and
//! absurd amounts are refused with 4xx naming the field, never a 500.

use crate::helpers::*;
use crate::sales::shop;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Asserts a 422 `validation_failed` naming `field`.
#[track_caller]
fn assert_invalid(r: &Reply, field: &str, what: &str) {
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}: {}",
        r.body
    );
    assert_eq!(r.code(), "validation_failed", "{what}");
    assert_eq!(r.body["error"]["field"], field, "{what}: {}", r.body);
}

/// A NUL (or any control character) in any stored text field is a 422
/// naming the field, on every endpoint that stores text.
#[actix_web::test]
async fn control_characters_are_refused_in_every_text_field() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let product = app.create_product(&s.owner, "Bread", "b-1", 100).await;
    let pid = product["id"].as_str().unwrap().to_owned();
    let category = app
        .post("/api/v1/categories", &s.owner, json!({"name": "Food"}))
        .await;
    let cid = category.body["id"].as_str().unwrap().to_owned();
    let registers = format!("/api/v1/stores/{}/registers", s.store);
    let cash = format!("/api/v1/shifts/{}/cash", s.shift);
    let post_cases: Vec<(&str, Value, &str)> = vec![
        ("/api/v1/categories", json!({"name": "a\u{0}b"}), "name"),
        (
            "/api/v1/products",
            json!({"name": "a\u{0}b", "variants": [{"barcode": "x1", "price": 1}]}),
            "name",
        ),
        (
            "/api/v1/products",
            json!({"name": "ok", "variants": [{"barcode": "x2", "price": 1, "sku": "s\u{0}"}]}),
            "variants[0].sku",
        ),
        ("/api/v1/stores", json!({"name": "a\u{0}"}), "name"),
        (
            "/api/v1/stores",
            json!({"name": "ok", "address": "Main st.\u{0}"}),
            "address",
        ),
        (&registers, json!({"name": "t\u{1}"}), "name"),
        (
            "/api/v1/employees",
            json!({"name": "a\u{0}", "role": "cashier"}),
            "name",
        ),
        (
            "/api/v1/customers",
            json!({"name": "a\u{0}", "phone": "+998901234567"}),
            "name",
        ),
        (
            "/api/v1/customers",
            json!({"name": "ok", "phone": "+998901234567", "email": "a@b\u{0}"}),
            "email",
        ),
        (
            "/api/v1/tokens",
            json!({"role": "manager", "name": "m\u{7f}"}),
            "name",
        ),
        (
            &cash,
            json!({"kind": "in", "amount": 100, "note": "n\u{0}"}),
            "note",
        ),
    ];
    for (path, body, field) in &post_cases {
        let r = app.post(path, &s.owner, body.clone()).await;
        assert_invalid(&r, field, path);
    }
    let r = app
        .patch(
            &format!("/api/v1/categories/{cid}"),
            &s.owner,
            json!({"name": "x\u{0}", "version": 1}),
        )
        .await;
    assert_invalid(&r, "name", "PATCH category");
    let r = app
        .patch(
            &format!("/api/v1/products/{pid}"),
            &s.owner,
            json!({"name": "x\u{0}", "version": 1}),
        )
        .await;
    assert_invalid(&r, "name", "PATCH product");
    let r = app
        .send(
            reqwest::Method::POST,
            "/api/v1/admin/tenants",
            Some(&app.admin_token),
            Some(&json!({"name": "t\u{0}"})),
        )
        .await;
    assert_invalid(&r, "name", "admin tenants");
    let r = app.get("/api/v1/products?q=a%00b", &s.owner).await;
    assert_invalid(&r, "q", "product search");
    // Nothing half-stored.
    assert_eq!(app.count("categories").await, 1);
}

/// Dates outside years 1..=9999 and cursors this server never gave are
/// refused (422 naming the field / 400), not a 500 from PostgreSQL.
#[actix_web::test]
async fn receipt_list_dates_and_cursors_are_validated() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let list = |q: String| format!("/api/v1/receipts?store_id={}&{q}", s.store);
    let r = app
        .get(&list("from=-9999-01-01T00:00:00Z".into()), &s.owner)
        .await;
    assert_invalid(&r, "from", "from");
    let r = app
        .get(&list("to=-4714-11-23T00:00:00Z".into()), &s.owner)
        .await;
    assert_invalid(&r, "to", "to");
    let r = app.get(&list("from=yesterday".into()), &s.owner).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    for cursor in [
        "garbage".to_owned(),
        format!("-200000000000000000_{}", s.shift),
        format!("9223372036854775807_{}", s.shift),
        "1_not-a-uuid".to_owned(),
    ] {
        let r = app.get(&list(format!("cursor={cursor}")), &s.owner).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{cursor}: {}", r.body);
        assert_eq!(r.code(), "bad_request");
    }
    let ok = app
        .get(&list("from=2000-01-01T00:00:00Z".into()), &s.owner)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // The back office's receipt search takes the same bounds.
    for field in ["from", "to"] {
        let r = app
            .get(
                &format!("/api/v1/search/receipts?{field}=-9999-01-01T00:00:00Z"),
                &s.owner,
            )
            .await;
        assert_invalid(&r, field, "search");
    }
    let r = app.get("/api/v1/dashboard?tz=UTC%00", &s.owner).await;
    assert_invalid(&r, "tz", "dashboard");
}

/// A receipt PostgreSQL could not store (a date out of its range) or with
/// an absurd tender is a 422 for its sender, and nothing is written.
#[actix_web::test]
async fn receipts_out_of_database_range_are_refused_at_the_edge() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let mut r = s.sale(&[(0, "1")]);
    r["occurred_at"] = json!("-4714-11-23T00:00:00Z");
    let reply = app.post("/api/v1/receipts", &s.register_token, r).await;
    assert_invalid(&reply, "occurred_at", "occurred_at");

    let mut r = s.sale(&[(0, "1")]);
    r["payments"] = json!([
        {"method": "cash", "amount": 900_000_000_000_000i64},
        {"method": "cash", "amount": 900_000_000_000_000i64}
    ]);
    let reply = app.post("/api/v1/receipts", &s.register_token, r).await;
    assert_invalid(&reply, "payments", "tendered");

    let mut r = s.sale(&[(0, "1")]);
    r["number"] = json!("1-\u{0}");
    let reply = app.post("/api/v1/receipts", &s.register_token, r).await;
    assert_invalid(&reply, "number", "number");
    assert_eq!(app.count("receipt_keys").await, 0);
}

/// The net under validation: a value the database refuses as a data
/// exception (SQLSTATE class 22; here raised by a trigger added for the
/// test, standing in for any range validation missed) is a 422, not a 500.
#[actix_web::test]
async fn database_data_exceptions_are_422_not_500() {
    let app = spawn_app().await;
    let t = app.create_tenant("t").await;
    app.db()
        .await
        .batch_execute(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
               IF NEW.name = 'boom' THEN RAISE EXCEPTION 'out of range' USING ERRCODE = '22003'; END IF; \
               RETURN NEW; END $$; \
             CREATE TRIGGER boom BEFORE INSERT ON categories FOR EACH ROW EXECUTE FUNCTION boom();",
        )
        .await
        .unwrap();
    let r = app
        .post("/api/v1/categories", &t.token, json!({"name": "boom"}))
        .await;
    assert_invalid(&r, "request", "data exception");
    let r = app
        .post("/api/v1/categories", &t.token, json!({"name": "fine"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

/// An offline upload with a receipt that breaks the receipt schema (here:
/// no items) is refused whole, naming the receipt; nothing is stored.
#[actix_web::test]
async fn offline_upload_with_a_malformed_receipt_is_refused() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let good = s.sale(&[(0, "1")]);
    let mut empty = s.sale(&[(0, "1")]);
    empty["items"] = json!([]);
    let r = app
        .post(
            "/api/v1/receipts/batch",
            &s.register_token,
            json!({"receipts": [good, empty]}),
        )
        .await;
    assert_invalid(&r, "receipts[1].items", "batch");
    assert_eq!(app.count("receipt_keys").await, 0);
}

/// A body that is not a JSON object (an array, a string, a number, null,
/// a boolean) is a 400 `bad_request` on every endpoint, even where serde
/// alone would read an array as the struct's fields in order
/// (`[null, null]` for a business day, `[[receipt]]` for an offline
/// upload); nothing is stored.
#[actix_web::test]
async fn bodies_that_are_not_json_objects_are_refused() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let category = app
        .post("/api/v1/categories", &s.owner, json!({"name": "Food"}))
        .await;
    let cid = category.body["id"].as_str().unwrap().to_owned();
    let sale = s.sale(&[(0, "1")]);
    let business_day = format!("/api/v1/stores/{}/business_day", s.store);
    let cash = format!("/api/v1/shifts/{}/cash", s.shift);
    let registers = format!("/api/v1/stores/{}/registers", s.store);
    let category_path = format!("/api/v1/categories/{cid}");
    let scalars = [json!(null), json!("x"), json!(1), json!(true), json!([])];
    let stored = [
        "categories",
        "products",
        "users",
        "stores",
        "registers",
        "api_tokens",
        "cash_movements",
    ];
    let mut before = Vec::new();
    for table in stored {
        before.push(app.count(table).await);
    }
    use reqwest::Method;
    // (method, path, token, the fields in order as an array: what serde
    // alone would accept)
    let cases: Vec<(Method, &str, &str, Value)> = vec![
        (Method::PUT, &business_day, &s.owner, json!([null, null])),
        (Method::PUT, &business_day, &s.owner, json!(["UTC", 3])),
        (
            Method::POST,
            "/api/v1/receipts/batch",
            &s.register_token,
            json!([[sale.clone()]]),
        ),
        (
            Method::POST,
            "/api/v1/receipts",
            &s.register_token,
            json!([sale.clone()]),
        ),
        (
            Method::POST,
            "/api/v1/categories",
            &s.owner,
            json!(["Drinks", null]),
        ),
        (
            Method::PATCH,
            &category_path,
            &s.owner,
            json!(["Food 2", null, 1]),
        ),
        (
            Method::POST,
            "/api/v1/stores",
            &s.owner,
            json!(["Second", null]),
        ),
        (Method::POST, &registers, &s.owner, json!(["Till 9"])),
        (
            Method::POST,
            &cash,
            &s.register_token,
            json!([null, "in", 100, null]),
        ),
        (
            Method::POST,
            "/api/v1/tokens",
            &s.owner,
            json!(["manager", "m"]),
        ),
        (
            Method::POST,
            "/api/v1/users",
            &s.owner,
            json!(["ann@example.com", "Ann", "manager", "a long password"]),
        ),
    ];
    for (method, path, token, positional) in cases {
        for body in std::iter::once(positional).chain(scalars.iter().cloned()) {
            let r = app
                .raw(
                    method.clone(),
                    path,
                    token,
                    "application/json",
                    body.to_string().into_bytes(),
                )
                .await;
            let what = format!("{method} {path} {body}");
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
            assert_eq!(r.code(), "bad_request", "{what}: {}", r.body);
            let message = r.body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("expected a JSON object"),
                "{what}: {message}"
            );
        }
    }
    // Nor is an object inside a body read from an array (a variant as its
    // fields in order; an item of an offline receipt likewise).
    let mut positional_items = sale.clone();
    let item = &positional_items["items"][0];
    positional_items["items"] = json!([[item["variant_id"], item["quantity"]]]);
    for (path, token, body) in [
        (
            "/api/v1/products",
            &s.owner,
            json!({"name": "Nested", "variants": [[null, "b-9", 100, null]]}),
        ),
        (
            "/api/v1/receipts/batch",
            &s.register_token,
            json!({"receipts": [positional_items]}),
        ),
    ] {
        let r = app.post(path, token, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::BAD_REQUEST,
            "{path} {body}: {}",
            r.body
        );
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("invalid type: sequence"),
            "{path}: {message}"
        );
    }
    // Leading whitespace changes nothing; an object is still read.
    let r = app
        .raw(
            Method::PUT,
            &business_day,
            &s.owner,
            "application/json",
            b" \n\t[null, null]".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(app.count("receipt_keys").await, 0);
    for (table, count) in stored.into_iter().zip(before) {
        assert_eq!(app.count(table).await, count, "{table}");
    }
    let r = app
        .send(
            Method::PUT,
            &business_day,
            Some(&s.owner),
            Some(&json!({"time_zone": "UTC", "start_hour": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post(
            "/api/v1/receipts/batch",
            &s.register_token,
            json!({"receipts": [sale]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(app.count("receipt_keys").await, 1);
}
