//! Tenants, tokens, stores, registers, employees and customers.

use super::{Db, Tx};
use crate::domain::catalog::{Register, Store};
use crate::domain::{events, new_id, Role, StoreId, TenantId};
use crate::error::{constraint, Code, Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub async fn insert_tenant(tx: &Tx<'_>, id: TenantId, name: &str) -> Result<()> {
    let stmt = tx
        .prepare("INSERT INTO tenants (id, name) VALUES ($1, $2)")
        .await?;
    tx.execute(&stmt, &[&id, &name]).await?;
    Ok(())
}

pub async fn insert_token(
    tx: &Tx<'_>,
    tenant: TenantId,
    hash: &[u8],
    role: Role,
    register: Option<Uuid>,
    name: Option<&str>,
) -> Result<Uuid> {
    let id = new_id();
    let stmt = tx
        .prepare(
            "INSERT INTO api_tokens (tenant_id, id, token_hash, role, register_id, name) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    tx.execute(
        &stmt,
        &[&tenant, &id, &hash, &role.as_str(), &register, &name],
    )
    .await?;
    Ok(id)
}

/// The principal of a live token, if any, and whether its register (if
/// it has one) is active.
pub async fn find_token(
    db: &Db,
    tenant: TenantId,
    hash: &[u8],
) -> Result<Option<(Uuid, Role, Option<Uuid>, bool)>> {
    let rows = db
        .query(
            "SELECT t.id, t.role, t.register_id, COALESCE(r.active, true) FROM api_tokens t \
             LEFT JOIN registers r ON r.tenant_id = t.tenant_id AND r.id = t.register_id \
             WHERE t.tenant_id = $1 AND t.token_hash = $2 AND t.revoked_at IS NULL",
            &[&tenant, &hash],
        )
        .await?;
    match rows.first() {
        None => Ok(None),
        Some(row) => Ok(Some((
            row.get(0),
            Role::parse(row.get(1))?,
            row.get(2),
            row.get(3),
        ))),
    }
}

/// Marks a token revoked; answers its hash so caches can drop it.
pub async fn revoke_token(db: &Db, tenant: TenantId, id: Uuid) -> Result<Vec<u8>> {
    let rows = db
        .query(
            "UPDATE api_tokens SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 \
             AND revoked_at IS NULL RETURNING token_hash",
            &[&tenant, &id],
        )
        .await?;
    rows.first()
        .map(|r| r.get(0))
        .ok_or(Error::not_found("token"))
}

pub async fn insert_store(
    tx: &Tx<'_>,
    tenant: TenantId,
    name: &str,
    address: Option<&str>,
) -> Result<Store> {
    let id = new_id();
    let warehouse = new_id();
    let stmt = tx.prepare("INSERT INTO stores (tenant_id, id, name, address) VALUES ($1, $2, $3, $4) RETURNING created_at",
        )
        .await?;
    let created_at: DateTime<Utc> = tx
        .query_one(&stmt, &[&tenant, &id, &name, &address])
        .await?
        .get(0);
    let stmt = tx.prepare("INSERT INTO warehouses (tenant_id, id, store_id, name, is_default) VALUES ($1, $2, $3, $4, true)",
        )
        .await?;
    let wname = format!("{name} — main");
    tx.execute(&stmt, &[&tenant, &warehouse, &id, &wname])
        .await?;
    let stmt = tx
        .prepare("INSERT INTO store_settings (tenant_id, store_id) VALUES ($1, $2)")
        .await?;
    tx.execute(&stmt, &[&tenant, &id]).await?;
    Ok(Store {
        id,
        name: name.to_owned(),
        address: address.map(str::to_owned),
        default_warehouse_id: warehouse,
        warehouse_ids: vec![warehouse],
        created_at,
        version: 1,
    })
}

/// Adds a register with the tenant's next register number. Runs under the
/// tenant's catalog lock, so numbers are handed out one at a time.
pub async fn insert_register(
    tx: &Tx<'_>,
    tenant: TenantId,
    store: StoreId,
    name: &str,
) -> Result<Register> {
    let id = new_id();
    let stmt = tx.prepare("INSERT INTO registers (tenant_id, id, store_id, number, name) \
             SELECT $1, $2, $3, COALESCE(MAX(number), 0) + 1, $4 FROM registers WHERE tenant_id = $1 \
             RETURNING number",
        )
        .await?;
    let number: i32 = tx
        .query_one(&stmt, &[&tenant, &id, &store, &name])
        .await?
        .get(0);
    Ok(Register {
        id,
        store_id: store,
        number,
        name: name.to_owned(),
        active: true,
        version: 1,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Employee {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub store_id: Option<Uuid>,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_employee(
    db: &Db,
    tenant: TenantId,
    name: &str,
    role: &str,
    store: Option<StoreId>,
    phone: Option<&str>,
) -> Result<Employee> {
    let id = new_id();
    let rows = db
        .query(
            "INSERT INTO employees (tenant_id, id, name, role, store_id, phone) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at",
            &[&tenant, &id, &name, &role, &store, &phone],
        )
        .await?;
    let created_at = rows
        .first()
        .map(|r| r.get(0))
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("insert returned no row")))?;
    Ok(Employee {
        id,
        name: name.to_owned(),
        role: role.to_owned(),
        store_id: store,
        phone: phone.map(str::to_owned),
        created_at,
    })
}

pub async fn list_employees(
    db: &Db,
    tenant: TenantId,
    store: Option<StoreId>,
) -> Result<Vec<Employee>> {
    let rows = db
        .query(
            "SELECT id, name, role, store_id, phone, created_at FROM employees \
             WHERE tenant_id = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR store_id = $2) \
             ORDER BY id LIMIT 1000",
            &[&tenant, &store],
        )
        .await?;
    Ok(rows.iter().map(employee_row).collect())
}

pub async fn get_employee(db: &Db, tenant: TenantId, id: Uuid) -> Result<Employee> {
    let rows = db
        .query(
            "SELECT id, name, role, store_id, phone, created_at FROM employees \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&tenant, &id],
        )
        .await?;
    rows.first()
        .map(employee_row)
        .ok_or(Error::not_found("employee"))
}

pub async fn delete_employee(db: &Db, tenant: TenantId, id: Uuid) -> Result<()> {
    let rows = db
        .query(
            "UPDATE employees SET deleted_at = now() WHERE tenant_id = $1 AND id = $2 \
             AND deleted_at IS NULL RETURNING id",
            &[&tenant, &id],
        )
        .await?;
    if rows.is_empty() {
        return Err(Error::not_found("employee"));
    }
    Ok(())
}

fn employee_row(r: &tokio_postgres::Row) -> Employee {
    Employee {
        id: r.get(0),
        name: r.get(1),
        role: r.get(2),
        store_id: r.get(3),
        phone: r.get(4),
        created_at: r.get(5),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn customer_row(r: &tokio_postgres::Row) -> Customer {
    Customer {
        id: r.get(0),
        name: r.get(1),
        phone: r.get(2),
        email: r.get(3),
        created_at: r.get(4),
    }
}

/// Adds a customer and its `customer.created` event in one transaction.
pub async fn insert_customer(
    db: &Db,
    tenant: TenantId,
    name: &str,
    phone: &str,
    email: Option<&str>,
) -> Result<Customer> {
    let id = new_id();
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let stmt = tx
        .prepare(
            "INSERT INTO customers (tenant_id, id, name, phone, email) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, name, phone, email, created_at",
        )
        .await?;
    let row = tx
        .query_one(&stmt, &[&tenant, &id, &name, &phone, &email])
        .await
        .map_err(duplicate_phone)?;
    let customer = customer_row(&row);
    super::outbox::append(&tx, tenant, events::CUSTOMER_CREATED, &customer).await?;
    tx.commit().await?;
    Ok(customer)
}

fn duplicate_phone(e: tokio_postgres::Error) -> Error {
    if constraint(&e) == Some("customers_tenant_id_phone_key") {
        return Error::conflict(
            Code::DuplicatePhone,
            "a customer with this phone already exists",
        );
    }
    e.into()
}

pub async fn get_customer(db: &Db, tenant: TenantId, id: Uuid) -> Result<Customer> {
    let rows = db
        .query(
            "SELECT id, name, phone, email, created_at FROM customers WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &id],
        )
        .await?;
    rows.first()
        .map(customer_row)
        .ok_or(Error::not_found("customer"))
}

pub async fn customer_by_phone(db: &Db, tenant: TenantId, phone: &str) -> Result<Customer> {
    let rows = db
        .query(
            "SELECT id, name, phone, email, created_at FROM customers WHERE tenant_id = $1 AND phone = $2",
            &[&tenant, &phone],
        )
        .await?;
    rows.first()
        .map(customer_row)
        .ok_or(Error::not_found("customer"))
}

/// Whether the tenant exists (command-line tools check before they write).
pub async fn tenant_exists(db: &Db, tenant: TenantId) -> Result<bool> {
    Ok(!db
        .query("SELECT 1 FROM tenants WHERE id = $1", &[&tenant])
        .await?
        .is_empty())
}
