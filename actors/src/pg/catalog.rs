//! Catalog rows: loading a tenant's catalog and the writes its TenantActor
//! makes. Every write runs in one transaction under the tenant's advisory
//! lock, bumps `version` and takes a new `change_seq`.

use super::{tenant_lock_key, Db, Tx};
use crate::domain::catalog::{Category, Product, Register, Store, Variant, VariantInput};
use crate::domain::{CategoryId, ProductId, TenantId};
use crate::error::{constraint, Code, Error, Result};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use uuid::Uuid;

/// A tenant's live catalog as rows, read in one transaction (one snapshot).
/// The in-memory `Catalog` is built from it by the catalog itself.
#[derive(Debug, Default)]
pub struct CatalogRows {
    pub categories: Vec<Category>,
    pub products: Vec<Product>,
    pub stores: Vec<Store>,
    pub registers: Vec<Register>,
}

/// Loads a tenant's live categories, products, stores and registers.
pub async fn load(db: &Db, tenant: TenantId) -> Result<CatalogRows> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let mut rows = CatalogRows::default();

    let stmt = tx
        .prepare(
            "SELECT id, name, parent_id, version, created_at, updated_at FROM categories \
             WHERE tenant_id = $1 AND deleted_at IS NULL",
        )
        .await?;
    for row in tx.query(&stmt, &[&tenant]).await? {
        rows.categories.push(Category {
            id: row.get(0),
            name: row.get(1),
            parent_id: row.get(2),
            version: row.get(3),
            created_at: row.get(4),
            updated_at: row.get(5),
        });
    }

    let stmt = tx
        .prepare(
            "SELECT product_id, id, barcode, sku, price FROM product_variants \
             WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY product_id, id",
        )
        .await?;
    let mut variants: HashMap<ProductId, Vec<Variant>> = HashMap::new();
    for row in tx.query(&stmt, &[&tenant]).await? {
        variants.entry(row.get(0)).or_default().push(Variant {
            id: row.get(1),
            barcode: row.get(2),
            sku: row.get(3),
            price: row.get(4),
        });
    }
    let stmt = tx
        .prepare(
            "SELECT id, name, category_id, version, change_seq, created_at, updated_at \
             FROM products WHERE tenant_id = $1 AND deleted_at IS NULL",
        )
        .await?;
    for row in tx.query(&stmt, &[&tenant]).await? {
        let id: ProductId = row.get(0);
        rows.products.push(Product {
            id,
            name: row.get(1),
            category_id: row.get(2),
            version: row.get(3),
            change_seq: row.get(4),
            created_at: row.get(5),
            updated_at: row.get(6),
            variants: variants.remove(&id).unwrap_or_default(),
            json: Default::default(),
        });
    }

    rows.stores = load_stores(&tx, tenant).await?;
    let stmt = tx
        .prepare("SELECT id, store_id, number, name, active, version FROM registers WHERE tenant_id = $1")
        .await?;
    for row in tx.query(&stmt, &[&tenant]).await? {
        rows.registers.push(Register {
            id: row.get(0),
            store_id: row.get(1),
            number: row.get(2),
            name: row.get(3),
            active: row.get(4),
            version: row.get(5),
        });
    }
    tx.commit().await?;
    Ok(rows)
}

async fn load_stores(tx: &Tx<'_>, tenant: TenantId) -> Result<Vec<Store>> {
    let stmt = tx
        .prepare(
            "SELECT s.id, s.name, s.address, s.created_at, \
                    (SELECT w.id FROM warehouses w WHERE w.tenant_id = s.tenant_id \
                       AND w.store_id = s.id AND w.is_default), \
                    ARRAY(SELECT w.id FROM warehouses w WHERE w.tenant_id = s.tenant_id \
                       AND w.store_id = s.id AND w.active ORDER BY w.id), s.version \
             FROM stores s WHERE s.tenant_id = $1 AND s.deleted_at IS NULL",
        )
        .await?;
    let rows = tx.query(&stmt, &[&tenant]).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(Store {
                id: row.get(0),
                name: row.get(1),
                address: row.get(2),
                created_at: row.get(3),
                default_warehouse_id: row.get::<_, Option<Uuid>>(4)?,
                warehouse_ids: row.get(5),
                version: row.get(6),
            })
        })
        .collect())
}

/// Reads one product (live or deleted) with its live variants.
pub async fn fetch_product(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: ProductId,
) -> Result<Option<(Product, Option<DateTime<Utc>>)>> {
    let stmt = tx.prepare("SELECT id, name, category_id, version, change_seq, created_at, updated_at, deleted_at \
             FROM products WHERE tenant_id = $1 AND id = $2",
        )
        .await?;
    let Some(row) = tx.query_opt(&stmt, &[&tenant, &id]).await? else {
        return Ok(None);
    };
    let vstmt = tx
        .prepare(
            "SELECT id, barcode, sku, price FROM product_variants \
             WHERE tenant_id = $1 AND product_id = $2 AND deleted_at IS NULL ORDER BY id",
        )
        .await?;
    let variants = tx
        .query(&vstmt, &[&tenant, &id])
        .await?
        .iter()
        .map(|v| Variant {
            id: v.get(0),
            barcode: v.get(1),
            sku: v.get(2),
            price: v.get(3),
        })
        .collect();
    Ok(Some((
        Product {
            id: row.get(0),
            name: row.get(1),
            category_id: row.get(2),
            version: row.get(3),
            change_seq: row.get(4),
            created_at: row.get(5),
            updated_at: row.get(6),
            variants,
            json: Default::default(),
        },
        row.get(7),
    )))
}

/// Starts a catalog write: a transaction holding the tenant's lock.
pub async fn begin_write<'a>(
    db: &Db,
    client: &'a mut deadpool_postgres::Object,
    tenant: TenantId,
) -> Result<Tx<'a>> {
    let tx = db.begin(client).await?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&tenant_lock_key(tenant)],
    )
    .await?;
    Ok(tx)
}

fn map_variant_conflict(err: tokio_postgres::Error) -> Error {
    if constraint(&err) == Some("idx_variants_tenant_barcode") {
        let detail = err
            .as_db_error()
            .and_then(|d| d.detail())
            .unwrap_or("a barcode is already used by another product")
            .to_owned();
        return Error::conflict(Code::DuplicateBarcode, detail);
    }
    err.into()
}

pub async fn insert_product(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: ProductId,
    name: &str,
    category_id: Option<CategoryId>,
    variants: &[VariantInput],
) -> Result<()> {
    let stmt = tx
        .prepare("INSERT INTO products (tenant_id, id, name, category_id) VALUES ($1, $2, $3, $4)")
        .await?;
    tx.execute(&stmt, &[&tenant, &id, &name, &category_id])
        .await?;
    insert_variants(tx, tenant, id, variants).await
}

async fn insert_variants(
    tx: &Tx<'_>,
    tenant: TenantId,
    product: ProductId,
    variants: &[VariantInput],
) -> Result<()> {
    if variants.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = variants
        .iter()
        .map(|v| v.id.unwrap_or_else(crate::domain::new_id))
        .collect();
    let barcodes: Vec<&str> = variants.iter().map(|v| v.barcode.as_str()).collect();
    let skus: Vec<Option<&str>> = variants.iter().map(|v| v.sku.as_deref()).collect();
    let prices: Vec<i64> = variants.iter().map(|v| v.price).collect();
    let stmt = tx.prepare("INSERT INTO product_variants (tenant_id, id, product_id, barcode, sku, price) \
             SELECT $1, u.id, $2, u.barcode, u.sku, u.price \
             FROM UNNEST($3::uuid[], $4::text[], $5::text[], $6::bigint[]) AS u(id, barcode, sku, price)",
        )
        .await?;
    tx.execute(&stmt, &[&tenant, &product, &ids, &barcodes, &skus, &prices])
        .await
        .map_err(map_variant_conflict)?;
    Ok(())
}

/// Applies a product edit if `expected_version` is current. Variants, when
/// given, replace the live list: entries with an id are edited, entries
/// without one are added, live ones not named are soft-deleted.
pub struct ProductEdit<'a> {
    pub id: ProductId,
    pub expected_version: i32,
    pub name: Option<&'a str>,
    /// `Some(None)` clears the category.
    pub category_id: Option<Option<CategoryId>>,
    pub variants: Option<&'a [VariantInput]>,
}

pub async fn update_product(tx: &Tx<'_>, tenant: TenantId, edit: ProductEdit<'_>) -> Result<()> {
    let ProductEdit {
        id,
        expected_version,
        name,
        category_id,
        variants,
    } = edit;
    let stmt = tx.prepare("UPDATE products SET name = COALESCE($3, name), \
                category_id = CASE WHEN $4 THEN $5 ELSE category_id END, \
                version = version + 1, change_seq = nextval('catalog_change_seq'), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND version = $6",
        )
        .await?;
    let set_category = category_id.is_some();
    let category = category_id.flatten();
    let n = tx
        .execute(
            &stmt,
            &[
                &tenant,
                &id,
                &name,
                &set_category,
                &category,
                &expected_version,
            ],
        )
        .await?;
    if n == 0 {
        return Err(stale_or_missing(tx, tenant, id, expected_version).await);
    }
    if let Some(variants) = variants {
        let keep: Vec<Uuid> = variants.iter().filter_map(|v| v.id).collect();
        // Variants named by id must belong to this product.
        let owned = tx
            .prepare(
                "SELECT id FROM product_variants WHERE tenant_id = $1 AND product_id = $2 \
                 AND deleted_at IS NULL AND id = ANY($3)",
            )
            .await?;
        let found = tx.query(&owned, &[&tenant, &id, &keep]).await?.len();
        if found != keep.len() {
            return Err(Error::invalid(
                "variants",
                "a variant id does not belong to this product",
            ));
        }
        // Retire first, then edit and add: a barcode may move between
        // variants of the same product without tripping the unique index.
        let retire = tx
            .prepare(
                "UPDATE product_variants SET deleted_at = now() WHERE tenant_id = $1 \
                 AND product_id = $2 AND deleted_at IS NULL AND NOT (id = ANY($3))",
            )
            .await?;
        tx.execute(&retire, &[&tenant, &id, &keep]).await?;
        let edited: Vec<&VariantInput> = variants.iter().filter(|v| v.id.is_some()).collect();
        if !edited.is_empty() {
            let ids: Vec<Uuid> = edited.iter().filter_map(|v| v.id).collect();
            let barcodes: Vec<&str> = edited.iter().map(|v| v.barcode.as_str()).collect();
            let skus: Vec<Option<&str>> = edited.iter().map(|v| v.sku.as_deref()).collect();
            let prices: Vec<i64> = edited.iter().map(|v| v.price).collect();
            // Park edited barcodes first so swaps inside one product work.
            let park = tx
                .prepare(
                    "UPDATE product_variants SET barcode = '~' || id::text \
                     WHERE tenant_id = $1 AND id = ANY($2)",
                )
                .await?;
            tx.execute(&park, &[&tenant, &ids]).await?;
            let upd = tx.prepare("UPDATE product_variants v SET barcode = u.barcode, sku = u.sku, price = u.price \
                     FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::bigint[]) AS u(id, barcode, sku, price) \
                     WHERE v.tenant_id = $1 AND v.id = u.id",
                )
                .await?;
            tx.execute(&upd, &[&tenant, &ids, &barcodes, &skus, &prices])
                .await
                .map_err(map_variant_conflict)?;
        }
        let added: Vec<VariantInput> = variants
            .iter()
            .filter(|v| v.id.is_none())
            .cloned()
            .collect();
        insert_variants(tx, tenant, id, &added).await?;
    }
    Ok(())
}

async fn stale_or_missing(tx: &Tx<'_>, tenant: TenantId, id: ProductId, expected: i32) -> Error {
    match fetch_product(tx, tenant, id).await {
        Ok(Some((p, None))) => Error::VersionConflict {
            expected,
            current: p.version,
        },
        Ok(_) => Error::not_found("product"),
        Err(e) => e,
    }
}

/// Soft-deletes a product and its variants (their barcodes become free).
pub async fn delete_product(tx: &Tx<'_>, tenant: TenantId, id: ProductId) -> Result<()> {
    let stmt = tx
        .prepare(
            "UPDATE products SET deleted_at = now(), version = version + 1, \
                change_seq = nextval('catalog_change_seq'), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .await?;
    if tx.execute(&stmt, &[&tenant, &id]).await? == 0 {
        return Err(Error::not_found("product"));
    }
    let stmt = tx
        .prepare(
            "UPDATE product_variants SET deleted_at = now() \
             WHERE tenant_id = $1 AND product_id = $2 AND deleted_at IS NULL",
        )
        .await?;
    tx.execute(&stmt, &[&tenant, &id]).await?;
    Ok(())
}

/// One entry of the change feed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ProductChange {
    pub change_seq: i64,
    pub product_id: Uuid,
    pub deleted: bool,
    /// The product as it is now; absent when deleted.
    pub product: Option<Product>,
}

/// Products changed after `since`, in change order, at most `limit`.
pub async fn changes_since(
    db: &Db,
    tenant: TenantId,
    since: i64,
    limit: i64,
) -> Result<Vec<ProductChange>> {
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let stmt = tx.prepare("SELECT id, name, category_id, version, change_seq, created_at, updated_at, deleted_at \
             FROM products WHERE tenant_id = $1 AND change_seq > $2 ORDER BY change_seq LIMIT $3",
        )
        .await?;
    let rows = tx.query(&stmt, &[&tenant, &since, &limit]).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    let vstmt = tx
        .prepare(
            "SELECT product_id, id, barcode, sku, price FROM product_variants \
             WHERE tenant_id = $1 AND product_id = ANY($2) AND deleted_at IS NULL ORDER BY id",
        )
        .await?;
    let mut variants: HashMap<ProductId, Vec<Variant>> = HashMap::new();
    for v in tx.query(&vstmt, &[&tenant, &ids]).await? {
        variants.entry(v.get(0)).or_default().push(Variant {
            id: v.get(1),
            barcode: v.get(2),
            sku: v.get(3),
            price: v.get(4),
        });
    }
    tx.commit().await?;
    Ok(rows
        .iter()
        .map(|row| {
            let id: ProductId = row.get(0);
            let deleted = row.get::<_, Option<DateTime<Utc>>>(7).is_some();
            ProductChange {
                change_seq: row.get(4),
                product_id: id,
                deleted,
                product: (!deleted).then(|| Product {
                    id,
                    name: row.get(1),
                    category_id: row.get(2),
                    version: row.get(3),
                    change_seq: row.get(4),
                    created_at: row.get(5),
                    updated_at: row.get(6),
                    variants: variants.remove(&id).unwrap_or_default(),
                    json: Default::default(),
                }),
            }
        })
        .collect())
}

// ---- categories ------------------------------------------------------------

pub async fn fetch_category(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: CategoryId,
) -> Result<Option<(Category, bool)>> {
    let stmt = tx
        .prepare(
            "SELECT id, name, parent_id, version, created_at, updated_at, deleted_at IS NOT NULL \
             FROM categories WHERE tenant_id = $1 AND id = $2",
        )
        .await?;
    Ok(tx.query_opt(&stmt, &[&tenant, &id]).await?.map(|row| {
        (
            Category {
                id: row.get(0),
                name: row.get(1),
                parent_id: row.get(2),
                version: row.get(3),
                created_at: row.get(4),
                updated_at: row.get(5),
            },
            row.get(6),
        )
    }))
}

pub async fn insert_category(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: CategoryId,
    name: &str,
    parent: Option<CategoryId>,
) -> Result<()> {
    let stmt = tx
        .prepare("INSERT INTO categories (tenant_id, id, name, parent_id) VALUES ($1, $2, $3, $4)")
        .await?;
    tx.execute(&stmt, &[&tenant, &id, &name, &parent]).await?;
    Ok(())
}

pub async fn update_category(
    tx: &Tx<'_>,
    tenant: TenantId,
    id: CategoryId,
    expected_version: i32,
    name: Option<&str>,
    parent: Option<Option<CategoryId>>,
) -> Result<()> {
    let stmt = tx.prepare("UPDATE categories SET name = COALESCE($3, name), \
                parent_id = CASE WHEN $4 THEN $5 ELSE parent_id END, \
                version = version + 1, change_seq = nextval('catalog_change_seq'), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL AND version = $6",
        )
        .await?;
    let set_parent = parent.is_some();
    let parent = parent.flatten();
    let n = tx
        .execute(
            &stmt,
            &[&tenant, &id, &name, &set_parent, &parent, &expected_version],
        )
        .await?;
    if n == 0 {
        return Err(match fetch_category(tx, tenant, id).await? {
            Some((c, false)) => Error::VersionConflict {
                expected: expected_version,
                current: c.version,
            },
            _ => Error::not_found("category"),
        });
    }
    Ok(())
}

pub async fn delete_category(tx: &Tx<'_>, tenant: TenantId, id: CategoryId) -> Result<()> {
    let stmt = tx
        .prepare(
            "UPDATE categories SET deleted_at = now(), version = version + 1, \
                change_seq = nextval('catalog_change_seq'), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL",
        )
        .await?;
    if tx.execute(&stmt, &[&tenant, &id]).await? == 0 {
        return Err(Error::not_found("category"));
    }
    Ok(())
}
