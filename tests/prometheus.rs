//! A real Prometheus (Debian's `prometheus`) scrapes the local cluster of
//! `deploy/local/cluster.sh` with the shipped alert rules (only their `for:`
//! shortened): every target is up, the server's own metrics arrive, and
//! after `cluster.sh kill 2` the instance-down alert goes to firing through
//! Prometheus' own rule evaluation — for that instance only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use uuid::Uuid;

const INSTANCES: u16 = 2;

/// Stops what the test started, also when it fails.
struct Guard {
    script: PathBuf,
    env: Vec<(String, String)>,
    prometheus: Option<Child>,
    dir: PathBuf,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut p) = self.prometheus.take() {
            let _ = p.kill();
            let _ = p.wait();
        }
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("down")
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::thread::panicking() {
            eprintln!("logs kept in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port_block(len: u16) -> u16 {
    loop {
        let base = 20_000 + rand_u16() % 12_000;
        if (0..len).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
}

fn rand_u16() -> u16 {
    let b = Uuid::new_v4();
    u16::from_le_bytes([b.as_bytes()[0], b.as_bytes()[1]])
}

fn cluster(guard: &Guard, args: &[&str]) -> (bool, String) {
    let log = guard.dir.join("cluster.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let status = Command::new("bash")
        .arg(&guard.script)
        .args(args)
        .envs(guard.env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .status()
        .unwrap();
    (
        status.success(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

async fn api(port: u16, path: &str) -> Option<Value> {
    reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?
        .json()
        .await
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_every_instance_and_fires_instance_down() {
    let prometheus_bin = which("prometheus")
        .expect("prometheus not installed (scripts/test.sh installs Debian's `prometheus`)");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = Uuid::new_v4().simple().to_string();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("prometheus-{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = helpers::fresh_database().await;
    let mut guard = Guard {
        script: root.join("deploy/local/cluster.sh"),
        env: vec![
            ("JOWI_BIN".into(), env!("CARGO_BIN_EXE_jowi").to_owned()),
            (
                "JOWI_CLUSTER_DIR".into(),
                dir.join("cluster").display().to_string(),
            ),
            ("JOWI_CLUSTER_READY_TIMEOUT".into(), "60".into()),
            ("DATABASE_URL".into(), db_url),
            (
                "REDIS_URL".into(),
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            ),
            ("JOWI_ADMIN_TOKEN".into(), format!("admin-{run}")),
            ("JOWI__REDIS__CHANNEL".into(), format!("jowi:test:{run}")),
            ("JOWI__DATABASE__POOL_MAX".into(), "4".into()),
            ("RUST_LOG".into(), "warn".into()),
        ],
        prometheus: None,
        dir: dir.clone(),
    };
    // nginx on BASE, instance I on BASE + I, Prometheus on BASE + N + 1.
    let mut base = 0;
    for attempt in 1..=5 {
        base = free_port_block(INSTANCES + 2);
        guard.env.retain(|(k, _)| {
            !k.starts_with("JOWI_CLUSTER_") || k.ends_with("_DIR") || k.ends_with("TIMEOUT")
        });
        guard
            .env
            .push(("JOWI_CLUSTER_PORT".into(), base.to_string()));
        guard
            .env
            .push(("JOWI_CLUSTER_BASE_PORT".into(), base.to_string()));
        let (ok, out) = cluster(&guard, &["up", &INSTANCES.to_string()]);
        if ok {
            break;
        }
        assert!(
            out.contains("is taken") && attempt < 5,
            "cluster.sh up failed:\n{out}"
        );
    }
    let targets: Vec<String> = (1..=INSTANCES)
        .map(|i| format!("127.0.0.1:{}", base + i))
        .collect();
    let prom_port = base + INSTANCES + 1;

    // The shipped rules, with every `for:` shortened to 2s.
    let rules = std::fs::read_to_string(root.join("deploy/prometheus/alerts.yml")).unwrap();
    let rules: String = rules
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for:") {
            Some(_) => format!("{}for: 2s", &l[..l.len() - l.trim_start().len()]),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("alerts.yml"), rules).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
         rule_files:\n  - {}\n\
         scrape_configs:\n  - job_name: jowi-api\n    metrics_path: /metrics\n    static_configs:\n      - targets: [{}]\n",
        dir.join("alerts.yml").display(),
        targets.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let check = Command::new(which("promtool").unwrap_or_else(|| "promtool".into()))
        .args(["check", "config"])
        .arg(dir.join("prometheus.yml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    guard.prometheus = Some(
        Command::new(prometheus_bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus"),
    );

    // Every target is up.
    let all_up = helpers::eventually(Duration::from_secs(60), || async {
        let Some(t) = api(prom_port, "/api/v1/targets").await else {
            return false;
        };
        let active = t["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        active.len() == INSTANCES as usize && active.iter().all(|t| t["health"] == "up")
    })
    .await;
    assert!(all_up, "every instance scraped and up");
    // The server's own metrics arrive (process, partitions, statements).
    for q in [
        "process_resident_memory_bytes",
        "jowi_partition_default_rows",
        "jowi_http_requests_in_flight",
    ] {
        let got = helpers::eventually(Duration::from_secs(20), || async {
            api(prom_port, &format!("/api/v1/query?query={q}"))
                .await
                .and_then(|v| v["data"]["result"].as_array().map(|r| !r.is_empty()))
                .unwrap_or(false)
        })
        .await;
        assert!(got, "{q} scraped");
    }
    let firing_for = |alerts: &Value| -> Vec<(String, String)> {
        alerts["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|a| a["labels"]["alertname"] == "JowiInstanceDown")
            .map(|a| {
                (
                    a["labels"]["instance"].as_str().unwrap_or("").to_owned(),
                    a["state"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let before = api(prom_port, "/api/v1/alerts").await.unwrap();
    assert!(
        firing_for(&before).is_empty(),
        "no instance down yet: {before}"
    );

    let (ok, out) = cluster(&guard, &["kill", "2"]);
    assert!(ok, "cluster.sh kill 2 failed:\n{out}");
    let killed = targets[1].clone();
    let fired = helpers::eventually(Duration::from_secs(60), || async {
        api(prom_port, "/api/v1/alerts")
            .await
            .is_some_and(|a| firing_for(&a).contains(&(killed.clone(), "firing".into())))
    })
    .await;
    assert!(fired, "JowiInstanceDown firing for {killed}");
    let now = api(prom_port, "/api/v1/alerts").await.unwrap();
    assert!(
        firing_for(&now).iter().all(|(i, _)| *i == killed),
        "only the killed instance is down: {now}"
    );
}

fn which(name: &str) -> Option<String> {
    let out = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
