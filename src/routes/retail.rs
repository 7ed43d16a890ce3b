//! Retail rules of the back office: store settings (held by the tenant
//! actor), tax rates and assignments, named discounts, the points program,
//! per-store prices, and the points of a customer.

use super::edited_version;
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use jowi_actors::bus::{BusEvent, Entity};
use jowi_actors::domain::money_rules::discount::ApplierRole;
use jowi_actors::domain::money_rules::tax::TaxMode;
use jowi_actors::domain::parse_name;
use jowi_actors::domain::store_settings::VersionedSettings;
use jowi_actors::pg::manage::{self, LedgerEntry};
use jowi_actors::pg::retail::{
    self, DiscountDefinition, DiscountFields, LoyaltyProgram, RateChange, StorePrice, TaxRate,
};
use jowi_actors::tenant::manage::UpdateStoreSettings;
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(get_settings)
        .service(patch_settings)
        .service(list_tax_rates)
        .service(create_tax_rate)
        .service(update_tax_rate)
        .service(assign_tax)
        .service(list_discounts)
        .service(create_discount)
        .service(update_discount)
        .service(get_program)
        .service(put_program)
        .service(list_store_prices)
        .service(set_store_price)
        .service(get_cost_price)
        .service(set_cost_price)
        .service(customer_points)
        .service(adjust_points);
}

/// Tells this instance's cache and the other instances that rules changed.
fn rules_changed(state: &AppState, auth: &Auth) {
    if let Some(t) = state.directory.loaded(auth.tenant()) {
        t.catalog.retail.invalidate_rules();
    }
    state.bus.publish(BusEvent::CatalogChanged {
        tenant_id: auth.tenant(),
        entity: Entity::RetailRules,
        id: auth.tenant(),
        version: i64::MAX,
    });
}

// Store settings ---------------------------------------------------------------

#[utoipa::path(get, path = "/api/v1/stores/{id}/settings", tag = "retail",
    responses((status = 200, body = VersionedSettings), (status = 404)))]
#[get("/stores/{id}/settings")]
pub async fn get_settings(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let tenant = state.directory.tenant(auth.tenant()).await?;
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    let s = tenant
        .catalog
        .retail
        .settings(&state.db, auth.tenant(), *id)
        .await?;
    Ok(HttpResponse::Ok().json(&*s))
}

/// Any subset of the settings' fields plus `version` (or If-Match); 409
/// `version_conflict` when stale.
#[utoipa::path(patch, path = "/api/v1/stores/{id}/settings", tag = "retail",
    request_body(content = VersionedSettings, description = "any subset of the fields, with version"),
    responses((status = 200, body = VersionedSettings), (status = 409), (status = 422), (status = 428)))]
#[patch("/stores/{id}/settings")]
pub async fn patch_settings(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("change store settings")?;
    let mut patch = body.into_inner();
    let version = match patch.remove("version") {
        Some(v) => Some(
            v.as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| ApiError::BadRequest("version must be an integer".into()))?,
        ),
        None => None,
    };
    let version = edited_version(&req, version)?;
    patch.remove("store_id");
    let tenant = state.directory.tenant(auth.tenant()).await?;
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    let saved = tenant
        .actor
        .send(UpdateStoreSettings {
            store_id: *id,
            version,
            patch,
        })
        .await??;
    Ok(HttpResponse::Ok().json(saved))
}

// Tax rates ----------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTaxRate {
    pub name: String,
    /// Basis points of a percent: 12% = 1200 (0..=10000).
    pub rate_bp: i32,
    pub mode: TaxMode,
    /// Default: now.
    pub effective_from: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRateEdit {
    pub version: Option<i32>,
    pub name: Option<String>,
    pub active: Option<bool>,
    /// A new percent from `effective_from` (default now); past receipts keep theirs.
    pub rate_bp: Option<i32>,
    pub mode: Option<TaxMode>,
    pub effective_from: Option<DateTime<Utc>>,
}

fn check_bp(field: &str, bp: i32) -> Result<i32, Error> {
    if (0..=10_000).contains(&bp) {
        Ok(bp)
    } else {
        Err(Error::invalid(field, "basis points 0..=10000 (12% = 1200)"))
    }
}

#[utoipa::path(get, path = "/api/v1/tax-rates", tag = "retail", responses((status = 200, body = Vec<TaxRate>)))]
#[get("/tax-rates")]
pub async fn list_tax_rates(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(retail::list_tax_rates(&state.db, auth.tenant(), None).await?))
}

#[utoipa::path(post, path = "/api/v1/tax-rates", tag = "retail", request_body = NewTaxRate,
    responses((status = 201, body = TaxRate), (status = 422)))]
#[post("/tax-rates")]
pub async fn create_tax_rate(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<NewTaxRate>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage taxes")?;
    let name = parse_name("name", &body.name, 100)?;
    let bp = check_bp("rate_bp", body.rate_bp)?;
    let from = body.effective_from.unwrap_or_else(Utc::now);
    let rate =
        retail::create_tax_rate(&state.db, auth.tenant(), &name, bp, body.mode, from).await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::Created().json(rate))
}

#[utoipa::path(patch, path = "/api/v1/tax-rates/{id}", tag = "retail", request_body = TaxRateEdit,
    responses((status = 200, body = TaxRate), (status = 404), (status = 409), (status = 422)))]
#[patch("/tax-rates/{id}")]
pub async fn update_tax_rate(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<TaxRateEdit>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage taxes")?;
    let version = edited_version(&req, body.version)?;
    let name = body
        .name
        .as_deref()
        .map(|n| parse_name("name", n, 100))
        .transpose()?;
    let change = match (body.rate_bp, body.mode) {
        (None, None) => None,
        (bp, mode) => {
            let current = retail::get_tax_rate(&state.db, auth.tenant(), *id).await?;
            let last = current.history.last();
            Some(RateChange {
                rate_bp: check_bp(
                    "rate_bp",
                    bp.or(last.map(|l| l.rate_bp)).unwrap_or_default(),
                )?,
                mode: mode.or(last.map(|l| l.mode)).unwrap_or(TaxMode::Inclusive),
                from: body.effective_from.unwrap_or_else(Utc::now),
            })
        }
    };
    let rate = retail::update_tax_rate(
        &state.db,
        auth.tenant(),
        *id,
        version,
        name.as_deref(),
        body.active,
        change,
    )
    .await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::Ok().json(rate))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxAssignment {
    /// tenant (the default), category, product or variant.
    pub target: String,
    /// The category, product or variant; omitted for `tenant`.
    pub target_id: Option<Uuid>,
    /// null removes the assignment.
    pub tax_rate_id: Option<Uuid>,
}

/// Which rate applies: variant, product, category (and its parents), the
/// store's default (settings), the tenant's default.
#[utoipa::path(put, path = "/api/v1/tax-assignments", tag = "retail", request_body = TaxAssignment,
    responses((status = 204), (status = 422)))]
#[put("/tax-assignments")]
pub async fn assign_tax(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<TaxAssignment>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage taxes")?;
    let tenant = state.directory.tenant(auth.tenant()).await?;
    let c = &tenant.catalog;
    let target = match (body.target.as_str(), body.target_id) {
        ("tenant", None) => auth.tenant(),
        ("category", Some(id)) if c.category(id).is_some() => id,
        ("product", Some(id)) if c.product(id).is_some() => id,
        ("variant", Some(id)) if c.variant(id).is_some() => id,
        ("tenant" | "category" | "product" | "variant", _) => {
            return Err(Error::invalid("target_id", "no such target (tenant takes none)").into())
        }
        _ => return Err(Error::invalid("target", "tenant, category, product or variant").into()),
    };
    retail::set_tax_assignment(
        &state.db,
        auth.tenant(),
        &body.target,
        target,
        body.tax_rate_id,
    )
    .await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::NoContent().finish())
}

// Named discounts --------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscountBody {
    /// PATCH only.
    pub version: Option<i32>,
    pub name: Option<String>,
    /// `percent` (value in basis points) or `amount` (minor units).
    pub kind: Option<String>,
    pub value: Option<i64>,
    /// The most it may take, in basis points of what it applies to.
    pub max_percent_bp: Option<i32>,
    /// Employee roles that may apply it: cashier, manager, owner.
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn discount_fields(b: &DiscountBody, create: bool) -> Result<DiscountFields, Error> {
    let missing = |f: &str| Error::invalid(f, "required");
    if create && (b.name.is_none() || b.kind.is_none() || b.value.is_none()) {
        return Err(missing(if b.name.is_none() {
            "name"
        } else if b.kind.is_none() {
            "kind"
        } else {
            "value"
        }));
    }
    if let Some(k) = b.kind.as_deref() {
        if !matches!(k, "percent" | "amount") {
            return Err(Error::invalid("kind", "percent or amount"));
        }
    }
    if let Some(v) = b.value {
        let max = if b.kind.as_deref() == Some("percent") {
            10_000
        } else {
            1_000_000_000_000_000
        };
        if !(0..=max).contains(&v) {
            return Err(Error::invalid("value", format!("must be 0 to {max}")));
        }
    }
    if let Some(roles) = &b.roles {
        if roles.iter().any(|r| ApplierRole::parse(r).is_none()) || roles.len() > 3 {
            return Err(Error::invalid("roles", "cashier, manager or owner"));
        }
    }
    Ok(DiscountFields {
        name: b
            .name
            .as_deref()
            .map(|n| parse_name("name", n, 100))
            .transpose()?,
        kind: b.kind.clone(),
        value: b.value,
        max_percent_bp: match b.max_percent_bp {
            Some(bp) => Some(check_bp("max_percent_bp", bp)?),
            None if create => Some(10_000),
            None => None,
        },
        roles: match &b.roles {
            Some(r) => Some(r.clone()),
            None if create => Some(vec!["cashier".into(), "manager".into(), "owner".into()]),
            None => None,
        },
        active: b.active,
    })
}

#[utoipa::path(get, path = "/api/v1/discounts", tag = "retail", responses((status = 200, body = Vec<DiscountDefinition>)))]
#[get("/discounts")]
pub async fn list_discounts(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(retail::list_discounts(&state.db, auth.tenant()).await?))
}

#[utoipa::path(post, path = "/api/v1/discounts", tag = "retail", request_body = DiscountBody,
    responses((status = 201, body = DiscountDefinition), (status = 422)))]
#[post("/discounts")]
pub async fn create_discount(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<DiscountBody>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage discounts")?;
    let f = discount_fields(&body, true)?;
    let d = retail::create_discount(&state.db, auth.tenant(), &f).await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::Created().json(d))
}

#[utoipa::path(patch, path = "/api/v1/discounts/{id}", tag = "retail", request_body = DiscountBody,
    responses((status = 200, body = DiscountDefinition), (status = 404), (status = 409)))]
#[patch("/discounts/{id}")]
pub async fn update_discount(
    auth: Auth,
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<DiscountBody>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage discounts")?;
    let version = edited_version(&req, body.version)?;
    let f = discount_fields(&body, false)?;
    let d = retail::update_discount(&state.db, auth.tenant(), *id, version, &f).await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::Ok().json(d))
}

// Points program -------------------------------------------------------------------------

#[utoipa::path(get, path = "/api/v1/loyalty/program", tag = "retail", responses((status = 200, body = LoyaltyProgram)))]
#[get("/loyalty/program")]
pub async fn get_program(auth: Auth, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(retail::get_program(&state.db, auth.tenant()).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramBody {
    /// The version read (0 before the first save).
    pub version: i32,
    pub active: bool,
    pub earn_points: i64,
    pub earn_per_amount: i64,
    pub point_value: i64,
    /// Points expire this many days after they were credited, oldest first
    /// (FIFO: spending and reversals take the oldest points first); null =
    /// never. Written off by an hourly job as ledger entries of kind
    /// `expire` (README "Money rules").
    pub expiry_days: Option<i32>,
}

#[utoipa::path(put, path = "/api/v1/loyalty/program", tag = "retail", request_body = ProgramBody,
    responses((status = 200, body = LoyaltyProgram), (status = 409), (status = 422)))]
#[put("/loyalty/program")]
pub async fn put_program(
    auth: Auth,
    state: web::Data<AppState>,
    body: Json<ProgramBody>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("manage the points program")?;
    let b = body.into_inner();
    if !(0..=1_000_000).contains(&b.earn_points) {
        return Err(Error::invalid("earn_points", "must be 0 to 1000000").into());
    }
    for (f, v) in [
        ("earn_per_amount", b.earn_per_amount),
        ("point_value", b.point_value),
    ] {
        if !(1..=1_000_000_000_000).contains(&v) {
            return Err(Error::invalid(f, "must be 1 to 10^12 minor units").into());
        }
    }
    if b.expiry_days.is_some_and(|d| !(1..=36_500).contains(&d)) {
        return Err(Error::invalid("expiry_days", "must be 1 to 36500").into());
    }
    let p = LoyaltyProgram {
        active: b.active,
        earn_points: b.earn_points,
        earn_per_amount: b.earn_per_amount,
        point_value: b.point_value,
        expiry_days: b.expiry_days,
        version: b.version,
    };
    let saved = retail::put_program(&state.db, auth.tenant(), b.version, &p).await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::Ok().json(saved))
}

// Per-store prices --------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorePriceBody {
    pub variant_id: Uuid,
    /// Minor units.
    pub price: i64,
    /// Default: now.
    pub effective_from: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/v1/stores/{id}/prices", tag = "retail",
    responses((status = 200, body = Vec<StorePrice>), (status = 404)))]
#[get("/stores/{id}/prices")]
pub async fn list_store_prices(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let tenant = state.directory.tenant(auth.tenant()).await?;
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    Ok(HttpResponse::Ok().json(retail::list_store_prices(&state.db, auth.tenant(), *id).await?))
}

/// A store's own price of a variant from `effective_from` on.
#[utoipa::path(post, path = "/api/v1/stores/{id}/prices", tag = "retail", request_body = StorePriceBody,
    responses((status = 201, body = StorePrice), (status = 404), (status = 422)))]
#[post("/stores/{id}/prices")]
pub async fn set_store_price(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<StorePriceBody>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("set prices")?;
    let tenant = state.directory.tenant(auth.tenant()).await?;
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    if tenant.catalog.variant(body.variant_id).is_none() {
        return Err(Error::invalid("variant_id", "no such variant").into());
    }
    let price = jowi_actors::domain::Money::parse_non_negative("price", body.price)?;
    let from = body.effective_from.unwrap_or_else(Utc::now);
    let p = retail::set_store_price(
        &state.db,
        auth.tenant(),
        *id,
        body.variant_id,
        price.0,
        from,
    )
    .await?;
    rules_changed(&state, &auth);
    Ok(HttpResponse::Created().json(p))
}

// A customer's points -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPoints {
    pub customer_id: Uuid,
    pub balance: i64,
    /// Newest first (at most 1000).
    pub ledger: Vec<LedgerEntry>,
}

#[utoipa::path(get, path = "/api/v1/customers/{id}/points", tag = "retail",
    responses((status = 200, body = CustomerPoints), (status = 404)))]
#[get("/customers/{id}/points")]
pub async fn customer_points(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let c = manage::customer_view_by(&state.db, auth.tenant(), Some(*id), None).await?;
    Ok(HttpResponse::Ok().json(CustomerPoints {
        customer_id: *id,
        balance: c.points,
        ledger: manage::points_ledger(&state.db, auth.tenant(), *id).await?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointsAdjustment {
    /// Client-generated; a retry with the same id is answered 200.
    pub id: Uuid,
    /// Signed; never takes the balance below zero.
    pub points: i64,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/customers/{id}/points/adjustments", tag = "retail",
    request_body = PointsAdjustment,
    responses((status = 201, body = CustomerPoints), (status = 200, description = "replay"),
              (status = 409, description = "insufficient_points, idempotency_conflict")))]
#[post("/customers/{id}/points/adjustments")]
pub async fn adjust_points(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<PointsAdjustment>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("adjust points")?;
    if body.points == 0 || body.points.unsigned_abs() > 1_000_000_000 {
        return Err(Error::invalid("points", "non-zero, at most 10^9 either way").into());
    }
    let reason = parse_name("reason", &body.reason, 500)?;
    let created =
        manage::adjust_points(&state.db, auth.tenant(), *id, body.points, &reason, body.id).await?;
    let c = manage::customer_view_by(&state.db, auth.tenant(), Some(*id), None).await?;
    let out = CustomerPoints {
        customer_id: *id,
        balance: c.points,
        ledger: manage::points_ledger(&state.db, auth.tenant(), *id).await?,
    };
    Ok(if created {
        HttpResponse::Created().json(out)
    } else {
        HttpResponse::Ok().json(out)
    })
}

// Cost price -------------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CostPrice {
    /// Minor units; null clears.
    pub cost_price: Option<i64>,
}

/// A variant's cost price (back office only: registers never see cost).
#[utoipa::path(get, path = "/api/v1/variants/{id}/cost-price", tag = "retail",
    responses((status = 200, body = CostPrice), (status = 403), (status = 404)))]
#[get("/variants/{id}/cost-price")]
pub async fn get_cost_price(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("read costs")?;
    let cost_price = retail::cost_price(&state.db, auth.tenant(), *id).await?;
    Ok(HttpResponse::Ok().json(CostPrice { cost_price }))
}

#[utoipa::path(put, path = "/api/v1/variants/{id}/cost-price", tag = "retail", request_body = CostPrice,
    responses((status = 200, body = CostPrice), (status = 404), (status = 422)))]
#[put("/variants/{id}/cost-price")]
pub async fn set_cost_price(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<CostPrice>,
) -> ApiResult<HttpResponse> {
    auth.require_manage("set costs")?;
    let cost = body
        .cost_price
        .map(|c| jowi_actors::domain::Money::parse_non_negative("cost_price", c))
        .transpose()?
        .map(|m| m.0);
    retail::set_cost_price(&state.db, auth.tenant(), *id, cost).await?;
    Ok(HttpResponse::Ok().json(CostPrice { cost_price: cost }))
}
