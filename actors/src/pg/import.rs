//! SQL of the catalog import and export: the facts a batch is planned from,
//! the plan's writes, job progress rows and keyset pages of the export.

use super::{Db, Tx};
use crate::domain::import::plan::{Existing, Found, Plan};
use crate::domain::import::row::{ImportRow, RowError};
use crate::domain::{new_id, CategoryId, TenantId};
use crate::error::Code;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// Ids of the batch's categories by lower-cased name; missing ones are
/// created at the top level.
pub async fn ensure_categories(
    tx: &Tx<'_>,
    tenant: TenantId,
    names: &[String],
) -> Result<HashMap<String, CategoryId>> {
    let mut wanted: Vec<(String, String)> = names
        .iter()
        .map(|n| (n.to_lowercase(), n.clone()))
        .collect();
    wanted.sort();
    wanted.dedup_by(|a, b| a.0 == b.0);
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let lowers: Vec<&str> = wanted.iter().map(|w| w.0.as_str()).collect();
    let stmt = tx
        .prepare(
            "SELECT DISTINCT ON (lower(name)) lower(name), id FROM categories \
             WHERE tenant_id = $1 AND deleted_at IS NULL AND lower(name) = ANY($2) \
             ORDER BY lower(name), id",
        )
        .await?;
    let mut map: HashMap<String, CategoryId> = tx
        .query(&stmt, &[&tenant, &lowers])
        .await?
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, Uuid>(1)))
        .collect();
    let missing: Vec<&(String, String)> =
        wanted.iter().filter(|w| !map.contains_key(&w.0)).collect();
    if !missing.is_empty() {
        let ids: Vec<Uuid> = missing.iter().map(|_| new_id()).collect();
        let names: Vec<&str> = missing.iter().map(|w| w.1.as_str()).collect();
        let stmt = tx
            .prepare(
                "INSERT INTO categories (tenant_id, id, name) \
                 SELECT $1, u.id, u.name FROM UNNEST($2::uuid[], $3::text[]) AS u(id, name)",
            )
            .await?;
        tx.execute(&stmt, &[&tenant, &ids, &names]).await?;
        for (w, id) in missing.iter().zip(ids) {
            map.insert(w.0.clone(), id);
        }
    }
    Ok(map)
}

fn existing(r: &tokio_postgres::Row, at: usize) -> Option<Existing> {
    let id: Option<Uuid> = r.get(at);
    Some(Existing {
        id: id?,
        product_id: r.get(at + 1),
        barcode: r.get(at + 2),
        sku: r.get(at + 3),
        price: r.get(at + 4),
        product_name: r.get(at + 5),
        category_id: r.get(at + 6),
    })
}

/// For each row: the live variant holding its SKU, and the one holding its
/// barcode.
pub async fn find_existing(
    tx: &Tx<'_>,
    tenant: TenantId,
    rows: &[ImportRow],
) -> Result<Vec<Found>> {
    let skus: Vec<Option<&str>> = rows.iter().map(|r| r.sku.as_deref()).collect();
    let barcodes: Vec<&str> = rows.iter().map(|r| r.barcode.as_str()).collect();
    // Every lookup is a LATERAL by key: on a tenant whose catalog the
    // import itself just filled, the statistics still say "empty", and a
    // plain join was planned as a nested loop over the whole catalog per
    // row (10,000 rows took minutes). LIMIT 1 keeps each one a lookup
    // (a subquery without it is flattened into a join again).
    let stmt = tx
        .prepare(
            "SELECT u.i, \
                    s.id, s.product_id, s.barcode, s.sku, s.price, sp.name, sp.category_id, \
                    b.id, b.product_id, b.barcode, b.sku, b.price, bp.name, bp.category_id \
             FROM UNNEST($2::text[], $3::text[]) WITH ORDINALITY AS u(sku, barcode, i) \
             LEFT JOIN LATERAL ( \
                 SELECT v.id, v.product_id, v.barcode, v.sku, v.price FROM product_variants v \
                 WHERE v.tenant_id = $1 AND v.deleted_at IS NULL AND v.sku IS NOT NULL \
                   AND v.sku = u.sku ORDER BY v.id LIMIT 1) s ON true \
             LEFT JOIN LATERAL ( \
                 SELECT p.name, p.category_id FROM products p \
                 WHERE p.tenant_id = $1 AND p.id = s.product_id LIMIT 1) sp ON true \
             LEFT JOIN LATERAL ( \
                 SELECT v.id, v.product_id, v.barcode, v.sku, v.price FROM product_variants v \
                 WHERE v.tenant_id = $1 AND v.deleted_at IS NULL AND v.barcode = u.barcode \
                 LIMIT 1) b ON true \
             LEFT JOIN LATERAL ( \
                 SELECT p.name, p.category_id FROM products p \
                 WHERE p.tenant_id = $1 AND p.id = b.product_id LIMIT 1) bp ON true",
        )
        .await?;
    let mut found = vec![Found::default(); rows.len()];
    for r in tx.query(&stmt, &[&tenant, &skus, &barcodes]).await? {
        let i = r.get::<_, i64>(0) as usize - 1;
        if let Some(slot) = found.get_mut(i) {
            *slot = Found {
                by_sku: existing(&r, 1),
                by_barcode: existing(&r, 8),
            };
        }
    }
    Ok(found)
}

/// Writes a plan. Conflicts the plan could not foresee (two rows swapping
/// barcodes, a concurrent edit) fail the statement; the caller then retries
/// product by product.
pub async fn apply_plan(tx: &Tx<'_>, tenant: TenantId, plan: &Plan) -> Result<()> {
    if !plan.new_products.is_empty() {
        let ids: Vec<Uuid> = plan.new_products.iter().map(|p| p.0).collect();
        let names: Vec<&str> = plan.new_products.iter().map(|p| p.1.as_str()).collect();
        let cats: Vec<Option<Uuid>> = plan.new_products.iter().map(|p| p.2).collect();
        let stmt = tx
        .prepare(
                "INSERT INTO products (tenant_id, id, name, category_id) \
                 SELECT $1, u.id, u.name, u.cat FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, name, cat)",
            )
            .await?;
        tx.execute(&stmt, &[&tenant, &ids, &names, &cats]).await?;
    }
    if !plan.product_updates.is_empty() {
        let ids: Vec<Uuid> = plan.product_updates.iter().map(|p| p.0).collect();
        let names: Vec<&str> = plan.product_updates.iter().map(|p| p.1.as_str()).collect();
        let cats: Vec<Option<Uuid>> = plan.product_updates.iter().map(|p| p.2).collect();
        let stmt = tx
            .prepare(
                "UPDATE products p SET name = u.name, category_id = u.cat \
                 FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, name, cat) \
                 WHERE p.tenant_id = $1 AND p.id = u.id",
            )
            .await?;
        tx.execute(&stmt, &[&tenant, &ids, &names, &cats]).await?;
    }
    if !plan.variant_updates.is_empty() {
        let ids: Vec<Uuid> = plan.variant_updates.iter().map(|v| v.0).collect();
        let barcodes: Vec<&str> = plan.variant_updates.iter().map(|v| v.1.as_str()).collect();
        let skus: Vec<Option<&str>> = plan
            .variant_updates
            .iter()
            .map(|v| v.2.as_deref())
            .collect();
        let prices: Vec<i64> = plan.variant_updates.iter().map(|v| v.3).collect();
        let stmt = tx
        .prepare(
                "UPDATE product_variants v SET barcode = u.barcode, sku = u.sku, price = u.price \
                 FROM UNNEST($2::uuid[], $3::text[], $4::text[], $5::bigint[]) AS u(id, barcode, sku, price) \
                 WHERE v.tenant_id = $1 AND v.id = u.id",
            )
            .await?;
        tx.execute(&stmt, &[&tenant, &ids, &barcodes, &skus, &prices])
            .await?;
    }
    if !plan.new_variants.is_empty() {
        let ids: Vec<Uuid> = plan.new_variants.iter().map(|v| v.0).collect();
        let products: Vec<Uuid> = plan.new_variants.iter().map(|v| v.1).collect();
        let barcodes: Vec<&str> = plan.new_variants.iter().map(|v| v.2.as_str()).collect();
        let skus: Vec<Option<&str>> = plan.new_variants.iter().map(|v| v.3.as_deref()).collect();
        let prices: Vec<i64> = plan.new_variants.iter().map(|v| v.4).collect();
        let stmt = tx
            .prepare(
                "INSERT INTO product_variants (tenant_id, id, product_id, barcode, sku, price) \
                 SELECT $1, u.id, u.product, u.barcode, u.sku, u.price \
                 FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[]) \
                      AS u(id, product, barcode, sku, price)",
            )
            .await?;
        tx.execute(
            &stmt,
            &[&tenant, &ids, &products, &barcodes, &skus, &prices],
        )
        .await?;
    }
    if !plan.touched.is_empty() {
        // The registers' change feed pages by product change_seq: a product
        // whose variants changed moves too.
        let stmt = tx
            .prepare(
                "UPDATE products SET version = version + 1, \
                    change_seq = nextval('catalog_change_seq'), updated_at = now() \
                 WHERE tenant_id = $1 AND id = ANY($2) AND deleted_at IS NULL",
            )
            .await?;
        tx.execute(&stmt, &[&tenant, &plan.touched]).await?;
    }
    Ok(())
}

// --- jobs ---

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: Uuid,
    /// running, done or failed.
    #[schema(pattern = "^(running|done|failed)$")]
    pub status: String,
    pub rows_read: i64,
    pub rows_imported: i64,
    pub rows_unchanged: i64,
    pub rows_failed: i64,
    /// The rows refused so far (at most 1,000 kept).
    #[schema(value_type = Vec<RowError>)]
    pub errors: serde_json::Value,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Starts a job with a client-chosen id (so the page can poll it while the
/// upload runs); an id already used is refused.
pub async fn start_job(db: &Db, tenant: TenantId, id: Uuid) -> Result<()> {
    let rows = db
        .query(
            "INSERT INTO import_jobs (tenant_id, id, status) VALUES ($1, $2, 'running') \
             ON CONFLICT DO NOTHING RETURNING 1",
            &[&tenant, &id],
        )
        .await?;
    if rows.is_empty() {
        return Err(Error::conflict(
            Code::ImportJobExists,
            "an import with this job id already ran; use a new id",
        ));
    }
    Ok(())
}

pub struct JobProgress<'a> {
    pub rows_read: u64,
    pub imported: u64,
    pub unchanged: u64,
    pub failed: u64,
    /// Only when changed since the last update (it can be large).
    pub errors: Option<&'a [RowError]>,
    /// Some("done"/"failed") ends the job.
    pub finished: Option<&'a str>,
}

pub async fn update_job(db: &Db, tenant: TenantId, id: Uuid, p: JobProgress<'_>) -> Result<()> {
    let errors = p
        .errors
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| Error::Internal(e.into()))?;
    db.query(
        "UPDATE import_jobs SET rows_read = $3, rows_imported = $4, rows_unchanged = $5, \
            rows_failed = $6, errors = COALESCE($7, errors), \
            status = COALESCE($8, status), \
            finished_at = CASE WHEN $8::text IS NULL THEN NULL ELSE now() END \
         WHERE tenant_id = $1 AND id = $2",
        &[
            &tenant,
            &id,
            &(p.rows_read as i64),
            &(p.imported as i64),
            &(p.unchanged as i64),
            &(p.failed as i64),
            &errors,
            &p.finished,
        ],
    )
    .await?;
    Ok(())
}

pub async fn get_job(db: &Db, tenant: TenantId, id: Uuid) -> Result<ImportJob> {
    let rows = db
        .query(
            "SELECT id, status, rows_read, rows_imported, rows_unchanged, rows_failed, errors, \
                    started_at, finished_at FROM import_jobs WHERE tenant_id = $1 AND id = $2",
            &[&tenant, &id],
        )
        .await?;
    let r = rows.first().ok_or(Error::not_found("import job"))?;
    Ok(ImportJob {
        id: r.get(0),
        status: r.get(1),
        rows_read: r.get(2),
        rows_imported: r.get(3),
        rows_unchanged: r.get(4),
        rows_failed: r.get(5),
        errors: r.get(6),
        started_at: r.get(7),
        finished_at: r.get(8),
    })
}

// --- export ---

pub struct ExportRow {
    pub product_id: Uuid,
    pub variant_id: Uuid,
    pub product: String,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub barcode: String,
    pub price: i64,
}

/// One keyset page of live variants, by (product id, variant id): ids are
/// time-ordered, so products come out oldest first with their variants
/// together.
pub async fn export_page(
    db: &Db,
    tenant: TenantId,
    after: Option<(Uuid, Uuid)>,
    limit: i64,
) -> Result<Vec<ExportRow>> {
    let (ap, av) = match after {
        Some((p, v)) => (Some(p), Some(v)),
        None => (None, None),
    };
    let rows = db
        .query(
            "SELECT p.id, v.id, p.name, c.name, v.sku, v.barcode, v.price \
             FROM products p \
             JOIN product_variants v ON v.tenant_id = p.tenant_id AND v.product_id = p.id \
                  AND v.deleted_at IS NULL \
             LEFT JOIN categories c ON c.tenant_id = p.tenant_id AND c.id = p.category_id \
             WHERE p.tenant_id = $1 AND p.deleted_at IS NULL \
               AND ($2::uuid IS NULL OR (p.id, v.id) > ($2, $3::uuid)) \
             ORDER BY p.id, v.id LIMIT $4",
            &[&tenant, &ap, &av, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ExportRow {
            product_id: r.get(0),
            variant_id: r.get(1),
            product: r.get(2),
            category: r.get(3),
            sku: r.get(4),
            barcode: r.get(5),
            price: r.get(6),
        })
        .collect())
}
