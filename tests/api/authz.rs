//! Authorization edges: a register token sees only its own receipts, a
//! replay does not bypass the register check, a customer must be the
//! tenant's, the admin token is checked before the body, and revoking a
//! token closes the live stock socket it opened.

use crate::helpers::*;
use crate::sales::{shop, Shop};
use crate::ws::{connect, next_json};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// A second register in the shop's store with an open shift: (register id,
/// token, shift id).
async fn second_register(app: &TestApp, s: &Shop) -> (String, String, String) {
    let (register, token) = app.create_register(&s.owner, &s.store, "Till 2").await;
    let id = register["id"].as_str().unwrap().to_owned();
    let shift = app
        .post("/api/v1/shifts", &token, json!({"register_id": id}))
        .await;
    assert_eq!(shift.status, StatusCode::CREATED, "{}", shift.body);
    (id, token, shift.body["id"].as_str().unwrap().to_owned())
}

/// A register token reads and lists its own register's receipts only
/// (another register's is 404); the owner sees all.
#[actix_web::test]
async fn register_token_reads_only_its_own_receipts() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let (r2, r2_token, r2_shift) = second_register(&app, &s).await;
    let mine = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
    let mut theirs = s.sale(&[(0, "2")]);
    theirs["register_id"] = json!(r2);
    theirs["shift_id"] = json!(r2_shift);
    let theirs = app.post("/api/v1/receipts", &r2_token, theirs).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    let theirs_id = theirs.body["id"].as_str().unwrap();

    let r = app
        .get(&format!("/api/v1/receipts/{theirs_id}"), &s.register_token)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(r.code(), "not_found");
    let r = app
        .get(&format!("/api/v1/receipts/{theirs_id}"), &s.owner)
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let list = format!("/api/v1/receipts?store_id={}", s.store);
    let ids = |r: &Reply| -> Vec<String> {
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r1_list = app.get(&list, &s.register_token).await;
    assert_eq!(ids(&r1_list), vec![mine.body["id"].as_str().unwrap()]);
    let owner_list = app.get(&list, &s.owner).await;
    assert_eq!(ids(&owner_list).len(), 2);
}

/// Replaying another register's receipt (same id, same body) is 403, not
/// that register's stored receipt.
#[actix_web::test]
async fn replay_does_not_bypass_the_register_check() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let (r2, r2_token, r2_shift) = second_register(&app, &s).await;
    let mut body = s.sale(&[(0, "1")]);
    body["register_id"] = json!(r2);
    body["shift_id"] = json!(r2_shift);
    let first = app.post("/api/v1/receipts", &r2_token, body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let replay = app.post("/api/v1/receipts", &s.register_token, body).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN, "{}", replay.body);
    assert_eq!(replay.code(), "forbidden");
}

/// `customer_id` must name a customer of the caller's tenant.
#[actix_web::test]
async fn receipt_customer_must_belong_to_the_tenant() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let other = app.create_tenant("other").await;
    let foreign = app
        .post(
            "/api/v1/customers",
            &other.token,
            json!({"name": "Eve", "phone": "+998900000001"}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::CREATED);
    let own = app
        .post(
            "/api/v1/customers",
            &s.owner,
            json!({"name": "Ann", "phone": "+998900000002"}),
        )
        .await;
    let mut body = s.sale(&[(0, "1")]);
    body["customer_id"] = foreign.body["id"].clone();
    let r = app
        .post("/api/v1/receipts", &s.register_token, body.clone())
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "customer_id");
    body["customer_id"] = own.body["id"].clone();
    let r = app.post("/api/v1/receipts", &s.register_token, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["customer_id"], own.body["id"]);
}

/// Without the admin token the body is never parsed: a malformed body
/// still answers 401, not 400.
#[actix_web::test]
async fn admin_token_is_checked_before_the_body() {
    let app = spawn_app().await;
    let r = app
        .raw(
            reqwest::Method::POST,
            "/api/v1/admin/tenants",
            "wrong",
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert_eq!(r.code(), "unauthorized");
    let r = app
        .raw(
            reqwest::Method::POST,
            "/api/v1/admin/tenants",
            &app.admin_token,
            "application/json",
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// Revoking a token closes the stock WebSocket it opened, with reason
/// "token revoked"; a socket of another token stays open.
#[actix_web::test]
async fn revoking_a_token_closes_its_stock_socket() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let issued = app
        .post(
            "/api/v1/tokens",
            &s.owner,
            json!({"role": "read_only", "name": "screen"}),
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED);
    let token = issued.body["token"].as_str().unwrap();
    let mut screen = connect(&app, &s.store, token, "").await;
    let mut owner = connect(&app, &s.store, &s.owner, "").await;
    assert_eq!(next_json(&mut screen).await["type"], "snapshot");
    assert_eq!(next_json(&mut owner).await["type"], "snapshot");
    let r = app
        .delete(
            &format!("/api/v1/tokens/{}", issued.body["id"].as_str().unwrap()),
            &s.owner,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match screen.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.reason.to_string()),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("closed in time");
    assert_eq!(closed.as_deref(), Some("token revoked"));
    // The owner's socket still gets changes.
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(next_json(&mut owner).await["type"], "change");
}
