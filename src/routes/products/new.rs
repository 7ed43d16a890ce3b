use super::{parse_variants, VariantBody};
use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::json::Json;
use actix_web::{post, HttpResponse};
use jowi_actors::domain::catalog::Product;
use jowi_actors::domain::parse_name;
use jowi_actors::tenant::messages::CreateProduct;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProduct {
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    pub category_id: Option<Uuid>,
    #[schema(min_items = 1, max_items = 100)]
    pub variants: Vec<VariantBody>,
}

/// Create a product with its variants (barcodes unique in the tenant).
#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", request_body = NewProduct,
    responses((status = 201, body = Product), (status = 409, description = "duplicate barcode"),
              (status = 422, description = "invalid field or unknown category")))]
#[post("/products")]
pub async fn create(tenant: Tenant, body: Json<NewProduct>) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("edit the catalog")?;
    let body = body.into_inner();
    let msg = CreateProduct {
        name: parse_name("name", &body.name, 300)?,
        category_id: body.category_id,
        variants: parse_variants(body.variants, false)?,
    };
    let product = tenant.actor.send(msg).await??;
    Ok(HttpResponse::Created().json(product))
}
