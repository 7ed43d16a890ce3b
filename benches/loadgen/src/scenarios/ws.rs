//! `ws`: N WebSocket subscribers to one store's live stock
//! (/api/v1/stores/{id}/stock/ws) while receipts are posted to that store at
//! a fixed rate.
//!
//! Method: every receipt sells 3 variants that no other receipt of the run
//! touches within the same few seconds (the tenant's variants are walked in
//! order), so a `change` message is matched to its receipt by variant id.
//! Delivery latency = arrival of the change at a subscriber minus the
//! arrival of the receipt's 201 response at the poster (same process, same
//! monotonic clock). A change may arrive before the 201 (the server fans out
//! at commit, then answers): such deliveries are counted as "before 201"
//! and recorded as 0. The latency from the POST's send time is reported too.

use super::receipt::{sale_body, tills};
use super::{Ctx, ScenarioResult};
use crate::cli::ScenarioName;
use crate::http::Conn;
use crate::sampler::Sampler;
use crate::stats::{new_histogram, record, Latency, Live, Recorder};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use hyper::Method;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// Posting connections (the receipt rate is fixed, so a few suffice).
const POSTERS: usize = 8;
/// Time after the last receipt for the last changes to arrive.
const GRACE: Duration = Duration::from_secs(2);
const CONNECT_WAIT: Duration = Duration::from_secs(15);

#[derive(Default)]
struct Subscriber {
    connected: bool,
    error: Option<String>,
    snapshots: u64,
    other_messages: u64,
    closed_by_server: bool,
    arrivals: Vec<(Uuid, Instant)>,
}

struct Posted {
    variants: [Uuid; 3],
    sent: Instant,
    done: Instant,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<ScenarioResult> {
    let spec = ctx.spec();
    let fixture = ctx.fixture.clone();
    let tenant = &fixture.tenants[0];
    let store = &tenant.stores[0];
    let (shifts, shift_note) = ctx.shifts().await;
    let store_tills: Vec<_> = tills(&fixture, &shifts)
        .into_iter()
        .filter(|t| t.reg.tenant == 0 && t.reg.store == 0)
        .collect();
    if store_tills.is_empty() {
        anyhow::bail!("ws: the first store has no registers");
    }
    let url = ctx
        .target
        .ws_url(&format!("/api/v1/stores/{}/stock/ws", store.id));
    let n = ctx.args.ws_subscribers.max(1);
    let sampler = Sampler::start(&ctx.sampler).await;

    // Subscribers first; load starts when they are in (or gave up).
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(n);
    let token: Arc<str> = Arc::from(tenant.owner_token.as_str());
    let mut subs = Vec::with_capacity(n);
    for _ in 0..n {
        subs.push(tokio::spawn(subscribe(
            url.clone(),
            token.clone(),
            ready_tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(ready_tx);
    let wait_until = Instant::now() + CONNECT_WAIT;
    let mut ready = 0;
    while ready < n {
        match tokio::time::timeout_at(wait_until.into(), ready_rx.recv()).await {
            Ok(Some(())) => ready += 1,
            _ => break,
        }
    }

    // Receipts at a fixed rate, spread over the store's registers.
    let rate = ctx.args.ws_receipt_rate.max(0.1);
    let start = Instant::now();
    let end = start + spec.duration;
    let slot = Arc::new(AtomicU64::new(0));
    let live = Arc::new(Live::default());
    let bar = crate::load::spawn_progress("ws", spec.duration, live.clone());
    let variants = Arc::new(tenant.variants.clone());
    let tills = Arc::new(store_tills);
    let mut posters = Vec::new();
    for _ in 0..POSTERS {
        let (slot, live, variants, tills) =
            (slot.clone(), live.clone(), variants.clone(), tills.clone());
        let target = ctx.target.clone();
        let timeout = spec.timeout;
        posters.push(tokio::spawn(async move {
            let mut rec = Recorder::default();
            let mut posted = Vec::new();
            let Ok(mut conn) = Conn::new(target) else {
                return (rec, posted);
            };
            loop {
                let i = slot.fetch_add(1, Ordering::Relaxed);
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let till = &tills[i as usize % tills.len()];
                let k = (i as usize * 3) % variants.len();
                let picked = [
                    &variants[k],
                    &variants[(k + 1) % variants.len()],
                    &variants[(k + 2) % variants.len()],
                ];
                let body = sale_body(Uuid::now_v7(), till, &picked, true);
                let sent = Instant::now();
                let r = conn
                    .request_within(
                        timeout,
                        Method::POST,
                        "/api/v1/receipts",
                        Some(&till.token),
                        Some(body),
                    )
                    .await;
                let done = Instant::now();
                match r {
                    Ok(resp) => {
                        rec.response("receipt", resp.status, done - sent);
                        if resp.is_success() {
                            live.ok();
                            posted.push(Posted {
                                variants: [picked[0].id, picked[1].id, picked[2].id],
                                sent,
                                done,
                            });
                        } else {
                            live.failed();
                        }
                    }
                    Err(e) => {
                        live.failed();
                        rec.error("receipt", &e);
                    }
                }
            }
            (rec, posted)
        }));
    }
    let mut receipts = Recorder::default();
    let mut posted = Vec::new();
    for p in posters {
        if let Ok((r, mut list)) = p.await {
            receipts.merge(&r);
            posted.append(&mut list);
        }
    }
    let post_elapsed = start.elapsed();
    tokio::time::sleep(GRACE).await;
    let _ = stop_tx.send(true);
    bar.finish_and_clear();
    let mut subscribers = Vec::with_capacity(n);
    for s in subs {
        subscribers.push(s.await.unwrap_or_default());
    }
    let samples = sampler.finish().await;

    // Match arrivals to receipts by variant.
    let mut by_variant: HashMap<Uuid, Vec<(Instant, Instant)>> = HashMap::new();
    for p in &posted {
        for v in p.variants {
            by_variant.entry(v).or_default().push((p.sent, p.done));
        }
    }
    for list in by_variant.values_mut() {
        list.sort_by_key(|(sent, _)| *sent);
    }
    let mut from_201 = new_histogram();
    let mut from_send: Histogram<u64> = new_histogram();
    let (mut matched, mut unmatched, mut early) = (0u64, 0u64, 0u64);
    for s in &subscribers {
        for (variant, at) in &s.arrivals {
            let hit = by_variant
                .get(variant)
                .and_then(|l| l.iter().rev().find(|(sent, _)| sent <= at));
            match hit {
                Some((sent, done)) => {
                    matched += 1;
                    record(&mut from_send, *at - *sent);
                    if at >= done {
                        record(&mut from_201, *at - *done);
                    } else {
                        early += 1;
                        record(&mut from_201, Duration::ZERO);
                    }
                }
                None => unmatched += 1,
            }
        }
    }
    let connected = subscribers.iter().filter(|s| s.connected).count();
    let mut connect_errors: HashMap<String, u64> = HashMap::new();
    for s in &subscribers {
        if let Some(e) = &s.error {
            *connect_errors.entry(e.clone()).or_default() += 1;
        }
    }
    let receipt_total = receipts.total();
    let expected = receipt_total.ok * 3 * connected as u64;
    let secs = post_elapsed.as_secs_f64().max(1e-9);
    let extra = json!({
        "subscribers": n,
        "subscribers_connected": connected,
        "subscribers_closed_by_server": subscribers.iter().filter(|s| s.closed_by_server).count(),
        "snapshots": subscribers.iter().map(|s| s.snapshots).sum::<u64>(),
        "other_messages": subscribers.iter().map(|s| s.other_messages).sum::<u64>(),
        "subscriber_errors": connect_errors,
        "receipt_rate_target": rate,
        "receipts_ok": receipt_total.ok,
        "receipts_per_s": receipt_total.ok as f64 / secs,
        "receipt_latency": Latency::of(&receipt_total.hist),
        "receipt_statuses": receipt_total.statuses,
        "expected_deliveries": expected,
        "matched_deliveries": matched,
        "unmatched_changes": unmatched,
        "delivered_before_201": early,
        "delivery_latency_from_201": Latency::of(&from_201),
        "delivery_latency_from_send": Latency::of(&from_send),
    });
    let mut notes = vec![
        shift_note,
        format!(
            "ws: {connected}/{n} subscribers on store {}; receipts at {rate}/s; \
             {matched} of {expected} expected deliveries matched, {early} arrived before the 201",
            store.id
        ),
    ];
    if !connect_errors.is_empty() {
        notes.push(format!("ws subscriber errors: {connect_errors:?}"));
    }
    Ok(ScenarioResult {
        name: ScenarioName::Ws.as_str().to_owned(),
        mode: format!(
            "{n} subscribers, receipts at a constant {rate}/s over {POSTERS} connections"
        ),
        connections: n,
        duration_s: secs,
        ok: matched,
        per_s: matched as f64 / secs,
        unit: "deliveries/s".to_owned(),
        non_2xx: receipt_total.non_2xx,
        errors: receipt_total.errors + (n - connected) as u64,
        latency: Latency::of(&from_201),
        latency_of: "stock change delivery: arrival at a subscriber minus arrival of the \
                     receipt's 201 (0 if it came first)"
            .to_owned(),
        kinds: vec![],
        samples,
        extra,
        notes,
    })
}

async fn subscribe(
    url: String,
    token: Arc<str>,
    ready: mpsc::Sender<()>,
    mut stop: watch::Receiver<bool>,
) -> Subscriber {
    let mut s = Subscriber::default();
    let request = url.as_str().into_client_request().map(|mut r| {
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
            r.headers_mut().insert("authorization", v);
        }
        r
    });
    let connected = match request {
        Ok(r) => tokio::time::timeout(CONNECT_WAIT, tokio_tungstenite::connect_async(r)).await,
        Err(e) => {
            s.error = Some(format!("bad request: {e}"));
            let _ = ready.send(()).await;
            return s;
        }
    };
    let mut stream = match connected {
        Ok(Ok((stream, _))) => stream,
        Ok(Err(e)) => {
            s.error = Some(format!("connect: {e}"));
            let _ = ready.send(()).await;
            return s;
        }
        Err(_) => {
            s.error = Some("connect: timeout".to_owned());
            let _ = ready.send(()).await;
            return s;
        }
    };
    s.connected = true;
    let mut announced = false;
    loop {
        let msg = tokio::select! {
            m = stream.next() => m,
            _ = stop.changed() => break,
        };
        let at = Instant::now();
        match msg {
            Some(Ok(Message::Text(text))) => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                match v.get("type").and_then(|t| t.as_str()) {
                    Some("change") => {
                        if let Some(id) = v
                            .get("variant_id")
                            .and_then(|x| x.as_str())
                            .and_then(|x| Uuid::parse_str(x).ok())
                        {
                            s.arrivals.push((id, at));
                        }
                    }
                    Some("snapshot") => {
                        s.snapshots += 1;
                        if !announced {
                            announced = true;
                            let _ = ready.send(()).await;
                        }
                    }
                    _ => s.other_messages += 1,
                }
            }
            Some(Ok(Message::Close(_))) | None => {
                s.closed_by_server = true;
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                s.error = Some(format!("read: {e}"));
                break;
            }
        }
    }
    if !announced {
        let _ = ready.send(()).await;
    }
    let _ = stream.close(None).await;
    s
}
