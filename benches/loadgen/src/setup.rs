//! `jowi-bench setup`: bench tenants inserted straight into PostgreSQL with
//! set-based statements (UNNEST of arrays, a few thousand rows each), then
//! the fixture the scenarios read.
//!
//! Per tenant: 2 stores, each with its default warehouse, settings row and
//! 2 registers (numbers 1..4 in the tenant) with an open shift; categories;
//! products with one variant each (unique barcode, price); opening stock as
//! one 'receiving' stock document, a stock movement per (warehouse, variant)
//! and the matching stock level; an owner token and one token per register.

use crate::cli::SetupArgs;
use crate::db;
use crate::fixture::{Fixture, Register, Store, Tenant, Variant};
use anyhow::Context;
use base64::Engine;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio_postgres::Transaction;
use uuid::Uuid;

const STORES_PER_TENANT: usize = 2;
const REGISTERS_PER_STORE: usize = 2;
const CHUNK: usize = 5_000;
/// Tenants created at once (one connection each); the machine has 2 cores.
const PARALLEL_TENANTS: usize = 2;

const WORDS: [&str; 16] = [
    "Milk", "Bread", "Tea", "Rice", "Soap", "Juice", "Cheese", "Flour", "Water", "Biscuits", "Oil",
    "Sugar", "Coffee", "Salt", "Pasta", "Honey",
];

/// EAN-13 with a valid check digit, from a 12-digit body.
pub fn ean13(body: u64) -> String {
    let digits = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// A token in the server's format: `jw_<tenant simple hex>_<43 chars base64url>`.
pub fn new_token(tenant: Uuid, rng: &mut impl RngCore) -> (String, Vec<u8>) {
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let token = format!(
        "jw_{}_{}",
        tenant.simple(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let hash = Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

pub async fn run(args: &SetupArgs) -> anyhow::Result<()> {
    if args.tenants == 0 || args.products < args.tenants * 3 {
        anyhow::bail!("need at least 1 tenant and 3 products per tenant");
    }
    if args.reset {
        reset(args).await?;
    }
    let database = db::database_name(&args.database_url)?;
    let started = std::time::Instant::now();
    let bar = ProgressBar::new(args.products as u64);
    bar.set_style(
        ProgressStyle::with_template("setup products {bar:40} {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let bar = Arc::new(bar);

    // Tenant i gets products [i*P/T, (i+1)*P/T).
    let per_tenant: Vec<usize> = (0..args.tenants)
        .map(|i| (i + 1) * args.products / args.tenants - i * args.products / args.tenants)
        .collect();
    let sem = Arc::new(tokio::sync::Semaphore::new(PARALLEL_TENANTS));
    let mut tasks = Vec::new();
    for (index, products) in per_tenant.into_iter().enumerate() {
        let sem = sem.clone();
        let bar = bar.clone();
        let url = args.database_url.clone();
        let spec = TenantSpec {
            index,
            products,
            categories: args.categories.max(1),
            opening_stock: args.opening_stock,
        };
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await?;
            create_tenant(&url, spec, &bar).await
        }));
    }
    let mut tenants = Vec::new();
    for t in tasks {
        tenants.push(t.await.context("setup task panicked")??);
    }
    bar.finish();

    let fixture = Fixture {
        created_at: chrono::Utc::now().to_rfc3339(),
        database,
        tenants,
    };
    fixture.save(&args.fixture)?;
    println!(
        "setup: {} tenants, {} products, {} registers in {:.1} s -> {}",
        fixture.tenants.len(),
        fixture.variant_count(),
        fixture.registers().len(),
        started.elapsed().as_secs_f64(),
        args.fixture.display()
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct TenantSpec {
    index: usize,
    products: usize,
    categories: usize,
    opening_stock: i64,
}

async fn create_tenant(url: &str, spec: TenantSpec, bar: &ProgressBar) -> anyhow::Result<Tenant> {
    let mut client = db::connect(url).await?;
    let tx = client.transaction().await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + spec.index as u64);
    let tenant = Uuid::now_v7();
    tx.execute(
        "INSERT INTO tenants (id, name) VALUES ($1, $2)",
        &[&tenant, &format!("Bench tenant {}", spec.index + 1)],
    )
    .await
    .context("inserting the tenant")?;

    let stores = create_stores(&tx, tenant, spec.index).await?;
    let categories = create_categories(&tx, tenant, spec.categories).await?;
    let warehouses: Vec<Uuid> = stores.iter().map(|s| s.warehouse_id).collect();

    let receiving = Uuid::now_v7();
    tx.execute(
        "INSERT INTO stock_documents (tenant_id, id, kind, body_hash) VALUES ($1, $2, 'receiving', $3)",
        &[&tenant, &receiving, &Sha256::digest(receiving.as_bytes()).to_vec()],
    )
    .await
    .context("inserting the receiving document")?;

    let mut variants = Vec::with_capacity(spec.products);
    let mut done = 0;
    while done < spec.products {
        let n = CHUNK.min(spec.products - done);
        let chunk = make_products(spec.index, done, n, &categories, &mut rng);
        insert_products(
            &tx,
            tenant,
            &chunk,
            &warehouses,
            spec.opening_stock,
            receiving,
        )
        .await?;
        variants.extend(chunk.into_iter().map(|p| p.variant));
        done += n;
        bar.inc(n as u64);
    }

    let (owner_token, owner_hash) = new_token(tenant, &mut rng);
    insert_token(&tx, tenant, &owner_hash, "owner", None, "bench owner").await?;
    let mut out_stores = Vec::with_capacity(stores.len());
    for s in stores {
        let mut registers = Vec::with_capacity(s.registers.len());
        for (id, number) in s.registers {
            let (token, hash) = new_token(tenant, &mut rng);
            insert_token(&tx, tenant, &hash, "register", Some(id), "bench register").await?;
            let shift_id = Uuid::now_v7();
            tx.execute(
                "INSERT INTO shifts (tenant_id, id, store_id, register_id, opening_cash) VALUES ($1, $2, $3, $4, 0)",
                &[&tenant, &shift_id, &s.id, &id],
            )
            .await
            .context("opening a shift")?;
            registers.push(Register {
                id,
                number,
                token,
                shift_id,
            });
        }
        out_stores.push(Store {
            id: s.id,
            warehouse_id: s.warehouse_id,
            registers,
        });
    }
    tx.commit().await.context("committing the tenant")?;
    Ok(Tenant {
        id: tenant,
        owner_token,
        stores: out_stores,
        variants,
    })
}

struct NewStore {
    id: Uuid,
    warehouse_id: Uuid,
    /// (id, number)
    registers: Vec<(Uuid, i32)>,
}

async fn create_stores(
    tx: &Transaction<'_>,
    tenant: Uuid,
    tenant_index: usize,
) -> anyhow::Result<Vec<NewStore>> {
    let mut stores = Vec::new();
    let mut number = 0;
    for s in 0..STORES_PER_TENANT {
        let id = Uuid::now_v7();
        let warehouse_id = Uuid::now_v7();
        let name = format!("Bench store {}-{}", tenant_index + 1, s + 1);
        tx.execute(
            "INSERT INTO stores (tenant_id, id, name, address) VALUES ($1, $2, $3, 'Tashkent')",
            &[&tenant, &id, &name],
        )
        .await
        .context("inserting a store")?;
        tx.execute(
            "INSERT INTO warehouses (tenant_id, id, store_id, name, is_default) VALUES ($1, $2, $3, $4, true)",
            &[&tenant, &warehouse_id, &id, &format!("{name} — main")],
        )
        .await
        .context("inserting a warehouse")?;
        tx.execute(
            "INSERT INTO store_settings (tenant_id, store_id) VALUES ($1, $2)",
            &[&tenant, &id],
        )
        .await
        .context("inserting store settings")?;
        let mut registers = Vec::new();
        for _ in 0..REGISTERS_PER_STORE {
            number += 1;
            let rid = Uuid::now_v7();
            tx.execute(
                "INSERT INTO registers (tenant_id, id, store_id, number, name) VALUES ($1, $2, $3, $4, $5)",
                &[&tenant, &rid, &id, &number, &format!("Till {number}")],
            )
            .await
            .context("inserting a register")?;
            registers.push((rid, number));
        }
        stores.push(NewStore {
            id,
            warehouse_id,
            registers,
        });
    }
    Ok(stores)
}

async fn create_categories(
    tx: &Transaction<'_>,
    tenant: Uuid,
    count: usize,
) -> anyhow::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    let names: Vec<String> = (0..count)
        .map(|i| format!("{} shelf {}", WORDS[i % WORDS.len()], i + 1))
        .collect();
    tx.execute(
        "INSERT INTO categories (tenant_id, id, name) \
         SELECT $1, u.id, u.name FROM UNNEST($2::uuid[], $3::text[]) AS u(id, name)",
        &[&tenant, &ids, &names],
    )
    .await
    .context("inserting categories")?;
    Ok(ids)
}

struct NewProduct {
    name: String,
    category: Uuid,
    sku: String,
    variant: Variant,
}

fn make_products(
    tenant_index: usize,
    start: usize,
    n: usize,
    categories: &[Uuid],
    rng: &mut impl Rng,
) -> Vec<NewProduct> {
    (start..start + n)
        .map(|i| {
            // Unique across tenants too: 2TT0000000000 + i.
            let body = (20 + tenant_index as u64) * 10_000_000_000 + i as u64;
            NewProduct {
                name: format!(
                    "{} {} #{i}",
                    WORDS[i % WORDS.len()],
                    WORDS[(i / 7) % WORDS.len()]
                ),
                category: categories[i % categories.len()],
                sku: format!("B{tenant_index:02}-{i:07}"),
                variant: Variant {
                    id: Uuid::now_v7(),
                    product_id: Uuid::now_v7(),
                    barcode: ean13(body),
                    price: rng.gen_range(10..5_000i64) * 100,
                },
            }
        })
        .collect()
}

async fn insert_products(
    tx: &Transaction<'_>,
    tenant: Uuid,
    chunk: &[NewProduct],
    warehouses: &[Uuid],
    opening_stock: i64,
    receiving: Uuid,
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = chunk.iter().map(|p| p.variant.product_id).collect();
    let names: Vec<&str> = chunk.iter().map(|p| p.name.as_str()).collect();
    let cats: Vec<Uuid> = chunk.iter().map(|p| p.category).collect();
    let vids: Vec<Uuid> = chunk.iter().map(|p| p.variant.id).collect();
    let barcodes: Vec<&str> = chunk.iter().map(|p| p.variant.barcode.as_str()).collect();
    let skus: Vec<&str> = chunk.iter().map(|p| p.sku.as_str()).collect();
    let prices: Vec<i64> = chunk.iter().map(|p| p.variant.price).collect();
    tx.execute(
        "INSERT INTO products (tenant_id, id, name, category_id) \
         SELECT $1, u.id, u.name, u.cat FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, name, cat)",
        &[&tenant, &ids, &names, &cats],
    )
    .await
    .context("inserting products")?;
    tx.execute(
        "INSERT INTO product_variants (tenant_id, id, product_id, barcode, sku, price) \
         SELECT $1, u.vid, u.pid, u.barcode, u.sku, u.price \
         FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[]) AS u(vid, pid, barcode, sku, price)",
        &[&tenant, &vids, &ids, &barcodes, &skus, &prices],
    )
    .await
    .context("inserting variants")?;
    let stock = opening_stock.to_string();
    for w in warehouses {
        tx.execute(
            "INSERT INTO stock_movements (tenant_id, warehouse_id, variant_id, delta, cause, document_id) \
             SELECT $1, $2, v, $3::text::numeric, 'receiving', $4 FROM UNNEST($5::uuid[]) AS v",
            &[&tenant, w, &stock, &receiving, &vids],
        )
        .await
        .context("inserting opening stock movements")?;
        tx.execute(
            "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity) \
             SELECT $1, $2, v, $3::text::numeric FROM UNNEST($4::uuid[]) AS v",
            &[&tenant, w, &stock, &vids],
        )
        .await
        .context("inserting opening stock levels")?;
    }
    Ok(())
}

async fn insert_token(
    tx: &Transaction<'_>,
    tenant: Uuid,
    hash: &[u8],
    role: &str,
    register: Option<Uuid>,
    name: &str,
) -> anyhow::Result<()> {
    tx.execute(
        "INSERT INTO api_tokens (tenant_id, id, token_hash, role, register_id, name) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&tenant, &Uuid::now_v7(), &hash, &role, &register, &name],
    )
    .await
    .context("inserting a token")?;
    Ok(())
}

/// Deletes every row of the tenants named in an existing fixture, from every
/// table with a `tenant_id` column (found in the catalog, so columns and
/// tables the server adds later are covered). Foreign-key triggers are
/// switched off for the transaction (needs a superuser, as on a dev box).
async fn reset(args: &SetupArgs) -> anyhow::Result<()> {
    let old = match Fixture::load(&args.fixture) {
        Ok(f) => f,
        Err(e) => {
            println!("setup --reset: nothing to reset ({e:#})");
            return Ok(());
        }
    };
    let ids: Vec<Uuid> = old.tenants.iter().map(|t| t.id).collect();
    let mut client = db::connect(&args.database_url).await?;
    let tables: Vec<String> = client
        .query(
            "SELECT format('%I.%I', c.table_schema, c.table_name) FROM information_schema.columns c \
             JOIN pg_class k ON k.oid = format('%I.%I', c.table_schema, c.table_name)::regclass \
             WHERE c.column_name = 'tenant_id' AND c.table_schema = 'public' \
               AND k.relkind IN ('r', 'p') AND NOT k.relispartition",
            &[],
        )
        .await
        .context("listing tenant tables")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL session_replication_role = replica")
        .await
        .context("disabling foreign-key triggers (needs a superuser)")?;
    let mut rows = 0;
    for t in &tables {
        rows += tx
            .execute(
                &format!("DELETE FROM {t} WHERE tenant_id = ANY($1)"),
                &[&ids],
            )
            .await
            .with_context(|| format!("deleting from {t}"))?;
    }
    rows += tx
        .execute("DELETE FROM tenants WHERE id = ANY($1)", &[&ids])
        .await?;
    tx.commit().await?;
    println!(
        "setup --reset: deleted {rows} rows of {} tenants",
        ids.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_check_digit() {
        assert_eq!(ean13(400_638_133_393), "4006381333931");
    }

    #[test]
    fn token_format() {
        let tenant = Uuid::now_v7();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (token, hash) = new_token(tenant, &mut rng);
        let rest = token.strip_prefix("jw_").unwrap_or_default();
        let (t, secret) = rest.split_once('_').unwrap_or_default();
        assert_eq!(t, tenant.simple().to_string());
        assert_eq!(secret.len(), 43);
        assert_eq!(hash.len(), 32);
    }
}
