//! Bulk rows for `jowi demo`: a demo tenant's products, opening stock and
//! the listings it prints. Set-based (UNNEST), one statement per chunk.

use super::Tx;
use crate::domain::TenantId;
use crate::error::Result;
use uuid::Uuid;

/// Products with one variant each (same index in every slice).
pub struct ProductChunk {
    pub ids: Vec<Uuid>,
    pub names: Vec<String>,
    pub categories: Vec<Uuid>,
    pub variant_ids: Vec<Uuid>,
    pub barcodes: Vec<String>,
    pub skus: Vec<String>,
    pub prices: Vec<i64>,
}

pub async fn insert_products(tx: &Tx<'_>, tenant: TenantId, c: &ProductChunk) -> Result<()> {
    let products = tx
        .prepare(
            "INSERT INTO products (tenant_id, id, name, category_id) \
             SELECT $1, u.id, u.name, u.cat FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, name, cat)",
        )
        .await?;
    tx.execute(&products, &[&tenant, &c.ids, &c.names, &c.categories])
        .await?;
    let variants = tx
        .prepare(
            "INSERT INTO product_variants (tenant_id, id, product_id, barcode, sku, price) \
             SELECT $1, u.vid, u.pid, u.barcode, u.sku, u.price \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[]) AS u(vid, pid, barcode, sku, price)",
        )
        .await?;
    tx.execute(
        &variants,
        &[
            &tenant,
            &c.variant_ids,
            &c.ids,
            &c.barcodes,
            &c.skus,
            &c.prices,
        ],
    )
    .await?;
    Ok(())
}

/// A receiving document the opening stock refers to.
pub async fn insert_opening_document(tx: &Tx<'_>, tenant: TenantId, id: Uuid) -> Result<()> {
    tx.execute(
        "INSERT INTO stock_documents (tenant_id, id, kind, body_hash) VALUES ($1, $2, 'receiving', '\\x00')",
        &[&tenant, &id],
    )
    .await?;
    Ok(())
}

/// Opening stock of `quantity` per variant: the movement (ledger) and the
/// level it sums to.
pub async fn opening_stock(
    tx: &Tx<'_>,
    tenant: TenantId,
    warehouse: Uuid,
    document: Uuid,
    variants: &[Uuid],
    quantity: i32,
) -> Result<()> {
    tx.execute(
        "INSERT INTO stock_movements (tenant_id, warehouse_id, variant_id, delta, cause, document_id) \
         SELECT $1, $2, v, $5::int4, 'receiving', $3 FROM UNNEST($4::uuid[]) AS v",
        &[&tenant, &warehouse, &document, &variants, &quantity],
    )
    .await?;
    tx.execute(
        "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity) \
         SELECT $1, $2, v, $4::int4 FROM UNNEST($3::uuid[]) AS v",
        &[&tenant, &warehouse, &variants, &quantity],
    )
    .await?;
    Ok(())
}

/// A register with its store, for printing.
pub struct RegisterRow {
    pub id: Uuid,
    pub number: i32,
    pub store_name: String,
    pub store_id: Uuid,
}

pub async fn registers(tx: &Tx<'_>, tenant: TenantId) -> Result<Vec<RegisterRow>> {
    Ok(tx
        .query(
            "SELECT r.id, r.number, s.name, s.id FROM registers r JOIN stores s \
             ON s.tenant_id = r.tenant_id AND s.id = r.store_id WHERE r.tenant_id = $1 ORDER BY r.number",
            &[&tenant],
        )
        .await?
        .iter()
        .map(|r| RegisterRow {
            id: r.get(0),
            number: r.get(1),
            store_name: r.get(2),
            store_id: r.get(3),
        })
        .collect())
}

/// (barcode, product name, price) of the first `limit` barcodes.
pub async fn sample_barcodes(
    tx: &Tx<'_>,
    tenant: TenantId,
    limit: i64,
) -> Result<Vec<(String, String, i64)>> {
    Ok(tx
        .query(
            "SELECT v.barcode, p.name, v.price FROM product_variants v JOIN products p \
             ON p.tenant_id = v.tenant_id AND p.id = v.product_id \
             WHERE v.tenant_id = $1 AND v.deleted_at IS NULL ORDER BY v.barcode LIMIT $2",
            &[&tenant, &limit],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// A demo cashier: (employee id, name, store id, store name).
pub type CashierRow = (Uuid, String, Uuid, String);

/// The demo tenant's cashiers (employees bound to a store), by store.
pub async fn cashiers(tx: &Tx<'_>, tenant: TenantId) -> Result<Vec<CashierRow>> {
    Ok(tx
        .query(
            "SELECT e.id, e.name, s.id, s.name FROM employees e JOIN stores s \
             ON s.tenant_id = e.tenant_id AND s.id = e.store_id \
             WHERE e.tenant_id = $1 AND e.deleted_at IS NULL AND e.pin_hash IS NOT NULL \
             ORDER BY s.name, e.name",
            &[&tenant],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// A cashier of `store` with an already hashed PIN.
pub async fn insert_cashier(
    tx: &Tx<'_>,
    tenant: TenantId,
    store: Uuid,
    name: &str,
    pin_hash: &str,
) -> Result<Uuid> {
    let id = crate::domain::new_id();
    tx.execute(
        "INSERT INTO employees (tenant_id, id, store_id, name, role, pin_hash) \
         VALUES ($1, $2, $3, $4, 'cashier', $5)",
        &[&tenant, &id, &store, &name, &pin_hash],
    )
    .await?;
    Ok(id)
}
