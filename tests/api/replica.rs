//! Reports and receipt history read from a real hot standby. The test starts
//! its own primary (initdb) and a standby made with `pg_basebackup -R`, in a
//! private directory under `.local/` on free ports, and stops both at the
//! end even when it fails (Drop). Then: reads are served by the standby
//! (they work with the primary stopped), lag beyond the bound sends them to
//! the primary, and so does the standby being down; each fallback counted.
use crate::helpers::*;
use jowi::settings::Settings;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The newest PostgreSQL server binaries on the machine (Debian layout,
/// then PATH via pg_config).
fn bindir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|p| p.join("initdb").exists() && p.join("pg_basebackup").exists())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    if let Some(d) = dirs.pop() {
        return d;
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("PostgreSQL server binaries (initdb, pg_basebackup) are needed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// A primary and its standby, stopped and deleted on drop.
struct Pair {
    dir: PathBuf,
    bin: PathBuf,
    primary: (PathBuf, u16),
    standby: (PathBuf, u16),
}

impl Pair {
    /// Runs a PostgreSQL tool as the `postgres` user when we are root
    /// (initdb and postgres refuse root).
    fn run(&self, tool: &str, args: &[&str]) -> bool {
        let bin = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        cmd.args(args)
            .current_dir("/")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn start(&self, data: &Path, port: u16) -> bool {
        let log = data.with_extension("log");
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c wal_level=replica \
             -c max_wal_senders=4 -c hot_standby=on -c shared_buffers=16MB",
            self.dir.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "30",
                "start",
            ],
        )
    }

    fn stop(&self, data: &Path) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn new() -> Pair {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".local")
            .join(format!("replica-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if is_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres", dir.to_str().unwrap()])
                .status()
                .unwrap();
        }
        let pair = Pair {
            bin: bindir(),
            primary: (dir.join("primary"), free_port()),
            standby: (dir.join("standby"), free_port()),
            dir,
        };
        assert!(
            pair.run(
                "initdb",
                &[
                    "-D",
                    pair.primary.0.to_str().unwrap(),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8"
                ]
            ),
            "initdb"
        );
        assert!(pair.start(&pair.primary.0, pair.primary.1), "start primary");
        pair
    }

    fn make_standby(&self) {
        let port = self.primary.1.to_string();
        assert!(
            self.run(
                "pg_basebackup",
                &[
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    "postgres",
                    "-D",
                    self.standby.0.to_str().unwrap(),
                    "-R",
                    "-X",
                    "stream",
                    "-c",
                    "fast",
                ]
            ),
            "pg_basebackup"
        );
        assert!(self.start(&self.standby.0, self.standby.1), "start standby");
    }

    fn url(&self, port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/jowi_replica")
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.stop(&self.standby.0);
        self.stop(&self.primary.0);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn fallbacks(app: &TestApp, reason: &str) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with(&format!(
                "jowi_replica_fallbacks_total{{reason=\"{reason}\"}}"
            ))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// True once reports answer `sales` with no fallback counted (the standby
/// serves them).
async fn standby_serves(app: &TestApp, report: &str, token: &str, sales: i64) -> bool {
    eventually(Duration::from_secs(10), || async {
        let before = fallbacks(app, "lag").await + fallbacks(app, "down").await;
        let ok = sales_count(&app.get(report, token).await) == sales;
        ok && fallbacks(app, "lag").await + fallbacks(app, "down").await == before
    })
    .await
}

fn sales_count(r: &Reply) -> i64 {
    r.body["totals"]["sales_count"].as_i64().unwrap_or(-1)
}

/// Reports and receipt history come from the standby while it is healthy,
/// and from the primary when it lags beyond the bound or is down.
#[actix_web::test]
async fn reports_read_from_a_real_standby_and_fall_back() {
    let pair = Pair::new();
    let (admin, conn) = tokio_postgres::connect(
        &format!("postgres://postgres@127.0.0.1:{}/postgres", pair.primary.1),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    admin
        .batch_execute("CREATE DATABASE jowi_replica")
        .await
        .unwrap();
    jowi_actors::pg::migrate(&pair.url(pair.primary.1))
        .await
        .unwrap();
    pair.make_standby();

    let mut settings = Settings::load().unwrap();
    settings.database.url = pair.url(pair.primary.1);
    settings.database.replica_url = pair.url(pair.standby.1);
    settings.database.replica_max_lag_ms = 300;
    settings.database.replica_check_interval_ms = 100;
    settings.database.migrate_on_start = false;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.workers = 2;
    settings.server.admin_token = format!("admin-{}", Uuid::new_v4());
    settings.redis.url = String::new();
    let app = spawn_with_settings(settings).await;

    let t = app.create_tenant("replica").await;
    let store = app.create_store(&t.token, "S").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (reg, token) = app.create_register(&t.token, &store, "T").await;
    let register = reg["id"].as_str().unwrap().to_owned();
    let shift = app
        .post("/api/v1/shifts", &token, json!({"register_id": register}))
        .await;
    assert_eq!(shift.status, StatusCode::CREATED, "{}", shift.body);
    let shift = shift.body["id"].as_str().unwrap().to_owned();
    let p = app.create_product(&t.token, "Milk", "m1", 1000).await;
    let variant = p["variants"][0]["id"].as_str().unwrap().to_owned();
    let sale = |_: usize| -> Value {
        json!({"id": Uuid::new_v4(), "store_id": store, "register_id": register, "shift_id": shift,
               "kind": "sale", "items": [{"variant_id": variant, "quantity": "1"}],
               "payments": [{"method": "card", "amount": 1000}]})
    };
    for i in 0..2 {
        let r = app.post("/api/v1/receipts", &token, sale(i)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let today = chrono::Utc::now().date_naive();
    let report = format!(
        "/api/v1/reports/sales?from={}&to={}",
        today - chrono::Duration::days(1),
        today + chrono::Duration::days(1)
    );
    let history = format!("/api/v1/receipts?store_id={store}");

    // 1. The standby catches up and serves: it answers with the primary stopped.
    assert!(
        eventually(Duration::from_secs(20), || async {
            sales_count(&app.get(&report, &t.token).await) == 2
        })
        .await,
        "reports never showed the sales"
    );
    let healthy = standby_serves(&app, &report, &t.token, 2).await;
    assert!(healthy, "the standby never became the report source");
    pair.stop(&pair.primary.0);
    let r = app.get(&report, &t.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(sales_count(&r), 2, "served by the standby");
    let h = app.get(&history, &t.token).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    assert_eq!(h.body["items"].as_array().unwrap().len(), 2);
    assert!(
        pair.start(&pair.primary.0, pair.primary.1),
        "restart primary"
    );

    // 2. Replay paused: beyond the lag bound, reads go to the primary.
    let (standby, conn) = tokio_postgres::connect(&pair.url(pair.standby.1), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    let lag_before = fallbacks(&app, "lag").await;
    assert!(
        eventually(Duration::from_secs(20), || async {
            let r = app.post("/api/v1/receipts", &token, sale(9)).await;
            r.status == StatusCode::CREATED
        })
        .await,
        "primary back for writes"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            sales_count(&app.get(&report, &t.token).await) == 3
        })
        .await,
        "a lagging standby must not hide the new sale"
    );
    assert!(
        fallbacks(&app, "lag").await > lag_before,
        "lag fallbacks counted"
    );
    standby
        .batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    assert!(
        standby_serves(&app, &report, &t.token, 3).await,
        "the standby serves again once caught up"
    );

    // 3. Standby down: reads go to the primary.
    pair.stop(&pair.standby.0);
    let down_before = fallbacks(&app, "down").await;
    let r = app.get(&report, &t.token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(sales_count(&r), 3);
    let h = app.get(&history, &t.token).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    assert_eq!(h.body["items"].as_array().unwrap().len(), 3);
    assert!(
        fallbacks(&app, "down").await > down_before,
        "down fallbacks counted"
    );
    drop(pair);
}
