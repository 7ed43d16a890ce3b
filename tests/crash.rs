//! Crash test: receipts under load, `kill -9` of the real server binary in
//! the middle, restart, retries of everything unanswered. Then every receipt
//! that was answered 2xx exists exactly once (with the number it was
//! given), every retried one exists exactly once, every stock level
//! equals its ledger, and the running report totals equal their rebuild.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;
#[path = "api/totals_check.rs"]
mod totals_check;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A posted receipt body and the number it was answered with (None: no 2xx).
type Sent = (Value, Option<String>);

struct Server {
    child: Child,
    base: String,
}

/// Kills the server if the test fails before it does (a failed assertion
/// used to leave it running).
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(db_url: &str, port: u16, admin: &str) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_jowi"))
        .arg("serve")
        .env("DATABASE_URL", db_url)
        .env("JOWI_LISTEN", format!("127.0.0.1:{port}"))
        .env("JOWI_ADMIN_TOKEN", admin)
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        // Load from a few tokens; rate limits are tested in tests/api/limits.rs.
        .env("JOWI__LIMITS__ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jowi");
    let base = format!("http://127.0.0.1:{port}");
    // Guarded before the wait: a server that never gets ready is killed too.
    let server = Server { child, base };
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let ready = helpers::eventually(Duration::from_secs(20), || async {
        http.get(format!("{base}/api/v1/health/ready"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    assert!(ready, "server did not become ready");
    server
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> Option<(u16, Value)> {
    let resp = http
        .post(format!("{base}{path}"))
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
async fn kill_9_mid_load_loses_and_doubles_nothing() {
    let db_url = helpers::fresh_database().await;
    let admin = format!("admin-{}", Uuid::new_v4());
    let port = free_port();
    let mut server = start(&db_url, port, &admin).await;
    let http = reqwest::Client::new();
    let base = server.base.clone();

    let shop = helpers::open_shop(&http, &base, &admin, 1, 10).await;
    let owner = shop.owner.clone();
    let store_id = shop.store.clone();
    let register = shop.tills[0].register_id.clone();
    let shift_id = shop.tills[0].shift_id.clone();
    let variants: Vec<String> = shop.variants.iter().map(|v| v.id.clone()).collect();

    // Load: 8 workers post receipts until the server dies under them.
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (http, base, owner, sent) =
            (http.clone(), base.clone(), owner.clone(), Arc::clone(&sent));
        let stop = Arc::clone(&stop);
        let (store_id, register, shift_id, variants) = (
            store_id.clone(),
            register.clone(),
            shift_id.clone(),
            variants.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut k = 0usize;
            while started.elapsed() < Duration::from_secs(30) && !stop.load(std::sync::atomic::Ordering::SeqCst) {
                k += 1;
                let body = json!({
                    "id": Uuid::new_v4(), "store_id": store_id, "register_id": register, "shift_id": shift_id,
                    "kind": "sale",
                    "items": [{"variant_id": variants[(w + k) % 10], "quantity": 1},
                              {"variant_id": variants[(w + 2 * k) % 10], "quantity": "0.5"}],
                    "payments": [{"method": "cash", "amount": 5000}]
                });
                let answer = post(&http, &base, &owner, "/api/v1/receipts", &body).await;
                let number = match answer {
                    Some((201, r)) => r["number"].as_str().map(str::to_owned),
                    _ => None,
                };
                let dead = number.is_none();
                sent.lock().unwrap().push((body, number));
                if dead {
                    // Back off while the server is down.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    // Let some receipts through, then kill -9 in the middle of the load.
    assert!(
        helpers::eventually(Duration::from_secs(20), || async {
            sent.lock()
                .unwrap()
                .iter()
                .filter(|(_, n)| n.is_some())
                .count()
                >= 150
        })
        .await
    );
    server.child.kill().expect("kill -9");
    server.child.wait().expect("reap");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    let sent = std::mem::take(&mut *sent.lock().unwrap());
    let acked: HashMap<String, String> = sent
        .iter()
        .filter_map(|(b, n)| {
            n.as_ref()
                .map(|n| (b["id"].as_str().unwrap().to_owned(), n.clone()))
        })
        .collect();
    let unanswered: Vec<&Value> = sent
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(b, _)| b)
        .collect();
    assert!(
        !unanswered.is_empty(),
        "the kill should leave some receipts unanswered"
    );

    // Restart; retry every unanswered receipt with the same id and body.
    let mut server = start(&db_url, port, &admin).await;
    for body in &unanswered {
        let mut ok = false;
        for _ in 0..50 {
            if let Some((s, r)) = post(&http, &base, &owner, "/api/v1/receipts", body).await {
                assert!(s == 201 || s == 200 || s == 503, "{s} {r}");
                if s == 201 || s == 200 {
                    ok = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "retry never succeeded");
    }
    // Acked receipts replay with the number they were given.
    for (id, number) in acked.iter().take(20) {
        let body = sent
            .iter()
            .find(|(b, _)| b["id"] == id.as_str())
            .map(|(b, _)| b)
            .unwrap();
        let (s, r) = post(&http, &base, &owner, "/api/v1/receipts", body)
            .await
            .unwrap();
        assert_eq!(s, 200);
        assert_eq!(r["number"].as_str(), Some(number.as_str()));
    }
    server.child.kill().ok();
    server.child.wait().ok();

    let (db, conn) = tokio_postgres::connect(&db_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = db
        .query(
            "SELECT r.id::text, k.number, count(*) OVER (PARTITION BY r.id) FROM receipts r \
             JOIN receipt_keys k ON k.tenant_id = r.tenant_id AND k.id = r.id",
            &[],
        )
        .await
        .unwrap();
    let stored: HashMap<String, (String, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                (r.get::<_, String>(1), r.get::<_, i64>(2)),
            )
        })
        .collect();
    for (id, number) in &acked {
        let (n, copies) = stored
            .get(id)
            .unwrap_or_else(|| panic!("acknowledged receipt {id} lost"));
        assert_eq!(*copies, 1, "receipt {id} doubled");
        assert_eq!(n, number, "receipt {id} changed number");
    }
    assert_eq!(
        rows.len(),
        acked.len() + unanswered.len(),
        "exactly the sent receipts are stored"
    );
    let numbers: std::collections::HashSet<&String> = stored.values().map(|(n, _)| n).collect();
    assert_eq!(numbers.len(), stored.len(), "receipt numbers unique");
    let items: i64 = db
        .query_one("SELECT count(*) FROM receipt_items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(items, 2 * stored.len() as i64, "no half-written receipt");
    helpers::assert_stock_equals_ledger(&db).await;
    // The running totals committed with their receipts: after kill -9 they
    // still equal the totals recomputed from the receipts.
    totals_check::assert_totals_match_rebuild(&db_url).await;
}
