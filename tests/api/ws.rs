use crate::helpers::*;
use crate::sales::shop;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(app: &TestApp, store: &str, token: &str, query: &str) -> Ws {
    let url = format!(
        "{}/api/v1/stores/{store}/stock/ws{query}",
        app.base.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws connect");
    ws
}

pub async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("ws message in time")
            .expect("ws open")
            .expect("ws ok");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// A subscriber gets a snapshot, then the store's changes in order; a
/// resubscribe with since_seq gets what it missed.
#[actix_web::test]
async fn subscriber_receives_changes_in_order() {
    let app = spawn_app().await;
    let s = shop(&app, 2).await;
    let mut ws = connect(&app, &s.store, &s.owner, "").await;
    let snap = next_json(&mut ws).await;
    assert_eq!(snap["type"], "snapshot");
    let start = snap["seq"].as_u64().unwrap();
    for q in ["1", "2", "0.5"] {
        let r = app
            .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, q)]))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut seqs = Vec::new();
    let mut quantities = Vec::new();
    for _ in 0..3 {
        let c = next_json(&mut ws).await;
        assert_eq!(c["type"], "change");
        assert_eq!(c["variant_id"], s.variants[0].0.as_str());
        assert_eq!(c["warehouse_id"], s.warehouse.as_str());
        assert_eq!(c["cause"], "sale");
        seqs.push(c["seq"].as_u64().unwrap());
        quantities.push(c["quantity"].as_str().unwrap().parse::<f64>().unwrap());
    }
    assert_eq!(seqs, vec![start + 1, start + 2, start + 3]);
    assert_eq!(quantities, vec![-1.0, -3.0, -3.5]);
    ws.close(None).await.ok();
    // Missed one change while away: resubscribing replays exactly it.
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(1, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let epoch = snap["epoch"].as_u64().unwrap();
    // Another epoch's numbers (another instance) get a snapshot, not a replay.
    let query = format!("?epoch={}&since_seq={}", epoch ^ 1, start + 3);
    let mut other = connect(&app, &s.store, &s.owner, &query).await;
    assert_eq!(next_json(&mut other).await["type"], "snapshot");
    let query = format!("?epoch={epoch}&since_seq={}", start + 3);
    let mut ws = connect(&app, &s.store, &s.owner, &query).await;
    let replay = next_json(&mut ws).await;
    assert_eq!(replay["type"], "replay");
    let changes = replay["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["variant_id"], s.variants[1].0.as_str());
}

/// Stock documents show up live too.
#[actix_web::test]
async fn stock_documents_reach_subscribers() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let mut ws = connect(&app, &s.store, &s.owner, "").await;
    next_json(&mut ws).await;
    let doc = serde_json::json!({"id": uuid::Uuid::new_v4(), "kind": "receiving", "warehouse_id": s.warehouse,
        "lines": [{"variant_id": s.variants[0].0, "quantity": 7}]});
    assert_eq!(
        app.post("/api/v1/stock/movements", &s.owner, doc)
            .await
            .status,
        StatusCode::CREATED
    );
    let c = next_json(&mut ws).await;
    assert_eq!(c["cause"], "receiving");
    assert_eq!(c["quantity"], "7.000");
}

/// Without a token, or for another tenant's store, no subscription.
#[actix_web::test]
async fn subscription_needs_auth_and_own_store() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let other = app.create_tenant("other").await;
    let url = format!("{}/api/v1/stores/{}/stock/ws", app.base, s.store);
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app
        .get(
            &format!("/api/v1/stores/{}/stock/ws", s.store),
            &other.token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// A subscriber that stops reading is dropped with a reason while sales go on.
#[actix_web::test]
async fn slow_subscriber_is_dropped_and_sales_go_on() {
    let app = spawn_app_with(|s| s.sales.ws_queue_events = 4).await;
    let s = shop(&app, 100).await;
    // A tiny receive buffer and no reading: the server's socket fills, then
    // the subscriber's queue.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr.parse().unwrap()).await.unwrap();
    let url = format!("ws://{addr}/api/v1/stores/{}/stock/ws", s.store);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", s.owner).parse().unwrap(),
    );
    let (mut slow, _) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    let lines: Vec<(usize, &str)> = (0..100).map(|i| (i, "1")).collect();
    for _ in 0..40 {
        let r = app
            .post("/api/v1/receipts", &s.register_token, s.sale(&lines))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // Now read: after the buffered messages comes the close with its reason.
    let mut reason = None;
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(10), slow.next()).await {
        if let Message::Close(Some(frame)) = msg {
            reason = Some(frame.reason.to_string());
            break;
        }
    }
    let reason = reason.expect("the slow subscriber was closed");
    assert!(reason.contains("slow consumer"), "{reason}");
    assert!(reason.contains("since_seq="), "{reason}");
}

/// A tenant with a live subscriber is not evicted as idle; once the
/// subscriber leaves, it is.
#[actix_web::test]
async fn watched_tenant_is_not_evicted() {
    let app = spawn_app_with(|s| {
        s.catalog.tenant_idle_evict_s = 0;
        s.catalog.evict_check_interval_ms = 50;
    })
    .await;
    let s = shop(&app, 1).await;
    let mut ws = connect(&app, &s.store, &s.owner, "").await;
    next_json(&mut ws).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.cache_stats().await["tenants_loaded"], 1);
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(next_json(&mut ws).await["type"], "change");
    drop(ws);
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.cache_stats().await["tenants_loaded"] == 0
        })
        .await
    );
}
