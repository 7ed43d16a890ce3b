//! `receipt-webhook`: the `receipt` workload while the first
//! `--webhook-subscriptions` (default 1) bench tenants each have one active
//! webhook subscription (all event types) pointing at a sink this tool
//! serves on 127.0.0.1. Run it next to `receipt` in the same run
//! (`--scenarios receipt,receipt-webhook`) to compare receipt throughput
//! with and without delivery. The server must accept loopback webhook URLs
//! (`JOWI__WEBHOOKS__ALLOW_PRIVATE_URLS=true`; benches/run.sh sets it).
//! The subscriptions are deleted afterwards.

use super::{http_scenario, receipt, Ctx, ScenarioResult};
use crate::cli::ScenarioName;
use crate::http::Conn;
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Answers 200 to every POST and counts them.
struct Sink {
    url: String,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/bench-sink", listener.local_addr()?);
        let received = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let counter = Arc::clone(&counter);
                        async move {
                            // Read the whole body, as a receiver would.
                            let _ = req.into_body().collect().await;
                            counter.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from_static(b"ok"),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(Sink {
            url,
            received,
            task,
        })
    }

    fn count(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<ScenarioResult> {
    let sink = Sink::start().await?;
    let mut conn = Conn::new(ctx.target.clone())?;
    let mut subs = Vec::new();
    for t in ctx
        .fixture
        .tenants
        .iter()
        .take(ctx.args.webhook_subscriptions.max(1))
    {
        let body = json!({"url": sink.url, "description": "jowi-bench sink"});
        let resp = conn
            .request_within(
                Duration::from_secs(10),
                Method::POST,
                "/api/v1/webhooks",
                Some(&t.owner_token),
                Some(Bytes::from(body.to_string())),
            )
            .await
            .context("subscribing the bench sink")?;
        if resp.status != 201 {
            anyhow::bail!(
                "POST /api/v1/webhooks answered {}: {} (is JOWI__WEBHOOKS__ALLOW_PRIVATE_URLS=true?)",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&resp.body)?;
        let id = v
            .pointer("/webhook/id")
            .and_then(|x| x.as_str())
            .context("no webhook id in the answer")?
            .to_owned();
        subs.push((t.owner_token.clone(), id));
    }
    let (shifts, note) = ctx.shifts().await;
    let w = receipt::Receipts::new(ctx.fixture.clone(), &shifts);
    let before = sink.count();
    let mut r = http_scenario(ctx, ScenarioName::ReceiptWebhook, Arc::new(w), "receipts/s").await;
    let during = sink.count() - before;
    // How long the backlog takes to drain once the load stops: until the
    // sink has heard nothing for 2 s (at most 120 s).
    let drain_started = Instant::now();
    let mut last = sink.count();
    let mut quiet_since = Instant::now();
    while drain_started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = sink.count();
        if now != last {
            last = now;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(2) {
            break;
        }
    }
    let drain_s = quiet_since.duration_since(drain_started).as_secs_f64();
    for (token, id) in &subs {
        let _ = conn
            .request_within(
                Duration::from_secs(10),
                Method::DELETE,
                &format!("/api/v1/webhooks/{id}"),
                Some(token),
                None,
            )
            .await;
    }
    sink.task.abort();
    r.extra = json!({
        "subscriptions": subs.len(),
        "deliveries_during_load": during,
        "deliveries_total": last - before,
        "drain_after_load_s": drain_s,
    });
    r.notes.push(note);
    r.notes.push(format!(
        "{} active webhook subscription(s) (all event types) to a local sink: {} deliveries during the load, {} in all; backlog drained {:.1} s after the load stopped",
        subs.len(),
        during,
        last - before,
        drain_s
    ));
    Ok(r)
}
