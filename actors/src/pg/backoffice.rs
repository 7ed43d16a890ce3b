//! Reads the back office needs beyond the register API: the dashboard's
//! figures, shift and token listings, receipt search by register or number.
//! Plain reads; none is on a hot path.

use super::receipts::ReceiptSummary;
use super::Db;
use crate::domain::receipt::ReceiptKind;
use crate::domain::{Role, TenantId};
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Figures of one period (see `jowi_dashboard` in migration V5).
pub type PeriodFigures = serde_json::Value;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    /// The IANA zone "today" is in.
    pub timezone: String,
    /// Midnight of today in `timezone`.
    pub today_from: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Figures from `today_from` to `now` (see `jowi_dashboard`).
    #[schema(value_type = Object)]
    pub today: PeriodFigures,
    /// The same span of the same weekday a week earlier.
    #[schema(value_type = Object)]
    pub last_week: PeriodFigures,
}

/// Today so far against the same span a week earlier, in the tenant's
/// time zone `tz` (checked by PostgreSQL: an unknown zone is refused).
pub async fn dashboard(
    db: &Db,
    tenant: TenantId,
    store: Option<Uuid>,
    tz: &str,
) -> Result<Dashboard> {
    let bounds = db
        .query(
            "SELECT (date_trunc('day', now() AT TIME ZONE $1) AT TIME ZONE $1), now() \
             FROM pg_timezone_names WHERE name = $1",
            &[&tz],
        )
        .await?;
    let row = bounds
        .first()
        .ok_or_else(|| Error::invalid("tz", format!("unknown time zone {tz:?}")))?;
    let (from, now): (DateTime<Utc>, DateTime<Utc>) = (row.get(0), row.get(1));
    let week = chrono::Duration::days(7);
    let sql = "SELECT jowi_dashboard($1, $2, $3, $4, $5)";
    let today = db.query(sql, &[&tenant, &from, &now, &store, &tz]).await?;
    let before = db
        .query(sql, &[&tenant, &(from - week), &(now - week), &store, &tz])
        .await?;
    let value = |rows: &[tokio_postgres::Row]| -> serde_json::Value {
        rows.first()
            .map(|r| r.get::<_, serde_json::Value>(0))
            .unwrap_or(serde_json::Value::Null)
    };
    Ok(Dashboard {
        timezone: tz.to_owned(),
        today_from: from,
        now,
        today: value(&today),
        last_week: value(&before),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ShiftRow {
    pub id: Uuid,
    pub store_id: Uuid,
    pub register_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub opening_cash: i64,
    pub counted_cash: Option<i64>,
    pub receipts: i64,
    pub sales_total: i64,
}

pub struct ShiftFilter {
    pub store: Option<Uuid>,
    pub register: Option<Uuid>,
    /// Some(true): open only; Some(false): closed only.
    pub open: Option<bool>,
    pub limit: i64,
}

/// Shifts newest first, with their receipt counts and sales totals.
pub async fn list_shifts(db: &Db, tenant: TenantId, f: &ShiftFilter) -> Result<Vec<ShiftRow>> {
    let rows = db
        .query(
            "SELECT s.id, s.store_id, s.register_id, s.opened_at, s.closed_at, s.opening_cash, \
                    s.counted_cash, \
                    (SELECT count(*) FROM receipts r WHERE r.tenant_id = s.tenant_id AND r.shift_id = s.id), \
                    (SELECT COALESCE(sum(r.total), 0)::bigint FROM receipts r \
                      WHERE r.tenant_id = s.tenant_id AND r.shift_id = s.id AND r.kind = 'sale') \
             FROM shifts s WHERE s.tenant_id = $1 \
               AND ($2::uuid IS NULL OR s.store_id = $2) \
               AND ($3::uuid IS NULL OR s.register_id = $3) \
               AND ($4::bool IS NULL OR (s.closed_at IS NULL) = $4) \
             ORDER BY s.opened_at DESC LIMIT $5",
            &[&tenant, &f.store, &f.register, &f.open, &f.limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ShiftRow {
            id: r.get(0),
            store_id: r.get(1),
            register_id: r.get(2),
            opened_at: r.get(3),
            closed_at: r.get(4),
            opening_cash: r.get(5),
            counted_cash: r.get(6),
            receipts: r.get(7),
            sales_total: r.get(8),
        })
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenRow {
    pub id: Uuid,
    pub role: Role,
    pub name: Option<String>,
    pub register_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// Live (unrevoked) tokens of the tenant; never their secrets.
pub async fn list_tokens(db: &Db, tenant: TenantId) -> Result<Vec<TokenRow>> {
    let rows = db
        .query(
            "SELECT id, role, name, register_id, created_at FROM api_tokens \
             WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC",
            &[&tenant],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                id: r.get(0),
                role: Role::parse(r.get(1))?,
                name: r.get(2),
                register_id: r.get(3),
                created_at: r.get(4),
            })
        })
        .collect()
}

pub struct ReceiptFilter {
    pub store: Option<Uuid>,
    pub register: Option<Uuid>,
    /// The cashier (the employee who opened the receipt's shift).
    pub employee: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Exact receipt number ("3-1024").
    pub number: Option<String>,
    pub limit: i64,
}

/// Receipts newest first by store, register, cashier, time and number;
/// each with its store (the summary names the cashier: None when no
/// employee opened the shift).
pub async fn search_receipts(
    db: &Db,
    tenant: TenantId,
    f: &ReceiptFilter,
) -> Result<Vec<(ReceiptSummary, Uuid)>> {
    let rows = db
        .query(
            "SELECT r.id, k.number, r.register_id, r.shift_id, r.kind, r.occurred_at, r.total, r.store_id, \
                    r.employee_id \
             FROM receipts r JOIN receipt_keys k ON k.tenant_id = r.tenant_id AND k.id = r.id \
             WHERE r.tenant_id = $1 \
               AND ($2::uuid IS NULL OR r.store_id = $2) \
               AND ($3::uuid IS NULL OR r.register_id = $3) \
               AND ($4::timestamptz IS NULL OR r.occurred_at >= $4) \
               AND ($5::timestamptz IS NULL OR r.occurred_at < $5) \
               AND ($6::text IS NULL OR k.number = $6) \
               AND ($8::uuid IS NULL OR r.employee_id = $8) \
             ORDER BY r.occurred_at DESC, r.id DESC LIMIT $7",
            &[
                &tenant,
                &f.store,
                &f.register,
                &f.from,
                &f.to,
                &f.number,
                &f.limit,
                &f.employee,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                ReceiptSummary {
                    id: r.get(0),
                    number: r.get(1),
                    register_id: r.get(2),
                    shift_id: r.get(3),
                    employee_id: r.get(8),
                    kind: if r.get::<_, &str>(4) == "return" {
                        ReceiptKind::Return
                    } else {
                        ReceiptKind::Sale
                    },
                    occurred_at: r.get(5),
                    total: r.get(6),
                },
                r.get(7),
            )
        })
        .collect())
}

/// Returns that refer to a sale (the receipt detail lists them).
pub async fn returns_of(db: &Db, tenant: TenantId, sale: Uuid) -> Result<Vec<(Uuid, String)>> {
    let rows = db
        .query(
            "SELECT r.id, k.number FROM receipts r \
             JOIN receipt_keys k ON k.tenant_id = r.tenant_id AND k.id = r.id \
             WHERE r.tenant_id = $1 AND r.original_receipt_id = $2 ORDER BY r.occurred_at",
            &[&tenant, &sale],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
