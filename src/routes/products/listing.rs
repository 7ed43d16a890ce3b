use crate::auth::Tenant;
use crate::error::ApiResult;
use actix_web::{get, web, HttpResponse};
use jowi_actors::tenant::catalog::{ListQuery, ProductPage};
use jowi_actors::Error;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

pub const MAX_LIMIT: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// 1..=200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
    pub category_id: Option<Uuid>,
    /// Name prefix, case-insensitive.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

/// Live products, newest first, keyset-paged; from memory.
#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(ListParams),
    responses((status = 200, body = ProductPage), (status = 422)))]
#[get("/products")]
pub async fn list(tenant: Tenant, params: web::Query<ListParams>) -> ApiResult<HttpResponse> {
    let p = params.into_inner();
    let limit = p.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid("limit", format!("must be 1 to {MAX_LIMIT}")).into());
    }
    let name_prefix = match p.q.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 100 => {
            return Err(Error::invalid("q", "at most 100 characters").into())
        }
        Some(q) => {
            jowi_actors::domain::check_text("q", q)?;
            Some(q.to_lowercase())
        }
    };
    let page = tenant.catalog.list(&ListQuery {
        limit,
        cursor: p.cursor,
        category_id: p.category_id,
        name_prefix,
    });
    // Spliced from each product's cached JSON (same shape as ProductPage).
    let mut body = Vec::with_capacity(64 + page.items.len() * 400);
    body.extend_from_slice(b"{\"items\":[");
    for (i, p) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&p.json());
    }
    body.extend_from_slice(b"],\"next_cursor\":");
    serde_json::to_writer(&mut body, &page.next_cursor).map_err(|e| Error::Internal(e.into()))?;
    body.push(b'}');
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
