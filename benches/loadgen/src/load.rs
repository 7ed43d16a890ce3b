//! The HTTP load driver: N workers, one keep-alive connection each.
//!
//! Closed loop (default): each worker sends its next request as soon as the
//! previous one is answered; latency is measured from the actual send. This
//! finds the maximum throughput, but its percentiles suffer from coordinated
//! omission (a stalled server also stalls the clients, so the stall is
//! sampled once instead of for every request that would have been sent).
//!
//! Constant arrival rate (`--rate R`): request i is due at start + i/R; a
//! free worker takes the next due slot, waits for it, and its latency is
//! measured from the scheduled time, not from the actual send. When the
//! server (or the worker pool) falls behind, the waiting time is included,
//! which corrects coordinated omission (as wrk2 does).

use crate::http::{Conn, Target};
use crate::stats::{Live, Recorder};
use bytes::Bytes;
use hyper::Method;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One request to send.
pub struct Op {
    pub kind: &'static str,
    pub method: Method,
    pub path: String,
    pub token: Option<Arc<str>>,
    pub body: Option<Bytes>,
    /// `list` pages: the tenant whose cursor the response carries.
    pub cursor_tenant: Option<usize>,
}

impl Op {
    pub fn get(kind: &'static str, path: String, token: Option<Arc<str>>) -> Self {
        Self {
            kind,
            method: Method::GET,
            path,
            token,
            body: None,
            cursor_tenant: None,
        }
    }
}

/// Per-worker memory of a workload (list cursors of previous pages).
#[derive(Default)]
pub struct WorkerState {
    pub cursors: HashMap<usize, String>,
}

/// A request generator. Implementations are shared by all workers.
pub trait Workload: Send + Sync + 'static {
    fn next(&self, rng: &mut StdRng, state: &mut WorkerState) -> Op;

    /// Called with every 2xx response body.
    fn on_success(&self, op: &Op, body: &[u8], state: &mut WorkerState) {
        if let Some(t) = op.cursor_tenant {
            match next_cursor(body) {
                Some(c) => {
                    state.cursors.insert(t, c);
                }
                None => {
                    state.cursors.remove(&t);
                }
            }
        }
    }
}

/// `"next_cursor":"<uuid>"` of a product page, without parsing the whole page.
pub fn next_cursor(body: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"\"next_cursor\":\"";
    let at = body.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let end = body[at..].iter().position(|&b| b == b'"')? + at;
    std::str::from_utf8(&body[at..end]).ok().map(str::to_owned)
}

#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    pub connections: usize,
    pub duration: Duration,
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub seed: u64,
}

impl LoadSpec {
    pub fn mode(&self) -> String {
        match self.rate {
            Some(r) => format!("constant rate {r} req/s (latency from scheduled send time)"),
            None => "closed loop (coordinated omission not corrected)".to_owned(),
        }
    }
}

/// Due times of the open model, shared by the workers.
struct Pacer {
    start: Instant,
    rate: f64,
    next: AtomicU64,
}

impl Pacer {
    fn slot(&self) -> Instant {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.start + Duration::from_secs_f64(i as f64 / self.rate)
    }
}

pub struct LoadResult {
    pub recorder: Recorder,
    pub elapsed: Duration,
    /// Connections opened (first ones plus reconnects).
    pub connects: u64,
}

/// Runs `workload` for `spec.duration`, with a progress bar titled `label`.
pub async fn drive(
    target: Arc<Target>,
    workload: Arc<dyn Workload>,
    spec: LoadSpec,
    label: &str,
) -> LoadResult {
    let live = Arc::new(Live::default());
    let start = Instant::now();
    let end = start + spec.duration;
    let pacer = spec.rate.filter(|r| *r > 0.0).map(|rate| {
        Arc::new(Pacer {
            start,
            rate,
            next: AtomicU64::new(0),
        })
    });
    let progress = spawn_progress(label, spec.duration, live.clone());

    let mut tasks = Vec::with_capacity(spec.connections);
    for w in 0..spec.connections {
        let target = target.clone();
        let workload = workload.clone();
        let live = live.clone();
        let pacer = pacer.clone();
        tasks.push(tokio::spawn(async move {
            worker(target, workload, spec, w as u64, end, pacer, live).await
        }));
    }
    let mut recorder = Recorder::default();
    let mut connects = 0;
    for t in tasks {
        match t.await {
            Ok((r, c)) => {
                recorder.merge(&r);
                connects += c;
            }
            Err(e) => recorder.error("worker", &anyhow::anyhow!("worker task failed: {e}")),
        }
    }
    let elapsed = start.elapsed();
    progress.finish_and_clear();
    LoadResult {
        recorder,
        elapsed,
        connects,
    }
}

async fn worker(
    target: Arc<Target>,
    workload: Arc<dyn Workload>,
    spec: LoadSpec,
    index: u64,
    end: Instant,
    pacer: Option<Arc<Pacer>>,
    live: Arc<Live>,
) -> (Recorder, u64) {
    let mut rec = Recorder::default();
    let mut rng = StdRng::seed_from_u64(spec.seed.wrapping_mul(1_000_003).wrapping_add(index));
    let mut state = WorkerState::default();
    let mut conn = match Conn::new(target) {
        Ok(c) => c,
        Err(e) => {
            rec.error("setup", &e);
            return (rec, 0);
        }
    };
    loop {
        let due = match &pacer {
            Some(p) => {
                let due = p.slot();
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                now
            }
        };
        let op = workload.next(&mut rng, &mut state);
        let result = conn
            .request_within(
                spec.timeout,
                op.method.clone(),
                &op.path,
                op.token.as_deref(),
                op.body.clone(),
            )
            .await;
        let latency = due.elapsed();
        match result {
            Ok(resp) => {
                rec.response(op.kind, resp.status, latency);
                if resp.is_success() {
                    live.ok();
                    workload.on_success(&op, &resp.body, &mut state);
                } else {
                    live.failed();
                }
            }
            Err(e) => {
                rec.error(op.kind, &e);
                live.failed();
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    (rec, conn.connects)
}

/// A progress bar over the scenario's duration with live rates; hidden when
/// stderr is not a terminal.
pub fn spawn_progress(label: &str, duration: Duration, live: Arc<Live>) -> ProgressBar {
    let bar = ProgressBar::new(duration.as_millis() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:30}] {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(label.to_owned());
    let b = bar.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        let mut last = (0u64, 0u64);
        let mut last_t = Instant::now();
        while !b.is_finished() {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = live.snapshot();
            let dt = last_t.elapsed().as_secs_f64().max(1e-3);
            b.set_position((started.elapsed().as_millis() as u64).min(b.length().unwrap_or(0)));
            b.set_message(format!(
                "{:>9.0} ok/s  ok {}  failed {}",
                (now.0 - last.0) as f64 / dt,
                now.0,
                now.1
            ));
            last = now;
            last_t = Instant::now();
        }
    });
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_is_found() {
        let body = br#"{"items":[{"id":"x","next_cursor":"no"}],"next_cursor":"0190d3e0-0000-7000-8000-000000000001"}"#;
        assert_eq!(
            next_cursor(body).as_deref(),
            Some("0190d3e0-0000-7000-8000-000000000001")
        );
        assert_eq!(next_cursor(br#"{"items":[],"next_cursor":null}"#), None);
    }
}
