//! `connections`: 1,000 idle keep-alive client connections held open while
//! the barcode scenario runs with the usual workers; the question is how
//! many PostgreSQL connections the server uses then (target: at most 20).
//! Each idle connection sends one barcode lookup every `--idle-ping-ms` so
//! the server's keep-alive timer does not close it.

use super::catalog::Barcode;
use super::{Ctx, ScenarioResult};
use crate::cli::ScenarioName;
use crate::http::Conn;
use crate::load;
use crate::sampler::Sampler;
use crate::stats::Recorder;
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Idle connections opened at once.
const OPEN_PARALLEL: usize = 100;

struct IdleOut {
    opened: bool,
    open_at_end: bool,
    rec: Recorder,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<ScenarioResult> {
    let n = ctx.args.idle_connections;
    let ping = Duration::from_millis(ctx.args.idle_ping_ms.max(100));
    let barcode = Arc::new(Barcode::new(ctx.fixture.clone(), ctx.tokens.clone()));
    let timeout = ctx.spec().timeout;

    // Open the idle connections (each answers one lookup first).
    let (stop_tx, stop_rx) = watch::channel(false);
    let opening = Instant::now();
    let mut idle = Vec::with_capacity(n);
    let mut opened_ok = 0;
    for chunk_start in (0..n).step_by(OPEN_PARALLEL) {
        let chunk = (chunk_start..n.min(chunk_start + OPEN_PARALLEL)).map(|i| {
            let target = ctx.target.clone();
            let barcode = barcode.clone();
            async move {
                let mut rng = StdRng::seed_from_u64(0x1d1e ^ i as u64);
                let mut conn = Conn::new(target).ok()?;
                let op = barcode.op(&mut rng);
                let r = conn
                    .request_within(timeout, op.method, &op.path, op.token.as_deref(), None)
                    .await
                    .ok()?;
                r.is_success().then_some((conn, rng))
            }
        });
        for (i, c) in join_all(chunk).await.into_iter().enumerate() {
            let stop = stop_rx.clone();
            let barcode = barcode.clone();
            let opened = c.is_some();
            opened_ok += usize::from(opened);
            idle.push(tokio::spawn(async move {
                let Some((mut conn, mut rng)) = c else {
                    return IdleOut {
                        opened: false,
                        open_at_end: false,
                        rec: Recorder::default(),
                    };
                };
                keep_alive(&mut conn, &mut rng, &barcode, ping, timeout, stop, i).await
            }));
        }
    }
    let open_secs = opening.elapsed().as_secs_f64();
    println!("connections: {opened_ok}/{n} idle keep-alive connections open in {open_secs:.1} s");

    let spec = ctx.spec();
    let sampler = Sampler::start(&ctx.sampler).await;
    let result = load::drive(ctx.target.clone(), barcode.clone(), spec, "connections").await;
    let samples = sampler.finish().await;
    let _ = stop_tx.send(true);
    let mut idle_rec = Recorder::default();
    let (mut opened, mut open_at_end) = (0, 0);
    for t in idle {
        if let Ok(o) = t.await {
            opened += usize::from(o.opened);
            open_at_end += usize::from(o.open_at_end);
            idle_rec.merge(&o.rec);
        }
    }
    let pings = idle_rec.total();
    let mut r = ScenarioResult::from_load(
        ScenarioName::Connections,
        &spec,
        &result,
        samples,
        "req/s",
        "barcode request of the active workers, from send to the full response (2xx only)",
    );
    r.mode = format!("{} + {n} idle keep-alive connections", spec.mode());
    r.extra = json!({
        "idle_requested": n,
        "idle_opened": opened,
        "idle_open_at_end": open_at_end,
        "idle_ping_ms": ping.as_millis() as u64,
        "idle_pings_ok": pings.ok,
        "idle_pings_non_2xx": pings.non_2xx,
        "idle_pings_errors": pings.errors,
        "idle_ping_error_samples": pings.error_samples,
        "active_connections": spec.connections,
    });
    r.notes.push(format!(
        "connections: {opened}/{n} idle connections opened, {open_at_end} still open at the end; \
         PostgreSQL connections max {} (target <= 20)",
        r.samples
            .pg_connections_max
            .map_or("n/a".to_owned(), |v| v.to_string())
    ));
    Ok(r)
}

async fn keep_alive(
    conn: &mut Conn,
    rng: &mut StdRng,
    barcode: &Barcode,
    every: Duration,
    timeout: Duration,
    mut stop: watch::Receiver<bool>,
    index: usize,
) -> IdleOut {
    let mut rec = Recorder::default();
    // Spread the pings over the interval.
    let mut next = Instant::now() + every.mul_f64((index % 97) as f64 / 97.0);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next.into()) => {}
            _ = stop.changed() => break,
        }
        next += every;
        let op = barcode.op(rng);
        let t0 = Instant::now();
        match conn
            .request_within(timeout, op.method, &op.path, op.token.as_deref(), None)
            .await
        {
            Ok(r) => rec.response("idle-ping", r.status, t0.elapsed()),
            Err(e) => rec.error("idle-ping", &e),
        }
        // Jitter so that the pings do not synchronise.
        next += Duration::from_millis(rng.gen_range(0..20));
    }
    IdleOut {
        opened: true,
        open_at_end: conn.is_open() && conn.connects == 1,
        rec,
    }
}
