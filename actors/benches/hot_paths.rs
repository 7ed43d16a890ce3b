//! Micro-benchmarks of the hot paths, without a runtime or a database:
//! barcode lookup in a loaded 100,000-product catalog, receipt validation
//! and totals, and encoding a group-commit batch into column arrays.
//! Run: `cargo bench -p jowi-actors --bench hot_paths`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use jowi_actors::domain::catalog::{Product, Variant};
use jowi_actors::domain::receipt::{
    prepare, ItemRequest, PaymentMethod, PaymentRequest, ReceiptKind, ReceiptRequest, Till,
};
use jowi_actors::domain::receipt_money::MoneyContext;
use jowi_actors::domain::JsonDecimal;
use jowi_actors::pg::commit::{receipts::ReceiptTables, stock::StockWriter};
use jowi_actors::tenant::catalog::{Catalog, ListQuery};
use uuid::Uuid;

const PRODUCTS: usize = 100_000;

fn catalog() -> (Catalog, Vec<String>, Vec<Uuid>) {
    let c = Catalog::new();
    let mut barcodes = Vec::with_capacity(PRODUCTS);
    let mut variants = Vec::with_capacity(PRODUCTS);
    for i in 0..PRODUCTS {
        let vid = Uuid::now_v7();
        let barcode = format!("478{i:010}");
        c.apply_product(Product {
            id: Uuid::now_v7(),
            name: format!("Product {i}"),
            category_id: None,
            version: 1,
            change_seq: i as i64,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            variants: vec![Variant {
                id: vid,
                barcode: barcode.clone(),
                sku: None,
                price: 1000 + i as i64,
            }],
            json: Default::default(),
        });
        barcodes.push(barcode);
        variants.push(vid);
    }
    (c, barcodes, variants)
}

fn receipt(variants: &[Uuid], k: usize) -> ReceiptRequest {
    ReceiptRequest {
        id: Uuid::new_v4(),
        store_id: Uuid::nil(),
        register_id: Uuid::nil(),
        shift_id: Uuid::nil(),
        kind: ReceiptKind::Sale,
        original_receipt_id: None,
        number: None,
        occurred_at: None,
        customer_id: None,
        customer_phone: None,
        discount: None,
        totals: None,
        items: (0..3)
            .map(|j| ItemRequest {
                variant_id: variants[(k * 7 + j * 13) % variants.len()],
                quantity: JsonDecimal("1.5".parse().unwrap()),
                price: None,
                discount: 0,
                discount_percent_bp: None,
                discount_id: None,
            })
            .collect(),
        payments: vec![PaymentRequest {
            method: PaymentMethod::Cash,
            amount: 1_000_000,
        }],
    }
}

fn benches(c: &mut Criterion) {
    let (cat, barcodes, variants) = catalog();
    let till = Till {
        warehouse_id: Uuid::nil(),
        register_number: 1,
    };
    let money = MoneyContext::default();

    let mut i = 0usize;
    c.bench_function("barcode_lookup_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % barcodes.len();
            black_box(cat.by_barcode(&barcodes[i]))
        })
    });
    c.bench_function("list_50_newest_100k", |b| {
        b.iter(|| {
            black_box(cat.list(&ListQuery {
                limit: 50,
                ..Default::default()
            }))
        })
    });
    let requests: Vec<ReceiptRequest> = (0..1024).map(|k| receipt(&variants, k)).collect();
    let mut k = 0usize;
    c.bench_function("receipt_prepare_3_items", |b| {
        b.iter(|| {
            k = (k + 1) % requests.len();
            black_box(
                prepare(
                    Uuid::nil(),
                    &requests[k],
                    &cat,
                    &till,
                    &money,
                    Utc::now(),
                    300,
                )
                .unwrap(),
            )
        })
    });
    let prepared: Vec<_> = requests
        .iter()
        .take(128)
        .map(|r| prepare(Uuid::nil(), r, &cat, &till, &money, Utc::now(), 300).unwrap())
        .collect();
    c.bench_function("batch_encode_128_receipts", |b| {
        b.iter(|| {
            let now = Utc::now();
            let mut receipts = ReceiptTables::new(now, 128, 384);
            let mut stock = StockWriter::new(now, 384);
            for (n, p) in prepared.iter().enumerate() {
                receipts.push(p, format!("1-{n}"));
                stock.push(p);
            }
            stock.seal();
            black_box((receipts, stock))
        })
    });
}

criterion_group!(hot, benches);
criterion_main!(hot);
