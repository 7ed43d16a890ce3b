//! One CSV row of the catalog format, parsed and checked (pure: no I/O).
//!
//! Format (header names, any order, case-insensitive; `category` and `sku`
//! optional): `product,category,sku,barcode,price`. One row per variant;
//! consecutive rows with the same `product` are variants of one product.
//! `price` is in major units with up to 2 decimals (`12500` or `12500.50`).

use crate::domain::parse_barcode;
use serde::Serialize;

pub const COLUMNS: [&str; 5] = ["product", "category", "sku", "barcode", "price"];

/// A bad row: where and why. Lines count from 1 (the header is line 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    pub line: u64,
    pub product: String,
    pub category: Option<String>,
    pub sku: Option<String>,
    pub barcode: String,
    /// Minor units.
    pub price: i64,
}

/// Where each column sits in a record.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    product: usize,
    category: Option<usize>,
    sku: Option<usize>,
    barcode: usize,
    price: usize,
}

impl Layout {
    /// From the header record; unknown or missing columns are refused so a
    /// typo never imports silently wrong data.
    pub fn from_header(fields: &[&str]) -> Result<Self, RowError> {
        let err = |column: &str, reason: String| RowError {
            line: 1,
            column: column.to_owned(),
            reason,
        };
        let mut idx: [Option<usize>; 5] = [None; 5];
        for (i, raw) in fields.iter().enumerate() {
            let name = raw.trim().trim_start_matches('\u{feff}').to_lowercase();
            match COLUMNS.iter().position(|c| *c == name) {
                Some(k) if idx[k].is_some() => {
                    return Err(err(&name, "the column appears twice".into()))
                }
                Some(k) => idx[k] = Some(i),
                None => {
                    return Err(err(
                        &name,
                        format!("unknown column; the columns are {}", COLUMNS.join(",")),
                    ))
                }
            }
        }
        let need =
            |k: usize| idx[k].ok_or_else(|| err(COLUMNS[k], "required column is missing".into()));
        Ok(Layout {
            product: need(0)?,
            category: idx[1],
            sku: idx[2],
            barcode: need(3)?,
            price: need(4)?,
        })
    }
}

/// Major units with at most 2 decimals -> minor units.
pub fn parse_price(raw: &str) -> Result<i64, String> {
    let s = raw.trim();
    let bad = || {
        "a price is a number like 12500 or 12500.50 (at most 2 decimals, not negative)".to_owned()
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty()
        || whole.len() > 13
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let w: i64 = whole.parse().map_err(|_| bad())?;
    let f: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    w.checked_mul(100)
        .and_then(|v| v.checked_add(f))
        .ok_or_else(bad)
}

/// Minor units -> the format's price text (inverse of `parse_price`).
pub fn format_price(minor: i64) -> String {
    if minor % 100 == 0 {
        format!("{}", minor / 100)
    } else {
        format!("{}.{:02}", minor / 100, minor % 100)
    }
}

fn text(field: Option<&[u8]>) -> Result<&str, String> {
    std::str::from_utf8(field.unwrap_or(b"")).map_err(|_| "not valid UTF-8 text".to_owned())
}

/// Parses one record (raw bytes per field). The first bad column is reported.
pub fn parse_row(layout: &Layout, line: u64, fields: &[&[u8]]) -> Result<ImportRow, RowError> {
    let err = |column: &str, reason: String| RowError {
        line,
        column: column.to_owned(),
        reason,
    };
    let get = |i: usize| fields.get(i).copied();
    let product = text(get(layout.product))
        .map_err(|e| err("product", e))?
        .trim();
    if product.is_empty() || product.chars().count() > 300 {
        return Err(err(
            "product",
            "a product name has 1 to 300 characters".into(),
        ));
    }
    let category = match layout.category {
        None => None,
        Some(i) => {
            let c = text(get(i)).map_err(|e| err("category", e))?.trim();
            if c.chars().count() > 200 {
                return Err(err(
                    "category",
                    "a category name has at most 200 characters".into(),
                ));
            }
            (!c.is_empty()).then(|| c.to_owned())
        }
    };
    let sku = match layout.sku {
        None => None,
        Some(i) => {
            let s = text(get(i)).map_err(|e| err("sku", e))?.trim();
            if s.len() > 64 {
                return Err(err("sku", "a SKU has at most 64 characters".into()));
            }
            (!s.is_empty()).then(|| s.to_owned())
        }
    };
    let barcode_raw = text(get(layout.barcode))
        .map_err(|e| err("barcode", e))?
        .trim();
    let barcode = parse_barcode("barcode", barcode_raw).map_err(|_| {
        err(
            "barcode",
            "a barcode is 1 to 64 printable ASCII characters without spaces".into(),
        )
    })?;
    let price_raw = text(get(layout.price)).map_err(|e| err("price", e))?;
    let price = parse_price(price_raw).map_err(|e| err("price", e))?;
    Ok(ImportRow {
        line,
        product: product.to_owned(),
        category,
        sku,
        barcode,
        price,
    })
}

/// One CSV field, quoted when it must be.
pub fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) || value.starts_with(' ') || value.ends_with(' ') {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::from_header(&["product", "category", "sku", "barcode", "price"]).unwrap()
    }

    #[test]
    fn prices_are_exact_minor_units() {
        assert_eq!(parse_price("12500"), Ok(1_250_000));
        assert_eq!(parse_price("12500.5"), Ok(1_250_050));
        assert_eq!(parse_price(" 0.07 "), Ok(7));
        for bad in ["", "-1", "1.234", "1e3", "abc", "1,5", "99999999999999"] {
            assert!(parse_price(bad).is_err(), "{bad}");
        }
        for minor in [0, 7, 1_250_000, 1_250_050] {
            assert_eq!(parse_price(&format_price(minor)), Ok(minor));
        }
    }

    #[test]
    fn header_must_name_known_columns_and_the_required_ones() {
        assert!(Layout::from_header(&["Barcode", "PRICE", "product"]).is_ok());
        let e = Layout::from_header(&["product", "barcode", "prise"]).unwrap_err();
        assert_eq!((e.line, e.column.as_str()), (1, "prise"));
        let e = Layout::from_header(&["product", "barcode"]).unwrap_err();
        assert_eq!(e.column, "price");
    }

    #[test]
    fn bad_rows_name_line_column_and_reason() {
        let l = layout();
        let ok = parse_row(&l, 2, &[b"Tea", b"", b"T-1", b"4780001", b"1500.50"]).unwrap();
        assert_eq!(ok.price, 150_050);
        assert_eq!(ok.category, None);
        let e = parse_row(&l, 7, &[b"Tea", b"", b"", b"47 80", b"1"]).unwrap_err();
        assert_eq!((e.line, e.column.as_str()), (7, "barcode"));
        let e = parse_row(&l, 8, &[b"Tea", b"", b"", b"478", b"-5"]).unwrap_err();
        assert_eq!(e.column, "price");
        let e = parse_row(&l, 9, &[b"", b"", b"", b"478", b"5"]).unwrap_err();
        assert_eq!(e.column, "product");
        let e = parse_row(&l, 10, &[b"Tea", b"", b"", b"478"]).unwrap_err();
        assert_eq!(e.column, "price");
    }

    #[test]
    fn fields_are_quoted_when_needed() {
        let mut s = String::new();
        csv_field(&mut s, "Milk, 1 l \"fresh\"");
        assert_eq!(s, "\"Milk, 1 l \"\"fresh\"\"\"");
        let mut s = String::new();
        csv_field(&mut s, "Milk");
        assert_eq!(s, "Milk");
    }
}
