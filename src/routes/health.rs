//! Liveness, readiness and the catalog cache figures.

use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use jowi_actors::directory::CacheStats;
use serde_json::json;
use std::time::Duration;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(live).service(ready).service(cache);
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/api/v1/health", tag = "operations",
    responses((status = 200, description = "alive")))]
#[get("/health")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: PostgreSQL answers and, when configured, the Redis bus is up.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "a dependency is down")))]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let db_ok = tokio::time::timeout(Duration::from_secs(2), state.db.ping())
        .await
        .unwrap_or(false);
    let bus_ok = state.bus.connected();
    let status = state.db.pool.status();
    let body = json!({
        "postgres": if db_ok { "up" } else { "down" },
        "bus": {"kind": state.bus.kind(), "connected": bus_ok},
        "db_pool": {"size": status.size, "available": status.available, "max": status.max_size},
    });
    if db_ok && bus_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Catalog cache: hits, misses, hit rate, tenants loaded, entries.
#[utoipa::path(get, path = "/api/v1/health/cache", tag = "operations",
    responses((status = 200, body = CacheStats)))]
#[get("/health/cache")]
pub async fn cache(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.directory.stats())
}
