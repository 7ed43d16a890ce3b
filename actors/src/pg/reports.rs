//! Sales report queries over the running totals (migration V8). Every query
//! is keyed by tenant first and by business day; the rows they read are few
//! per store and day, so a report costs the same at any history size. The
//! figures are defined in `totals` (the rebuild SQL).

use super::Db;
use crate::error::Result;
use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Day,
    Hour,
    Store,
    Category,
    Product,
    Employee,
    PaymentMethod,
}

impl GroupBy {
    pub fn parse(raw: &str) -> Option<GroupBy> {
        Some(match raw {
            "day" => GroupBy::Day,
            "hour" => GroupBy::Hour,
            "store" => GroupBy::Store,
            "category" => GroupBy::Category,
            "product" => GroupBy::Product,
            "employee" => GroupBy::Employee,
            "payment_method" => GroupBy::PaymentMethod,
            _ => return None,
        })
    }
}

/// What top-N lists rank by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopBy {
    Revenue,
    Quantity,
}

/// A validated report request (the HTTP edge parses into this).
#[derive(Debug, Clone)]
pub struct SalesQuery {
    pub tenant: Uuid,
    pub store: Option<Uuid>,
    /// Business days, inclusive.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: GroupBy,
    /// Limit of product/category rows and of the top lists.
    pub top: Option<i64>,
    pub top_by: TopBy,
}

/// Receipt-level figures of a range (see `totals` for definitions).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Totals {
    pub sales_count: i64,
    pub returns_count: i64,
    /// Sales before discounts.
    pub gross: i64,
    pub discounts: i64,
    /// gross - discounts.
    pub sales: i64,
    pub returns: i64,
    /// sales - returns.
    pub net: i64,
    /// Tax inside `net` (tax of sales - tax of returns).
    pub tax: i64,
    /// Cost of the goods in `net` (sold - returned), of the lines whose
    /// cost is known.
    pub cost: i64,
    /// net - tax - cost; null when a line of the range has no cost.
    pub margin: Option<i64>,
}

/// One row of a grouped report. Receipt counts are set for receipt-level
/// groupings (day, hour, store, employee), quantities for product and
/// category, paid/refunded/change for payment methods.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ReportRow {
    /// Day (YYYY-MM-DD), hour (0-23), store/product/category/employee id
    /// ("none" for no category or employee), or payment method.
    pub key: String,
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sales_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub returns_count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub quantity_sold: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub quantity_returned: Option<Decimal>,
    pub gross: i64,
    pub discounts: i64,
    pub sales: i64,
    pub returns: i64,
    pub net: i64,
    /// Tax inside `net` (sales - returns); product, category, store and day
    /// rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax: Option<i64>,
    /// Cost of the goods in `net` (sold - returned, lines with a known
    /// cost); product, category, store and day rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<i64>,
    /// Gross margin: net - tax - cost; only where every line of the row
    /// has a known cost (else absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunded: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_given: Option<i64>,
}

impl ReportRow {
    fn money(key: String, name: Option<String>, f: [i64; 4]) -> Self {
        ReportRow {
            key,
            name,
            sales_count: None,
            returns_count: None,
            quantity_sold: None,
            quantity_returned: None,
            gross: f[0],
            discounts: f[1],
            sales: f[2],
            returns: f[3],
            net: f[2] - f[3],
            tax: None,
            cost: None,
            margin: None,
            paid: None,
            refunded: None,
            change_given: None,
        }
    }
}

/// Tax and cost figures of a group, from the per-variant totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Money {
    tax: i64,
    returns_tax: i64,
    cost: i64,
    returns_cost: i64,
    uncosted_lines: i64,
}

impl Money {
    fn from_row(r: &tokio_postgres::Row, at: usize) -> Money {
        Money {
            tax: r.get(at),
            returns_tax: r.get(at + 1),
            cost: r.get(at + 2),
            returns_cost: r.get(at + 3),
            uncosted_lines: r.get(at + 4),
        }
    }

    /// (tax, cost, margin) of a group whose net is `net`.
    fn figures(&self, net: i64) -> (i64, i64, Option<i64>) {
        let tax = self.tax - self.returns_tax;
        let cost = self.cost - self.returns_cost;
        (
            tax,
            cost,
            (self.uncosted_lines == 0).then_some(net - tax - cost),
        )
    }

    fn apply(&self, row: &mut ReportRow) {
        let (tax, cost, margin) = self.figures(row.net);
        row.tax = Some(tax);
        row.cost = Some(cost);
        row.margin = margin;
    }
}

/// The money columns of the variant totals, summed as `x.…` (alias x).
const MONEY: &str = "COALESCE(sum(x.tax), 0)::int8, COALESCE(sum(x.returns_tax), 0)::int8, \
     COALESCE(sum(x.cost), 0)::int8, COALESCE(sum(x.returns_cost), 0)::int8, \
     COALESCE(sum(x.uncosted_lines), 0)::int8";

/// Tax and cost per `group` ("store" or "day"; None: the whole range) over
/// [from, to]: whole months from the monthly variant rows, the days at
/// either end from the daily ones (per day: the daily rows only).
async fn money_by(
    db: &Db,
    q: &SalesQuery,
    from: NaiveDate,
    to: NaiveDate,
    group: Option<GroupBy>,
) -> Result<std::collections::HashMap<String, Money>> {
    let (key, (m_from, m_to)) = match group {
        Some(GroupBy::Store) => ("x.store_id::text", whole_months(from, to)),
        Some(_) => ("x.day::text", (from, from)),
        None => ("''", whole_months(from, to)),
    };
    let store_filter = if q.store.is_some() {
        " AND x.store_id = $6"
    } else {
        ""
    };
    let cols = "x.store_id, x.tax, x.returns_tax, x.cost, x.returns_cost, x.uncosted_lines";
    let sql = format!(
        "SELECT {key}, {MONEY} FROM ( \
           SELECT x.business_day AS day, {cols} FROM sales_daily_variant x \
           WHERE x.tenant_id = $1 AND x.business_day BETWEEN $2 AND $3 \
             AND NOT (x.business_day >= $4 AND x.business_day < $5){store_filter} \
           UNION ALL \
           SELECT x.month, {cols} FROM sales_monthly_variant x \
           WHERE x.tenant_id = $1 AND x.month >= $4 AND x.month < $5{store_filter}) x \
         GROUP BY 1"
    );
    let rows = match q.store {
        Some(s) => {
            db.query(&sql, &[&q.tenant, &from, &to, &m_from, &m_to, &s])
                .await?
        }
        None => {
            db.query(&sql, &[&q.tenant, &from, &to, &m_from, &m_to])
                .await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), Money::from_row(r, 1)))
        .collect())
}

/// Adds tax, cost and margin to store or day rows.
async fn with_money(db: &Db, q: &SalesQuery, mut rows: Vec<ReportRow>) -> Result<Vec<ReportRow>> {
    let money = money_by(db, q, q.from, q.to, Some(q.group_by)).await?;
    for row in &mut rows {
        money.get(&row.key).copied().unwrap_or_default().apply(row);
    }
    Ok(rows)
}

/// The filter every query shares: $1 tenant, $2 from, $3 to[, $4 store].
/// Two SQL texts rather than `$4 IS NULL OR ...`, so each gets a plan that
/// uses its index.
fn filter(alias: &str, store: bool) -> String {
    let s = if store {
        format!(" AND {alias}.store_id = $4")
    } else {
        String::new()
    };
    format!("{alias}.tenant_id = $1 AND {alias}.business_day BETWEEN $2 AND $3{s}")
}

const FIGURES: &str =
    "COALESCE(sum(x.sales_count), 0)::int8, COALESCE(sum(x.returns_count), 0)::int8, \
     COALESCE(sum(x.gross), 0)::int8, COALESCE(sum(x.discounts), 0)::int8, \
     COALESCE(sum(x.sales), 0)::int8, COALESCE(sum(x.returns), 0)::int8";

async fn run(
    db: &Db,
    sql: &str,
    q: &SalesQuery,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<tokio_postgres::Row>> {
    match q.store {
        Some(store) => db.query(sql, &[&q.tenant, &from, &to, &store]).await,
        None => db.query(sql, &[&q.tenant, &from, &to]).await,
    }
}

/// Totals of the query's store(s) over [from, to].
pub async fn totals(db: &Db, q: &SalesQuery, from: NaiveDate, to: NaiveDate) -> Result<Totals> {
    let sql = format!(
        "SELECT {FIGURES} FROM sales_daily_employee x WHERE {}",
        filter("x", q.store.is_some())
    );
    let rows = run(db, &sql, q, from, to).await?;
    let money = money_by(db, q, from, to, None)
        .await?
        .remove("")
        .unwrap_or_default();
    Ok(rows
        .first()
        .map(|r| {
            let (sales, returns): (i64, i64) = (r.get(4), r.get(5));
            let (tax, cost, margin) = money.figures(sales - returns);
            Totals {
                sales_count: r.get(0),
                returns_count: r.get(1),
                gross: r.get(2),
                discounts: r.get(3),
                sales,
                returns,
                net: sales - returns,
                tax,
                cost,
                margin,
            }
        })
        .unwrap_or_default())
}

fn receipt_row(key: String, name: Option<String>, r: &tokio_postgres::Row, at: usize) -> ReportRow {
    let mut row = ReportRow::money(
        key,
        name,
        [r.get(at + 2), r.get(at + 3), r.get(at + 4), r.get(at + 5)],
    );
    row.sales_count = Some(r.get(at));
    row.returns_count = Some(r.get(at + 1));
    row
}

/// The grouped rows of the query.
pub async fn rows(db: &Db, q: &SalesQuery) -> Result<Vec<ReportRow>> {
    let store = q.store.is_some();
    match q.group_by {
        GroupBy::Day => {
            let sql = format!(
                "SELECT x.business_day, {FIGURES} FROM sales_daily_employee x WHERE {} \
                 GROUP BY 1 ORDER BY 1",
                filter("x", store)
            );
            let rows = run(db, &sql, q, q.from, q.to)
                .await?
                .iter()
                .map(|r| receipt_row(r.get::<_, NaiveDate>(0).to_string(), None, r, 1))
                .collect();
            with_money(db, q, rows).await
        }
        GroupBy::Hour => {
            let sql = format!(
                "SELECT x.hour, {FIGURES} FROM sales_hourly x WHERE {} GROUP BY 1 ORDER BY 1",
                filter("x", store)
            );
            Ok(run(db, &sql, q, q.from, q.to)
                .await?
                .iter()
                .map(|r| receipt_row(r.get::<_, i16>(0).to_string(), None, r, 1))
                .collect())
        }
        GroupBy::Store => {
            let sql = format!(
                "SELECT x.store_id, min(s.name), {FIGURES} FROM sales_daily_employee x \
                 LEFT JOIN stores s ON s.tenant_id = x.tenant_id AND s.id = x.store_id \
                 WHERE {} GROUP BY 1 ORDER BY 7 DESC, 1",
                filter("x", store)
            );
            let rows = run(db, &sql, q, q.from, q.to)
                .await?
                .iter()
                .map(|r| receipt_row(r.get::<_, Uuid>(0).to_string(), r.get(1), r, 2))
                .collect();
            with_money(db, q, rows).await
        }
        GroupBy::Employee => {
            let sql = format!(
                "SELECT x.employee_id, min(e.name), {FIGURES} FROM sales_daily_employee x \
                 LEFT JOIN employees e ON e.tenant_id = x.tenant_id AND e.id = x.employee_id \
                 WHERE {} GROUP BY 1 ORDER BY 7 DESC, 1",
                filter("x", store)
            );
            Ok(run(db, &sql, q, q.from, q.to)
                .await?
                .iter()
                .map(|r| {
                    let id: Uuid = r.get(0);
                    let key = if id.is_nil() {
                        "none".to_owned()
                    } else {
                        id.to_string()
                    };
                    receipt_row(key, r.get(1), r, 2)
                })
                .collect())
        }
        GroupBy::PaymentMethod => {
            let sql = format!(
                "SELECT x.method, sum(x.paid)::int8, sum(x.refunded)::int8, sum(x.change_given)::int8 \
                 FROM sales_daily_payment x WHERE {} GROUP BY 1 ORDER BY 1",
                filter("x", store)
            );
            Ok(run(db, &sql, q, q.from, q.to)
                .await?
                .iter()
                .map(|r| {
                    let (paid, refunded, change): (i64, i64, i64) = (r.get(1), r.get(2), r.get(3));
                    let mut row =
                        ReportRow::money(r.get(0), None, [paid, 0, paid - change, refunded]);
                    row.paid = Some(paid);
                    row.refunded = Some(refunded);
                    row.change_given = Some(change);
                    row
                })
                .collect())
        }
        GroupBy::Product => ranked(db, q, false).await,
        GroupBy::Category => ranked(db, q, true).await,
    }
}

/// Products or categories ranked by revenue (net sales) or quantity sold,
/// limited to `top` when given.
pub async fn ranked(db: &Db, q: &SalesQuery, by_category: bool) -> Result<Vec<ReportRow>> {
    let store = q.store.is_some();
    let order = match q.top_by {
        TopBy::Revenue => "sales",
        TopBy::Quantity => "qty_sold",
    };
    let limit = q.top.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    // Whole months from the monthly rows, the days at either end from the
    // daily rows; aggregated per product first (few rows), then named.
    let (m_from, m_to) = whole_months(q.from, q.to);
    let store_filter = if store { " AND x.store_id = $6" } else { "" };
    let money_cols = "x.tax, x.returns_tax, x.cost, x.returns_cost, x.uncosted_lines";
    let per_product = format!(
        "SELECT x.product_id, sum(x.qty_sold) AS qty_sold, sum(x.qty_returned) AS qty_returned, \
            sum(x.gross)::int8 AS gross, sum(x.discounts)::int8 AS discounts, \
            sum(x.sales)::int8 AS sales, sum(x.returns)::int8 AS returns, \
            sum(x.tax)::int8 AS tax, sum(x.returns_tax)::int8 AS returns_tax, sum(x.cost)::int8 AS cost, \
            sum(x.returns_cost)::int8 AS returns_cost, sum(x.uncosted_lines)::int8 AS uncosted_lines \
         FROM (SELECT x.product_id, x.qty_sold, x.qty_returned, x.gross, x.discounts, x.sales, x.returns, {money_cols} \
               FROM sales_daily_variant x WHERE x.tenant_id = $1 AND x.business_day BETWEEN $2 AND $3 \
                 AND NOT (x.business_day >= $4 AND x.business_day < $5){store_filter} \
               UNION ALL \
               SELECT x.product_id, x.qty_sold, x.qty_returned, x.gross, x.discounts, x.sales, x.returns, {money_cols} \
               FROM sales_monthly_variant x WHERE x.tenant_id = $1 AND x.month >= $4 AND x.month < $5{store_filter}) x \
         GROUP BY 1"
    );
    let sql = if by_category {
        format!(
            "WITH pp AS ({per_product}) \
             SELECT p.category_id::text, min(c.name), sum(pp.qty_sold) AS qty_sold, sum(pp.qty_returned), \
               sum(pp.gross)::int8, sum(pp.discounts)::int8, sum(pp.sales)::int8 AS sales, sum(pp.returns)::int8, \
               sum(pp.tax)::int8, sum(pp.returns_tax)::int8, sum(pp.cost)::int8, sum(pp.returns_cost)::int8, \
               sum(pp.uncosted_lines)::int8 \
             FROM pp LEFT JOIN products p ON p.tenant_id = $1 AND p.id = pp.product_id \
             LEFT JOIN categories c ON c.tenant_id = $1 AND c.id = p.category_id \
             GROUP BY 1 ORDER BY {order} DESC, 1{limit}"
        )
    } else {
        format!(
            "WITH pp AS ({per_product} ORDER BY {order} DESC, 1{limit}) \
             SELECT pp.product_id::text, p.name, pp.qty_sold, pp.qty_returned, pp.gross, pp.discounts, \
               pp.sales, pp.returns, pp.tax, pp.returns_tax, pp.cost, pp.returns_cost, pp.uncosted_lines \
             FROM pp LEFT JOIN products p ON p.tenant_id = $1 AND p.id = pp.product_id \
             ORDER BY pp.{order} DESC, 1"
        )
    };
    let rows = match q.store {
        Some(s) => {
            db.query(&sql, &[&q.tenant, &q.from, &q.to, &m_from, &m_to, &s])
                .await?
        }
        None => {
            db.query(&sql, &[&q.tenant, &q.from, &q.to, &m_from, &m_to])
                .await?
        }
    };
    Ok(rows
        .iter()
        .map(|r| {
            let key: Option<String> = r.get(0);
            let mut row = ReportRow::money(
                key.unwrap_or_else(|| "none".into()),
                r.get(1),
                [r.get(4), r.get(5), r.get(6), r.get(7)],
            );
            row.quantity_sold = Some(r.get::<_, Decimal>(2).normalize());
            row.quantity_returned = Some(r.get::<_, Decimal>(3).normalize());
            Money::from_row(r, 8).apply(&mut row);
            row
        })
        .collect())
}

/// The whole calendar months inside [from, to] as [first day, first day
/// after); an empty range (start == end) when there is none.
pub fn whole_months(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = if from.day() == 1 {
        from
    } else {
        from.with_day(1)
            .and_then(|d| d.checked_add_months(Months::new(1)))
            .unwrap_or(from)
    };
    let end = to.succ_opt().and_then(|d| d.with_day(1)).unwrap_or(to);
    if first < end {
        (first, end)
    } else {
        (from, from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn whole_months_inside_a_range() {
        assert_eq!(
            whole_months(d("2026-01-01"), d("2026-12-31")),
            (d("2026-01-01"), d("2027-01-01"))
        );
        assert_eq!(
            whole_months(d("2026-01-15"), d("2026-04-10")),
            (d("2026-02-01"), d("2026-04-01"))
        );
        assert_eq!(
            whole_months(d("2026-01-15"), d("2026-02-27")),
            (d("2026-01-15"), d("2026-01-15"))
        );
        assert_eq!(
            whole_months(d("2026-02-01"), d("2026-02-28")),
            (d("2026-02-01"), d("2026-03-01"))
        );
        assert_eq!(
            whole_months(d("2025-11-30"), d("2026-11-29")),
            (d("2025-12-01"), d("2026-11-01"))
        );
    }
}
