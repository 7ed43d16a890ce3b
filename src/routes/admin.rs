//! Platform administration: creating tenants (with the admin token).

use crate::auth::check_admin;
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{post, web, HttpRequest, HttpResponse};
use jowi_actors::domain::parse_name;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create_tenant);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
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
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<NewTenant>,
) -> ApiResult<HttpResponse> {
    check_admin(&req, &state.settings.server.admin_token)?;
    let name = parse_name("name", &body.name, 200)?;
    let (tenant_id, token) = state.auth.create_tenant(&name).await?;
    Ok(HttpResponse::Created().json(CreatedTenant { tenant_id, token }))
}
