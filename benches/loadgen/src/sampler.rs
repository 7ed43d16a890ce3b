//! What the server does while a scenario runs: PostgreSQL connections to the
//! bench database (max), server RSS (max), catalog cache hits and misses
//! (delta over the scenario, from /api/v1/health/cache).

use crate::db;
use crate::http::{Conn, Target};
use hyper::Method;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::Config;

const EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Default, Serialize)]
pub struct Samples {
    /// Max of `count(*) FROM pg_stat_activity WHERE datname = <bench db>`.
    pub pg_connections_max: Option<i64>,
    pub rss_max_mb: Option<f64>,
    pub cache_hits: Option<u64>,
    pub cache_misses: Option<u64>,
    /// hits / (hits + misses) over the scenario; None when there were no lookups.
    pub cache_hit_rate: Option<f64>,
    pub samples: u64,
}

#[derive(Clone)]
pub struct SamplerConfig {
    pub target: Arc<Target>,
    /// Maintenance-database config and the bench database's name.
    pub pg: Option<(Config, String)>,
    pub server_pid: Option<u32>,
}

pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Samples>,
    cache_before: Option<(u64, u64)>,
    target: Arc<Target>,
}

impl Sampler {
    pub async fn start(cfg: &SamplerConfig) -> Self {
        let cache_before = cache_stats(&cfg.target).await;
        let (stop, mut stopped) = watch::channel(false);
        let pg = cfg.pg.clone();
        let pid = cfg.server_pid;
        let task = tokio::spawn(async move {
            let mut s = Samples::default();
            let client = match &pg {
                Some((config, _)) => match db::connect_config(config).await {
                    Ok(c) => Some(c),
                    Err(e) => {
                        eprintln!("sampler: no PostgreSQL connection: {e:#}");
                        None
                    }
                },
                None => None,
            };
            loop {
                if let (Some(c), Some((_, dbname))) = (&client, &pg) {
                    if let Ok(row) = c
                        .query_one(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                            &[dbname],
                        )
                        .await
                    {
                        let n: i64 = row.get(0);
                        s.pg_connections_max = Some(s.pg_connections_max.unwrap_or(0).max(n));
                    }
                }
                if let Some(mb) = pid.and_then(rss_mb) {
                    s.rss_max_mb = Some(s.rss_max_mb.unwrap_or(0.0).max(mb));
                }
                s.samples += 1;
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = stopped.changed() => break,
                }
            }
            s
        });
        Self {
            stop,
            task,
            cache_before,
            target: cfg.target.clone(),
        }
    }

    pub async fn finish(self) -> Samples {
        let _ = self.stop.send(true);
        let mut s = self.task.await.unwrap_or_default();
        if let (Some((h0, m0)), Some((h1, m1))) =
            (self.cache_before, cache_stats(&self.target).await)
        {
            let hits = h1.saturating_sub(h0);
            let misses = m1.saturating_sub(m0);
            s.cache_hits = Some(hits);
            s.cache_misses = Some(misses);
            s.cache_hit_rate = (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64);
        }
        s
    }
}

/// VmRSS of a process in MB, from /proc.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// (hits, misses) of the catalog cache.
async fn cache_stats(target: &Arc<Target>) -> Option<(u64, u64)> {
    let mut conn = Conn::new(target.clone()).ok()?;
    let resp = conn
        .request_within(
            Duration::from_secs(5),
            Method::GET,
            "/api/v1/health/cache",
            None,
            None,
        )
        .await
        .ok()?;
    if !resp.is_success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    Some((v.get("hits")?.as_u64()?, v.get("misses")?.as_u64()?))
}
