//! OpenAPI 3 of every endpoint, generated from the handlers' annotations.

use crate::routes::{
    admin, categories, customers, employees, events, health, products, receipts, shifts, stock,
    stores, tokens, webhooks,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "JOWi Shop server", description = "Multi-tenant retail POS backend. Money is in integer minor units; quantities are decimals with at most 3 places. Errors are {\"error\": {\"code\", \"message\"}}."),
    paths(
        health::live, health::ready, health::cache,
        admin::create_tenant,
        categories::create, categories::list, categories::get_one, categories::update, categories::remove,
        products::create, products::get_one, products::update, products::remove,
        products::by_barcode, products::list, products::changes,
        stores::create, stores::list, stores::get_one, stores::create_register, stores::list_registers,
        employees::create, employees::list, employees::get_one, employees::remove,
        customers::create, customers::by_phone, customers::get_one, customers::update,
        tokens::issue, tokens::revoke,
        shifts::open, shifts::get_one, shifts::close, shifts::cash, shifts::report,
        receipts::create, receipts::batch, receipts::get_one, receipts::list,
        stock::store_levels, stock::post_movement, stock::ws,
        webhooks::create, webhooks::list, webhooks::get_one, webhooks::update, webhooks::remove,
        webhooks::deliveries, webhooks::redeliver, events::feed,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
}
