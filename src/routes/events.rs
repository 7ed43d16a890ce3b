//! The events feed: the same per-tenant sequence the webhooks deliver, for
//! integrations that pull instead.

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use jowi_actors::domain::{events, Role};
use jowi_actors::pg::outbox::{self, FeedPage};
use serde::Deserialize;
use utoipa::IntoParams;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(feed);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// The last seq already processed (the previous page's `next_after`).
    /// Absent: from the oldest event still kept.
    pub after: Option<i64>,
    /// Comma-separated event types; absent: every type.
    pub types: Option<String>,
    /// 1..=1000, default 100.
    pub limit: Option<i64>,
}

/// Events after a cursor, oldest first. A cursor older than the retention
/// window answers 410 `cursor_expired`.
#[utoipa::path(get, path = "/api/v1/events", tag = "integrations", params(FeedQuery),
    responses((status = 200, body = FeedPage), (status = 410), (status = 422)))]
#[get("/events")]
pub async fn feed(
    auth: Auth,
    state: web::Data<AppState>,
    q: web::Query<FeedQuery>,
) -> ApiResult<HttpResponse> {
    // Receipts and customers of every store: not for a register's token.
    if auth.0.role == Role::Register {
        return Err(ApiError::forbidden("read the events feed"));
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(jowi_actors::Error::invalid("limit", "must be 1 to 1000").into());
    }
    if q.after.is_some_and(|a| a < 0) {
        return Err(jowi_actors::Error::invalid("after", "must be 0 or more").into());
    }
    let raw: Vec<String> = q
        .types
        .as_deref()
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let types = events::parse_types("types", &raw)?;
    let page = outbox::feed(&state.db, auth.tenant(), q.after, &types, limit).await?;
    Ok(HttpResponse::Ok().json(page))
}
