//! What the server does while a scenario runs: PostgreSQL connections to the
//! bench database (max), server RSS (max), catalog cache hits and misses
//! (delta over the scenario, from /api/v1/health/cache).

use crate::db;
use crate::http::{Conn, Target};
use hyper::Method;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// CPU time over the scenario as % of one core: the server process and
    /// this tool (which shares the machine with it).
    pub server_cpu_pct: Option<f64>,
    pub tool_cpu_pct: Option<f64>,
    /// All cores busy (any process: server, tool, PostgreSQL, others), % of all cores.
    pub machine_busy_pct: Option<f64>,
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
    cpu_before: Cpu,
    server_pid: Option<u32>,
}

/// CPU counters at one moment.
struct Cpu {
    at: Instant,
    server_ticks: Option<u64>,
    tool_ticks: Option<u64>,
    /// (busy, total) jiffies of all cores.
    machine: Option<(u64, u64)>,
}

impl Cpu {
    fn now(server_pid: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            server_ticks: server_pid.and_then(|p| process_ticks(&p.to_string())),
            tool_ticks: process_ticks("self"),
            machine: machine_jiffies(),
        }
    }
}

/// Kernel clock ticks per second (USER_HZ; 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// utime + stime of a process, in clock ticks.
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// (busy, total) jiffies summed over all cores, from /proc/stat.
pub fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

impl Sampler {
    pub async fn start(cfg: &SamplerConfig) -> Self {
        let cache_before = cache_stats(&cfg.target).await;
        let cpu_before = Cpu::now(cfg.server_pid);
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
            cpu_before,
            server_pid: cfg.server_pid,
        }
    }

    pub async fn finish(self) -> Samples {
        let _ = self.stop.send(true);
        let mut s = self.task.await.unwrap_or_default();
        let (a, b) = (&self.cpu_before, Cpu::now(self.server_pid));
        let secs = (b.at - a.at).as_secs_f64().max(1e-3);
        let pct = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) => Some(y.saturating_sub(x) as f64 / TICKS_PER_S / secs * 100.0),
            _ => None,
        };
        s.server_cpu_pct = pct(a.server_ticks, b.server_ticks);
        s.tool_cpu_pct = pct(a.tool_ticks, b.tool_ticks);
        if let (Some((busy0, total0)), Some((busy1, total1))) = (a.machine, b.machine) {
            let total = total1.saturating_sub(total0);
            if total > 0 {
                s.machine_busy_pct =
                    Some(busy1.saturating_sub(busy0) as f64 / total as f64 * 100.0);
            }
        }
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

/// % of all cores busy over `window` (other work on the machine skews a run).
pub async fn machine_busy_over(window: Duration) -> Option<f64> {
    let (b0, t0) = machine_jiffies()?;
    tokio::time::sleep(window).await;
    let (b1, t1) = machine_jiffies()?;
    let total = t1.saturating_sub(t0);
    (total > 0).then(|| b1.saturating_sub(b0) as f64 / total as f64 * 100.0)
}
