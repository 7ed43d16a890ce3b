//! Platform administration: creating tenants (with the admin token).

use crate::auth::Admin;
use crate::error::ApiResult;
use crate::json::Json;
use crate::state::AppState;
use actix_web::{post, web, HttpResponse};
use jowi_actors::domain::parse_name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_tenant);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTenant {
    pub tenant_id: uuid::Uuid,
    /// Owner token; shown once.
    pub token: String,
}

/// Create a tenant and its owner token. Needs `Authorization: Bearer $JOWI_ADMIN_TOKEN`.
#[utoipa::path(post, path = "/api/v1/admin/tenants", tag = "admin", request_body = NewTenant,
    responses((status = 201, body = CreatedTenant), (status = 401), (status = 422)))]
#[post("/admin/tenants")]
pub async fn create_tenant(
    // First: extractors run in order, so a caller without the admin token
    // never gets the body parsed (nor learns anything from parse errors).
    _admin: Admin,
    state: web::Data<AppState>,
    body: Json<NewTenant>,
) -> ApiResult<HttpResponse> {
    let name = parse_name("name", &body.name, 200)?;
    let (tenant_id, token) = state.auth.create_tenant(&name).await?;
    Ok(HttpResponse::Created().json(CreatedTenant { tenant_id, token }))
}
