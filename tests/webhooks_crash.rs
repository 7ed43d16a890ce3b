//! Crash test for the outbox: changes under load, `kill -9` of the real
//! server binary while the receiver is refusing deliveries (so events are
//! committed but not delivered, some not even published), restart. Then
//! the receiver gets an event for every change that committed — answered
//! or not — with gapless sequence numbers and valid signatures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[allow(dead_code)]
#[path = "api/receiver.rs"]
mod receiver;

use jowi_actors::webhooks::signing;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(db_url: &str, port: u16, admin: &str) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_jowi"))
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("JOWI_LISTEN", format!("127.0.0.1:{port}"))
        .env("JOWI_ADMIN_TOKEN", admin)
        .env("JOWI__LIMITS__ENABLED", "false")
        .env("JOWI__WEBHOOKS__ALLOW_PRIVATE_URLS", "true")
        .env("JOWI__WEBHOOKS__BACKOFF_BASE_MS", "50")
        .env("JOWI__WEBHOOKS__BACKOFF_MAX_MS", "200")
        .env("JOWI__WEBHOOKS__POLL_INTERVAL_MS", "50")
        // A dead instance's claim lasts its lease: keep it short here.
        .env("JOWI__WEBHOOKS__TIMEOUT_MS", "1000")
        .env("JOWI__WEBHOOKS__LEASE_S", "3")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jowi");
    let http = reqwest::Client::new();
    let ready = helpers::eventually(Duration::from_secs(20), || async {
        http.get(format!("http://127.0.0.1:{port}/api/v1/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(ready, "server did not become ready");
    child
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

#[actix_web::test]
async fn kill_9_between_commit_and_delivery_loses_no_event() {
    let db_url = helpers::fresh_database().await;
    let admin = format!("admin-{}", Uuid::new_v4());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let rx = receiver::Receiver::start().await;
    rx.shared.behaviour.fail_all.store(true, Ordering::SeqCst);
    let mut server = start(&db_url, port, &admin).await;
    let http = reqwest::Client::new();

    let (_, tenant) = post(
        &http,
        &format!("{base}/api/v1/admin/tenants"),
        &admin,
        &json!({"name": "c"}),
    )
    .await
    .unwrap();
    let owner = tenant["token"].as_str().unwrap().to_owned();
    let (s, hook) = post(
        &http,
        &format!("{base}/api/v1/webhooks"),
        &owner,
        &json!({"url": format!("{}/crash", rx.url)}),
    )
    .await
    .unwrap();
    assert_eq!(s, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_owned();
    // A till to sell at: receipts go through the batch commit's outbox writer.
    let (_, store) = post(
        &http,
        &format!("{base}/api/v1/stores"),
        &owner,
        &json!({"name": "S"}),
    )
    .await
    .unwrap();
    let store_id = store["id"].as_str().unwrap().to_owned();
    let (_, reg) = post(
        &http,
        &format!("{base}/api/v1/stores/{store_id}/registers"),
        &owner,
        &json!({"name": "T"}),
    )
    .await
    .unwrap();
    let register = reg["register"]["id"].as_str().unwrap().to_owned();
    let (_, shift) = post(
        &http,
        &format!("{base}/api/v1/shifts"),
        &owner,
        &json!({"register_id": register}),
    )
    .await
    .unwrap();
    let shift_id = shift["id"].as_str().unwrap().to_owned();
    let (s, p) = post(
        &http,
        &format!("{base}/api/v1/products"),
        &owner,
        &json!({"name": "Bread", "variants": [{"barcode": "bread", "price": 100}]}),
    )
    .await
    .unwrap();
    assert_eq!(s, 201);
    let variant = p["variants"][0]["id"].as_str().unwrap().to_owned();

    // Load: 4 workers sell and add products until the server dies under them.
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4 {
        let (http, base, owner, acked, stop) = (
            http.clone(),
            base.clone(),
            owner.clone(),
            Arc::clone(&acked),
            Arc::clone(&stop),
        );
        let (store_id, register, shift_id, variant) = (
            store_id.clone(),
            register.clone(),
            shift_id.clone(),
            variant.clone(),
        );
        workers.push(actix_rt::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::SeqCst) {
                k += 1;
                // Half the workers sell, half edit the catalog.
                let (path, body) = if w % 2 == 0 {
                    (
                        "receipts",
                        json!({
                        "id": Uuid::new_v4(), "store_id": store_id, "register_id": register,
                        "shift_id": shift_id, "kind": "sale",
                        "items": [{"variant_id": variant, "quantity": 1}],
                        "payments": [{"method": "cash", "amount": 100}]}),
                    )
                } else {
                    (
                        "products",
                        json!({"name": format!("W{w}-{k}"),
                        "variants": [{"barcode": format!("w{w}k{k}"), "price": 100}]}),
                    )
                };
                match post(&http, &format!("{base}/api/v1/{path}"), &owner, &body).await {
                    Some((201, p)) => acked
                        .lock()
                        .unwrap()
                        .push(p["id"].as_str().unwrap().to_owned()),
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        }));
    }
    assert!(
        helpers::eventually(Duration::from_secs(20), || async {
            acked.lock().unwrap().len() >= 60 && !rx.all().is_empty()
        })
        .await
    );
    server.kill().expect("kill -9");
    server.wait().expect("reap");
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    assert!(
        rx.delivered().is_empty(),
        "nothing was delivered before the kill"
    );

    // Restart with a healthy receiver: everything that committed arrives.
    rx.shared.behaviour.fail_all.store(false, Ordering::SeqCst);
    let mut server = start(&db_url, port, &admin).await;
    let (db, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    actix_rt::spawn(conn);
    let committed: HashSet<String> = db
        .query(
            "SELECT id::text FROM products UNION ALL SELECT id::text FROM receipts",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.iter().all(|id| committed.contains(id)));
    let all_arrived = helpers::eventually(Duration::from_secs(30), || async {
        let got: HashSet<String> = rx
            .delivered()
            .iter()
            .filter_map(|r| {
                serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["id"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        // ... and the receiver has caught up with everything published.
        let published: i64 = db
            .query_one(
                "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM outbox_pending)",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let seqs: HashSet<i64> = rx
            .delivered()
            .iter()
            .map(|r| {
                serde_json::from_slice::<Value>(&r.body).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        committed.iter().all(|id| got.contains(id)) && seqs.len() as i64 == published
    })
    .await;
    server.kill().ok();
    server.wait().ok();
    assert!(all_arrived, "an event of a committed product never arrived");

    let got = rx.delivered();
    let mut seqs = BTreeSet::new();
    let mut subjects = HashSet::new();
    for r in &got {
        let ts: i64 = r.timestamp.parse().unwrap();
        assert!(signing::verify(&secret, ts, &r.body, &r.signature));
        let b: Value = serde_json::from_slice(&r.body).unwrap();
        if b["type"] == "product.created" || b["type"] == "receipt.created" {
            subjects.insert(b["data"]["id"].as_str().unwrap().to_owned());
        }
        seqs.insert(b["seq"].as_i64().unwrap());
    }
    // An event for every committed product and receipt and for nothing
    // else; every published seq 1..=N arrived, without gaps (a redelivery
    // after the restart may repeat one: at-least-once).
    assert_eq!(subjects, committed);
    let count = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    assert_eq!(count("SELECT count(*) FROM outbox_pending").await, 0);
    let published = count("SELECT count(*) FROM events").await;
    assert!(got.iter().any(|r| r.event_type == "receipt.created"));
    assert_eq!(
        seqs.into_iter().collect::<Vec<_>>(),
        (1..=published).collect::<Vec<_>>()
    );
}
