//! Categories (a tree). Reads from the tenant's catalog in memory; writes
//! through its TenantActor.

use super::{double_option, edited_version};
use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::json::Json;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use jowi_actors::domain::catalog::Category;
use jowi_actors::domain::parse_name;
use jowi_actors::tenant::messages::{CreateCategory, DeleteCategory, UpdateCategory};
use jowi_actors::Error;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(list)
        .service(get_one)
        .service(update)
        .service(remove);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCategory {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    pub parent_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    pub version: Option<i32>,
}

#[utoipa::path(post, path = "/api/v1/categories", tag = "catalog", request_body = NewCategory,
    responses((status = 201, body = Category), (status = 422), (status = 403)))]
#[post("/categories")]
pub async fn create(tenant: Tenant, body: Json<NewCategory>) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("edit the catalog")?;
    let body = body.into_inner();
    let msg = CreateCategory {
        name: parse_name("name", &body.name, 200)?,
        parent_id: body.parent_id,
    };
    let category = tenant.actor.send(msg).await??;
    Ok(HttpResponse::Created().json(category))
}

#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = Vec<Category>)))]
#[get("/categories")]
pub async fn list(tenant: Tenant) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(tenant.catalog.categories()))
}

#[utoipa::path(get, path = "/api/v1/categories/{id}", tag = "catalog",
    responses((status = 200, body = Category), (status = 404)))]
#[get("/categories/{id}")]
pub async fn get_one(tenant: Tenant, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let category = tenant
        .catalog
        .category(*id)
        .ok_or(Error::not_found("category"))?;
    Ok(HttpResponse::Ok().json(category))
}

#[utoipa::path(patch, path = "/api/v1/categories/{id}", tag = "catalog", request_body = CategoryPatch,
    responses((status = 200, body = Category), (status = 409), (status = 428)))]
#[patch("/categories/{id}")]
pub async fn update(
    req: HttpRequest,
    tenant: Tenant,
    id: web::Path<Uuid>,
    body: Json<CategoryPatch>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("edit the catalog")?;
    let body = body.into_inner();
    let version = edited_version(&req, body.version)?;
    let name = body
        .name
        .as_deref()
        .map(|n| parse_name("name", n, 200))
        .transpose()?;
    let category = tenant
        .actor
        .send(UpdateCategory {
            id: *id,
            version,
            name,
            parent_id: body.parent_id,
        })
        .await??;
    Ok(HttpResponse::Ok().json(category))
}

#[utoipa::path(delete, path = "/api/v1/categories/{id}", tag = "catalog",
    responses((status = 204), (status = 404), (status = 409)))]
#[delete("/categories/{id}")]
pub async fn remove(tenant: Tenant, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("edit the catalog")?;
    tenant.actor.send(DeleteCategory { id: *id }).await??;
    Ok(HttpResponse::NoContent().finish())
}
