//! `jowi demo`: a demo tenant with 2 stores, 2 registers each, categories,
//! products with EAN-13 barcodes and opening stock. Safe to run twice: the
//! data is made once (fixed tenant id); later runs only issue fresh tokens
//! (stored tokens are hashed and cannot be shown again).

use crate::settings::Settings;
use crate::startup::pool_settings;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use jowi_actors::auth::Authenticator;
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
    let exists = !db
        .query("SELECT 1 FROM tenants WHERE id = $1", &[&DEMO_TENANT])
        .await?
        .is_empty();
    if exists {
        println!("demo tenant exists; issuing fresh tokens");
    } else {
        create_data(&db, products).await?;
    }

    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    let (_, owner) = auth
        .issue(&tx, DEMO_TENANT, Role::Owner, None, Some("demo owner"))
        .await?;
    let registers = tx
        .query(
            "SELECT r.id, r.number, s.name, s.id FROM registers r JOIN stores s \
             ON s.tenant_id = r.tenant_id AND s.id = r.store_id WHERE r.tenant_id = $1 ORDER BY r.number",
            &[&DEMO_TENANT],
        )
        .await?;
    let mut register_tokens = Vec::new();
    for r in &registers {
        let id: Uuid = r.get(0);
        let (_, token) = auth
            .issue(
                &tx,
                DEMO_TENANT,
                Role::Register,
                Some(id),
                Some("demo register"),
            )
            .await?;
        register_tokens.push((
            r.get::<_, i32>(1),
            r.get::<_, String>(2),
            r.get::<_, Uuid>(3),
            id,
            token,
        ));
    }
    let barcodes = tx
        .query(
            "SELECT v.barcode, p.name, v.price FROM product_variants v JOIN products p \
             ON p.tenant_id = v.tenant_id AND p.id = v.product_id \
             WHERE v.tenant_id = $1 AND v.deleted_at IS NULL ORDER BY v.barcode LIMIT 5",
            &[&DEMO_TENANT],
        )
        .await?;
    tx.commit().await?;

    println!();
    println!("tenant:       {DEMO_TENANT}");
    println!("owner token:  {owner}");
    for (number, store, store_id, id, token) in &register_tokens {
        println!("register {number} ({store}, store {store_id}, register {id}):\n  token: {token}");
    }
    println!("barcodes:");
    for b in &barcodes {
        println!(
            "  {}  {}  price {}",
            b.get::<_, String>(0),
            b.get::<_, String>(1),
            b.get::<_, i64>(2)
        );
    }
    if let Some(b) = barcodes.first() {
        println!();
        println!(
            "try: curl -H 'Authorization: Bearer {owner}' http://{}/api/v1/products/barcode/{}",
            settings.server.listen,
            b.get::<_, String>(0)
        );
    }
    crate::web::demo_owner::ensure(&db, settings, DEMO_TENANT).await?;
    Ok(())
}

async fn create_data(db: &Db, products: usize) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut client = db.client().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO tenants (id, name) VALUES ($1, 'JOWi Demo Market')",
        &[&DEMO_TENANT],
    )
    .await?;
    let mut warehouses = Vec::new();
    for (i, name) in ["Chilonzor", "Yunusobod"].iter().enumerate() {
        let store = pg::org::insert_store(
            db,
            &tx,
            DEMO_TENANT,
            &format!("Demo store {name}"),
            Some("Tashkent"),
        )
        .await?;
        warehouses.push(store.default_warehouse_id);
        for r in 1..=2 {
            pg::org::insert_register(
                db,
                &tx,
                DEMO_TENANT,
                store.id,
                &format!("Till {}", i * 2 + r),
            )
            .await?;
        }
    }
    let mut categories = Vec::new();
    for name in CATEGORIES {
        let id = new_id();
        pg::catalog::insert_category(db, &tx, DEMO_TENANT, id, name, None).await?;
        categories.push(id);
    }
    let receiving = new_id();
    tx.execute(
        "INSERT INTO stock_documents (tenant_id, id, kind, body_hash) VALUES ($1, $2, 'receiving', '\\x00')",
        &[&DEMO_TENANT, &receiving],
    )
    .await?;

    let bar = ProgressBar::new(products as u64);
    bar.set_style(
        ProgressStyle::with_template("products {bar:40} {pos}/{len} ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    const CHUNK: usize = 1000;
    let mut done = 0;
    while done < products {
        let n = CHUNK.min(products - done);
        let mut ids = Vec::with_capacity(n);
        let mut names = Vec::with_capacity(n);
        let mut cats = Vec::with_capacity(n);
        let mut variant_ids = Vec::with_capacity(n);
        let mut barcodes = Vec::with_capacity(n);
        let mut skus = Vec::with_capacity(n);
        let mut prices = Vec::with_capacity(n);
        for k in 0..n {
            let i = done + k;
            ids.push(new_id());
            names.push(format!(
                "{} {} #{i}",
                WORDS[i % WORDS.len()],
                CATEGORIES[i % CATEGORIES.len()]
            ));
            cats.push(categories[i % categories.len()]);
            variant_ids.push(new_id());
            barcodes.push(ean13(478_000_000_000 + i as u64));
            skus.push(format!("SKU-{i:06}"));
            prices.push(rng.gen_range(10..5000i64) * 100);
        }
        tx.execute(
            "INSERT INTO products (tenant_id, id, name, category_id) \
             SELECT $1, u.id, u.name, u.cat FROM UNNEST($2::uuid[], $3::text[], $4::uuid[]) AS u(id, name, cat)",
            &[&DEMO_TENANT, &ids, &names, &cats],
        )
        .await?;
        tx.execute(
            "INSERT INTO product_variants (tenant_id, id, product_id, barcode, sku, price) \
             SELECT $1, u.vid, u.pid, u.barcode, u.sku, u.price \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bigint[]) AS u(vid, pid, barcode, sku, price)",
            &[&DEMO_TENANT, &variant_ids, &ids, &barcodes, &skus, &prices],
        )
        .await?;
        for w in &warehouses {
            // Opening stock: a receiving movement and the level it sums to.
            tx.execute(
                "INSERT INTO stock_movements (tenant_id, warehouse_id, variant_id, delta, cause, document_id) \
                 SELECT $1, $2, v, 100, 'receiving', $3 FROM UNNEST($4::uuid[]) AS v",
                &[&DEMO_TENANT, w, &receiving, &variant_ids],
            )
            .await?;
            tx.execute(
                "INSERT INTO stock_levels (tenant_id, warehouse_id, variant_id, quantity) \
                 SELECT $1, $2, v, 100 FROM UNNEST($3::uuid[]) AS v",
                &[&DEMO_TENANT, w, &variant_ids],
            )
            .await?;
        }
        done += n;
        bar.set_position(done as u64);
    }
    tx.commit().await?;
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
