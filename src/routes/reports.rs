//! Back-office sales reports over the running totals, as JSON or streamed
//! CSV, and the store setting that defines business days.

use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
use crate::json::Json;
use crate::state::AppState;
use actix_web::{get, http::header, put, web, HttpRequest, HttpResponse};
use chrono::{Months, NaiveDate};
use jowi_actors::domain::business_day::{parse_start_hour, parse_zone};
use jowi_actors::domain::Role;
use jowi_actors::pg::reports::{self, GroupBy, ReportRow, SalesQuery, TopBy, Totals};
use jowi_actors::pg::totals;
use jowi_actors::Error;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(sales).service(set_business_day);
}

/// Longest range of one report (a leap year).
const MAX_RANGE_DAYS: i64 = 366;
const MAX_TOP: i64 = 1000;

/// Query of GET /reports/sales. Everything arrives as text so a bad value
/// answers 400 naming its parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SalesParams {
    /// First business day, YYYY-MM-DD.
    pub from: Option<String>,
    /// Last business day (inclusive), YYYY-MM-DD; at most 366 days after `from`.
    pub to: Option<String>,
    /// One store; all the tenant's stores when absent.
    pub store_id: Option<String>,
    /// day (default) | hour | store | category | product | employee | payment_method
    pub group_by: Option<String>,
    /// previous_period (default: the same number of days just before) | previous_year | none
    pub compare: Option<String>,
    /// Top N products and categories (1-1000); limits product/category rows.
    pub top: Option<String>,
    /// revenue (default) | quantity
    pub top_by: Option<String>,
    /// json (default) | csv; `Accept: text/csv` also selects CSV.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Comparison {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Totals,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SalesReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub store_id: Option<Uuid>,
    pub group_by: GroupBy,
    pub totals: Totals,
    pub comparison: Option<Comparison>,
    pub rows: Vec<ReportRow>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_products: Option<Vec<ReportRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_categories: Option<Vec<ReportRow>>,
}

fn bad(field: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadParam {
        field,
        message: message.into(),
    }
}

fn date(field: &'static str, raw: Option<&str>) -> Result<NaiveDate, ApiError> {
    let raw = raw.ok_or_else(|| bad(field, "required (YYYY-MM-DD)"))?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad(field, "must be a date YYYY-MM-DD"))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Compare {
    PreviousPeriod,
    PreviousYear,
    None,
}

struct Parsed {
    query: SalesQuery,
    compare: Compare,
    csv: bool,
}

fn parse(p: &SalesParams, tenant: Uuid, accept_csv: bool) -> Result<Parsed, ApiError> {
    let from = date("from", p.from.as_deref())?;
    let to = date("to", p.to.as_deref())?;
    if to < from {
        return Err(bad("to", "must not be before from"));
    }
    if (to - from).num_days() + 1 > MAX_RANGE_DAYS {
        return Err(bad(
            "to",
            format!("a report covers at most {MAX_RANGE_DAYS} days"),
        ));
    }
    let store = p
        .store_id
        .as_deref()
        .map(|s| Uuid::try_parse(s).map_err(|_| bad("store_id", "must be a uuid")))
        .transpose()?;
    let group_by = match p.group_by.as_deref() {
        None => GroupBy::Day,
        Some(g) => GroupBy::parse(g).ok_or_else(|| {
            bad(
                "group_by",
                "must be day, hour, store, category, product, employee or payment_method",
            )
        })?,
    };
    let compare = match p.compare.as_deref() {
        None | Some("previous_period") => Compare::PreviousPeriod,
        Some("previous_year") => Compare::PreviousYear,
        Some("none") => Compare::None,
        Some(_) => {
            return Err(bad(
                "compare",
                "must be previous_period, previous_year or none",
            ))
        }
    };
    let top = p
        .top
        .as_deref()
        .map(|t| {
            t.parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_TOP).contains(n))
                .ok_or_else(|| bad("top", format!("must be 1 to {MAX_TOP}")))
        })
        .transpose()?;
    let top_by = match p.top_by.as_deref() {
        None | Some("revenue") => TopBy::Revenue,
        Some("quantity") => TopBy::Quantity,
        Some(_) => return Err(bad("top_by", "must be revenue or quantity")),
    };
    let csv = match p.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        None => accept_csv,
        Some(_) => return Err(bad("format", "must be json or csv")),
    };
    Ok(Parsed {
        query: SalesQuery {
            tenant,
            store,
            from,
            to,
            group_by,
            top,
            top_by,
        },
        compare,
        csv,
    })
}

fn comparison_range(c: Compare, from: NaiveDate, to: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    match c {
        Compare::None => None,
        Compare::PreviousPeriod => {
            let len = (to - from).num_days() + 1;
            let end = from.pred_opt()?;
            Some((end - chrono::Duration::days(len - 1), end))
        }
        Compare::PreviousYear => Some((
            from.checked_sub_months(Months::new(12))?,
            to.checked_sub_months(Months::new(12))?,
        )),
    }
}

fn wants_csv(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"))
}

/// Sales over business days [from, to], grouped, with totals, a comparison
/// period and optional top products/categories. Owner, manager, read_only.
#[utoipa::path(get, path = "/api/v1/reports/sales", tag = "reports", params(SalesParams),
    responses((status = 200, body = SalesReport, description = "JSON, or CSV with format=csv / Accept: text/csv"),
        (status = 400, description = "bad_request with the parameter in `field`"),
        (status = 403), (status = 404)))]
#[get("/reports/sales")]
pub async fn sales(
    tenant: Tenant,
    state: web::Data<AppState>,
    req: HttpRequest,
    params: web::Query<SalesParams>,
) -> ApiResult<HttpResponse> {
    let role = tenant.auth.0.role;
    if !(role.can_manage() || role == Role::ReadOnly) {
        return Err(ApiError::forbidden("read reports"));
    }
    let parsed = parse(&params, tenant.auth.tenant(), wants_csv(&req))?;
    let q = parsed.query;
    if let Some(store) = q.store {
        tenant
            .catalog
            .store(store)
            .ok_or(Error::not_found("store"))?;
    }
    let rows = state.reads.read(|db| reports::rows(db, &q)).await?;
    if parsed.csv {
        return Ok(csv_response(&q, rows));
    }
    let totals = state
        .reads
        .read(|db| reports::totals(db, &q, q.from, q.to))
        .await?;
    let comparison = match comparison_range(parsed.compare, q.from, q.to) {
        Some((from, to)) => Some(Comparison {
            from,
            to,
            totals: state
                .reads
                .read(|db| reports::totals(db, &q, from, to))
                .await?,
        }),
        None => None,
    };
    let (mut top_products, mut top_categories) = (None, None);
    if q.top.is_some() {
        if q.group_by != GroupBy::Product {
            top_products = Some(
                state
                    .reads
                    .read(|db| reports::ranked(db, &q, false))
                    .await?,
            );
        }
        if q.group_by != GroupBy::Category {
            top_categories = Some(state.reads.read(|db| reports::ranked(db, &q, true)).await?);
        }
    }
    Ok(HttpResponse::Ok().json(SalesReport {
        from: q.from,
        to: q.to,
        store_id: q.store,
        group_by: q.group_by,
        totals,
        comparison,
        rows,
        top_products,
        top_categories,
    }))
}

const CSV_HEADER: &str = "key,name,sales_count,returns_count,quantity_sold,quantity_returned,\
gross,discounts,sales,returns,net,paid,refunded,change_given,tax,cost,margin\n";

/// A CSV field: quoted when needed; a leading = + - @ is defused so a
/// spreadsheet never runs a name as a formula.
fn csv_field(out: &mut String, raw: &str) {
    let defuse = raw.starts_with(['=', '+', '-', '@']);
    if defuse || raw.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if defuse {
            out.push('\'');
        }
        out.push_str(&raw.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(raw);
    }
}

fn csv_row(out: &mut String, r: &ReportRow) {
    csv_field(out, &r.key);
    out.push(',');
    csv_field(out, r.name.as_deref().unwrap_or(""));
    let opt = |v: Option<String>| v.unwrap_or_default();
    let cells = [
        opt(r.sales_count.map(|v| v.to_string())),
        opt(r.returns_count.map(|v| v.to_string())),
        opt(r.quantity_sold.map(|v| v.to_string())),
        opt(r.quantity_returned.map(|v| v.to_string())),
        r.gross.to_string(),
        r.discounts.to_string(),
        r.sales.to_string(),
        r.returns.to_string(),
        r.net.to_string(),
        opt(r.paid.map(|v| v.to_string())),
        opt(r.refunded.map(|v| v.to_string())),
        opt(r.change_given.map(|v| v.to_string())),
        opt(r.tax.map(|v| v.to_string())),
        opt(r.cost.map(|v| v.to_string())),
        opt(r.margin.map(|v| v.to_string())),
    ];
    for c in cells {
        out.push(',');
        out.push_str(&c);
    }
    out.push('\n');
}

/// The rows as CSV, sent in chunks of 256 rows (chunked transfer).
fn csv_response(q: &SalesQuery, rows: Vec<ReportRow>) -> HttpResponse {
    let mut chunks: Vec<String> = vec![CSV_HEADER.to_owned()];
    for part in rows.chunks(256) {
        let mut s = String::with_capacity(part.len() * 96);
        for r in part {
            csv_row(&mut s, r);
        }
        chunks.push(s);
    }
    let body = futures_util::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, actix_web::Error>(web::Bytes::from(c))),
    );
    let name = format!(
        "sales_{}_{}_{}.csv",
        q.from,
        q.to,
        serde_json::to_value(q.group_by)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    );
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ))
        .streaming(body)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessDay {
    /// IANA zone, e.g. "Asia/Tashkent"; null: the tenant's default.
    pub time_zone: Option<String>,
    /// 0-23, the local hour a business day starts; null: the tenant's default.
    pub start_hour: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BusinessDayApplied {
    pub store_id: Uuid,
    /// The effective settings (after tenant defaults).
    pub time_zone: String,
    pub start_hour: i16,
    /// Receipts whose totals were recomputed under the new clock.
    pub receipts_rebuilt: u64,
}

/// Sets a store's business-day clock and recomputes its report totals.
#[utoipa::path(put, path = "/api/v1/stores/{id}/business_day", tag = "reports", request_body = BusinessDay,
    responses((status = 200, body = BusinessDayApplied), (status = 404), (status = 422)))]
#[put("/stores/{id}/business_day")]
pub async fn set_business_day(
    tenant: Tenant,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: Json<BusinessDay>,
) -> ApiResult<HttpResponse> {
    let auth = &tenant.auth;
    auth.require_manage("change store settings")?;
    let zone = body
        .time_zone
        .as_deref()
        .map(|z| parse_zone("time_zone", z).map(|_| z.to_owned()))
        .transpose()?;
    let hour = body
        .start_hour
        .map(|h| parse_start_hour("start_hour", h).map(i16::from))
        .transpose()?;
    tenant.catalog.store(*id).ok_or(Error::not_found("store"))?;
    let rebuilt =
        totals::set_store_clock(&state.db, auth.tenant(), *id, zone.as_deref(), hour).await?;
    let (time_zone, start_hour) = totals::store_clock(&state.db, auth.tenant(), *id).await?;
    Ok(HttpResponse::Ok().json(BusinessDayApplied {
        store_id: *id,
        time_zone,
        start_hour,
        receipts_rebuilt: rebuilt.receipts,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        csv_field(&mut out, "Milk, 1 l");
        out.push('|');
        csv_field(&mut out, "=HYPERLINK(\"x\")");
        out.push('|');
        csv_field(&mut out, "plain");
        assert_eq!(out, "\"Milk, 1 l\"|\"'=HYPERLINK(\"\"x\"\")\"|plain");
    }

    #[test]
    fn comparison_periods() {
        let (f, t) = (d("2026-03-01"), d("2026-03-31"));
        assert_eq!(
            comparison_range(Compare::PreviousPeriod, f, t),
            Some((d("2026-01-29"), d("2026-02-28")))
        );
        assert_eq!(
            comparison_range(Compare::PreviousYear, f, t),
            Some((d("2025-03-01"), d("2025-03-31")))
        );
        assert_eq!(comparison_range(Compare::None, f, t), None);
    }
}
