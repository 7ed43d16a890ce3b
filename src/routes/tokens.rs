//! API tokens of the tenant: issue (owner only) and revoke. Revocation is
//! immediate on this instance and sent over the bus to the others.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{delete, post, web, HttpResponse};
use jowi_actors::domain::{parse_name, Role};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(issue).service(revoke);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// owner, manager or read_only (register tokens come with their register).
    #[schema(pattern = "^(owner|manager|read_only)$")]
    pub role: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    pub id: Uuid,
    pub role: String,
    /// Shown once.
    pub token: String,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin", request_body = NewToken,
    responses((status = 201, body = IssuedToken), (status = 403), (status = 422)))]
#[post("/tokens")]
pub async fn issue(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<NewToken>,
) -> ApiResult<HttpResponse> {
    if auth.0.role != Role::Owner {
        return Err(ApiError::forbidden("issue tokens"));
    }
    let role = Role::parse(&body.role)?;
    if role == Role::Register {
        return Err(Error::invalid(
            "role",
            "register tokens are issued with POST /stores/{id}/registers",
        )
        .into());
    }
    let name = parse_name("name", &body.name, 100)?;
    let (id, token) = state.auth.issue_token(auth.tenant(), role, &name).await?;
    Ok(HttpResponse::Created().json(IssuedToken {
        id,
        role: role.as_str().to_owned(),
        token,
    }))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "admin",
    responses((status = 204), (status = 403), (status = 404)))]
#[delete("/tokens/{id}")]
pub async fn revoke(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    if auth.0.role != Role::Owner {
        return Err(ApiError::forbidden("revoke tokens"));
    }
    state
        .auth
        .revoke(auth.tenant(), *id, state.bus.as_ref())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
