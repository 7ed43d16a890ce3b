//! Makes the OpenAPI document tell the truth about failures: every
//! operation lists each error status the edge can answer for it, with the
//! one error body, and public endpoints carry no security requirement.
//! Done as a modifier over every operation rather than by hand per
//! handler, so a new route cannot forget one.

use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr};
use utoipa::{Modify, ToSchema};

/// Every error body: `{"error": {"code", "message"[, "field"]}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code (the README lists them).
    pub code: String,
    pub message: String,
    /// The offending field of a 422 (`items[2].quantity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Paths anyone may call (no token).
const PUBLIC: [&str; 4] = [
    "/api/v1/health",
    "/api/v1/health/ready",
    "/api/v1/health/cache",
    "/api/v1/auth/login",
];

/// Operations of a signed-in person: the session cookie, not a bearer token
/// (writes also need the session's X-CSRF-Token).
fn session_only(path: &str) -> bool {
    path.starts_with("/api/v1/auth/") && !PUBLIC.contains(&path)
}

pub struct ErrorResponses;

#[derive(Clone, Copy, PartialEq)]
enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

fn error_response(description: &str, retry_after: bool) -> RefOr<Response> {
    let mut b = ResponseBuilder::new().description(description).content(
        "application/json",
        Content::new(Some(Ref::from_schema_name("ErrorBody"))),
    );
    if retry_after {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).build();
        b = b.header("Retry-After", Header::new(seconds));
    }
    RefOr::T(b.build())
}

fn describe(op: &mut Operation, path: &str, verb: Verb) {
    let public = PUBLIC.contains(&path);
    if public {
        // `security: []` overrides the document-wide bearer requirement.
        op.security = Some(Vec::new());
    } else if session_only(path) {
        op.security = Some(vec![SecurityRequirement::new(
            "session",
            Vec::<String>::new(),
        )]);
    }
    let has_body = op.request_body.is_some();
    let has_path_params = path.contains('{');
    let mut add = |status: &str, description: &str, retry_after: bool| {
        let entry = op
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description, retry_after));
        // A status the handler listed without a body gets the error body.
        if let RefOr::T(r) = entry {
            if r.content.is_empty() {
                *entry = error_response(
                    if r.description.is_empty() {
                        description
                    } else {
                        &r.description
                    },
                    retry_after,
                );
            }
        }
    };
    if path.starts_with("/api/v1/health") {
        // Health answers from memory; readiness already lists its 503.
        return;
    }
    add(
        "400",
        "bad_request: malformed JSON, path or query value",
        false,
    );
    if !public {
        add(
            "401",
            "unauthorized: missing, malformed, unknown or revoked token",
            false,
        );
        add("403", "forbidden: this token's role may not do this", false);
        add(
            "429",
            "rate_limited: a per-token or per-tenant budget ran out (also RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset)",
            true,
        );
    }
    if path.starts_with("/api/v1/auth/") {
        add(
            "401",
            "unauthorized: not signed in, or wrong e-mail or password",
            false,
        );
        add(
            "429",
            "too_many_attempts: too many failed sign-ins for this account or address",
            true,
        );
    }
    if has_path_params || verb != Verb::Get || path.contains("receipts") {
        add("404", "not_found: no such entity for this tenant", false);
    }
    if matches!(verb, Verb::Post | Verb::Put | Verb::Patch | Verb::Delete) {
        add("409", "conflict (see the code)", false);
    }
    if has_body {
        add(
            "413",
            "payload_too_large: the body exceeds server.max_body_bytes",
            false,
        );
    }
    add(
        "422",
        "validation_failed: `field` names the offending field",
        false,
    );
    if verb == Verb::Patch {
        add("428", "version_required: send `version` or If-Match", false);
    }
    add(
        "503",
        "unavailable or busy: retry later (a receipt: with the same id)",
        true,
    );
}

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (op, verb) in [
                (&mut item.get, Verb::Get),
                (&mut item.post, Verb::Post),
                (&mut item.put, Verb::Put),
                (&mut item.patch, Verb::Patch),
                (&mut item.delete, Verb::Delete),
            ] {
                if let Some(op) = op.as_mut() {
                    describe(op, path, verb);
                }
            }
        }
    }
}
