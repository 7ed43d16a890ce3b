//! Bearer token (or back-office session cookie) -> `Auth` (the caller's
//! principal). The tenant of every request comes from here, never from a
//! path, body or header it picks.

use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{dev::Payload, http::header, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use jowi_actors::auth::{Lookup, Principal};
use jowi_actors::directory::TenantHandle;
use jowi_actors::Error as DomainError;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

pub fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("an Authorization: Bearer <token> header is required"))?;
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(unauthorized(
            "the Authorization header must be: Bearer <token>",
        )),
    }
}

fn unauthorized(msg: &str) -> ApiError {
    ApiError::Domain(DomainError::Unauthorized(msg.to_owned()))
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        // No Authorization header but a session cookie: a person in the
        // back office (CSRF-checked in crate::web::session).
        let cookie = match req.headers().contains_key(header::AUTHORIZATION) {
            false => crate::web::session::cookie_value(req).map(|c| (c, req.clone())),
            true => None,
        };
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ApiError::Domain(DomainError::Internal(anyhow::anyhow!("app state missing")))
            })?;
            let principal = match cookie {
                Some((cookie, req)) => {
                    crate::web::session::authenticate(&state, &req, &cookie)
                        .await?
                        .principal
                }
                None => {
                    let token = token?;
                    match state.auth.lookup_cached(&token)? {
                        Lookup::Known(p) => p,
                        Lookup::NeedsDatabase(tenant) => {
                            // Bounded: a spray of made-up tokens must not
                            // become a spray of database queries.
                            state.limits.check_lookup(tenant)?;
                            let found = state.auth.lookup_database(&token, tenant).await;
                            if matches!(found, Err(DomainError::Unauthorized(_))) {
                                state.limits.lookup_failed(tenant);
                            }
                            found?
                        }
                    }
                }
            };
            // A back-office session is budgeted like a token (keyed by its user).
            state.limits.check(&principal, || {
                state.directory.loaded(principal.tenant_id).map(|t| {
                    t.catalog
                        .stores()
                        .iter()
                        .map(|s| t.catalog.registers_of(s.id).len())
                        .sum()
                })
            })?;
            let span = tracing::Span::current();
            span.record("tenant_id", tracing::field::display(principal.tenant_id));
            Ok(Auth(principal))
        })
    }
}

/// The authenticated caller with its tenant loaded: the catalog to read and
/// the actor to write through (`Deref`s to the handle). Handlers that touch
/// the tenant take this instead of `Auth`.
pub struct Tenant {
    pub auth: Auth,
    handle: Arc<TenantHandle>,
}

impl std::ops::Deref for Tenant {
    type Target = TenantHandle;
    fn deref(&self) -> &TenantHandle {
        &self.handle
    }
}

impl FromRequest for Tenant {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let auth = Auth::from_request(req, payload);
        Box::pin(async move {
            let auth = auth.await?;
            let state = state.ok_or_else(|| {
                ApiError::Domain(DomainError::Internal(anyhow::anyhow!("app state missing")))
            })?;
            let handle = state.directory.tenant(auth.tenant()).await?;
            Ok(Tenant { auth, handle })
        })
    }
}

impl Auth {
    pub fn tenant(&self) -> uuid::Uuid {
        self.0.tenant_id
    }

    /// Back office only (owner, manager).
    pub fn require_manage(&self, what: &str) -> Result<(), ApiError> {
        if self.0.role.can_manage() {
            Ok(())
        } else {
            Err(ApiError::forbidden(what))
        }
    }

    /// Selling: owner, manager or a register.
    pub fn require_sell(&self, what: &str) -> Result<(), ApiError> {
        if self.0.role.can_sell() {
            Ok(())
        } else {
            Err(ApiError::forbidden(what))
        }
    }
}

/// A caller holding the admin token. As an extractor it runs before the
/// body is read (put it first among a handler's arguments).
pub struct Admin;

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let checked = match req.app_data::<web::Data<AppState>>() {
            Some(state) => check_admin(req, &state.settings.server.admin_token),
            None => Err(ApiError::Domain(DomainError::Internal(anyhow::anyhow!(
                "app state missing"
            )))),
        };
        std::future::ready(checked.map(|()| Admin))
    }
}

/// The admin token (configured, compared in constant time).
pub fn check_admin(req: &HttpRequest, configured: &str) -> Result<(), ApiError> {
    if configured.is_empty() {
        return Err(ApiError::Domain(DomainError::Forbidden(
            "the admin API is disabled: set JOWI_ADMIN_TOKEN".into(),
        )));
    }
    let given = bearer(req)?;
    let a = given.as_bytes();
    let b = configured.as_bytes();
    let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if same {
        Ok(())
    } else {
        Err(unauthorized("the admin token is wrong"))
    }
}
