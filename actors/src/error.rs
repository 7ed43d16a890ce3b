//! Domain errors. They carry data and no HTTP types; `src/error.rs` in the
//! binary maps each variant to a status code in one table.

use thiserror::Error;

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
    Conflict { code: &'static str, message: String },

    /// Optimistic concurrency: the caller edited a stale version.
    #[error("version conflict: you sent version {expected}, the current version is {current}")]
    VersionConflict { expected: i32, current: i32 },

    /// What the request points at existed but is no longer kept (an events
    /// cursor older than the retention window).
    #[error("{message}")]
    Gone { code: &'static str, message: String },

    #[error("{0}")]
    Unauthorized(String),

    #[error("{0}")]
    Forbidden(String),

    /// A dependency is down or a bound is reached; the client may retry.
    #[error("{0}")]
    Unavailable(String),

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

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
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
            Error::Conflict { code, message } => Error::conflict(code, message.clone()),
            Error::VersionConflict { expected, current } => Error::VersionConflict {
                expected: *expected,
                current: *current,
            },
            Error::Gone { code, message } => Error::Gone {
                code,
                message: message.clone(),
            },
            Error::Unauthorized(m) => Error::Unauthorized(m.clone()),
            Error::Forbidden(m) => Error::Forbidden(m.clone()),
            Error::Unavailable(m) => Error::Unavailable(m.clone()),
            Error::Internal(_) => {
                Error::Unavailable("the receipt could not be stored; retry".into())
            }
        }
    }

    /// True when the client should retry the same request later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
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
