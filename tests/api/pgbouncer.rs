//! The receipt path through a real PgBouncer in transaction pooling mode.
//! Statements are prepared per transaction there (`statement_cache =
//! false`): PgBouncer 1.18 (Debian 12) does not carry named prepared
//! statements across server connections, and every query of the server
//! runs inside a transaction, which PgBouncer pins to one connection.
use crate::helpers::*;
use crate::sales::{assert_stock_matches_ledger, shop};
use futures::future::join_all;
use reqwest::StatusCode;
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Bouncer {
    child: Child,
    dir: std::path::PathBuf,
}

impl Bouncer {
    /// PgBouncer's own pid (the child may be `runuser`, which does not pass
    /// a SIGKILL on: killing only the child orphaned pgbouncer).
    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("pgbouncer.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Stops pgbouncer itself, also when the test fails.
impl Drop for Bouncer {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            for signal in ["-TERM", "-KILL"] {
                let _ = Command::new("kill")
                    .args([signal, &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
                let deadline = std::time::Instant::now() + Duration::from_secs(3);
                while alive(pid) && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if !alive(pid) {
                    break;
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Starts PgBouncer in front of the test PostgreSQL; answers it and its port.
fn start_bouncer() -> (Bouncer, u16) {
    let base: tokio_postgres::Config = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
        .parse()
        .unwrap();
    let host = match base.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    let pg_port = base.get_ports().first().copied().unwrap_or(5432);
    let user = base.get_user().unwrap_or("postgres").to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir =
        std::env::temp_dir().join(format!("jowi-pgbouncer-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("pgbouncer.ini");
    std::fs::write(
        &conf,
        format!(
            "[databases]\n* = host={host} port={pg_port} user={user}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = any\npool_mode = transaction\n\
             max_client_conn = 500\ndefault_pool_size = 6\nlogfile = {log}\npidfile = {pid}\n",
            log = dir.join("pgbouncer.log").display(),
            pid = dir.join("pgbouncer.pid").display(),
        ),
    )
    .unwrap();
    let bin = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "pgbouncer (Debian package pgbouncer) must be installed; scripts/test.sh installs it",
        );
    // PgBouncer refuses to run as root.
    let mut cmd = if is_root() {
        Command::new("chmod")
            .args(["-R", "a+rwX", dir.to_str().unwrap()])
            .status()
            .unwrap();
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", bin, conf.to_str().unwrap()]);
        c
    } else {
        let mut c = Command::new(bin);
        c.arg(&conf);
        c
    };
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pgbouncer");
    (Bouncer { child, dir }, port)
}

/// Receipts, shifts, catalog writes and replays all work through PgBouncer.
#[actix_web::test]
async fn receipt_path_through_pgbouncer() {
    let (bouncer, port) = start_bouncer();
    let direct = fresh_database().await;
    let db_name = direct.rsplit('/').next().unwrap().to_owned();
    let via = format!("postgres://postgres@127.0.0.1:{port}/{db_name}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            tokio_postgres::connect(&via, tokio_postgres::NoTls)
                .await
                .is_ok()
        })
        .await,
        "pgbouncer did not start"
    );
    let app = spawn_app_with(move |s| {
        s.database.url = via;
        s.database.statement_cache = false;
        s.database.migrate_on_start = false;
        s.database.pool_max = 12;
    })
    .await;
    let s = shop(&app, 3).await;
    let bodies: Vec<_> = (0..120)
        .map(|i| s.sale(&[(i % 3, "1"), ((i + 1) % 3, "0.5")]))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|b| app.post("/api/v1/receipts", &s.register_token, b.clone())),
    )
    .await;
    let mut numbers = HashSet::new();
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        numbers.insert(r.body["number"].as_str().unwrap().to_owned());
    }
    assert_eq!(numbers.len(), 120);
    let replay = app
        .post("/api/v1/receipts", &s.register_token, bodies[7].clone())
        .await;
    assert_eq!(replay.status, StatusCode::OK);
    let report = app
        .get(
            &format!("/api/v1/shifts/{}/report", s.shift),
            &s.register_token,
        )
        .await;
    assert_eq!(report.body["receipts"], 120);
    assert_stock_matches_ledger(&app).await;
    // The guard stops pgbouncer itself, not just the process we spawned.
    let pid = bouncer.pid().expect("pgbouncer wrote its pid file");
    assert!(alive(pid));
    drop(bouncer);
    assert!(!alive(pid), "pgbouncer {pid} still running after the test");
}
