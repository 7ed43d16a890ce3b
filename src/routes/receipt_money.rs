//! What a receipt's money rules need that may touch PostgreSQL, resolved
//! before the receipt goes to its store actor: the tenant's rules and the
//! store's settings (cached in the tenant), the customer named by phone,
//! and for a return the sale it returns.

use crate::auth::Tenant;
use crate::error::ApiError;
use crate::state::AppState;
use jowi_actors::domain::money_rules::discount::ApplierRole;
use jowi_actors::domain::phone::to_e164;
use jowi_actors::domain::receipt::{ReceiptKind, ReceiptRequest};
use jowi_actors::domain::receipt_money::MoneyContext;
use jowi_actors::domain::Role;
use jowi_actors::pg::retail;
use std::sync::Arc;

pub async fn context(
    state: &AppState,
    tenant: &Tenant,
    receipt: &ReceiptRequest,
) -> Result<MoneyContext, ApiError> {
    let auth = &tenant.auth;
    let cache = &tenant.catalog.retail;
    let rules = cache.rules(&state.db, auth.tenant()).await?;
    let settings = cache
        .settings(&state.db, auth.tenant(), receipt.store_id)
        .await?;
    let phone_customer = match receipt.customer_phone.as_deref() {
        None => None,
        Some(raw) => {
            let phone = to_e164("customer_phone", raw, &rules.calling_code)?;
            retail::customer_by_phone(&state.db, auth.tenant(), &phone).await?
        }
    };
    let original = match (receipt.kind, receipt.original_receipt_id) {
        (ReceiptKind::Return, Some(id)) => retail::load_original_sale(&state.db, auth.tenant(), id)
            .await?
            .map(Arc::new),
        _ => None,
    };
    let role = match auth.0.role {
        Role::Owner => Some(ApplierRole::Owner),
        Role::Manager => Some(ApplierRole::Manager),
        Role::Register | Role::ReadOnly => Some(ApplierRole::Cashier),
    };
    Ok(MoneyContext {
        rules,
        settings,
        role,
        phone_customer,
        original,
    })
}
