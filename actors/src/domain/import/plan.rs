//! Decides what one batch of import rows does to the catalog, from the
//! facts read for it (pure: tested without a database). The write then
//! applies the plan in one transaction.

use super::row::{ImportRow, RowError};
use crate::domain::{new_id, CategoryId, ProductId, VariantId};
use std::collections::{HashMap, HashSet};

/// A live variant as stored, with its product's editable fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub id: VariantId,
    pub product_id: ProductId,
    pub barcode: String,
    pub sku: Option<String>,
    pub price: i64,
    pub product_name: String,
    pub category_id: Option<CategoryId>,
}

/// What the database holds for a row's keys.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub by_sku: Option<Existing>,
    pub by_barcode: Option<Existing>,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub new_products: Vec<(ProductId, String, Option<CategoryId>)>,
    pub new_variants: Vec<(VariantId, ProductId, String, Option<String>, i64)>,
    pub variant_updates: Vec<(VariantId, String, Option<String>, i64)>,
    pub product_updates: Vec<(ProductId, String, Option<CategoryId>)>,
    /// Existing products whose version and change sequence move (edited
    /// themselves or their variants).
    pub touched: Vec<ProductId>,
    /// Lines of rows that change something, and of rows that change nothing.
    pub applied: Vec<u64>,
    pub unchanged: u64,
    pub errors: Vec<RowError>,
}

/// Bound on variants of one new product (as in the API).
pub const MAX_VARIANTS: usize = 100;

/// `rows[i]` was looked up as `found[i]`; `categories` maps lower-cased
/// names to ids (all names of the batch are present).
pub fn plan_batch(
    rows: &[ImportRow],
    found: &[Found],
    categories: &HashMap<String, CategoryId>,
) -> Plan {
    let mut plan = Plan::default();
    let mut seen_barcode: HashMap<&str, u64> = HashMap::new();
    let mut seen_sku: HashMap<&str, u64> = HashMap::new();
    let mut product_edit: HashSet<ProductId> = HashSet::new();
    let mut touched: HashSet<ProductId> = HashSet::new();
    let category_of = |row: &ImportRow| -> Option<CategoryId> {
        row.category
            .as_ref()
            .and_then(|c| categories.get(&c.to_lowercase()).copied())
    };

    let mut start = 0;
    while start < rows.len() {
        // A group: consecutive rows naming the same product.
        let mut end = start + 1;
        while end < rows.len() && rows[end].product == rows[start].product {
            end += 1;
        }
        let group = start..end;
        start = end;

        // The product new variants of this group join: the product of its
        // first row that matches a stored variant, else a new one.
        let anchor = group.clone().find_map(|i| {
            let f = &found[i];
            f.by_sku
                .as_ref()
                .or(f.by_barcode.as_ref())
                .map(|e| e.product_id)
        });
        // Product-level fields (name, category) come from the group's first
        // row, so rows of one product never disagree about them.
        let group_category = category_of(&rows[group.start]);
        let mut new_product: Option<ProductId> = None;
        let mut new_count = 0usize;

        for i in group {
            let row = &rows[i];
            let err = |column: &str, reason: String| RowError {
                line: row.line,
                column: column.to_owned(),
                reason,
            };
            if let Some(first) = seen_barcode.get(row.barcode.as_str()) {
                plan.errors.push(err(
                    "barcode",
                    format!("barcode {} already appears on line {first}", row.barcode),
                ));
                continue;
            }
            if let Some(sku) = row.sku.as_deref() {
                if let Some(first) = seen_sku.get(sku) {
                    plan.errors.push(err(
                        "sku",
                        format!("SKU {sku} already appears on line {first}"),
                    ));
                    continue;
                }
            }
            let f = &found[i];
            if let (Some(s), Some(b)) = (&f.by_sku, &f.by_barcode) {
                if s.id != b.id {
                    plan.errors.push(err(
                        "barcode",
                        format!(
                            "barcode {} belongs to another variant (product \"{}\")",
                            row.barcode, b.product_name
                        ),
                    ));
                    continue;
                }
            }
            seen_barcode.insert(row.barcode.as_str(), row.line);
            if let Some(sku) = row.sku.as_deref() {
                seen_sku.insert(sku, row.line);
            }
            let category = group_category;
            match f.by_sku.as_ref().or(f.by_barcode.as_ref()) {
                Some(e) => {
                    let sku = row.sku.clone().or_else(|| e.sku.clone());
                    let variant_changes =
                        e.barcode != row.barcode || e.sku != sku || e.price != row.price;
                    let new_category = category.or(e.category_id);
                    let product_changes = !product_edit.contains(&e.product_id)
                        && (e.product_name != row.product || e.category_id != new_category);
                    if variant_changes {
                        plan.variant_updates
                            .push((e.id, row.barcode.clone(), sku, row.price));
                        touched.insert(e.product_id);
                    }
                    if product_changes {
                        product_edit.insert(e.product_id);
                        plan.product_updates.push((
                            e.product_id,
                            row.product.clone(),
                            new_category,
                        ));
                        touched.insert(e.product_id);
                    }
                    if variant_changes || product_changes {
                        plan.applied.push(row.line);
                    } else {
                        plan.unchanged += 1;
                    }
                }
                None => {
                    let product = match (anchor, new_product) {
                        (Some(p), _) => {
                            touched.insert(p);
                            p
                        }
                        (None, Some(p)) => p,
                        (None, None) => {
                            let p = new_id();
                            plan.new_products.push((p, row.product.clone(), category));
                            new_product = Some(p);
                            p
                        }
                    };
                    new_count += 1;
                    if anchor.is_none() && new_count > MAX_VARIANTS {
                        plan.errors.push(err(
                            "product",
                            format!("a product has at most {MAX_VARIANTS} variants"),
                        ));
                        continue;
                    }
                    plan.new_variants.push((
                        new_id(),
                        product,
                        row.barcode.clone(),
                        row.sku.clone(),
                        row.price,
                    ));
                    plan.applied.push(row.line);
                }
            }
        }
    }
    let created: HashSet<ProductId> = plan.new_products.iter().map(|p| p.0).collect();
    plan.touched = touched
        .into_iter()
        .filter(|p| !created.contains(p))
        .collect();
    plan
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn row(line: u64, product: &str, sku: Option<&str>, barcode: &str, price: i64) -> ImportRow {
        ImportRow {
            line,
            product: product.into(),
            category: None,
            sku: sku.map(Into::into),
            barcode: barcode.into(),
            price,
        }
    }

    fn stored(product: Uuid, name: &str, sku: Option<&str>, barcode: &str, price: i64) -> Existing {
        Existing {
            id: Uuid::now_v7(),
            product_id: product,
            barcode: barcode.into(),
            sku: sku.map(Into::into),
            price,
            product_name: name.into(),
            category_id: None,
        }
    }

    #[test]
    fn consecutive_rows_of_a_new_product_make_one_product() {
        let rows = [
            row(2, "Tea", Some("T-1"), "1001", 100),
            row(3, "Tea", Some("T-2"), "1002", 200),
            row(4, "Coffee", None, "2001", 300),
        ];
        let plan = plan_batch(&rows, &vec![Found::default(); 3], &HashMap::new());
        assert_eq!(plan.new_products.len(), 2);
        assert_eq!(plan.new_variants.len(), 3);
        assert_eq!(plan.new_variants[0].1, plan.new_variants[1].1);
        assert_ne!(plan.new_variants[1].1, plan.new_variants[2].1);
        assert_eq!(plan.applied, vec![2, 3, 4]);
        assert!(plan.touched.is_empty());
    }

    #[test]
    fn a_row_equal_to_what_is_stored_changes_nothing() {
        let p = Uuid::now_v7();
        let e = stored(p, "Tea", Some("T-1"), "1001", 100);
        let rows = [row(2, "Tea", Some("T-1"), "1001", 100)];
        let found = [Found {
            by_sku: Some(e.clone()),
            by_barcode: Some(e),
        }];
        let plan = plan_batch(&rows, &found, &HashMap::new());
        assert_eq!(plan.unchanged, 1);
        assert!(plan.applied.is_empty() && plan.touched.is_empty());
        assert!(plan.variant_updates.is_empty() && plan.product_updates.is_empty());
    }

    #[test]
    fn sku_is_the_key_when_stored_and_a_new_barcode_is_taken() {
        let p = Uuid::now_v7();
        let e = stored(p, "Tea", Some("T-1"), "1001", 100);
        let rows = [
            row(2, "Tea", Some("T-1"), "1009", 150),
            row(3, "Tea", Some("T-3"), "1003", 100),
        ];
        let found = [
            Found {
                by_sku: Some(e.clone()),
                by_barcode: None,
            },
            Found::default(),
        ];
        let plan = plan_batch(&rows, &found, &HashMap::new());
        assert_eq!(
            plan.variant_updates,
            vec![(e.id, "1009".into(), Some("T-1".into()), 150)]
        );
        // The new variant joins the stored product of its group.
        assert_eq!(plan.new_variants[0].1, p);
        assert!(plan.new_products.is_empty());
        assert_eq!(plan.touched, vec![p]);
    }

    #[test]
    fn a_products_category_comes_from_its_first_row() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let cats: HashMap<String, CategoryId> = [("a".to_owned(), a), ("b".to_owned(), b)].into();
        let p = Uuid::now_v7();
        let mut first = stored(p, "Tea", Some("T-1"), "1001", 100);
        first.category_id = Some(a);
        let mut second = stored(p, "Tea", Some("T-2"), "1002", 100);
        second.category_id = Some(a);
        let mut rows = [
            row(2, "Tea", Some("T-1"), "1001", 100),
            row(3, "Tea", Some("T-2"), "1002", 100),
        ];
        rows[0].category = Some("A".into());
        rows[1].category = Some("B".into());
        let found = [
            Found {
                by_sku: Some(first),
                by_barcode: None,
            },
            Found {
                by_sku: Some(second),
                by_barcode: None,
            },
        ];
        let plan = plan_batch(&rows, &found, &cats);
        assert_eq!(plan.unchanged, 2);
        assert!(plan.product_updates.is_empty());
    }

    #[test]
    fn conflicts_and_duplicates_are_row_errors() {
        let a = stored(Uuid::now_v7(), "Tea", Some("T-1"), "1001", 100);
        let b = stored(Uuid::now_v7(), "Milk", None, "2002", 100);
        let rows = [
            row(2, "Tea", Some("T-1"), "2002", 100),
            row(3, "Juice", None, "3003", 100),
            row(4, "Juice", None, "3003", 100),
        ];
        let found = [
            Found {
                by_sku: Some(a),
                by_barcode: Some(b),
            },
            Found::default(),
            Found::default(),
        ];
        let plan = plan_batch(&rows, &found, &HashMap::new());
        let lines: Vec<(u64, &str)> = plan
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(lines, vec![(2, "barcode"), (4, "barcode")]);
        assert_eq!(plan.applied, vec![3]);
    }
}
