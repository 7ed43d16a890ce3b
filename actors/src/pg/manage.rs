//! Back-office management: edit and deactivate stores and registers, more
//! warehouses, versioned edits of employees and customers, customer search,
//! receipts by number, token listing, idempotent cash in/out and the
//! points ledger's manual side.

use super::org::{Customer, Employee};
use super::{Db, Tx};
use crate::domain::catalog::Register;
use crate::domain::{events, new_id, StoreId, TenantId};
use crate::error::{constraint, Code, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

fn conflict_or_missing(found: Option<i32>, expected: i32, entity: &'static str) -> Error {
    match found {
        Some(current) => Error::VersionConflict { expected, current },
        None => Error::not_found(entity),
    }
}

// Stores, registers, warehouses (called by the tenant actor) ----------------

/// Edits a store's name/address if `expected` is current; answers the new version.
pub async fn update_store(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: StoreId,
    expected: i32,
    name: Option<&str>,
    address: Option<Option<&str>>,
) -> Result<i32> {
    let row = tx
        .query_opt(
            "UPDATE stores SET name = COALESCE($4, name), \
               address = CASE WHEN $5 THEN $6 ELSE address END, version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND version = $3 AND deleted_at IS NULL RETURNING version",
            &[&tenant, &id, &expected, &name, &address.is_some(), &address.flatten()],
        )
        .await?;
    if let Some(r) = row {
        return Ok(r.get(0));
    }
    let current = tx
        .query_opt(
            "SELECT version FROM stores WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tenant, &id],
        )
        .await?
        .map(|r| r.get(0));
    Err(conflict_or_missing(current, expected, "store"))
}

/// Deactivates a store and its registers; answers the token hashes that
/// stop working.
pub async fn deactivate_store(tx: &Tx<'_>, tenant: TenantId, id: StoreId) -> Result<Vec<Vec<u8>>> {
    let n = tx
        .execute(
            "UPDATE stores SET deleted_at = now(), version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tenant, &id],
        )
        .await?;
    if n == 0 {
        return Err(Error::not_found("store"));
    }
    tx.execute(
        "UPDATE registers SET active = false, version = version + 1 \
         WHERE tenant_id = $1 AND store_id = $2 AND active",
        &[&tenant, &id],
    )
    .await?;
    Ok(tx
        .query(
            "SELECT t.token_hash FROM api_tokens t JOIN registers r \
               ON r.tenant_id = t.tenant_id AND r.id = t.register_id \
             WHERE t.tenant_id = $1 AND r.store_id = $2",
            &[&tenant, &id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Renames and/or (de)activates a register; answers it and, when it was
/// deactivated, the hashes of its tokens.
pub async fn update_register(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: Uuid,
    expected: i32,
    name: Option<&str>,
    active: Option<bool>,
) -> Result<(Register, Vec<Vec<u8>>)> {
    let row = tx
        .query_opt(
            "UPDATE registers SET name = COALESCE($4, name), active = COALESCE($5, active), version = version + 1 \
             WHERE tenant_id = $1 AND id = $2 AND version = $3 \
             RETURNING id, store_id, number, name, active, version",
            &[&tenant, &id, &expected, &name, &active],
        )
        .await?;
    let Some(r) = row else {
        let current = tx
            .query_opt(
                "SELECT version FROM registers WHERE tenant_id = $1 AND id = $2",
                &[&tenant, &id],
            )
            .await?
            .map(|r| r.get(0));
        return Err(conflict_or_missing(current, expected, "register"));
    };
    let register = Register {
        id: r.get(0),
        store_id: r.get(1),
        number: r.get(2),
        name: r.get(3),
        active: r.get(4),
        version: r.get(5),
    };
    let hashes = if register.active {
        vec![]
    } else {
        tx.query(
            "SELECT token_hash FROM api_tokens WHERE tenant_id = $1 AND register_id = $2",
            &[&tenant, &id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    Ok((register, hashes))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Warehouse {
    pub id: Uuid,
    pub store_id: Uuid,
    pub name: String,
    pub is_default: bool,
    pub active: bool,
}

pub async fn insert_warehouse(
    tx: &Tx<'_>,
    tenant: TenantId,
    store: StoreId,
    name: &str,
) -> Result<Warehouse> {
    let id = new_id();
    tx.execute(
        "INSERT INTO warehouses (tenant_id, id, store_id, name) VALUES ($1, $2, $3, $4)",
        &[&tenant, &id, &store, &name],
    )
    .await?;
    Ok(Warehouse {
        id,
        store_id: store,
        name: name.to_owned(),
        is_default: false,
        active: true,
    })
}

pub async fn list_warehouses(db: &Db, tenant: TenantId, store: StoreId) -> Result<Vec<Warehouse>> {
    Ok(db
        .query(
            "SELECT id, store_id, name, is_default, active FROM warehouses \
             WHERE tenant_id = $1 AND store_id = $2 ORDER BY id",
            &[&tenant, &store],
        )
        .await?
        .iter()
        .map(|r| Warehouse {
            id: r.get(0),
            store_id: r.get(1),
            name: r.get(2),
            is_default: r.get(3),
            active: r.get(4),
        })
        .collect())
}

// Employees and customers ------------------------------------------------------

#[derive(Debug, Default)]
pub struct EmployeeEdit<'a> {
    pub name: Option<&'a str>,
    pub role: Option<&'a str>,
    /// Some(None) clears.
    pub store_id: Option<Option<Uuid>>,
    pub phone: Option<Option<&'a str>>,
}

pub async fn update_employee(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    expected: i32,
    e: &EmployeeEdit<'_>,
) -> Result<(Employee, i32)> {
    let rows = db
        .query(
            "UPDATE employees SET name = COALESCE($4, name), role = COALESCE($5, role), \
               store_id = CASE WHEN $6 THEN $7 ELSE store_id END, \
               phone = CASE WHEN $8 THEN $9 ELSE phone END, \
               version = version + 1, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND version = $3 AND deleted_at IS NULL \
             RETURNING id, name, role, store_id, phone, created_at, version",
            &[
                &tenant,
                &id,
                &expected,
                &e.name,
                &e.role,
                &e.store_id.is_some(),
                &e.store_id.flatten(),
                &e.phone.is_some(),
                &e.phone.flatten(),
            ],
        )
        .await
        .map_err(|err| match err {
            Error::Internal(ref inner)
                if inner
                    .downcast_ref::<tokio_postgres::Error>()
                    .and_then(crate::error::sqlstate)
                    == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) =>
            {
                Error::invalid("store_id", "no such store")
            }
            other => other,
        })?;
    if let Some(r) = rows.first() {
        return Ok((
            Employee {
                id: r.get(0),
                name: r.get(1),
                role: r.get(2),
                store_id: r.get(3),
                phone: r.get(4),
                created_at: r.get(5),
            },
            r.get(6),
        ));
    }
    Err(conflict_or_missing(
        employee_version(db, tenant, id).await?,
        expected,
        "employee",
    ))
}

pub async fn employee_version(db: &Db, tenant: TenantId, id: Uuid) -> Result<Option<i32>> {
    Ok(db
        .query(
            "SELECT version FROM employees WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tenant, &id],
        )
        .await?
        .first()
        .map(|r| r.get(0)))
}

/// A customer with the version a PATCH must name and their points.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    #[serde(flatten)]
    pub customer: Customer,
    pub version: i32,
    /// Points balance (always the sum of the ledger).
    pub points: i64,
}

const CUSTOMER_COLS: &str = "c.id, c.name, c.phone, c.email, c.created_at, c.version, \
     COALESCE((SELECT a.balance FROM loyalty_accounts a WHERE a.tenant_id = c.tenant_id AND a.customer_id = c.id), 0)";

fn customer_view(r: &tokio_postgres::Row) -> CustomerView {
    CustomerView {
        customer: Customer {
            id: r.get(0),
            name: r.get(1),
            phone: r.get(2),
            email: r.get(3),
            created_at: r.get(4),
        },
        version: r.get(5),
        points: r.get(6),
    }
}

fn duplicate_phone(e: Error) -> Error {
    match e {
        Error::Internal(ref inner) => match inner.downcast_ref::<tokio_postgres::Error>() {
            Some(pg) if constraint(pg) == Some("customers_tenant_id_phone_key") => Error::conflict(
                Code::DuplicatePhone,
                "a customer with this phone already exists",
            ),
            _ => e,
        },
        other => other,
    }
}

pub async fn customer_view_by(
    db: &Db,
    tenant: TenantId,
    id: Option<Uuid>,
    phone: Option<&str>,
) -> Result<CustomerView> {
    let sql = format!(
        "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.tenant_id = $1 \
         AND ($2::uuid IS NULL OR c.id = $2) AND ($3::text IS NULL OR c.phone = $3)"
    );
    db.query(&sql, &[&tenant, &id, &phone])
        .await?
        .first()
        .map(customer_view)
        .ok_or(Error::not_found("customer"))
}

/// A versioned edit of a customer; its `customer.updated` event (the
/// customer as the API answers it) commits with it.
pub async fn update_customer(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    expected: i32,
    name: Option<&str>,
    phone: Option<&str>,
    email: Option<Option<&str>>,
) -> Result<CustomerView> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let stmt = tx
        .prepare(
            "UPDATE customers SET name = COALESCE($4, name), phone = COALESCE($5, phone), \
               email = CASE WHEN $6 THEN $7 ELSE email END, version = version + 1, updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND version = $3 RETURNING id",
        )
        .await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &tenant,
                &id,
                &expected,
                &name,
                &phone,
                &email.is_some(),
                &email.flatten(),
            ],
        )
        .await
        .map_err(|e| duplicate_phone(e.into()))?;
    if rows.is_empty() {
        drop(tx);
        let current = customer_view_by(db, tenant, Some(id), None).await?;
        return Err(Error::VersionConflict {
            expected,
            current: current.version,
        });
    }
    let view = customer_view_on(&tx, tenant, id).await?;
    super::outbox::append(&tx, tenant, events::CUSTOMER_UPDATED, &view).await?;
    tx.commit().await?;
    Ok(view)
}

/// The customer `id` as seen inside `tx` (for the event written with it).
async fn customer_view_on(tx: &Tx<'_>, tenant: TenantId, id: Uuid) -> Result<CustomerView> {
    let stmt = tx
        .prepare(&format!(
            "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.tenant_id = $1 AND c.id = $2"
        ))
        .await?;
    tx.query_opt(&stmt, &[&tenant, &id])
        .await?
        .as_ref()
        .map(customer_view)
        .ok_or(Error::not_found("customer"))
}

/// Customers whose name (case-insensitive) or E.164 phone starts with
/// `prefix`, by id, after `cursor`.
pub async fn search_customers(
    db: &Db,
    tenant: TenantId,
    name_prefix: Option<&str>,
    phone_prefix: Option<&str>,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<CustomerView>> {
    let like = |p: &str| {
        format!(
            "{}%",
            p.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    };
    let name = name_prefix.map(|p| like(&p.to_lowercase()));
    let phone = phone_prefix.map(like);
    let sql = format!(
        "SELECT {CUSTOMER_COLS} FROM customers c WHERE c.tenant_id = $1 \
         AND ($2::text IS NULL OR lower(c.name) LIKE $2) AND ($3::text IS NULL OR c.phone LIKE $3) \
         AND ($4::uuid IS NULL OR c.id > $4) ORDER BY c.id LIMIT $5"
    );
    Ok(db
        .query(&sql, &[&tenant, &name, &phone, &cursor, &limit])
        .await?
        .iter()
        .map(customer_view)
        .collect())
}

/// Adds a customer; its `customer.created` event commits with it.
pub async fn insert_customer(
    db: &Db,
    tenant: TenantId,
    name: &str,
    phone: &str,
    email: Option<&str>,
) -> Result<CustomerView> {
    let id = new_id();
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let stmt = tx
        .prepare(
            "INSERT INTO customers (tenant_id, id, name, phone, email) VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    tx.execute(&stmt, &[&tenant, &id, &name, &phone, &email])
        .await
        .map_err(|e| duplicate_phone(e.into()))?;
    let view = customer_view_on(&tx, tenant, id).await?;
    super::outbox::append(&tx, tenant, events::CUSTOMER_CREATED, &view).await?;
    tx.commit().await?;
    Ok(view)
}

// Receipts by number, tokens -----------------------------------------------------

pub async fn receipt_id_by_number(db: &Db, tenant: TenantId, number: &str) -> Result<Uuid> {
    db.query(
        "SELECT id FROM receipt_keys WHERE tenant_id = $1 AND number = $2",
        &[&tenant, &number],
    )
    .await?
    .first()
    .map(|r| r.get(0))
    .ok_or(Error::not_found("receipt"))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: Uuid,
    pub role: String,
    pub name: Option<String>,
    pub register_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Every token of the tenant, never its secret or hash.
pub async fn list_tokens(db: &Db, tenant: TenantId) -> Result<Vec<TokenInfo>> {
    Ok(db
        .query(
            "SELECT id, role, name, register_id, created_at, revoked_at FROM api_tokens \
             WHERE tenant_id = $1 ORDER BY id LIMIT 10000",
            &[&tenant],
        )
        .await?
        .iter()
        .map(|r| TokenInfo {
            id: r.get(0),
            role: r.get(1),
            name: r.get(2),
            register_id: r.get(3),
            created_at: r.get(4),
            revoked_at: r.get(5),
        })
        .collect())
}

// Cash in/out, idempotent by the client's id ----------------------------------------

/// Records a cash movement with the client's `id`. Answers (created?):
/// false when this id was already stored with the same body; 409
/// `idempotency_conflict` when with another body.
pub async fn cash_movement(
    db: &Db,
    tenant: TenantId,
    id: Uuid,
    shift: Uuid,
    kind: &str,
    amount: i64,
    note: Option<&str>,
) -> Result<bool> {
    let hash: Vec<u8> = Sha256::digest(
        serde_json::json!([shift, kind, amount, note])
            .to_string()
            .as_bytes(),
    )
    .to_vec();
    // The shift's running totals move with the insert (not with a replay:
    // ON CONFLICT DO NOTHING returns no row, so nothing is added twice).
    let rows = db
        .query(
            &format!(
                "WITH moved AS (INSERT INTO cash_movements \
                   (tenant_id, id, shift_id, kind, amount, note, body_hash) \
                 SELECT $1, $2, s.id, $4, $5, $6, $7 FROM shifts s \
                 WHERE s.tenant_id = $1 AND s.id = $3 AND s.closed_at IS NULL \
                 ON CONFLICT (tenant_id, id) DO NOTHING \
                 RETURNING tenant_id, id, shift_id, kind, amount), \
                 totals AS ({}) SELECT id FROM moved",
                super::totals::SQL_CASH_MOVEMENT_TOTALS
            ),
            &[&tenant, &id, &shift, &kind, &amount, &note, &hash],
        )
        .await?;
    if !rows.is_empty() {
        return Ok(true);
    }
    let stored = db
        .query(
            "SELECT body_hash FROM cash_movements WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &id],
        )
        .await?;
    match stored.first() {
        Some(r) if r.get::<_, Option<Vec<u8>>>(0).as_deref() == Some(hash.as_slice()) => Ok(false),
        Some(_) => Err(Error::conflict(
            Code::IdempotencyConflict,
            "this cash movement id was already used with a different body",
        )),
        None => Err(Error::conflict(Code::ShiftClosed, "the shift is closed")),
    }
}

// Points ----------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    /// earn, redeem, reverse_earn, reverse_redeem, adjust, expire (points
    /// past the program's `expiry_days`, oldest first).
    pub kind: String,
    pub points: i64,
    pub receipt_id: Option<Uuid>,
    pub reason: Option<String>,
}

pub async fn points_ledger(db: &Db, tenant: TenantId, customer: Uuid) -> Result<Vec<LedgerEntry>> {
    Ok(db
        .query(
            "SELECT id, created_at, kind, points, receipt_id, reason FROM points_ledger \
             WHERE tenant_id = $1 AND customer_id = $2 ORDER BY id DESC LIMIT 1000",
            &[&tenant, &customer],
        )
        .await?
        .iter()
        .map(|r| LedgerEntry {
            id: r.get(0),
            created_at: r.get(1),
            kind: r.get(2),
            points: r.get(3),
            receipt_id: r.get(4),
            reason: r.get(5),
        })
        .collect())
}

/// Adds a ledger entry and moves the balance with it, in `tx`. A negative
/// `points` only goes through while the balance stays >= 0 (answers false
/// otherwise); the conditional UPDATE is atomic, so two registers on two
/// instances cannot both spend the same points.
#[allow(clippy::too_many_arguments)] // one ledger row: every column named
pub async fn post_points(
    tx: &impl tokio_postgres::GenericClient,
    tenant: TenantId,
    customer: Uuid,
    kind: &str,
    points: i64,
    receipt: Option<Uuid>,
    reason: Option<&str>,
    client_id: Option<Uuid>,
    guard_zero: bool,
) -> Result<bool> {
    tx.execute(
        "INSERT INTO loyalty_accounts (tenant_id, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&tenant, &customer],
    )
    .await?;
    let n = tx
        .execute(
            "UPDATE loyalty_accounts SET balance = balance + $3, updated_at = now() \
             WHERE tenant_id = $1 AND customer_id = $2 AND (NOT $4 OR balance + $3 >= 0)",
            &[&tenant, &customer, &points, &guard_zero],
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO points_ledger (tenant_id, customer_id, kind, points, receipt_id, reason, client_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&tenant, &customer, &kind, &points, &receipt, &reason, &client_id],
    )
    .await?;
    Ok(true)
}

/// A manual adjustment with a reason; idempotent by `client_id`.
pub async fn adjust_points(
    db: &Db,
    tenant: TenantId,
    customer: Uuid,
    points: i64,
    reason: &str,
    client_id: Uuid,
) -> Result<bool> {
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let seen = tx
        .query_opt(
            "SELECT customer_id, points, reason FROM points_ledger WHERE tenant_id = $1 AND client_id = $2",
            &[&tenant, &client_id],
        )
        .await?;
    if let Some(r) = seen {
        let same = r.get::<_, Uuid>(0) == customer
            && r.get::<_, i64>(1) == points
            && r.get::<_, Option<String>>(2).as_deref() == Some(reason);
        return if same {
            Ok(false)
        } else {
            Err(Error::conflict(
                Code::IdempotencyConflict,
                "this adjustment id was already used with a different body",
            ))
        };
    }
    let exists = tx
        .query_opt(
            "SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &customer],
        )
        .await?;
    if exists.is_none() {
        return Err(Error::not_found("customer"));
    }
    if !post_points(
        &*tx,
        tenant,
        customer,
        "adjust",
        points,
        None,
        Some(reason),
        Some(client_id),
        true,
    )
    .await?
    {
        return Err(Error::conflict(
            Code::InsufficientPoints,
            "the adjustment would take the balance below zero",
        ));
    }
    super::outbox::append_points_changes(
        &*tx,
        tenant,
        &[super::outbox::PointsChange {
            customer_id: customer,
            delta: points,
            reason: "adjust",
            receipt_id: None,
            note: Some(reason),
        }],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
