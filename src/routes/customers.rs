//! Customers, looked up by phone at the register (loyalty).

use super::optional_text;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, post, web, HttpResponse};
use jowi_actors::domain::parse_name;
use jowi_actors::domain::phone::to_e164;
use jowi_actors::pg::manage::{self, CustomerView};
use jowi_actors::Error;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // PATCH /customers/{id} (versioned, with its customer.updated event)
    // lives in `manage`.
    cfg.service(create).service(by_phone).service(get_one);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    #[schema(pattern = "^\\s*\\+?[0-9 ()-]{5,40}$")]
    pub phone: String,
    #[schema(
        min_length = 0,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub email: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PhoneQuery {
    pub phone: String,
}

/// Registers may add customers at the till, so selling roles may create.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", request_body = NewCustomer,
    responses((status = 201, body = CustomerView), (status = 409, description = "phone already used")))]
#[post("/customers")]
pub async fn create(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<NewCustomer>,
) -> ApiResult<HttpResponse> {
    auth.require_sell("add customers")?;
    let name = parse_name("name", &body.name, 200)?;
    let cc = super::manage::calling_code(&state, &auth).await?;
    let phone = to_e164("phone", &body.phone, &cc)?;
    let email = optional_text("email", body.email.as_deref(), 200)?;
    if email.as_deref().is_some_and(|e| !e.contains('@')) {
        return Err(Error::invalid("email", "not an e-mail address").into());
    }
    let customer =
        manage::insert_customer(&state.db, auth.tenant(), &name, &phone, email.as_deref()).await?;
    Ok(HttpResponse::Created().json(customer))
}

/// Lookup by phone in any spelling (normalized to E.164 like on create).
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", params(PhoneQuery),
    responses((status = 200, body = CustomerView), (status = 404)))]
#[get("/customers")]
pub async fn by_phone(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<PhoneQuery>,
) -> ApiResult<HttpResponse> {
    let cc = super::manage::calling_code(&state, &auth).await?;
    let phone = to_e164("phone", &q.phone, &cc)?;
    Ok(HttpResponse::Ok()
        .json(manage::customer_view_by(&state.db, auth.tenant(), None, Some(&phone)).await?))
}

#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
    responses((status = 200, body = CustomerView), (status = 404)))]
#[get("/customers/{id}")]
pub async fn get_one(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok()
        .json(manage::customer_view_by(&state.db, auth.tenant(), Some(*id), None).await?))
}
