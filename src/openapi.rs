//! OpenAPI 3 of every endpoint, generated from the handlers' annotations.

use crate::openapi_errors::{ErrorBody, ErrorDetail, ErrorResponses};
use crate::routes::{
    admin, auth, backoffice, catalog_io, categories, customers, employees, events, health, manage,
    products, receipts, reports, retail, shifts, stock, stores, tokens, webhooks,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "JOWi Shop server", description = "Multi-tenant retail POS backend. Money is in integer minor units; quantities are decimals with at most 3 places. Errors are {\"error\": {\"code\", \"message\"}}."),
    paths(
        health::live, health::ready, health::cache,
        auth::login, auth::logout, auth::me, auth::password,
        backoffice::list_shifts, backoffice::receipt_returns, backoffice::stock_view,
        backoffice::dashboard, backoffice::search_receipts, backoffice::register_token,
        backoffice::list_users, backoffice::create_user,
        catalog_io::import_catalog, catalog_io::import_job, catalog_io::export_catalog,
        admin::create_tenant,
        categories::create, categories::list, categories::get_one, categories::update, categories::remove,
        products::create, products::get_one, products::update, products::remove,
        products::by_barcode, products::list, products::changes,
        stores::create, stores::list, stores::get_one, stores::create_register, stores::list_registers,
        employees::create, employees::set_pin, employees::list, employees::get_one, employees::remove,
        customers::create, customers::by_phone, customers::get_one,
        tokens::issue, tokens::revoke,
        shifts::open, shifts::get_one, shifts::close, shifts::cash, shifts::report,
        receipts::create, receipts::batch, receipts::get_one, receipts::list,
        stock::store_levels, stock::post_movement, stock::ws,
        manage::update_store, manage::deactivate_store, manage::update_register,
        manage::create_warehouse, manage::list_warehouses, manage::update_employee,
        manage::update_customer, manage::search_customers, manage::list_tokens,
        retail::get_settings, retail::patch_settings, retail::list_tax_rates,
        retail::create_tax_rate, retail::update_tax_rate, retail::assign_tax,
        retail::list_discounts, retail::create_discount, retail::update_discount,
        retail::get_program, retail::put_program, retail::list_store_prices,
        retail::set_store_price, retail::get_cost_price, retail::set_cost_price, retail::customer_points, retail::adjust_points,
        reports::sales, reports::set_business_day,
        webhooks::create, webhooks::list, webhooks::get_one, webhooks::update, webhooks::remove,
        webhooks::deliveries, webhooks::redeliver, events::feed,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &ErrorResponses),
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
            // People signed in to the back office (the /auth operations).
            components.add_security_scheme(
                "session",
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                    crate::web::session::COOKIE,
                ))),
            );
        }
    }
}
