use crate::auth::Auth;
use crate::error::ApiResult;
use crate::state::AppState;
use actix_web::{get, web, HttpResponse};
use jowi_actors::pg::catalog::{changes_since, ProductChange};
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// Cursor from the previous answer; 0 (default) starts from the beginning.
    pub since: Option<i64>,
    /// 1..=1000, default 500.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangesPage {
    pub changes: Vec<ProductChange>,
    /// Pass as `since` next time (equals `since` when nothing changed).
    pub next_cursor: i64,
    /// More changes wait: ask again right away.
    pub has_more: bool,
}

/// Change feed for registers that keep a local catalog: changed and deleted
/// products after `since`, in commit order.
#[utoipa::path(get, path = "/api/v1/products/changes", tag = "catalog", params(ChangesParams),
    responses((status = 200, body = ChangesPage)))]
#[get("/products/changes")]
pub async fn changes(
    auth: Auth,
    state: web::Data<AppState>,
    params: web::Query<ChangesParams>,
) -> ApiResult<HttpResponse> {
    let since = params.since.unwrap_or(0);
    let limit = params.limit.unwrap_or(500);
    if since < 0 {
        return Err(Error::invalid("since", "must not be negative").into());
    }
    if !(1..=1000).contains(&limit) {
        return Err(Error::invalid("limit", "must be 1 to 1000").into());
    }
    let changes = changes_since(&state.db, auth.tenant(), since, limit).await?;
    let next_cursor = changes.last().map_or(since, |c| c.change_seq);
    let has_more = changes.len() as i64 == limit;
    Ok(HttpResponse::Ok().json(ChangesPage {
        changes,
        next_cursor,
        has_more,
    }))
}
