//! Logs: a tracing subscriber, and a span per request carrying the request
//! id (from X-Request-Id or new), method, path, the client address (see
//! `client_addr`) and — once authenticated —
//! the tenant.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // actix-web-prom warns on every wrong-method request to a path with
    // parameters (it cannot fill the pattern); those are ordinary 405s.
    let filter = match "actix_web_prom=error".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let json = std::env::var("JOWI_LOG_JSON").is_ok_and(|v| v == "1");
    // Colour only on a terminal: escapes in a file or pipe garble the log.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_target(false);
    // try_init: tests call this once per app.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// A request id unique across instances and cheap on the hot path: a random
/// per-process prefix and a counter (no random number per request).
fn next_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(rand::random::<u32>);
    format!(
        "{prefix:08x}{:012x}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_owned)
        .unwrap_or_else(next_request_id);
    // Behind a trusted proxy, the client it names (`server.trusted_proxies`).
    let client = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .and_then(|s| s.proxies.of_service_request(&req))
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.path(),
        client = %client,
        tenant_id = tracing::field::Empty,
        store_id = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let mut res = next.call(req).instrument(span.clone()).await?;
    span.record("status", res.status().as_u16());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}
