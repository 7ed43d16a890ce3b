use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

/// Stores get a default warehouse; registers get numbers and device tokens.
#[actix_web::test]
async fn stores_and_registers() {
    let app = spawn_app().await;
    let t = app.create_tenant("org").await;
    let s1 = app.create_store(&t.token, "Main").await;
    assert!(s1["default_warehouse_id"].is_string());
    let s2 = app.create_store(&t.token, "Second").await;
    let (r1, tok1) = app
        .create_register(&t.token, s1["id"].as_str().unwrap(), "Till 1")
        .await;
    let (r2, _) = app
        .create_register(&t.token, s2["id"].as_str().unwrap(), "Till 2")
        .await;
    assert_eq!(r1["number"], 1);
    assert_eq!(r2["number"], 2);
    // The device token works and is a register token.
    assert_eq!(
        app.get("/api/v1/stores", &tok1).await.status,
        StatusCode::OK
    );
    let list = app.get("/api/v1/stores", &t.token).await;
    assert_eq!(list.body.as_array().unwrap().len(), 2);
    let regs = app
        .get(
            &format!("/api/v1/stores/{}/registers", s1["id"].as_str().unwrap()),
            &t.token,
        )
        .await;
    assert_eq!(regs.body.as_array().unwrap().len(), 1);
    let r = app
        .post("/api/v1/stores", &t.token, json!({"name": ""}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(
            &format!("/api/v1/stores/{}/registers", uuid::Uuid::new_v4()),
            &t.token,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Employees: roles validated, listed by store, soft-deleted.
#[actix_web::test]
async fn employees_crud() {
    let app = spawn_app().await;
    let t = app.create_tenant("emp").await;
    let s = app.create_store(&t.token, "Main").await;
    let r = app
        .post("/api/v1/employees", &t.token, json!({"name": "Aziza", "role": "cashier", "store_id": s["id"], "phone": "+998 90 123-45-67"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["phone"], "+998901234567");
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/employees",
            &t.token,
            json!({"name": "X", "role": "boss"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(
            "/api/v1/employees",
            &t.token,
            json!({"name": "X", "role": "cashier", "store_id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = app
        .get(
            &format!("/api/v1/employees?store_id={}", s["id"].as_str().unwrap()),
            &t.token,
        )
        .await;
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    assert_eq!(
        app.delete(&format!("/api/v1/employees/{id}"), &t.token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/employees/{id}"), &t.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Customers: phone unique per tenant, lookup by phone in any format.
#[actix_web::test]
async fn customers_by_phone() {
    let app = spawn_app().await;
    let a = app.create_tenant("cust-a").await;
    let b = app.create_tenant("cust-b").await;
    let r = app
        .post(
            "/api/v1/customers",
            &a.token,
            json!({"name": "Bobur", "phone": "+998 (90) 111-22-33"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/api/v1/customers",
            &a.token,
            json!({"name": "Again", "phone": "+998901112233"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "duplicate_phone");
    // Another tenant may hold the same phone.
    let r = app
        .post(
            "/api/v1/customers",
            &b.token,
            json!({"name": "Other", "phone": "+998901112233"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .get(
            "/api/v1/customers?phone=%2B998%2090%20111%2022%2033",
            &a.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Bobur");
    let r = app.get("/api/v1/customers?phone=abc", &a.token).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .get("/api/v1/customers?phone=%2B998000000000", &a.token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
