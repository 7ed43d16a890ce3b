//! Employees with roles (owner, manager, cashier).

use super::optional_text;
use crate::auth::{Auth, Tenant};
use crate::error::ApiResult;
use crate::json::Json;
use crate::state::AppState;
use actix_web::{delete, get, post, put, web, HttpResponse};
use jowi_actors::domain::pin::Pin;
use jowi_actors::domain::{parse_name, parse_phone};
use jowi_actors::pg::org::{self, Employee};
use jowi_actors::pg::pins;
use jowi_actors::Error;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(set_pin)
        .service(list)
        .service(get_one)
        .service(remove);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEmployee {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    /// owner, manager, senior_cashier or cashier.
    #[schema(pattern = "^(owner|manager|senior_cashier|cashier)$")]
    pub role: String,
    pub store_id: Option<Uuid>,
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    /// 4-8 digits, stored hashed (argon2); opens shifts.
    pub pin: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPin {
    pub pin: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EmployeeFilter {
    pub store_id: Option<Uuid>,
}

#[utoipa::path(post, path = "/api/v1/employees", tag = "stores", request_body = NewEmployee,
    responses((status = 201, body = Employee), (status = 422)))]
#[post("/employees")]
pub async fn create(
    tenant: Tenant,
    state: web::Data<AppState>,
    body: Json<NewEmployee>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("manage employees")?;
    let body = body.into_inner();
    let name = parse_name("name", &body.name, 200)?;
    if !matches!(
        body.role.as_str(),
        "owner" | "manager" | "senior_cashier" | "cashier"
    ) {
        return Err(
            Error::invalid("role", "must be owner, manager, senior_cashier or cashier").into(),
        );
    }
    let pin = body
        .pin
        .as_deref()
        .map(|p| Pin::parse("pin", p))
        .transpose()?;
    if let Some(store) = body.store_id {
        if tenant.catalog.store(store).is_none() {
            return Err(Error::invalid("store_id", format!("store {store} does not exist")).into());
        }
    }
    let phone = optional_text("phone", body.phone.as_deref(), 40)?
        .map(|p| parse_phone("phone", &p))
        .transpose()?;
    let employee = org::insert_employee(
        &state.db,
        tenant.auth.tenant(),
        &name,
        &body.role,
        body.store_id,
        phone.as_deref(),
    )
    .await?;
    if let Some(pin) = pin {
        pins::set_pin(&state.db, tenant.auth.tenant(), employee.id, pin).await?;
    }
    Ok(HttpResponse::Created().json(employee))
}

/// Sets (or resets) an employee's PIN; also lifts a lockout.
#[utoipa::path(put, path = "/api/v1/employees/{id}/pin", tag = "stores", request_body = NewPin,
    responses((status = 204), (status = 404), (status = 422)))]
#[put("/employees/{id}/pin")]
pub async fn set_pin(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<NewPin>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage employees")?;
    let pin = Pin::parse("pin", &body.pin)?;
    pins::set_pin(&state.db, auth.tenant(), *id, pin).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(get, path = "/api/v1/employees", tag = "stores", params(EmployeeFilter),
    responses((status = 200, body = Vec<Employee>)))]
#[get("/employees")]
pub async fn list(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<EmployeeFilter>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(org::list_employees(&state.db, auth.tenant(), q.store_id).await?))
}

#[utoipa::path(get, path = "/api/v1/employees/{id}", tag = "stores",
    responses((status = 200, body = Employee), (status = 404)))]
#[get("/employees/{id}")]
pub async fn get_one(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(org::get_employee(&state.db, auth.tenant(), *id).await?))
}

#[utoipa::path(delete, path = "/api/v1/employees/{id}", tag = "stores",
    responses((status = 204), (status = 404)))]
#[delete("/employees/{id}")]
pub async fn remove(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage employees")?;
    org::delete_employee(&state.db, auth.tenant(), *id).await?;
    Ok(HttpResponse::NoContent().finish())
}
