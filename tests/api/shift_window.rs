//! A receipt belongs to the shift it happened in: dated before its shift
//! opened (beyond the clock skew) it is refused, so a closed shift's Z
//! report cannot be changed after the count.

use crate::helpers::*;
use crate::sales::shop;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::json;

/// Sale, close with the exact cash, then a return dated 2000-01-01 into
/// the closed shift: 422 on `occurred_at`, and the Z report is unchanged.
#[actix_web::test]
async fn closed_shift_z_report_cannot_be_changed_by_backdating() {
    let app = spawn_app().await;
    let s = shop(&app, 1).await;
    let sale = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(sale.status, StatusCode::CREATED, "{}", sale.body);
    let total = sale.body["total"].as_i64().unwrap();
    let close = app
        .post(
            &format!("/api/v1/shifts/{}/close", s.shift),
            &s.register_token,
            json!({"counted_cash": 5000 + total}),
        )
        .await;
    assert_eq!(close.status, StatusCode::OK, "{}", close.body);
    assert_eq!(close.body["difference"], 0);

    let mut refund = s.refund(sale.body["id"].as_str().unwrap(), &[(0, "1")]);
    refund["occurred_at"] = json!("2000-01-01T00:00:00Z");
    let r = app
        .post("/api/v1/receipts", &s.register_token, refund)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.code(), "validation_failed");
    assert_eq!(r.body["error"]["field"], "occurred_at");

    let z = app
        .get(&format!("/api/v1/shifts/{}/report", s.shift), &s.owner)
        .await;
    assert_eq!(z.body["difference"], 0, "{}", z.body);
    assert_eq!(z.body["returns_count"], 0);
}

/// In an open shift: a receipt dated within the clock skew before the
/// opening is accepted (a register's clock may lag), one beyond it is not.
#[actix_web::test]
async fn receipt_must_not_predate_its_shift_beyond_the_skew() {
    let app = spawn_app_with(|s| s.sales.max_clock_skew_s = 60).await;
    let s = shop(&app, 1).await;
    let shift = app
        .get(&format!("/api/v1/shifts/{}", s.shift), &s.register_token)
        .await;
    let opened: DateTime<Utc> = shift.body["opened_at"].as_str().unwrap().parse().unwrap();
    let mut early = s.sale(&[(0, "1")]);
    early["occurred_at"] = json!(opened - Duration::seconds(30));
    let r = app.post("/api/v1/receipts", &s.register_token, early).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut too_early = s.sale(&[(0, "1")]);
    too_early["occurred_at"] = json!(opened - Duration::seconds(120));
    let r = app
        .post("/api/v1/receipts", &s.register_token, too_early)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["field"], "occurred_at");
}
