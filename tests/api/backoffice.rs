//! Back-office sign-in (sessions, CSRF, limits), tenant isolation of
//! sessions, and the catalog CSV import/export.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

pub const PASSWORD: &str = "correct horse battery";

/// A signed-in browser: the session cookie and its CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

/// An owner user for the tenant of `owner_token`.
pub async fn add_user(app: &TestApp, owner_token: &str, email: &str) {
    let r = app
        .post(
            "/api/v1/users",
            owner_token,
            json!({"email": email, "name": "Olga Owner", "role": "owner", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get("password_hash").is_none());
}

pub async fn login_raw(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

pub async fn login(app: &TestApp, email: &str) -> Browser {
    let resp = login_raw(app, email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let set = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    let body: Value = resp.json().await.unwrap();
    Browser {
        cookie,
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// A request as the page makes it: cookie, and the CSRF token when `csrf`.
pub async fn call(
    app: &TestApp,
    b: &Browser,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    csrf: bool,
) -> Reply {
    let mut req = app
        .http
        .request(method, format!("{}{}", app.base, path))
        .header("cookie", &b.cookie);
    if csrf {
        req = req.header("x-csrf-token", &b.csrf);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// A cookie session reads, but writes only with the session's CSRF token
/// and never from another origin.
#[actix_rt::test]
async fn cookie_writes_need_the_csrf_token() {
    let app = spawn_app().await;
    let t = app.create_tenant("shop").await;
    add_user(&app, &t.token, "olga@shop.uz").await;
    let b = login(&app, "Olga@Shop.uz").await;
    let me = call(
        &app,
        &b,
        reqwest::Method::GET,
        "/api/v1/auth/me",
        None,
        false,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["user"]["email"], "olga@shop.uz");
    let body = json!({"name": "Drinks"});
    let r = call(
        &app,
        &b,
        reqwest::Method::POST,
        "/api/v1/categories",
        Some(body.clone()),
        false,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "csrf_rejected")
    );
    let wrong = Browser {
        cookie: b.cookie.clone(),
        csrf: "x".repeat(43),
    };
    let r = call(
        &app,
        &wrong,
        reqwest::Method::POST,
        "/api/v1/categories",
        Some(body.clone()),
        true,
    )
    .await;
    assert_eq!(r.code(), "csrf_rejected");
    let cross = app
        .http
        .post(format!("{}/api/v1/categories", app.base))
        .header("cookie", &b.cookie)
        .header("x-csrf-token", &b.csrf)
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let r = call(
        &app,
        &b,
        reqwest::Method::POST,
        "/api/v1/categories",
        Some(body),
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// Wrong passwords are refused alike for unknown accounts, slowed, and
/// past the limit the account is locked for the window (even with the
/// right password).
#[actix_rt::test]
async fn failed_logins_are_limited_per_account() {
    let app = spawn_app_with(|s| s.backoffice.login_account_failures_max = 2).await;
    let t = app.create_tenant("shop").await;
    add_user(&app, &t.token, "olga@shop.uz").await;
    let unknown = login_raw(&app, "nobody@shop.uz", PASSWORD).await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let r = login_raw(&app, "olga@shop.uz", "wrong password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let started = std::time::Instant::now();
    let r = login_raw(&app, "olga@shop.uz", PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // Refused before any password check: no argon2 time spent.
    assert!(started.elapsed() < Duration::from_millis(500));
}

/// A sign-in with extra headers (as a proxy would add them).
async fn login_with_headers(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": password}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn login_via(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> StatusCode {
    login_with_headers(app, email, "wrong password", headers)
        .await
        .status()
}

/// Behind a trusted proxy (the test client is 127.0.0.1) the limit per
/// address counts the forwarded client: two clients are limited
/// separately. From an untrusted peer a forged header changes nothing.
#[actix_rt::test]
async fn the_address_limit_counts_the_client_a_trusted_proxy_names() {
    let app = spawn_app_with(|s| {
        s.backoffice.login_address_failures_max = 2;
        s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    // Unknown accounts, one per try: only the address limit can bite.
    let a = [("x-forwarded-for", "198.51.100.9, 203.0.113.5")];
    let b = [("x-forwarded-for", "203.0.113.6")];
    let real = [("x-real-ip", "203.0.113.7")];
    for i in 0..2 {
        let s = login_via(&app, &format!("a{i}@shop.uz"), &a).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        login_via(&app, "a9@shop.uz", &a).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The same client behind another forged left-most hop: still limited.
    assert_eq!(
        login_via(
            &app,
            "a8@shop.uz",
            &[("x-forwarded-for", "192.0.2.1, 203.0.113.5")]
        )
        .await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client through the same proxy is not.
    assert_eq!(
        login_via(&app, "b0@shop.uz", &b).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_via(&app, "c0@shop.uz", &real).await,
        StatusCode::UNAUTHORIZED
    );

    // Not trusted: the peer is the client whatever the headers say.
    let app = spawn_app_with(|s| {
        s.backoffice.login_address_failures_max = 2;
        s.server.trusted_proxies = vec!["10.9.0.0/16".into()];
    })
    .await;
    for i in 0..2 {
        let s = login_via(&app, &format!("a{i}@shop.uz"), &a).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    for forged in [&b[..], &real[..], &[][..]] {
        assert_eq!(
            login_via(&app, "z0@shop.uz", forged).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{forged:?}"
        );
    }
}

/// Logout ends the session in PostgreSQL: the old cookie is dead even if
/// replayed; a password change ends every session of the account.
#[actix_rt::test]
async fn logout_and_password_change_end_sessions_server_side() {
    let app = spawn_app().await;
    let t = app.create_tenant("shop").await;
    add_user(&app, &t.token, "olga@shop.uz").await;
    let a = login(&app, "olga@shop.uz").await;
    let r = call(
        &app,
        &a,
        reqwest::Method::POST,
        "/api/v1/auth/logout",
        None,
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(
        &app,
        &a,
        reqwest::Method::GET,
        "/api/v1/stores",
        None,
        false,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );

    let b = login(&app, "olga@shop.uz").await;
    let c = login(&app, "olga@shop.uz").await;
    let short = json!({"current_password": PASSWORD, "new_password": "short"});
    let r = call(
        &app,
        &b,
        reqwest::Method::POST,
        "/api/v1/auth/password",
        Some(short),
        true,
    )
    .await;
    assert_eq!(r.code(), "validation_failed");
    let change = json!({"current_password": PASSWORD, "new_password": "a much longer secret"});
    let r = call(
        &app,
        &b,
        reqwest::Method::POST,
        "/api/v1/auth/password",
        Some(change),
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for old in [&b, &c] {
        let r = call(
            &app,
            old,
            reqwest::Method::GET,
            "/api/v1/stores",
            None,
            false,
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let old_pw = login_raw(&app, "olga@shop.uz", PASSWORD).await;
    assert_eq!(old_pw.status(), StatusCode::UNAUTHORIZED);
}

/// A session idle longer than the idle limit is over.
#[actix_rt::test]
async fn idle_sessions_expire() {
    let app = spawn_app_with(|s| s.backoffice.session_idle_s = 1).await;
    let t = app.create_tenant("shop").await;
    add_user(&app, &t.token, "olga@shop.uz").await;
    let b = login(&app, "olga@shop.uz").await;
    let r = call(
        &app,
        &b,
        reqwest::Method::GET,
        "/api/v1/stores",
        None,
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let r = call(
        &app,
        &b,
        reqwest::Method::GET,
        "/api/v1/stores",
        None,
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// A session only ever sees its own tenant.
#[actix_rt::test]
async fn a_session_sees_only_its_tenant() {
    let app = spawn_app().await;
    let mine = app.create_tenant("mine").await;
    let other = app.create_tenant("other").await;
    add_user(&app, &mine.token, "olga@mine.uz").await;
    let theirs = app
        .create_product(&other.token, "Secret tea", "999001", 100)
        .await;
    let b = login(&app, "olga@mine.uz").await;
    let path = format!("/api/v1/products/{}", theirs["id"].as_str().unwrap());
    let r = call(&app, &b, reqwest::Method::GET, &path, None, false).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    let r = call(
        &app,
        &b,
        reqwest::Method::GET,
        "/api/v1/products/barcode/999001",
        None,
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// The HTML shell and assets come with a CSP without inline scripts and
/// no framing; assets are versioned and compressed.
#[actix_rt::test]
async fn pages_carry_security_headers() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(format!("{}/catalog", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    let html = r.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    let src = html
        .split("src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let js = app
        .http
        .get(format!("{}{src}", app.base))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(js.headers()["content-encoding"], "gzip");
}

async fn import(app: &TestApp, b: &Browser, csv: String) -> Value {
    let r = app
        .http
        .post(format!("{}/api/v1/catalog/import", app.base))
        .header("cookie", &b.cookie)
        .header("x-csrf-token", &b.csrf)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    r.json::<Value>().await.unwrap()["report"].clone()
}

/// Good rows import while bad ones are reported with line, column and
/// reason; the same file again changes nothing; the export imports back
/// unchanged; products are found by barcode right after.
#[actix_rt::test]
async fn catalog_import_upserts_and_reports_bad_rows() {
    let app = spawn_app().await;
    let t = app.create_tenant("shop").await;
    add_user(&app, &t.token, "olga@shop.uz").await;
    let b = login(&app, "olga@shop.uz").await;
    let mut csv = String::from("product,category,sku,barcode,price\n");
    for i in 0..1200 {
        // Two variants per product on consecutive lines.
        csv.push_str(&format!(
            "Product {},Cat {},SKU-{i},BC{i:06},{}.50\n",
            i / 2,
            i % 3,
            100 + i
        ));
    }
    csv.push_str("Broken,,,BC999999,twelve\n"); // line 1202
    csv.push_str("Broken 2,,,has space,1\n"); // line 1203
    csv.push_str("Dup,,,BC001100,1\n"); // line 1204: barcode of line 1102
    let first = import(&app, &b, csv.clone()).await;
    assert_eq!(first["rows_read"], 1203);
    assert_eq!(first["imported"], 1200);
    assert_eq!(first["failed"], 3);
    let errs: Vec<(u64, String)> = first["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(errs.contains(&(1202, "price".into())), "{errs:?}");
    assert!(errs.contains(&(1203, "barcode".into())), "{errs:?}");
    assert!(errs.contains(&(1204, "barcode".into())), "{errs:?}");
    let hit = app.get("/api/v1/products/barcode/BC000010", &t.token).await;
    assert_eq!(hit.status, StatusCode::OK, "{}", hit.body);
    assert_eq!(hit.body["product"]["name"], "Product 5");
    assert_eq!(hit.body["product"]["variants"].as_array().unwrap().len(), 2);
    assert_eq!(hit.body["variant"]["price"], 11050);

    let again = import(&app, &b, csv).await;
    assert_eq!(again["imported"], 0);
    assert_eq!(again["unchanged"], 1200);

    let export = app
        .http
        .get(format!("{}/api/v1/catalog/export", app.base))
        .header("cookie", &b.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(export.lines().count(), 1201);
    let back = import(&app, &b, export).await;
    assert_eq!(
        (back["imported"].as_u64(), back["failed"].as_u64()),
        (Some(0), Some(0))
    );

    let bad_header = import_status(&app, &b, "name,barcode,price\nTea,1,1\n".into()).await;
    assert_eq!(bad_header.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_header.1["error"]["field"], "name");
}

/// A SKU repeated in another batch (line 10 and line 2,403 of a file of
/// three batches) is a bad row when the rows differ — the first product
/// keeps its data — and fine when the row repeats the first exactly.
#[actix_rt::test]
async fn a_sku_repeated_in_a_later_batch_is_a_bad_row_unless_identical() {
    let app = spawn_app().await;
    let t = app.create_tenant("shop").await;
    add_user(&app, &t.token, "olga@shop.uz").await;
    let b = login(&app, "olga@shop.uz").await;
    let mut csv = String::from("product,category,sku,barcode,price\n");
    for i in 0..2400 {
        csv.push_str(&format!("Item {i},,SKU-{i},BC{i:06},{}\n", 100 + i));
    }
    // Line 10 is "Item 8,,SKU-8,BC000008,108".
    csv.push_str("Other item,,SKU-8,BC777777,5\n"); // line 2402: a different row
    csv.push_str("Item 9,,SKU-9,BC000009,109\n"); // line 2403: line 11 again
    csv.push_str("Third item,,SKU-NEW,BC000010,7\n"); // line 2404: barcode of line 12
    let report = import(&app, &b, csv.clone()).await;
    assert_eq!(report["rows_read"], 2403, "{report}");
    assert_eq!(report["imported"], 2400, "{report}");
    assert_eq!(report["unchanged"], 1, "{report}");
    assert_eq!(report["failed"], 2, "{report}");
    let errs: Vec<(u64, String, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert_eq!((errs[0].0, errs[0].1.as_str()), (2402, "sku"), "{errs:?}");
    assert!(errs[0].2.contains("line 10"), "{errs:?}");
    assert_eq!(
        (errs[1].0, errs[1].1.as_str()),
        (2404, "barcode"),
        "{errs:?}"
    );
    assert!(errs[1].2.contains("line 12"), "{errs:?}");
    // The first row's product was not overwritten by the later one.
    let hit = app.get("/api/v1/products/barcode/BC000008", &t.token).await;
    assert_eq!(hit.status, StatusCode::OK, "{}", hit.body);
    assert_eq!(hit.body["product"]["name"], "Item 8");
    assert_eq!(hit.body["variant"]["price"], 10800);
    let none = app.get("/api/v1/products/barcode/BC777777", &t.token).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    // Importing the same file again: the same two errors, nothing changes.
    let again = import(&app, &b, csv).await;
    assert_eq!(
        (
            again["imported"].as_u64(),
            again["unchanged"].as_u64(),
            again["failed"].as_u64()
        ),
        (Some(0), Some(2401), Some(2))
    );
}

async fn import_status(app: &TestApp, b: &Browser, csv: String) -> (StatusCode, Value) {
    let r = app
        .http
        .post(format!("{}/api/v1/catalog/import", app.base))
        .header("cookie", &b.cookie)
        .header("x-csrf-token", &b.csrf)
        .body(csv)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn login_cookie(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> String {
    let resp = login_with_headers(app, email, PASSWORD, headers).await;
    assert_eq!(resp.status(), StatusCode::OK);
    resp.headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The cookie is Secure when a trusted proxy says the client used TLS, and
/// only then: from any other peer `X-Forwarded-Proto` is the client's own
/// claim (the test client is 127.0.0.1).
#[actix_rt::test]
async fn the_cookie_is_secure_only_when_a_trusted_proxy_says_tls() {
    let https = [("x-forwarded-proto", "https")];
    let forwarded = [("forwarded", "for=203.0.113.5;proto=https")];

    let app = spawn_app_with(|s| s.server.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    let t = app.create_tenant("Proxy").await;
    add_user(&app, &t.token, "p@shop.uz").await;
    assert!(login_cookie(&app, "p@shop.uz", &https)
        .await
        .contains("Secure"));
    assert!(login_cookie(&app, "p@shop.uz", &forwarded)
        .await
        .contains("Secure"));
    let plain = login_cookie(&app, "p@shop.uz", &[("x-forwarded-proto", "http")]).await;
    assert!(!plain.contains("Secure"), "{plain}");
    assert!(!login_cookie(&app, "p@shop.uz", &[])
        .await
        .contains("Secure"));

    let app = spawn_app_with(|s| s.server.trusted_proxies = vec!["10.9.0.0/16".into()]).await;
    let t = app.create_tenant("Direct").await;
    add_user(&app, &t.token, "d@shop.uz").await;
    let forged = login_cookie(&app, "d@shop.uz", &https).await;
    assert!(!forged.contains("Secure"), "{forged}");
    assert!(!login_cookie(&app, "d@shop.uz", &forwarded)
        .await
        .contains("Secure"));
}
