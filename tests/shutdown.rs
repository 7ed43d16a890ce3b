//! Graceful shutdown: SIGTERM to the real server binary while eight clients
//! post receipts and a live-stock WebSocket is open. The WebSocket gets a
//! close frame with code 1001 and the reason; the process exits by itself
//! within `server.shutdown_timeout_s`; every receipt answered 201 — also
//! those in flight when the signal came — is committed exactly once, and
//! stock equals the ledger.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use futures::StreamExt;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const BOUND_S: u64 = 5;

/// Kills the server if the test fails before it exits by itself.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .json(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.json().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_and_commits_every_acknowledged_receipt() {
    let db_url = helpers::fresh_database().await;
    let admin = format!("admin-{}", Uuid::new_v4());
    let port = free_port();
    // Logs go to a file: they must carry no colour escapes (only a
    // terminal gets colour).
    let log_path = std::env::temp_dir().join(format!("jowi-shutdown-{}.log", Uuid::new_v4()));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_jowi"))
            .arg("serve")
            .env("DATABASE_URL", &db_url)
            .env("JOWI_LISTEN", format!("127.0.0.1:{port}"))
            .env("JOWI_ADMIN_TOKEN", &admin)
            .env("JOWI__SERVER__SHUTDOWN_TIMEOUT_S", BOUND_S.to_string())
            // Load from one token; rate limits are tested in tests/api/limits.rs.
            .env("JOWI__LIMITS__ENABLED", "false")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR")
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("start jowi"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    assert!(
        helpers::eventually(Duration::from_secs(20), || async {
            http.get(format!("{base}/api/v1/health/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await,
        "server did not become ready"
    );
    let url = |p: &str| format!("{base}{p}");
    let (_, t) = post(
        &http,
        &url("/api/v1/admin/tenants"),
        &admin,
        &json!({"name": "drain"}),
    )
    .await
    .unwrap();
    let owner = t["token"].as_str().unwrap().to_owned();
    let (_, store) = post(&http, &url("/api/v1/stores"), &owner, &json!({"name": "S"}))
        .await
        .unwrap();
    let store_id = store["id"].as_str().unwrap().to_owned();
    let (_, reg) = post(
        &http,
        &url(&format!("/api/v1/stores/{store_id}/registers")),
        &owner,
        &json!({"name": "T"}),
    )
    .await
    .unwrap();
    let register = reg["register"]["id"].as_str().unwrap().to_owned();
    let (_, shift) = post(
        &http,
        &url("/api/v1/shifts"),
        &owner,
        &json!({"register_id": register}),
    )
    .await
    .unwrap();
    let shift_id = shift["id"].as_str().unwrap().to_owned();
    let mut variants = Vec::new();
    for i in 0..6 {
        let (s, p) = post(&http, &url("/api/v1/products"), &owner,
            &json!({"name": format!("P{i}"), "variants": [{"barcode": format!("d{i}"), "price": 100}]}))
            .await
            .unwrap();
        assert_eq!(s, 201);
        variants.push(p["variants"][0]["id"].as_str().unwrap().to_owned());
    }

    // A live-stock subscriber.
    let mut req = format!("ws://127.0.0.1:{port}/api/v1/stores/{store_id}/stock/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {owner}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("ws");

    // Load: (id, answered 201 at) per receipt sent.
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8usize {
        let (http, acked, stop, variants) = (
            http.clone(),
            Arc::clone(&acked),
            Arc::clone(&stop),
            variants.clone(),
        );
        let (url, owner, store_id, register, shift_id) = (
            url("/api/v1/receipts"),
            owner.clone(),
            store_id.clone(),
            register.clone(),
            shift_id.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut k = 0usize;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                let id = Uuid::new_v4().to_string();
                let body = json!({
                    "id": id, "store_id": store_id, "register_id": register, "shift_id": shift_id,
                    "kind": "sale",
                    "items": [{"variant_id": variants[(w + k) % 6], "quantity": 1},
                              {"variant_id": variants[(w + 2 * k) % 6], "quantity": "0.5"}],
                    "payments": [{"method": "cash", "amount": 1000}]
                });
                match post(&http, &url, &owner, &body).await {
                    Some((201, _)) => acked.lock().unwrap().push((id, Instant::now())),
                    // The server stopped accepting: this client is done.
                    None => break,
                    Some((s, b)) => panic!("unexpected answer {s}: {b}"),
                }
            }
        }));
    }
    assert!(
        helpers::eventually(Duration::from_secs(30), || async {
            acked.lock().unwrap().len() >= 150
        })
        .await,
        "load did not get going"
    );

    let signalled = Instant::now();
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());

    // The subscriber is told why it is closed.
    let close = tokio::time::timeout(Duration::from_secs(BOUND_S), async {
        while let Some(msg) = ws.next().await {
            if let Ok(Message::Close(frame)) = msg {
                return frame;
            }
        }
        None
    })
    .await
    .expect("close frame before the bound")
    .expect("a close frame with a reason");
    assert_eq!(close.code, CloseCode::Away);
    assert_eq!(close.reason, "server shutting down; reconnect and resume");

    // The process exits by itself, cleanly, within the bound.
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(BOUND_S),
            "still running {BOUND_S}s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    let logged = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(logged.contains("jowi serving"), "no log lines: {logged}");
    assert!(
        !logged.contains('\u{1b}'),
        "ANSI escapes in a log file: {:?}",
        logged.lines().next()
    );
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let late = acked.iter().filter(|(_, at)| *at > signalled).count();
    assert!(late > 0, "requests in flight at SIGTERM were answered");

    let (db, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = db
        .query("SELECT id::text, count(*) FROM receipts GROUP BY 1", &[])
        .await
        .unwrap();
    let stored: std::collections::HashMap<String, i64> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for (id, _) in &acked {
        assert_eq!(
            stored.get(id),
            Some(&1),
            "acknowledged receipt {id} committed once"
        );
    }
    let items: i64 = db
        .query_one("SELECT count(*) FROM receipt_items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(items, 2 * stored.len() as i64, "no half-written receipt");
    let bad: i64 = db
        .query_one(
            "SELECT count(*) FROM stock_levels l FULL JOIN \
               (SELECT tenant_id, warehouse_id, variant_id, sum(delta) AS s FROM stock_movements GROUP BY 1, 2, 3) m \
               USING (tenant_id, warehouse_id, variant_id) WHERE COALESCE(l.quantity, 0) <> COALESCE(m.s, 0)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(bad, 0, "stock levels equal the ledger");
}
