use crate::auth::Tenant;
use crate::error::ApiResult;
use actix_web::{get, web, HttpResponse};
use jowi_actors::domain::catalog::{Category, Product, Variant};
use jowi_actors::domain::parse_barcode;
use jowi_actors::Error;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct BarcodeHit {
    #[schema(value_type = Product)]
    pub product: Arc<Product>,
    pub variant: Variant,
    #[schema(value_type = Option<Category>)]
    pub category: Option<Arc<Category>>,
}

/// The hottest call: a scanned barcode -> product, variant and category,
/// answered from memory with no database round trip.
#[utoipa::path(get, path = "/api/v1/products/barcode/{barcode}", tag = "catalog",
    responses((status = 200, body = BarcodeHit), (status = 404)))]
#[get("/products/barcode/{barcode}")]
pub async fn by_barcode(tenant: Tenant, barcode: web::Path<String>) -> ApiResult<HttpResponse> {
    let barcode = parse_barcode("barcode", &barcode)?;
    let (product, variant) = tenant
        .catalog
        .by_barcode(&barcode)
        .ok_or(Error::not_found("barcode"))?;
    let category = product.category_id.and_then(|c| tenant.catalog.category(c));
    Ok(HttpResponse::Ok().json(BarcodeHit {
        product,
        variant,
        category,
    }))
}
