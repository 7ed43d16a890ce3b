//! Sign-in for people (back office): login starts a server-side session in
//! an HttpOnly, SameSite=Strict cookie; `me` answers who is signed in and the
//! session's CSRF token (the page keeps it in memory only); logout and a
//! password change end sessions in PostgreSQL. Bearer tokens are untouched.

use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use crate::web::session::{cleared_cookie, session_cookie, SignedIn};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use jowi_actors::pg::users::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(login)
        .service(logout)
        .service(me)
        .service(password);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    #[schema(value_type = Object)]
    pub user: User,
    /// Send as X-CSRF-Token with every write made with the cookie.
    pub csrf_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// The client's address (behind a trusted proxy, the one it forwarded).
fn address(req: &HttpRequest) -> String {
    crate::client_addr::client_addr(req)
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = Login,
    responses((status = 200, body = SessionInfo), (status = 401, description = "wrong e-mail or password"),
              (status = 429, description = "too many failed sign-ins")))]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<Login>,
) -> ApiResult<HttpResponse> {
    if body.password.len() > 1024 {
        return Err(ApiError::BadRequest("the password is too long".into()));
    }
    match state
        .sessions
        .login(&body.email, &body.password, &address(&req))
        .await
    {
        Ok(keys) => {
            let max_age = state.sessions.settings().absolute.as_secs() as i64;
            Ok(HttpResponse::Ok()
                .cookie(session_cookie(&req, keys.cookie, max_age))
                .json(SessionInfo {
                    user: keys.user,
                    csrf_token: keys.csrf_token,
                }))
        }
        Err(failure) => {
            // Slowed: each failure in the window costs the guesser more time.
            tokio::time::sleep(failure.delay).await;
            Err(failure.error.into())
        }
    }
}

/// End this session (server-side) and clear the cookie.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 401), (status = 403, description = "missing CSRF token")))]
#[post("/auth/logout")]
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
) -> ApiResult<HttpResponse> {
    state.sessions.logout(&who.cookie).await?;
    Ok(HttpResponse::NoContent()
        .cookie(cleared_cookie(&req))
        .finish())
}

/// Who is signed in, and the session's CSRF token.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401)))]
#[get("/auth/me")]
pub async fn me(who: SignedIn) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SessionInfo {
            user: who.session.user,
            csrf_token: who.session.csrf_token,
        })
}

/// Change the password: every session of the user ends; this client gets a
/// new one.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 200, body = SessionInfo), (status = 422)))]
#[post("/auth/password")]
pub async fn password(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    body: Json<PasswordChange>,
) -> ApiResult<HttpResponse> {
    let keys = state
        .sessions
        .change_password(
            &who.session.user,
            &body.current_password,
            &body.new_password,
        )
        .await?;
    let max_age = state.sessions.settings().absolute.as_secs() as i64;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&req, keys.cookie, max_age))
        .json(SessionInfo {
            user: keys.user,
            csrf_token: keys.csrf_token,
        }))
}
