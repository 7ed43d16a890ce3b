//! The session cookie at the HTTP edge: reading it, checking CSRF on
//! writes, and building the Set-Cookie headers. The session itself lives in
//! `jowi_actors::sessions` (PostgreSQL).

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::{header, Method};
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use jowi_actors::sessions::SessionPrincipal;
use jowi_actors::Error as DomainError;

pub const COOKIE: &str = "jowi_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session cookie's value, when the request carries one.
pub fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// Secure when the client reached us over TLS (said by a trusted proxy only).
fn secure(req: &HttpRequest) -> bool {
    crate::client_addr::over_tls(req)
}

pub fn session_cookie(req: &HttpRequest, value: String, max_age_s: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(req))
        .max_age(time::Duration::seconds(max_age_s))
        .finish()
}

pub fn cleared_cookie(req: &HttpRequest) -> Cookie<'static> {
    let mut c = session_cookie(req, String::new(), 0);
    c.make_removal();
    c
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Cookie-authenticated requests must come from our own pages: an Origin
/// header, when sent, names this host; writes also carry the session's CSRF
/// token (SameSite=Strict is the first line, this the second).
pub fn check_request(req: &HttpRequest, csrf: &str) -> Result<(), ApiError> {
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = req.connection_info().host().to_owned();
        let ours = origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(&host));
        if !ours {
            return Err(ApiError::CsrfRejected);
        }
    }
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        return Ok(());
    }
    let given = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if same_bytes(given.as_bytes(), csrf.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::CsrfRejected)
    }
}

/// The session behind the request's cookie, checked for CSRF.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    cookie: &str,
) -> Result<SessionPrincipal, ApiError> {
    let session = state.sessions.authenticate(cookie).await?;
    check_request(req, &session.csrf_token)?;
    Ok(session)
}

/// A signed-in person (cookie only: bearer tokens are not people).
pub struct SignedIn {
    pub session: SessionPrincipal,
    pub cookie: String,
}

impl FromRequest for SignedIn {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| {
                    ApiError::Domain(DomainError::Internal(anyhow::anyhow!("app state missing")))
                })?;
            let cookie = cookie_value(&req).ok_or_else(|| {
                ApiError::Domain(DomainError::Unauthorized("sign in first".into()))
            })?;
            let session = authenticate(&state, &req, &cookie).await?;
            tracing::Span::current().record(
                "tenant_id",
                tracing::field::display(session.principal.tenant_id),
            );
            Ok(SignedIn { session, cookie })
        })
    }
}
