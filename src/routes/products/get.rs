use crate::auth::Tenant;
use crate::error::ApiResult;
use actix_web::{get, web, HttpResponse};
use jowi_actors::domain::catalog::Product;
use jowi_actors::Error;
use uuid::Uuid;

/// One live product, from memory.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog",
    responses((status = 200, body = Product), (status = 404)))]
#[get("/products/{id}")]
pub async fn get_one(tenant: Tenant, id: web::Path<Uuid>) -> ApiResult<HttpResponse> {
    let product = tenant
        .catalog
        .product(*id)
        .ok_or(Error::not_found("product"))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::ETAG,
            format!("\"{}\"", product.version),
        ))
        .content_type("application/json")
        .body(product.json()))
}
