//! Domain errors and the one table of error codes. Errors carry data and
//! no HTTP types; every error answers one `Code`, and each code has its
//! HTTP status and meaning here (`src/error.rs` builds the response from
//! it; the README's list is checked against it).

use thiserror::Error;

macro_rules! codes {
    ($($variant:ident = ($code:literal, $status:literal, $meaning:literal),)*) => {
        /// Every error code the API answers: `{"error": {"code", ...}}`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The HTTP status it is answered with.
            pub fn status(self) -> u16 {
                match self { $(Code::$variant => $status,)* }
            }

            /// What it means for the client, in one sentence.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning,)* }
            }
        }
    };
}

codes! {
    BadRequest = ("bad_request", 400, "Malformed request: invalid JSON, wrong types, unknown fields, bad path or query values."),
    Unauthorized = ("unauthorized", 401, "No bearer token, or one that is unknown or revoked."),
    Forbidden = ("forbidden", 403, "The token's role may not do this (or the admin API is disabled)."),
    WrongPin = ("wrong_pin", 403, "The employee's PIN is wrong; after 5 wrong PINs in a row the employee is locked out for 5 minutes."),
    NotFound = ("not_found", 404, "No such entity in this tenant (another tenant's id answers this too)."),
    RouteNotFound = ("route_not_found", 404, "No such endpoint."),
    MethodNotAllowed = ("method_not_allowed", 405, "A known path under a method it does not take; `Allow` lists the ones it does."),
    VersionConflict = ("version_conflict", 409, "The edit names a stale version: read the entity again and redo the edit."),
    IdempotencyConflict = ("idempotency_conflict", 409, "This receipt or stock document id was already used with another body."),
    NumberTaken = ("number_taken", 409, "The offline receipt number is already used by another receipt."),
    ShiftClosed = ("shift_closed", 409, "The shift is closed (the receipt happened after the close, or it was closed already)."),
    ShiftAlreadyOpen = ("shift_already_open", 409, "The register already has an open shift."),
    PinNotSet = ("pin_not_set", 409, "The employee has no PIN yet: a manager sets one first."),
    ReturnExceedsSale = ("return_exceeds_sale", 409, "The return takes back more than is left to return on its sale."),
    DuplicateBarcode = ("duplicate_barcode", 409, "The barcode belongs to another product."),
    DuplicatePhone = ("duplicate_phone", 409, "A customer with this phone number exists."),
    EmailTaken = ("email_taken", 409, "A back-office user with this e-mail exists."),
    ImportJobExists = ("import_job_exists", 409, "An import with this job id already ran; use a new id."),
    CategoryInUse = ("category_in_use", 409, "The category still holds products or categories."),
    TotalsMismatch = ("totals_mismatch", 409, "The receipt's totals differ from the server's; `server` holds the server's lines and totals."),
    InsufficientPoints = ("insufficient_points", 409, "The customer's points balance does not cover the points paid or taken."),
    InsufficientStock = ("insufficient_stock", 409, "The store refuses negative stock and an online sale would take a level below zero."),
    CsrfRejected = ("csrf_rejected", 403, "A cookie-authenticated write without the session's CSRF token, or from another origin."),
    CursorExpired = ("cursor_expired", 410, "The events cursor is older than what retention keeps; the message names the seq to restart from."),
    PayloadTooLarge = ("payload_too_large", 413, "The body is larger than `server.max_body_bytes`."),
    ValidationFailed = ("validation_failed", 422, "Well-formed but breaks a rule; `field` names the field."),
    VersionRequired = ("version_required", 428, "A PATCH must name the version it edits (body `version` or `If-Match`)."),
    RateLimited = ("rate_limited", 429, "A per-token or per-tenant rate limit ran out; retry after `Retry-After` (see `RateLimit-*`)."),
    TooManyAttempts = ("too_many_attempts", 429, "Too many failed sign-ins or PIN checks: wait `Retry-After` seconds."),
    Internal = ("internal", 500, "A bug or an unexpected failure: logged, details hidden."),
    Busy = ("busy", 503, "Load shed: a bounded queue is full, or the store did not answer in time (then the outcome is unknown). Retry with the same id."),
    Unavailable = ("unavailable", 503, "A dependency is down. For a receipt the outcome is unknown (the commit may have reached the database): retry with the same id."),
}

#[derive(Debug, Error)]
pub enum Error {
    /// The entity does not exist for this tenant (another tenant's id lands
    /// here too: we never reveal that it exists elsewhere).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },

    /// The request is well-formed but breaks a rule of the domain.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },

    /// The request collides with stored state (duplicate barcode, receipt id
    /// reused with another body, number taken, shift already open...).
    #[error("{message}")]
    Conflict { code: Code, message: String },

    /// The register's totals differ from the server's: the server decides
    /// money, and answers its own lines and totals (`server`).
    #[error("the receipt's totals differ from the server's; the server's figures are attached")]
    TotalsMismatch { server: Box<serde_json::Value> },

    /// Optimistic concurrency: the caller edited a stale version.
    #[error("version conflict: you sent version {expected}, the current version is {current}")]
    VersionConflict { expected: i32, current: i32 },

    /// What the request points at existed but is no longer kept (an events
    /// cursor older than the retention window).
    #[error("{message}")]
    Gone { code: Code, message: String },

    #[error("{0}")]
    Unauthorized(String),

    #[error("{0}")]
    Forbidden(String),

    /// A credential other than the token was refused (a wrong PIN).
    #[error("{message}")]
    Denied { code: Code, message: String },

    /// Load shedding: a bounded queue is full or an actor did not answer
    /// in time (the outcome is then unknown). The client may retry.
    #[error("{0}")]
    Busy(String),

    /// A dependency is down. For a write the outcome may be unknown (the
    /// COMMIT may have reached the database): retry with the same id.
    #[error("{0}")]
    Unavailable(String),

    /// Too many attempts (failed sign-ins); retry after the given time.
    #[error("{message}")]
    RateLimited { message: String, retry_after_s: u64 },

    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn conflict(code: Code, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(entity: &'static str) -> Self {
        Error::NotFound { entity }
    }

    /// A copy for callers waiting on the same receipt (errors are not
    /// Clone: an internal error's detail stays in the log).
    pub fn for_waiter(&self) -> Self {
        match self {
            Error::NotFound { entity } => Error::NotFound { entity },
            Error::Invalid { field, message } => Error::invalid(field.clone(), message.clone()),
            Error::Conflict { code, message } => Error::conflict(*code, message.clone()),
            Error::VersionConflict { expected, current } => Error::VersionConflict {
                expected: *expected,
                current: *current,
            },
            Error::TotalsMismatch { server } => Error::TotalsMismatch {
                server: server.clone(),
            },
            Error::Gone { code, message } => Error::Gone {
                code: *code,
                message: message.clone(),
            },
            Error::Unauthorized(m) => Error::Unauthorized(m.clone()),
            Error::Forbidden(m) => Error::Forbidden(m.clone()),
            Error::Denied { code, message } => Error::Denied {
                code: *code,
                message: message.clone(),
            },
            Error::RateLimited {
                message,
                retry_after_s,
            } => Error::RateLimited {
                message: message.clone(),
                retry_after_s: *retry_after_s,
            },
            Error::Busy(m) => Error::Busy(m.clone()),
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::Internal(_) => {
                Error::Unavailable("the receipt could not be stored; retry".into())
            }
        }
    }

    /// True when the client should retry the same request later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Busy(_) | Error::Unavailable(_))
    }

    /// The code this error is answered with.
    pub fn code(&self) -> Code {
        match self {
            Error::NotFound { .. } => Code::NotFound,
            Error::Invalid { .. } => Code::ValidationFailed,
            Error::Conflict { code, .. } => *code,
            Error::VersionConflict { .. } => Code::VersionConflict,
            Error::TotalsMismatch { .. } => Code::TotalsMismatch,
            Error::Gone { code, .. } => *code,
            Error::Unauthorized(_) => Code::Unauthorized,
            Error::Forbidden(_) => Code::Forbidden,
            Error::Denied { code, .. } => *code,
            Error::RateLimited { .. } => Code::TooManyAttempts,
            Error::Busy(_) => Code::Busy,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Internal(_) => Code::Internal,
        }
    }
}

/// SQLSTATE of a database error, when it is one.
pub fn sqlstate(err: &tokio_postgres::Error) -> Option<&tokio_postgres::error::SqlState> {
    err.as_db_error().map(|e| e.code())
}

/// Constraint name of a database error, when it names one.
pub fn constraint(err: &tokio_postgres::Error) -> Option<&str> {
    err.as_db_error().and_then(|e| e.constraint())
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        // A lost or refused connection is the database being unavailable,
        // not a bug: the client gets a retryable 503.
        if err.is_closed() || err.as_db_error().is_none() {
            return Error::Unavailable(format!("database unavailable: {err}"));
        }
        if let Some(db) = err.as_db_error() {
            use tokio_postgres::error::SqlState;
            let code = db.code();
            if *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::TOO_MANY_CONNECTIONS
            {
                return Error::Unavailable(format!("database unavailable: {}", db.message()));
            }
            // Class 22 (data exception: a value out of range, a NUL in
            // text, a bad date) is a client's value that validation let
            // through: a 422, never a 500. Validation should have caught it;
            // this is the net under it.
            if code.code().starts_with("22") {
                tracing::warn!(sqlstate = code.code(), error = %db.message(), "the database refused a value validation let through");
                return Error::invalid(
                    "request",
                    format!("a value is out of range: {}", db.message()),
                );
            }
        }
        Error::Internal(anyhow::Error::new(err))
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        match err {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Error::Unavailable(format!("database pool: {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Codes are unique strings, and every status is one a client can act on.
    #[test]
    fn the_code_table_is_consistent() {
        let names: HashSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Code::ALL.len(), "a code string is used twice");
        for c in Code::ALL {
            assert!((400..600).contains(&c.status()), "{c:?}");
            assert!(c.meaning().ends_with('.'), "{c:?}");
        }
        assert!(Error::Busy("x".into()).is_retryable());
        assert_eq!(Error::invalid("f", "m").code(), Code::ValidationFailed);
    }
}
