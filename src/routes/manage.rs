//! Back-office edits: stores and registers (edit, deactivate), warehouses,
//! employees and customers (versioned PATCH), customer search, token list.

use super::{double_option, edited_version, optional_text};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use jowi_actors::domain::catalog::{Register, Store};
use jowi_actors::domain::phone::to_e164;
use jowi_actors::domain::{parse_name, parse_phone, Role};
use jowi_actors::pg::manage::{self, CustomerView, EmployeeEdit, TokenInfo, Warehouse};
use jowi_actors::tenant::manage::{CreateWarehouse, DeactivateStore, UpdateRegister, UpdateStore};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(search_customers)
        .service(update_store)
        .service(deactivate_store)
        .service(update_register)
        .service(create_warehouse)
        .service(list_warehouses)
        .service(update_employee)
        .service(update_customer)
        .service(list_tokens);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreEdit {
    pub version: Option<i32>,
    pub name: Option<String>,
    /// null clears.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
}

#[utoipa::path(patch, path = "/api/v1/stores/{id}", tag = "stores", request_body = StoreEdit,
    responses((status = 200, body = Store), (status = 404), (status = 409)))]
#[patch("/stores/{id}")]
pub async fn update_store(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<StoreEdit>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage stores")?;
    let version = edited_version(&req, body.version)?;
    let msg = UpdateStore {
        id: *id,
        version,
        name: body
            .name
            .as_deref()
            .map(|n| parse_name("name", n, 200))
            .transpose()?,
        address: match &body.address {
            None => None,
            Some(a) => Some(optional_text("address", a.as_deref(), 500)?),
        },
    };
    let tenant = state.directory.tenant(auth.tenant()).await?;
    Ok(HttpResponse::Ok().json(tenant.actor.send(msg).await??))
}

/// Deactivates the store and its registers; their tokens stop working.
#[utoipa::path(delete, path = "/api/v1/stores/{id}", tag = "stores",
    responses((status = 204), (status = 404)))]
#[delete("/stores/{id}")]
pub async fn deactivate_store(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage stores")?;
    let tenant = state.directory.tenant(auth.tenant()).await?;
    tenant.actor.send(DeactivateStore { id: *id }).await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterEdit {
    pub version: Option<i32>,
    pub name: Option<String>,
    /// false deactivates: the register's tokens stop working at once (all
    /// instances); true brings them back.
    pub active: Option<bool>,
}

#[utoipa::path(patch, path = "/api/v1/registers/{id}", tag = "stores", request_body = RegisterEdit,
    responses((status = 200, body = Register), (status = 404), (status = 409)))]
#[patch("/registers/{id}")]
pub async fn update_register(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<RegisterEdit>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage registers")?;
    let version = edited_version(&req, body.version)?;
    let msg = UpdateRegister {
        id: *id,
        version,
        name: body
            .name
            .as_deref()
            .map(|n| parse_name("name", n, 100))
            .transpose()?,
        active: body.active,
    };
    let tenant = state.directory.tenant(auth.tenant()).await?;
    Ok(HttpResponse::Ok().json(tenant.actor.send(msg).await??))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWarehouse {
    pub name: String,
}

#[utoipa::path(post, path = "/api/v1/stores/{id}/warehouses", tag = "stores", request_body = NewWarehouse,
    responses((status = 201, body = Warehouse), (status = 404)))]
#[post("/stores/{id}/warehouses")]
pub async fn create_warehouse(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<NewWarehouse>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage warehouses")?;
    let msg = CreateWarehouse {
        store_id: *id,
        name: parse_name("name", &body.name, 200)?,
    };
    let tenant = state.directory.tenant(auth.tenant()).await?;
    Ok(HttpResponse::Created().json(tenant.actor.send(msg).await??))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/warehouses", tag = "stores",
    responses((status = 200, body = Vec<Warehouse>), (status = 404)))]
#[get("/stores/{id}/warehouses")]
pub async fn list_warehouses(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let tenant = state.directory.tenant(auth.tenant()).await?;
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    Ok(HttpResponse::Ok().json(manage::list_warehouses(&state.db, auth.tenant(), *id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmployeeBody {
    pub version: Option<i32>,
    pub name: Option<String>,
    /// owner, manager or cashier.
    pub role: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub store_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VersionedEmployee {
    #[serde(flatten)]
    pub employee: jowi_actors::pg::org::Employee,
    pub version: i32,
}

#[utoipa::path(patch, path = "/api/v1/employees/{id}", tag = "stores", request_body = EmployeeBody,
    responses((status = 200, body = VersionedEmployee), (status = 404), (status = 409), (status = 422)))]
#[patch("/employees/{id}")]
pub async fn update_employee(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<EmployeeBody>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage employees")?;
    let version = edited_version(&req, body.version)?;
    if let Some(r) = body.role.as_deref() {
        if !matches!(r, "owner" | "manager" | "cashier") {
            return Err(Error::invalid("role", "owner, manager or cashier").into());
        }
    }
    let name = body
        .name
        .as_deref()
        .map(|n| parse_name("name", n, 200))
        .transpose()?;
    let phone = match &body.phone {
        Some(Some(p)) => Some(Some(parse_phone("phone", p)?)),
        Some(None) => Some(None),
        None => None,
    };
    let edit = EmployeeEdit {
        name: name.as_deref(),
        role: body.role.as_deref(),
        store_id: body.store_id,
        phone: phone.as_ref().map(|p| p.as_deref()),
    };
    let (employee, version) =
        manage::update_employee(&state.db, auth.tenant(), *id, version, &edit).await?;
    Ok(HttpResponse::Ok().json(VersionedEmployee { employee, version }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerEdit {
    pub version: Option<i32>,
    pub name: Option<String>,
    /// Any spelling; stored in E.164.
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// The tenant's calling code for national phone numbers.
pub async fn calling_code(state: &AppState, auth: &Auth) -> Result<String, ApiError> {
    let tenant = state.directory.tenant(auth.tenant()).await?;
    let rules = tenant
        .catalog
        .retail
        .rules(&state.db, auth.tenant())
        .await?;
    Ok(rules.calling_code.clone())
}

#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", request_body = CustomerEdit,
    responses((status = 200, body = CustomerView), (status = 404), (status = 409, description = "version_conflict, duplicate_phone")))]
#[patch("/customers/{id}")]
pub async fn update_customer(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<CustomerEdit>,
) -> ApiResult<HttpResponse> {
    auth.require_sell("edit customers")?;
    let version = edited_version(&req, body.version)?;
    let name = body
        .name
        .as_deref()
        .map(|n| parse_name("name", n, 200))
        .transpose()?;
    let phone = match body.phone.as_deref() {
        Some(p) => Some(to_e164("phone", p, &calling_code(&state, &auth).await?)?),
        None => None,
    };
    let email = match &body.email {
        None => None,
        Some(e) => {
            let e = optional_text("email", e.as_deref(), 200)?;
            if e.as_deref().is_some_and(|e| !e.contains('@')) {
                return Err(Error::invalid("email", "not an e-mail address").into());
            }
            Some(e)
        }
    };
    let c = manage::update_customer(
        &state.db,
        auth.tenant(),
        *id,
        version,
        name.as_deref(),
        phone.as_deref(),
        email.as_ref().map(|e| e.as_deref()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(c))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CustomerSearch {
    /// A name prefix (any case) or phone prefix (digits, optional +).
    pub q: String,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
    /// 1..=100, default 20.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub items: Vec<CustomerView>,
    pub next_cursor: Option<Uuid>,
}

/// A query of digits (with an optional leading +) searches phones: a
/// national prefix such as `90 12` matches `+99890 12...`; anything else
/// searches names.
#[utoipa::path(get, path = "/api/v1/customers/search", tag = "customers", params(CustomerSearch),
    responses((status = 200, body = CustomerPage), (status = 422)))]
#[get("/customers/search")]
pub async fn search_customers(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<CustomerSearch>,
) -> ApiResult<HttpResponse> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 100").into());
    }
    let text = q.q.trim();
    if text.is_empty() || text.chars().count() > 100 || text.contains('\0') {
        return Err(Error::invalid("q", "1 to 100 characters").into());
    }
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let phoneish = !digits.is_empty()
        && text
            .chars()
            .enumerate()
            .all(|(i, c)| c.is_ascii_digit() || " -()".contains(c) || (c == '+' && i == 0));
    let (name, phone) = if phoneish {
        let prefix = if text.starts_with('+') {
            format!("+{digits}")
        } else {
            let cc = calling_code(&state, &auth).await?;
            if digits.starts_with(&cc) {
                format!("+{digits}")
            } else {
                format!("+{cc}{}", digits.strip_prefix('0').unwrap_or(&digits))
            }
        };
        (None, Some(prefix))
    } else {
        (Some(text.to_owned()), None)
    };
    let items = manage::search_customers(
        &state.db,
        auth.tenant(),
        name.as_deref(),
        phone.as_deref(),
        q.cursor,
        limit,
    )
    .await?;
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|c| c.customer.id))
        .flatten();
    Ok(HttpResponse::Ok().json(CustomerPage { items, next_cursor }))
}

/// The tenant's tokens: id, role, name, register, dates. Never a secret.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin",
    responses((status = 200, body = Vec<TokenInfo>), (status = 403)))]
#[get("/tokens")]
pub async fn list_tokens(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    if auth.0.role != Role::Owner {
        return Err(ApiError::forbidden("list tokens"));
    }
    Ok(HttpResponse::Ok().json(manage::list_tokens(&state.db, auth.tenant()).await?))
}
