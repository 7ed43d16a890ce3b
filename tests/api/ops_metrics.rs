//! /metrics carries process metrics, the in-flight gauge and per-statement
//! latency; statements over `database.slow_statement_ms` are counted.

use crate::helpers::*;
use crate::sales::shop;
use reqwest::StatusCode;

async fn scrape(app: &TestApp) -> String {
    app.http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn sell_one(app: &TestApp) {
    let s = shop(app, 1).await;
    let r = app
        .post("/api/v1/receipts", &s.register_token, s.sale(&[(0, "1")]))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[actix_web::test]
async fn metrics_show_the_process_requests_in_flight_and_statements() {
    let app = spawn_app_with(|s| s.database.slow_statement_ms = 0).await;
    sell_one(&app).await;
    let text = scrape(&app).await;
    assert!(value(&text, "process_resident_memory_bytes").unwrap() > 1e6);
    assert!(value(&text, "process_open_fds").unwrap() >= 3.0);
    assert!(value(&text, "process_max_fds").unwrap() >= value(&text, "process_open_fds").unwrap());
    assert!(value(&text, "process_threads").unwrap() >= 2.0);
    assert!(value(&text, "process_cpu_seconds_total").unwrap() > 0.0);
    assert!(value(&text, "process_start_time_seconds").unwrap() > 1.6e9);
    // The scrape itself is the one request in flight.
    assert_eq!(value(&text, "jowi_http_requests_in_flight"), Some(1.0));
    let commit = "{statement=\"receipts.commit_batch\"}";
    assert!(value(&text, &format!("jowi_db_statement_seconds_count{commit}")).unwrap() >= 1.0);
    // Threshold 0: every statement is slow.
    assert!(value(&text, &format!("jowi_db_slow_statements_total{commit}")).unwrap() >= 1.0);
    assert!(value(
        &text,
        "jowi_db_statement_seconds_count{statement=\"select jowi_partition_plan\"}"
    )
    .is_some());
}

#[actix_web::test]
async fn fast_statements_are_not_counted_slow() {
    let app = spawn_app_with(|s| s.database.slow_statement_ms = 60_000).await;
    sell_one(&app).await;
    let text = scrape(&app).await;
    assert!(
        value(
            &text,
            "jowi_db_statement_seconds_count{statement=\"receipts.commit_batch\"}"
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        !text.contains("jowi_db_slow_statements_total{"),
        "no slow statement"
    );
}
