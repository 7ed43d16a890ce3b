//! Stock: levels per store, stock documents (receiving, write-off, transfer,
//! inventory count), and the live stock WebSocket.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use jowi_actors::directory::stock_documents::DocumentPosted;
use jowi_actors::domain::stock::{Level, NewDocument, PostedDocument};
use jowi_actors::pg::stock;
use jowi_actors::store::messages::Subscribe;
use jowi_actors::store::stock::{Resume, Start, StockEvent};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(store_levels).service(ws).service(post_movement);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LevelParams {
    pub variant_id: Option<Uuid>,
    /// 1..=10000, default 1000.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<i64>,
}

/// Stock levels of a store's warehouses (negative ones flagged).
#[utoipa::path(get, path = "/api/v1/stores/{id}/stock", tag = "stock", params(LevelParams),
    responses((status = 200, body = Vec<Level>), (status = 404)))]
#[get("/stores/{id}/stock")]
pub async fn store_levels(
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<LevelParams>,
) -> ApiResult<HttpResponse> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 10000").into());
    }
    let store = tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    let rows = stock::levels(
        &state.db,
        tenant.auth.tenant(),
        &store.warehouse_ids,
        q.variant_id,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Post a stock document. Idempotent by id like receipts (201 / 200 replay / 409).
#[utoipa::path(post, path = "/api/v1/stock/movements", tag = "stock", request_body = NewDocument,
    responses((status = 201, body = PostedDocument), (status = 200, body = PostedDocument, description = "replay"),
              (status = 409), (status = 422)))]
#[post("/stock/movements")]
pub async fn post_movement(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: Json<NewDocument>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("post stock documents")?;
    Ok(
        match state.directory.post_stock_document(&tenant, &body).await? {
            DocumentPosted::Created(d) => HttpResponse::Created().json(d),
            DocumentPosted::Replayed(d) => HttpResponse::Ok().json(d),
        },
    )
}

#[derive(Serialize)]
struct SnapshotMsg<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: u32,
    seq: u64,
    levels: &'a [Level],
}

#[derive(Serialize)]
struct ReplayMsg<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    epoch: u32,
    changes: &'a [jowi_actors::store::stock::StockChange],
}

#[derive(Serialize)]
struct ChangeMsg<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    change: &'a jowi_actors::store::stock::StockChange,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WsParams {
    /// Resume after this sequence number (replay if still held, else snapshot).
    pub since_seq: Option<u64>,
    /// The `epoch` of the snapshot or replay that gave `since_seq`: numbers
    /// of another instance or of a restarted store never replay.
    pub epoch: Option<u32>,
}

/// Live stock of a store over WebSocket: a snapshot (or the missed changes),
/// then every change in order. A subscriber too slow to keep up is closed
/// with reason "slow consumer" and may resubscribe with `since_seq`.
#[utoipa::path(get, path = "/api/v1/stores/{id}/stock/ws", tag = "stock", params(WsParams),
    responses((status = 101, description = "switching to WebSocket"), (status = 401), (status = 404)))]
#[get("/stores/{id}/stock/ws")]
pub async fn ws(
    req: HttpRequest,
    body: web::Payload,
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<WsParams>,
) -> ApiResult<HttpResponse> {
    let store = state.directory.store(&tenant, *id).await?;
    let sub = store
        .send(Subscribe {
            resume: match (q.epoch, q.since_seq) {
                (Some(epoch), Some(seq)) => Some(Resume { epoch, seq }),
                _ => None,
            },
        })
        .await
        .map_err(ApiError::from)?;
    let (response, mut session, mut incoming) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let metrics = state.metrics.clone();
    // The session ends when its token is revoked (checked again in full
    // if revocations came too fast to follow). A back-office page signed in
    // by cookie has no bearer token to revoke.
    let token = crate::auth::bearer(&req).ok();
    let token_hash = token.as_deref().map(jowi_actors::auth::hash_token);
    let authenticator = std::sync::Arc::clone(&state.auth);
    let mut revocations = authenticator.revocations();
    let shutdown = state.shutdown.clone();
    actix_rt::spawn(async move {
        // Holding the tenant's handle keeps it (and this store's actor)
        // from idle eviction while someone is watching.
        let _tenant = tenant;
        let mut events = sub.events;
        // Serialized straight from typed values: a snapshot of a big store
        // is megabytes, and a serde_json::Value of it would be many times that.
        let (first, mut last_seq) = match sub.start {
            Start::Snapshot { seq, levels } => {
                let msg = SnapshotMsg {
                    kind: "snapshot",
                    epoch: sub.epoch,
                    seq,
                    levels: &levels,
                };
                (serde_json::to_string(&msg).unwrap_or_default(), seq)
            }
            Start::Replay(changes) => {
                let last = changes.last().map_or(q.since_seq.unwrap_or(0), |c| c.seq);
                let msg = ReplayMsg {
                    kind: "replay",
                    epoch: sub.epoch,
                    changes: &changes,
                };
                (serde_json::to_string(&msg).unwrap_or_default(), last)
            }
        };
        let mut ok = session.text(first).await.is_ok();
        let mut close_reason = None;
        while ok {
            tokio::select! {
                revoked = revocations.recv(), if token.is_some() => match revoked {
                    Ok(hash) if Some(hash) != token_hash => {}
                    Err(RecvError::Lagged(_))
                        if authenticator
                            .authenticate(token.as_deref().unwrap_or_default())
                            .await
                            .is_ok() => {}
                    _ => {
                        close_reason = Some(actix_ws::CloseReason {
                            code: actix_ws::CloseCode::Policy,
                            description: Some("token revoked".into()),
                        });
                        break;
                    }
                },
                ev = events.recv() => match ev {
                    Some(StockEvent::Change(c)) => {
                        last_seq = c.seq;
                        let msg = ChangeMsg { kind: "change", change: &c };
                        ok = session.text(serde_json::to_string(&msg).unwrap_or_default()).await.is_ok();
                    }
                    None => {
                        let reason = if sub.lagged.load(Ordering::SeqCst) {
                            format!(
                                "slow consumer; resubscribe with epoch={}&since_seq={last_seq}",
                                sub.epoch
                            )
                        } else {
                            "store stopped; resubscribe".to_owned()
                        };
                        let _ = session
                            .clone()
                            .close(Some(actix_ws::CloseReason {
                                code: actix_ws::CloseCode::Policy,
                                description: Some(reason),
                            }))
                            .await;
                        return;
                    }
                },
                () = shutdown.wait() => {
                    let _ = session
                        .clone()
                        .close(Some(actix_ws::CloseReason {
                            code: actix_ws::CloseCode::Away,
                            description: Some(crate::shutdown::WS_CLOSE_REASON.into()),
                        }))
                        .await;
                    break;
                }
                msg = incoming.next() => match msg {
                    Some(Ok(actix_ws::Message::Ping(p))) => ok = session.pong(&p).await.is_ok(),
                    Some(Ok(actix_ws::Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        // The actor notices the closed channel on its next change.
        drop(events);
        metrics.ws_subscribers.dec();
        let _ = session.close(close_reason).await;
    });
    Ok(response)
}
