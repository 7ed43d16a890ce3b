use super::{parse_variants, VariantBody};
use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::json::Json;
use crate::routes::{double_option, edited_version};
use actix_web::{delete, patch, web, HttpRequest, HttpResponse};
use jowi_actors::domain::catalog::Product;
use jowi_actors::domain::parse_name;
use jowi_actors::tenant::messages::{DeleteProduct, UpdateProduct};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// The version you edited (or send If-Match). Stale -> 409.
    pub version: Option<i32>,
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: Option<String>,
    /// null moves the product out of any category.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub category_id: Option<Option<Uuid>>,
    /// Replaces the variant list: with `id` edits, without adds; live
    /// variants not listed are retired.
    pub variants: Option<Vec<VariantBody>>,
}

/// Edit a product; optimistic concurrency by version.
#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog", request_body = ProductPatch,
    responses((status = 200, body = Product), (status = 409, description = "stale version or duplicate barcode"),
              (status = 428, description = "no version named")))]
#[patch("/products/{id}")]
pub async fn update(
    req: HttpRequest,
    tenant: Tenant,
    id: web::Path<Uuid>,
    body: Json<ProductPatch>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("edit the catalog")?;
    let body = body.into_inner();
    let version = edited_version(&req, body.version)?;
    let msg = UpdateProduct {
        id: *id,
        version,
        name: body
            .name
            .as_deref()
            .map(|n| parse_name("name", n, 300))
            .transpose()?,
        category_id: body.category_id,
        variants: body.variants.map(|v| parse_variants(v, true)).transpose()?,
    };
    let product = tenant.actor.send(msg).await??;
    Ok(HttpResponse::Ok().json(product))
}

/// Soft delete: the product leaves lookups and lists, stays in history.
#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalog",
    responses((status = 204), (status = 404), (status = 409)))]
#[delete("/products/{id}")]
pub async fn remove(
    req: HttpRequest,
    tenant: Tenant,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    tenant.auth.require_manage("edit the catalog")?;
    let version = edited_version(&req, None).ok();
    tenant
        .actor
        .send(DeleteProduct { id: *id, version })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
