//! Two instances sharing PostgreSQL and a Redis channel.
use crate::helpers::*;
use crate::sales::{assert_stock_matches_ledger, shop};
use futures::future::join_all;
use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Instance A on a fresh database and instance B on the same one, both on
/// the Redis bus (own channel per test).
pub async fn pair(redis: &str) -> (TestApp, TestApp) {
    let redis = redis.to_owned();
    let a = spawn_app_with(move |s| s.redis.url = redis).await;
    let b = spawn_with_settings(a.settings.clone()).await;
    for app in [&a, &b] {
        assert!(
            eventually(Duration::from_secs(10), || async {
                app.send(Method::GET, "/api/v1/health/ready", None, None)
                    .await
                    .status
                    == StatusCode::OK
            })
            .await,
            "bus never connected"
        );
    }
    (a, b)
}

async fn price(app: &TestApp, token: &str, barcode: &str) -> i64 {
    app.get(&format!("/api/v1/products/barcode/{barcode}"), token)
        .await
        .body["variant"]["price"]
        .as_i64()
        .unwrap_or(-1)
}

async fn set_price(app: &TestApp, token: &str, product: &Value, new_price: i64) -> Value {
    let path = format!("/api/v1/products/{}", product["id"].as_str().unwrap());
    let current = app.get(&path, token).await.body;
    let r = app
        .patch(
            &path,
            token,
            json!({"version": current["version"], "variants": [{"id": current["variants"][0]["id"],
                "barcode": current["variants"][0]["barcode"], "price": new_price}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// A price changed through A is served by B (B had the catalog loaded).
#[actix_web::test]
async fn price_change_reaches_the_other_instance() {
    let (a, b) = pair(&redis_url()).await;
    let t = a.create_tenant("bus").await;
    let p = a
        .create_product(&t.token, "Milk", "4780000000007", 100)
        .await;
    assert_eq!(price(&b, &t.token, "4780000000007").await, 100);
    set_price(&a, &t.token, &p, 250).await;
    let started = Instant::now();
    assert!(
        eventually(Duration::from_secs(5), || async {
            price(&b, &t.token, "4780000000007").await == 250
        })
        .await
    );
    println!("price visible on B after {:?}", started.elapsed());
    // A delete reaches B too.
    let r = a
        .delete(
            &format!("/api/v1/products/{}", p["id"].as_str().unwrap()),
            &t.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(
        eventually(Duration::from_secs(5), || async {
            b.get("/api/v1/products/barcode/4780000000007", &t.token)
                .await
                .status
                == StatusCode::NOT_FOUND
        })
        .await
    );
}

/// A WebSocket subscriber on B sees sales made through A.
#[actix_web::test]
async fn subscriber_on_b_sees_sales_made_on_a() {
    let (a, b) = pair(&redis_url()).await;
    let s = shop(&a, 1).await;
    let url = format!(
        "{}/api/v1/stores/{}/stock/ws",
        b.base.replace("http://", "ws://"),
        s.store
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.owner).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.to_text().unwrap().contains("snapshot"));
    let r = a
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "2")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let change: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert_eq!(change["type"], "change");
    assert_eq!(change["variant_id"], s.variants[0].0.as_str());
    assert_eq!(change["quantity"], "-2.000");
}

/// Both instances take receipts for one store at once: numbers unique and
/// gapless, nothing lost, stock equals the ledger.
#[actix_web::test]
async fn two_instances_sell_for_one_store() {
    let (a, b) = pair(&redis_url()).await;
    let s = shop(&a, 3).await;
    let bodies: Vec<Value> = (0..200).map(|i| s.sale(&[(i % 3, "1")])).collect();
    let replies = join_all(bodies.iter().enumerate().map(|(i, body)| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post("/api/v1/receipts", &s.register_token, body.clone())
    }))
    .await;
    let mut numbers = HashSet::new();
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        numbers.insert(r.body["number"].as_str().unwrap().to_owned());
    }
    let expected: HashSet<String> = (1..=200)
        .map(|k| format!("{}-{k}", s.register_number))
        .collect();
    assert_eq!(numbers, expected);
    // Replays through the other instance answer the same receipt.
    let r = b
        .post("/api/v1/receipts", &s.register_token, bodies[0].clone())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, replies[0].body);
    assert_stock_matches_ledger(&a).await;
}

/// A token revoked through A stops working on B, which had it cached.
#[actix_web::test]
async fn revocation_reaches_the_other_instance() {
    let (a, b) = pair(&redis_url()).await;
    let t = a.create_tenant("rev").await;
    let r = a
        .post(
            "/api/v1/tokens",
            &t.token,
            json!({"role": "manager", "name": "m"}),
        )
        .await;
    let (id, token) = (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        b.get("/api/v1/products", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        a.delete(&format!("/api/v1/tokens/{id}"), &t.token)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            b.get("/api/v1/products", &token).await.status == StatusCode::UNAUTHORIZED
        })
        .await
    );
}

struct PrivateRedis {
    child: Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) must be installed");
        PrivateRedis { child }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Redis down: both instances keep serving and selling, readiness and
/// metrics show the bus down; Redis back: they reconnect and resync, so a
/// change made during the outage reaches B.
#[actix_web::test]
async fn redis_outage_degrades_then_resyncs() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let redis = PrivateRedis::start(port);
    let (a, b) = pair(&url).await;
    let s = shop(&a, 1).await;
    let barcode = "bc0";
    assert_eq!(price(&b, &s.owner, barcode).await, 1000);
    drop(redis);
    assert!(
        eventually(Duration::from_secs(5), || async {
            a.send(Method::GET, "/api/v1/health/ready", None, None)
                .await
                .status
                == StatusCode::SERVICE_UNAVAILABLE
        })
        .await
    );
    let ready = a
        .send(Method::GET, "/api/v1/health/ready", None, None)
        .await;
    assert_eq!(ready.body["bus"]["connected"], false);
    let metrics = a
        .http
        .get(format!("{}/metrics", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("jowi_bus_connected 0"), "{metrics}");
    // Still serving and selling.
    let product = a.get("/api/v1/products/barcode/bc0", &s.owner).await.body["product"].clone();
    set_price(&a, &s.owner, &product, 1500).await;
    assert_eq!(price(&a, &s.owner, barcode).await, 1500);
    let r = b
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // The event was lost: B still has the old price until Redis returns.
    assert_eq!(price(&b, &s.owner, barcode).await, 1000);
    let _redis = PrivateRedis::start(port);
    assert!(
        eventually(Duration::from_secs(15), || async {
            price(&b, &s.owner, barcode).await == 1500
        })
        .await,
        "B never resynced after Redis came back"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            b.send(Method::GET, "/api/v1/health/ready", None, None)
                .await
                .status
                == StatusCode::OK
        })
        .await
    );
}
