//! Customers, looked up by phone at the register (loyalty).

use super::{double_option, optional_text};
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{get, patch, post, web, HttpResponse};
use jowi_actors::domain::{parse_name, parse_phone};
use jowi_actors::pg::org::{self, Customer};
use jowi_actors::Error;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(by_phone)
        .service(get_one)
        .service(update);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PhoneQuery {
    pub phone: String,
}

/// Registers may add customers at the till, so selling roles may create.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = NewCustomer,
    responses((status = 201, body = Customer), (status = 409, description = "phone already used")))]
#[post("/customers")]
pub async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    body: web::Json<NewCustomer>,
) -> ApiResult<HttpResponse> {
    auth.require_sell("add customers")?;
    let name = parse_name("name", &body.name, 200)?;
    let phone = parse_phone("phone", &body.phone)?;
    let email = optional_text("email", body.email.as_deref(), 200)?;
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(Error::invalid("email", "not an e-mail address").into());
    }
    let customer =
        org::insert_customer(&state.db, auth.tenant(), &name, &phone, email.as_deref()).await?;
    Ok(HttpResponse::Created().json(customer))
}

/// Lookup by phone (normalised the same way as on create).
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(PhoneQuery),
    responses((status = 200, body = Customer), (status = 404)))]
#[get("/customers")]
pub async fn by_phone(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<PhoneQuery>,
) -> ApiResult<HttpResponse> {
    let phone = parse_phone("phone", &q.phone)?;
    Ok(HttpResponse::Ok().json(org::customer_by_phone(&state.db, auth.tenant(), &phone).await?))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    responses((status = 200, body = Customer), (status = 404)))]
#[get("/customers/{id}")]
pub async fn get_one(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(org::get_customer(&state.db, auth.tenant(), *id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    pub name: Option<String>,
    pub phone: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// Edits a customer; fields left out stay as they are.
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers", request_body = CustomerPatch,
    responses((status = 200, body = Customer), (status = 404), (status = 409), (status = 422)))]
#[patch("/customers/{id}")]
pub async fn update(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<CustomerPatch>,
) -> ApiResult<HttpResponse> {
    auth.require_sell("edit customers")?;
    let name = body
        .name
        .as_deref()
        .map(|n| parse_name("name", n, 200))
        .transpose()?;
    let phone = body
        .phone
        .as_deref()
        .map(|p| parse_phone("phone", p))
        .transpose()?;
    let email = match &body.email {
        Some(e) => Some(optional_text("email", e.as_deref(), 200)?),
        None => None,
    };
    if email
        .as_ref()
        .and_then(|e| e.as_deref())
        .is_some_and(|e| !e.contains('@'))
    {
        return Err(Error::invalid("email", "not an e-mail address").into());
    }
    let customer = org::update_customer(
        &state.db,
        auth.tenant(),
        *id,
        name.as_deref(),
        phone.as_deref(),
        email.as_ref().map(|e| e.as_deref()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(customer))
}
