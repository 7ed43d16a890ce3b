//! The background tasks: sequencer, delivery loop, retention, metrics.

use super::metrics::WebhookMetrics;
use super::signing::{
    self, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use super::ssrf::{literal_allowed, GuardedResolver};
use super::WebhookSettings;
use crate::pg::webhooks::{self as pgw, Attempt, Claimed, Delivered, Outgoing};
use crate::pg::Db;
use crate::pg::{outbox, vacuum};
use chrono::Utc;
use parking_lot::Mutex;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;
use uuid::Uuid;

/// Events the sequencer moves per statement.
const SEQUENCE_CHUNK: i64 = 5_000;
/// Events read per round trip while delivering one subscription.
const READ_AHEAD: i64 = 100;
/// Successes are recorded (cursor, log, lease) every this many events or
/// this often, whichever comes first, and before anything else is done.
const RECORD_EVERY: usize = 50;
const RECORD_AFTER: Duration = Duration::from_millis(250);

/// Lets the rest of the server wake the worker.
#[derive(Clone)]
pub struct WebhookHandle {
    wake: Arc<Notify>,
    committed: Arc<Notify>,
    /// This instance's id as a lease owner (in the delivery log).
    pub worker_id: Uuid,
}

impl WebhookHandle {
    /// New events or a resumed subscription may be waiting: run the
    /// sequencer and the delivery loop now instead of at their next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What a writer signals after a commit that may have appended outbox
    /// rows: the sequencer publishes them within `sequencer_interval_ms`
    /// instead of at its idle poll. Signals coalesce (a busy writer's
    /// commits are published together).
    pub fn commit_signal(&self) -> Arc<Notify> {
        Arc::clone(&self.committed)
    }
}

struct Ctx {
    db: Db,
    settings: WebhookSettings,
    metrics: WebhookMetrics,
    http: reqwest::Client,
    owner: Uuid,
    global: Arc<Semaphore>,
    hosts: Mutex<HashMap<String, usize>>,
    deliver_wake: Notify,
}

/// Starts the tasks on the current runtime. `db` should be a pool of its
/// own (`webhooks.pool_max`).
pub fn start(
    db: Db,
    settings: WebhookSettings,
    metrics: WebhookMetrics,
) -> anyhow::Result<WebhookHandle> {
    let mut http = reqwest::Client::builder()
        // rustls with the operating system's root store (reqwest's
        // `rustls-tls-native-roots`), plus `ca_file` for private CAs.
        .use_rustls_tls()
        .tls_built_in_root_certs(true)
        .timeout(Duration::from_millis(settings.timeout_ms))
        .connect_timeout(Duration::from_millis(settings.timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: settings.allow_private_urls,
        }))
        // Keep-alive: at most per_host_concurrency requests run per host, so
        // that many idle connections cover every delivery to it.
        .pool_max_idle_per_host(settings.per_host_concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .user_agent("jowi-webhooks/1");
    if let Some(path) = &settings.ca_file {
        for cert in extra_roots(path)? {
            http = http.add_root_certificate(cert);
        }
    }
    let http = http.build()?;
    let wake = Arc::new(Notify::new());
    let committed = Arc::new(Notify::new());
    let handle = WebhookHandle {
        wake: Arc::clone(&wake),
        committed: Arc::clone(&committed),
        worker_id: Uuid::new_v4(),
    };
    let ctx = Arc::new(Ctx {
        global: Arc::new(Semaphore::new(settings.max_concurrent)),
        db,
        metrics,
        http,
        owner: handle.worker_id,
        hosts: Mutex::new(HashMap::new()),
        deliver_wake: Notify::new(),
        settings,
    });
    if ctx.settings.enabled {
        tokio::spawn(sequencer(Arc::clone(&ctx), wake, committed));
        tokio::spawn(deliver_loop(Arc::clone(&ctx)));
        tokio::spawn(retention(Arc::clone(&ctx)));
        tokio::spawn(gauges(ctx));
    }
    Ok(handle)
}

/// The certificates of a PEM bundle (`webhooks.ca_file`); an unreadable
/// file or one without a certificate stops the start with its name.
fn extra_roots(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("webhooks.ca_file: cannot read {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        anyhow::anyhow!(
            "webhooks.ca_file: {} is not a PEM bundle: {e}",
            path.display()
        )
    })?;
    if certs.is_empty() {
        anyhow::bail!("webhooks.ca_file: {} holds no certificate", path.display());
    }
    Ok(certs)
}

/// Publishes committed outbox rows. It sleeps until this instance's writer
/// signals a commit (`committed`), something asks for the worker (`wake`),
/// or `sequencer_idle_ms` passes (rows other instances committed), and
/// runs at most once per `sequencer_interval_ms` so a busy writer's commits
/// are published together: an idle server makes one small transaction per
/// idle period instead of one per tick.
async fn sequencer(ctx: Arc<Ctx>, wake: Arc<Notify>, committed: Arc<Notify>) {
    let gap = Duration::from_millis(ctx.settings.sequencer_interval_ms);
    let idle = Duration::from_millis(ctx.settings.sequencer_idle_ms.max(1));
    let mut last_run = Instant::now();
    let vacuum_every = Duration::from_millis(ctx.settings.pending_vacuum_interval_ms);
    let mut last_vacuum = Instant::now();
    let mut moved_since_vacuum: u64 = 0;
    loop {
        let woken = tokio::select! {
            _ = wake.notified() => true,
            _ = committed.notified() => false,
            _ = tokio::time::sleep(idle) => false,
        };
        if woken {
            // A subscription was resumed or rewound: look for work now.
            ctx.deliver_wake.notify_one();
        }
        // Coalesce: whatever else commits during the gap is published in
        // this run (the signal received meanwhile only wakes the next).
        let since = last_run.elapsed();
        if since < gap {
            tokio::time::sleep(gap - since).await;
        }
        last_run = Instant::now();
        loop {
            match outbox::sequence(&ctx.db, SEQUENCE_CHUNK).await {
                Ok(Some(n)) if n > 0 => {
                    ctx.metrics.sequenced.inc_by(n);
                    moved_since_vacuum += n;
                    ctx.deliver_wake.notify_one();
                    if (n as i64) < SEQUENCE_CHUNK {
                        break;
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox sequencer step failed; retrying next tick");
                    break;
                }
            }
        }
        // The moved rows are dead rows in the queue's heap and index until
        // a vacuum; left to autovacuum they slow every later step.
        if moved_since_vacuum > 0
            && !vacuum_every.is_zero()
            && last_vacuum.elapsed() >= vacuum_every
        {
            match vacuum::vacuum(&ctx.db, vacuum::QUEUE, false, false).await {
                Ok(()) => moved_since_vacuum = 0,
                Err(e) => tracing::warn!(error = %e, "vacuum of outbox_pending failed"),
            }
            last_vacuum = Instant::now();
        }
    }
}

async fn retention(ctx: Arc<Ctx>) {
    let keep = Duration::from_secs(ctx.settings.retention_h * 3600);
    loop {
        loop {
            match outbox::prune(&ctx.db, keep, 10_000).await {
                Ok(n) if n >= 10_000 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "event retention failed; retrying later");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

async fn gauges(ctx: Arc<Ctx>) {
    loop {
        if let Ok((n, age)) = outbox::pending_stats(&ctx.db).await {
            ctx.metrics.outbox_pending.set(n);
            ctx.metrics.outbox_oldest_seconds.set(age);
        }
        if let Ok((backlog, oldest, paused)) = pgw::backlog_stats(&ctx.db).await {
            ctx.metrics.backlog.set(backlog);
            ctx.metrics.oldest_undelivered_seconds.set(oldest);
            ctx.metrics.paused.set(paused);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn deliver_loop(ctx: Arc<Ctx>) {
    let every = Duration::from_millis(ctx.settings.poll_interval_ms);
    let lease = Duration::from_secs(ctx.settings.lease_s);
    loop {
        tokio::select! {
            _ = ctx.deliver_wake.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
        loop {
            let free = ctx.global.available_permits();
            if free == 0 {
                break;
            }
            let busy: Vec<String> = ctx
                .hosts
                .lock()
                .iter()
                .filter(|(_, n)| **n >= ctx.settings.per_host_concurrency)
                .map(|(h, _)| h.clone())
                .collect();
            let claimed = match pgw::claim(&ctx.db, ctx.owner, free as i64, lease, &busy).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming webhook subscriptions failed");
                    break;
                }
            };
            if claimed.is_empty() {
                break;
            }
            for c in claimed {
                let Ok(permit) = Arc::clone(&ctx.global).try_acquire_owned() else {
                    let _ = pgw::release(&ctx.db, ctx.owner, &c, c.cursor_seq).await;
                    continue;
                };
                let room = {
                    let mut hosts = ctx.hosts.lock();
                    let n = hosts.entry(c.host.clone()).or_default();
                    if *n >= ctx.settings.per_host_concurrency {
                        false
                    } else {
                        *n += 1;
                        true
                    }
                };
                if !room {
                    let _ = pgw::release(&ctx.db, ctx.owner, &c, c.cursor_seq).await;
                    continue;
                }
                let span =
                    tracing::info_span!("webhook", tenant_id = %c.tenant_id, webhook_id = %c.id);
                tokio::spawn(run_claim(Arc::clone(&ctx), c, permit).instrument(span));
            }
        }
    }
}

/// Delivers a claimed subscription's events in order until it is caught
/// up, an attempt fails, or it has had its share (`events_per_claim`).
async fn run_claim(ctx: Arc<Ctx>, mut c: Claimed, permit: OwnedSemaphorePermit) {
    if let Err(e) = deliver_claim(&ctx, &mut c).await {
        tracing::warn!(tenant_id = %c.tenant_id, webhook_id = %c.id, error = %e,
            "webhook delivery stopped on a database error; the lease will expire");
    }
    {
        let mut hosts = ctx.hosts.lock();
        if let Some(n) = hosts.get_mut(&c.host) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                hosts.remove(&c.host);
            }
        }
    }
    drop(permit);
    // Room for another claim (or this one again, if it had more).
    ctx.deliver_wake.notify_one();
}

async fn deliver_claim(ctx: &Ctx, c: &mut Claimed) -> crate::Result<()> {
    let lease = Duration::from_secs(ctx.settings.lease_s);
    let mut delivered = 0usize;
    // Successes not yet recorded, and when the last record was made.
    let mut done: Vec<Delivered> = Vec::new();
    let mut recorded_at = Instant::now();
    let target = target(ctx, c);
    loop {
        // Read past what was delivered, recorded or not.
        let after = done.last().map_or(c.cursor_seq, |d| d.seq);
        let (head, events) = pgw::next_events(&ctx.db, c, after, READ_AHEAD).await?;
        if events.is_empty() {
            return finish(ctx, c, &mut done, lease, head).await;
        }
        // A short page holds every matching event up to the head read in
        // the same snapshot: once it is delivered the claim ends at the
        // head, without another read to find nothing.
        let last_page = (events.len() as i64) < READ_AHEAD;
        for event in &events {
            let attempt = c.failures + 1;
            let started = Instant::now();
            let result = send(ctx, c, &target, event).await;
            let elapsed = started.elapsed();
            ctx.metrics.delivery_seconds.observe(elapsed.as_secs_f64());
            let latency_ms = elapsed.as_millis().min(i32::MAX as u128) as i32;
            match result {
                Ok(status) => {
                    ctx.metrics.delivered.inc();
                    done.push(Delivered {
                        seq: event.seq,
                        event_id: event.event_id,
                        event_type: event.event_type.clone(),
                        attempt,
                        status_code: status,
                        latency_ms,
                    });
                    c.failures = 0;
                    c.first_failure_at = None;
                    delivered += 1;
                    if done.len() >= RECORD_EVERY || recorded_at.elapsed() >= RECORD_AFTER {
                        if !flush(ctx, c, &mut done, lease).await? {
                            return Ok(());
                        }
                        recorded_at = Instant::now();
                    }
                    if delivered >= ctx.settings.events_per_claim {
                        // Let other subscriptions have a turn.
                        return finish(ctx, c, &mut done, lease, event.seq).await;
                    }
                }
                Err((status, error)) => {
                    if !flush(ctx, c, &mut done, lease).await? {
                        return Ok(());
                    }
                    ctx.metrics.failed.inc();
                    let failures = c.failures + 1;
                    let first = c.first_failure_at.unwrap_or_else(Utc::now);
                    let failing_for = (Utc::now() - first).num_seconds().max(0) as u64;
                    let pause = (failing_for >= ctx.settings.retry_window_s).then(|| {
                        format!(
                            "paused after {failures} failed attempts over {failing_for} s to \
                             deliver event {} ({}); last error: {error}. Fix the receiver, then \
                             PATCH the webhook with active=true to resume from that event",
                            event.seq, event.event_type
                        )
                    });
                    let a = Attempt {
                        event,
                        attempt,
                        status_code: status,
                        ok: false,
                        error: Some(&error),
                        latency_ms,
                    };
                    let retry_in = backoff(&ctx.settings, failures);
                    tracing::info!(webhook_id = %c.id, seq = event.seq, attempt, error = %error,
                        retry_in_ms = retry_in.as_millis() as u64, paused = pause.is_some(),
                        "webhook attempt failed");
                    pgw::record_failure(&ctx.db, ctx.owner, c, &a, retry_in, pause.as_deref())
                        .await?;
                    return Ok(());
                }
            }
        }
        if last_page {
            return finish(ctx, c, &mut done, lease, head).await;
        }
    }
}

/// Ends a claim: records the successes in `done` and releases the
/// subscription with its cursor at `cursor` (or further), in one statement.
async fn finish(
    ctx: &Ctx,
    c: &mut Claimed,
    done: &mut Vec<Delivered>,
    lease: Duration,
    cursor: i64,
) -> crate::Result<()> {
    if done.is_empty() {
        return pgw::release(&ctx.db, ctx.owner, c, cursor).await;
    }
    if !pgw::record_successes(&ctx.db, ctx.owner, c, done, lease, Some(cursor)).await? {
        tracing::warn!(webhook_id = %c.id, "webhook lease lost; stopping");
    }
    done.clear();
    Ok(())
}

/// Records the successes in `done` (cursor, log, lease); false when the
/// lease was lost.
async fn flush(
    ctx: &Ctx,
    c: &mut Claimed,
    done: &mut Vec<Delivered>,
    lease: Duration,
) -> crate::Result<bool> {
    let Some(last) = done.last().map(|d| d.seq) else {
        return Ok(true);
    };
    if !pgw::record_successes(&ctx.db, ctx.owner, c, done, lease, None).await? {
        tracing::warn!(webhook_id = %c.id, "webhook lease lost; stopping");
        return Ok(false);
    }
    c.cursor_seq = last;
    done.clear();
    Ok(true)
}

/// Delay before attempt `failures + 1`: base * 2^(failures-1), capped, with
/// ±25% jitter so receivers that come back are not hit by every sender at
/// the same instant.
pub fn backoff(s: &WebhookSettings, failures: i32) -> Duration {
    let exp = (failures.max(1) - 1).min(30) as u32;
    let raw = s
        .backoff_base_ms
        .saturating_mul(1u64 << exp)
        .min(s.backoff_max_ms.max(s.backoff_base_ms));
    let jitter = rand::thread_rng().gen_range(0.75..1.25);
    Duration::from_millis((raw as f64 * jitter) as u64)
}

/// What every attempt of one claim shares, made once per claim: the parsed
/// and checked URL and the secret's HMAC key blocks; or why no attempt can
/// be made (each attempt then fails with it, and is logged).
type Target = Result<(reqwest::Url, signing::Signer), String>;

fn target(ctx: &Ctx, c: &Claimed) -> Target {
    let url = reqwest::Url::parse(&c.url).map_err(|e| format!("bad URL: {e}"))?;
    if !literal_allowed(&url, ctx.settings.allow_private_urls) {
        return Err("the URL points at a private address".into());
    }
    Ok((url, signing::Signer::new(&c.secret)))
}

/// One signed POST. Ok(status) on 2xx; otherwise the status (if any) and
/// a readable error.
async fn send(
    ctx: &Ctx,
    c: &Claimed,
    target: &Target,
    event: &Outgoing,
) -> Result<i32, (Option<i32>, String)> {
    let (url, signer) = target.as_ref().map_err(|e| (None, e.clone()))?;
    let body = event.body(c.tenant_id);
    let ts = Utc::now().timestamp();
    let signature = signer.sign(ts, &body);
    let request = ctx
        .http
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature)
        .header(TIMESTAMP_HEADER, ts.to_string())
        .header(EVENT_ID_HEADER, event.event_id.to_string())
        .header(EVENT_TYPE_HEADER, event.event_type.as_str())
        .body(body)
        .send();
    // The client's timeout covers the whole exchange; this is the backstop
    // that keeps an attempt inside its lease whatever happens.
    let hard = Duration::from_millis(ctx.settings.timeout_ms + 1000);
    match tokio::time::timeout(hard, request).await {
        Err(_) => Err((
            None,
            format!("timed out after {} ms", ctx.settings.timeout_ms),
        )),
        Ok(Err(e)) => Err((None, describe(&e, ctx.settings.timeout_ms))),
        Ok(Ok(resp)) => {
            let status = resp.status();
            if status.is_success() {
                Ok(i32::from(status.as_u16()))
            } else {
                Err((
                    Some(i32::from(status.as_u16())),
                    format!("receiver answered HTTP {}", status.as_u16()),
                ))
            }
        }
    }
}

fn describe(e: &reqwest::Error, timeout_ms: u64) -> String {
    if e.is_timeout() {
        return format!("timed out after {timeout_ms} ms");
    }
    let mut out = if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    let mut tls = false;
    while let Some(s) = source {
        let text = s.to_string();
        tls |= text.contains("certificate");
        out.push_str(": ");
        out.push_str(&text);
        source = s.source();
    }
    let out: String = out.chars().take(500).collect();
    if tls {
        // The advice first: the chain can be long.
        return format!(
            "TLS certificate not trusted (it must chain to a root of the operating system's \
             store or of webhooks.ca_file, and name the URL's host): {out}"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebhookSettings {
        WebhookSettings {
            enabled: true,
            allow_private_urls: false,
            timeout_ms: 10_000,
            max_concurrent: 16,
            per_host_concurrency: 4,
            poll_interval_ms: 500,
            sequencer_interval_ms: 50,
            backoff_base_ms: 10_000,
            backoff_max_ms: 3_600_000,
            retry_window_s: 259_200,
            lease_s: 60,
            events_per_claim: 100,
            retention_h: 168,
            pool_max: 3,
            sequencer_idle_ms: 1000,
            ca_file: None,
            pending_vacuum_interval_ms: 10_000,
        }
    }

    #[test]
    fn backoff_doubles_within_jitter_and_is_capped() {
        let s = settings();
        for (failures, nominal) in [(1, 10_000u64), (2, 20_000), (4, 80_000), (30, 3_600_000)] {
            let d = backoff(&s, failures).as_millis() as u64;
            assert!(
                d >= nominal * 3 / 4 && d <= nominal * 5 / 4,
                "{failures}: {d} vs {nominal}"
            );
        }
    }
}
