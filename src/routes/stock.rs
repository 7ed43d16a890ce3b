//! Stock: levels per store, stock documents (receiving, write-off, transfer,
//! inventory count), and the live stock WebSocket.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use jowi_actors::domain::stock::{
    document_hash, DocumentKind, Level, PostedDocument, StockDocument,
};
use jowi_actors::domain::{JsonDecimal, Quantity};
use jowi_actors::pg::stock::{self, DocumentOutcome};
use jowi_actors::store::messages::{ApplyLevels, Subscribe};
use jowi_actors::store::stock::{Resume, Start, StockEvent};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(store_levels).service(ws).service(post_movement);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LevelParams {
    pub variant_id: Option<Uuid>,
    /// 1..=10000, default 1000.
    pub limit: Option<i64>,
}

/// Stock levels of a store's warehouses (negative ones flagged).
#[utoipa::path(get, path = "/api/v1/stores/{id}/stock", tag = "stock", params(LevelParams),
    responses((status = 200, body = Vec<Level>), (status = 404)))]
#[get("/stores/{id}/stock")]
pub async fn store_levels(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<LevelParams>,
) -> ApiResult<HttpResponse> {
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 10000").into());
    }
    let tenant = state.directory.tenant(auth.tenant()).await?;
    let store = tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    let rows = stock::levels(
        &state.db,
        auth.tenant(),
        &store.warehouse_ids,
        q.variant_id,
        limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentLine {
    pub variant_id: Uuid,
    /// > 0; for an inventory count, the counted quantity (>= 0).
    #[schema(value_type = String)]
    pub quantity: JsonDecimal,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Client-generated; the idempotency key.
    pub id: Uuid,
    pub kind: DocumentKind,
    pub warehouse_id: Uuid,
    /// Transfers: the receiving warehouse.
    pub to_warehouse_id: Option<Uuid>,
    pub lines: Vec<DocumentLine>,
}

/// Post a stock document. Idempotent by id like receipts (201 / 200 replay / 409).
#[utoipa::path(post, path = "/api/v1/stock/movements", tag = "stock", request_body = NewDocument,
    responses((status = 201, body = PostedDocument), (status = 200, body = PostedDocument, description = "replay"),
              (status = 409), (status = 422)))]
#[post("/stock/movements")]
pub async fn post_movement(
    auth: Auth,
    state: web::Data<AppState>,
    body: web::Json<NewDocument>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("post stock documents")?;
    let body = body.into_inner();
    let tenant = state.directory.tenant(auth.tenant()).await?;
    let store_of: HashMap<Uuid, Uuid> = tenant
        .catalog
        .stores()
        .iter()
        .flat_map(|s| s.warehouse_ids.iter().map(move |w| (*w, s.id)))
        .collect();
    if !store_of.contains_key(&body.warehouse_id) {
        return Err(Error::invalid("warehouse_id", "no such warehouse").into());
    }
    match (body.kind, body.to_warehouse_id) {
        (DocumentKind::Transfer, Some(to)) if to == body.warehouse_id => {
            return Err(Error::invalid("to_warehouse_id", "must differ from warehouse_id").into())
        }
        (DocumentKind::Transfer, Some(to)) if !store_of.contains_key(&to) => {
            return Err(Error::invalid("to_warehouse_id", "no such warehouse").into())
        }
        (DocumentKind::Transfer, None) => {
            return Err(
                Error::invalid("to_warehouse_id", "a transfer names its destination").into(),
            )
        }
        (DocumentKind::Transfer, Some(_)) => {}
        (_, Some(_)) => {
            return Err(
                Error::invalid("to_warehouse_id", "only transfers have a destination").into(),
            )
        }
        (_, None) => {}
    }
    if body.lines.is_empty() || body.lines.len() > 1000 {
        return Err(Error::invalid("lines", "a document has 1 to 1000 lines").into());
    }
    let mut lines = Vec::with_capacity(body.lines.len());
    let mut seen = std::collections::HashSet::new();
    for (i, l) in body.lines.iter().enumerate() {
        if tenant.catalog.variant(l.variant_id).is_none() {
            return Err(Error::invalid(format!("lines[{i}].variant_id"), "no such variant").into());
        }
        if !seen.insert(l.variant_id) {
            return Err(Error::invalid(format!("lines[{i}].variant_id"), "appears twice").into());
        }
        let field = format!("lines[{i}].quantity");
        let q = if body.kind == DocumentKind::Inventory && l.quantity.0.is_zero() {
            rust_decimal::Decimal::ZERO
        } else {
            Quantity::parse(&field, l.quantity.0, false)?.decimal()
        };
        lines.push((l.variant_id, q));
    }
    let doc = StockDocument {
        id: body.id,
        kind: body.kind,
        warehouse_id: body.warehouse_id,
        to_warehouse_id: body.to_warehouse_id,
        lines,
        body_hash: document_hash(&serde_json::to_vec(&body).unwrap_or_default()),
    };
    match stock::post_document(&state.db, auth.tenant(), &doc, &store_of).await? {
        DocumentOutcome::Replayed(d) => Ok(HttpResponse::Ok().json(d)),
        DocumentOutcome::Created(d, updates) => {
            // Tell the affected stores' actors (live subscribers, bus).
            let mut by_store: HashMap<Uuid, Vec<_>> = HashMap::new();
            for u in updates {
                by_store.entry(u.store_id).or_default().push(u);
            }
            for (store, levels) in by_store {
                if let Ok(addr) = state.directory.store(&tenant, store).await {
                    let _ = addr
                        .send(ApplyLevels {
                            levels,
                            cause: body.kind.as_str().to_owned(),
                            publish: true,
                        })
                        .await;
                }
            }
            Ok(HttpResponse::Created().json(d))
        }
    }
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
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<WsParams>,
) -> ApiResult<HttpResponse> {
    let tenant = state.directory.tenant(auth.tenant()).await?;
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
        while ok {
            tokio::select! {
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
        let _ = session.close(None).await;
    });
    Ok(response)
}
