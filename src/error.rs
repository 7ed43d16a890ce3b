//! The one place where errors become HTTP. Every error body is
//! `{"error": {"code", "message"}}` (plus `field` for validation errors);
//! a 500 hides its detail from the client and logs the cause chain.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use jowi_actors::Error as DomainError;
use serde::Serialize;
use std::fmt;

#[derive(Debug)]
pub enum ApiError {
    Domain(DomainError),
    /// Malformed request: bad JSON, wrong types, bad path or query values.
    BadRequest(String),
    PayloadTooLarge(String),
    /// PATCH without a version.
    VersionRequired,
    RouteNotFound,
    /// Load shedding: a bounded queue is full.
    Busy(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// The table: (status, code) for every error.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Domain(e) => match e {
                DomainError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
                DomainError::Invalid { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
                }
                DomainError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
                DomainError::VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
                DomainError::Gone { code, .. } => (StatusCode::GONE, code),
                DomainError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
                DomainError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                DomainError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
                DomainError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::VersionRequired => (StatusCode::PRECONDITION_REQUIRED, "version_required"),
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, "route_not_found"),
            ApiError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        }
    }

    /// Status, code and client-facing message (also used per item of the
    /// offline batch upload).
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        let (status, code) = self.status_and_code();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error; it has been logged".to_owned()
        } else {
            self.to_string()
        };
        (status, code, message)
    }

    pub fn forbidden(what: &str) -> Self {
        ApiError::Domain(DomainError::Forbidden(format!(
            "this token's role may not {what}"
        )))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Domain(e) => write!(f, "{e}"),
            ApiError::BadRequest(m) | ApiError::PayloadTooLarge(m) | ApiError::Busy(m) => {
                f.write_str(m)
            }
            ApiError::VersionRequired => f.write_str(
                "name the version you edited: a \"version\" field or an If-Match header",
            ),
            ApiError::RouteNotFound => f.write_str("no such endpoint"),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::Domain(e)
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Domain(DomainError::Unavailable(format!("actor unavailable: {e}")))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, code, message) = self.parts();
        if let ApiError::Domain(DomainError::Internal(e)) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let field = match self {
            ApiError::Domain(DomainError::Invalid { field, .. }) => Some(field.as_str()),
            _ => None,
        };
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Retryable: tell the client when.
            resp.insert_header((header::RETRY_AFTER, "1"));
        }
        resp.json(Body {
            error: Detail {
                code,
                message,
                field,
            },
        })
    }
}

/// Turns actix's JSON extractor errors into our 400/413/415.
pub fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as J;
    match err {
        J::OverflowKnownLength { length, limit } => ApiError::PayloadTooLarge(format!(
            "body of {length} bytes exceeds the limit of {limit} bytes"
        )),
        J::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("body exceeds the limit of {limit} bytes"))
        }
        J::ContentType => ApiError::BadRequest("Content-Type must be application/json".into()),
        J::Deserialize(e) => ApiError::BadRequest(format!("invalid JSON body: {e}")),
        other => ApiError::BadRequest(format!("unreadable body: {other}")),
    }
}

pub fn path_error(err: actix_web::error::PathError) -> ApiError {
    ApiError::BadRequest(format!("invalid path parameter: {err}"))
}

pub fn query_error(err: actix_web::error::QueryPayloadError) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {err}"))
}

pub type ApiResult<T> = Result<T, ApiError>;
