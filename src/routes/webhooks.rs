//! Webhook subscriptions: CRUD, the delivery log and manual redelivery.
//! Back office only (owner, manager): a subscription sends the tenant's
//! receipts and customers to a URL of its choosing.

use super::{double_option, optional_text};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::Json;
use crate::state::AppState;
use actix_web::{delete, get, patch, post, web, HttpResponse};
use jowi_actors::domain::{events, new_id};
use jowi_actors::pg::webhooks::{self as pgw, Delivery, Subscription, SubscriptionEdit};
use jowi_actors::webhooks::{signing, ssrf};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove)
        .service(deliveries)
        .service(redeliver);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    pub url: String,
    /// Event types to receive; empty or absent: every type.
    #[serde(default)]
    #[schema(value_type = Vec<jowi_actors::domain::events::EventType>)]
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// Default true.
    pub active: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookPatch {
    pub url: Option<String>,
    #[schema(value_type = Option<Vec<jowi_actors::domain::events::EventType>>)]
    pub event_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// `true` also resumes a subscription the server paused.
    pub active: Option<bool>,
    /// When given, the edit applies only to this version (409 otherwise).
    pub version: Option<i32>,
}

/// The created subscription and its signing secret (shown only here).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub webhook: Subscription,
    pub secret: String,
}

const MAX_TYPES: usize = 64;

fn check_types(raw: &[String]) -> ApiResult<Vec<String>> {
    if raw.len() > MAX_TYPES {
        return Err(jowi_actors::Error::invalid(
            "event_types",
            format!("at most {MAX_TYPES} entries"),
        )
        .into());
    }
    Ok(events::parse_types("event_types", raw)?)
}

#[utoipa::path(post, path = "/api/v1/webhooks", tag = "integrations", request_body = NewWebhook,
    responses((status = 201, body = CreatedWebhook), (status = 422), (status = 403)))]
#[post("/webhooks")]
pub async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    let body = body.into_inner();
    let types = check_types(&body.event_types)?;
    let description = optional_text("description", body.description.as_deref(), 500)?;
    let checked = ssrf::check_url(&body.url, state.settings.webhooks.allow_private_urls).await?;
    let secret = signing::new_secret();
    let webhook = pgw::create(
        &state.db,
        auth.tenant(),
        pgw::NewSubscription {
            id: new_id(),
            url: &checked.url,
            host: &checked.host,
            secret: &secret,
            event_types: &types,
            description: description.as_deref(),
            active: body.active.unwrap_or(true),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedWebhook { webhook, secret }))
}

#[utoipa::path(get, path = "/api/v1/webhooks", tag = "integrations",
    responses((status = 200, body = Vec<Subscription>)))]
#[get("/webhooks")]
pub async fn list(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    Ok(HttpResponse::Ok().json(pgw::list(&state.db, auth.tenant()).await?))
}

#[utoipa::path(get, path = "/api/v1/webhooks/{id}", tag = "integrations",
    responses((status = 200, body = Subscription), (status = 404)))]
#[get("/webhooks/{id}")]
pub async fn get_one(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    Ok(HttpResponse::Ok().json(pgw::get(&state.db, auth.tenant(), *id).await?))
}

#[utoipa::path(patch, path = "/api/v1/webhooks/{id}", tag = "integrations", request_body = WebhookPatch,
    responses((status = 200, body = Subscription), (status = 404), (status = 409), (status = 422)))]
#[patch("/webhooks/{id}")]
pub async fn update(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<WebhookPatch>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    let body = body.into_inner();
    let types = body.event_types.as_deref().map(check_types).transpose()?;
    let checked = match body.url.as_deref() {
        Some(u) => Some(ssrf::check_url(u, state.settings.webhooks.allow_private_urls).await?),
        None => None,
    };
    let description = match &body.description {
        Some(d) => Some(optional_text("description", d.as_deref(), 500)?),
        None => None,
    };
    let webhook = pgw::update(
        &state.db,
        auth.tenant(),
        *id,
        SubscriptionEdit {
            url: checked.as_ref().map(|c| (c.url.as_str(), c.host.as_str())),
            event_types: types.as_deref(),
            description: description.as_ref().map(|d| d.as_deref()),
            active: body.active,
            expected_version: body.version,
        },
    )
    .await?;
    if body.active == Some(true) {
        state.webhooks.wake();
    }
    Ok(HttpResponse::Ok().json(webhook))
}

#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "integrations",
    responses((status = 204), (status = 404)))]
#[delete("/webhooks/{id}")]
pub async fn remove(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    pgw::delete(&state.db, auth.tenant(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    /// Attempts with an id below this (paging backwards).
    pub before: Option<i64>,
    /// 1..=500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    /// Pass as `before` for older attempts; absent on the last page.
    pub next_before: Option<i64>,
}

/// The delivery log, newest first: every attempt with its status, latency
/// and error.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "integrations",
    params(DeliveriesQuery), responses((status = 200, body = DeliveryPage), (status = 404)))]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<DeliveriesQuery>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(jowi_actors::Error::invalid("limit", "must be 1 to 500").into());
    }
    let rows = pgw::deliveries(&state.db, auth.tenant(), *id, q.before, limit).await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|d| d.id))
        .flatten();
    Ok(HttpResponse::Ok().json(DeliveryPage {
        deliveries: rows,
        next_before,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redeliver {
    /// Deliver again every event from this seq on, in order.
    pub from_seq: i64,
}

/// Manual redelivery: moves the subscription back to `from_seq` (and lifts
/// a pause). Events are sent again with their original event ids, so a
/// receiver that de-duplicates by id is unaffected.
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/redeliver", tag = "integrations",
    request_body = Redeliver,
    responses((status = 200, body = Subscription), (status = 404), (status = 410), (status = 422)))]
#[post("/webhooks/{id}/redeliver")]
pub async fn redeliver(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<Redeliver>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage webhooks")?;
    if body.from_seq < 1 {
        return Err(jowi_actors::Error::invalid("from_seq", "must be 1 or more").into());
    }
    // A claim in progress is revoked; its request in flight (at most one
    // attempt timeout, plus a margin) ends before anyone replays.
    let hold = std::time::Duration::from_millis(state.settings.webhooks.timeout_ms + 1_000);
    let webhook = pgw::redeliver(&state.db, auth.tenant(), *id, body.from_seq, hold).await?;
    state.webhooks.wake();
    Ok(HttpResponse::Ok().json(webhook))
}
