//! Retail rules: tax rates and their history, tax assignments, named
//! discounts, the points program, per-store prices and store settings.
//! Writes here are rare back-office edits; the tenant's `RetailState`
//! caches what receipts read.

use super::Db;
use crate::domain::money_rules::discount::{ApplierRole, DiscountRule, DiscountSpec};
use crate::domain::money_rules::points::Program;
use crate::domain::money_rules::rules::{RateVersion, RetailRules, TaxTarget};
use crate::domain::money_rules::tax::TaxMode;
use crate::domain::store_settings::{StoreSettings, VersionedSettings};
use crate::domain::{new_id, StoreId, TenantId};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

fn internal(what: &str) -> Error {
    Error::Internal(anyhow::anyhow!("{what} returned no row"))
}

/// Everything receipts read, in one pass.
pub async fn load_rules(db: &Db, tenant: TenantId) -> Result<RetailRules> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let mut rules = RetailRules::default();
    for r in tx
        .query(
            "SELECT v.tax_rate_id, v.effective_from, v.rate_bp, v.mode FROM tax_rate_versions v \
             JOIN tax_rates t ON t.tenant_id = v.tenant_id AND t.id = v.tax_rate_id \
             WHERE v.tenant_id = $1 AND t.active ORDER BY v.tax_rate_id, v.effective_from",
            &[&tenant],
        )
        .await?
    {
        let mode: String = r.get(3);
        rules
            .tax_rates
            .entry(r.get(0))
            .or_default()
            .push(RateVersion {
                from: r.get(1),
                rate_bp: r.get(2),
                mode: TaxMode::parse(&mode).unwrap_or(TaxMode::Inclusive),
            });
    }
    for r in tx
        .query(
            "SELECT target_kind, target_id, tax_rate_id FROM tax_assignments WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?
    {
        let kind: String = r.get(0);
        let id: Uuid = r.get(1);
        let target = match kind.as_str() {
            "tenant" => TaxTarget::Tenant,
            "category" => TaxTarget::Category(id),
            "product" => TaxTarget::Product(id),
            _ => TaxTarget::Variant(id),
        };
        rules.assignments.insert(target, r.get(2));
    }
    for d in discounts_on(&tx, tenant, true).await? {
        rules.discounts.insert(d.id, d.rule());
    }
    let p = program_on(&tx, tenant).await?;
    if p.active {
        rules.program = Some(p.program());
    }
    for r in tx
        .query(
            "SELECT store_id, variant_id, effective_from, price FROM store_prices \
             WHERE tenant_id = $1 ORDER BY store_id, variant_id, effective_from",
            &[&tenant],
        )
        .await?
    {
        rules
            .store_prices
            .entry((r.get(0), r.get(1)))
            .or_default()
            .push((r.get(2), r.get(3)));
    }
    rules.calling_code = tx
        .query_opt(
            "SELECT country_calling_code FROM tenants WHERE id = $1",
            &[&tenant],
        )
        .await?
        .map(|r| r.get(0))
        .unwrap_or_else(|| "998".into());
    tx.commit().await?;
    Ok(rules)
}

// Store settings -------------------------------------------------------------

fn settings_row(store: StoreId, r: &tokio_postgres::Row) -> VersionedSettings {
    let json: serde_json::Value = r.get(0);
    VersionedSettings {
        store_id: store,
        version: r.get(1),
        // Unknown or missing keys fall back to defaults: old rows are `{}`.
        settings: serde_json::from_value(json).unwrap_or_default(),
    }
}

pub async fn load_store_settings(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
) -> Result<VersionedSettings> {
    // A store without a settings row (made before settings existed) reads
    // the defaults at version 0; its first PATCH creates the row.
    let rows = db
        .query(
            "SELECT COALESCE(s.settings, '{}'::jsonb), COALESCE(s.version, 0) FROM stores st \
             LEFT JOIN store_settings s ON s.tenant_id = st.tenant_id AND s.store_id = st.id \
             WHERE st.tenant_id = $1 AND st.id = $2 AND st.deleted_at IS NULL",
            &[&tenant, &store],
        )
        .await?;
    rows.first()
        .map(|r| settings_row(store, r))
        .ok_or(Error::not_found("store"))
}

/// Replaces the settings if `expected` is the current version.
pub async fn update_store_settings(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    expected: i32,
    settings: &StoreSettings,
) -> Result<VersionedSettings> {
    let json = serde_json::to_value(settings).map_err(|e| Error::Internal(e.into()))?;
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let rows = if expected == 0 {
        tx.query(
            "INSERT INTO store_settings (tenant_id, store_id, settings) \
             SELECT st.tenant_id, st.id, $3 FROM stores st \
             WHERE st.tenant_id = $1 AND st.id = $2 AND st.deleted_at IS NULL \
             ON CONFLICT (tenant_id, store_id) DO NOTHING RETURNING settings, version",
            &[&tenant, &store, &json],
        )
        .await?
    } else {
        tx.query(
            "UPDATE store_settings SET settings = $4, version = version + 1, updated_at = now() \
             WHERE tenant_id = $1 AND store_id = $2 AND version = $3 RETURNING settings, version",
            &[&tenant, &store, &expected, &json],
        )
        .await?
    };
    if let Some(r) = rows.first() {
        let saved = settings_row(store, r);
        // In the same commit: the event exists if and only if the change does.
        super::outbox::append(
            &tx,
            tenant,
            crate::domain::events::STORE_SETTINGS_UPDATED,
            &saved,
        )
        .await?;
        tx.commit().await?;
        return Ok(saved);
    }
    drop(tx);
    let current = load_store_settings(db, tenant, store).await?;
    Err(Error::VersionConflict {
        expected,
        current: current.version,
    })
}

// Tax rates -------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxRateVersion {
    pub effective_from: DateTime<Utc>,
    /// Basis points of a percent: 12% = 1200.
    pub rate_bp: i32,
    pub mode: TaxMode,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaxRate {
    pub id: Uuid,
    pub name: String,
    pub active: bool,
    pub version: i32,
    /// Oldest first; the last one in force now is the current rate.
    pub history: Vec<TaxRateVersion>,
}

pub async fn list_tax_rates(db: &Db, tenant: TenantId, id: Option<Uuid>) -> Result<Vec<TaxRate>> {
    let rows = db
        .query(
            "SELECT t.id, t.name, t.active, t.version, v.effective_from, v.rate_bp, v.mode \
             FROM tax_rates t JOIN tax_rate_versions v ON v.tenant_id = t.tenant_id AND v.tax_rate_id = t.id \
             WHERE t.tenant_id = $1 AND ($2::uuid IS NULL OR t.id = $2) \
             ORDER BY t.id, v.effective_from LIMIT 10000",
            &[&tenant, &id],
        )
        .await?;
    let mut out: Vec<TaxRate> = Vec::new();
    for r in rows {
        let id: Uuid = r.get(0);
        let mode: String = r.get(6);
        let version = TaxRateVersion {
            effective_from: r.get(4),
            rate_bp: r.get(5),
            mode: TaxMode::parse(&mode).unwrap_or(TaxMode::Inclusive),
        };
        match out.last_mut() {
            Some(t) if t.id == id => t.history.push(version),
            _ => out.push(TaxRate {
                id,
                name: r.get(1),
                active: r.get(2),
                version: r.get(3),
                history: vec![version],
            }),
        }
    }
    Ok(out)
}

pub async fn get_tax_rate(db: &Db, tenant: TenantId, id: Uuid) -> Result<TaxRate> {
    list_tax_rates(db, tenant, Some(id))
        .await?
        .pop()
        .ok_or(Error::not_found("tax rate"))
}

pub async fn create_tax_rate(
    db: &Db,
    tenant: TenantId,
    name: &str,
    rate_bp: i32,
    mode: TaxMode,
    from: DateTime<Utc>,
) -> Result<TaxRate> {
    let id = new_id();
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO tax_rates (tenant_id, id, name) VALUES ($1, $2, $3)",
        &[&tenant, &id, &name],
    )
    .await?;
    tx.execute(
        "INSERT INTO tax_rate_versions (tenant_id, tax_rate_id, effective_from, rate_bp, mode) \
         VALUES ($1, $2, $3, $4, $5)",
        &[&tenant, &id, &from, &rate_bp, &mode.as_str()],
    )
    .await?;
    tx.commit().await?;
    get_tax_rate(db, tenant, id).await
}

/// A change of a rate's percent or mode from a moment on.
pub struct RateChange {
    pub rate_bp: i32,
    pub mode: TaxMode,
    pub from: DateTime<Utc>,
}

pub async fn update_tax_rate(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    expected: i32,
    name: Option<&str>,
    active: Option<bool>,
    change: Option<RateChange>,
) -> Result<TaxRate> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "UPDATE tax_rates SET name = COALESCE($4, name), active = COALESCE($5, active), \
               version = version + 1, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND version = $3 RETURNING version",
            &[&tenant, &id, &expected, &name, &active],
        )
        .await?;
    if row.is_none() {
        drop(tx);
        let current = get_tax_rate(db, tenant, id).await?;
        return Err(Error::VersionConflict {
            expected,
            current: current.version,
        });
    }
    if let Some(c) = change {
        // The same instant twice replaces that version (a correction made
        // before it took effect); past versions stay as they were.
        tx.execute(
            "INSERT INTO tax_rate_versions (tenant_id, tax_rate_id, effective_from, rate_bp, mode) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, tax_rate_id, effective_from) \
             DO UPDATE SET rate_bp = EXCLUDED.rate_bp, mode = EXCLUDED.mode",
            &[&tenant, &id, &c.from, &c.rate_bp, &c.mode.as_str()],
        )
        .await?;
    }
    tx.commit().await?;
    get_tax_rate(db, tenant, id).await
}

/// Assigns `rate` to a target (None removes the assignment).
pub async fn set_tax_assignment(
    db: &Db,
    tenant: TenantId,
    kind: &str,
    target: Uuid,
    rate: Option<Uuid>,
) -> Result<()> {
    match rate {
        Some(rate) => {
            let exists = db
                .query(
                    "SELECT 1 FROM tax_rates WHERE tenant_id = $1 AND id = $2",
                    &[&tenant, &rate],
                )
                .await?;
            if exists.is_empty() {
                return Err(Error::invalid("tax_rate_id", "no such tax rate"));
            }
            db.query(
                "INSERT INTO tax_assignments (tenant_id, target_kind, target_id, tax_rate_id) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, target_kind, target_id) \
                 DO UPDATE SET tax_rate_id = EXCLUDED.tax_rate_id",
                &[&tenant, &kind, &target, &rate],
            )
            .await?;
        }
        None => {
            db.query(
                "DELETE FROM tax_assignments WHERE tenant_id = $1 AND target_kind = $2 AND target_id = $3",
                &[&tenant, &kind, &target],
            )
            .await?;
        }
    }
    Ok(())
}

// Named discounts ----------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiscountDefinition {
    pub id: Uuid,
    pub name: String,
    /// `percent` (value in basis points) or `amount` (minor units).
    pub kind: String,
    pub value: i64,
    pub max_percent_bp: i32,
    pub roles: Vec<String>,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl DiscountDefinition {
    pub fn rule(&self) -> DiscountRule {
        DiscountRule {
            id: self.id,
            name: self.name.clone(),
            spec: if self.kind == "percent" {
                DiscountSpec::Percent(i32::try_from(self.value).unwrap_or(10_000))
            } else {
                DiscountSpec::Amount(self.value)
            },
            max_percent_bp: self.max_percent_bp,
            roles: self
                .roles
                .iter()
                .filter_map(|r| ApplierRole::parse(r))
                .collect(),
        }
    }
}

const DISCOUNT_COLS: &str =
    "id, name, kind, value, max_percent_bp, roles, active, version, created_at, updated_at";

fn discount_row(r: &tokio_postgres::Row) -> DiscountDefinition {
    DiscountDefinition {
        id: r.get(0),
        name: r.get(1),
        kind: r.get(2),
        value: r.get(3),
        max_percent_bp: r.get(4),
        roles: r.get(5),
        active: r.get(6),
        version: r.get(7),
        created_at: r.get(8),
        updated_at: r.get(9),
    }
}

async fn discounts_on(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: TenantId,
    only_active: bool,
) -> Result<Vec<DiscountDefinition>> {
    let sql = format!(
        "SELECT {DISCOUNT_COLS} FROM discount_definitions WHERE tenant_id = $1 AND (active OR NOT $2) \
         ORDER BY id LIMIT 10000"
    );
    Ok(tx
        .query(&sql, &[&tenant, &only_active])
        .await?
        .iter()
        .map(discount_row)
        .collect())
}

pub async fn list_discounts(db: &Db, tenant: TenantId) -> Result<Vec<DiscountDefinition>> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let out = discounts_on(&tx, tenant, false).await?;
    tx.commit().await?;
    Ok(out)
}

pub async fn get_discount(db: &Db, tenant: TenantId, id: Uuid) -> Result<DiscountDefinition> {
    let sql = format!(
        "SELECT {DISCOUNT_COLS} FROM discount_definitions WHERE tenant_id = $1 AND id = $2"
    );
    db.query(&sql, &[&tenant, &id])
        .await?
        .first()
        .map(discount_row)
        .ok_or(Error::not_found("discount"))
}

/// Fields of a named discount (all set on create; PATCH sets some).
#[derive(Debug, Default)]
pub struct DiscountFields {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub value: Option<i64>,
    pub max_percent_bp: Option<i32>,
    pub roles: Option<Vec<String>>,
    pub active: Option<bool>,
}

pub async fn create_discount(
    db: &Db,
    tenant: TenantId,
    f: &DiscountFields,
) -> Result<DiscountDefinition> {
    let id = new_id();
    let sql = format!(
        "INSERT INTO discount_definitions (tenant_id, id, name, kind, value, max_percent_bp, roles, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, true)) RETURNING {DISCOUNT_COLS}"
    );
    db.query(
        &sql,
        &[
            &tenant,
            &id,
            &f.name,
            &f.kind,
            &f.value,
            &f.max_percent_bp,
            &f.roles,
            &f.active,
        ],
    )
    .await?
    .first()
    .map(discount_row)
    .ok_or_else(|| internal("insert discount"))
}

pub async fn update_discount(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    expected: i32,
    f: &DiscountFields,
) -> Result<DiscountDefinition> {
    let sql = format!(
        "UPDATE discount_definitions SET name = COALESCE($4, name), kind = COALESCE($5, kind), \
           value = COALESCE($6, value), max_percent_bp = COALESCE($7, max_percent_bp), \
           roles = COALESCE($8, roles), active = COALESCE($9, active), version = version + 1, updated_at = now() \
         WHERE tenant_id = $1 AND id = $2 AND version = $3 RETURNING {DISCOUNT_COLS}"
    );
    let rows = db
        .query(
            &sql,
            &[
                &tenant,
                &id,
                &expected,
                &f.name,
                &f.kind,
                &f.value,
                &f.max_percent_bp,
                &f.roles,
                &f.active,
            ],
        )
        .await?;
    if let Some(r) = rows.first() {
        return Ok(discount_row(r));
    }
    let current = get_discount(db, tenant, id).await?;
    Err(Error::VersionConflict {
        expected,
        current: current.version,
    })
}

// Points program --------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LoyaltyProgram {
    pub active: bool,
    /// Points earned per `earn_per_amount` minor units paid in money.
    pub earn_points: i64,
    pub earn_per_amount: i64,
    /// Minor units a point pays when redeemed (payment method `points`).
    pub point_value: i64,
    /// Points expire this many days after they were credited, oldest first
    /// (FIFO: spending and reversals take the oldest points first); null =
    /// never. Written off by an hourly job as ledger entries of kind
    /// `expire` (README "Money rules").
    pub expiry_days: Option<i32>,
    /// 0 until first saved.
    pub version: i32,
}

impl LoyaltyProgram {
    pub fn program(&self) -> Program {
        Program {
            active: self.active,
            earn_points: self.earn_points,
            earn_per_amount: self.earn_per_amount,
            point_value: self.point_value,
            expiry_days: self.expiry_days,
        }
    }
}

async fn program_on(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: TenantId,
) -> Result<LoyaltyProgram> {
    let row = tx
        .query_opt(
            "SELECT active, earn_points, earn_per_amount, point_value, expiry_days, version \
             FROM loyalty_programs WHERE tenant_id = $1",
            &[&tenant],
        )
        .await?;
    Ok(match row {
        Some(r) => LoyaltyProgram {
            active: r.get(0),
            earn_points: r.get(1),
            earn_per_amount: r.get(2),
            point_value: r.get(3),
            expiry_days: r.get(4),
            version: r.get(5),
        },
        None => LoyaltyProgram {
            active: false,
            earn_points: 1,
            earn_per_amount: 1000,
            point_value: 100,
            expiry_days: None,
            version: 0,
        },
    })
}

pub async fn get_program(db: &Db, tenant: TenantId) -> Result<LoyaltyProgram> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let p = program_on(&tx, tenant).await?;
    tx.commit().await?;
    Ok(p)
}

/// Saves the program if `expected` is the current version (0: none yet).
pub async fn put_program(
    db: &Db,
    tenant: TenantId,
    expected: i32,
    p: &LoyaltyProgram,
) -> Result<LoyaltyProgram> {
    let rows = db
        .query(
            "INSERT INTO loyalty_programs AS l (tenant_id, active, earn_points, earn_per_amount, point_value, expiry_days) \
             SELECT $1, $3, $4, $5, $6, $7 WHERE $2 = 0 \
             ON CONFLICT (tenant_id) DO NOTHING RETURNING version",
            &[&tenant, &expected, &p.active, &p.earn_points, &p.earn_per_amount, &p.point_value, &p.expiry_days],
        )
        .await?;
    let rows = if rows.is_empty() {
        db.query(
            "UPDATE loyalty_programs SET active = $3, earn_points = $4, earn_per_amount = $5, point_value = $6, \
               expiry_days = $7, version = version + 1, updated_at = now() \
             WHERE tenant_id = $1 AND version = $2 RETURNING version",
            &[&tenant, &expected, &p.active, &p.earn_points, &p.earn_per_amount, &p.point_value, &p.expiry_days],
        )
        .await?
    } else {
        rows
    };
    if rows.is_empty() {
        let current = get_program(db, tenant).await?;
        return Err(Error::VersionConflict {
            expected,
            current: current.version,
        });
    }
    get_program(db, tenant).await
}

// Per-store prices --------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StorePrice {
    pub variant_id: Uuid,
    pub price: i64,
    pub effective_from: DateTime<Utc>,
}

pub async fn set_store_price(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
    variant: Uuid,
    price: i64,
    from: DateTime<Utc>,
) -> Result<StorePrice> {
    db.query(
        "INSERT INTO store_prices (tenant_id, store_id, variant_id, effective_from, price) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, store_id, variant_id, effective_from) \
         DO UPDATE SET price = EXCLUDED.price",
        &[&tenant, &store, &variant, &from, &price],
    )
    .await
    .map_err(|e| match e {
        Error::Internal(ref inner)
            if inner
                .downcast_ref::<tokio_postgres::Error>()
                .and_then(crate::error::sqlstate)
                == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) =>
        {
            Error::invalid("variant_id", "no such variant")
        }
        other => other,
    })?;
    Ok(StorePrice {
        variant_id: variant,
        price,
        effective_from: from,
    })
}

pub async fn list_store_prices(
    db: &Db,
    tenant: TenantId,
    store: StoreId,
) -> Result<Vec<StorePrice>> {
    Ok(db
        .query(
            "SELECT variant_id, price, effective_from FROM store_prices WHERE tenant_id = $1 AND store_id = $2 \
             ORDER BY variant_id, effective_from LIMIT 10000",
            &[&tenant, &store],
        )
        .await?
        .iter()
        .map(|r| StorePrice {
            variant_id: r.get(0),
            price: r.get(1),
            effective_from: r.get(2),
        })
        .collect())
}

// Cost ------------------------------------------------------------------------------

/// Moves the moving average cost of received variants, in the receiving
/// document's transaction and before its quantities are added:
/// avg' = (q x avg + q_in x cost_in) / (q + q_in), rounded half up; when the
/// warehouse held none (q <= 0) or had no cost yet, avg' = cost_in.
pub async fn apply_receiving_costs(
    tx: &super::Tx<'_>,
    tenant: TenantId,
    warehouse: Uuid,
    costs: &[(Uuid, rust_decimal::Decimal, i64)],
) -> Result<()> {
    let mut sorted = costs.to_vec();
    sorted.sort_by_key(|c| c.0);
    let v: Vec<Uuid> = sorted.iter().map(|c| c.0).collect();
    let q: Vec<rust_decimal::Decimal> = sorted.iter().map(|c| c.1).collect();
    let c: Vec<i64> = sorted.iter().map(|c| c.2).collect();
    // Rows first (in key order, like every stock lock), then the average.
    tx.execute(
        "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity) \
         SELECT $1, $2, v, 0 FROM UNNEST($3::uuid[]) AS v ORDER BY v \
         ON CONFLICT (tenant_id, warehouse_id, variant_id) DO NOTHING",
        &[&tenant, &warehouse, &v],
    )
    .await?;
    tx.execute(
        "UPDATE stock_levels s SET avg_cost = CASE \
           WHEN s.quantity <= 0 OR s.avg_cost IS NULL THEN u.c \
           ELSE round((s.quantity * s.avg_cost + u.q * u.c) / (s.quantity + u.q))::bigint END \
         FROM UNNEST($3::uuid[], $4::numeric[], $5::int8[]) AS u(v, q, c) \
         WHERE s.tenant_id = $1 AND s.warehouse_id = $2 AND s.variant_id = u.v",
        &[&tenant, &warehouse, &v, &q, &c],
    )
    .await?;
    Ok(())
}

/// A variant's own cost price (the fallback where nothing was received
/// with a cost).
pub async fn set_cost_price(
    db: &Db,
    tenant: TenantId,
    variant: Uuid,
    cost: Option<i64>,
) -> Result<()> {
    let rows = db
        .query(
            "UPDATE product_variants SET cost_price = $3 WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING id",
            &[&tenant, &variant, &cost],
        )
        .await?;
    if rows.is_empty() {
        return Err(Error::not_found("variant"));
    }
    Ok(())
}

pub async fn cost_price(db: &Db, tenant: TenantId, variant: Uuid) -> Result<Option<i64>> {
    db.query(
        "SELECT cost_price FROM product_variants WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        &[&tenant, &variant],
    )
    .await?
    .first()
    .map(|r| r.get(0))
    .ok_or(Error::not_found("variant"))
}

// Returns: the sale as a return prices it ---------------------------------------------

/// The sale `id` with its lines per variant and what its earlier returns
/// took, or None when it is not a sale of this tenant. Read without locks:
/// the commit re-checks the returned quantities under the sale's lock.
pub async fn load_original_sale(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<crate::domain::receipt_money::OriginalSale>> {
    use crate::domain::receipt_money::{OriginalSale, SoldLine};
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let Some(head) = tx
        .query_opt(
            "SELECT r.customer_id, r.total, r.points_earned, r.points_redeemed, r.occurred_at, r.kind \
             FROM receipt_keys k JOIN receipts r ON r.tenant_id = k.tenant_id AND r.id = k.id \
               AND r.occurred_at = k.occurred_at \
             WHERE k.tenant_id = $1 AND k.id = $2",
            &[&tenant, &id],
        )
        .await?
    else {
        return Ok(None);
    };
    if head.get::<_, &str>(5) != "sale" {
        return Ok(None);
    }
    let occurred: DateTime<Utc> = head.get(4);
    let mut sale = OriginalSale {
        id,
        customer_id: head.get(0),
        total: head.get(1),
        points_earned: head.get(2),
        points_redeemed: head.get(3),
        ..OriginalSale::default()
    };
    for r in tx
        .query(
            "SELECT variant_id, min(product_id::text)::uuid, sum(quantity), min(price), \
                sum(total + discount + receipt_discount - CASE WHEN tax_included THEN 0 ELSE tax END)::int8, \
                sum(discount)::int8, sum(receipt_discount)::int8, sum(tax)::int8, sum(total)::int8, \
                min(tax_rate_id::text)::uuid, bool_and(tax_included) \
             FROM receipt_items WHERE tenant_id = $1 AND receipt_id = $2 AND occurred_at = $3 \
             GROUP BY variant_id",
            &[&tenant, &id, &occurred],
        )
        .await?
    {
        sale.lines.insert(
            r.get(0),
            SoldLine {
                product_id: r.get(1),
                quantity: r.get(2),
                price: r.get(3),
                gross: r.get(4),
                discount: r.get(5),
                receipt_discount: r.get(6),
                tax: r.get(7),
                total: r.get(8),
                tax_rate_id: r.get(9),
                tax_included: r.get(10),
            },
        );
    }
    for r in tx
        .query(
            "SELECT ri.variant_id, sum(ri.quantity) FROM receipts r JOIN receipt_items ri \
               ON ri.tenant_id = r.tenant_id AND ri.receipt_id = r.id AND ri.occurred_at = r.occurred_at \
             WHERE r.tenant_id = $1 AND r.original_receipt_id = $2 GROUP BY ri.variant_id",
            &[&tenant, &id],
        )
        .await?
    {
        sale.returned.insert(r.get(0), r.get(1));
    }
    let sums = tx
        .query_one(
            "SELECT COALESCE(sum(total), 0)::int8, COALESCE(-sum(points_earned), 0)::int8, \
                COALESCE(-sum(points_redeemed), 0)::int8 \
             FROM receipts WHERE tenant_id = $1 AND original_receipt_id = $2",
            &[&tenant, &id],
        )
        .await?;
    sale.refunded_total = sums.get(0);
    sale.earned_reversed = sums.get(1);
    sale.redeemed_given_back = sums.get(2);
    tx.commit().await?;
    Ok(Some(sale))
}

/// The customer with this E.164 phone, if any.
pub async fn customer_by_phone(db: &Db, tenant: TenantId, phone: &str) -> Result<Option<Uuid>> {
    Ok(db
        .query(
            "SELECT id FROM customers WHERE tenant_id = $1 AND phone = $2",
            &[&tenant, &phone],
        )
        .await?
        .first()
        .map(|r| r.get(0)))
}
