//! The one place where errors become HTTP. Every error answers a
//! `jowi_actors::error::Code` (the table of codes, statuses and meanings);
//! the body is `{"error": {"code", "message"}}` (plus `field` for
//! validation errors); a 500 hides its detail and logs the cause chain.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use jowi_actors::error::Code;
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
    /// A known path under a method it does not take; holds the `Allow` list.
    MethodNotAllowed(String),
    /// A rate limit ran out (429).
    RateLimited(crate::rate_limit::Throttled),
    /// A cookie-authenticated write without the session's CSRF token (or
    /// from another origin).
    CsrfRejected,
    /// A query parameter is wrong: 400 naming the parameter in `field`.
    BadParam {
        field: &'static str,
        message: String,
    },
}

impl From<crate::rate_limit::Throttled> for ApiError {
    fn from(t: crate::rate_limit::Throttled) -> Self {
        ApiError::RateLimited(t)
    }
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
    /// `totals_mismatch`: the server's lines and totals.
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a serde_json::Value>,
}

impl ApiError {
    /// The code of every error (its status comes with it).
    pub fn code(&self) -> Code {
        match self {
            ApiError::Domain(e) => e.code(),
            ApiError::BadRequest(_) => Code::BadRequest,
            ApiError::PayloadTooLarge(_) => Code::PayloadTooLarge,
            ApiError::VersionRequired => Code::VersionRequired,
            ApiError::RouteNotFound => Code::RouteNotFound,
            ApiError::MethodNotAllowed(_) => Code::MethodNotAllowed,
            ApiError::RateLimited(_) => Code::RateLimited,
            ApiError::CsrfRejected => Code::CsrfRejected,
            ApiError::BadParam { .. } => Code::BadRequest,
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        let code = self.code();
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, code.as_str())
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
            ApiError::BadRequest(m) | ApiError::PayloadTooLarge(m) => f.write_str(m),
            ApiError::BadParam { field, message } => write!(f, "{field}: {message}"),
            ApiError::VersionRequired => f.write_str(
                "name the version you edited: a \"version\" field or an If-Match header",
            ),
            ApiError::RouteNotFound => f.write_str("no such endpoint"),
            ApiError::MethodNotAllowed(allow) => write!(f, "this endpoint takes {allow}"),
            ApiError::RateLimited(t) => write!(
                f,
                "the {} rate limit is reached; retry in {} s",
                t.scope,
                t.retry_after_s()
            ),
            ApiError::CsrfRejected => f.write_str(
                "this write needs the session's X-CSRF-Token header and must come from this site",
            ),
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
            ApiError::BadParam { field, .. } => Some(*field),
            _ => None,
        };
        let mut resp = HttpResponse::build(status);
        if let ApiError::MethodNotAllowed(allow) = self {
            resp.insert_header((header::ALLOW, allow.as_str()));
        }
        if let ApiError::RateLimited(t) = self {
            let wait = t.retry_after_s().to_string();
            resp.insert_header((header::RETRY_AFTER, wait.as_str()))
                .insert_header(("RateLimit-Limit", t.limit.to_string()))
                .insert_header(("RateLimit-Remaining", "0"))
                .insert_header(("RateLimit-Reset", wait.as_str()));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Retryable: tell the client when.
            resp.insert_header((header::RETRY_AFTER, "1"));
        }
        let server = match self {
            ApiError::Domain(DomainError::TotalsMismatch { server }) => Some(&**server),
            _ => None,
        };
        if let ApiError::Domain(DomainError::RateLimited { retry_after_s, .. }) = self {
            resp.insert_header((header::RETRY_AFTER, (*retry_after_s).max(1).to_string()));
        }
        resp.json(Body {
            error: Detail {
                code,
                message,
                field,
                server,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's error list is the code table (regenerate it from the
    /// expected text this test prints when they differ).
    #[test]
    fn readme_lists_every_error_code() {
        let mut want = String::from("| code | status | meaning |\n| --- | --- | --- |\n");
        for c in Code::ALL {
            want.push_str(&format!(
                "| `{}` | {} | {} |\n",
                c.as_str(),
                c.status(),
                c.meaning()
            ));
        }
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .unwrap_or_default();
        let start = "<!-- error-codes:start (generated from jowi_actors::error::Code; checked by a test) -->\n";
        let got = readme
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once("<!-- error-codes:end -->"))
            .map(|(table, _)| table)
            .unwrap_or_default();
        assert_eq!(
            got, want,
            "README.md error table is out of date; expected:\n{want}"
        );
    }

    /// Every status in the table is a valid HTTP status.
    #[test]
    fn every_code_maps_to_its_status() {
        for c in Code::ALL {
            assert_eq!(
                StatusCode::from_u16(c.status()).ok().map(|s| s.as_u16()),
                Some(c.status())
            );
        }
        let busy = ApiError::Domain(DomainError::Busy("x".into()));
        assert_eq!(
            busy.status_and_code(),
            (StatusCode::SERVICE_UNAVAILABLE, "busy")
        );
    }
}
