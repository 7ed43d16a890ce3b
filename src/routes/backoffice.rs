//! Reads and actions the back-office pages need beyond the register API:
//! the dashboard, shift and token listings, receipt search, issuing a new
//! token for an existing register, and the tenant's users.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use jowi_actors::domain::{check_timestamp, Role};
use jowi_actors::pg::backoffice::Dashboard;
use jowi_actors::pg::backoffice::{self, ReceiptFilter, ShiftFilter};
use jowi_actors::pg::users::User;
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard)
        .service(list_shifts)
        .service(list_tokens)
        .service(search_receipts)
        .service(register_token)
        .service(list_users)
        .service(create_user)
        .service(stock_view)
        .service(receipt_returns);
}

#[derive(Serialize, ToSchema)]
pub struct ReturnRef {
    id: Uuid,
    number: String,
}

/// Returns made against a sale (for the receipt's detail), oldest first;
/// an empty list for a receipt with none (or no such receipt).
#[utoipa::path(get, path = "/api/v1/receipts/{id}/returns", tag = "sales",
    responses((status = 200, body = Vec<ReturnRef>)))]
#[get("/receipts/{id}/returns")]
pub async fn receipt_returns(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("read receipts")?;
    let rows = backoffice::returns_of(&state.db, auth.tenant(), *id).await?;
    let out: Vec<ReturnRef> = rows
        .into_iter()
        .map(|(id, number)| ReturnRef { id, number })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StockViewParams {
    /// Name prefix or exact barcode (case-insensitive; blank = all).
    #[param(max_length = 100, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub q: Option<String>,
    /// Only levels below zero.
    pub negative: Option<bool>,
    /// 1..=1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

#[derive(Serialize, ToSchema)]
pub struct NamedLevel {
    warehouse_id: Uuid,
    variant_id: Uuid,
    product_id: Uuid,
    product: String,
    barcode: String,
    /// Decimal as a string, at most 3 places.
    #[schema(value_type = String)]
    quantity: rust_decimal::Decimal,
    negative: bool,
}

/// A store's stock levels with product names and barcodes (from the
/// catalog in memory), filtered and sorted by name, for the stock page.
#[utoipa::path(get, path = "/api/v1/stores/{id}/stock-view", tag = "stock", params(StockViewParams),
    responses((status = 200, body = Vec<NamedLevel>), (status = 404)))]
#[get("/stores/{id}/stock-view")]
pub async fn stock_view(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    q: web::Query<StockViewParams>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("read stock")?;
    let limit = q.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 1000").into());
    }
    let needle = crate::routes::optional_text("q", q.q.as_deref(), 100)?.map(|s| s.to_lowercase());
    let tenant = state.directory.tenant(auth.tenant()).await?;
    let store = tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    let levels = jowi_actors::pg::stock::levels(
        &state.db,
        auth.tenant(),
        &store.warehouse_ids,
        None,
        10_000,
    )
    .await?;
    let mut rows: Vec<NamedLevel> = levels
        .into_iter()
        .filter(|l| !q.negative.unwrap_or(false) || l.negative)
        .filter_map(|l| {
            let (product, variant) = tenant.catalog.variant(l.variant_id)?;
            if let Some(n) = &needle {
                if !(product.name.to_lowercase().starts_with(n.as_str())
                    || variant.barcode.eq_ignore_ascii_case(n))
                {
                    return None;
                }
            }
            Some(NamedLevel {
                warehouse_id: l.warehouse_id,
                variant_id: l.variant_id,
                product_id: product.id,
                product: product.name.clone(),
                barcode: variant.barcode.clone(),
                quantity: l.quantity,
                negative: l.negative,
            })
        })
        .collect();
    rows.sort_by(|a, b| a.product.cmp(&b.product).then(a.barcode.cmp(&b.barcode)));
    rows.truncate(limit);
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DashboardParams {
    /// One store's figures (default: all stores).
    pub store_id: Option<Uuid>,
    /// IANA time zone of "today" (default UTC; an unknown zone is a 422).
    #[param(max_length = 64, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub tz: Option<String>,
}

/// The dashboard's figures. One function so the page can later read the
/// reports API instead without changing its shape.
pub async fn load_dashboard(
    state: &AppState,
    tenant: Uuid,
    store: Option<Uuid>,
    tz: &str,
) -> Result<backoffice::Dashboard, Error> {
    backoffice::dashboard(&state.db, tenant, store, tz).await
}

/// Today so far against the same span a week ago.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "reports", params(DashboardParams),
    responses((status = 200, body = Dashboard)))]
#[get("/dashboard")]
pub async fn dashboard(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<DashboardParams>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("read the dashboard")?;
    let tz = crate::routes::optional_text("tz", q.tz.as_deref(), 64)?;
    let tz = tz.as_deref().unwrap_or("UTC");
    let d = load_dashboard(&state, auth.tenant(), q.store_id, tz).await?;
    Ok(HttpResponse::Ok().json(d))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ShiftParams {
    pub store_id: Option<Uuid>,
    pub register_id: Option<Uuid>,
    /// "open" or "closed".
    #[param(pattern = "^(open|closed)?$")]
    pub status: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Shifts of the tenant, newest first (back office: owner and manager).
#[utoipa::path(get, path = "/api/v1/shifts", tag = "sales", params(ShiftParams),
    responses((status = 200, description = "shifts, newest first")))]
#[get("/shifts")]
pub async fn list_shifts(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<ShiftParams>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("list shifts")?;
    let open = match q.status.as_deref() {
        None | Some("") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(_) => return Err(Error::invalid("status", "open or closed").into()),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 200").into());
    }
    let rows = backoffice::list_shifts(
        &state.db,
        auth.tenant(),
        &ShiftFilter {
            store: q.store_id,
            register: q.register_id,
            open,
            limit,
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Live tokens (never their secrets).
#[get("/tokens")]
pub async fn list_tokens(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth.require_manage("list tokens")?;
    Ok(HttpResponse::Ok().json(backoffice::list_tokens(&state.db, auth.tenant()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReceiptSearch {
    pub store_id: Option<Uuid>,
    pub register_id: Option<Uuid>,
    /// The cashier; a uuid, else 400 naming `employee_id` (blank = any).
    // Empty means any, so the document says "a uuid or nothing" (a
    // `format: uuid` would call the empty value invalid).
    #[param(
        pattern = "^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub employee_id: Option<String>,
    /// Inclusive lower bound on occurred_at (RFC 3339, years 1..=9999 as
    /// for receipts).
    pub from: Option<DateTime<Utc>>,
    /// Exclusive upper bound on occurred_at (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// An exact receipt number (`{register}-{seq}`; blank = any).
    #[param(max_length = 40, pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$")]
    pub number: Option<String>,
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct FoundReceipt {
    #[serde(flatten)]
    receipt: jowi_actors::pg::receipts::ReceiptSummary,
    store_id: Uuid,
}

/// Receipts by store, register, cashier, time span or number, newest first.
#[utoipa::path(get, path = "/api/v1/search/receipts", tag = "sales", params(ReceiptSearch),
    responses((status = 200, body = Vec<FoundReceipt>)))]
#[get("/search/receipts")]
pub async fn search_receipts(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<ReceiptSearch>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("search receipts")?;
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 200").into());
    }
    let number = crate::routes::optional_text("number", q.number.as_deref(), 40)?;
    let employee = crate::routes::uuid_param("employee_id", q.employee_id.as_deref())?;
    let from = q.from.map(|t| check_timestamp("from", t)).transpose()?;
    let to = q.to.map(|t| check_timestamp("to", t)).transpose()?;
    let rows = backoffice::search_receipts(
        &state.db,
        auth.tenant(),
        &ReceiptFilter {
            store: q.store_id,
            register: q.register_id,
            employee,
            from,
            to,
            number,
            limit,
        },
    )
    .await?;
    let items: Vec<FoundReceipt> = rows
        .into_iter()
        .map(|(receipt, store_id)| FoundReceipt { receipt, store_id })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

#[derive(Serialize, ToSchema)]
pub struct IssuedRegisterToken {
    id: Uuid,
    register_id: Uuid,
    /// Shown once.
    token: String,
}

/// A new device token for an existing register (e.g. a replaced device);
/// revoke the old one with DELETE /tokens/{id}. Owner and manager.
#[utoipa::path(post, path = "/api/v1/registers/{id}/token", tag = "stores",
    responses((status = 201, body = IssuedRegisterToken), (status = 404)))]
#[post("/registers/{id}/token")]
pub async fn register_token(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("issue register tokens")?;
    let tenant = state.directory.tenant(auth.tenant()).await?;
    let register = tenant
        .catalog
        .register(*id)
        .ok_or(Error::not_found("register"))?;
    let (token_id, token) = state
        .auth
        .issue_register_token(auth.tenant(), register.id, &register.name)
        .await?;
    Ok(HttpResponse::Created().json(IssuedRegisterToken {
        id: token_id,
        register_id: register.id,
        token,
    }))
}

/// The tenant's back-office users (owner and manager), oldest first.
#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    responses((status = 200, body = Vec<User>)))]
#[get("/users")]
pub async fn list_users(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    auth.require_manage("list users")?;
    let users = jowi_actors::pg::users::list_users(&state.db, auth.tenant()).await?;
    Ok(HttpResponse::Ok().json(users))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// An e-mail address (`local@domain.tld`), stored trimmed and
    /// lower-cased; unique in the tenant (409 `email_taken`).
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    /// owner or manager.
    #[schema(pattern = "^(owner|manager)$")]
    pub role: String,
    /// `backoffice.min_password_chars` (default 10) to 200 characters.
    #[schema(min_length = 10, max_length = 200)]
    pub password: String,
}

/// Add a person who signs in to the back office (owner only).
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = NewUser,
    responses((status = 201, body = User), (status = 403), (status = 409, description = "email_taken"), (status = 422)))]
#[post("/users")]
pub async fn create_user(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<NewUser>,
) -> ApiResult<HttpResponse> {
    if auth.0.role != Role::Owner {
        return Err(ApiError::forbidden("add users"));
    }
    let role = Role::parse(&body.role)?;
    let user = state
        .sessions
        .create_user(auth.tenant(), &body.email, &body.name, role, &body.password)
        .await?;
    Ok(HttpResponse::Created().json(user))
}
