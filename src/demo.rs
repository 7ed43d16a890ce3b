//! `jowi demo`: a demo tenant with 2 stores, 2 registers each, a cashier
//! with a PIN per store, categories, products with EAN-13 barcodes and
//! opening stock. Safe to run twice: the
//! data is made once (fixed tenant id); later runs only issue fresh tokens
//! (stored tokens are hashed and cannot be shown again).

use crate::settings::Settings;
use crate::startup::pool_settings;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use jowi_actors::auth::Authenticator;
use jowi_actors::domain::pin::Pin;
use jowi_actors::domain::{new_id, Role};
use jowi_actors::pg::{self, Db};
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// Fixed so a second run finds the first run's tenant.
pub const DEMO_TENANT: Uuid = Uuid::from_u128(0x0190_d3e0_0000_7000_8000_0000_0000_0001);

const CATEGORIES: [&str; 6] = [
    "Dairy",
    "Bakery",
    "Drinks",
    "Grocery",
    "Household",
    "Snacks",
];
const WORDS: [&str; 12] = [
    "Milk", "Bread", "Tea", "Rice", "Soap", "Juice", "Cheese", "Flour", "Water", "Biscuits", "Oil",
    "Sugar",
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

pub async fn run(settings: &Settings, products: usize) -> anyhow::Result<()> {
    pg::migrate(&settings.database.url)
        .await
        .context("migrating")?;
    let db = Db::new(
        pg::connect(&pool_settings(settings))?,
        settings.database.statement_cache,
    );
    let auth = Authenticator::new(db.clone());
    let mut client = db.client().await?;
    let tx = db.begin(&mut client).await?;
    let owner = if pg::org::tenant_exists(&db, DEMO_TENANT).await? {
        println!("demo tenant exists; issuing fresh tokens");
        auth.issue(&tx, DEMO_TENANT, Role::Owner, None, Some("demo owner"))
            .await?
            .1
    } else {
        let owner = auth
            .create_tenant_on(&tx, DEMO_TENANT, "JOWi Demo Market", "demo owner")
            .await?;
        create_data(&tx, products).await?;
        owner
    };
    let mut register_tokens = Vec::new();
    for r in pg::demo::registers(&tx, DEMO_TENANT).await? {
        let (_, token) = auth
            .issue(
                &tx,
                DEMO_TENANT,
                Role::Register,
                Some(r.id),
                Some("demo register"),
            )
            .await?;
        register_tokens.push((r, token));
    }
    let cashiers = ensure_cashiers(&tx, &register_tokens).await?;
    let barcodes = pg::demo::sample_barcodes(&tx, DEMO_TENANT, 5).await?;
    tx.commit().await?;

    println!();
    println!("tenant:       {DEMO_TENANT}");
    println!("owner token:  {owner}");
    for (r, token) in &register_tokens {
        println!(
            "register {} ({}, store {}, register {}):\n  token: {token}",
            r.number, r.store_name, r.store_id, r.id
        );
    }
    println!("cashiers (a shift is opened by one: POST /api/v1/shifts with employee_id and pin):");
    for (id, name, store, store_name) in &cashiers {
        println!(
            "  {name} ({store_name}, store {store}): employee_id {id}, pin {}",
            demo_pin(*store, &register_tokens)
        );
    }
    println!("barcodes:");
    for (barcode, name, price) in &barcodes {
        println!("  {barcode}  {name}  price {price}");
    }
    if let Some((barcode, _, _)) = barcodes.first() {
        println!();
        println!(
            "try: curl -H 'Authorization: Bearer {owner}' http://{}/api/v1/products/barcode/{barcode}",
            settings.server.listen,
        );
    }
    crate::web::demo_owner::ensure(&db, settings, DEMO_TENANT).await?;
    Ok(())
}

/// The PIN the demo gives the cashier of the n-th store (1111, 2222, ...);
/// a manager may have changed it since.
fn demo_pin(store: Uuid, registers: &[(pg::demo::RegisterRow, String)]) -> String {
    let mut stores: Vec<Uuid> = Vec::new();
    for (r, _) in registers {
        if !stores.contains(&r.store_id) {
            stores.push(r.store_id);
        }
    }
    let n = stores.iter().position(|s| *s == store).unwrap_or(0) % 9 + 1;
    n.to_string().repeat(4)
}

/// A cashier with a PIN per store (also for a demo tenant made before the
/// demo had cashiers): shifts are opened by an employee with their PIN.
async fn ensure_cashiers(
    tx: &pg::Tx<'_>,
    registers: &[(pg::demo::RegisterRow, String)],
) -> anyhow::Result<Vec<pg::demo::CashierRow>> {
    let existing = pg::demo::cashiers(tx, DEMO_TENANT).await?;
    if !existing.is_empty() {
        return Ok(existing);
    }
    let mut done: Vec<Uuid> = Vec::new();
    for (r, _) in registers {
        if done.contains(&r.store_id) {
            continue;
        }
        done.push(r.store_id);
        let pin = Pin::parse("pin", &demo_pin(r.store_id, registers))?;
        let hash = tokio::task::spawn_blocking(move || pin.hash()).await??;
        let name = format!("Cashier {}", r.store_name.trim_start_matches("Demo store "));
        pg::demo::insert_cashier(tx, DEMO_TENANT, r.store_id, &name, &hash).await?;
    }
    Ok(pg::demo::cashiers(tx, DEMO_TENANT).await?)
}

/// Stores, registers, categories, products and opening stock, inside the
/// transaction that created the tenant.
async fn create_data(tx: &pg::Tx<'_>, products: usize) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut warehouses = Vec::new();
    for (i, name) in ["Chilonzor", "Yunusobod"].iter().enumerate() {
        let store = pg::org::insert_store(
            tx,
            DEMO_TENANT,
            &format!("Demo store {name}"),
            Some("Tashkent"),
        )
        .await?;
        warehouses.push(store.default_warehouse_id);
        for r in 1..=2 {
            pg::org::insert_register(tx, DEMO_TENANT, store.id, &format!("Till {}", i * 2 + r))
                .await?;
        }
    }
    let mut categories = Vec::new();
    for name in CATEGORIES {
        let id = new_id();
        pg::catalog::insert_category(tx, DEMO_TENANT, id, name, None).await?;
        categories.push(id);
    }
    let receiving = new_id();
    pg::demo::insert_opening_document(tx, DEMO_TENANT, receiving).await?;

    let bar = ProgressBar::new(products as u64);
    bar.set_style(
        ProgressStyle::with_template("products {bar:40} {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    const CHUNK: usize = 1000;
    let mut done = 0;
    while done < products {
        let n = CHUNK.min(products - done);
        let mut chunk = pg::demo::ProductChunk {
            ids: Vec::with_capacity(n),
            names: Vec::with_capacity(n),
            categories: Vec::with_capacity(n),
            variant_ids: Vec::with_capacity(n),
            barcodes: Vec::with_capacity(n),
            skus: Vec::with_capacity(n),
            prices: Vec::with_capacity(n),
        };
        for k in 0..n {
            let i = done + k;
            chunk.ids.push(new_id());
            chunk.names.push(format!(
                "{} {} #{i}",
                WORDS[i % WORDS.len()],
                CATEGORIES[i % CATEGORIES.len()]
            ));
            chunk.categories.push(categories[i % categories.len()]);
            chunk.variant_ids.push(new_id());
            chunk.barcodes.push(ean13(478_000_000_000 + i as u64));
            chunk.skus.push(format!("SKU-{i:06}"));
            chunk.prices.push(rng.gen_range(10..5000i64) * 100);
        }
        pg::demo::insert_products(tx, DEMO_TENANT, &chunk).await?;
        for w in &warehouses {
            pg::demo::opening_stock(tx, DEMO_TENANT, *w, receiving, &chunk.variant_ids, 100)
                .await?;
        }
        done += n;
        bar.set_position(done as u64);
    }
    bar.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ean13_check_digit() {
        // 4006381333931 is a well-known valid EAN-13.
        assert_eq!(super::ean13(400_638_133_393), "4006381333931");
    }
}
