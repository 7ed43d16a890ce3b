//! Catalog import from CSV (format in `row`) and export in the same format.
//!
//! Streamed: rows are read one at a time and written in batches of about
//! `BATCH_ROWS` (a product's rows never split across batches), so memory is
//! bounded by one batch plus the first `MAX_ERRORS_KEPT` errors, plus a
//! small fingerprint per key (`Seen`: about 50 bytes per SKU or barcode,
//! ~10 MB per million rows) that finds a key repeated anywhere in the file. Each batch is one transaction under the tenant's catalog
//! lock; a row either applies whole or is reported. An upsert keyed by SKU
//! (when the SKU is stored) or barcode: importing the same file twice
//! changes nothing the second time.
//!
//! A SKU or barcode that appears again later in the file (in the same batch
//! or 90,000 lines on) is a bad row when the two rows differ — two different
//! variants cannot share a key, and a silent "last wins" would overwrite the
//! first — and is fine (counted unchanged) when the row repeats the earlier
//! one exactly.
//!
//! The caller tells the tenant's actors to resync afterwards (the import
//! writes PostgreSQL directly, like a burst of catalog writes).

use crate::domain::import::plan::{plan_batch, Plan};
use crate::domain::import::row::{csv_field, format_price, parse_row, ImportRow, Layout, RowError};
use crate::domain::TenantId;
use crate::error::Code;
use crate::error::{Error, Result};
use crate::pg::{self, Db};
use csv_async::{AsyncReaderBuilder, ByteRecord};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use tokio::io::AsyncRead;
use uuid::Uuid;

/// Rows per transaction (a product's rows stay together, so a batch may
/// exceed this by one product's variants).
pub const BATCH_ROWS: usize = 1000;
/// Errors kept for the report; the rest are only counted.
pub const MAX_ERRORS_KEPT: usize = 1000;

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Data rows read (the header not counted).
    pub rows_read: u64,
    /// Rows that created or changed something.
    pub imported: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub errors: Vec<RowError>,
}

impl ImportReport {
    fn fail(&mut self, e: RowError) {
        self.failed += 1;
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(e);
        }
    }
}

/// Imports a CSV stream for `tenant`. `progress` is called after every
/// batch (the page's progress and the CLI's bar); with `job`, the job row
/// is kept up to date too. An I/O error of the stream stops the import
/// (batches already written stay: each is whole).
pub async fn import_csv<R, F>(
    db: &Db,
    tenant: TenantId,
    input: R,
    job: Option<Uuid>,
    mut progress: F,
) -> Result<ImportReport>
where
    R: AsyncRead + Unpin + Send,
    F: FnMut(&ImportReport),
{
    let mut reader = AsyncReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .create_reader(input);
    let mut report = ImportReport::default();
    let mut record = ByteRecord::new();
    let result = run(
        db,
        tenant,
        &mut reader,
        &mut record,
        &mut report,
        job,
        &mut progress,
    )
    .await;
    if let Some(id) = job {
        let status = if result.is_ok() { "done" } else { "failed" };
        pg::import::update_job(db, tenant, id, job_progress(&report, true, Some(status))).await?;
    }
    result.map(|()| report)
}

fn job_progress<'a>(
    r: &'a ImportReport,
    with_errors: bool,
    finished: Option<&'a str>,
) -> pg::import::JobProgress<'a> {
    pg::import::JobProgress {
        rows_read: r.rows_read,
        imported: r.imported,
        unchanged: r.unchanged,
        failed: r.failed,
        errors: with_errors.then_some(r.errors.as_slice()),
        finished,
    }
}

fn read_error(e: csv_async::Error) -> Error {
    match e.kind() {
        csv_async::ErrorKind::Io(_) => {
            Error::invalid("file", format!("the upload could not be read: {e}"))
        }
        _ => Error::invalid("file", format!("not a CSV file: {e}")),
    }
}

async fn run<R, F>(
    db: &Db,
    tenant: TenantId,
    reader: &mut csv_async::AsyncReader<R>,
    record: &mut ByteRecord,
    report: &mut ImportReport,
    job: Option<Uuid>,
    progress: &mut F,
) -> Result<()>
where
    R: AsyncRead + Unpin + Send,
    F: FnMut(&ImportReport),
{
    if !reader.read_byte_record(record).await.map_err(read_error)? {
        return Err(Error::invalid(
            "file",
            "the file is empty: a header line is required",
        ));
    }
    let header: Vec<&str> = record
        .iter()
        .map(|f| std::str::from_utf8(f).unwrap_or(""))
        .collect();
    let layout = Layout::from_header(&header).map_err(|e| Error::invalid(e.column, e.reason))?;
    let mut batch: Vec<ImportRow> = Vec::with_capacity(BATCH_ROWS + 8);
    let mut seen = Seen::default();
    loop {
        let more = reader.read_byte_record(record).await.map_err(read_error)?;
        if !more {
            break;
        }
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        // A blank line is not a row.
        if record.len() == 1 && record.get(0).is_some_and(|f| f.is_empty()) {
            continue;
        }
        report.rows_read += 1;
        let fields: Vec<&[u8]> = record.iter().collect();
        match parse_row(&layout, line, &fields) {
            Err(e) => report.fail(e),
            Ok(row) => {
                match seen.check(&row) {
                    Repeat::First => {}
                    Repeat::Conflict(e) => {
                        report.fail(e);
                        continue;
                    }
                    Repeat::Identical(first) => {
                        // Still in the batch being built: the first row
                        // does the work. Else the upsert of an earlier
                        // batch finds it unchanged (or refuses it again).
                        if batch.first().is_some_and(|f| f.line <= first) {
                            report.unchanged += 1;
                            continue;
                        }
                    }
                }
                let boundary = batch.last().is_some_and(|last| last.product != row.product);
                if batch.len() >= BATCH_ROWS && boundary {
                    flush(db, tenant, &mut batch, report, job, progress).await?;
                }
                batch.push(row);
            }
        }
    }
    flush(db, tenant, &mut batch, report, job, progress).await
}

/// The keys (SKU, barcode) of every good row so far: a hash of the key ->
/// the line it first appeared on and a hash of that whole row. 64-bit
/// hashes keep the memory small; a collision (about one in 10¹⁰ for a
/// million keys) would report a row as a repeat.
#[derive(Default)]
struct Seen {
    keys: HashMap<u64, (u64, u64)>,
}

#[derive(Debug, PartialEq, Eq)]
enum Repeat {
    /// Neither key seen before (now remembered).
    First,
    /// The same row as on this earlier line.
    Identical(u64),
    /// A key of an earlier, different row.
    Conflict(RowError),
}

fn hash_of(parts: &[Option<&str>]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl Seen {
    fn check(&mut self, row: &ImportRow) -> Repeat {
        let price = row.price.to_string();
        let whole = hash_of(&[
            Some(&row.product),
            row.category.as_deref(),
            row.sku.as_deref(),
            Some(&row.barcode),
            Some(&price),
        ]);
        let mut keys = Vec::with_capacity(2);
        if let Some(sku) = row.sku.as_deref() {
            keys.push((
                "sku",
                format!("SKU {sku}"),
                hash_of(&[Some("sku"), Some(sku)]),
            ));
        }
        keys.push((
            "barcode",
            format!("barcode {}", row.barcode),
            hash_of(&[Some("barcode"), Some(&row.barcode)]),
        ));
        for (column, what, key) in &keys {
            let column: &str = column;
            if let Some(&(line, first_whole)) = self.keys.get(key) {
                if first_whole == whole {
                    return Repeat::Identical(line);
                }
                return Repeat::Conflict(RowError {
                    line: row.line,
                    column: column.to_owned(),
                    reason: format!(
                        "{what} already appears on line {line} with different data \
                         (two variants cannot share it)"
                    ),
                });
            }
        }
        for (_, _, key) in keys {
            self.keys.insert(key, (row.line, whole));
        }
        Repeat::First
    }
}

async fn flush<F>(
    db: &Db,
    tenant: TenantId,
    batch: &mut Vec<ImportRow>,
    report: &mut ImportReport,
    job: Option<Uuid>,
    progress: &mut F,
) -> Result<()>
where
    F: FnMut(&ImportReport),
{
    let errors_before = report.failed;
    if !batch.is_empty() {
        match write_batch(db, tenant, batch).await {
            Ok(plan) => account(report, plan),
            Err(e) if matches!(e.code(), Code::Busy | Code::Unavailable) => return Err(e),
            // Something only the database saw (two rows swapping barcodes,
            // a concurrent edit): retry product by product so one bad
            // product does not fail its batch-mates.
            Err(_) => {
                let mut start = 0;
                while start < batch.len() {
                    let mut end = start + 1;
                    while end < batch.len() && batch[end].product == batch[start].product {
                        end += 1;
                    }
                    let group = &batch[start..end];
                    match write_batch(db, tenant, group).await {
                        Ok(plan) => account(report, plan),
                        Err(e) if matches!(e.code(), Code::Busy | Code::Unavailable) => {
                            return Err(e)
                        }
                        Err(e) => {
                            for row in group {
                                report.fail(RowError {
                                    line: row.line,
                                    column: String::new(),
                                    reason: format!("refused by the database: {e}"),
                                });
                            }
                        }
                    }
                    start = end;
                }
            }
        }
        batch.clear();
    }
    if let Some(id) = job {
        let changed = report.failed != errors_before;
        pg::import::update_job(db, tenant, id, job_progress(report, changed, None)).await?;
    }
    progress(report);
    Ok(())
}

fn account(report: &mut ImportReport, plan: Plan) {
    report.imported += plan.applied.len() as u64;
    report.unchanged += plan.unchanged;
    for e in plan.errors {
        report.fail(e);
    }
}

/// One transaction: categories, the facts, the plan, its writes.
async fn write_batch(db: &Db, tenant: TenantId, rows: &[ImportRow]) -> Result<Plan> {
    let mut client = db.client().await?;
    let tx = pg::catalog::begin_write(db, &mut client, tenant).await?;
    let names: Vec<String> = rows.iter().filter_map(|r| r.category.clone()).collect();
    let categories = pg::import::ensure_categories(&tx, tenant, &names).await?;
    let found = pg::import::find_existing(&tx, tenant, rows).await?;
    let plan = plan_batch(rows, &found, &categories);
    pg::import::apply_plan(&tx, tenant, &plan).await?;
    tx.commit().await?;
    Ok(plan)
}

/// Rows per export page (one query each).
pub const EXPORT_PAGE: i64 = 5000;

/// The export's header line.
pub fn export_header() -> String {
    format!("{}\n", crate::domain::import::row::COLUMNS.join(","))
}

/// One page of the export as CSV text, and the key to continue after
/// (None when done).
pub async fn export_chunk(
    db: &Db,
    tenant: TenantId,
    after: Option<(Uuid, Uuid)>,
) -> Result<(String, Option<(Uuid, Uuid)>)> {
    let rows = pg::import::export_page(db, tenant, after, EXPORT_PAGE).await?;
    let mut out = String::with_capacity(rows.len() * 64);
    for r in &rows {
        csv_field(&mut out, &r.product);
        out.push(',');
        csv_field(&mut out, r.category.as_deref().unwrap_or(""));
        out.push(',');
        csv_field(&mut out, r.sku.as_deref().unwrap_or(""));
        out.push(',');
        csv_field(&mut out, &r.barcode);
        out.push(',');
        out.push_str(&format_price(r.price));
        out.push('\n');
    }
    let next = (rows.len() as i64 == EXPORT_PAGE)
        .then(|| rows.last().map(|r| (r.product_id, r.variant_id)))
        .flatten();
    Ok((out, next))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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

    #[test]
    fn a_repeated_key_is_fine_only_when_the_row_is_identical() {
        let mut seen = Seen::default();
        assert_eq!(
            seen.check(&row(10, "Tea", Some("S1"), "111", 100)),
            Repeat::First
        );
        assert_eq!(
            seen.check(&row(11, "Tea", Some("S2"), "222", 100)),
            Repeat::First
        );
        assert_eq!(
            seen.check(&row(12, "Milk", None, "333", 100)),
            Repeat::First
        );
        // The same row again, far away: fine.
        assert_eq!(
            seen.check(&row(90_000, "Tea", Some("S1"), "111", 100)),
            Repeat::Identical(10)
        );
        assert_eq!(
            seen.check(&row(90_001, "Milk", None, "333", 100)),
            Repeat::Identical(12)
        );
        // Same SKU, another product (or price): the SKU column is wrong.
        let Repeat::Conflict(e) = seen.check(&row(90_002, "Coffee", Some("S1"), "444", 100)) else {
            panic!("a conflict")
        };
        assert_eq!((e.line, e.column.as_str()), (90_002, "sku"));
        assert!(e.reason.contains("line 10"), "{}", e.reason);
        let Repeat::Conflict(e) = seen.check(&row(90_003, "Tea", Some("S1"), "111", 101)) else {
            panic!("a conflict")
        };
        assert_eq!(e.column, "sku");
        // A new SKU on a barcode already used: the barcode column.
        let Repeat::Conflict(e) = seen.check(&row(90_004, "Tea", Some("S9"), "222", 100)) else {
            panic!("a conflict")
        };
        assert_eq!(
            (e.column.as_str(), e.reason.contains("line 11")),
            ("barcode", true)
        );
        // A refused row is not remembered: S9 is still free.
        assert_eq!(
            seen.check(&row(90_005, "Tea", Some("S9"), "999", 100)),
            Repeat::First
        );
    }
}
