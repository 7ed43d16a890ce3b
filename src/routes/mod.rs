//! HTTP routes: thin handlers (auth -> parse/validate -> message -> reply).

pub mod admin;
pub mod auth;
pub mod backoffice;
pub mod catalog_io;
pub mod categories;
pub mod customers;
pub mod employees;
pub mod events;
pub mod health;
pub mod manage;
pub mod products;
pub mod receipt_money;
pub mod receipts;
pub mod reports;
pub mod retail;
pub mod shifts;
pub mod stock;
pub mod stores;
pub mod tokens;
pub mod webhooks;

use crate::error::ApiError;
use actix_web::{http::header, web, HttpRequest};
use serde::{Deserialize, Deserializer};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        // Hot routes first: the router tries resources in order and every
        // dynamic one it passes costs a regex match.
        web::scope("/api/v1")
            .configure(products::configure)
            .configure(receipts::configure)
            .configure(health::configure)
            .configure(admin::configure)
            .configure(categories::configure)
            .configure(manage::configure)
            .configure(retail::configure)
            .configure(stores::configure)
            .configure(employees::configure)
            .configure(customers::configure)
            .configure(tokens::configure)
            .configure(shifts::configure)
            .configure(stock::configure)
            .configure(auth::configure)
            .configure(backoffice::configure)
            .configure(catalog_io::configure)
            .configure(reports::configure)
            .configure(webhooks::configure)
            .configure(events::configure),
    );
}

/// For PATCH bodies: absent -> None, null -> Some(None), value -> Some(Some(v)).
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The version a PATCH edits: the body's `version` or an If-Match header
/// (`3`, `"3"` or `W/"3"`).
pub fn edited_version(req: &HttpRequest, body: Option<i32>) -> Result<i32, ApiError> {
    if let Some(v) = body {
        return Ok(v);
    }
    match req.headers().get(header::IF_MATCH) {
        None => Err(ApiError::VersionRequired),
        Some(raw) => raw
            .to_str()
            .ok()
            .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
            .and_then(|s| s.parse::<i32>().ok())
            .ok_or_else(|| ApiError::BadRequest("If-Match must hold a version number".into())),
    }
}

/// An optional uuid query parameter taken as text, so a bad one answers
/// 400 naming it in `field` (empty = absent, as a form sends "any").
pub fn uuid_param(field: &'static str, raw: Option<&str>) -> Result<Option<uuid::Uuid>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => uuid::Uuid::try_parse(s)
            .map(Some)
            .map_err(|_| ApiError::BadParam {
                field,
                message: "must be a uuid".into(),
            }),
    }
}

/// Optional text field: trimmed, empty -> None, bounded length, no
/// control characters.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(ApiError::Domain(jowi_actors::Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ))),
        Some(s) => {
            jowi_actors::domain::check_text(field, s)?;
            Ok(Some(s.to_owned()))
        }
    }
}
