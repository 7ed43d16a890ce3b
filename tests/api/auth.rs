use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

/// No token, a malformed one, an unknown one: 401 with a JSON error.
#[actix_web::test]
async fn missing_or_bad_token_is_401() {
    let app = spawn_app().await;
    let r = app.send(Method::GET, "/api/v1/products", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "unauthorized");
    let r = app.get("/api/v1/products", "garbage").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let t = app.create_tenant("a").await;
    let forged = format!("{}x", &t.token[..t.token.len() - 1]);
    let r = app.get("/api/v1/products", &forged).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "unauthorized");
}

/// The admin endpoint needs the admin token; names are validated.
#[actix_web::test]
async fn admin_creates_tenants_only_with_admin_token() {
    let app = spawn_app().await;
    let r = app
        .post("/api/v1/admin/tenants", "wrong", json!({"name": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .send(
            Method::POST,
            "/api/v1/admin/tenants",
            None,
            Some(&json!({"name": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/api/v1/admin/tenants",
            &app.admin_token,
            json!({"name": "  "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["field"], "name");
    let t = app.create_tenant("Acme").await;
    assert!(t.token.starts_with("jw_"));
    // A tenant token is not an admin token.
    let r = app
        .post("/api/v1/admin/tenants", &t.token, json!({"name": "y"}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Register and read-only tokens cannot edit the catalog (403); they read.
#[actix_web::test]
async fn roles_are_enforced() {
    let app = spawn_app().await;
    let t = app.create_tenant("roles").await;
    let store = app.create_store(&t.token, "S").await;
    let (_, register) = app
        .create_register(&t.token, store["id"].as_str().unwrap(), "Till")
        .await;
    let read_only = app.issue_token(&t.token, "read_only").await;
    let manager = app.issue_token(&t.token, "manager").await;
    let body = json!({"name": "X", "variants": [{"barcode": "1", "price": 1}]});
    for token in [&register, &read_only] {
        let r = app.post("/api/v1/products", token, body.clone()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.code(), "forbidden");
        let r = app
            .post("/api/v1/stores", token, json!({"name": "no"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
    }
    // Only the owner issues tokens.
    let r = app
        .post(
            "/api/v1/tokens",
            &manager,
            json!({"role": "manager", "name": "m2"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A manager edits; a register and read-only token read.
    let r = app.post("/api/v1/products", &manager, body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    for token in [&register, &read_only] {
        let r = app.get("/api/v1/products/barcode/1", token).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    // Nothing was written by the refused calls.
    let r = app.get("/api/v1/products", &t.token).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

/// A revoked token stops working at once.
#[actix_web::test]
async fn revoked_token_is_refused() {
    let app = spawn_app().await;
    let t = app.create_tenant("rev").await;
    let r = app
        .post(
            "/api/v1/tokens",
            &t.token,
            json!({"role": "manager", "name": "m"}),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/v1/products", &token).await.status,
        StatusCode::OK
    );
    let r = app.delete(&format!("/api/v1/tokens/{id}"), &t.token).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app.get("/api/v1/products", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// Another tenant's ids are 404, and equal barcodes stay separate.
#[actix_web::test]
async fn tenants_are_isolated() {
    let app = spawn_app().await;
    let a = app.create_tenant("A").await;
    let b = app.create_tenant("B").await;
    let pa = app
        .create_product(&a.token, "A milk", "4780000000007", 100)
        .await;
    let pb = app
        .create_product(&b.token, "B milk", "4780000000007", 999)
        .await;
    let id_b = pb["id"].as_str().unwrap();
    for path in [format!("/api/v1/products/{id_b}")] {
        let r = app.get(&path, &a.token).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.code(), "not_found");
    }
    let r = app
        .patch(
            &format!("/api/v1/products/{id_b}"),
            &a.token,
            json!({"version": 1, "name": "hack"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .delete(&format!("/api/v1/products/{id_b}"), &a.token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get("/api/v1/products/barcode/4780000000007", &a.token)
        .await;
    assert_eq!(r.body["product"]["id"], pa["id"]);
    assert_eq!(r.body["variant"]["price"], 100);
    let r = app
        .get("/api/v1/products/barcode/4780000000007", &b.token)
        .await;
    assert_eq!(r.body["variant"]["price"], 999);
    // Stores and registers too.
    let sb = app.create_store(&b.token, "B store").await;
    let sid = sb["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/stores/{sid}"), &a.token)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .post(
            &format!("/api/v1/stores/{sid}/registers"),
            &a.token,
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // B's product is unchanged.
    let r = app.get(&format!("/api/v1/products/{id_b}"), &b.token).await;
    assert_eq!(r.body["name"], "B milk");
}
