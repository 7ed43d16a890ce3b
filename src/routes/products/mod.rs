//! Products with variants. Reads (by id, barcode, list) come from memory;
//! the change feed pages PostgreSQL by change sequence; writes go through
//! the TenantActor.

mod barcode;
mod edit;
mod feed;
mod get;
mod listing;
mod new;

pub use barcode::*;
pub use edit::*;
pub use feed::*;
pub use get::*;
pub use listing::*;
pub use new::*;

use actix_web::web;
use jowi_actors::domain::catalog::VariantInput;
use jowi_actors::domain::{check_text, parse_barcode, Money};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The scan path first (the hottest call); literal paths before
    // /products/{id} so "changes" never parses as an id.
    cfg.service(by_barcode)
        .service(changes)
        .service(list)
        .service(create)
        .service(get_one)
        .service(update)
        .service(remove);
}

/// Bound on variants per product.
const MAX_VARIANTS: usize = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantBody {
    /// Only in PATCH, to edit an existing variant.
    pub id: Option<Uuid>,
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub barcode: String,
    /// Price in minor units (integer).
    #[schema(minimum = 0, maximum = 1000000000000000_i64)]
    pub price: i64,
    #[schema(
        min_length = 0,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub sku: Option<String>,
}

pub(crate) fn parse_variants(
    variants: Vec<VariantBody>,
    allow_ids: bool,
) -> Result<Vec<VariantInput>, jowi_actors::Error> {
    if variants.is_empty() || variants.len() > MAX_VARIANTS {
        return Err(jowi_actors::Error::invalid(
            "variants",
            format!("a product has 1 to {MAX_VARIANTS} variants"),
        ));
    }
    variants
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if v.id.is_some() && !allow_ids {
                return Err(jowi_actors::Error::invalid(
                    format!("variants[{i}].id"),
                    "ids are assigned by the server",
                ));
            }
            let sku = match v.sku.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(s) if s.len() > 64 => {
                    return Err(jowi_actors::Error::invalid(
                        format!("variants[{i}].sku"),
                        "at most 64 characters",
                    ))
                }
                Some(s) => {
                    check_text(&format!("variants[{i}].sku"), s)?;
                    Some(s.to_owned())
                }
            };
            Ok(VariantInput {
                id: v.id,
                barcode: parse_barcode(&format!("variants[{i}].barcode"), &v.barcode)?,
                sku,
                price: Money::parse_non_negative(&format!("variants[{i}].price"), v.price)?.0,
            })
        })
        .collect()
}
