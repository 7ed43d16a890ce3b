//! Stores (each with a default warehouse) and their registers.

use super::optional_text;
use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::json::Json;
use actix_web::{get, post, web, HttpResponse};
use jowi_actors::domain::catalog::{Register, Store};
use jowi_actors::domain::parse_name;
use jowi_actors::tenant::messages::{CreateRegister, CreateStore};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(create_register)
        .service(list_registers);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStore {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    #[schema(
        min_length = 0,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub address: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRegister {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedRegister {
    pub register: Register,
    /// The device's bearer token (role `register`); shown once.
    pub token: String,
}

#[utoipa::path(post, path = "/api/v1/stores", tag = "stores", request_body = NewStore,
    responses((status = 201, body = Store), (status = 403), (status = 422)))]
#[post("/stores")]
pub async fn create(tenant: Tenant, body: Json<NewStore>) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("manage stores")?;
    let msg = CreateStore {
        name: parse_name("name", &body.name, 200)?,
        address: optional_text("address", body.address.as_deref(), 500)?,
    };
    let store = tenant.actor.send(msg).await??;
    Ok(HttpResponse::Created().json(store))
}

#[utoipa::path(get, path = "/api/v1/stores", tag = "stores", responses((status = 200, body = Vec<Store>)))]
#[get("/stores")]
pub async fn list(tenant: Tenant) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(tenant.catalog.stores()))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}", tag = "stores",
    responses((status = 200, body = Store), (status = 404)))]
#[get("/stores/{id}")]
pub async fn get_one(tenant: Tenant, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let store = tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    Ok(HttpResponse::Ok().json(store))
}

/// Add a register; answers its device token once.
#[utoipa::path(post, path = "/api/v1/stores/{id}/registers", tag = "stores", request_body = NewRegister,
    responses((status = 201, body = CreatedRegister), (status = 404)))]
#[post("/stores/{id}/registers")]
pub async fn create_register(
    tenant: Tenant,
    id: web::Path<Uuid>,
    body: Json<NewRegister>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("manage registers")?;
    let msg = CreateRegister {
        store_id: *id,
        name: parse_name("name", &body.name, 100)?,
    };
    let (register, token) = tenant.actor.send(msg).await??;
    Ok(HttpResponse::Created().json(CreatedRegister { register, token }))
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/registers", tag = "stores",
    responses((status = 200, body = Vec<Register>), (status = 404)))]
#[get("/stores/{id}/registers")]
pub async fn list_registers(tenant: Tenant, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    Ok(HttpResponse::Ok().json(tenant.catalog.registers_of(*id)))
}
