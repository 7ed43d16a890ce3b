//! Backups that restore: a private PostgreSQL cluster with WAL archiving,
//! a base backup taken with `pg_basebackup` while receipts are posted, a
//! point-in-time restore (`recovery_target_time`) into a second private
//! cluster, and the real server started on it. Every receipt acknowledged
//! before the target time is there exactly once, stock equals the ledger,
//! and the restored server answers a replay with the original number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

fn pg_bin(name: &str) -> PathBuf {
    let out = Command::new("pg_config").arg("--bindir").output();
    let dir = out
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
    Path::new(&dir).join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL tool, run as the `postgres` user when we are root (initdb
/// and the server refuse to run as root).
fn pg_cmd(name: &str) -> Command {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(pg_bin(name));
        c
    } else {
        Command::new(pg_bin(name))
    };
    cmd.current_dir("/");
    cmd
}

/// Stops every PostgreSQL and jowi process the test started, even on failure.
#[derive(Default)]
struct Guard {
    clusters: Vec<PathBuf>,
    servers: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
        for data in &self.clusters {
            let _ = pg_cmd("pg_ctl")
                .args(["stop", "-m", "immediate", "-D"])
                .arg(data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pg_start(guard: &mut Guard, data: &Path) {
    guard.clusters.push(data.to_owned());
    run(pg_cmd("pg_ctl")
        .args(["start", "-w", "-t", "120", "-D"])
        .arg(data)
        .arg("-l")
        .arg(data.with_extension("log")));
}

async fn start_server(guard: &mut Guard, db_url: &str, admin: &str) -> String {
    let port = free_port();
    guard.servers.push(
        Command::new(env!("CARGO_BIN_EXE_jowi"))
            .arg("serve")
            .env("DATABASE_URL", db_url)
            .env("JOWI_LISTEN", format!("127.0.0.1:{port}"))
            .env("JOWI_ADMIN_TOKEN", admin)
            .env("JOWI__DATABASE__POOL_MAX", "4")
            // Load from one token; rate limits are tested in tests/api/limits.rs.
            .env("JOWI__LIMITS__ENABLED", "false")
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jowi"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    assert!(
        helpers::eventually(Duration::from_secs(60), || async {
            http.get(format!("{base}/api/v1/health/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await,
        "server did not become ready"
    );
    base
}

async fn post(http: &reqwest::Client, url: &str, token: &str, body: &Value) -> (u16, Value) {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .json(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_backup_and_wal_restore_to_a_point_in_time() {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("backup-{}", Uuid::new_v4().simple()));
    let (primary, archive, restored) = (
        dir.join("primary"),
        dir.join("wal-archive"),
        dir.join("restored"),
    );
    std::fs::create_dir_all(&archive).unwrap();
    let mut guard = Guard::default();

    // The primary: WAL archived by copying, as the README's procedure does.
    if is_root() {
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir));
    }
    run(pg_cmd("initdb")
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-instructions",
            "-D",
        ])
        .arg(&primary));
    let p1 = free_port();
    std::fs::write(
        primary.join("postgresql.auto.conf"),
        format!(
            "port = {p1}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sock}'\n\
             wal_level = replica\narchive_mode = on\n\
             archive_command = 'test ! -f {arch}/%f && cp %p {arch}/%f'\n\
             max_wal_senders = 4\nshared_buffers = 32MB\nmax_connections = 40\n",
            sock = dir.display(),
            arch = archive.display()
        ),
    )
    .unwrap();
    pg_start(&mut guard, &primary);
    let admin_url = format!("postgres://postgres@127.0.0.1:{p1}/postgres");
    connect(&admin_url)
        .await
        .batch_execute("CREATE DATABASE jowi")
        .await
        .unwrap();
    let db_url = format!("postgres://postgres@127.0.0.1:{p1}/jowi");
    let admin = format!("admin-{}", Uuid::new_v4());
    let base = start_server(&mut guard, &db_url, &admin).await;

    let http = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");
    let (_, t) = post(
        &http,
        &url("/api/v1/admin/tenants"),
        &admin,
        &json!({"name": "b"}),
    )
    .await;
    let owner = t["token"].as_str().unwrap().to_owned();
    let (_, store) = post(&http, &url("/api/v1/stores"), &owner, &json!({"name": "S"})).await;
    let store_id = store["id"].as_str().unwrap().to_owned();
    let (_, reg) = post(
        &http,
        &url(&format!("/api/v1/stores/{store_id}/registers")),
        &owner,
        &json!({"name": "T"}),
    )
    .await;
    let register = reg["register"]["id"].as_str().unwrap().to_owned();
    let (_, shift) = post(
        &http,
        &url("/api/v1/shifts"),
        &owner,
        &json!({"register_id": register}),
    )
    .await;
    let shift_id = shift["id"].as_str().unwrap().to_owned();
    let mut variants = Vec::new();
    for i in 0..4 {
        let (s, p) = post(&http, &url("/api/v1/products"), &owner,
            &json!({"name": format!("P{i}"), "variants": [{"barcode": format!("b{i}"), "price": 100}]})).await;
        assert_eq!(s, 201);
        variants.push(p["variants"][0]["id"].as_str().unwrap().to_owned());
    }

    // Receipts keep coming while the backup is taken: (body, number, acked at).
    type Acked = (Value, String, chrono::DateTime<chrono::Utc>);
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4usize {
        let (http, acked, stop, variants) = (
            http.clone(),
            Arc::clone(&acked),
            Arc::clone(&stop),
            variants.clone(),
        );
        let (u, owner, store_id, register, shift_id) = (
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
                let body = json!({
                    "id": Uuid::new_v4(), "store_id": store_id, "register_id": register, "shift_id": shift_id,
                    "kind": "sale",
                    "items": [{"variant_id": variants[(w + k) % 4], "quantity": 1},
                              {"variant_id": variants[(w + 3 * k) % 4], "quantity": "0.25"}],
                    "payments": [{"method": "card", "amount": 125}]
                });
                let (s, r) = post(&http, &u, &owner, &body).await;
                assert_eq!(s, 201, "{r}");
                let number = r["number"].as_str().unwrap().to_owned();
                acked.lock().unwrap().push((body, number, chrono::Utc::now()));
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    let count = || acked.lock().unwrap().len();
    assert!(helpers::eventually(Duration::from_secs(30), || async { count() >= 100 }).await);
    run(pg_cmd("pg_basebackup")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &p1.to_string(),
            "-U",
            "postgres",
            "-c",
            "fast",
            "-D",
        ])
        .arg(&restored));
    let at_backup = count();
    assert!(
        helpers::eventually(Duration::from_secs(30), || async {
            count() >= at_backup + 100
        })
        .await
    );
    let target = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n_before_stop = count();
    assert!(
        helpers::eventually(Duration::from_secs(30), || async {
            count() >= n_before_stop + 50
        })
        .await
    );
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    // The WAL holding the target reaches the archive.
    let primary_db = connect(&admin_url).await;
    let segment: String = primary_db
        .query_one("SELECT pg_walfile_name(pg_current_wal_lsn())", &[])
        .await
        .unwrap()
        .get(0);
    primary_db
        .batch_execute("SELECT pg_switch_wal()")
        .await
        .unwrap();
    assert!(
        helpers::eventually(Duration::from_secs(30), || async {
            archive.join(&segment).exists()
        })
        .await,
        "segment {segment} archived"
    );
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let before: Vec<&Acked> = acked.iter().filter(|(_, _, at)| *at < target).collect();
    assert!(
        before.len() > at_backup,
        "receipts after the backup count too"
    );
    assert!(
        acked.len() > before.len(),
        "receipts after the target exist"
    );

    // Restore into a second private cluster, to the recorded moment.
    let p2 = free_port();
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(restored.join("postgresql.auto.conf"))
        .unwrap();
    use std::io::Write;
    write!(
        conf,
        "\nport = {p2}\narchive_mode = off\nrestore_command = 'cp {arch}/%f %p'\n\
         recovery_target_time = '{t}'\nrecovery_target_action = 'promote'\n",
        arch = archive.display(),
        t = target.format("%Y-%m-%d %H:%M:%S%.6f+00")
    )
    .unwrap();
    drop(conf);
    std::fs::write(restored.join("recovery.signal"), "").unwrap();
    std::fs::remove_file(restored.join("postmaster.pid")).ok();
    pg_start(&mut guard, &restored);
    let restored_admin = connect(&format!("postgres://postgres@127.0.0.1:{p2}/postgres")).await;
    assert!(
        helpers::eventually(Duration::from_secs(60), || async {
            restored_admin
                .query_one("SELECT NOT pg_is_in_recovery()", &[])
                .await
                .is_ok_and(|r| r.get::<_, bool>(0))
        })
        .await,
        "restored cluster promoted"
    );
    // The server runs on the restored database.
    let restored_url = format!("postgres://postgres@127.0.0.1:{p2}/jowi");
    let restored_base = start_server(&mut guard, &restored_url, &admin).await;
    let db = connect(&restored_url).await;
    let rows = db
        .query("SELECT id::text, count(*) FROM receipts GROUP BY 1", &[])
        .await
        .unwrap();
    let stored: std::collections::HashMap<String, i64> =
        rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for (body, _, _) in &before {
        let id = body["id"].as_str().unwrap();
        assert_eq!(
            stored.get(id),
            Some(&1),
            "receipt {id} acknowledged before the target, restored once"
        );
    }
    assert!(
        stored.len() < acked.len(),
        "the restore stopped at the target, not at the end"
    );
    let items: i64 = db
        .query_one("SELECT count(*) FROM receipt_items", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(items, 2 * stored.len() as i64, "no half-restored receipt");
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
    // A till retrying a restored receipt gets its original number back.
    let (body, number, _) = before.last().unwrap();
    let (s, r) = post(
        &http,
        &format!("{restored_base}/api/v1/receipts"),
        &owner,
        body,
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["number"].as_str(), Some(number.as_str()));
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
