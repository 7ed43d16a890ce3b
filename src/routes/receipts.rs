//! Receipts: post one (idempotent by client id), upload an offline backlog,
//! read one, list a store's. Every 2xx means committed in PostgreSQL.

use crate::auth::{Auth, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use jowi_actors::domain::commit::Posted;
use jowi_actors::domain::receipt::{
    ReceiptKind, ReceiptRequest, StoredReceipt, MAX_ITEMS, MAX_PAYMENTS,
};
use jowi_actors::domain::{check_text, check_timestamp, Money, MAX_AMOUNT};
use jowi_actors::pg::org;
use jowi_actors::pg::receipts::{self, ReceiptFilter, ReceiptSummary};
use jowi_actors::store::messages::CreateReceipt;
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(batch)
        .service(create)
        .service(list)
        .service(get_one);
}

/// How long a request waits for its store actor before a retryable 503.
const ACTOR_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one receipt to its store's actor.
async fn post_receipt(
    state: &AppState,
    tenant: &Tenant,
    receipt: ReceiptRequest,
) -> Result<Posted, ApiError> {
    tracing::Span::current().record("store_id", tracing::field::display(receipt.store_id));
    check_limits(&receipt)?;
    // Before the store actor, whose idempotency cache would otherwise
    // answer a replay of another register's receipt.
    if tenant
        .auth
        .0
        .register_id
        .is_some_and(|own| own != receipt.register_id)
    {
        return Err(ApiError::forbidden("post another register's receipts"));
    }
    if let Some(customer) = receipt.customer_id {
        // Another tenant's customer is "no such customer" (never stored).
        org::get_customer(&state.db, tenant.auth.tenant(), customer)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::invalid("customer_id", "no such customer"),
                other => other,
            })?;
    }
    let store = state.directory.store(tenant, receipt.store_id).await?;
    let money = super::receipt_money::context(state, tenant, &receipt).await?;
    let msg = CreateReceipt {
        receipt,
        caller_register: tenant.auth.0.register_id,
        money,
    };
    match tokio::time::timeout(ACTOR_TIMEOUT, store.send(msg)).await {
        Ok(reply) => Ok(reply??),
        Err(_) => Err(ApiError::Domain(Error::Busy(
            "the store is busy; retry with the same receipt id".into(),
        ))),
    }
}

/// What the catalog-free part of validation refuses before the receipt
/// reaches its store actor: the receipt's shape as the OpenAPI schema
/// states it (counts, number form, amount ranges), anything PostgreSQL
/// would reject in the batch (a date outside its range, text it cannot
/// store) and absurd tenders. Catalog rules are `prepare`'s.
fn check_limits(receipt: &ReceiptRequest) -> Result<(), Error> {
    if receipt.items.is_empty() || receipt.items.len() > MAX_ITEMS {
        return Err(Error::invalid(
            "items",
            format!("a receipt has 1 to {MAX_ITEMS} items"),
        ));
    }
    if receipt.payments.len() > MAX_PAYMENTS {
        return Err(Error::invalid(
            "payments",
            format!("at most {MAX_PAYMENTS} payments"),
        ));
    }
    for (i, item) in receipt.items.iter().enumerate() {
        if let Some(price) = item.price {
            Money::parse_non_negative(&format!("items[{i}].price"), price)?;
        }
        Money::parse_non_negative(&format!("items[{i}].discount"), item.discount)?;
    }
    if let Some(at) = receipt.occurred_at {
        check_timestamp("occurred_at", at)?;
    }
    if let Some(number) = receipt.number.as_deref() {
        check_text("number", number)?;
        let well_formed = number.len() <= 32
            && number.split_once('-').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            });
        if !well_formed {
            return Err(Error::invalid(
                "number",
                "must be \"{register number}-{sequence}\"",
            ));
        }
    }
    // Each payment is bounded by Money; their sum is what the drawer takes
    // in (cash tendered), so it gets the same bound.
    let mut paid: i64 = 0;
    for (i, p) in receipt.payments.iter().enumerate() {
        let amount = Money::parse_positive(&format!("payments[{i}].amount"), p.amount)?;
        paid = paid
            .checked_add(amount.0)
            .filter(|sum| *sum <= MAX_AMOUNT)
            .ok_or_else(|| {
                Error::invalid(
                    "payments",
                    format!("the payments add up to more than {MAX_AMOUNT} minor units"),
                )
            })?;
    }
    Ok(())
}

/// Post a sale or return. 201 when stored now, 200 when this id was already
/// stored with the same body, 409 when it was stored with another body.
#[utoipa::path(post, path = "/api/v1/receipts", tag = "sales", request_body = ReceiptRequest,
    responses((status = 201, body = StoredReceipt), (status = 200, body = StoredReceipt, description = "replay"),
              (status = 409, description = "idempotency_conflict, number_taken, shift_closed, return_exceeds_sale, totals_mismatch (with the server's figures), insufficient_points, insufficient_stock"),
              (status = 422), (status = 503, description = "outcome unknown; retry with the same id")))]
#[post("/receipts")]
pub async fn create(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: Json<ReceiptRequest>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_sell("post receipts")?;
    Ok(
        match post_receipt(&state, &tenant, body.into_inner()).await? {
            Posted::Created(r) => HttpResponse::Created().json(r),
            Posted::Replayed(r) => HttpResponse::Ok().json(r),
        },
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptUpload {
    /// At most `sales.offline_batch_max` (default 500) receipts.
    #[schema(min_items = 1, max_items = 500)]
    pub receipts: Vec<ReceiptRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Created,
    Duplicate,
    Rejected,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchError {
    pub code: String,
    pub message: String,
    /// True when the same receipt may succeed later (send it again).
    pub retryable: bool,
    /// `totals_mismatch`: the server's lines and totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub server: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchItem {
    pub id: Uuid,
    pub status: BatchStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<StoredReceipt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BatchError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchReply {
    pub results: Vec<BatchItem>,
}

/// Upload an offline backlog: each receipt is answered on its own; one bad
/// receipt does not reject the others. Sales go first, then returns (a
/// return may name a sale of the same upload).
#[utoipa::path(post, path = "/api/v1/receipts/batch", tag = "sales", request_body = ReceiptUpload,
    responses((status = 200, body = BatchReply), (status = 422, description = "empty or too many receipts, or one breaks the receipt schema (field receipts[i]....)")))]
#[post("/receipts/batch")]
pub async fn batch(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: Json<ReceiptUpload>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_sell("post receipts")?;
    let receipts = body.into_inner().receipts;
    let max = state.settings.sales.offline_batch_max;
    if receipts.is_empty() || receipts.len() > max {
        return Err(Error::invalid("receipts", format!("send 1 to {max} receipts")).into());
    }
    // A receipt that breaks the schema is the uploader's bug, not a sale
    // to reject alone: the upload is refused, naming it.
    for (i, r) in receipts.iter().enumerate() {
        check_limits(r).map_err(|e| match e {
            Error::Invalid { field, message } => {
                Error::invalid(format!("receipts[{i}].{field}"), message)
            }
            other => other,
        })?;
    }
    let ids: Vec<Uuid> = receipts.iter().map(|r| r.id).collect();
    let mut results: Vec<Option<BatchItem>> = (0..receipts.len()).map(|_| None).collect();
    let (sales, returns): (Vec<_>, Vec<_>) = receipts
        .into_iter()
        .enumerate()
        .partition(|(_, r)| r.kind == ReceiptKind::Sale);
    for group in [sales, returns] {
        let posted = futures_util::future::join_all(group.into_iter().map(|(i, r)| {
            let (state, tenant) = (&state, &tenant);
            async move { (i, post_receipt(state, tenant, r).await) }
        }))
        .await;
        for (i, outcome) in posted {
            results[i] = Some(match outcome {
                Ok(Posted::Created(r)) => BatchItem {
                    id: ids[i],
                    status: BatchStatus::Created,
                    receipt: Some(r),
                    error: None,
                },
                Ok(Posted::Replayed(r)) => BatchItem {
                    id: ids[i],
                    status: BatchStatus::Duplicate,
                    receipt: Some(r),
                    error: None,
                },
                Err(e) => {
                    let (status, code, message) = e.parts();
                    BatchItem {
                        id: ids[i],
                        status: BatchStatus::Rejected,
                        receipt: None,
                        error: Some(BatchError {
                            code: code.to_owned(),
                            message,
                            retryable: status.as_u16() == 503,
                            server: match &e {
                                ApiError::Domain(Error::TotalsMismatch { server }) => {
                                    Some((**server).clone())
                                }
                                _ => None,
                            },
                        }),
                    }
                }
            });
        }
    }
    Ok(HttpResponse::Ok().json(BatchReply {
        results: results.into_iter().flatten().collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/receipts/{id}", tag = "sales",
    responses((status = 200, body = StoredReceipt), (status = 404)))]
#[get("/receipts/{id}")]
pub async fn get_one(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    // History reads may come from the replica; a receipt it has not
    // replayed yet (just posted) is looked up on the primary. A register
    // token reads its own register's receipts only; another's is "not
    // found", as another tenant's would be.
    let tenant_id = auth.tenant();
    let receipt = match state
        .reads
        .read(|db| receipts::load_receipt(db, tenant_id, *id))
        .await?
    {
        Some(r) => Some(r),
        None => receipts::load_receipt(&state.db, tenant_id, *id).await?,
    };
    let receipt = receipt
        .filter(|r| auth.0.register_id.is_none_or(|own| own == r.register_id))
        .ok_or(Error::not_found("receipt"))?;
    Ok(HttpResponse::Ok().json(receipt))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Required unless `number` is given.
    pub store_id: Option<Uuid>,
    /// A receipt number (`{register}-{seq}`): answers that receipt.
    pub number: Option<String>,
    /// Inclusive lower bound on occurred_at (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on occurred_at (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only the receipts this employee sold (the cashier who opened their
    /// shift); a uuid, else 400 naming `employee_id` (empty: any).
    // Empty means any, so the document says "a uuid or nothing" (a
    // `format: uuid` would call the empty value invalid).
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub employee_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiptPage {
    pub items: Vec<ReceiptSummary>,
    pub next_cursor: Option<String>,
}

fn parse_cursor(raw: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let bad = || ApiError::BadRequest("cursor is not one this server gave".into());
    let (micros, id) = raw.split_once('_').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::from_timestamp_micros(micros)
        .and_then(|t| check_timestamp("cursor", t).ok())
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// A store's receipts, newest first, keyset-paged over the partitions; or
/// with `number`, the one receipt of that number.
#[utoipa::path(get, path = "/api/v1/receipts", tag = "sales", params(ListParams),
    responses((status = 200, body = ReceiptPage),
        (status = 400, description = "bad_request; a bad `employee_id` names it in `field`"),
        (status = 404)))]
#[get("/receipts")]
pub async fn list(
    tenant: Tenant,
    state: web::Data<AppState>,
    q: web::Query<ListParams>,
) -> ApiResult<HttpResponse> {
    let q = q.into_inner();
    if let Some(number) = q.number.as_deref() {
        let id =
            jowi_actors::pg::manage::receipt_id_by_number(&state.db, tenant.auth.tenant(), number)
                .await?;
        // A register token finds its own register's receipts only.
        let receipt = receipts::load_receipt(&state.db, tenant.auth.tenant(), id)
            .await?
            .filter(|r| {
                tenant
                    .auth
                    .0
                    .register_id
                    .is_none_or(|own| own == r.register_id)
            })
            .ok_or(Error::not_found("receipt"))?;
        return Ok(HttpResponse::Ok().json(receipt));
    }
    let store_id = q
        .store_id
        .ok_or_else(|| Error::invalid("store_id", "required unless number is given"))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 200").into());
    }
    let employee = super::uuid_param("employee_id", q.employee_id.as_deref())?;
    let from = q.from.map(|t| check_timestamp("from", t)).transpose()?;
    let to = q.to.map(|t| check_timestamp("to", t)).transpose()?;
    tenant
        .catalog
        .store(store_id)
        .ok_or(Error::not_found("store"))?;
    let after = q.cursor.as_deref().map(parse_cursor).transpose()?;
    let filter = ReceiptFilter {
        store: store_id,
        // A register token lists its own register's receipts only.
        register: tenant.auth.0.register_id,
        employee,
        from,
        to,
        after,
        limit,
    };
    let tenant_id = tenant.auth.tenant();
    let items = state
        .reads
        .read(|db| receipts::list_receipts(db, tenant_id, &filter))
        .await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| {
            items
                .last()
                .map(|r| format!("{}_{}", r.occurred_at.timestamp_micros(), r.id))
        })
        .flatten();
    Ok(HttpResponse::Ok().json(ReceiptPage { items, next_cursor }))
}
